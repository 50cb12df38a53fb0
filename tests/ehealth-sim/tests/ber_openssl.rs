//! DER→BER re-encoding checked with OpenSSL: it parses the BER, shows indefinite lengths, and
//! re-encodes it to the original DER.

mod seal_support;

use std::path::Path;

use ehealth_sim::ber::{BerOptions, ber_to_der, der_to_ber};
use seal_support::{openssl_ok, pki};

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Re-encodes `der_file` with `options`, then has OpenSSL convert it back to DER.
fn round_trip(dir: &Path, der_file: &str, options: &BerOptions) -> (Vec<u8>, Vec<u8>, String) {
    let der = std::fs::read(dir.join(der_file)).expect("read DER");
    let ber = der_to_ber(&der, options).expect("re-encode");
    std::fs::write(dir.join("ber.bin"), &ber).expect("write BER");

    openssl_ok(
        dir,
        &[
            "cms", "-cmsout", "-inform", "DER", "-in", "ber.bin", "-outform", "DER", "-out",
            "back.der",
        ],
    );
    let parsed = openssl_ok(
        dir,
        &["asn1parse", "-inform", "DER", "-i", "-in", "ber.bin"],
    );

    let back = std::fs::read(dir.join("back.der")).expect("read DER");
    (
        der,
        back,
        String::from_utf8_lossy(&parsed.stdout).into_owned(),
    )
}

#[test]
fn signed_data_round_trips_through_openssl() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let content: Vec<u8> = (0..4321u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("content.bin"), &content).expect("write");
    openssl_ok(
        dir.path(),
        &[
            "cms",
            "-sign",
            "-nodetach",
            "-binary",
            "-md",
            "sha256",
            "-in",
            "content.bin",
            "-signer",
            path_str(&pki.file("sender.pem")),
            "-inkey",
            path_str(&pki.file("sender.key")),
            "-certfile",
            path_str(&pki.file("ca.pem")),
            "-outform",
            "DER",
            "-out",
            "signed.der",
        ],
    );

    let (der, back, parsed) = round_trip(dir.path(), "signed.der", &BerOptions::signed_data(1000));

    assert_eq!(
        back, der,
        "OpenSSL's DER of our BER differs from the original"
    );
    assert!(
        parsed.lines().next().unwrap_or_default().contains("l=inf"),
        "{parsed}"
    );
    assert!(parsed.contains("hl=4 l=1000 prim:"), "{parsed}");
    assert!(parsed.contains("hl=4 l= 321 prim:"), "{parsed}");
    let ber = std::fs::read(dir.path().join("ber.bin")).expect("read BER");
    assert_eq!(ber_to_der(&ber).expect("normalise"), der);
    let verified = openssl_ok(
        dir.path(),
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "ber.bin",
            "-CAfile",
            path_str(&pki.file("ca.pem")),
            "-binary",
            "-out",
            "verified.bin",
        ],
    );
    assert!(verified.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("verified.bin")).expect("read"),
        content
    );
}

#[test]
fn enveloped_data_round_trips_through_openssl() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let content = vec![0x61; 2222];
    std::fs::write(dir.path().join("content.bin"), &content).expect("write");
    openssl_ok(
        dir.path(),
        &[
            "cms",
            "-encrypt",
            "-aes128",
            "-binary",
            "-in",
            "content.bin",
            "-outform",
            "DER",
            "-out",
            "enveloped.der",
            path_str(&pki.file("alice-enc.pem")),
        ],
    );

    let (der, back, parsed) = round_trip(
        dir.path(),
        "enveloped.der",
        &BerOptions::enveloped_data(1000),
    );

    assert_eq!(
        back, der,
        "OpenSSL's DER of our BER differs from the original"
    );
    assert!(
        parsed
            .lines()
            .any(|line| line.contains("l=inf") && line.contains("cont [ 0 ]")),
        "{parsed}"
    );
    openssl_ok(
        dir.path(),
        &[
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-in",
            "ber.bin",
            "-recip",
            path_str(&pki.file("alice-enc.pem")),
            "-inkey",
            path_str(&pki.file("alice-enc.key")),
            "-binary",
            "-out",
            "decrypted.bin",
        ],
    );
    assert_eq!(
        std::fs::read(dir.path().join("decrypted.bin")).expect("read"),
        content
    );
}

#[test]
fn everything_selection_parses_in_openssl() {
    let pki = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("content.bin"), b"short content").expect("write");
    openssl_ok(
        dir.path(),
        &[
            "cms",
            "-sign",
            "-nodetach",
            "-binary",
            "-in",
            "content.bin",
            "-signer",
            path_str(&pki.file("sender.pem")),
            "-inkey",
            path_str(&pki.file("sender.key")),
            "-outform",
            "DER",
            "-out",
            "signed.der",
        ],
    );

    let (der, back, parsed) = round_trip(dir.path(), "signed.der", &BerOptions::everything(1000));

    // OpenSSL keeps the received encoding of certificates and signer infos when it re-encodes,
    // so its output is only DER after normalising those parts too.
    assert_eq!(ber_to_der(&back).expect("normalise"), der);
    let definite_constructed = parsed
        .lines()
        .filter(|line| line.contains("cons:") && !line.contains("l=inf"))
        .count();
    assert_eq!(definite_constructed, 0, "{parsed}");
}
