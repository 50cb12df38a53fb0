//! The root side of the share fragment: `practicebox samba install`.
//!
//! The service account writes the fragment, but smbd runs as root, and a share parameter such
//! as `root preexec` runs a command as root when a client connects. So on the box smb.conf never
//! includes the file the service wrote. A root unit reads that file with [`read_fragment`],
//! which accepts only what [`super::SambaConfig::render_fragment`] writes. That is comments,
//! share sections and the known share parameters. From it [`install_fragment`] keeps the share
//! names, paths and access levels and checks them like any configuration (paths under the share
//! root, names valid and unique). It then renders a new fragment with its own settings and
//! writes that to a root-owned file that smb.conf includes. Any other line (an `include`, a
//! `[global]` section, an unknown parameter, a continued line) rejects the whole file, and the
//! installed copy stays as it was.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use super::config::{ConfigError, DoctorShare, ShareAccess};
use super::names::ShareName;
use super::sync::{ShareSettings, write_if_changed};

/// The largest fragment accepted, in bytes: far above a practice's few dozen shares.
pub const MAX_FRAGMENT_BYTES: u64 = 1024 * 1024;

/// The share parameters that [`SambaConfig::render_fragment`](super::SambaConfig::render_fragment)
/// writes. Only `path` and `read only` are read; the others are rendered again from the
/// installing side's settings.
const SHARE_PARAMETERS: &[&str] = &[
    "path",
    "valid users",
    "guest ok",
    "browseable",
    "read only",
    "force user",
    "force group",
    "create mask",
    "directory mask",
    "veto files",
    "delete veto files",
    "hide dot files",
    "follow symlinks",
];

/// A share as the fragment declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredShare {
    pub name: ShareName,
    pub path: PathBuf,
    pub access: ShareAccess,
    /// 1-based line of the section header.
    pub line: usize,
}

/// Errors of reading and installing a fragment.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot read the Samba fragment {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "the Samba fragment {path} is not a regular file of at most {max} bytes; the service \
         writes it, check what replaced it"
    )]
    NotRegular { path: PathBuf, max: u64 },
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("invalid share in the fragment: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Reads the declared shares from fragment text, accepting only what the renderer writes.
pub fn read_fragment(text: &str) -> Result<Vec<DeclaredShare>, InstallError> {
    let mut shares = Vec::new();
    let mut section: Option<Section> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let error = |reason: String| InstallError::Line { line, reason };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.ends_with('\\') {
            return Err(error("a continued line; the fragment has none".to_owned()));
        }
        if let Some(name) = trimmed.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| error("a section header without ']'".to_owned()))?;
            let name = ShareName::new(name).map_err(|e| error(e.to_string()))?;
            if let Some(done) = section.replace(Section::new(name, line)) {
                shares.push(done.finish()?);
            }
            continue;
        }
        let (key, value) = trimmed
            .split_once('=')
            .ok_or_else(|| error("neither a section, a parameter nor a comment".to_owned()))?;
        let current = section
            .as_mut()
            .ok_or_else(|| error("a parameter before the first share section".to_owned()))?;
        current.set(key.trim(), value.trim()).map_err(error)?;
    }
    if let Some(done) = section {
        shares.push(done.finish()?);
    }
    Ok(shares)
}

/// Installs the fragment at `settings.fragment` as `output`: reads it with [`read_fragment`],
/// checks the shares against `share_root`, and writes the fragment rendered from `settings`
/// when it differs from `output`. Returns the installed shares and whether `output` changed.
pub fn install_fragment(
    settings: &ShareSettings,
    share_root: &Path,
    output: &Path,
) -> Result<(Vec<ShareName>, bool), InstallError> {
    let text = read_regular_file(&settings.fragment)?;
    let declared = read_fragment(&text)?;

    let mut doctor_shares = Vec::new();
    for share in declared {
        if share.path == share_root {
            check_all_doctors_share(settings, &share)?;
            continue;
        }
        doctor_shares.push(DoctorShare {
            name: share.name,
            path: share.path,
            access: share.access,
        });
    }
    let config = settings.samba_config(share_root, doctor_shares);
    let rendered = config.render_fragment()?;
    let changed =
        write_if_changed(output, rendered.as_bytes()).map_err(|source| InstallError::Write {
            path: output.to_owned(),
            source,
        })?;

    let mut names: Vec<ShareName> = config.doctor_shares.into_iter().map(|s| s.name).collect();
    names.extend(config.all_doctors_share.map(|all| all.name));
    Ok((names, changed))
}

/// Accepts a share over the share root only under the configured all-doctors name.
fn check_all_doctors_share(
    settings: &ShareSettings,
    share: &DeclaredShare,
) -> Result<(), InstallError> {
    if settings.all_doctors_share.as_ref() == Some(&share.name) {
        return Ok(());
    }
    Err(InstallError::Line {
        line: share.line,
        reason: format!(
            "share {} points to the share root, but the configuration names {} as the \
             all-doctors share",
            share.name,
            settings
                .all_doctors_share
                .as_ref()
                .map_or("no share".to_owned(), |name| format!("{name:?}"))
        ),
    })
}

/// Reads `path` without following a symbolic link at its last component, and only when it is
/// a regular file of at most [`MAX_FRAGMENT_BYTES`].
fn read_regular_file(path: &Path) -> Result<String, InstallError> {
    let read_error = |source| InstallError::Read {
        path: path.to_owned(),
        source,
    };
    let not_regular = || InstallError::NotRegular {
        path: path.to_owned(),
        max: MAX_FRAGMENT_BYTES,
    };
    let file = File::options()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            Some(nix::libc::ELOOP) => not_regular(),
            _ => read_error(source),
        })?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() || metadata.len() > MAX_FRAGMENT_BYTES {
        return Err(not_regular());
    }
    let mut text = String::new();
    file.take(MAX_FRAGMENT_BYTES)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    Ok(text)
}

/// One share section while it is read.
struct Section {
    name: ShareName,
    line: usize,
    seen: HashSet<&'static str>,
    path: Option<PathBuf>,
    access: Option<ShareAccess>,
}

impl Section {
    fn new(name: ShareName, line: usize) -> Self {
        Self {
            name,
            line,
            seen: HashSet::new(),
            path: None,
            access: None,
        }
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let known = SHARE_PARAMETERS
            .iter()
            .find(|known| **known == key)
            .ok_or_else(|| {
                format!("unknown parameter {key:?}; the fragment has only share paths and access")
            })?;
        if !self.seen.insert(known) {
            return Err(format!("parameter {key:?} is set twice"));
        }
        match key {
            "path" => self.path = Some(PathBuf::from(value)),
            "read only" => {
                let access = match value {
                    "yes" => ShareAccess::ReadOnly,
                    "no" => ShareAccess::ReadWrite,
                    _ => return Err(format!("read only is {value:?}; expected yes or no")),
                };
                self.access = Some(access);
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<DeclaredShare, InstallError> {
        let missing = |key: &str| InstallError::Line {
            line: self.line,
            reason: format!("share {} has no {key:?} parameter", self.name),
        };
        let path = self.path.clone().ok_or_else(|| missing("path"))?;
        let access = self.access.ok_or_else(|| missing("read only"))?;
        Ok(DeclaredShare {
            name: self.name,
            path,
            access,
            line: self.line,
        })
    }
}

#[cfg(test)]
#[path = "install_tests.rs"]
mod tests;
