//! The doctor's eHealth keystore: a password-protected PKCS#12 file issued by eHealth.
//!
//! It contains the `authentication` key with its certificate and CA chain (WS-Security signer,
//! SAML holder-of-key, signer of sealed messages), and one encryption key per encryption token
//! (ETK), each under the decimal serial number of its encryption certificate. Files come in
//! the legacy layout of Java keystores (3DES keys, RC2-40 certificates, SHA-1 MAC) and in the
//! modern one (PBES2 with AES, SHA-256 MAC); p12-keystore reads both.
//!
//! This module reads the file, checks that every key matches its certificate, reports the
//! facts the box shows and stores (INSZ, name, validity, fingerprint), and validates the
//! certificates against a clock and trust anchors given by the caller. It does not sign: the
//! WS-Security and STS code use [`EhealthKeystore::authentication_key`].

use std::{fmt, path::Path};

use der::asn1::ObjectIdentifier;
use p12_keystore::{Pkcs12Archive, error::Error as Pkcs12Error};
use rsa::{pkcs8::DecodePrivateKey, traits::PublicKeyParts};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::{
    ber::{BerError, Tag, Tlv},
    certificate::{StoredCertificate, holder_name},
    signature::{self, SignatureError},
};

/// The alias (PKCS#12 friendlyName) of the authentication key.
pub const AUTHENTICATION_ALIAS: &str = "authentication";

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Longest CA chain followed when validating, a guard against loops.
const MAX_CHAIN_LENGTH: usize = 8;

/// A keystore failure. Every message names the file (or alias) and the fix, and none contains
/// the password.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("cannot read keystore '{file}': {source}; check the path and that the box may read it")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error(
        "'{file}' is not a PKCS#12 keystore ({detail}); choose the .p12 or .acc-p12 file that eHealth issued"
    )]
    NotPkcs12 { file: String, detail: String },
    #[error(
        "wrong password for keystore '{file}'; check the password (it is case-sensitive) and enter it again, and if it is right, the file is damaged: copy it again"
    )]
    WrongPassword { file: String },
    #[error(
        "keystore '{file}' cannot be read: {detail}; copy the keystore again from its original, or ask eHealth for a new one"
    )]
    Damaged { file: String, detail: String },
    #[error(
        "keystore '{file}' has no '{AUTHENTICATION_ALIAS}' key (aliases found: {aliases}); use the eHealth keystore of this doctor, not an export of one certificate"
    )]
    NoAuthenticationKey { file: String, aliases: String },
    #[error(
        "key '{alias}' in keystore '{file}' has no certificate; the keystore is incomplete, ask eHealth for a new one"
    )]
    MissingCertificate { file: String, alias: String },
    #[error(
        "key '{alias}' in keystore '{file}' does not match its certificate '{subject}'; the keystore is damaged, ask eHealth for a new one"
    )]
    KeyCertificateMismatch {
        file: String,
        alias: String,
        subject: String,
    },
    #[error(
        "key '{alias}' in keystore '{file}' uses the unsupported algorithm {algorithm}; eHealth keystores hold RSA keys (EC only for authentication)"
    )]
    UnsupportedKey {
        file: String,
        alias: String,
        algorithm: String,
    },
    #[error(
        "certificate '{subject}' in keystore '{file}' expired on {not_after}; renew the eHealth certificate and load the new keystore"
    )]
    Expired {
        file: String,
        subject: String,
        not_after: jiff::Timestamp,
    },
    #[error(
        "certificate '{subject}' in keystore '{file}' is valid only from {not_before}; check the box's clock, or wait until that date"
    )]
    NotYetValid {
        file: String,
        subject: String,
        not_before: jiff::Timestamp,
    },
    #[error(
        "certificate '{subject}' in keystore '{file}' was issued by '{issuer}', which is not a trusted CA; if that CA is genuine, add its certificate to the trust anchors"
    )]
    UnknownIssuer {
        file: String,
        subject: String,
        issuer: String,
    },
    #[error(
        "certificate '{subject}' in keystore '{file}' names '{issuer}' as issuer but its signature does not verify ({detail}); the certificate is forged or damaged, ask eHealth for a new keystore"
    )]
    InvalidCertificateSignature {
        file: String,
        subject: String,
        issuer: String,
        detail: String,
    },
}

/// A private key from the keystore. Key material is wiped from memory when it is dropped,
/// and `Debug` never prints it.
pub enum PrivateKey {
    /// An RSA key; `rsa::PrivateKey` zeroizes its components on drop.
    Rsa(Box<rsa::PrivateKey>),
    /// An EC key, kept as its PKCS#8 encoding until a signer needs it.
    Ec {
        curve: Option<ObjectIdentifier>,
        pkcs8: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa(key) => write!(f, "PrivateKey::Rsa({} bits)", key.size() * 8),
            Self::Ec { curve, .. } => write!(f, "PrivateKey::Ec({curve:?})"),
        }
    }
}

/// The authentication key with its certificate and the CA certificates stored beside it.
#[derive(Debug)]
pub struct AuthenticationKey {
    pub key: PrivateKey,
    pub certificate: StoredCertificate,
    pub chain: Vec<StoredCertificate>,
}

/// One encryption key with its encryption certificate.
#[derive(Debug)]
pub struct EncryptionKey {
    alias: String,
    key: rsa::PrivateKey,
    certificate: StoredCertificate,
}

impl EncryptionKey {
    /// Returns the alias in the keystore, normally the certificate's decimal serial number.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    pub fn key(&self) -> &rsa::PrivateKey {
        &self.key
    }

    pub fn certificate(&self) -> &StoredCertificate {
        &self.certificate
    }
}

/// Facts about the keystore's authentication certificate that the box shows and stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The INSZ (SSIN) from `SSIN=` in the CN or an OU, absent in organisation certificates.
    pub ssin: Option<String>,
    /// The holder's name: the OU that is neither `SSIN=...` nor the eHealth platform's.
    pub name: Option<String>,
    pub subject: String,
    pub issuer: String,
    pub not_before: jiff::Timestamp,
    pub not_after: jiff::Timestamp,
    /// SHA-256 of the certificate's DER encoding, lowercase hexadecimal.
    pub sha256_fingerprint: String,
    /// Decimal serial numbers of the encryption certificates, in keystore order.
    pub encryption_serials: Vec<String>,
    /// Whole days from `now` to `not_after`, negative once expired.
    pub days_until_expiry: i64,
}

/// An opened eHealth keystore.
#[derive(Debug)]
pub struct EhealthKeystore {
    file: String,
    authentication: AuthenticationKey,
    encryption_keys: Vec<EncryptionKey>,
}

impl EhealthKeystore {
    /// Reads and opens the keystore at `path`.
    pub fn open_file(path: &Path, password: &Zeroizing<String>) -> Result<Self, KeystoreError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| KeystoreError::Read {
            file: file.clone(),
            source,
        })?;
        Self::open(&file, &bytes, password)
    }

    /// Opens a keystore read into memory; `file` names it in error messages.
    pub fn open(
        file: &str,
        bytes: &[u8],
        password: &Zeroizing<String>,
    ) -> Result<Self, KeystoreError> {
        check_pfx_structure(file, bytes)?;
        // NOTE: p12-keystore does not zeroize its decrypted PKCS#8 keys or its copy of the
        // password. They are freed, not wiped, when `archive` goes out of scope.
        let archive = Pkcs12Archive::from_pkcs12(bytes, password.as_str())
            .map_err(|error| map_pkcs12_error(file, error))?;

        let mut authentication = None;
        let mut encryption_keys = Vec::new();
        let mut aliases = Vec::new();
        for bag in &archive.keys {
            let alias = bag.friendly_name.clone().unwrap_or_default();
            aliases.push(alias.clone());
            if alias == AUTHENTICATION_ALIAS {
                authentication = Some(read_authentication_key(file, &archive, bag)?);
            } else if !alias.is_empty() && alias.bytes().all(|b| b.is_ascii_digit()) {
                encryption_keys.push(read_encryption_key(file, &archive, bag, alias)?);
            } else {
                tracing::warn!(
                    keystore = file,
                    alias,
                    "ignoring a keystore entry that is neither authentication nor encryption key"
                );
            }
        }

        let Some(authentication) = authentication else {
            return Err(KeystoreError::NoAuthenticationKey {
                file: file.to_owned(),
                aliases: if aliases.is_empty() {
                    "none".to_owned()
                } else {
                    aliases.join(", ")
                },
            });
        };
        Ok(Self {
            file: file.to_owned(),
            authentication,
            encryption_keys,
        })
    }

    /// Returns the name of the keystore file, as given when it was opened.
    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn authentication_key(&self) -> &AuthenticationKey {
        &self.authentication
    }

    pub fn encryption_keys(&self) -> &[EncryptionKey] {
        &self.encryption_keys
    }

    /// Returns the facts of the authentication certificate as seen at `now`.
    pub fn facts(&self, now: jiff::Timestamp) -> CertificateFacts {
        let certificate = &self.authentication.certificate;
        let subject = certificate.parsed().tbs_certificate().subject();
        let not_after = certificate.not_after();
        CertificateFacts {
            ssin: certificate.ssin(),
            name: holder_name(subject),
            subject: certificate.subject(),
            issuer: certificate.issuer(),
            not_before: certificate.not_before(),
            not_after,
            sha256_fingerprint: certificate.sha256_fingerprint(),
            encryption_serials: self
                .encryption_keys
                .iter()
                .map(|key| key.certificate.decimal_serial())
                .collect(),
            days_until_expiry: not_after.duration_since(now).as_secs().div_euclid(86_400),
        }
    }

    /// Checks at `now` that every certificate is within its validity period and that the
    /// authentication certificate chains to one of `trust_anchors`. Encryption certificates
    /// must be issued by the authentication certificate or chain to an anchor as well.
    pub fn validate(
        &self,
        now: jiff::Timestamp,
        trust_anchors: &[StoredCertificate],
    ) -> Result<(), KeystoreError> {
        let validator = ChainValidator {
            file: &self.file,
            now,
            trust_anchors,
            intermediates: &self.authentication.chain,
            authentication: &self.authentication.certificate,
        };
        validator.check(&self.authentication.certificate)?;
        for key in &self.encryption_keys {
            validator.check(&key.certificate)?;
        }
        Ok(())
    }
}

/// Checks the outer PFX structure, so that a file that is not PKCS#12 at all is distinguished
/// from a PKCS#12 file with a wrong password.
fn check_pfx_structure(file: &str, bytes: &[u8]) -> Result<(), KeystoreError> {
    let not_pkcs12 = |detail: String| KeystoreError::NotPkcs12 {
        file: file.to_owned(),
        detail,
    };
    let pfx = match Tlv::parse_exact(bytes) {
        Ok(pfx) => pfx
            .expect(Tag::SEQUENCE, "a PFX SEQUENCE")
            .map_err(|error| not_pkcs12(error.to_string()))?,
        // A file that starts like a PFX but ends early is a damaged keystore.
        Err(error @ BerError::Truncated { .. }) if bytes.first() == Some(&0x30) => {
            return Err(KeystoreError::Damaged {
                file: file.to_owned(),
                detail: format!("the file is truncated: {error}"),
            });
        }
        Err(error) => return Err(not_pkcs12(error.to_string())),
    };
    let mut fields = pfx.children();
    let version = fields
        .required("the PFX version")
        .and_then(|tlv| tlv.expect(Tag::INTEGER, "the PFX version"))
        .map_err(|error| not_pkcs12(error.to_string()))?;
    if version.contents() != [3] {
        return Err(not_pkcs12(format!(
            "PFX version {:?} instead of 3",
            version.contents()
        )));
    }
    fields
        .required("the authenticated safe")
        .and_then(|tlv| tlv.expect(Tag::SEQUENCE, "the authenticated safe ContentInfo"))
        .map_err(|error| not_pkcs12(error.to_string()))?;
    Ok(())
}

fn map_pkcs12_error(file: &str, error: Pkcs12Error) -> KeystoreError {
    match error {
        // Without a MAC, a wrong password shows up as bad padding of the decrypted bags.
        Pkcs12Error::MacError(_) | Pkcs12Error::UnpadError => KeystoreError::WrongPassword {
            file: file.to_owned(),
        },
        other => KeystoreError::Damaged {
            file: file.to_owned(),
            detail: other.to_string(),
        },
    }
}

/// Finds the certificate of a key bag: the bag with the same localKeyID, else the one with
/// the same friendlyName.
fn certificate_for(
    file: &str,
    archive: &Pkcs12Archive,
    bag: &p12_keystore::PrivateKeyBag,
    alias: &str,
) -> Result<StoredCertificate, KeystoreError> {
    let by_key_id = bag.local_key_id.as_ref().and_then(|key_id| {
        archive
            .certs
            .iter()
            .find(|cert| cert.local_key_id.as_deref() == Some(key_id.as_ref()))
    });
    let found = by_key_id.or_else(|| {
        archive
            .certs
            .iter()
            .find(|cert| cert.friendly_name.as_deref() == Some(alias))
    });
    let Some(found) = found else {
        return Err(KeystoreError::MissingCertificate {
            file: file.to_owned(),
            alias: alias.to_owned(),
        });
    };
    StoredCertificate::from_der(found.cert.as_der()).map_err(|error| KeystoreError::Damaged {
        file: file.to_owned(),
        detail: format!("the certificate of key '{alias}' is invalid: {error}"),
    })
}

fn read_authentication_key(
    file: &str,
    archive: &Pkcs12Archive,
    bag: &p12_keystore::PrivateKeyBag,
) -> Result<AuthenticationKey, KeystoreError> {
    let alias = AUTHENTICATION_ALIAS;
    let key = match bag.key.oid() {
        RSA_ENCRYPTION => PrivateKey::Rsa(Box::new(parse_rsa_key(file, alias, bag)?)),
        EC_PUBLIC_KEY => PrivateKey::Ec {
            curve: ec_curve(bag.key.as_der()),
            pkcs8: Zeroizing::new(bag.key.as_der().to_vec()),
        },
        other => {
            return Err(KeystoreError::UnsupportedKey {
                file: file.to_owned(),
                alias: alias.to_owned(),
                algorithm: other.to_string(),
            });
        }
    };
    let certificate = certificate_for(file, archive, bag, alias)?;
    // NOTE: only an RSA key is checked against its certificate; an EC key is kept unchecked
    // until a signer parses it.
    if let PrivateKey::Rsa(rsa_key) = &key {
        check_rsa_key_matches(file, alias, rsa_key, &certificate)?;
    }

    let mut chain: Vec<StoredCertificate> = Vec::new();
    for bag in archive
        .certs
        .iter()
        .filter(|cert| cert.local_key_id.is_none())
    {
        let stored = StoredCertificate::from_der(bag.cert.as_der()).map_err(|error| {
            KeystoreError::Damaged {
                file: file.to_owned(),
                detail: format!("a CA certificate is invalid: {error}"),
            }
        })?;
        if !chain.contains(&stored) && stored != certificate {
            chain.push(stored);
        }
    }
    Ok(AuthenticationKey {
        key,
        certificate,
        chain,
    })
}

fn read_encryption_key(
    file: &str,
    archive: &Pkcs12Archive,
    bag: &p12_keystore::PrivateKeyBag,
    alias: String,
) -> Result<EncryptionKey, KeystoreError> {
    if bag.key.oid() != RSA_ENCRYPTION {
        return Err(KeystoreError::UnsupportedKey {
            file: file.to_owned(),
            alias,
            algorithm: bag.key.oid().to_string(),
        });
    }
    let key = parse_rsa_key(file, &alias, bag)?;
    let certificate = certificate_for(file, archive, bag, &alias)?;
    check_rsa_key_matches(file, &alias, &key, &certificate)?;
    if certificate.decimal_serial() != alias {
        tracing::warn!(
            keystore = file,
            alias,
            serial = certificate.decimal_serial(),
            "encryption key alias differs from its certificate's serial number"
        );
    }
    Ok(EncryptionKey {
        alias,
        key,
        certificate,
    })
}

fn parse_rsa_key(
    file: &str,
    alias: &str,
    bag: &p12_keystore::PrivateKeyBag,
) -> Result<rsa::PrivateKey, KeystoreError> {
    rsa::PrivateKey::from_pkcs8_der(bag.key.as_der()).map_err(|error| KeystoreError::Damaged {
        file: file.to_owned(),
        detail: format!("the RSA key '{alias}' is invalid: {error}"),
    })
}

fn check_rsa_key_matches(
    file: &str,
    alias: &str,
    key: &rsa::PrivateKey,
    certificate: &StoredCertificate,
) -> Result<(), KeystoreError> {
    let key_info = certificate
        .parsed()
        .tbs_certificate()
        .subject_public_key_info();
    let certificate_key = der::Encode::to_der(key_info).ok().and_then(|encoded| {
        <rsa::PublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&encoded).ok()
    });
    if certificate_key.as_ref() == Some(key.as_public_key()) {
        return Ok(());
    }
    Err(KeystoreError::KeyCertificateMismatch {
        file: file.to_owned(),
        alias: alias.to_owned(),
        subject: certificate.subject(),
    })
}

/// Reads the named curve from the parameters of an EC PKCS#8 key.
fn ec_curve(pkcs8: &[u8]) -> Option<ObjectIdentifier> {
    let info = rsa::pkcs8::PrivateKeyInfoRef::try_from(pkcs8).ok()?;
    info.algorithm.parameters_oid().ok()
}

/// Walks a certificate's issuers up to a trust anchor.
struct ChainValidator<'a> {
    file: &'a str,
    now: jiff::Timestamp,
    trust_anchors: &'a [StoredCertificate],
    intermediates: &'a [StoredCertificate],
    authentication: &'a StoredCertificate,
}

impl ChainValidator<'_> {
    fn check(&self, certificate: &StoredCertificate) -> Result<(), KeystoreError> {
        let mut current = certificate;
        for _ in 0..MAX_CHAIN_LENGTH {
            self.check_validity(current)?;
            if self
                .trust_anchors
                .iter()
                .any(|anchor| anchor.der() == current.der())
            {
                return Ok(());
            }
            if let Some(anchor) = self.find_issuer(current, self.trust_anchors)? {
                self.check_validity(anchor)?;
                return Ok(());
            }
            let candidates = self
                .intermediates
                .iter()
                .chain(std::iter::once(self.authentication))
                .filter(|candidate| candidate.der() != current.der());
            let candidates: Vec<&StoredCertificate> = candidates.collect();
            match self.find_issuer_among(current, &candidates)? {
                Some(issuer) => current = issuer,
                None => return Err(self.unknown_issuer(current)),
            }
        }
        Err(self.unknown_issuer(current))
    }

    fn unknown_issuer(&self, certificate: &StoredCertificate) -> KeystoreError {
        KeystoreError::UnknownIssuer {
            file: self.file.to_owned(),
            subject: certificate.subject(),
            issuer: certificate.issuer(),
        }
    }

    fn check_validity(&self, certificate: &StoredCertificate) -> Result<(), KeystoreError> {
        if self.now < certificate.not_before() {
            return Err(KeystoreError::NotYetValid {
                file: self.file.to_owned(),
                subject: certificate.subject(),
                not_before: certificate.not_before(),
            });
        }
        if self.now > certificate.not_after() {
            return Err(KeystoreError::Expired {
                file: self.file.to_owned(),
                subject: certificate.subject(),
                not_after: certificate.not_after(),
            });
        }
        Ok(())
    }

    fn find_issuer<'c>(
        &self,
        certificate: &StoredCertificate,
        candidates: &'c [StoredCertificate],
    ) -> Result<Option<&'c StoredCertificate>, KeystoreError> {
        let candidates: Vec<&StoredCertificate> = candidates.iter().collect();
        self.find_issuer_among(certificate, &candidates)
    }

    /// Returns the candidate whose subject is the certificate's issuer and whose key verifies
    /// the certificate's signature. A name match whose key does not verify is an error.
    fn find_issuer_among<'c>(
        &self,
        certificate: &StoredCertificate,
        candidates: &[&'c StoredCertificate],
    ) -> Result<Option<&'c StoredCertificate>, KeystoreError> {
        let issuer_name = certificate.parsed().tbs_certificate().issuer();
        let mut last_error = None;
        for candidate in candidates {
            if candidate.parsed().tbs_certificate().subject() != issuer_name {
                continue;
            }
            match verify_certificate_signature(certificate, candidate) {
                Ok(()) => return Ok(Some(*candidate)),
                Err(error) => last_error = Some(error),
            }
        }
        match last_error {
            None => Ok(None),
            Some(error) => Err(KeystoreError::InvalidCertificateSignature {
                file: self.file.to_owned(),
                subject: certificate.subject(),
                issuer: certificate.issuer(),
                detail: error.to_string(),
            }),
        }
    }
}

/// Verifies `certificate`'s signature with `issuer`'s public key over the TBS bytes as
/// received.
fn verify_certificate_signature(
    certificate: &StoredCertificate,
    issuer: &StoredCertificate,
) -> Result<(), SignatureError> {
    let parsed: &Certificate = certificate.parsed();
    let algorithm = signature::x509_signature_algorithm(parsed.signature_algorithm())?;
    let tbs = Tlv::parse_exact(certificate.der())
        .ok()
        .and_then(|tlv| tlv.children().next())
        .and_then(Result::ok)
        .map(|tlv| tlv.raw())
        .ok_or_else(|| SignatureError::InvalidPublicKey("unreadable certificate".to_owned()))?;
    let digest = algorithm.digest().digest(tbs);
    let signature = parsed.signature().raw_bytes();
    signature::verify_digest(
        issuer.parsed().tbs_certificate().subject_public_key_info(),
        algorithm,
        &digest,
        signature,
    )
}
