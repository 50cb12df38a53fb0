//! The LEDs trait and the LED states: off, on, or blinking with a period and duty cycle.
//!
//! A blink starts with its on phase at the moment the state is set, so two LEDs set to the
//! same pattern at the same time blink together. [`LedState::is_lit_at`] and
//! [`LedState::next_change_after`] are the blink schedule that both the GPIO driver and the
//! LED timeline use.

use std::fmt;
use std::time::Duration;

use crate::pi::GpioError;

/// One of the three front panel LEDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Led {
    Green,
    Amber,
    Red,
}

impl Led {
    /// Every LED, in front panel order.
    pub const ALL: [Led; 3] = [Led::Green, Led::Amber, Led::Red];

    /// Lowercase name used in logs.
    pub fn name(self) -> &'static str {
        match self {
            Led::Green => "green",
            Led::Amber => "amber",
            Led::Red => "red",
        }
    }

    /// One-letter label used in the compact text rendering.
    pub fn letter(self) -> char {
        match self {
            Led::Green => 'G',
            Led::Amber => 'A',
            Led::Red => 'R',
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Led {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A blink: lit for `on_time` at the start of every `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlinkPattern {
    period: Duration,
    on_time: Duration,
}

impl BlinkPattern {
    /// One flash a second, half on: "busy".
    pub const SLOW: BlinkPattern = BlinkPattern {
        period: Duration::from_millis(1000),
        on_time: Duration::from_millis(500),
    };
    /// Four flashes a second, half on: "needs attention now".
    pub const FAST: BlinkPattern = BlinkPattern {
        period: Duration::from_millis(250),
        on_time: Duration::from_millis(125),
    };

    /// Creates a pattern with the given period and duty cycle in percent (1 to 99).
    pub fn new(period: Duration, duty_percent: u8) -> Result<Self, LedsError> {
        if period < Duration::from_millis(10) {
            return Err(LedsError::InvalidBlink {
                detail: format!("period {period:?} is shorter than 10ms; use a longer period"),
            });
        }
        if !(1..=99).contains(&duty_percent) {
            return Err(LedsError::InvalidBlink {
                detail: format!(
                    "duty cycle {duty_percent}% is outside 1..=99%; use LedState::On or \
                     LedState::Off for a steady LED"
                ),
            });
        }
        Ok(Self {
            period,
            on_time: period * u32::from(duty_percent) / 100,
        })
    }

    /// Length of one on-off cycle.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Time lit at the start of each cycle.
    pub fn on_time(&self) -> Duration {
        self.on_time
    }

    fn phase(&self, elapsed: Duration) -> Duration {
        let period = self.period.as_nanos();
        Duration::from_nanos((elapsed.as_nanos() % period) as u64)
    }
}

/// State of an LED: off, on, or blinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LedState {
    #[default]
    Off,
    On,
    Blink(BlinkPattern),
}

impl LedState {
    /// Returns whether the LED is lit `elapsed` after this state was set.
    pub fn is_lit_at(&self, elapsed: Duration) -> bool {
        match self {
            LedState::Off => false,
            LedState::On => true,
            LedState::Blink(pattern) => pattern.phase(elapsed) < pattern.on_time,
        }
    }

    /// Returns the elapsed time, after `elapsed`, at which the LED next turns on or off, or
    /// `None` for a steady state.
    pub fn next_change_after(&self, elapsed: Duration) -> Option<Duration> {
        let LedState::Blink(pattern) = self else {
            return None;
        };
        let phase = pattern.phase(elapsed);
        let cycle_start = elapsed - phase;
        if phase < pattern.on_time {
            Some(cycle_start + pattern.on_time)
        } else {
            Some(cycle_start + pattern.period)
        }
    }
}

impl fmt::Display for LedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedState::Off => f.write_str("off"),
            LedState::On => f.write_str("on"),
            LedState::Blink(_) => f.write_str("blink"),
        }
    }
}

/// The three front panel LEDs.
pub trait Leds {
    /// Sets what `led` shows from now on.
    fn set(&mut self, led: Led, state: LedState) -> Result<(), LedsError>;

    /// Turns every LED off; the service calls this at shutdown.
    fn all_off(&mut self) -> Result<(), LedsError> {
        for led in Led::ALL {
            self.set(led, LedState::Off)?;
        }
        Ok(())
    }
}

/// Errors of the LED drivers.
#[derive(Debug, thiserror::Error)]
pub enum LedsError {
    /// The blink pattern's period or duty cycle is out of range.
    #[error("invalid blink pattern: {detail}")]
    InvalidBlink { detail: String },

    /// The GPIO character device failed.
    #[error(transparent)]
    Gpio(#[from] GpioError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn blink_is_lit_in_first_part_of_period() {
        let state = LedState::Blink(BlinkPattern::new(ms(1000), 25).unwrap());

        assert!(state.is_lit_at(ms(0)));
        assert!(state.is_lit_at(ms(249)));
        assert!(!state.is_lit_at(ms(250)));
        assert!(!state.is_lit_at(ms(999)));
        assert!(state.is_lit_at(ms(1000)));
    }

    #[test]
    fn blink_next_change_alternates() {
        let state = LedState::Blink(BlinkPattern::new(ms(1000), 25).unwrap());

        assert_eq!(state.next_change_after(ms(0)), Some(ms(250)));
        assert_eq!(state.next_change_after(ms(250)), Some(ms(1000)));
        assert_eq!(state.next_change_after(ms(1100)), Some(ms(1250)));
    }

    #[test]
    fn steady_states_never_change() {
        assert_eq!(LedState::On.next_change_after(ms(5)), None);
        assert_eq!(LedState::Off.next_change_after(ms(5)), None);
        assert!(LedState::On.is_lit_at(ms(123_456)));
        assert!(!LedState::Off.is_lit_at(ms(0)));
    }

    #[test]
    fn blink_rejects_full_duty() {
        let error = BlinkPattern::new(ms(500), 100).unwrap_err();

        assert_eq!(
            error.to_string(),
            "invalid blink pattern: duty cycle 100% is outside 1..=99%; use LedState::On or \
             LedState::Off for a steady LED"
        );
    }

    #[test]
    fn blink_rejects_tiny_period() {
        let error = BlinkPattern::new(ms(5), 50).unwrap_err();

        assert_eq!(
            error.to_string(),
            "invalid blink pattern: period 5ms is shorter than 10ms; use a longer period"
        );
    }
}
