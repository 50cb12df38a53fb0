//! The mount(2) call for a stick: flags, per-file-system options, and a guard that unmounts.
//!
//! Every stick is mounted read-only, with `nosuid`, `nodev`, `noexec` and `nosymfollow`
//! (Linux 5.10 and later: path resolution refuses every symbolic link on the stick). The FAT
//! family, exFAT and NTFS have no owners of their own, so the mount options make the files
//! belong to the service account with modes `0400` (files) and `0500` (folders). ext2/3/4 keep
//! the owners stored on the stick and are mounted with `noload`, so that a journal left dirty by
//! another computer is not replayed onto the stick.
//!
//! The system calls sit behind [`MountSyscalls`] so that the flags and options of each file
//! system are tested without privileges; [`KernelMounts`] makes the real calls.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use super::probe::Filesystem;

/// Returns the flags of every stick mount.
pub fn stick_mount_flags() -> MsFlags {
    MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | MsFlags::from_bits_retain(nix::libc::MS_NOSYMFOLLOW)
}

/// The account that owns the files of a stick without owners of its own: the service's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// The arguments of one mount(2) call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRequest {
    /// The device node, for example `/dev/sda1`.
    pub source: PathBuf,
    /// The mount point.
    pub target: PathBuf,
    /// The kernel's file system type, for example `vfat`.
    pub fstype: &'static str,
    pub flags: MsFlags,
    /// The file system's own options, comma-separated.
    pub options: String,
}

impl MountRequest {
    /// Builds the mount of `filesystem` from `source` at `target`, owned by `owner` where the
    /// file system has no owners of its own.
    pub fn new(filesystem: Filesystem, source: &Path, target: &Path, owner: Owner) -> Self {
        Self {
            source: source.to_owned(),
            target: target.to_owned(),
            fstype: filesystem.kernel_type(),
            flags: stick_mount_flags(),
            options: filesystem_options(filesystem, owner),
        }
    }
}

/// Returns the file-system-specific options. Modes: files `0400`, folders `0500`, both for the owner
/// only; the stick is read-only, so write bits would mean nothing.
fn filesystem_options(filesystem: Filesystem, owner: Owner) -> String {
    let Owner { uid, gid } = owner;
    let ownership = format!("uid={uid},gid={gid},fmask=0377,dmask=0277");
    match filesystem {
        // utf8: file names with accents come out as UTF-8 instead of the kernel's default
        // code page (iso8859-1 on Debian's kernel).
        Filesystem::Fat12 | Filesystem::Fat16 | Filesystem::Fat32 => format!("{ownership},utf8"),
        Filesystem::ExFat => format!("{ownership},iocharset=utf8"),
        // NOTE: ntfs3 in Debian 12's kernel (6.1) takes uid, gid, fmask and dmask [I, from the
        // kernel's ntfs3 documentation]; not yet mounted on the box.
        Filesystem::Ntfs => ownership,
        Filesystem::Ext2 | Filesystem::Ext3 | Filesystem::Ext4 => "noload".to_owned(),
    }
}

/// mount(2) and umount2(2), or a stand-in that records them.
pub trait MountSyscalls: Send + Sync {
    fn mount(&self, request: &MountRequest) -> Result<(), Errno>;
    fn unmount(&self, target: &Path, flags: MntFlags) -> Result<(), Errno>;
}

/// The kernel's mount(2) and umount2(2); needs `CAP_SYS_ADMIN`.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelMounts;

impl MountSyscalls for KernelMounts {
    fn mount(&self, request: &MountRequest) -> Result<(), Errno> {
        nix::mount::mount(
            Some(request.source.as_path()),
            request.target.as_path(),
            Some(request.fstype),
            request.flags,
            Some(request.options.as_str()),
        )
    }

    fn unmount(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        nix::mount::umount2(target, flags)
    }
}

/// A mounted stick. Dropping the guard detaches the mount lazily (`MNT_DETACH`): the mount
/// disappears from the tree at once, and the kernel releases the file system when the last
/// open file on it is closed. A pulled stick needs exactly that.
#[derive(Debug)]
pub struct MountGuard<'a, M: MountSyscalls + ?Sized> {
    syscalls: &'a M,
    target: PathBuf,
    mounted: bool,
}

impl<'a, M: MountSyscalls + ?Sized> MountGuard<'a, M> {
    /// Mounts with the arguments of `request` and returns the guard of the new mount.
    pub fn mount(syscalls: &'a M, request: &MountRequest) -> Result<Self, Errno> {
        syscalls.mount(request)?;
        Ok(Self {
            syscalls,
            target: request.target.clone(),
            mounted: true,
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Detaches the mount lazily now, and returns the error that dropping the guard only logs.
    pub fn detach(mut self) -> Result<(), Errno> {
        self.mounted = false;
        self.syscalls.unmount(&self.target, MntFlags::MNT_DETACH)
    }

    /// Unmounts now. A mount still in use (`EBUSY`) is detached lazily instead.
    pub fn unmount(mut self) -> Result<(), Errno> {
        self.mounted = false;
        match self.syscalls.unmount(&self.target, MntFlags::empty()) {
            Err(Errno::EBUSY) => self.syscalls.unmount(&self.target, MntFlags::MNT_DETACH),
            other => other,
        }
    }
}

impl<M: MountSyscalls + ?Sized> Drop for MountGuard<'_, M> {
    fn drop(&mut self) {
        if !self.mounted {
            return;
        }
        if let Err(errno) = self.syscalls.unmount(&self.target, MntFlags::MNT_DETACH) {
            tracing::error!(
                target_path = %self.target.display(),
                %errno,
                "detaching the stick mount failed; it stays mounted until the next request for \
                 the same device or a reboot"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    const OWNER: Owner = Owner { uid: 998, gid: 997 };

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Call {
        Mount(MountRequest),
        Unmount(PathBuf, MntFlags),
    }

    /// Records the calls; unmounting fails with `busy_error` once when it is set.
    #[derive(Debug, Default)]
    struct RecordingMounts {
        calls: Mutex<Vec<Call>>,
        busy_once: Mutex<bool>,
    }

    impl MountSyscalls for RecordingMounts {
        fn mount(&self, request: &MountRequest) -> Result<(), Errno> {
            self.calls
                .lock()
                .unwrap()
                .push(Call::Mount(request.clone()));
            Ok(())
        }

        fn unmount(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
            self.calls
                .lock()
                .unwrap()
                .push(Call::Unmount(target.to_owned(), flags));
            let mut busy = self.busy_once.lock().unwrap();
            if *busy {
                *busy = false;
                return Err(Errno::EBUSY);
            }
            Ok(())
        }
    }

    fn request(filesystem: Filesystem) -> MountRequest {
        MountRequest::new(
            filesystem,
            Path::new("/dev/sda1"),
            Path::new("/run/practicebox-stick/sda1"),
            OWNER,
        )
    }

    #[test]
    fn flags_read_only_and_restricted() {
        let flags = stick_mount_flags();
        for flag in [
            MsFlags::MS_RDONLY,
            MsFlags::MS_NOSUID,
            MsFlags::MS_NODEV,
            MsFlags::MS_NOEXEC,
        ] {
            assert!(flags.contains(flag), "{flag:?} missing from {flags:?}");
        }
        assert_eq!(
            flags.bits() & nix::libc::MS_NOSYMFOLLOW,
            nix::libc::MS_NOSYMFOLLOW
        );
        assert!(!flags.contains(MsFlags::MS_BIND));
        assert!(!flags.contains(MsFlags::MS_REMOUNT));
    }

    #[test]
    fn fat_options_set_owner_and_modes() {
        for filesystem in [Filesystem::Fat12, Filesystem::Fat16, Filesystem::Fat32] {
            let request = request(filesystem);
            assert_eq!(request.fstype, "vfat");
            assert_eq!(
                request.options,
                "uid=998,gid=997,fmask=0377,dmask=0277,utf8"
            );
            assert_eq!(request.flags, stick_mount_flags());
        }
    }

    #[test]
    fn exfat_options_use_iocharset() {
        let request = request(Filesystem::ExFat);
        assert_eq!(request.fstype, "exfat");
        assert_eq!(
            request.options,
            "uid=998,gid=997,fmask=0377,dmask=0277,iocharset=utf8"
        );
    }

    #[test]
    fn ntfs_options_set_owner() {
        let request = request(Filesystem::Ntfs);
        assert_eq!(request.fstype, "ntfs3");
        assert_eq!(request.options, "uid=998,gid=997,fmask=0377,dmask=0277");
    }

    #[test]
    fn ext_options_skip_journal_replay() {
        for filesystem in [Filesystem::Ext2, Filesystem::Ext3, Filesystem::Ext4] {
            let request = request(filesystem);
            assert_eq!(request.fstype, "ext4");
            assert_eq!(request.options, "noload");
        }
    }

    #[test]
    fn guard_drop_detaches_lazily() {
        let syscalls = RecordingMounts::default();
        let request = request(Filesystem::Fat32);
        let guard = MountGuard::mount(&syscalls, &request).unwrap();
        drop(guard);
        let calls = syscalls.calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            vec![
                Call::Mount(request.clone()),
                Call::Unmount(request.target.clone(), MntFlags::MNT_DETACH),
            ]
        );
    }

    #[test]
    fn guard_unmount_once() {
        let syscalls = RecordingMounts::default();
        let request = request(Filesystem::Fat32);
        MountGuard::mount(&syscalls, &request)
            .unwrap()
            .unmount()
            .unwrap();
        let calls = syscalls.calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            vec![
                Call::Mount(request.clone()),
                Call::Unmount(request.target.clone(), MntFlags::empty()),
            ]
        );
    }

    #[test]
    fn guard_detach_is_lazy() {
        let syscalls = RecordingMounts::default();
        let request = request(Filesystem::ExFat);
        MountGuard::mount(&syscalls, &request)
            .unwrap()
            .detach()
            .unwrap();
        let calls = syscalls.calls.lock().unwrap().clone();
        assert_eq!(
            calls[1..],
            [Call::Unmount(request.target.clone(), MntFlags::MNT_DETACH)]
        );
    }

    #[test]
    fn guard_unmount_busy_falls_back_to_detach() {
        let syscalls = RecordingMounts::default();
        *syscalls.busy_once.lock().unwrap() = true;
        let request = request(Filesystem::Fat32);
        MountGuard::mount(&syscalls, &request)
            .unwrap()
            .unmount()
            .unwrap();
        let calls = syscalls.calls.lock().unwrap().clone();
        assert_eq!(
            calls[1..],
            [
                Call::Unmount(request.target.clone(), MntFlags::empty()),
                Call::Unmount(request.target.clone(), MntFlags::MNT_DETACH),
            ]
        );
    }
}
