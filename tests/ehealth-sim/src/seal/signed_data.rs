//! CMS SignedData with id-data content: signer info, signature algorithms, and the encoding tree
//! the sealed message's two signature layers and the ETK share.

use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::signed_data::{SignerIdentifier, SignerInfo, SignerInfos};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Encode};
use rand::CryptoRng;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pss::Pss;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::time::Time;

use crate::ber::{DigestWriter, Node};

use super::SealError;

pub(crate) const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
pub(crate) const ID_SIGNED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub(crate) const ID_ENVELOPED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
pub(crate) const ID_CONTENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub(crate) const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub(crate) const ID_SIGNING_TIME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
pub(crate) const RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub(crate) const SHA256_WITH_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
pub(crate) const ID_RSASSA_PSS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
pub(crate) const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
pub(crate) const ID_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// PSS salt length of the eHealth signing policy, in bytes (the SHA-256 output size).
const PSS_SALT_LEN: usize = 32;

/// Digest algorithm of a signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigestAlgorithm {
    Sha1,
    Sha256,
}

impl DigestAlgorithm {
    pub(crate) fn oid(self) -> ObjectIdentifier {
        match self {
            DigestAlgorithm::Sha1 => ID_SHA1,
            DigestAlgorithm::Sha256 => ID_SHA256,
        }
    }

    /// Hashes the encoding of `node` without storing it.
    pub(crate) fn digest_node(self, node: &Node<'_>) -> Vec<u8> {
        match self {
            DigestAlgorithm::Sha1 => {
                let mut writer = DigestWriter(Sha1::new());
                write_to_digest(node, &mut writer);
                writer.0.finalize().to_vec()
            }
            DigestAlgorithm::Sha256 => {
                let mut writer = DigestWriter(Sha256::new());
                write_to_digest(node, &mut writer);
                writer.0.finalize().to_vec()
            }
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            DigestAlgorithm::Sha1 => Sha1::digest(data).to_vec(),
            DigestAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// Algorithm identifier with NULL parameters, as Java senders write it.
    fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(Any::null()),
        }
    }
}

fn write_to_digest(node: &Node<'_>, writer: &mut dyn std::io::Write) {
    node.write_to(writer)
        .unwrap_or_else(|_| unreachable!("writing into a digest cannot fail"));
}

/// Signature algorithm of a signer, all RSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureAlgorithm {
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    RsaPssSha256,
    /// PKCS#1 v1.5 under the `sha256WithRSAEncryption` identifier.
    Sha256WithRsa,
    /// PKCS#1 v1.5 under the bare `rsaEncryption` identifier, with the digest named by the signer
    /// info's digest algorithm.
    RsaEncryption,
}

impl SignatureAlgorithm {
    fn identifier(self) -> Result<AlgorithmIdentifierOwned, SealError> {
        match self {
            SignatureAlgorithm::RsaPssSha256 => {
                // Trailer field 1 is the DEFAULT of RSASSA-PSS-params, so DER omits it.
                rsa::pss::get_default_pss_signature_algo_id::<Sha256>()
                    .map_err(|source| SealError::Encoding(source.to_string()))
            }
            SignatureAlgorithm::Sha256WithRsa => Ok(AlgorithmIdentifierOwned {
                oid: SHA256_WITH_RSA_ENCRYPTION,
                parameters: Some(Any::null()),
            }),
            SignatureAlgorithm::RsaEncryption => Ok(AlgorithmIdentifierOwned {
                oid: RSA_ENCRYPTION,
                parameters: Some(Any::null()),
            }),
        }
    }

    fn sign<R: CryptoRng + ?Sized>(
        self,
        key: &rsa::PrivateKey,
        digest_algorithm: DigestAlgorithm,
        hash: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, rsa::Error> {
        match (self, digest_algorithm) {
            (SignatureAlgorithm::RsaPssSha256, _) => {
                key.sign_with_rng(rng, Pss::<Sha256>::new_with_salt(PSS_SALT_LEN), hash)
            }
            (_, DigestAlgorithm::Sha1) => key.sign_with_rng(rng, Pkcs1v15Sign::new::<Sha1>(), hash),
            (_, DigestAlgorithm::Sha256) => {
                key.sign_with_rng(rng, Pkcs1v15Sign::new::<Sha256>(), hash)
            }
        }
    }
}

/// What one signer puts into a SignedData.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignerProfile {
    pub(crate) digest: DigestAlgorithm,
    pub(crate) signature: SignatureAlgorithm,
    /// Signing time for the contentType/signingTime/messageDigest signed attributes, or `None`
    /// to sign the content digest directly with no signed attributes.
    pub(crate) signed_attributes: Option<jiff::Timestamp>,
    /// Flip one bit of the signature value after signing, for negative tests.
    pub(crate) corrupt_signature: bool,
}

/// The encoded parts of a SignedData other than its content, ready to frame.
#[derive(Debug)]
pub(crate) struct SignedParts {
    digest_algorithms: Vec<u8>,
    certificates: Vec<Vec<u8>>,
    signer_infos: Vec<u8>,
}

impl SignedParts {
    /// Signs a content digest as `signer_cert`'s holder and encodes the signer info, the digest
    /// algorithm set and the certificates (the signer's first).
    pub(crate) fn sign<R: CryptoRng + ?Sized>(
        content_digest: &[u8],
        key: &rsa::PrivateKey,
        signer_cert: &Certificate,
        certificates: &[&Certificate],
        profile: &SignerProfile,
        rng: &mut R,
    ) -> Result<Self, SealError> {
        let signed_attrs = profile
            .signed_attributes
            .map(|time| signed_attributes(content_digest, time))
            .transpose()?;
        let hash = match &signed_attrs {
            Some(attributes) => profile.digest.digest(&attributes.to_der()?),
            None => content_digest.to_vec(),
        };

        let mut signature = profile
            .signature
            .sign(key, profile.digest, &hash, rng)
            .map_err(|source| SealError::Signing(source.to_string()))?;
        if profile.corrupt_signature {
            let middle = signature.len() / 2;
            signature[middle] ^= 0x01;
        }

        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(issuer_and_serial(signer_cert)),
            digest_alg: profile.digest.identifier(),
            signed_attrs,
            signature_algorithm: profile.signature.identifier()?,
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        };
        let signer_infos = SignerInfos(SetOfVec::try_from(vec![signer_info])?);
        let digest_algorithms = SetOfVec::try_from(vec![profile.digest.identifier()])?;

        let mut encoded_certificates: Vec<Vec<u8>> = Vec::new();
        for certificate in std::iter::once(signer_cert).chain(certificates.iter().copied()) {
            let der = certificate.to_der()?;
            if !encoded_certificates.contains(&der) {
                encoded_certificates.push(der);
            }
        }

        Ok(Self {
            digest_algorithms: digest_algorithms.to_der()?,
            certificates: encoded_certificates,
            signer_infos: signer_infos.to_der()?,
        })
    }

    /// Frames `econtent` (the eContent OCTET STRING node) into a ContentInfo SignedData.
    ///
    /// With `ber`, ContentInfo, SignedData, EncapsulatedContentInfo, the eContent `[0]` and the
    /// certificates `[0]` get indefinite lengths and the certificates keep the order they were
    /// given in, as BouncyCastle's streaming generator writes them. Without it the result is DER,
    /// with the certificate SET OF sorted.
    pub(crate) fn content_info<'a>(&'a self, econtent: Node<'a>, ber: bool) -> Node<'a> {
        let mut certificates: Vec<&[u8]> = self.certificates.iter().map(Vec::as_slice).collect();
        if !ber {
            certificates.sort();
        }
        let certificates = certificates.into_iter().map(Node::encoded).collect();

        let encapsulated = Node::constructed(
            0x30,
            ber,
            vec![
                oid_node(ID_DATA),
                Node::constructed(0xA0, ber, vec![econtent]),
            ],
        );
        let signed_data = Node::constructed(
            0x30,
            ber,
            vec![
                Node::encoded(&[0x02, 0x01, 0x01][..]),
                Node::encoded(self.digest_algorithms.as_slice()),
                encapsulated,
                Node::constructed(0xA0, ber, certificates),
                Node::encoded(self.signer_infos.as_slice()),
            ],
        );
        Node::constructed(
            0x30,
            ber,
            vec![
                oid_node(ID_SIGNED_DATA),
                Node::constructed(0xA0, ber, vec![signed_data]),
            ],
        )
    }
}

/// The contentType (id-data), signingTime and messageDigest signed attributes.
fn signed_attributes(
    content_digest: &[u8],
    signing_time: jiff::Timestamp,
) -> Result<SetOfVec<Attribute>, SealError> {
    let seconds = u64::try_from(signing_time.as_second()).map_err(|_| {
        SealError::Encoding(format!(
            "signing time {signing_time} is before 1970; use a later signing time"
        ))
    })?;
    let date_time = der::DateTime::from_unix_duration(std::time::Duration::from_secs(seconds))?;
    // RFC 5652 section 11.3: UTCTime for 1950 to 2049, GeneralizedTime otherwise.
    let time = Time::from(date_time);

    let attributes = vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA)?)?,
        attribute(ID_SIGNING_TIME, Any::encode_from(&time)?)?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(content_digest)?)?,
        )?,
    ];
    Ok(SetOfVec::try_from(attributes)?)
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, SealError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

pub(crate) fn issuer_and_serial(certificate: &Certificate) -> IssuerAndSerialNumber {
    let tbs = certificate.tbs_certificate();
    IssuerAndSerialNumber {
        issuer: tbs.issuer().clone(),
        serial_number: tbs.serial_number().clone(),
    }
}

pub(crate) fn oid_node(oid: ObjectIdentifier) -> Node<'static> {
    let bytes = oid.as_bytes();
    let mut encoded = Vec::with_capacity(2 + bytes.len());
    encoded.push(0x06);
    // Every OID used here is far shorter than 128 bytes, so the short length form applies.
    encoded.push(bytes.len() as u8);
    encoded.extend_from_slice(bytes);
    Node::encoded(encoded)
}

/// Why a signer info does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureCheckError {
    #[error("unsupported digest algorithm {0}; expected SHA-1 or SHA-256")]
    UnsupportedDigest(String),

    #[error(
        "unsupported signature algorithm {0}; expected rsaEncryption, sha1WithRSAEncryption, \
         sha256WithRSAEncryption or RSASSA-PSS"
    )]
    UnsupportedSignature(String),

    #[error("the signed attributes have no messageDigest attribute")]
    MissingMessageDigest,

    #[error("the messageDigest attribute does not match the content's digest")]
    MessageDigestMismatch,

    #[error("the signer certificate {subject} has no usable RSA public key: {reason}")]
    InvalidSignerKey { subject: String, reason: String },

    #[error("the signature value does not verify under the key of {subject}")]
    BadSignature { subject: String },

    #[error("ASN.1 encoding failed: {0}")]
    Encoding(String),
}

const SHA1_WITH_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");

/// Verifies one signer info over `econtent` with the RSA key of `signer_cert`: the messageDigest
/// attribute when signed attributes are present, then the signature value.
pub(crate) fn verify_signer_info(
    signer_info: &SignerInfo,
    econtent: &[u8],
    signer_cert: &Certificate,
) -> Result<(), SignatureCheckError> {
    let encoding = |source: der::Error| SignatureCheckError::Encoding(source.to_string());
    let digest_algorithm = match signer_info.digest_alg.oid {
        ID_SHA1 => DigestAlgorithm::Sha1,
        ID_SHA256 => DigestAlgorithm::Sha256,
        other => return Err(SignatureCheckError::UnsupportedDigest(other.to_string())),
    };
    let content_digest = digest_algorithm.digest(econtent);

    let hash = match &signer_info.signed_attrs {
        None => content_digest,
        Some(attributes) => {
            let message_digest = attributes
                .iter()
                .find(|attribute| attribute.oid == ID_MESSAGE_DIGEST)
                .and_then(|attribute| attribute.values.iter().next())
                .ok_or(SignatureCheckError::MissingMessageDigest)?
                .decode_as::<OctetString>()
                .map_err(encoding)?;
            if message_digest.as_bytes() != content_digest.as_slice() {
                return Err(SignatureCheckError::MessageDigestMismatch);
            }
            digest_algorithm.digest(&attributes.to_der().map_err(encoding)?)
        }
    };

    let subject = signer_cert.tbs_certificate().subject().to_string();
    let spki = signer_cert.tbs_certificate().subject_public_key_info();
    let public_key = spki
        .to_der()
        .map_err(encoding)
        .and_then(|der| {
            rsa::pkcs8::DecodePublicKey::from_public_key_der(&der).map_err(|source| {
                SignatureCheckError::InvalidSignerKey {
                    subject: subject.clone(),
                    reason: source.to_string(),
                }
            })
        })
        .map(|key: rsa::PublicKey| key)?;

    let signature = signer_info.signature.as_bytes();
    let verified = match (signer_info.signature_algorithm.oid, digest_algorithm) {
        (ID_RSASSA_PSS, DigestAlgorithm::Sha256) => {
            public_key.verify(Pss::<Sha256>::new_with_salt(PSS_SALT_LEN), &hash, signature)
        }
        (RSA_ENCRYPTION | SHA1_WITH_RSA_ENCRYPTION, DigestAlgorithm::Sha1) => {
            public_key.verify(Pkcs1v15Sign::new::<Sha1>(), &hash, signature)
        }
        (RSA_ENCRYPTION | SHA256_WITH_RSA_ENCRYPTION, DigestAlgorithm::Sha256) => {
            public_key.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, signature)
        }
        (other, _) => {
            return Err(SignatureCheckError::UnsupportedSignature(other.to_string()));
        }
    };
    verified.map_err(|_| SignatureCheckError::BadSignature { subject })
}
