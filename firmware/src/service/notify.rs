//! Service notifications to systemd (the `sd_notify` protocol): READY, WATCHDOG and STOPPING.
//!
//! The unit is `Type=notify` with `WatchdogSec=`: systemd waits for `READY=1` before it counts
//! the service as started, and restarts it when `WATCHDOG=1` stops arriving. systemd passes the
//! socket in `NOTIFY_SOCKET` (a path, or an abstract name starting with `@`) and the watchdog
//! interval in `WATCHDOG_USEC`. Outside systemd the variables are absent and every call here
//! does nothing.

use std::io;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to systemd's notification socket, or nothing when not run by systemd.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` from the environment.
    pub fn from_environment() -> io::Result<Self> {
        let Some(name) = std::env::var_os("NOTIFY_SOCKET") else {
            return Ok(Self { target: None });
        };
        let name = name.to_string_lossy().into_owned();
        let address = match name.strip_prefix('@') {
            Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name.as_bytes())?,
            None => SocketAddr::from_pathname(&name)?,
        };
        let socket = UnixDatagram::unbound()?;
        Ok(Self {
            target: Some((socket, address)),
        })
    }

    /// Tells systemd that start-up is complete.
    pub fn ready(&self) {
        self.send("READY=1\nSTATUS=fetching");
    }

    /// Tells systemd that the service is alive.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// Tells systemd that the service is stopping, so a slow stop is not taken for a hang.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping");
    }

    fn send(&self, message: &str) {
        let Some((socket, address)) = &self.target else {
            return;
        };
        if let Err(error) = socket.send_to_addr(message.as_bytes(), address) {
            tracing::warn!(%error, message, "cannot send a notification to systemd");
        }
    }
}

/// Returns how often to send `WATCHDOG=1`: half the interval systemd set, or `None` when the
/// unit has no watchdog or it is meant for another process.
pub fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok()? != std::process::id()
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifier_for(path: &std::path::Path) -> Notifier {
        Notifier {
            target: Some((
                UnixDatagram::unbound().unwrap(),
                SocketAddr::from_pathname(path).unwrap(),
            )),
        }
    }

    #[test]
    fn notifications_reach_socket() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("notify");
        let systemd = UnixDatagram::bind(&path).unwrap();
        let notifier = notifier_for(&path);

        notifier.ready();
        notifier.watchdog();
        notifier.stopping();

        let mut buffer = [0u8; 128];
        let mut received = Vec::new();
        for _ in 0..3 {
            let length = systemd.recv(&mut buffer).unwrap();
            received.push(String::from_utf8(buffer[..length].to_vec()).unwrap());
        }
        assert_eq!(received[0], "READY=1\nSTATUS=fetching");
        assert_eq!(received[1], "WATCHDOG=1");
        assert_eq!(received[2], "STOPPING=1\nSTATUS=stopping");
    }

    #[test]
    fn notifier_without_socket_is_silent() {
        let notifier = Notifier { target: None };
        notifier.ready();
        notifier.watchdog();
        notifier.stopping();
    }

    #[test]
    fn abstract_socket_name_parses() {
        let address = SocketAddr::from_abstract_name(b"practicebox-test").unwrap();
        assert_eq!(address.as_abstract_name(), Some(&b"practicebox-test"[..]));
    }
}
