//! The crash-safety test. The service runs in a child process and is killed with SIGKILL at
//! many random instants (0 to 2 s after it reports ready) while it fetches 300 realistic sealed
//! messages. After each kill the
//! eHealthBox bin may only contain delivered messages. After a final complete run every
//! document part is on the share exactly once, byte for byte.
//!
//! The child is this test binary started again with `--ignored --exact child_service` and the
//! configuration path in `PRACTICEBOX_KILL_TEST_CONFIG`; it runs the same `service::run` on the
//! same runtime as `practicebox run`.
//!
//! `cargo test --test kill` prints the kill points (how many, the delay of each and the progress
//! after it) even without `--nocapture`, and writes them to `kill-test-report.txt` in cargo's
//! temporary folder for integration tests (`target/tmp`).

#![allow(clippy::unwrap_used)]

mod practice;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ehealth_sim::ehbox::Folder;
use practice::{Practice, Seeded, all_files, share_index};
use practicebox::config::ServiceConfig;
use practicebox::fetcher::fetch_principal;
use practicebox::scheduler::shutdown::Shutdown;
use practicebox::store::{DeliveryState, MessageKind, Store};
use rand::RngExt as _;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng as _;

const CONFIG_ENV: &str = "PRACTICEBOX_KILL_TEST_CONFIG";
const MESSAGES: usize = 300;
const KILLS: usize = 25;
const KILL_SEED: u64 = 0x6b11_7e57;
/// The kill points that must fall while messages are still being delivered, so that the test
/// kills the service in the middle of deliveries and not only when it is idle.
const MIN_KILLS_WHILE_DELIVERING: usize = 10;
/// How long a started service may take to send `READY=1`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The service lives after which more messages were recorded as delivered than before, so that
/// kills fall between commits at many stages of the fetch and not always before the first one.
const MIN_LIVES_WITH_PROGRESS: usize = 5;
/// The file, in cargo's temporary folder for integration tests, that receives the kill report.
const REPORT_FILE: &str = "kill-test-report.txt";

/// The phases of the fetch a kill can fall in.
const PHASES: [&str; 3] = [
    "before every message was delivered",
    "after delivery, before every message was in the bin",
    "after every message was in the bin",
];

/// The state the store and the platform showed after one kill.
#[derive(Debug, Clone, Copy)]
struct KillPoint {
    /// The time from the service's `READY=1` to its SIGKILL.
    delay: Duration,
    /// Seeded messages recorded as delivered or moved to the bin.
    delivered: usize,
    /// Messages in the eHealthBox bin.
    in_bin: usize,
}

impl KillPoint {
    /// Returns the phase of the fetch that the kill interrupted, as the state after it shows.
    fn phase(&self) -> &'static str {
        if self.delivered < MESSAGES {
            PHASES[0]
        } else if self.in_bin < MESSAGES {
            PHASES[1]
        } else {
            PHASES[2]
        }
    }
}

/// Waits until the service sends `READY=1`, at most [`READY_TIMEOUT`].
async fn wait_for_ready(notify: &tokio::net::UnixDatagram) {
    let mut buffer = [0u8; 512];
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        let length = tokio::time::timeout_at(deadline, notify.recv(&mut buffer))
            .await
            .expect("the service did not send READY=1 in time")
            .expect("notify socket");
        let message = String::from_utf8_lossy(&buffer[..length]);
        if message.lines().any(|line| line == "READY=1") {
            return;
        }
    }
}

/// Counts the service lives after which more messages were delivered than after the one before.
fn lives_with_progress(points: &[KillPoint]) -> usize {
    let mut before = 0;
    let mut count = 0;
    for point in points {
        if point.delivered > before {
            count += 1;
        }
        before = point.delivered;
    }
    count
}

/// Writes the kill points to stderr and to [`REPORT_FILE`]. libtest captures `println!` and
/// `eprintln!` of a passing test, but not a direct write to the stderr handle, so `cargo test`
/// shows these lines without `--nocapture`.
fn report_kill_points(points: &[KillPoint]) {
    let mut text = format!(
        "kill test: {} kill points (SIGKILL, seed {KILL_SEED:#x}) during a {MESSAGES}-message fetch\n",
        points.len()
    );
    for phase in PHASES {
        let count = points.iter().filter(|p| p.phase() == phase).count();
        text.push_str(&format!("  {count:>2} {phase}\n"));
    }
    text.push_str(&format!(
        "  {:>2} followed by more delivered messages than the kill before\n",
        lives_with_progress(points)
    ));
    text.push_str("  after each kill: delay from READY=1, delivered / in the bin\n");
    for (index, point) in points.iter().enumerate() {
        text.push_str(&format!(
            "  {:>2}. {:>4} ms: {:>3} / {:>3}\n",
            index + 1,
            point.delay.as_millis(),
            point.delivered,
            point.in_bin,
        ));
    }
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(REPORT_FILE);
    fs::write(&path, &text).expect("kill report file");
    text.push_str(&format!("  (written to {})\n", path.display()));
    std::io::stderr()
        .write_all(text.as_bytes())
        .expect("stderr");
}

#[test]
#[ignore = "the child process of kill_at_random_points_delivers_exactly_once"]
fn child_service() {
    let path = std::env::var_os(CONFIG_ENV).expect("started by the kill test with its config");
    let config = ServiceConfig::load(Path::new(&path)).expect("valid configuration");
    let runtime = practicebox::service::command::service_runtime().expect("runtime");
    runtime
        .block_on(practicebox::service::run(&config, Shutdown::never()))
        .expect("service");
}

/// Writes the service configuration and sets the doctor up in its store and vault, as
/// `practicebox setup` leaves a box.
fn write_config(practice: &Practice) -> std::path::PathBuf {
    let dir = practice.dir.path();
    let text = format!(
        r#"data_dir = "{dir}/data"
share_root = "{dir}/share"
fetch_interval = "1s"
time_zone = "Europe/Brussels"

[ehealth]
preset = "simulator"
base_url = "https://localhost:{port}"
ca_file = "{ca}"
resolve = {{ "localhost" = "{address}" }}

[clock]
trust_system_clock = true
"#,
        dir = dir.display(),
        port = practice.simulator.addresses.https.port(),
        ca = practice.ca_file.display(),
        address = practice.simulator.addresses.https,
    );
    let path = dir.join("practicebox.toml");
    fs::write(&path, text).expect("config file");
    let config = ServiceConfig::load(&path).expect("config");
    practice.add_principal(&config.store_path());
    path
}

/// Counts the seeded messages recorded as delivered or moved.
fn count_delivered(store_path: &Path, insz: &str, seeded: &[Seeded]) -> usize {
    let store = Store::open(store_path).expect("store after kill");
    let Some(principal) = store.principal_by_insz(insz).unwrap() else {
        return 0;
    };
    seeded
        .iter()
        .filter_map(|m| store.message(principal.id, &m.message_id).unwrap())
        .filter(|r| {
            matches!(
                r.state,
                DeliveryState::Delivered | DeliveryState::MovedToBin
            )
        })
        .count()
}

/// Checks the contract at the instant of a kill: a message in the bin is recorded as delivered
/// and its files are on the share.
fn check_bin_only_holds_delivered(practice: &Practice, store_path: &Path, share_root: &Path) {
    let bin = practice.folder(Folder::BinInbox);
    if bin.is_empty() {
        return;
    }
    let store = Store::open(store_path).expect("store after kill");
    let principal = store
        .principal_by_insz(practice.insz())
        .unwrap()
        .expect("principal");
    for message_id in bin {
        let record = store
            .message(principal.id, &message_id)
            .unwrap()
            .unwrap_or_else(|| panic!("{message_id} is in the bin but not in the store"));
        assert!(
            matches!(
                record.state,
                DeliveryState::Delivered | DeliveryState::MovedToBin
            ),
            "{message_id} is in the bin but {}",
            record.state
        );
        for file in &record.files {
            assert!(
                share_root.join(&file.path).is_file(),
                "{} missing",
                file.path
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_at_random_points_delivers_exactly_once() {
    let started = Instant::now();
    let practice = Practice::start().await;
    let seeded = practice.seed(MESSAGES, 42);
    let config_path = write_config(&practice);
    let config = ServiceConfig::load(&config_path).expect("config");
    let store_path = config.store_path();
    let share_root = config.share_root.clone();
    fs::create_dir_all(&share_root).unwrap();
    println!("seeded {MESSAGES} messages in {:?}", started.elapsed());

    // Latency spreads one pass over many kill points, and opens a window inside each move.
    let knobs = &practice.simulator.knobs;
    knobs.set_latency("getFullMessage", Duration::from_millis(40));
    knobs.set_latency("moveMessage", Duration::from_millis(300));

    // The service sends READY=1 here once its store is open and its scheduler runs.
    let notify_path = practice.dir.path().join("notify.sock");
    let notify = tokio::net::UnixDatagram::bind(&notify_path).expect("notify socket");

    let mut rng = ChaCha8Rng::seed_from_u64(KILL_SEED);
    let mut points = Vec::new();
    while points.len() < KILLS {
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_service",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CONFIG_ENV, &config_path)
            .env("NOTIFY_SOCKET", &notify_path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("child process");
        wait_for_ready(&notify).await;
        let delay = Duration::from_millis(rng.random_range(0..2000));
        tokio::time::sleep(delay).await;
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the service exited by itself with {status}");
        }
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");

        check_bin_only_holds_delivered(&practice, &store_path, &share_root);
        points.push(KillPoint {
            delay,
            delivered: count_delivered(&store_path, practice.insz(), &seeded),
            in_bin: practice.folder(Folder::BinInbox).len(),
        });
    }
    // TODO: no kill falls while messages are moved to the bin, because 25 lives do not deliver
    // all 300 messages. The moves happen in the final run below, which is not killed.
    report_kill_points(&points);
    let delivering = points.iter().filter(|p| p.phase() == PHASES[0]).count();
    assert!(
        delivering >= MIN_KILLS_WHILE_DELIVERING,
        "only {delivering} of {KILLS} kill points fell before all {MESSAGES} messages were \
         delivered, expected at least {MIN_KILLS_WHILE_DELIVERING}; raise the getFullMessage \
         latency. Kill points: {points:?}"
    );
    let progressed = lives_with_progress(&points);
    assert!(
        progressed >= MIN_LIVES_WITH_PROGRESS,
        "delivered messages grew in only {progressed} of {KILLS} service lives, expected at \
         least {MIN_LIVES_WITH_PROGRESS}; the kills fall before the first commit. Kill points: \
         {points:?}"
    );

    // The final complete run, as after a restart: tidy the share, then fetch until done.
    let store = Store::open(&store_path).expect("store").into_handle();
    let principal = store
        .with(|s| s.principal_by_insz(practice.insz()))
        .unwrap()
        .expect("principal");
    let ctx = practice.context(store.clone(), &share_root);
    ctx.share.cleanup_staging().expect("staging cleanup");
    fetch_principal(&ctx, &principal, practice.now())
        .await
        .expect("final run");

    check_share(&seeded, &share_root);
    check_store(&seeded, &store, principal.id);
    check_platform(&practice, &seeded);
    println!("kill test took {:?}", started.elapsed());
}

/// Checks that every document part is on the share once with its plaintext bytes, and that
/// nothing else is, staging files included.
fn check_share(seeded: &[Seeded], share_root: &Path) {
    let hidden: Vec<_> = all_files(share_root)
        .into_iter()
        .filter(|path| {
            path.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        })
        .collect();
    assert!(
        hidden.is_empty(),
        "staging files left after start-up cleanup: {hidden:?}"
    );

    let index = share_index(share_root);
    let mut expected = 0;
    for message in seeded.iter().filter(|m| m.is_document()) {
        for (part, bytes) in message.parts().iter().enumerate() {
            expected += 1;
            let key = (message.message_id.clone(), u32::try_from(part + 1).unwrap());
            let path = index
                .get(&key)
                .unwrap_or_else(|| panic!("{key:?} lost: not on the share"));
            assert_eq!(
                &fs::read(share_root.join(path)).unwrap(),
                bytes,
                "{key:?} bytes differ"
            );
        }
    }
    assert_eq!(
        index.len(),
        expected,
        "files on the share that no message explains"
    );
    let documents: HashSet<_> = seeded
        .iter()
        .filter(|m| m.is_document())
        .map(|m| &m.message_id)
        .collect();
    assert!(
        index.keys().all(|(id, _)| documents.contains(id)),
        "a notice reached the share"
    );
}

fn check_store(
    seeded: &[Seeded],
    store: &practicebox::store::StoreHandle,
    principal: practicebox::store::PrincipalId,
) {
    for message in seeded {
        let record = store
            .with(|s| s.message(principal, &message.message_id))
            .unwrap()
            .unwrap_or_else(|| panic!("{} not recorded", message.message_id));
        assert_eq!(
            record.state,
            DeliveryState::MovedToBin,
            "{}",
            message.message_id
        );
        if message.is_document() {
            assert_eq!(record.kind, MessageKind::Document);
            assert_eq!(
                record.files.len(),
                message.parts().len(),
                "{}",
                message.message_id
            );
        } else {
            assert_ne!(record.kind, MessageKind::Document);
            assert!(record.files.is_empty(), "{} has files", message.message_id);
        }
    }
}

/// Everything moved to the bin, and never before its last download.
fn check_platform(practice: &Practice, seeded: &[Seeded]) {
    assert!(
        practice.folder(Folder::Inbox).is_empty(),
        "messages left in INBOX"
    );
    let bin: HashSet<String> = practice.folder(Folder::BinInbox).into_iter().collect();
    assert_eq!(bin.len(), seeded.len());

    let mut last_download: HashMap<&str, u64> = HashMap::new();
    let mut first_move: HashMap<&str, u64> = HashMap::new();
    for record in practice.simulator.log.all() {
        let operation = record.operation.as_deref();
        for message in seeded {
            let id = message.message_id.as_str();
            if !record.request.contains(id) {
                continue;
            }
            match operation {
                Some("getFullMessage") => {
                    last_download.insert(id, record.sequence);
                }
                Some("moveMessage") => {
                    first_move.entry(id).or_insert(record.sequence);
                }
                _ => {}
            }
        }
    }
    for message in seeded {
        let id = message.message_id.as_str();
        let downloaded = last_download.get(id).expect("downloaded");
        let moved = first_move.get(id).expect("moved");
        assert!(
            downloaded < moved,
            "{id} moved (request {moved}) before its download (request {downloaded}) was delivered"
        );
    }
}
