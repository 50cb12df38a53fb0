//! The four buttons on the GPIO character device.
//!
//! Wiring: up on BCM GPIO5 (physical pin 29), down on GPIO6 (pin 31), OK on GPIO13 (pin 33),
//! back on GPIO26 (pin 37). The other contact of every button goes to ground (pin 39).
//! Permissions: read-write on `/dev/gpiochip0` (group `gpio`, see the [`pi`](crate::pi)
//! module).
//!
//! The four lines are one request: inputs, internal pull-up, active low (so "active" means
//! pressed), both edges reported, and the kernel's debounce filter set to the configured
//! period. The BCM2711 has no hardware debounce, so the kernel filters in software and reports
//! an edge once the line has been stable for the period. The [`Debouncer`] therefore runs with
//! a zero period here and only adds long presses and the event timing.
//!
//! Event times come from a [`MonotonicClock`] read when the edge is read, not from the kernel's
//! timestamp; the difference is the scheduling delay of this thread, well under the debounce
//! period.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gpiocdev::Request;
use gpiocdev::line::{Bias, EdgeDetection, EdgeKind, Value};

use crate::board::{GPIO_CONSUMER, button_pin};
use crate::pi::GpioError;
use crate::pi::gpio::check_lines;
use crate::{
    Button, ButtonConfig, ButtonEvent, Buttons, ButtonsError, Clock, Debouncer, Level,
    MonotonicClock,
};

/// The front panel buttons on a GPIO chip.
#[derive(Debug)]
pub struct GpioButtons {
    request: Request,
    chip: PathBuf,
    debouncer: Debouncer,
    clock: MonotonicClock,
    queue: VecDeque<ButtonEvent>,
}

impl GpioButtons {
    /// Requests the button lines on `chip` (normally [`board::GPIO_CHIP`]).
    ///
    /// [`board::GPIO_CHIP`]: crate::board::GPIO_CHIP
    pub fn open(chip: impl AsRef<Path>, config: ButtonConfig) -> Result<Self, ButtonsError> {
        let chip = chip.as_ref();
        let offsets = Button::ALL.map(|button| button_pin(button).bcm);
        check_lines(chip, &offsets)?;

        let request = Request::builder()
            .on_chip(chip)
            .with_consumer(format!("{GPIO_CONSUMER}-buttons"))
            .with_lines(&offsets)
            .as_input()
            .as_active_low()
            .with_bias(Bias::PullUp)
            .with_edge_detection(EdgeDetection::BothEdges)
            .with_debounce_period(config.debounce())
            .request()
            .map_err(|error| GpioError::line("line request", chip, error))?;

        let levels = read_levels(&request, chip)?;
        tracing::info!(chip = %chip.display(), ?levels, "buttons ready");
        Ok(Self {
            request,
            chip: chip.to_owned(),
            debouncer: Debouncer::with_levels(config.without_debounce(), levels),
            clock: MonotonicClock::new(),
            queue: VecDeque::new(),
        })
    }

    fn read_edge(&mut self) -> Result<(), GpioError> {
        let edge = self
            .request
            .read_edge_event()
            .map_err(|error| GpioError::line("edge read", &self.chip, error))?;
        let Some(button) = button_for_offset(edge.offset) else {
            return Ok(());
        };
        // The lines are active low, so a rising edge of the logical value is a press.
        let level = match edge.kind {
            EdgeKind::Rising => Level::Pressed,
            EdgeKind::Falling => Level::Released,
        };
        let events = self.debouncer.edge(button, level, self.clock.now());
        self.queue.extend(events);
        Ok(())
    }
}

impl Buttons for GpioButtons {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<ButtonEvent>, ButtonsError> {
        let deadline = self.clock.now() + timeout;
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }

            let now = self.clock.now();
            if now >= deadline {
                return Ok(None);
            }
            let wake = self
                .debouncer
                .next_deadline()
                .map_or(deadline, |at| at.min(deadline));
            let has_edge = self
                .request
                .wait_edge_event(wake.saturating_sub(now))
                .map_err(|error| GpioError::line("edge wait", &self.chip, error))?;

            if has_edge {
                self.read_edge()?;
            } else {
                let events = self.debouncer.advance(self.clock.now());
                self.queue.extend(events);
            }
        }
    }
}

fn read_levels(request: &Request, chip: &Path) -> Result<[Level; 4], GpioError> {
    let mut levels = [Level::Released; 4];
    for (level, button) in levels.iter_mut().zip(Button::ALL) {
        let value = request
            .value(button_pin(button).bcm)
            .map_err(|error| GpioError::line("line read", chip, error))?;
        if value == Value::Active {
            *level = Level::Pressed;
        }
    }
    Ok(levels)
}

fn button_for_offset(offset: u32) -> Option<Button> {
    Button::ALL
        .into_iter()
        .find(|button| button_pin(*button).bcm == offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board;

    #[test]
    fn open_without_chip_names_node() {
        let error =
            GpioButtons::open("/nonexistent/gpiochip0", ButtonConfig::default()).unwrap_err();

        assert!(
            matches!(error, ButtonsError::Gpio(GpioError::ChipNotFound { .. })),
            "{error:?}"
        );
    }

    #[test]
    fn offsets_map_back_to_buttons() {
        assert_eq!(button_for_offset(board::BUTTON_OK.bcm), Some(Button::Ok));
        assert_eq!(button_for_offset(board::LED_RED.bcm), None);
    }
}
