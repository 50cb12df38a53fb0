//! The USB certificate stick: noticing it, mounting it read-only, finding the eHealth
//! keystores (`*.p12`, `*.acc-p12`) on it, and unmounting it again.
//!
//! # Flow
//!
//! 1. [`StickWatcher`] reads kernel uevents from a netlink socket (no libudev, no udevd needed)
//!    and reports [`StickEvent::Inserted`] for each USB partition, or USB disk without a
//!    partition table, and [`StickEvent::Removed`] when it goes away.
//! 2. [`StickMounter::mount`] sends the privileged mount helper a request to mount that device
//!    and returns a [`MountedStick`].
//! 3. [`MountedStick::certificates`] lists the certificate files, newest first, and
//!    [`MountedStick::read`] reads the chosen one into a buffer that wipes itself.
//! 4. [`MountedStick::release`] (at the end of the wizard) or dropping the `MountedStick` (on
//!    removal, on any error, or when the service stops) makes the helper unmount the stick. The
//!    helper also watches the kernel's uevents and detaches the mount of a pulled stick by
//!    itself.
//!
//! In tests and in the demo, a [`FolderStick`] stands in for a mounted stick: the same search
//! and read over a plain folder.
//!
//! # Who mounts
//!
//! The service runs as the `practicebox` account with an empty capability set, so it cannot
//! mount. A separate binary, `practicebox-stick-helper`, does the mount for it
//! ([`helper`]): systemd starts one instance per connection on
//! `/run/practicebox-stick/helper.sock` (`practicebox-stick.socket`, `Accept=yes`, the socket
//! owned by the service account with mode 0600). The helper runs as root with `CAP_SYS_ADMIN`
//! as its only capability and the USB disk nodes (`block-sd`) as its only devices, and
//! accepts one request: the kernel name of a USB disk or partition, which it checks in sysfs.
//! It mounts read-only with `nosuid,nodev,noexec,nosymfollow` under
//! `/run/practicebox-stick/` (root:practicebox, mode 0750, so only the service reaches the
//! files). The mount lasts no longer than the connection.
//!
//! Chosen over the alternatives because:
//! - `systemd-mount` from a udev rule mounts well and unmounts on removal, but the service
//!   could not end the mount when the wizard ends, and the udev rule depends on udevd's blkid
//!   results instead of checking the device itself;
//! - `CAP_SYS_ADMIN` in the service itself would give the whole network-facing service the
//!   broadest capability Linux has;
//! - udisks2 brings D-Bus and polkit onto a headless appliance.
//!
//! The helper's unit cannot use `ProtectSystem=`, `PrivateTmp=` or any other option that gives
//! it its own mount namespace, because its mounts must reach the service's namespace. The
//! service's `ProtectSystem=strict` namespace receives them, because systemd sets up such
//! namespaces as slaves of the host's.
//!
//! `image/test` boots the image under qemu with a FAT stick on its USB bus, and `practicebox
//! stick list`, run there as the service account, mounts it through the socket-activated helper
//! and finds its keystore. NOTE: that command runs in the host's mount namespace, so the
//! propagation into the service's own namespace has not run in the image. The tests cover it
//! only on the helper's code, with real ext4 mounts of loop devices in a private namespace.

mod client;
pub mod command;
mod error;
mod folder;
pub mod helper;
pub mod mount;
pub mod probe;
pub mod protocol;
pub mod uevent;
mod watcher;

pub use client::{MountedStick, StickMounter};
pub use error::{MountFailure, StickError};
pub use folder::{
    CertificateKind, Discovery, DiscoveryLimits, FolderStick, SkipReason, SkippedFile,
    StickCertificate, display_path,
};
pub use uevent::{BlockDevice, BlockKind};
pub use watcher::{StickEvent, StickTracker, StickWatcher, UeventSocket};
