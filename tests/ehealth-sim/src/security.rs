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
//! - the timestamp is within the [`TimestampPolicy`].
//!
//! The module also holds the SOAP and WS-Security header reading that the STS shares.

use jiff::{SignedDuration, Timestamp};
use practicebox::xmlsec::dsig::{self, VerifiedSignature};
use practicebox::xmlsec::ns;
use roxmltree::{Document, Node};

use crate::caller::Caller;
use crate::sts::{self, trust};
use crate::wire::Fault;

const SAML_TOKEN_TYPE: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1";
const SAML_ASSERTION_ID_VALUE_TYPE: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID";

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
    /// How old `Created` may be, whatever `Expires` says. Default 5 minutes.
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
    #[error("wsu:Timestamp has no {0}; send Created and Expires")]
    Missing(&'static str),
    #[error("wsu:Timestamp {field} {value:?} is not an xs:dateTime")]
    Invalid { field: &'static str, value: String },
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
    /// Checks a `wsu:Timestamp` element at `now`.
    pub fn check_element(&self, timestamp: Node, now: Timestamp) -> Result<(), TimestampError> {
        let created = read_instant(timestamp, "Created")?;
        let expires = read_instant(timestamp, "Expires")?;
        self.check(created, expires, now)
    }

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
}

fn read_instant(timestamp: Node, field: &'static str) -> Result<Timestamp, TimestampError> {
    let element = timestamp
        .children()
        .find(|child| child.has_tag_name((ns::WSU, field)))
        .ok_or(TimestampError::Missing(field))?;
    let value = element_text(element);
    value
        .parse::<Timestamp>()
        .map_err(|_| TimestampError::Invalid {
            field,
            value: value.clone(),
        })
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
    #[error("SAML assertion signature does not cover the assertion {assertion_id}")]
    AssertionNotCovered { assertion_id: String },
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
                "the STS certificate holds no RSA public key".to_owned(),
            )
        })?;
        Ok(Self { sts_key, policy })
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
        let doc = parse_document(envelope).map_err(AuthError::Malformed)?;
        let soap = SoapParts::find(&doc).map_err(AuthError::Structure)?;
        let header = SecurityHeader::find(soap.security).map_err(AuthError::Structure)?;
        let assertion = header.assertion.ok_or_else(|| {
            AuthError::Structure("wsse:Security has no saml:Assertion".to_owned())
        })?;

        let token = self.verify_assertion(&doc, assertion, now)?;
        check_key_reference(header.signature, &token.assertion_id)?;

        let holder_key = dsig::certificate_public_key(&token.holder_of_key_der)
            .map_err(|err| AuthError::RequestSignature(err.to_string()))?;
        let verified = dsig::verify(&doc, header.signature, &holder_key)
            .map_err(|err| AuthError::RequestSignature(err.to_string()))?;
        require_covered(&verified, soap.body, "SOAP Body")?;
        require_covered(&verified, header.timestamp, "wsu:Timestamp")?;
        self.policy.check_element(header.timestamp, now)?;

        let caller = caller_from(assertion, &token.assertion_id)?;
        let operation = soap.operation;
        Ok(AuthenticatedRequest {
            caller,
            holder_of_key_der: token.holder_of_key_der,
            token_not_on_or_after: token.not_on_or_after,
            operation_namespace: operation
                .tag_name()
                .namespace()
                .unwrap_or_default()
                .to_owned(),
            operation: operation.tag_name().name().to_owned(),
            body_range: operation.range(),
        })
    }

    fn verify_assertion(
        &self,
        doc: &Document,
        assertion: Node,
        now: Timestamp,
    ) -> Result<VerifiedToken, AuthError> {
        let assertion_id = assertion
            .attribute("AssertionID")
            .ok_or_else(|| AuthError::Structure("saml:Assertion has no AssertionID".to_owned()))?
            .to_owned();
        let signature = only_child(assertion, ns::DS, "Signature")
            .map_err(|reason| AuthError::AssertionSignature(reason))?;
        let verified = dsig::verify(doc, signature, &self.sts_key)
            .map_err(|err| AuthError::AssertionSignature(err.to_string()))?;
        if !verified.covers(assertion) {
            return Err(AuthError::AssertionNotCovered { assertion_id });
        }

        let issuer = assertion.attribute("Issuer").unwrap_or_default();
        if issuer != sts::ISSUER {
            return Err(AuthError::WrongIssuer(issuer.to_owned()));
        }

        let not_on_or_after = self.check_conditions(assertion, now)?;
        let holder_of_key_der = holder_of_key_certificate(assertion)?;
        Ok(VerifiedToken {
            assertion_id,
            not_on_or_after,
            holder_of_key_der,
        })
    }

    fn check_conditions(&self, assertion: Node, now: Timestamp) -> Result<Timestamp, AuthError> {
        let conditions =
            only_child(assertion, ns::SAML, "Conditions").map_err(AuthError::Structure)?;
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

#[derive(Debug)]
struct VerifiedToken {
    assertion_id: String,
    not_on_or_after: Timestamp,
    holder_of_key_der: Vec<u8>,
}

/// Returns the certificate of the holder-of-key `SubjectConfirmation` in the assertion's
/// AuthenticationStatement.
fn holder_of_key_certificate(assertion: Node) -> Result<Vec<u8>, AuthError> {
    let missing = || {
        AuthError::Structure(
            "saml:Assertion has no holder-of-key SubjectConfirmation with a ds:X509Certificate"
                .to_owned(),
        )
    };
    let statement =
        only_child(assertion, ns::SAML, "AuthenticationStatement").map_err(AuthError::Structure)?;
    let confirmation = statement
        .descendants()
        .find(|node| node.has_tag_name((ns::SAML, "SubjectConfirmation")))
        .ok_or_else(missing)?;
    let method_is_hok = confirmation
        .children()
        .filter(|node| node.has_tag_name((ns::SAML, "ConfirmationMethod")))
        .any(|method| element_text(method) == sts::HOLDER_OF_KEY);
    if !method_is_hok {
        return Err(missing());
    }
    dsig::key_info_certificate(confirmation)
        .map_err(|err| AuthError::Structure(err.to_string()))?
        .ok_or_else(missing)
}

/// Checks that the request signature's KeyInfo names the assertion of the header by its ID.
fn check_key_reference(signature: Node, assertion_id: &str) -> Result<(), AuthError> {
    let identifier = signature
        .children()
        .filter(|node| node.has_tag_name((ns::DS, "KeyInfo")))
        .flat_map(|key_info| key_info.children())
        .filter(|node| node.has_tag_name((ns::WSSE, "SecurityTokenReference")))
        .flat_map(|reference| reference.children())
        .find(|node| node.has_tag_name((ns::WSSE, "KeyIdentifier")));
    let Some(identifier) = identifier else {
        return Err(AuthError::Structure(format!(
            "request signature has no KeyInfo/wsse:SecurityTokenReference/wsse:KeyIdentifier naming the assertion (ValueType {SAML_ASSERTION_ID_VALUE_TYPE}, TokenType {SAML_TOKEN_TYPE})"
        )));
    };
    let named = element_text(identifier);
    if named != assertion_id {
        return Err(AuthError::WrongKeyReference {
            named,
            actual: assertion_id.to_owned(),
        });
    }
    Ok(())
}

fn require_covered(
    verified: &VerifiedSignature,
    element: Node,
    what: &'static str,
) -> Result<(), AuthError> {
    if verified.covers(element) {
        Ok(())
    } else {
        Err(AuthError::NotSigned(what))
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

/// Parses a request; a DTD is rejected (roxmltree's default).
pub(crate) fn parse_document(text: &str) -> Result<Document<'_>, String> {
    Document::parse(text).map_err(|err| err.to_string())
}

/// The parts of a SOAP 1.1 request envelope the checks need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SoapParts<'a, 'input> {
    pub security: Node<'a, 'input>,
    pub body: Node<'a, 'input>,
    /// The only element child of the Body.
    pub operation: Node<'a, 'input>,
}

impl<'a, 'input> SoapParts<'a, 'input> {
    /// Finds the `wsse:Security` header, the Body and its request element.
    pub fn find(doc: &'a Document<'input>) -> Result<Self, String> {
        let envelope = doc.root_element();
        if !envelope.has_tag_name((ns::SOAP, "Envelope")) {
            return Err(format!(
                "root element is {{{}}}{}; expected a SOAP 1.1 Envelope",
                envelope.tag_name().namespace().unwrap_or_default(),
                envelope.tag_name().name()
            ));
        }
        let body = only_child(envelope, ns::SOAP, "Body")?;
        let mut operations = body.children().filter(Node::is_element);
        let operation = operations.next().ok_or("SOAP Body is empty")?;
        if operations.next().is_some() {
            return Err(
                "SOAP Body has more than one element; send exactly one request element".to_owned(),
            );
        }
        let header = only_child(envelope, ns::SOAP, "Header")?;
        let security = only_child(header, ns::WSSE, "Security")?;
        Ok(Self {
            security,
            body,
            operation,
        })
    }
}

/// The children of a `wsse:Security` header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SecurityHeader<'a, 'input> {
    pub timestamp: Node<'a, 'input>,
    pub signature: Node<'a, 'input>,
    pub assertion: Option<Node<'a, 'input>>,
    pub binary_security_token: Option<Node<'a, 'input>>,
}

impl<'a, 'input> SecurityHeader<'a, 'input> {
    /// Reads the header: exactly one Timestamp and one Signature, at most one assertion and one
    /// BinarySecurityToken, all direct children.
    pub fn find(security: Node<'a, 'input>) -> Result<Self, String> {
        Ok(Self {
            timestamp: only_child(security, ns::WSU, "Timestamp")?,
            signature: only_child(security, ns::DS, "Signature")?,
            assertion: optional_child(security, ns::SAML, "Assertion")?,
            binary_security_token: optional_child(security, ns::WSSE, "BinarySecurityToken")?,
        })
    }
}

fn optional_child<'a, 'input>(
    parent: Node<'a, 'input>,
    namespace: &str,
    name: &str,
) -> Result<Option<Node<'a, 'input>>, String> {
    let mut found = parent
        .children()
        .filter(|child| child.has_tag_name((namespace, name)));
    let first = found.next();
    if found.next().is_some() {
        return Err(format!(
            "{} contains more than one {name}; send exactly one",
            parent.tag_name().name()
        ));
    }
    Ok(first)
}

pub(crate) fn only_child<'a, 'input>(
    parent: Node<'a, 'input>,
    namespace: &str,
    name: &str,
) -> Result<Node<'a, 'input>, String> {
    optional_child(parent, namespace, name)?
        .ok_or_else(|| format!("{} has no {name} element", parent.tag_name().name()))
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
