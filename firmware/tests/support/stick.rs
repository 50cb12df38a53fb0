//! The fixture of the stick mount tests: a loop device posing as USB stick `sdq`, the helper's
//! folders around it, the helper's code serving a Unix socket, and a private mount namespace
//! for each test.
//!
//! The loop device appears to the helper as `sdq` on a USB bus: the fixture lays out a sysfs
//! tree with that path and a `/dev`-like folder with a block node for the loop device. Each
//! test runs in its own mount namespace (its thread calls `unshare(CLONE_NEWNS)` and marks
//! every mount private), so nothing it mounts is visible outside. Threads that the test thread
//! starts afterwards, such as the workers of a tokio runtime it builds, share that namespace.
//!
//! Needs root, loop devices, `losetup` and the mkfs tools of `.ci/install-deps`.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, reason = "test fixtures fail loudly")]

use std::fs::{self, File};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use practicebox::stick::helper::{DeviceRemovals, HelperConfig, serve_connection};
use practicebox::stick::mount::{KernelMounts, Owner};
use practicebox::stick::uevent::DeviceNumbers;
use practicebox::stick::{BlockDevice, BlockKind, StickMounter};
use tempfile::TempDir;
use tokio::net::UnixListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const DEVICE: &str = "sdq";
pub const KEYSTORE: &[u8] = b"0\x82\x0a\x1fbytes standing for a PKCS#12 keystore";
pub const USB_PATH: &str =
    "devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block";
pub const SD_CARD_PATH: &str =
    "devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc0/mmc0:5048/block/mmcblk0";

/// Moves this thread into a mount namespace of its own whose mounts propagate nowhere.
pub fn enter_private_mount_namespace() {
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

pub fn run(program: &str, args: &[&str]) -> String {
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
pub struct LoopDevice {
    path: PathBuf,
}

impl LoopDevice {
    pub fn attach(image: &Path) -> Self {
        let path = run(
            "losetup",
            &["--find", "--show", "--read-only", image.to_str().unwrap()],
        );
        Self {
            path: PathBuf::from(path.trim()),
        }
    }

    pub fn numbers(&self) -> (u64, u64) {
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
pub struct Fixture {
    /// Holds the helper's folders until the test ends.
    _folder: TempDir,
    pub config: HelperConfig,
    pub socket: PathBuf,
    _loop_device: LoopDevice,
}

impl Fixture {
    /// Lays out the helper's folders for `image`, with `sdq` on a USB bus when `usb` is true
    /// and on the SD card controller otherwise.
    pub fn new(image: &Path, usb: bool) -> Self {
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

    pub fn mount_point(&self) -> PathBuf {
        self.config.mount_root.join(DEVICE)
    }

    pub fn mounter(&self) -> StickMounter {
        StickMounter::new(&self.socket)
    }

    /// Starts the helper for `connections` connections. Each connection gets a pair of
    /// controls: one stops its helper as systemd does, the other reports its stick pulled.
    pub fn start_helper(&self, connections: usize) -> (JoinHandle<()>, Vec<Controls>) {
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
pub struct Controls {
    pub stop: oneshot::Sender<()>,
    pub pull: oneshot::Sender<()>,
}

/// Reports the stick removed when the test sends on the channel, as the kernel's uevent would.
pub struct ManualRemoval(pub Option<oneshot::Receiver<()>>);

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

pub fn stick_device() -> BlockDevice {
    BlockDevice {
        name: DEVICE.to_owned(),
        kind: BlockKind::Partition,
        devpath: format!("/{USB_PATH}/{DEVICE}"),
    }
}

/// Returns the options of the mount at `target` in this thread's namespace (the mount options
/// and the file system's own options), or `None` when nothing is mounted there.
pub fn mount_options(target: &Path) -> Option<(String, String)> {
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
pub fn ext4_image(folder: &TempDir, content: &[(&str, &[u8])]) -> PathBuf {
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

pub fn blank_image(folder: &TempDir) -> PathBuf {
    let image = folder.path().join("blank.img");
    File::create(&image)
        .unwrap()
        .set_len(4 * 1024 * 1024)
        .unwrap();
    image
}
