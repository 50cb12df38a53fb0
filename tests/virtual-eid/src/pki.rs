//! The virtual card's test PKI, generated deterministically from a seed: a TEST Belgian root, a
//! TEST citizen CA and a TEST National Register (RRN) certificate, and the citizen's
//! authentication and non-repudiation certificates.
//!
//! Applet 1.7 cards get RSA-2048 keys signed with SHA-256; applet 1.8 cards get ECDSA P-384 keys
//! signed with SHA-384. Every name says TEST, so nothing here can pass for a real certificate.
//! Generating RSA keys takes seconds, so each (applet, seed, citizen) PKI is built once per
//! process and shared.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use der::asn1::{GeneralizedTime, OctetString};
use der::oid::AssociatedOid;
use der::{Encode, EncodePem};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::EmulatorError;
use crate::profile::Applet;

/// A private key of the test PKI.
#[derive(Clone)]
pub enum TestKey {
    /// RSA-2048 (applet 1.7).
    Rsa(rsa::PrivateKey),
    /// ECDSA P-384 (applet 1.8).
    P384(p384::ecdsa::SigningKey),
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa(_) => f.write_str("TestKey::Rsa(<private>)"),
            Self::P384(_) => f.write_str("TestKey::P384(<private>)"),
        }
    }
}

impl TestKey {
    fn generate(applet: Applet, rng: &mut ChaCha20Rng) -> Result<Self, EmulatorError> {
        match applet {
            Applet::V1_7 => rsa::PrivateKey::new(rng, 2048)
                .map(Self::Rsa)
                .map_err(|error| EmulatorError::Pki(format!("RSA key generation failed: {error}"))),
            Applet::V1_8 => loop {
                let mut scalar = [0u8; 48];
                rng.fill_bytes(&mut scalar);
                // Out-of-range scalars are rare (about 2^-190); draw again.
                if let Ok(key) = p384::ecdsa::SigningKey::from_slice(&scalar) {
                    return Ok(Self::P384(key));
                }
            },
        }
    }

    fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned, EmulatorError> {
        let der = match self {
            Self::Rsa(key) => key.as_public_key().to_public_key_der(),
            Self::P384(key) => key.verifying_key().to_public_key_der(),
        }
        .map_err(|error| EmulatorError::Pki(format!("public key encoding failed: {error}")))?;
        SubjectPublicKeyInfoOwned::try_from(der.as_bytes())
            .map_err(|error| EmulatorError::Pki(format!("public key decoding failed: {error}")))
    }
}

/// A certificate and its key.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub certificate: Certificate,
    /// The certificate in DER.
    pub der: Vec<u8>,
    /// Its private key.
    pub key: TestKey,
}

impl Issued {
    /// Returns the certificate as a PEM block.
    pub fn pem(&self) -> Result<String, EmulatorError> {
        self.certificate
            .to_pem(der::pem::LineEnding::LF)
            .map_err(|error| EmulatorError::Pki(format!("PEM encoding failed: {error}")))
    }
}

/// The complete test PKI of one virtual card.
#[derive(Debug)]
pub struct CardPki {
    /// TEST Belgium root CA: the trust anchor to configure on the box for this card.
    pub root: Issued,
    /// TEST citizen CA, issued by the root.
    pub citizen_ca: Issued,
    /// TEST National Register certificate, issued by the root; signs identity and address.
    pub rrn: Issued,
    /// Citizen authentication certificate (key 82).
    pub authentication: Issued,
    /// Citizen non-repudiation certificate (key 83).
    pub non_repudiation: Issued,
    /// Basic key of applet 1.8 (key 81); `None` on 1.7.
    pub basic_key: Option<TestKey>,
}

/// Who the citizen certificates are for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateHolder {
    /// National register number.
    pub ssin: String,
    /// Surname.
    pub name: String,
    /// Given names.
    pub first_names: String,
}

type PkiCache = Mutex<HashMap<(Applet, u64, CertificateHolder), Arc<CardPki>>>;

/// Returns the PKI for `applet`, `seed` and `holder`, generating it on first use in this process.
pub fn card_pki(
    applet: Applet,
    seed: u64,
    holder: &CertificateHolder,
) -> Result<Arc<CardPki>, EmulatorError> {
    static CACHE: OnceLock<PkiCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (applet, seed, holder.clone());
    // Generation runs under the lock, so two tests never generate the same keys twice.
    let mut cache = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pki) = cache.get(&key) {
        return Ok(Arc::clone(pki));
    }
    let pki = Arc::new(generate(applet, seed, holder)?);
    cache.insert(key, Arc::clone(&pki));
    Ok(pki)
}

fn generate(
    applet: Applet,
    seed: u64,
    holder: &CertificateHolder,
) -> Result<CardPki, EmulatorError> {
    // One RNG stream per key, so adding a key never changes the others.
    let rng_for = |label: &str| {
        let mut hasher = Sha256::new();
        hasher.update(seed.to_be_bytes());
        hasher.update(applet.label().as_bytes());
        hasher.update(label.as_bytes());
        ChaCha20Rng::from_seed(hasher.finalize().into())
    };
    let generation = applet.label();

    let root_key = TestKey::generate(applet, &mut rng_for("root"))?;
    let root = issue(
        &format!("CN=TEST Belgium Root CA {generation},C=BE"),
        None,
        root_key,
        Role::Authority,
        (2020, 2045),
        1,
    )?;
    let citizen_ca = issue(
        &format!("CN=TEST Citizen CA {generation},serialNumber=202001,C=BE"),
        Some(&root),
        TestKey::generate(applet, &mut rng_for("citizen-ca"))?,
        Role::Authority,
        (2020, 2040),
        2,
    )?;
    let rrn = issue(
        &format!("CN=TEST RRN {generation},O=RRN,C=BE"),
        Some(&root),
        TestKey::generate(applet, &mut rng_for("rrn"))?,
        Role::NonRepudiation,
        (2020, 2040),
        3,
    )?;
    let citizen = |purpose: &str| {
        format!(
            "CN=TEST {} {} ({purpose}),serialNumber={},C=BE",
            holder.first_names, holder.name, holder.ssin
        )
    };
    let authentication = issue(
        &citizen("Authentication"),
        Some(&citizen_ca),
        TestKey::generate(applet, &mut rng_for("authentication"))?,
        Role::Authentication,
        (2024, 2034),
        4,
    )?;
    let non_repudiation = issue(
        &citizen("Signature"),
        Some(&citizen_ca),
        TestKey::generate(applet, &mut rng_for("non-repudiation"))?,
        Role::NonRepudiation,
        (2024, 2034),
        5,
    )?;
    let basic_key = match applet {
        Applet::V1_7 => None,
        Applet::V1_8 => Some(TestKey::generate(applet, &mut rng_for("basic"))?),
    };
    Ok(CardPki {
        root,
        citizen_ca,
        rrn,
        authentication,
        non_repudiation,
        basic_key,
    })
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Authority,
    Authentication,
    NonRepudiation,
}

fn issue(
    subject: &str,
    issuer: Option<&Issued>,
    key: TestKey,
    role: Role,
    (first_year, last_year): (i16, i16),
    serial: u8,
) -> Result<Issued, EmulatorError> {
    let subject = Name::from_str(subject)
        .map_err(|error| EmulatorError::Pki(format!("bad name {subject:?}: {error}")))?;
    let (issuer_name, signer) = match issuer {
        Some(issuer) => (
            issuer.certificate.tbs_certificate().subject().clone(),
            &issuer.key,
        ),
        None => (subject.clone(), &key),
    };
    let subject_spki = key.public_key_info()?;
    let issuer_spki = signer.public_key_info()?;
    let validity = Validity::new(january_first(first_year)?, january_first(last_year)?);
    let serial = SerialNumber::new(&[0x10, serial]).map_err(pki_error)?;
    let profile = FixedNames {
        subject,
        issuer: issuer_name,
    };

    let mut builder = CertificateBuilder::new(profile, serial, validity, subject_spki.clone())
        .map_err(pki_error)?;
    for extension in extensions(role, &subject_spki, &issuer_spki)? {
        builder.add_extension(extension).map_err(pki_error)?;
    }
    let certificate = match signer {
        TestKey::Rsa(private) => {
            let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(private.clone());
            builder.build::<_, rsa::pkcs1v15::Signature>(&signer)
        }
        TestKey::P384(signing_key) => builder.build::<_, p384::ecdsa::DerSignature>(signing_key),
    }
    .map_err(pki_error)?;
    let der = certificate.to_der().map_err(pki_error)?;
    Ok(Issued {
        certificate,
        der,
        key,
    })
}

fn extensions(
    role: Role,
    subject_spki: &SubjectPublicKeyInfoOwned,
    issuer_spki: &SubjectPublicKeyInfoOwned,
) -> Result<Vec<Extension>, EmulatorError> {
    let mut extensions = Vec::new();
    match role {
        Role::Authority => {
            extensions.push(extension(
                BasicConstraints {
                    ca: true,
                    path_len_constraint: None,
                },
                true,
            )?);
            extensions.push(extension(
                KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
                true,
            )?);
        }
        Role::Authentication => {
            extensions.push(extension(
                KeyUsage(KeyUsages::DigitalSignature.into()),
                true,
            )?);
        }
        Role::NonRepudiation => {
            extensions.push(extension(KeyUsage(KeyUsages::NonRepudiation.into()), true)?);
        }
    }
    extensions.push(extension(
        SubjectKeyIdentifier(OctetString::new(key_identifier(subject_spki)).map_err(pki_error)?),
        false,
    )?);
    extensions.push(extension(
        AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(key_identifier(issuer_spki)).map_err(pki_error)?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        },
        false,
    )?);
    Ok(extensions)
}

fn extension<T: Encode + AssociatedOid>(
    value: T,
    critical: bool,
) -> Result<Extension, EmulatorError> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(pki_error)?).map_err(pki_error)?,
    })
}

/// SHA-1 of the public key bits (RFC 5280 section 4.2.1.2, method 1).
fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec()
}

fn january_first(year: i16) -> Result<Time, EmulatorError> {
    let date = jiff::civil::date(year, 1, 1);
    let seconds = jiff::tz::TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .map_err(pki_error)?
        .as_second();
    let seconds = u64::try_from(seconds).map_err(pki_error)?;
    let time =
        GeneralizedTime::from_unix_duration(Duration::from_secs(seconds)).map_err(pki_error)?;
    Ok(Time::GeneralTime(time))
}

fn pki_error(error: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Pki(error.to_string())
}

struct FixedNames {
    subject: Name,
    issuer: Name,
}

impl BuilderProfile for FixedNames {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::certificate::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(Vec::new())
    }
}
