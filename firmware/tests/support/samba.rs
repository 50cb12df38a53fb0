//! A real `smbd` on a loopback port for tests, and an `smbclient` wrapper that reads from it as
//! the EMD would.
//!
//! [`SmbServer::start`] renders a [`StandaloneConfig`] with every Samba runtime path inside its
//! own temporary folder. It gives the practice user an SMB password in a private tdbsam
//! database, starts `smbd --foreground --no-process-group` bound to 127.0.0.1 on a free port,
//! and waits until the port accepts. smbd runs in a process group of its own, because on SIGTERM it signals
//! its whole group. Dropping the server sends SIGTERM to that one PID and waits for it.
//!
//! Requirements, checked with clear errors: the Debian packages `samba`, `samba-common-bin` and
//! `smbclient` (`.ci/install-deps` installs them), and root, because smbd switches to the
//! connecting user's Unix account for file access. That account must exist: the tests use the
//! system account [`TEST_PRACTICE_USER`], created with `useradd --system --no-create-home` when
//! missing and left in place afterwards, as is any account given to [`SmbServer::add_account`].
//!
//! smbd reads files as the practice user, so every folder on the way to a share must be
//! traversable and the files readable by that account; [`SmbServer::start`] makes the share root
//! mode 0755, and files written with the default umask are then readable.
//!
//! Listing the shares (`smbclient -L`) makes smbd start `samba-dcerpcd` in a session of its own,
//! which outlives smbd (seen with Samba 4.17). Dropping the server stops it too, by the PID in
//! the server's own pid folder.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::fs;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use practicebox::samba::{AccountName, DoctorShare, SambaConfig, StandaloneConfig};
use tempfile::TempDir;

/// System account that the tests use as the practice user.
pub const TEST_PRACTICE_USER: &str = "pbx-emd-test";

/// How long smbd may take to accept connections after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long smbd may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many free ports to try when smbd exits at startup, such as when another process took the
/// port between probing it and smbd binding it.
const START_ATTEMPTS: usize = 3;

/// Serialises `useradd`, because tests in one binary start servers in parallel.
static USERADD_LOCK: Mutex<()> = Mutex::new(());

/// A running `smbd`, stopped on drop.
#[derive(Debug)]
pub struct SmbServer {
    child: Child,
    port: u16,
    config_path: PathBuf,
    output_path: PathBuf,
    // Holds the configuration, password database and log until the server is dropped.
    _runtime: TempDir,
}

impl SmbServer {
    /// Starts smbd serving `shares`, all folders under `share_root`, to `user` with `password`.
    pub fn start(
        share_root: &Path,
        shares: Vec<DoctorShare>,
        user: &str,
        password: &str,
    ) -> Result<Self> {
        let config = SambaConfig {
            share_root: share_root.to_owned(),
            doctor_shares: shares,
            all_doctors_share: None,
            practice_user: AccountName::new(user)?,
            force_user: None,
            force_group: None,
            interfaces: Vec::new(),
            port: 0,
        };
        Self::start_config(config, password)
    }

    /// Starts smbd without shares of its own, serving the shares of `fragment` under
    /// `share_root`, as the box's smb.conf includes the fragment. The fragment may be written
    /// after the start.
    pub fn start_including(
        share_root: &Path,
        fragment: &Path,
        user: &str,
        password: &str,
    ) -> Result<Self> {
        let config = SambaConfig {
            share_root: share_root.to_owned(),
            doctor_shares: Vec::new(),
            all_doctors_share: None,
            practice_user: AccountName::new(user)?,
            force_user: None,
            force_group: None,
            interfaces: Vec::new(),
            port: 0,
        };
        Self::start_with_include(config, password, Some(fragment))
    }

    /// Starts smbd with `config`, whose interfaces and port are replaced by 127.0.0.1 and a free
    /// port.
    pub fn start_config(config: SambaConfig, password: &str) -> Result<Self> {
        Self::start_with_include(config, password, None)
    }

    fn start_with_include(
        mut config: SambaConfig,
        password: &str,
        include: Option<&Path>,
    ) -> Result<Self> {
        ensure_root()?;
        ensure_system_user(config.practice_user.as_str())?;
        fs::set_permissions(&config.share_root, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making share root {:?} traversable", config.share_root))?;

        let runtime = tempfile::Builder::new()
            .prefix("pbx-smbd-")
            .tempdir()
            .context("creating the smbd runtime folder")?;
        config.interfaces = vec![Ipv4Addr::LOCALHOST.to_string()];

        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            config.port = free_port()?;
            let standalone = StandaloneConfig {
                samba: config.clone(),
                runtime_dir: runtime.path().join("run"),
                include: include.map(Path::to_owned),
            };
            let config_path = write_config(&standalone, runtime.path())?;
            set_password(&config_path, config.practice_user.as_str(), password)?;

            match spawn_and_wait(&config_path, runtime.path(), config.port) {
                Ok((child, output_path)) => {
                    return Ok(Self {
                        child,
                        port: config.port,
                        config_path,
                        output_path,
                        _runtime: runtime,
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("smbd was never started")))
    }

    /// Gives `user` an SMB password in this server's database, creating the system account if
    /// missing, so that tests can log in as an account that the shares do not admit.
    pub fn add_account(&self, user: &str, password: &str) -> Result<()> {
        ensure_system_user(AccountName::new(user)?.as_str())?;
        set_password(&self.config_path, user, password)
    }

    /// Returns the TCP port smbd listens on at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the path of the rendered smb.conf.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Returns what smbd has logged so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.output_path).unwrap_or_default()
    }

    /// Returns a client that logs in as `user` with `password`.
    pub fn client(&self, user: &str, password: &str) -> Result<SmbClient> {
        SmbClient::new(self.port, Some((user, password)))
    }

    /// Returns a client that logs in without credentials (`-N`), as a guest would.
    pub fn anonymous_client(&self) -> Result<SmbClient> {
        SmbClient::new(self.port, None)
    }

    fn stop(&mut self) {
        self.stop_smbd();
        self.stop_dcerpcd();
    }

    fn stop_smbd(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();

        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the `samba-dcerpcd` that this server started, if any.
    fn stop_dcerpcd(&self) {
        let pid_file = self._runtime.path().join("run/pid/samba-dcerpcd.pid");
        let Ok(text) = fs::read_to_string(pid_file) else {
            return;
        };
        if let Ok(pid) = text.trim().parse::<u32>() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

impl Drop for SmbServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ensure_root() -> Result<()> {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .context("running `id -u`")?;
    let uid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    ensure!(
        uid == "0",
        "smbd tests must run as root (uid 0, not {uid}): smbd switches to the practice user's \
         account to read the shares"
    );
    Ok(())
}

/// Creates the system account `name` unless it exists.
fn ensure_system_user(name: &str) -> Result<()> {
    let _guard = USERADD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    let lookup = Command::new("getent")
        .args(["passwd", name])
        .output()
        .context("running `getent passwd`")?;
    if lookup.status.success() {
        return Ok(());
    }

    let output = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
        .output()
        .context("running `useradd`")?;
    // Exit status 9 means the name exists, such as when another test binary created it.
    if !output.status.success() && output.status.code() != Some(9) {
        bail!("useradd {name} failed: {}", describe(&output));
    }
    Ok(())
}

/// Returns a port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("probing a free port")?;
    Ok(listener.local_addr()?.port())
}

fn write_config(standalone: &StandaloneConfig, runtime: &Path) -> Result<PathBuf> {
    for dir in standalone.runtime_dirs() {
        fs::create_dir_all(&dir).with_context(|| format!("creating {dir:?}"))?;
    }
    fs::set_permissions(standalone.private_dir(), fs::Permissions::from_mode(0o700))?;

    let config_path = runtime.join("smb.conf");
    fs::write(&config_path, standalone.render()?)
        .with_context(|| format!("writing {config_path:?}"))?;
    Ok(config_path)
}

/// Sets the SMB password of `user` in the configuration's own password database.
fn set_password(config_path: &Path, user: &str, password: &str) -> Result<()> {
    let mut child = Command::new("smbpasswd")
        .arg("-c")
        .arg(config_path)
        .args(["-a", "-s", user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running smbpasswd; install the samba-common-bin package")?;

    // With -s, smbpasswd reads the new password twice from standard input.
    let mut stdin = child.stdin.take().context("smbpasswd has no stdin")?;
    write!(stdin, "{password}\n{password}\n").context("writing the password to smbpasswd")?;
    drop(stdin);

    let output = child.wait_with_output()?;
    ensure!(
        output.status.success(),
        "smbpasswd could not add {user}: {}",
        describe(&output)
    );
    Ok(())
}

/// Starts smbd and waits until `port` accepts connections; returns the child and its log path.
fn spawn_and_wait(config_path: &Path, runtime: &Path, port: u16) -> Result<(Child, PathBuf)> {
    let output_path = runtime.join(format!("smbd-{port}.out"));
    let output = fs::File::create(&output_path)?;

    // On SIGTERM, smbd 4.17 sends SIGTERM to its whole process group (seen: it killed the shell
    // that started it). `--no-process-group` keeps smbd in the group it starts in, so it gets a
    // group of its own here and the signal cannot reach the test runner.
    let mut child = Command::new("smbd")
        .process_group(0)
        .args([
            "--foreground",
            "--no-process-group",
            "--debug-stdout",
            "--debuglevel=1",
        ])
        .arg(format!("--configfile={}", config_path.display()))
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()
        .context("starting smbd; install the samba package")?;

    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            let log = fs::read_to_string(&output_path).unwrap_or_default();
            bail!("smbd exited at startup with {status} on port {port}; its output:\n{log}");
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok((child, output_path));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let log = fs::read_to_string(&output_path).unwrap_or_default();
            bail!(
                "smbd did not accept on port {port} within {START_TIMEOUT:?}; its output:\n{log}"
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn describe(output: &Output) -> String {
    format!(
        "{}; stdout: {}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    )
}

/// One `smbclient` run: exit status and both streams.
#[derive(Debug)]
pub struct ClientOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl ClientOutput {
    /// Returns the first `NT_STATUS_*` code that smbclient printed, if any.
    pub fn nt_status(&self) -> Option<String> {
        let text = format!("{}\n{}", self.stdout, self.stderr);
        let start = text.find("NT_STATUS_")?;
        let code: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        Some(code)
    }
}

/// One entry of an `ls` listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    /// smbclient's attribute letters: `D` folder, `H` hidden, `R` read-only, `A` archive, `N`
    /// none.
    pub attributes: String,
    pub size: u64,
}

impl DirEntry {
    pub fn is_hidden(&self) -> bool {
        self.attributes.contains('H')
    }

    pub fn is_dir(&self) -> bool {
        self.attributes.contains('D')
    }
}

/// Runs `smbclient` against one server as one user, with the password in an authentication
/// file (`-A`) rather than on the command line.
#[derive(Debug)]
pub struct SmbClient {
    port: u16,
    auth_file: Option<PathBuf>,
    config_file: PathBuf,
    max_protocol: String,
    options: Vec<String>,
    downloads: AtomicUsize,
    dir: TempDir,
}

impl SmbClient {
    /// Builds a client for the server on 127.0.0.1:`port`; `credentials` are user and password,
    /// or `None` for an anonymous login.
    pub fn new(port: u16, credentials: Option<(&str, &str)>) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("pbx-smbclient-")
            .tempdir()?;

        // An empty configuration keeps the machine's /etc/samba/smb.conf out of the tests.
        let config_file = dir.path().join("client.conf");
        fs::write(&config_file, "")?;

        let auth_file = match credentials {
            Some((user, password)) => Some(write_auth_file(dir.path(), user, password)?),
            None => None,
        };
        Ok(Self {
            port,
            auth_file,
            config_file,
            max_protocol: "SMB3".to_owned(),
            options: Vec::new(),
            downloads: AtomicUsize::new(0),
            dir,
        })
    }

    /// Negotiates at most `max` and at least `min` (smbclient's own minimum is SMB2_02, so an
    /// SMB1 test lowers it).
    pub fn with_protocols(mut self, min: &str, max: &str) -> Self {
        self.max_protocol = max.to_owned();
        self.options
            .push(format!("--option=client min protocol={min}"));
        self.options
            .push(format!("--option=client max protocol={max}"));
        self
    }

    /// Adds a raw smbclient argument, such as `--client-protection=encrypt`.
    pub fn with_arg(mut self, arg: &str) -> Self {
        self.options.push(arg.to_owned());
        self
    }

    /// Runs `commands` (smbclient's `-c` syntax) on `share`.
    pub fn run(&self, share: &str, commands: &str) -> Result<ClientOutput> {
        let target = format!("//127.0.0.1/{share}");
        self.run_smbclient(&[&target, "-c", commands])
    }

    /// Lists the server's disk shares (`smbclient -L`), sorted by name.
    pub fn list_shares(&self) -> Result<Vec<String>> {
        let output = self.run_smbclient(&["-L", "//127.0.0.1"])?;
        ensure!(output.success, "listing the shares failed: {output:?}");
        Ok(parse_share_list(&output.stdout))
    }

    fn run_smbclient(&self, args: &[&str]) -> Result<ClientOutput> {
        let mut command = Command::new("smbclient");
        command
            .arg("--configfile")
            .arg(&self.config_file)
            .args(["-p", &self.port.to_string(), "-m", &self.max_protocol])
            .args(&self.options);
        match &self.auth_file {
            Some(path) => command.arg("-A").arg(path),
            None => command.arg("-N"),
        };
        // smbclient falls back on these for a user name and password.
        for variable in ["USER", "LOGNAME", "PASSWD", "PASSWD_FD", "PASSWD_FILE"] {
            command.env_remove(variable);
        }
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .context("running smbclient; install the smbclient package")?;

        Ok(ClientOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Lists the top folder of `share`, without `.` and `..`.
    pub fn list(&self, share: &str) -> Result<Vec<DirEntry>> {
        let output = self.run(share, "ls")?;
        ensure!(output.success, "ls on {share} failed: {output:?}");
        parse_listing(&output.stdout)
    }

    /// Downloads `name` from `share` and returns its bytes.
    pub fn get(&self, share: &str, name: &str) -> Result<Vec<u8>> {
        let local = self.download_path();
        let output = self.get_to(share, name, &local)?;
        ensure!(
            output.success,
            "get {name:?} from {share} failed: {output:?}"
        );
        fs::read(&local).with_context(|| format!("reading the download {local:?}"))
    }

    /// Runs `get` for `name` into a fresh local file and returns smbclient's output, for tests
    /// that expect it to fail.
    pub fn try_get(&self, share: &str, name: &str) -> Result<ClientOutput> {
        let local = self.download_path();
        self.get_to(share, name, &local)
    }

    fn get_to(&self, share: &str, name: &str, local: &Path) -> Result<ClientOutput> {
        let command = format!("get {} {}", quote(name)?, quote(&local.to_string_lossy())?);
        self.run(share, &command)
    }

    fn download_path(&self) -> PathBuf {
        let index = self.downloads.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join(format!("download-{index}"))
    }
}

fn write_auth_file(dir: &Path, user: &str, password: &str) -> Result<PathBuf> {
    let path = dir.join("auth");
    // Mode 0600, because the file contains a password.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(file, "username = {user}")?;
    writeln!(file, "password = {password}")?;
    Ok(path)
}

/// Quotes `text` as one argument of an smbclient `-c` command.
fn quote(text: &str) -> Result<String> {
    // smbclient splits -c on ';' and has no escape for '"' inside quotes.
    ensure!(
        !text.contains(['"', ';']),
        "{text:?} contains '\"' or ';', which smbclient's -c syntax cannot carry"
    );
    Ok(format!("\"{text}\""))
}

/// Parses the share table of `smbclient -L`: lines of a tab, the name padded to 15 columns, a
/// space, and the type padded to 10 columns. Returns the names of the `Disk` shares, sorted.
pub fn parse_share_list(stdout: &str) -> Vec<String> {
    let mut names: Vec<String> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix('\t'))
        .filter_map(|row| {
            let (name, rest) = row.rsplit_once(" Disk")?;
            rest.chars()
                .next()
                .is_none_or(char::is_whitespace)
                .then(|| name.trim_end().to_owned())
        })
        .collect();
    names.sort();
    names
}

/// Parses smbclient's `ls` output.
///
/// Each entry line is two spaces, the name padded to 30 columns, the attribute letters, the
/// size and a five-part date such as `Fri Dec  4 17:13:46 2026`. The fields are taken from the
/// right, so names with spaces parse; trailing spaces of a name are lost.
pub fn parse_listing(stdout: &str) -> Result<Vec<DirEntry>> {
    let mut entries = Vec::new();
    for line in stdout.lines() {
        let Some(body) = line.strip_prefix("  ") else {
            continue;
        };
        let entry = parse_entry(body).with_context(|| format!("unexpected ls line {line:?}"))?;
        if entry.name != "." && entry.name != ".." {
            entries.push(entry);
        }
    }
    Ok(entries)
}

fn parse_entry(body: &str) -> Result<DirEntry> {
    let mut rest = body;
    for _ in 0..5 {
        (rest, _) = split_last_field(rest).context("missing date field")?;
    }
    let (rest, size) = split_last_field(rest).context("missing size")?;
    let (name, attributes) = split_last_field(rest).context("missing attributes")?;

    ensure!(
        attributes.chars().all(|c| c.is_ascii_uppercase()),
        "attributes {attributes:?} are not letters"
    );
    Ok(DirEntry {
        name: name.trim_end().to_owned(),
        attributes: attributes.to_owned(),
        size: size.parse().with_context(|| format!("size {size:?}"))?,
    })
}

/// Splits `text` before its last whitespace-separated field.
fn split_last_field(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_end();
    let start = text.rfind(char::is_whitespace)? + 1;
    Some((&text[..start], &text[start..]))
}
