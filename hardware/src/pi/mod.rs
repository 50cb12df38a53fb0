//! Raspberry Pi drivers: the SSD1306 display on I2C, and the buttons and LEDs on the GPIO
//! character device.
//!
//! They build for any Linux target, x86_64 included, and fail at run time with an error that
//! names the device node and the fix when the devices are missing or not accessible.
//!
//! Permissions: the service user needs read-write access to `/dev/i2c-1` and
//! `/dev/gpiochip0`. Debian ships no udev rule that gives these nodes to a group, so the image
//! adds one and the service user joins the groups `i2c` and `gpio`:
//!
//! ```text
//! SUBSYSTEM=="i2c-dev", KERNEL=="i2c-1", GROUP="i2c", MODE="0660"
//! SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
//! ```

mod buttons;
mod gpio;
mod leds;
mod oled;

pub use buttons::GpioButtons;
pub use gpio::GpioError;
pub use leds::GpioLeds;
pub use oled::Ssd1306Display;
