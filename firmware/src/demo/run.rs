//! `practicebox demo`: the arguments and the run from set-up to summary.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use ehealth_sim::pki::KeystoreOptions;
use jiff::Timestamp;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::fetching::{FetchSettings, Fetching};
use super::mail::{self, PlannedMessage};
use super::practice::{self, Practice, PracticeConfig};
use super::screen::Screen;
use super::tracker::Tracker;
use super::view::{self, DisplayView, ShareCount, TimeFormat};
use crate::panel::Language;
use crate::status::{StatusEvent, StatusSender, StatusSnapshot};
use crate::store::PrincipalId;

/// The folder of the demo's store, keystores and simulator CA.
pub const DEMO_DATA_DIR: &str = "practicebox-demo/data";

/// The default share folder.
pub const DEMO_SHARE_DIR: &str = "practicebox-demo/share";

/// Doctors in the demo practice: the main doctor and two colleagues with a mandate.
const DEMO_DOCTORS: usize = 3;

/// The pause between two fetch runs of one doctor.
const FETCH_INTERVAL: Duration = Duration::from_secs(2);

/// The pause between two waves of mail, unless `--duration` needs them closer.
const WAVE_INTERVAL: Duration = Duration::from_secs(4);

/// Documents each doctor receives per wave.
const DOCUMENTS_PER_WAVE: usize = 2;

/// Messages generated per doctor, from which the demo picks its mail.
const POOL_PER_DOCTOR: usize = 40;

/// Arguments of `practicebox demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Stop after this many seconds and print the summary (without it, Ctrl-C stops)
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration: Option<u64>,
    /// Folder to deliver into, one sub-folder per doctor (a folder of an earlier demo is emptied)
    #[arg(long, value_name = "DIR", default_value = DEMO_SHARE_DIR)]
    pub share: PathBuf,
    /// Seed of the test certificates, the simulator and the mail (same seed, same mail)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// How many waves of mail to send, a few seconds apart
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=20))]
    pub waves: u64,
    /// Folder to write each status screen into, as PNG (frame-0001.png, ...)
    #[arg(long, value_name = "DIR")]
    pub frames: Option<PathBuf>,
    /// Language of the front panel's screens: nl, fr or en
    #[arg(long, value_name = "CODE", default_value = "en")]
    pub language: Language,
}

/// Runs the demo on a new tokio runtime.
pub fn run_demo(args: &DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    runtime.block_on(demo(args))
}

async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    // The frames folder first: a bad --frames must not cost the previous demo's folders.
    if let Some(frames) = &args.frames {
        if frames.exists() && !frames.is_dir() {
            anyhow::bail!(
                "--frames {} is not a folder; name a new folder or an existing one",
                frames.display()
            );
        }
        std::fs::create_dir_all(frames)
            .with_context(|| format!("cannot create the frames folder {}", frames.display()))?;
    }
    let data_dir = PathBuf::from(DEMO_DATA_DIR);
    practice::prepare_demo_folder(&data_dir)?;
    practice::prepare_demo_folder(&args.share)?;

    println!("setting up: test certificates, platform simulator, practice store ...");
    let config = PracticeConfig {
        seed: args.seed,
        doctors: DEMO_DOCTORS,
        data_dir,
        keystore_options: KeystoreOptions::default(),
    };
    let practice = Practice::start(&config).await?;
    let waves = prepare_mail(&practice, args).await?;

    let url = format!(
        "https://localhost:{}",
        practice.simulator.addresses.https.port()
    );
    for line in view::header(
        &url,
        &args.share,
        &practice.doctors,
        FETCH_INTERVAL.as_secs(),
    ) {
        println!("{line}");
    }

    let status = StatusSender::new();
    let events = status.subscribe();
    let settings = FetchSettings::new(&practice, args.share.clone(), FETCH_INTERVAL);
    let fetching = Fetching::start(&practice, &settings, status)?;

    let practice = Arc::new(practice);
    let tracker = Arc::new(Mutex::new(Tracker::new(&practice.doctors)));
    let times = TimeFormat {
        zone: settings.time_zone.clone(),
        clock: Arc::clone(&fetching.clock),
    };
    let sender = spawn_waves(
        Arc::clone(&practice),
        Arc::clone(&tracker),
        waves,
        wave_interval(args),
        times.clone(),
    );

    let screen = Screen::new(
        practice.store.clone(),
        &practice.data_dir,
        args.language,
        args.frames.clone(),
        fetching.clock.now(),
    )?;
    let mut watch = Watch {
        practice: Arc::clone(&practice),
        tracker: Arc::clone(&tracker),
        times,
        display: DisplayPrinter::new(screen),
    };
    watch.until_stop(events, &fetching, args.duration).await;

    println!("stopping: each doctor's fetch finishes its current step ...");
    sender.abort();
    // The task ends at its next await; a wave it was delivering is then complete.
    let _ = sender.await;
    fetching.stop().await;
    watch.settle_all().await;

    let summary = {
        let tracker = tracker.lock().unwrap_or_else(PoisonError::into_inner);
        let share = ShareCount::of(&args.share).unwrap_or_else(|error| {
            tracing::warn!(%error, share = %args.share.display(), "cannot count the files on the share");
            ShareCount::default()
        });
        view::summary(
            &practice.doctors,
            tracker.settled(),
            &share,
            tracker.sent_count(),
            tracker.pending_count(),
        )
    };
    for line in summary {
        println!("{line}");
    }
    watch.display.print_final(args.frames.as_deref());

    drop(watch);
    let practice =
        Arc::into_inner(practice).context("the practice is still in use after the demo stopped")?;
    practice.shutdown().await;
    Ok(())
}

/// Generates the demo's mail and splits it into waves. The message sealed for a doctor outside
/// the practice goes into the second wave.
async fn prepare_mail(
    practice: &Practice,
    args: &DemoArgs,
) -> anyhow::Result<Vec<Vec<PlannedMessage>>> {
    let waves = args.waves as usize;
    let doctors: Vec<_> = practice
        .doctors
        .iter()
        .map(|doctor| &doctor.doctor)
        .collect();
    let pool = mail::generate(&practice.simulator, &doctors, POOL_PER_DOCTOR, args.seed)?;
    let picked = mail::pick(pool, DOCUMENTS_PER_WAVE * waves, waves);
    let mut plan = mail::plan_waves(picked, waves);

    let held_for = &practice.doctors[practice.doctors.len() - 1].doctor;
    let misaddressed = mail::misaddressed(
        &practice.simulator,
        &practice.outsider,
        held_for,
        args.seed.wrapping_add(1),
    )?;
    let index = 1.min(plan.len() - 1);
    plan[index].push(misaddressed);
    Ok(plan)
}

/// Returns the pause between waves: [`WAVE_INTERVAL`], or less so that every wave goes out
/// within the first half of `--duration`.
fn wave_interval(args: &DemoArgs) -> Duration {
    match args.duration {
        Some(seconds) => {
            let half = Duration::from_secs(seconds) / 2;
            WAVE_INTERVAL.min(half / args.waves.max(1) as u32)
        }
        None => WAVE_INTERVAL,
    }
}

/// Sends the waves of mail into the simulator, one every `interval`, and prints each.
fn spawn_waves(
    practice: Arc<Practice>,
    tracker: Arc<Mutex<Tracker>>,
    waves: Vec<Vec<PlannedMessage>>,
    interval: Duration,
    times: TimeFormat,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let total = waves.len();
        for (index, wave) in waves.into_iter().enumerate() {
            if index > 0 {
                tokio::time::sleep(interval).await;
            }
            let plain: Vec<_> = wave.iter().map(|message| message.plain.clone()).collect();
            match mail::deliver(&practice.simulator, wave) {
                Ok(delivered) => {
                    println!(
                        "{}",
                        view::wave_line(&times.now(), index + 1, total, &plain)
                    );
                    tracker
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .sent(delivered);
                }
                Err(error) => {
                    tracing::error!(%error, wave = index + 1, "cannot deliver a wave of mail");
                    return;
                }
            }
        }
    })
}

/// How often a changed display is printed, unless the LED changes.
const DISPLAY_EVERY: Duration = Duration::from_secs(5);

/// Prints the display when the LED changes at once, and other changes at most every
/// [`DISPLAY_EVERY`], so that a busy wave does not print it after every doctor's run. The
/// panel's status screen is drawn on every print, and shown as text with the LEDs when it
/// changed.
#[derive(Debug)]
struct DisplayPrinter {
    screen: Screen,
    shown: Option<DisplayView>,
    waiting: Option<(DisplayView, StatusSnapshot)>,
}

impl DisplayPrinter {
    fn new(screen: Screen) -> Self {
        Self {
            screen,
            shown: None,
            waiting: None,
        }
    }

    fn update(&mut self, view: DisplayView, settled: StatusSnapshot, time: &str, now: Timestamp) {
        if view.lines.is_empty() || self.shown.as_ref() == Some(&view) {
            self.waiting = None;
            return;
        }
        self.waiting = Some((view, settled));
        if self.led_changed() {
            self.flush(time, now);
        }
    }

    fn led_changed(&self) -> bool {
        match (&self.shown, &self.waiting) {
            (Some(shown), Some((waiting, _))) => shown.led != waiting.led,
            (None, Some(_)) => true,
            (_, None) => false,
        }
    }

    fn flush(&mut self, time: &str, now: Timestamp) {
        let Some((view, settled)) = self.waiting.take() else {
            return;
        };
        for line in view::status_lines(time, &view) {
            println!("{line}");
        }
        match self.screen.show(settled, now) {
            Ok(true) => print!("{}", self.screen.ascii()),
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "cannot draw the status screen"),
        }
        self.shown = Some(view);
    }

    /// Prints the last screen, and where the frames went.
    fn print_final(&self, frames: Option<&std::path::Path>) {
        println!();
        println!("Status screen at the end:");
        print!("{}", self.screen.ascii());
        if let Some(folder) = frames {
            println!(
                "{} PNG frames of the status screen in {}",
                self.screen.frames_written(),
                folder.display()
            );
        }
    }
}

/// Follows the box at work and prints what happens.
struct Watch {
    practice: Arc<Practice>,
    tracker: Arc<Mutex<Tracker>>,
    times: TimeFormat,
    display: DisplayPrinter,
}

impl Watch {
    /// Prints events until Ctrl-C, or until `duration` seconds have passed.
    async fn until_stop(
        &mut self,
        mut events: broadcast::Receiver<StatusEvent>,
        fetching: &Fetching,
        duration: Option<u64>,
    ) {
        let deadline = async {
            match duration {
                Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        let mut snapshots = fetching.snapshots.clone();
        let mut display_tick = tokio::time::interval(DISPLAY_EVERY);
        display_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                signal = &mut interrupt => {
                    if let Err(error) = signal {
                        tracing::error!(%error, "cannot listen for Ctrl-C");
                    }
                    return;
                }
                () = &mut deadline => return,
                received = events.recv() => match received {
                    Ok(StatusEvent::Ok { principal, .. }) => self.settle(principal).await,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = fetching.clock.now();
                    let settled = view::settled(&snapshots.borrow_and_update(), now);
                    let display_view = DisplayView::of(&settled, now);
                    self.display.update(display_view, settled, &self.times.format(now), now);
                }
                _ = display_tick.tick() => {
                    let now = fetching.clock.now();
                    self.display.flush(&self.times.format(now), now);
                }
            }
        }
    }

    /// Prints the messages of `principal` whose outcome became known.
    async fn settle(&self, principal: PrincipalId) {
        let tracker = Arc::clone(&self.tracker);
        let store = self.practice.store.clone();
        let settled = tokio::task::spawn_blocking(move || {
            let mut tracker = tracker.lock().unwrap_or_else(PoisonError::into_inner);
            store.with(|store| tracker.settle(store, principal))
        })
        .await;
        let settled = match settled {
            Ok(Ok(settled)) => settled,
            Ok(Err(error)) => {
                tracing::error!(%error, %principal, "cannot read the delivered messages");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "reading the delivered messages panicked");
                return;
            }
        };
        let Some(doctor) = self.practice.doctor_of(principal) else {
            return;
        };
        let time = self.times.now();
        for entry in &settled {
            for line in view::settled_lines(&time, &doctor.display_name(), entry) {
                println!("{line}");
            }
        }
    }

    /// Prints what the last runs settled, after the scheduler stopped.
    async fn settle_all(&self) {
        let principals = self
            .tracker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pending_principals();
        for principal in principals {
            self.settle(principal).await;
        }
    }
}
