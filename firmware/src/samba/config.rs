//! The typed Samba configuration of the box and its rendering to smb.conf.
//!
//! [`SambaConfig::render_box`] writes the smb.conf that the appliance runs: one share per
//! doctor folder, optionally one share over the whole share root, all reachable only by the
//! practice user. [`StandaloneConfig::render`] writes the same shares with every runtime path
//! (private, lock, state, cache, pid and log) inside one folder and loopback-only binding, so a
//! test can run a real `smbd` without touching the system's Samba state.
//!
//! Rendering validates first and is deterministic: the same configuration gives the same bytes,
//! settings in a fixed order. This module does no I/O.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};

use super::names::{AccountName, ShareName};

/// The SMB port the box listens on (SMB over TCP; NetBIOS over TCP on 139 is disabled).
pub const DEFAULT_PORT: u16 = 445;

/// Prefix of the names under which files are written before the atomic rename into place.
pub const STAGING_PREFIX: &str = ".pbx-staging-";

/// `veto files` pattern that hides staging files from every client and forbids opening,
/// creating or deleting them over SMB.
pub const STAGING_VETO: &str = "/.pbx-staging-*/";

/// Mode bits that files created over SMB keep at most (owner read/write, group read).
pub const CREATE_MASK: &str = "0640";

/// Mode bits that folders created over SMB keep at most.
pub const DIRECTORY_MASK: &str = "0750";

/// Errors in a Samba configuration, found before anything is rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("share name is empty; give the share a name")]
    EmptyShareName,
    #[error("share name {name:?} contains {character:?}, which SMB clients reject; remove it")]
    ShareNameCharacter { name: String, character: char },
    #[error("share name {name:?} starts or ends with whitespace; trim it")]
    ShareNameWhitespace { name: String },
    #[error("share name {name:?} ends with '$', which hides the share from browsing; remove it")]
    ShareNameHidden { name: String },
    #[error(
        "share name {name:?} is {length} UTF-16 code units long, more than the 80 that Windows \
         accepts; shorten it"
    )]
    ShareNameTooLong { name: String, length: usize },
    #[error("share name {name:?} is reserved in smb.conf; choose another name")]
    ShareNameReserved { name: String },
    #[error(
        "share name {name:?} is a Windows device name (such as CON, NUL, COM1 or CONIN$), which \
         Windows path handling may take for the device; choose another name"
    )]
    ShareNameDevice { name: String },
    #[error("share name {name:?} ends with '.', which Windows drops from paths; remove it")]
    ShareNameTrailingDot { name: String },
    #[error(
        "folder name {folder:?} gives no usable share name (empty, reserved or a device name); \
         set the share name explicitly"
    )]
    UnderivableShareName { folder: String },
    #[error(
        "account name {name:?} is invalid; use 1 to 32 lowercase letters, digits, '_' or '-', \
         starting with a letter or '_'"
    )]
    InvalidAccountName { name: String },
    #[error("path {path:?} has no folder name to derive a share name from; give a doctor folder")]
    FolderWithoutName { path: PathBuf },
    #[error("path {path:?} is not valid UTF-8, which smb.conf cannot hold; rename the folder")]
    NonUtf8Path { path: PathBuf },
    #[error("path {path:?} is relative; give an absolute path")]
    RelativePath { path: PathBuf },
    #[error("path {path:?} contains '..'; give the path without parent components")]
    ParentComponent { path: PathBuf },
    #[error(
        "path {path:?} contains {character:?}, which smb.conf would read as a substitution, a \
         quote or a line break; rename the folder"
    )]
    UnsafePathCharacter { path: PathBuf, character: char },
    #[error("path {path:?} ends with whitespace, which smb.conf would drop; rename the folder")]
    PathWhitespace { path: PathBuf },
    #[error("share {share} points to {path:?}, outside the share root {root:?}; move the folder")]
    ShareOutsideRoot {
        share: ShareName,
        path: PathBuf,
        root: PathBuf,
    },
    #[error(
        "share {share} points to the share root {root:?} itself; use the all-doctors share for \
         that"
    )]
    ShareIsRoot { share: ShareName, root: PathBuf },
    #[error(
        "share names {first:?} and {second:?} are the same to SMB clients, which compare them \
         case-insensitively; rename one"
    )]
    DuplicateShareName { first: ShareName, second: ShareName },
    #[error(
        "shares {first} and {second} both point to {path:?}; give each doctor their own folder"
    )]
    DuplicateSharePath {
        path: PathBuf,
        first: ShareName,
        second: ShareName,
    },
    #[error("no interface to bind to; list at least one, such as \"eth0\" or \"127.0.0.1\"")]
    NoInterfaces,
    #[error(
        "interface {interface:?} is invalid; give an interface name, an IP address or a network \
         in CIDR form"
    )]
    InvalidInterface { interface: String },
    #[error(
        "interface {interface:?} is not loopback, but a standalone test server binds loopback \
         only; use \"127.0.0.1\""
    )]
    NotLoopback { interface: String },
    #[error("port 0 is not a listening port; give the port smbd listens on, such as 445")]
    ZeroPort,
}

/// Access level of the practice user on a share.
///
/// The default is [`ShareAccess::ReadWrite`]. EMDs are built for a folder drop into a folder
/// they own on their own disk, so an EMD may move or delete a file after importing it so that it
/// is not offered again. Public material does not say which EMDs do, and on a read-only share
/// such an EMD fails or imports the same file again on every run. Removing a file loses nothing
/// for the box: delivery is keyed by (box, MessageId), not by the presence of the file, so a
/// removed file is not delivered again. Only the practice user can write, and `veto files` keeps
/// staging files out of its reach. Choose [`ShareAccess::ReadOnly`] for an EMD that only reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShareAccess {
    /// The EMD lists and reads files; `read only = yes`.
    ReadOnly,
    /// The EMD may also rename, move and delete files; `read only = no`.
    #[default]
    ReadWrite,
}

/// One doctor's share: a folder under the share root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorShare {
    /// Name the EMD uses in `\\practicebox\<name>`.
    pub name: ShareName,
    /// The doctor's delivery folder, under [`SambaConfig::share_root`].
    pub path: PathBuf,
    /// Access level of the practice user.
    pub access: ShareAccess,
}

impl DoctorShare {
    /// Builds a share for `folder`, named after the folder's last component, with the default
    /// access.
    pub fn for_folder(folder: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let path = folder.into();
        let folder_name = path
            .file_name()
            .ok_or_else(|| ConfigError::FolderWithoutName { path: path.clone() })?
            .to_str()
            .ok_or_else(|| ConfigError::NonUtf8Path { path: path.clone() })?;
        let name = ShareName::from_folder_name(folder_name)?;

        Ok(Self {
            name,
            path,
            access: ShareAccess::default(),
        })
    }
}

/// One share over the whole share root, for EMDs that read every doctor's folder from one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllDoctorsShare {
    /// Name the EMD uses in `\\practicebox\<name>`.
    pub name: ShareName,
    /// Access level of the practice user.
    pub access: ShareAccess,
}

/// The Samba configuration of the box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SambaConfig {
    /// Folder that contains one delivery folder per doctor.
    pub share_root: PathBuf,
    /// One share per doctor, rendered in this order.
    pub doctor_shares: Vec<DoctorShare>,
    /// Optional share over [`Self::share_root`].
    pub all_doctors_share: Option<AllDoctorsShare>,
    /// The only account allowed on the shares; it needs a Unix account and an SMB password.
    pub practice_user: AccountName,
    /// Account that smbd uses for file access instead of the practice user (`force user`), so
    /// that the EMD can read and remove files that the service wrote.
    pub force_user: Option<AccountName>,
    /// Group that smbd uses for file access (`force group`).
    pub force_group: Option<AccountName>,
    /// Interfaces smbd binds to: names such as `eth0`, addresses or CIDR networks.
    pub interfaces: Vec<String>,
    /// TCP port for SMB.
    pub port: u16,
}

impl SambaConfig {
    /// Checks the whole configuration; rendering calls this first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_path(&self.share_root)?;
        for share in &self.doctor_shares {
            self.check_doctor_path(share)?;
        }
        self.check_unique_names()?;
        self.check_unique_paths()?;
        check_interfaces(&self.interfaces)?;
        if self.port == 0 {
            return Err(ConfigError::ZeroPort);
        }
        Ok(())
    }

    /// Renders the smb.conf that the box runs: the global section and every share.
    ///
    /// Samba's default paths (`/var/lib/samba`, `/run/samba`) hold its state, and smbd logs to
    /// the systemd journal.
    pub fn render_box(&self) -> Result<String, ConfigError> {
        self.validate()?;

        let mut out = ConfWriter::default();
        out.comment("Generated by PracticeBox from its configuration; edits are overwritten.");
        out.section("global");
        self.write_globals(&mut out);
        out.comment("Log to the systemd journal at level 1 (startup, errors, refused logins).");
        out.set("logging", "systemd");
        out.set("log level", "1");
        self.write_shares(&mut out);
        Ok(out.finish())
    }

    fn write_globals(&self, out: &mut ConfWriter) {
        out.set("server role", "standalone server");
        out.set("security", "user");

        out.comment(
            "SMB1 is refused. SMB 2.1 stays allowed for older Windows EMD workstations, and SMB3 \
             is preferred.",
        );
        out.set("server min protocol", "SMB2_10");
        out.set("server max protocol", "SMB3");

        out.comment(
            "Encrypt with every client that supports SMB3 encryption. `required` would lock out \
             SMB 2.1 clients, which then still sign every message.",
        );
        out.set("server smb encrypt", "desired");
        out.set("server signing", "required");
        out.set("ntlm auth", "ntlmv2-only");

        out.comment("No guest or anonymous access: only the practice user logs in.");
        out.set("map to guest", "never");
        out.set("restrict anonymous", "2");
        out.set("usershare max shares", "0");

        out.comment("File names on disk are UTF-8, so accented names reach the EMD unchanged.");
        out.set("unix charset", "UTF-8");
        out.comment(
            "The SMB1-only POSIX extensions; SMB1 is off, this keeps them off if it returns.",
        );
        out.set("smb1 unix extensions", "no");

        out.set("disable netbios", "yes");
        out.set("smb ports", &self.port.to_string());
        out.set("interfaces", &self.interfaces.join(" "));
        out.set("bind interfaces only", "yes");

        out.comment("No printing.");
        out.set("load printers", "no");
        out.set("printing", "bsd");
        out.set("printcap name", "/dev/null");
        out.set("disable spoolss", "yes");
    }

    fn write_shares(&self, out: &mut ConfWriter) {
        for share in &self.doctor_shares {
            self.write_share(out, &share.name, &share.path, share.access);
        }
        if let Some(all) = &self.all_doctors_share {
            self.write_share(out, &all.name, &self.share_root, all.access);
        }
    }

    fn write_share(
        &self,
        out: &mut ConfWriter,
        name: &ShareName,
        path: &Path,
        access: ShareAccess,
    ) {
        out.section(name.as_str());
        out.set("path", &path_text(path));
        out.set("valid users", self.practice_user.as_str());
        out.set("guest ok", "no");
        out.set("browseable", "yes");
        let read_only = match access {
            ShareAccess::ReadOnly => "yes",
            ShareAccess::ReadWrite => "no",
        };
        out.set("read only", read_only);
        if let Some(user) = &self.force_user {
            out.set("force user", user.as_str());
        }
        if let Some(group) = &self.force_group {
            out.set("force group", group.as_str());
        }
        out.set("create mask", CREATE_MASK);
        out.set("directory mask", DIRECTORY_MASK);
        out.set("veto files", STAGING_VETO);
        out.set("delete veto files", "no");
        out.set("hide dot files", "yes");
        out.set("follow symlinks", "no");
    }

    fn check_doctor_path(&self, share: &DoctorShare) -> Result<(), ConfigError> {
        check_path(&share.path)?;
        if share.path == self.share_root {
            return Err(ConfigError::ShareIsRoot {
                share: share.name.clone(),
                root: self.share_root.clone(),
            });
        }
        if !share.path.starts_with(&self.share_root) {
            return Err(ConfigError::ShareOutsideRoot {
                share: share.name.clone(),
                path: share.path.clone(),
                root: self.share_root.clone(),
            });
        }
        Ok(())
    }

    fn check_unique_names(&self) -> Result<(), ConfigError> {
        let all_doctors = self.all_doctors_share.iter().map(|all| &all.name);
        let names = self.doctor_shares.iter().map(|share| &share.name);

        let mut seen: HashMap<String, &ShareName> = HashMap::new();
        for name in names.chain(all_doctors) {
            if let Some(first) = seen.insert(name.collision_key(), name) {
                return Err(ConfigError::DuplicateShareName {
                    first: first.clone(),
                    second: name.clone(),
                });
            }
        }
        Ok(())
    }

    fn check_unique_paths(&self) -> Result<(), ConfigError> {
        let mut seen: HashMap<&Path, &ShareName> = HashMap::new();
        for share in &self.doctor_shares {
            if let Some(first) = seen.insert(&share.path, &share.name) {
                return Err(ConfigError::DuplicateSharePath {
                    path: share.path.clone(),
                    first: first.clone(),
                    second: share.name.clone(),
                });
            }
        }
        Ok(())
    }
}

/// A complete smb.conf for a test server: every runtime path under
/// [`Self::runtime_dir`], loopback binding only, and the box's shares and security settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandaloneConfig {
    /// The box configuration; its interfaces must all be loopback.
    pub samba: SambaConfig,
    /// Folder for Samba's databases, locks, pid file and log; smbd needs it to exist.
    pub runtime_dir: PathBuf,
}

impl StandaloneConfig {
    /// Renders the full smb.conf.
    pub fn render(&self) -> Result<String, ConfigError> {
        self.samba.validate()?;
        check_path(&self.runtime_dir)?;
        check_loopback(&self.samba.interfaces)?;

        let mut out = ConfWriter::default();
        out.comment("Standalone test server generated by PracticeBox.");
        out.section("global");
        self.samba.write_globals(&mut out);
        out.set(
            "passdb backend",
            &format!("tdbsam:{}", path_text(&self.passdb_file())),
        );
        out.set("private dir", &path_text(&self.private_dir()));
        for (key, dir) in self.state_dirs() {
            out.set(key, &path_text(&dir));
        }
        out.set("logging", "file");
        out.set("log file", &path_text(&self.log_file()));
        out.set("log level", "1");
        self.samba.write_shares(&mut out);
        Ok(out.finish())
    }

    /// Returns every folder that must exist before smbd starts, the private folder first
    /// (which should be mode 0700).
    pub fn runtime_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.private_dir()];
        dirs.extend(self.state_dirs().into_iter().map(|(_, dir)| dir));
        dirs.push(self.runtime_dir.join("log"));
        dirs
    }

    /// Returns the folder for the password database and other secrets.
    pub fn private_dir(&self) -> PathBuf {
        self.runtime_dir.join("private")
    }

    /// Returns the tdbsam password database that `smbpasswd -c` writes to.
    pub fn passdb_file(&self) -> PathBuf {
        self.private_dir().join("passdb.tdb")
    }

    /// Returns the log file smbd writes when it logs to a file.
    pub fn log_file(&self) -> PathBuf {
        self.runtime_dir.join("log").join("smbd.log")
    }

    fn state_dirs(&self) -> [(&'static str, PathBuf); 5] {
        [
            ("lock directory", self.runtime_dir.join("lock")),
            ("state directory", self.runtime_dir.join("state")),
            ("cache directory", self.runtime_dir.join("cache")),
            ("pid directory", self.runtime_dir.join("pid")),
            ("ncalrpc dir", self.runtime_dir.join("ncalrpc")),
        ]
    }
}

/// Writes smb.conf text: sections, tab-indented `key = value` lines and `#` comments.
#[derive(Debug, Default)]
struct ConfWriter {
    out: String,
    in_section: bool,
}

impl ConfWriter {
    fn section(&mut self, name: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        let _ = writeln!(self.out, "[{name}]");
        self.in_section = true;
    }

    fn comment(&mut self, text: &str) {
        let indent = if self.in_section { "\t" } else { "" };
        let _ = writeln!(self.out, "{indent}# {text}");
    }

    fn set(&mut self, key: &str, value: &str) {
        let _ = writeln!(self.out, "\t{key} = {value}");
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Returns the path as text; [`check_path`] has already proven it is UTF-8.
fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Checks that `path` can be written into smb.conf and that Samba reads it back unchanged.
fn check_path(path: &Path) -> Result<(), ConfigError> {
    let text = path
        .to_str()
        .ok_or_else(|| ConfigError::NonUtf8Path { path: path.into() })?;
    if !path.is_absolute() {
        return Err(ConfigError::RelativePath { path: path.into() });
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(ConfigError::ParentComponent { path: path.into() });
    }
    // `%` starts a substitution, `\` at a line end continues the line, `"` may be read as a
    // quote, and control characters would break the line.
    if let Some(bad) = text
        .chars()
        .find(|c| c.is_control() || matches!(c, '%' | '\\' | '"'))
    {
        return Err(ConfigError::UnsafePathCharacter {
            path: path.into(),
            character: bad,
        });
    }
    if text.trim_end() != text {
        return Err(ConfigError::PathWhitespace { path: path.into() });
    }
    Ok(())
}

fn check_interfaces(interfaces: &[String]) -> Result<(), ConfigError> {
    if interfaces.is_empty() {
        return Err(ConfigError::NoInterfaces);
    }
    let valid_char = |c: char| c.is_ascii_alphanumeric() || ".:/-_".contains(c);
    for interface in interfaces {
        if interface.is_empty() || !interface.chars().all(valid_char) {
            return Err(ConfigError::InvalidInterface {
                interface: interface.clone(),
            });
        }
    }
    Ok(())
}

fn check_loopback(interfaces: &[String]) -> Result<(), ConfigError> {
    for interface in interfaces {
        let address = interface.split('/').next().unwrap_or_default();
        let loopback =
            interface == "lo" || address.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(ConfigError::NotLoopback {
                interface: interface.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
