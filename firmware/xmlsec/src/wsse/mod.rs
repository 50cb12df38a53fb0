//! WS-Security 1.0/1.1 on SOAP 1.1 envelopes, as the eHealth platform uses it.
//!
//! Two flavours of signed request are built:
//! - [`build_x509_envelope`], for the STS: a `wsu:Timestamp`, the caller's certificate as a
//!   `wsse:BinarySecurityToken`, and a signature over Body, Timestamp and token whose KeyInfo
//!   points at the token;
//! - [`build_saml_envelope`], for eHealthBox calls: a `wsu:Timestamp`, the SAML 1.1 holder-of-key
//!   assertion copied byte for byte so that the STS signature in it stays valid, and a signature
//!   over Body and Timestamp. The holder-of-key private key makes that signature, and its KeyInfo
//!   names the assertion by its `AssertionID`.
//!
//! The server side is [`verify_envelope`] (or [`parse_envelope`], which does not insist on the
//! Body and Timestamp being signed). It returns the timestamp, the key source and the verified
//! signature; policy stays with the caller: the accepted timestamp window, whether the
//! certificate or the assertion issuer is trusted (see [`verify_assertion_signature`]) and the
//! assertion's validity period.
//!
//! ```
//! use practicebox_xmlsec::wsse::{self, EnvelopeOptions, KeySource, SequentialIds};
//!
//! # fn example(
//! #     assertion: &str,
//! #     holder_key: &rsa::PrivateKey,
//! #     sts_key: &rsa::PublicKey,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! // Client: sign an eHealthBox request with the holder-of-key assertion.
//! let now: jiff::Timestamp = "2026-12-04T10:00:00Z".parse()?;
//! let body = "<ehbox:GetMessagesListRequest \
//!     xmlns:ehbox=\"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3\">\
//!     <Source>INBOX</Source></ehbox:GetMessagesListRequest>";
//! let options = EnvelopeOptions::new(now);
//! let request =
//!     wsse::build_saml_envelope(body, assertion, holder_key, &options, &mut SequentialIds::new())?;
//!
//! // Server: check the message signature, then the STS signature of the assertion.
//! let doc = roxmltree::Document::parse(&request)?;
//! let received = wsse::verify_envelope(&doc)?;
//! if let KeySource::SamlAssertion(token) = &received.key_source {
//!     wsse::verify_assertion_signature(&doc, token.element, sts_key)?;
//! }
//! # Ok(())
//! # }
//! ```

mod assertion;
mod build;
mod receive;

pub use assertion::{
    holder_of_key_certificate, sign_assertion, verify_assertion_signature, verify_assertion_text,
};
pub use build::{EnvelopeOptions, build_saml_envelope, build_x509_envelope};
pub use receive::{
    HolderOfKeyAssertion, KeySource, ReceivedEnvelope, Timestamp, parse_envelope, verify_envelope,
};

use super::dsig::DsigError;
use super::ids::IdError;

/// ValueType of an X.509 v3 certificate token.
pub const X509V3_VALUE_TYPE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";

/// EncodingType of base64 token content.
pub const BASE64_ENCODING_TYPE: &str = "http://docs.oasis-open.org/wss/2004/01/\
                                        oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// TokenType of a SAML 1.1 assertion in a SecurityTokenReference.
pub const SAML_V11_TOKEN_TYPE: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1";

/// KeyIdentifier ValueType that names a SAML 1.x assertion by its AssertionID.
pub const SAML_ASSERTION_ID_VALUE_TYPE: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID";

/// SAML 1.x confirmation method of a holder-of-key subject.
pub const HOLDER_OF_KEY: &str = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key";

/// Errors raised while building or checking WS-Security envelopes.
#[derive(Debug, thiserror::Error)]
pub enum WsseError {
    /// The received envelope is not well-formed XML.
    #[error("invalid xml: {0}; expected a well-formed SOAP envelope without a DTD")]
    Xml(#[from] roxmltree::Error),

    /// The body XML passed to a builder is unusable.
    #[error("invalid body element: {0}; pass one well-formed element that declares its namespaces")]
    InvalidBody(String),

    /// The assertion XML is unusable.
    #[error("invalid saml assertion: {0}")]
    InvalidAssertion(String),

    /// The signing key and the certificate that should announce it differ.
    #[error("the {0} does not contain the public key of the signing key; pass the matching pair")]
    KeyMismatch(&'static str),

    /// Created plus time to live is outside the representable range.
    #[error("timestamp expiry {created} + {time_to_live} is out of range")]
    TimeOutOfRange {
        /// Creation time.
        created: jiff::Timestamp,
        /// Requested time to live.
        time_to_live: jiff::SignedDuration,
    },

    /// An ID is duplicated or a reference points at no element.
    #[error(transparent)]
    Id(#[from] IdError),

    /// Signing or verifying the message signature failed.
    #[error("ws-security signature rejected: {0}")]
    Signature(#[from] DsigError),

    /// The certificate of a token could not be used.
    #[error("invalid token certificate: {0}")]
    Certificate(#[source] DsigError),

    /// The document element is not a SOAP 1.1 envelope.
    #[error("document element <{0}> is not a SOAP 1.1 soap:Envelope")]
    NotSoapEnvelope(String),

    /// A required element is missing.
    #[error("missing <{element}> in <{parent}>")]
    MissingElement {
        /// Qualified name of the missing element.
        element: &'static str,
        /// Qualified name of the parent.
        parent: &'static str,
    },

    /// An element that must be unique appears more than once.
    #[error("more than one <{element}> in <{parent}>; expected exactly one")]
    DuplicateElement {
        /// Qualified name of the repeated element.
        element: &'static str,
        /// Qualified name of the parent.
        parent: &'static str,
    },

    /// An element the envelope syntax does not allow at that place.
    #[error("unexpected <{element}> in <{parent}>")]
    UnexpectedElement {
        /// Local name of the element found.
        element: String,
        /// Qualified name of the parent.
        parent: &'static str,
    },

    /// A Created or Expires value that is not an xs:dateTime with a time zone.
    #[error(
        "invalid <{element}> value {value:?}: {reason}; expected e.g. 2026-12-04T10:00:00.000Z"
    )]
    InvalidTimestamp {
        /// Qualified name of the element.
        element: &'static str,
        /// The text found.
        value: String,
        /// Parser message.
        reason: String,
    },

    /// The signature's KeyInfo is not a supported SecurityTokenReference.
    #[error(
        "unsupported key info: {0}; expected a wsse:SecurityTokenReference with a wsse:Reference \
         to a BinarySecurityToken or a SAMLAssertionID wsse:KeyIdentifier"
    )]
    UnsupportedKeyInfo(String),

    /// A SecurityTokenReference that does not point at a token of this Security header.
    #[error(
        "security token reference #{0} does not point at a wsse:BinarySecurityToken in this header"
    )]
    TokenNotInHeader(String),

    /// A token or reference attribute with an unsupported value.
    #[error("unsupported {attribute} {value:?}; expected {expected:?}")]
    UnsupportedTokenType {
        /// Name of the attribute.
        attribute: &'static str,
        /// The value found.
        value: String,
        /// The supported value.
        expected: &'static str,
    },

    /// The KeyIdentifier names an assertion that the Security header does not contain.
    #[error("key identifier names assertion {0:?}, which is not a saml:Assertion in this header")]
    AssertionNotInHeader(String),

    /// The assertion has no holder-of-key certificate.
    #[error(
        "assertion {0:?} has no holder-of-key certificate in \
         saml:SubjectConfirmation/ds:KeyInfo/ds:X509Data"
    )]
    MissingHolderOfKeyCertificate(String),

    /// The assertion lists different holder-of-key certificates.
    #[error("assertion {0:?} has several different holder-of-key certificates")]
    ConflictingHolderOfKeyCertificates(String),

    /// The soap:Body is not among the signed elements.
    #[error("the soap:Body is not signed; the signature covers other elements only")]
    UnsignedBody,

    /// The wsu:Timestamp of the Security header is not among the signed elements.
    #[error("the wsu:Timestamp of the Security header is not signed")]
    UnsignedTimestamp,

    /// The assertion's own signature does not cover exactly the assertion.
    #[error(
        "the signature of assertion {0:?} does not cover the assertion; expected one enveloped \
         reference to its AssertionID"
    )]
    AssertionNotSigned(String),
}

/// Source of the `wsu:Id` values of a new envelope.
///
/// Every call must return a value not returned before for the same envelope. IDs must be XML
/// names (start with a letter or `_`): the prefixes passed in are `TS`, `X509` and `Body`.
pub trait IdGenerator {
    /// Returns a new ID that starts with `prefix`.
    fn next_id(&mut self, prefix: &str) -> String;
}

/// IDs from a counter: `TS-1`, `X509-2`, `Body-3`, ... Reproducible, for tests and simulators.
#[derive(Debug, Clone, Default)]
pub struct SequentialIds {
    last: u64,
}

impl SequentialIds {
    /// Starts counting at 1.
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdGenerator for SequentialIds {
    fn next_id(&mut self, prefix: &str) -> String {
        self.last += 1;
        format!("{prefix}-{}", self.last)
    }
}

/// IDs with 128 random bits from the caller's generator: `TS-3f2a…`.
#[derive(Debug)]
pub struct RandomIds<R> {
    rng: R,
}

impl<R: rand::Rng> RandomIds<R> {
    /// Draws IDs from `rng`.
    pub fn new(rng: R) -> Self {
        Self { rng }
    }
}

impl<R: rand::Rng> IdGenerator for RandomIds<R> {
    fn next_id(&mut self, prefix: &str) -> String {
        format!(
            "{prefix}-{:016x}{:016x}",
            self.rng.next_u64(),
            self.rng.next_u64()
        )
    }
}
