//! The box's client of the eHealth STS: SAML 1.1 holder-of-key tokens for a doctor.
//!
//! [`StsClient::issue`] sends a WS-Trust 1.3 Issue request in the direct flow: the doctor's
//! eHealth authentication key signs the WS-Security header (X.509 token flavour) and is also
//! the requested holder-of-key. The claims assert the SSIN of the certificate twice and request
//! the configured designators (by default "recognised doctor" and the RIZIV number). The
//! requested lifetime is 24 hours, cut at the certificate's notAfter. When the STS replies with
//! a sign challenge instead of a token, the challenge is signed with the holder-of-key
//! credential and sent back once. The returned assertion is checked ([`token`]) and kept as the
//! exact text received.
//!
//! [`TokenCache`] keeps one token per doctor and hands it out while more than half of its
//! lifetime remains.

pub mod request;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use rand::Rng as _;

use super::clock::Clock;
use super::endpoints::Endpoints;
use super::errors::{self, EhealthError};
use super::keystore::{EhealthKeystore, PrivateKey};
use super::transport::{SoapReply, SoapTransport};
use crate::xmlsec::wsse::{self, EnvelopeOptions, RandomIds};
use request::{IssueParameters, StsAnswer};
pub use token::{SamlToken, TokenError, TokenExpectations};

/// SOAPAction of an Issue request.
pub const ACTION_ISSUE: &str = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken";
/// SOAPAction of the response to a sign challenge.
pub const ACTION_CHALLENGE: &str = "urn:be:fgov:ehealth:sts:protocol:v1:Challenge";

/// The token lifetime the box requests.
pub const REQUESTED_LIFETIME: SignedDuration = SignedDuration::from_hours(24);

const OPERATION: &str = "STS RequestSecurityToken";

/// The doctor's signing credential, read from the keystore.
#[derive(Debug, Clone, Copy)]
pub struct Credential<'a> {
    pub ssin: &'a str,
    pub key: &'a rsa::PrivateKey,
    pub certificate_der: &'a [u8],
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

/// Reads the authentication credential of `keystore`, with the SSIN from its certificate.
///
/// `ssin` must outlive the credential, so the caller passes the buffer it is kept in.
pub fn credential<'a>(
    keystore: &'a EhealthKeystore,
    ssin: &'a mut String,
) -> Result<Credential<'a>, EhealthError> {
    let authentication = keystore.authentication_key();
    let certificate = &authentication.certificate;
    let PrivateKey::Rsa(key) = &authentication.key else {
        return Err(EhealthError::AlertDoctor {
            operation: OPERATION.to_owned(),
            code: None,
            reason: format!(
                "the authentication key of keystore '{}' is an EC key, which the box cannot sign with yet; ask eHealth for an RSA certificate",
                keystore.file()
            ),
        });
    };
    *ssin = certificate.ssin().ok_or_else(|| EhealthError::AlertDoctor {
        operation: OPERATION.to_owned(),
        code: None,
        reason: format!(
            "certificate '{}' has no SSIN= in its subject; use a doctor's personal eHealth certificate",
            certificate.subject()
        ),
    })?;
    Ok(Credential {
        ssin: ssin.as_str(),
        key,
        certificate_der: certificate.der(),
        not_before: certificate.not_before(),
        not_after: certificate.not_after(),
    })
}

/// Requests tokens from the STS.
#[derive(Debug)]
pub struct StsClient<'a, T> {
    transport: &'a T,
    endpoints: &'a Endpoints,
    clock: &'a dyn Clock,
}

impl<'a, T: SoapTransport> StsClient<'a, T> {
    pub fn new(transport: &'a T, endpoints: &'a Endpoints, clock: &'a dyn Clock) -> Self {
        Self {
            transport,
            endpoints,
            clock,
        }
    }

    /// Requests a new token for the doctor of `keystore`.
    pub async fn issue(&self, keystore: &EhealthKeystore) -> Result<SamlToken, EhealthError> {
        let mut ssin = String::new();
        let credential = credential(keystore, &mut ssin)?;
        let now = self.clock.trusted_now()?;
        let expires = requested_end(&credential, now)?;

        let context = format!("urn:uuid:{}", random_uuid());
        let body = request::issue_body(&IssueParameters {
            context: &context,
            ssin: credential.ssin,
            designators: &self.endpoints.designators,
            created: now,
            expires,
            holder_of_key_der: credential.certificate_der,
        });
        let envelope = sign(&body, &credential, now)?;
        let reply = self.post(ACTION_ISSUE, envelope).await?;

        let assertion = match read_answer(&reply)? {
            StsAnswer::Token(assertion) => assertion,
            StsAnswer::Challenge { context, challenge } => {
                tracing::info!(ssin = credential.ssin, "the STS sent a sign challenge");
                self.answer_challenge(&credential, &context, &challenge)
                    .await?
            }
        };

        let expectations = TokenExpectations {
            issuer: &self.endpoints.sts_issuer,
            holder_of_key_der: credential.certificate_der,
            ssin: credential.ssin,
            require_doctor: self
                .endpoints
                .designators
                .iter()
                .any(|designator| designator == token::DOCTOR_BOOLEAN),
            now: self.clock.trusted_now()?,
        };
        let token = SamlToken::from_assertion(assertion, &expectations).map_err(token_error)?;
        tracing::info!(
            ssin = credential.ssin,
            assertion_id = token.assertion_id,
            not_on_or_after = %token.not_on_or_after,
            "STS issued a token"
        );
        Ok(token)
    }

    async fn answer_challenge(
        &self,
        credential: &Credential<'_>,
        context: &str,
        challenge: &str,
    ) -> Result<String, EhealthError> {
        let body = request::challenge_answer_body(context, challenge);
        let envelope = sign(&body, credential, self.clock.trusted_now()?)?;
        let reply = self.post(ACTION_CHALLENGE, envelope).await?;
        match read_answer(&reply)? {
            StsAnswer::Token(assertion) => Ok(assertion),
            StsAnswer::Challenge { .. } => Err(EhealthError::malformed(
                OPERATION,
                "wst:SignChallenge",
                "the STS sent a second challenge after the first was answered",
            )),
        }
    }

    async fn post(&self, action: &str, envelope: String) -> Result<SoapReply, EhealthError> {
        self.transport
            .post(&self.endpoints.sts, action, envelope)
            .await
            .map_err(|error| sts_error(errors::classify(OPERATION, error, &self.endpoints.codes)))
    }
}

/// Returns the requested end of the token: 24 hours, never past the certificate's notAfter.
fn requested_end(credential: &Credential<'_>, now: Timestamp) -> Result<Timestamp, EhealthError> {
    if credential.not_after <= now {
        return Err(EhealthError::AlertDoctor {
            operation: OPERATION.to_owned(),
            code: None,
            reason: format!(
                "the eHealth certificate of SSIN {} expired on {}; renew it with eHealth and load the new keystore",
                credential.ssin, credential.not_after
            ),
        });
    }
    if credential.not_before > now {
        return Err(EhealthError::AlertDoctor {
            operation: OPERATION.to_owned(),
            code: None,
            reason: format!(
                "the eHealth certificate of SSIN {} is valid only from {} (now {now}); check the box's clock",
                credential.ssin, credential.not_before
            ),
        });
    }
    let wanted = now.saturating_add(REQUESTED_LIFETIME).unwrap_or(now);
    Ok(wanted.min(credential.not_after))
}

fn sign(body: &str, credential: &Credential<'_>, now: Timestamp) -> Result<String, EhealthError> {
    let mut ids = RandomIds::new(rand::rng());
    wsse::build_x509_envelope(
        body,
        credential.certificate_der,
        credential.key,
        &EnvelopeOptions::new(now),
        &mut ids,
    )
    .map_err(|error| EhealthError::Request {
        operation: OPERATION.to_owned(),
        detail: format!("signing the request failed: {error}"),
    })
}

fn read_answer(reply: &SoapReply) -> Result<StsAnswer, EhealthError> {
    request::read_answer(&reply.envelope)
        .map_err(|error| EhealthError::malformed(OPERATION, error.element, error.detail))
}

/// At the STS, an authentication fault is about the certificate or the clock, not a token.
fn sts_error(error: EhealthError) -> EhealthError {
    match error {
        EhealthError::RenewToken { operation, fault } => EhealthError::AlertDoctor {
            operation,
            reason: format!(
                "the STS did not accept the doctor's certificate or the request signature ({fault}); check the box's clock and that the certificate is valid and not revoked"
            ),
            code: fault.code,
        },
        other => other,
    }
}

fn token_error(error: TokenError) -> EhealthError {
    match error {
        TokenError::NotADoctor { .. } => EhealthError::AlertDoctor {
            operation: OPERATION.to_owned(),
            code: None,
            reason: error.to_string(),
        },
        TokenError::Invalid { element, detail } => EhealthError::MalformedReply {
            operation: OPERATION.to_owned(),
            element,
            detail,
        },
    }
}

fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One token per doctor (keyed by SSIN), reused while more than half of its lifetime remains.
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<String, Arc<SamlToken>>>,
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the token of `ssin` if it is still worth using at `now`.
    pub fn reusable(&self, ssin: &str, now: Timestamp) -> Option<Arc<SamlToken>> {
        let tokens = self.lock();
        let token = tokens.get(ssin)?;
        token.worth_reusing(now).then(|| Arc::clone(token))
    }

    /// Stores `token` as the token of its SSIN and returns it.
    pub fn store(&self, token: SamlToken) -> Arc<SamlToken> {
        let token = Arc::new(token);
        self.lock().insert(token.ssin.clone(), Arc::clone(&token));
        token
    }

    /// Drops the token of `ssin`, after the platform refused it.
    pub fn forget(&self, ssin: &str) {
        self.lock().remove(ssin);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<SamlToken>>> {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
