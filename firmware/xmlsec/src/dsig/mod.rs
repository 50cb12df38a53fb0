//! XML-DSig with RSA PKCS#1 v1.5 keys, restricted to what WS-Security and SAML 1.1 on the eHealth
//! platform use.
//!
//! Supported algorithms, and nothing else:
//! - SignatureMethod `rsa-sha1` and `rsa-sha256`;
//! - DigestMethod `sha1` and `sha256`;
//! - CanonicalizationMethod exclusive C14N without comments, with an optional PrefixList;
//! - Reference transforms: an optional enveloped-signature transform followed by exclusive C14N.
//!
//! NOTE: `ecdsa-sha256`, which eHealth accepts from holders of EC keys, is not supported, so an
//! EC key (such as on a newer eID card) cannot sign or be verified here yet.
//!
//! References must be same-document ID references (`URI="#id"`), resolved strictly by
//! [`IdIndex`](super::ids::IdIndex). Verification returns the signed elements as tree nodes so
//! that the caller can check that the element it consumes is the element that was signed.

mod sign;
mod verify;

pub use sign::{KeyInfo, ReferenceSpec, SignatureParent, SignatureRequest, sign};
pub use verify::{VerifiedReference, VerifiedSignature, verify};

use roxmltree::Node;
use sha2::Digest as _;

use super::c14n::{C14nError, EXC_C14N};
use super::ids::IdError;
use super::{ns, xml};

/// URI of the enveloped-signature transform.
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Errors raised while signing or verifying.
#[derive(Debug, thiserror::Error)]
pub enum DsigError {
    /// The document to sign is not well-formed XML.
    #[error("invalid xml to sign: {0}; pass a well-formed document without a DTD")]
    Xml(#[from] roxmltree::Error),

    /// Canonicalisation failed.
    #[error(transparent)]
    C14n(#[from] C14nError),

    /// An ID is duplicated or a reference points at no element.
    #[error(transparent)]
    Id(#[from] IdError),

    /// An algorithm URI outside the supported set.
    #[error("unsupported {role} algorithm {uri:?}; supported: {supported}")]
    UnsupportedAlgorithm {
        /// Role of the algorithm: signature method, digest method, transform, ...
        role: &'static str,
        /// The algorithm URI found in the document.
        uri: String,
        /// The supported URIs, for the message.
        supported: &'static str,
    },

    /// The transforms of a reference are not one of the supported chains.
    #[error(
        "unsupported transforms on reference {uri:?}: {found:?}; expected exclusive c14n, \
         optionally preceded by enveloped-signature"
    )]
    UnsupportedTransforms {
        /// The reference URI.
        uri: String,
        /// The transform algorithm URIs, in order.
        found: Vec<String>,
    },

    /// A reference URI other than `#id`.
    #[error("unsupported reference uri {0:?}; only same-document references \"#id\" are supported")]
    UnsupportedReferenceUri(String),

    /// The node given as signature is not a `ds:Signature` element.
    #[error("<{0}> is not a ds:Signature element")]
    NotASignature(String),

    /// A required element is missing.
    #[error("missing <ds:{child}> in <ds:{parent}>")]
    MissingElement {
        /// Local name of the parent.
        parent: &'static str,
        /// Local name of the expected child.
        child: &'static str,
    },

    /// An element appears where the signature syntax does not allow it.
    #[error("unexpected <{found}> in <ds:{parent}>; expected {expected}")]
    UnexpectedElement {
        /// Local name of the parent.
        parent: &'static str,
        /// Local name of the element found.
        found: String,
        /// Element names the syntax allows at that place.
        expected: &'static str,
    },

    /// A required attribute is missing.
    #[error("missing {attribute} attribute on <ds:{element}>")]
    MissingAttribute {
        /// Local name of the element.
        element: &'static str,
        /// Name of the attribute.
        attribute: &'static str,
    },

    /// Base64 content that does not decode.
    #[error("invalid base64 in <{element}>: {reason}")]
    InvalidBase64 {
        /// Local name of the element.
        element: &'static str,
        /// Decoder message.
        reason: String,
    },

    /// The digest of a referenced element differs from its DigestValue.
    #[error("digest mismatch for reference {uri:?}; the element was changed after signing")]
    DigestMismatch {
        /// The reference URI.
        uri: String,
    },

    /// The SignatureValue does not verify with the public key.
    #[error(
        "signature value does not verify with the given public key; SignedInfo was changed or \
         another key signed it"
    )]
    BadSignatureValue,

    /// SignedInfo contains no Reference.
    #[error("ds:SignedInfo has no ds:Reference; a signature must cover at least one element")]
    NoReferences,

    /// The signature was asked to cover an element that will contain it, without the enveloped
    /// transform.
    #[error(
        "reference #{0} contains the signature's parent; mark the reference enveloped or place \
         the signature elsewhere"
    )]
    ReferenceContainsSignature(String),

    /// The parent element for the new signature does not resolve to exactly one element.
    #[error("signature parent {parent} matches {count} elements; expected exactly one")]
    SignatureParent {
        /// Description of the requested parent.
        parent: String,
        /// Number of matching elements.
        count: usize,
    },

    /// RSA signing failed.
    #[error("rsa signing failed: {0}")]
    Rsa(rsa::Error),

    /// A certificate that could not be parsed or does not hold an RSA key.
    #[error("invalid certificate: {0}; expected a DER X.509 certificate with an RSA public key")]
    Certificate(String),
}

/// SignatureMethod algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureMethod {
    /// RSA PKCS#1 v1.5 with SHA-1.
    RsaSha1,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaSha256,
}

impl SignatureMethod {
    /// URI of `rsa-sha1`.
    pub const RSA_SHA1_URI: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    /// URI of `rsa-sha256`.
    pub const RSA_SHA256_URI: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

    /// Returns the algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha1 => Self::RSA_SHA1_URI,
            Self::RsaSha256 => Self::RSA_SHA256_URI,
        }
    }

    /// Reads an algorithm URI, rejecting every other one.
    pub fn from_uri(uri: &str) -> Result<Self, DsigError> {
        match uri {
            Self::RSA_SHA1_URI => Ok(Self::RsaSha1),
            Self::RSA_SHA256_URI => Ok(Self::RsaSha256),
            _ => Err(DsigError::UnsupportedAlgorithm {
                role: "signature method",
                uri: uri.to_owned(),
                supported: "rsa-sha1, rsa-sha256",
            }),
        }
    }

    /// The hash that this method signs.
    pub fn digest_method(self) -> DigestMethod {
        match self {
            Self::RsaSha1 => DigestMethod::Sha1,
            Self::RsaSha256 => DigestMethod::Sha256,
        }
    }

    fn padding(self) -> rsa::Pkcs1v15Sign {
        match self {
            Self::RsaSha1 => rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
            Self::RsaSha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
        }
    }

    /// Signs `data` (hashing it first) with `key`.
    pub fn sign(self, key: &rsa::PrivateKey, data: &[u8]) -> Result<Vec<u8>, DsigError> {
        let hash = self.digest_method().digest(data);
        key.sign(self.padding(), &hash).map_err(DsigError::Rsa)
    }

    /// Checks whether `signature` is a valid signature of `data` (hashed first) under `key`.
    pub fn verify(self, key: &rsa::PublicKey, data: &[u8], signature: &[u8]) -> bool {
        let hash = self.digest_method().digest(data);
        key.verify(self.padding(), &hash, signature).is_ok()
    }
}

/// DigestMethod algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestMethod {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl DigestMethod {
    /// URI of SHA-1.
    pub const SHA1_URI: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
    /// URI of SHA-256.
    pub const SHA256_URI: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

    /// Returns the algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha1 => Self::SHA1_URI,
            Self::Sha256 => Self::SHA256_URI,
        }
    }

    /// Reads an algorithm URI, rejecting every other one.
    pub fn from_uri(uri: &str) -> Result<Self, DsigError> {
        match uri {
            Self::SHA1_URI => Ok(Self::Sha1),
            Self::SHA256_URI => Ok(Self::Sha256),
            _ => Err(DsigError::UnsupportedAlgorithm {
                role: "digest method",
                uri: uri.to_owned(),
                supported: "sha1, sha256",
            }),
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }
}

/// A signature method with its reference digest method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Algorithms {
    /// SignatureMethod of SignedInfo.
    pub signature: SignatureMethod,
    /// DigestMethod of every Reference.
    pub digest: DigestMethod,
}

impl Algorithms {
    /// `rsa-sha256` with `sha256` digests, the default.
    pub const SHA256: Self = Self {
        signature: SignatureMethod::RsaSha256,
        digest: DigestMethod::Sha256,
    };

    /// `rsa-sha1` with `sha1` digests, for peers that still use the WSS4J defaults.
    pub const SHA1: Self = Self {
        signature: SignatureMethod::RsaSha1,
        digest: DigestMethod::Sha1,
    };
}

impl Default for Algorithms {
    fn default() -> Self {
        Self::SHA256
    }
}

/// Reads the RSA public key of a DER X.509 certificate.
pub fn certificate_public_key(certificate_der: &[u8]) -> Result<rsa::PublicKey, DsigError> {
    use der::{Decode as _, Encode as _};
    use rsa::pkcs8::DecodePublicKey as _;

    let certificate = x509_cert::Certificate::from_der(certificate_der)
        .map_err(|error| DsigError::Certificate(error.to_string()))?;
    let spki = certificate
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|error| DsigError::Certificate(error.to_string()))?;
    rsa::PublicKey::from_public_key_der(&spki)
        .map_err(|error| DsigError::Certificate(error.to_string()))
}

/// Returns the DER certificate in `ds:KeyInfo/ds:X509Data/ds:X509Certificate` of a signature or
/// of any element holding a `ds:KeyInfo` child, or `None` when there is none.
///
/// More than one certificate is an error: which of them signed would be a guess.
pub fn key_info_certificate(holder: Node<'_, '_>) -> Result<Option<Vec<u8>>, DsigError> {
    let certificates: Vec<Node> = xml::children_named(holder, ns::DS, "KeyInfo")
        .flat_map(|key_info| xml::children_named(key_info, ns::DS, "X509Data"))
        .flat_map(|data| xml::children_named(data, ns::DS, "X509Certificate"))
        .collect();

    match certificates.as_slice() {
        [] => Ok(None),
        [certificate] => xml::decode_base64(&xml::text(*certificate))
            .map(Some)
            .map_err(|error| DsigError::InvalidBase64 {
                element: "ds:X509Certificate",
                reason: error.to_string(),
            }),
        _ => Err(DsigError::UnexpectedElement {
            parent: "KeyInfo",
            found: "ds:X509Certificate".to_owned(),
            expected: "exactly one certificate",
        }),
    }
}

/// Returns the supported Reference transform chain, with or without enveloped-signature.
fn transform_uris(enveloped: bool) -> &'static [&'static str] {
    if enveloped {
        &[ENVELOPED_SIGNATURE, EXC_C14N]
    } else {
        &[EXC_C14N]
    }
}
