//! Scheduler tests with paused tokio time, a scripted fetch job and a scripted principal list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng as _;
use tokio::time::Instant;

use super::*;
use crate::credentials::CredentialError;
use crate::ehealth::clock::ClockError;
use crate::status::StatusEvent;
use crate::store::Role;

const BASE: &str = "2026-03-10T08:00:00Z";

/// A clock that follows tokio's (paused) clock from a fixed start.
#[derive(Debug)]
struct TokioClock {
    base: Timestamp,
    start: Instant,
}

impl TokioClock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            base: BASE.parse().unwrap(),
            start: Instant::now(),
        })
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.start.elapsed()).unwrap();
        self.base.checked_add(elapsed).unwrap()
    }

    fn check_synchronised(&self) -> Result<(), ClockError> {
        Ok(())
    }
}

fn principal(id: i64, role: Role) -> Principal {
    Principal {
        id: PrincipalId(id),
        insz: format!("insz-{id}"),
        family_name: format!("Family{id}"),
        given_names: "Test".to_owned(),
        riziv: "12345678004".to_owned(),
        role,
        share_folder: format!("folder{id}"),
        move_to_bin: true,
        active: true,
        created_at: BASE.parse().unwrap(),
    }
}

/// A principal list the test changes while the scheduler runs. A principal with a mandate end
/// is listed only before that end, as the store does.
#[derive(Debug, Default)]
struct ScriptedSource {
    principals: Mutex<Vec<ActivePrincipal>>,
    /// The change stamp, moved by [`ScriptedSource::set_by_other_process`].
    stamp: Mutex<i64>,
    stamp_reads: Mutex<u32>,
}

impl ScriptedSource {
    fn with(principals: Vec<ActivePrincipal>) -> Arc<Self> {
        Arc::new(Self {
            principals: Mutex::new(principals),
            ..Self::default()
        })
    }

    /// Changes the list without moving the change stamp, as a change the scheduler is not
    /// notified of.
    fn set(&self, principals: Vec<ActivePrincipal>) {
        *self.principals.lock().unwrap() = principals;
    }

    /// Changes the list and moves the change stamp, as another process's commit does.
    fn set_by_other_process(&self, principals: Vec<ActivePrincipal>) {
        self.set(principals);
        *self.stamp.lock().unwrap() += 1;
    }
}

impl PrincipalSource for ScriptedSource {
    fn active(&self, now: Timestamp) -> Result<Vec<ActivePrincipal>, StoreError> {
        let principals = self.principals.lock().unwrap().clone();
        Ok(principals
            .into_iter()
            .filter(|entry| entry.mandate_ends.is_none_or(|end| now < end))
            .collect())
    }

    fn change_stamp(&self) -> Result<i64, StoreError> {
        *self.stamp_reads.lock().unwrap() += 1;
        Ok(*self.stamp.lock().unwrap())
    }
}

fn active(id: i64) -> ActivePrincipal {
    ActivePrincipal {
        principal: principal(id, Role::Main),
        mandate_ends: None,
        certificate_ends: None,
    }
}

/// A fetch job that records when each principal was fetched and fails for chosen principals.
#[derive(Debug, Default)]
struct RecordingJob {
    calls: Mutex<HashMap<PrincipalId, Vec<Instant>>>,
    failing: Mutex<Vec<PrincipalId>>,
    /// Each run takes this many one-second steps, checking the stop signal between them.
    steps: u32,
    stopped_after_step: Mutex<Option<u32>>,
    released: Mutex<Vec<(PrincipalId, Instant)>>,
}

impl RecordingJob {
    fn calls(&self, id: i64) -> Vec<Instant> {
        self.calls
            .lock()
            .unwrap()
            .get(&PrincipalId(id))
            .cloned()
            .unwrap_or_default()
    }
}

impl FetchJob for RecordingJob {
    fn fetch<'a>(
        &'a self,
        principal: &'a Principal,
        stop: &'a Shutdown,
    ) -> Pin<Box<dyn Future<Output = Result<RunReport, FetchError>> + Send + 'a>> {
        Box::pin(async move {
            self.calls
                .lock()
                .unwrap()
                .entry(principal.id)
                .or_default()
                .push(Instant::now());
            for step in 1..=self.steps {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if stop.is_triggered() {
                    *self.stopped_after_step.lock().unwrap() = Some(step);
                    break;
                }
            }
            if self.failing.lock().unwrap().contains(&principal.id) {
                let missing = CredentialError::Missing {
                    principal: principal.id,
                };
                return Err(FetchError::Credentials(missing.into()));
            }
            Ok(RunReport {
                new: 1,
                delivered: 1,
                ..RunReport::default()
            })
        })
    }

    fn release(&self, principal: &Principal) {
        self.released
            .lock()
            .unwrap()
            .push((principal.id, Instant::now()));
    }
}

struct Running {
    handle: SchedulerHandle,
    task: JoinHandle<()>,
    trigger: ShutdownTrigger,
    events: tokio::sync::broadcast::Receiver<StatusEvent>,
}

fn start(job: Arc<RecordingJob>, source: Arc<ScriptedSource>, config: SchedulerConfig) -> Running {
    let status = StatusSender::new();
    let events = status.subscribe();
    let scheduler = Scheduler {
        config,
        job,
        source,
        clock: TokioClock::new(),
        rng: Box::new(ChaCha8Rng::seed_from_u64(7)),
        status,
    };
    let trigger = ShutdownTrigger::new();
    let (handle, task) = scheduler.spawn(trigger.signal());
    Running {
        handle,
        task,
        trigger,
        events,
    }
}

fn gaps(calls: &[Instant]) -> Vec<Duration> {
    calls.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn interval_is_jittered_within_bounds() {
    let job = Arc::new(RecordingJob::default());
    let running = start(
        job.clone(),
        ScriptedSource::with(vec![active(1)]),
        SchedulerConfig::default(),
    );
    let started = Instant::now();

    tokio::time::sleep(Duration::from_secs(4 * 3600)).await;

    let calls = job.calls(1);
    assert_eq!(calls[0], started, "the first fetch starts at once");
    let gaps = gaps(&calls);
    assert!(gaps.len() >= 39, "{} fetches in 4 hours", calls.len());
    for gap in &gaps {
        assert!(
            *gap >= Duration::from_secs(240),
            "gap {gap:?} under 80 % of 5 minutes"
        );
        assert!(
            *gap <= Duration::from_secs(360),
            "gap {gap:?} over 120 % of 5 minutes"
        );
    }
    let first = gaps[0];
    assert!(
        gaps.iter().any(|gap| *gap != first),
        "every gap is {first:?}: no jitter"
    );
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_up_to_the_cap() {
    let job = Arc::new(RecordingJob::default());
    job.failing.lock().unwrap().push(PrincipalId(1));
    let running = start(
        job.clone(),
        ScriptedSource::with(vec![active(1)]),
        SchedulerConfig::default(),
    );

    tokio::time::sleep(Duration::from_secs(3 * 3600)).await;

    let seconds: Vec<u64> = gaps(&job.calls(1)).iter().map(Duration::as_secs).collect();
    assert_eq!(seconds[..9], [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn success_resets_the_backoff() {
    let job = Arc::new(RecordingJob::default());
    job.failing.lock().unwrap().push(PrincipalId(1));
    let config = SchedulerConfig {
        jitter: 0.0,
        ..SchedulerConfig::default()
    };
    let running = start(job.clone(), ScriptedSource::with(vec![active(1)]), config);

    // Failures at 0, 30 and 90 s; the fetch at 210 s succeeds.
    tokio::time::sleep(Duration::from_secs(100)).await;
    job.failing.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_secs(900)).await;

    let seconds: Vec<u64> = gaps(&job.calls(1)).iter().map(Duration::as_secs).collect();
    assert_eq!(seconds[..4], [30, 60, 120, 300]);
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn fetch_now_cuts_the_wait() {
    let job = Arc::new(RecordingJob::default());
    let running = start(
        job.clone(),
        ScriptedSource::with(vec![active(1), active(2)]),
        SchedulerConfig::default(),
    );
    let started = Instant::now();

    tokio::time::sleep(Duration::from_secs(10)).await;
    running.handle.fetch_now(Some(PrincipalId(2)));
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert_eq!(job.calls(1), [started], "principal 1 keeps its interval");
    assert_eq!(job.calls(2), [started, started + Duration::from_secs(10)]);

    running.handle.fetch_now(None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(job.calls(1).len(), 2);
    assert_eq!(job.calls(2).len(), 3);
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn failing_principal_does_not_stop_others() {
    let job = Arc::new(RecordingJob::default());
    job.failing.lock().unwrap().push(PrincipalId(1));
    let config = SchedulerConfig {
        jitter: 0.0,
        ..SchedulerConfig::default()
    };
    let mut running = start(
        job.clone(),
        ScriptedSource::with(vec![active(1), active(2)]),
        config,
    );

    tokio::time::sleep(Duration::from_secs(3600) - Duration::from_millis(1)).await;

    // 0, 30, 90, 210, 450, 930, 1890 s.
    assert_eq!(job.calls(1).len(), 7);
    assert_eq!(job.calls(2).len(), 12, "one fetch every 5 minutes");

    let mut errors = 0;
    let mut oks = 0;
    while let Ok(event) = running.events.try_recv() {
        match event {
            StatusEvent::Error {
                principal, since, ..
            } => {
                assert_eq!(principal, PrincipalId(1));
                assert_eq!(
                    since,
                    BASE.parse().unwrap(),
                    "since stays at the first failure"
                );
                errors += 1;
            }
            StatusEvent::Ok { principal, .. } => {
                assert_eq!(principal, PrincipalId(2));
                oks += 1;
            }
            _ => {}
        }
    }
    assert_eq!(errors, 7);
    assert_eq!(oks, 12);
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn mandate_end_stops_the_task_at_once() {
    let job = Arc::new(RecordingJob::default());
    let base: Timestamp = BASE.parse().unwrap();
    let mandator = ActivePrincipal {
        principal: principal(2, Role::Mandator),
        mandate_ends: Some(base + SignedDuration::from_secs(700)),
        certificate_ends: None,
    };
    let config = SchedulerConfig {
        jitter: 0.0,
        ..SchedulerConfig::default()
    };
    let mut running = start(
        job.clone(),
        ScriptedSource::with(vec![active(1), mandator]),
        config,
    );

    tokio::time::sleep(Duration::from_secs(3599)).await;

    // Fetched at 0, 300 and 600 s; the mandate ends at 700 s, before the fetch at 900 s.
    let calls = job.calls(2);
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(
        job.calls(1).len(),
        12,
        "the main principal keeps its interval"
    );

    let mut removed = Vec::new();
    while let Ok(event) = running.events.try_recv() {
        if let StatusEvent::PrincipalRemoved { principal } = event {
            removed.push(principal);
        }
    }
    assert_eq!(removed, [PrincipalId(2)]);
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn removal_time_matches_the_mandate_end() {
    let job = Arc::new(RecordingJob::default());
    let base: Timestamp = BASE.parse().unwrap();
    let mandator = ActivePrincipal {
        principal: principal(2, Role::Mandator),
        mandate_ends: Some(base + SignedDuration::from_secs(130)),
        certificate_ends: None,
    };
    let mut running = start(
        job.clone(),
        ScriptedSource::with(vec![mandator]),
        SchedulerConfig::default(),
    );
    let started = Instant::now();

    loop {
        match running.events.recv().await.unwrap() {
            StatusEvent::PrincipalRemoved { .. } => break,
            _ => continue,
        }
    }
    let elapsed = started.elapsed();
    // Not at the next once-a-minute check (180 s): at the end itself.
    assert!(elapsed >= Duration::from_secs(130), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(131), "{elapsed:?}");
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn new_mandate_starts_at_once_when_told() {
    let job = Arc::new(RecordingJob::default());
    let source = ScriptedSource::with(vec![active(1)]);
    let running = start(job.clone(), source.clone(), SchedulerConfig::default());

    tokio::time::sleep(Duration::from_secs(20)).await;
    source.set(vec![active(1), active(3)]);
    running.handle.principals_changed();
    let told = Instant::now();
    tokio::time::sleep(Duration::from_millis(10)).await;

    assert_eq!(job.calls(3), [told]);
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn change_by_other_process_seen_within_a_second() {
    let job = Arc::new(RecordingJob::default());
    let source = ScriptedSource::with(vec![active(1), active(2)]);
    let running = start(job.clone(), source.clone(), SchedulerConfig::default());
    let started = Instant::now();

    tokio::time::sleep(Duration::from_millis(20_300)).await;
    source.set_by_other_process(vec![active(1), active(2), active(3)]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        job.calls(3),
        [started + Duration::from_secs(21)],
        "fetched at the first poll after the change"
    );

    tokio::time::sleep(Duration::from_millis(5_300)).await;
    source.set_by_other_process(vec![active(1), active(3)]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let released = job.released.lock().unwrap().clone();
    assert_eq!(
        released,
        [(PrincipalId(2), started + Duration::from_secs(28))],
        "principal 2 released at the first poll after its removal"
    );
    assert_eq!(job.calls(2), [started], "principal 2 not fetched again");

    let reads = *source.stamp_reads.lock().unwrap();
    assert!(
        (29..=34).contains(&reads),
        "{reads} stamp reads in about 30 seconds"
    );
    running.trigger.trigger();
    running.task.await.unwrap();
    let released: Vec<PrincipalId> = job
        .released
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        released.len(),
        3,
        "every task released on shutdown: {released:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn new_mandate_found_within_a_minute() {
    let job = Arc::new(RecordingJob::default());
    let source = ScriptedSource::with(vec![active(1)]);
    let running = start(job.clone(), source.clone(), SchedulerConfig::default());
    let started = Instant::now();

    tokio::time::sleep(Duration::from_secs(20)).await;
    source.set(vec![active(1), active(3)]);
    tokio::time::sleep(Duration::from_secs(60)).await;

    assert_eq!(job.calls(3), [started + Duration::from_secs(60)]);
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_the_current_step() {
    let job = Arc::new(RecordingJob {
        steps: 5,
        ..RecordingJob::default()
    });
    let running = start(
        job.clone(),
        ScriptedSource::with(vec![active(1)]),
        SchedulerConfig::default(),
    );
    let started = Instant::now();

    tokio::time::sleep(Duration::from_millis(2500)).await;
    running.trigger.trigger();
    running.task.await.unwrap();

    assert_eq!(*job.stopped_after_step.lock().unwrap(), Some(3));
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(job.calls(1).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn certificate_ending_soon_is_reported_once() {
    let job = Arc::new(RecordingJob::default());
    let base: Timestamp = BASE.parse().unwrap();
    let mut soon = active(1);
    soon.certificate_ends = Some(base + SignedDuration::from_hours(24 * 10));
    let mut later = active(2);
    later.certificate_ends = Some(base + SignedDuration::from_hours(24 * 90));
    let mut running = start(
        job,
        ScriptedSource::with(vec![soon, later]),
        SchedulerConfig::default(),
    );

    tokio::time::sleep(Duration::from_secs(600)).await;

    let mut attention = Vec::new();
    while let Ok(event) = running.events.try_recv() {
        if let StatusEvent::AttentionSoon {
            principal,
            what,
            date,
        } = event
        {
            attention.push((principal, what, date));
        }
    }
    let expected = (
        PrincipalId(1),
        Attention::Certificate,
        base + SignedDuration::from_hours(240),
    );
    assert_eq!(attention, [expected]);
    running.trigger.trigger();
    running.task.await.unwrap();
}

#[test]
fn backoff_and_jitter_arithmetic() {
    let config = SchedulerConfig::default();
    assert_eq!(config.backoff(1), Duration::from_secs(30));
    assert_eq!(config.backoff(4), Duration::from_secs(240));
    assert_eq!(config.backoff(40), Duration::from_secs(1800));
    assert_eq!(config.jittered_interval(-1.0), Duration::from_secs(240));
    assert_eq!(config.jittered_interval(1.0), Duration::from_secs(360));
    assert_eq!(config.jittered_interval(5.0), Duration::from_secs(360));
}
