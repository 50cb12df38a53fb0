//! The panel's USB stick source with real mounts: `StickCertificates` waits for an inserted
//! stick, has the helper's code mount it over a Unix socket, lists and reads the keystores,
//! and unmounts it on release or on any failure.
//!
//! The fixture in `support/stick.rs` poses a loop device as USB stick `sdq`; the test plays the
//! uevent watcher by sending the inserted sticks itself. Each test enters its own mount
//! namespace before it builds the runtime, so the runtime's threads, where the helper mounts,
//! share that namespace with the test thread, where the source reads.
//!
//! Needs root, loop devices, `losetup` and the mkfs tools of `.ci/install-deps`.

#![allow(clippy::unwrap_used, reason = "tests")]

#[path = "support/stick.rs"]
mod stick_support;

use std::fs;
use std::time::Duration;

use practicebox::panel::{CertificateSource, CertificateSourceError, StickCertificates};
use practicebox::stick::BlockDevice;
use stick_support::{
    Controls, DEVICE, Fixture, KEYSTORE, enter_private_mount_namespace, ext4_image, mount_options,
    stick_device,
};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Builds a runtime whose threads share this thread's mount namespace.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts the helper for one connection from inside `runtime`.
fn start_helper(runtime: &Runtime, fixture: &Fixture) -> (JoinHandle<()>, Controls) {
    let _context = runtime.enter();
    let (helper, mut controls) = fixture.start_helper(1);
    (helper, controls.remove(0))
}

/// Waits for the helper's connection to end, as it does once the stick is unmounted.
fn wait_for_helper(runtime: &Runtime, helper: JoinHandle<()>) {
    runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), helper).await })
        .expect("the helper ends once the stick is unmounted")
        .unwrap();
}

fn source(
    runtime: &Runtime,
    fixture: &Fixture,
) -> (StickCertificates, watch::Sender<Vec<BlockDevice>>) {
    let (sticks, inserted) = watch::channel(Vec::new());
    let source = StickCertificates::new(runtime.handle().clone(), fixture.mounter(), inserted)
        .with_stick_wait(Duration::from_secs(5));
    (source, sticks)
}

#[test]
fn inserted_stick_listed_read_released() {
    enter_private_mount_namespace();
    let runtime = runtime();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(
        &images,
        &[
            ("ehealth/SSIN=79021802145 20230823-085751.acc-p12", KEYSTORE),
            ("letter.odt", b"PK\x03\x04"),
        ],
    );
    let fixture = Fixture::new(&image, true);
    let (helper, _controls) = start_helper(&runtime, &fixture);
    let (mut source, sticks) = source(&runtime, &fixture);

    // The stick arrives while the listing already waits for it.
    runtime.spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sticks.send_replace(vec![stick_device()]);
        // Kept open until the test ends, as the watcher task is.
        std::future::pending::<()>().await;
    });
    let found = source.certificates().unwrap();

    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].name,
        "ehealth/SSIN=79021802145 20230823-085751.acc-p12"
    );
    assert_eq!(found[0].size, KEYSTORE.len() as u64);
    assert!(source.is_mounted());
    let (options, _) = mount_options(&fixture.mount_point()).expect("the stick is mounted");
    assert!(options.split(',').any(|option| option == "ro"), "{options}");

    let bytes = source.read(&found[0]).unwrap();
    assert_eq!(bytes.as_slice(), KEYSTORE);

    source.release();
    assert!(!source.is_mounted());
    assert_eq!(mount_options(&fixture.mount_point()), None);
    wait_for_helper(&runtime, helper);
}

#[test]
fn stick_pulled_mid_read_is_removed() {
    enter_private_mount_namespace();
    let runtime = runtime();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("doctor.p12", KEYSTORE)]);
    let fixture = Fixture::new(&image, true);
    let (helper, controls) = start_helper(&runtime, &fixture);
    let (mut source, sticks) = source(&runtime, &fixture);
    sticks.send_replace(vec![stick_device()]);
    let found = source.certificates().unwrap();
    assert_eq!(found.len(), 1);

    // The kernel reports the stick gone after the listing, before the keystore is read.
    let Controls { pull, stop: _stop } = controls;
    pull.send(()).unwrap();
    wait_for_helper(&runtime, helper);
    let error = source.read(&found[0]).unwrap_err();

    assert!(matches!(error, CertificateSourceError::Removed), "{error}");
    assert!(!source.is_mounted());
    assert_eq!(mount_options(&fixture.mount_point()), None);
    source.release();
}

#[test]
fn damaged_file_system_is_unreadable() {
    enter_private_mount_namespace();
    let runtime = runtime();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("doctor.p12", KEYSTORE)]);
    // The superblock keeps its magic, but its block size field (s_log_block_size, at byte 24
    // of the superblock at 1024) is set to 2^(10+200) bytes.
    let mut bytes = fs::read(&image).unwrap();
    bytes[1024 + 24] = 200;
    fs::write(&image, bytes).unwrap();
    let fixture = Fixture::new(&image, true);
    let (helper, _controls) = start_helper(&runtime, &fixture);
    let (mut source, sticks) = source(&runtime, &fixture);
    sticks.send_replace(vec![stick_device()]);

    let error = source.certificates().unwrap_err();

    assert!(
        matches!(&error, CertificateSourceError::Unreadable { detail }
            if detail.contains(DEVICE) && detail.contains("may be damaged")),
        "{error}"
    );
    assert!(!source.is_mounted());
    wait_for_helper(&runtime, helper);
    assert_eq!(mount_options(&fixture.mount_point()), None);
}

#[test]
fn stick_without_keystore_is_unmounted() {
    enter_private_mount_namespace();
    let runtime = runtime();
    let images = tempfile::tempdir().unwrap();
    let image = ext4_image(&images, &[("letter.odt", b"PK\x03\x04")]);
    let fixture = Fixture::new(&image, true);
    let (helper, _controls) = start_helper(&runtime, &fixture);
    let (mut source, sticks) = source(&runtime, &fixture);
    sticks.send_replace(vec![stick_device()]);

    let error = source.certificates().unwrap_err();

    assert!(
        matches!(error, CertificateSourceError::NoCertificate),
        "{error}"
    );
    assert!(!source.is_mounted());
    assert_eq!(mount_options(&fixture.mount_point()), None);
    wait_for_helper(&runtime, helper);
}
