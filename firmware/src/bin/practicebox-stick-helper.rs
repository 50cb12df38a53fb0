//! `practicebox-stick-helper`: mounts one USB stick for the PracticeBox service.
//!
//! Started by `practicebox-stick@.service` for each connection to `practicebox-stick.socket`,
//! with the connection as standard input and output. The files of the stick are owned by the
//! account at the other end of the connection (`SO_PEERCRED`). See `practicebox::stick::helper`
//! for the checks and the protocol.

use std::io;
use std::os::fd::AsFd;
use std::process::ExitCode;

use nix::sys::socket::{getsockopt, sockopt};
use practicebox::stick::UeventSocket;
use practicebox::stick::helper::{HelperConfig, serve_connection};
use practicebox::stick::mount::{KernelMounts, Owner};
use tokio::net::UnixStream;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .with_ansi(false)
        .without_time()
        .init();

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the tokio runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "stick helper failed");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> io::Result<()> {
    let connection = stdin_connection()?;
    let credentials = getsockopt(&connection, sockopt::PeerCredentials)?;
    let owner = Owner {
        uid: credentials.uid(),
        gid: credentials.gid(),
    };
    let stream = UnixStream::from_std(connection)?;
    // Opened before the request is read, so a stick pulled during the mount is still noticed.
    let mut removals = match UeventSocket::open() {
        Ok(socket) => Some(socket),
        Err(error) => {
            tracing::error!(
                %error,
                "cannot listen to kernel uevents; a pulled stick stays mounted until the \
                 service lets go"
            );
            None
        }
    };

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    };
    let config = HelperConfig::default();
    serve_connection(
        stream,
        owner,
        &config,
        &KernelMounts,
        &mut removals,
        shutdown,
    )
    .await
}

/// Returns the accepted connection that systemd passes as standard input.
fn stdin_connection() -> io::Result<std::os::unix::net::UnixStream> {
    let fd = io::stdin().as_fd().try_clone_to_owned()?;
    let connection = std::os::unix::net::UnixStream::from(fd);
    // Fails with ENOTSOCK when standard input is not a socket, for example a terminal.
    connection.peer_addr().map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "standard input is not a Unix socket ({error}); this helper runs from \
                 practicebox-stick.socket, not by hand"
            ),
        )
    })?;
    connection.set_nonblocking(true)?;
    Ok(connection)
}
