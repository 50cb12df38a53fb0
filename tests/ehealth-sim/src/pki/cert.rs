//! X.509 issuance for the test PKI: RSA key generation from the seeded RNG, names, extensions and
//! certificates signed with RSA PKCS#1 v1.5 SHA-256.

use std::net::IpAddr;
use std::str::FromStr;

use der::asn1::{GeneralizedTime, Ia5String, OctetString};
use der::oid::AssociatedOid;
use der::{Encode, EncodePem};
use jiff::Timestamp;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::Rng;
use rsa::pkcs1v15::SigningKey;
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::PkiError;

/// RSA modulus size of every key in the test PKI, as in the real eHealth keystores.
pub const RSA_BITS: usize = 2048;

/// `id-kp-serverAuth` (RFC 5280 section 4.2.1.12).
const SERVER_AUTH: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");

/// A certificate with its private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    certificate: Certificate,
    certificate_der: Vec<u8>,
    key: PrivateKey,
}

impl Credential {
    /// Pairs a certificate with its key, checking that the key belongs to the certificate.
    pub fn new(certificate: Certificate, key: PrivateKey) -> Result<Self, PkiError> {
        let certificate_der = certificate.to_der().map_err(PkiError::Encoding)?;
        let credential = Self {
            certificate,
            certificate_der,
            key,
        };
        if credential.public_key_info()? != spki_of(credential.key.as_public_key())? {
            return Err(PkiError::KeyMismatch {
                subject: credential.subject(),
            });
        }
        Ok(credential)
    }

    /// Returns the parsed certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Returns the certificate in DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// Returns the certificate as a PEM `CERTIFICATE` block.
    pub fn certificate_pem(&self) -> Result<String, PkiError> {
        self.certificate
            .to_pem(der::pem::LineEnding::LF)
            .map_err(PkiError::Encoding)
    }

    /// Returns the RSA private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// Returns a PKCS#1 v1.5 SHA-256 signer over the private key.
    pub fn signing_key(&self) -> SigningKey<Sha256> {
        SigningKey::new(self.key.clone())
    }

    /// Returns the private key as PKCS#8 DER.
    pub fn key_pkcs8_der(&self) -> Result<pkcs8::SecretDocument, PkiError> {
        use pkcs8::EncodePrivateKey;
        self.key.to_pkcs8_der().map_err(PkiError::KeyEncoding)
    }

    /// Returns the private key as a PKCS#8 PEM `PRIVATE KEY` block.
    pub fn key_pkcs8_pem(&self) -> Result<der::zeroize::Zeroizing<String>, PkiError> {
        use pkcs8::EncodePrivateKey;
        self.key
            .to_pkcs8_pem(der::pem::LineEnding::LF)
            .map_err(PkiError::KeyEncoding)
    }

    /// Returns the subject DN in RFC 4514 order (most specific attribute first).
    pub fn subject(&self) -> String {
        self.certificate.tbs_certificate().subject().to_string()
    }

    /// Returns the serial number in decimal, the form eHealth keystores use as encryption key alias.
    pub fn serial_decimal(&self) -> String {
        decimal_from_be_bytes(
            self.certificate
                .tbs_certificate()
                .serial_number()
                .as_bytes(),
        )
    }

    /// Returns the start of the validity period.
    pub fn not_before(&self) -> Timestamp {
        timestamp_of(self.certificate.tbs_certificate().validity().not_before)
    }

    /// Returns the end of the validity period.
    pub fn not_after(&self) -> Timestamp {
        timestamp_of(self.certificate.tbs_certificate().validity().not_after)
    }

    fn public_key_info(&self) -> Result<Vec<u8>, PkiError> {
        self.certificate
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(PkiError::Encoding)
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("subject", &self.subject())
            .field("serial", &self.serial_decimal())
            .field("key", &"<RSA private key>")
            .finish()
    }
}

/// What a new certificate is for, which decides its extensions.
#[derive(Debug, Clone)]
pub(crate) enum Usage {
    /// A CA whose `path_len` limits the CAs below it.
    Authority { path_len: Option<u8> },
    /// An end-entity signing key (authentication, STS, ETK-RA).
    Signing,
    /// An eHealth "proxy" encryption certificate: keyUsage critical {keyEncipherment,
    /// dataEncipherment} and nothing else.
    Encryption,
    /// A TLS server with DNS and IP subject alternative names.
    TlsServer { dns: Vec<String>, ips: Vec<IpAddr> },
}

/// Everything about a certificate to issue except its key and signer.
#[derive(Debug, Clone)]
pub(crate) struct CertificateRequest {
    pub subject: Name,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub usage: Usage,
}

/// Generates an RSA 2048 key from the seeded RNG.
pub(crate) fn generate_key(rng: &mut ChaCha20Rng) -> Result<PrivateKey, PkiError> {
    PrivateKey::new(rng, RSA_BITS).map_err(PkiError::KeyGeneration)
}

/// Draws a positive serial of exactly 16 bytes (126 random bits), like the long decimal serials
/// of eHealth encryption certificates.
pub(crate) fn random_serial(rng: &mut ChaCha20Rng) -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    // Clear the sign bit and set the next one so the DER INTEGER is positive and 16 bytes long.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(PkiError::Encoding)
}

/// Issues a certificate for `subject_key`, signed by `issuer` (or self-signed when `None`).
pub(crate) fn issue(
    request: CertificateRequest,
    serial: SerialNumber,
    subject_key: &PublicKey,
    issuer: Option<&Credential>,
    self_key: &PrivateKey,
) -> Result<Certificate, PkiError> {
    let subject_text = request.subject.to_string();
    let certificate_error = |source| PkiError::Certificate {
        subject: subject_text.clone(),
        source,
    };

    let (issuer_name, signer_key) = match issuer {
        Some(issuer) => (
            issuer.certificate().tbs_certificate().subject().clone(),
            issuer.key(),
        ),
        None => (request.subject.clone(), self_key),
    };
    let subject_spki = SubjectPublicKeyInfoOwned::from_key(subject_key)
        .map_err(|source| PkiError::PublicKeyEncoding(source.to_string()))?;
    let issuer_spki = SubjectPublicKeyInfoOwned::from_key(signer_key.as_public_key())
        .map_err(|source| PkiError::PublicKeyEncoding(source.to_string()))?;

    let validity = Validity::new(time_of(request.not_before)?, time_of(request.not_after)?);
    let profile = FixedNames {
        subject: request.subject.clone(),
        issuer: issuer_name,
    };
    let mut builder = CertificateBuilder::new(profile, serial, validity, subject_spki.clone())
        .map_err(certificate_error)?;
    for extension in extensions_for(&request.usage, &subject_spki, &issuer_spki, issuer)? {
        builder
            .add_extension(extension)
            .map_err(PkiError::Encoding)?;
    }

    let signer = SigningKey::<Sha256>::new(signer_key.clone());
    builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .map_err(certificate_error)
}

/// Builds a name from attributes listed in RFC 4514 order (most specific first), so that the
/// name prints back exactly as written. Values must not contain `,`, `+`, `"`, `\`, `<`, `>` or
/// `;`.
pub(crate) fn name(rfc4514: &str) -> Result<Name, PkiError> {
    Name::from_str(rfc4514).map_err(|source| PkiError::Name {
        name: rfc4514.to_owned(),
        source,
    })
}

/// Converts big-endian unsigned bytes to decimal digits.
pub(crate) fn decimal_from_be_bytes(bytes: &[u8]) -> String {
    let mut number: Vec<u8> = bytes
        .iter()
        .copied()
        .skip_while(|byte| *byte == 0)
        .collect();
    if number.is_empty() {
        return "0".to_owned();
    }

    let mut digits = Vec::new();
    while !number.is_empty() {
        // Long division of the whole number by 10, whose remainder is the next digit.
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 10) as u8;
            remainder = value % 10;
        }
        digits.push(b'0' + remainder as u8);
        let leading_zeros = number.iter().take_while(|byte| **byte == 0).count();
        number.drain(..leading_zeros);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// Verifies that `certificate` is signed (PKCS#1 v1.5 SHA-256) by `issuer_key`.
pub fn verify_signature(certificate: &Certificate, issuer_key: &PublicKey) -> Result<(), PkiError> {
    use signature::Verifier;

    let tbs = certificate
        .tbs_certificate()
        .to_der()
        .map_err(PkiError::Encoding)?;
    let signature = rsa::pkcs1v15::Signature::try_from(certificate.signature().raw_bytes())
        .map_err(|_| PkiError::BadSignature {
            subject: certificate.tbs_certificate().subject().to_string(),
        })?;
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(issuer_key.clone())
        .verify(&tbs, &signature)
        .map_err(|_| PkiError::BadSignature {
            subject: certificate.tbs_certificate().subject().to_string(),
        })
}

fn extensions_for(
    usage: &Usage,
    subject_spki: &SubjectPublicKeyInfoOwned,
    issuer_spki: &SubjectPublicKeyInfoOwned,
    issuer: Option<&Credential>,
) -> Result<Vec<Extension>, PkiError> {
    let mut extensions = Vec::new();
    let subject_key_id = key_identifier(subject_spki)?;
    let authority_key_id = key_identifier(issuer_spki)?;
    let mut push = |extension: Result<Extension, der::Error>| -> Result<(), PkiError> {
        extensions.push(extension.map_err(PkiError::Encoding)?);
        Ok(())
    };

    match usage {
        Usage::Authority { path_len } => {
            let usages = KeyUsages::KeyCertSign | KeyUsages::CRLSign | KeyUsages::DigitalSignature;
            push(encode_extension(
                BasicConstraints {
                    ca: true,
                    path_len_constraint: *path_len,
                },
                true,
            ))?;
            push(encode_extension(KeyUsage(usages), true))?;
        }
        Usage::Signing => {
            let usages = KeyUsages::DigitalSignature | KeyUsages::NonRepudiation;
            push(encode_extension(KeyUsage(usages), true))?;
        }
        Usage::Encryption => {
            let usages = KeyUsages::KeyEncipherment | KeyUsages::DataEncipherment;
            push(encode_extension(KeyUsage(usages), true))?;
            // The real proxy certificates carry no key identifiers.
            return Ok(extensions);
        }
        Usage::TlsServer { dns, ips } => {
            let usages = KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment;
            push(encode_extension(KeyUsage(usages), true))?;
            push(encode_extension(ExtendedKeyUsage(vec![SERVER_AUTH]), false))?;
            push(encode_extension(subject_alt_name(dns, ips)?, false))?;
        }
    }

    push(encode_extension(
        SubjectKeyIdentifier(OctetString::new(subject_key_id).map_err(PkiError::Encoding)?),
        false,
    ))?;
    if issuer.is_some() {
        push(encode_extension(
            AuthorityKeyIdentifier {
                key_identifier: Some(
                    OctetString::new(authority_key_id).map_err(PkiError::Encoding)?,
                ),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
            false,
        ))?;
    }
    Ok(extensions)
}

fn encode_extension<T>(value: T, critical: bool) -> Result<Extension, der::Error>
where
    T: der::Encode + AssociatedOid,
{
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

fn subject_alt_name(dns: &[String], ips: &[IpAddr]) -> Result<SubjectAltName, PkiError> {
    let mut names = Vec::new();
    for host in dns {
        let host = Ia5String::new(host).map_err(PkiError::Encoding)?;
        names.push(GeneralName::DnsName(host));
    }
    for ip in ips {
        names.push(GeneralName::from(*ip));
    }
    Ok(SubjectAltName(names))
}

/// Key identifier as in RFC 5280 section 4.2.1.2 method 1: SHA-1 of the public key bits.
fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Result<Vec<u8>, PkiError> {
    let key_bits = spki.subject_public_key.as_bytes().ok_or_else(|| {
        PkiError::PublicKeyEncoding("public key bit string is not whole bytes".into())
    })?;
    Ok(Sha1::digest(key_bits).to_vec())
}

fn spki_of(key: &PublicKey) -> Result<Vec<u8>, PkiError> {
    key.to_public_key_der()
        .map(|document| document.as_bytes().to_vec())
        .map_err(|source| PkiError::PublicKeyEncoding(source.to_string()))
}

fn time_of(instant: Timestamp) -> Result<Time, PkiError> {
    let seconds =
        u64::try_from(instant.as_second()).map_err(|_| PkiError::TimeOutOfRange { instant })?;
    let generalized = GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(seconds))
        .map_err(|_| PkiError::TimeOutOfRange { instant })?;
    Ok(Time::GeneralTime(generalized))
}

fn timestamp_of(time: Time) -> Timestamp {
    let seconds = time.to_unix_duration().as_secs();
    i64::try_from(seconds)
        .ok()
        .and_then(|seconds| Timestamp::from_second(seconds).ok())
        .unwrap_or(Timestamp::MAX)
}

/// A builder profile that only sets the subject and issuer: [`issue`] adds the extensions.
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
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(Vec::new())
    }
}

/// Returns the modulus size of a key in bits.
pub fn modulus_bits(key: &PublicKey) -> usize {
    key.n().bit_width() as usize
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    #[test]
    fn decimal_conversion_matches_u128() {
        let cases: [u128; 5] = [
            0,
            9,
            10,
            255,
            19_088_378_040_904_364_161_854_366_057_849_601_424,
        ];
        for value in cases {
            let bytes = value.to_be_bytes();
            assert_eq!(decimal_from_be_bytes(&bytes), value.to_string());
        }
        assert_eq!(decimal_from_be_bytes(&[]), "0");
    }

    #[test]
    fn random_serial_is_positive_16_bytes() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for _ in 0..32 {
            let serial = random_serial(&mut rng).unwrap();
            let bytes = serial.as_bytes();
            assert_eq!(bytes.len(), 16);
            assert_eq!(bytes[0] & 0xc0, 0x40);
        }
    }

    #[test]
    fn name_prints_in_given_order() {
        let text = "CN=SSIN=79021802145,OU=eHealth-platform Belgium,OU=AN EXAMPLE,\
                    OU=SSIN=79021802145,O=Federal Government,C=BE";
        let parsed = name(text).unwrap();
        assert_eq!(parsed.to_string(), text);
        // DER order is the reverse: the country comes first.
        let first = parsed.iter().next().unwrap().to_string();
        assert_eq!(first, "C=BE");
    }

    #[test]
    fn name_error_names_input() {
        let error = name("CN").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid distinguished name \"CN\""),
            "{error}"
        );
    }
}
