//! The practice's view of a box: `practicebox run` as a child process fetching from the platform
//! simulator, mail sent into a doctor's eHealthBox, and the documents that reach the share.
//!
//! The service runs cargo's build of `practicebox`, or the binary that `PRACTICEBOX_BIN` names.
//! NOTE: in a target folder shared by several checkouts, another checkout's build may replace
//! cargo's binary between the build and the run. Point `PRACTICEBOX_BIN` at a copy then.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, reason = "test fixtures fail loudly")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ehealth_sim::mail::MessageKind;
use ehealth_sim::pki::Doctor;
use ehealth_sim::server::RunningSimulator;
use practicebox::demo::mail::{self, DeliveredMessage};

/// How long the service may take to deliver mail to the share before the test fails.
pub const DELIVERY_WAIT: Duration = Duration::from_secs(30);

/// Returns the `practicebox` binary under test.
pub fn practicebox_binary() -> PathBuf {
    std::env::var_os("PRACTICEBOX_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_practicebox")),
        PathBuf::from,
    )
}

/// Writes `dir/practicebox.toml`, the configuration of a box that fetches from `simulator`
/// every `fetch_interval_secs` seconds, and the simulator's CA next to it. The `[mandates]`
/// table names `dir/ehealth-ca.pem` and `dir/eid-roots.pem`, which the caller writes.
pub fn write_simulator_config(
    dir: &Path,
    simulator: &RunningSimulator,
    data_dir: &Path,
    share: &Path,
    fetch_interval_secs: u64,
) -> PathBuf {
    std::fs::write(dir.join("simulator-ca.pem"), simulator.ca_pem.as_bytes()).unwrap();
    let https = simulator.addresses.https;
    let config = format!(
        r#"data_dir = "{data}"
share_root = "{share}"
fetch_interval = "{fetch_interval_secs}s"

[ehealth]
preset = "simulator"
base_url = "https://localhost:{port}"
ca_file = "{root}/simulator-ca.pem"
resolve = {{ "localhost" = "{https}" }}

[clock]
trust_system_clock = true

[mandates]
ehealth_ca = "{root}/ehealth-ca.pem"
eid_roots = "{root}/eid-roots.pem"
"#,
        data = data_dir.display(),
        share = share.display(),
        port = https.port(),
        root = dir.display(),
    );
    let path = dir.join("practicebox.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Delivers six realistic sealed messages into `doctor`'s INBOX.
pub fn send_mail(
    simulator: &RunningSimulator,
    doctor: &Doctor,
    seed_value: u64,
) -> Vec<DeliveredMessage> {
    let planned = mail::generate(simulator, &[doctor], 6, seed_value).unwrap();
    let delivered = mail::deliver(simulator, planned).unwrap();
    assert!(
        !document_ids(&delivered).is_empty(),
        "the mail of seed {seed_value} contains no document"
    );
    delivered
}

/// Returns the MessageIds of the documents in `mail`, the messages that become files on the share.
pub fn document_ids(mail: &[DeliveredMessage]) -> BTreeSet<String> {
    mail.iter()
        .filter(|message| message.planned.kind() == MessageKind::Document)
        .map(|message| message.message_id.clone())
        .collect()
}

/// Returns the MessageIds named by the sidecars (`<document>.json`) in `folder` and its subfolders.
pub fn delivered_ids(folder: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut pending = vec![folder.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let is_sidecar = path
                .extension()
                .is_some_and(|extension| extension == "json")
                && path.with_extension("").is_file();
            if is_sidecar {
                let text = std::fs::read_to_string(&path).unwrap();
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                ids.insert(json["message_id"].as_str().unwrap().to_owned());
            }
        }
    }
    ids
}

/// Waits until every document of `mail` is on the share in `folder`, or panics with the service
/// log after [`DELIVERY_WAIT`].
pub fn wait_for_documents(folder: &Path, mail: &[DeliveredMessage], service: &mut Service) {
    let expected = document_ids(mail);
    let started = Instant::now();
    loop {
        let found = delivered_ids(folder);
        if found.is_superset(&expected) {
            return;
        }
        service.check_running();
        assert!(
            started.elapsed() < DELIVERY_WAIT,
            "after {DELIVERY_WAIT:?}, {} has {} of the {} documents; service log:\n{}",
            folder.display(),
            found.intersection(&expected).count(),
            expected.len(),
            service.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The service process; killed if the test ends early.
pub struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Starts `practicebox run` with the configuration file alone, logging to `log`.
    pub fn start(config: &Path, log: PathBuf) -> Self {
        let child = Command::new(practicebox_binary())
            .arg("run")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the log when the service has exited.
    pub fn check_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the service exited with {status}:\n{}", self.log_text());
        }
    }

    /// Stops the service with SIGTERM, as systemd does, and returns its log.
    pub fn stop(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        let log = self.log_text();
        assert!(
            status.success(),
            "the service stopped with {status}:\n{log}"
        );
        log
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
