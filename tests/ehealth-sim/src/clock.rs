//! The simulator's clock: real time plus an offset that tests and the admin interface can move.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// A source of the current time, injected everywhere the simulator checks or stamps a time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// Wall-clock time shifted by an adjustable offset, or frozen at a fixed instant.
#[derive(Debug, Default)]
pub struct SimClock {
    state: Mutex<ClockState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct ClockState {
    offset: SignedDuration,
    frozen_at: Option<Timestamp>,
}

impl SimClock {
    /// Creates a clock that follows real time.
    pub fn real_time() -> Self {
        Self::default()
    }

    /// Creates a clock that stays at `instant` until moved.
    pub fn frozen(instant: Timestamp) -> Self {
        let clock = Self::default();
        clock.freeze(instant);
        clock
    }

    /// Stops the clock at `instant`.
    pub fn freeze(&self, instant: Timestamp) {
        self.lock().frozen_at = Some(instant);
    }

    /// Moves the clock forward (or backward, for a negative `delta`).
    pub fn advance(&self, delta: SignedDuration) {
        let mut state = self.lock();
        match state.frozen_at {
            Some(instant) => {
                state.frozen_at = Some(instant.saturating_add(delta).unwrap_or(instant))
            }
            None => state.offset = state.offset.saturating_add(delta),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // A poisoned lock only means a test panicked while holding it; the state is still valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        let state = *self.lock();
        match state.frozen_at {
            Some(instant) => instant,
            None => Timestamp::now()
                .saturating_add(state.offset)
                .unwrap_or(Timestamp::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let clock = SimClock::frozen(start);
        assert_eq!(clock.now(), start);

        clock.advance(SignedDuration::from_secs(90));
        assert_eq!(clock.now(), start + SignedDuration::from_secs(90));
    }

    #[test]
    fn real_time_clock_applies_offset() {
        let clock = SimClock::real_time();
        clock.advance(SignedDuration::from_hours(24));
        let ahead = clock.now().duration_since(Timestamp::now());
        assert!(
            ahead > SignedDuration::from_hours(23),
            "offset not applied: {ahead:?}"
        );
    }
}
