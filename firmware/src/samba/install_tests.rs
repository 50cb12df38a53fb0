#![allow(clippy::unwrap_used)]

use std::fs;

use super::*;
use crate::samba::names::AccountName;

const ROOT: &str = "/srv/practicebox";

fn settings(dir: &Path) -> ShareSettings {
    ShareSettings {
        fragment: dir.join("shares.conf"),
        practice_user: AccountName::new("pbx-emd").unwrap(),
        force_user: Some(AccountName::new("practicebox").unwrap()),
        force_group: Some(AccountName::new("practicebox").unwrap()),
        all_doctors_share: Some(ShareName::new("practicebox").unwrap()),
        access: ShareAccess::ReadWrite,
        reload_command: Vec::new(),
    }
}

/// Renders the service's fragment for two doctors, one of them read-only.
fn service_fragment(settings: &ShareSettings) -> String {
    let mut readonly =
        DoctorShare::for_folder(format!("{ROOT}/De Smet_Élodie_1-98765-43-001")).unwrap();
    readonly.access = ShareAccess::ReadOnly;
    let shares = vec![
        DoctorShare::for_folder(format!("{ROOT}/Janssens_Pieter_1-23456-78-004")).unwrap(),
        readonly,
    ];
    settings
        .samba_config(Path::new(ROOT), shares)
        .render_fragment()
        .unwrap()
}

fn install(dir: &Path, fragment: &str) -> Result<(Vec<ShareName>, bool), InstallError> {
    let settings = settings(dir);
    fs::write(&settings.fragment, fragment).unwrap();
    install_fragment(&settings, Path::new(ROOT), &dir.join("installed.conf"))
}

fn line_error(fragment: &str) -> (usize, String) {
    match read_fragment(fragment) {
        Err(InstallError::Line { line, reason }) => (line, reason),
        other => panic!("expected a line error, got {other:?}"),
    }
}

#[test]
fn installed_copy_equals_service_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = service_fragment(&settings(dir.path()));

    let (names, changed) = install(dir.path(), &fragment).unwrap();

    assert!(changed);
    let names: Vec<&str> = names.iter().map(ShareName::as_str).collect();
    assert_eq!(
        names,
        [
            "Janssens_Pieter_1-23456-78-004",
            "De Smet_Élodie_1-98765-43-001",
            "practicebox"
        ]
    );
    let installed = fs::read_to_string(dir.path().join("installed.conf")).unwrap();
    assert_eq!(installed, fragment);
}

#[test]
fn second_install_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = service_fragment(&settings(dir.path()));
    install(dir.path(), &fragment).unwrap();

    let (_, changed) = install(dir.path(), &fragment).unwrap();

    assert!(!changed);
}

#[test]
fn read_keeps_names_paths_and_access() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = service_fragment(&settings(dir.path()));

    let shares = read_fragment(&fragment).unwrap();

    assert_eq!(shares.len(), 3);
    assert_eq!(shares[1].name.as_str(), "De Smet_Élodie_1-98765-43-001");
    assert_eq!(
        shares[1].path,
        PathBuf::from(format!("{ROOT}/De Smet_Élodie_1-98765-43-001"))
    );
    assert_eq!(shares[1].access, ShareAccess::ReadOnly);
    assert_eq!(shares[0].access, ShareAccess::ReadWrite);
    assert_eq!(shares[2].path, PathBuf::from(ROOT));
}

#[test]
fn values_rendered_from_installing_settings() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = service_fragment(&settings(dir.path()))
        .replace("valid users = pbx-emd", "valid users = root")
        .replace("guest ok = no", "guest ok = yes")
        .replace("hide dot files = yes", "hide dot files = no");

    install(dir.path(), &fragment).unwrap();

    let installed = fs::read_to_string(dir.path().join("installed.conf")).unwrap();
    assert_eq!(installed, service_fragment(&settings(dir.path())));
    assert!(!installed.contains("root"));
}

#[test]
fn dangerous_parameters_rejected() {
    for parameter in [
        "root preexec = /bin/sh -c id",
        "preexec = /bin/sh",
        "include = /etc/shadow",
        "config file = /tmp/other.conf",
        "guest only = yes",
        "Path = /etc",
        "readonly = no",
    ] {
        let fragment = format!("[dr]\n\tpath = {ROOT}/dr\n\tread only = no\n\t{parameter}\n");
        let (line, reason) = line_error(&fragment);
        assert_eq!(line, 4, "{parameter}");
        assert!(
            reason.starts_with("unknown parameter"),
            "{parameter}: {reason}"
        );
    }
}

#[test]
fn global_section_rejected() {
    let (line, reason) = line_error("[global]\n\tserver min protocol = NT1\n");
    assert_eq!(line, 1);
    assert!(reason.contains("reserved"), "{reason}");
}

#[test]
fn malformed_lines_rejected() {
    let cases = [
        (
            "\tpath = /srv/practicebox/x\n",
            1,
            "before the first share section",
        ),
        ("[dr\n", 1, "without ']'"),
        ("[dr]\n\tjust words\n", 2, "neither a section"),
        (
            "[dr]\n\tpath = /srv/practicebox/dr \\\n",
            2,
            "continued line",
        ),
        ("[dr]\n\tpath = /a\n\tpath = /b\n", 3, "set twice"),
        (
            "[dr]\n\tpath = /srv/practicebox/dr\n\tread only = maybe\n",
            3,
            "expected yes or no",
        ),
        ("[dr]\n\tread only = no\n", 1, "no \"path\""),
        (
            "[dr]\n\tpath = /srv/practicebox/dr\n",
            1,
            "no \"read only\"",
        ),
        ("[dr$]\n", 1, "hides the share"),
    ];
    for (fragment, expected_line, expected) in cases {
        let (line, reason) = line_error(fragment);
        assert_eq!(line, expected_line, "{fragment:?}: {reason}");
        assert!(reason.contains(expected), "{fragment:?}: {reason}");
    }
}

#[test]
fn comments_and_blank_lines_accepted() {
    let fragment =
        format!("# one\n; two\n\n[dr]\n\t# three\n\tpath = {ROOT}/dr\n\tread only = no\n");
    let shares = read_fragment(&fragment).unwrap();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0].line, 4);
}

#[test]
fn path_outside_share_root_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for path in [
        "/etc",
        "/srv/practicebox/../../etc",
        "/srv/other/dr",
        "relative/dr",
    ] {
        let fragment = format!("[dr]\n\tpath = {path}\n\tread only = no\n");
        let error = install(dir.path(), &fragment).unwrap_err();
        assert!(
            matches!(error, InstallError::Config(_)),
            "{path}: {error:?}"
        );
    }
}

#[test]
fn substitution_in_path_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = format!("[dr]\n\tpath = {ROOT}/%U\n\tread only = no\n");
    let error = install(dir.path(), &fragment).unwrap_err();
    assert!(
        matches!(
            error,
            InstallError::Config(ConfigError::UnsafePathCharacter { character: '%', .. })
        ),
        "{error:?}"
    );
}

#[test]
fn root_share_needs_configured_name() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = format!("[everything]\n\tpath = {ROOT}\n\tread only = no\n");
    let error = install(dir.path(), &fragment).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("line 1: share everything points to the share root"),
        "{text}"
    );
}

#[test]
fn duplicate_names_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = format!(
        "[dr]\n\tpath = {ROOT}/a\n\tread only = no\n[DR]\n\tpath = {ROOT}/b\n\tread only = no\n"
    );
    let error = install(dir.path(), &fragment).unwrap_err();
    assert!(
        matches!(
            error,
            InstallError::Config(ConfigError::DuplicateShareName { .. })
        ),
        "{error:?}"
    );
}

#[test]
fn rejected_fragment_leaves_installed_copy() {
    let dir = tempfile::tempdir().unwrap();
    let good = service_fragment(&settings(dir.path()));
    install(dir.path(), &good).unwrap();

    let bad = format!("{good}\troot preexec = /bin/sh\n");
    install(dir.path(), &bad).unwrap_err();

    let installed = fs::read_to_string(dir.path().join("installed.conf")).unwrap();
    assert_eq!(installed, good);
}

#[test]
fn symlinked_fragment_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    let secret = dir.path().join("secret.conf");
    fs::write(&secret, service_fragment(&settings)).unwrap();
    std::os::unix::fs::symlink(&secret, &settings.fragment).unwrap();

    let error =
        install_fragment(&settings, Path::new(ROOT), &dir.path().join("out.conf")).unwrap_err();

    assert!(
        matches!(error, InstallError::NotRegular { .. }),
        "{error:?}"
    );
    assert!(!dir.path().join("out.conf").exists());
}

#[test]
fn oversized_fragment_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let large = "#".repeat(usize::try_from(MAX_FRAGMENT_BYTES).unwrap() + 1);
    let error = install(dir.path(), &large).unwrap_err();
    assert!(
        matches!(error, InstallError::NotRegular { .. }),
        "{error:?}"
    );
}

#[test]
fn missing_fragment_reported() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    let error =
        install_fragment(&settings, Path::new(ROOT), &dir.path().join("out.conf")).unwrap_err();
    assert!(matches!(error, InstallError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("shares.conf"));
}
