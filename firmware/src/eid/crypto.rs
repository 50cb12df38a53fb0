//! Signature checks around the card: the National Register (RRN) signatures over the identity and
//! address files, certificate chains up to a configured Belgian root, and the signatures the
//! card computes, with the conversion of raw ECDSA `r || s` to DER.
//!
//! The production Belgian roots are not bundled: callers pass [`TrustAnchors`], so tests use the
//! virtual card's test root and the appliance ships the real ones in its configuration.

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use jiff::Timestamp;
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::DecodePublicKey;
use x509_cert::Certificate;
use x509_cert::ext::pkix::BasicConstraints;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA1_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

/// A certificate or signature check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The certificate bytes are not DER X.509.
    #[error("the {what} certificate is not valid DER X.509: {reason}")]
    CertificateEncoding { what: &'static str, reason: String },
    /// The public key is neither RSA nor ECDSA P-384.
    #[error("the {what} certificate has an unsupported public key ({reason})")]
    UnsupportedKey { what: &'static str, reason: String },
    /// The certificate's signature algorithm is not supported.
    #[error("the {what} certificate is signed with unsupported algorithm {oid}")]
    UnsupportedAlgorithm { what: &'static str, oid: String },
    /// A certificate's signature does not verify with its issuer's key.
    #[error(
        "the signature on the {what} certificate ({subject}) does not verify with the key of {issuer}"
    )]
    BadCertificateSignature {
        what: &'static str,
        subject: String,
        issuer: String,
    },
    /// No trust anchor has the certificate's issuer as subject.
    #[error(
        "the {what} certificate is issued by {issuer}, which is not a configured trusted root; \
         add that Belgian root certificate to the eID trust anchors"
    )]
    UntrustedIssuer { what: &'static str, issuer: String },
    /// The certificate is not valid at the given time.
    #[error(
        "the {what} certificate ({subject}) is not valid at {at}: valid from {not_before} to {not_after}"
    )]
    Expired {
        what: &'static str,
        subject: String,
        at: Timestamp,
        not_before: Timestamp,
        not_after: Timestamp,
    },
    /// An issuer in the chain is not a CA.
    #[error("{subject} issues the {what} certificate but is not a CA (basicConstraints)")]
    NotCa { what: &'static str, subject: String },
    /// A data signature does not verify.
    #[error("the {what} signature does not verify with the {key_owner} certificate")]
    BadSignature {
        what: &'static str,
        key_owner: &'static str,
    },
    /// A raw ECDSA signature has the wrong length.
    #[error("a raw P-384 ECDSA signature has 96 bytes (r || s), not {length}")]
    RawSignatureLength { length: usize },
}

/// Trusted Belgian root certificates that the RRN and citizen CA certificates must chain to.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    roots: Vec<Certificate>,
}

impl TrustAnchors {
    /// Builds the set from DER certificates.
    pub fn from_der<'a>(roots: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, CryptoError> {
        let roots = roots
            .into_iter()
            .map(|der| parse_certificate(der, "trusted root"))
            .collect::<Result<_, _>>()?;
        Ok(Self { roots })
    }

    /// Builds the set from a file of PEM `CERTIFICATE` blocks.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CryptoError> {
        let roots =
            Certificate::load_pem_chain(pem).map_err(|error| CryptoError::CertificateEncoding {
                what: "trusted root",
                reason: error.to_string(),
            })?;
        Ok(Self { roots })
    }

    /// Returns how many roots are configured.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Returns true when no root is configured, so nothing can be trusted.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    fn issuer_of(&self, certificate: &Certificate) -> Option<&Certificate> {
        let issuer = certificate.tbs_certificate().issuer();
        self.roots
            .iter()
            .find(|root| root.tbs_certificate().subject() == issuer)
    }
}

/// A public key of the card's PKI.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// RSA (applet 1.7 citizen keys, older CAs).
    Rsa(rsa::PublicKey),
    /// ECDSA P-384 (applet 1.8, re-keyed CAs).
    P384(p384::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Extracts the public key of a certificate.
    pub fn of(certificate: &Certificate, what: &'static str) -> Result<Self, CryptoError> {
        let spki = certificate.tbs_certificate().subject_public_key_info();
        let der = spki
            .to_der()
            .map_err(|error| CryptoError::CertificateEncoding {
                what,
                reason: error.to_string(),
            })?;
        let unsupported = |reason: String| CryptoError::UnsupportedKey { what, reason };
        if spki.algorithm.oid == RSA_ENCRYPTION {
            rsa::PublicKey::from_public_key_der(&der)
                .map(Self::Rsa)
                .map_err(|error| unsupported(error.to_string()))
        } else if spki.algorithm.oid == EC_PUBLIC_KEY {
            p384::ecdsa::VerifyingKey::from_public_key_der(&der)
                .map(Self::P384)
                .map_err(|_| unsupported("an EC key on a curve other than P-384".into()))
        } else {
            Err(unsupported(format!("algorithm {}", spki.algorithm.oid)))
        }
    }
}

/// Parses a DER certificate, cut to the length its outer header announces (card files are
/// zero-padded).
pub fn parse_certificate(file: &[u8], what: &'static str) -> Result<Certificate, CryptoError> {
    let length = der_length(file).ok_or_else(|| CryptoError::CertificateEncoding {
        what,
        reason: "the file does not start with a DER SEQUENCE".into(),
    })?;
    Certificate::from_der(&file[..length]).map_err(|error| CryptoError::CertificateEncoding {
        what,
        reason: error.to_string(),
    })
}

/// Returns the total length (header included) of the DER SEQUENCE at the start of `bytes`, if it
/// fits in `bytes`.
pub fn der_length(bytes: &[u8]) -> Option<usize> {
    if bytes.first() != Some(&0x30) {
        return None;
    }
    let first = usize::from(*bytes.get(1)?);
    let (header, content) = if first < 0x80 {
        (2, first)
    } else {
        let count = first & 0x7F;
        if count == 0 || count > 3 {
            return None;
        }
        let length_bytes = bytes.get(2..2 + count)?;
        let content = length_bytes
            .iter()
            .fold(0usize, |acc, byte| (acc << 8) | usize::from(*byte));
        (2 + count, content)
    };
    let total = header + content;
    (total <= bytes.len()).then_some(total)
}

/// Verifies that `certificate` is issued by one of `anchors` directly, and valid at `now`.
pub fn verify_issued_by_root(
    certificate: &Certificate,
    what: &'static str,
    anchors: &TrustAnchors,
    now: Timestamp,
) -> Result<(), CryptoError> {
    check_validity(certificate, what, now)?;
    let root = anchors
        .issuer_of(certificate)
        .ok_or_else(|| CryptoError::UntrustedIssuer {
            what,
            issuer: certificate.tbs_certificate().issuer().to_string(),
        })?;
    check_validity(root, "trusted root", now)?;
    verify_certificate_signature(certificate, root, what)
}

/// Verifies `leaf` → `ca` → one of `anchors`: names, signatures, validity at `now`, and that the
/// CA is a CA.
pub fn verify_chain(
    leaf: &Certificate,
    what: &'static str,
    ca: &Certificate,
    anchors: &TrustAnchors,
    now: Timestamp,
) -> Result<(), CryptoError> {
    check_validity(leaf, what, now)?;
    if leaf.tbs_certificate().issuer() != ca.tbs_certificate().subject() {
        return Err(CryptoError::BadCertificateSignature {
            what,
            subject: leaf.tbs_certificate().subject().to_string(),
            issuer: ca.tbs_certificate().subject().to_string(),
        });
    }
    check_is_ca(ca, what)?;
    verify_certificate_signature(leaf, ca, what)?;
    verify_issued_by_root(ca, "citizen CA", anchors, now)
}

fn check_is_ca(certificate: &Certificate, what: &'static str) -> Result<(), CryptoError> {
    let is_ca = matches!(
        certificate
            .tbs_certificate()
            .get_extension::<BasicConstraints>(),
        Ok(Some((_, BasicConstraints { ca: true, .. })))
    );
    if is_ca {
        Ok(())
    } else {
        Err(CryptoError::NotCa {
            what,
            subject: certificate.tbs_certificate().subject().to_string(),
        })
    }
}

fn check_validity(
    certificate: &Certificate,
    what: &'static str,
    now: Timestamp,
) -> Result<(), CryptoError> {
    let validity = certificate.tbs_certificate().validity();
    let to_timestamp = |time: x509_cert::time::Time| {
        let seconds = i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        Timestamp::from_second(seconds).unwrap_or(Timestamp::MAX)
    };
    let not_before = to_timestamp(validity.not_before);
    let not_after = to_timestamp(validity.not_after);
    if now < not_before || now > not_after {
        return Err(CryptoError::Expired {
            what,
            subject: certificate.tbs_certificate().subject().to_string(),
            at: now,
            not_before,
            not_after,
        });
    }
    Ok(())
}

/// Verifies the signature on `certificate` with the public key of `issuer`.
pub fn verify_certificate_signature(
    certificate: &Certificate,
    issuer: &Certificate,
    what: &'static str,
) -> Result<(), CryptoError> {
    let bad = || CryptoError::BadCertificateSignature {
        what,
        subject: certificate.tbs_certificate().subject().to_string(),
        issuer: issuer.tbs_certificate().subject().to_string(),
    };
    let tbs = certificate.tbs_certificate().to_der().map_err(|error| {
        CryptoError::CertificateEncoding {
            what,
            reason: error.to_string(),
        }
    })?;
    let signature = certificate.signature().raw_bytes();
    let algorithm = certificate.signature_algorithm().oid;
    let key = PublicKey::of(issuer, "issuer")?;

    let verified = match (&key, algorithm) {
        (PublicKey::Rsa(key), oid) if oid == SHA256_WITH_RSA => {
            rsa_verify::<Sha256>(key, &Sha256::digest(&tbs), signature)
        }
        (PublicKey::Rsa(key), oid) if oid == SHA384_WITH_RSA => {
            rsa_verify::<Sha384>(key, &Sha384::digest(&tbs), signature)
        }
        (PublicKey::Rsa(key), oid) if oid == SHA512_WITH_RSA => {
            rsa_verify::<Sha512>(key, &Sha512::digest(&tbs), signature)
        }
        (PublicKey::Rsa(key), oid) if oid == SHA1_WITH_RSA => {
            rsa_verify::<Sha1>(key, &Sha1::digest(&tbs), signature)
        }
        (PublicKey::P384(key), oid) if oid == ECDSA_WITH_SHA256 => {
            ecdsa_verify_der(key, &Sha256::digest(&tbs), signature)
        }
        (PublicKey::P384(key), oid) if oid == ECDSA_WITH_SHA384 => {
            ecdsa_verify_der(key, &Sha384::digest(&tbs), signature)
        }
        (PublicKey::P384(key), oid) if oid == ECDSA_WITH_SHA512 => {
            ecdsa_verify_der(key, &Sha512::digest(&tbs), signature)
        }
        (_, oid) => {
            return Err(CryptoError::UnsupportedAlgorithm {
                what,
                oid: oid.to_string(),
            });
        }
    };
    if verified { Ok(()) } else { Err(bad()) }
}

/// Verifies an RRN signature over `data`: RSA PKCS#1 v1.5 with SHA-256 (SHA-1 on older cards),
/// or ECDSA P-384 with SHA-384 stored as zero-padded DER, depending on the RRN key.
pub fn verify_rrn_signature(
    rrn: &PublicKey,
    data: &[u8],
    signature_file: &[u8],
    what: &'static str,
) -> Result<(), CryptoError> {
    let verified = match rrn {
        PublicKey::Rsa(key) => {
            rsa_verify::<Sha256>(key, &Sha256::digest(data), signature_file)
                || rsa_verify::<Sha1>(key, &Sha1::digest(data), signature_file)
        }
        PublicKey::P384(key) => match der_length(signature_file) {
            Some(length) => ecdsa_verify_der(key, &Sha384::digest(data), &signature_file[..length]),
            None => false,
        },
    };
    if verified {
        Ok(())
    } else {
        Err(CryptoError::BadSignature {
            what,
            key_owner: "RRN",
        })
    }
}

fn rsa_verify<D>(key: &rsa::PublicKey, hashed: &[u8], signature: &[u8]) -> bool
where
    D: Digest + der::oid::AssociatedOid,
{
    key.verify(rsa::Pkcs1v15Sign::new::<D>(), hashed, signature)
        .is_ok()
}

fn ecdsa_verify_der(key: &p384::ecdsa::VerifyingKey, prehash: &[u8], der: &[u8]) -> bool {
    match p384::ecdsa::Signature::from_der(der) {
        Ok(signature) => key.verify_prehash(prehash, &signature).is_ok(),
        Err(_) => false,
    }
}

/// Converts a raw P-384 ECDSA signature (`r || s`, 48 bytes each) to DER
/// `SEQUENCE { INTEGER r, INTEGER s }`.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let signature = p384::ecdsa::Signature::from_slice(raw)
        .map_err(|_| CryptoError::RawSignatureLength { length: raw.len() })?;
    Ok(signature.to_der().as_bytes().to_vec())
}

/// Verifies a signature computed by the card over `prehash` with the key of `certificate`:
/// RSA PKCS#1 v1.5 with the DigestInfo of `digest_oid`, or DER ECDSA P-384.
pub fn verify_card_signature(
    certificate: &Certificate,
    prehash: &[u8],
    hash: HashAlgorithm,
    signature: &[u8],
) -> Result<(), CryptoError> {
    let key = PublicKey::of(certificate, "non-repudiation")?;
    let verified = match (&key, hash) {
        (PublicKey::Rsa(key), HashAlgorithm::Sha256) => {
            rsa_verify::<Sha256>(key, prehash, signature)
        }
        (PublicKey::Rsa(key), HashAlgorithm::Sha384) => {
            rsa_verify::<Sha384>(key, prehash, signature)
        }
        (PublicKey::P384(key), _) => ecdsa_verify_der(key, prehash, signature),
    };
    if verified {
        Ok(())
    } else {
        Err(CryptoError::BadSignature {
            what: "card's non-repudiation",
            key_owner: "non-repudiation",
        })
    }
}

/// Verifies a raw `r || s` signature made by the card's basic key over `challenge`, which the
/// card signs as a SHA-384 digest. `key_file` is the DER SubjectPublicKeyInfo of file 4040.
pub fn verify_basic_key_signature(
    key_file: &[u8],
    challenge: &[u8],
    raw: &[u8],
) -> Result<(), CryptoError> {
    let key = p384::ecdsa::VerifyingKey::from_public_key_der(key_file).map_err(|error| {
        CryptoError::UnsupportedKey {
            what: "basic",
            reason: format!("file 4040 is not a P-384 public key: {error}"),
        }
    })?;
    let signature = p384::ecdsa::Signature::from_slice(raw)
        .map_err(|_| CryptoError::RawSignatureLength { length: raw.len() })?;
    key.verify_prehash(challenge, &signature)
        .map_err(|_| CryptoError::BadSignature {
            what: "challenge",
            key_owner: "basic key",
        })
}

/// The hash function of a digest given to the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-256, 32 bytes.
    Sha256,
    /// SHA-384, 48 bytes.
    Sha384,
}

/// DER prefix of a SHA-384 DigestInfo (RFC 8017 section 9.2), followed by the 48-byte hash.
pub const SHA384_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];

/// DER prefix of a SHA-256 DigestInfo (RFC 8017 section 9.2), followed by the 32-byte hash.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_length_reads_short_and_long_forms() {
        assert_eq!(der_length(&[0x30, 0x02, 0x01, 0x00, 0x00, 0x00]), Some(4));
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.resize(4 + 256 + 50, 0);
        assert_eq!(der_length(&long), Some(260));
        assert_eq!(der_length(&[0x30, 0x05, 0x01]), None);
        assert_eq!(der_length(&[0x00; 8]), None);
    }

    #[test]
    fn raw_signature_converts_to_der() {
        let mut raw = [0u8; 96];
        raw[0] = 0x80; // top bit set: r needs a leading 00 in DER
        raw[47] = 0x01;
        raw[95] = 0x02;
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 0x31, 0x00]);
        assert_eq!(der_length(&der), Some(der.len()));
    }

    #[test]
    fn raw_signature_rejects_length() {
        assert_eq!(
            ecdsa_raw_to_der(&[1u8; 64]).unwrap_err(),
            CryptoError::RawSignatureLength { length: 64 }
        );
    }

    #[test]
    fn digest_info_prefixes_match_sha2_oids() {
        assert_eq!(SHA256_DIGEST_INFO_PREFIX[18], 32);
        assert_eq!(SHA384_DIGEST_INFO_PREFIX[18], 48);
    }
}
