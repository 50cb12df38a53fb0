//! Keeps the share fragment in step with the store's principals and runs smbd's reload command.
//!
//! Every principal in the store gets a share over its delivery folder, whether or not its
//! eHealthBox is fetched now. A colleague whose mandate ended or was revoked keeps the share,
//! because the files already delivered belong to the practice, stay on disk and must stay
//! readable. The store has no call that removes a principal, so a share goes away only when an
//! administrator deletes the principal's row.
//!
//! [`FragmentSync::sync`] renders the fragment, writes it only when its bytes differ from the
//! file on disk, and then runs the reload command. The write goes to a staging file in the same
//! folder, which is fsynced and renamed over the fragment before the folder is fsynced, so smbd
//! never reads half a file. A failed reload is retried on the next sync, even when the fragment
//! is unchanged by then.
//!
//! smbd 4.17 re-reads changed configuration files when a client connects (seen on a test server),
//! and an open connection checks them again after `SMBD_RELOAD_CHECK` (180 s in Samba's
//! source). The reload makes open connections, such as an EMD's mapped drive, see a new share
//! at once.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::config::{
    AllDoctorsShare, ConfigError, DEFAULT_PORT, DoctorShare, SambaConfig, ShareAccess,
};
use super::names::{AccountName, ShareName};
use crate::delivery::names::{MAX_NAME_BYTES, is_safe_name};
use crate::store::{Principal, PrincipalId};

/// The reload command when the configuration names none.
pub const DEFAULT_RELOAD_COMMAND: [&str; 3] = ["smbcontrol", "smbd", "reload-config"];

/// How long the reload command may run before it is killed.
pub const RELOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The maximum number of characters of the reload command's output kept in an error.
const MAX_OUTPUT_CHARS: usize = 500;

/// Prefix of the staging file written next to the fragment before the rename.
const STAGING_PREFIX: &str = ".pbx-staging-";

/// Distinguishes the staging files of one process.
static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The service's share settings: the `[samba]` table of its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareSettings {
    /// The file the service writes and smb.conf includes (through the root-side copy on the box).
    pub fragment: PathBuf,
    /// The only account allowed on the shares.
    pub practice_user: AccountName,
    /// Account that smbd uses for file access (`force user`).
    pub force_user: Option<AccountName>,
    /// Group that smbd uses for file access (`force group`).
    pub force_group: Option<AccountName>,
    /// Name of the share over the whole share root, if there is one.
    pub all_doctors_share: Option<ShareName>,
    /// Access level of the practice user on every share.
    pub access: ShareAccess,
    /// Program and arguments run after the fragment changed, or empty for none.
    pub reload_command: Vec<String>,
}

impl ShareSettings {
    /// Builds the Samba configuration for `doctor_shares` under `share_root`.
    ///
    /// Interfaces and port are global settings outside the fragment, so they get placeholders
    /// that [`SambaConfig::render_fragment`] neither renders nor checks.
    pub fn samba_config(&self, share_root: &Path, doctor_shares: Vec<DoctorShare>) -> SambaConfig {
        SambaConfig {
            share_root: share_root.to_owned(),
            doctor_shares,
            all_doctors_share: self.all_doctors_share.clone().map(|name| AllDoctorsShare {
                name,
                access: self.access,
            }),
            practice_user: self.practice_user.clone(),
            force_user: self.force_user.clone(),
            force_group: self.force_group.clone(),
            interfaces: Vec::new(),
            port: DEFAULT_PORT,
        }
    }
}

/// A principal whose folder is not shared, or shared with a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareProblem {
    pub principal: PrincipalId,
    /// The principal's folder name, as stored.
    pub folder: String,
    pub reason: String,
}

impl fmt::Display for ShareProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "folder {:?} of principal {}: {}",
            self.folder, self.principal, self.reason
        )
    }
}

/// The outcome of one sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// The shares in the fragment, doctor shares first, in principal order.
    pub shares: Vec<ShareName>,
    /// True when the fragment's bytes changed and were written.
    pub written: bool,
    /// True when the reload command ran and succeeded.
    pub reloaded: bool,
    /// Principals left out of the fragment, or whose folder could not be created.
    pub problems: Vec<ShareProblem>,
}

/// Errors of a sync that leave the fragment or smbd behind the store.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("invalid Samba configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(
        "cannot write the Samba shares to {path}: {source}; check that the data partition is \
         mounted read-write and has free space"
    )]
    Write { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Reload(#[from] ReloadError),
}

/// Errors of the reload command.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot start the Samba reload command {program:?}: {source}; check reload_command")]
    Spawn { program: String, source: io::Error },
    #[error("the Samba reload command {command:?} failed with {status}: {output}")]
    Failed {
        command: String,
        status: String,
        output: String,
    },
    #[error(
        "the Samba reload command {command:?} did not finish within {timeout:?} and was killed"
    )]
    TimedOut { command: String, timeout: Duration },
}

/// The fragment of one service: its settings, the share root, and whether a reload is owed.
#[derive(Debug)]
pub struct FragmentSync {
    settings: ShareSettings,
    share_root: PathBuf,
    /// Set when the fragment changed but the reload command has not succeeded since.
    reload_pending: AtomicBool,
}

impl FragmentSync {
    /// Prepares the sync. No reload is owed at first, because smbd reads an unchanged fragment at
    /// its own start, and reads a fragment that a crash left unreloaded on the next connection.
    pub fn new(settings: ShareSettings, share_root: PathBuf) -> Self {
        Self {
            settings,
            share_root,
            reload_pending: AtomicBool::new(false),
        }
    }

    /// Returns the settings.
    pub fn settings(&self) -> &ShareSettings {
        &self.settings
    }

    /// Renders the fragment for `principals`, writes it when it changed, creates missing doctor
    /// folders, and runs the reload command after a change or a failed reload. Blocks: call it
    /// from a blocking thread.
    pub fn sync(&self, principals: &[Principal]) -> Result<SyncReport, SyncError> {
        let (config, mut problems) = plan_shares(&self.settings, &self.share_root, principals);
        let text = config.render_fragment()?;
        problems.extend(create_folders(&config, principals));

        let written =
            write_if_changed(&self.settings.fragment, text.as_bytes()).map_err(|source| {
                SyncError::Write {
                    path: self.settings.fragment.clone(),
                    source,
                }
            })?;
        if written {
            self.reload_pending.store(true, Ordering::SeqCst);
        }

        let mut reloaded = false;
        if self.reload_pending.load(Ordering::SeqCst) && !self.settings.reload_command.is_empty() {
            run_reload(&self.settings.reload_command, RELOAD_TIMEOUT)?;
            reloaded = true;
        }
        if reloaded || self.settings.reload_command.is_empty() {
            self.reload_pending.store(false, Ordering::SeqCst);
        }

        let mut shares: Vec<ShareName> = config
            .doctor_shares
            .iter()
            .map(|share| share.name.clone())
            .collect();
        shares.extend(config.all_doctors_share.map(|all| all.name));
        Ok(SyncReport {
            shares,
            written,
            reloaded,
            problems,
        })
    }
}

/// Chooses one share per principal folder. A folder that cannot be shared (an unsafe name, a
/// share name that is reserved or taken) is left out and reported, so that one bad row never
/// hides the other doctors' shares.
pub fn plan_shares(
    settings: &ShareSettings,
    share_root: &Path,
    principals: &[Principal],
) -> (SambaConfig, Vec<ShareProblem>) {
    let mut config = settings.samba_config(share_root, Vec::new());
    let mut problems = Vec::new();
    for principal in principals {
        let problem = |reason: String| ShareProblem {
            principal: principal.id,
            folder: principal.share_folder.clone(),
            reason,
        };
        if !is_safe_name(&principal.share_folder, MAX_NAME_BYTES) {
            problems.push(problem(
                "not a safe folder name, so it is not shared; rename the folder in the store"
                    .to_owned(),
            ));
            continue;
        }
        let share = match DoctorShare::for_folder(share_root.join(&principal.share_folder)) {
            Ok(share) => DoctorShare {
                access: settings.access,
                ..share
            },
            Err(error) => {
                problems.push(problem(error.to_string()));
                continue;
            }
        };

        // Adds the share, then takes it out again if it clashes with the shares so far.
        config.doctor_shares.push(share);
        if let Err(error) = config.validate_shares() {
            config.doctor_shares.pop();
            problems.push(problem(error.to_string()));
        }
    }
    (config, problems)
}

/// Creates the doctor folders of the shared principals that do not exist yet, so that the EMD
/// can connect to a share before its first message arrives.
fn create_folders(config: &SambaConfig, principals: &[Principal]) -> Vec<ShareProblem> {
    let mut problems = Vec::new();
    for principal in principals {
        let path = config.share_root.join(&principal.share_folder);
        if !config.doctor_shares.iter().any(|share| share.path == path) {
            continue;
        }
        if let Err(error) = create_folder(&path) {
            problems.push(ShareProblem {
                principal: principal.id,
                folder: principal.share_folder.clone(),
                reason: format!(
                    "cannot create {}: {error}; check that the share root exists and is writable",
                    path.display()
                ),
            });
        }
    }
    problems
}

fn create_folder(path: &Path) -> io::Result<()> {
    match fs::create_dir(path) {
        Ok(()) => sync_parent(path),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(error) => Err(error),
    }
}

/// Writes `bytes` to `path` atomically unless the file already contains exactly these bytes.
/// Returns whether it wrote. Creates the parent folder when missing.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    match fs::read(path) {
        Ok(current) if current == bytes => return Ok(false),
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let dir = parent_dir(path)?;
    fs::create_dir_all(dir)?;
    write_atomically(dir, path, bytes)?;
    Ok(true)
}

/// Writes a staging file in `dir`, fsyncs it, renames it to `path` and fsyncs `dir`.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let count = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
    let staging = dir.join(format!("{STAGING_PREFIX}{}-{count}", std::process::id()));
    let result = write_and_sync(&staging, bytes).and_then(|()| fs::rename(&staging, path));
    if result.is_err() {
        // The staging file may exist half-written; the error that matters is the one above.
        let _ = fs::remove_file(&staging);
    }
    result?;
    File::open(dir)?.sync_all()
}

fn write_and_sync(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_parent(path: &Path) -> io::Result<()> {
    File::open(parent_dir(path)?)?.sync_all()
}

fn parent_dir(path: &Path) -> io::Result<&Path> {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no parent folder", path.display()),
            )
        })
}

/// Runs `command` (program and arguments, no shell) and waits at most `timeout` for it.
pub fn run_reload(command: &[String], timeout: Duration) -> Result<(), ReloadError> {
    let Some((program, args)) = command.split_first() else {
        return Ok(());
    };
    let command_line = command.join(" ");
    let spawn_error = |source| ReloadError::Spawn {
        program: program.clone(),
        source,
    };

    // Standard output and error share one pipe, which a thread reads, so that a command that
    // writes much output cannot fill a pipe and block while this thread waits for the deadline.
    let (mut reader, writer) = io::pipe().map_err(spawn_error)?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(spawn_error)?)
        .stderr(writer)
        .spawn()
        .map_err(spawn_error)?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut output = String::new();
        let _ = reader.read_to_string(&mut output);
        let _ = sender.send(output);
    });

    let Ok(output) = receiver.recv_timeout(timeout) else {
        kill_child(child.id());
        let _ = child.wait();
        return Err(ReloadError::TimedOut {
            command: command_line,
            timeout,
        });
    };
    let status = child.wait().map_err(spawn_error)?;
    if status.success() {
        return Ok(());
    }
    Err(ReloadError::Failed {
        command: command_line,
        status: status.to_string(),
        output: summarize_output(&output),
    })
}

/// Returns the output on one line, cut to [`MAX_OUTPUT_CHARS`] characters for the status.
fn summarize_output(output: &str) -> String {
    let line = output.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_OUTPUT_CHARS) {
        Some((end, _)) => format!("{} ...", &line[..end]),
        None => line,
    }
}

fn kill_child(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
