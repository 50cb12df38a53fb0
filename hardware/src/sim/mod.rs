//! Simulated front panel devices for tests and the demo.
//!
//! - [`FrameBuffer`]: a [`Display`](crate::Display) that renders what it shows to PNG or
//!   ASCII and counts flushes.
//! - [`ScriptedButtons`]: raw button edges from a script, debounced on simulated time;
//!   [`ChannelButtons`]: ready-made events from a channel.
//! - [`LedTimeline`]: a [`Leds`](crate::Leds) that records every change with its time.
//! - [`RecordingI2c`]: an I2C bus that records every write, and the wire-time estimate built
//!   on it.

mod buttons;
mod framebuffer;
mod i2c;
mod leds;

pub use buttons::{ChannelButtons, ScriptStep, ScriptedButtons};
pub use framebuffer::{AsciiStyle, FrameBuffer, RenderError, render_ascii, render_png};
pub use i2c::{I2cWrite, RecordingI2c, wire_time};
pub use leds::{LedChange, LedTimeline};
