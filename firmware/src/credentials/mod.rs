//! Credentials at rest: each doctor's eHealth keystore and its password, encrypted on disk.
//!
//! A [`CredentialVault`] is a folder with:
//! - `box.key`: the per-box key, 32 random bytes, created on first use with mode 0600. The
//!   vault refuses a key file that group or others may read.
//! - `principal-<id>.cred`: one record per principal, written atomically.
//!
//! # Record format
//!
//! `PBCRED01` (8 bytes), the header length (u32, big-endian), the header (JSON: principal id,
//! certificate fingerprint and end, which the status checks read without the key), a 12-byte
//! nonce drawn fresh for each record, and the AES-256-GCM ciphertext with its tag. The
//! associated data is the magic, the principal id in decimal and the header, so a record moved
//! to another principal's name, or a header edited, fails to decrypt. The plaintext is the
//! password's length (u32, big-endian), the password, then the PKCS#12 bytes.
//!
//! Plaintext exists only while [`CredentialVault::open_keystore`] or
//! [`CredentialVault::with_keystore`] runs, in [`Zeroizing`] buffers. The opened keystore they
//! return or lend wipes its private keys when dropped. Removing a record overwrites it with
//! zeros and syncs before unlinking it.
//!
//! The store and the vault live in the same data folder: the vault is its [`VAULT_FOLDER`].
//!
//! NOTE: overwriting in place does not reach older copies on flash storage with wear levelling
//! (SD cards). The encryption is what protects those copies, as long as `box.key` is kept.
//!
//! [`secret_file`] reads the password and PIN files that commands and the configuration name.

pub mod secret_file;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use jiff::Timestamp;
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ehealth::keystore::{EhealthKeystore, KeystoreError};
use crate::store::PrincipalId;

/// The vault's folder inside the box's data folder.
pub const VAULT_FOLDER: &str = "credentials";

const MAGIC: &[u8; 8] = b"PBCRED01";
const KEY_FILE: &str = "box.key";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Largest header accepted when reading; real headers are about 200 bytes.
const MAX_HEADER_LEN: usize = 4096;

/// A credential failure. No variant contains a password or key material.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "cannot use the credentials folder {path}: {source}; check that it exists and is writable by root"
    )]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the box key {path} may be read by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error(
        "the box key {path} has {length} bytes instead of {KEY_LEN}; restore it from the backup, \
         or remove it and enter every doctor's certificate again"
    )]
    KeyLength { path: PathBuf, length: usize },
    #[error(
        "no stored credentials for principal {principal}; enter the doctor's certificate again"
    )]
    Missing { principal: PrincipalId },
    #[error(
        "the stored credentials {path} are damaged ({reason}); remove them and enter the \
         doctor's certificate again"
    )]
    Damaged { path: PathBuf, reason: &'static str },
    #[error(
        "the stored credentials {path} do not decrypt with this box's key: the key or the file \
         was replaced; enter the doctor's certificate again"
    )]
    Decrypt { path: PathBuf },
    #[error("the stored keystore of principal {principal} does not open: {source}")]
    Keystore {
        principal: PrincipalId,
        source: KeystoreError,
    },
}

/// The facts stored in clear beside a record, covered by its authentication tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialSummary {
    pub principal: i64,
    /// The keystore's file name, as the doctor chose it.
    pub keystore_file: String,
    /// SHA-256 of the authentication certificate, lowercase hex.
    pub certificate_sha256: String,
    pub certificate_not_after: Timestamp,
}

impl CredentialSummary {
    /// Returns the summary of `keystore` stored for `principal`, named by the keystore's file.
    pub fn of(principal: PrincipalId, keystore: &EhealthKeystore) -> Self {
        // Only fixed facts are read, so the instant does not matter.
        let facts = keystore.facts(Timestamp::UNIX_EPOCH);
        Self {
            principal: principal.0,
            keystore_file: keystore.file().to_owned(),
            certificate_sha256: facts.sha256_fingerprint,
            certificate_not_after: facts.not_after,
        }
    }
}

/// The folder of encrypted credentials and its key.
#[derive(Debug, Clone)]
pub struct CredentialVault {
    dir: PathBuf,
}

/// The version of a stored record, as [`CredentialVault::record_stamp`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordStamp {
    device: u64,
    inode: u64,
    length: u64,
    modified_nanos: i128,
}

/// A decrypted record: the keystore bytes and the password, wiped when dropped.
struct Decrypted {
    file: String,
    password: Zeroizing<String>,
    keystore: Zeroizing<Vec<u8>>,
}

impl Decrypted {
    fn open(&self, principal: PrincipalId) -> Result<EhealthKeystore, CredentialError> {
        EhealthKeystore::open(&self.file, &self.keystore, &self.password)
            .map_err(|source| CredentialError::Keystore { principal, source })
    }
}

impl CredentialVault {
    /// Opens the vault folder, creating it with mode 0700 if needed.
    pub fn open(dir: &Path) -> Result<Self, CredentialError> {
        let io_error = |source| CredentialError::Io {
            path: dir.to_owned(),
            source,
        };
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(io_error)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error)?;
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// Returns the vault folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the path of a principal's record.
    pub fn record_path(&self, principal: PrincipalId) -> PathBuf {
        self.dir.join(format!("principal-{principal}.cred"))
    }

    /// Encrypts and stores a principal's keystore and password, replacing any earlier record.
    pub fn store<R: CryptoRng>(
        &self,
        summary: &CredentialSummary,
        keystore: &[u8],
        password: &Zeroizing<String>,
        rng: &mut R,
    ) -> Result<(), CredentialError> {
        let principal = PrincipalId(summary.principal);
        let key = self.load_or_create_key(rng)?;
        let header = serde_json::to_vec(summary).unwrap_or_default();

        let mut plaintext = Zeroizing::new(Vec::with_capacity(4 + password.len() + keystore.len()));
        plaintext.extend_from_slice(&(password.len() as u32).to_be_bytes());
        plaintext.extend_from_slice(password.as_bytes());
        plaintext.extend_from_slice(keystore);

        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let aad = associated_data(principal, &header);
        let ciphertext = cipher(&key)
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CredentialError::Decrypt {
                path: self.record_path(principal),
            })?;

        let mut record =
            Vec::with_capacity(MAGIC.len() + 4 + header.len() + NONCE_LEN + ciphertext.len());
        record.extend_from_slice(MAGIC);
        record.extend_from_slice(&(header.len() as u32).to_be_bytes());
        record.extend_from_slice(&header);
        record.extend_from_slice(&nonce);
        record.extend_from_slice(&ciphertext);
        self.write_atomically(&self.record_path(principal), &record)?;
        tracing::info!(principal = principal.0, "credentials stored");
        Ok(())
    }

    /// Reads the clear header of a principal's record, if there is one, without the key.
    ///
    /// The header is authenticated only when the record is decrypted, so treat it as a display
    /// hint.
    pub fn summary(
        &self,
        principal: PrincipalId,
    ) -> Result<Option<CredentialSummary>, CredentialError> {
        let path = self.record_path(principal);
        let Some(record) = self.read_record(&path)? else {
            return Ok(None);
        };
        let parts = split_record(&path, &record)?;
        let summary =
            serde_json::from_slice(parts.header).map_err(|_| CredentialError::Damaged {
                path: path.clone(),
                reason: "unreadable header",
            })?;
        Ok(Some(summary))
    }

    /// Decrypts a principal's credentials and opens the keystore. The decrypted bytes and the
    /// password are wiped before this returns, and the keystore wipes its private keys when
    /// dropped.
    pub fn open_keystore(
        &self,
        principal: PrincipalId,
    ) -> Result<EhealthKeystore, CredentialError> {
        let decrypted = self.decrypt(principal)?;
        decrypted.open(principal)
    }

    /// Decrypts a principal's credentials, opens the keystore and runs `use_keystore` with it and
    /// the password. Both are wiped when the call returns.
    pub fn with_keystore<T>(
        &self,
        principal: PrincipalId,
        use_keystore: impl FnOnce(&EhealthKeystore, &Zeroizing<String>) -> T,
    ) -> Result<T, CredentialError> {
        let decrypted = self.decrypt(principal)?;
        let keystore = decrypted.open(principal)?;
        Ok(use_keystore(&keystore, &decrypted.password))
    }

    /// Returns what identifies the current version of a principal's record (device, inode,
    /// length, modification time), or `None` when there is no record. Every [`Self::store`]
    /// renames a new file into place, so a replaced record has another stamp.
    pub fn record_stamp(
        &self,
        principal: PrincipalId,
    ) -> Result<Option<RecordStamp>, CredentialError> {
        let path = self.record_path(principal);
        match fs::metadata(&path) {
            Ok(metadata) => Ok(Some(RecordStamp {
                device: metadata.dev(),
                inode: metadata.ino(),
                length: metadata.len(),
                modified_nanos: i128::from(metadata.mtime()) * 1_000_000_000
                    + i128::from(metadata.mtime_nsec()),
            })),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CredentialError::Io { path, source }),
        }
    }

    /// Reads a record once and decrypts it. The header comes from the same bytes, so the
    /// decryption authenticates it.
    fn decrypt(&self, principal: PrincipalId) -> Result<Decrypted, CredentialError> {
        let path = self.record_path(principal);
        let record = self
            .read_record(&path)?
            .ok_or(CredentialError::Missing { principal })?;
        let key = self.load_key()?;
        let plaintext = decrypt_record(&path, &key, principal, &record)?;

        let damaged = |reason| CredentialError::Damaged {
            path: path.clone(),
            reason,
        };
        let summary: CredentialSummary =
            serde_json::from_slice(split_record(&path, &record)?.header)
                .map_err(|_| damaged("unreadable header"))?;
        let length_bytes: [u8; 4] = plaintext
            .get(..4)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| damaged("no password length"))?;
        let password_end = 4 + u32::from_be_bytes(length_bytes) as usize;
        let password_bytes = plaintext
            .get(4..password_end)
            .ok_or_else(|| damaged("password length past the end"))?;
        let password = Zeroizing::new(
            String::from_utf8(password_bytes.to_vec())
                .map_err(|_| damaged("password not UTF-8"))?,
        );
        Ok(Decrypted {
            file: summary.keystore_file,
            password,
            keystore: Zeroizing::new(plaintext[password_end..].to_vec()),
        })
    }

    /// Overwrites and deletes a principal's record. Returns false when there was none.
    pub fn remove(&self, principal: PrincipalId) -> Result<bool, CredentialError> {
        let path = self.record_path(principal);
        let io_error = |source| CredentialError::Io {
            path: path.clone(),
            source,
        };
        let mut file = match OpenOptions::new().write(true).open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(io_error(error)),
        };
        let length = file.metadata().map_err(io_error)?.len() as usize;
        file.write_all(&vec![0u8; length]).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        drop(file);

        fs::remove_file(&path).map_err(io_error)?;
        self.sync_dir()?;
        tracing::info!(principal = principal.0, "credentials wiped");
        Ok(true)
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    fn load_or_create_key<R: CryptoRng>(
        &self,
        rng: &mut R,
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, CredentialError> {
        let path = self.key_path();
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(key.as_mut());
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                let io_error = |source| CredentialError::Io {
                    path: path.clone(),
                    source,
                };
                file.write_all(key.as_ref()).map_err(io_error)?;
                file.sync_all().map_err(io_error)?;
                self.sync_dir()?;
                tracing::info!(path = %path.display(), "box key created");
                Ok(key)
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => self.load_key(),
            Err(source) => Err(CredentialError::Io { path, source }),
        }
    }

    fn load_key(&self) -> Result<Zeroizing<[u8; KEY_LEN]>, CredentialError> {
        let path = self.key_path();
        let io_error = |source| CredentialError::Io {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(io_error)?;
        let mode = file.metadata().map_err(io_error)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(CredentialError::KeyPermissions {
                path,
                mode: mode & 0o777,
            });
        }

        let mut bytes = Zeroizing::new(Vec::new());
        file.read_to_end(&mut bytes).map_err(io_error)?;
        let key: [u8; KEY_LEN] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| CredentialError::KeyLength {
                    path: path.clone(),
                    length: bytes.len(),
                })?;
        Ok(Zeroizing::new(key))
    }

    fn read_record(&self, path: &Path) -> Result<Option<Vec<u8>>, CredentialError> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CredentialError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), CredentialError> {
        let staging = path.with_extension("cred.tmp");
        let io_error = |source| CredentialError::Io {
            path: staging.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&staging)
            .map_err(io_error)?;
        file.write_all(bytes).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        drop(file);
        fs::rename(&staging, path).map_err(io_error)?;
        self.sync_dir()
    }

    fn sync_dir(&self) -> Result<(), CredentialError> {
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| CredentialError::Io {
                path: self.dir.clone(),
                source,
            })
    }
}

fn cipher(key: &[u8; KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(&(*key).into())
}

fn associated_data(principal: PrincipalId, header: &[u8]) -> Vec<u8> {
    let mut aad = MAGIC.to_vec();
    aad.extend_from_slice(principal.0.to_string().as_bytes());
    aad.push(0);
    aad.extend_from_slice(header);
    aad
}

/// The parts of a stored record.
struct RecordParts<'r> {
    header: &'r [u8],
    nonce: &'r [u8],
    ciphertext: &'r [u8],
}

/// Splits a record into header, nonce and ciphertext.
fn split_record<'r>(path: &Path, record: &'r [u8]) -> Result<RecordParts<'r>, CredentialError> {
    let damaged = |reason| CredentialError::Damaged {
        path: path.to_owned(),
        reason,
    };
    let rest = record
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| damaged("not a PracticeBox credential record"))?;
    let length_bytes: [u8; 4] = rest
        .get(..4)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| damaged("truncated header"))?;
    let header_len = u32::from_be_bytes(length_bytes) as usize;
    if header_len > MAX_HEADER_LEN {
        return Err(damaged("header too long"));
    }
    let header = rest
        .get(4..4 + header_len)
        .ok_or_else(|| damaged("truncated header"))?;
    let nonce_end = 4 + header_len + NONCE_LEN;
    let nonce = rest
        .get(4 + header_len..nonce_end)
        .ok_or_else(|| damaged("truncated nonce"))?;
    Ok(RecordParts {
        header,
        nonce,
        ciphertext: &rest[nonce_end..],
    })
}

fn decrypt_record(
    path: &Path,
    key: &[u8; KEY_LEN],
    principal: PrincipalId,
    record: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
    let parts = split_record(path, record)?;
    let nonce: [u8; NONCE_LEN] = parts
        .nonce
        .try_into()
        .map_err(|_| CredentialError::Damaged {
            path: path.to_owned(),
            reason: "truncated nonce",
        })?;
    let aad = associated_data(principal, parts.header);
    cipher(key)
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: parts.ciphertext,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CredentialError::Decrypt {
            path: path.to_owned(),
        })
}

#[cfg(test)]
mod tests;
