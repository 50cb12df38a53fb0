//! The three LEDs on the GPIO character device, with blinking driven by a small thread.
//!
//! Wiring: green on BCM GPIO17 (physical pin 11), amber on GPIO27 (pin 13), red on GPIO22
//! (pin 15), each through its series resistor to the LED's anode. The cathodes go to ground
//! (pin 25). Active high. Permissions: read-write on `/dev/gpiochip0` (group `gpio`, see the
//! [`pi`](crate::pi) module).
//!
//! Blinking runs on a plain thread rather than a tokio task: this crate stays free of an async
//! runtime, and the blink keeps its rhythm while the service's runtime is busy. The thread
//! sleeps until the next on/off change of any LED, or until [`Leds::set`] wakes it, so a
//! steady panel costs no wake-ups. [`Leds::set`] writes the new level itself, so its errors
//! reach the caller; write errors in the thread are logged once per kind of failure.
//! Dropping [`GpioLeds`] stops the thread and turns every LED off.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gpiocdev::Request;
use gpiocdev::line::{Value, Values};

use crate::board::{GPIO_CONSUMER, led_pin};
use crate::pi::GpioError;
use crate::pi::gpio::check_lines;
use crate::{Led, LedState, Leds, LedsError};

/// The front panel LEDs on a GPIO chip.
#[derive(Debug)]
pub struct GpioLeds {
    shared: Arc<Shared>,
    blinker: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    request: Request,
    chip: PathBuf,
    state: Mutex<BlinkState>,
    wake: Condvar,
}

#[derive(Debug)]
struct BlinkState {
    /// Each LED's state and the instant it was set, in [`Led::ALL`] order.
    leds: [(LedState, Instant); 3],
    stop: bool,
    last_failure: Option<String>,
}

impl GpioLeds {
    /// Requests the LED lines on `chip` (normally [`board::GPIO_CHIP`]), all off.
    ///
    /// [`board::GPIO_CHIP`]: crate::board::GPIO_CHIP
    pub fn open(chip: impl AsRef<Path>) -> Result<Self, LedsError> {
        let chip = chip.as_ref();
        let offsets = Led::ALL.map(|led| led_pin(led).bcm);
        check_lines(chip, &offsets)?;

        let request = Request::builder()
            .on_chip(chip)
            .with_consumer(format!("{GPIO_CONSUMER}-leds"))
            .with_lines(&offsets)
            .as_output(Value::Inactive)
            .request()
            .map_err(|error| GpioError::line("line request", chip, error))?;

        let now = Instant::now();
        let shared = Arc::new(Shared {
            request,
            chip: chip.to_owned(),
            state: Mutex::new(BlinkState {
                leds: [(LedState::Off, now); 3],
                stop: false,
                last_failure: None,
            }),
            wake: Condvar::new(),
        });
        let blinker = std::thread::Builder::new()
            .name("led-blink".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run_blinker(&shared)
            })
            .map_err(|source| GpioError::Open {
                path: chip.to_owned(),
                source,
            })?;

        tracing::info!(chip = %chip.display(), "LEDs ready");
        Ok(Self {
            shared,
            blinker: Some(blinker),
        })
    }
}

impl Leds for GpioLeds {
    fn set(&mut self, led: Led, state: LedState) -> Result<(), LedsError> {
        let mut blink = self.shared.lock();
        blink.leds[led.index()] = (state, Instant::now());
        self.shared.write(led, state.is_lit_at(Duration::ZERO))?;
        drop(blink);

        self.shared.wake.notify_one();
        tracing::info!(%led, %state, "LED set");
        Ok(())
    }
}

impl Drop for GpioLeds {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(blinker) = self.blinker.take() {
            let _ = blinker.join();
        }
        for led in Led::ALL {
            if let Err(error) = self.shared.write(led, false) {
                tracing::warn!(%led, %error, "failed to turn LED off");
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, BlinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, led: Led, lit: bool) -> Result<(), GpioError> {
        let value = if lit { Value::Active } else { Value::Inactive };
        self.request
            .set_value(led_pin(led).bcm, value)
            .map_err(|error| GpioError::line("line write", &self.chip, error))
    }

    fn write_all(&self, levels: [bool; 3]) -> Result<(), GpioError> {
        let mut values = Values::default();
        for (led, lit) in Led::ALL.into_iter().zip(levels) {
            let value = if lit { Value::Active } else { Value::Inactive };
            values.set(led_pin(led).bcm, value);
        }
        self.request
            .set_values(&values)
            .map_err(|error| GpioError::line("line write", &self.chip, error))
    }
}

fn run_blinker(shared: &Shared) {
    let mut blink = shared.lock();
    while !blink.stop {
        let now = Instant::now();
        let mut levels = [false; 3];
        let mut next_change: Option<Instant> = None;
        for (lit, (state, since)) in levels.iter_mut().zip(blink.leds) {
            let elapsed = now.duration_since(since);
            *lit = state.is_lit_at(elapsed);
            if let Some(change) = state.next_change_after(elapsed) {
                let at = since + change;
                next_change = Some(next_change.map_or(at, |next| next.min(at)));
            }
        }

        let failure = shared
            .write_all(levels)
            .err()
            .map(|error| error.to_string());
        if failure.is_some() && failure != blink.last_failure {
            tracing::warn!(error = failure.as_deref(), "LED blink write failed");
        }
        blink.last_failure = failure;

        blink = match next_change {
            Some(at) => {
                let timeout = at.saturating_duration_since(Instant::now());
                let (guard, _) = shared
                    .wake
                    .wait_timeout(blink, timeout)
                    .unwrap_or_else(PoisonError::into_inner);
                guard
            }
            None => shared
                .wake
                .wait(blink)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_without_chip_names_node() {
        let error = GpioLeds::open("/nonexistent/gpiochip0").unwrap_err();

        assert!(
            matches!(error, LedsError::Gpio(GpioError::ChipNotFound { .. })),
            "{error:?}"
        );
        assert!(error.to_string().contains("/nonexistent/gpiochip0"));
    }
}
