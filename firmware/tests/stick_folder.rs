//! Certificate search and reading on folders standing in for a mounted USB stick: symbolic
//! links, deep trees, large files, many files, hostile names and a stick that goes away.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use practicebox::stick::{
    CertificateKind, DiscoveryLimits, FolderStick, SkipReason, StickCertificate, StickError,
};
use tempfile::TempDir;

/// Bytes that stand for a keystore; the search and the read do not parse them.
const KEYSTORE: &[u8] = b"0\x82\x0a\x1fnot parsed by the search";

fn stick() -> TempDir {
    tempfile::tempdir().expect("temporary folder")
}

/// Writes `bytes` at `relative` below `root`, creating folders, with a modification time
/// `age_seconds` before a fixed instant.
fn write_file(root: &Path, relative: impl AsRef<Path>, bytes: &[u8], age_seconds: u64) -> PathBuf {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, bytes).unwrap();
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let file = File::options().write(true).open(&path).unwrap();
    file.set_modified(base - Duration::from_secs(age_seconds))
        .unwrap();
    path
}

fn names(certificates: &[StickCertificate]) -> Vec<&str> {
    certificates
        .iter()
        .map(|certificate| certificate.display_name.as_str())
        .collect()
}

fn find<'a>(certificates: &'a [StickCertificate], name: &str) -> &'a StickCertificate {
    certificates
        .iter()
        .find(|certificate| certificate.display_name == name)
        .unwrap_or_else(|| panic!("{name} not among {:?}", names(certificates)))
}

#[test]
fn search_finds_both_extensions_newest_first() {
    let root = stick();
    write_file(root.path(), "old.p12", KEYSTORE, 3000);
    write_file(
        root.path(),
        "ehealth/SSIN=79021802145 20230823-085751.acc-p12",
        KEYSTORE,
        10,
    );
    write_file(root.path(), "backup/DOCTOR.P12", KEYSTORE, 500);
    write_file(root.path(), "notes.txt", b"not a keystore", 0);
    write_file(root.path(), "cert.pem", b"-----BEGIN CERTIFICATE-----", 0);

    let certificates = FolderStick::new(root.path()).certificates().unwrap();

    assert_eq!(
        names(&certificates),
        [
            "ehealth/SSIN=79021802145 20230823-085751.acc-p12",
            "backup/DOCTOR.P12",
            "old.p12"
        ]
    );
    assert_eq!(certificates[0].kind, CertificateKind::AccP12);
    assert_eq!(certificates[1].kind, CertificateKind::P12);
    assert_eq!(certificates[0].size, KEYSTORE.len() as u64);
    assert!(certificates[0].modified > certificates[1].modified);
    assert_eq!(
        certificates[0].relative_path,
        Path::new("ehealth/SSIN=79021802145 20230823-085751.acc-p12")
    );
}

#[test]
fn search_orders_same_time_by_path() {
    let root = stick();
    write_file(root.path(), "b.p12", KEYSTORE, 5);
    write_file(root.path(), "a.p12", KEYSTORE, 5);
    let certificates = FolderStick::new(root.path()).certificates().unwrap();
    assert_eq!(names(&certificates), ["a.p12", "b.p12"]);
}

#[test]
fn read_returns_file_bytes() {
    let root = stick();
    write_file(root.path(), "keys/doctor.p12", KEYSTORE, 0);
    let folder = FolderStick::new(root.path());
    let certificates = folder.certificates().unwrap();
    let bytes = folder.read(&certificates[0]).unwrap();
    assert_eq!(bytes.as_slice(), KEYSTORE);
}

#[test]
fn empty_stick_has_no_certificate() {
    let root = stick();
    write_file(root.path(), "holiday.jpg", b"\xff\xd8\xff", 0);
    let error = FolderStick::new(root.path()).certificates().unwrap_err();
    assert!(matches!(error, StickError::NoCertificate { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("no .p12 or .acc-p12 certificate file"),
        "{message}"
    );
    assert!(
        message.contains("copy the doctor's eHealth certificate"),
        "{message}"
    );
    assert!(!message.contains("skipped"), "{message}");
}

#[test]
fn symlinked_certificate_is_skipped() {
    let root = stick();
    let outside = stick();
    let target = write_file(outside.path(), "secret.p12", KEYSTORE, 0);
    symlink(&target, root.path().join("link.p12")).unwrap();

    let discovery = FolderStick::new(root.path()).discover().unwrap();
    assert!(discovery.certificates.is_empty());
    assert_eq!(discovery.skipped.len(), 1);
    assert_eq!(discovery.skipped[0].display_name, "link.p12");
    assert_eq!(discovery.skipped[0].reason, SkipReason::SymbolicLink);

    let error = FolderStick::new(root.path()).certificates().unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("skipped link.p12 (a symbolic link)"),
        "{message}"
    );
}

#[test]
fn symlinked_folder_is_not_searched() {
    let root = stick();
    let outside = stick();
    write_file(outside.path(), "elsewhere.p12", KEYSTORE, 0);
    symlink(outside.path(), root.path().join("linked")).unwrap();
    // A loop back to the top must not make the search run in circles either.
    symlink(root.path(), root.path().join("loop")).unwrap();
    write_file(root.path(), "own.p12", KEYSTORE, 0);

    let discovery = FolderStick::new(root.path()).discover().unwrap();
    assert_eq!(names(&discovery.certificates), ["own.p12"]);
    assert!(discovery.skipped.is_empty(), "{:?}", discovery.skipped);
}

#[test]
fn read_refuses_symlink_swapped_in() {
    let root = stick();
    let outside = stick();
    write_file(root.path(), "keys/doctor.p12", KEYSTORE, 0);
    write_file(outside.path(), "keys/doctor.p12", b"outside the stick", 0);
    let folder = FolderStick::new(root.path());
    let certificates = folder.certificates().unwrap();

    // The folder on the path becomes a link to elsewhere after the search.
    fs::remove_dir_all(root.path().join("keys")).unwrap();
    symlink(outside.path().join("keys"), root.path().join("keys")).unwrap();

    let error = folder.read(&certificates[0]).unwrap_err();
    assert!(
        matches!(&error, StickError::NotRegularFile { path } if path == "keys/doctor.p12"),
        "{error}"
    );
}

#[test]
fn search_depth_is_bounded() {
    let root = stick();
    write_file(root.path(), "a/b/c/three.p12", KEYSTORE, 0);
    write_file(root.path(), "a/b/c/d/four.p12", KEYSTORE, 0);
    write_file(root.path(), "a/b/c/d/e/f/g/h/deep.p12", KEYSTORE, 0);

    let certificates = FolderStick::new(root.path()).certificates().unwrap();
    assert_eq!(names(&certificates), ["a/b/c/three.p12"]);

    let shallow = DiscoveryLimits {
        max_depth: 0,
        ..DiscoveryLimits::default()
    };
    let error = FolderStick::new(root.path())
        .with_limits(shallow)
        .certificates()
        .unwrap_err();
    assert!(
        matches!(error, StickError::NoCertificate { max_depth: 0, .. }),
        "{error}"
    );
}

#[test]
fn large_file_is_skipped() {
    let root = stick();
    let limit = DiscoveryLimits::default().max_file_size;
    let huge = File::create(root.path().join("huge.p12")).unwrap();
    huge.set_len(limit + 1).unwrap();
    write_file(root.path(), "exact.p12", &vec![7; limit as usize], 0);

    let discovery = FolderStick::new(root.path()).discover().unwrap();
    assert_eq!(names(&discovery.certificates), ["exact.p12"]);
    assert_eq!(discovery.skipped.len(), 1);
    assert_eq!(
        discovery.skipped[0].reason,
        SkipReason::TooLarge {
            size: limit + 1,
            limit
        }
    );
}

#[test]
fn read_refuses_file_grown_after_search() {
    let root = stick();
    let path = write_file(root.path(), "doctor.p12", KEYSTORE, 0);
    let folder = FolderStick::new(root.path());
    let certificates = folder.certificates().unwrap();

    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(5 * 1024 * 1024)
        .unwrap();

    let error = folder.read(&certificates[0]).unwrap_err();
    assert!(
        matches!(
            error,
            StickError::FileTooLarge {
                size: 5_242_880,
                limit: 1_048_576,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("doctor.p12"), "{error}");
}

#[test]
fn empty_file_is_skipped() {
    let root = stick();
    write_file(root.path(), "empty.p12", b"", 0);
    let discovery = FolderStick::new(root.path()).discover().unwrap();
    assert!(discovery.certificates.is_empty());
    assert_eq!(discovery.skipped[0].reason, SkipReason::Empty);
}

#[test]
fn fifo_named_like_certificate_is_skipped() {
    let root = stick();
    let path = root.path().join("pipe.p12");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let discovery = FolderStick::new(root.path()).discover().unwrap();
    assert!(discovery.certificates.is_empty());
    assert_eq!(discovery.skipped[0].reason, SkipReason::NotRegularFile);
}

#[test]
fn many_certificates_are_refused() {
    let root = stick();
    for index in 0..40 {
        write_file(root.path(), format!("doctor-{index:02}.p12"), KEYSTORE, 0);
    }
    let error = FolderStick::new(root.path()).certificates().unwrap_err();
    assert!(
        matches!(error, StickError::TooManyCertificates { limit: 16 }),
        "{error}"
    );
    assert!(
        error.to_string().contains("more than 16 certificate files"),
        "{error}"
    );
}

#[test]
fn limit_of_certificates_is_allowed() {
    let root = stick();
    for index in 0..16 {
        write_file(root.path(), format!("doctor-{index:02}.p12"), KEYSTORE, 0);
    }
    let certificates = FolderStick::new(root.path()).certificates().unwrap();
    assert_eq!(certificates.len(), 16);
}

#[test]
fn many_files_are_refused() {
    let root = stick();
    write_file(root.path(), "doctor.p12", KEYSTORE, 0);
    for index in 0..120 {
        write_file(root.path(), format!("photos/{index:03}.jpg"), b"jpeg", 0);
    }
    let limits = DiscoveryLimits {
        max_entries: 100,
        ..DiscoveryLimits::default()
    };
    let error = FolderStick::new(root.path())
        .with_limits(limits)
        .certificates()
        .unwrap_err();
    assert!(
        matches!(
            error,
            StickError::TooManyEntries {
                limit: 100,
                max_depth: 3
            }
        ),
        "{error}"
    );
}

#[test]
fn hidden_entries_are_ignored() {
    let root = stick();
    write_file(
        root.path(),
        "._doctor.p12",
        b"\x00\x05\x16\x07AppleDouble",
        0,
    );
    write_file(root.path(), ".Trashes/501/old.p12", KEYSTORE, 0);
    write_file(root.path(), "$RECYCLE.BIN/S-1-5-21/old.p12", KEYSTORE, 0);
    write_file(root.path(), "System Volume Information/x.p12", KEYSTORE, 0);
    write_file(root.path(), "doctor.p12", KEYSTORE, 0);
    let discovery = FolderStick::new(root.path()).discover().unwrap();
    assert_eq!(names(&discovery.certificates), ["doctor.p12"]);
    assert!(discovery.skipped.is_empty(), "{:?}", discovery.skipped);
}

#[test]
fn non_utf8_name_is_shown_safely_and_read() {
    let root = stick();
    let raw_name = OsStr::from_bytes(b"Dr \xc9lise\x1b[2J.p12");
    fs::write(root.path().join(raw_name), KEYSTORE).unwrap();
    let folder = FolderStick::new(root.path());

    let certificates = folder.certificates().unwrap();
    assert_eq!(certificates[0].display_name, "Dr \u{fffd}lise?[2J.p12");
    assert_eq!(certificates[0].relative_path.as_os_str(), raw_name);
    assert_eq!(folder.read(&certificates[0]).unwrap().as_slice(), KEYSTORE);
}

#[test]
fn control_and_bidi_names_are_neutralised() {
    let root = stick();
    write_file(root.path(), "line\nbreak.p12", KEYSTORE, 0);
    write_file(root.path(), "invoice\u{202e}21p.exe.p12", KEYSTORE, 0);
    write_file(root.path(), "Médecin/clé.acc-p12", KEYSTORE, 0);
    let certificates = FolderStick::new(root.path()).certificates().unwrap();
    find(&certificates, "line?break.p12");
    find(&certificates, "invoice?21p.exe.p12");
    find(&certificates, "Médecin/clé.acc-p12");
}

#[test]
fn missing_folder_reports_removal() {
    let root = stick();
    let gone = root.path().join("unplugged");
    let error = FolderStick::new(&gone).certificates().unwrap_err();
    assert!(matches!(error, StickError::Removed), "{error}");
    assert_eq!(
        error.to_string(),
        "the USB stick was removed; insert it again"
    );
}

#[test]
fn read_after_removal_reports_removal() {
    let root = stick();
    let folder_path = root.path().join("stick");
    write_file(&folder_path, "doctor.p12", KEYSTORE, 0);
    let folder = FolderStick::new(&folder_path);
    let certificates = folder.certificates().unwrap();

    fs::remove_dir_all(&folder_path).unwrap();

    let error = folder.read(&certificates[0]).unwrap_err();
    assert!(matches!(error, StickError::Removed), "{error}");
}

#[test]
fn read_of_deleted_file_names_it() {
    let root = stick();
    let path = write_file(root.path(), "doctor.p12", KEYSTORE, 0);
    let folder = FolderStick::new(root.path());
    let certificates = folder.certificates().unwrap();
    fs::remove_file(path).unwrap();

    let error = folder.read(&certificates[0]).unwrap_err();
    assert!(
        matches!(&error, StickError::ReadFailed { path, .. } if path == "doctor.p12"),
        "{error}"
    );
}

#[test]
fn folder_stick_on_a_file_fails() {
    let root = stick();
    let path = write_file(root.path(), "doctor.p12", KEYSTORE, 0);
    let error = FolderStick::new(path).certificates().unwrap_err();
    assert!(matches!(error, StickError::ReadFailed { .. }), "{error}");
}
