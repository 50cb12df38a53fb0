//! The stick mount end to end with real mounts: the helper's code serves a Unix socket, the
//! service's `StickMounter` requests a mount of a stick image attached to a loop device, searches
//! and reads the certificates, and lets go.
//!
//! The loop device appears to the helper as `sdq` on a USB bus: the test lays out a sysfs
//! tree with that path and a `/dev`-like folder with a block node for the loop device. Each
//! test runs in its own mount namespace (its thread calls `unshare(CLONE_NEWNS)` and marks
//! every mount private), so nothing it mounts is visible outside, and the namespace, with any
//! mount a failed test leaves, goes away with the thread.
//!
//! Needs root, loop devices, `losetup` and the mkfs tools of `.ci/install-deps`.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use practicebox::stick::helper::{DeviceRemovals, HelperConfig, serve_connection};
use practicebox::stick::mount::{KernelMounts, Owner};
use practicebox::stick::probe::Filesystem;
use practicebox::stick::uevent::DeviceNumbers;
use practicebox::stick::{BlockDevice, BlockKind, MountFailure, StickError, StickMounter};
use tempfile::TempDir;
use tokio::net::UnixListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const DEVICE: &str = "sdq";
const KEYSTORE: &[u8] = b"0\x82\x0a\x1fbytes standing for a PKCS#12 keystore";
const USB_PATH: &str =
    "devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block";
const SD_CARD_PATH: &str =
    "devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc0/mmc0:5048/block/mmcblk0";

/// Moves this thread into a mount namespace of its own whose mounts propagate nowhere.
fn enter_private_mount_namespace() {
    nix::sched::unshare(CloneFlags::CLONE_NEWNS)
        .expect("unshare(CLONE_NEWNS) failed; the stick mount tests need root");
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("making the mounts of the test namespace private");
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{program} failed to start: {error}; run .ci/install-deps"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A read-only loop device over an image file, detached on drop.
struct LoopDevice {
    path: PathBuf,
}

impl LoopDevice {
    fn attach(image: &Path) -> Self {
        let path = run(
            "losetup",
            &["--find", "--show", "--read-only", image.to_str().unwrap()],
        );
        Self {
            path: PathBuf::from(path.trim()),
        }
    }

    fn numbers(&self) -> (u64, u64) {
        let rdev = fs::metadata(&self.path).unwrap().rdev();
        (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev))
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        // With the file system still mounted the kernel detaches once it is unmounted.
        let _ = Command::new("losetup")
            .arg("--detach")
            .arg(&self.path)
            .status();
    }
}

/// The folders the helper works in, a loop device posing as USB stick `sdq`, and the
/// helper's socket.
struct Fixture {
    /// Holds the helper's folders until the test ends.
    _folder: TempDir,
    config: HelperConfig,
    socket: PathBuf,
    _loop_device: LoopDevice,
}

impl Fixture {
    /// Lays out the helper's folders for `image`, with `sdq` on a USB bus when `usb` is true
    /// and on the SD card controller otherwise.
    fn new(image: &Path, usb: bool) -> Self {
        let folder = tempfile::tempdir().unwrap();
        let loop_device = LoopDevice::attach(image);
        let (major, minor) = loop_device.numbers();

        let sysfs = folder.path().join("sys");
        let device_folder = if usb {
            format!("{USB_PATH}/{DEVICE}")
        } else {
            format!("{SD_CARD_PATH}/{DEVICE}")
        };
        fs::create_dir_all(sysfs.join(&device_folder)).unwrap();
        fs::write(
            sysfs.join(&device_folder).join("dev"),
            format!("{major}:{minor}\n"),
        )
        .unwrap();
        fs::create_dir_all(sysfs.join("class/block")).unwrap();
        symlink(
            format!("../../{device_folder}"),
            sysfs.join("class/block").join(DEVICE),
        )
        .unwrap();

        let devfs = folder.path().join("dev");
        fs::create_dir(&devfs).unwrap();
        nix::sys::stat::mknod(
            &devfs.join(DEVICE),
            SFlag::S_IFBLK,
            Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(major, minor),
        )
        .expect("mknod of the test's block node");

        let mount_root = folder.path().join("run");
        fs::DirBuilder::new()
            .mode(0o750)
            .create(&mount_root)
            .unwrap();
        let config = HelperConfig {
            sysfs,
            devfs,
            mount_root,
            request_timeout: Duration::from_secs(5),
        };
        let socket = folder.path().join("helper.sock");
        Self {
            _folder: folder,
            config,
            socket,
            _loop_device: loop_device,
        }
    }

    fn mount_point(&self) -> PathBuf {
        self.config.mount_root.join(DEVICE)
    }

    fn mounter(&self) -> StickMounter {
        StickMounter::new(&self.socket)
    }

    /// Starts the helper for `connections` connections. Each connection gets a pair of
    /// controls: one stops its helper as systemd does, the other reports its stick pulled.
    fn start_helper(&self, connections: usize) -> (JoinHandle<()>, Vec<Controls>) {
        let listener = UnixListener::bind(&self.socket).unwrap();
        let config = self.config.clone();
        let mut controls = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..connections {
            let (stop, stop_receiver) = oneshot::channel::<()>();
            let (pull, pull_receiver) = oneshot::channel::<()>();
            controls.push(Controls { stop, pull });
            receivers.push((stop_receiver, pull_receiver));
        }
        let task = tokio::spawn(async move {
            let mut sessions = Vec::new();
            for (stop, pull) in receivers {
                let (stream, _) = listener.accept().await.unwrap();
                let credentials = stream.peer_cred().unwrap();
                let owner = Owner {
                    uid: credentials.uid(),
                    gid: credentials.gid(),
                };
                let config = config.clone();
                sessions.push(tokio::spawn(async move {
                    let mut removals = ManualRemoval(Some(pull));
                    let shutdown = async {
                        if stop.await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    };
                    serve_connection(
                        stream,
                        owner,
                        &config,
                        &KernelMounts,
                        &mut removals,
                        shutdown,
                    )
                    .await
                    .unwrap();
                }));
            }
            for session in sessions {
                session.await.unwrap();
            }
        });
        (task, controls)
    }
}

/// The controls of one helper connection; dropping them changes nothing.
struct Controls {
    stop: oneshot::Sender<()>,
    pull: oneshot::Sender<()>,
}

/// Reports the stick removed when the test sends on the channel, as the kernel's uevent would.
struct ManualRemoval(Option<oneshot::Receiver<()>>);

impl DeviceRemovals for ManualRemoval {
    async fn wait_for_removal(&mut self, _device: DeviceNumbers) {
        let Some(receiver) = self.0.take() else {
            return std::future::pending().await;
        };
        if receiver.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn stick_device() -> BlockDevice {
    BlockDevice {
        name: DEVICE.to_owned(),
        kind: BlockKind::Partition,
        devpath: format!("/{USB_PATH}/{DEVICE}"),
    }
}

/// Returns the options of the mount at `target` in this thread's namespace (the mount options
/// and the file system's own options), or `None` when nothing is mounted there.
fn mount_options(target: &Path) -> Option<(String, String)> {
    let mountinfo = fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
    let target = target.to_str().unwrap();
    mountinfo.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields[4] != target {
            return None;
        }
        let separator = fields.iter().position(|field| *field == "-").unwrap();
        Some((fields[5].to_owned(), fields[separator + 3].to_owned()))
    })
}

/// Creates an 8 MiB ext4 image with the files of `content`.
fn ext4_image(folder: &TempDir, content: &[(&str, &[u8])]) -> PathBuf {
    let source = folder.path().join("content");
    fs::create_dir(&source).unwrap();
    for (relative, bytes) in content {
        let path = source.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
    let image = folder.path().join("stick.img");
    File::create(&image)
        .unwrap()
        .set_len(8 * 1024 * 1024)
        .unwrap();
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            source.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
    image
}

fn blank_image(folder: &TempDir) -> PathBuf {
    let image = folder.path().join("blank.img");
    File::create(&image)
        .unwrap()
        .set_len(4 * 1024 * 1024)
        .unwrap();
    image
}

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
