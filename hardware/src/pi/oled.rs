//! The SSD1306 128x64 OLED on I2C, through the `ssd1306` crate in buffered graphics mode.
//!
//! Wiring: SDA on BCM GPIO2 (physical pin 3), SCL on BCM GPIO3 (physical pin 5), VCC on 3.3 V
//! (pin 1), GND on pin 9; bus `/dev/i2c-1`, address 0x3C. Permissions: read-write on
//! `/dev/i2c-1` (group `i2c`, see the [`pi`](crate::pi) module).
//!
//! # What goes over the bus
//!
//! `ssd1306` 0.10 with `display-interface-i2c` 0.5 sends each command as its own I2C write
//! with a 0x00 control byte, and display data as writes of at most 16 data bytes after a 0x40
//! control byte. Its `flush` sends only a bounding box: a column range (0x21) and a page range
//! (0x22), then the boxed bytes page by page.
//!
//! That box covers every pixel *drawn* since the last flush, changed or not, and `clear`
//! marks the whole screen. A screen redrawn from scratch would therefore resend all 1024
//! bytes even when nothing changed. This driver keeps its own [`Frame`] beside a copy of the
//! frame on the panel. At flush it passes only the pixels that differ to the crate, so the
//! crate's box is the box of the changed pixels, and an unchanged screen costs nothing.
//!
//! Quirks:
//! - The crate's `init` does not write the panel's RAM, which holds noise after power-up, so
//!   [`Ssd1306Display::new`] sends one full blank frame after the init sequence.
//! - `ssd1306` maps every bus error to `BusWriteError`; a wrapper around the bus keeps the
//!   original error so a missing display reads as "no device acknowledged 0x3c".
//! - The bus runs at the device tree's `clock-frequency`. Debian's kernel ignores `dtparam=`
//!   lines in `config.txt`, so the Raspberry Pi OS setting `dtparam=i2c_arm_baudrate=400000`
//!   has no effect there. At 100 kHz, the bcm2835 driver's default, a full frame takes about
//!   106 ms and a one-line change a few milliseconds.
//!
//! TODO: 1.3" modules often carry an SH1106 (132-column RAM, no horizontal addressing mode),
//! which this driver does not support: on one the picture is shifted by two columns and
//! garbled.

use std::convert::Infallible;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use embedded_graphics::Pixel;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Size};
use embedded_graphics::primitives::{PointsIter, Rectangle};
use embedded_hal::i2c::{Error as _, ErrorKind, ErrorType, I2c, Operation};
use linux_embedded_hal::I2cdev;
use linux_embedded_hal::i2cdev::linux::LinuxI2CError;
use ssd1306::mode::BufferedGraphicsMode;
use ssd1306::prelude::{DisplayConfig, DisplayRotation, DisplaySize128x64, I2CInterface};
use ssd1306::{I2CDisplayInterface, Ssd1306};

use crate::{Display, DisplayError, Frame, HEIGHT, WIDTH};

type Driver<I2C> = Ssd1306<
    I2CInterface<ErrorCapture<I2C>>,
    DisplaySize128x64,
    BufferedGraphicsMode<DisplaySize128x64>,
>;

/// The SSD1306 display, drawn in memory and flushed over I2C.
pub struct Ssd1306Display<I2C> {
    driver: Driver<I2C>,
    last_error: Arc<Mutex<Option<BusFault>>>,
    bus: String,
    address: u8,
    frame: Frame,
    shown: Frame,
    flushes: u64,
    last_flush_area: Option<Rectangle>,
}

impl Ssd1306Display<I2cdev> {
    /// Opens the display on the I2C bus at `path` (normally [`board::I2C_BUS`]) and
    /// initialises it.
    ///
    /// [`board::I2C_BUS`]: crate::board::I2C_BUS
    pub fn open(path: impl AsRef<Path>, address: u8) -> Result<Self, DisplayError> {
        let path = path.as_ref();
        let i2c = I2cdev::new(path).map_err(|error| open_error(path, error))?;
        Self::new(i2c, path.display().to_string(), address)
    }
}

impl<I2C: I2c> Ssd1306Display<I2C> {
    /// Initialises the display at `address` on `i2c` and blanks it; `bus` names the bus in
    /// error messages.
    pub fn new(i2c: I2C, bus: impl Into<String>, address: u8) -> Result<Self, DisplayError> {
        let last_error = Arc::new(Mutex::new(None));
        let capture = ErrorCapture {
            inner: i2c,
            last_error: Arc::clone(&last_error),
        };
        let interface = I2CDisplayInterface::new_custom_address(capture, address);
        let driver = Ssd1306::new(interface, DisplaySize128x64, DisplayRotation::Rotate0)
            .into_buffered_graphics_mode();

        let mut display = Self {
            driver,
            last_error,
            bus: bus.into(),
            address,
            frame: Frame::new(),
            shown: Frame::new(),
            flushes: 0,
            last_flush_area: None,
        };

        // `init` sends the init sequence and marks the whole, still blank, buffer as changed,
        // so the flush after it writes a full blank frame over the power-up noise.
        let init = display.driver.init();
        init.map_err(|error| display.bus_error(error))?;
        let flush = display.driver.flush();
        flush.map_err(|error| display.bus_error(error))?;
        Ok(display)
    }

    /// Returns the number of calls to [`Display::flush`], including those with nothing to send.
    pub fn flush_count(&self) -> u64 {
        self.flushes
    }

    /// Returns the area the last flush sent, or `None` when it had nothing to send.
    pub fn last_flush_area(&self) -> Option<Rectangle> {
        self.last_flush_area
    }

    /// Returns the I2C bus.
    pub fn release(self) -> I2C {
        self.driver.release().release().inner
    }

    /// Maps an error of the display interface, which carries no detail, to the bus error
    /// recorded just before it.
    fn bus_error(&self, error: impl std::fmt::Debug) -> DisplayError {
        let fault = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let bus = self.bus.clone();
        let address = self.address;

        match fault {
            Some(BusFault {
                kind: ErrorKind::NoAcknowledge(_),
                ..
            }) => DisplayError::NoAcknowledge { bus, address },
            Some(fault) => DisplayError::Write {
                bus,
                address,
                detail: fault.detail,
            },
            None => DisplayError::Write {
                bus,
                address,
                detail: format!("{error:?}"),
            },
        }
    }
}

impl<I2C: I2c> Display for Ssd1306Display<I2C> {
    fn flush(&mut self) -> Result<(), DisplayError> {
        self.flushes += 1;
        let Some(area) = self.frame.changed_area(&self.shown) else {
            self.last_flush_area = None;
            return Ok(());
        };

        // Only changed pixels go to the crate, so its bounding box is the changed area. After a
        // failed flush `shown` is unchanged, so the next flush marks the same pixels again.
        for point in area.points() {
            let (x, y) = (point.x as u32, point.y as u32);
            let on = self.frame.pixel(x, y);
            if on != self.shown.pixel(x, y) {
                self.driver.set_pixel(x, y, on);
            }
        }
        let flush = self.driver.flush();
        flush.map_err(|error| self.bus_error(error))?;

        self.shown = self.frame.clone();
        self.last_flush_area = Some(area);
        Ok(())
    }

    fn set_display_on(&mut self, on: bool) -> Result<(), DisplayError> {
        let result = self.driver.set_display_on(on);
        result.map_err(|error| self.bus_error(error))
    }
}

impl<I2C> OriginDimensions for Ssd1306Display<I2C> {
    fn size(&self) -> Size {
        Size::new(WIDTH, HEIGHT)
    }
}

impl<I2C> DrawTarget for Ssd1306Display<I2C> {
    type Color = BinaryColor;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        self.frame.draw_iter(pixels)
    }

    fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
        self.frame.clear(color)
    }
}

impl<I2C> std::fmt::Debug for Ssd1306Display<I2C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssd1306Display")
            .field("bus", &self.bus)
            .field("address", &format_args!("{:#04x}", self.address))
            .field("flushes", &self.flushes)
            .finish_non_exhaustive()
    }
}

fn open_error(path: &Path, error: LinuxI2CError) -> DisplayError {
    let source = match error {
        LinuxI2CError::Io(source) => source,
        LinuxI2CError::Errno(errno) => io::Error::from_raw_os_error(errno),
    };
    let path = path.to_owned();
    match source.kind() {
        io::ErrorKind::NotFound => DisplayError::BusNotFound { path },
        io::ErrorKind::PermissionDenied => DisplayError::PermissionDenied { path },
        _ => DisplayError::Open { path, source },
    }
}

/// The last bus error, kept because the display interface reduces it to `BusWriteError`.
#[derive(Debug)]
struct BusFault {
    kind: ErrorKind,
    detail: String,
}

/// An I2C bus that records its last error before passing it on.
struct ErrorCapture<I2C> {
    inner: I2C,
    last_error: Arc<Mutex<Option<BusFault>>>,
}

impl<I2C: I2c> ErrorCapture<I2C> {
    fn record<T>(&self, result: Result<T, I2C::Error>) -> Result<T, I2C::Error> {
        if let Err(error) = &result {
            let fault = BusFault {
                kind: error.kind(),
                detail: format!("{error:?}"),
            };
            *self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(fault);
        }
        result
    }
}

impl<I2C: I2c> ErrorType for ErrorCapture<I2C> {
    type Error = I2C::Error;
}

// Every method is forwarded, not only `transaction`, so a bus that treats plain writes and
// transactions differently (embedded-hal-mock does) receives the calls the crate made.
impl<I2C: I2c> I2c for ErrorCapture<I2C> {
    fn read(&mut self, address: u8, read: &mut [u8]) -> Result<(), Self::Error> {
        let result = self.inner.read(address, read);
        self.record(result)
    }

    fn write(&mut self, address: u8, write: &[u8]) -> Result<(), Self::Error> {
        let result = self.inner.write(address, write);
        self.record(result)
    }

    fn write_read(
        &mut self,
        address: u8,
        write: &[u8],
        read: &mut [u8],
    ) -> Result<(), Self::Error> {
        let result = self.inner.write_read(address, write, read);
        self.record(result)
    }

    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        let result = self.inner.transaction(address, operations);
        self.record(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_bus_is_named() {
        let error = Ssd1306Display::open("/nonexistent/i2c-1", 0x3C).unwrap_err();

        assert!(
            matches!(error, DisplayError::BusNotFound { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("/nonexistent/i2c-1"));
    }
}
