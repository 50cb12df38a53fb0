//! Atomic, durable file placement on the share.
//!
//! A file is written under a hidden staging name (`.pbx-staging-<pid>-<n>`) in
//! its final directory, fsynced, then renamed to its final name without
//! replacing an existing file, and the directory is fsynced. Samba vetoes the
//! staging names, so the medical record software only ever lists whole files.
//! The `_unsynced` variants of [`StagedFile::place`] and [`StagedFile::replace`]
//! leave the directory `fsync` to the caller, so that one `fsync` covers every
//! file placed in that directory since the last one.
//!
//! The rename uses `renameat2(RENAME_NOREPLACE)`. Where the filesystem or the C
//! library lacks it, a hard link to the final name followed by removal of the
//! staging name gives the same guarantee. When the final name is taken, an
//! identical file there counts as already delivered (a delivery repeated after
//! a crash), and a different file sends the search on to `-2`, `-3`, ...
//!
//! # Symbolic links on the share
//!
//! Anyone with write access to the share can replace a doctor folder, or a
//! folder below it, with a symbolic link (to `/etc`, say). Delivery must not
//! write through such a link. Every folder below the share root is therefore
//! opened with `openat(O_DIRECTORY | O_NOFOLLOW)` relative to the descriptor
//! of its parent, and every file operation (create, rename, link, unlink,
//! fsync) goes through the descriptor of the folder it happens in. A link
//! swapped in after a folder was opened changes nothing, since the descriptor
//! still names the real folder, and a link in place when a folder is opened is
//! reported as [`DeliveryError::SymlinkedFolder`]. Only the share root itself,
//! which the configuration names, may be reached through a link.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, linkat, unlinkat};
use sha2::{Digest, Sha256};

use super::DeliveryError;
use super::names::numbered;

/// Prefix of staging files; the Samba configuration vetoes `.pbx-staging-*`.
pub const STAGING_PREFIX: &str = ".pbx-staging-";

/// How many numbered names are tried before giving up.
const MAX_CANDIDATES: u32 = 99;

/// Maximum folder depth below the share root that [`cleanup_staging`] searches.
const CLEANUP_DEPTH: usize = 6;

/// Mode of new folders and files, before the umask (the same as `mkdir` and `open` use).
const FOLDER_MODE: u32 = 0o777;
const FILE_MODE: u32 = 0o666;

/// Distinguishes staging files of this process.
static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An open folder: its descriptor, and the path it was reached by, for messages.
#[derive(Debug)]
pub struct Folder {
    fd: OwnedFd,
    path: PathBuf,
}

impl Folder {
    /// Opens `path` as a folder. Symbolic links in `path` are followed, so only
    /// use it for folders that the configuration names (the share root, the
    /// data folders).
    pub fn open(path: &Path) -> Result<Folder, DeliveryError> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = openat(AT_FDCWD, path, flags, Mode::empty())
            .map_err(|errno| DeliveryError::from_io("open folder", path, errno.into()))?;
        Ok(Folder {
            fd,
            path: path.to_owned(),
        })
    }

    /// Opens the child folder `name`, creating it (and fsyncing this folder)
    /// when it is missing. A symbolic link or a file under that name is an
    /// error, never followed.
    pub fn child(&self, name: &str) -> Result<Folder, DeliveryError> {
        let path = self.path.join(name);
        match mkdirat(self.fd.as_fd(), name, Mode::from_bits_truncate(FOLDER_MODE)) {
            Ok(()) => self.sync()?,
            Err(Errno::EEXIST) => {}
            Err(errno) => return Err(DeliveryError::from_io("create folder", &path, errno.into())),
        }

        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match openat(self.fd.as_fd(), name, flags, Mode::empty()) {
            Ok(fd) => Ok(Folder { fd, path }),
            Err(Errno::ELOOP | Errno::ENOTDIR) => Err(self.not_a_folder(name, path)),
            Err(errno) => Err(DeliveryError::from_io("open folder", &path, errno.into())),
        }
    }

    /// Returns the error for the non-folder at `name`. This check only picks the
    /// wording, because the failed open is what keeps delivery out.
    fn not_a_folder(&self, name: &str, path: PathBuf) -> DeliveryError {
        let is_link =
            fstatat(self.fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|stat| {
                SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
            });
        if is_link {
            DeliveryError::SymlinkedFolder { path }
        } else {
            DeliveryError::NotAFolder { path }
        }
    }

    /// Returns the path this folder was reached by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fsyncs the folder, so the names created or renamed in it survive a power cut.
    pub fn sync(&self) -> Result<(), DeliveryError> {
        nix::unistd::fsync(self.fd.as_fd())
            .map_err(|errno| DeliveryError::from_io("fsync", &self.path, errno.into()))
    }

    fn try_clone(&self) -> Result<Folder, DeliveryError> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|err| DeliveryError::from_io("duplicate", &self.path, err))?;
        Ok(Folder {
            fd,
            path: self.path.clone(),
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A fully written and fsynced file under a staging name. Dropping it removes
/// the staging file.
#[derive(Debug)]
pub struct StagedFile {
    folder: Folder,
    staging_name: String,
    sha256: [u8; 32],
    size: u64,
    /// False once the staging name is gone (renamed or removed).
    pending: bool,
}

/// The final name of a placed file, and whether it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Written under this name.
    Written(String),
    /// An identical file already had this name; nothing was written.
    AlreadyPresent(String),
}

impl Placement {
    /// Returns the final name.
    pub fn name(&self) -> &str {
        match self {
            Placement::Written(name) | Placement::AlreadyPresent(name) => name,
        }
    }
}

/// Writes `bytes` to a new staging file in the folder at `dir` and fsyncs it.
/// Symbolic links in `dir` are followed, as in [`Folder::open`].
pub fn stage(dir: &Path, bytes: &[u8]) -> Result<StagedFile, DeliveryError> {
    stage_in(&Folder::open(dir)?, bytes)
}

/// Writes `bytes` to a new staging file in `folder` and fsyncs it.
pub fn stage_in(folder: &Folder, bytes: &[u8]) -> Result<StagedFile, DeliveryError> {
    let (staging_name, mut file) = create_staging(folder)?;
    let staged = StagedFile {
        folder: folder.try_clone()?,
        staging_name,
        sha256: Sha256::digest(bytes).into(),
        size: bytes.len() as u64,
        pending: true,
    };

    let path = staged.path();
    file.write_all(bytes)
        .map_err(|err| DeliveryError::from_io("write", &path, err))?;
    file.sync_all()
        .map_err(|err| DeliveryError::from_io("fsync", &path, err))?;
    Ok(staged)
}

/// Creates a staging file in `folder` with a name no other file has.
fn create_staging(folder: &Folder) -> Result<(String, File), DeliveryError> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    loop {
        let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{STAGING_PREFIX}{}-{n}", std::process::id());
        match openat(
            folder.fd(),
            name.as_str(),
            flags,
            Mode::from_bits_truncate(FILE_MODE),
        ) {
            Ok(fd) => return Ok((name, File::from(fd))),
            // A leftover from an earlier boot with the same process id.
            Err(Errno::EEXIST) => continue,
            Err(errno) => {
                return Err(DeliveryError::from_io(
                    "create",
                    &folder.path.join(&name),
                    errno.into(),
                ));
            }
        }
    }
}

impl StagedFile {
    /// Returns the staging file's path.
    pub fn path(&self) -> PathBuf {
        self.folder.path.join(&self.staging_name)
    }

    /// Returns the hex SHA-256 of the staged bytes.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Returns the number of staged bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Moves the file to `name`, or to the first free `name-N`, never replacing
    /// another file, and fsyncs the directory. A candidate that already contains
    /// the same bytes is taken as this file, delivered before.
    pub fn place(self, name: &str) -> Result<Placement, DeliveryError> {
        let folder = self.folder.try_clone()?;
        let placement = self.place_unsynced(name)?;
        folder.sync()?;
        Ok(placement)
    }

    /// Does what [`StagedFile::place`] does except the directory `fsync`: the file's bytes are
    /// durable, its new name only once the caller has fsynced the directory.
    pub fn place_unsynced(mut self, name: &str) -> Result<Placement, DeliveryError> {
        for n in 1..=MAX_CANDIDATES {
            let candidate = numbered(name, n);
            let target = self.folder.path.join(&candidate);
            let renamed = rename_noreplace_at(
                self.folder.fd(),
                Path::new(&self.staging_name),
                self.folder.fd(),
                Path::new(&candidate),
            );
            match renamed {
                Ok(()) => {
                    self.pending = false;
                    return Ok(Placement::Written(candidate));
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    if self.same_content(&candidate)? {
                        self.discard()?;
                        return Ok(Placement::AlreadyPresent(candidate));
                    }
                }
                Err(err) => return Err(DeliveryError::from_io("rename", &target, err)),
            }
        }
        Err(DeliveryError::NamesExhausted {
            dir: self.folder.path.clone(),
            name: name.to_owned(),
            tried: MAX_CANDIDATES,
        })
    }

    /// Moves the file to `name`, replacing what is there (a symbolic link is
    /// replaced, not followed), and fsyncs the directory. Only for files
    /// PracticeBox owns, such as sidecars.
    pub fn replace(self, name: &str) -> Result<(), DeliveryError> {
        let folder = self.folder.try_clone()?;
        self.replace_unsynced(name)?;
        folder.sync()
    }

    /// Does what [`StagedFile::replace`] does except the directory `fsync`.
    pub fn replace_unsynced(mut self, name: &str) -> Result<(), DeliveryError> {
        let fd = self.folder.fd();
        nix::fcntl::renameat(fd, self.staging_name.as_str(), fd, name).map_err(|errno| {
            DeliveryError::from_io("rename", &self.folder.path.join(name), errno.into())
        })?;
        self.pending = false;
        Ok(())
    }

    /// Removes the staging file. A removal lost in a power cut leaves a staging file, which
    /// [`cleanup_staging`] removes at the next start, so the directory is not fsynced here.
    fn discard(&mut self) -> Result<(), DeliveryError> {
        unlinkat(
            self.folder.fd(),
            self.staging_name.as_str(),
            UnlinkatFlags::NoRemoveDir,
        )
        .map_err(|errno| DeliveryError::from_io("remove", &self.path(), errno.into()))?;
        self.pending = false;
        Ok(())
    }

    /// Tells whether `name` in the folder is a regular file with exactly the
    /// staged bytes. A symbolic link is never the same file.
    fn same_content(&self, name: &str) -> Result<bool, DeliveryError> {
        let path = self.folder.path.join(name);
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = match openat(self.folder.fd(), name, flags, Mode::empty()) {
            Ok(fd) => fd,
            // A symbolic link (ELOOP) or a name that vanished meanwhile.
            Err(Errno::ELOOP | Errno::ENOENT) => return Ok(false),
            Err(errno) => return Err(DeliveryError::from_io("open", &path, errno.into())),
        };
        let stat = fstat(fd.as_fd())
            .map_err(|errno| DeliveryError::from_io("stat", &path, errno.into()))?;
        let is_file = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG;
        if !is_file || u64::try_from(stat.st_size).ok() != Some(self.size) {
            return Ok(false);
        }

        let mut hasher = Sha256::new();
        let mut file = File::from(fd);
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = file
                .read(&mut buffer)
                .map_err(|err| DeliveryError::from_io("read", &path, err))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        Ok(<[u8; 32]>::from(hasher.finalize()) == self.sha256)
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.pending {
            return;
        }
        let removed = unlinkat(
            self.folder.fd(),
            self.staging_name.as_str(),
            UnlinkatFlags::NoRemoveDir,
        );
        if let Err(err) = removed {
            tracing::warn!(path = %self.path().display(), %err, "cannot remove staging file");
        }
    }
}

/// Renames `from` to `to` unless `to` exists; fails with `AlreadyExists` then.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    rename_noreplace_at(AT_FDCWD, from, AT_FDCWD, to)
}

/// Renames `from` (relative to `from_dir`) to `to` (relative to `to_dir`)
/// unless `to` exists, with the hard-link fallback of the module docs.
fn rename_noreplace_at(
    from_dir: BorrowedFd<'_>,
    from: &Path,
    to_dir: BorrowedFd<'_>,
    to: &Path,
) -> io::Result<()> {
    match renameat2_noreplace(from_dir, from, to_dir, to) {
        Err(err)
            if matches!(
                Errno::from_raw(err.raw_os_error().unwrap_or(0)),
                Errno::EINVAL | Errno::ENOSYS
            ) =>
        {
            link_noreplace_at(from_dir, from, to_dir, to)
        }
        other => other,
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn renameat2_noreplace(
    from_dir: BorrowedFd<'_>,
    from: &Path,
    to_dir: BorrowedFd<'_>,
    to: &Path,
) -> io::Result<()> {
    use nix::fcntl::{RenameFlags, renameat2};

    renameat2(from_dir, from, to_dir, to, RenameFlags::RENAME_NOREPLACE).map_err(io::Error::from)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn renameat2_noreplace(
    _from_dir: BorrowedFd<'_>,
    _from: &Path,
    _to_dir: BorrowedFd<'_>,
    _to: &Path,
) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(Errno::ENOSYS as i32))
}

/// Links `from` as `to`, which fails if `to` exists, then removes `from`. This
/// is the fallback of [`rename_noreplace`].
pub fn link_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    link_noreplace_at(AT_FDCWD, from, AT_FDCWD, to)
}

fn link_noreplace_at(
    from_dir: BorrowedFd<'_>,
    from: &Path,
    to_dir: BorrowedFd<'_>,
    to: &Path,
) -> io::Result<()> {
    linkat(from_dir, from, to_dir, to, AtFlags::empty())?;
    unlinkat(from_dir, from, UnlinkatFlags::NoRemoveDir)?;
    Ok(())
}

/// Fsyncs the folder at `dir`, reached by path (following links, as
/// [`Folder::open`]), so the names created or renamed in it survive a power cut.
pub fn fsync_dir(dir: &Path) -> Result<(), DeliveryError> {
    Folder::open(dir)?.sync()
}

/// Opens `base` (following links, as [`Folder::open`]) and then each of
/// `components` below it, creating the missing ones and refusing symbolic
/// links (see the module docs). Returns the innermost folder.
pub fn ensure_dirs(base: &Path, components: &[&str]) -> Result<Folder, DeliveryError> {
    let mut folder = Folder::open(base)?;
    for component in components {
        folder = folder.child(component)?;
    }
    Ok(folder)
}

/// Removes the staging files a crash left below `root`. Call it at start-up,
/// before any delivery runs. Returns how many files were removed. Symbolic
/// links below `root` are not followed.
pub fn cleanup_staging(root: &Path) -> Result<usize, DeliveryError> {
    let mut removed = 0;
    let mut stack = vec![(Folder::open(root)?, 0)];
    while let Some((folder, depth)) = stack.pop() {
        let mut removed_here = 0;
        for (name, file_type) in list(&folder)? {
            let text = name.to_string_lossy();
            if text.starts_with(STAGING_PREFIX) && is_regular_file(&folder, &name) {
                let path = folder.path.join(text.as_ref());
                unlinkat(folder.fd(), name.as_c_str(), UnlinkatFlags::NoRemoveDir)
                    .map_err(|errno| DeliveryError::from_io("remove", &path, errno.into()))?;
                tracing::info!(path = %path.display(), "removed leftover staging file");
                removed_here += 1;
            } else if depth < CLEANUP_DEPTH
                && matches!(file_type, None | Some(Type::Directory))
                && let Some(child) = open_child_folder(&folder, &name)?
            {
                stack.push((child, depth + 1));
            }
        }
        if removed_here > 0 {
            folder.sync()?;
        }
        removed += removed_here;
    }
    Ok(removed)
}

/// Lists the entries of `folder` (without `.` and `..`) with their type when the
/// filesystem reports it.
fn list(folder: &Folder) -> Result<Vec<(std::ffi::CString, Option<Type>)>, DeliveryError> {
    let list_error = |errno: Errno| DeliveryError::from_io("list", &folder.path, errno.into());
    let fd = folder
        .fd
        .try_clone()
        .map_err(|err| DeliveryError::from_io("list", &folder.path, err))?;
    let mut dir = Dir::from_fd(fd).map_err(list_error)?;
    let mut entries = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(list_error)?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            entries.push((name.to_owned(), entry.file_type()));
        }
    }
    Ok(entries)
}

fn is_regular_file(folder: &Folder, name: &CStr) -> bool {
    fstatat(folder.fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG)
}

/// Opens the child folder `name` without following a link; `None` when it is
/// not a folder (a file, a link, or gone).
fn open_child_folder(folder: &Folder, name: &CStr) -> Result<Option<Folder>, DeliveryError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let path = folder.path.join(name.to_string_lossy().as_ref());
    match openat(folder.fd(), name, flags, Mode::empty()) {
        Ok(fd) => Ok(Some(Folder { fd, path })),
        Err(Errno::ELOOP | Errno::ENOTDIR | Errno::ENOENT) => Ok(None),
        Err(errno) => Err(DeliveryError::from_io("open folder", &path, errno.into())),
    }
}
