//! Writes the test PKI to a folder, with a `manifest.json` that lists every file, and loads it
//! back.
//!
//! Folder layout (paths relative to the folder):
//! - `ca/root.pem`, `ca/root-key.pem`, `ca/issuing.pem`, `ca/issuing-key.pem`
//! - `sts/sts-cert.pem`, `sts/sts-key.pem`
//! - `etk-ra/etk-ra-cert.pem`, `etk-ra/etk-ra-key.pem`
//! - `tls/server-cert.pem` (server certificate, then the issuing CA), `tls/server-key.pem`,
//!   `tls/ca.pem` (the root CA, the trust anchor for clients)
//! - per doctor, in `doctors/<ssin>/`: the keystore `SSIN=<ssin> <yyyyMMdd-HHmmss>.acc-p12`,
//!   `password.txt` (one line), `auth-cert.pem`, `auth-key.pem`, and per encryption key
//!   `enc-<serial>.pem` and `enc-<serial>-key.pem`, and for [`Variant::WrongPassword`] also
//!   `correct-password.txt`
//! - `manifest.json`: a [`Manifest`]
//!
//! Private keys are PKCS#8 PEM. Keys and password files are written with mode 0600.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rsa::PrivateKey;
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;

use super::{Credential, Doctor, DoctorSpec, Keystore, PkiError, TestPki, Variant};

/// Version of the manifest format written by [`TestPki::write_to`].
pub const MANIFEST_FORMAT: u32 = 1;
/// File name of the manifest inside the PKI folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The index of a PKI folder. Every path is relative to the folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub seed: u64,
    pub created_at: Timestamp,
    pub root: CredentialFiles,
    pub issuing: CredentialFiles,
    pub sts: CredentialFiles,
    pub etk_ra: CredentialFiles,
    /// `certificate` contains the server certificate followed by the issuing CA.
    pub tls_server: CredentialFiles,
    /// The root CA certificate that TLS clients trust.
    pub tls_ca: String,
    pub doctors: Vec<DoctorFiles>,
}

/// Where a certificate and its key are, with the certificate's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialFiles {
    pub subject: String,
    /// Decimal serial number.
    pub serial: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub certificate: String,
    pub key: String,
}

/// One doctor's entry in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorFiles {
    pub first_name: String,
    pub last_name: String,
    pub ssin: String,
    pub nihii11: String,
    pub recognised_as_doctor: bool,
    pub variant: Variant,
    pub keystore: String,
    /// Contains the keystore password, except for [`Variant::WrongPassword`].
    pub password_file: String,
    /// Only for [`Variant::WrongPassword`]: the password that does open the keystore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_password_file: Option<String>,
    pub authentication: CredentialFiles,
    /// Encryption credentials, oldest first. `serial` is the keystore alias.
    pub encryption: Vec<CredentialFiles>,
}

impl TestPki {
    /// Writes every certificate, key, keystore and password file to `dir`, then `manifest.json`.
    /// Existing files with the same names are replaced.
    pub fn write_to(&self, dir: &Path) -> Result<Manifest, PkiError> {
        let writer = FolderWriter { root: dir };
        let tls_chain = format!(
            "{}{}",
            self.tls_server.certificate_pem()?,
            self.issuing.certificate_pem()?
        );

        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            seed: self.seed,
            created_at: self.created_at,
            root: writer.credential(&self.root, "ca/root.pem", "ca/root-key.pem")?,
            issuing: writer.credential(&self.issuing, "ca/issuing.pem", "ca/issuing-key.pem")?,
            sts: writer.credential(&self.sts, "sts/sts-cert.pem", "sts/sts-key.pem")?,
            etk_ra: writer.credential(
                &self.etk_ra,
                "etk-ra/etk-ra-cert.pem",
                "etk-ra/etk-ra-key.pem",
            )?,
            tls_server: writer.credential_with_chain(
                &self.tls_server,
                &tls_chain,
                "tls/server-cert.pem",
                "tls/server-key.pem",
            )?,
            tls_ca: writer.public("tls/ca.pem", self.root.certificate_pem()?.as_bytes())?,
            doctors: self
                .doctors
                .iter()
                .map(|doctor| writer.doctor(doctor))
                .collect::<Result<_, _>>()?,
        };

        let json = serde_json::to_vec_pretty(&manifest).map_err(|source| PkiError::Manifest {
            path: dir.join(MANIFEST_FILE),
            source,
        })?;
        writer.public(MANIFEST_FILE, &json)?;
        Ok(manifest)
    }

    /// Loads a PKI written by [`TestPki::write_to`], checking that every key matches its
    /// certificate.
    pub fn load_from(dir: &Path) -> Result<Self, PkiError> {
        let manifest = read_manifest(dir)?;
        let reader = FolderReader { root: dir };

        let mut doctors = Vec::new();
        for entry in &manifest.doctors {
            doctors.push(reader.doctor(entry)?);
        }
        Ok(Self {
            seed: manifest.seed,
            created_at: manifest.created_at,
            root: reader.credential(&manifest.root)?,
            issuing: reader.credential(&manifest.issuing)?,
            sts: reader.credential(&manifest.sts)?,
            etk_ra: reader.credential(&manifest.etk_ra)?,
            tls_server: reader.credential(&manifest.tls_server)?,
            doctors,
        })
    }
}

/// Reads and parses `manifest.json` of a PKI folder.
pub fn read_manifest(dir: &Path) -> Result<Manifest, PkiError> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = fs::read(&path).map_err(|source| PkiError::Io {
        path: path.clone(),
        source,
    })?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|source| PkiError::Manifest {
            path: path.clone(),
            source,
        })?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(PkiError::Folder {
            path,
            reason: format!(
                "manifest format {} is not supported; expected {MANIFEST_FORMAT}, so regenerate the PKI",
                manifest.format
            ),
        });
    }
    Ok(manifest)
}

struct FolderWriter<'a> {
    root: &'a Path,
}

impl FolderWriter<'_> {
    fn credential(
        &self,
        credential: &Credential,
        certificate: &str,
        key: &str,
    ) -> Result<CredentialFiles, PkiError> {
        let pem = credential.certificate_pem()?;
        self.credential_with_chain(credential, &pem, certificate, key)
    }

    fn credential_with_chain(
        &self,
        credential: &Credential,
        certificate_pem: &str,
        certificate: &str,
        key: &str,
    ) -> Result<CredentialFiles, PkiError> {
        self.public(certificate, certificate_pem.as_bytes())?;
        self.secret(key, credential.key_pkcs8_pem()?.as_bytes())?;
        Ok(CredentialFiles {
            subject: credential.subject(),
            serial: credential.serial_decimal(),
            not_before: credential.not_before(),
            not_after: credential.not_after(),
            certificate: certificate.to_owned(),
            key: key.to_owned(),
        })
    }

    fn doctor(&self, doctor: &Doctor) -> Result<DoctorFiles, PkiError> {
        let spec = &doctor.spec;
        let folder = format!("doctors/{}", spec.ssin);
        let file = |name: &str| format!("{folder}/{name}");

        let keystore = self.public(&file(&doctor.keystore.file_name), &doctor.keystore.bytes)?;
        let password_file = self.secret(
            &file("password.txt"),
            format!("{}\n", doctor.keystore.password_file_text).as_bytes(),
        )?;
        let correct_password_file = if spec.variant == Variant::WrongPassword {
            let text = format!("{}\n", doctor.keystore.password);
            Some(self.secret(&file("correct-password.txt"), text.as_bytes())?)
        } else {
            None
        };

        let authentication = self.credential(
            &doctor.authentication,
            &file("auth-cert.pem"),
            &file("auth-key.pem"),
        )?;
        let mut encryption = Vec::new();
        for credential in &doctor.encryption {
            let serial = credential.serial_decimal();
            encryption.push(self.credential(
                credential,
                &file(&format!("enc-{serial}.pem")),
                &file(&format!("enc-{serial}-key.pem")),
            )?);
        }

        Ok(DoctorFiles {
            first_name: spec.first_name.clone(),
            last_name: spec.last_name.clone(),
            ssin: spec.ssin.clone(),
            nihii11: spec.nihii11.clone(),
            recognised_as_doctor: spec.recognised_as_doctor,
            variant: spec.variant,
            keystore,
            password_file,
            correct_password_file,
            authentication,
            encryption,
        })
    }

    fn public(&self, relative: &str, bytes: &[u8]) -> Result<String, PkiError> {
        self.write(relative, bytes, 0o644)
    }

    fn secret(&self, relative: &str, bytes: &[u8]) -> Result<String, PkiError> {
        self.write(relative, bytes, 0o600)
    }

    fn write(&self, relative: &str, bytes: &[u8], mode: u32) -> Result<String, PkiError> {
        let path = self.root.join(relative);
        let io_error = |source| PkiError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_error)?;
        }

        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(mode);
            // `mode` only applies to new files, so an existing file gets its mode set here.
            if path.exists() {
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io_error)?;
            }
        }
        let mut file = options.open(&path).map_err(io_error)?;
        file.write_all(bytes).map_err(io_error)?;
        Ok(relative.to_owned())
    }
}

struct FolderReader<'a> {
    root: &'a Path,
}

impl FolderReader<'_> {
    fn credential(&self, files: &CredentialFiles) -> Result<Credential, PkiError> {
        let certificate_path = self.root.join(&files.certificate);
        let certificate_pem = self.read_text(&files.certificate)?;
        let certificate = Certificate::load_pem_chain(certificate_pem.as_bytes())
            .ok()
            .and_then(|chain| chain.into_iter().next())
            .ok_or_else(|| self.invalid(&certificate_path, "no PEM CERTIFICATE block"))?;

        let key_path = self.root.join(&files.key);
        let key_pem = self.read_text(&files.key)?;
        let key = <PrivateKey as pkcs8::DecodePrivateKey>::from_pkcs8_pem(&key_pem)
            .map_err(|_| self.invalid(&key_path, "not a PKCS#8 PEM RSA private key"))?;

        let credential = Credential::new(certificate, key)?;
        if credential.serial_decimal() != files.serial {
            return Err(self.invalid(
                &certificate_path,
                &format!(
                    "certificate serial {} differs from the manifest's {}",
                    credential.serial_decimal(),
                    files.serial
                ),
            ));
        }
        Ok(credential)
    }

    fn doctor(&self, files: &DoctorFiles) -> Result<Doctor, PkiError> {
        let spec = DoctorSpec {
            first_name: files.first_name.clone(),
            last_name: files.last_name.clone(),
            ssin: files.ssin.clone(),
            nihii11: files.nihii11.clone(),
            recognised_as_doctor: files.recognised_as_doctor,
            variant: files.variant,
        };
        let authentication = self.credential(&files.authentication)?;
        let encryption = files
            .encryption
            .iter()
            .map(|entry| self.credential(entry))
            .collect::<Result<Vec<_>, _>>()?;
        if encryption.is_empty() {
            return Err(self.invalid(
                &self.root.join(super::folder::MANIFEST_FILE),
                &format!("doctor {} has no encryption key", files.ssin),
            ));
        }

        let password_file_text = self.read_line(&files.password_file)?;
        let password = match &files.correct_password_file {
            Some(path) => self.read_line(path)?,
            None => password_file_text.clone(),
        };
        let keystore_path = self.root.join(&files.keystore);
        let bytes = fs::read(&keystore_path).map_err(|source| PkiError::Io {
            path: keystore_path.clone(),
            source,
        })?;
        let file_name = Path::new(&files.keystore)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();

        Ok(Doctor {
            spec,
            authentication,
            encryption,
            keystore: Keystore {
                file_name,
                bytes,
                password,
                password_file_text,
            },
        })
    }

    fn read_text(&self, relative: &str) -> Result<String, PkiError> {
        let path = self.root.join(relative);
        fs::read_to_string(&path).map_err(|source| PkiError::Io { path, source })
    }

    fn read_line(&self, relative: &str) -> Result<String, PkiError> {
        let text = self.read_text(relative)?;
        Ok(text.trim_end_matches(['\r', '\n']).to_owned())
    }

    fn invalid(&self, path: &Path, reason: &str) -> PkiError {
        PkiError::Folder {
            path: PathBuf::from(path),
            reason: reason.to_owned(),
        }
    }
}
