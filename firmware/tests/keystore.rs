//! Opening and validating eHealth keystores written by p12-keystore and by `openssl pkcs12`.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use practicebox::ehealth::{
    certificate::StoredCertificate,
    keystore::{EhealthKeystore, KeystoreError},
};
use support::{
    DOCTOR_NAME, DOCTOR_SSIN, ENCRYPTION_SERIAL, OLD_ENCRYPTION_SERIAL, PASSWORD, Workspace,
};
use zeroize::Zeroizing;

const FILE: &str = "SSIN=79102520991 20240101-120000.acc-p12";

fn password() -> Zeroizing<String> {
    Zeroizing::new(PASSWORD.to_owned())
}

fn open(bytes: &[u8]) -> Result<EhealthKeystore, KeystoreError> {
    EhealthKeystore::open(FILE, bytes, &password())
}

fn anchor(workspace: &Workspace, name: &str) -> StoredCertificate {
    StoredCertificate::from_der(&workspace.der(name)).unwrap()
}

#[test]
fn legacy_keystore_facts() {
    let workspace = Workspace::new();
    let keystore = open(&workspace.doctor_keystore(true)).unwrap();
    let certificate = anchor(&workspace, "doctor.pem");
    let now = certificate.not_after() - jiff::SignedDuration::from_hours(24 * 40 + 1);

    let facts = keystore.facts(now);

    assert_eq!(facts.ssin.as_deref(), Some(DOCTOR_SSIN));
    assert_eq!(facts.name.as_deref(), Some(DOCTOR_NAME));
    assert_eq!(
        facts.subject,
        format!(
            "CN=SSIN={DOCTOR_SSIN},OU=eHealth-platform Belgium,OU={DOCTOR_NAME},OU=SSIN={DOCTOR_SSIN},O=Federal Government,C=BE"
        )
    );
    assert_eq!(facts.issuer, "CN=Test eHealth CA,O=Test eHealth,C=BE");
    assert_eq!(facts.not_after, certificate.not_after());
    assert_eq!(facts.not_before, certificate.not_before());
    assert_eq!(facts.days_until_expiry, 40);
    let mut serials = facts.encryption_serials.clone();
    serials.sort();
    assert_eq!(serials, [ENCRYPTION_SERIAL, OLD_ENCRYPTION_SERIAL]);

    let fingerprint = workspace.openssl(&[
        "x509",
        "-in",
        "doctor.pem",
        "-noout",
        "-fingerprint",
        "-sha256",
    ]);
    let expected = String::from_utf8(fingerprint).unwrap();
    let expected = expected
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(facts.sha256_fingerprint, expected);
}

#[test]
fn modern_keystore_opens() {
    let workspace = Workspace::new();
    let keystore = open(&workspace.doctor_keystore(false)).unwrap();
    assert_eq!(keystore.encryption_keys().len(), 2);
    assert_eq!(keystore.authentication_key().chain.len(), 1);
    assert_eq!(
        keystore.authentication_key().chain[0].subject(),
        "CN=Test eHealth CA,O=Test eHealth,C=BE"
    );
}

#[test]
fn encryption_keys_match_aliases() {
    let workspace = Workspace::new();
    let keystore = open(&workspace.doctor_keystore(true)).unwrap();
    for key in keystore.encryption_keys() {
        assert_eq!(key.alias(), key.certificate().decimal_serial());
    }
}

#[test]
fn openssl_legacy_keystore_opens() {
    let workspace = Workspace::new();
    let keystore = open(&workspace.openssl_keystore(true, "authentication")).unwrap();
    let facts = keystore.facts(jiff::Timestamp::UNIX_EPOCH);
    assert_eq!(facts.ssin.as_deref(), Some(DOCTOR_SSIN));
    assert!(facts.encryption_serials.is_empty());
    assert_eq!(keystore.authentication_key().chain.len(), 1);
}

#[test]
fn openssl_modern_keystore_opens() {
    let workspace = Workspace::new();
    let keystore = open(&workspace.openssl_keystore(false, "authentication")).unwrap();
    assert_eq!(
        keystore.facts(jiff::Timestamp::UNIX_EPOCH).ssin.as_deref(),
        Some(DOCTOR_SSIN)
    );
}

#[test]
fn wrong_password_is_named() {
    let workspace = Workspace::new();
    let bytes = workspace.doctor_keystore(true);
    let wrong = Zeroizing::new("corr3ct-horse!".to_owned());

    let error = EhealthKeystore::open(FILE, &bytes, &wrong).unwrap_err();

    assert!(
        matches!(error, KeystoreError::WrongPassword { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("wrong password"), "{message}");
    assert!(message.contains(FILE), "{message}");
    assert!(message.contains("check the password"), "{message}");
    assert!(!message.contains("corr3ct-horse!"), "{message}");
}

#[test]
fn not_pkcs12_is_named() {
    let workspace = Workspace::new();
    for bytes in [
        workspace.read("doctor.pem"),
        workspace.der("doctor.pem"),
        Vec::new(),
    ] {
        let error = open(&bytes).unwrap_err();
        assert!(
            matches!(error, KeystoreError::NotPkcs12 { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("is not a PKCS#12 keystore"), "{message}");
        assert!(message.contains(FILE), "{message}");
        assert!(message.contains(".acc-p12"), "{message}");
    }
}

#[test]
fn truncated_keystore_is_damaged() {
    let workspace = Workspace::new();
    let bytes = workspace.doctor_keystore(true);
    let error = open(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(error, KeystoreError::Damaged { .. }), "{error:?}");
    assert!(error.to_string().contains("truncated"), "{error}");
}

#[test]
fn missing_authentication_key() {
    let workspace = Workspace::new();
    let error = open(&workspace.openssl_keystore(true, "signing")).unwrap_err();
    assert!(
        matches!(error, KeystoreError::NoAuthenticationKey { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("no 'authentication' key"), "{message}");
    assert!(message.contains("aliases found: signing"), "{message}");
    assert!(message.contains(FILE), "{message}");
}

#[test]
fn key_certificate_mismatch() {
    let workspace = Workspace::new();
    let mut keystore = p12_keystore::KeyStore::new();
    workspace.add_key(
        &mut keystore,
        "authentication",
        "doctor",
        &["sender.pem", "ca.pem"],
    );
    let bytes = keystore.writer(PASSWORD).write().unwrap();

    let error = open(&bytes).unwrap_err();

    assert!(
        matches!(error, KeystoreError::KeyCertificateMismatch { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("'authentication'"), "{message}");
    assert!(
        message.contains("does not match its certificate"),
        "{message}"
    );
}

#[test]
fn validate_inside_validity() {
    let workspace = Workspace::new();
    let keystore = open(&workspace.doctor_keystore(true)).unwrap();
    let doctor = anchor(&workspace, "doctor.pem");
    let now = doctor.not_before() + jiff::SignedDuration::from_hours(1);

    keystore
        .validate(now, &[anchor(&workspace, "ca.pem")])
        .unwrap();
}

#[test]
fn validate_expired() {
    let workspace = Workspace::new();
    let keystore = open(&workspace.doctor_keystore(true)).unwrap();
    let doctor = anchor(&workspace, "doctor.pem");
    let now = doctor.not_after() + jiff::SignedDuration::from_secs(1);

    let error = keystore
        .validate(now, &[anchor(&workspace, "ca.pem")])
        .unwrap_err();

    assert!(matches!(error, KeystoreError::Expired { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("expired on {}", doctor.not_after())),
        "{message}"
    );
    assert!(
        message.contains(&format!("SSIN={DOCTOR_SSIN}")),
        "{message}"
    );
    assert!(
        message.contains("renew the eHealth certificate"),
        "{message}"
    );
}

#[test]
fn validate_not_yet_valid() {
    let workspace = Workspace::new();
    let keystore = open(&workspace.doctor_keystore(true)).unwrap();
    let doctor = anchor(&workspace, "doctor.pem");
    let now = doctor.not_before() - jiff::SignedDuration::from_secs(1);

    let error = keystore
        .validate(now, &[anchor(&workspace, "ca.pem")])
        .unwrap_err();

    assert!(
        matches!(error, KeystoreError::NotYetValid { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("valid only from {}", doctor.not_before())),
        "{message}"
    );
    assert!(message.contains("check the box's clock"), "{message}");
}

#[test]
fn validate_unknown_ca() {
    let workspace = Workspace::new();
    let keystore = open(&workspace.doctor_keystore(true)).unwrap();
    let now = anchor(&workspace, "doctor.pem").not_before() + jiff::SignedDuration::from_hours(1);

    let error = keystore
        .validate(now, &[anchor(&workspace, "outsider-ca.pem")])
        .unwrap_err();

    assert!(
        matches!(error, KeystoreError::UnknownIssuer { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("issued by 'CN=Test eHealth CA,O=Test eHealth,C=BE'"),
        "{message}"
    );
    assert!(
        message.contains("add its certificate to the trust anchors"),
        "{message}"
    );
}

#[test]
fn validate_forged_ca() {
    let workspace = Workspace::new();
    // Without the genuine CA in the keystore, the chain must reach the anchor directly.
    let mut keystore = p12_keystore::KeyStore::new();
    workspace.add_key(&mut keystore, "authentication", "doctor", &["doctor.pem"]);
    let keystore = open(&keystore.writer(PASSWORD).write().unwrap()).unwrap();
    let now = anchor(&workspace, "doctor.pem").not_before() + jiff::SignedDuration::from_hours(1);

    let error = keystore
        .validate(now, &[anchor(&workspace, "fake-ca.pem")])
        .unwrap_err();

    assert!(
        matches!(error, KeystoreError::InvalidCertificateSignature { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("signature does not verify"),
        "{error}"
    );
}

#[test]
fn password_in_no_error_message() {
    let workspace = Workspace::new();
    let mut errors = Vec::new();
    let legacy = workspace.doctor_keystore(true);

    // The password a user typed by mistake must not show either.
    let typed = Zeroizing::new(format!("{PASSWORD}x"));
    errors.push(EhealthKeystore::open(FILE, &legacy, &typed).unwrap_err());
    errors.push(open(b"not a keystore").unwrap_err());
    errors.push(open(&legacy[..100]).unwrap_err());
    errors.push(open(&workspace.openssl_keystore(true, "signing")).unwrap_err());
    let missing = std::path::Path::new("/nonexistent/keystore.p12");
    errors.push(EhealthKeystore::open_file(missing, &password()).unwrap_err());

    let keystore = open(&legacy).unwrap();
    let doctor = anchor(&workspace, "doctor.pem");
    let ca = anchor(&workspace, "ca.pem");
    let late = doctor.not_after() + jiff::SignedDuration::from_secs(1);
    let early = doctor.not_before() - jiff::SignedDuration::from_secs(1);
    let now = doctor.not_before() + jiff::SignedDuration::from_hours(1);
    errors.push(
        keystore
            .validate(late, std::slice::from_ref(&ca))
            .unwrap_err(),
    );
    errors.push(
        keystore
            .validate(early, std::slice::from_ref(&ca))
            .unwrap_err(),
    );
    errors.push(
        keystore
            .validate(now, &[anchor(&workspace, "outsider-ca.pem")])
            .unwrap_err(),
    );

    for error in &errors {
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains(PASSWORD), "{text}");
            assert!(!text.contains(typed.as_str()), "{text}");
        }
    }
    let debug = format!("{keystore:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains("PrivateKey::Rsa(2048 bits)"), "{debug}");
}

#[test]
fn missing_file_is_named() {
    let path = std::path::Path::new("/nonexistent/keystore.p12");
    let error = EhealthKeystore::open_file(path, &password()).unwrap_err();
    assert!(matches!(error, KeystoreError::Read { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("/nonexistent/keystore.p12"), "{message}");
    assert!(message.contains("check the path"), "{message}");
}
