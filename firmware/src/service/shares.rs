//! The Samba shares follow the store's principals.
//!
//! [`SharedPrincipals`] wraps the scheduler's [`StorePrincipals`]. Each time the scheduler reads
//! the active principals, it also syncs the share fragment with every principal in the store
//! (see [`crate::samba::sync`]). The scheduler reads them at start, every
//! [`SchedulerConfig::reevaluate_every`](crate::scheduler::SchedulerConfig::reevaluate_every),
//! when a mandate ends, and at once on
//! [`SchedulerHandle::principals_changed`](crate::scheduler::SchedulerHandle::principals_changed).
//! So a doctor set up or a mandate granted by another process gets a share at the next reading,
//! and at once when the code that notices the change calls `principals_changed`.
//!
//! A failed sync never fails the reading. Fetching goes on, and the problem goes to the status
//! as [`StatusEvent::SharesProblem`] until a later sync succeeds. [`principal_source`] builds
//! the scheduler's source from the configuration, as `practicebox run` does.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use jiff::Timestamp;

use crate::config::ServiceConfig;
use crate::samba::{FragmentSync, SyncReport};
use crate::scheduler::{ActivePrincipal, PrincipalSource, StorePrincipals};
use crate::status::{StatusEvent, StatusSender};
use crate::store::StoreError;

/// The store's principals, with the Samba shares kept in step.
#[derive(Debug)]
pub struct SharedPrincipals {
    principals: StorePrincipals,
    sync: FragmentSync,
    status: StatusSender,
    /// The problem last sent to the status, with the time the shares began to lag.
    problem: Mutex<Option<(String, Timestamp)>>,
}

impl SharedPrincipals {
    pub fn new(principals: StorePrincipals, sync: FragmentSync, status: StatusSender) -> Self {
        Self {
            principals,
            sync,
            status,
            problem: Mutex::new(None),
        }
    }

    /// Syncs the share fragment with every principal in the store and reports a change of
    /// state to the status. Blocks: call it from a blocking thread.
    pub fn sync_shares(&self, now: Timestamp) -> Option<SyncReport> {
        let principals = match self.principals.store.with(|store| store.principals()) {
            Ok(principals) => principals,
            Err(error) => {
                let reason = format!("cannot read the principals from the store: {error}");
                self.report(Some(reason), now);
                return None;
            }
        };
        match self.sync.sync(&principals) {
            Ok(report) => {
                self.log_changes(&report);
                let problems: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
                let problem = (!problems.is_empty()).then(|| problems.join("; "));
                self.report(problem, now);
                Some(report)
            }
            Err(error) => {
                self.report(Some(error.to_string()), now);
                None
            }
        }
    }

    fn log_changes(&self, report: &SyncReport) {
        let settings = self.sync.settings();
        if report.written {
            let names: Vec<&str> = report.shares.iter().map(|name| name.as_str()).collect();
            tracing::info!(
                fragment = %settings.fragment.display(),
                shares = names.join(", "),
                "Samba shares written"
            );
        }
        if report.reloaded {
            let command = settings.reload_command.join(" ");
            tracing::info!(command, "smbd reloaded its configuration");
        }
    }

    /// Sends the new state to the status when it differs from the last one sent.
    fn report(&self, problem: Option<String>, now: Timestamp) {
        let mut last = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        match (problem, last.as_ref()) {
            (None, None) => {}
            (None, Some(_)) => {
                *last = None;
                self.status.send(StatusEvent::SharesOk);
            }
            (Some(reason), Some((previous, _))) if *previous == reason => {}
            (Some(reason), previous) => {
                let since = previous.map_or(now, |(_, since)| *since);
                *last = Some((reason.clone(), since));
                self.status
                    .send(StatusEvent::SharesProblem { reason, since });
            }
        }
    }
}

/// Returns the scheduler's source of principals. With a `[samba]` table, the source keeps the
/// Samba shares in step with the store, and the shares are written once here, before the
/// service reports READY.
pub async fn principal_source(
    config: &ServiceConfig,
    principals: StorePrincipals,
    status: &StatusSender,
    now: Timestamp,
) -> anyhow::Result<Arc<dyn PrincipalSource>> {
    let Some(settings) = &config.samba else {
        return Ok(Arc::new(principals));
    };
    let sync = FragmentSync::new(settings.clone(), config.share_root.clone());
    let source = Arc::new(SharedPrincipals::new(principals, sync, status.clone()));
    let first = Arc::clone(&source);
    tokio::task::spawn_blocking(move || first.sync_shares(now))
        .await
        .context("the first sync of the Samba shares panicked")?;
    Ok(source)
}

impl PrincipalSource for SharedPrincipals {
    fn active(&self, now: Timestamp) -> Result<Vec<ActivePrincipal>, StoreError> {
        let active = self.principals.active(now)?;
        self.sync_shares(now);
        Ok(active)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use tokio::sync::broadcast::error::TryRecvError;

    use super::*;
    use crate::fetcher::credentials::KeystoreDirectory;
    use crate::samba::{AccountName, ShareAccess, ShareSettings};
    use crate::store::{NewPrincipal, Role, Store};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn main_doctor() -> NewPrincipal {
        NewPrincipal {
            insz: "62090524597".to_owned(),
            family_name: "Janssens".to_owned(),
            given_names: "Pieter".to_owned(),
            riziv: "12345678004".to_owned(),
            role: Role::Main,
            share_folder: "Janssens_Pieter_1-23456-78-004".to_owned(),
            move_to_bin: true,
        }
    }

    /// Builds a source whose reload command fails until the file `smbd-up` exists in `dir`.
    fn gated_source(dir: &Path, status: &StatusSender) -> SharedPrincipals {
        let mut store = Store::open(&dir.join("store.db")).unwrap();
        store
            .add_principal(&main_doctor(), "test", at("2026-03-10T08:00:00Z"))
            .unwrap();
        std::fs::create_dir(dir.join("share")).unwrap();
        let gate = format!("test -e '{}'", dir.join("smbd-up").display());
        let settings = ShareSettings {
            fragment: dir.join("samba/shares.conf"),
            practice_user: AccountName::new("pbx-emd").unwrap(),
            force_user: None,
            force_group: None,
            all_doctors_share: None,
            access: ShareAccess::ReadWrite,
            reload_command: vec!["sh".to_owned(), "-c".to_owned(), gate],
        };
        let principals = StorePrincipals {
            store: store.into_handle(),
            credentials: Arc::new(KeystoreDirectory::default()),
        };
        let sync = FragmentSync::new(settings, dir.join("share"));
        SharedPrincipals::new(principals, sync, status.clone())
    }

    #[test]
    fn failed_reload_reported_once_then_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let status = StatusSender::new();
        let mut events = status.subscribe();
        let source = gated_source(dir.path(), &status);

        let active = source.active(at("2026-03-10T08:00:00Z")).unwrap();
        source.active(at("2026-03-10T08:01:00Z")).unwrap();

        assert_eq!(
            active.len(),
            1,
            "fetching goes on despite the failed reload"
        );
        match events.try_recv().unwrap() {
            StatusEvent::SharesProblem { reason, since } => {
                assert!(reason.contains("reload command"), "{reason}");
                assert_eq!(since, at("2026-03-10T08:00:00Z"));
            }
            other => panic!("expected a shares problem, got {other:?}"),
        }
        assert!(matches!(events.try_recv(), Err(TryRecvError::Empty)));

        std::fs::write(dir.path().join("smbd-up"), "").unwrap();
        let report = source.sync_shares(at("2026-03-10T08:02:00Z")).unwrap();
        assert!(report.reloaded);
        assert_eq!(events.try_recv().unwrap(), StatusEvent::SharesOk);
        assert!(matches!(events.try_recv(), Err(TryRecvError::Empty)));
    }
}
