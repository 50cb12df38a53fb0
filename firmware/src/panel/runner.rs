//! The panel on its devices: inputs in, frames to the display, states to the LEDs.
//!
//! [`PanelRunner::step`] takes one input, runs a slow wizard step after showing its waiting
//! screen, and sends the screen and the LEDs to the devices when they changed. [`run`] is the
//! blocking loop around it, on its own thread: it ticks once a second so the clock and the page
//! turns move, and stops when asked to or when every input sender is gone. It leaves the LEDs
//! off and the display dark.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use embedded_graphics::Pixel;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::Point;
use jiff::Timestamp;
use practicebox_hardware::{Display, DisplayError, Frame, HEIGHT, Leds, LedsError, WIDTH};

use super::controller::{Panel, PanelInput};
use super::leds::show_led;
use crate::status::Led;

/// How often the loop ticks without input.
pub const TICK: Duration = Duration::from_secs(1);

/// A failure of the panel's devices.
#[derive(Debug, thiserror::Error)]
pub enum PanelError {
    #[error("the display failed: {0}")]
    Display(#[from] DisplayError),
    #[error("drawing on the display failed: {0}")]
    Draw(String),
    #[error("the LEDs failed: {0}")]
    Leds(#[from] LedsError),
}

/// The panel with its display and LEDs.
#[derive(Debug)]
pub struct PanelRunner<D, L> {
    panel: Panel,
    display: D,
    leds: L,
    shown: Option<Frame>,
    led: Option<Led>,
}

impl<D, L> PanelRunner<D, L>
where
    D: Display,
    D::Error: std::fmt::Debug,
    L: Leds,
{
    pub fn new(panel: Panel, display: D, leds: L) -> Self {
        Self {
            panel,
            display,
            leds,
            shown: None,
            led: None,
        }
    }

    pub fn panel(&self) -> &Panel {
        &self.panel
    }

    pub fn display(&self) -> &D {
        &self.display
    }

    pub fn leds(&self) -> &L {
        &self.leds
    }

    /// Returns the frame last sent to the display.
    pub fn shown(&self) -> Option<&Frame> {
        self.shown.as_ref()
    }

    /// Takes one input at `now`, runs a waiting wizard step, and updates the devices. Returns
    /// whether the screen changed.
    pub fn step(&mut self, input: PanelInput, now: Timestamp) -> Result<bool, PanelError> {
        self.panel.handle(input, now);
        let mut changed = self.show(now)?;
        while self.panel.has_job() {
            self.panel.run_job(now);
            changed |= self.show(now)?;
        }
        Ok(changed)
    }

    /// Draws the current screen and sets the LEDs, sending only what changed. Returns whether
    /// the screen changed.
    pub fn show(&mut self, now: Timestamp) -> Result<bool, PanelError> {
        let led = self.panel.led();
        if self.led != Some(led) {
            show_led(&mut self.leds, led)?;
            self.led = Some(led);
        }

        let frame = self.panel.render(now);
        if self.shown.as_ref() == Some(&frame) {
            return Ok(false);
        }
        self.display
            .draw_iter(pixels(&frame))
            .map_err(|error| PanelError::Draw(format!("{error:?}")))?;
        self.display.flush()?;
        self.shown = Some(frame);
        Ok(true)
    }

    /// Turns the LEDs off and the display dark, as the box does when the service stops.
    pub fn shut_down(&mut self) -> Result<(), PanelError> {
        self.leds.all_off()?;
        self.display.set_display_on(false)?;
        Ok(())
    }

    /// Returns the panel's parts.
    pub fn into_parts(self) -> (Panel, D, L) {
        (self.panel, self.display, self.leds)
    }
}

/// Returns every pixel of `frame`, lit or dark.
pub fn pixels(frame: &Frame) -> impl Iterator<Item = Pixel<BinaryColor>> + '_ {
    (0..HEIGHT).flat_map(move |y| {
        (0..WIDTH).map(move |x| {
            let color = BinaryColor::from(frame.pixel(x, y));
            Pixel(Point::new(x as i32, y as i32), color)
        })
    })
}

/// Runs the panel until `stop` is set or every sender of `inputs` is dropped, then shuts the
/// devices down. `now` reads the wall clock. Device errors are logged and the loop goes on,
/// because the box keeps fetching without its panel.
pub fn run<D, L>(
    mut runner: PanelRunner<D, L>,
    inputs: &Receiver<PanelInput>,
    stop: &AtomicBool,
    now: impl Fn() -> Timestamp,
) where
    D: Display,
    D::Error: std::fmt::Debug,
    L: Leds,
{
    let mut failing = false;
    while !stop.load(Ordering::Relaxed) {
        let input = match inputs.recv_timeout(TICK) {
            Ok(input) => input,
            Err(RecvTimeoutError::Timeout) => PanelInput::Tick,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match runner.step(input, now()) {
            Ok(_) => failing = false,
            Err(error) if !failing => {
                tracing::error!(%error, "the front panel failed; the box keeps fetching");
                failing = true;
            }
            Err(_) => {}
        }
    }
    if let Err(error) = runner.shut_down() {
        tracing::error!(%error, "cannot turn the front panel off");
    }
    tracing::info!("front panel stopped");
}
