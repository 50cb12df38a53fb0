//! The keystores the fetcher signs and unseals with, one per principal, read from the box's
//! encrypted [`CredentialVault`].
//!
//! [`VaultCredentials`] decrypts a principal's record only to open the keystore; the decrypted
//! bytes and the password are wiped at once. The opened keystore stays in memory while the
//! principal is fetched, so that a run every few minutes does not repeat the PKCS#12 key
//! derivations (50 000 to 100 000 iterations each in real eHealth keystores). It leaves
//! memory, and its keys are wiped, when:
//! - the principal's fetching stops (mandate removed or ended): [`Credentials::release`];
//! - the stored record is replaced or removed: [`Credentials::drop_changed`], called whenever the
//!   store changes, and a check of the record's stamp before each use.
//!
//! A run that uses the keystore keeps its reference until the run ends, and the scheduler stops
//! such a run after its current step.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;

use crate::credentials::{self, CredentialVault, RecordStamp};
use crate::ehealth::keystore::EhealthKeystore;
use crate::store::{Principal, PrincipalId};

/// Why the keystore of a principal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(transparent)]
    Vault(#[from] credentials::CredentialError),
    #[error(
        "the stored keystore {file} belongs to INSZ {found}, not to principal {insz}; remove it \
         and enter the certificate of that doctor again"
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

    /// Returns the end of the principal's eHealth certificate, when known, without opening the
    /// keystore. Blocks (file I/O).
    fn certificate_end(&self, principal: PrincipalId) -> Option<Timestamp>;

    /// Drops the opened keystore of `principal`, if one is kept.
    fn release(&self, principal: PrincipalId);

    /// Drops every opened keystore whose stored record was replaced or removed. Blocks (file
    /// I/O).
    fn drop_changed(&self);
}

/// An opened keystore and the version of the record it came from.
struct Opened {
    keystore: Arc<EhealthKeystore>,
    stamp: RecordStamp,
}

/// The keystores of the box's [`CredentialVault`], opened on first use.
pub struct VaultCredentials {
    vault: CredentialVault,
    opened: Mutex<HashMap<PrincipalId, Opened>>,
}

impl fmt::Debug for VaultCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opened: Vec<PrincipalId> = self.lock().keys().copied().collect();
        f.debug_struct("VaultCredentials")
            .field("vault", &self.vault.dir())
            .field("opened", &opened)
            .finish()
    }
}

impl VaultCredentials {
    pub fn new(vault: CredentialVault) -> Self {
        Self {
            vault,
            opened: Mutex::default(),
        }
    }

    /// Returns the principals whose keystore is open now.
    pub fn opened(&self) -> Vec<PrincipalId> {
        let mut opened: Vec<PrincipalId> = self.lock().keys().copied().collect();
        opened.sort();
        opened
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PrincipalId, Opened>> {
        self.opened.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the opened keystore of `id` if it is still the one opened from `stamp`.
    fn release_version(&self, id: PrincipalId, stamp: RecordStamp) {
        let mut opened = self.lock();
        if opened.get(&id).is_some_and(|entry| entry.stamp == stamp) {
            opened.remove(&id);
            drop(opened);
            tracing::info!(principal = %id, "keystore dropped from memory: its stored record changed");
        }
    }

    /// Decrypts and opens the record, and checks that it belongs to `principal`.
    fn open(&self, principal: &Principal) -> Result<EhealthKeystore, CredentialError> {
        let keystore = self.vault.open_keystore(principal.id)?;
        if let Some(found) = keystore.facts(Timestamp::UNIX_EPOCH).ssin
            && found != principal.insz
        {
            return Err(CredentialError::WrongHolder {
                insz: principal.insz.clone(),
                found,
                file: keystore.file().to_owned(),
            });
        }
        Ok(keystore)
    }
}

impl Credentials for VaultCredentials {
    fn keystore(&self, principal: &Principal) -> Result<Arc<EhealthKeystore>, CredentialError> {
        let id = principal.id;
        let Some(stamp) = self.vault.record_stamp(id)? else {
            self.release(id);
            return Err(credentials::CredentialError::Missing { principal: id }.into());
        };
        if let Some(opened) = self.lock().get(&id)
            && opened.stamp == stamp
        {
            return Ok(Arc::clone(&opened.keystore));
        }

        // A record replaced between the stamp and the decryption is kept under the old stamp,
        // so the next use opens it once more.
        let keystore = Arc::new(self.open(principal)?);
        self.lock().insert(
            id,
            Opened {
                keystore: Arc::clone(&keystore),
                stamp,
            },
        );
        tracing::info!(principal = %id, keystore = keystore.file(), "keystore opened from the vault");
        Ok(keystore)
    }

    fn certificate_end(&self, principal: PrincipalId) -> Option<Timestamp> {
        match self.vault.summary(principal) {
            Ok(summary) => summary.map(|summary| summary.certificate_not_after),
            Err(error) => {
                tracing::warn!(principal = %principal, %error, "cannot read the credential summary");
                None
            }
        }
    }

    fn release(&self, principal: PrincipalId) {
        if self.lock().remove(&principal).is_some() {
            tracing::info!(principal = %principal, "keystore dropped from memory");
        }
    }

    fn drop_changed(&self) {
        let held: Vec<(PrincipalId, RecordStamp)> = self
            .lock()
            .iter()
            .map(|(id, opened)| (*id, opened.stamp))
            .collect();
        for (id, stamp) in held {
            let current = match self.vault.record_stamp(id) {
                Ok(current) => current,
                Err(error) => {
                    tracing::warn!(principal = %id, %error, "cannot check the stored credentials");
                    None
                }
            };
            if current != Some(stamp) {
                self.release_version(id, stamp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use ehealth_sim::pki::{DoctorSpec, KeystoreOptions, TestPki};
    use zeroize::Zeroizing;

    use super::*;
    use crate::credentials::CredentialSummary;
    use crate::store::Role;

    const FIRST_SSIN: &str = "85073003328";
    const SECOND_SSIN: &str = "78031414230";

    fn pki() -> &'static TestPki {
        static PKI: OnceLock<TestPki> = OnceLock::new();
        PKI.get_or_init(|| {
            let doctors = [
                DoctorSpec::new("Jan", "Peeters", FIRST_SSIN, "17041217004"),
                DoctorSpec::new("Lotte", "Vermeiren", SECOND_SSIN, "17139009004"),
            ];
            let now = "2026-12-04T12:00:00Z".parse().unwrap();
            TestPki::generate_with(8, now, &doctors, &KeystoreOptions::fast()).unwrap()
        })
    }

    fn principal(id: i64, insz: &str) -> Principal {
        Principal {
            id: PrincipalId(id),
            insz: insz.to_owned(),
            family_name: "Peeters".to_owned(),
            given_names: "Jan".to_owned(),
            riziv: "17041217004".to_owned(),
            role: Role::Main,
            share_folder: "Peeters".to_owned(),
            move_to_bin: true,
            active: true,
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    /// Stores the keystore of the PKI doctor `ssin` as the record of principal `id`.
    fn store(vault: &CredentialVault, id: i64, ssin: &str) {
        let keystore = &pki().doctor(ssin).unwrap().keystore;
        let password = Zeroizing::new(keystore.password.clone());
        let opened =
            EhealthKeystore::open(&keystore.file_name, &keystore.bytes, &password).unwrap();
        let summary = CredentialSummary::of(PrincipalId(id), &opened);
        vault
            .store(&summary, &keystore.bytes, &password, &mut rand::rng())
            .unwrap();
    }

    fn credentials() -> (tempfile::TempDir, CredentialVault, VaultCredentials) {
        let dir = tempfile::tempdir().unwrap();
        let vault = CredentialVault::open(&dir.path().join("credentials")).unwrap();
        let credentials = VaultCredentials::new(vault.clone());
        (dir, vault, credentials)
    }

    #[test]
    fn keystore_opened_once_and_kept() {
        let (_dir, vault, credentials) = credentials();
        store(&vault, 1, FIRST_SSIN);

        let first = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap();
        let again = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "opened once");
        assert_eq!(credentials.opened(), [PrincipalId(1)]);
        let end = pki().doctor(FIRST_SSIN).unwrap().authentication.not_after();
        assert_eq!(credentials.certificate_end(PrincipalId(1)), Some(end));
    }

    #[test]
    fn release_drops_the_keystore() {
        let (_dir, vault, credentials) = credentials();
        store(&vault, 1, FIRST_SSIN);
        let first = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap();

        credentials.release(PrincipalId(1));
        assert!(credentials.opened().is_empty());
        let reopened = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap();
        assert!(!Arc::ptr_eq(&first, &reopened), "opened again");
    }

    #[test]
    fn replaced_record_dropped_and_reopened() {
        let (_dir, vault, credentials) = credentials();
        store(&vault, 1, FIRST_SSIN);
        store(&vault, 2, SECOND_SSIN);
        let first = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap();
        credentials.keystore(&principal(2, SECOND_SSIN)).unwrap();

        store(&vault, 1, FIRST_SSIN);
        credentials.drop_changed();
        assert_eq!(
            credentials.opened(),
            [PrincipalId(2)],
            "only the changed one"
        );

        let reopened = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap();
        assert!(!Arc::ptr_eq(&first, &reopened), "the new record is opened");
    }

    #[test]
    fn replaced_record_reopened_without_drop_changed() {
        let (_dir, vault, credentials) = credentials();
        store(&vault, 1, FIRST_SSIN);
        let first = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap();

        store(&vault, 1, FIRST_SSIN);
        let reopened = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap();
        assert!(
            !Arc::ptr_eq(&first, &reopened),
            "the stamp check sees the new record"
        );
    }

    #[test]
    fn removed_record_dropped_and_missing() {
        let (_dir, vault, credentials) = credentials();
        store(&vault, 1, FIRST_SSIN);
        credentials.keystore(&principal(1, FIRST_SSIN)).unwrap();

        assert!(vault.remove(PrincipalId(1)).unwrap());
        credentials.drop_changed();
        assert!(credentials.opened().is_empty());
        let error = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no stored credentials for principal 1; enter the doctor's certificate again"
        );
        assert_eq!(credentials.certificate_end(PrincipalId(1)), None);
    }

    #[test]
    fn keystore_of_another_doctor_rejected() {
        let (_dir, vault, credentials) = credentials();
        store(&vault, 1, SECOND_SSIN);

        let error = credentials.keystore(&principal(1, FIRST_SSIN)).unwrap_err();
        assert!(
            matches!(&error, CredentialError::WrongHolder { found, .. } if found == SECOND_SSIN),
            "{error:?}"
        );
        assert!(credentials.opened().is_empty(), "nothing kept");
    }
}
