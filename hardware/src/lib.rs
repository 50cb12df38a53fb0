//! PracticeBox front panel devices: the 128x64 OLED, the four buttons and the three LEDs.
//!
//! The service draws screens and drives LEDs only through the traits defined here, so every
//! flow runs on a laptop with simulated devices and on the Raspberry Pi with the real ones.
//!
//! # Layout
//!
//! - [`Display`], [`Buttons`] and [`Leds`]: the traits, with their event and state types.
//! - [`board`]: every pin, the I2C bus and the display address, with BCM and physical pin
//!   numbers.
//! - [`pi`]: the Raspberry Pi drivers (SSD1306 over `/dev/i2c-1`, buttons and LEDs on
//!   `/dev/gpiochip0`). They build on any Linux target and fail at run time, with an error
//!   naming the device node and the fix, when the devices are missing.
//! - [`sim`]: the simulators used by tests and the demo: a framebuffer that renders to PNG and
//!   ASCII, scripted buttons on simulated time, and an LED timeline.
//! - [`wiring`]: the wiring diagram drawn from [`board`], shipped as `docs/wiring.png`.
//!
//! Time comes in through [`Clock`], so debounce, long press and blink logic are tested on
//! simulated time.
#![forbid(unsafe_code)]

pub mod board;
mod buttons;
mod clock;
mod display;
mod frame;
mod leds;
pub mod pi;
pub mod sim;
pub mod wiring;

pub use buttons::{
    Button, ButtonConfig, ButtonEvent, ButtonEventKind, Buttons, ButtonsError, Debouncer, Level,
};
pub use clock::{Clock, ManualClock, MonotonicClock};
pub use display::{Display, DisplayError};
pub use frame::{FRAME_BYTES, Frame, HEIGHT, PAGES, WIDTH};
pub use leds::{BlinkPattern, Led, LedState, Leds, LedsError};
