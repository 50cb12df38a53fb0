//! Monotonic time for the front panel: the real clock and a manual one for tests.
//!
//! Times are [`Duration`]s since the clock's own origin, so a simulated run starts at zero and
//! timestamps in test output stay readable.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A monotonic time source.
pub trait Clock: Send + Sync {
    /// Returns the time elapsed since the clock's origin.
    fn now(&self) -> Duration;
}

/// The system's monotonic clock, with its origin at construction.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// Creates a clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only through [`ManualClock::advance`] and [`ManualClock::set`]. Clones
/// share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: Arc<Mutex<Duration>>,
}

impl ManualClock {
    /// Creates a clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `step`.
    pub fn advance(&self, step: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += step;
    }

    /// Moves the clock to `time`, which must not be earlier than the current time.
    ///
    /// # Panics
    ///
    /// Panics if `time` is earlier than the current time, because a monotonic clock never goes
    /// back.
    pub fn set(&self, time: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(
            time >= *now,
            "manual clock moved back from {now:?} to {time:?}"
        );
        *now = time;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let clock = ManualClock::new();
        let other = clock.clone();

        clock.advance(Duration::from_millis(250));
        other.set(Duration::from_secs(1));

        assert_eq!(clock.now(), Duration::from_secs(1));
    }

    #[test]
    #[should_panic(expected = "moved back")]
    fn manual_clock_rejects_going_back() {
        let clock = ManualClock::new();
        clock.advance(Duration::from_secs(2));
        clock.set(Duration::from_secs(1));
    }
}
