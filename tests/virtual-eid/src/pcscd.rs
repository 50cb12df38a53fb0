//! Test support: a real pcscd whose only reader is vpcd, started and stopped through the
//! `start-pcscd-vpcd` script of this crate, and the virtual card connected to it.
//!
//! The script runs pcscd in a private network namespace with only loopback, because vpcd binds
//! its card port on every interface. The card joins that namespace from a short-lived thread
//! (`setns` changes only the calling thread) to connect to 127.0.0.1; the socket keeps working
//! from any thread. Only one pcscd can own `/run/pcscd`, so [`PcscdVpcd::start`] also takes a
//! process-wide lock: tests in one binary take turns.
//!
//! [`PcscdVpcd::start_private`] runs pcscd with a socket of its own in the caller's folder
//! instead, so it needs no turn and does not collide with other test processes or with the
//! system's pcscd. Only clients started with `PCSCLITE_CSOCK_NAME` set to
//! [`PcscdVpcd::socket`] reach it: child processes, since libpcsclite reads the variable once
//! per process.

use std::fs::File;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::vpcd::{SharedCard, VpcdConnection};

/// Name prefix of the reader that slot 0 of vpcd shows in PC/SC.
pub const VPCD_READER_PREFIX: &str = "Virtual PCD 00 00";

/// Default vpcd port (0x8C7B, the port Debian's vpcd configuration uses).
pub const DEFAULT_VPCD_PORT: u16 = 35963;

/// Why the test pcscd could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PcscdError {
    /// The start script failed; its message states the cause and the fix.
    #[error("cannot start pcscd with the vpcd reader: {message}")]
    Start { message: String },
    /// The script could not be run at all.
    #[error("cannot run {script}: {source}")]
    Script {
        script: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Joining pcscd's network namespace or connecting to vpcd failed.
    #[error(
        "cannot connect the virtual card to vpcd on 127.0.0.1:{port} in pcscd's network namespace: {source}"
    )]
    Connect {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// The environment variable from which libpcsclite reads the path of pcscd's socket.
pub const SOCKET_VARIABLE: &str = "PCSCLITE_CSOCK_NAME";

/// A running pcscd with the vpcd reader; stopped by PID when dropped.
#[derive(Debug)]
pub struct PcscdVpcd {
    pid: u32,
    port: u16,
    state_dir: PathBuf,
    socket: PathBuf,
    /// Held while pcscd owns the shared `/run/pcscd`; `None` for a private socket.
    _turn: Option<PcscdTurn>,
}

/// This process's exclusive use of `/run/pcscd`.
pub type PcscdTurn = MutexGuard<'static, ()>;

/// Waits until no other test of this process uses pcscd, for tests that need pcscd absent.
pub fn take_turn() -> PcscdTurn {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Returns the path of the start script.
pub fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("start-pcscd-vpcd")
}

impl PcscdVpcd {
    /// Starts pcscd with vpcd listening on `port` and `port + 1`, waiting for this process's
    /// turn first. State (PID file, reader configuration, log) goes to a fixed folder per port
    /// under the temporary directory, so a pcscd left by a crashed run is found and stopped.
    pub fn start(port: u16) -> Result<Self, PcscdError> {
        Self::start_in_turn(take_turn(), port)
    }

    /// Starts pcscd like [`PcscdVpcd::start`], in a turn the caller already holds.
    pub fn start_in_turn(turn: PcscdTurn, port: u16) -> Result<Self, PcscdError> {
        let state_dir = std::env::temp_dir().join(format!("practicebox-pcscd-vpcd-{port}"));
        Self::launch(state_dir, port, Some(turn))
    }

    /// Starts pcscd with its socket in `state_dir/run`, in its own mount and network
    /// namespaces. `state_dir` (PID file, reader configuration, log, socket) must belong to the
    /// caller alone, such as a fresh temporary folder. Any vpcd port works, since the port is
    /// inside pcscd's own network namespace.
    pub fn start_private(state_dir: &Path, port: u16) -> Result<Self, PcscdError> {
        Self::launch(state_dir.to_owned(), port, None)
    }

    fn launch(state_dir: PathBuf, port: u16, turn: Option<PcscdTurn>) -> Result<Self, PcscdError> {
        let script = script_path();
        let mut command = Command::new("bash");
        command
            .arg(&script)
            .arg("start")
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--port")
            .arg(port.to_string());
        let socket = if turn.is_some() {
            PathBuf::from("/run/pcscd/pcscd.comm")
        } else {
            command.arg("--private-socket");
            state_dir.join("run/pcscd.comm")
        };
        let output = command.output().map_err(|source| PcscdError::Script {
            script: script.clone(),
            source,
        })?;
        if !output.status.success() {
            return Err(PcscdError::Start {
                message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        let pid = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|_| PcscdError::Start {
                message: format!(
                    "the script printed {:?} instead of a PID",
                    String::from_utf8_lossy(&output.stdout)
                ),
            })?;
        tracing::info!(pid, port, socket = %socket.display(), "test pcscd started");
        Ok(Self {
            pid,
            port,
            state_dir,
            socket,
            _turn: turn,
        })
    }

    /// Returns the path of pcscd's socket, the value of [`SOCKET_VARIABLE`] for its clients.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Returns pcscd's PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Returns the folder with pcscd's log and PID file.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Inserts `card` into the virtual reader: connects it to vpcd inside pcscd's namespace.
    pub fn insert(&self, card: SharedCard) -> Result<VpcdConnection, PcscdError> {
        let stream = self.connect_in_namespace()?;
        VpcdConnection::serve(stream, card).map_err(|source| PcscdError::Connect {
            port: self.port,
            source,
        })
    }

    fn connect_in_namespace(&self) -> Result<TcpStream, PcscdError> {
        let port = self.port;
        let namespace = PathBuf::from(format!("/proc/{}/ns/net", self.pid));
        let connect = move || -> std::io::Result<TcpStream> {
            let namespace = File::open(&namespace)?;
            rustix::thread::move_into_link_name_space(
                namespace.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )?;
            TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(5))
        };
        std::thread::spawn(connect)
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("connect thread panicked")))
            .map_err(|source| PcscdError::Connect { port, source })
    }
}

impl Drop for PcscdVpcd {
    fn drop(&mut self) {
        let status = Command::new("bash")
            .arg(script_path())
            .arg("stop")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .status();
        match status {
            Ok(status) if status.success() => tracing::info!(pid = self.pid, "test pcscd stopped"),
            Ok(status) => {
                tracing::error!(pid = self.pid, %status, "stopping the test pcscd failed")
            }
            Err(error) => {
                tracing::error!(pid = self.pid, %error, "cannot run the pcscd stop script")
            }
        }
    }
}
