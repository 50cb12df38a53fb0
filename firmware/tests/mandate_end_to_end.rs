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
//! The commands run cargo's build of `practicebox`, or the binary that `PRACTICEBOX_BIN` names
//! (see `support/service.rs`).

#![allow(clippy::unwrap_used, reason = "tests")]

#[path = "support/doctors.rs"]
mod doctors;
#[path = "support/service.rs"]
mod service_support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doctors::{
    MAIN_NAME, MAIN_PIN, MAIN_RIZIV, MAIN_SSIN, MANDATOR_NAME as COLLEAGUE_NAME,
    MANDATOR_PIN as COLLEAGUE_PIN, MANDATOR_RIZIV as COLLEAGUE_RIZIV,
    MANDATOR_SSIN as COLLEAGUE_SSIN, card, write_trust_anchors,
};
use ehealth_sim::ehbox::Folder;
use ehealth_sim::pki::{Doctor, DoctorSpec, KeystoreOptions, TestPki};
use ehealth_sim::seed;
use ehealth_sim::server::{RunningSimulator, SimConfig, Simulator};
use jiff::{SignedDuration, Timestamp};
use practicebox::demo::mail::DeliveredMessage;
use practicebox::store::{Principal, Store};
use service_support::{
    Service, delivered_ids, document_ids, practicebox_binary, send_mail, wait_for_documents,
    write_simulator_config,
};
use virtual_eid::pcscd::{PcscdVpcd, SOCKET_VARIABLE, VPCD_READER_PREFIX};
use virtual_eid::{Applet, SharedCard, VpcdConnection};
use zeroize::Zeroizing;

/// The fetch interval of the service under test, short so that a missed removal shows.
const FETCH_INTERVAL_SECS: u64 = 2;
/// How late after a commit by another process the service may still start a run: the poll
/// period of the store (1 s) and a margin for a slow machine.
const PICK_UP_GRACE: SignedDuration = SignedDuration::from_secs(2);

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
    tokio::time::sleep(Duration::from_secs(4 * FETCH_INTERVAL_SECS)).await;
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
        write_trust_anchors(self.dir.path(), &self.simulator.pki, &self.colleague_card);
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

        let config = write_simulator_config(
            self.dir.path(),
            &self.simulator,
            &self.data_dir,
            &self.share,
            FETCH_INTERVAL_SECS,
        );
        assert_eq!(config, self.config);
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
        Service::start(&self.config, self.path("service.log"))
    }

    fn send(&self, doctor: &Doctor, seed_value: u64) -> Vec<DeliveredMessage> {
        send_mail(&self.simulator, doctor, seed_value)
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
        wait_for_documents(&folder, mail, service);
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
