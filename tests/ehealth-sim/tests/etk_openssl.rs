//! ETKs: build, parse back, and check with OpenSSL.

mod seal_support;

use der::Encode;
use ehealth_sim::ber::{BerOptions, der_to_ber};
use ehealth_sim::etk::{EtkError, build_etk, parse_etk, parse_etk_with_embedded_signer};
use seal_support::{openssl, openssl_ok, pki};

fn alice_etk() -> Vec<u8> {
    let pki = pki();
    build_etk(
        &pki.certificate("alice-enc"),
        &pki.certificate("alice-auth"),
        &[pki.certificate("ca")],
        &pki.key("etk-ra"),
        &pki.certificate("etk-ra"),
    )
    .expect("build ETK")
}

#[test]
fn etk_round_trip() {
    let pki = pki();

    let etk = parse_etk(&alice_etk(), &pki.certificate("etk-ra")).expect("parse ETK");

    assert_eq!(etk.encryption_certificate, pki.certificate("alice-enc"));
    assert_eq!(
        etk.authentication_certificate,
        pki.certificate("alice-auth")
    );
    assert_eq!(etk.etk_ra_certificate, pki.certificate("etk-ra"));
    assert_eq!(etk.chain, vec![pki.certificate("ca")]);
    etk.verify_encryption_certificate()
        .expect("proxy signature verifies");
}

#[test]
fn etk_is_deterministic() {
    assert_eq!(alice_etk(), alice_etk());
}

#[test]
fn etk_with_embedded_signer_parses() {
    let etk = parse_etk_with_embedded_signer(&alice_etk()).expect("parse ETK");

    assert_eq!(etk.encryption_certificate, pki().certificate("alice-enc"));
    assert_eq!(etk.etk_ra_certificate, pki().certificate("etk-ra"));
}

#[test]
fn etk_from_other_ra_rejected() {
    let result = parse_etk(&alice_etk(), &pki().certificate("other-ra"));

    let error = result.expect_err("signed by another RA");
    assert!(
        matches!(error, EtkError::UnexpectedSigner { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("CN=Other RA"), "{error}");
}

#[test]
fn etk_with_altered_content_rejected() {
    let pki = pki();
    let mut etk = alice_etk();
    let encryption_der = pki.certificate("alice-enc").to_der().expect("encode");
    let start = etk
        .windows(32)
        .position(|window| window == &encryption_der[..32])
        .expect("the certificate's first bytes are in the first segment");
    // A byte inside the serial number: the certificate still parses, the digest changes.
    etk[start + 16] ^= 0x01;

    let result = parse_etk(&etk, &pki.certificate("etk-ra"));

    let error = result.expect_err("altered content");
    assert!(matches!(error, EtkError::Signature(_)), "{error}");
}

#[test]
fn etk_without_auth_certificate_rejected() {
    let pki = pki();
    let etk = build_etk(
        &pki.certificate("alice-enc"),
        &pki.certificate("bob-auth"),
        &[pki.certificate("ca")],
        &pki.key("etk-ra"),
        &pki.certificate("etk-ra"),
    )
    .expect("build ETK");

    let error = parse_etk(&etk, &pki.certificate("etk-ra")).expect_err("no issuer certificate");

    assert!(
        matches!(error, EtkError::MissingAuthenticationCertificate { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("SSIN=alice"), "{error}");
}

#[test]
fn proxy_signature_check_detects_wrong_issuer_key() {
    let pki = pki();
    let mut etk = parse_etk(&alice_etk(), &pki.certificate("etk-ra")).expect("parse ETK");
    etk.authentication_certificate = pki.certificate("bob-auth");

    let error = etk
        .verify_encryption_certificate()
        .expect_err("bob's key did not sign it");

    assert!(
        matches!(error, EtkError::BadProxySignature { .. }),
        "{error}"
    );
}

#[test]
fn openssl_verifies_etk() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("etk.der"), alice_etk()).expect("write ETK");
    let ca = pki.file("ca.pem");

    openssl_ok(
        dir.path(),
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "etk.der",
            "-CAfile",
            ca.to_str().expect("utf-8"),
            "-binary",
            "-out",
            "content.der",
        ],
    );

    let content = std::fs::read(dir.path().join("content.der")).expect("read content");
    assert_eq!(
        content,
        pki.certificate("alice-enc").to_der().expect("encode")
    );
    let printed = openssl_ok(
        dir.path(),
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "etk.der",
        ],
    );
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert!(printed.contains("algorithm: sha256"), "{printed}");
    assert!(printed.contains("algorithm: rsaEncryption"), "{printed}");
    assert!(
        printed.contains("signedAttrs:\n          <ABSENT>"),
        "{printed}"
    );
}

#[test]
fn openssl_rejects_tampered_etk() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut etk = alice_etk();
    let encryption_der = pki.certificate("alice-enc").to_der().expect("encode");
    let start = etk
        .windows(32)
        .position(|window| window == &encryption_der[..32])
        .expect("certificate bytes present");
    etk[start + 16] ^= 0x01;
    std::fs::write(dir.path().join("etk.der"), etk).expect("write ETK");

    let output = openssl(
        dir.path(),
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "etk.der",
            "-noverify",
            "-binary",
            "-out",
            "content.der",
        ],
    );

    assert!(!output.status.success(), "openssl accepted a tampered ETK");
}

#[test]
fn etk_has_indefinite_lengths() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("etk.der"), alice_etk()).expect("write ETK");

    let parsed = openssl_ok(
        dir.path(),
        &["asn1parse", "-inform", "DER", "-i", "-in", "etk.der"],
    );
    let parsed = String::from_utf8_lossy(&parsed.stdout);

    let first = parsed.lines().next().unwrap_or_default();
    assert!(first.contains("l=inf"), "{first}");
    assert!(
        parsed
            .lines()
            .any(|line| line.contains("l=inf") && line.contains("OCTET STRING")),
        "no constructed OCTET STRING: {parsed}"
    );
}

/// An ETK made by OpenSSL (streamed, so also BER) and one re-encoded with BER everywhere both
/// parse: the reader does not depend on our own writer's layout.
#[test]
fn etk_from_other_encoders_parses() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("enc.der"),
        pki.certificate("alice-enc").to_der().expect("encode"),
    )
    .expect("write");
    let extra = [pki.file("alice-auth.pem"), pki.file("ca.pem")]
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("read"))
        .collect::<String>();
    std::fs::write(dir.path().join("extra.pem"), extra).expect("write");
    let (ra_pem, ra_key) = (pki.file("etk-ra.pem"), pki.file("etk-ra.key"));
    openssl_ok(
        dir.path(),
        &[
            "cms",
            "-sign",
            "-nodetach",
            "-binary",
            "-stream",
            "-noattr",
            "-md",
            "sha256",
            "-in",
            "enc.der",
            "-signer",
            ra_pem.to_str().expect("utf-8"),
            "-inkey",
            ra_key.to_str().expect("utf-8"),
            "-certfile",
            "extra.pem",
            "-outform",
            "DER",
            "-out",
            "openssl.etk",
        ],
    );
    openssl_ok(
        dir.path(),
        &[
            "cms",
            "-cmsout",
            "-inform",
            "DER",
            "-in",
            "openssl.etk",
            "-outform",
            "DER",
            "-out",
            "der.etk",
        ],
    );
    let openssl_etk = std::fs::read(dir.path().join("openssl.etk")).expect("read");
    let der_etk = std::fs::read(dir.path().join("der.etk")).expect("read");
    let ber_everywhere = der_to_ber(&der_etk, &BerOptions::everything(100)).expect("re-encode");

    for (name, bytes) in [
        ("openssl", &openssl_etk),
        ("DER", &der_etk),
        ("BER everywhere", &ber_everywhere),
    ] {
        let etk = parse_etk(bytes, &pki.certificate("etk-ra"))
            .unwrap_or_else(|error| panic!("{name} ETK: {error}"));
        assert_eq!(
            etk.encryption_certificate,
            pki.certificate("alice-enc"),
            "{name}"
        );
        assert_eq!(
            etk.authentication_certificate,
            pki.certificate("alice-auth"),
            "{name}"
        );
    }
}

#[test]
fn garbage_is_not_an_etk() {
    let error = parse_etk(b"not a CMS message", &pki().certificate("etk-ra")).expect_err("garbage");

    assert!(matches!(error, EtkError::Ber(_)), "{error}");
}
