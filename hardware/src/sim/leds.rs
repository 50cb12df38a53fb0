//! A simulated LED panel that records every change with its time.
//!
//! Clones share one record, so a test keeps a handle while the code under test owns the LEDs.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::{Clock, Led, LedState, Leds, LedsError};

/// One recorded [`Leds::set`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedChange {
    pub at: Duration,
    pub led: Led,
    pub state: LedState,
}

impl fmt::Display for LedChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.3}s {} {}",
            self.at.as_secs_f64(),
            self.led,
            self.state
        )
    }
}

/// LEDs that record (time, LED, state) for every change.
#[derive(Clone)]
pub struct LedTimeline {
    clock: Arc<dyn Clock>,
    changes: Arc<Mutex<Vec<LedChange>>>,
}

impl LedTimeline {
    /// Creates a panel with every LED off, timed by `clock`.
    pub fn new(clock: impl Clock + 'static) -> Self {
        Self {
            clock: Arc::new(clock),
            changes: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Returns every recorded change, oldest first.
    pub fn changes(&self) -> Vec<LedChange> {
        self.lock().clone()
    }

    /// Returns the current state of `led`.
    pub fn state(&self, led: Led) -> LedState {
        self.last_change(led, Duration::MAX)
            .map_or(LedState::Off, |change| change.state)
    }

    /// Returns whether `led` was lit at time `at`, following blink patterns.
    pub fn is_lit_at(&self, led: Led, at: Duration) -> bool {
        match self.last_change(led, at) {
            Some(change) => change.state.is_lit_at(at - change.at),
            None => false,
        }
    }

    /// Renders the current states on one line, like `[G on] [A blink] [R off]`.
    pub fn render_line(&self) -> String {
        Led::ALL
            .map(|led| format!("[{} {}]", led.letter(), self.state(led)))
            .join(" ")
    }

    fn last_change(&self, led: Led, at: Duration) -> Option<LedChange> {
        self.lock()
            .iter()
            .rev()
            .find(|change| change.led == led && change.at <= at)
            .copied()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<LedChange>> {
        self.changes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Leds for LedTimeline {
    fn set(&mut self, led: Led, state: LedState) -> Result<(), LedsError> {
        let change = LedChange {
            at: self.clock.now(),
            led,
            state,
        };
        self.lock().push(change);
        Ok(())
    }
}

impl fmt::Debug for LedTimeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedTimeline")
            .field("changes", &self.lock().len())
            .field("now", &self.render_line())
            .finish()
    }
}
