//! Opening GPIO lines on the kernel's character device, with errors that name the fix.
//!
//! `gpiocdev` reports a missing node, a permission problem and a busy line as bare errno
//! values, so [`check_lines`] opens the chip and reads the line info first, and names the node,
//! the group to join or the program that holds a line.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

/// Errors of the GPIO character device.
#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    /// The chip's device node does not exist.
    #[error(
        "GPIO chip {path} not found; on a Raspberry Pi 4 the SoC's lines are /dev/gpiochip0 \
         (list the chips with `gpiodetect`)"
    )]
    ChipNotFound { path: PathBuf },

    /// The chip's device node exists but this user may not open it.
    #[error(
        "permission denied opening {path}; add the service user to group gpio and let a udev \
         rule give the node to it: SUBSYSTEM==\"gpio\", KERNEL==\"gpiochip*\", GROUP=\"gpio\", \
         MODE=\"0660\""
    )]
    PermissionDenied { path: PathBuf },

    /// Another program or a kernel driver already uses a line.
    #[error(
        "GPIO{offset} on {path} is already in use by {consumer}; stop that user of the line \
         (`gpioinfo` lists them) or pick another pin"
    )]
    LineBusy {
        path: PathBuf,
        offset: u32,
        consumer: String,
    },

    /// Opening the chip failed for another reason.
    #[error("failed to open GPIO chip {path}: {source}")]
    Open { path: PathBuf, source: io::Error },

    /// A line request, read or write failed.
    #[error("GPIO {operation} on {path} failed: {source}")]
    Line {
        operation: &'static str,
        path: PathBuf,
        source: gpiocdev::Error,
    },
}

impl GpioError {
    pub(crate) fn line(operation: &'static str, path: &Path, source: gpiocdev::Error) -> Self {
        GpioError::Line {
            operation,
            path: path.to_owned(),
            source,
        }
    }
}

/// Checks that `path` can be opened read-write and that no one uses any of `offsets`.
pub(crate) fn check_lines(path: &Path, offsets: &[u32]) -> Result<(), GpioError> {
    if let Err(source) = OpenOptions::new().read(true).write(true).open(path) {
        let path = path.to_owned();
        return Err(match source.kind() {
            io::ErrorKind::NotFound => GpioError::ChipNotFound { path },
            io::ErrorKind::PermissionDenied => GpioError::PermissionDenied { path },
            _ => GpioError::Open { path, source },
        });
    }

    let chip =
        gpiocdev::Chip::from_path(path).map_err(|error| GpioError::line("open", path, error))?;
    for &offset in offsets {
        let info = chip
            .line_info(offset)
            .map_err(|error| GpioError::line("line info", path, error))?;
        if info.used {
            let consumer = if info.consumer.is_empty() {
                "an unnamed consumer (often a kernel driver)".to_owned()
            } else {
                format!("\"{}\"", info.consumer)
            };
            return Err(GpioError::LineBusy {
                path: path.to_owned(),
                offset,
                consumer,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_chip_is_named() {
        let path = Path::new("/nonexistent/gpiochip0");

        let error = check_lines(path, &[5]).unwrap_err();

        assert!(matches!(error, GpioError::ChipNotFound { .. }), "{error:?}");
        assert!(error.to_string().contains("/nonexistent/gpiochip0"));
    }

    #[test]
    fn plain_file_is_not_a_chip() {
        let file = std::env::temp_dir().join(format!("not-a-gpiochip-{}", std::process::id()));
        std::fs::write(&file, b"").unwrap();

        let error = check_lines(&file, &[5]).unwrap_err();
        std::fs::remove_file(&file).unwrap();

        assert!(
            matches!(
                error,
                GpioError::Line {
                    operation: "open",
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn permission_error_names_group_and_rule() {
        let error = GpioError::PermissionDenied {
            path: PathBuf::from("/dev/gpiochip0"),
        };
        let text = error.to_string();

        assert!(
            text.starts_with("permission denied opening /dev/gpiochip0;"),
            "{text}"
        );
        assert!(text.contains("group gpio"), "{text}");
        assert!(text.contains("KERNEL==\"gpiochip*\""), "{text}");
    }

    #[test]
    fn busy_line_names_consumer() {
        let error = GpioError::LineBusy {
            path: PathBuf::from("/dev/gpiochip0"),
            offset: 17,
            consumer: "\"led-heartbeat\"".to_owned(),
        };

        assert_eq!(
            error.to_string(),
            "GPIO17 on /dev/gpiochip0 is already in use by \"led-heartbeat\"; stop that user of \
             the line (`gpioinfo` lists them) or pick another pin"
        );
    }
}
