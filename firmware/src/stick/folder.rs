//! Certificate discovery on a stick's files: a folder, either a mounted stick or, in tests and
//! the demo, a plain folder standing in for one.
//!
//! The search is breadth-first from the top folder, so certificates near the top are found
//! first, and bounded in every direction a hostile or merely full stick could push it:
//! - depth: the top folder and [`DiscoveryLimits::max_depth`] levels of folders below it;
//! - work: at most [`DiscoveryLimits::max_entries`] directory entries are looked at;
//! - results: more than [`DiscoveryLimits::max_certificates`] certificates is an error, because
//!   the display cannot offer dozens of files to pick from;
//! - size: a PKCS#12 keystore is a few KiB, so files above
//!   [`DiscoveryLimits::max_file_size`] are skipped and never read.
//!
//! Symbolic links are never followed: directory entries are typed without following them, and
//! [`FolderStick::read`] opens the file with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`
//! below the stick's top folder. Hidden entries (names starting with `.`, such as the `._*`
//! files macOS writes next to each file on FAT sticks) and the Windows folders
//! `System Volume Information` and `$RECYCLE.BIN` are skipped.
//!
//! File names are bytes on Linux and need not be UTF-8; each certificate keeps its raw
//! relative path for reading, and a display name in which invalid UTF-8 becomes U+FFFD and
//! control and bidirectional formatting characters become `?`.
//!
//! These functions block on file I/O; from async code, call them through
//! `tokio::task::spawn_blocking` (a [`FolderStick`] is cheap to clone).

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use zeroize::Zeroizing;

use super::error::StickError;

/// Bounds of the certificate search; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryLimits {
    /// Folder levels searched below the top folder: with 3, `a/b/c/x.p12` is found and
    /// `a/b/c/d/x.p12` is not.
    pub max_depth: usize,
    /// Directory entries looked at in total, hidden ones included.
    pub max_entries: usize,
    pub max_certificates: usize,
    /// Bytes; larger files are skipped.
    pub max_file_size: u64,
}

impl Default for DiscoveryLimits {
    fn default() -> Self {
        Self {
            max_depth: 3,
            max_entries: 10_000,
            max_certificates: 16,
            max_file_size: 1024 * 1024,
        }
    }
}

/// The two keystore file name extensions eHealth's certificate tools write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateKind {
    /// `.p12`: a production keystore.
    P12,
    /// `.acc-p12`: a keystore for eHealth's acceptance environment.
    AccP12,
}

/// A certificate file found on the stick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickCertificate {
    /// The path below the stick's top folder, as stored (not necessarily UTF-8).
    pub relative_path: PathBuf,
    /// The relative path with `/` separators, safe to show and to log.
    pub display_name: String,
    pub kind: CertificateKind,
    /// Bytes, when the search ran.
    pub size: u64,
    /// `None` when the file system stores no modification time.
    pub modified: Option<Timestamp>,
}

/// The reason a file that looked like a certificate, or a folder, was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    SymbolicLink,
    NotRegularFile,
    Empty,
    TooLarge {
        size: u64,
        limit: u64,
    },
    /// A folder or file that could not be read, with the operating system's error.
    Unreadable {
        error: String,
    },
}

/// A file or folder left out of the search, for the error message and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    pub display_name: String,
    pub reason: SkipReason,
}

impl fmt::Display for SkippedFile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.display_name;
        match &self.reason {
            SkipReason::SymbolicLink => write!(formatter, "{name} (a symbolic link)"),
            SkipReason::NotRegularFile => write!(formatter, "{name} (not a regular file)"),
            SkipReason::Empty => write!(formatter, "{name} (empty)"),
            SkipReason::TooLarge { size, limit } => {
                write!(formatter, "{name} ({size} bytes, above {limit})")
            }
            SkipReason::Unreadable { error } => write!(formatter, "{name} (unreadable: {error})"),
        }
    }
}

/// The result of a search: the certificates, newest first, and what was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub certificates: Vec<StickCertificate>,
    pub skipped: Vec<SkippedFile>,
}

/// A folder searched for certificates: a mounted stick, or a folder standing in for one.
#[derive(Debug, Clone)]
pub struct FolderStick {
    root: PathBuf,
    limits: DiscoveryLimits,
    /// The device number of the mounted file system; a different one at `root` means the stick
    /// was unmounted.
    device: Option<u64>,
}

impl FolderStick {
    /// Returns a plain folder standing in for a stick, searched with the default limits.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            limits: DiscoveryLimits::default(),
            device: None,
        }
    }

    pub fn with_limits(mut self, limits: DiscoveryLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Returns the top folder of a mounted stick whose file system has the device number
    /// `device`.
    pub(super) fn mounted(root: PathBuf, device: u64, limits: DiscoveryLimits) -> Self {
        Self {
            root,
            limits,
            device: Some(device),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn limits(&self) -> DiscoveryLimits {
        self.limits
    }

    /// Finds the certificates; none at all is [`StickError::NoCertificate`], which names the
    /// files that were skipped.
    pub fn certificates(&self) -> Result<Vec<StickCertificate>, StickError> {
        let discovery = self.discover()?;
        if discovery.certificates.is_empty() {
            return Err(StickError::NoCertificate {
                max_depth: self.limits.max_depth,
                skipped: discovery.skipped,
            });
        }
        Ok(discovery.certificates)
    }

    /// Searches the folder and returns the certificates, newest first (then by path), with the
    /// files and folders skipped.
    pub fn discover(&self) -> Result<Discovery, StickError> {
        self.check_root()?;
        let mut search = Search::new(self);
        let mut queue = VecDeque::from([(PathBuf::new(), 0usize)]);
        while let Some((folder, depth)) = queue.pop_front() {
            for subfolder in search.scan_folder(&folder)? {
                if depth < self.limits.max_depth {
                    queue.push_back((subfolder, depth + 1));
                }
            }
        }
        // A stick unmounted during the search leaves the empty mount folder behind, which
        // reads like a stick without certificates.
        self.check_root()?;

        let mut discovery = search.finish();
        discovery.certificates.sort_by(|a, b| {
            b.modified
                .cmp(&a.modified)
                .then_with(|| a.relative_path.cmp(&b.relative_path))
        });
        Ok(discovery)
    }

    /// Reads a certificate found by [`discover`](Self::discover) or
    /// [`certificates`](Self::certificates), refusing symbolic links anywhere in its path,
    /// anything but a regular file, and files above the size limit.
    pub fn read(&self, certificate: &StickCertificate) -> Result<Zeroizing<Vec<u8>>, StickError> {
        let display_name = &certificate.display_name;
        let file = self.open_beneath(&certificate.relative_path, display_name)?;
        let metadata = file
            .metadata()
            .map_err(|error| self.io_error(display_name, error))?;
        if !metadata.is_file() {
            return Err(StickError::NotRegularFile {
                path: display_name.clone(),
            });
        }
        let limit = self.limits.max_file_size;
        if metadata.len() > limit {
            return Err(StickError::FileTooLarge {
                path: display_name.clone(),
                size: metadata.len(),
                limit,
            });
        }

        // Sized up front so the buffer is not reallocated, which would leave copies of the
        // keystore behind in freed memory. One byte more than the limit shows a file that grew.
        let capacity = usize::try_from(metadata.len()).unwrap_or(usize::MAX);
        let mut bytes = Zeroizing::new(Vec::with_capacity(capacity.saturating_add(1)));
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| self.io_error(display_name, error))?;
        let size = bytes.len() as u64;
        if size > limit {
            return Err(StickError::FileTooLarge {
                path: display_name.clone(),
                size,
                limit,
            });
        }
        Ok(bytes)
    }

    fn open_beneath(&self, relative: &Path, display_name: &str) -> Result<File, StickError> {
        let root = File::open(&self.root).map_err(|error| self.io_error(".", error))?;
        let how = OpenHow::new()
            .flags(
                OFlag::O_RDONLY
                    | OFlag::O_CLOEXEC
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_NOCTTY
                    // A FIFO put in the file's place must not block the open.
                    | OFlag::O_NONBLOCK,
            )
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        match openat2(&root, relative, how) {
            Ok(fd) => Ok(File::from(fd)),
            Err(Errno::ELOOP | Errno::EXDEV) => Err(StickError::NotRegularFile {
                path: display_name.to_owned(),
            }),
            Err(errno) => Err(self.io_error(display_name, io::Error::from(errno))),
        }
    }

    /// Fails with [`StickError::Removed`] when the top folder is gone or no longer the mounted
    /// file system.
    fn check_root(&self) -> Result<(), StickError> {
        match fs::metadata(&self.root) {
            Ok(metadata) if !metadata.is_dir() => Err(StickError::ReadFailed {
                path: ".".to_owned(),
                source: io::Error::from(io::ErrorKind::NotADirectory),
            }),
            Ok(metadata) if self.device.is_some_and(|device| device != metadata.dev()) => {
                Err(StickError::Removed)
            }
            Ok(_) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Err(StickError::Removed),
            Err(error) => Err(StickError::ReadFailed {
                path: ".".to_owned(),
                source: error,
            }),
        }
    }

    /// Maps an I/O error on the stick: a vanished stick is [`StickError::Removed`], anything
    /// else [`StickError::ReadFailed`] naming the file.
    fn io_error(&self, display_name: &str, error: io::Error) -> StickError {
        match self.check_root() {
            Err(root_error) => root_error,
            Ok(()) => StickError::ReadFailed {
                path: display_name.to_owned(),
                source: error,
            },
        }
    }
}

/// Returns whether an I/O error means the device itself failed, as reads on a pulled stick do, rather
/// than one file or folder.
fn is_device_error(error: &io::Error) -> bool {
    let Some(code) = error.raw_os_error() else {
        return false;
    };
    matches!(
        Errno::from_raw(code),
        Errno::EIO
            | Errno::ENODEV
            | Errno::ENXIO
            | Errno::ESTALE
            | Errno::ENOTCONN
            | Errno::EUCLEAN
    )
}

/// The state of one search.
struct Search<'a> {
    stick: &'a FolderStick,
    entries_seen: usize,
    certificates: Vec<StickCertificate>,
    skipped: Vec<SkippedFile>,
}

impl<'a> Search<'a> {
    fn new(stick: &'a FolderStick) -> Self {
        Self {
            stick,
            entries_seen: 0,
            certificates: Vec::new(),
            skipped: Vec::new(),
        }
    }

    fn finish(self) -> Discovery {
        Discovery {
            certificates: self.certificates,
            skipped: self.skipped,
        }
    }

    /// Looks at each entry of `folder` (relative to the stick's top) and returns its
    /// subfolders.
    fn scan_folder(&mut self, folder: &Path) -> Result<Vec<PathBuf>, StickError> {
        let entries = match fs::read_dir(self.stick.root.join(folder)) {
            Ok(entries) => entries,
            Err(error) => {
                self.skip_unreadable(folder, error)?;
                return Ok(Vec::new());
            }
        };

        let mut subfolders = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    self.skip_unreadable(folder, error)?;
                    break;
                }
            };
            self.count_entry()?;
            let name = entry.file_name();
            if is_hidden(&name) {
                continue;
            }
            let relative = folder.join(&name);
            // `DirEntry::file_type` does not follow symbolic links.
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(error) => {
                    self.skip_unreadable(&relative, error)?;
                    continue;
                }
            };
            if file_type.is_dir() {
                subfolders.push(relative);
                continue;
            }
            let Some(kind) = certificate_kind(&name) else {
                continue;
            };
            if file_type.is_symlink() {
                self.skip(&relative, SkipReason::SymbolicLink);
            } else if !file_type.is_file() {
                self.skip(&relative, SkipReason::NotRegularFile);
            } else {
                self.consider_file(&entry, relative, kind)?;
            }
        }
        Ok(subfolders)
    }

    fn count_entry(&mut self) -> Result<(), StickError> {
        self.entries_seen += 1;
        if self.entries_seen > self.stick.limits.max_entries {
            return Err(StickError::TooManyEntries {
                limit: self.stick.limits.max_entries,
                max_depth: self.stick.limits.max_depth,
            });
        }
        Ok(())
    }

    fn consider_file(
        &mut self,
        entry: &fs::DirEntry,
        relative: PathBuf,
        kind: CertificateKind,
    ) -> Result<(), StickError> {
        // Like `file_type`, `DirEntry::metadata` does not follow symbolic links.
        let metadata = match entry.metadata() {
            Ok(metadata) => metadata,
            Err(error) => return self.skip_unreadable(&relative, error),
        };
        let limit = self.stick.limits.max_file_size;
        let size = metadata.len();
        if size == 0 {
            self.skip(&relative, SkipReason::Empty);
            return Ok(());
        }
        if size > limit {
            self.skip(&relative, SkipReason::TooLarge { size, limit });
            return Ok(());
        }

        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| Timestamp::try_from(time).ok());
        self.certificates.push(StickCertificate {
            display_name: display_path(&relative),
            relative_path: relative,
            kind,
            size,
            modified,
        });
        if self.certificates.len() > self.stick.limits.max_certificates {
            return Err(StickError::TooManyCertificates {
                limit: self.stick.limits.max_certificates,
            });
        }
        Ok(())
    }

    fn skip(&mut self, relative: &Path, reason: SkipReason) {
        self.skipped.push(SkippedFile {
            display_name: display_path(relative),
            reason,
        });
    }

    /// Records an unreadable entry, unless the error means the stick itself is gone or failing.
    fn skip_unreadable(&mut self, relative: &Path, error: io::Error) -> Result<(), StickError> {
        self.stick.check_root()?;
        if is_device_error(&error) {
            return Err(StickError::ReadFailed {
                path: display_path(relative),
                source: error,
            });
        }
        let reason = SkipReason::Unreadable {
            error: error.to_string(),
        };
        self.skip(relative, reason);
        Ok(())
    }
}

/// Hidden entries and the folders Windows keeps on removable media.
fn is_hidden(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    bytes.starts_with(b".")
        || bytes.eq_ignore_ascii_case(b"System Volume Information")
        || bytes.eq_ignore_ascii_case(b"$RECYCLE.BIN")
}

/// Returns the certificate kind of a file name, by its extension in any letter case (FAT sticks
/// written by older tools store upper-case names).
fn certificate_kind(name: &OsStr) -> Option<CertificateKind> {
    let bytes = name.as_bytes();
    let ends_with = |suffix: &[u8]| {
        bytes.len() > suffix.len()
            && bytes[bytes.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    if ends_with(b".acc-p12") {
        Some(CertificateKind::AccP12)
    } else if ends_with(b".p12") {
        Some(CertificateKind::P12)
    } else {
        None
    }
}

/// Renders a relative path for the display and the log: `/` between components, U+FFFD for
/// invalid UTF-8, `?` for control characters and bidirectional formatting characters (which
/// could make a name read backwards). The top folder itself renders as `.`.
pub fn display_path(relative: &Path) -> String {
    let mut rendered = String::new();
    for component in relative.components() {
        let Component::Normal(name) = component else {
            continue;
        };
        if !rendered.is_empty() {
            rendered.push('/');
        }
        for character in String::from_utf8_lossy(name.as_bytes()).chars() {
            rendered.push(if is_unsafe_to_show(character) {
                '?'
            } else {
                character
            });
        }
    }
    if rendered.is_empty() {
        rendered.push('.');
    }
    rendered
}

fn is_unsafe_to_show(character: char) -> bool {
    character.is_control()
        || matches!(
            character,
            '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn kind_by_extension() {
        let cases = [
            (
                "SSIN=79021802145 20230823-085751.acc-p12",
                Some(CertificateKind::AccP12),
            ),
            ("doctor.p12", Some(CertificateKind::P12)),
            ("DOCTOR.P12", Some(CertificateKind::P12)),
            ("doctor.ACC-P12", Some(CertificateKind::AccP12)),
            (".p12", None),
            ("doctor.p12.txt", None),
            ("doctor.pfx", None),
            ("p12", None),
        ];
        for (name, expected) in cases {
            assert_eq!(certificate_kind(OsStr::new(name)), expected, "{name}");
        }
    }

    #[test]
    fn hidden_names() {
        for name in [
            ".Trashes",
            "._doctor.p12",
            "System Volume Information",
            "$Recycle.Bin",
        ] {
            assert!(is_hidden(OsStr::new(name)), "{name}");
        }
        assert!(!is_hidden(OsStr::new("doctor.p12")));
    }

    #[test]
    fn display_path_replaces_controls_and_bidi() {
        let path = Path::new("keys\n/a\u{1b}[31m\u{202e}21p.exe.p12");
        assert_eq!(display_path(path), "keys?/a?[31m?21p.exe.p12");
    }

    #[test]
    fn display_path_replaces_invalid_utf8() {
        let path = Path::new(OsStr::from_bytes(b"dr \xe9t\xe9.p12"));
        assert_eq!(display_path(path), "dr \u{fffd}t\u{fffd}.p12");
    }

    #[test]
    fn display_path_keeps_accents() {
        assert_eq!(
            display_path(Path::new("Médecin/clé.p12")),
            "Médecin/clé.p12"
        );
    }

    #[test]
    fn device_errors() {
        assert!(is_device_error(&io::Error::from_raw_os_error(
            nix::libc::EIO
        )));
        assert!(is_device_error(&io::Error::from_raw_os_error(
            nix::libc::ENODEV
        )));
        assert!(!is_device_error(&io::Error::from_raw_os_error(
            nix::libc::EACCES
        )));
        assert!(!is_device_error(&io::Error::other("not an OS error")));
    }
}
