//! Test support: a real pcscd whose only reader is vpcd, started and stopped through the
//! `start-pcscd-vpcd` script of this crate, and the virtual card connected to it.
//!
//! The script runs pcscd in a private network namespace with only loopback, because vpcd binds
//! its card port on every interface. The card joins that namespace from a short-lived thread
//! (`setns` changes only the calling thread) to connect to 127.0.0.1; the socket keeps working
//! from any thread.
//!
//! pcscd also gets a private mount namespace with its socket in the caller's folder, so any
//! number of test pcscd run beside each other and beside the system's, which keeps the shared
//! `/run/pcscd`. Only clients started with `PCSCLITE_CSOCK_NAME` set to [`PcscdVpcd::socket`]
//! reach it. libpcsclite reads that variable once per process, so a test that calls PC/SC in
//! its own process needs a process per pcscd.

use std::fs::File;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
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
    /// The stop script failed.
    #[error("cannot stop the test pcscd: {message}")]
    Stop { message: String },
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
}

/// Returns the socket of the pcscd that [`PcscdVpcd::start_private`] starts in `state_dir`,
/// known before it starts so that a child process can be given it.
pub fn private_socket(state_dir: &Path) -> PathBuf {
    state_dir.join("run/pcscd.comm")
}

/// Stops the pcscd recorded in `state_dir`, if one is running: one that a killed test process
/// left behind. Does nothing when none is recorded.
pub fn stop_recorded(state_dir: &Path) -> Result<(), PcscdError> {
    let script = script_path();
    let output = Command::new("bash")
        .arg(&script)
        .arg("stop")
        .arg("--state-dir")
        .arg(state_dir)
        .output()
        .map_err(|source| PcscdError::Script { script, source })?;
    if !output.status.success() {
        return Err(PcscdError::Stop {
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Returns the path of the start script.
pub fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("start-pcscd-vpcd")
}

impl PcscdVpcd {
    /// Starts pcscd with its socket in `state_dir/run`, in its own mount and network
    /// namespaces. `state_dir` (PID file, reader configuration, log, socket) must belong to the
    /// caller alone, such as a fresh temporary folder. Any vpcd port works, since the port is
    /// inside pcscd's own network namespace.
    pub fn start_private(state_dir: &Path, port: u16) -> Result<Self, PcscdError> {
        let state_dir = state_dir.to_owned();
        let script = script_path();
        let mut command = Command::new("bash");
        command
            .arg(&script)
            .arg("start")
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--port")
            .arg(port.to_string())
            .arg("--private-socket");
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
        tracing::info!(pid, port, state_dir = %state_dir.display(), "test pcscd started");
        Ok(Self {
            pid,
            port,
            socket: private_socket(&state_dir),
            state_dir,
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
        match stop_recorded(&self.state_dir) {
            Ok(()) => tracing::info!(pid = self.pid, "test pcscd stopped"),
            Err(error) => tracing::error!(pid = self.pid, %error, "stopping the test pcscd failed"),
        }
    }
}
