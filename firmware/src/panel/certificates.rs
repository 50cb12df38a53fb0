//! Where the mandate wizard finds eHealth keystores: the [`CertificateSource`] trait that the
//! USB stick implements ([`super::stick_certificates`]), and [`FolderCertificates`], a folder
//! used in place of the stick in tests and the demo.
//!
//! The wizard lists the keystores, reads the one the doctor picks, and releases the source when
//! it ends, whatever the outcome. A stick implementation unmounts there.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// A keystore file found on the certificate source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCertificate {
    /// The file name, as the wizard lists it.
    pub name: String,
    /// The location the source reads from: a full path in a folder, the path below the top
    /// folder on the stick.
    pub path: PathBuf,
    /// The size in bytes when it was listed.
    pub size: u64,
}

/// The medium that contains the doctor's eHealth keystore: the USB stick on the box.
pub trait CertificateSource {
    /// Lists the `*.p12` and `*.acc-p12` files in the order the wizard offers them: by name in
    /// a folder, newest first on the stick. An empty list is an error
    /// ([`CertificateSourceError::NoCertificate`]).
    fn certificates(&mut self) -> Result<Vec<FoundCertificate>, CertificateSourceError>;

    /// Reads the bytes of a listed keystore.
    fn read(
        &mut self,
        certificate: &FoundCertificate,
    ) -> Result<Zeroizing<Vec<u8>>, CertificateSourceError>;

    /// Ends the use of the medium: the wizard is done with it. A stick unmounts here.
    fn release(&mut self);
}

/// Why no keystore can be listed or read. Each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum CertificateSourceError {
    #[error("no USB stick is inserted; insert the stick with the eHealth certificate")]
    NoStick,
    #[error("no .p12 or .acc-p12 file on the USB stick; copy the eHealth certificate onto it")]
    NoCertificate,
    #[error(
        "the USB stick holds more than {limit} files and folders to search; use a stick with \
         only the certificate on it"
    )]
    TooManyFiles { limit: usize },
    #[error("the USB stick cannot be read ({detail}); copy the certificate to another stick")]
    Unreadable { detail: String },
    #[error("the USB stick was removed while it was read; insert it again")]
    Removed,
    #[error(
        "the box cannot mount USB sticks ({detail}); restart the box, and call the installer \
         if this error stays"
    )]
    MountUnavailable { detail: String },
    #[error(
        "{name} has {size} bytes, more than the {limit} bytes an eHealth keystore takes; \
         choose the file that eHealth issued"
    )]
    TooLarge { name: String, size: u64, limit: u64 },
}

/// A folder searched for keystores, standing in for the mounted USB stick.
///
/// The search goes at most [`FolderCertificates::MAX_DEPTH`] folders deep, follows no symbolic
/// link, skips hidden names (a Mac writes `._name.p12` companions), gives up after
/// [`FolderCertificates::MAX_ENTRIES`] entries and reads no file larger than
/// [`FolderCertificates::MAX_SIZE`].
#[derive(Debug, Clone)]
pub struct FolderCertificates {
    root: PathBuf,
    releases: usize,
}

impl FolderCertificates {
    /// Folder levels searched below the root.
    pub const MAX_DEPTH: usize = 3;
    /// Files and folders examined before the search gives up.
    pub const MAX_ENTRIES: usize = 500;
    /// Largest keystore read; eHealth keystores take a few kilobytes.
    pub const MAX_SIZE: u64 = 1024 * 1024;

    /// Creates a source over `root`; a missing root reads as "no stick inserted".
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            releases: 0,
        }
    }

    /// Returns how often the wizard released the source.
    pub fn releases(&self) -> usize {
        self.releases
    }

    fn search(
        &self,
        folder: &Path,
        depth: usize,
        seen: &mut usize,
        found: &mut Vec<FoundCertificate>,
    ) -> Result<(), CertificateSourceError> {
        let entries = fs::read_dir(folder).map_err(|error| self.io_error(error))?;
        for entry in entries {
            let entry = entry.map_err(|error| self.io_error(error))?;
            *seen += 1;
            if *seen > Self::MAX_ENTRIES {
                return Err(CertificateSourceError::TooManyFiles {
                    limit: Self::MAX_ENTRIES,
                });
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // `DirEntry::file_type` does not follow symbolic links, so a link is neither a
            // file nor a folder here and is skipped.
            let file_type = entry.file_type().map_err(|error| self.io_error(error))?;
            if file_type.is_dir() && depth < Self::MAX_DEPTH {
                self.search(&entry.path(), depth + 1, seen, found)?;
            } else if file_type.is_file() && is_keystore_name(&name) {
                let size = entry
                    .metadata()
                    .map_err(|error| self.io_error(error))?
                    .len();
                found.push(FoundCertificate {
                    name,
                    path: entry.path(),
                    size,
                });
            }
        }
        Ok(())
    }

    fn io_error(&self, error: io::Error) -> CertificateSourceError {
        if !self.root.exists() {
            return CertificateSourceError::Removed;
        }
        CertificateSourceError::Unreadable {
            detail: error.to_string(),
        }
    }

    fn too_large(certificate: &FoundCertificate, size: u64) -> CertificateSourceError {
        CertificateSourceError::TooLarge {
            name: certificate.name.clone(),
            size,
            limit: Self::MAX_SIZE,
        }
    }
}

impl CertificateSource for FolderCertificates {
    fn certificates(&mut self) -> Result<Vec<FoundCertificate>, CertificateSourceError> {
        if !self.root.is_dir() {
            return Err(CertificateSourceError::NoStick);
        }
        let mut found = Vec::new();
        let mut seen = 0;
        self.search(&self.root.clone(), 0, &mut seen, &mut found)?;
        if found.is_empty() {
            return Err(CertificateSourceError::NoCertificate);
        }
        found.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.path.cmp(&b.path)));
        Ok(found)
    }

    fn read(
        &mut self,
        certificate: &FoundCertificate,
    ) -> Result<Zeroizing<Vec<u8>>, CertificateSourceError> {
        if certificate.size > Self::MAX_SIZE {
            return Err(Self::too_large(certificate, certificate.size));
        }
        let file: File = OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&certificate.path)
            .map_err(|error| self.io_error(error))?;
        let mut bytes = Zeroizing::new(Vec::new());
        // Reading one byte past the limit detects a file that grew since it was listed.
        file.take(Self::MAX_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| self.io_error(error))?;
        if bytes.len() as u64 > Self::MAX_SIZE {
            return Err(Self::too_large(certificate, bytes.len() as u64));
        }
        Ok(bytes)
    }

    fn release(&mut self) {
        self.releases += 1;
    }
}

/// Returns whether `name` ends in `.p12` or `.acc-p12`, in any letter case.
fn is_keystore_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.ends_with(".p12") || lower.ends_with(".acc-p12")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(found: &[FoundCertificate]) -> Vec<&str> {
        found.iter().map(|found| found.name.as_str()).collect()
    }

    #[test]
    fn folder_lists_keystores_sorted() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("b.acc-p12"), b"x").unwrap();
        fs::write(root.path().join("A.P12"), b"xy").unwrap();
        fs::write(root.path().join("notes.txt"), b"x").unwrap();
        fs::write(root.path().join("._b.acc-p12"), b"mac").unwrap();
        fs::create_dir_all(root.path().join("eHealth/2026")).unwrap();
        fs::write(root.path().join("eHealth/2026/c.p12"), b"x").unwrap();

        let found = FolderCertificates::new(root.path()).certificates().unwrap();

        assert_eq!(names(&found), ["A.P12", "b.acc-p12", "c.p12"]);
        assert_eq!(found[0].size, 2);
    }

    #[test]
    fn folder_skips_symbolic_links_and_deep_files() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.p12"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.p12"),
            root.path().join("linked.p12"),
        )
        .unwrap();
        let deep = root.path().join("1/2/3/4");
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("deep.p12"), b"x").unwrap();
        fs::write(root.path().join("1/2/3/found.p12"), b"x").unwrap();

        let found = FolderCertificates::new(root.path()).certificates().unwrap();

        assert_eq!(names(&found), ["found.p12"]);
    }

    #[test]
    fn missing_folder_is_no_stick() {
        let root = tempfile::tempdir().unwrap();
        let mut source = FolderCertificates::new(root.path().join("absent"));

        let error = source.certificates().unwrap_err();

        assert!(matches!(error, CertificateSourceError::NoStick), "{error}");
    }

    #[test]
    fn folder_without_keystore_says_so() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cv.pdf"), b"x").unwrap();

        let error = FolderCertificates::new(root.path())
            .certificates()
            .unwrap_err();

        assert_eq!(
            error.to_string(),
            "no .p12 or .acc-p12 file on the USB stick; copy the eHealth certificate onto it"
        );
    }

    #[test]
    fn folder_with_too_many_files_gives_up() {
        let root = tempfile::tempdir().unwrap();
        for index in 0..=FolderCertificates::MAX_ENTRIES {
            fs::write(root.path().join(format!("photo-{index}.jpg")), b"").unwrap();
        }

        let error = FolderCertificates::new(root.path())
            .certificates()
            .unwrap_err();

        assert!(
            matches!(error, CertificateSourceError::TooManyFiles { limit: 500 }),
            "{error}"
        );
    }

    #[test]
    fn read_rejects_large_file() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("big.p12");
        fs::write(&path, vec![0u8; FolderCertificates::MAX_SIZE as usize + 1]).unwrap();
        let mut source = FolderCertificates::new(root.path());
        let found = source.certificates().unwrap();

        let error = source.read(&found[0]).unwrap_err();

        assert!(
            error.to_string().starts_with("big.p12 has 1048577 bytes"),
            "{error}"
        );
    }

    #[test]
    fn read_after_removal_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let stick = root.path().join("stick");
        fs::create_dir(&stick).unwrap();
        fs::write(stick.join("a.p12"), b"keystore").unwrap();
        let mut source = FolderCertificates::new(&stick);
        let found = source.certificates().unwrap();
        assert_eq!(source.read(&found[0]).unwrap().as_slice(), b"keystore");

        fs::remove_dir_all(&stick).unwrap();
        let error = source.read(&found[0]).unwrap_err();

        assert!(matches!(error, CertificateSourceError::Removed), "{error}");
    }
}
