//! Shared helpers for the XML security tests: deterministic RSA keys with self-signed
//! certificates, and a runner for the independent `xmlsec1` verifier.

// Each test binary uses a different part of this module, and a failed setup step should panic.
#![allow(dead_code, clippy::unwrap_used)]

use std::process::Command;
use std::str::FromStr;
use std::sync::OnceLock;

use der::Encode as _;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng as _;
use x509_cert::builder::{Builder as _, CertificateBuilder, profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:1.0:assertion";

/// An RSA key with a self-signed certificate for it.
#[derive(Debug)]
pub struct TestIdentity {
    pub key: rsa::PrivateKey,
    pub certificate_der: Vec<u8>,
}

impl TestIdentity {
    pub fn public_key(&self) -> rsa::PublicKey {
        self.key.to_public_key()
    }

    pub fn certificate_pem(&self) -> String {
        pem("CERTIFICATE", &self.certificate_der)
    }
}

/// The appliance's eHealth authentication identity (signs STS requests, holder-of-key).
pub fn client() -> &'static TestIdentity {
    static IDENTITY: OnceLock<TestIdentity> = OnceLock::new();
    IDENTITY.get_or_init(|| identity(1, "CN=Test Appliance,O=Test,C=BE"))
}

/// The simulated STS, which signs SAML assertions.
pub fn sts() -> &'static TestIdentity {
    static IDENTITY: OnceLock<TestIdentity> = OnceLock::new();
    IDENTITY.get_or_init(|| identity(2, "CN=Test STS,O=Test,C=BE"))
}

/// A key nobody trusts, for attacker cases.
pub fn intruder() -> &'static TestIdentity {
    static IDENTITY: OnceLock<TestIdentity> = OnceLock::new();
    IDENTITY.get_or_init(|| identity(3, "CN=Intruder,O=Test,C=BE"))
}

/// Generates a 2048-bit key from a ChaCha20 stream seeded with `seed`, and a self-signed
/// certificate valid from 2020 to 2040.
fn identity(seed: u64, subject: &str) -> TestIdentity {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let key = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let public_key = SubjectPublicKeyInfoOwned::from_key(&key.to_public_key()).unwrap();

    let validity = Validity::new(
        Time::from_str("2020-01-01T00:00:00Z").unwrap(),
        Time::from_str("2040-01-01T00:00:00Z").unwrap(),
    );
    let profile = profile::cabf::Root::new(false, Name::from_str(subject).unwrap()).unwrap();
    let builder =
        CertificateBuilder::new(profile, SerialNumber::from(seed), validity, public_key).unwrap();
    let certificate = builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .unwrap();

    TestIdentity {
        key,
        certificate_der: certificate.to_der().unwrap(),
    }
}

/// PEM armour with 64-character lines.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;

    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Outcome of one `xmlsec1 --verify` run.
#[derive(Debug)]
pub struct Xmlsec1Outcome {
    pub success: bool,
    pub output: String,
}

/// Runs `xmlsec1 --verify` on `document` with the public key of `certificate_pem`, on the
/// signature selected by the XPath expression `signature_xpath`. The WS-Security and SAML ID
/// attributes are declared the way xmlsec1 needs them.
pub fn xmlsec1_verify(
    document: &str,
    certificate_pem: &str,
    signature_xpath: &str,
) -> Xmlsec1Outcome {
    let directory = tempfile::tempdir().unwrap();
    let document_path = directory.path().join("signed.xml");
    let certificate_path = directory.path().join("cert.pem");
    std::fs::write(&document_path, document).unwrap();
    std::fs::write(&certificate_path, certificate_pem).unwrap();

    let output = Command::new("xmlsec1")
        .arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(&certificate_path)
        .args(["--enabled-key-data", "key-name,rsa"])
        .args(["--node-xpath", signature_xpath])
        .args(id_attribute_arguments())
        .arg(&document_path)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => panic!(
            "cannot run xmlsec1 ({error}); install the test dependencies with \
             `bash .ci/install-deps`"
        ),
    };

    Xmlsec1Outcome {
        success: output.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// XPath of the message signature in a WS-Security header.
pub const MESSAGE_SIGNATURE_XPATH: &str = "/*[local-name()='Envelope']/*[local-name()='Header']\
     /*[local-name()='Security']/*[local-name()='Signature']";

/// XPath of the first signature in document order.
pub const FIRST_SIGNATURE_XPATH: &str = "(//*[local-name()='Signature'])[1]";

fn id_attribute_arguments() -> Vec<String> {
    let pairs = [
        ("Id", format!("{WSU_NS}:Timestamp")),
        ("Id", format!("{WSSE_NS}:BinarySecurityToken")),
        ("Id", format!("{SOAP_NS}:Body")),
        ("AssertionID", format!("{SAML_NS}:Assertion")),
    ];
    pairs
        .into_iter()
        .flat_map(|(attribute, element)| [format!("--id-attr:{attribute}"), element])
        .collect()
}

/// A SAML 1.1 holder-of-key assertion shaped like the STS's, unsigned, for `holder`. It keeps
/// some non-canonical syntax (single quotes, extra spaces, line breaks) so that tests notice
/// any rewriting.
pub fn unsigned_assertion(assertion_id: &str, holder: &TestIdentity) -> String {
    use base64::Engine as _;

    let certificate = base64::engine::general_purpose::STANDARD.encode(&holder.certificate_der);
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" AssertionID="{assertion_id}" IssueInstant="2026-12-04T09:59:00.000Z" Issuer="urn:be:fgov:ehealth:sts:1_0" MajorVersion="1" MinorVersion='1'>
  <saml:Conditions  NotBefore="2026-12-04T09:59:00.000Z" NotOnOrAfter="2026-12-05T09:59:00.000Z" />
  <saml:AuthenticationStatement AuthenticationInstant="2026-12-04T09:59:00.000Z" AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:X509-PKI">
    <saml:Subject>
      <saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName" NameQualifier="CN=Test Appliance,O=Test,C=BE">CN=Test Appliance,O=Test,C=BE</saml:NameIdentifier>
      <saml:SubjectConfirmation>
        <saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:holder-of-key</saml:ConfirmationMethod>
        <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
      </saml:SubjectConfirmation>
    </saml:Subject>
  </saml:AuthenticationStatement>
  <saml:AttributeStatement>
    <saml:Subject>
      <saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName" NameQualifier="CN=Test Appliance,O=Test,C=BE">CN=Test Appliance,O=Test,C=BE</saml:NameIdentifier>
    </saml:Subject>
    <saml:Attribute AttributeName="urn:be:fgov:person:ssin" AttributeNamespace="urn:be:fgov:identification-namespace"><saml:AttributeValue>79021802145</saml:AttributeValue></saml:Attribute>
  </saml:AttributeStatement>
</saml:Assertion>"#
    )
}
