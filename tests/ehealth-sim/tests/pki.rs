//! Tests of the simulator's test PKI against independent readers: p12-keystore, the `openssl`
//! command line (which must be on PATH) and rustls.
//!
//! One PKI with the `practice()` doctors is generated and written once per test binary, with low
//! keystore iteration counts. One test checks the realistic default counts.
#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test helper is a test failure with its message"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use ehealth_sim::pki::cert::verify_signature;
use ehealth_sim::pki::folder::{Manifest, read_manifest};
use ehealth_sim::pki::{Doctor, DoctorSpec, KeystoreOptions, PkiError, TestPki, Variant, practice};
use jiff::{SignedDuration, Timestamp, ToSpan, tz::TimeZone};
use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};

const SEED: u64 = 20_261_204;

struct Fixture {
    pki: TestPki,
    dir: PathBuf,
    manifest: Manifest,
}

fn now() -> Timestamp {
    "2026-12-04T09:30:15Z".parse().unwrap()
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let pki =
            TestPki::generate_with(SEED, now(), &practice(), &KeystoreOptions::fast()).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("pki-test-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let manifest = pki.write_to(&dir).unwrap();
        Fixture { pki, dir, manifest }
    })
}

fn doctor_with(variant: Variant) -> &'static Doctor {
    fixture()
        .pki
        .doctors
        .iter()
        .find(|doctor| doctor.spec.variant == variant)
        .unwrap()
}

fn doctor_dir(doctor: &Doctor) -> PathBuf {
    fixture().dir.join("doctors").join(&doctor.spec.ssin)
}

fn keystore_path(doctor: &Doctor) -> PathBuf {
    doctor_dir(doctor).join(&doctor.keystore.file_name)
}

/// Runs `openssl` and returns its output, failing with an explanation when it is not installed.
fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run `openssl` ({error}); install OpenSSL 3 (Debian package `openssl`)")
        })
}

fn openssl_ok(args: &[&str]) -> String {
    let output = openssl(args);
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `openssl pkcs12 -legacy -info -nokeys`, which prints the algorithm lines on stderr and the
/// bags on stdout, so this returns both.
fn pkcs12_info(keystore: &Path, password_file: &Path) -> String {
    let password = format!("file:{}", path_str(password_file));
    let args = [
        "pkcs12",
        "-legacy",
        "-info",
        "-nokeys",
        "-passin",
        &password,
        "-in",
        path_str(keystore),
    ];
    let output = openssl(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "openssl {args:?} failed: {stderr}");
    format!("{stderr}{}", String::from_utf8_lossy(&output.stdout))
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn open_keystore(bytes: &[u8], password: &str) -> Result<KeyStore, p12_keystore::error::Error> {
    KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed)
}

#[test]
fn same_seed_gives_same_pki() {
    let again = TestPki::generate_with(SEED, now(), &practice(), &KeystoreOptions::fast()).unwrap();
    let original = &fixture().pki;

    assert_eq!(again.root, original.root);
    assert_eq!(again.sts, original.sts);
    assert_eq!(again.doctors.len(), original.doctors.len());
    for (left, right) in again.doctors.iter().zip(&original.doctors) {
        assert_eq!(left.authentication, right.authentication);
        assert_eq!(left.encryption, right.encryption);
        assert_eq!(left.keystore.password, right.keystore.password);
        assert_eq!(
            left.keystore.bytes, right.keystore.bytes,
            "keystore bytes differ"
        );
    }
    assert_eq!(&again, original);
}

#[test]
fn other_seed_gives_other_keys() {
    let specs = &practice()[..1];
    let other = TestPki::generate_with(SEED + 1, now(), specs, &KeystoreOptions::fast()).unwrap();
    let original = &fixture().pki;

    assert_ne!(other.root.key(), original.root.key());
    assert_ne!(
        other.doctors[0].authentication.key(),
        original.doctors[0].authentication.key()
    );
    assert_ne!(
        other.doctors[0].keystore.password,
        original.doctors[0].keystore.password
    );
}

#[test]
fn keystore_opens_with_p12_keystore() {
    for doctor in &fixture().pki.doctors {
        let store = open_keystore(&doctor.keystore.bytes, &doctor.keystore.password).unwrap();

        let mut expected: Vec<(String, &ehealth_sim::pki::Credential)> =
            vec![("authentication".to_owned(), &doctor.authentication)];
        for credential in &doctor.encryption {
            expected.push((credential.serial_decimal(), credential));
        }
        assert_eq!(store.entries_len(), expected.len(), "{}", doctor.spec.ssin);

        for (alias, credential) in expected {
            let Some(KeyStoreEntry::PrivateKeyChain(chain)) = store.entry(&alias) else {
                panic!(
                    "alias {alias} missing in the keystore of {}",
                    doctor.spec.ssin
                );
            };
            assert_eq!(
                chain.key().as_der(),
                credential.key_pkcs8_der().unwrap().as_bytes()
            );
            assert_eq!(chain.certs()[0].as_der(), credential.certificate_der());
            assert_eq!(
                chain.local_key_id().as_ref()[..5],
                *b"Time ",
                "localKeyID of {alias}"
            );
        }
    }
}

#[test]
fn keystore_chain_reaches_root() {
    let doctor = doctor_with(Variant::Normal);
    let store = open_keystore(&doctor.keystore.bytes, &doctor.keystore.password).unwrap();
    let Some(KeyStoreEntry::PrivateKeyChain(chain)) = store.entry("authentication") else {
        panic!("authentication entry missing");
    };
    let pki = &fixture().pki;

    let ders: Vec<&[u8]> = chain.certs().iter().map(|cert| cert.as_der()).collect();
    assert_eq!(
        ders,
        vec![
            doctor.authentication.certificate_der(),
            pki.issuing.certificate_der(),
            pki.root.certificate_der(),
        ]
    );
}

#[test]
fn openssl_reads_legacy_layout() {
    let doctor = doctor_with(Variant::TwoEncryptionKeys);
    let info = pkcs12_info(
        &keystore_path(doctor),
        &doctor_dir(doctor).join("password.txt"),
    );

    assert!(info.contains("MAC: sha1"), "{info}");
    assert_eq!(
        info.matches("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC")
            .count(),
        3,
        "{info}"
    );
    assert!(
        info.contains("PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC"),
        "{info}"
    );
    assert!(info.contains("friendlyName: authentication"), "{info}");
    for credential in &doctor.encryption {
        let alias = format!("friendlyName: {}", credential.serial_decimal());
        assert!(info.contains(&alias), "{alias} missing: {info}");
    }
    // "Time " in hex: the localKeyID format of the real keystores.
    assert!(info.contains("localKeyID: 54 69 6D 65 20"), "{info}");
}

#[test]
fn realistic_defaults_are_written() {
    let spec = practice().remove(0);
    let pki = TestPki::generate(SEED, now(), &[spec]).unwrap();
    let doctor = &pki.doctors[0];
    let dir = tempfile::tempdir().unwrap();
    pki.write_to(dir.path()).unwrap();
    let folder = dir.path().join("doctors").join(&doctor.spec.ssin);
    let keystore = folder.join(&doctor.keystore.file_name);

    let info = pkcs12_info(&keystore, &folder.join("password.txt"));
    assert!(info.contains("MAC: sha1, Iteration 100000"), "{info}");
    assert!(
        info.contains("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 50000"),
        "{info}"
    );
    assert!(
        info.contains("PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC, Iteration 50000"),
        "{info}"
    );
    assert!(open_keystore(&doctor.keystore.bytes, &doctor.keystore.password).is_ok());
}

#[test]
fn authentication_cert_chains_to_root() {
    let dir = &fixture().dir;
    let root = dir.join("ca/root.pem");
    let issuing = dir.join("ca/issuing.pem");
    for variant in [
        Variant::Normal,
        Variant::ExpiresSoon,
        Variant::TwoEncryptionKeys,
    ] {
        let cert = doctor_dir(doctor_with(variant)).join("auth-cert.pem");
        let output = openssl_ok(&[
            "verify",
            "-CAfile",
            path_str(&root),
            "-untrusted",
            path_str(&issuing),
            path_str(&cert),
        ]);
        assert!(output.trim_end().ends_with(": OK"), "{variant:?}: {output}");
    }
}

#[test]
fn expired_cert_fails_openssl_verify() {
    let dir = &fixture().dir;
    let cert = doctor_dir(doctor_with(Variant::Expired)).join("auth-cert.pem");
    let output = openssl(&[
        "verify",
        "-CAfile",
        path_str(&dir.join("ca/root.pem")),
        "-untrusted",
        path_str(&dir.join("ca/issuing.pem")),
        path_str(&cert),
    ]);

    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("certificate has expired"), "{text}");
}

#[test]
fn encryption_cert_is_proxy_of_authentication() {
    for doctor in &fixture().pki.doctors {
        let auth = &doctor.authentication;
        for encryption in &doctor.encryption {
            let tbs = encryption.certificate().tbs_certificate();

            assert_eq!(tbs.issuer(), auth.certificate().tbs_certificate().subject());
            assert_eq!(
                tbs.subject(),
                auth.certificate().tbs_certificate().subject()
            );
            verify_signature(encryption.certificate(), auth.key().as_public_key()).unwrap();
            assert!(
                verify_signature(
                    encryption.certificate(),
                    fixture().pki.issuing.key().as_public_key()
                )
                .is_err()
            );

            let serial = tbs.serial_number().as_bytes();
            assert_eq!(serial.len(), 16, "serial {serial:02x?}");
            assert!(serial[0] & 0x80 == 0, "serial must be positive");

            let extensions = tbs.extensions().unwrap();
            assert_eq!(extensions.len(), 1);
            let (critical, usage) = tbs.get_extension::<KeyUsage>().unwrap().unwrap();
            assert!(critical);
            assert_eq!(
                usage.0,
                KeyUsages::KeyEncipherment | KeyUsages::DataEncipherment
            );
        }
    }
}

#[test]
fn current_encryption_cert_matches_auth_validity() {
    for doctor in &fixture().pki.doctors {
        let current = doctor.current_encryption();
        assert_eq!(current.not_before(), doctor.authentication.not_before());
        assert_eq!(current.not_after(), doctor.authentication.not_after());
    }
}

#[test]
fn authentication_subject_prints_as_specified() {
    let doctor = doctor_with(Variant::Normal);
    let ssin = &doctor.spec.ssin;
    let expected = format!(
        "CN=SSIN={ssin},OU=eHealth-platform Belgium,OU=LOTTE VERMEIREN,OU=SSIN={ssin},\
         O=Federal Government,C=BE"
    );
    assert_eq!(doctor.authentication.subject(), expected);

    let cert = doctor_dir(doctor).join("auth-cert.pem");
    let printed = openssl_ok(&[
        "x509",
        "-in",
        path_str(&cert),
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
    ]);
    assert_eq!(printed.trim_end(), format!("subject={expected}"));
}

#[test]
fn authentication_cert_key_usage() {
    let doctor = doctor_with(Variant::Normal);
    let tbs = doctor.authentication.certificate().tbs_certificate();
    let (critical, usage) = tbs.get_extension::<KeyUsage>().unwrap().unwrap();

    assert!(critical);
    assert!(usage.digital_signature());
    assert!(!usage.key_encipherment());
    assert_eq!(
        tbs.issuer(),
        fixture()
            .pki
            .issuing
            .certificate()
            .tbs_certificate()
            .subject()
    );
}

#[test]
fn wrong_password_variant_fails_to_open() {
    let doctor = doctor_with(Variant::WrongPassword);
    let folder = doctor_dir(doctor);
    let written = std::fs::read_to_string(folder.join("password.txt")).unwrap();
    let correct = std::fs::read_to_string(folder.join("correct-password.txt")).unwrap();

    assert_ne!(written.trim_end(), doctor.keystore.password);
    assert!(open_keystore(&doctor.keystore.bytes, written.trim_end()).is_err());
    assert!(open_keystore(&doctor.keystore.bytes, correct.trim_end()).is_ok());

    let password = format!("file:{}", path_str(&folder.join("password.txt")));
    let output = openssl(&[
        "pkcs12",
        "-legacy",
        "-info",
        "-nokeys",
        "-passin",
        &password,
        "-in",
        path_str(&keystore_path(doctor)),
    ]);
    assert!(
        !output.status.success(),
        "openssl opened the keystore with the wrong password"
    );
}

#[test]
fn expired_variant_ended_before_now() {
    let doctor = doctor_with(Variant::Expired);
    let not_after = doctor.authentication.not_after();

    assert_eq!(not_after, now() - SignedDuration::from_hours(24));
    assert_eq!(
        doctor.authentication.not_before(),
        years_before(not_after, 3)
    );
    assert_eq!(doctor.current_encryption().not_after(), not_after);
}

#[test]
fn expiring_variant_ends_in_ten_days() {
    let doctor = doctor_with(Variant::ExpiresSoon);
    let not_after = doctor.authentication.not_after();

    assert_eq!(not_after, now() + SignedDuration::from_hours(24 * 10));
    assert_eq!(
        doctor.authentication.not_before(),
        years_before(not_after, 3)
    );
}

#[test]
fn normal_variant_valid_three_years() {
    let doctor = doctor_with(Variant::Normal);
    let not_before = doctor.authentication.not_before();

    assert!(not_before < now());
    assert_eq!(
        doctor.authentication.not_after(),
        years_before(not_before, -3)
    );
}

#[test]
fn two_keys_variant_keeps_older_key() {
    let doctor = doctor_with(Variant::TwoEncryptionKeys);
    let [old, new] = doctor.encryption.as_slice() else {
        panic!(
            "expected two encryption keys, got {}",
            doctor.encryption.len()
        );
    };

    assert!(old.not_before() < new.not_before());
    assert!(old.not_after() > now(), "the old key must still decrypt");
    assert_ne!(old.serial_decimal(), new.serial_decimal());
    assert_ne!(old.key(), new.key());
}

#[test]
fn keystore_file_name_follows_pattern() {
    let doctor = doctor_with(Variant::Normal);
    let created = doctor
        .authentication
        .not_before()
        .to_zoned_datetime(TimeZone::UTC)
        .strftime("%Y%m%d-%H%M%S")
        .to_string();

    assert_eq!(
        doctor.keystore.file_name,
        format!("SSIN={} {created}.acc-p12", doctor.spec.ssin)
    );
    assert!(keystore_path(doctor).is_file());
}

#[test]
fn folder_round_trips() {
    let fixture = fixture();
    let loaded = TestPki::load_from(&fixture.dir).unwrap();

    assert_eq!(loaded, fixture.pki);
    assert_eq!(read_manifest(&fixture.dir).unwrap(), fixture.manifest);
}

#[test]
fn manifest_lists_existing_files() {
    let fixture = fixture();
    let manifest = &fixture.manifest;
    assert_eq!(manifest.doctors.len(), fixture.pki.doctors.len());

    for (entry, doctor) in manifest.doctors.iter().zip(&fixture.pki.doctors) {
        assert_eq!(entry.ssin, doctor.spec.ssin);
        assert_eq!(entry.nihii11, doctor.spec.nihii11);
        assert_eq!(entry.variant, doctor.spec.variant);
        assert_eq!(
            entry.authentication.not_after,
            doctor.authentication.not_after()
        );
        let serials: Vec<String> = doctor
            .encryption
            .iter()
            .map(|c| c.serial_decimal())
            .collect();
        let listed: Vec<String> = entry.encryption.iter().map(|c| c.serial.clone()).collect();
        assert_eq!(listed, serials);

        let mut files = vec![&entry.keystore, &entry.password_file];
        files.push(&entry.authentication.certificate);
        for encryption in &entry.encryption {
            files.push(&encryption.certificate);
            files.push(&encryption.key);
        }
        for file in files {
            assert!(
                fixture.dir.join(file).is_file(),
                "{file} listed but missing"
            );
        }
    }
    for file in [
        "ca/root.pem",
        "ca/issuing.pem",
        "sts/sts-cert.pem",
        "sts/sts-key.pem",
    ] {
        assert!(fixture.dir.join(file).is_file(), "{file} missing");
    }
    assert!(fixture.dir.join(&manifest.etk_ra.certificate).is_file());
    assert!(fixture.dir.join(&manifest.tls_ca).is_file());
}

#[cfg(unix)]
#[test]
fn secrets_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let doctor = doctor_with(Variant::Normal);
    let folder = doctor_dir(doctor);
    let serial = doctor.current_encryption().serial_decimal();

    assert_eq!(mode(&folder.join("password.txt")), 0o600);
    assert_eq!(mode(&folder.join("auth-key.pem")), 0o600);
    assert_eq!(mode(&folder.join(format!("enc-{serial}-key.pem"))), 0o600);
    assert_eq!(mode(&fixture().dir.join("sts/sts-key.pem")), 0o600);
    assert_eq!(mode(&folder.join("auth-cert.pem")), 0o644);
}

#[test]
fn encryption_key_pem_decrypts_cms() {
    let doctor = doctor_with(Variant::Normal);
    let folder = doctor_dir(doctor);
    let serial = doctor.current_encryption().serial_decimal();
    let work = tempfile::tempdir().unwrap();
    let message = work.path().join("message.txt");
    let sealed = work.path().join("message.cms");
    std::fs::write(&message, b"test message for the doctor").unwrap();

    openssl_ok(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-binary",
        "-outform",
        "DER",
        "-in",
        path_str(&message),
        "-out",
        path_str(&sealed),
        "-recip",
        path_str(&folder.join(format!("enc-{serial}.pem"))),
    ]);
    let decrypted = openssl_ok(&[
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        path_str(&sealed),
        "-inkey",
        path_str(&folder.join(format!("enc-{serial}-key.pem"))),
    ]);
    assert_eq!(decrypted, "test message for the doctor");
}

#[test]
fn rustls_accepts_tls_server_cert() {
    let pki = &fixture().pki;
    for server_name in ["localhost", "127.0.0.1", "::1"] {
        handshake(pki, server_name).unwrap_or_else(|error| panic!("{server_name}: {error}"));
    }
}

#[test]
fn rustls_rejects_other_server_name() {
    let error = handshake(&fixture().pki, "example.invalid").unwrap_err();
    assert!(error.contains("NotValidForName"), "{error}");
}

/// Runs a TLS handshake in memory between a rustls server using the simulator's TLS credential
/// and a rustls client that trusts only the test root CA.
fn handshake(pki: &TestPki, server_name: &str) -> Result<(), String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = vec![
        CertificateDer::from(pki.tls_server.certificate_der().to_vec()),
        CertificateDer::from(pki.issuing.certificate_der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        pki.tls_server.key_pkcs8_der().unwrap().as_bytes().to_vec(),
    ));
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.root.certificate_der().to_vec()))
        .unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
    let mut server = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
    for _ in 0..10 {
        transfer(&mut client, &mut server)?;
        transfer(&mut server, &mut client)?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    Err("handshake did not finish".to_owned())
}

fn transfer(
    from: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl Sized>>,
    to: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl Sized>>,
) -> Result<(), String> {
    let mut buffer = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buffer)
            .map_err(|error| error.to_string())?;
    }
    let mut reader = buffer.as_slice();
    while !reader.is_empty() {
        to.read_tls(&mut reader)
            .map_err(|error| error.to_string())?;
        to.process_new_packets()
            .map_err(|error| format!("{error:?}"))?;
    }
    Ok(())
}

#[test]
fn practice_preset_is_valid() {
    let specs = practice();
    let normal = specs
        .iter()
        .filter(|spec| spec.variant == Variant::Normal)
        .count();
    let not_doctors = specs
        .iter()
        .filter(|spec| !spec.recognised_as_doctor)
        .count();

    assert_eq!(specs.len(), 8);
    assert_eq!(normal, 4, "three practice doctors and the non-doctor");
    assert_eq!(not_doctors, 1);
    for spec in &specs {
        ehealth_sim::pki::ids::validate_insz(&spec.ssin).unwrap();
        ehealth_sim::pki::ids::validate_nihii11(&spec.nihii11).unwrap();
    }
    for variant in [
        Variant::Expired,
        Variant::ExpiresSoon,
        Variant::TwoEncryptionKeys,
        Variant::WrongPassword,
    ] {
        assert!(
            specs.iter().any(|spec| spec.variant == variant),
            "{variant:?}"
        );
    }
}

#[test]
fn invalid_insz_is_rejected() {
    let spec = DoctorSpec::new("Test", "Doctor", "79021802146", "19997341001");
    let error = TestPki::generate_with(1, now(), &[spec], &KeystoreOptions::fast()).unwrap_err();

    assert!(
        matches!(error, PkiError::InvalidDoctorId { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("\"79021802146\""), "{error}");
}

#[test]
fn name_with_separator_is_rejected() {
    let spec = DoctorSpec::new("Test", "Doctor, Jr", "79021802145", "19997341001");
    let error = TestPki::generate_with(1, now(), &[spec], &KeystoreOptions::fast()).unwrap_err();

    assert_eq!(
        error.to_string(),
        "invalid name \"Doctor, Jr\" of the doctor with INSZ 79021802145: use a non-empty name \
         without any of , + \" \\ < > ; = #"
    );
}

#[test]
fn duplicate_insz_is_rejected() {
    let spec = DoctorSpec::new("Test", "Doctor", "79021802145", "19997341001");
    let specs = [spec.clone(), spec];
    let error = TestPki::generate_with(1, now(), &specs, &KeystoreOptions::fast()).unwrap_err();

    assert_eq!(
        error.to_string(),
        "duplicate doctor INSZ 79021802145: give each doctor its own INSZ"
    );
}

#[test]
fn load_from_rejects_mismatched_key() {
    let fixture = fixture();
    let copy = tempfile::tempdir().unwrap();
    fixture.pki.write_to(copy.path()).unwrap();
    std::fs::copy(
        copy.path().join("ca/root-key.pem"),
        copy.path().join("sts/sts-key.pem"),
    )
    .unwrap();

    let error = TestPki::load_from(copy.path()).unwrap_err();
    assert!(matches!(error, PkiError::KeyMismatch { .. }), "{error:?}");
    assert!(error.to_string().contains("Test eHealth STS"), "{error}");
}

fn years_before(instant: Timestamp, years: i64) -> Timestamp {
    instant
        .to_zoned_datetime(TimeZone::UTC)
        .checked_sub(years.years())
        .unwrap()
        .timestamp()
}
