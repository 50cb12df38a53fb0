//! ETKs (eHealth encryption tokens): building them as the ETK registration authority signs them,
//! and reading them back for the ETK depot and for senders.
//!
//! An ETK is a CMS SignedData, BER with indefinite lengths, whose id-data eContent is the holder's
//! DER encryption certificate. The ETK-RA signs it with SHA-256 and a PKCS#1 v1.5 signature under
//! the `rsaEncryption` identifier, with no signed attributes. Its `certificates` hold the ETK-RA
//! certificate, the holder's authentication certificate and that certificate's CA chain.
//!
//! The encryption certificate is a proxy certificate: its issuer DN is the authentication
//! certificate's subject DN and the authentication key signs it. [`parse_etk`] finds the
//! authentication certificate that way.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::OctetString;
use der::{Decode, Encode, EncodingRules};
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pkcs8::DecodePublicKey;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::ber::{BerError, DEFAULT_CHUNK_SIZE, Node, ber_to_der};
use crate::seal::SealError;
use crate::seal::signed_data::{
    DigestAlgorithm, ID_DATA, ID_SIGNED_DATA, SignatureAlgorithm, SignatureCheckError, SignedParts,
    SignerProfile, issuer_and_serial, verify_signer_info,
};

const SHA1_WITH_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.5";
const SHA256_WITH_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.11";

/// Errors from building or reading an ETK.
#[derive(Debug, thiserror::Error)]
pub enum EtkError {
    #[error("building the ETK failed: {0}")]
    Build(#[from] SealError),

    #[error("the ETK is not valid BER: {0}")]
    Ber(#[from] BerError),

    #[error("the ETK is not valid CMS SignedData: {0}")]
    Decode(#[from] der::Error),

    #[error("the ETK's content type is {found}, not SignedData (1.2.840.113549.1.7.2)")]
    NotSignedData { found: String },

    #[error(
        "the ETK's encapsulated content type is {found}, not id-data (1.2.840.113549.1.7.1); an \
         ETK carries the encryption certificate as id-data"
    )]
    NotData { found: String },

    #[error("the ETK has no encapsulated content; it must carry the encryption certificate")]
    MissingContent,

    #[error("the ETK has {count} signer infos; it must have exactly one, the ETK-RA's")]
    SignerCount { count: usize },

    #[error(
        "the ETK is signed by the certificate with {found}, not by the expected ETK-RA \
         certificate {expected}; check which ETK-RA certificate is trusted"
    )]
    UnexpectedSigner { found: String, expected: String },

    #[error("the ETK's signer certificate ({signer}) is not among its certificates")]
    MissingSignerCertificate { signer: String },

    #[error("the ETK-RA signature does not verify: {0}")]
    Signature(#[from] SignatureCheckError),

    #[error(
        "the ETK has no authentication certificate with subject {issuer} (the encryption \
         certificate's issuer); the holder's authentication certificate must be embedded"
    )]
    MissingAuthenticationCertificate { issuer: String },

    #[error(
        "the encryption certificate is signed with {algorithm}; expected sha1WithRSAEncryption or \
         sha256WithRSAEncryption"
    )]
    UnsupportedCertificateSignature { algorithm: String },

    #[error(
        "the encryption certificate's signature does not verify under the authentication \
         certificate {subject}"
    )]
    BadProxySignature { subject: String },
}

/// A parsed ETK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Etk {
    /// The holder's encryption certificate: seal to this one.
    pub encryption_certificate: Certificate,
    /// The holder's authentication certificate, the encryption certificate's issuer.
    pub authentication_certificate: Certificate,
    /// The ETK-RA certificate that signed the ETK, as embedded in it.
    pub etk_ra_certificate: Certificate,
    /// The remaining embedded certificates: the authentication certificate's CA chain.
    pub chain: Vec<Certificate>,
}

impl Etk {
    /// Checks that the authentication key signed the encryption certificate, as it does for a
    /// genuine proxy certificate.
    pub fn verify_encryption_certificate(&self) -> Result<(), EtkError> {
        let subject = self
            .authentication_certificate
            .tbs_certificate()
            .subject()
            .to_string();
        let bad_signature = || EtkError::BadProxySignature {
            subject: subject.clone(),
        };

        let spki = self
            .authentication_certificate
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()?;
        let public_key = rsa::PublicKey::from_public_key_der(&spki).map_err(|_| bad_signature())?;
        let tbs = self.encryption_certificate.tbs_certificate().to_der()?;
        let signature = self
            .encryption_certificate
            .signature()
            .as_bytes()
            .ok_or_else(bad_signature)?;

        let algorithm = self
            .encryption_certificate
            .signature_algorithm()
            .oid
            .to_string();
        let verified = match algorithm.as_str() {
            SHA256_WITH_RSA_ENCRYPTION => public_key.verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(&tbs),
                signature,
            ),
            SHA1_WITH_RSA_ENCRYPTION => {
                public_key.verify(Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(&tbs), signature)
            }
            _ => return Err(EtkError::UnsupportedCertificateSignature { algorithm }),
        };
        verified.map_err(|_| bad_signature())
    }
}

/// Builds an ETK for `encryption_cert`, signed by the ETK-RA.
///
/// `chain` is the authentication certificate's CA chain. The PKCS#1 v1.5 signature is
/// deterministic, so the same inputs give the same bytes.
pub fn build_etk(
    encryption_cert: &Certificate,
    auth_cert: &Certificate,
    chain: &[Certificate],
    etk_ra_key: &rsa::PrivateKey,
    etk_ra_cert: &Certificate,
) -> Result<Vec<u8>, EtkError> {
    let content = encryption_cert.to_der()?;
    let profile = SignerProfile {
        digest: DigestAlgorithm::Sha256,
        signature: SignatureAlgorithm::RsaEncryption,
        signed_attributes: None,
        corrupt_signature: false,
    };
    let embedded: Vec<&Certificate> = std::iter::once(auth_cert).chain(chain).collect();

    // The random generator only blinds the RSA operation, so it does not change the signature.
    let parts = SignedParts::sign(
        &Sha256::digest(&content),
        etk_ra_key,
        etk_ra_cert,
        &embedded,
        &profile,
        &mut rand::rng(),
    )?;
    let econtent = Node::Octets {
        identifier: 0x04,
        value: &content,
        chunk_size: Some(DEFAULT_CHUNK_SIZE),
    };
    Ok(parts.content_info(econtent, true).to_vec())
}

/// Reads an ETK (BER or DER) and verifies its signature against the trusted ETK-RA certificate.
pub fn parse_etk(bytes: &[u8], etk_ra_cert: &Certificate) -> Result<Etk, EtkError> {
    let decoded = decode(bytes)?;
    let expected = issuer_and_serial(etk_ra_cert);
    if decoded.signer != expected {
        return Err(EtkError::UnexpectedSigner {
            found: describe(&decoded.signer),
            expected: etk_ra_cert.tbs_certificate().subject().to_string(),
        });
    }
    finish(decoded, etk_ra_cert)
}

/// Reads an ETK and verifies its signature against the signer certificate embedded in it.
///
/// This proves the ETK is intact but not that the ETK-RA issued it. Prefer [`parse_etk`] with
/// the ETK-RA certificate wherever one is at hand.
pub fn parse_etk_with_embedded_signer(bytes: &[u8]) -> Result<Etk, EtkError> {
    let decoded = decode(bytes)?;
    let signer = decoded
        .certificates
        .iter()
        .find(|certificate| issuer_and_serial(certificate) == decoded.signer)
        .cloned()
        .ok_or_else(|| EtkError::MissingSignerCertificate {
            signer: describe(&decoded.signer),
        })?;
    finish(decoded, &signer)
}

/// The parts of an ETK before its signature is checked.
struct DecodedEtk {
    signed_data: SignedData,
    content: Vec<u8>,
    signer: cms::cert::IssuerAndSerialNumber,
    certificates: Vec<Certificate>,
}

fn decode(bytes: &[u8]) -> Result<DecodedEtk, EtkError> {
    let normalised = ber_to_der(bytes)?;
    let content_info = ContentInfo::from_ber(&normalised)?;
    if content_info.content_type != ID_SIGNED_DATA {
        return Err(EtkError::NotSignedData {
            found: content_info.content_type.to_string(),
        });
    }
    let signed_data = content_info
        .content
        .decode_as_encoding::<SignedData>(EncodingRules::Ber)?;

    let encapsulated = &signed_data.encap_content_info;
    if encapsulated.econtent_type != ID_DATA {
        return Err(EtkError::NotData {
            found: encapsulated.econtent_type.to_string(),
        });
    }
    let content = encapsulated
        .econtent
        .as_ref()
        .ok_or(EtkError::MissingContent)?
        .decode_as_encoding::<OctetString>(EncodingRules::Ber)?
        .into_bytes()
        .into_vec();

    let signer_infos = &signed_data.signer_infos.0;
    let [signer_info] = signer_infos.as_slice() else {
        return Err(EtkError::SignerCount {
            count: signer_infos.len(),
        });
    };
    let SignerIdentifier::IssuerAndSerialNumber(signer) = &signer_info.sid else {
        return Err(EtkError::MissingSignerCertificate {
            signer: "a subject key identifier".to_owned(),
        });
    };
    let signer = signer.clone();

    let certificates = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(certificate) => Some(certificate.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect();

    Ok(DecodedEtk {
        signed_data,
        content,
        signer,
        certificates,
    })
}

/// Verifies the signature with `etk_ra_cert` and picks out the certificates.
fn finish(decoded: DecodedEtk, etk_ra_cert: &Certificate) -> Result<Etk, EtkError> {
    let signer_info = decoded
        .signed_data
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or(EtkError::SignerCount { count: 0 })?;
    verify_signer_info(signer_info, &decoded.content, etk_ra_cert)?;

    let encryption_certificate = Certificate::from_der(&decoded.content)?;
    let issuer = encryption_certificate.tbs_certificate().issuer().clone();
    let etk_ra_id = issuer_and_serial(etk_ra_cert);

    let mut authentication_certificate = None;
    let mut chain = Vec::new();
    for certificate in decoded.certificates {
        if issuer_and_serial(&certificate) == etk_ra_id {
            continue;
        }
        if authentication_certificate.is_none()
            && certificate.tbs_certificate().subject() == &issuer
        {
            authentication_certificate = Some(certificate);
        } else {
            chain.push(certificate);
        }
    }
    let authentication_certificate =
        authentication_certificate.ok_or_else(|| EtkError::MissingAuthenticationCertificate {
            issuer: issuer.to_string(),
        })?;

    Ok(Etk {
        encryption_certificate,
        authentication_certificate,
        etk_ra_certificate: etk_ra_cert.clone(),
        chain,
    })
}

fn describe(id: &cms::cert::IssuerAndSerialNumber) -> String {
    format!("issuer {} serial {}", id.issuer, id.serial_number)
}
