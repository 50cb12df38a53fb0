//! A private pcscd for each test that calls PC/SC in its own process.
//!
//! libpcsclite reads `PCSCLITE_CSOCK_NAME` once per process, so one test process reaches one
//! pcscd socket at most. Tests that share the system's `/run/pcscd` collide with every other test
//! process on the machine, because one test's start stops or replaces the pcscd into which
//! another test inserted its card. So [`in_private_pcscd`] runs the test body in a child process (this
//! test binary again, filtered to that one test) whose `PCSCLITE_CSOCK_NAME` names the socket of
//! a pcscd that the child starts in a fresh folder. The tests need root, as pcscd does; nothing
//! is skipped when pcscd cannot start.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, reason = "test fixtures fail loudly")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use virtual_eid::pcscd::{
    DEFAULT_VPCD_PORT, PcscdVpcd, SOCKET_VARIABLE, VPCD_READER_PREFIX, private_socket,
    stop_recorded,
};

/// The environment variable with the folder in which the child process starts its pcscd.
const STATE_DIR_VARIABLE: &str = "PRACTICEBOX_TEST_PCSCD_STATE_DIR";

/// How long pcscd may take to report a card inserted or removed. It polls vpcd readers about
/// every 400 ms; the rest is a margin for a loaded machine.
pub const CARD_WAIT: Duration = Duration::from_secs(10);

/// Runs `body` with a pcscd of its own that this process's PC/SC calls reach.
///
/// Called in the test process, this runs the test named `test` again in a child process and
/// checks that it passed. In that child, it starts pcscd and runs `body`. `test` must be the
/// name of the calling test, as `cargo test -- --exact` takes it.
pub fn in_private_pcscd(test: &str, body: impl FnOnce(PcscdVpcd)) {
    let Some(state_dir) = std::env::var_os(STATE_DIR_VARIABLE) else {
        run_in_child(test, true);
        return;
    };
    let state_dir = PathBuf::from(state_dir);
    let pcscd = PcscdVpcd::start_private(&state_dir, DEFAULT_VPCD_PORT)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        std::env::var_os(SOCKET_VARIABLE).as_deref(),
        Some(pcscd.socket().as_os_str()),
        "{SOCKET_VARIABLE} does not name this test's pcscd"
    );
    body(pcscd);
}

/// Runs `body` in a child process whose PC/SC calls reach no pcscd: its `PCSCLITE_CSOCK_NAME`
/// names a socket that does not exist.
pub fn without_pcscd(test: &str, body: impl FnOnce()) {
    if std::env::var_os(STATE_DIR_VARIABLE).is_none() {
        run_in_child(test, false);
        return;
    }
    let socket = PathBuf::from(std::env::var_os(SOCKET_VARIABLE).unwrap());
    assert!(!socket.exists(), "{} exists", socket.display());
    body();
}

/// Runs the test `test` of this binary in a child process and panics with its output unless it
/// ran and passed. Afterwards stops a pcscd that the child left when it was killed.
fn run_in_child(test: &str, with_pcscd: bool) {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("pcscd");
    let socket = if with_pcscd {
        private_socket(&state_dir)
    } else {
        dir.path().join("no-pcscd/pcscd.comm")
    };
    let output = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--include-ignored", "--test-threads=1"])
        .env(STATE_DIR_VARIABLE, &state_dir)
        .env(SOCKET_VARIABLE, &socket)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if with_pcscd {
        stop_recorded(&state_dir).unwrap_or_else(|error| panic!("{error}"));
    }

    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the child process of {test} failed with {}:\n{text}{}",
        output.status,
        pcscd_log(&state_dir)
    );
    assert!(
        text.contains("test result: ok. 1 passed"),
        "the child process ran no test named {test}:\n{text}"
    );
}

fn pcscd_log(state_dir: &Path) -> String {
    match std::fs::read_to_string(state_dir.join("pcscd.log")) {
        Ok(log) if !log.is_empty() => format!("\npcscd log:\n{log}"),
        _ => String::new(),
    }
}

/// Waits until pcscd reports a card present and not mute in the vpcd reader, or panics.
pub fn wait_until_card_present() {
    wait_for_reader(pcsc::State::PRESENT, "inserted");
}

/// Waits until pcscd reports the vpcd reader empty, or panics.
pub fn wait_until_reader_empty() {
    wait_for_reader(pcsc::State::EMPTY, "taken out");
}

/// Waits with SCardGetStatusChange until the vpcd reader's state contains `expected`.
fn wait_for_reader(expected: pcsc::State, event: &str) {
    let context = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let readers = context.list_readers_owned().unwrap();
    let reader = readers
        .into_iter()
        .find(|name| name.to_bytes().starts_with(VPCD_READER_PREFIX.as_bytes()))
        .unwrap_or_else(|| panic!("pcscd lists no reader named {VPCD_READER_PREFIX:?}"));
    let mut states = [pcsc::ReaderState::new(reader, pcsc::State::UNAWARE)];
    let deadline = Instant::now() + CARD_WAIT;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match context.get_status_change(remaining, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(error) => panic!("SCardGetStatusChange failed: {error}"),
        }
        let state = states[0].event_state();
        let ready = state.contains(expected) && !state.contains(pcsc::State::MUTE);
        if ready {
            return;
        }
        assert!(
            !remaining.is_zero(),
            "pcscd still reports {state:?} {CARD_WAIT:?} after the card was {event}"
        );
        states[0].sync_current_state();
    }
}
