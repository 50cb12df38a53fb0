//! Sealing with the simulator's own test PKI: a doctor's legacy keystore signs, another doctor's
//! ETK addresses, and OpenSSL opens the result with the recipient's encryption key.

use ehealth_sim::etk::{build_etk, parse_etk};
use ehealth_sim::pki::{DoctorSpec, KeystoreOptions, TestPki, practice};
use ehealth_sim::seal::{AUTHENTICATION_ALIAS, SealOptions, SenderCredential, seal};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::process::Command;

fn openssl_ok(dir: &std::path::Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn doctor_seals_to_colleague_etk() {
    let now: jiff::Timestamp = "2026-01-15T10:00:00Z".parse().expect("timestamp");
    let doctors: Vec<DoctorSpec> = practice().into_iter().take(2).collect();
    let pki = TestPki::generate_with(11, now, &doctors, &KeystoreOptions::fast()).expect("PKI");
    let (sender, recipient) = (&pki.doctors[0], &pki.doctors[1]);
    let chain: Vec<_> = pki
        .ca_chain()
        .iter()
        .map(|ca| ca.certificate().clone())
        .collect();

    let etk = build_etk(
        recipient.current_encryption().certificate(),
        recipient.authentication.certificate(),
        &chain,
        pki.etk_ra.key(),
        pki.etk_ra.certificate(),
    )
    .expect("build ETK");
    let parsed = parse_etk(&etk, pki.etk_ra.certificate()).expect("parse ETK");
    parsed
        .verify_encryption_certificate()
        .expect("proxy certificate");
    let credential = SenderCredential::from_pkcs12(
        &sender.keystore.bytes,
        &sender.keystore.password,
        AUTHENTICATION_ALIAS,
    )
    .expect("open the sender's keystore");
    let content = b"<kmehrmessage>verslag</kmehrmessage>";
    let sealed = seal(
        content,
        &credential,
        std::slice::from_ref(&parsed.encryption_certificate),
        &SealOptions::new(now),
        &mut ChaCha20Rng::seed_from_u64(3),
    )
    .expect("seal");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    let ca_pem = [&pki.root, &pki.issuing]
        .iter()
        .map(|ca| ca.certificate_pem().expect("PEM"))
        .collect::<String>();
    std::fs::write(path.join("ca.pem"), ca_pem).expect("write");
    let encryption = recipient.current_encryption();
    std::fs::write(
        path.join("enc.pem"),
        encryption.certificate_pem().expect("PEM"),
    )
    .expect("write");
    std::fs::write(
        path.join("enc.key"),
        encryption.key_pkcs8_pem().expect("PEM").as_bytes(),
    )
    .expect("write");
    std::fs::write(path.join("sealed.der"), &sealed).expect("write");

    // The test certificates are dated from `now`, so chain checks use that time too.
    let at = now.as_second().to_string();
    openssl_ok(
        path,
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "sealed.der",
            "-CAfile",
            "ca.pem",
            "-attime",
            &at,
            "-binary",
            "-out",
            "enveloped.der",
        ],
    );
    openssl_ok(
        path,
        &[
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-in",
            "enveloped.der",
            "-recip",
            "enc.pem",
            "-inkey",
            "enc.key",
            "-binary",
            "-out",
            "inner.der",
        ],
    );
    openssl_ok(
        path,
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "inner.der",
            "-CAfile",
            "ca.pem",
            "-attime",
            &at,
            "-binary",
            "-out",
            "content.bin",
        ],
    );
    assert_eq!(
        std::fs::read(path.join("content.bin")).expect("read"),
        content
    );
}
