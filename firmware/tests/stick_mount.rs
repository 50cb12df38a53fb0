//! The stick mount end to end with real mounts: the helper's code serves a Unix socket, the
//! service's `StickMounter` requests a mount of a stick image attached to a loop device, searches
//! and reads the certificates, and lets go.
//!
//! The fixture in `support/stick.rs` poses a loop device as USB stick `sdq`. Each test runs in
//! its own mount namespace, so nothing it mounts is visible outside, and the namespace, with any
//! mount a failed test leaves, goes away with the thread.
//!
//! Needs root, loop devices, `losetup` and the mkfs tools of `.ci/install-deps`.

#![allow(clippy::unwrap_used, reason = "tests")]

#[path = "support/stick.rs"]
mod stick_support;

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use practicebox::stick::probe::Filesystem;
use practicebox::stick::{MountFailure, StickError, StickMounter};
use stick_support::{
    Controls, DEVICE, Fixture, KEYSTORE, blank_image, enter_private_mount_namespace, ext4_image,
    mount_options, run, stick_device,
};

async fn mount_failure(fixture: &Fixture) -> MountFailure {
    let (helper, _controls) = fixture.start_helper(1);
    let error = fixture
        .mounter()
        .mount(&stick_device())
        .await
        .expect_err("the mount must fail");
    helper.await.unwrap();
    match error {
        StickError::Mount(failure) => failure,
        other => panic!("expected a mount failure, got {other}"),
    }
}

#[tokio::test]
async fn ext4_stick_read_only_until_drop() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(
        &images,
        &[("ehealth/SSIN=79021802145 20230823-085751.acc-p12", KEYSTORE)],
    );
    let fixture = Fixture::new(&image, true);
    let (helper, _controls) = fixture.start_helper(1);

    let stick = fixture.mounter().mount(&stick_device()).await.unwrap();
    assert_eq!(stick.filesystem(), Filesystem::Ext4);
    assert_eq!(stick.folder().root(), fixture.mount_point());

    let (options, filesystem_options) =
        mount_options(&fixture.mount_point()).expect("the stick is mounted");
    for option in ["ro", "nosuid", "nodev", "noexec", "nosymfollow"] {
        assert!(
            options.split(',').any(|found| found == option),
            "{option} missing from {options}"
        );
    }
    assert!(
        filesystem_options.contains("norecovery"),
        "{filesystem_options}"
    );

    let certificates = stick.certificates().unwrap();
    assert_eq!(certificates.len(), 1);
    assert_eq!(
        certificates[0].display_name,
        "ehealth/SSIN=79021802145 20230823-085751.acc-p12"
    );
    assert_eq!(stick.read(&certificates[0]).unwrap().as_slice(), KEYSTORE);
    let write = File::create(fixture.mount_point().join("written.txt"));
    assert_eq!(
        write.unwrap_err().raw_os_error(),
        Some(nix::libc::EROFS),
        "the stick must be read-only"
    );

    drop(stick);
    tokio::time::timeout(Duration::from_secs(5), helper)
        .await
        .expect("the helper ends when the service drops the stick")
        .unwrap();
    assert_eq!(mount_options(&fixture.mount_point()), None);
}

#[tokio::test]
async fn release_waits_for_unmount() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("doctor.p12", KEYSTORE)]);
    let fixture = Fixture::new(&image, true);
    let (helper, _controls) = fixture.start_helper(1);

    let stick = fixture.mounter().mount(&stick_device()).await.unwrap();
    stick.release().await.unwrap();
    assert_eq!(mount_options(&fixture.mount_point()), None);
    helper.await.unwrap();
}

#[tokio::test]
async fn stick_pulled_during_use_reports_removal() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("doctor.p12", KEYSTORE)]);
    let fixture = Fixture::new(&image, true);
    let (helper, mut controls) = fixture.start_helper(1);

    let stick = fixture.mounter().mount(&stick_device()).await.unwrap();
    let certificates = stick.certificates().unwrap();
    // A file still open on the stick: the detached mount lives on for it, invisible.
    let open_file = File::open(fixture.mount_point().join("doctor.p12")).unwrap();

    // The kernel reports the stick gone while the service still uses it.
    let Controls { pull, stop: _stop } = controls.remove(0);
    pull.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), helper)
        .await
        .expect("the helper ends when the stick is pulled")
        .unwrap();
    assert_eq!(mount_options(&fixture.mount_point()), None);

    let error = stick.certificates().unwrap_err();
    assert!(matches!(error, StickError::Removed), "{error}");
    let error = stick.read(&certificates[0]).unwrap_err();
    assert!(matches!(error, StickError::Removed), "{error}");
    drop(open_file);
}

#[tokio::test]
async fn helper_stop_unmounts() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("doctor.p12", KEYSTORE)]);
    let fixture = Fixture::new(&image, true);
    let (helper, mut controls) = fixture.start_helper(1);

    let stick = fixture.mounter().mount(&stick_device()).await.unwrap();
    // An open file keeps the mount busy, so the orderly unmount falls back to detaching.
    let open_file = File::open(fixture.mount_point().join("doctor.p12")).unwrap();

    // systemd stops the helper's unit, at shutdown or after RuntimeMaxSec=.
    let Controls { stop, pull: _pull } = controls.remove(0);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), helper)
        .await
        .expect("the helper ends when it is stopped")
        .unwrap();
    assert_eq!(mount_options(&fixture.mount_point()), None);
    let error = stick.certificates().unwrap_err();
    assert!(matches!(error, StickError::Removed), "{error}");
    drop(open_file);
}

#[tokio::test]
async fn second_mount_of_same_device_is_busy() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("doctor.p12", KEYSTORE)]);
    let fixture = Fixture::new(&image, true);
    let (helper, _controls) = fixture.start_helper(2);

    let first = fixture.mounter().mount(&stick_device()).await.unwrap();
    let error = fixture.mounter().mount(&stick_device()).await.unwrap_err();
    assert!(
        matches!(&error, StickError::Mount(MountFailure::Busy { device }) if device == DEVICE),
        "{error}"
    );
    assert_eq!(first.certificates().unwrap().len(), 1);
    first.release().await.unwrap();
    helper.await.unwrap();
    assert_eq!(mount_options(&fixture.mount_point()), None);
}

#[tokio::test]
async fn stick_without_certificate_is_reported() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("letter.odt", b"PK\x03\x04")]);
    let fixture = Fixture::new(&image, true);
    let (helper, _controls) = fixture.start_helper(1);

    let stick = fixture.mounter().mount(&stick_device()).await.unwrap();
    let error = stick.certificates().unwrap_err();
    assert!(matches!(error, StickError::NoCertificate { .. }), "{error}");
    drop(stick);
    helper.await.unwrap();
    assert_eq!(mount_options(&fixture.mount_point()), None);
}

#[tokio::test]
async fn blank_stick_is_refused() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let fixture = Fixture::new(&blank_image(&images), true);
    let failure = mount_failure(&fixture).await;
    assert_eq!(
        failure,
        MountFailure::NoFilesystem {
            device: DEVICE.to_owned()
        }
    );
    assert!(
        failure.to_string().contains("format it as FAT32"),
        "{failure}"
    );
    assert_eq!(mount_options(&fixture.mount_point()), None);
}

#[tokio::test]
async fn damaged_ext4_stick_is_refused() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("doctor.p12", KEYSTORE)]);
    // The superblock keeps its magic, but its block size field (s_log_block_size, at byte 24
    // of the superblock at 1024) is set to 2^(10+200) bytes.
    let mut bytes = fs::read(&image).unwrap();
    bytes[1024 + 24] = 200;
    fs::write(&image, bytes).unwrap();
    let fixture = Fixture::new(&image, true);

    let failure = mount_failure(&fixture).await;
    assert!(
        matches!(&failure, MountFailure::MountFailed { filesystem, .. } if filesystem == "ext4"),
        "{failure}"
    );
    assert!(failure.to_string().contains("may be damaged"), "{failure}");
    assert_eq!(mount_options(&fixture.mount_point()), None);
}

#[tokio::test]
async fn fat_stick_mounts_or_names_missing_driver() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = images.path().join("fat.img");
    File::create(&image)
        .unwrap()
        .set_len(40 * 1024 * 1024)
        .unwrap();
    run("mkfs.vfat", &["-F", "32", image.to_str().unwrap()]);
    let fixture = Fixture::new(&image, true);
    let kernel_has_vfat = fs::read_to_string("/proc/filesystems")
        .unwrap()
        .lines()
        .any(|line| line.split_whitespace().last() == Some("vfat"));

    if kernel_has_vfat {
        let (helper, _controls) = fixture.start_helper(1);
        let stick = fixture.mounter().mount(&stick_device()).await.unwrap();
        let (_, filesystem_options) = mount_options(&fixture.mount_point()).unwrap();
        assert!(
            filesystem_options.contains("fmask=0377"),
            "{filesystem_options}"
        );
        assert!(
            filesystem_options.contains("dmask=0277"),
            "{filesystem_options}"
        );
        stick.release().await.unwrap();
        helper.await.unwrap();
    } else {
        let failure = mount_failure(&fixture).await;
        assert_eq!(
            failure,
            MountFailure::NoKernelDriver {
                device: DEVICE.to_owned(),
                filesystem: "FAT32".to_owned(),
                kernel_type: "vfat".to_owned(),
            }
        );
    }
    assert_eq!(mount_options(&fixture.mount_point()), None);
}

#[tokio::test]
async fn partitioned_disk_is_refused() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = images.path().join("disk.img");
    File::create(&image)
        .unwrap()
        .set_len(8 * 1024 * 1024)
        .unwrap();
    let mut sfdisk = Command::new("sfdisk")
        .args(["-q", image.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sfdisk; run .ci/install-deps");
    sfdisk
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: dos\nstart=2048, type=c\n")
        .unwrap();
    assert!(sfdisk.wait().unwrap().success());
    let fixture = Fixture::new(&image, true);

    let failure = mount_failure(&fixture).await;
    assert_eq!(
        failure,
        MountFailure::PartitionTable {
            device: DEVICE.to_owned(),
            table: "MBR".to_owned()
        }
    );
}

#[tokio::test]
async fn sd_card_is_refused() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("doctor.p12", KEYSTORE)]);
    let fixture = Fixture::new(&image, false);
    let failure = mount_failure(&fixture).await;
    assert_eq!(
        failure,
        MountFailure::NotUsbStorage {
            device: DEVICE.to_owned()
        }
    );
    assert_eq!(mount_options(&fixture.mount_point()), None);
}

#[tokio::test]
async fn missing_device_node_is_reported() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("doctor.p12", KEYSTORE)]);
    let fixture = Fixture::new(&image, true);
    fs::remove_file(fixture.config.devfs.join(DEVICE)).unwrap();
    let failure = mount_failure(&fixture).await;
    assert_eq!(
        failure,
        MountFailure::DeviceMissing {
            device: DEVICE.to_owned()
        }
    );
}

#[tokio::test]
async fn invalid_device_name_is_refused() {
    enter_private_mount_namespace();
    let images = tempfile::tempdir().unwrap();
    let fixture = Fixture::new(&blank_image(&images), true);
    let (helper, _controls) = fixture.start_helper(1);
    let mut device = stick_device();
    device.name = "../../mmcblk0p2".to_owned();
    let error = fixture.mounter().mount(&device).await.unwrap_err();
    assert!(
        matches!(
            error,
            StickError::Mount(MountFailure::InvalidRequest { .. })
        ),
        "{error}"
    );
    helper.await.unwrap();
    assert!(
        fs::read_dir(&fixture.config.mount_root)
            .unwrap()
            .next()
            .is_none()
    );
}

#[tokio::test]
async fn missing_helper_socket_is_reported() {
    let folder = tempfile::tempdir().unwrap();
    let socket = folder.path().join("helper.sock");
    let error = StickMounter::new(&socket)
        .mount(&stick_device())
        .await
        .unwrap_err();
    assert!(
        matches!(error, StickError::HelperUnavailable { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("practicebox-stick.socket"),
        "{error}"
    );
}

/// Starts the helper binary with one end of a socket pair as its standard input, as
/// `practicebox-stick@.service` does, sends `request` and returns the reply line.
fn ask_helper_binary(request: &str) -> String {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixStream;

    let (mut service_end, helper_end) = UnixStream::pair().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_practicebox-stick-helper"))
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(helper_end)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    service_end.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    BufReader::new(&service_end).read_line(&mut reply).unwrap();
    drop(service_end);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    reply
}

#[test]
fn helper_binary_refuses_loop_device() {
    let reply = ask_helper_binary("{\"mount\":{\"device\":\"loop0\"}}\n");
    assert!(
        reply.starts_with("{\"failed\":{\"kind\":\"invalid-request\""),
        "{reply}"
    );
}

#[test]
fn helper_binary_needs_mount_folder() {
    assert!(
        !Path::new(practicebox::stick::helper::MOUNT_ROOT).exists(),
        "this test expects a build machine, where tmpfiles.d made no {}",
        practicebox::stick::helper::MOUNT_ROOT
    );
    let reply = ask_helper_binary("{\"mount\":{\"device\":\"sdzz1\"}}\n");
    assert!(reply.contains("\"kind\":\"mount-folder\""), "{reply}");
    assert!(reply.contains("systemd-tmpfiles"), "{reply}");
}

#[test]
fn helper_binary_rejects_terminal_input() {
    let output = Command::new(env!("CARGO_BIN_EXE_practicebox-stick-helper"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("standard input is not a Unix socket"), "{log}");
}
