//! A throwaway PKI made with the `openssl` command line, and helpers to run `openssl`, for the
//! sealing and ETK tests.
//!
//! The PKI has a CA, a sender (authentication certificate plus a second, eID-like signing
//! certificate), two recipients each with an authentication certificate and an encryption proxy
//! certificate issued by it, and two ETK-RA certificates. It is made once per test binary.

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use der::DecodePem;
use ehealth_sim::seal::SenderCredential;
use rsa::pkcs8::DecodePrivateKey;
use x509_cert::Certificate;

/// The PKI's directory and file names.
#[derive(Debug)]
pub struct TestPki {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

static PKI: OnceLock<TestPki> = OnceLock::new();

/// Returns the PKI, creating it on first use.
pub fn pki() -> &'static TestPki {
    PKI.get_or_init(TestPki::create)
}

const LEAF_EXTENSIONS: &str = "\
[auth]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
[encryption]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyEncipherment,dataEncipherment
";

impl TestPki {
    fn create() -> Self {
        let dir = tempfile::tempdir().expect("create the PKI directory");
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("ext.cnf"), LEAF_EXTENSIONS).expect("write ext.cnf");

        openssl_ok(
            &path,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                "/C=BE/O=Test/CN=Test eHealth CA",
            ],
        );
        let pki = Self { _dir: dir, path };
        pki.issue("sender", "/C=BE/O=Federal Government/OU=eHealth-platform Belgium/OU=SSIN=79021802145/CN=SSIN=79021802145", "ca", "auth");
        pki.issue(
            "sender-sign",
            "/C=BE/CN=Test Sender (Signature)/serialNumber=79021802145",
            "ca",
            "auth",
        );
        pki.issue(
            "etk-ra",
            "/C=BE/O=Federal Government/OU=eHealth-platform Belgium/CN=ETK-RA",
            "ca",
            "auth",
        );
        pki.issue("other-ra", "/C=BE/O=Test/CN=Other RA", "ca", "auth");
        for holder in ["alice", "bob"] {
            let subject = format!(
                "/C=BE/O=Federal Government/OU=eHealth-platform Belgium/OU={holder}/CN=SSIN={holder}"
            );
            pki.issue(&format!("{holder}-auth"), &subject, "ca", "auth");
            // The encryption certificate is a proxy: issued by the holder's authentication
            // certificate and signed with its key.
            pki.issue(
                &format!("{holder}-enc"),
                &subject,
                &format!("{holder}-auth"),
                "encryption",
            );
        }
        pki
    }

    /// Makes `name.key` and `name.pem`, issued by `issuer` with extension section `section`.
    fn issue(&self, name: &str, subject: &str, issuer: &str, section: &str) {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        openssl_ok(
            &self.path,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                &key,
            ],
        );
        openssl_ok(
            &self.path,
            &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
        );
        openssl_ok(
            &self.path,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &format!("{issuer}.pem"),
                "-CAkey",
                &format!("{issuer}.key"),
                "-set_serial",
                &serial_for(name),
                "-days",
                "1000",
                "-sha256",
                "-extfile",
                "ext.cnf",
                "-extensions",
                section,
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn certificate(&self, name: &str) -> Certificate {
        let pem = std::fs::read(self.file(&format!("{name}.pem"))).expect("read certificate");
        Certificate::from_pem(&pem).expect("parse certificate")
    }

    pub fn key(&self, name: &str) -> rsa::PrivateKey {
        let pem = std::fs::read_to_string(self.file(&format!("{name}.key"))).expect("read key");
        rsa::PrivateKey::from_pkcs8_pem(&pem).expect("parse key")
    }

    /// The sender's credential with the CA as its chain.
    pub fn sender(&self) -> SenderCredential {
        self.credential("sender")
    }

    pub fn credential(&self, name: &str) -> SenderCredential {
        SenderCredential::new(
            self.key(name),
            self.certificate(name),
            vec![self.certificate("ca")],
        )
        .expect("key matches certificate")
    }
}

/// A distinct, stable serial number per certificate name.
fn serial_for(name: &str) -> String {
    let sum: u64 = name.bytes().fold(7, |acc, byte| {
        acc.wrapping_mul(31).wrapping_add(u64::from(byte))
    });
    format!("{}", sum % 1_000_000_007 + 1000)
}

/// Runs `openssl` in `dir`.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl")
}

/// Runs `openssl` in `dir` and panics with its stderr if it fails.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> Output {
    let output = openssl(dir, args);
    assert!(
        output.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
