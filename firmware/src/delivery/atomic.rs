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

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use sha2::{Digest, Sha256};

use super::DeliveryError;
use super::names::numbered;

/// Prefix of staging files; the Samba configuration vetoes `.pbx-staging-*`.
pub const STAGING_PREFIX: &str = ".pbx-staging-";

/// How many numbered names are tried before giving up.
const MAX_CANDIDATES: u32 = 99;

/// Maximum folder depth below the share root that [`cleanup_staging`] searches.
const CLEANUP_DEPTH: usize = 6;

/// Distinguishes staging files of this process.
static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fully written and fsynced file under a staging name. Dropping it removes
/// the staging file.
#[derive(Debug)]
pub struct StagedFile {
    dir: PathBuf,
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

/// Writes `bytes` to a new staging file in `dir` and fsyncs it.
pub fn stage(dir: &Path, bytes: &[u8]) -> Result<StagedFile, DeliveryError> {
    let (staging_name, mut file) = create_staging(dir)?;
    let staged = StagedFile {
        dir: dir.to_owned(),
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

/// Creates a staging file with a name no other file has.
fn create_staging(dir: &Path) -> Result<(String, File), DeliveryError> {
    loop {
        let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{STAGING_PREFIX}{}-{n}", std::process::id());
        let path = dir.join(&name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((name, file)),
            // A leftover from an earlier boot with the same process id.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(DeliveryError::from_io("create", &path, err)),
        }
    }
}

impl StagedFile {
    /// Returns the staging file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.staging_name)
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
        let dir = self.dir.clone();
        let placement = self.place_unsynced(name)?;
        fsync_dir(&dir)?;
        Ok(placement)
    }

    /// Does what [`StagedFile::place`] does except the directory `fsync`: the file's bytes are
    /// durable, its new name only once the caller has fsynced the directory.
    pub fn place_unsynced(mut self, name: &str) -> Result<Placement, DeliveryError> {
        for n in 1..=MAX_CANDIDATES {
            let candidate = numbered(name, n);
            let target = self.dir.join(&candidate);
            match rename_noreplace(&self.path(), &target) {
                Ok(()) => {
                    self.pending = false;
                    return Ok(Placement::Written(candidate));
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    if self.same_content(&target)? {
                        self.discard()?;
                        return Ok(Placement::AlreadyPresent(candidate));
                    }
                }
                Err(err) => return Err(DeliveryError::from_io("rename", &target, err)),
            }
        }
        Err(DeliveryError::NamesExhausted {
            dir: self.dir.clone(),
            name: name.to_owned(),
            tried: MAX_CANDIDATES,
        })
    }

    /// Moves the file to `name`, replacing what is there, and fsyncs the
    /// directory. Only for files PracticeBox owns, such as sidecars.
    pub fn replace(self, name: &str) -> Result<(), DeliveryError> {
        let dir = self.dir.clone();
        self.replace_unsynced(name)?;
        fsync_dir(&dir)
    }

    /// Does what [`StagedFile::replace`] does except the directory `fsync`.
    pub fn replace_unsynced(mut self, name: &str) -> Result<(), DeliveryError> {
        let target = self.dir.join(name);
        fs::rename(self.path(), &target)
            .map_err(|err| DeliveryError::from_io("rename", &target, err))?;
        self.pending = false;
        Ok(())
    }

    /// Removes the staging file. A removal lost in a power cut leaves a staging file, which
    /// [`cleanup_staging`] removes at the next start, so the directory is not fsynced here.
    fn discard(&mut self) -> Result<(), DeliveryError> {
        let path = self.path();
        fs::remove_file(&path).map_err(|err| DeliveryError::from_io("remove", &path, err))?;
        self.pending = false;
        Ok(())
    }

    /// Tells whether `path` is a regular file with exactly the staged bytes.
    fn same_content(&self, path: &Path) -> Result<bool, DeliveryError> {
        let metadata =
            fs::symlink_metadata(path).map_err(|err| DeliveryError::from_io("stat", path, err))?;
        if !metadata.is_file() || metadata.len() != self.size {
            return Ok(false);
        }

        let mut hasher = Sha256::new();
        let mut file = File::open(path).map_err(|err| DeliveryError::from_io("open", path, err))?;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = file
                .read(&mut buffer)
                .map_err(|err| DeliveryError::from_io("read", path, err))?;
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
        if self.pending
            && let Err(err) = fs::remove_file(self.path())
        {
            tracing::warn!(path = %self.path().display(), %err, "cannot remove staging file");
        }
    }
}

/// Renames `from` to `to` unless `to` exists; fails with `AlreadyExists` then.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    match renameat2_noreplace(from, to) {
        Err(err)
            if matches!(
                Errno::from_raw(err.raw_os_error().unwrap_or(0)),
                Errno::EINVAL | Errno::ENOSYS
            ) =>
        {
            link_noreplace(from, to)
        }
        other => other,
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn renameat2_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};

    renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE).map_err(io::Error::from)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn renameat2_noreplace(_from: &Path, _to: &Path) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(Errno::ENOSYS as i32))
}

/// Links `from` as `to`, which fails if `to` exists, then removes `from`. This
/// is the fallback of [`rename_noreplace`].
pub fn link_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    fs::hard_link(from, to)?;
    fs::remove_file(from)
}

/// Fsyncs a directory, so the names created or renamed in it survive a power cut.
pub fn fsync_dir(dir: &Path) -> Result<(), DeliveryError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|err| DeliveryError::from_io("fsync", dir, err))
}

/// Creates `components` below `base` one by one, fsyncing the parent of each
/// new directory. Returns the innermost directory.
pub fn ensure_dirs(base: &Path, components: &[&str]) -> Result<PathBuf, DeliveryError> {
    let mut dir = base.to_owned();
    for component in components {
        let parent = dir.clone();
        dir.push(component);
        match fs::create_dir(&dir) {
            Ok(()) => fsync_dir(&parent)?,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(err) => return Err(DeliveryError::from_io("create folder", &dir, err)),
        }
    }
    Ok(dir)
}

/// Removes the staging files a crash left below `root`. Call it at start-up,
/// before any delivery runs. Returns how many files were removed.
pub fn cleanup_staging(root: &Path) -> Result<usize, DeliveryError> {
    let mut removed = 0;
    let mut stack = vec![(root.to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let entries =
            fs::read_dir(&dir).map_err(|err| DeliveryError::from_io("list", &dir, err))?;
        for entry in entries {
            let entry = entry.map_err(|err| DeliveryError::from_io("list", &dir, err))?;
            let file_type = entry
                .file_type()
                .map_err(|err| DeliveryError::from_io("stat", &entry.path(), err))?;
            let is_staging = entry
                .file_name()
                .to_string_lossy()
                .starts_with(STAGING_PREFIX);

            if file_type.is_file() && is_staging {
                let path = entry.path();
                fs::remove_file(&path)
                    .map_err(|err| DeliveryError::from_io("remove", &path, err))?;
                tracing::info!(path = %path.display(), "removed leftover staging file");
                removed += 1;
            } else if file_type.is_dir() && depth < CLEANUP_DEPTH {
                stack.push((entry.path(), depth + 1));
            }
        }
        if removed > 0 {
            fsync_dir(&dir)?;
        }
    }
    Ok(removed)
}
