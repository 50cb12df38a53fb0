//! The crash-safety test. The service runs in a child process and is killed with SIGKILL at
//! many random instants while it fetches 300 realistic sealed messages. After each kill the
//! eHealthBox bin may only contain delivered messages. After a final complete run every
//! document part is on the share exactly once, byte for byte.
//!
//! The child is this test binary started again with `--ignored --exact child_service` and the
//! configuration path in `PRACTICEBOX_KILL_TEST_CONFIG`; it runs the same `service::run` as
//! `practicebox run`.

#![allow(clippy::unwrap_used)]

mod practice;

use std::collections::{HashMap, HashSet};
use std::fs;
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

#[test]
#[ignore = "the child process of kill_at_random_points_delivers_exactly_once"]
fn child_service() {
    let path = std::env::var_os(CONFIG_ENV).expect("started by the kill test with its config");
    let config = ServiceConfig::load(Path::new(&path)).expect("valid configuration");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
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
    knobs.set_latency("getFullMessage", Duration::from_millis(5));
    knobs.set_latency("moveMessage", Duration::from_millis(300));

    let mut rng = ChaCha8Rng::seed_from_u64(KILL_SEED);
    let mut kills = 0;
    let mut progress = Vec::new();
    while kills < KILLS {
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_service",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CONFIG_ENV, &config_path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("child process");
        let delay = Duration::from_millis(rng.random_range(150..1200));
        tokio::time::sleep(delay).await;
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the service exited by itself with {status}");
        }
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");
        kills += 1;

        check_bin_only_holds_delivered(&practice, &store_path, &share_root);
        let delivered = count_delivered(&store_path, practice.insz(), &seeded);
        let in_bin = practice.folder(Folder::BinInbox).len();
        progress.push(format!("{delay:?}: {delivered}/{in_bin}"));
    }
    println!(
        "{kills} kill points (seed {KILL_SEED:#x}); after each, delay: delivered/in the bin: {}",
        progress.join(", ")
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
