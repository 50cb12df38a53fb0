//! The simulator's test PKI, generated deterministically from a seed.
//!
//! It owns every key and certificate the simulated eHealth platform and its test doctors use:
//! - a test "eHealth" root CA and the issuing CA below it;
//! - the STS signing credential, the ETK-RA credential (signs ETKs) and a TLS server credential
//!   for `localhost`, `127.0.0.1` and `::1`;
//! - per doctor: the authentication credential, one or two "proxy" encryption credentials and the
//!   PKCS#12 keystore (`SSIN=<ssin> <yyyyMMdd-HHmmss>.acc-p12`) with its password.
//!
//! Same seed, same `now` and same doctor specs give the same keys, certificates, passwords and
//! keystore bytes: every random value is drawn from one `ChaCha20Rng` seeded with the seed.
//!
//! It does not build ETKs (CMS SignedData over an encryption certificate): the ETK builder takes
//! [`TestPki::etk_ra`], [`Doctor::encryption`], [`Doctor::authentication`] and
//! [`TestPki::ca_chain`] from here.
//!
//! # Layout
//! - [`ids`]: INSZ and RIZIV number check digits.
//! - [`cert`]: key generation and certificate issuance.
//! - [`keystore`]: the legacy PKCS#12 writer.
//! - [`folder`]: writing the PKI to a folder with a manifest, and loading it back.

pub mod cert;
pub mod folder;
pub mod ids;
pub mod keystore;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use jiff::civil::date;
use jiff::{SignedDuration, Timestamp, ToSpan, tz::TimeZone};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

pub use cert::Credential;
pub use keystore::{KeystoreError, KeystoreOptions};

use cert::{CertificateRequest, Usage};
use ids::IdError;
use keystore::{ChainCertificate, KeyEntry};

/// Subject of the test root CA.
pub const ROOT_CA_SUBJECT: &str = "CN=Test eHealth Root CA,O=Test PKI - not trusted,C=BE";
/// Subject of the test issuing CA, which signs every end-entity certificate except the
/// encryption certificates.
pub const ISSUING_CA_SUBJECT: &str = "CN=Test eHealth Issuing CA,O=Test PKI - not trusted,C=BE";
/// Subject of the STS signing certificate.
pub const STS_SUBJECT: &str =
    "CN=Test eHealth STS,OU=eHealth-platform Belgium,O=Federal Government,C=BE";
/// Subject of the ETK-RA certificate, which signs ETKs.
pub const ETK_RA_SUBJECT: &str =
    "CN=Test eHealth ETK-RA,OU=eHealth-platform Belgium,O=Federal Government,C=BE";
/// Subject of the simulator's TLS server certificate.
pub const TLS_SERVER_SUBJECT: &str = "CN=localhost,O=Test eHealth simulator,C=BE";

/// Lifetime of a doctor's eHealth certificates: they must be replaced every 3 years.
const DOCTOR_CERT_YEARS: i64 = 3;
/// Length of the password of a keystore, drawn from [`PASSWORD_ALPHABET`].
const PASSWORD_LEN: usize = 20;
/// Printable characters that need no quoting in a shell or a URL.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.";

/// Errors of generating, writing and loading the test PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("invalid doctor {first_name} {last_name}: {source}")]
    InvalidDoctorId {
        first_name: String,
        last_name: String,
        source: IdError,
    },

    #[error(
        "invalid name {name:?} of the doctor with INSZ {ssin}: use a non-empty name without \
         any of , + \" \\ < > ; = #"
    )]
    InvalidDoctorName { ssin: String, name: String },

    #[error("duplicate doctor INSZ {ssin}: give each doctor its own INSZ")]
    DuplicateDoctor { ssin: String },

    #[error("RSA key generation failed: {0}")]
    KeyGeneration(rsa::Error),

    #[error("private key encoding failed: {0}")]
    KeyEncoding(pkcs8::Error),

    #[error("public key encoding failed: {0}")]
    PublicKeyEncoding(String),

    #[error("DER encoding failed: {0}")]
    Encoding(der::Error),

    #[error("invalid distinguished name {name:?}: {source}")]
    Name { name: String, source: der::Error },

    #[error("issuing the certificate for {subject} failed: {source}")]
    Certificate {
        subject: String,
        source: x509_cert::builder::Error,
    },

    #[error("the private key does not belong to the certificate of {subject}")]
    KeyMismatch { subject: String },

    #[error("invalid signature on the certificate of {subject}")]
    BadSignature { subject: String },

    #[error("time {instant} is out of range for a certificate; use a time between 1970 and 9999")]
    TimeOutOfRange { instant: Timestamp },

    #[error("writing the keystore of INSZ {ssin} failed: {source}")]
    Keystore { ssin: String, source: KeystoreError },

    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },

    #[error("invalid PKI manifest {path}: {source}")]
    Manifest {
        path: std::path::PathBuf,
        source: serde_json::Error,
    },

    #[error("invalid PKI folder {path}: {reason}")]
    Folder {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// What is special about a test doctor's certificates or keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Valid certificates issued a day before `now`, one encryption key.
    Normal,
    /// The certificates' validity ended a day before `now`.
    Expired,
    /// The certificates' validity ends 10 days after `now`.
    ExpiresSoon,
    /// Two encryption keys: an older one, issued a year before the current one, and the current
    /// one. Both are in the keystore.
    ///
    /// NOTE: the current authentication key signs both encryption certificates. After a real
    /// renewal the older one was signed by the previous authentication key (same subject DN).
    TwoEncryptionKeys,
    /// A normal keystore, but the password file written beside it contains a wrong password.
    WrongPassword,
    // TODO: an EC (P-384) variant: eHealth tooling may issue EC keys, and the client must then sign
    // with ECDSA. Needs p384 key generation here and EC key bags in the keystore writer.
}

/// A test doctor to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorSpec {
    pub first_name: String,
    pub last_name: String,
    /// INSZ (eHealth calls it SSIN), 11 digits with valid check digits.
    pub ssin: String,
    /// 11-digit RIZIV number with valid check digits.
    pub nihii11: String,
    /// Whether the STS certifies `urn:be:fgov:person:ssin:doctor:boolean` = true for this person.
    pub recognised_as_doctor: bool,
    pub variant: Variant,
}

impl DoctorSpec {
    /// Describes a recognised doctor with the [`Variant::Normal`] certificates.
    pub fn new(first_name: &str, last_name: &str, ssin: &str, nihii11: &str) -> Self {
        Self {
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            ssin: ssin.to_owned(),
            nihii11: nihii11.to_owned(),
            recognised_as_doctor: true,
            variant: Variant::Normal,
        }
    }

    /// Sets the certificate variant.
    pub fn with_variant(mut self, variant: Variant) -> Self {
        self.variant = variant;
        self
    }

    /// Marks the person as not recognised as a doctor by the STS.
    pub fn not_recognised_as_doctor(mut self) -> Self {
        self.recognised_as_doctor = false;
        self
    }

    /// Returns the name as it appears in the certificate: `FIRST LAST` in capitals.
    pub fn certificate_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).to_uppercase()
    }

    /// Returns the authentication certificate subject in RFC 4514 order.
    pub fn subject(&self) -> String {
        let ssin = &self.ssin;
        format!(
            "CN=SSIN={ssin},OU=eHealth-platform Belgium,OU={},OU=SSIN={ssin},\
             O=Federal Government,C=BE",
            self.certificate_name()
        )
    }

    fn validate(&self) -> Result<(), PkiError> {
        let id_error = |source| PkiError::InvalidDoctorId {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            source,
        };
        ids::validate_insz(&self.ssin).map_err(id_error)?;
        ids::validate_nihii11(&self.nihii11).map_err(id_error)?;

        let is_plain = |name: &str| {
            !name.trim().is_empty() && !name.chars().any(|c| ",+\"\\<>;=#".contains(c))
        };
        for name in [&self.first_name, &self.last_name] {
            if !is_plain(name) {
                return Err(PkiError::InvalidDoctorName {
                    ssin: self.ssin.clone(),
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }
}

/// A doctor's PKCS#12 keystore and its password.
#[derive(Clone, PartialEq, Eq)]
pub struct Keystore {
    /// `SSIN=<ssin> <yyyyMMdd-HHmmss>.acc-p12`, from the authentication certificate's start (UTC).
    pub file_name: String,
    /// The PKCS#12 file.
    pub bytes: Vec<u8>,
    /// The password that opens the file.
    pub password: String,
    /// Text of the password file beside the keystore: the password, except for
    /// [`Variant::WrongPassword`].
    pub password_file_text: String,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("file_name", &self.file_name)
            .field("bytes", &self.bytes.len())
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A generated test doctor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doctor {
    pub spec: DoctorSpec,
    /// Keystore alias `authentication`: signs WS-Security messages and is the SAML holder-of-key.
    pub authentication: Credential,
    /// Encryption credentials, oldest first. The keystore aliases each by its decimal serial.
    pub encryption: Vec<Credential>,
    pub keystore: Keystore,
}

impl Doctor {
    /// Returns the newest encryption credential, the one a fresh ETK publishes.
    ///
    /// Panics if `encryption` is empty, which [`TestPki::generate`] and [`TestPki::load_from`]
    /// never produce.
    pub fn current_encryption(&self) -> &Credential {
        &self.encryption[self.encryption.len() - 1]
    }
}

/// The whole test PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPki {
    pub seed: u64,
    /// The `now` the PKI was generated for, in whole seconds.
    pub created_at: Timestamp,
    pub root: Credential,
    pub issuing: Credential,
    pub sts: Credential,
    pub etk_ra: Credential,
    pub tls_server: Credential,
    pub doctors: Vec<Doctor>,
}

impl TestPki {
    /// Generates the PKI with realistic keystore iteration counts.
    ///
    /// Same `seed`, `now` and `doctors` give identical keys, certificates and keystore files.
    pub fn generate(seed: u64, now: Timestamp, doctors: &[DoctorSpec]) -> Result<Self, PkiError> {
        Self::generate_with(seed, now, doctors, &KeystoreOptions::default())
    }

    /// Generates the PKI with the given keystore iteration counts.
    pub fn generate_with(
        seed: u64,
        now: Timestamp,
        doctors: &[DoctorSpec],
        options: &KeystoreOptions,
    ) -> Result<Self, PkiError> {
        check_doctors(doctors)?;
        let now = whole_seconds(now)?;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);

        let root = issue_root(&mut rng, now)?;
        let issuing = issue_credential(
            &mut rng,
            &root,
            CertificateRequest {
                subject: cert::name(ISSUING_CA_SUBJECT)?,
                not_before: add_years(now, -5)?,
                not_after: add_years(now, 10)?,
                usage: Usage::Authority { path_len: Some(0) },
            },
        )?;
        let sts = issue_signer(&mut rng, &issuing, STS_SUBJECT, now)?;
        let etk_ra = issue_signer(&mut rng, &issuing, ETK_RA_SUBJECT, now)?;
        let tls_server = issue_tls_server(&mut rng, &issuing, now)?;

        let mut pki = Self {
            seed,
            created_at: now,
            root,
            issuing,
            sts,
            etk_ra,
            tls_server,
            doctors: Vec::new(),
        };
        for spec in doctors {
            let doctor = pki.generate_doctor(&mut rng, spec, options)?;
            pki.doctors.push(doctor);
        }
        Ok(pki)
    }

    /// Returns the CA certificates above a doctor's authentication certificate: issuing CA,
    /// then root.
    pub fn ca_chain(&self) -> [&Credential; 2] {
        [&self.issuing, &self.root]
    }

    /// Finds a doctor by INSZ.
    pub fn doctor(&self, ssin: &str) -> Option<&Doctor> {
        self.doctors.iter().find(|doctor| doctor.spec.ssin == ssin)
    }

    fn generate_doctor(
        &self,
        rng: &mut ChaCha20Rng,
        spec: &DoctorSpec,
        options: &KeystoreOptions,
    ) -> Result<Doctor, PkiError> {
        let (not_before, not_after) = doctor_validity(spec.variant, self.created_at)?;
        let authentication = issue_credential(
            rng,
            &self.issuing,
            CertificateRequest {
                subject: cert::name(&spec.subject())?,
                not_before,
                not_after,
                usage: Usage::Signing,
            },
        )?;

        let mut encryption = Vec::new();
        if spec.variant == Variant::TwoEncryptionKeys {
            let old_start = add_years(not_before, -1)?;
            let old_end = add_years(old_start, DOCTOR_CERT_YEARS)?;
            encryption.push(issue_encryption(rng, &authentication, old_start, old_end)?);
        }
        encryption.push(issue_encryption(
            rng,
            &authentication,
            not_before,
            not_after,
        )?);

        let keystore = self.build_keystore(rng, spec, &authentication, &encryption, options)?;
        Ok(Doctor {
            spec: spec.clone(),
            authentication,
            encryption,
            keystore,
        })
    }

    fn build_keystore(
        &self,
        rng: &mut ChaCha20Rng,
        spec: &DoctorSpec,
        authentication: &Credential,
        encryption: &[Credential],
        options: &KeystoreOptions,
    ) -> Result<Keystore, PkiError> {
        let password = random_password(rng);
        let password_file_text = match spec.variant {
            Variant::WrongPassword => wrong_password(rng, &password),
            _ => password.clone(),
        };

        let mut credentials = vec![("authentication".to_owned(), authentication)];
        for credential in encryption {
            credentials.push((credential.serial_decimal(), credential));
        }
        let mut prepared = Vec::new();
        for (index, (alias, credential)) in credentials.into_iter().enumerate() {
            // Distinct per entry even when two certificates start in the same millisecond.
            let millis = credential.not_before().as_millisecond() + index as i64;
            let local_key_id = format!("Time {millis}").into_bytes();
            prepared.push((alias, local_key_id, credential.key_pkcs8_der()?, credential));
        }
        let entries: Vec<KeyEntry<'_>> = prepared
            .iter()
            .map(|(alias, local_key_id, key, credential)| KeyEntry {
                alias,
                local_key_id,
                key_pkcs8_der: key.as_bytes(),
                certificate_der: credential.certificate_der(),
            })
            .collect();

        let subjects = self.ca_chain().map(|ca| ca.subject());
        let chain: Vec<ChainCertificate<'_>> = self
            .ca_chain()
            .iter()
            .zip(subjects.iter())
            .map(|(ca, subject)| ChainCertificate {
                friendly_name: subject,
                certificate_der: ca.certificate_der(),
            })
            .collect();

        let bytes = keystore::write_pkcs12(&entries, &chain, &password, options, rng).map_err(
            |source| PkiError::Keystore {
                ssin: spec.ssin.clone(),
                source,
            },
        )?;
        Ok(Keystore {
            file_name: keystore_file_name(&spec.ssin, authentication.not_before())?,
            bytes,
            password,
            password_file_text,
        })
    }
}

/// Returns the demo preset: three doctors of a group practice, then one doctor per negative case
/// (expired, expiring in 10 days, two encryption keys, wrong password file, not recognised as a
/// doctor). Names are invented, and INSZ and RIZIV numbers have valid check digits.
pub fn practice() -> Vec<DoctorSpec> {
    let doctor = |first: &str, last: &str, birth, serial, riziv| {
        let ssin = ids::insz_from_birth_date(birth, serial).unwrap_or_default();
        let nihii = ids::nihii11(riziv, 4).unwrap_or_default();
        DoctorSpec::new(first, last, &ssin, &nihii)
    };
    vec![
        doctor("Lotte", "Vermeiren", date(1978, 3, 14), 142, 170_412),
        doctor("Bram", "Van Damme", date(1983, 11, 2), 87, 171_390),
        doctor("Yasmina", "Haddouchi", date(2001, 6, 27), 216, 198_765),
        doctor("Koen", "Verstraeten", date(1961, 8, 9), 33, 140_221).with_variant(Variant::Expired),
        doctor("Griet", "Wuyts", date(1970, 1, 30), 58, 152_007).with_variant(Variant::ExpiresSoon),
        doctor("Pieter", "Goossens", date(1975, 5, 5), 301, 161_554)
            .with_variant(Variant::TwoEncryptionKeys),
        doctor("Anouk", "Declercq", date(1988, 12, 12), 404, 181_818)
            .with_variant(Variant::WrongPassword),
        doctor("Jonas", "Pauwels", date(1992, 4, 1), 77, 190_031).not_recognised_as_doctor(),
    ]
}

fn check_doctors(doctors: &[DoctorSpec]) -> Result<(), PkiError> {
    let mut seen = BTreeSet::new();
    for spec in doctors {
        spec.validate()?;
        if !seen.insert(spec.ssin.as_str()) {
            return Err(PkiError::DuplicateDoctor {
                ssin: spec.ssin.clone(),
            });
        }
    }
    Ok(())
}

fn issue_root(rng: &mut ChaCha20Rng, now: Timestamp) -> Result<Credential, PkiError> {
    let key = cert::generate_key(rng)?;
    let serial = cert::random_serial(rng)?;
    let request = CertificateRequest {
        subject: cert::name(ROOT_CA_SUBJECT)?,
        not_before: add_years(now, -5)?,
        not_after: add_years(now, 15)?,
        usage: Usage::Authority { path_len: None },
    };
    let certificate = cert::issue(request, serial, key.as_public_key(), None, &key)?;
    Credential::new(certificate, key)
}

fn issue_credential(
    rng: &mut ChaCha20Rng,
    issuer: &Credential,
    request: CertificateRequest,
) -> Result<Credential, PkiError> {
    let key = cert::generate_key(rng)?;
    let serial = cert::random_serial(rng)?;
    let certificate = cert::issue(request, serial, key.as_public_key(), Some(issuer), &key)?;
    Credential::new(certificate, key)
}

fn issue_signer(
    rng: &mut ChaCha20Rng,
    issuing: &Credential,
    subject: &str,
    now: Timestamp,
) -> Result<Credential, PkiError> {
    let request = CertificateRequest {
        subject: cert::name(subject)?,
        not_before: add_years(now, -1)?,
        not_after: add_years(now, 5)?,
        usage: Usage::Signing,
    };
    issue_credential(rng, issuing, request)
}

fn issue_tls_server(
    rng: &mut ChaCha20Rng,
    issuing: &Credential,
    now: Timestamp,
) -> Result<Credential, PkiError> {
    let request = CertificateRequest {
        subject: cert::name(TLS_SERVER_SUBJECT)?,
        not_before: shift(now, SignedDuration::from_hours(-24))?,
        not_after: add_years(now, 2)?,
        usage: Usage::TlsServer {
            dns: vec!["localhost".to_owned()],
            ips: vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
        },
    };
    issue_credential(rng, issuing, request)
}

/// Issues a "proxy" encryption certificate: issuer DN is the authentication subject and the
/// authentication key signs it.
fn issue_encryption(
    rng: &mut ChaCha20Rng,
    authentication: &Credential,
    not_before: Timestamp,
    not_after: Timestamp,
) -> Result<Credential, PkiError> {
    let request = CertificateRequest {
        subject: authentication
            .certificate()
            .tbs_certificate()
            .subject()
            .clone(),
        not_before,
        not_after,
        usage: Usage::Encryption,
    };
    issue_credential(rng, authentication, request)
}

fn doctor_validity(variant: Variant, now: Timestamp) -> Result<(Timestamp, Timestamp), PkiError> {
    let one_day = SignedDuration::from_hours(24);
    let not_after = match variant {
        Variant::Expired => shift(now, -one_day)?,
        Variant::ExpiresSoon => shift(now, one_day * 10)?,
        Variant::Normal | Variant::TwoEncryptionKeys | Variant::WrongPassword => {
            let not_before = shift(now, -one_day)?;
            return Ok((not_before, add_years(not_before, DOCTOR_CERT_YEARS)?));
        }
    };
    Ok((add_years(not_after, -DOCTOR_CERT_YEARS)?, not_after))
}

fn keystore_file_name(ssin: &str, created: Timestamp) -> Result<String, PkiError> {
    let stamp = created
        .to_zoned_datetime(TimeZone::UTC)
        .strftime("%Y%m%d-%H%M%S");
    Ok(format!("SSIN={ssin} {stamp}.acc-p12"))
}

fn random_password(rng: &mut ChaCha20Rng) -> String {
    (0..PASSWORD_LEN)
        .map(|_| char::from(PASSWORD_ALPHABET[random_below(rng, PASSWORD_ALPHABET.len())]))
        .collect()
}

fn wrong_password(rng: &mut ChaCha20Rng, password: &str) -> String {
    loop {
        let candidate = random_password(rng);
        if candidate != password {
            return candidate;
        }
    }
}

/// Draws a uniform index below `bound` (rejection sampling, no modulo bias).
fn random_below(rng: &mut ChaCha20Rng, bound: usize) -> usize {
    let bound = bound as u32;
    let zone = u32::MAX - u32::MAX % bound;
    loop {
        let value = rng.next_u32();
        if value < zone {
            return (value % bound) as usize;
        }
    }
}

fn whole_seconds(instant: Timestamp) -> Result<Timestamp, PkiError> {
    Timestamp::from_second(instant.as_second()).map_err(|_| PkiError::TimeOutOfRange { instant })
}

fn shift(instant: Timestamp, delta: SignedDuration) -> Result<Timestamp, PkiError> {
    instant
        .checked_add(delta)
        .map_err(|_| PkiError::TimeOutOfRange { instant })
}

/// Adds calendar years in UTC (29 February becomes 28 February in a common year).
fn add_years(instant: Timestamp, years: i64) -> Result<Timestamp, PkiError> {
    instant
        .to_zoned_datetime(TimeZone::UTC)
        .checked_add(years.years())
        .map(|zoned| zoned.timestamp())
        .map_err(|_| PkiError::TimeOutOfRange { instant })
}
