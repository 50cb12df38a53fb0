//! The Belgian eID roots that the package installs: the mandate code must load them, they must be
//! exactly the pinned certificates, and the shipped configuration must point at them.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};

use der::{Decode, Encode};
use jiff::Timestamp;
use practicebox::config::{SHIPPED_EID_ROOTS, ServiceConfig};
use practicebox::eid::CryptoError;
use practicebox::eid::crypto::verify_issued_by_root;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

/// SHA-256 fingerprints of the DER certificates, with the common name of each. The same values
/// are written above each certificate in the PEM file.
const PINNED: [(&str, &str); 3] = [
    (
        "Belgium Root CA3",
        "a8d14e945e3e5156bcae5e39737cf6a1b1f51028bbbf982f50ce5f4c05568b4d",
    ),
    (
        "Belgium Root CA4",
        "702dd5c1a093cf0a9d71fadd9bf9a7c5857d89fb73b716e867228b3c2beb968f",
    ),
    (
        "Belgium Root CA6",
        "9c872bc979a7c09a58d4a274c199e5cb16cfa9b9618d98bc9a9988e984b8495c",
    ),
];

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../image/package")
}

fn shipped_file() -> PathBuf {
    package_dir().join(SHIPPED_EID_ROOTS.trim_start_matches('/'))
}

fn common_name(certificate: &Certificate) -> String {
    let subject = certificate.tbs_certificate().subject().to_string();
    subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn shipped_roots_load_as_eid_anchors() {
    let anchors = practicebox::mandates::load_eid_anchors(&shipped_file()).unwrap();
    assert_eq!(anchors.len(), PINNED.len());
}

#[test]
fn shipped_roots_match_pinned_fingerprints() {
    let pem = std::fs::read(shipped_file()).unwrap();
    let certificates = Certificate::load_pem_chain(&pem).unwrap();
    assert_eq!(certificates.len(), PINNED.len());
    for (certificate, (name, fingerprint)) in certificates.iter().zip(PINNED) {
        let der = certificate.to_der().unwrap();
        let digest: String = Sha256::digest(&der)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(common_name(certificate), name);
        assert_eq!(digest, fingerprint, "fingerprint of {name}");
        // Roots are self-issued: the issuer is the subject.
        assert_eq!(
            certificate.tbs_certificate().issuer(),
            certificate.tbs_certificate().subject(),
            "{name} is not self-issued"
        );
        Certificate::from_der(&der).unwrap();
    }
}

fn citizen_ca_202002() -> Certificate {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eid/citizen-ca-202002.pem");
    let pem = std::fs::read(path).unwrap();
    let mut certificates = Certificate::load_pem_chain(&pem).unwrap();
    assert_eq!(certificates.len(), 1);
    certificates.remove(0)
}

/// Returns a day when the Citizen CA and Belgium Root CA6 are both valid.
fn valid_day() -> Timestamp {
    "2026-12-04T12:00:00Z".parse().unwrap()
}

#[test]
fn production_citizen_ca_chains_to_root_ca6() {
    let anchors = practicebox::mandates::load_eid_anchors(&shipped_file()).unwrap();
    verify_issued_by_root(&citizen_ca_202002(), "citizen CA", &anchors, valid_day()).unwrap();
}

#[test]
fn production_citizen_ca_with_altered_signature_rejected() {
    let anchors = practicebox::mandates::load_eid_anchors(&shipped_file()).unwrap();
    let mut der = citizen_ca_202002().to_der().unwrap();
    // The last byte belongs to the signature's s value.
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let altered = Certificate::from_der(&der).unwrap();
    let error = verify_issued_by_root(&altered, "citizen CA", &anchors, valid_day()).unwrap_err();
    assert!(
        matches!(error, CryptoError::BadCertificateSignature { .. }),
        "{error}"
    );
}

#[test]
fn production_citizen_ca_after_expiry_rejected() {
    let anchors = practicebox::mandates::load_eid_anchors(&shipped_file()).unwrap();
    let after: Timestamp = "2032-06-04T00:00:00Z".parse().unwrap();
    let error =
        verify_issued_by_root(&citizen_ca_202002(), "citizen CA", &anchors, after).unwrap_err();
    assert!(matches!(error, CryptoError::Expired { .. }), "{error}");
}

#[test]
fn shipped_config_uses_shipped_roots() {
    let path = package_dir().join("etc/practicebox/config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = ServiceConfig::parse(&text, &path).unwrap();
    assert_eq!(config.mandates.eid_roots, Path::new(SHIPPED_EID_ROOTS));
}

#[test]
fn default_config_uses_shipped_roots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = format!(
        "data_dir = \"{0}/data\"\nshare_root = \"{0}/share\"\n",
        dir.path().display()
    );
    let config = ServiceConfig::parse(&text, &path).unwrap();
    assert_eq!(config.mandates.eid_roots, Path::new(SHIPPED_EID_ROOTS));
}
