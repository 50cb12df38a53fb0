#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::OnceLock;

use ehealth_sim::pki::{DoctorSpec, KeystoreOptions, TestPki};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use super::*;

const SSIN: &str = "85073003328";

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let doctor = DoctorSpec::new("Jan", "Peeters", SSIN, "17041217004");
        let now = "2026-12-04T12:00:00Z".parse().unwrap();
        TestPki::generate_with(7, now, &[doctor], &KeystoreOptions::fast()).unwrap()
    })
}

fn keystore() -> (&'static [u8], Zeroizing<String>) {
    let keystore = &pki().doctors[0].keystore;
    (&keystore.bytes, Zeroizing::new(keystore.password.clone()))
}

fn summary(principal: i64) -> CredentialSummary {
    CredentialSummary {
        principal,
        keystore_file: "SSIN=85073003328 20261203-120000.acc-p12".into(),
        certificate_sha256: "ab".repeat(32),
        certificate_not_after: "2029-12-03T12:00:00Z".parse().unwrap(),
    }
}

fn vault() -> (tempfile::TempDir, CredentialVault) {
    let dir = tempfile::tempdir().unwrap();
    let vault = CredentialVault::open(&dir.path().join("credentials")).unwrap();
    (dir, vault)
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(99)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn round_trip_opens_keystore() {
    let (_dir, vault) = vault();
    let (bytes, password) = keystore();
    vault
        .store(&summary(3), bytes, &password, &mut rng())
        .unwrap();

    let (ssin, seen_password) = vault
        .with_keystore(PrincipalId(3), |keystore, password| {
            let facts = keystore.facts("2026-12-04T12:00:00Z".parse().unwrap());
            (facts.ssin, password.as_str().to_owned())
        })
        .unwrap();
    assert_eq!(ssin.as_deref(), Some(SSIN));
    assert_eq!(seen_password, password.as_str());
    assert_eq!(vault.summary(PrincipalId(3)).unwrap(), Some(summary(3)));
}

#[test]
fn record_hides_password_and_keystore() {
    let (_dir, vault) = vault();
    let (bytes, password) = keystore();
    vault
        .store(&summary(3), bytes, &password, &mut rng())
        .unwrap();

    let record = fs::read(vault.record_path(PrincipalId(3))).unwrap();
    assert!(!contains(&record, password.as_bytes()));
    for chunk in bytes.chunks(64).filter(|chunk| chunk.len() == 64) {
        assert!(!contains(&record, chunk), "a keystore chunk is in clear");
    }
    let mode = fs::metadata(vault.record_path(PrincipalId(3)))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn key_file_is_private_and_32_bytes() {
    let (_dir, vault) = vault();
    let (bytes, password) = keystore();
    vault
        .store(&summary(1), bytes, &password, &mut rng())
        .unwrap();

    let metadata = fs::metadata(vault.dir().join("box.key")).unwrap();
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert_eq!(metadata.len(), 32);
    let dir_mode = fs::metadata(vault.dir()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[test]
fn readable_key_rejected() {
    let (_dir, vault) = vault();
    let (bytes, password) = keystore();
    vault
        .store(&summary(1), bytes, &password, &mut rng())
        .unwrap();
    let key_path = vault.dir().join("box.key");
    fs::set_permissions(&key_path, fs::Permissions::from_mode(0o644)).unwrap();

    let error = vault.with_keystore(PrincipalId(1), |_, _| ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the box key {0} may be read by group or others (mode 644); run `chmod 600 {0}`",
            key_path.display()
        )
    );
}

#[test]
fn short_key_rejected() {
    let (_dir, vault) = vault();
    let (bytes, password) = keystore();
    vault
        .store(&summary(1), bytes, &password, &mut rng())
        .unwrap();
    fs::write(vault.dir().join("box.key"), [1u8; 16]).unwrap();

    let error = vault.with_keystore(PrincipalId(1), |_, _| ()).unwrap_err();
    assert!(
        matches!(error, CredentialError::KeyLength { length: 16, .. }),
        "{error}"
    );
}

#[test]
fn record_bound_to_principal() {
    let (_dir, vault) = vault();
    let (bytes, password) = keystore();
    vault
        .store(&summary(1), bytes, &password, &mut rng())
        .unwrap();
    fs::copy(
        vault.record_path(PrincipalId(1)),
        vault.record_path(PrincipalId(2)),
    )
    .unwrap();

    let error = vault.with_keystore(PrincipalId(2), |_, _| ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the stored credentials {} do not decrypt with this box's key: the key or the file \
             was replaced; enter the doctor's certificate again",
            vault.record_path(PrincipalId(2)).display()
        )
    );
}

#[test]
fn edited_header_detected() {
    let (_dir, vault) = vault();
    let (bytes, password) = keystore();
    vault
        .store(&summary(1), bytes, &password, &mut rng())
        .unwrap();
    let path = vault.record_path(PrincipalId(1));
    let record = fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&record).replace("2029-12-03", "2039-12-03");
    let mut edited = record.clone();
    let start = text.find("2039").unwrap();
    edited[start..start + 4].copy_from_slice(b"2039");
    fs::write(&path, edited).unwrap();

    let error = vault.with_keystore(PrincipalId(1), |_, _| ()).unwrap_err();
    assert!(matches!(error, CredentialError::Decrypt { .. }), "{error}");
}

#[test]
fn fresh_nonce_per_record() {
    let (_dir, vault) = vault();
    let (bytes, password) = keystore();
    let mut rng = rng();
    vault
        .store(&summary(1), bytes, &password, &mut rng)
        .unwrap();
    let first = fs::read(vault.record_path(PrincipalId(1))).unwrap();
    vault
        .store(&summary(1), bytes, &password, &mut rng)
        .unwrap();
    let second = fs::read(vault.record_path(PrincipalId(1))).unwrap();
    assert_ne!(first, second);
}

#[test]
fn remove_wipes_record() {
    let (_dir, vault) = vault();
    let (bytes, password) = keystore();
    vault
        .store(&summary(1), bytes, &password, &mut rng())
        .unwrap();

    assert!(vault.remove(PrincipalId(1)).unwrap());
    assert!(!vault.record_path(PrincipalId(1)).exists());
    assert!(!vault.remove(PrincipalId(1)).unwrap());
    let error = vault.with_keystore(PrincipalId(1), |_, _| ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no stored credentials for principal 1; enter the doctor's certificate again"
    );
    let leftovers: Vec<_> = fs::read_dir(vault.dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["box.key"]);
}

#[test]
fn damaged_record_named() {
    let (_dir, vault) = vault();
    fs::write(vault.record_path(PrincipalId(4)), b"not a record").unwrap();
    let error = vault.summary(PrincipalId(4)).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the stored credentials {} are damaged (not a PracticeBox credential record); remove \
             them and enter the doctor's certificate again",
            vault.record_path(PrincipalId(4)).display()
        )
    );
}
