//! The box's client of eHealthBox consultation v3, for one doctor.
//!
//! Every request is signed with the holder-of-key flavour of WS-Security: the doctor's SAML
//! token in the header and a signature over Body and Timestamp made with the doctor's
//! authentication key. [`EhboxClient`] takes the token from the [`TokenCache`] (or the STS),
//! and on each call:
//! - drops the token and retries once with a new one after SOA-01001;
//! - retries with exponential backoff after SOA-00001, SOA-02001, SOA-02002, HTTP 5xx without a
//!   SOAP body and connection failures, up to [`RetryPolicy::attempts`];
//! - returns every other error at once (SOA-01002 and 810 alert the doctor, SOA-03xxx is a bug).
//!
//! The client only reads and tidies: getFullMessage is the only read of a message, and it never
//! calls the publication service, so it sends no read receipt of its own on the doctor's behalf
//! (the platform itself sends the READ acknowledgment a sender asked for when a message is read).
//!
//! # Layout
//! - [`model`]: folders, box identities, message summaries and full messages.
//! - [`request`]: the request bodies.
//! - [`response`]: the reply readers.
//! - [`content`]: inline, swaRef and MTOM binary content, and the double-base64 quirk.

pub mod content;
pub mod model;
pub mod request;
pub mod response;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::clock::Clock;
use super::endpoints::Endpoints;
use super::errors::{self, EhealthError};
use super::keystore::EhealthKeystore;
use super::sts::{self, SamlToken, StsClient, TokenCache};
use super::transport::{SoapReply, SoapTransport};
use crate::xmlsec::wsse::{self, EnvelopeOptions, RandomIds};
pub use content::{DoubleBase64, Transfer};
pub use model::{
    BatchReport, BoxId, BoxInfo, ContentType, FullMessage, MessageSummary, Payload, Sender, Source,
};
use request::{MAX_BATCH, is_valid_message_id};
use response::ReplyReader;

const ACTION_PREFIX: &str = "urn:be:fgov:ehealth:ehbox:consultation:protocol:v3:";

/// How often and how patiently a call that failed temporarily is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in total, the first included.
    pub attempts: u32,
    /// The pause after the first failure; it doubles after each further one.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed try number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// The eHealthBox of one doctor.
#[derive(Debug)]
pub struct EhboxClient<'a, T> {
    transport: &'a T,
    endpoints: &'a Endpoints,
    clock: &'a dyn Clock,
    tokens: &'a TokenCache,
    keystore: &'a EhealthKeystore,
    retry: RetryPolicy,
    double_base64: DoubleBase64,
    box_id: Option<BoxId>,
}

impl<'a, T: SoapTransport> EhboxClient<'a, T> {
    /// A client for the personal box of the doctor of `keystore`.
    pub fn new(
        transport: &'a T,
        endpoints: &'a Endpoints,
        clock: &'a dyn Clock,
        tokens: &'a TokenCache,
        keystore: &'a EhealthKeystore,
    ) -> Self {
        Self {
            transport,
            endpoints,
            clock,
            tokens,
            keystore,
            retry: RetryPolicy::default(),
            double_base64: DoubleBase64::default(),
            box_id: None,
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_double_base64(mut self, double_base64: DoubleBase64) -> Self {
        self.double_base64 = double_base64;
        self
    }

    /// Addresses another box of the doctor (`BoxId` in every request).
    pub fn with_box_id(mut self, box_id: BoxId) -> Self {
        self.box_id = Some(box_id);
        self
    }

    /// Returns the token in use for this doctor, requesting one if needed.
    pub async fn token(&self) -> Result<Arc<SamlToken>, EhealthError> {
        let mut ssin = String::new();
        sts::credential(self.keystore, &mut ssin)?;
        let now = self.clock.trusted_now()?;
        if let Some(token) = self.tokens.reusable(&ssin, now) {
            return Ok(token);
        }
        let sts = StsClient::new(self.transport, self.endpoints, self.clock);
        let token = sts.issue(self.keystore).await?;
        Ok(self.tokens.store(token))
    }

    /// `getBoxInfo`: the box's identity, size, quota and stand-by count.
    pub async fn get_box_info(&self) -> Result<BoxInfo, EhealthError> {
        let operation = "getBoxInfo";
        let reply = self
            .call(operation, request::get_box_info(self.box_id.as_ref()))
            .await?;
        let reader = self.reader(operation);
        let document = reader.parse(&reply.envelope)?;
        let response = reader.response(&document, "GetBoxInfoResponse")?;
        let info = reader.box_info(response)?;
        if info.messages_in_standby > 0 {
            tracing::warn!(
                box_id = info.box_id.id,
                standby = info.messages_in_standby,
                "the eHealthBox is full and holds messages back"
            );
        }
        Ok(info)
    }

    /// `getMessagesList`: one page of `source`, indexes 1-based and inclusive (at most 100).
    pub async fn get_messages_list(
        &self,
        source: Source,
        start: usize,
        end: usize,
    ) -> Result<Vec<MessageSummary>, EhealthError> {
        let operation = "getMessagesList";
        if start == 0 || end < start || end - start >= MAX_BATCH {
            return Err(EhealthError::Request {
                operation: operation.to_owned(),
                detail: format!(
                    "invalid page {start}..{end}; indexes start at 1 and a page holds at most {MAX_BATCH} messages"
                ),
            });
        }
        let body = request::get_messages_list(self.box_id.as_ref(), source, start, end);
        let reply = self.call(operation, body).await?;
        let reader = self.reader(operation);
        let document = reader.parse(&reply.envelope)?;
        let response = reader.response(&document, "GetMessagesListResponse")?;
        reader.message_list(response)
    }

    /// Lists the whole of `source` in pages of 100 until a page comes back short, or a full
    /// page contains no MessageId that an earlier page did not.
    ///
    /// A message that arrives during the listing shifts every index by one, so a page may
    /// repeat the last message of the previous page; each MessageId is returned once, in
    /// the order first seen. A message that arrives during the listing may be missed; the
    /// next listing finds it.
    pub async fn list_all(&self, source: Source) -> Result<Vec<MessageSummary>, EhealthError> {
        let mut seen = HashSet::new();
        let mut messages = Vec::new();
        let mut start = 1;
        loop {
            let page = self
                .get_messages_list(source, start, start + MAX_BATCH - 1)
                .await?;
            let page_len = page.len();
            let known = messages.len();
            for message in page {
                if seen.insert(message.message_id.clone()) {
                    messages.push(message);
                }
            }
            if page_len < MAX_BATCH {
                break;
            }
            // A full page of ids already seen means the platform repeats itself, for instance
            // by ignoring StartIndex; asking for the next page would loop forever.
            if messages.len() == known {
                tracing::warn!(%source, start, "a full page repeated listed messages only; listing stopped");
                break;
            }
            start += MAX_BATCH;
        }
        tracing::debug!(%source, messages = messages.len(), "listed the folder");
        Ok(messages)
    }

    /// `getFullMessage` from INBOX: the whole message with its content. This is the read that
    /// marks the message read on the platform.
    pub async fn get_full_message(&self, message_id: &str) -> Result<FullMessage, EhealthError> {
        self.get_full_message_from("INBOX", message_id).await
    }

    /// `getFullMessage` from `source` (INBOX, SENTBOX or HISTORY; bins are not allowed).
    pub async fn get_full_message_from(
        &self,
        source: &str,
        message_id: &str,
    ) -> Result<FullMessage, EhealthError> {
        let operation = "getFullMessage";
        check_message_ids(operation, std::slice::from_ref(&message_id.to_owned()))?;
        let body = request::get_full_message(self.box_id.as_ref(), source, message_id);
        let reply = self.call(operation, body).await?;
        let reader = self.reader(operation);
        let document = reader.parse(&reply.envelope)?;
        let response = reader.response(&document, "GetFullMessageResponse")?;
        let message = reader.full_message(response, &reply, self.double_base64)?;
        if message.message_id != message_id {
            return Err(EhealthError::malformed(
                operation,
                "Message",
                format!(
                    "asked for {message_id}, the reply holds {}",
                    message.message_id
                ),
            ));
        }
        Ok(message)
    }

    /// `getMessageHistory`: the MessageIds related to `message_id`.
    pub async fn get_message_history(
        &self,
        source: &str,
        message_id: &str,
    ) -> Result<Vec<String>, EhealthError> {
        let operation = "getMessageHistory";
        check_message_ids(operation, std::slice::from_ref(&message_id.to_owned()))?;
        let body = request::get_history(self.box_id.as_ref(), source, message_id);
        let reply = self.call(operation, body).await?;
        let reader = self.reader(operation);
        let document = reader.parse(&reply.envelope)?;
        let response = reader.response(&document, "GetHistoryResponse")?;
        Ok(reader.message_ids(response))
    }

    /// `moveMessage` of `ids` from `source` to `destination`, in batches of at most 100.
    ///
    /// An id the platform no longer finds in `source` (moved already, for instance by an
    /// attempt whose reply was lost) is reported in [`BatchReport::not_found`], not as an error.
    pub async fn move_messages(
        &self,
        source: Source,
        destination: Source,
        ids: &[String],
    ) -> Result<BatchReport, EhealthError> {
        let operation = "moveMessage";
        check_message_ids(operation, ids)?;
        let mut report = BatchReport::default();
        for batch in ids.chunks(MAX_BATCH) {
            let build = |batch: &[String]| {
                request::move_message(self.box_id.as_ref(), source, destination, batch)
            };
            self.run_batch(operation, "MoveMessageResponse", batch, &build, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// `deleteMessage` of `ids` from `source`, in batches of at most 100; ids already gone are
    /// reported in [`BatchReport::not_found`].
    pub async fn delete_messages(
        &self,
        source: Source,
        ids: &[String],
    ) -> Result<BatchReport, EhealthError> {
        let operation = "deleteMessage";
        check_message_ids(operation, ids)?;
        let mut report = BatchReport::default();
        for batch in ids.chunks(MAX_BATCH) {
            let build =
                |batch: &[String]| request::delete_message(self.box_id.as_ref(), source, batch);
            self.run_batch(
                operation,
                "DeleteMessageResponse",
                batch,
                &build,
                &mut report,
            )
            .await?;
        }
        Ok(report)
    }

    /// Sends one batch. When the platform returns "not found" for a batch of several ids, the
    /// ids are sent one by one, since the fault does not say reliably which id it meant.
    async fn run_batch(
        &self,
        operation: &str,
        response_name: &str,
        batch: &[String],
        build: &(dyn Fn(&[String]) -> String + Sync),
        report: &mut BatchReport,
    ) -> Result<(), EhealthError> {
        match self
            .batch_call(operation, response_name, build(batch))
            .await
        {
            Ok(processed) => {
                record_processed(batch, processed, report);
                Ok(())
            }
            Err(error) if self.is_not_found(&error) && batch.len() == 1 => {
                tracing::info!(
                    operation,
                    message_id = batch[0],
                    "message already gone from the folder"
                );
                report.not_found.push(batch[0].clone());
                Ok(())
            }
            Err(error) if self.is_not_found(&error) => {
                for id in batch {
                    let single = std::slice::from_ref(id);
                    match self
                        .batch_call(operation, response_name, build(single))
                        .await
                    {
                        Ok(processed) => record_processed(single, processed, report),
                        Err(error) if self.is_not_found(&error) => {
                            report.not_found.push(id.clone())
                        }
                        Err(error) => return Err(error),
                    }
                }
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    async fn batch_call(
        &self,
        operation: &str,
        response_name: &str,
        body: String,
    ) -> Result<Vec<String>, EhealthError> {
        let reply = self.call(operation, body).await?;
        let reader = self.reader(operation);
        let document = reader.parse(&reply.envelope)?;
        let response = reader.response(&document, response_name)?;
        Ok(reader.message_ids(response))
    }

    fn is_not_found(&self, error: &EhealthError) -> bool {
        error.platform_code().is_some_and(|code| {
            self.endpoints
                .codes
                .message_not_found
                .iter()
                .any(|known| known == code)
        })
    }

    fn reader<'r>(&'r self, operation: &'r str) -> ReplyReader<'r> {
        ReplyReader {
            operation,
            codes: &self.endpoints.codes,
        }
    }

    /// Signs and posts `body` with the retry policy: one token renewal after SOA-01001, and
    /// backoff retries of temporary failures.
    async fn call(&self, operation: &str, body: String) -> Result<SoapReply, EhealthError> {
        let mut renewed = false;
        let mut attempt = 1;
        loop {
            let error = match self.try_call(operation, &body).await {
                Ok(reply) => return Ok(reply),
                Err(error) => error,
            };
            match &error {
                EhealthError::RenewToken { .. } if !renewed => {
                    tracing::warn!(operation, %error, "token rejected; requesting a new one");
                    self.forget_token();
                    renewed = true;
                }
                EhealthError::RetryLater { .. } if attempt < self.retry.attempts => {
                    let pause = self.retry.backoff(attempt);
                    tracing::warn!(operation, attempt, ?pause, %error, "retrying after a pause");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                _ => {
                    tracing::error!(operation, %error, "eHealthBox call failed");
                    return Err(error);
                }
            }
        }
    }

    async fn try_call(&self, operation: &str, body: &str) -> Result<SoapReply, EhealthError> {
        let token = self.token().await?;
        let envelope = self.sign(operation, body, &token)?;
        let action = format!("{ACTION_PREFIX}{operation}");
        self.transport
            .post(&self.endpoints.consultation, &action, envelope)
            .await
            .map_err(|error| errors::classify(operation, error, &self.endpoints.codes))
    }

    fn sign(&self, operation: &str, body: &str, token: &SamlToken) -> Result<String, EhealthError> {
        let mut ssin = String::new();
        let credential = sts::credential(self.keystore, &mut ssin)?;
        let now = self.clock.trusted_now()?;
        let mut ids = RandomIds::new(rand::rng());
        wsse::build_saml_envelope(
            body,
            token.xml(),
            credential.key,
            &EnvelopeOptions::new(now),
            &mut ids,
        )
        .map_err(|error| EhealthError::Request {
            operation: operation.to_owned(),
            detail: format!("signing the request failed: {error}"),
        })
    }

    fn forget_token(&self) {
        if let Some(ssin) = self.keystore.authentication_key().certificate.ssin() {
            self.tokens.forget(&ssin);
        }
    }
}

fn check_message_ids(operation: &str, ids: &[String]) -> Result<(), EhealthError> {
    if let Some(bad) = ids.iter().find(|id| !is_valid_message_id(id)) {
        return Err(EhealthError::Request {
            operation: operation.to_owned(),
            detail: format!("invalid MessageId {bad:?}; a MessageId is 13 letters and digits"),
        });
    }
    Ok(())
}

/// Adds the ids the platform reported; requested ids it left out count as not found.
fn record_processed(batch: &[String], processed: Vec<String>, report: &mut BatchReport) {
    for id in batch {
        if processed.contains(id) {
            report.processed.push(id.clone());
        } else {
            report.not_found.push(id.clone());
        }
    }
}
