//! X.509 checks on a caller's certificate: parsing, issuance by a trusted CA, validity at an instant,
//! and the SSIN carried in the subject DN.
//!
//! Every configured CA certificate is a trust anchor on its own: a certificate is accepted when one
//! of them issued it directly (issuer DN equal to the anchor's subject DN and the signature verifies
//! with the anchor's key). Revocation is not checked; the simulator has no CRL or OCSP service.

use der::asn1::{PrintableStringRef, Utf8StringRef};
use der::{Decode, Encode};
use jiff::Timestamp;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use x509_cert::Certificate;

const OID_COMMON_NAME: &str = "2.5.4.3";
const OID_ORGANIZATIONAL_UNIT: &str = "2.5.4.11";
const OID_SHA1_WITH_RSA: &str = "1.2.840.113549.1.1.5";
const OID_SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
const OID_SHA384_WITH_RSA: &str = "1.2.840.113549.1.1.12";
const OID_SHA512_WITH_RSA: &str = "1.2.840.113549.1.1.13";

/// Why a certificate is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("certificate is not valid DER X.509: {0}")]
    Malformed(String),
    #[error("trusted CA certificate number {index} is not valid DER X.509: {reason}")]
    MalformedAnchor { index: usize, reason: String },
    #[error("certificate {subject} was issued by {issuer}, which is not a trusted CA")]
    UnknownIssuer { subject: String, issuer: String },
    #[error(
        "certificate {subject} carries a signature that does not verify with the key of {issuer}"
    )]
    BadSignature { subject: String, issuer: String },
    #[error(
        "certificate {subject} is signed with algorithm {oid}; only RSA PKCS#1 v1.5 with SHA-1 or SHA-2 is supported"
    )]
    UnsupportedAlgorithm { subject: String, oid: String },
    #[error("certificate {subject} expired at {not_after}")]
    Expired {
        subject: String,
        not_after: Timestamp,
    },
    #[error("certificate {subject} is not valid before {not_before}")]
    NotYetValid {
        subject: String,
        not_before: Timestamp,
    },
}

/// The CA certificates whose direct issuance the STS accepts.
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    anchors: Vec<Certificate>,
}

impl TrustAnchors {
    /// Parses the DER CA certificates; each one becomes a trust anchor.
    pub fn from_der<B: AsRef<[u8]>>(cas: &[B]) -> Result<Self, CertificateError> {
        let mut anchors = Vec::with_capacity(cas.len());
        for (index, der) in cas.iter().enumerate() {
            let anchor = Certificate::from_der(der.as_ref()).map_err(|err| {
                CertificateError::MalformedAnchor {
                    index,
                    reason: err.to_string(),
                }
            })?;
            anchors.push(anchor);
        }
        Ok(Self { anchors })
    }

    /// Checks that a trusted CA issued `certificate` and that it is valid at `now`.
    pub fn verify(
        &self,
        certificate: &Certificate,
        now: Timestamp,
    ) -> Result<(), CertificateError> {
        let subject = subject_dn(certificate);
        let issuer = certificate.tbs_certificate().issuer();
        let candidates: Vec<&Certificate> = self
            .anchors
            .iter()
            .filter(|anchor| anchor.tbs_certificate().subject() == issuer)
            .collect();
        if candidates.is_empty() {
            return Err(CertificateError::UnknownIssuer {
                subject,
                issuer: issuer.to_string(),
            });
        }

        let mut last_error = None;
        for anchor in candidates {
            match verify_issued_by(certificate, anchor) {
                Ok(()) => return check_validity(certificate, now),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or(CertificateError::UnknownIssuer {
            subject,
            issuer: issuer.to_string(),
        }))
    }
}

/// Parses a DER certificate.
pub fn parse_certificate(der: &[u8]) -> Result<Certificate, CertificateError> {
    Certificate::from_der(der).map_err(|err| CertificateError::Malformed(err.to_string()))
}

/// Returns the subject DN in RFC 4514 form.
pub fn subject_dn(certificate: &Certificate) -> String {
    certificate.tbs_certificate().subject().to_string()
}

/// Returns the issuer DN in RFC 4514 form.
pub fn issuer_dn(certificate: &Certificate) -> String {
    certificate.tbs_certificate().issuer().to_string()
}

/// Returns the end of the certificate's validity.
pub fn not_after(certificate: &Certificate) -> Timestamp {
    to_timestamp(certificate.tbs_certificate().validity().not_after)
}

/// Returns the SSIN written as `SSIN=<11 digits>` in the subject's CN or OU, as eHealth person
/// certificates carry it.
pub fn ssin_of(certificate: &Certificate) -> Option<String> {
    certificate
        .tbs_certificate()
        .subject()
        .iter()
        .filter(|atv| {
            let oid = atv.oid.to_string();
            oid == OID_COMMON_NAME || oid == OID_ORGANIZATIONAL_UNIT
        })
        .filter_map(|atv| directory_string(&atv.value))
        .find_map(|value| find_ssin(&value))
}

/// Returns the RSA public key of the certificate, or `None` for another key type.
pub fn rsa_public_key(certificate: &Certificate) -> Option<rsa::PublicKey> {
    let spki = certificate
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()?;
    rsa::PublicKey::from_public_key_der(&spki).ok()
}

fn verify_issued_by(
    certificate: &Certificate,
    anchor: &Certificate,
) -> Result<(), CertificateError> {
    let subject = subject_dn(certificate);
    let issuer = subject_dn(anchor);
    let bad_signature = || CertificateError::BadSignature {
        subject: subject.clone(),
        issuer: issuer.clone(),
    };

    let Some(key) = rsa_public_key(anchor) else {
        return Err(bad_signature());
    };
    let tbs = certificate
        .tbs_certificate()
        .to_der()
        .map_err(|err| CertificateError::Malformed(err.to_string()))?;
    let signature =
        Signature::try_from(certificate.signature().raw_bytes()).map_err(|_| bad_signature())?;

    let oid = certificate.signature_algorithm().oid.to_string();
    let verified = match oid.as_str() {
        OID_SHA1_WITH_RSA => VerifyingKey::<sha1::Sha1>::new(key).verify(&tbs, &signature),
        OID_SHA256_WITH_RSA => VerifyingKey::<sha2::Sha256>::new(key).verify(&tbs, &signature),
        OID_SHA384_WITH_RSA => VerifyingKey::<sha2::Sha384>::new(key).verify(&tbs, &signature),
        OID_SHA512_WITH_RSA => VerifyingKey::<sha2::Sha512>::new(key).verify(&tbs, &signature),
        _ => return Err(CertificateError::UnsupportedAlgorithm { subject, oid }),
    };
    verified.map_err(|_| bad_signature())
}

fn check_validity(certificate: &Certificate, now: Timestamp) -> Result<(), CertificateError> {
    let validity = certificate.tbs_certificate().validity();
    let not_before = to_timestamp(validity.not_before);
    let not_after = to_timestamp(validity.not_after);
    if now < not_before {
        return Err(CertificateError::NotYetValid {
            subject: subject_dn(certificate),
            not_before,
        });
    }
    if now > not_after {
        return Err(CertificateError::Expired {
            subject: subject_dn(certificate),
            not_after,
        });
    }
    Ok(())
}

fn to_timestamp(time: x509_cert::time::Time) -> Timestamp {
    let seconds = i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    Timestamp::from_second(seconds).unwrap_or(Timestamp::MAX)
}

fn directory_string(value: &der::Any) -> Option<String> {
    if let Ok(text) = Utf8StringRef::try_from(value) {
        return Some(text.as_str().to_owned());
    }
    PrintableStringRef::try_from(value)
        .ok()
        .map(|text| text.as_str().to_owned())
}

fn find_ssin(text: &str) -> Option<String> {
    text.match_indices("SSIN=").find_map(|(start, marker)| {
        let digits = &text[start + marker.len()..];
        let candidate: String = digits.chars().take_while(char::is_ascii_digit).collect();
        (candidate.len() == 11).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssin_found_after_marker() {
        assert_eq!(
            find_ssin("SSIN=79102520991"),
            Some("79102520991".to_owned())
        );
        assert_eq!(
            find_ssin("SSIN=79102520991, APPNAME"),
            Some("79102520991".to_owned())
        );
    }

    #[test]
    fn ssin_rejects_wrong_length() {
        assert_eq!(find_ssin("SSIN=7910252099"), None);
        assert_eq!(find_ssin("SSIN=791025209912"), None);
        assert_eq!(find_ssin("NIHII-HOSPITAL=71000436"), None);
    }
}
