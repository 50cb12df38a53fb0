//! A mandate's whole life on a box, through the real processes. `practicebox setup`,
//! `practicebox mandate add`, `mandate remove` and `mandate verify` run as child processes that
//! talk to a real pcscd with the virtual eID in its vpcd reader. `practicebox run` is the
//! service, fetching from the platform simulator. Every command reads the same configuration
//! file and nothing else. The test runs once with applet 1.7 cards and once with applet 1.8
//! cards.
//!
//! Isolation: each test has its own temporary folder, its own simulator on a free loopback port,
//! and its own pcscd in private network and mount namespaces whose socket lives in that folder
//! (the children find it through `PCSCLITE_CSOCK_NAME`). So both tests run at once, and beside
//! other pcscd users on the machine. pcscd needs root, as in the other PC/SC tests; nothing is
//! skipped when it cannot start.
//!
//! The commands run cargo's build of `practicebox`, or the binary that `PRACTICEBOX_BIN` names.
//! NOTE: in a target folder shared by several checkouts, another checkout's build may replace
//! cargo's binary between the build and the run. Point `PRACTICEBOX_BIN` at a copy then.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ehealth_sim::ehbox::Folder;
use ehealth_sim::mail::MessageKind;
use ehealth_sim::pki::{Doctor, DoctorSpec, KeystoreOptions, TestPki};
use ehealth_sim::seed;
use ehealth_sim::server::{RunningSimulator, SimConfig, Simulator};
use jiff::{SignedDuration, Timestamp};
use practicebox::demo::mail::{self, DeliveredMessage};
use practicebox::store::{Principal, Store};
use virtual_eid::pcscd::{PcscdVpcd, SOCKET_VARIABLE, VPCD_READER_PREFIX};
use virtual_eid::{Applet, CardProfile, SharedCard, VirtualCard, VpcdConnection};
use zeroize::Zeroizing;

const MAIN_SSIN: &str = "78031414230";
const MAIN_RIZIV: &str = "17139009004";
const MAIN_NAME: (&str, &str) = ("Vermeiren", "Lotte Maria");
const COLLEAGUE_SSIN: &str = virtual_eid::DEFAULT_SSIN;
const COLLEAGUE_RIZIV: &str = "17041217004";
const COLLEAGUE_NAME: (&str, &str) = ("Vandenberghe-Lemaître", "Jan-Willem Alexandre");
/// PINs that appear nowhere else in the test data.
const MAIN_PIN: &str = "802613";
const COLLEAGUE_PIN: &str = "739184";
/// The fetch interval of the service under test, short so that a missed removal shows.
const FETCH_INTERVAL_SECS: i64 = 2;
/// How late after a commit by another process the service may still start a run: the poll
/// period of the store (1 s) and a margin for a slow machine.
const PICK_UP_GRACE: SignedDuration = SignedDuration::from_secs(2);
/// How long a step that waits for the service may take before the test fails.
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mandate_lifecycle_applet_1_7() {
    mandate_lifecycle(Applet::V1_7, 17).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mandate_lifecycle_applet_1_8() {
    mandate_lifecycle(Applet::V1_8, 18).await;
}

async fn mandate_lifecycle(applet: Applet, seed_value: u64) {
    let lab = Lab::start(applet, seed_value).await;
    let main = lab.doctor(MAIN_SSIN);
    let colleague = lab.doctor(COLLEAGUE_SSIN);

    // The main practitioner is set up with the eID, then the service starts.
    let card = lab.insert(&lab.main_card);
    lab.cli(
        "setup",
        &lab.doctor_args(MAIN_SSIN, MAIN_RIZIV, MAIN_NAME, "main"),
    )
    .success();
    card.remove().unwrap();
    let main_mail = lab.send(main, seed_value);
    let mut service = lab.start_service();
    let main_principal = lab.principal(MAIN_SSIN).expect("main practitioner stored");
    lab.wait_for_documents(&main_principal, &main_mail, &mut service);

    // The colleague grants a mandate from another process; the running service picks it up.
    let colleague_mail = lab.send(colleague, seed_value + 1);
    let card = lab.insert(&lab.colleague_card);
    let mut add = vec!["add".to_owned()];
    add.extend(lab.doctor_args(COLLEAGUE_SSIN, COLLEAGUE_RIZIV, COLLEAGUE_NAME, "colleague"));
    lab.cli("mandate", &add).success();
    let added_at = Instant::now();
    card.remove().unwrap();
    let colleague_principal = lab.principal(COLLEAGUE_SSIN).expect("mandator stored");
    let folder = lab.share.join(&colleague_principal.share_folder);
    assert_eq!(
        colleague_principal.share_folder,
        practicebox::delivery::names::doctor_folder_name(
            COLLEAGUE_NAME.0,
            COLLEAGUE_NAME.1,
            COLLEAGUE_RIZIV
        ),
        "the colleague's folder is named from the eID"
    );
    lab.wait_for_documents(&colleague_principal, &colleague_mail, &mut service);
    let picked_up = added_at.elapsed();
    assert!(
        picked_up < Duration::from_secs(15),
        "the new mandate was picked up after {picked_up:?}, not at once"
    );
    assert!(
        lab.vault_record(&colleague_principal).exists(),
        "the colleague's credentials are in the vault"
    );

    // The mandate is removed from another process: no further fetch for the colleague.
    let removal = lab.cli(
        "mandate",
        &["remove".into(), COLLEAGUE_SSIN.into(), "--yes".into()],
    );
    removal.success();
    let removed_at = Timestamp::now();
    let late_mail = lab.send(colleague, seed_value + 2);
    let main_runs_before = lab.run_count(&main_principal);
    tokio::time::sleep(Duration::from_secs(4 * FETCH_INTERVAL_SECS as u64)).await;
    service.check_running();

    assert!(
        lab.run_count(&main_principal) > main_runs_before,
        "the main practitioner is still fetched"
    );
    lab.check_no_fetch_after(&colleague_principal, removed_at);
    let inbox = lab.folder_ids(colleague, Folder::Inbox);
    for message in &late_mail {
        assert!(
            inbox.contains(&message.message_id),
            "{} left the colleague's INBOX after the removal",
            message.message_id
        );
    }
    let on_share = delivered_ids(&folder);
    assert!(
        late_mail
            .iter()
            .all(|message| !on_share.contains(&message.message_id)),
        "mail sent after the removal is on the share"
    );
    assert!(
        on_share.is_superset(&document_ids(&colleague_mail)),
        "the colleague's earlier documents stay on the share"
    );

    // Credentials gone, evidence and audit log intact.
    assert!(
        !lab.vault_record(&colleague_principal).exists(),
        "the colleague's credentials are wiped"
    );
    assert!(
        lab.vault_record(&main_principal).exists(),
        "the main practitioner's credentials stay"
    );
    let verify = lab.cli("mandate", &["verify".into()]).success();
    assert!(
        verify.contains("1 mandates checked") && verify.contains("every mandate verified"),
        "{verify}"
    );
    assert!(verify.contains("audit log intact"), "{verify}");
    let list = lab.cli("mandate", &["list".into()]).success();
    assert!(list.contains("removed"), "{list}");
    lab.check_audit_actions();

    let log = service.stop();
    let colleague_id = colleague_principal.id.to_string();
    assert!(
        log.lines()
            .any(|line| line.contains("keystore dropped from memory")
                && line.contains(&format!("principal={colleague_id}"))),
        "the service log does not show the colleague's keystore dropped:\n{log}"
    );
    assert!(
        log.contains("changed by another process"),
        "the service did not see the other processes' changes:\n{log}"
    );
    lab.check_no_secret_in(&log);
}

/// The practice, its files and the processes of one test. Fields drop in this order: pcscd
/// stops by the PID file in its state folder before the temporary folder is removed.
struct Lab {
    pcscd: PcscdVpcd,
    simulator: RunningSimulator,
    config: PathBuf,
    share: PathBuf,
    data_dir: PathBuf,
    main_card: SharedCard,
    colleague_card: SharedCard,
    dir: tempfile::TempDir,
}

impl Lab {
    async fn start(applet: Applet, seed_value: u64) -> Lab {
        let specs = [
            DoctorSpec::new("Lotte", "Vermeiren", MAIN_SSIN, MAIN_RIZIV),
            DoctorSpec::new(
                COLLEAGUE_NAME.1,
                COLLEAGUE_NAME.0,
                COLLEAGUE_SSIN,
                COLLEAGUE_RIZIV,
            ),
        ];
        let pki = tokio::task::spawn_blocking(move || {
            TestPki::generate_with(
                seed_value,
                Timestamp::now(),
                &specs,
                &KeystoreOptions::fast(),
            )
        })
        .await
        .unwrap()
        .unwrap();
        let mut sim_config = SimConfig::loopback(pki, seed_value);
        sim_config.http = None;
        sim_config.admin = None;
        let simulator = Simulator::start(sim_config).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let pcscd =
            PcscdVpcd::start_private(&root.join("pcscd"), virtual_eid::pcscd::DEFAULT_VPCD_PORT)
                .unwrap_or_else(|error| panic!("{error}"));
        let main_card = card(applet, MAIN_SSIN, MAIN_NAME, MAIN_PIN);
        let colleague_card = card(applet, COLLEAGUE_SSIN, COLLEAGUE_NAME, COLLEAGUE_PIN);

        let data_dir = root.join("data");
        let share = root.join("share");
        std::fs::create_dir_all(&data_dir).unwrap();
        std::fs::create_dir_all(&share).unwrap();
        let lab = Lab {
            config: root.join("practicebox.toml"),
            share,
            data_dir,
            simulator,
            pcscd,
            main_card,
            colleague_card,
            dir,
        };
        lab.write_files();
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the trust anchors, the doctors' keystores, passwords and PINs, and the
    /// configuration that every command reads.
    fn write_files(&self) {
        let write = |name: &str, bytes: &[u8]| std::fs::write(self.path(name), bytes).unwrap();
        write("simulator-ca.pem", self.simulator.ca_pem.as_bytes());
        write(
            "ehealth-ca.pem",
            self.simulator
                .pki
                .root
                .certificate_pem()
                .unwrap()
                .as_bytes(),
        );
        let eid_root = self
            .colleague_card
            .lock()
            .unwrap()
            .image()
            .unwrap()
            .pki
            .root
            .pem()
            .unwrap();
        write("eid-roots.pem", eid_root.as_bytes());
        for doctor in &self.simulator.pki.doctors {
            let ssin = &doctor.spec.ssin;
            write(&format!("{ssin}.acc-p12"), &doctor.keystore.bytes);
            write(
                &format!("{ssin}.password"),
                format!("{}\n", doctor.keystore.password).as_bytes(),
            );
        }
        write("main.pin", format!("{MAIN_PIN}\n").as_bytes());
        write("colleague.pin", format!("{COLLEAGUE_PIN}\n").as_bytes());

        let https = self.simulator.addresses.https;
        let config = format!(
            r#"data_dir = "{data}"
share_root = "{share}"
fetch_interval = "{FETCH_INTERVAL_SECS}s"

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
            data = self.data_dir.display(),
            share = self.share.display(),
            port = https.port(),
            root = self.dir.path().display(),
        );
        std::fs::write(&self.config, config).unwrap();
    }

    fn doctor(&self, ssin: &str) -> &Doctor {
        self.simulator.pki.doctor(ssin).unwrap()
    }

    /// Returns the options of `setup` and `mandate add` for a doctor, with files for every
    /// secret.
    fn doctor_args(&self, ssin: &str, riziv: &str, name: (&str, &str), pin: &str) -> Vec<String> {
        let path = |name: String| self.path(&name).display().to_string();
        [
            "--certificate",
            &path(format!("{ssin}.acc-p12")),
            "--password-file",
            &path(format!("{ssin}.password")),
            "--pin-file",
            &path(format!("{pin}.pin")),
            "--name",
            name.0,
            "--first-name",
            name.1,
            "--insz",
            ssin,
            "--riziv",
            riziv,
            "--reader",
            VPCD_READER_PREFIX,
            "--card-timeout",
            "20",
            "--yes",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    }

    /// Puts `card` in the vpcd reader of this test's pcscd.
    fn insert(&self, card: &SharedCard) -> VpcdConnection {
        self.pcscd.insert(Arc::clone(card)).unwrap()
    }

    /// Runs `practicebox COMMAND ARGS --config FILE` and waits for it.
    fn cli(&self, command: &str, args: &[String]) -> CommandResult {
        let output = Command::new(practicebox_binary())
            .arg(command)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env(SOCKET_VARIABLE, self.pcscd.socket())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let result = CommandResult {
            description: format!("practicebox {command} {}", args.join(" ")),
            output,
        };
        self.check_no_secret_in(&result.text());
        result
    }

    /// Starts `practicebox run` with the configuration file alone.
    fn start_service(&self) -> Service {
        let log = self.path("service.log");
        let child = Command::new(practicebox_binary())
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Service { child, log }
    }

    /// Delivers six realistic sealed messages into `doctor`'s INBOX.
    fn send(&self, doctor: &Doctor, seed_value: u64) -> Vec<DeliveredMessage> {
        let planned = mail::generate(&self.simulator, &[doctor], 6, seed_value).unwrap();
        let delivered = mail::deliver(&self.simulator, planned).unwrap();
        assert!(
            !document_ids(&delivered).is_empty(),
            "the mail of seed {seed_value} holds no document"
        );
        delivered
    }

    fn store(&self) -> Store {
        Store::open(&self.data_dir.join("practicebox.sqlite")).unwrap()
    }

    fn principal(&self, insz: &str) -> Option<Principal> {
        self.store().principal_by_insz(insz).unwrap()
    }

    fn vault_record(&self, principal: &Principal) -> PathBuf {
        self.data_dir
            .join("credentials")
            .join(format!("principal-{}.cred", principal.id))
    }

    fn run_count(&self, principal: &Principal) -> i64 {
        let connection =
            rusqlite::Connection::open(self.data_dir.join("practicebox.sqlite")).unwrap();
        connection
            .query_row(
                "SELECT count(*) FROM fetch_runs WHERE principal_id = ?1",
                [principal.id.0],
                |row| row.get(0),
            )
            .unwrap()
    }

    /// Waits until every document of `mail` is on the share in `principal`'s folder.
    fn wait_for_documents(
        &self,
        principal: &Principal,
        mail: &[DeliveredMessage],
        service: &mut Service,
    ) {
        let folder = self.share.join(&principal.share_folder);
        let expected = document_ids(mail);
        let started = Instant::now();
        loop {
            let found = delivered_ids(&folder);
            if found.is_superset(&expected) {
                return;
            }
            service.check_running();
            assert!(
                started.elapsed() < WAIT,
                "after {WAIT:?}, {} has {} of the {} documents of {}; service log:\n{}",
                folder.display(),
                found.intersection(&expected).count(),
                expected.len(),
                principal.insz,
                service.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Checks that the colleague's fetching stopped: no run started once the service could see
    /// the removal, every run finished, and the platform received nothing from the colleague's
    /// certificate after the last run ended.
    fn check_no_fetch_after(&self, principal: &Principal, removed_at: Timestamp) {
        let connection =
            rusqlite::Connection::open(self.data_dir.join("practicebox.sqlite")).unwrap();
        let mut statement = connection
            .prepare(
                "SELECT started_at, finished_at, outcome FROM fetch_runs WHERE principal_id = ?1",
            )
            .unwrap();
        let runs: Vec<(String, Option<String>, String)> = statement
            .query_map([principal.id.0], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!runs.is_empty(), "the colleague was never fetched");
        let latest_start = removed_at + PICK_UP_GRACE;
        let mut last_end = Timestamp::MIN;
        for (started, finished, outcome) in &runs {
            let started: Timestamp = started.parse().unwrap();
            assert!(
                started < latest_start,
                "a run of the colleague started at {started}, after the removal at {removed_at}"
            );
            assert_ne!(outcome, "running", "a run of the colleague did not stop");
            let finished: Timestamp = finished.as_deref().unwrap().parse().unwrap();
            last_end = last_end.max(finished);
        }
        let late_requests: Vec<String> = self
            .simulator
            .log
            .all()
            .into_iter()
            .filter(|record| record.caller_ssin.as_deref() == Some(COLLEAGUE_SSIN))
            .filter(|record| record.received_at > last_end)
            .map(|record| format!("{} {:?}", record.received_at, record.operation))
            .collect();
        assert_eq!(
            late_requests,
            Vec::<String>::new(),
            "requests for the colleague after the last run ended at {last_end}"
        );
    }

    fn folder_ids(&self, doctor: &Doctor, folder: Folder) -> BTreeSet<String> {
        let platform = self.simulator.platform.lock().unwrap();
        platform
            .box_state(&seed::doctor_box(&doctor.spec.ssin))
            .unwrap()
            .messages
            .into_iter()
            .filter(|message| message.folder == folder)
            .map(|message| message.message_id)
            .collect()
    }

    /// Checks the audit log's actions on principals and mandates, in order: the setup, the
    /// grant and the removal. The message rows between them are the fetcher's.
    fn check_audit_actions(&self) {
        let actions: Vec<String> = self
            .store()
            .audit_entries()
            .unwrap()
            .into_iter()
            .map(|entry| entry.action)
            .filter(|action| !action.starts_with("message."))
            .collect();
        assert_eq!(
            actions,
            [
                "principal.added",
                "principal.setup",
                "principal.added",
                "mandate.added",
                "mandate.revoked"
            ]
        );
    }

    /// Checks that no PIN and no keystore password is in `text`.
    fn check_no_secret_in(&self, text: &str) {
        let mut secrets: Vec<Zeroizing<String>> = self
            .simulator
            .pki
            .doctors
            .iter()
            .map(|doctor| Zeroizing::new(doctor.keystore.password.clone()))
            .collect();
        secrets.push(Zeroizing::new(MAIN_PIN.to_owned()));
        secrets.push(Zeroizing::new(COLLEAGUE_PIN.to_owned()));
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret is in the output:\n{text}"
            );
        }
    }
}

/// Returns the `practicebox` binary under test.
fn practicebox_binary() -> PathBuf {
    std::env::var_os("PRACTICEBOX_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_practicebox")),
        PathBuf::from,
    )
}

/// Returns a virtual eID of the doctor with this INSZ, names and PIN. The default seed gives every card
/// the same test root, which the configuration trusts.
fn card(applet: Applet, ssin: &str, name: (&str, &str), pin: &str) -> SharedCard {
    let mut profile = CardProfile::new(applet);
    profile.ssin = ssin.to_owned();
    profile.name = name.0.to_owned();
    profile.first_names = name.1.to_owned();
    profile.pin = Zeroizing::new(pin.to_owned());
    virtual_eid::shared(VirtualCard::new(&profile).unwrap())
}

/// Returns the MessageIds of the documents in `mail`, the messages that become files on the share.
fn document_ids(mail: &[DeliveredMessage]) -> BTreeSet<String> {
    mail.iter()
        .filter(|message| message.planned.kind() == MessageKind::Document)
        .map(|message| message.message_id.clone())
        .collect()
}

/// Returns the MessageIds named by the sidecars (`<document>.json`) in `folder` and its subfolders.
fn delivered_ids(folder: &Path) -> BTreeSet<String> {
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

/// The output of a finished command.
struct CommandResult {
    description: String,
    output: Output,
}

impl CommandResult {
    fn text(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    /// Checks that the command succeeded and returns its standard output.
    fn success(&self) -> String {
        assert!(
            self.output.status.success(),
            "`{}` failed with {}:\n{}",
            self.description,
            self.output.status,
            self.text()
        );
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
}

/// The service process; killed if the test ends early.
struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn check_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the service exited with {status}:\n{}", self.log_text());
        }
    }

    /// Stops the service with SIGTERM, as systemd does, and returns its log.
    fn stop(mut self) -> String {
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
