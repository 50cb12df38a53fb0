//! Sealing, the sender side of eHealth end-to-end encryption, as the platform's Java senders
//! produce it.
//!
//! A sealed message is a "triple wrap":
//!
//! ```text
//! ContentInfo SignedData (outer: authenticates the sender, signer certificate and chain embedded)
//!  └ eContent (id-data) = ContentInfo EnvelopedData
//!      ├ one KeyTransRecipientInfo v0 per recipient encryption certificate
//!      │   (IssuerAndSerialNumber, rsaEncryption PKCS#1 v1.5 key transport)
//!      └ AES-128-CBC encrypted content, the 16-byte IV as parameter
//!          └ plaintext = ContentInfo SignedData (inner: same signer) of the content
//! ```
//!
//! Senders seal every encryptable field separately, to the encryption certificates of all
//! destinations plus their own (so they can read their sent messages): pass the sender's own
//! encryption certificate among `recipients` to do the same.
//!
//! The output is BER with indefinite lengths and 1000-byte content segments, like real messages.
//! [`OutputEncoding::Der`] gives DER instead. [`Corruption`] produces the broken messages that
//! negative tests need. Opening sealed messages is the client's job and is not done here.

mod command;
mod enveloped_data;
pub(crate) mod signed_data;

use std::fmt;

use der::Decode;
use rand::CryptoRng;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use x509_cert::Certificate;

use crate::ber::{DEFAULT_CHUNK_SIZE, Node};

pub use command::{SealArgs, SealVariant, run_seal_command};
use enveloped_data::EnvelopedParts;
use signed_data::{DigestAlgorithm, SignatureAlgorithm, SignedParts, SignerProfile};

/// Alias of the authentication key in an eHealth PKCS#12 keystore.
pub const AUTHENTICATION_ALIAS: &str = "authentication";

/// Errors from sealing a message or loading the sender's credential.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("no recipient certificate given; pass at least one encryption certificate from an ETK")]
    NoRecipients,

    #[error(
        "recipient certificate {subject} has a {algorithm} key; only RSA encryption certificates \
         can receive sealed messages"
    )]
    UnsupportedRecipientKey { subject: String, algorithm: String },

    #[error("recipient certificate {subject} has an unusable RSA key: {reason}")]
    InvalidRecipientKey { subject: String, reason: String },

    #[error(
        "the private key does not match the public key of certificate {subject}; load the key and \
         certificate of the same keystore entry"
    )]
    SenderKeyMismatch { subject: String },

    #[error("BER chunk size 0 is invalid; use a positive segment size such as 1000")]
    ZeroChunkSize,

    #[error("signing failed: {0}")]
    Signing(String),

    #[error("ASN.1 encoding failed: {0}")]
    Encoding(String),

    #[error("cannot read the PKCS#12 keystore: {reason}; check the file and its password")]
    Keystore { reason: String },

    #[error(
        "the keystore has no private key entry named {alias:?} (entries: {available:?}); eHealth \
         keystores keep the sender's key under \"authentication\""
    )]
    MissingAlias {
        alias: String,
        available: Vec<String>,
    },
}

impl From<der::Error> for SealError {
    fn from(source: der::Error) -> Self {
        SealError::Encoding(source.to_string())
    }
}

/// A signer: an RSA private key, its certificate and the certificate's CA chain (issuer first).
#[derive(Clone)]
pub struct SenderCredential {
    key: rsa::PrivateKey,
    certificate: Certificate,
    chain: Vec<Certificate>,
}

impl fmt::Debug for SenderCredential {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SenderCredential")
            .field(
                "subject",
                &self.certificate.tbs_certificate().subject().to_string(),
            )
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl SenderCredential {
    /// Pairs a key with its certificate, checking that they belong together.
    pub fn new(
        key: rsa::PrivateKey,
        certificate: Certificate,
        chain: Vec<Certificate>,
    ) -> Result<Self, SealError> {
        let subject = certificate.tbs_certificate().subject().to_string();
        let key_spki = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|source| SealError::Encoding(source.to_string()))?;
        let certificate_spki =
            der::Encode::to_der(certificate.tbs_certificate().subject_public_key_info())?;
        if key_spki.as_bytes() != certificate_spki.as_slice() {
            return Err(SealError::SenderKeyMismatch { subject });
        }
        Ok(Self {
            key,
            certificate,
            chain,
        })
    }

    /// Loads the private key entry `alias` of a PKCS#12 keystore: the key, its certificate and the
    /// rest of the entry's chain. Reads legacy (3DES/RC2-40) and modern (PBES2/AES) files.
    pub fn from_pkcs12(pkcs12: &[u8], password: &str, alias: &str) -> Result<Self, SealError> {
        let keystore = p12_keystore::KeyStore::from_pkcs12(
            pkcs12,
            password,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|source| SealError::Keystore {
            reason: source.to_string(),
        })?;

        let Some(p12_keystore::KeyStoreEntry::PrivateKeyChain(entry)) = keystore.entry(alias)
        else {
            return Err(SealError::MissingAlias {
                alias: alias.to_owned(),
                available: keystore.entries().map(|(name, _)| name.clone()).collect(),
            });
        };

        let key = rsa::PrivateKey::from_pkcs8_der(entry.key().as_der()).map_err(|source| {
            SealError::Keystore {
                reason: format!("entry {alias:?} does not hold an RSA key ({source})"),
            }
        })?;
        let mut certificates = entry
            .certs()
            .iter()
            .map(|certificate| Certificate::from_der(certificate.as_der()))
            .collect::<Result<Vec<_>, _>>()?;
        if certificates.is_empty() {
            return Err(SealError::Keystore {
                reason: format!("entry {alias:?} has no certificate"),
            });
        }
        let certificate = certificates.remove(0);
        Self::new(key, certificate, certificates)
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    pub(crate) fn key(&self) -> &rsa::PrivateKey {
        &self.key
    }

    /// The certificates embedded after the signer's own: its CA chain.
    fn embedded_certificates(&self) -> Vec<&Certificate> {
        self.chain.iter().collect()
    }
}

/// Digest and signature algorithms of the two signature layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SigningPolicy {
    /// The eHealth certificate policy: SHA-256 and RSASSA-PSS (MGF1-SHA-256, 32-byte salt).
    #[default]
    EhealthCert,
    /// A sender signing with an eID: SHA-256 and `sha256WithRSAEncryption`.
    Eid,
    /// Messages from about 2014: SHA-1 and PKCS#1 v1.5 under the `rsaEncryption` identifier.
    LegacySha1,
}

impl SigningPolicy {
    fn algorithms(self) -> (DigestAlgorithm, SignatureAlgorithm) {
        match self {
            SigningPolicy::EhealthCert => {
                (DigestAlgorithm::Sha256, SignatureAlgorithm::RsaPssSha256)
            }
            SigningPolicy::Eid => (DigestAlgorithm::Sha256, SignatureAlgorithm::Sha256WithRsa),
            SigningPolicy::LegacySha1 => (DigestAlgorithm::Sha1, SignatureAlgorithm::RsaEncryption),
        }
    }
}

/// Encoding of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputEncoding {
    /// BER as Java streaming senders write it: indefinite lengths on the outer structures, and
    /// content split into OCTET STRING segments of `chunk_size` bytes.
    Ber { chunk_size: usize },
    /// DER, with definite lengths throughout.
    Der,
}

impl Default for OutputEncoding {
    fn default() -> Self {
        OutputEncoding::Ber {
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl OutputEncoding {
    fn chunk_size(self) -> Option<usize> {
        match self {
            OutputEncoding::Ber { chunk_size } => Some(chunk_size),
            OutputEncoding::Der => None,
        }
    }
}

/// A deliberate defect, for negative tests.
#[derive(Debug, Clone)]
pub enum Corruption {
    /// Seal to this certificate only instead of the given recipients, so none of them can
    /// decrypt.
    NotAddressed(Box<Certificate>),
    /// Flip one bit of the outer signature value.
    BadOuterSignature,
    /// Flip one bit of the inner signature value.
    BadInnerSignature,
    /// Cut the output in half.
    Truncated,
}

/// How to seal.
#[derive(Debug, Clone)]
pub struct SealOptions {
    pub policy: SigningPolicy,
    /// Add the contentType, signingTime and messageDigest signed attributes to both signatures.
    /// Some real messages have them and some have none.
    pub signed_attributes: bool,
    /// Value of the signingTime attribute.
    pub signing_time: jiff::Timestamp,
    pub encoding: OutputEncoding,
    /// Signer of the inner SignedData when it differs from the outer one, as with an eID (the
    /// authentication key signs outside, the signature key inside).
    pub inner_signer: Option<SenderCredential>,
    pub corruption: Option<Corruption>,
}

impl SealOptions {
    /// The eHealth certificate policy with signed attributes, BER output and no defect.
    pub fn new(signing_time: jiff::Timestamp) -> Self {
        Self {
            policy: SigningPolicy::default(),
            signed_attributes: true,
            signing_time,
            encoding: OutputEncoding::default(),
            inner_signer: None,
            corruption: None,
        }
    }

    fn profile(&self, corrupt_signature: bool) -> SignerProfile {
        let (digest, signature) = self.policy.algorithms();
        SignerProfile {
            digest,
            signature,
            signed_attributes: self.signed_attributes.then_some(self.signing_time),
            corrupt_signature,
        }
    }
}

/// Seals `content` from `sender` to the holders of the `recipients` encryption certificates.
///
/// The content is copied twice in all: once into the inner SignedData (which is then encrypted in
/// place) and once into the output.
pub fn seal<R: CryptoRng + ?Sized>(
    content: &[u8],
    sender: &SenderCredential,
    recipients: &[Certificate],
    options: &SealOptions,
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    if options.encoding == (OutputEncoding::Ber { chunk_size: 0 }) {
        return Err(SealError::ZeroChunkSize);
    }
    let corruption = options.corruption.as_ref();
    let chunk_size = options.encoding.chunk_size();
    let ber = chunk_size.is_some();

    // Inner SignedData of the content, encoded into a buffer with room for the AES padding.
    let inner_signer = options.inner_signer.as_ref().unwrap_or(sender);
    let inner_profile = options.profile(matches!(corruption, Some(Corruption::BadInnerSignature)));
    let inner_parts = sign_node(&Node::encoded(content), inner_signer, &inner_profile, rng)?;
    let inner = inner_parts.content_info(
        Node::Octets {
            identifier: 0x04,
            value: content,
            chunk_size,
        },
        ber,
    );
    let mut plaintext = Vec::with_capacity(inner.encoded_len() + 16);
    write_node(&inner, &mut plaintext);
    drop(inner);

    // EnvelopedData to every recipient, or to the stand-in only.
    let recipients: Vec<&Certificate> = match corruption {
        Some(Corruption::NotAddressed(stand_in)) => vec![stand_in.as_ref()],
        _ => recipients.iter().collect(),
    };
    let enveloped_parts = EnvelopedParts::encrypt(plaintext, &recipients, rng)?;
    let enveloped = enveloped_parts.content_info(chunk_size);

    // Outer SignedData whose eContent is the EnvelopedData, encoded straight into the output.
    let outer_profile = options.profile(matches!(corruption, Some(Corruption::BadOuterSignature)));
    let outer_parts = sign_node(&enveloped, sender, &outer_profile, rng)?;
    let econtent = Node::Wrapped {
        identifier: 0x04,
        inner: Box::new(enveloped),
        chunk_size,
    };
    let mut sealed = outer_parts.content_info(econtent, ber).to_vec();

    if matches!(corruption, Some(Corruption::Truncated)) {
        sealed.truncate(sealed.len() / 2);
    }
    Ok(sealed)
}

/// Digests the encoding of `econtent` and signs it as `signer`.
fn sign_node<R: CryptoRng + ?Sized>(
    econtent: &Node<'_>,
    signer: &SenderCredential,
    profile: &SignerProfile,
    rng: &mut R,
) -> Result<SignedParts, SealError> {
    let digest = profile.digest.digest_node(econtent);
    SignedParts::sign(
        &digest,
        signer.key(),
        signer.certificate(),
        &signer.embedded_certificates(),
        profile,
        rng,
    )
}

fn write_node(node: &Node<'_>, out: &mut Vec<u8>) {
    node.write_to(out)
        .unwrap_or_else(|_| unreachable!("writing into a Vec<u8> cannot fail"));
}
