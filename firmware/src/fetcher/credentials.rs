//! The keystores of the principals: which PKCS#12 file and password file belong to which INSZ,
//! opened once and kept in memory while the service runs.
//!
//! TODO: principals' keystores and passwords are listed in the service configuration until the
//! mandate work stores them (encrypted) with the principal; this source then reads the store.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use zeroize::Zeroizing;

use crate::credentials::secret_file::{SecretFileError, SecretKind, read_secret_file};
use crate::ehealth::keystore::{EhealthKeystore, KeystoreError};
use crate::store::Principal;

/// Why the keystore of a principal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "no keystore is configured for principal {insz}; add a [[principal]] entry with its \
         keystore and password_file to the configuration"
    )]
    NotConfigured { insz: String },
    #[error("principal {insz}: {source}")]
    PasswordFile {
        insz: String,
        source: SecretFileError,
    },
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error(
        "keystore {file} belongs to INSZ {found}, not to principal {insz}; configure the \
         keystore of that doctor"
    )]
    WrongHolder {
        insz: String,
        found: String,
        file: String,
    },
}

/// A source of opened keystores, one per principal.
pub trait Credentials: Send + Sync + fmt::Debug {
    /// Returns the opened keystore of `principal`. Blocks (file I/O and key derivation):
    /// call it from `spawn_blocking`.
    fn keystore(&self, principal: &Principal) -> Result<Arc<EhealthKeystore>, CredentialError>;
}

/// The files of one principal's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreFiles {
    pub keystore: PathBuf,
    /// A file holding the keystore password; one trailing line break is ignored.
    pub password_file: PathBuf,
}

/// Keystores named by file, keyed by the principal's INSZ, opened on first use.
#[derive(Debug, Default)]
pub struct KeystoreDirectory {
    files: HashMap<String, KeystoreFiles>,
    opened: Mutex<HashMap<String, Arc<EhealthKeystore>>>,
}

impl KeystoreDirectory {
    pub fn new(files: HashMap<String, KeystoreFiles>) -> Self {
        Self {
            files,
            opened: Mutex::default(),
        }
    }

    /// Forgets the opened keystore of `insz`, so that the next use reads the files again.
    pub fn forget(&self, insz: &str) {
        self.lock().remove(insz);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<EhealthKeystore>>> {
        self.opened.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Credentials for KeystoreDirectory {
    fn keystore(&self, principal: &Principal) -> Result<Arc<EhealthKeystore>, CredentialError> {
        let insz = &principal.insz;
        if let Some(keystore) = self.lock().get(insz) {
            return Ok(Arc::clone(keystore));
        }
        let files = self
            .files
            .get(insz)
            .ok_or_else(|| CredentialError::NotConfigured { insz: insz.clone() })?;

        let password = read_password(insz, &files.password_file)?;
        let keystore = EhealthKeystore::open_file(&files.keystore, &password)?;
        // Only the holder's INSZ is read from the facts, so the instant does not matter.
        if let Some(found) = keystore.facts(jiff::Timestamp::UNIX_EPOCH).ssin
            && &found != insz
        {
            return Err(CredentialError::WrongHolder {
                insz: insz.clone(),
                found,
                file: keystore.file().to_owned(),
            });
        }

        let keystore = Arc::new(keystore);
        self.lock().insert(insz.clone(), Arc::clone(&keystore));
        tracing::info!(principal = %principal.id, keystore = %files.keystore.display(), "keystore opened");
        Ok(keystore)
    }
}

/// Reads a password file by the rules of [`crate::credentials::secret_file`]: one line, one
/// trailing line break and a UTF-8 byte-order mark dropped, empty files rejected.
pub fn read_password(insz: &str, path: &Path) -> Result<Zeroizing<String>, CredentialError> {
    read_secret_file(path, SecretKind::Password).map_err(|source| CredentialError::PasswordFile {
        insz: insz.to_owned(),
        source,
    })
}
