//! Digests and public-key signature verification, shared by CMS signer infos and X.509
//! certificates: RSASSA-PSS, RSA PKCS#1 v1.5 with SHA-1 or SHA-2, and ECDSA on P-256 and
//! P-384.
//!
//! Verification works on a precomputed digest, so a 10 MB message is hashed once.

use der::{Decode, Encode, asn1::ObjectIdentifier};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::{Pkcs1v15Sign, pkcs1::RsaPssParams, pkcs8::DecodePublicKey, pss::Pss};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA1_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const CURVE_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const CURVE_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// A digest algorithm used in CMS and X.509 signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub(crate) fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        match oid {
            SHA1 => Some(Self::Sha1),
            SHA256 => Some(Self::Sha256),
            SHA384 => Some(Self::Sha384),
            SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Hashes `data` in one pass.
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

impl std::fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        })
    }
}

/// A signature scheme with its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5, named `rsaEncryption` or `sha*WithRSAEncryption` in CMS.
    RsaPkcs1v15 { digest: DigestAlgorithm },
    /// RSASSA-PSS with MGF1 over the same digest and the given salt length in bytes.
    RsaPss {
        digest: DigestAlgorithm,
        salt_length: usize,
    },
    /// ECDSA with the signature DER-encoded as `Ecdsa-Sig-Value`.
    Ecdsa { digest: DigestAlgorithm },
}

impl SignatureAlgorithm {
    pub fn digest(self) -> DigestAlgorithm {
        match self {
            Self::RsaPkcs1v15 { digest } | Self::RsaPss { digest, .. } | Self::Ecdsa { digest } => {
                digest
            }
        }
    }
}

impl std::fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RsaPkcs1v15 { digest } => write!(f, "RSA PKCS#1 v1.5 with {digest}"),
            Self::RsaPss {
                digest,
                salt_length,
            } => write!(f, "RSASSA-PSS with {digest}, salt {salt_length} bytes"),
            Self::Ecdsa { digest } => write!(f, "ECDSA with {digest}"),
        }
    }
}

/// Failure to check or verify a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("unsupported {purpose} algorithm {oid}")]
    UnsupportedAlgorithm {
        purpose: &'static str,
        oid: ObjectIdentifier,
    },
    #[error("invalid RSASSA-PSS parameters: {0}")]
    InvalidPssParameters(String),
    #[error("the signature algorithm uses {signature} but the digest algorithm is {digest}")]
    DigestConflict {
        signature: DigestAlgorithm,
        digest: DigestAlgorithm,
    },
    #[error("the signer's public key cannot be read: {0}")]
    InvalidPublicKey(String),
    #[error("the signature does not verify with the signer's public key")]
    Mismatch,
}

/// Reads the digest algorithm of a CMS signer info.
pub(crate) fn digest_algorithm(
    identifier: &AlgorithmIdentifierOwned,
) -> Result<DigestAlgorithm, SignatureError> {
    DigestAlgorithm::from_oid(identifier.oid).ok_or(SignatureError::UnsupportedAlgorithm {
        purpose: "digest",
        oid: identifier.oid,
    })
}

/// Reads a CMS signer info's algorithms. CMS hashes with the `digestAlgorithm`; the signature
/// algorithm must not name another digest.
pub(crate) fn cms_signature_algorithm(
    digest: &AlgorithmIdentifierOwned,
    signature: &AlgorithmIdentifierOwned,
) -> Result<SignatureAlgorithm, SignatureError> {
    let digest = digest_algorithm(digest)?;
    let algorithm = match signature.oid {
        RSA_ENCRYPTION => SignatureAlgorithm::RsaPkcs1v15 { digest },
        // Some encoders name the key type instead of ecdsa-with-SHA*.
        EC_PUBLIC_KEY => SignatureAlgorithm::Ecdsa { digest },
        _ => x509_signature_algorithm(signature)?,
    };
    if algorithm.digest() != digest {
        return Err(SignatureError::DigestConflict {
            signature: algorithm.digest(),
            digest,
        });
    }
    Ok(algorithm)
}

/// Reads the signature algorithm of an X.509 certificate (or a CMS signer info that names
/// its digest in the signature algorithm).
pub(crate) fn x509_signature_algorithm(
    signature: &AlgorithmIdentifierOwned,
) -> Result<SignatureAlgorithm, SignatureError> {
    let pkcs1 = |digest| Ok(SignatureAlgorithm::RsaPkcs1v15 { digest });
    let ecdsa = |digest| Ok(SignatureAlgorithm::Ecdsa { digest });
    match signature.oid {
        SHA1_WITH_RSA => pkcs1(DigestAlgorithm::Sha1),
        SHA256_WITH_RSA => pkcs1(DigestAlgorithm::Sha256),
        SHA384_WITH_RSA => pkcs1(DigestAlgorithm::Sha384),
        SHA512_WITH_RSA => pkcs1(DigestAlgorithm::Sha512),
        RSASSA_PSS => pss_algorithm(signature),
        ECDSA_WITH_SHA1 => ecdsa(DigestAlgorithm::Sha1),
        ECDSA_WITH_SHA256 => ecdsa(DigestAlgorithm::Sha256),
        ECDSA_WITH_SHA384 => ecdsa(DigestAlgorithm::Sha384),
        ECDSA_WITH_SHA512 => ecdsa(DigestAlgorithm::Sha512),
        oid => Err(SignatureError::UnsupportedAlgorithm {
            purpose: "signature",
            oid,
        }),
    }
}

/// Reads RSASSA-PSS-params: the hash, MGF1 with the same hash, the salt length and trailer 1.
fn pss_algorithm(
    signature: &AlgorithmIdentifierOwned,
) -> Result<SignatureAlgorithm, SignatureError> {
    let invalid = |detail: String| SignatureError::InvalidPssParameters(detail);
    let parameters = signature
        .parameters
        .as_ref()
        .ok_or_else(|| invalid("the parameters are missing".to_owned()))?;
    let encoded = parameters
        .to_der()
        .map_err(|error| invalid(error.to_string()))?;
    let parameters =
        RsaPssParams::<der::Any>::from_der(&encoded).map_err(|error| invalid(error.to_string()))?;

    let digest = DigestAlgorithm::from_oid(parameters.hash.oid).ok_or(
        SignatureError::UnsupportedAlgorithm {
            purpose: "RSASSA-PSS hash",
            oid: parameters.hash.oid,
        },
    )?;
    if parameters.mask_gen.oid != MGF1 {
        return Err(SignatureError::UnsupportedAlgorithm {
            purpose: "RSASSA-PSS mask generation",
            oid: parameters.mask_gen.oid,
        });
    }
    let mask_digest = parameters
        .mask_gen
        .parameters
        .as_ref()
        .map(|hash| hash.oid)
        .ok_or_else(|| invalid("the MGF1 hash is missing".to_owned()))?;
    if DigestAlgorithm::from_oid(mask_digest) != Some(digest) {
        return Err(invalid(format!(
            "the MGF1 hash {mask_digest} differs from the message hash {digest}"
        )));
    }
    Ok(SignatureAlgorithm::RsaPss {
        digest,
        salt_length: usize::from(parameters.salt_len),
    })
}

/// Verifies `signature` over a precomputed `digest` with the public key in `key_info`.
pub(crate) fn verify_digest(
    key_info: &SubjectPublicKeyInfoOwned,
    algorithm: SignatureAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let encoded = key_info
        .to_der()
        .map_err(|error| SignatureError::InvalidPublicKey(error.to_string()))?;
    match algorithm {
        SignatureAlgorithm::Ecdsa { .. } => verify_ecdsa(key_info, &encoded, digest, signature),
        _ => verify_rsa(&encoded, algorithm, digest, signature),
    }
}

fn verify_rsa(
    encoded_key: &[u8],
    algorithm: SignatureAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let public_key = rsa::PublicKey::from_public_key_der(encoded_key)
        .map_err(|error| SignatureError::InvalidPublicKey(error.to_string()))?;
    let result = match algorithm {
        SignatureAlgorithm::RsaPkcs1v15 { digest: hash } => {
            public_key.verify(pkcs1v15_scheme(hash), digest, signature)
        }
        SignatureAlgorithm::RsaPss {
            digest: hash,
            salt_length,
        } => match hash {
            DigestAlgorithm::Sha1 => {
                public_key.verify(Pss::<Sha1>::new_with_salt(salt_length), digest, signature)
            }
            DigestAlgorithm::Sha256 => {
                public_key.verify(Pss::<Sha256>::new_with_salt(salt_length), digest, signature)
            }
            DigestAlgorithm::Sha384 => {
                public_key.verify(Pss::<Sha384>::new_with_salt(salt_length), digest, signature)
            }
            DigestAlgorithm::Sha512 => {
                public_key.verify(Pss::<Sha512>::new_with_salt(salt_length), digest, signature)
            }
        },
        SignatureAlgorithm::Ecdsa { .. } => return Err(SignatureError::Mismatch),
    };
    result.map_err(|_| SignatureError::Mismatch)
}

/// Verifies an ECDSA signature on the curve named in the key's parameters.
fn verify_ecdsa(
    key_info: &SubjectPublicKeyInfoOwned,
    encoded_key: &[u8],
    digest: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let invalid_key = |error: String| SignatureError::InvalidPublicKey(error);
    if key_info.algorithm.oid != EC_PUBLIC_KEY {
        return Err(invalid_key(format!(
            "an ECDSA signature needs an EC key, the certificate has a {} key",
            key_info.algorithm.oid
        )));
    }
    let curve = key_info
        .algorithm
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| invalid_key("the EC key does not name its curve".to_owned()))?;
    let verified = match curve {
        CURVE_P256 => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(encoded_key)
                .map_err(|error| invalid_key(error.to_string()))?;
            let signature = p256::ecdsa::Signature::from_der(signature)
                .map_err(|_| SignatureError::Mismatch)?;
            key.verify_prehash(digest, &signature)
        }
        CURVE_P384 => {
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(encoded_key)
                .map_err(|error| invalid_key(error.to_string()))?;
            let signature = p384::ecdsa::Signature::from_der(signature)
                .map_err(|_| SignatureError::Mismatch)?;
            key.verify_prehash(digest, &signature)
        }
        oid => {
            return Err(SignatureError::UnsupportedAlgorithm {
                purpose: "elliptic curve",
                oid,
            });
        }
    };
    verified.map_err(|_| SignatureError::Mismatch)
}

fn pkcs1v15_scheme(digest: DigestAlgorithm) -> Pkcs1v15Sign {
    match digest {
        DigestAlgorithm::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
        DigestAlgorithm::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
        DigestAlgorithm::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
        DigestAlgorithm::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
    }
}
