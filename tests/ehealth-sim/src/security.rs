//! Token checks on every eHealthBox and publication call: the SAML 1.1 holder-of-key assertion in
//! the WS-Security header, the request signature made with the holder-of-key, and the timestamp.
//!
//! [`Authenticator::authenticate`] turns a SOAP envelope into an [`AuthenticatedRequest`] only when
//! all of these hold, and otherwise returns SOA-01001 with the reason in the message:
//! - the assertion's enveloped signature verifies with the STS certificate, covers the assertion
//!   itself, and its Issuer is the eHealth STS;
//! - now lies within the assertion's `NotBefore`/`NotOnOrAfter`, widened by the configured skew;
//! - the `ds:Signature` of the header verifies with the key of the holder-of-key certificate in the
//!   assertion's `SubjectConfirmation`, and covers the SOAP Body and the `wsu:Timestamp` (the very
//!   nodes, not other elements carrying the same IDs);
//! - the timestamp is within the [`TimestampPolicy`];
//! - the signature was not accepted before (see [`crate::replay`]).
//!
//! The [`TimestampPolicy`] and the replay cache are shared with the STS.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use practicebox_xmlsec::ns;
use practicebox_xmlsec::wsse::{self, KeySource, WsseError};
use roxmltree::{Document, Node};

use crate::caller::Caller;
use crate::replay::{ReplayCache, Replayed};
use crate::sts::{self, trust};
use crate::wire::Fault;

/// Checks on the `wsu:Timestamp` of a request.
///
/// The platform's exact tolerances are not published, so each one is a field: reference clients
/// send timestamps that live 60 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampPolicy {
    /// How far `Created` (and an assertion's `NotBefore`) may lie in the future, for clocks that
    /// run ahead. Default 5 minutes.
    pub clock_skew: SignedDuration,
    /// How long after `Expires` (and an assertion's `NotOnOrAfter`) a request is still accepted.
    /// Default zero: expired is expired.
    pub expiry_leeway: SignedDuration,
    /// How old `Created` may be, whatever its `Expires` value. Default 5 minutes.
    pub max_age: SignedDuration,
}

impl Default for TimestampPolicy {
    fn default() -> Self {
        Self {
            clock_skew: SignedDuration::from_mins(5),
            expiry_leeway: SignedDuration::ZERO,
            max_age: SignedDuration::from_mins(5),
        }
    }
}

/// Why a `wsu:Timestamp` is rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimestampError {
    #[error("wsu:Timestamp Expires {expires} is not after Created {created}")]
    ExpiresNotAfterCreated {
        created: Timestamp,
        expires: Timestamp,
    },
    #[error(
        "wsu:Timestamp Created {created} is in the future (now {now}, allowed skew {skew:#}); check the sender's clock"
    )]
    InFuture {
        created: Timestamp,
        now: Timestamp,
        skew: SignedDuration,
    },
    #[error("wsu:Timestamp expired at {expires} (now {now}); send a fresh timestamp")]
    Expired { expires: Timestamp, now: Timestamp },
    #[error(
        "wsu:Timestamp Created {created} is older than {max_age:#} (now {now}); send a fresh timestamp"
    )]
    TooOld {
        created: Timestamp,
        now: Timestamp,
        max_age: SignedDuration,
    },
}

impl TimestampPolicy {
    /// Checks a timestamp's `Created` and `Expires` at `now`.
    pub fn check(
        &self,
        created: Timestamp,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<(), TimestampError> {
        if expires <= created {
            return Err(TimestampError::ExpiresNotAfterCreated { created, expires });
        }
        if created > add(now, self.clock_skew) {
            return Err(TimestampError::InFuture {
                created,
                now,
                skew: self.clock_skew,
            });
        }
        if add(expires, self.expiry_leeway) <= now {
            return Err(TimestampError::Expired { expires, now });
        }
        if add(created, self.max_age) < now {
            return Err(TimestampError::TooOld {
                created,
                now,
                max_age: self.max_age,
            });
        }
        Ok(())
    }

    /// Returns the first instant at which a timestamp with `created` and `expires` fails
    /// [`TimestampPolicy::check`] whatever else holds: until then its signature must be kept in
    /// the replay cache.
    pub fn replay_window_end(&self, created: Timestamp, expires: Timestamp) -> Timestamp {
        let too_old = add(add(created, self.max_age), SignedDuration::from_nanos(1));
        add(expires, self.expiry_leeway).min(too_old)
    }
}

fn add(instant: Timestamp, duration: SignedDuration) -> Timestamp {
    instant.saturating_add(duration).unwrap_or(Timestamp::MAX)
}

/// A request whose token and signature were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedRequest {
    /// Who calls, from the assertion's attributes.
    pub caller: Caller,
    /// DER of the holder-of-key certificate that signed the request.
    pub holder_of_key_der: Vec<u8>,
    /// End of the assertion's validity.
    pub token_not_on_or_after: Timestamp,
    /// Namespace URI of the body's request element.
    pub operation_namespace: String,
    /// Local name of the body's request element, such as `GetMessagesListRequest`.
    pub operation: String,
    /// Byte range of the body's request element in the envelope text.
    pub body_range: std::ops::Range<usize>,
}

/// Why a request is not authenticated. Each one becomes SOA-01001.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("request is not well-formed XML: {0}")]
    Malformed(String),
    #[error("{0}")]
    Structure(String),
    #[error("SAML assertion signature is invalid: {0}")]
    AssertionSignature(String),
    #[error("SAML assertion Issuer is {0:?}; expected {expected}", expected = sts::ISSUER)]
    WrongIssuer(String),
    #[error("SAML assertion is not valid before {not_before} (now {now})")]
    AssertionNotYetValid {
        not_before: Timestamp,
        now: Timestamp,
    },
    #[error("SAML assertion expired at {not_on_or_after} (now {now}); request a new token")]
    AssertionExpired {
        not_on_or_after: Timestamp,
        now: Timestamp,
    },
    #[error(
        "request signature is invalid with the holder-of-key certificate of the assertion: {0}"
    )]
    RequestSignature(String),
    #[error("request signature does not cover the {0}; sign the Body and the Timestamp")]
    NotSigned(&'static str),
    #[error(
        "request signature's KeyInfo names assertion {named:?}, but the header carries assertion {actual:?}"
    )]
    WrongKeyReference { named: String, actual: String },
    #[error(transparent)]
    Timestamp(#[from] TimestampError),
    #[error("SAML assertion grants no SSIN attribute ({})", sts::PERSON_SSIN)]
    NoSsin,
    #[error(transparent)]
    Replayed(#[from] Replayed),
}

impl AuthError {
    fn from_wsse(err: WsseError) -> Self {
        match err {
            WsseError::Xml(err) => Self::Malformed(err.to_string()),
            WsseError::Signature(err) => Self::RequestSignature(err.to_string()),
            other => Self::Structure(other.to_string()),
        }
    }
}

impl From<AuthError> for Fault {
    fn from(err: AuthError) -> Self {
        Fault::not_authenticated(err.to_string())
    }
}

/// Verifies the tokens on eHealthBox and publication calls.
#[derive(Debug, Clone)]
pub struct Authenticator {
    sts_key: rsa::PublicKey,
    policy: TimestampPolicy,
    replay: Arc<ReplayCache>,
}

impl Authenticator {
    /// Creates the checks for assertions signed by the key of `sts_certificate_der`.
    pub fn new(
        sts_certificate_der: &[u8],
        policy: TimestampPolicy,
    ) -> Result<Self, trust::CertificateError> {
        let certificate = trust::parse_certificate(sts_certificate_der)?;
        let sts_key = trust::rsa_public_key(&certificate).ok_or_else(|| {
            trust::CertificateError::Malformed(
                "the STS certificate contains no RSA public key".to_owned(),
            )
        })?;
        Ok(Self {
            sts_key,
            policy,
            replay: Arc::new(ReplayCache::default()),
        })
    }

    /// Uses `replay` instead of a cache of its own, to share it with the STS.
    pub fn with_replay_cache(mut self, replay: Arc<ReplayCache>) -> Self {
        self.replay = replay;
        self
    }

    /// Verifies the token and signature of `envelope` at `now`.
    pub fn authenticate(
        &self,
        envelope: &str,
        now: Timestamp,
    ) -> Result<AuthenticatedRequest, Fault> {
        self.verify(envelope, now).map_err(|err| {
            tracing::info!(error = %err, "request not authenticated");
            Fault::from(err)
        })
    }

    fn verify(&self, envelope: &str, now: Timestamp) -> Result<AuthenticatedRequest, AuthError> {
        let doc = Document::parse(envelope).map_err(|err| AuthError::Malformed(err.to_string()))?;
        let received = wsse::verify_envelope(&doc).map_err(AuthError::from_wsse)?;
        let KeySource::SamlAssertion(token) = &received.key_source else {
            return Err(AuthError::Structure(
                "request is signed with a BinarySecurityToken; eHealthBox calls must be signed \
                 with the holder-of-key of a SAML assertion named by its AssertionID"
                    .to_owned(),
            ));
        };

        let not_on_or_after = self.verify_assertion(&doc, token.element, now)?;
        self.policy
            .check(received.timestamp.created, received.timestamp.expires, now)?;

        let operation = body_element(received.body).map_err(AuthError::Structure)?;
        let caller = caller_from(token.element, &token.assertion_id)?;
        let timestamp = &received.timestamp;
        self.replay.check_and_record(
            &signature_value(received.signature.signature),
            self.policy
                .replay_window_end(timestamp.created, timestamp.expires),
            now,
        )?;
        Ok(AuthenticatedRequest {
            caller,
            holder_of_key_der: token.holder_of_key_certificate_der.clone(),
            token_not_on_or_after: not_on_or_after,
            operation_namespace: operation
                .tag_name()
                .namespace()
                .unwrap_or_default()
                .to_owned(),
            operation: operation.tag_name().name().to_owned(),
            body_range: operation.range(),
        })
    }

    /// Verifies the STS signature, the Issuer and the validity window of the assertion, and
    /// returns its `NotOnOrAfter`.
    fn verify_assertion(
        &self,
        doc: &Document,
        assertion: Node,
        now: Timestamp,
    ) -> Result<Timestamp, AuthError> {
        wsse::verify_assertion_signature(doc, assertion, &self.sts_key)
            .map_err(|err| AuthError::AssertionSignature(err.to_string()))?;

        let issuer = assertion.attribute("Issuer").unwrap_or_default();
        if issuer != sts::ISSUER {
            return Err(AuthError::WrongIssuer(issuer.to_owned()));
        }
        self.check_conditions(assertion, now)
    }

    fn check_conditions(&self, assertion: Node, now: Timestamp) -> Result<Timestamp, AuthError> {
        let conditions = assertion
            .children()
            .find(|node| node.has_tag_name((ns::SAML, "Conditions")))
            .ok_or_else(|| {
                AuthError::Structure("saml:Assertion has no saml:Conditions".to_owned())
            })?;
        let instant = |name: &str| -> Result<Timestamp, AuthError> {
            let value = conditions
                .attribute(name)
                .ok_or_else(|| AuthError::Structure(format!("saml:Conditions has no {name}")))?;
            value.parse::<Timestamp>().map_err(|_| {
                AuthError::Structure(format!(
                    "saml:Conditions {name} {value:?} is not an xs:dateTime"
                ))
            })
        };
        let not_before = instant("NotBefore")?;
        let not_on_or_after = instant("NotOnOrAfter")?;

        if not_before > add(now, self.policy.clock_skew) {
            return Err(AuthError::AssertionNotYetValid { not_before, now });
        }
        if add(not_on_or_after, self.policy.expiry_leeway) <= now {
            return Err(AuthError::AssertionExpired {
                not_on_or_after,
                now,
            });
        }
        Ok(not_on_or_after)
    }
}

/// Builds the caller from the attributes of the (verified) assertion.
fn caller_from(assertion: Node, assertion_id: &str) -> Result<Caller, AuthError> {
    let mut ssin = None;
    let mut is_doctor = false;
    let mut nihii11 = None;
    for attribute in assertion
        .descendants()
        .filter(|node| node.has_tag_name((ns::SAML, "Attribute")))
    {
        let value = attribute
            .children()
            .find(|node| node.has_tag_name((ns::SAML, "AttributeValue")))
            .map(element_text);
        match (attribute.attribute("AttributeName"), value) {
            (Some(sts::PERSON_SSIN), Some(value)) => ssin = Some(value),
            (Some(sts::CERTIFICATE_HOLDER_SSIN), Some(value)) if ssin.is_none() => {
                ssin = Some(value)
            }
            (Some(sts::DOCTOR_BOOLEAN), Some(value)) => is_doctor = value == "true",
            (Some(sts::DOCTOR_NIHII11), Some(value)) => nihii11 = Some(value),
            _ => {}
        }
    }
    Ok(Caller {
        ssin: ssin.ok_or(AuthError::NoSsin)?,
        is_doctor,
        nihii11,
        assertion_id: assertion_id.to_owned(),
    })
}

/// Returns the only element child of the SOAP Body: the request element.
pub(crate) fn body_element<'a, 'input>(body: Node<'a, 'input>) -> Result<Node<'a, 'input>, String> {
    let mut elements = body.children().filter(Node::is_element);
    let first = elements
        .next()
        .ok_or("SOAP Body is empty; send one request element")?;
    if elements.next().is_some() {
        return Err(
            "SOAP Body has more than one element; send exactly one request element".to_owned(),
        );
    }
    Ok(first)
}

/// Returns the text of the `ds:SignatureValue` of a verified `ds:Signature`.
pub(crate) fn signature_value(signature: Node) -> String {
    signature
        .children()
        .find(|node| node.has_tag_name((ns::DS, "SignatureValue")))
        .map(element_text)
        .unwrap_or_default()
}

pub(crate) fn element_text(element: Node) -> String {
    element
        .children()
        .filter(Node::is_text)
        .filter_map(|child| child.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests;
