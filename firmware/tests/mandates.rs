//! Mandates end to end through the virtual eID's in-process transport. The tests set up the main
//! practitioner and grant a mandate from the simulator's test doctors, then list, verify and
//! remove it. They check that every rejected input leaves the store untouched, that
//! `mandate verify` finds tampering, and that no password or PIN is written anywhere.

#![allow(clippy::unwrap_used, reason = "tests")]

#[path = "support/doctors.rs"]
mod doctors;
#[path = "support/pcscd.rs"]
mod pcscd_support;

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use doctors::{
    MAIN_PIN, MAIN_RIZIV, MAIN_SSIN, MANDATOR_PIN, MANDATOR_RIZIV, MANDATOR_SSIN, generate_pki,
    main_card, mandator_card, now, write_trust_anchors,
};
use ehealth_sim::pki::{DoctorSpec, TestPki, Variant};
use jiff::Timestamp;
use jiff::civil::{Date, date};
use pcscd_support::{CARD_WAIT, in_private_pcscd};
use practicebox::config::ServiceConfig;
use practicebox::ehealth::keystore::KeystoreError;
use practicebox::eid::{EidCard, EidError};
use practicebox::mandates::command::{
    self, Answers, BoxOptions, DoctorOptions, Prompter, RemoveArgs,
};
use practicebox::mandates::grant::Purpose;
use practicebox::mandates::workflow::{Outcome, Screen};
use practicebox::mandates::{Check, MandateError, RuleError};
use practicebox::store::{AuditVerification, MandateId, Store};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use virtual_eid::{Applet, CardProfile, InProcessTransport, SharedCard, VirtualCard};
use zeroize::Zeroizing;

/// A doctor whose eHealth certificate has expired.
const EXPIRED_SSIN: &str = "61080903364";

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let expired = DoctorSpec::new("Koen", "Verstraeten", EXPIRED_SSIN, "14022141004")
            .with_variant(Variant::Expired);
        generate_pki(&[expired])
    })
}

/// Returns a card from another card PKI (another seed), with other keys and another root.
fn stranger_card() -> SharedCard {
    let mut profile = CardProfile::new(Applet::V1_8);
    profile.seed = 2;
    virtual_eid::shared(VirtualCard::new(&profile).unwrap())
}

/// A box in a temporary folder, with the test PKIs' roots as trust anchors.
struct TestBox {
    dir: tempfile::TempDir,
    /// The configuration file, as the commands read it.
    options: BoxOptions,
    config: ServiceConfig,
}

impl TestBox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_trust_anchors(root, pki(), &mandator_card());
        for doctor in &pki().doctors {
            let ssin = &doctor.spec.ssin;
            std::fs::write(root.join(format!("{ssin}.acc-p12")), &doctor.keystore.bytes).unwrap();
            std::fs::write(
                root.join(format!("{ssin}.password")),
                &doctor.keystore.password,
            )
            .unwrap();
        }
        std::fs::write(root.join("wrong.password"), "not-the-password\n").unwrap();
        std::fs::write(root.join("main.pin"), format!("{MAIN_PIN}\n")).unwrap();
        std::fs::write(root.join("mandator.pin"), format!("{MANDATOR_PIN}\n")).unwrap();
        std::fs::write(root.join("wrong.pin"), "947205\n").unwrap();

        let config_file = root.join("practicebox.toml");
        std::fs::write(
            &config_file,
            format!(
                "data_dir = \"{root}/state\"\nshare_root = \"{root}/share\"\n\n\
                 [mandates]\nehealth_ca = \"{root}/ehealth-ca.pem\"\n\
                 eid_roots = \"{root}/eid-roots.pem\"\n",
                root = root.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("state")).unwrap();
        let options = BoxOptions {
            config: config_file,
        };
        let config = options.load().unwrap();
        Self {
            dir,
            options,
            config,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn doctor(&self, ssin: &str, name: &str, first_name: &str, riziv: &str) -> DoctorOptions {
        DoctorOptions {
            certificate: self.path(&format!("{ssin}.acc-p12")),
            password_file: Some(self.path(&format!("{ssin}.password"))),
            pin_file: None,
            name: name.into(),
            first_name: first_name.into(),
            insz: ssin.into(),
            riziv: riziv.into(),
            reader: String::new(),
            card_timeout: 1,
            yes: true,
        }
    }

    fn main_doctor(&self) -> DoctorOptions {
        let mut doctor = self.doctor(MAIN_SSIN, "Vermeiren", "Lotte", MAIN_RIZIV);
        doctor.pin_file = Some(self.path("main.pin"));
        doctor
    }

    fn mandator(&self) -> DoctorOptions {
        let mut doctor = self.doctor(
            MANDATOR_SSIN,
            "VANDENBERGHE-LEMAITRE",
            "jan-willem",
            MANDATOR_RIZIV,
        );
        doctor.pin_file = Some(self.path("mandator.pin"));
        doctor
    }

    fn run(
        &self,
        purpose: Purpose,
        doctor: &DoctorOptions,
        end_date: Option<Date>,
        card: &SharedCard,
        prompter: &mut ScriptedPrompter,
    ) -> anyhow::Result<Outcome> {
        let mut eid = EidCard::open(InProcessTransport::new(Arc::clone(card))).unwrap();
        let answers = Answers { doctor, end_date };
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        command::run_workflow(
            purpose,
            &self.config,
            &answers,
            &mut eid,
            prompter,
            &mut rng,
            now(),
        )
    }

    fn setup(&self) {
        let outcome = self
            .run(
                Purpose::Setup,
                &self.main_doctor(),
                None,
                &main_card(),
                &mut ScriptedPrompter::default(),
            )
            .unwrap();
        assert!(matches!(outcome, Outcome::Setup(_)));
    }

    fn grant(&self, end_date: Option<Date>) -> MandateId {
        let outcome = self
            .run(
                Purpose::Mandate,
                &self.mandator(),
                end_date,
                &mandator_card(),
                &mut ScriptedPrompter::default(),
            )
            .unwrap();
        match outcome {
            Outcome::Mandate(id) => id,
            other => panic!("expected a mandate, got {other:?}"),
        }
    }

    fn store(&self) -> Store {
        Store::open(&self.config.store_path()).unwrap()
    }

    fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.config.store_path()).unwrap()
    }

    /// Dumps every row of every table, and every file under the state folder with its content.
    fn dump(&self) -> String {
        let connection = self.sql();
        let mut text = String::new();
        let tables: Vec<String> = connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for table in tables {
            text.push_str(&format!("table {table}\n"));
            let mut statement = connection
                .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
                .unwrap();
            let columns = statement.column_count();
            let mut rows = statement.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let values: Vec<String> = (0..columns)
                    .map(|index| {
                        format!("{:?}", row.get::<_, rusqlite::types::Value>(index).unwrap())
                    })
                    .collect();
                text.push_str(&values.join(" | "));
                text.push('\n');
            }
        }
        for path in files_under(&self.config.data_dir) {
            // The database's rows are compared above; its pages change on checkpoints.
            if path.starts_with(self.config.store_path())
                || path.to_string_lossy().contains(".sqlite-")
            {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            text.push_str(&format!("file {} {:?}\n", path.display(), bytes));
        }
        text
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A prompter that takes confirmations from a script and records every screen.
#[derive(Debug, Default)]
struct ScriptedPrompter {
    confirmations: VecDeque<bool>,
    shown: Vec<String>,
}

impl Prompter for ScriptedPrompter {
    fn show(&mut self, screen: &Screen) {
        self.shown.push(format!("{screen:?}"));
    }

    fn secret(&mut self, label: &str) -> io::Result<Zeroizing<String>> {
        panic!("the test gives every secret in a file, but {label:?} was prompted")
    }

    fn confirm(&mut self, _question: &str) -> io::Result<bool> {
        Ok(self.confirmations.pop_front().unwrap_or(false))
    }
}

fn mandate_error(error: &anyhow::Error) -> &MandateError {
    error
        .downcast_ref::<MandateError>()
        .unwrap_or_else(|| panic!("not a mandate error: {error:#}"))
}

#[test]
fn mandate_granted_listed_verified_removed() {
    let test_box = TestBox::new();
    test_box.setup();
    let id = test_box.grant(None);

    let store = test_box.store();
    let active: Vec<String> = store
        .active_principals(now())
        .unwrap()
        .into_iter()
        .map(|principal| principal.insz)
        .collect();
    assert_eq!(active, [MAIN_SSIN, MANDATOR_SSIN]);
    let mandate = store.mandate(id).unwrap();
    let certificate_end = pki()
        .doctor(MANDATOR_SSIN)
        .unwrap()
        .authentication
        .not_after();
    assert_eq!(
        mandate.ends_at, certificate_end,
        "the default end is the certificate's end"
    );
    let evidence = mandate.evidence.clone().unwrap();
    let text = String::from_utf8(evidence.signed_bytes.clone()).unwrap();
    assert!(
        text.contains("mandator.family_name: Vandenberghe-Lemaître\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("grantee.insz: {MAIN_SSIN}\n")),
        "{text}"
    );
    assert!(text.contains("\nNL\n"), "{text}");
    assert!(text.contains("\nFR\n"), "{text}");

    let listing = command::list_text(&test_box.config, now()).unwrap();
    assert!(
        listing.contains(&format!(
            "mandate {id}: Jan-Willem Alexandre Vandenberghe-Lemaître (INSZ {MANDATOR_SSIN}), until"
        )),
        "{listing}"
    );
    assert!(listing.contains("active"), "{listing}");

    let report =
        command::verify_report(&test_box.config, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    assert!(report.is_intact(), "{}", command::report_text(&report));
    assert_eq!(report.mandates_checked, 1);

    let remove = RemoveArgs {
        box_options: test_box.options.clone(),
        insz: MANDATOR_SSIN.into(),
        by: "dr. Vermeiren".into(),
        yes: true,
    };
    let later: Timestamp = "2026-12-05T08:00:00Z".parse().unwrap();
    command::remove(
        &test_box.config,
        &remove,
        &mut ScriptedPrompter::default(),
        later,
    )
    .unwrap();

    let store = test_box.store();
    let active: Vec<String> = store
        .active_principals(later)
        .unwrap()
        .into_iter()
        .map(|principal| principal.insz)
        .collect();
    assert_eq!(active, [MAIN_SSIN], "the fetcher stops at once");
    let revoked = store.mandate(id).unwrap();
    assert_eq!(revoked.revoked_at, Some(later));
    assert_eq!(revoked.revoked_by.as_deref(), Some("dr. Vermeiren"));
    assert_eq!(revoked.evidence, Some(evidence), "the evidence stays");
    let credentials = test_box.config.data_dir.join("credentials");
    let remaining: Vec<String> = files_under(&credentials)
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        remaining,
        ["box.key", "principal-1.cred"],
        "only the main doctor's record"
    );
    let actions: Vec<String> = store
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
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

    let report =
        command::verify_report(&test_box.config, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    assert!(report.is_intact(), "{}", command::report_text(&report));
    let listing = command::list_text(&test_box.config, later).unwrap();
    assert!(
        listing.contains("removed 2026-12-05 08:00 UTC by dr. Vermeiren"),
        "{listing}"
    );
}

#[test]
fn remove_needs_confirmation() {
    let test_box = TestBox::new();
    test_box.setup();
    test_box.grant(None);
    let before = test_box.dump();

    let remove = RemoveArgs {
        box_options: test_box.options.clone(),
        insz: MANDATOR_SSIN.into(),
        by: "terminal".into(),
        yes: false,
    };
    let error = command::remove(
        &test_box.config,
        &remove,
        &mut ScriptedPrompter::default(),
        now(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "not removed: the removal was not confirmed"
    );
    assert_unchanged(&before, &test_box.dump(), &error);

    let mut yes = ScriptedPrompter {
        confirmations: VecDeque::from([true]),
        ..Default::default()
    };
    command::remove(&test_box.config, &remove, &mut yes, now()).unwrap();
    let error = command::remove(&test_box.config, &remove, &mut yes, now()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "no mandate of INSZ {MANDATOR_SSIN} is in force; `practicebox mandate list` shows \
             the mandates"
        )
    );
}

#[test]
fn new_mandate_replaces_old() {
    let test_box = TestBox::new();
    test_box.setup();
    let first = test_box.grant(Some(date(2027, 6, 30)));
    let second = test_box.grant(None);

    let store = test_box.store();
    let old = store.mandate(first).unwrap();
    assert_eq!(
        old.revoked_by.as_deref(),
        Some(format!("terminal (replaced by mandate {second})").as_str())
    );
    assert_eq!(
        old.ends_at,
        "2027-07-01T00:00:00Z".parse::<Timestamp>().unwrap()
    );
    assert!(store.mandate(second).unwrap().revoked_at.is_none());
    let actions: Vec<String> = store
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(
        actions[2..],
        [
            "principal.added",
            "mandate.added",
            "mandate.added",
            "mandate.revoked"
        ]
    );
    let report =
        command::verify_report(&test_box.config, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    assert!(report.is_intact(), "{}", command::report_text(&report));
    assert_eq!(report.mandates_checked, 2);
}

/// Compares two dumps line by line and names the first difference.
#[test]
fn new_riziv_and_name_kept_in_history() {
    let test_box = TestBox::new();
    test_box.setup();
    let first = test_box.grant(None);

    // A day later the colleague's RIZIV number and family name have changed.
    let later: Timestamp = "2026-12-05T12:00:00Z".parse().unwrap();
    let new_riziv = ehealth_sim::pki::ids::nihii11(170_413, 4).unwrap();
    let mut profile = CardProfile::new(Applet::V1_8);
    profile.name = "Vandenberghe".into();
    profile.pin = Zeroizing::new(MANDATOR_PIN.into());
    let renamed_card = virtual_eid::shared(VirtualCard::new(&profile).unwrap());
    let mut doctor = test_box.mandator();
    doctor.name = "Vandenberghe".into();
    doctor.riziv = new_riziv.clone();
    let mut eid = EidCard::open(InProcessTransport::new(renamed_card)).unwrap();
    let answers = Answers {
        doctor: &doctor,
        end_date: None,
    };
    let outcome = command::run_workflow(
        Purpose::Mandate,
        &test_box.config,
        &answers,
        &mut eid,
        &mut ScriptedPrompter::default(),
        &mut ChaCha20Rng::seed_from_u64(6),
        later,
    )
    .unwrap();
    let Outcome::Mandate(second) = outcome else {
        panic!("expected a mandate, got {outcome:?}");
    };

    let store = test_box.store();
    let mandator = store.principal_by_insz(MANDATOR_SSIN).unwrap().unwrap();
    assert_eq!(mandator.family_name, "Vandenberghe");
    assert_eq!(mandator.riziv, new_riziv);
    assert_eq!(
        mandator.share_folder,
        practicebox::delivery::names::doctor_folder_name(
            "Vandenberghe-Lemaître",
            "Jan-Willem Alexandre",
            MANDATOR_RIZIV
        ),
        "the share folder keeps its name"
    );
    let before = store.principal_as_of(mandator.id, now()).unwrap();
    assert_eq!(before.family_name, "Vandenberghe-Lemaître");
    assert_eq!(before.riziv, MANDATOR_RIZIV);
    assert!(store.mandate(first).unwrap().revoked_at.is_some());
    assert!(store.mandate(second).unwrap().revoked_at.is_none());

    let changes: Vec<serde_json::Value> = store
        .audit_entries()
        .unwrap()
        .into_iter()
        .filter(|entry| entry.action == "principal.details_changed")
        .map(|entry| serde_json::from_str(&entry.detail).unwrap())
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["from"]["riziv"], MANDATOR_RIZIV);
    assert_eq!(changes[0]["to"]["riziv"], new_riziv.as_str());
    assert_eq!(changes[0]["to"]["family_name"], "Vandenberghe");

    let report =
        command::verify_report(&test_box.config, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    assert_eq!(report.mandates_checked, 2);
    assert!(
        report.is_intact(),
        "the earlier mandate verifies with the earlier details: {}",
        command::report_text(&report)
    );
}

fn assert_unchanged(before: &str, after: &str, cause: &dyn std::fmt::Display) {
    let difference = before
        .lines()
        .zip(after.lines())
        .find(|(old, new)| old != new);
    assert!(
        difference.is_none() && before.lines().count() == after.lines().count(),
        "the store changed after {cause}: first difference {difference:?}, {} lines before, {} \
         after",
        before.lines().count(),
        after.lines().count()
    );
}

/// Runs a mandate that must fail, and checks that it changed nothing.
fn rejected(
    test_box: &TestBox,
    doctor: &DoctorOptions,
    end_date: Option<Date>,
    card: &SharedCard,
) -> anyhow::Error {
    let before = test_box.dump();
    let error = test_box
        .run(
            Purpose::Mandate,
            doctor,
            end_date,
            card,
            &mut ScriptedPrompter::default(),
        )
        .unwrap_err();
    assert_unchanged(&before, &test_box.dump(), &error);
    error
}

#[test]
fn empty_secret_files_are_named() {
    let test_box = TestBox::new();
    test_box.setup();
    let card = mandator_card();
    std::fs::write(test_box.path("empty.password"), "\n").unwrap();

    let mut doctor = test_box.mandator();
    doctor.password_file = Some(test_box.path("empty.password"));
    let error = rejected(&test_box, &doctor, None, &card);

    let message = error.to_string();
    assert!(message.starts_with("password file "), "{message}");
    assert!(message.contains("empty.password is empty"), "{message}");
    assert!(!message.contains("wrong password"), "{message}");
}

#[test]
fn rejected_inputs_change_nothing() {
    let test_box = TestBox::new();
    test_box.setup();
    let card = mandator_card();

    let mut doctor = test_box.mandator();
    doctor.password_file = Some(test_box.path("wrong.password"));
    let error = rejected(&test_box, &doctor, None, &card);
    assert!(
        error
            .to_string()
            .starts_with("wrong password for keystore '85073003328.acc-p12'"),
        "{error}"
    );

    let mut doctor = test_box.mandator();
    doctor.insz = "85073003329".into();
    let error = rejected(&test_box, &doctor, None, &card);
    assert!(matches!(
        mandate_error(&error),
        MandateError::Rule(RuleError::InszCheckDigits { .. })
    ));

    let mut doctor = test_box.mandator();
    doctor.riziv = "17041218004".into();
    let error = rejected(&test_box, &doctor, None, &card);
    assert!(matches!(
        mandate_error(&error),
        MandateError::Rule(RuleError::RizivCheckDigits { .. })
    ));

    let mut doctor = test_box.mandator();
    doctor.name = "Vandenberg".into();
    let error = rejected(&test_box, &doctor, None, &card);
    assert_eq!(
        error.to_string(),
        "the family name \"Vandenberg\" differs from \"Vandenberghe-Lemaître\" on the eID (first \
         difference at character 11); type the name as it is printed on the eID"
    );

    let mut doctor = test_box.mandator();
    doctor.certificate = test_box.path(&format!("{MAIN_SSIN}.acc-p12"));
    doctor.password_file = Some(test_box.path(&format!("{MAIN_SSIN}.password")));
    let error = rejected(&test_box, &doctor, None, &card);
    assert!(matches!(
        mandate_error(&error),
        MandateError::Rule(RuleError::CertificateInszMismatch { .. })
    ));

    let error = rejected(&test_box, &test_box.main_doctor(), None, &main_card());
    assert!(matches!(
        mandate_error(&error),
        MandateError::Rule(RuleError::MandatorIsMain { .. })
    ));

    let error = rejected(&test_box, &test_box.mandator(), None, &stranger_card());
    assert!(
        matches!(mandate_error(&error), MandateError::Eid(_)),
        "a card of an untrusted root: {error}"
    );

    let error = rejected(
        &test_box,
        &test_box.mandator(),
        Some(date(2026, 12, 3)),
        &card,
    );
    assert!(matches!(
        mandate_error(&error),
        MandateError::Rule(RuleError::EndDateInPast { .. })
    ));

    let error = rejected(
        &test_box,
        &test_box.mandator(),
        Some(date(2035, 1, 1)),
        &card,
    );
    assert!(matches!(
        mandate_error(&error),
        MandateError::Rule(RuleError::EndDateAfterCertificate { .. })
    ));

    let mut doctor = test_box.mandator();
    doctor.pin_file = Some(test_box.path("wrong.pin"));
    let error = rejected(&test_box, &doctor, None, &card);
    assert!(matches!(
        mandate_error(&error),
        MandateError::Eid(EidError::WrongPin { tries_left: 2 })
    ));

    let mut doctor = test_box.doctor(EXPIRED_SSIN, "Verstraeten", "Koen", "14022141004");
    doctor.pin_file = Some(test_box.path("mandator.pin"));
    let error = rejected(&test_box, &doctor, None, &card);
    assert!(error.to_string().contains("expired on"), "{error}");
}

/// Runs `purpose` through [`command::run_with_card`] with a connection that fails and records
/// that it was called, and returns the error and whether the eID was requested.
fn run_without_card(
    test_box: &TestBox,
    config: &ServiceConfig,
    purpose: Purpose,
    doctor: &DoctorOptions,
    end_date: Option<Date>,
) -> (anyhow::Error, bool) {
    let mut requested = false;
    let connect = || -> anyhow::Result<EidCard<InProcessTransport>> {
        requested = true;
        anyhow::bail!("no eID in the reader")
    };
    let answers = Answers { doctor, end_date };
    let error = command::run_with_card(
        purpose,
        config,
        &answers,
        connect,
        &mut ScriptedPrompter::default(),
        &mut ChaCha20Rng::seed_from_u64(5),
        now(),
    )
    .unwrap_err();
    assert!(
        files_under(&test_box.config.data_dir).is_empty(),
        "{error} left files in the data folder"
    );
    (error, requested)
}

#[test]
fn answers_checked_before_card() {
    let test_box = TestBox::new();
    std::fs::write(test_box.path("garbage.pem"), "not a certificate\n").unwrap();
    let mut missing_ca = test_box.config.clone();
    missing_ca.mandates.ehealth_ca = test_box.path("missing-ca.pem");
    let mut garbage_roots = test_box.config.clone();
    garbage_roots.mandates.eid_roots = test_box.path("garbage.pem");

    let mut bad_insz = test_box.mandator();
    bad_insz.insz = "85073003329".into();
    let mut bad_riziv = test_box.mandator();
    bad_riziv.riziv = "17041218004".into();
    let mut missing_keystore = test_box.mandator();
    missing_keystore.certificate = test_box.path("missing.acc-p12");
    let mut empty_name = test_box.mandator();
    empty_name.first_name = " ".into();

    let config = &test_box.config;
    type Expected = fn(&MandateError) -> bool;
    let cases: [(&str, &ServiceConfig, DoctorOptions, Option<Date>, Expected); 7] = [
        ("INSZ check digits", config, bad_insz, None, |error| {
            matches!(error, MandateError::Rule(RuleError::InszCheckDigits { .. }))
        }),
        ("RIZIV check digits", config, bad_riziv, None, |error| {
            matches!(
                error,
                MandateError::Rule(RuleError::RizivCheckDigits { .. })
            )
        }),
        (
            "missing keystore",
            config,
            missing_keystore,
            None,
            |error| matches!(error, MandateError::Keystore(KeystoreError::Read { .. })),
        ),
        ("empty first name", config, empty_name, None, |error| {
            matches!(error, MandateError::Rule(RuleError::EmptyName { .. }))
        }),
        (
            "missing ehealth_ca",
            &missing_ca,
            test_box.mandator(),
            None,
            |error| matches!(error, MandateError::TrustAnchorsUnreadable { .. }),
        ),
        (
            "garbage eid_roots",
            &garbage_roots,
            test_box.mandator(),
            None,
            |error| matches!(error, MandateError::TrustAnchorsInvalid { .. }),
        ),
        (
            "end date in the past",
            config,
            test_box.mandator(),
            Some(date(2026, 12, 3)),
            |error| matches!(error, MandateError::Rule(RuleError::EndDateInPast { .. })),
        ),
    ];
    for (case, config, doctor, end_date, expected) in &cases {
        for purpose in [Purpose::Setup, Purpose::Mandate] {
            if end_date.is_some() && purpose == Purpose::Setup {
                continue;
            }
            let (error, requested) =
                run_without_card(&test_box, config, purpose, doctor, *end_date);
            assert!(
                !requested,
                "{case} ({purpose:?}): the eID was requested: {error}"
            );
            assert!(
                expected(mandate_error(&error)),
                "{case} ({purpose:?}): {error:#}"
            );
        }
    }
}

#[test]
fn valid_answers_reach_the_card() {
    let test_box = TestBox::new();
    let answers = Answers {
        doctor: &test_box.main_doctor(),
        end_date: None,
    };
    let outcome = command::run_with_card(
        Purpose::Setup,
        &test_box.config,
        &answers,
        || Ok(EidCard::open(InProcessTransport::new(main_card()))?),
        &mut ScriptedPrompter::default(),
        &mut ChaCha20Rng::seed_from_u64(5),
        now(),
    )
    .unwrap();
    assert!(matches!(outcome, Outcome::Setup(_)), "{outcome:?}");
}

#[test]
fn mandate_needs_main_practitioner() {
    let test_box = TestBox::new();
    Store::open(&test_box.config.store_path()).unwrap();
    // The box identity is created on first use; create it before taking the "before" dump.
    command::settings(&test_box.config, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    let error = rejected(&test_box, &test_box.mandator(), None, &mandator_card());
    assert_eq!(
        error.to_string(),
        "this box has no main practitioner yet; run `practicebox setup` for the box's own \
         doctor first"
    );
}

#[test]
fn untrusted_ehealth_ca_rejected() {
    let test_box = TestBox::new();
    test_box.setup();
    std::fs::copy(
        test_box.path("eid-roots.pem"),
        test_box.path("ehealth-ca.pem"),
    )
    .unwrap();
    let error = rejected(&test_box, &test_box.mandator(), None, &mandator_card());
    assert!(
        error.to_string().contains("which is not a trusted CA"),
        "{error}"
    );
}

#[test]
fn other_eid_rejected() {
    let test_box = TestBox::new();
    test_box.setup();
    let mut other = CardProfile::new(Applet::V1_8);
    other.ssin = EXPIRED_SSIN.into();
    let card = virtual_eid::shared(VirtualCard::new(&other).unwrap());
    let error = rejected(&test_box, &test_box.mandator(), None, &card);
    assert_eq!(
        error.to_string(),
        format!(
            "the typed INSZ {MANDATOR_SSIN} is not the national number {EXPIRED_SSIN} of the eID \
             in the reader; insert the eID of the doctor whose certificate this is, or retype \
             the INSZ"
        )
    );
}

#[test]
fn second_setup_rejected() {
    let test_box = TestBox::new();
    test_box.setup();
    let before = test_box.dump();
    let error = test_box
        .run(
            Purpose::Setup,
            &test_box.main_doctor(),
            None,
            &main_card(),
            &mut ScriptedPrompter::default(),
        )
        .unwrap_err();
    assert!(matches!(
        mandate_error(&error),
        MandateError::Rule(RuleError::MainPractitionerExists { .. })
    ));
    assert_unchanged(&before, &test_box.dump(), &error);
}

fn findings(test_box: &TestBox) -> Vec<(i64, Check)> {
    let report =
        command::verify_report(&test_box.config, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    report
        .findings
        .iter()
        .map(|finding| (finding.mandate.0, finding.check))
        .collect()
}

fn set_blob(test_box: &TestBox, column: &str, value: &[u8]) {
    test_box
        .sql()
        .execute(
            &format!("UPDATE mandates SET {column} = ?1 WHERE id = 1"),
            [value],
        )
        .unwrap();
}

#[test]
fn verify_detects_tampering() {
    let test_box = TestBox::new();
    test_box.setup();
    test_box.grant(None);
    let evidence = test_box
        .store()
        .mandate(MandateId(1))
        .unwrap()
        .evidence
        .unwrap();

    let edited = String::from_utf8(evidence.signed_bytes.clone())
        .unwrap()
        .replace("ends_at: 2029", "ends_at: 2031");
    set_blob(&test_box, "signed_bytes", edited.as_bytes());
    assert_eq!(
        findings(&test_box),
        [(1, Check::Document), (1, Check::Signature)],
        "an edited document"
    );
    let report =
        command::verify_report(&test_box.config, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    let text = command::report_text(&report);
    assert!(
        text.contains(&format!(
            "TAMPERED: mandate 1 (INSZ {MANDATOR_SSIN}): document check failed: field ends_at is"
        )),
        "{text}"
    );
    set_blob(&test_box, "signed_bytes", &evidence.signed_bytes);
    assert_eq!(findings(&test_box), []);

    test_box
        .sql()
        .execute(
            "UPDATE mandates SET ends_at = '2031-01-01T00:00:00.000Z' WHERE id = 1",
            [],
        )
        .unwrap();
    assert_eq!(
        findings(&test_box),
        [(1, Check::Document)],
        "an edited end date"
    );
    let original_end = rusqlite::types::Value::Text(evidence_end(
        &test_box
            .store()
            .mandate(MandateId(1))
            .unwrap()
            .evidence
            .unwrap(),
    ));
    test_box
        .sql()
        .execute(
            "UPDATE mandates SET ends_at = ?1 WHERE id = 1",
            [original_end],
        )
        .unwrap();
    assert_eq!(findings(&test_box), []);

    let mut signature = evidence.signature.clone();
    let last = signature.len() - 3;
    signature[last] ^= 0x01;
    set_blob(&test_box, "signature", &signature);
    assert_eq!(
        findings(&test_box),
        [(1, Check::Signature)],
        "a changed signature"
    );
    set_blob(&test_box, "signature", &evidence.signature);

    let stranger = stranger_card();
    let stranger_cert = {
        let card = stranger.lock().unwrap();
        card.image().unwrap().pki.non_repudiation.der.clone()
    };
    let mut bundle = stranger_cert.clone();
    let own_cert_len = practicebox::eid::crypto::der_length(&evidence.signing_cert).unwrap();
    bundle.extend_from_slice(&evidence.signing_cert[own_cert_len..]);
    set_blob(&test_box, "signing_cert", &bundle);
    let found = findings(&test_box);
    assert!(
        found.contains(&(1, Check::Signature)),
        "a swapped certificate: {found:?}"
    );
    assert!(found.contains(&(1, Check::CertificateChain)), "{found:?}");
    set_blob(&test_box, "signing_cert", &evidence.signing_cert);

    let mut identity = evidence.identity_file.clone();
    identity[10] ^= 0x01;
    set_blob(&test_box, "identity_file", &identity);
    assert!(findings(&test_box).contains(&(1, Check::IdentitySignature)));
    set_blob(&test_box, "identity_file", &evidence.identity_file);
    assert_eq!(findings(&test_box), []);

    let connection = test_box.sql();
    connection
        .execute("DROP TRIGGER audit_log_no_update", [])
        .unwrap();
    connection
        .execute(
            "UPDATE audit_log SET actor = 'someone else' WHERE seq = 4",
            [],
        )
        .unwrap();
    let report =
        command::verify_report(&test_box.config, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
    assert_eq!(
        report.audit,
        AuditVerification::Broken {
            seq: 4,
            problem: "the row's content does not match its hash: the row was edited".into()
        }
    );
    assert!(!report.is_intact());
    assert!(
        command::report_text(&report).contains("TAMPERED: audit log row 4"),
        "{}",
        command::report_text(&report)
    );
}

/// Reads the stored end back in the store's own text form.
fn evidence_end(evidence: &practicebox::store::MandateEvidence) -> String {
    let text = String::from_utf8(evidence.signed_bytes.clone()).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("ends_at: "))
        .unwrap();
    let end: Timestamp = line["ends_at: ".len()..].parse().unwrap();
    end.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A tracing writer that keeps every log line.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn no_secret_written_anywhere() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let test_box = TestBox::new();
    let mut errors = Vec::new();
    let mut prompter = ScriptedPrompter::default();

    tracing::subscriber::with_default(subscriber, || {
        test_box.setup();
        let mut wrong_pin = test_box.mandator();
        wrong_pin.pin_file = Some(test_box.path("wrong.pin"));
        let card = mandator_card();
        for doctor in [wrong_pin, test_box.mandator()] {
            match test_box.run(Purpose::Mandate, &doctor, None, &card, &mut prompter) {
                Ok(_) => {}
                Err(error) => errors.push(format!("{error:#} {error:?}")),
            }
        }
        let mut wrong_password = test_box.mandator();
        wrong_password.password_file = Some(test_box.path("wrong.password"));
        let error = test_box
            .run(
                Purpose::Mandate,
                &wrong_password,
                None,
                &card,
                &mut prompter,
            )
            .unwrap_err();
        errors.push(format!("{error:#} {error:?}"));
    });
    assert_eq!(errors.len(), 2, "{errors:?}");

    // Flush the WAL into the database file, so the search covers every row.
    test_box
        .sql()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let mut searched: Vec<(String, Vec<u8>)> = files_under(&test_box.config.data_dir)
        .into_iter()
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect();
    searched.push(("logs".into(), logs.0.lock().unwrap().clone()));
    searched.push(("errors".into(), errors.join("\n").into_bytes()));
    searched.push(("screens".into(), prompter.shown.join("\n").into_bytes()));
    assert!(
        !logs.0.lock().unwrap().is_empty(),
        "the flows logged nothing"
    );

    let secrets = [
        pki().doctor(MAIN_SSIN).unwrap().keystore.password.clone(),
        pki()
            .doctor(MANDATOR_SSIN)
            .unwrap()
            .keystore
            .password
            .clone(),
        MAIN_PIN.to_owned(),
        MANDATOR_PIN.to_owned(),
        "not-the-password".to_owned(),
        "947205".to_owned(),
    ];
    for (place, bytes) in &searched {
        for secret in &secrets {
            assert!(!contains(bytes, secret), "a secret is in {place}");
        }
    }
}

#[test]
fn warnings_before_ends() {
    let test_box = TestBox::new();
    test_box.setup();
    let id = test_box.grant(None);
    let store = test_box.store();
    let vault = command::open_vault(&test_box.config).unwrap();
    assert_eq!(
        practicebox::mandates::status::expiry_warnings(&store, &vault, now()).unwrap(),
        [],
        "three years left"
    );

    let end = store.mandate(id).unwrap().ends_at;
    let later = end - jiff::SignedDuration::from_hours(24 * 10);
    let warnings: Vec<String> =
        practicebox::mandates::status::expiry_warnings(&store, &vault, later)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
    let end_date = end.strftime("%Y-%m-%d").to_string();
    assert!(
        warnings.contains(&format!(
            "the mandate of Jan-Willem Alexandre Vandenberghe-Lemaître (INSZ {MANDATOR_SSIN}) ends \
             on {end_date}, in 10 days; grant a new mandate to keep fetching"
        )),
        "{warnings:?}"
    );
    assert!(
        warnings.contains(&format!(
            "the eHealth certificate of Jan-Willem Alexandre Vandenberghe-Lemaître (INSZ \
             {MANDATOR_SSIN}) ends on {end_date}, in 10 days; renew it and load the new keystore"
        )),
        "{warnings:?}"
    );
    let main_warnings = warnings
        .iter()
        .filter(|warning| warning.contains(MAIN_SSIN))
        .count();
    assert_eq!(
        main_warnings, 1,
        "the main doctor's certificate ends too: {warnings:?}"
    );

    let listing = command::list_text(&test_box.config, later).unwrap();
    assert!(
        listing.contains("10 days left, active, ends soon"),
        "{listing}"
    );
    assert!(listing.contains("warning: the mandate of"), "{listing}");
}

/// Grants a mandate with the card behind a real pcscd, in a child process with its own pcscd.
#[test]
fn mandate_through_pcscd() {
    in_private_pcscd("mandate_through_pcscd", |pcscd| {
        let test_box = TestBox::new();
        test_box.setup();
        let card = mandator_card();
        let _inserted = pcscd.insert(Arc::clone(&card)).unwrap();
        let context = practicebox::eid::PcscContext::establish().unwrap();
        let reader = context
            .wait_for_card(virtual_eid::pcscd::VPCD_READER_PREFIX, CARD_WAIT)
            .unwrap();
        let mut eid = EidCard::open(context.connect(&reader).unwrap()).unwrap();

        let doctor = test_box.mandator();
        let answers = Answers {
            doctor: &doctor,
            end_date: Some(date(2027, 12, 31)),
        };
        let outcome = command::run_workflow(
            Purpose::Mandate,
            &test_box.config,
            &answers,
            &mut eid,
            &mut ScriptedPrompter::default(),
            &mut ChaCha20Rng::seed_from_u64(5),
            now(),
        )
        .unwrap();
        let Outcome::Mandate(id) = outcome else {
            panic!("expected a mandate, got {outcome:?}");
        };

        let mandate = test_box.store().mandate(id).unwrap();
        assert_eq!(
            mandate.ends_at,
            "2028-01-01T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        let report =
            command::verify_report(&test_box.config, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        assert!(report.is_intact(), "{}", command::report_text(&report));
    });
}
