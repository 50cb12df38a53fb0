//! The stick watcher: kernel uevents from a `NETLINK_KOBJECT_UEVENT` socket, turned into
//! "stick inserted" and "stick removed" events.
//!
//! The socket joins the kernel's multicast group 1 and keeps only datagrams sent by the kernel
//! (port ID 0), so neither udevd nor another process can feed it events. The service unit must
//! allow `AF_NETLINK` (`RestrictAddressFamilies=`); no capability is needed to receive.
//!
//! A whole USB disk is reported only when it has no partitions, because the kernel announces a
//! disk's partitions (in their own uevents) right after the disk, and those are what get
//! mounted. A disk formatted without a partition table ("superfloppy") is reported itself.
//! Sticks already present when the watcher opens are reported first, from sysfs. The same scan
//! catches up when the kernel dropped events because the socket's buffer was full (`ENOBUFS`).

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recvfrom, setsockopt,
    socket, sockopt,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::error::StickError;
use super::uevent::{
    BlockDevice, BlockKind, StickUevent, classify_stick_uevent, is_stick_device_name,
    is_usb_devpath, parse_uevent,
};

/// The kernel's uevent multicast group (udev's re-broadcast is group 2).
const KERNEL_GROUP: u32 = 1;
/// Receive buffer requested for the socket, in bytes. The kernel caps it at
/// `net.core.rmem_max` (208 KiB by default); a stick's burst of events needs a few KiB.
const RECEIVE_BUFFER: usize = 1 << 20;
/// A kernel uevent is at most a 2 KiB field buffer plus the `ACTION@DEVPATH` header.
const DATAGRAM_BUFFER: usize = 16 * 1024;

/// An event reported by the watcher.
#[derive(Debug)]
pub enum StickEvent {
    /// A USB disk or partition to mount appeared.
    Inserted(BlockDevice),
    /// A device reported as inserted went away.
    Removed(BlockDevice),
    /// Receiving failed; the watcher goes on with the next call.
    Error(StickError),
}

/// Watches the kernel's uevents for USB sticks.
#[derive(Debug)]
pub struct StickWatcher {
    socket: UeventSocket,
    tracker: StickTracker,
    pending: VecDeque<StickEvent>,
}

impl StickWatcher {
    /// Opens the uevent socket, then queues an [`StickEvent::Inserted`] for each stick already
    /// present. The socket opens first so that no event falls between the two.
    pub fn open() -> Result<Self, StickError> {
        Self::with_sysfs("/sys")
    }

    /// Same as [`open`](Self::open), with sysfs at `sysfs` for the scans.
    pub fn with_sysfs(sysfs: impl Into<PathBuf>) -> Result<Self, StickError> {
        let socket = UeventSocket::open().map_err(|source| StickError::Uevents { source })?;
        let mut tracker = StickTracker::new(sysfs);
        let pending = tracker
            .rescan()
            .map_err(|source| StickError::Uevents { source })?
            .into();
        Ok(Self {
            socket,
            tracker,
            pending,
        })
    }

    /// Waits for the next event. Cancel-safe: a datagram is either consumed whole or left in
    /// the socket.
    pub async fn next_event(&mut self) -> StickEvent {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return event;
            }
            match self.socket.receive().await {
                Ok(datagram) => {
                    if let Some(event) = self.tracker.handle_datagram(datagram) {
                        return event;
                    }
                }
                Err(error) if error.raw_os_error() == Some(Errno::ENOBUFS as i32) => {
                    tracing::warn!("kernel uevents were dropped (socket buffer full); rescanning");
                    match self.tracker.rescan() {
                        Ok(events) => self.pending.extend(events),
                        Err(source) => return StickEvent::Error(StickError::Uevents { source }),
                    }
                }
                Err(source) => return StickEvent::Error(StickError::Uevents { source }),
            }
        }
    }
}

/// A netlink socket bound to the kernel's uevent group.
#[derive(Debug)]
pub struct UeventSocket {
    fd: AsyncFd<OwnedFd>,
    buffer: Vec<u8>,
}

impl UeventSocket {
    /// Opens and binds the socket; must run inside a tokio runtime.
    pub fn open() -> io::Result<Self> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            SockProtocol::NetlinkKObjectUEvent,
        )?;
        setsockopt(&fd, sockopt::RcvBuf, &RECEIVE_BUFFER)?;
        // Port ID 0 lets the kernel pick a unique one.
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, KERNEL_GROUP))?;
        Ok(Self {
            fd: register_readable(fd)?,
            buffer: vec![0; DATAGRAM_BUFFER],
        })
    }

    /// Waits for the next datagram sent by the kernel; others are dropped with a warning.
    pub async fn receive(&mut self) -> io::Result<&[u8]> {
        let length = loop {
            let mut guard = self.fd.readable().await?;
            let received = guard.try_io(|fd| {
                recvfrom::<NetlinkAddr>(fd.as_raw_fd(), &mut self.buffer).map_err(io::Error::from)
            });
            let Ok(result) = received else {
                continue;
            };
            let (length, sender) = result?;
            match sender {
                Some(address) if address.pid() == 0 => break length,
                other => {
                    let port = other.map(|address| address.pid());
                    tracing::warn!(?port, "dropped a uevent datagram not sent by the kernel");
                }
            }
        };
        Ok(&self.buffer[..length])
    }
}

/// Registers the socket with tokio's reactor. tokio 1.54 deprecated the safe constructor
/// because an arbitrary `AsRawFd` type may close or swap its descriptor. An `OwnedFd` moved
/// into the `AsyncFd` cannot, and the crate forbids the `unsafe` that the replacement needs.
#[expect(
    deprecated,
    reason = "sound for an OwnedFd, and `AsyncFd::register_with_interest` needs `unsafe`"
)]
fn register_readable(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    AsyncFd::with_interest(fd, Interest::READABLE)
}

/// The state behind [`StickWatcher`]: which sticks were reported, and sysfs to look at disks.
#[derive(Debug)]
pub struct StickTracker {
    sysfs: PathBuf,
    present: BTreeMap<String, BlockDevice>,
}

impl StickTracker {
    pub fn new(sysfs: impl Into<PathBuf>) -> Self {
        Self {
            sysfs: sysfs.into(),
            present: BTreeMap::new(),
        }
    }

    /// Turns one datagram into an event, or `None` for datagrams that concern no stick.
    pub fn handle_datagram(&mut self, datagram: &[u8]) -> Option<StickEvent> {
        let uevent = match parse_uevent(datagram) {
            Ok(uevent) => uevent,
            Err(error) => {
                tracing::warn!(%error, length = datagram.len(), "ignored an invalid uevent");
                return None;
            }
        };
        match classify_stick_uevent(&uevent)? {
            StickUevent::Added(device) => self.add(device),
            StickUevent::Removed(device) => self.remove(&device.name),
        }
    }

    fn add(&mut self, device: BlockDevice) -> Option<StickEvent> {
        if device.kind == BlockKind::Disk && disk_has_partitions(&self.sysfs, &device.name) {
            return None;
        }
        if self.present.get(&device.name) == Some(&device) {
            return None;
        }
        tracing::info!(device = device.name, kind = ?device.kind, "USB stick inserted");
        self.present.insert(device.name.clone(), device.clone());
        Some(StickEvent::Inserted(device))
    }

    fn remove(&mut self, name: &str) -> Option<StickEvent> {
        let device = self.present.remove(name)?;
        tracing::info!(device = device.name, "USB stick removed");
        Some(StickEvent::Removed(device))
    }

    /// Compares the reported sticks with sysfs and returns the events that make them agree:
    /// removals first, then insertions.
    pub fn rescan(&mut self) -> io::Result<Vec<StickEvent>> {
        let found = scan_sticks(&self.sysfs)?;
        let gone: Vec<String> = self
            .present
            .keys()
            .filter(|name| !found.iter().any(|device| &device.name == *name))
            .cloned()
            .collect();

        let mut events = Vec::new();
        for name in gone {
            events.extend(self.remove(&name));
        }
        for device in found {
            events.extend(self.add(device));
        }
        Ok(events)
    }
}

/// Lists the USB disks and partitions in `SYSFS/class/block`.
fn scan_sticks(sysfs: &Path) -> io::Result<Vec<BlockDevice>> {
    let class = sysfs.join("class/block");
    let mut devices = Vec::new();
    for entry in fs::read_dir(&class)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !is_stick_device_name(&name) {
            continue;
        }
        // The entry links to ../../devices/...; the devpath is the part from /devices on.
        let Ok(link) = fs::read_link(entry.path()) else {
            continue;
        };
        let link = link.to_string_lossy().into_owned();
        let Some(start) = link.find("/devices/") else {
            continue;
        };
        let devpath = link[start..].to_owned();
        if !is_usb_devpath(&devpath) {
            continue;
        }
        let kind = if entry.path().join("partition").exists() {
            BlockKind::Partition
        } else {
            BlockKind::Disk
        };
        devices.push(BlockDevice {
            name,
            kind,
            devpath,
        });
    }
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(devices)
}

/// Returns whether the disk `name` has partitions: sysfs lists them as subfolders of the disk that
/// contain a `partition` attribute.
fn disk_has_partitions(sysfs: &Path, name: &str) -> bool {
    let Ok(entries) = fs::read_dir(sysfs.join("class/block").join(name)) else {
        return false;
    };
    entries.flatten().any(|entry| {
        entry.file_name().to_string_lossy().starts_with(name)
            && entry.path().join("partition").exists()
    })
}
