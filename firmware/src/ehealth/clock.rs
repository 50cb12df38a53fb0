//! The clock guard: no eHealth call leaves the box before its clock can be trusted.
//!
//! The board has no real-time clock, so after a power cut the system time starts from whatever
//! the image or the last shutdown left. WS-Security timestamps live 60 seconds and SAML tokens
//! carry validity windows, so a wrong clock makes every call fail with an authentication fault,
//! or worse, makes the box trust an expired token. The system clock counts as trustworthy once
//! systemd-timesyncd has synchronised it (it then creates a flag file, by default
//! [`DEFAULT_SYNC_FLAG`]), or when the configuration sets it explicitly (a box with an RTC hat,
//! a development machine).
//!
//! Everything that needs the time takes a [`Clock`]; tests use [`ManualClock`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// The flag file systemd-timesyncd creates once the system clock is synchronised.
pub const DEFAULT_SYNC_FLAG: &str = "/run/systemd/timesync/synchronized";

/// Times before this instant are never accepted, synchronised or not: an unsynchronised
/// board typically starts at the epoch or at the image build date.
pub const EARLIEST_PLAUSIBLE: Timestamp = Timestamp::constant(1_767_225_600, 0); // 2026-01-01

/// The reason the clock cannot be used for an eHealth call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error(
        "the system clock is not synchronised yet (no flag file '{flag}'); wait for NTP, check the network and that systemd-timesyncd runs"
    )]
    NotSynchronised { flag: String },
    #[error(
        "the clock reads {now}, before {EARLIEST_PLAUSIBLE}; it cannot be right, wait for NTP or set the time"
    )]
    Implausible { now: Timestamp },
}

/// A source of the current time that reports whether it can be trusted.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Returns the current time, without any check.
    fn now(&self) -> Timestamp;

    /// Checks that [`Clock::now`] can be trusted for signed calls.
    fn check_synchronised(&self) -> Result<(), ClockError>;

    /// Returns the current time once it can be trusted.
    fn trusted_now(&self) -> Result<Timestamp, ClockError> {
        self.check_synchronised()?;
        let now = self.now();
        if now < EARLIEST_PLAUSIBLE {
            return Err(ClockError::Implausible { now });
        }
        Ok(now)
    }
}

/// The system clock, trusted once the NTP flag file exists or when configured to be trusted.
#[derive(Debug, Clone)]
pub struct SystemClock {
    sync_flag: PathBuf,
    trust_without_sync: bool,
}

impl SystemClock {
    /// A clock that waits for `sync_flag`, or trusts the system time at once when
    /// `trust_without_sync` is set.
    pub fn new(sync_flag: impl Into<PathBuf>, trust_without_sync: bool) -> Self {
        Self {
            sync_flag: sync_flag.into(),
            trust_without_sync,
        }
    }

    /// The flag file this clock waits for.
    pub fn sync_flag(&self) -> &Path {
        &self.sync_flag
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new(DEFAULT_SYNC_FLAG, false)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn check_synchronised(&self) -> Result<(), ClockError> {
        if self.trust_without_sync || self.sync_flag.exists() {
            return Ok(());
        }
        Err(ClockError::NotSynchronised {
            flag: self.sync_flag.display().to_string(),
        })
    }
}

/// A clock for tests: set, moved and declared synchronised by hand.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(Timestamp, bool)>,
}

impl ManualClock {
    /// A synchronised clock reading `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            state: Mutex::new((now, true)),
        }
    }

    pub fn set(&self, now: Timestamp) {
        self.lock().0 = now;
    }

    /// Moves the clock by `delta` (negative moves it back).
    pub fn advance(&self, delta: SignedDuration) {
        let mut state = self.lock();
        state.0 = state.0.saturating_add(delta).unwrap_or(state.0);
    }

    pub fn set_synchronised(&self, synchronised: bool) {
        self.lock().1 = synchronised;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Timestamp, bool)> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.lock().0
    }

    fn check_synchronised(&self) -> Result<(), ClockError> {
        if self.lock().1 {
            Ok(())
        } else {
            Err(ClockError::NotSynchronised {
                flag: "manual clock".to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_waits_for_flag() {
        let folder = tempfile::tempdir().unwrap();
        let flag = folder.path().join("synchronized");
        let clock = SystemClock::new(&flag, false);

        let error = clock.trusted_now().unwrap_err();
        assert!(matches!(error, ClockError::NotSynchronised { .. }));
        assert!(error.to_string().contains("synchronized"), "{error}");

        std::fs::write(&flag, b"").unwrap();
        assert!(clock.trusted_now().is_ok());
    }

    #[test]
    fn system_clock_override_trusts_at_once() {
        let clock = SystemClock::new("/nonexistent/flag", true);
        assert!(clock.trusted_now().is_ok());
    }

    #[test]
    fn manual_clock_rejects_epoch() {
        let clock = ManualClock::new(Timestamp::UNIX_EPOCH);
        let error = clock.trusted_now().unwrap_err();
        assert_eq!(
            error,
            ClockError::Implausible {
                now: Timestamp::UNIX_EPOCH
            }
        );
        assert!(error.to_string().contains("1970-01-01"), "{error}");
    }

    #[test]
    fn manual_clock_unsynchronised_is_rejected() {
        let now: Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
        let clock = ManualClock::new(now);
        assert_eq!(clock.trusted_now(), Ok(now));
        clock.set_synchronised(false);
        assert!(clock.trusted_now().is_err());
        clock.advance(SignedDuration::from_secs(30));
        assert_eq!(clock.now(), now + SignedDuration::from_secs(30));
    }
}
