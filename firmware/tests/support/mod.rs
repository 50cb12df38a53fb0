//! Test PKI and sealed messages made with the `openssl` command line, an implementation
//! independent of ours.
//!
//! One PKI is generated per test process (a CA, two doctors, their encryption certificates
//! and a stranger) and copied into each test's own temporary folder, where the test seals
//! messages with `openssl cms`.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, reason = "test fixtures fail loudly")]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey,
    PrivateKeyChain,
};
use tempfile::TempDir;

pub const PASSWORD: &str = "Corr3ct-Horse!";

/// The recipient doctor, whose keystore the tests open.
pub const DOCTOR_SSIN: &str = "79102520991";
pub const DOCTOR_NAME: &str = "JAN PEETERS";
/// The sending doctor.
pub const SENDER_SSIN: &str = "79021802145";

/// Serial numbers of the doctor's two encryption certificates, 128-bit like eHealth's.
pub const ENCRYPTION_SERIAL: &str = "19088378040904364161854366057849601424";
pub const OLD_ENCRYPTION_SERIAL: &str = "211715469286404981203587440982150937601";

const CA_SUBJECT: &str = "/C=BE/O=Test eHealth/CN=Test eHealth CA";

fn person_subject(ssin: &str, name: &str) -> String {
    format!(
        "/C=BE/O=Federal Government/OU=SSIN={ssin}/OU={name}/OU=eHealth-platform Belgium/CN=SSIN={ssin}"
    )
}

const CA_EXTENSIONS: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";
const AUTHENTICATION_EXTENSIONS: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
const ENCRYPTION_EXTENSIONS: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyEncipherment,dataEncipherment\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";

/// Runs `openssl` in `dir` and returns its stdout; panics with its stderr on failure, and
/// with an install hint when the command is missing.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run the openssl command ({error}); these tests need OpenSSL 3: run `bash .ci/install-deps`"
            )
        });
    assert!(
        output.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Returns the files of the shared PKI by name, generating them on first use.
fn pki_files() -> &'static BTreeMap<String, Vec<u8>> {
    static FILES: OnceLock<BTreeMap<String, Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = TempDir::new().unwrap();
        generate_pki(dir.path());
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let name = entry.file_name().into_string().unwrap();
                (name, std::fs::read(entry.path()).unwrap())
            })
            .collect()
    })
}

fn generate_pki(dir: &Path) {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("ca.ext", CA_EXTENSIONS);
    write("auth.ext", AUTHENTICATION_EXTENSIONS);
    write("enc.ext", ENCRYPTION_EXTENSIONS);

    new_key(dir, "ca");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-key",
            "ca.key",
            "-subj",
            CA_SUBJECT,
            "-days",
            "3650",
            "-sha256",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.pem",
        ],
    );

    let doctor = person_subject(DOCTOR_SSIN, DOCTOR_NAME);
    issue(dir, "doctor", &doctor, "ca", "auth.ext", "1001");
    issue(dir, "enc", &doctor, "doctor", "enc.ext", ENCRYPTION_SERIAL);
    issue(
        dir,
        "enc-old",
        &doctor,
        "doctor",
        "enc.ext",
        OLD_ENCRYPTION_SERIAL,
    );

    let sender = person_subject(SENDER_SSIN, "ANNA JANSSENS");
    issue(dir, "sender", &sender, "ca", "auth.ext", "1002");
    let other_signer = person_subject(SENDER_SSIN, "ANNA JANSSENS (Signature)");
    issue(dir, "other-signer", &other_signer, "ca", "auth.ext", "1003");
    new_ec_key(dir, "ec-sender", "P-256");
    issue(dir, "ec-sender", &sender, "ca", "auth.ext", "1005");
    new_ec_key(dir, "ec384-sender", "P-384");
    issue(dir, "ec384-sender", &sender, "ca", "auth.ext", "1006");
    let stranger = person_subject("85073003328", "PIET STRANGER");
    issue(dir, "stranger", &stranger, "ca", "enc.ext", "1004");

    // A CA with the test CA's name but another key, as a forger would make.
    new_key(dir, "fake-ca");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-key",
            "fake-ca.key",
            "-subj",
            CA_SUBJECT,
            "-days",
            "3650",
            "-out",
            "fake-ca.pem",
        ],
    );

    let outsider_ca = "/C=BE/O=Elsewhere/CN=Unknown CA";
    new_key(dir, "outsider-ca");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-key",
            "outsider-ca.key",
            "-subj",
            outsider_ca,
            "-days",
            "3650",
            "-out",
            "outsider-ca.pem",
        ],
    );
}

fn new_key(dir: &Path, name: &str) {
    let key = format!("{name}.key");
    openssl(
        dir,
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
}

fn new_ec_key(dir: &Path, name: &str, curve: &str) {
    let key = format!("{name}.key");
    let curve = format!("ec_paramgen_curve:{curve}");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &curve,
            "-out",
            &key,
        ],
    );
}

/// Creates `name.pem`, issued by `issuer` with the given serial number, and `name.key` (an
/// RSA key) unless that key exists already.
fn issue(dir: &Path, name: &str, subject: &str, issuer: &str, extensions: &str, serial: &str) {
    if !dir.join(format!("{name}.key")).exists() {
        new_key(dir, name);
    }
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    let (issuer_pem, issuer_key) = (format!("{issuer}.pem"), format!("{issuer}.key"));
    openssl(
        dir,
        &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &issuer_pem,
            "-CAkey",
            &issuer_key,
            "-set_serial",
            serial,
            "-days",
            "1095",
            "-sha256",
            "-extfile",
            extensions,
            "-out",
            &pem,
        ],
    );
}

/// A test's own folder with a copy of the shared PKI.
pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = TempDir::new().unwrap();
        for (name, bytes) in pki_files() {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(name), bytes).unwrap();
    }

    pub fn openssl(&self, args: &[&str]) -> Vec<u8> {
        openssl(self.dir.path(), args)
    }

    /// DER encoding of a PEM certificate or key file.
    pub fn der(&self, name: &str) -> Vec<u8> {
        if name.ends_with(".key") {
            self.openssl(&[
                "pkcs8", "-topk8", "-nocrypt", "-in", name, "-outform", "DER",
            ])
        } else {
            self.openssl(&["x509", "-in", name, "-outform", "DER"])
        }
    }

    /// Builds the doctor's keystore as eHealth issues it: `authentication` plus the two encryption
    /// keys under their decimal serials, written by p12-keystore in the legacy (3DES, SHA-1
    /// MAC) or modern (AES-256, SHA-256 MAC) layout.
    pub fn doctor_keystore(&self, legacy: bool) -> Vec<u8> {
        let mut keystore = KeyStore::new();
        self.add_key(
            &mut keystore,
            "authentication",
            "doctor",
            &["doctor.pem", "ca.pem"],
        );
        self.add_key(
            &mut keystore,
            ENCRYPTION_SERIAL,
            "enc",
            &["enc.pem", "doctor.pem", "ca.pem"],
        );
        self.add_key(
            &mut keystore,
            OLD_ENCRYPTION_SERIAL,
            "enc-old",
            &["enc-old.pem", "doctor.pem", "ca.pem"],
        );
        let writer = keystore.writer(PASSWORD);
        let writer = if legacy {
            writer
                .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
                .mac_algorithm(MacAlgorithm::HmacSha1)
        } else {
            writer
        };
        writer
            .encryption_iterations(2048)
            .mac_iterations(2048)
            .write()
            .unwrap()
    }

    pub fn add_key(&self, keystore: &mut KeyStore, alias: &str, key: &str, certificates: &[&str]) {
        let key = PrivateKey::from_der(&self.der(&format!("{key}.key"))).unwrap();
        let certificates = certificates
            .iter()
            .map(|name| Certificate::from_der(&self.der(name)).unwrap());
        let local_key_id = format!("Time {alias}");
        let chain = PrivateKeyChain::new(local_key_id.as_str(), key, certificates);
        keystore.add_entry(alias, KeyStoreEntry::PrivateKeyChain(chain));
    }

    /// Writes a single-key keystore with `openssl pkcs12 -export`, legacy (RC2-40
    /// certificates, 3DES key, SHA-1 MAC) or modern (PBES2/AES-256, SHA-256 MAC).
    pub fn openssl_keystore(&self, legacy: bool, alias: &str) -> Vec<u8> {
        let out = if legacy {
            "openssl-legacy.p12"
        } else {
            "openssl-modern.p12"
        };
        let password = format!("pass:{PASSWORD}");
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            "doctor.pem",
            "-inkey",
            "doctor.key",
            "-certfile",
            "ca.pem",
            "-name",
            alias,
            "-passout",
            &password,
            "-out",
            out,
        ];
        if legacy {
            args.push("-legacy");
        }
        self.openssl(&args);
        self.read(out)
    }

    /// Signs `input` into `output` with `openssl cms -sign`, content embedded, DER or (with
    /// `stream`) indefinite-length BER.
    pub fn sign(&self, input: &str, output: &str, signer: &str, options: &SignOptions) {
        let (cert, key) = (format!("{signer}.pem"), format!("{signer}.key"));
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-in",
            input,
            "-signer",
            &cert,
            "-inkey",
            &key,
            "-md",
            options.digest,
            "-outform",
            "DER",
            "-out",
            output,
        ];
        if options.pss {
            args.extend([
                "-keyopt",
                "rsa_padding_mode:pss",
                "-keyopt",
                "rsa_pss_saltlen:32",
            ]);
        }
        if options.no_attributes {
            args.push("-noattr");
        }
        if options.stream {
            args.push("-stream");
        }
        if options.key_id {
            args.push("-keyid");
        }
        if options.no_certificates {
            args.push("-nocerts");
        }
        self.openssl(&args);
    }

    /// Encrypts `input` with AES-128-CBC to the given recipient certificates.
    pub fn encrypt(
        &self,
        input: &str,
        output: &str,
        recipients: &[&str],
        options: &EncryptOptions,
    ) {
        let mut args = vec![
            "cms",
            "-encrypt",
            "-binary",
            "-in",
            input,
            options.cipher,
            "-outform",
            "DER",
            "-out",
            output,
        ];
        if options.stream {
            args.push("-stream");
        }
        if options.key_id {
            args.push("-keyid");
        }
        for recipient in recipients {
            args.extend(["-recip", recipient]);
            if options.oaep {
                args.extend(["-keyopt", "rsa_padding_mode:oaep"]);
            }
        }
        self.openssl(&args);
    }

    /// Seals `content` from `sender` to the doctor's current encryption certificate: inner
    /// signature, encryption, outer signature, all with the same options.
    pub fn seal(&self, content: &[u8], sign: &SignOptions, encrypt: &EncryptOptions) -> Vec<u8> {
        self.seal_as("sender", content, sign, encrypt)
    }

    /// Seals like [`Workspace::seal`] with the certificate and key named `signer`.
    pub fn seal_as(
        &self,
        signer: &str,
        content: &[u8],
        sign: &SignOptions,
        encrypt: &EncryptOptions,
    ) -> Vec<u8> {
        self.write("content.bin", content);
        self.sign("content.bin", "inner.der", signer, sign);
        self.encrypt("inner.der", "envelope.der", &["enc.pem"], encrypt);
        self.sign("envelope.der", "sealed.der", signer, sign);
        self.read("sealed.der")
    }
}

/// Options of `openssl cms -sign`.
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub digest: &'static str,
    pub pss: bool,
    pub no_attributes: bool,
    pub stream: bool,
    pub key_id: bool,
    pub no_certificates: bool,
}

impl Default for SignOptions {
    /// Returns the eHealth library's choice for an eHealth certificate: RSASSA-PSS, SHA-256.
    fn default() -> Self {
        Self {
            digest: "sha256",
            pss: true,
            no_attributes: false,
            stream: false,
            key_id: false,
            no_certificates: false,
        }
    }
}

/// Options of `openssl cms -encrypt`.
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    pub cipher: &'static str,
    pub stream: bool,
    pub key_id: bool,
    pub oaep: bool,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        Self {
            cipher: "-aes128",
            stream: false,
            key_id: false,
            oaep: false,
        }
    }
}

/// Content with every byte value, line endings and a length that is not a block multiple.
pub fn sample_content(length: usize) -> Vec<u8> {
    (0..length)
        .map(|index| (index.wrapping_mul(31) ^ (index >> 7)) as u8)
        .collect()
}
