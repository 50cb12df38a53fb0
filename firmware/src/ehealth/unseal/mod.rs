//! Unsealing received eHealth messages: the "triple wrap" of end-to-end encryption.
//!
//! A sealed message is a ContentInfo with an outer SignedData, which authenticates the sender
//! and embeds the signer certificate. Its eContent is a ContentInfo with an EnvelopedData: one
//! key transport recipient per encryption certificate, and AES-CBC content. The plaintext is
//! a ContentInfo with the inner SignedData, the sender's signature over the payload. Senders write BER with
//! indefinite lengths and chunked OCTET STRINGs, sign with RSASSA-PSS, RSA PKCS#1 v1.5 or
//! ECDSA (SHA-1 in old messages), and may omit signed attributes.
//!
//! [`unseal`] verifies the outer signature, decrypts with whichever encryption key of the
//! keystore the message is addressed to, verifies the inner signature against the sender's
//! certificate and returns the payload. Each failure is its own [`UnsealError`] variant that
//! names the [`Layer`]; the caller keeps the raw message and flags it.
//!
//! Not done here: certificate chain and revocation checks of the sender's certificate, whose
//! policy the caller decides.

mod cms;
pub mod command;
mod decrypt;
pub mod field;
mod verify;

use std::{borrow::Cow, fmt, ops::Range};

use der::asn1::ObjectIdentifier;

use super::{certificate::StoredCertificate, keystore::EhealthKeystore};
use crate::ehealth::ber::BerError;
pub use crate::ehealth::signature::{DigestAlgorithm, SignatureAlgorithm};

/// The CMS layer of a sealed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The outer SignedData that authenticates the sender.
    Outer,
    /// The EnvelopedData that encrypts the content to the recipients.
    Envelope,
    /// The inner SignedData around the payload.
    Inner,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Outer => "outer SignedData",
            Self::Envelope => "EnvelopedData",
            Self::Inner => "inner SignedData",
        })
    }
}

/// Acceptance options of [`unseal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsealPolicy {
    /// Accept SHA-1 digests, which messages sealed around 2014 use.
    pub allow_sha1: bool,
    /// Accept an inner signature by another certificate than the outer signer's, as in
    /// messages sealed with an eID (authentication key outside, signature key inside). The
    /// other signer is reported in [`SignatureStatus::signer`].
    pub allow_different_inner_signer: bool,
}

impl Default for UnsealPolicy {
    fn default() -> Self {
        Self {
            allow_sha1: true,
            allow_different_inner_signer: true,
        }
    }
}

/// The certificate of a signer, as embedded in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderCertificate {
    pub der: Vec<u8>,
    /// Subject DN in RFC 4514 order.
    pub subject: String,
    pub issuer: String,
    /// Serial number in decimal.
    pub serial: String,
    /// The INSZ (SSIN) from `SSIN=` in the CN or an OU, if the certificate has one.
    pub ssin: Option<String>,
}

impl From<&StoredCertificate> for SenderCertificate {
    fn from(certificate: &StoredCertificate) -> Self {
        Self {
            der: certificate.der().to_vec(),
            subject: certificate.subject(),
            issuer: certificate.issuer(),
            serial: certificate.decimal_serial(),
            ssin: certificate.ssin(),
        }
    }
}

/// Relation of a verified signature's signer to the outer signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerRelation {
    /// The sender: the certificate that made the outer signature.
    Sender,
    /// Another certificate, embedded in the inner SignedData.
    Other(SenderCertificate),
}

/// A verified signature: unsealing fails with an error for a signature that does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureStatus {
    pub algorithm: SignatureAlgorithm,
    /// Whether the signature covered signed attributes (messageDigest checked) rather than the
    /// content directly.
    pub signed_attributes: bool,
    /// The signingTime attribute, if present.
    pub signing_time: Option<jiff::Timestamp>,
    pub signer: SignerRelation,
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "valid, {}", self.algorithm)?;
        if self.signed_attributes {
            f.write_str(", signed attributes")?;
        } else {
            f.write_str(", no signed attributes")?;
        }
        if let Some(time) = self.signing_time {
            write!(f, ", signed at {time}")?;
        }
        match &self.signer {
            SignerRelation::Sender => f.write_str(", by the sender"),
            SignerRelation::Other(other) => {
                write!(
                    f,
                    ", by another certificate than the sender's: '{}'",
                    other.subject
                )
            }
        }
    }
}

/// An unsealed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsealed {
    /// The payload of the inner SignedData.
    pub content: Vec<u8>,
    /// The outer signer.
    pub sender: SenderCertificate,
    pub outer_signature: SignatureStatus,
    pub inner_signature: SignatureStatus,
    /// Decimal serial number of the encryption certificate the message was decrypted with.
    pub recipient_serial: String,
    /// The outer signingTime, or the inner one when the outer signature has none.
    pub signing_time: Option<jiff::Timestamp>,
}

/// A recipient named in the EnvelopedData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientId {
    IssuerAndSerial {
        issuer: String,
        serial: String,
    },
    /// Subject key identifier in hexadecimal.
    SubjectKeyIdentifier(String),
    /// A recipient kind other than key transport.
    Other(&'static str),
}

impl fmt::Display for RecipientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IssuerAndSerial { issuer, serial } => {
                write!(f, "serial {serial} issued by '{issuer}'")
            }
            Self::SubjectKeyIdentifier(identifier) => {
                write!(f, "subject key identifier {identifier}")
            }
            Self::Other(kind) => f.write_str(kind),
        }
    }
}

/// Failure to open a sealed message. The caller keeps the raw message in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsealError {
    #[error(
        "sealed message is truncated in the {layer} ({detail}); the download was cut short, fetch the message again"
    )]
    Truncated { layer: Layer, detail: String },
    #[error(
        "sealed message is malformed in the {layer}: {detail}; keep the raw message and ask the sender to send it again"
    )]
    Malformed { layer: Layer, detail: String },
    #[error(
        "sealed message is not addressed to any encryption key of keystore '{keystore}': it is for {}, the keystore has {}; load the keystore of the holder it was sent to, or one that still has that older encryption key",
        list(recipients),
        if keystore_serials.is_empty() { "no encryption key".to_owned() } else { format!("serials {}", keystore_serials.join(", ")) }
    )]
    NotAddressedToKeystore {
        keystore: String,
        recipients: Vec<RecipientId>,
        keystore_serials: Vec<String>,
    },
    #[error(
        "the {layer} signer certificate ({signer}) is not in the message, so the signature cannot be checked; keep the raw message and ask the sender to include the certificate"
    )]
    SignerCertificateMissing { layer: Layer, signer: String },
    #[error(
        "the {layer} signature of '{signer}' is invalid: {reason}; the message was altered or damaged, keep the raw message and do not use its content"
    )]
    BadSignature {
        layer: Layer,
        signer: String,
        reason: String,
    },
    #[error(
        "the inner SignedData is signed by '{inner_signer}', not by the sender '{sender}'; check the message by hand, or allow other inner signers in the unseal policy"
    )]
    InnerSignerMismatch {
        sender: String,
        inner_signer: String,
    },
    #[error(
        "the {layer} uses the unsupported {purpose} algorithm {oid}; keep the raw message and report the algorithm"
    )]
    UnsupportedAlgorithm {
        layer: Layer,
        purpose: &'static str,
        oid: ObjectIdentifier,
    },
    #[error(
        "the {layer} signature uses SHA-1, which the unseal policy rejects; allow SHA-1 to open legacy messages"
    )]
    Sha1Rejected { layer: Layer },
    #[error(
        "cannot decrypt the EnvelopedData with encryption key '{alias}': {detail}; the message is damaged, or the keystore's key does not belong to its certificate"
    )]
    DecryptionFailed { alias: String, detail: String },
}

impl UnsealError {
    /// Returns the layer the failure happened in.
    pub fn layer(&self) -> Layer {
        match self {
            Self::Truncated { layer, .. }
            | Self::Malformed { layer, .. }
            | Self::SignerCertificateMissing { layer, .. }
            | Self::BadSignature { layer, .. }
            | Self::UnsupportedAlgorithm { layer, .. }
            | Self::Sha1Rejected { layer } => *layer,
            Self::NotAddressedToKeystore { .. } | Self::DecryptionFailed { .. } => Layer::Envelope,
            Self::InnerSignerMismatch { .. } => Layer::Inner,
        }
    }

    fn from_ber(layer: Layer, error: BerError) -> Self {
        match error {
            BerError::Truncated { .. } => Self::Truncated {
                layer,
                detail: error.to_string(),
            },
            other => Self::Malformed {
                layer,
                detail: other.to_string(),
            },
        }
    }
}

fn list(recipients: &[RecipientId]) -> String {
    if recipients.is_empty() {
        return "no recipient".to_owned();
    }
    recipients
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Opens a sealed message (binary DER or BER) with the keystore's encryption keys.
///
/// Copies: the encrypted content is copied once out of `blob` into the buffer that is
/// decrypted in place, and the payload is moved to the front of that buffer, which becomes
/// [`Unsealed::content`]. Each layer whose string was sent in chunks costs one more buffer
/// while it is being read.
pub fn unseal(
    blob: &[u8],
    keystore: &EhealthKeystore,
    policy: &UnsealPolicy,
) -> Result<Unsealed, UnsealError> {
    let outer = cms::read_signed_data(blob).map_err(|e| UnsealError::from_ber(Layer::Outer, e))?;
    let (sender, outer_signature) = verify::verify_outer(&outer, policy)?;
    let (plaintext, recipient_serial) = open_envelope(outer.content, keystore)?;

    let inner =
        cms::read_signed_data(&plaintext).map_err(|e| UnsealError::from_ber(Layer::Inner, e))?;
    if inner.content_type != cms::ID_DATA {
        tracing::debug!(content_type = %inner.content_type, "inner eContentType is not id-data");
    }
    let inner_signature = verify::verify_inner(&inner, &sender, policy)?;
    let (joined, range) = detach(inner.content, inner.content_range);
    let content = match joined {
        Some(joined) => joined,
        None => take_range(Cow::Owned(plaintext), range),
    };

    Ok(Unsealed {
        content,
        sender: SenderCertificate::from(&sender),
        signing_time: outer_signature
            .signing_time
            .or(inner_signature.signing_time),
        outer_signature,
        inner_signature,
        recipient_serial,
    })
}

/// Decrypts the EnvelopedData and returns the plaintext with the recipient's serial number.
fn open_envelope(
    encoded: Cow<'_, [u8]>,
    keystore: &EhealthKeystore,
) -> Result<(Vec<u8>, String), UnsealError> {
    let envelope = cms::read_enveloped_data(&encoded)
        .map_err(|e| UnsealError::from_ber(Layer::Envelope, e))?;
    let (recipient, key) = decrypt::select_recipient(&envelope.recipients, keystore)?;
    let content_key = decrypt::decrypt_content_key(recipient, key)?;
    let algorithm = envelope.content_algorithm.clone();
    let (joined, range) = detach(envelope.encrypted_content, envelope.encrypted_range);

    let mut buffer = match joined {
        Some(joined) => joined,
        None => take_range(encoded, range),
    };
    decrypt::decrypt_content(&algorithm, &content_key, key, &mut buffer)?;
    Ok((buffer, key.certificate().decimal_serial()))
}

/// Splits a string read from a parent buffer into either the reassembled bytes of a chunked
/// string or the position of a borrowed one, so that the borrow of the parent ends.
fn detach(value: Cow<'_, [u8]>, range: Option<Range<usize>>) -> (Option<Vec<u8>>, Range<usize>) {
    match (value, range) {
        (Cow::Borrowed(_), Some(range)) => (None, range),
        (value, _) => (Some(value.into_owned()), 0..0),
    }
}

/// Returns the bytes at `range` of `parent`, reusing the parent's buffer when it is owned.
fn take_range(parent: Cow<'_, [u8]>, range: Range<usize>) -> Vec<u8> {
    match parent {
        Cow::Borrowed(parent) => parent[range].to_vec(),
        Cow::Owned(mut buffer) => {
            let length = range.len();
            buffer.copy_within(range, 0);
            buffer.truncate(length);
            buffer
        }
    }
}
