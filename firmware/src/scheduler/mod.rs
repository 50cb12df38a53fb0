//! Continuous fetching of every active principal: one tokio task per principal.
//!
//! The supervisor reads from the [`PrincipalSource`] the principals that may be fetched now: the
//! main doctor, and every mandator with a valid, unrevoked mandate. It does so at start, every
//! [`SchedulerConfig::reevaluate_every`], at the moment the first mandate ends, at once when
//! [`SchedulerHandle::principals_changed`] is called, and within
//! [`SchedulerConfig::watch_every`] of a change that another process made, such as
//! `practicebox mandate add` or `remove`. A principal that appears gets a task and is fetched at
//! once. A principal that is no longer active has its task stopped at once, after the message
//! step under way, and then [`FetchJob::release`] drops its keystore and token.
//!
//! Changes by other processes are seen by polling [`PrincipalSource::change_stamp`], for the
//! store SQLite's `PRAGMA data_version`. The poll reads no table and costs microseconds, it
//! needs no socket or permission beyond the store file that every writer opens anyway, and it
//! also sees a change made while the service was busy or restarting. A control socket would
//! react faster than the poll period but would miss writers that do not know about it.
//!
//! Each task fetches, waits [`SchedulerConfig::interval`] with ±[`SchedulerConfig::jitter`]
//! around it, and fetches again. After a failed run it waits with exponential backoff instead:
//! [`SchedulerConfig::backoff_initial`], doubled after each further failure, capped at
//! [`SchedulerConfig::backoff_max`]. [`SchedulerHandle::fetch_now`] cuts the wait short. A
//! failing principal only delays its own task.
//!
//! Time: waits use tokio's clock (so tests run with paused time), stamps and mandate ends use the
//! injected [`Clock`]. The random jitter comes from the injected generator.

pub mod shutdown;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rand::RngExt as _;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::ehealth::clock::Clock;
use crate::ehealth::transport::SoapTransport;
use crate::fetcher::credentials::Credentials;
use crate::fetcher::{FetchContext, FetchError, RunReport, fetch_principal_until};
use crate::status::{ATTENTION_WINDOW, Attention, StatusEvent, StatusSender};
use crate::store::{Principal, PrincipalId, Role, StoreError, StoreHandle};
use shutdown::{Shutdown, ShutdownTrigger};

/// Timing of the scheduler.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// The pause between two successful runs of a principal.
    pub interval: Duration,
    /// The relative spread of the pause: 0.2 draws each pause from 80 % to 120 % of `interval`.
    pub jitter: f64,
    /// The pause after the first failed run.
    pub backoff_initial: Duration,
    /// The maximum pause after failed runs.
    pub backoff_max: Duration,
    /// How often the list of active principals is read again.
    pub reevaluate_every: Duration,
    /// How often the source is asked whether another process changed the principals.
    pub watch_every: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5 * 60),
            jitter: 0.2,
            backoff_initial: Duration::from_secs(30),
            backoff_max: Duration::from_secs(30 * 60),
            reevaluate_every: Duration::from_secs(60),
            watch_every: Duration::from_secs(1),
        }
    }
}

impl SchedulerConfig {
    /// Returns the pause after `failures` failed runs in a row (1 for the first).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }

    /// Returns the pause after a successful run, with `unit` drawn uniformly from -1.0 to 1.0.
    pub fn jittered_interval(&self, unit: f64) -> Duration {
        let factor = 1.0 + self.jitter.clamp(0.0, 1.0) * unit.clamp(-1.0, 1.0);
        self.interval.mul_f64(factor)
    }
}

/// A principal that may be fetched now, with what ends its fetching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePrincipal {
    pub principal: Principal,
    /// The end of the mandate that allows fetching, for a mandator.
    pub mandate_ends: Option<Timestamp>,
    /// The end of the principal's eHealth certificate, when known.
    pub certificate_ends: Option<Timestamp>,
}

/// A source of the principals that may be fetched at a given time.
pub trait PrincipalSource: Send + Sync + 'static {
    /// Lists the active principals at `now`. Blocks: the scheduler calls it on the blocking pool.
    fn active(&self, now: Timestamp) -> Result<Vec<ActivePrincipal>, StoreError>;

    /// Returns a value that changes when another process may have changed the principals, their
    /// mandates or their credentials. Blocks, and is called every
    /// [`SchedulerConfig::watch_every`], so it must be cheap.
    fn change_stamp(&self) -> Result<i64, StoreError>;
}

/// The store's principals and mandates, with certificate ends from the credentials.
#[derive(Debug, Clone)]
pub struct StorePrincipals {
    pub store: StoreHandle,
    pub credentials: Arc<dyn Credentials>,
}

impl PrincipalSource for StorePrincipals {
    fn active(&self, now: Timestamp) -> Result<Vec<ActivePrincipal>, StoreError> {
        // Every change of the store is read here, and a replaced or removed credential record
        // comes with one, so a stale keystore leaves memory now rather than at its next use.
        self.credentials.drop_changed();
        let principals = self.store.with(|store| -> Result<_, StoreError> {
            let mut active = Vec::new();
            for principal in store.active_principals(now)? {
                let mandate_ends = match principal.role {
                    Role::Main => None,
                    // Fetching stops when the last valid mandate ends.
                    Role::Mandator => store
                        .mandates_of(principal.id)?
                        .iter()
                        .filter(|mandate| mandate.is_valid_at(now))
                        .map(|mandate| mandate.ends_at)
                        .max(),
                };
                active.push((principal, mandate_ends));
            }
            Ok(active)
        })?;
        Ok(principals
            .into_iter()
            .map(|(principal, mandate_ends)| {
                let certificate_ends = self.credentials.certificate_end(principal.id);
                ActivePrincipal {
                    principal,
                    mandate_ends,
                    certificate_ends,
                }
            })
            .collect())
    }

    fn change_stamp(&self) -> Result<i64, StoreError> {
        self.store.with(|store| store.data_version())
    }
}

/// One fetch run, as the scheduler starts it.
pub trait FetchJob: Send + Sync + 'static {
    /// Fetches `principal` once, stopping after the current step when `stop` turns on.
    fn fetch<'a>(
        &'a self,
        principal: &'a Principal,
        stop: &'a Shutdown,
    ) -> Pin<Box<dyn Future<Output = Result<RunReport, FetchError>> + Send + 'a>>;

    /// Drops what is kept in memory for `principal` (keystore, token) after its task stopped.
    fn release(&self, principal: &Principal);
}

impl<T: SoapTransport + 'static> FetchJob for FetchContext<T> {
    fn fetch<'a>(
        &'a self,
        principal: &'a Principal,
        stop: &'a Shutdown,
    ) -> Pin<Box<dyn Future<Output = Result<RunReport, FetchError>> + Send + 'a>> {
        Box::pin(async move {
            let now = self.clock.now();
            fetch_principal_until(self, principal, now, stop).await
        })
    }

    fn release(&self, principal: &Principal) {
        self.tokens.forget(&principal.insz);
        self.credentials.release(principal.id);
    }
}

/// The random source of the jitter.
pub type JitterRng = Box<dyn rand::Rng + Send>;

/// A request from the handle to the supervisor.
#[derive(Debug)]
enum Command {
    FetchNow(Option<PrincipalId>),
    PrincipalsChanged,
}

/// The handle to a running scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl SchedulerHandle {
    /// Starts a fetch of `principal` (or of every principal) now, without waiting for the
    /// interval. A principal fetching already fetches again right after.
    pub fn fetch_now(&self, principal: Option<PrincipalId>) {
        let _ = self.commands.send(Command::FetchNow(principal));
    }

    /// Reads the active principals again now: call after adding, revoking or ending a mandate.
    pub fn principals_changed(&self) {
        let _ = self.commands.send(Command::PrincipalsChanged);
    }
}

/// The scheduler, before it runs.
pub struct Scheduler {
    pub config: SchedulerConfig,
    pub job: Arc<dyn FetchJob>,
    pub source: Arc<dyn PrincipalSource>,
    pub clock: Arc<dyn Clock>,
    pub rng: JitterRng,
    pub status: StatusSender,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Starts the supervisor task. It runs until `shutdown` turns on, then stops every principal
    /// task after its current step and returns.
    pub fn spawn(self, shutdown: Shutdown) -> (SchedulerHandle, JoinHandle<()>) {
        let (commands, receiver) = mpsc::unbounded_channel();
        let supervisor = Supervisor {
            shared: Arc::new(Shared {
                config: self.config,
                job: self.job,
                clock: self.clock,
                rng: Mutex::new(self.rng),
                status: self.status,
            }),
            source: self.source,
            tasks: HashMap::new(),
            attention_sent: HashMap::new(),
            stamp: None,
            watch_failing: false,
        };
        let task = tokio::spawn(supervisor.run(receiver, shutdown));
        (SchedulerHandle { commands }, task)
    }
}

/// The state shared by the supervisor and the principal tasks.
struct Shared {
    config: SchedulerConfig,
    job: Arc<dyn FetchJob>,
    clock: Arc<dyn Clock>,
    rng: Mutex<JitterRng>,
    status: StatusSender,
}

impl Shared {
    fn next_pause(&self, failures: u32) -> Duration {
        if failures > 0 {
            return self.config.backoff(failures);
        }
        let unit = self
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .random_range(-1.0..=1.0);
        self.config.jittered_interval(unit)
    }
}

/// A running principal task.
struct PrincipalTask {
    principal: watch::Sender<Principal>,
    wake: Arc<Notify>,
    stop: ShutdownTrigger,
    join: JoinHandle<()>,
}

struct Supervisor {
    shared: Arc<Shared>,
    source: Arc<dyn PrincipalSource>,
    tasks: HashMap<PrincipalId, PrincipalTask>,
    /// The attention events sent, so that each is sent once.
    attention_sent: HashMap<(PrincipalId, Attention), Timestamp>,
    /// The source's change stamp at the last reading of the principals.
    stamp: Option<i64>,
    /// Set while reading the change stamp fails, so that the failure is logged once.
    watch_failing: bool,
}

impl Supervisor {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>, shutdown: Shutdown) {
        tracing::info!(interval = ?self.shared.config.interval, "scheduler started");
        let mut watch = tokio::time::interval(self.shared.config.watch_every);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next_check = self.reconcile().await;
            let sleep = tokio::time::sleep(next_check);
            tokio::pin!(sleep);
            // Commands that do not change the principals are served without a new reading.
            loop {
                tokio::select! {
                    biased;
                    () = shutdown.triggered() => {
                        self.stop_all().await;
                        tracing::info!("scheduler stopped");
                        return;
                    }
                    command = commands.recv() => match command {
                        Some(Command::FetchNow(principal)) => self.wake(principal),
                        Some(Command::PrincipalsChanged) => break,
                        // Every handle is gone: keep running until shutdown.
                        None => shutdown.triggered().await,
                    },
                    () = &mut sleep => break,
                    _ = watch.tick() => {
                        if self.changed_elsewhere().await {
                            tracing::info!("principals or mandates changed by another process");
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Tells whether the source's change stamp moved since the last reading of the principals.
    async fn changed_elsewhere(&mut self) -> bool {
        let source = Arc::clone(&self.source);
        let stamp = match tokio::task::spawn_blocking(move || source.change_stamp()).await {
            Ok(Ok(stamp)) => stamp,
            Ok(Err(error)) => {
                if !self.watch_failing {
                    tracing::error!(%error, "cannot check the store for changes; retrying every poll");
                }
                self.watch_failing = true;
                return false;
            }
            Err(error) => {
                tracing::error!(%error, "checking the store for changes panicked");
                return false;
            }
        };
        if self.watch_failing {
            tracing::info!("checking the store for changes works again");
            self.watch_failing = false;
        }
        self.stamp != Some(stamp)
    }

    /// Starts and stops tasks to match the active principals; returns when to check again.
    async fn reconcile(&mut self) -> Duration {
        let reevaluate = self.shared.config.reevaluate_every;
        let now = self.shared.clock.now();
        let source = Arc::clone(&self.source);
        // The stamp is read first, so that a change during the reading is seen by the next poll.
        let reading = tokio::task::spawn_blocking(move || {
            let stamp = source.change_stamp();
            (stamp, source.active(now))
        })
        .await;
        let active = match reading.map(|(stamp, active)| {
            self.stamp = stamp.ok();
            active
        }) {
            Ok(Ok(active)) => active,
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot read the active principals; keeping the current tasks");
                return reevaluate;
            }
            Err(error) => {
                tracing::error!(%error, "reading the active principals panicked");
                return reevaluate;
            }
        };

        let active_ids: Vec<PrincipalId> = active.iter().map(|a| a.principal.id).collect();
        let gone: Vec<PrincipalId> = self
            .tasks
            .keys()
            .filter(|id| !active_ids.contains(id))
            .copied()
            .collect();
        for id in gone {
            self.stop_task(id).await;
        }
        for entry in &active {
            self.start_or_update(&entry.principal);
            self.send_attention(entry, now);
        }

        // Wake up when the first mandate ends, so that its task stops at that moment.
        let first_end = active.iter().filter_map(|a| a.mandate_ends).min();
        match first_end {
            // One millisecond past the end, since the store compares at millisecond precision.
            Some(end) => reevaluate.min(until(now, end) + Duration::from_millis(1)),
            None => reevaluate,
        }
    }

    fn start_or_update(&mut self, principal: &Principal) {
        if let Some(task) = self.tasks.get(&principal.id) {
            task.principal.send_if_modified(|current| {
                let changed = current != principal;
                if changed {
                    *current = principal.clone();
                }
                changed
            });
            return;
        }

        let (sender, receiver) = watch::channel(principal.clone());
        let wake = Arc::new(Notify::new());
        let stop = ShutdownTrigger::new();
        self.shared.status.send(StatusEvent::PrincipalAdded {
            principal: principal.id,
            name: display_name(principal),
            interval_secs: self.shared.config.interval.as_secs(),
        });
        let join = tokio::spawn(principal_task(
            Arc::clone(&self.shared),
            receiver,
            Arc::clone(&wake),
            stop.signal(),
        ));
        tracing::info!(principal = %principal.id, insz = %principal.insz, "principal task started");
        self.tasks.insert(
            principal.id,
            PrincipalTask {
                principal: sender,
                wake,
                stop,
                join,
            },
        );
    }

    async fn stop_task(&mut self, id: PrincipalId) {
        let Some(task) = self.tasks.remove(&id) else {
            return;
        };
        task.stop.trigger();
        if let Err(error) = task.join.await {
            tracing::error!(principal = %id, %error, "principal task ended abnormally");
        }
        self.shared.job.release(&task.principal.borrow());
        self.attention_sent
            .retain(|(principal, _), _| *principal != id);
        self.shared
            .status
            .send(StatusEvent::PrincipalRemoved { principal: id });
        tracing::info!(principal = %id, "principal task stopped");
    }

    async fn stop_all(&mut self) {
        for task in self.tasks.values() {
            task.stop.trigger();
        }
        for (id, task) in self.tasks.drain() {
            if let Err(error) = task.join.await {
                tracing::error!(principal = %id, %error, "principal task ended abnormally");
            }
            self.shared.job.release(&task.principal.borrow());
        }
    }

    fn wake(&self, principal: Option<PrincipalId>) {
        for (id, task) in &self.tasks {
            if principal.is_none_or(|wanted| wanted == *id) {
                // notify_one keeps one permit, so a request during a run starts another run.
                task.wake.notify_one();
            }
        }
    }

    fn send_attention(&mut self, entry: &ActivePrincipal, now: Timestamp) {
        let window = SignedDuration::try_from(ATTENTION_WINDOW).unwrap_or(SignedDuration::MAX);
        let ends = [
            (Attention::Certificate, entry.certificate_ends),
            (Attention::MandateEnds, entry.mandate_ends),
        ];
        for (what, date) in ends {
            let Some(date) = date else { continue };
            if date.duration_since(now) > window {
                continue;
            }
            let key = (entry.principal.id, what);
            if self.attention_sent.get(&key) == Some(&date) {
                continue;
            }
            self.attention_sent.insert(key, date);
            self.shared.status.send(StatusEvent::AttentionSoon {
                principal: entry.principal.id,
                what,
                date,
            });
        }
    }
}

/// Fetches one principal until stopped.
async fn principal_task(
    shared: Arc<Shared>,
    principal: watch::Receiver<Principal>,
    wake: Arc<Notify>,
    stop: Shutdown,
) {
    let mut failures = 0u32;
    let mut failing_since = None;
    while !stop.is_triggered() {
        let current = principal.borrow().clone();
        let id = current.id;
        shared.status.send(StatusEvent::Fetching { principal: id });

        match shared.job.fetch(&current, &stop).await {
            Ok(report) => {
                failures = 0;
                failing_since = None;
                shared.status.send(StatusEvent::Ok {
                    principal: id,
                    new: report.new,
                    delivered: report.delivered,
                    held: report.held,
                    at: shared.clock.now(),
                });
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let since = *failing_since.get_or_insert_with(|| shared.clock.now());
                tracing::warn!(principal = %id, failures, %error, "fetch failed; backing off");
                shared.status.send(StatusEvent::Error {
                    principal: id,
                    reason: error.to_string(),
                    kind: error.kind(),
                    since,
                });
            }
        }

        let pause = shared.next_pause(failures);
        tracing::debug!(principal = %id, ?pause, "next fetch");
        tokio::select! {
            biased;
            () = stop.triggered() => break,
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// "Dr First Last", the name the display shows.
fn display_name(principal: &Principal) -> String {
    format!("Dr {} {}", principal.given_names, principal.family_name)
}

/// Returns the time from `now` to `end`, zero when `end` has passed.
fn until(now: Timestamp, end: Timestamp) -> Duration {
    Duration::try_from(end.duration_since(now)).unwrap_or(Duration::ZERO)
}
