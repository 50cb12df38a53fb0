//! One fetch run for one principal: from the eHealthBox INBOX to the doctor's folder on the share,
//! then to the eHealthBox bin.
//!
//! # The pipeline
//!
//! 1. Get a token (from the cache) and list INBOX ([`EhboxClient::list_all`]).
//! 2. Oldest first, for each MessageId not yet delivered: download it (`getFullMessage`), unseal
//!    every sealed field ([`open`]) and write its parts to the share ([`Share::deliver_unsynced`]).
//!    ACKNOWLEDGMENT, ERROR and NEWS messages get no file: they carry a status for the sender or
//!    a notice, not a document for the medical record software. The next download runs while a
//!    message is delivered, at most [`PREFETCH`] messages ahead, one call at a time.
//! 3. Every [`BATCH_MAX`] messages, or when a batch is [`BATCH_MAX_AGE`] old, fsync the folders
//!    that received files, then record the batch in one store transaction
//!    ([`Store::record_outcomes`]): each message as fetched and then delivered or held.
//! 4. Only then, if the principal's move-to-bin policy is on, move the delivered messages to
//!    BININBOX in batches of at most 100, each recorded in one transaction
//!    ([`Store::mark_all_moved_to_bin`]).
//!
//! # Crash safety
//!
//! Every step is keyed by (principal, MessageId) and can be repeated: the store ignores a repeated
//! transition, the share recognises a file it already contains (its name depends only on the
//! message), and a move repeated after a lost reply finds the message gone and counts it as moved.
//! A message leaves INBOX only after its row is in state `delivered`. That row is committed only after
//! its files are durable: each file is fsynced before its rename, and its folder is fsynced after
//! the rename and before the commit of its batch. A kill before that commit loses the batch's
//! rows but not its messages, which are still in INBOX: the next run downloads them again, finds
//! their files already on the share and records them. So a kill at any instant, followed by a
//! restart, delivers each message exactly once.
//!
//! Message bytes are not kept by the box: until a message is delivered, the eHealthBox is the
//! buffer, and a restart downloads it again. The exception is a message held because it cannot be
//! opened (not addressed to our keys, bad signature, malformed): its raw SOAP envelope is written
//! to the held folder of the data directory so that a person can look at it, and the message
//! stays in INBOX.
//!
//! # Faults
//!
//! | fault | what happens |
//! |---|---|
//! | share full, not writable or missing | message held with a retry time, the run stops, nothing moved |
//! | a folder on the share is a symbolic link or a file | the same: never followed, held with a retry time, the run stops |
//! | malformed or truncated `getFullMessage` reply | that message held with a retry time, the others go on |
//! | unseal failure | message held and flagged (not addressed to us, bad signature), raw kept |
//! | unknown content type | message held until a person acts |
//! | list, token, or transport failure | run fails; the scheduler backs off and tries again |

pub mod credentials;
pub mod open;
mod pipeline;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::delivery::{DeliveryError, Share};
use crate::ehealth::clock::Clock;
use crate::ehealth::ehbox::{EhboxClient, FullMessage, MessageSummary, RetryPolicy, Source};
use crate::ehealth::endpoints::Endpoints;
use crate::ehealth::errors::EhealthError;
use crate::ehealth::keystore::EhealthKeystore;
use crate::ehealth::sts::TokenCache;
use crate::ehealth::transport::SoapTransport;
use crate::ehealth::unseal::UnsealPolicy;
use crate::scheduler::shutdown::Shutdown;
use crate::store::{
    DeliveryState, FetchedMessage, MessageFlags, MessageRecord, Principal, PrincipalId, RunCounts,
    RunId, RunOutcome, Store, StoreError, StoreHandle,
};
use credentials::{CredentialError, Credentials};
use open::OpenedMessage;
use pipeline::Queued;
pub use pipeline::{BATCH_MAX, BATCH_MAX_AGE, PREFETCH};

/// The most MessageIds one `moveMessage` call may carry.
pub const MOVE_BATCH: usize = 100;

/// Errors that end a fetch run.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Platform(#[from] EhealthError),
    #[error(transparent)]
    Share(DeliveryError),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("a blocking step of the fetch run panicked: {0}; report it with the log")]
    Task(String),
}

/// The meaning of a [`FetchError`] for the people at the practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The platform cannot be reached or returns a temporary failure.
    Unreachable,
    /// The platform rejected the token or the request signature.
    Authentication,
    /// A person must act: certificate, access rights, keystore, password.
    DoctorAction,
    /// The platform rejected the request itself or sent a reply that cannot be read.
    PlatformBug,
    /// The share cannot take files.
    Share,
    /// The box's clock is not synchronised.
    Clock,
    /// The box itself failed (store, task).
    Internal,
}

impl FetchError {
    /// Classifies the error for the status display.
    pub fn kind(&self) -> ProblemKind {
        match self {
            Self::Credentials(_) => ProblemKind::DoctorAction,
            Self::Platform(error) => match error {
                EhealthError::RetryLater { .. } => ProblemKind::Unreachable,
                EhealthError::RenewToken { .. } => ProblemKind::Authentication,
                EhealthError::AlertDoctor { .. } => ProblemKind::DoctorAction,
                EhealthError::BugInRequest { .. }
                | EhealthError::MalformedReply { .. }
                | EhealthError::Request { .. } => ProblemKind::PlatformBug,
                EhealthError::Clock(_) => ProblemKind::Clock,
            },
            Self::Share(_) => ProblemKind::Share,
            Self::Store(_) | Self::Task(_) => ProblemKind::Internal,
        }
    }
}

/// Tuning of the fetch runs.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub retry: RetryPolicy,
    pub unseal: UnsealPolicy,
    /// When a message held because the share failed is tried again.
    pub share_retry_after: Duration,
    /// When a message held because its reply was malformed or truncated is downloaded again.
    pub download_retry_after: Duration,
    /// The time zone of publication dates, which the platform sends without one.
    pub time_zone: TimeZone,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            unseal: UnsealPolicy::default(),
            share_retry_after: Duration::from_secs(60),
            download_retry_after: Duration::from_secs(15 * 60),
            time_zone: TimeZone::get("Europe/Brussels").unwrap_or(TimeZone::UTC),
        }
    }
}

/// Everything a fetch run needs, shared by the runs of every principal.
#[derive(Debug)]
pub struct FetchContext<T> {
    pub transport: T,
    pub endpoints: Endpoints,
    pub clock: Arc<dyn Clock>,
    /// Tokens, keyed by the holder's INSZ.
    pub tokens: TokenCache,
    pub store: StoreHandle,
    pub share: Arc<Share>,
    pub credentials: Arc<dyn Credentials>,
    /// The folder of the raw envelopes of held messages: `<held_dir>/<INSZ>/<MessageId>.xml`.
    pub held_dir: PathBuf,
    pub options: FetchOptions,
}

/// The counts of one fetch run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub run: Option<RunId>,
    /// MessageIds in INBOX.
    pub listed: u32,
    /// Messages recorded for the first time.
    pub new: u32,
    /// Documents written to the share in this run.
    pub delivered: u32,
    /// ACKNOWLEDGMENT, ERROR and NEWS messages recorded in this run.
    pub recorded_without_file: u32,
    /// Messages held: in this run, or earlier and still waiting.
    pub held: u32,
    /// Messages moved to BININBOX in this run.
    pub moved: u32,
    /// Set when a stop request ended the run early.
    pub stopped: bool,
}

impl RunReport {
    fn counts(&self) -> RunCounts {
        RunCounts {
            listed: self.listed,
            new: self.new,
            delivered: self.delivered + self.recorded_without_file,
            held: self.held,
        }
    }
}

/// Makes one fetch run for `principal`, started at `now`.
pub async fn fetch_principal<T: SoapTransport>(
    ctx: &FetchContext<T>,
    principal: &Principal,
    now: Timestamp,
) -> Result<RunReport, FetchError> {
    fetch_principal_until(ctx, principal, now, &Shutdown::never()).await
}

/// Makes one fetch run for `principal` that stops after its current step once `stop` turns on.
pub async fn fetch_principal_until<T: SoapTransport>(
    ctx: &FetchContext<T>,
    principal: &Principal,
    now: Timestamp,
    stop: &Shutdown,
) -> Result<RunReport, FetchError> {
    let id = principal.id;
    let run = with_store(&ctx.store, move |store| store.start_run(id, now)).await?;
    let mut report = RunReport {
        run: Some(run),
        ..RunReport::default()
    };
    tracing::info!(principal = %id, insz = %principal.insz, run = %run, "fetch run started");

    let result = Run {
        ctx,
        principal,
        now,
        stop,
    }
    .execute(&mut report)
    .await;

    let (outcome, error) = match &result {
        Ok(()) if report.held > 0 => (RunOutcome::Partial, None),
        Ok(()) => (RunOutcome::Ok, None),
        Err(error) if report.delivered + report.moved > 0 => {
            (RunOutcome::Partial, Some(error.to_string()))
        }
        Err(error) => (RunOutcome::Failed, Some(error.to_string())),
    };
    let counts = report.counts();
    let finished = ctx.clock.now();
    with_store(&ctx.store, move |store| {
        store.finish_run(run, outcome, counts, error.as_deref(), finished)
    })
    .await?;

    match result {
        Ok(()) => {
            tracing::info!(
                principal = %id, run = %run, listed = report.listed, new = report.new,
                delivered = report.delivered, held = report.held, moved = report.moved,
                stopped = report.stopped, "fetch run finished"
            );
            Ok(report)
        }
        Err(error) => {
            tracing::warn!(principal = %id, run = %run, %error, "fetch run failed");
            Err(error)
        }
    }
}

struct Run<'a, T> {
    ctx: &'a FetchContext<T>,
    principal: &'a Principal,
    now: Timestamp,
    stop: &'a Shutdown,
}

impl<T: SoapTransport> Run<'_, T> {
    async fn execute(&self, report: &mut RunReport) -> Result<(), FetchError> {
        let keystore = self.keystore().await?;
        let client = EhboxClient::new(
            &self.ctx.transport,
            &self.ctx.endpoints,
            &*self.ctx.clock,
            &self.ctx.tokens,
            &keystore,
        )
        .with_retry(self.ctx.options.retry);

        let listing = client.list_all(Source::Inbox).await?;
        report.listed = u32::try_from(listing.len()).unwrap_or(u32::MAX);
        let known = self.known_messages(&listing).await?;

        let share_error = self
            .deliver_listed(&client, &keystore, &listing, &known, report)
            .await?;
        if report.stopped {
            return Ok(());
        }
        // Moving is safe even after a share failure: only messages recorded as delivered move.
        self.move_delivered(&client, report).await?;
        match share_error {
            Some(error) => Err(FetchError::Share(error)),
            None => Ok(()),
        }
    }

    async fn keystore(&self) -> Result<Arc<EhealthKeystore>, FetchError> {
        let credentials = Arc::clone(&self.ctx.credentials);
        let principal = self.principal.clone();
        let opened = tokio::task::spawn_blocking(move || credentials.keystore(&principal))
            .await
            .map_err(|error| FetchError::Task(error.to_string()))?;
        Ok(opened?)
    }

    /// Reads the stored state of every listed MessageId.
    async fn known_messages(
        &self,
        listing: &[MessageSummary],
    ) -> Result<HashMap<String, MessageRecord>, FetchError> {
        let id = self.principal.id;
        let ids: Vec<String> = listing.iter().map(|m| m.message_id.clone()).collect();
        with_store(&self.ctx.store, move |store| {
            let mut known = HashMap::new();
            for message_id in ids {
                if let Some(record) = store.message(id, &message_id)? {
                    known.insert(message_id, record);
                }
            }
            Ok(known)
        })
        .await
    }

    /// Delivers the listed messages, oldest first. Returns the share error that stopped
    /// delivery, if one did.
    async fn deliver_listed<U: SoapTransport>(
        &self,
        client: &EhboxClient<'_, U>,
        keystore: &Arc<EhealthKeystore>,
        listing: &[MessageSummary],
        known: &HashMap<String, MessageRecord>,
        report: &mut RunReport,
    ) -> Result<Option<DeliveryError>, FetchError> {
        let mut queue = Vec::new();
        // The platform lists the newest message first.
        for summary in listing.iter().rev() {
            let record = known.get(&summary.message_id);
            if self.needs_delivery(record) {
                queue.push(Queued {
                    summary,
                    new: record.is_none(),
                });
            } else if record.is_some_and(|r| r.state == DeliveryState::Held) {
                report.held += 1;
            }
        }
        if queue.is_empty() {
            return Ok(None);
        }
        self.deliver_queue(client, keystore, &queue, report).await
    }

    /// Tells whether a listed message must be (re)processed: unknown, recorded but not
    /// delivered, or held with a retry time that has come.
    fn needs_delivery(&self, record: Option<&MessageRecord>) -> bool {
        let Some(record) = record else {
            return true;
        };
        match record.state {
            DeliveryState::Fetched => true,
            DeliveryState::Held => record.retry_at.is_some_and(|at| at <= self.now),
            DeliveryState::Delivered | DeliveryState::MovedToBin => false,
        }
    }

    fn fetched_message(
        &self,
        summary: &MessageSummary,
        full: &FullMessage,
        opened: &OpenedMessage,
    ) -> FetchedMessage {
        let mut fetched = self.summary_facts(summary);
        fetched.kind = opened.kind;
        fetched.sender_id = Some(full.sender.id.clone());
        fetched.sender_name = Some(full.sender.display_name());
        fetched.patient_insz = opened.patient_insz.clone();
        fetched.size_bytes = opened.size_bytes();
        fetched.annex_count = u32::try_from(full.annexes.len()).unwrap_or(u32::MAX);
        fetched.flags = opened.flags;
        if let Some(title) = opened.parts.first().and_then(|part| part.title.clone()) {
            fetched.title = Some(title);
        }
        fetched
    }

    /// Builds the facts of a message from its listing, for a message that cannot be downloaded.
    fn summary_facts(&self, summary: &MessageSummary) -> FetchedMessage {
        FetchedMessage {
            principal: self.principal.id,
            message_id: summary.message_id.clone(),
            kind: open::message_kind(&summary.content_type),
            sender_id: Some(summary.sender.id.clone()),
            sender_name: Some(summary.sender.display_name()),
            patient_insz: None,
            title: summary.title.clone(),
            published_at: summary
                .publication_date
                .as_deref()
                .and_then(|date| publication_instant(date, &self.ctx.options.time_zone)),
            size_bytes: summary
                .size
                .as_deref()
                .and_then(|size| size.trim().parse().ok())
                .unwrap_or(0),
            annex_count: 0,
            flags: MessageFlags::default(),
        }
    }

    /// Writes the raw envelope of a held message to the held folder. A failure is logged: the
    /// message itself stays in the eHealthBox either way.
    async fn keep_raw(&self, full: &FullMessage) {
        let dir = self.ctx.held_dir.join(&self.principal.insz);
        let name = format!("{}.xml", full.message_id);
        let bytes = full.raw_envelope.clone().into_bytes();
        let task = move || -> Result<(), DeliveryError> {
            std::fs::create_dir_all(&dir)
                .map_err(|source| DeliveryError::from_io("create", &dir, source))?;
            crate::delivery::atomic::stage(&dir, &bytes)?.replace(&name)
        };
        match tokio::task::spawn_blocking(task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(message_id = full.message_id, %error, "cannot keep the raw held message")
            }
            Err(error) => {
                tracing::error!(message_id = full.message_id, %error, "cannot keep the raw held message")
            }
        }
    }

    /// Moves every delivered message of the principal to BININBOX when its move-to-bin policy is on.
    async fn move_delivered<U: SoapTransport>(
        &self,
        client: &EhboxClient<'_, U>,
        report: &mut RunReport,
    ) -> Result<(), FetchError> {
        if !self.principal.move_to_bin {
            return Ok(());
        }
        let id = self.principal.id;
        let ids = with_store(&self.ctx.store, move |store| {
            store.delivered_message_ids(id)
        })
        .await?;

        for batch in ids.chunks(MOVE_BATCH) {
            if self.stop.is_triggered() {
                report.stopped = true;
                return Ok(());
            }
            let moved = client
                .move_messages(Source::Inbox, Source::BinInbox, batch)
                .await?;
            // A message no longer in INBOX was moved by an attempt whose reply was lost.
            let done: Vec<String> = moved.processed.into_iter().chain(moved.not_found).collect();
            report.moved += u32::try_from(done.len()).unwrap_or(u32::MAX);
            let now = self.ctx.clock.now();
            with_store(&self.ctx.store, move |store| {
                store.mark_all_moved_to_bin(id, &done, now)
            })
            .await?;
            tracing::info!(principal = %id, messages = batch.len(), "messages moved to the bin");
        }
        Ok(())
    }

    fn later(&self, delay: Duration) -> Timestamp {
        let delay = jiff::SignedDuration::try_from(delay).unwrap_or(jiff::SignedDuration::MAX);
        self.ctx
            .clock
            .now()
            .saturating_add(delay)
            .unwrap_or(Timestamp::MAX)
    }
}

/// Logs the status an ACKNOWLEDGMENT or ERROR message carries.
fn log_notice(principal: PrincipalId, full: &FullMessage) {
    if let Some(ack) = &full.acknowledgment {
        tracing::info!(
            %principal, message_id = full.message_id, about = ack.message_id,
            ack_type = ack.ack_type, "acknowledgment received"
        );
    }
    if let Some(error) = &full.error {
        tracing::warn!(
            %principal, message_id = full.message_id, code = error.code,
            publication_id = ?error.publication_id, "delivery error report received"
        );
    }
    if full.acknowledgment.is_none() && full.error.is_none() {
        tracing::info!(
            %principal, message_id = full.message_id, content_type = %full.content_type,
            "message recorded without a file"
        );
    }
}

/// Reads a publication date (`xs:date`, maybe with an offset) as midnight in `time_zone`.
fn publication_instant(value: &str, time_zone: &TimeZone) -> Option<Timestamp> {
    let date: Date = value.get(..10)?.parse().ok()?;
    let zoned = date.to_zoned_datetime(time_zone.clone()).ok()?;
    Some(zoned.timestamp())
}

/// Runs a store call on the blocking pool.
async fn with_store<R: Send + 'static>(
    store: &StoreHandle,
    call: impl FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, FetchError> {
    let store = store.clone();
    let result = tokio::task::spawn_blocking(move || store.with(call))
        .await
        .map_err(|error| FetchError::Task(error.to_string()))?;
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publication_date_is_local_midnight() {
        let zone = TimeZone::get("Europe/Brussels").unwrap();
        let instant = publication_instant("2024-05-02", &zone).unwrap();
        assert_eq!(instant.to_string(), "2024-05-01T22:00:00Z");
    }

    #[test]
    fn publication_date_with_offset_keeps_the_date() {
        let instant = publication_instant("2024-01-15+01:00", &TimeZone::UTC).unwrap();
        assert_eq!(instant.to_string(), "2024-01-15T00:00:00Z");
    }

    #[test]
    fn publication_date_invalid_is_none() {
        assert_eq!(publication_instant("15/01/2024", &TimeZone::UTC), None);
        assert_eq!(publication_instant("", &TimeZone::UTC), None);
    }

    #[test]
    fn error_kinds_for_status() {
        let unreachable = FetchError::Platform(EhealthError::RetryLater {
            operation: "getMessagesList".into(),
            reason: "connection refused".into(),
        });
        assert_eq!(unreachable.kind(), ProblemKind::Unreachable);
        let missing = FetchError::Credentials(CredentialError::Vault(
            crate::credentials::CredentialError::Missing {
                principal: PrincipalId(4),
            },
        ));
        assert_eq!(missing.kind(), ProblemKind::DoctorAction);
        let share = FetchError::Share(DeliveryError::ShareMissing {
            root: "/srv/share".into(),
        });
        assert_eq!(share.kind(), ProblemKind::Share);
    }
}
