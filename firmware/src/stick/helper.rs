//! The privileged side of the stick mount: one connection of `practicebox-stick.socket`, served
//! by `practicebox-stick-helper` as root with `CAP_SYS_ADMIN` as its only capability.
//!
//! For each request the helper trusts nothing the service sent beyond a kernel device name:
//! 1. the name must be an `sd*` disk or partition, and its sysfs path must run through a USB bus
//!    (so the box's own SD card and any other disk are refused);
//! 2. `/dev/NAME` must be a block device with the major and minor numbers that sysfs lists;
//! 3. the first bytes of the device must hold a supported file system ([`super::probe`]);
//! 4. the mount goes to `/run/practicebox-stick/NAME` with the flags and options of
//!    [`super::mount`], the files owned by the connecting account (from `SO_PEERCRED`).
//!
//! The stick stays mounted while the connection is open. When the service closes it, the
//! kernel reports the device's removal (a `remove` uevent with its major and minor numbers), or
//! the unit is stopped (SIGTERM), the helper unmounts, detaching lazily when the mount is still
//! in use, and sends `released`. Watching the removal itself means a pulled stick is
//! unmounted even when the service is slow to react; a stale mount would hold the device, and
//! the re-inserted stick would come back under a new name. A lock file per device name keeps two connections from
//! mounting the same device; a mount left behind by a killed helper is detached by the next
//! request for the same name.

use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::future::Future;
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::mount::MntFlags;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};

use super::error::MountFailure;
use super::mount::{MountGuard, MountRequest, MountSyscalls, Owner};
use super::probe::{PROBE_LEN, PartitionTable, Probe, probe};
use super::protocol::{ProtocolError, Reply, Request, read_message, write_message};
use super::uevent::{
    DeviceNumbers, UeventAction, is_stick_device_name, is_usb_devpath, parse_uevent,
};
use super::watcher::UeventSocket;

/// The folder of the stick mounts and of the helper's socket: `root:practicebox`, mode 0750,
/// created by tmpfiles.d, so only the service account reaches the sticks.
pub const MOUNT_ROOT: &str = "/run/practicebox-stick";
/// The socket of `practicebox-stick.socket`.
pub const HELPER_SOCKET: &str = "/run/practicebox-stick/helper.sock";

/// Paths of sysfs, the device nodes and the mounts; tests point them at temporary folders.
#[derive(Debug, Clone)]
pub struct HelperConfig {
    pub sysfs: PathBuf,
    pub devfs: PathBuf,
    pub mount_root: PathBuf,
    /// The wait for the request after the connection is accepted.
    pub request_timeout: Duration,
}

impl Default for HelperConfig {
    fn default() -> Self {
        Self {
            sysfs: PathBuf::from("/sys"),
            devfs: PathBuf::from("/dev"),
            mount_root: PathBuf::from(MOUNT_ROOT),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A source of device removal events.
pub trait DeviceRemovals {
    /// Completes when the device with these numbers is removed.
    fn wait_for_removal(&mut self, device: DeviceNumbers) -> impl Future<Output = ()>;
}

impl DeviceRemovals for UeventSocket {
    async fn wait_for_removal(&mut self, device: DeviceNumbers) {
        loop {
            let datagram = match self.receive().await {
                Ok(datagram) => datagram,
                Err(error) => {
                    tracing::error!(%error, "receiving uevents failed; the removal of the stick goes unnoticed");
                    return std::future::pending().await;
                }
            };
            if is_removal_of(datagram, device) {
                return;
            }
        }
    }
}

/// Returns whether a uevent datagram reports the removal of the block device with these
/// numbers.
fn is_removal_of(datagram: &[u8], device: DeviceNumbers) -> bool {
    let Ok(uevent) = parse_uevent(datagram) else {
        return false;
    };
    uevent.action == UeventAction::Remove
        && uevent.subsystem() == Some("block")
        && uevent.device_numbers() == Some(device)
}

/// No source: the removal is never seen.
impl<T: DeviceRemovals> DeviceRemovals for Option<T> {
    async fn wait_for_removal(&mut self, device: DeviceNumbers) {
        match self {
            Some(source) => source.wait_for_removal(device).await,
            None => std::future::pending().await,
        }
    }
}

/// Serves one connection: reads the mount request, mounts, waits until the service closes the
/// connection, `removals` reports the device gone or `shutdown` completes, then unmounts.
/// Returns an error only when the connection itself fails; a rejected or failed mount is sent to
/// the service and logged.
pub async fn serve_connection<S, M, R>(
    stream: S,
    owner: Owner,
    config: &HelperConfig,
    syscalls: &M,
    removals: &mut R,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    M: MountSyscalls + ?Sized,
    R: DeviceRemovals,
{
    let (read_half, mut writer) = tokio::io::split(stream);
    let mut reader = BufReader::new(read_half);

    let device = match read_request(&mut reader, config.request_timeout).await {
        Ok(Some(device)) => device,
        Ok(None) => return Ok(()),
        Err(failure) => return send_failure(&mut writer, failure).await,
    };
    let session = match MountSession::open(config, syscalls, &device, owner) {
        Ok(session) => session,
        Err(failure) => return send_failure(&mut writer, failure).await,
    };
    tracing::info!(
        device,
        filesystem = %session.filesystem,
        path = %session.guard.target().display(),
        uid = owner.uid,
        "stick mounted"
    );
    let mounted = Reply::Mounted {
        path: session.guard.target().to_owned(),
        filesystem: session.filesystem,
    };
    // On a write error the session is dropped, which detaches the mount.
    write_message(&mut writer, &mounted).await?;

    let removed = tokio::select! {
        () = wait_for_close(&mut reader) => {
            tracing::info!(device, "service released the stick");
            false
        }
        () = removals.wait_for_removal(session.numbers) => {
            tracing::info!(device, "stick removed; detaching its mount");
            true
        }
        () = shutdown => {
            tracing::info!(device, "stop requested; unmounting the stick");
            false
        }
    };
    // A removed device cannot be read any more, so its mount is detached at once rather than
    // unmounted in an orderly way.
    let unmounted = if removed {
        session.guard.detach()
    } else {
        session.guard.unmount()
    };
    match unmounted {
        Ok(()) => tracing::info!(device, "stick unmounted"),
        Err(errno) => tracing::error!(device, %errno, "unmounting the stick failed"),
    }
    // The service may be gone already; nothing is left to tell it then.
    let _ = write_message(&mut writer, &Reply::Released).await;
    Ok(())
}

/// Reads the request; `Ok(None)` when the service closed the connection without one.
async fn read_request<R>(reader: &mut R, timeout: Duration) -> Result<Option<String>, MountFailure>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let invalid = |request: String| MountFailure::InvalidRequest { request };
    let message = tokio::time::timeout(timeout, read_message::<Request, _>(reader))
        .await
        .map_err(|_| invalid(format!("(none within {} s)", timeout.as_secs())))?;
    match message {
        Ok(Some(Request::Mount { device })) => Ok(Some(device)),
        Ok(None) => Ok(None),
        Err(ProtocolError::Io(error)) => Err(invalid(format!("(read failed: {error})"))),
        Err(error) => Err(invalid(format!("({error})"))),
    }
}

async fn send_failure<W>(writer: &mut W, failure: MountFailure) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    tracing::warn!(error = %failure, "stick mount rejected");
    write_message(writer, &Reply::Failed(failure)).await
}

/// Waits until the service closes its end. Anything it sends meanwhile is discarded.
async fn wait_for_close<R>(reader: &mut BufReader<R>)
where
    R: AsyncRead + Unpin,
{
    loop {
        let consumed = match reader.fill_buf().await {
            Ok([]) | Err(_) => return,
            Ok(bytes) => bytes.len(),
        };
        reader.consume(consumed);
    }
}

/// A mounted stick, with the lock that keeps other connections off the same device.
struct MountSession<'a, M: MountSyscalls + ?Sized> {
    guard: MountGuard<'a, M>,
    filesystem: super::probe::Filesystem,
    numbers: DeviceNumbers,
    /// Held for the life of the mount; the lock is released when the file closes.
    _lock: File,
}

impl<'a, M: MountSyscalls + ?Sized> MountSession<'a, M> {
    fn open(
        config: &HelperConfig,
        syscalls: &'a M,
        device: &str,
        owner: Owner,
    ) -> Result<Self, MountFailure> {
        if !is_stick_device_name(device) {
            return Err(MountFailure::InvalidRequest {
                request: format!("(device name {device:?} is not an sd* disk or partition)"),
            });
        }
        let lock = lock_device(config, device)?;
        let (node, numbers) = open_usb_device(config, device)?;
        let filesystem = match probe(&read_start(node, device)?) {
            Probe::Filesystem(filesystem) => filesystem,
            other => return Err(probe_failure(device, other)),
        };
        let target = prepare_mount_point(config, syscalls, device)?;
        let source = config.devfs.join(device);
        let request = MountRequest::new(filesystem, &source, &target, owner);
        let guard = MountGuard::mount(syscalls, &request)
            .map_err(|errno| mount_failure(device, filesystem, errno))?;
        Ok(Self {
            guard,
            filesystem,
            numbers,
            _lock: lock,
        })
    }
}

fn folder_failure(path: &Path, error: impl ToString, fix: &str) -> MountFailure {
    MountFailure::MountFolder {
        path: path.to_owned(),
        error: error.to_string(),
        fix: fix.to_owned(),
    }
}

/// Takes the lock file `.NAME.lock` in the mount folder without waiting.
fn lock_device(config: &HelperConfig, device: &str) -> Result<File, MountFailure> {
    const TMPFILES_FIX: &str =
        "systemd-tmpfiles creates it from /usr/lib/tmpfiles.d/practicebox.conf";
    let root = &config.mount_root;
    match fs::symlink_metadata(root) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(folder_failure(root, "not a folder", TMPFILES_FIX)),
        Err(error) => return Err(folder_failure(root, error, TMPFILES_FIX)),
    }

    let path = root.join(format!(".{device}.lock"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|error| folder_failure(&path, error, "remove it; the helper creates it again"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(MountFailure::Busy {
            device: device.to_owned(),
        }),
        Err(TryLockError::Error(error)) => Err(folder_failure(&path, error, "remove it")),
    }
}

/// Checks that `device` is a USB disk or partition and opens its node for reading.
fn open_usb_device(
    config: &HelperConfig,
    device: &str,
) -> Result<(File, DeviceNumbers), MountFailure> {
    let missing = || MountFailure::DeviceMissing {
        device: device.to_owned(),
    };
    let not_usb = || MountFailure::NotUsbStorage {
        device: device.to_owned(),
    };

    // /sys/class/block/NAME links to ../../devices/.../block/...; only the link text matters.
    let class_link = config.sysfs.join("class/block").join(device);
    let link = fs::read_link(&class_link).map_err(|_| missing())?;
    if !is_usb_devpath(&link.to_string_lossy()) {
        return Err(not_usb());
    }
    let dev_attribute = fs::read_to_string(class_link.join("dev")).map_err(|_| missing())?;
    let numbers = parse_device_numbers(&dev_attribute).ok_or_else(not_usb)?;

    let node_path = config.devfs.join(device);
    let node = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&node_path)
        .map_err(|error| open_failure(device, error))?;
    let metadata = node
        .metadata()
        .map_err(|error| open_failure(device, error))?;
    let rdev = metadata.rdev();
    let same_device = metadata.file_type().is_block_device()
        && nix::sys::stat::major(rdev) == numbers.major
        && nix::sys::stat::minor(rdev) == numbers.minor;
    if !same_device {
        return Err(not_usb());
    }
    Ok((node, numbers))
}

/// Parses sysfs's `dev` attribute, `MAJOR:MINOR` and a newline.
fn parse_device_numbers(text: &str) -> Option<DeviceNumbers> {
    let (major, minor) = text.trim_end().split_once(':')?;
    Some(DeviceNumbers {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
    })
}

fn open_failure(device: &str, error: io::Error) -> MountFailure {
    let gone = error.kind() == io::ErrorKind::NotFound
        || matches!(
            error.raw_os_error().map(Errno::from_raw),
            Some(Errno::ENXIO | Errno::ENODEV | Errno::ENOMEDIUM)
        );
    if gone {
        MountFailure::DeviceMissing {
            device: device.to_owned(),
        }
    } else {
        MountFailure::ProbeFailed {
            device: device.to_owned(),
            error: error.to_string(),
        }
    }
}

/// Reads up to [`PROBE_LEN`] bytes from the start of the device.
fn read_start(node: File, device: &str) -> Result<Vec<u8>, MountFailure> {
    let mut bytes = Vec::with_capacity(PROBE_LEN);
    node.take(PROBE_LEN as u64)
        .read_to_end(&mut bytes)
        .map_err(|error| open_failure(device, error))?;
    Ok(bytes)
}

fn probe_failure(device: &str, probe: Probe) -> MountFailure {
    let device = device.to_owned();
    match probe {
        Probe::PartitionTable(table) => MountFailure::PartitionTable {
            device,
            table: match table {
                PartitionTable::Mbr => "MBR".to_owned(),
                PartitionTable::Gpt => "GPT".to_owned(),
            },
        },
        Probe::Unsupported(format) => MountFailure::UnsupportedFilesystem {
            device,
            format: format.name().to_owned(),
        },
        Probe::Unknown | Probe::Filesystem(_) => MountFailure::NoFilesystem { device },
    }
}

/// Creates `MOUNT_ROOT/NAME` (mode 0700) and detaches a mount a killed helper left there.
fn prepare_mount_point<M: MountSyscalls + ?Sized>(
    config: &HelperConfig,
    syscalls: &M,
    device: &str,
) -> Result<PathBuf, MountFailure> {
    let target = config.mount_root.join(device);
    match DirBuilder::new().mode(0o700).create(&target) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(folder_failure(&target, error, "check the mount folder")),
    }
    let fix = "remove it; the helper creates it again";
    let metadata =
        fs::symlink_metadata(&target).map_err(|error| folder_failure(&target, error, fix))?;
    if !metadata.is_dir() {
        return Err(folder_failure(&target, "not a folder", fix));
    }

    let root_device = fs::metadata(&config.mount_root)
        .map_err(|error| folder_failure(&config.mount_root, error, "check the mount folder"))?
        .dev();
    if metadata.dev() != root_device {
        tracing::warn!(path = %target.display(), "detaching a stick mount left by an earlier helper");
        syscalls
            .unmount(&target, MntFlags::MNT_DETACH)
            .map_err(|errno| folder_failure(&target, errno, "reboot the box"))?;
    }
    Ok(target)
}

fn mount_failure(device: &str, filesystem: super::probe::Filesystem, errno: Errno) -> MountFailure {
    match errno {
        Errno::ENOENT | Errno::ENXIO | Errno::ENOMEDIUM => MountFailure::DeviceMissing {
            device: device.to_owned(),
        },
        // mount(2): ENODEV means the file system type is not configured in the kernel.
        Errno::ENODEV => MountFailure::NoKernelDriver {
            device: device.to_owned(),
            filesystem: filesystem.name().to_owned(),
            kernel_type: filesystem.kernel_type().to_owned(),
        },
        other => MountFailure::MountFailed {
            device: device.to_owned(),
            filesystem: filesystem.name().to_owned(),
            errno: other as i32,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers() {
        let numbers = |major, minor| Some(DeviceNumbers { major, minor });
        assert_eq!(parse_device_numbers("8:1\n"), numbers(8, 1));
        assert_eq!(parse_device_numbers("259:12"), numbers(259, 12));
        assert_eq!(parse_device_numbers("8-1"), None);
        assert_eq!(parse_device_numbers("8:x"), None);
    }

    fn block_datagram(action: &str, major: u64, minor: u64) -> Vec<u8> {
        format!(
            "{action}@/devices/x/block/sda/sda1\0ACTION={action}\0SUBSYSTEM=block\0\
             MAJOR={major}\0MINOR={minor}\0DEVNAME=sda1\0DEVTYPE=partition\0"
        )
        .into_bytes()
    }

    #[test]
    fn removal_matches_numbers() {
        let device = DeviceNumbers { major: 8, minor: 1 };
        assert!(is_removal_of(&block_datagram("remove", 8, 1), device));
        assert!(!is_removal_of(&block_datagram("add", 8, 1), device));
        assert!(!is_removal_of(&block_datagram("remove", 8, 17), device));
        assert!(!is_removal_of(&block_datagram("remove", 179, 1), device));
        assert!(!is_removal_of(b"garbage", device));
    }

    #[test]
    fn mount_errno_mapping() {
        let filesystem = super::super::probe::Filesystem::ExFat;
        assert!(matches!(
            mount_failure("sda1", filesystem, Errno::ENODEV),
            MountFailure::NoKernelDriver { .. }
        ));
        assert!(matches!(
            mount_failure("sda1", filesystem, Errno::ENOENT),
            MountFailure::DeviceMissing { .. }
        ));
        let failure = mount_failure("sda1", filesystem, Errno::EINVAL);
        assert!(
            matches!(failure, MountFailure::MountFailed { errno, .. } if errno == nix::libc::EINVAL)
        );
        assert!(
            failure.to_string().contains("Invalid argument"),
            "{failure}"
        );
    }
}
