//! The display trait: a 128x64 monochrome drawing surface that shows its content on `flush`.

use std::path::PathBuf;

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::DrawTarget;

/// A 128x64 monochrome display.
///
/// Drawing goes to memory; [`Display::flush`] sends what changed since the last flush to the
/// panel. Both implementations in this crate draw with `Error = Infallible`, because drawing
/// only touches memory, and report bus errors from `flush`.
pub trait Display: DrawTarget<Color = BinaryColor> {
    /// Sends the pixels that changed since the last flush to the panel.
    fn flush(&mut self) -> Result<(), DisplayError>;

    /// Turns the panel on or off; the frame in memory is kept.
    ///
    /// The service turns the panel off at shutdown, so a stopped box shows no stale screen.
    fn set_display_on(&mut self, on: bool) -> Result<(), DisplayError>;
}

/// Errors of the display drivers.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    /// The I2C device node does not exist.
    #[error(
        "I2C bus {path} not found; load the i2c-dev kernel module (`modprobe i2c-dev`, or add \
         i2c-dev to /etc/modules) and check that I2C1 is enabled"
    )]
    BusNotFound { path: PathBuf },

    /// The I2C device node exists but this user may not open it.
    #[error(
        "permission denied opening {path}; add the service user to group i2c and let a udev rule \
         give the node to it: SUBSYSTEM==\"i2c-dev\", KERNEL==\"i2c-1\", GROUP=\"i2c\", \
         MODE=\"0660\""
    )]
    PermissionDenied { path: PathBuf },

    /// Opening the I2C device node failed for another reason.
    #[error("failed to open I2C bus {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },

    /// No device acknowledged the display's address.
    #[error(
        "no device acknowledged I2C address {address:#04x} on {bus}; check the display's wiring \
         (SDA on physical pin 3, SCL on pin 5, VCC on the 3.3 V pin 1) and its address jumper"
    )]
    NoAcknowledge { bus: String, address: u8 },

    /// A write to the display failed for another reason.
    #[error("I2C write to the display at {address:#04x} on {bus} failed: {detail}")]
    Write {
        bus: String,
        address: u8,
        detail: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_error_names_node_and_group() {
        let error = DisplayError::PermissionDenied {
            path: PathBuf::from("/dev/i2c-1"),
        };
        let text = error.to_string();

        assert!(text.contains("/dev/i2c-1"), "{text}");
        assert!(text.contains("group i2c"), "{text}");
        assert!(text.contains("SUBSYSTEM==\"i2c-dev\""), "{text}");
    }

    #[test]
    fn missing_bus_error_names_module() {
        let error = DisplayError::BusNotFound {
            path: PathBuf::from("/dev/i2c-1"),
        };

        assert_eq!(
            error.to_string(),
            "I2C bus /dev/i2c-1 not found; load the i2c-dev kernel module (`modprobe i2c-dev`, \
             or add i2c-dev to /etc/modules) and check that I2C1 is enabled"
        );
    }

    #[test]
    fn no_acknowledge_error_names_address() {
        let error = DisplayError::NoAcknowledge {
            bus: "/dev/i2c-1".to_owned(),
            address: 0x3C,
        };
        let text = error.to_string();

        assert!(text.starts_with("no device acknowledged I2C address 0x3c on /dev/i2c-1"));
        assert!(text.contains("physical pin 3"), "{text}");
    }
}
