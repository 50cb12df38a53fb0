//! The box's own fetching, wired for a [`Practice`]: the scheduler with one task per doctor, the
//! fetcher delivering into the share folder, and the status consumer that keeps the snapshot a
//! display shows.
//!
//! The wiring is the service's (`practicebox run`) with the practice's endpoints, store and
//! credential vault, and with a short fetch interval, so that the demo shows mail arriving
//! within seconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use rand::SeedableRng as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::practice::Practice;
use crate::delivery::{RoutingProfile, Share};
use crate::ehealth::clock::{Clock, DEFAULT_SYNC_FLAG, SystemClock};
use crate::ehealth::sts::TokenCache;
use crate::ehealth::transport::{HttpsTransport, TransportError};
use crate::fetcher::credentials::VaultCredentials;
use crate::fetcher::{FetchContext, FetchOptions};
use crate::scheduler::shutdown::ShutdownTrigger;
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerHandle, StorePrincipals};
use crate::status::task::{self as status_task, StatusOutputs};
use crate::status::{StatusSender, StatusSnapshot};

/// Errors of starting the fetching.
#[derive(Debug, thiserror::Error)]
pub enum FetchingError {
    #[error("setting up the HTTPS client for the simulator failed: {0}")]
    Transport(#[from] TransportError),
}

/// The fetch settings of the demo.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// The pause between two runs of one doctor's eHealthBox.
    pub interval: Duration,
    /// The folder the share serves, one sub-folder per doctor.
    pub share_root: PathBuf,
    /// The folder of the raw envelopes of held messages.
    pub held_dir: PathBuf,
    /// The time zone of file names and of "new today".
    pub time_zone: TimeZone,
}

impl FetchSettings {
    /// Settings with the Belgian time zone and the held folder inside the practice's data folder.
    pub fn new(practice: &Practice, share_root: PathBuf, interval: Duration) -> Self {
        Self {
            interval,
            share_root,
            held_dir: practice.data_dir.join("held"),
            time_zone: belgian_time_zone(),
        }
    }
}

/// Returns the practice's time zone: Europe/Brussels, or UTC where the zone database lacks it.
pub fn belgian_time_zone() -> TimeZone {
    TimeZone::get("Europe/Brussels").unwrap_or(TimeZone::UTC)
}

/// The scheduler and the status consumer, running.
#[derive(Debug)]
pub struct Fetching {
    pub handle: SchedulerHandle,
    /// The latest status snapshot, as a display would show it.
    pub snapshots: watch::Receiver<StatusSnapshot>,
    pub clock: Arc<dyn Clock>,
    stop: ShutdownTrigger,
    scheduler: JoinHandle<()>,
    status_stop: ShutdownTrigger,
    status_task: JoinHandle<()>,
}

impl Fetching {
    /// Starts fetching every active principal of the practice's store.
    ///
    /// `status` carries the scheduler's events; subscribe to it before the call to see the first
    /// ones.
    pub fn start(
        practice: &Practice,
        settings: &FetchSettings,
        status: StatusSender,
    ) -> Result<Fetching, FetchingError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new(DEFAULT_SYNC_FLAG, true));
        let credentials = Arc::new(VaultCredentials::new(practice.vault.clone()));
        let share = Share::new(
            settings.share_root.clone(),
            RoutingProfile::builtin(),
            settings.time_zone.clone(),
        );
        let context = FetchContext {
            transport: HttpsTransport::new(&practice.endpoints)?,
            endpoints: practice.endpoints.clone(),
            clock: Arc::clone(&clock),
            tokens: TokenCache::new(),
            store: practice.store.clone(),
            share: Arc::new(share),
            credentials: credentials.clone(),
            held_dir: settings.held_dir.clone(),
            options: FetchOptions {
                time_zone: settings.time_zone.clone(),
                ..FetchOptions::default()
            },
        };

        let status_stop = ShutdownTrigger::new();
        let initial = StatusSnapshot::new(&settings.time_zone, clock.now());
        let (publish, snapshots) = watch::channel(initial.clone());
        let status_task = tokio::spawn(status_task::run(
            status.subscribe(),
            initial,
            Arc::clone(&clock),
            StatusOutputs {
                file: None,
                publish,
            },
            status_stop.signal(),
        ));

        let scheduler = Scheduler {
            config: SchedulerConfig {
                interval: settings.interval,
                ..SchedulerConfig::default()
            },
            job: Arc::new(context),
            source: Arc::new(StorePrincipals {
                store: practice.store.clone(),
                credentials,
            }),
            clock: Arc::clone(&clock),
            rng: Box::new(rand::rngs::StdRng::from_rng(&mut rand::rng())),
            status,
        };
        let stop = ShutdownTrigger::new();
        let (handle, scheduler) = scheduler.spawn(stop.signal());
        Ok(Fetching {
            handle,
            snapshots,
            clock,
            stop,
            scheduler,
            status_stop,
            status_task,
        })
    }

    /// Stops every doctor's task after its current step, then the status consumer.
    pub async fn stop(self) {
        self.stop.trigger();
        if let Err(error) = self.scheduler.await {
            tracing::error!(%error, "the scheduler task ended abnormally");
        }
        // Let the status consumer take the last events before it stops.
        tokio::task::yield_now().await;
        self.status_stop.trigger();
        if let Err(error) = self.status_task.await {
            tracing::error!(%error, "the status task ended abnormally");
        }
    }
}
