use std::path::Path;

use jiff::{Timestamp, ToSpan};
use rusqlite::Connection;

use super::migrations;
use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn open_temp() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.db")).unwrap();
    (dir, store)
}

fn main_doctor() -> NewPrincipal {
    NewPrincipal {
        insz: "62090524597".to_owned(),
        family_name: "Janssens".to_owned(),
        given_names: "Pieter".to_owned(),
        riziv: "12345678004".to_owned(),
        role: Role::Main,
        share_folder: "Janssens_Pieter_1-23456-78-004".to_owned(),
        move_to_bin: true,
    }
}

fn colleague() -> NewPrincipal {
    NewPrincipal {
        insz: "93012008811".to_owned(),
        family_name: "De Smet".to_owned(),
        given_names: "Élodie".to_owned(),
        riziv: "19876543001".to_owned(),
        role: Role::Mandator,
        share_folder: "De-Smet_Elodie_1-98765-43-001".to_owned(),
        move_to_bin: true,
    }
}

fn fetched(principal: PrincipalId, message_id: &str) -> FetchedMessage {
    FetchedMessage {
        principal,
        message_id: message_id.to_owned(),
        kind: MessageKind::Document,
        sender_id: Some("71099999".to_owned()),
        sender_name: Some("AZ Proefziekenhuis".to_owned()),
        patient_insz: Some("62090524597".to_owned()),
        title: Some("Consultatieverslag".to_owned()),
        published_at: Some(at("2024-03-15T09:30:00Z")),
        size_bytes: 1234,
        annex_count: 1,
        flags: MessageFlags {
            unsealed_ok: true,
            ..MessageFlags::default()
        },
    }
}

fn file(part_index: u32, path: &str) -> FileRecord {
    FileRecord {
        part_index,
        path: path.to_owned(),
        sha256: "ab".repeat(32),
        size_bytes: 10,
    }
}

fn schema_of(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut statement = conn
        .prepare("SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn open_sets_durability_pragmas() {
    let (_dir, store) = open_temp();
    let mode: String = store
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = store
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    let keys: i64 = store
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();

    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous must be FULL");
    assert_eq!(keys, 1);
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn migrations_from_every_version() {
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = fresh_dir.path().join("fresh.db");
    drop(Store::open(&fresh).unwrap());
    let expected = schema_of(&fresh);

    for start in 0..SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = Connection::open(&path).unwrap();
        migrations::migrate(&mut conn, &path, start).unwrap();
        if start >= 1 {
            conn.execute(
                "INSERT INTO principals (insz, family_name, given_names, riziv, role, \
                 share_folder, created_at) VALUES ('62090524597', 'Janssens', 'Pieter', \
                 '12345678004', 'main', 'Janssens', '2024-01-01T00:00:00.000Z')",
                [],
            )
            .unwrap();
        }
        drop(conn);

        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            SCHEMA_VERSION,
            "from version {start}"
        );
        if start >= 1 {
            let kept = store.principal_by_insz("62090524597").unwrap();
            assert!(
                kept.is_some(),
                "principal lost migrating from version {start}"
            );
        }
        drop(store);
        assert_eq!(
            schema_of(&path),
            expected,
            "schema differs when migrated from {start}"
        );
    }
}

#[test]
fn open_twice_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(Store::open(&path).unwrap());
    let store = Store::open(&path).unwrap();
    let versions: i64 = store
        .conn
        .query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(versions, i64::from(SCHEMA_VERSION));
}

#[test]
fn open_rejects_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [SCHEMA_VERSION + 1],
    )
    .unwrap();
    drop(conn);

    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1));
    assert!(
        err.to_string().contains("install a PracticeBox release"),
        "{err}"
    );
}

#[test]
fn add_principal_rejects_bad_insz() {
    let (_dir, mut store) = open_temp();
    let mut doctor = main_doctor();
    doctor.insz = "62090524598".to_owned();

    let err = store
        .add_principal(&doctor, "setup", at("2024-01-01T00:00:00Z"))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInsz { .. }));
    assert!(err.to_string().contains("62090524598"), "{err}");
    assert!(store.principals().unwrap().is_empty());
}

#[test]
fn validate_insz_accepts_births_from_2000() {
    validate_insz("12060406739").unwrap();
    validate_insz("93012008811").unwrap();
    assert!(validate_insz("9301200881").is_err());
    assert!(validate_insz("93.01.20-088.11").is_err());
}

#[test]
fn add_principal_allows_one_main() {
    let (_dir, mut store) = open_temp();
    let now = at("2024-01-01T00:00:00Z");
    let first = store.add_principal(&main_doctor(), "setup", now).unwrap();

    let mut second = colleague();
    second.role = Role::Main;
    let err = store.add_principal(&second, "setup", now).unwrap_err();
    assert!(matches!(err, StoreError::MainPrincipalExists { existing } if existing == first));
}

/// Sets up the main doctor and a colleague with a mandate for March 2024.
fn with_mandate(store: &mut Store) -> (PrincipalId, PrincipalId, MandateId) {
    let now = at("2024-02-01T00:00:00Z");
    let main = store.add_principal(&main_doctor(), "setup", now).unwrap();
    let mandator = store.add_principal(&colleague(), "setup", now).unwrap();
    let mandate = NewMandate {
        mandator,
        grantee: main,
        starts_at: at("2024-03-01T00:00:00Z"),
        ends_at: at("2024-04-01T00:00:00Z"),
        evidence: Some(MandateEvidence {
            signed_bytes: b"De Smet allows Janssens".to_vec(),
            signature: vec![1, 2, 3],
            signing_cert: vec![4, 5],
            identity_file: vec![6],
            identity_rrn_signature: vec![7],
            cert_fingerprint: "00ff".to_owned(),
        }),
    };
    let id = store.add_mandate(&mandate, "panel", now).unwrap();
    (main, mandator, id)
}

fn active_ids(store: &Store, now: &str) -> Vec<PrincipalId> {
    store
        .active_principals(at(now))
        .unwrap()
        .into_iter()
        .map(|principal| principal.id)
        .collect()
}

#[test]
fn active_principals_honours_period() {
    let (_dir, mut store) = open_temp();
    let (main, mandator, _) = with_mandate(&mut store);

    assert_eq!(active_ids(&store, "2024-02-29T23:59:59Z"), vec![main]);
    assert_eq!(
        active_ids(&store, "2024-03-01T00:00:00Z"),
        vec![main, mandator]
    );
    assert_eq!(
        active_ids(&store, "2024-03-31T23:59:59Z"),
        vec![main, mandator]
    );
    assert_eq!(
        active_ids(&store, "2024-04-01T00:00:00Z"),
        vec![main],
        "end is exclusive"
    );
}

#[test]
fn active_principals_honours_revocation() {
    let (_dir, mut store) = open_temp();
    let (main, _, mandate) = with_mandate(&mut store);

    store
        .revoke_mandate(mandate, "panel", at("2024-03-10T12:00:00Z"))
        .unwrap();
    assert_eq!(active_ids(&store, "2024-03-11T00:00:00Z"), vec![main]);
    assert_eq!(
        active_ids(&store, "2024-03-05T00:00:00Z"),
        vec![main],
        "a clock set back before the revocation must not revive the mandate"
    );

    store
        .revoke_mandate(mandate, "status page", at("2024-03-12T00:00:00Z"))
        .unwrap();
    let stored = store.mandate(mandate).unwrap();
    assert_eq!(stored.revoked_by.as_deref(), Some("panel"));
    assert_eq!(stored.revoked_at, Some(at("2024-03-10T12:00:00Z")));
    assert!(!stored.is_valid_at(at("2024-03-11T00:00:00Z")));
}

#[test]
fn active_principals_skips_inactive() {
    let (_dir, mut store) = open_temp();
    let (main, mandator, _) = with_mandate(&mut store);
    let now = at("2024-03-15T00:00:00Z");

    store
        .set_principal_active(mandator, false, "panel", now)
        .unwrap();
    assert_eq!(active_ids(&store, "2024-03-15T00:00:00Z"), vec![main]);

    store
        .set_principal_active(mandator, true, "panel", now)
        .unwrap();
    store
        .set_principal_active(main, false, "panel", now)
        .unwrap();
    assert!(
        active_ids(&store, "2024-03-15T00:00:00Z").is_empty(),
        "a mandate to an inactive main principal must not fetch"
    );
}

#[test]
fn mandate_keeps_evidence() {
    let (_dir, mut store) = open_temp();
    let (main, mandator, mandate) = with_mandate(&mut store);
    let stored = store.mandate(mandate).unwrap();

    assert_eq!(stored.mandator, mandator);
    assert_eq!(stored.grantee, main);
    let evidence = stored.evidence.unwrap();
    assert_eq!(evidence.signed_bytes, b"De Smet allows Janssens");
    assert_eq!(evidence.cert_fingerprint, "00ff");
    assert_eq!(store.mandates_of(mandator).unwrap().len(), 1);
}

#[test]
fn add_mandate_rejects_bad_period_and_roles() {
    let (_dir, mut store) = open_temp();
    let (main, mandator, _) = with_mandate(&mut store);
    let now = at("2024-02-01T00:00:00Z");
    let backwards = NewMandate {
        mandator,
        grantee: main,
        starts_at: at("2024-05-01T00:00:00Z"),
        ends_at: at("2024-05-01T00:00:00Z"),
        evidence: None,
    };
    let err = store.add_mandate(&backwards, "panel", now).unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidMandatePeriod { .. }),
        "{err}"
    );

    let reversed = NewMandate {
        mandator: main,
        grantee: mandator,
        starts_at: at("2024-05-01T00:00:00Z"),
        ends_at: at("2024-06-01T00:00:00Z"),
        evidence: None,
    };
    let err = store.add_mandate(&reversed, "panel", now).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::WrongRole {
                expected: Role::Mandator,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn record_fetched_twice_is_no_op() {
    let (_dir, mut store) = open_temp();
    let (main, _, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");
    let audit_before = store.audit_entries().unwrap().len();

    assert_eq!(
        store.record_fetched(&fetched(main, "M1"), now).unwrap(),
        Recorded::New
    );
    let again = store
        .record_fetched(&fetched(main, "M1"), now + 1.hour())
        .unwrap();

    assert_eq!(again, Recorded::AlreadyKnown(DeliveryState::Fetched));
    assert_eq!(store.audit_entries().unwrap().len(), audit_before + 1);
    let record = store.message(main, "M1").unwrap().unwrap();
    assert_eq!(record.fetched_at, now);
    assert_eq!(record.size_bytes, 1234);
    assert!(record.flags.unsealed_ok);
}

#[test]
fn same_message_id_per_principal() {
    let (_dir, mut store) = open_temp();
    let (main, mandator, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");

    store.record_fetched(&fetched(main, "M1"), now).unwrap();
    let other_box = store.record_fetched(&fetched(mandator, "M1"), now).unwrap();
    assert_eq!(other_box, Recorded::New);
}

#[test]
fn message_life_cycle_repeats_safely() {
    let (_dir, mut store) = open_temp();
    let (main, _, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");
    let files = [
        file(1, "Janssens/letters/a.txt"),
        file(2, "Janssens/pdf/a.pdf"),
    ];
    store.record_fetched(&fetched(main, "M1"), now).unwrap();

    store.mark_delivered(main, "M1", &files, now).unwrap();
    store
        .mark_delivered(main, "M1", &files, now + 1.minute())
        .unwrap();
    assert_eq!(store.pending_move().unwrap().len(), 1);

    store.mark_moved_to_bin(main, "M1", now).unwrap();
    store
        .mark_moved_to_bin(main, "M1", now + 1.minute())
        .unwrap();
    store.mark_delivered(main, "M1", &files, now).unwrap();

    let record = store.message(main, "M1").unwrap().unwrap();
    assert_eq!(record.state, DeliveryState::MovedToBin);
    assert_eq!(record.files, files);
    assert_eq!(record.delivered_at, Some(now));
    assert!(store.pending_move().unwrap().is_empty());
    assert!(store.pending_delivery(now).unwrap().is_empty());
}

#[test]
fn mark_delivered_rejects_other_files() {
    let (_dir, mut store) = open_temp();
    let (main, _, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");
    store.record_fetched(&fetched(main, "M1"), now).unwrap();
    store
        .mark_delivered(main, "M1", &[file(1, "a/x.txt")], now)
        .unwrap();

    let err = store
        .mark_delivered(main, "M1", &[file(1, "a/x-2.txt")], now)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DeliveredElsewhere { .. }),
        "{err}"
    );
}

#[test]
fn move_to_bin_requires_delivery() {
    let (_dir, mut store) = open_temp();
    let (main, _, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");
    store.record_fetched(&fetched(main, "M1"), now).unwrap();

    let err = store.mark_moved_to_bin(main, "M1", now).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidTransition {
                from: DeliveryState::Fetched,
                ..
            }
        ),
        "{err}"
    );
    let err = store.mark_moved_to_bin(main, "unknown", now).unwrap_err();
    assert!(matches!(err, StoreError::UnknownMessage { .. }), "{err}");
}

#[test]
fn hold_and_retry() {
    let (_dir, mut store) = open_temp();
    let (main, _, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");
    store.record_fetched(&fetched(main, "M1"), now).unwrap();
    store.record_fetched(&fetched(main, "M2"), now).unwrap();

    store
        .hold(main, "M1", "share full", Some(now + 10.minutes()), now)
        .unwrap();
    store
        .hold(main, "M2", "not addressed to us", None, now)
        .unwrap();
    let pending: Vec<String> = store
        .pending_delivery(now)
        .unwrap()
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    assert!(pending.is_empty(), "held messages wait: {pending:?}");

    let later = store.pending_delivery(now + 10.minutes()).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].message_id, "M1");
    assert_eq!(later[0].held_reason.as_deref(), Some("share full"));
    assert_eq!(later[0].attempts, 1);

    store
        .mark_delivered(main, "M1", &[file(1, "a/x.txt")], now + 10.minutes())
        .unwrap();
    let err = store.hold(main, "M1", "late", None, now).unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    let record = store.message(main, "M1").unwrap().unwrap();
    assert_eq!(record.held_reason, None);
    assert_eq!(record.error.as_deref(), Some("share full"));
}

#[test]
fn pending_move_honours_policy() {
    let (_dir, mut store) = open_temp();
    let (main, mandator, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");
    store
        .set_move_to_bin(mandator, false, "panel", now)
        .unwrap();
    for principal in [main, mandator] {
        store
            .record_fetched(&fetched(principal, "M1"), now)
            .unwrap();
        store
            .mark_delivered(principal, "M1", &[file(1, "x")], now)
            .unwrap();
    }

    let pending = store.pending_move().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].principal, main);
}

#[test]
fn fetch_runs_record_outcomes() {
    let (_dir, mut store) = open_temp();
    let (main, mandator, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");

    let run = store.start_run(main, now).unwrap();
    let counts = RunCounts {
        listed: 3,
        new: 2,
        delivered: 1,
        held: 1,
    };
    store
        .finish_run(
            run,
            RunOutcome::Partial,
            counts,
            Some("share full"),
            now + 5.seconds(),
        )
        .unwrap();
    store.start_run(mandator, now).unwrap();
    assert_eq!(store.close_interrupted_runs(now + 1.hour()).unwrap(), 1);

    let last = store.last_run(main).unwrap().unwrap();
    assert_eq!(last.outcome, RunOutcome::Partial);
    assert_eq!(last.counts, counts);
    assert_eq!(last.error.as_deref(), Some("share full"));
    let interrupted = store.last_run(mandator).unwrap().unwrap();
    assert_eq!(interrupted.outcome, RunOutcome::Interrupted);
}

#[test]
fn audit_chain_intact_after_changes() {
    let (_dir, mut store) = open_temp();
    let (main, _, mandate) = with_mandate(&mut store);
    store
        .revoke_mandate(mandate, "panel", at("2024-03-10T00:00:00Z"))
        .unwrap();
    store
        .record_fetched(&fetched(main, "M1"), at("2024-03-15T10:00:00Z"))
        .unwrap();

    let actions: Vec<String> = store
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "principal.added",
            "principal.added",
            "mandate.added",
            "mandate.revoked",
            "message.fetched"
        ]
    );
    let head = store.audit_head().unwrap();
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        AuditVerification::Intact { rows: 5, head }
    );
}

#[test]
fn audit_triggers_reject_changes() {
    let (_dir, mut store) = open_temp();
    with_mandate(&mut store);

    let update = store
        .conn
        .execute("UPDATE audit_log SET actor = 'someone else'", []);
    let delete = store
        .conn
        .execute("DELETE FROM audit_log WHERE seq = 1", []);

    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

/// Drops the triggers, as someone editing the file below SQL would bypass them.
fn tamper(store: &Store, sql: &str) {
    store
        .conn
        .execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        .unwrap();
    store.conn.execute_batch(sql).unwrap();
}

#[test]
fn audit_chain_detects_edited_row() {
    let (_dir, mut store) = open_temp();
    with_mandate(&mut store);
    tamper(
        &store,
        "UPDATE audit_log SET detail = replace(detail, '2024-04-01', '2034-04-01') WHERE seq = 3",
    );

    match store.verify_audit_chain().unwrap() {
        AuditVerification::Broken { seq, problem } => {
            assert_eq!(seq, 3);
            assert!(problem.contains("edited"), "{problem}");
        }
        intact => panic!("edit not detected: {intact:?}"),
    }
}

#[test]
fn audit_chain_detects_deleted_rows() {
    let (_dir, mut store) = open_temp();
    with_mandate(&mut store);
    tamper(&store, "DELETE FROM audit_log WHERE seq = 2");
    let middle = store.verify_audit_chain().unwrap();
    assert!(
        matches!(middle, AuditVerification::Broken { seq: 3, .. }),
        "{middle:?}"
    );

    let (_dir, mut store) = open_temp();
    with_mandate(&mut store);
    tamper(&store, "DELETE FROM audit_log WHERE seq = 3");
    let tail = store.verify_audit_chain().unwrap();
    assert!(
        matches!(tail, AuditVerification::Broken { seq: 3, .. }),
        "{tail:?}"
    );
}

#[test]
fn handle_shares_store_between_threads() {
    let (_dir, mut store) = open_temp();
    let (main, _, _) = with_mandate(&mut store);
    let handle = store.into_handle();
    let now = at("2024-03-15T10:00:00Z");

    let workers: Vec<_> = (0..4)
        .map(|n| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                handle.with(|store| store.record_fetched(&fetched(main, &format!("M{n}")), now))
            })
        })
        .collect();
    for worker in workers {
        assert_eq!(worker.join().unwrap().unwrap(), Recorded::New);
    }
    assert_eq!(
        handle
            .with(|store| store.pending_delivery(now))
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn record_fetched_unknown_principal() {
    let (_dir, mut store) = open_temp();
    let err = store
        .record_fetched(&fetched(PrincipalId(42), "M1"), at("2024-03-15T10:00:00Z"))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownPrincipal(PrincipalId(42))),
        "{err}"
    );
    assert_eq!(err.to_string(), "principal 42 not found");
}

#[test]
fn error_texts_name_value_and_fix() {
    let transition = StoreError::InvalidTransition {
        principal: PrincipalId(1),
        message_id: "M1".to_owned(),
        from: DeliveryState::Fetched,
        to: DeliveryState::MovedToBin,
    };
    assert_eq!(
        transition.to_string(),
        "message \"M1\" of principal 1 is fetched and cannot become moved_to_bin"
    );

    let unknown = StoreError::UnknownMessage {
        principal: PrincipalId(1),
        message_id: "M9".to_owned(),
    };
    assert!(
        unknown.to_string().contains("record it as fetched first"),
        "{unknown}"
    );

    let elsewhere = StoreError::DeliveredElsewhere {
        principal: PrincipalId(1),
        message_id: "M1".to_owned(),
        recorded: vec!["a/x.txt".to_owned()],
        given: vec!["a/x-2.txt".to_owned()],
    };
    let text = elsewhere.to_string();
    assert!(
        text.contains("a/x.txt") && text.contains("a/x-2.txt"),
        "{text}"
    );
    assert!(text.contains("check the share for a second copy"), "{text}");
}

#[test]
fn record_outcomes_records_batch() {
    let (_dir, mut store) = open_temp();
    let (main, _, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");
    let rows_before = store.audit_entries().unwrap().len();
    let files = vec![file(1, "Janssens/letters/a.txt")];
    let retry_at = now + 1.minute();
    let outcomes = [
        MessageOutcome {
            message: fetched(main, "M1"),
            outcome: Outcome::Delivered(files.clone()),
        },
        MessageOutcome {
            message: fetched(main, "M2"),
            outcome: Outcome::Held {
                reason: "share full".to_owned(),
                retry_at: Some(retry_at),
            },
        },
    ];

    store.record_outcomes(&outcomes, now).unwrap();
    store.record_outcomes(&outcomes[..1], now).unwrap();

    let delivered = store.message(main, "M1").unwrap().unwrap();
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(delivered.files, files);
    let held = store.message(main, "M2").unwrap().unwrap();
    assert_eq!(held.state, DeliveryState::Held);
    assert_eq!(held.retry_at, Some(retry_at));
    assert_eq!(held.attempts, 1);
    // fetched + delivered, fetched + held; the repeated delivery adds nothing.
    assert_eq!(store.audit_entries().unwrap().len(), rows_before + 4);
}

#[test]
fn record_outcomes_all_or_nothing() {
    let (_dir, mut store) = open_temp();
    let (main, _, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");
    store.record_fetched(&fetched(main, "M1"), now).unwrap();
    store
        .mark_delivered(main, "M1", &[file(1, "a/x.txt")], now)
        .unwrap();
    let outcomes = [
        MessageOutcome {
            message: fetched(main, "M2"),
            outcome: Outcome::Delivered(vec![file(1, "a/y.txt")]),
        },
        MessageOutcome {
            message: fetched(main, "M1"),
            outcome: Outcome::Delivered(vec![file(1, "a/x-2.txt")]),
        },
    ];

    let err = store.record_outcomes(&outcomes, now).unwrap_err();
    assert!(
        matches!(err, StoreError::DeliveredElsewhere { .. }),
        "{err}"
    );
    assert_eq!(store.message(main, "M2").unwrap(), None);
}

#[test]
fn mark_all_moved_to_bin_all_or_nothing() {
    let (_dir, mut store) = open_temp();
    let (main, _, _) = with_mandate(&mut store);
    let now = at("2024-03-15T10:00:00Z");
    for message_id in ["M1", "M2", "M3"] {
        store
            .record_fetched(&fetched(main, message_id), now)
            .unwrap();
    }
    for message_id in ["M1", "M2"] {
        store
            .mark_delivered(main, message_id, &[file(1, message_id)], now)
            .unwrap();
    }
    assert_eq!(store.delivered_message_ids(main).unwrap(), ["M1", "M2"]);

    let err = store
        .mark_all_moved_to_bin(main, &["M1", "M3"], now)
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    let first = store.message(main, "M1").unwrap().unwrap();
    assert_eq!(first.state, DeliveryState::Delivered);

    store
        .mark_all_moved_to_bin(main, &["M1", "M2"], now)
        .unwrap();
    for message_id in ["M1", "M2"] {
        let record = store.message(main, message_id).unwrap().unwrap();
        assert_eq!(record.state, DeliveryState::MovedToBin, "{message_id}");
    }
    assert!(store.delivered_message_ids(main).unwrap().is_empty());
}
