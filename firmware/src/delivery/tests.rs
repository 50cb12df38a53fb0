use std::fs;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use nix::mount::{MsFlags, mount, umount};

use super::atomic::{self, Placement, STAGING_PREFIX};
use super::detect::{Format, detect};
use super::names::{MAX_NAME_BYTES, is_safe_name};
use super::*;
use crate::store::{DeliveryState, FetchedMessage, MessageFlags, NewPrincipal, Role, Store};

const DOCTOR: &str = "Maes_Katrien_1-45678-90-004";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(name);
    fs::read(&path).unwrap_or_else(|err| panic!("cannot read fixture {}: {err}", path.display()))
}

#[test]
fn detect_fixtures() {
    let cases: &[(&str, Format, Option<&str>)] = &[
        ("medidoc-lab-two-patients.lab", Format::MedidocLab, None),
        (
            "medidoc-lab-one-patient-cp850.txt",
            Format::MedidocLab,
            Some("12060406739"),
        ),
        (
            "medidoc-report-bom.txt",
            Format::MedidocReport,
            Some("62090524597"),
        ),
        (
            "healthone-lab.hl1",
            Format::HealthOneLab,
            Some("78041212319"),
        ),
        (
            "healthone-radiology-crlf.hl1",
            Format::HealthOneReport,
            Some("62090524597"),
        ),
        (
            "kmehr-contactreport.xml",
            Format::Kmehr,
            Some("62090524597"),
        ),
        ("kmehr-two-patients.xml", Format::Kmehr, None),
        ("kmehr-prefixed-root.xml", Format::Kmehr, None),
        ("letter.pdf", Format::Pdf, None),
        ("notes.txt", Format::Other, None),
        ("medidoc-unterminated.txt", Format::Other, None),
        ("healthone-lookalike.txt", Format::Other, None),
        ("other-xml.xml", Format::Other, None),
    ];
    for (name, format, insz) in cases {
        let detection = detect(&fixture(name));
        assert_eq!(detection.format, *format, "format of {name}");
        assert_eq!(
            detection.patient_insz.as_deref(),
            *insz,
            "patient of {name}"
        );
    }
}

#[test]
fn detect_medidoc_line_ends() {
    let crlf = fixture("medidoc-lab-one-patient-cp850.txt");
    let lf: Vec<u8> = crlf.iter().copied().filter(|&b| b != b'\r').collect();
    assert_eq!(detect(&lf).format, Format::MedidocLab);

    let report = fixture("medidoc-report-bom.txt");
    assert_eq!(
        detect(&report[3..]).format,
        Format::MedidocReport,
        "without the BOM"
    );
}

#[test]
fn detect_pdf_after_junk() {
    let mut bytes = b"\r\n\x00junk".to_vec();
    bytes.extend(fixture("letter.pdf"));
    assert_eq!(detect(&bytes).format, Format::Pdf);
    assert_eq!(detect(b"").format, Format::Other);
}

fn share(root: &Path) -> Share {
    Share::new(root.to_owned(), RoutingProfile::builtin(), TimeZone::UTC)
}

fn outgoing<'a>(message_id: &'a str, parts: Vec<Part<'a>>) -> Outgoing<'a> {
    Outgoing {
        message_id,
        kind: MessageKind::Document,
        sender_id: Some("71088888"),
        sender_name: Some("Ziekenhuis Zonnedal"),
        title: Some("Verslag neurologie"),
        patient_insz: None,
        published_at: Some("2024-05-07T08:00:00Z".parse::<Timestamp>().unwrap()),
        parts,
    }
}

fn part<'a>(original_name: &'a str, mime_type: &'a str, bytes: &'a [u8]) -> Part<'a> {
    Part {
        original_name: Some(original_name),
        mime_type: Some(mime_type),
        bytes,
    }
}

/// Lists the files below `dir` that a share client lists: dot files are hidden.
fn visible_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                let relative = entry.path().strip_prefix(dir).unwrap().to_owned();
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// Lists every entry name below `dir`, dot files included.
fn all_names(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            found.push(entry.file_name().to_string_lossy().into_owned());
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
        }
    }
    found
}

#[test]
fn deliver_routes_and_keeps_bytes() {
    let root = tempfile::tempdir().unwrap();
    let report = fixture("medidoc-report-bom.txt");
    let pdf = fixture("letter.pdf");
    let message = outgoing(
        "7000123",
        vec![
            part("verslag.mdi", "text/plain", &report),
            part("verslag.pdf", "application/pdf", &pdf),
        ],
    );

    let delivered = share(root.path()).deliver(DOCTOR, &message).unwrap();

    let first = &delivered[0].record;
    assert_eq!(
        first.path,
        format!("{DOCTOR}/letters/2024-05-07_Ziekenhuis-Zonnedal_62090524597_7000123_1.txt")
    );
    assert_eq!(delivered[0].format, Format::MedidocReport);
    assert_eq!(
        delivered[1].record.path,
        format!("{DOCTOR}/pdf/2024-05-07_Ziekenhuis-Zonnedal_7000123_2.pdf")
    );
    assert_eq!(fs::read(root.path().join(&first.path)).unwrap(), report);
    assert_eq!(
        fs::read(root.path().join(&delivered[1].record.path)).unwrap(),
        pdf
    );
    assert_eq!(first.size_bytes, report.len() as u64);
    assert!(!delivered[0].already_present);
}

#[test]
fn deliver_writes_sidecar() {
    let root = tempfile::tempdir().unwrap();
    let lab = fixture("healthone-lab.hl1");
    let message = outgoing(
        "7000124",
        vec![part("..\\..\\Résultat.HL7", "text/plain", &lab)],
    );

    let delivered = share(root.path()).deliver(DOCTOR, &message).unwrap();
    let sidecar_path = root
        .path()
        .join(format!("{}.json", delivered[0].record.path));
    let sidecar: serde_json::Value =
        serde_json::from_slice(&fs::read(&sidecar_path).unwrap()).unwrap();

    assert_eq!(sidecar["original_file_name"], "..\\..\\Résultat.HL7");
    assert_eq!(sidecar["mime_type"], "text/plain");
    assert_eq!(sidecar["message_id"], "7000124");
    assert_eq!(sidecar["title"], "Verslag neurologie");
    assert_eq!(sidecar["sender_name"], "Ziekenhuis Zonnedal");
    assert_eq!(sidecar["detected_format"], "healthone-lab");
    assert_eq!(sidecar["sha256"], delivered[0].record.sha256.as_str());
    assert_eq!(sidecar["part_index"], 1);
}

#[test]
fn deliver_hostile_original_names() {
    let root = tempfile::tempdir().unwrap();
    let bytes = b"not a known format";
    let hostile = [
        "..\\..\\evil.txt",
        "../../evil.sh",
        "CON.txt",
        "a/b",
        "",
        "noextension",
        "trailing.",
        "invoice\u{202E}fdp.exe",
        "😀.png",
    ];
    let parts: Vec<Part<'_>> = hostile
        .iter()
        .map(|name| part(name, "application/octet-stream", bytes))
        .collect();
    let message = outgoing("7000125", parts);

    let delivered = share(root.path()).deliver(DOCTOR, &message).unwrap();

    for file in &delivered {
        let name = file.record.path.rsplit('/').next().unwrap();
        assert!(
            file.record.path.starts_with(&format!("{DOCTOR}/other/")),
            "{}",
            file.record.path
        );
        assert!(is_safe_name(name, MAX_NAME_BYTES), "{name:?}");
    }
    let extensions: Vec<&str> = delivered
        .iter()
        .map(|file| file.record.path.rsplit('.').next().unwrap())
        .collect();
    assert_eq!(
        extensions,
        [
            "txt", "bin", "txt", "bin", "bin", "bin", "bin", "bin", "png"
        ]
    );
    assert_eq!(
        visible_files(root.path()).len(),
        2 * hostile.len(),
        "documents and sidecars only"
    );
    assert_eq!(
        fs::read_dir(root.path()).unwrap().count(),
        1,
        "nothing outside the doctor folder"
    );
}

#[test]
fn redelivery_yields_one_file() {
    let root = tempfile::tempdir().unwrap();
    let lab = fixture("medidoc-lab-two-patients.lab");
    let message = outgoing("7000126", vec![part("lab.txt", "text/plain", &lab)]);
    let share = share(root.path());

    let first = share.deliver(DOCTOR, &message).unwrap();
    // A crash here, before the store recorded the delivery, makes the fetcher
    // deliver the same message again after the restart.
    let second = share.deliver(DOCTOR, &message).unwrap();

    assert_eq!(second[0].record, first[0].record);
    assert!(second[0].already_present);
    assert_eq!(
        visible_files(root.path()),
        [
            first[0].record.path.clone(),
            format!("{}.json", first[0].record.path)
        ]
    );
    assert!(
        !all_names(root.path())
            .iter()
            .any(|name| name.starts_with(STAGING_PREFIX))
    );
}

#[test]
fn name_collision_picks_next_number() {
    let root = tempfile::tempdir().unwrap();
    let share = share(root.path());
    let first = b"first document".to_vec();
    let second = b"a different document with the same name".to_vec();

    let one = share
        .deliver(
            DOCTOR,
            &outgoing("7000127", vec![part("a.txt", "text/plain", &first)]),
        )
        .unwrap();
    let two = share
        .deliver(
            DOCTOR,
            &outgoing("7000127", vec![part("a.txt", "text/plain", &second)]),
        )
        .unwrap();
    let again = share
        .deliver(
            DOCTOR,
            &outgoing("7000127", vec![part("a.txt", "text/plain", &second)]),
        )
        .unwrap();

    assert!(
        one[0].record.path.ends_with("_7000127_1.txt"),
        "{}",
        one[0].record.path
    );
    assert!(
        two[0].record.path.ends_with("_7000127_1-2.txt"),
        "{}",
        two[0].record.path
    );
    assert_eq!(again[0].record.path, two[0].record.path);
    assert!(again[0].already_present);
    assert_eq!(
        fs::read(root.path().join(&one[0].record.path)).unwrap(),
        first
    );
    assert_eq!(
        fs::read(root.path().join(&two[0].record.path)).unwrap(),
        second
    );
}

#[test]
fn crash_before_rename_leaves_nothing_visible() {
    let root = tempfile::tempdir().unwrap();
    let dir = atomic::ensure_dirs(root.path(), &[DOCTOR, "lab"]).unwrap();

    let staged = atomic::stage_in(&dir, &fixture("healthone-lab.hl1")).unwrap();
    let staging_path = staged.path();
    // The process dies after the fsync, before the rename: no destructor runs.
    std::mem::forget(staged);

    assert!(staging_path.exists());
    assert!(
        visible_files(root.path()).is_empty(),
        "{:?}",
        visible_files(root.path())
    );
    assert_eq!(share(root.path()).cleanup_staging().unwrap(), 1);
    assert!(!staging_path.exists());
    assert!(
        all_names(root.path())
            .iter()
            .all(|name| !name.starts_with(STAGING_PREFIX))
    );
}

#[test]
fn failed_delivery_removes_staging() {
    let root = tempfile::tempdir().unwrap();
    let dir = atomic::ensure_dirs(root.path(), &[DOCTOR]).unwrap();
    let staged = atomic::stage_in(&dir, b"x").unwrap();
    let staging_path = staged.path();

    drop(staged);
    assert!(!staging_path.exists());
}

#[test]
fn place_never_replaces_a_file() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("doc.txt"), b"theirs").unwrap();

    let staged = atomic::stage(root.path(), b"ours").unwrap();
    let placement = staged.place("doc.txt").unwrap();

    assert_eq!(placement, Placement::Written("doc-2.txt".to_owned()));
    assert_eq!(fs::read(root.path().join("doc.txt")).unwrap(), b"theirs");
    assert_eq!(fs::read(root.path().join("doc-2.txt")).unwrap(), b"ours");
}

#[test]
fn link_fallback_never_replaces() {
    let root = tempfile::tempdir().unwrap();
    let from = root.path().join(".pbx-staging-test");
    let to = root.path().join("doc.txt");
    fs::write(&from, b"new").unwrap();
    fs::write(&to, b"old").unwrap();

    let err = atomic::link_noreplace(&from, &to).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(fs::read(&to).unwrap(), b"old");

    fs::remove_file(&to).unwrap();
    atomic::link_noreplace(&from, &to).unwrap();
    assert_eq!(fs::read(&to).unwrap(), b"new");
    assert!(!from.exists());
}

#[test]
fn rename_noreplace_reports_existing() {
    let root = tempfile::tempdir().unwrap();
    let from = root.path().join(".pbx-staging-test");
    let to = root.path().join("doc.txt");
    fs::write(&from, b"new").unwrap();
    fs::write(&to, b"old").unwrap();

    let err = atomic::rename_noreplace(&from, &to).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(fs::read(&to).unwrap(), b"old");
    assert!(from.exists());
}

#[test]
fn unsafe_doctor_folder_rejected() {
    let root = tempfile::tempdir().unwrap();
    let message = outgoing("7000128", vec![part("a.txt", "text/plain", b"x")]);
    for folder in ["..", "../other", "a/b", "CON", ".hidden", ""] {
        let err = share(root.path()).deliver(folder, &message).unwrap_err();
        assert!(
            matches!(err, DeliveryError::UnsafeFolder { .. }),
            "{folder:?}: {err}"
        );
    }
    assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
}

/// A share whose doctor folder is a symbolic link to a folder outside the share.
struct LinkedShare {
    root: tempfile::TempDir,
    outside: tempfile::TempDir,
}

impl LinkedShare {
    fn new(link_name: &str) -> LinkedShare {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join(link_name)).unwrap();
        LinkedShare { root, outside }
    }
}

#[test]
fn symlinked_doctor_folder_is_not_followed() {
    let linked = LinkedShare::new(DOCTOR);
    let message = outgoing("7000130", vec![part("a.txt", "text/plain", b"x")]);

    let err = share(linked.root.path())
        .deliver(DOCTOR, &message)
        .unwrap_err();

    assert!(
        matches!(err, DeliveryError::SymlinkedFolder { .. }),
        "{err}"
    );
    assert!(err.is_retryable(), "the message must be held, not dropped");
    assert!(err.to_string().contains(DOCTOR), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(all_names(linked.outside.path()), Vec::<String>::new());
}

#[test]
fn symlinked_route_folder_is_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let doctor = root.path().join(DOCTOR);
    fs::create_dir(&doctor).unwrap();
    let route = RoutingProfile::builtin().route(Format::Other).clone();
    let route_folder = route
        .folder
        .first()
        .expect("the builtin route of other files has a folder");
    std::os::unix::fs::symlink(outside.path(), doctor.join(route_folder)).unwrap();
    let message = outgoing("7000131", vec![part("a.txt", "text/plain", b"x")]);

    let err = share(root.path()).deliver(DOCTOR, &message).unwrap_err();

    assert!(
        matches!(err, DeliveryError::SymlinkedFolder { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(route_folder.as_str()), "{err}");
    assert_eq!(all_names(outside.path()), Vec::<String>::new());
}

#[test]
fn dangling_symlink_folder_is_not_created() {
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("elsewhere");
    std::os::unix::fs::symlink(&target, root.path().join(DOCTOR)).unwrap();
    let message = outgoing("7000132", vec![part("a.txt", "text/plain", b"x")]);

    let err = share(root.path()).deliver(DOCTOR, &message).unwrap_err();

    assert!(
        matches!(err, DeliveryError::SymlinkedFolder { .. }),
        "{err}"
    );
    assert!(!target.exists());
}

#[test]
fn file_in_place_of_doctor_folder() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join(DOCTOR), b"not a folder").unwrap();
    let message = outgoing("7000133", vec![part("a.txt", "text/plain", b"x")]);

    let err = share(root.path()).deliver(DOCTOR, &message).unwrap_err();

    assert!(matches!(err, DeliveryError::NotAFolder { .. }), "{err}");
    assert!(err.is_retryable());
}

#[test]
fn folder_swapped_for_link_after_open() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let folder = atomic::ensure_dirs(root.path(), &[DOCTOR]).unwrap();
    fs::rename(root.path().join(DOCTOR), root.path().join("moved")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join(DOCTOR)).unwrap();

    let placement = atomic::stage_in(&folder, b"x")
        .unwrap()
        .place("doc.txt")
        .unwrap();

    assert_eq!(placement, Placement::Written("doc.txt".to_owned()));
    assert_eq!(fs::read(root.path().join("moved/doc.txt")).unwrap(), b"x");
    assert_eq!(all_names(outside.path()), Vec::<String>::new());
}

#[test]
fn link_at_document_name_is_skipped() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    fs::write(&secret, b"x").unwrap();
    std::os::unix::fs::symlink(&secret, root.path().join("doc.txt")).unwrap();

    let placement = atomic::stage(root.path(), b"x")
        .unwrap()
        .place("doc.txt")
        .unwrap();

    assert_eq!(placement, Placement::Written("doc-2.txt".to_owned()));
    assert_eq!(fs::read(&secret).unwrap(), b"x");
}

#[test]
fn cleanup_skips_symlinked_folders() {
    let linked = LinkedShare::new(DOCTOR);
    let planted = linked.outside.path().join(format!("{STAGING_PREFIX}1-1"));
    fs::write(&planted, b"not ours").unwrap();

    assert_eq!(share(linked.root.path()).cleanup_staging().unwrap(), 0);
    assert!(planted.exists());
}

#[test]
fn missing_share_root_is_retryable() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("not-mounted");
    let message = outgoing("7000129", vec![part("a.txt", "text/plain", b"x")]);

    let err = share(&missing).deliver(DOCTOR, &message).unwrap_err();
    assert!(matches!(err, DeliveryError::ShareMissing { .. }), "{err}");
    assert!(err.is_retryable());
    assert!(!missing.exists());
}

#[test]
fn io_errors_classified() {
    let path = Path::new("/share/x");
    let cases = [
        (libc_errno(nix::errno::Errno::ENOSPC), "full"),
        (libc_errno(nix::errno::Errno::EDQUOT), "full"),
        (libc_errno(nix::errno::Errno::EACCES), "unwritable"),
        (libc_errno(nix::errno::Errno::EROFS), "unwritable"),
        (libc_errno(nix::errno::Errno::EIO), "io"),
    ];
    for (source, expected) in cases {
        let err = DeliveryError::from_io("write", path, source);
        let kind = match err {
            DeliveryError::ShareFull { .. } => "full",
            DeliveryError::ShareUnwritable { .. } => "unwritable",
            DeliveryError::Io { .. } => "io",
            _ => "other",
        };
        assert_eq!(kind, expected, "{err}");
        assert!(err.is_retryable());
        assert!(err.to_string().contains("/share/x"), "{err}");
    }
}

fn libc_errno(errno: nix::errno::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(errno as i32)
}

/// A small tmpfs mounted under a temporary folder, unmounted by path on drop.
struct Tmpfs {
    _parent: tempfile::TempDir,
    mount_point: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let parent = tempfile::tempdir().unwrap();
        let mount_point = parent.path().join("share");
        fs::create_dir(&mount_point).unwrap();
        let options = format!("size={size},mode=0755");
        mount(
            Some("tmpfs"),
            &mount_point,
            Some("tmpfs"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .unwrap_or_else(|err| {
            panic!(
                "cannot mount a tmpfs at {}: {err}; this test needs root (CAP_SYS_ADMIN) to \
                     mount a small filesystem, run it as root or in a container that allows mounts",
                mount_point.display()
            )
        });
        Tmpfs {
            _parent: parent,
            mount_point,
        }
    }

    fn remount_read_only(&self) {
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount(
            None::<&str>,
            &self.mount_point,
            None::<&str>,
            flags,
            None::<&str>,
        )
        .unwrap_or_else(|err| {
            panic!(
                "cannot remount {} read-only: {err}",
                self.mount_point.display()
            )
        });
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Err(err) = umount(&self.mount_point) {
            eprintln!("cannot unmount {}: {err}", self.mount_point.display());
        }
    }
}

#[test]
fn full_share_is_typed_and_clean() {
    let tmpfs = Tmpfs::mount("64k");
    let big = vec![b'x'; 256 * 1024];
    let message = outgoing("7000130", vec![part("big.pdf", "application/pdf", &big)]);

    let err = share(&tmpfs.mount_point)
        .deliver(DOCTOR, &message)
        .unwrap_err();

    assert!(matches!(err, DeliveryError::ShareFull { .. }), "{err}");
    assert!(err.is_retryable());
    assert!(visible_files(&tmpfs.mount_point).is_empty());
    assert!(
        !all_names(&tmpfs.mount_point)
            .iter()
            .any(|name| name.starts_with(STAGING_PREFIX)),
        "the partial staging file must be removed"
    );
}

fn store_with_message(dir: &Path) -> (Store, crate::store::PrincipalId) {
    let now: Timestamp = "2024-05-07T08:05:00Z".parse().unwrap();
    let mut store = Store::open(&dir.join("store.db")).unwrap();
    let doctor = NewPrincipal {
        insz: "62090524597".to_owned(),
        family_name: "Maes".to_owned(),
        given_names: "Katrien".to_owned(),
        riziv: "14567890004".to_owned(),
        role: Role::Main,
        share_folder: DOCTOR.to_owned(),
        move_to_bin: true,
    };
    let principal = store.add_principal(&doctor, "setup", now).unwrap();
    let fetched = FetchedMessage {
        principal,
        message_id: "7000131".to_owned(),
        kind: MessageKind::Document,
        sender_id: Some("71088888".to_owned()),
        sender_name: Some("Ziekenhuis Zonnedal".to_owned()),
        patient_insz: None,
        title: None,
        published_at: None,
        size_bytes: 5,
        annex_count: 0,
        flags: MessageFlags::default(),
    };
    store.record_fetched(&fetched, now).unwrap();
    (store, principal)
}

#[test]
fn read_only_share_changes_nothing() {
    let state_dir = tempfile::tempdir().unwrap();
    let (store, principal) = store_with_message(state_dir.path());
    let tmpfs = Tmpfs::mount("1m");
    fs::create_dir(tmpfs.mount_point.join(DOCTOR)).unwrap();
    tmpfs.remount_read_only();
    let message = outgoing("7000131", vec![part("a.txt", "text/plain", b"hello")]);
    let audit_before = store.audit_entries().unwrap().len();

    let err = share(&tmpfs.mount_point)
        .deliver(DOCTOR, &message)
        .unwrap_err();

    assert!(
        matches!(err, DeliveryError::ShareUnwritable { .. }),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(err.to_string().contains("mounted read-write"), "{err}");
    let record = store.message(principal, "7000131").unwrap().unwrap();
    assert_eq!(record.state, DeliveryState::Fetched);
    assert!(record.files.is_empty());
    assert_eq!(store.audit_entries().unwrap().len(), audit_before);
    assert!(
        store.pending_move().unwrap().is_empty(),
        "nothing may leave the inbox"
    );
    assert_eq!(all_names(&tmpfs.mount_point), [DOCTOR]);
}

#[test]
fn delivery_then_store_round_trip() {
    let state_dir = tempfile::tempdir().unwrap();
    let (mut store, principal) = store_with_message(state_dir.path());
    let root = tempfile::tempdir().unwrap();
    let message = outgoing("7000131", vec![part("a.txt", "text/plain", b"hello")]);
    let now: Timestamp = "2024-05-07T08:06:00Z".parse().unwrap();
    let share = share(root.path());

    let first: Vec<_> = share
        .deliver(DOCTOR, &message)
        .unwrap()
        .into_iter()
        .map(|f| f.record)
        .collect();
    store
        .mark_delivered(principal, "7000131", &first, now)
        .unwrap();
    let again: Vec<_> = share
        .deliver(DOCTOR, &message)
        .unwrap()
        .into_iter()
        .map(|f| f.record)
        .collect();
    store
        .mark_delivered(principal, "7000131", &again, now)
        .unwrap();

    assert_eq!(store.pending_move().unwrap().len(), 1);
    assert_eq!(
        store.message(principal, "7000131").unwrap().unwrap().files,
        first
    );
}

#[test]
fn deliver_unsynced_lists_folders() {
    let root = tempfile::tempdir().unwrap();
    let lab = fixture("medidoc-lab-two-patients.lab");
    let pdf = fixture("letter.pdf");
    let message = outgoing(
        "7000127",
        vec![
            part("lab.txt", "text/plain", &lab),
            part("letter.pdf", "application/pdf", &pdf),
        ],
    );
    let share = share(root.path());
    let mut folders = UnsyncedFolders::default();

    let delivered = share
        .deliver_unsynced(DOCTOR, &message, &mut folders)
        .unwrap();

    let mut expected: Vec<PathBuf> = delivered
        .iter()
        .map(|file| {
            root.path()
                .join(&file.record.path)
                .parent()
                .unwrap()
                .to_owned()
        })
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(folders.0.iter().cloned().collect::<Vec<_>>(), expected);
    for file in &delivered {
        assert!(root.path().join(&file.record.path).is_file(), "{file:?}");
    }
    folders.sync().unwrap();
    assert!(folders.is_empty());
}

#[test]
fn unsynced_folder_that_fails_stays_listed() {
    let root = tempfile::tempdir().unwrap();
    let gone = root.path().join("gone");
    let mut folders = UnsyncedFolders::default();
    folders.add(&gone);

    let err = folders.sync().unwrap_err();
    assert!(err.to_string().contains("gone"), "{err}");
    assert!(!folders.is_empty());
}
