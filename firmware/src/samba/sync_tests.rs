#![allow(clippy::unwrap_used)]

use std::os::unix::fs::MetadataExt as _;
use std::time::Instant;

use jiff::Timestamp;

use super::*;
use crate::delivery::names::doctor_folder_name;
use crate::store::Role;

fn principal(id: i64, family: &str, given_names: &str, riziv: &str) -> Principal {
    Principal {
        id: PrincipalId(id),
        insz: "62090524597".to_owned(),
        family_name: family.to_owned(),
        given_names: given_names.to_owned(),
        riziv: riziv.to_owned(),
        role: if id == 1 { Role::Main } else { Role::Mandator },
        share_folder: doctor_folder_name(family, given_names, riziv),
        move_to_bin: true,
        active: true,
        created_at: Timestamp::UNIX_EPOCH,
    }
}

fn with_folder(id: i64, folder: &str) -> Principal {
    Principal {
        share_folder: folder.to_owned(),
        ..principal(id, "X", "Y", "12345678004")
    }
}

fn doctors() -> Vec<Principal> {
    vec![
        principal(1, "Janssens", "Pieter", "12345678004"),
        principal(2, "De Smet", "Élodie", "19876543001"),
    ]
}

fn settings(dir: &Path, reload_command: &[&str]) -> ShareSettings {
    ShareSettings {
        fragment: dir.join("data/samba/shares.conf"),
        practice_user: AccountName::new("pbx-emd").unwrap(),
        force_user: Some(AccountName::new("practicebox").unwrap()),
        force_group: None,
        all_doctors_share: Some(ShareName::new("practicebox").unwrap()),
        access: ShareAccess::ReadWrite,
        reload_command: reload_command.iter().map(|s| s.to_string()).collect(),
    }
}

/// Builds a sync in a fresh folder whose reload command appends a line to `reloads.log`.
fn counting_sync(dir: &Path) -> FragmentSync {
    let log = dir.join("reloads.log");
    let script = format!("echo reload >> '{}'", log.display());
    let settings = settings(dir, &["sh", "-c", &script]);
    fs::create_dir_all(dir.join("share")).unwrap();
    FragmentSync::new(settings, dir.join("share"))
}

fn reload_count(dir: &Path) -> usize {
    fs::read_to_string(dir.join("reloads.log"))
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

fn staging_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(STAGING_PREFIX))
        .collect()
}

#[test]
fn fragment_has_one_share_per_doctor() {
    let dir = tempfile::tempdir().unwrap();
    let sync = counting_sync(dir.path());

    let report = sync.sync(&doctors()).unwrap();

    let names: Vec<&str> = report.shares.iter().map(ShareName::as_str).collect();
    assert_eq!(
        names,
        [
            "Janssens_Pieter_1-23456-78-004",
            "De-Smet_Élodie_1-98765-43-001",
            "practicebox"
        ]
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let text = fs::read_to_string(&sync.settings().fragment).unwrap();
    let root = dir.path().join("share");
    assert!(text.contains(&format!(
        "[De-Smet_Élodie_1-98765-43-001]\n\tpath = {}/De-Smet_Élodie_1-98765-43-001\n",
        root.display()
    )));
    assert!(text.contains(&format!("[practicebox]\n\tpath = {}\n", root.display())));
    assert!(!text.contains("[global]"));
}

#[test]
fn fragment_matches_render_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let sync = counting_sync(dir.path());
    sync.sync(&doctors()).unwrap();

    let (config, problems) = plan_shares(sync.settings(), &dir.path().join("share"), &doctors());
    assert!(problems.is_empty());
    let expected = config.render_fragment().unwrap();
    assert_eq!(
        fs::read_to_string(&sync.settings().fragment).unwrap(),
        expected
    );
}

#[test]
fn sync_creates_doctor_folders() {
    let dir = tempfile::tempdir().unwrap();
    let sync = counting_sync(dir.path());

    sync.sync(&doctors()).unwrap();

    for doctor in doctors() {
        let folder = dir.path().join("share").join(&doctor.share_folder);
        assert!(folder.is_dir(), "{} missing", folder.display());
    }
}

#[test]
fn unchanged_fragment_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let sync = counting_sync(dir.path());
    let first = sync.sync(&doctors()).unwrap();
    let inode = fs::metadata(&sync.settings().fragment).unwrap().ino();

    let second = sync.sync(&doctors()).unwrap();

    assert!(first.written);
    assert!(first.reloaded);
    assert!(!second.written);
    assert!(!second.reloaded);
    assert_eq!(
        fs::metadata(&sync.settings().fragment).unwrap().ino(),
        inode
    );
    assert_eq!(reload_count(dir.path()), 1);
}

#[test]
fn changed_fragment_replaced_by_rename() {
    let dir = tempfile::tempdir().unwrap();
    let sync = counting_sync(dir.path());
    let mut principals = doctors();
    sync.sync(&principals).unwrap();
    let fragment = sync.settings().fragment.clone();
    let inode = fs::metadata(&fragment).unwrap().ino();

    principals.push(principal(3, "Peeters", "Jan", "11122233004"));
    let report = sync.sync(&principals).unwrap();

    assert!(report.written);
    assert!(report.reloaded);
    assert_eq!(reload_count(dir.path()), 2);
    // A new inode shows that a new file was renamed into place, not the old one rewritten.
    assert_ne!(fs::metadata(&fragment).unwrap().ino(), inode);
    assert!(staging_files(fragment.parent().unwrap()).is_empty());
    let text = fs::read_to_string(&fragment).unwrap();
    assert!(text.contains("[Peeters_Jan_1-11222-33-004]"));
}

#[test]
fn write_skips_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/shares.conf");

    assert!(write_if_changed(&path, b"one\n").unwrap());
    assert!(!write_if_changed(&path, b"one\n").unwrap());
    assert!(write_if_changed(&path, b"two\n").unwrap());

    assert_eq!(fs::read(&path).unwrap(), b"two\n");
    assert!(staging_files(path.parent().unwrap()).is_empty());
}

#[test]
fn write_if_changed_failure_keeps_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shares.conf");
    fs::write(&path, "old\n").unwrap();
    // A folder at the staging file's place cannot be opened for writing. Folders take the next
    // staging names of this process, so the write fails before the rename.
    let next = STAGING_COUNTER.load(Ordering::Relaxed);
    for count in next..next + 64 {
        let name = format!("{STAGING_PREFIX}{}-{count}", std::process::id());
        fs::create_dir(dir.path().join(name)).unwrap();
    }

    let result = write_if_changed(&path, b"new\n");

    // Other tests of this binary may take counter values meanwhile, hence 64 blocked names.
    assert!(
        result.is_err(),
        "the write succeeded despite the blocked name"
    );
    assert_eq!(fs::read(&path).unwrap(), b"old\n");
}

#[test]
fn hostile_folders_left_out_others_kept() {
    let dir = tempfile::tempdir().unwrap();
    let sync = counting_sync(dir.path());
    let mut principals = doctors();
    principals.extend([
        with_folder(10, "../../etc"),
        with_folder(11, "evil\n[global]\n\troot preexec = /bin/sh"),
        with_folder(12, "100%_%U"),
        with_folder(13, "homes"),
        with_folder(14, ".hidden"),
        with_folder(15, "JANSSENS_PIETER_1-23456-78-004"),
        with_folder(16, ""),
    ]);

    let report = sync.sync(&principals).unwrap();

    let skipped: Vec<i64> = report.problems.iter().map(|p| p.principal.0).collect();
    assert_eq!(skipped, [10, 11, 12, 13, 14, 15, 16]);
    assert_eq!(report.shares.len(), 3, "{:?}", report.shares);
    let text = fs::read_to_string(&sync.settings().fragment).unwrap();
    assert!(!text.contains("preexec"));
    assert!(!text.contains("../"));
    assert!(!text.contains('%'));
    assert!(!text.contains("[homes]"));
    assert!(!dir.path().join("etc").exists());
    let case_clash = &report.problems[5].reason;
    assert!(case_clash.contains("case-insensitively"), "{case_clash}");
}

#[test]
fn problem_names_folder_and_principal() {
    let problem = ShareProblem {
        principal: PrincipalId(7),
        folder: "a%b".to_owned(),
        reason: "invalid".to_owned(),
    };
    assert_eq!(
        problem.to_string(),
        "folder \"a%b\" of principal 7: invalid"
    );
}

#[test]
fn folder_creation_failure_reported_share_kept() {
    let dir = tempfile::tempdir().unwrap();
    let sync = counting_sync(dir.path());
    let principals = doctors();
    // A file where the first doctor's folder belongs.
    fs::write(
        dir.path().join("share").join(&principals[0].share_folder),
        "",
    )
    .unwrap();

    let report = sync.sync(&principals).unwrap();

    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].principal, PrincipalId(1));
    assert!(report.problems[0].reason.contains("cannot create"));
    assert_eq!(report.shares.len(), 3);
}

#[test]
fn failed_reload_retried_on_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("reloads.log");
    let gate = dir.path().join("smbd-up");
    let script = format!(
        "test -e '{}' && echo reload >> '{}'",
        gate.display(),
        log.display()
    );
    fs::create_dir_all(dir.path().join("share")).unwrap();
    let sync = FragmentSync::new(
        settings(dir.path(), &["sh", "-c", &script]),
        dir.path().join("share"),
    );

    let first = sync.sync(&doctors());
    assert!(
        matches!(first, Err(SyncError::Reload(ReloadError::Failed { .. }))),
        "{first:?}"
    );
    assert!(sync.settings().fragment.is_file());

    fs::write(&gate, "").unwrap();
    let second = sync.sync(&doctors()).unwrap();
    assert!(!second.written);
    assert!(second.reloaded);

    let third = sync.sync(&doctors()).unwrap();
    assert!(!third.reloaded);
    assert_eq!(reload_count(dir.path()), 1);
}

#[test]
fn empty_reload_command_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("share")).unwrap();
    let sync = FragmentSync::new(settings(dir.path(), &[]), dir.path().join("share"));

    let report = sync.sync(&doctors()).unwrap();

    assert!(report.written);
    assert!(!report.reloaded);
}

#[test]
fn reload_failure_shows_status_and_output() {
    let command: Vec<String> = ["sh", "-c", "echo 'cannot find smbd' >&2; exit 3"]
        .map(str::to_owned)
        .to_vec();

    let error = run_reload(&command, RELOAD_TIMEOUT).unwrap_err();

    let text = error.to_string();
    assert!(text.contains("exit status: 3"), "{text}");
    assert!(text.contains("cannot find smbd"), "{text}");
}

#[test]
fn reload_missing_program_reported() {
    let command = vec!["/nonexistent/smbcontrol".to_owned()];

    let error = run_reload(&command, RELOAD_TIMEOUT).unwrap_err();

    assert!(matches!(error, ReloadError::Spawn { .. }), "{error:?}");
    assert!(error.to_string().contains("/nonexistent/smbcontrol"));
}

#[test]
fn reload_killed_after_timeout() {
    let command = vec!["sleep".to_owned(), "30".to_owned()];
    let started = Instant::now();

    let error = run_reload(&command, Duration::from_millis(300)).unwrap_err();

    assert!(matches!(error, ReloadError::TimedOut { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn reload_with_large_output_finishes() {
    // 1 MiB on standard error, far more than a pipe buffers.
    let script = "head -c 1048576 /dev/zero | tr '\\0' x >&2; exit 2";
    let command: Vec<String> = ["sh", "-c", script].map(str::to_owned).to_vec();

    let error = run_reload(&command, Duration::from_secs(20)).unwrap_err();

    let ReloadError::Failed { status, output, .. } = error else {
        panic!("expected a failed reload, got {error:?}");
    };
    assert!(status.contains("exit status: 2"), "{status}");
    assert_eq!(output.chars().count(), MAX_OUTPUT_CHARS + 4);
    assert!(output.ends_with("x ..."), "{output}");
}
