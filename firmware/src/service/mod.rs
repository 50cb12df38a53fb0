//! `practicebox run` and `practicebox status`: the service wired from its configuration.
//!
//! [`run`] opens the store, tidies what a crash left (runs still marked running, staging files
//! on the share), adds the configured principals to the store, then starts the status consumer,
//! writes the Samba shares when the configuration has a `[samba]` table ([`shares`]), starts
//! the scheduler, and waits for the stop signal. On stop, every principal task finishes its
//! current step, the status file gets its last state, and `run` returns.

use std::sync::Arc;

use anyhow::Context as _;
use rand::SeedableRng as _;
use tokio::sync::watch;

use crate::config::ServiceConfig;
use crate::delivery::Share;
use crate::ehealth::clock::{Clock, SystemClock};
use crate::ehealth::sts::TokenCache;
use crate::ehealth::transport::HttpsTransport;
use crate::fetcher::credentials::KeystoreDirectory;
use crate::fetcher::{FetchContext, FetchOptions};
use crate::scheduler::shutdown::{Shutdown, ShutdownTrigger};
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerHandle, StorePrincipals};
use crate::status::task::{self as status_task, StatusOutputs};
use crate::status::{StatusSender, StatusSnapshot};
use crate::store::{Store, StoreHandle};

pub mod command;
pub mod notify;
pub mod shares;

/// The actor name of the service in the audit log.
const ACTOR: &str = "service";

/// Runs the service until `shutdown` turns on.
pub async fn run(config: &ServiceConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new(
        config.sync_flag(),
        config.clock.trust_system_clock,
    ));
    let store = open_store(config, &*clock)?;
    let share = Arc::new(Share::new(
        config.share_root.clone(),
        config.routing_profile.clone(),
        config.time_zone.clone(),
    ));
    let removed = share
        .cleanup_staging()
        .context("cannot tidy the share at start-up")?;
    if removed > 0 {
        tracing::info!(removed, "staging files left by a crash removed");
    }

    let credentials = Arc::new(KeystoreDirectory::new(config.keystore_files()));
    let transport = HttpsTransport::new(&config.endpoints)
        .context("cannot set up the HTTPS client for the eHealth platform")?;
    let context = FetchContext {
        transport,
        endpoints: config.endpoints.clone(),
        clock: Arc::clone(&clock),
        tokens: TokenCache::new(),
        store: store.clone(),
        share,
        credentials: credentials.clone(),
        held_dir: config.held_dir(),
        options: FetchOptions {
            time_zone: config.time_zone.clone(),
            ..FetchOptions::default()
        },
    };

    let status = StatusSender::new();
    let status_stop = ShutdownTrigger::new();
    let initial = StatusSnapshot::new(&config.time_zone, clock.now());
    let (publish, _) = watch::channel(initial.clone());
    let status_task = tokio::spawn(status_task::run(
        status.subscribe(),
        initial,
        Arc::clone(&clock),
        StatusOutputs {
            file: Some(config.status_file.clone()),
            publish,
        },
        status_stop.signal(),
    ));

    let principals = StorePrincipals { store, credentials };
    let source = shares::principal_source(config, principals, &status, clock.now()).await?;
    let scheduler = Scheduler {
        config: SchedulerConfig {
            interval: config.fetch_interval,
            ..SchedulerConfig::default()
        },
        job: Arc::new(context),
        source,
        clock,
        rng: Box::new(rand::rngs::StdRng::from_rng(&mut rand::rng())),
        status,
    };
    let (_handle, scheduler_task): (SchedulerHandle, _) = scheduler.spawn(shutdown);
    let notifier = Arc::new(
        notify::Notifier::from_environment().context("invalid NOTIFY_SOCKET from systemd")?,
    );
    notifier.ready();
    let watchdog = notify::watchdog_period().map(|period| {
        let notifier = Arc::clone(&notifier);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                ticks.tick().await;
                notifier.watchdog();
            }
        })
    });
    tracing::info!(config = %config.file.display(), "PracticeBox service running");

    scheduler_task
        .await
        .context("the scheduler task panicked")?;
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    // Let the status consumer take the last events before it stops.
    tokio::task::yield_now().await;
    status_stop.trigger();
    status_task.await.context("the status task panicked")?;
    tracing::info!("PracticeBox service stopped");
    Ok(())
}

/// Opens the store, closes the runs a crash left open and adds the configured principals.
fn open_store(config: &ServiceConfig, clock: &dyn Clock) -> anyhow::Result<StoreHandle> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let mut store = Store::open(&config.store_path())?;
    let now = clock.now();
    let interrupted = store.close_interrupted_runs(now)?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "fetch runs interrupted by a stop or crash were closed"
        );
    }
    for principal in &config.principals {
        if store.principal_by_insz(&principal.insz)?.is_none() {
            let id = store
                .add_principal(&principal.new_principal(), ACTOR, now)
                .with_context(|| format!("cannot add principal {} to the store", principal.insz))?;
            tracing::info!(principal = %id, insz = %principal.insz, "principal added from the configuration");
        }
    }
    Ok(store.into_handle())
}

/// Returns the status lines of `practicebox status`: from the status file the service writes,
/// or, when it has not written one, from the store's last fetch runs.
pub fn status_lines(config: &ServiceConfig) -> anyhow::Result<Vec<String>> {
    let clock = SystemClock::new(config.sync_flag(), true);
    let now = clock.now();
    if config.status_file.exists() {
        let snapshot = status_task::read_snapshot(&config.status_file)?;
        let mut lines = vec![format!("LED: {:?}", snapshot.led)];
        lines.extend(snapshot.lines(now));
        return Ok(lines);
    }

    let store_path = config.store_path();
    if !store_path.is_file() {
        anyhow::bail!(
            "no status file {} and no store {}; start `practicebox run` with this configuration first",
            config.status_file.display(),
            store_path.display()
        );
    }
    let store = Store::open(&store_path)?;
    let mut lines =
        vec!["the service has not written a status file; last runs from the store:".to_owned()];
    for principal in store.principals()? {
        let name = format!("Dr {} {}", principal.given_names, principal.family_name);
        let line = match store.last_run(principal.id)? {
            Some(run) => {
                let at = run.finished_at.unwrap_or(run.started_at);
                let local = at
                    .to_zoned_datetime(config.time_zone.clone())
                    .strftime("%Y-%m-%d %H:%M");
                let error = run.error.map(|e| format!(": {e}")).unwrap_or_default();
                format!("{name}: last run {local}, {:?}{error}", run.outcome)
            }
            None => format!("{name}: not fetched yet"),
        };
        lines.push(line);
    }
    if lines.len() == 1 {
        lines.push("no principal in the store yet".to_owned());
    }
    Ok(lines)
}
