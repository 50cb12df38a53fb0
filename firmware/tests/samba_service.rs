//! The service's Samba shares against a real smbd on 127.0.0.1. The shares follow the store's
//! principals through the scheduler, as `practicebox run` wires them: smbd serves each doctor's
//! folder from the fragment the service writes, and smbclient reads a delivered file as the EMD
//! would. A doctor added to the store gets a share after `principals_changed`, with a reload.
//!
//! The smbd test needs root and the samba, samba-common-bin and smbclient packages, like the
//! other smbd tests; the failing-reload test needs neither.

#![allow(clippy::unwrap_used)]

#[path = "support/samba.rs"]
mod support;

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use practicebox::config::ServiceConfig;
use practicebox::credentials::CredentialVault;
use practicebox::delivery::names::doctor_folder_name;
use practicebox::delivery::{Outgoing, Part, RoutingProfile, Share};
use practicebox::ehealth::clock::{Clock, ManualClock};
use practicebox::fetcher::credentials::VaultCredentials;
use practicebox::fetcher::{FetchError, RunReport};
use practicebox::scheduler::shutdown::{Shutdown, ShutdownTrigger};
use practicebox::scheduler::{FetchJob, Scheduler, SchedulerConfig, StorePrincipals};
use practicebox::status::{StatusEvent, StatusSender};
use practicebox::store::{
    FileRecord, MessageKind, NewMandate, NewPrincipal, Principal, PrincipalId, Role, Store,
};
use rand::SeedableRng as _;
use support::{SmbServer, TEST_PRACTICE_USER};
use tempfile::TempDir;
use tokio::sync::broadcast;

const PASSWORD: &str = "correct-horse-7";
const ALL_DOCTORS: &str = "alle-artsen";
const WAIT: Duration = Duration::from_secs(20);

fn now() -> Timestamp {
    "2026-03-10T08:00:00Z".parse().unwrap()
}

fn doctor(insz: &str, family: &str, given_names: &str, riziv: &str, role: Role) -> NewPrincipal {
    NewPrincipal {
        insz: insz.to_owned(),
        family_name: family.to_owned(),
        given_names: given_names.to_owned(),
        riziv: riziv.to_owned(),
        role,
        share_folder: doctor_folder_name(family, given_names, riziv),
        move_to_bin: true,
    }
}

fn main_doctor() -> NewPrincipal {
    doctor(
        "62090524597",
        "Janssens",
        "Pieter",
        "12345678004",
        Role::Main,
    )
}

fn colleague() -> NewPrincipal {
    doctor(
        "93012008811",
        "De Smet",
        "Élodie",
        "19876543001",
        Role::Mandator,
    )
}

fn third_doctor() -> NewPrincipal {
    doctor(
        "79102520991",
        "Peeters",
        "Jan",
        "11122233004",
        Role::Mandator,
    )
}

/// Adds `mandator` with a mandate to the main doctor, through its own store connection, as
/// `practicebox mandate` does from another process.
fn add_colleague(store_path: &Path, mandator: &NewPrincipal) -> Result<()> {
    let mut store = Store::open(store_path)?;
    let main = store.main_principal()?.context("no main doctor")?;
    let id = store.add_principal(mandator, "test", now())?;
    let mandate = NewMandate {
        mandator: id,
        grantee: main.id,
        starts_at: "2026-01-01T00:00:00Z".parse()?,
        ends_at: "2027-01-01T00:00:00Z".parse()?,
        evidence: None,
    };
    store.add_mandate(&mandate, "test", now())?;
    Ok(())
}

/// A practice: the share root, the data folder and a store with the main doctor and one
/// colleague.
struct Practice {
    dir: TempDir,
}

impl Practice {
    fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let practice = Self { dir };
        fs::create_dir(practice.share_root())?;
        fs::create_dir(practice.dir.path().join("data"))?;
        let mut store = Store::open(&practice.store_path())?;
        store.add_principal(&main_doctor(), "test", now())?;
        drop(store);
        add_colleague(&practice.store_path(), &colleague())?;
        Ok(practice)
    }

    fn share_root(&self) -> PathBuf {
        self.dir.path().join("share")
    }

    fn store_path(&self) -> PathBuf {
        self.dir.path().join("data/practicebox.sqlite")
    }

    fn fragment(&self) -> PathBuf {
        self.dir.path().join("data/samba/shares.conf")
    }

    fn reload_log(&self) -> PathBuf {
        self.dir.path().join("reloads.log")
    }

    fn reloads(&self) -> usize {
        fs::read_to_string(self.reload_log())
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }

    /// Parses a service configuration with a `[samba]` table whose reload command is
    /// `reload_command` (TOML array items).
    fn config(&self, reload_command: &str) -> Result<ServiceConfig> {
        let text = format!(
            "data_dir = \"{data}\"\nshare_root = \"{share}\"\n\n[samba]\n\
             practice_user = \"{TEST_PRACTICE_USER}\"\nall_doctors_share = \"{ALL_DOCTORS}\"\n\
             reload_command = [{reload_command}]\n",
            data = self.dir.path().join("data").display(),
            share = self.share_root().display(),
        );
        Ok(ServiceConfig::parse(
            &text,
            &self.dir.path().join("practicebox.toml"),
        )?)
    }
}

/// A fetch job that delivers one document per run into the principal's folder, through the
/// same delivery code as the fetcher.
#[derive(Debug)]
struct DeliveringJob {
    share: Share,
    delivered: Mutex<Vec<(PrincipalId, FileRecord, Vec<u8>)>>,
}

impl DeliveringJob {
    fn new(share_root: PathBuf) -> Self {
        Self {
            share: Share::new(share_root, RoutingProfile::builtin(), TimeZone::UTC),
            delivered: Mutex::new(Vec::new()),
        }
    }

    fn deliver(&self, principal: &Principal) -> Result<(), FetchError> {
        let run = self.delivered.lock().unwrap().len();
        let message_id = format!("msg-{}-{run}", principal.id);
        let bytes = format!("%PDF-1.4\nverslag {message_id}\n%%EOF\n").into_bytes();
        let outgoing = Outgoing {
            message_id: &message_id,
            kind: MessageKind::Document,
            sender_id: Some("71099999"),
            sender_name: Some("AZ Proefziekenhuis"),
            title: Some("Consultatieverslag"),
            patient_insz: None,
            published_at: Some(now()),
            parts: vec![Part {
                original_name: Some("verslag.pdf"),
                mime_type: Some("application/pdf"),
                bytes: &bytes,
            }],
        };
        let files = self
            .share
            .deliver(&principal.share_folder, &outgoing)
            .unwrap();
        let mut delivered = self.delivered.lock().unwrap();
        for file in files {
            delivered.push((principal.id, file.record, bytes.clone()));
        }
        Ok(())
    }

    fn delivered_to(&self, principal: PrincipalId) -> Vec<(FileRecord, Vec<u8>)> {
        self.delivered
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _, _)| *id == principal)
            .map(|(_, record, bytes)| (record.clone(), bytes.clone()))
            .collect()
    }
}

impl FetchJob for DeliveringJob {
    fn fetch<'a>(
        &'a self,
        principal: &'a Principal,
        _stop: &'a Shutdown,
    ) -> Pin<Box<dyn Future<Output = Result<RunReport, FetchError>> + Send + 'a>> {
        Box::pin(async move {
            self.deliver(principal)?;
            Ok(RunReport {
                new: 1,
                delivered: 1,
                ..RunReport::default()
            })
        })
    }

    fn release(&self, _principal: &Principal) {}
}

/// The service's principal source and a scheduler that only reads the principals again on
/// `principals_changed`.
struct RunningService {
    handle: practicebox::scheduler::SchedulerHandle,
    task: tokio::task::JoinHandle<()>,
    stop: ShutdownTrigger,
    job: Arc<DeliveringJob>,
    events: broadcast::Receiver<StatusEvent>,
}

impl RunningService {
    async fn start(practice: &Practice, config: &ServiceConfig) -> Result<Self> {
        let status = StatusSender::new();
        let events = status.subscribe();
        let store = Store::open(&practice.store_path())?.into_handle();
        let principals = StorePrincipals {
            store,
            credentials: Arc::new(VaultCredentials::new(CredentialVault::open(
                &practice
                    .dir
                    .path()
                    .join("data")
                    .join(practicebox::credentials::VAULT_FOLDER),
            )?)),
        };
        let source =
            practicebox::service::shares::principal_source(config, principals, &status, now())
                .await?;

        let job = Arc::new(DeliveringJob::new(practice.share_root()));
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
        let scheduler = Scheduler {
            config: SchedulerConfig {
                interval: Duration::from_secs(3600),
                reevaluate_every: Duration::from_secs(3600),
                ..SchedulerConfig::default()
            },
            job: Arc::clone(&job) as Arc<dyn FetchJob>,
            source,
            clock,
            rng: Box::new(rand::rngs::StdRng::seed_from_u64(7)),
            status,
        };
        let stop = ShutdownTrigger::new();
        let (handle, task) = scheduler.spawn(stop.signal());
        Ok(Self {
            handle,
            task,
            stop,
            job,
            events,
        })
    }

    async fn stop(self) -> Result<Vec<StatusEvent>> {
        self.stop.trigger();
        self.task.await?;
        let mut events = self.events;
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            seen.push(event);
        }
        Ok(seen)
    }
}

/// Polls `condition` every 50 ms until it is true or [`WAIT`] passes.
async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn share_name(doctor: &NewPrincipal) -> String {
    doctor.share_folder.clone()
}

fn principal_id(practice: &Practice, doctor: &NewPrincipal) -> Result<PrincipalId> {
    let store = Store::open(&practice.store_path())?;
    let principal = store
        .principal_by_insz(&doctor.insz)?
        .context("doctor not in the store")?;
    Ok(principal.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_shares_follow_principals() -> Result<()> {
    let practice = Practice::new()?;
    let server = SmbServer::start_including(
        &practice.share_root(),
        &practice.fragment(),
        TEST_PRACTICE_USER,
        PASSWORD,
    )?;
    let reload = format!(
        "\"sh\", \"-c\", \"echo reload >> '{log}' && exec smbcontrol --configfile='{conf}' smbd \
         reload-config\"",
        log = practice.reload_log().display(),
        conf = server.config_path().display(),
    );
    let config = practice.config(&reload)?;
    let service = RunningService::start(&practice, &config).await?;
    let client = server.client(TEST_PRACTICE_USER, PASSWORD)?;

    // Two doctors: the fragment is written before the scheduler starts, and smbd reloaded.
    assert_eq!(practice.reloads(), 1, "{}", server.log());
    let mut expected = vec![
        share_name(&main_doctor()),
        share_name(&colleague()),
        ALL_DOCTORS.to_owned(),
    ];
    expected.sort();
    assert_eq!(client.list_shares()?, expected);

    // A delivered file reads back over SMB, byte for byte.
    let main_id = principal_id(&practice, &main_doctor())?;
    let job = Arc::clone(&service.job);
    wait_for("a delivery to the main doctor", || {
        !job.delivered_to(main_id).is_empty()
    })
    .await?;
    let (record, bytes) = job.delivered_to(main_id).remove(0);
    let inside = record
        .path
        .strip_prefix(&format!("{}/", main_doctor().share_folder))
        .context("delivered outside the doctor's folder")?
        .replace('/', "\\");
    assert_eq!(client.get(&share_name(&main_doctor()), &inside)?, bytes);

    // A third doctor: the fragment is rewritten and smbd reloaded once more.
    add_colleague(&practice.store_path(), &third_doctor())?;
    service.handle.principals_changed();
    let third_section = format!("[{}]", share_name(&third_doctor()));
    wait_for("the third doctor's share", || {
        fs::read_to_string(practice.fragment()).is_ok_and(|text| text.contains(&third_section))
    })
    .await?;
    wait_for("the second reload", || practice.reloads() == 2).await?;

    expected.push(share_name(&third_doctor()));
    expected.sort();
    assert_eq!(client.list_shares()?, expected);
    let listing = client.run(&share_name(&third_doctor()), "ls")?;
    assert!(listing.success, "{listing:?}");

    // No guest: an anonymous login reaches neither the new share nor the list.
    let guest = server.anonymous_client()?;
    let output = guest.run(&share_name(&third_doctor()), "ls")?;
    assert!(!output.success, "{output:?}");
    assert!(
        matches!(
            output.nt_status().as_deref(),
            Some("NT_STATUS_ACCESS_DENIED" | "NT_STATUS_LOGON_FAILURE")
        ),
        "{output:?}"
    );
    assert!(guest.list_shares().is_err());

    let events = service.stop().await?;
    let problems: Vec<&StatusEvent> = events
        .iter()
        .filter(|event| matches!(event, StatusEvent::SharesProblem { .. }))
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_reload_keeps_fetching() -> Result<()> {
    let practice = Practice::new()?;
    let config = practice.config("\"sh\", \"-c\", \"echo smbd is not running >&2; exit 1\"")?;
    let service = RunningService::start(&practice, &config).await?;

    let job = Arc::clone(&service.job);
    let main_id = principal_id(&practice, &main_doctor())?;
    let colleague_id = principal_id(&practice, &colleague())?;
    wait_for("a delivery to both doctors", || {
        !job.delivered_to(main_id).is_empty() && !job.delivered_to(colleague_id).is_empty()
    })
    .await?;

    let fragment = fs::read_to_string(practice.fragment())?;
    assert!(fragment.contains(&format!("[{}]", share_name(&colleague()))));
    let events = service.stop().await?;
    let reasons: Vec<&str> = events
        .iter()
        .filter_map(|event| match event {
            StatusEvent::SharesProblem { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 1, "{events:?}");
    assert!(reasons[0].contains("smbd is not running"), "{}", reasons[0]);
    Ok(())
}
