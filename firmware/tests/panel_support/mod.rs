//! Snapshot checks of panel screens: each frame is compared pixel for pixel with a reference
//! PNG under `tests/snapshots/panel/`.
//!
//! On a difference, or a missing reference, the new frame is written beside the reference as
//! `<name>.new.png` for a person to look at, and the check fails. `UPDATE_FIXTURES=1` rewrites
//! the references instead, as the hardware crate's fixture tests do.

#![allow(dead_code, reason = "each test binary uses part of the helpers")]

use std::fs::File;
use std::path::PathBuf;

use practicebox_hardware::sim::render_png;
use practicebox_hardware::{Frame, HEIGHT, WIDTH};

/// Image pixels per display pixel in the reference PNGs.
pub const SCALE: u32 = 3;

/// Returns the folder of the reference PNGs.
pub fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/panel")
}

/// Collects the snapshot checks of one test and fails it once, listing every mismatch.
#[derive(Debug, Default)]
pub struct Snapshots {
    failures: Vec<String>,
    checked: usize,
}

impl Snapshots {
    pub fn new() -> Self {
        Self::default()
    }

    /// Compares `frame` with the reference `name`.png.
    pub fn check(&mut self, name: &str, frame: &Frame) {
        self.checked += 1;
        if let Err(failure) = check(name, frame) {
            self.failures.push(failure);
        }
    }

    /// Fails the test when a check failed.
    pub fn finish(self) {
        assert!(self.checked > 0, "no snapshot was checked");
        assert!(
            self.failures.is_empty(),
            "{} of {} snapshots differ:\n{}",
            self.failures.len(),
            self.checked,
            self.failures.join("\n")
        );
    }
}

fn check(name: &str, frame: &Frame) -> Result<(), String> {
    let folder = snapshot_dir();
    let reference = folder.join(format!("{name}.png"));
    let new = folder.join(format!("{name}.new.png"));
    let png = render_png(frame, SCALE).map_err(|error| format!("{name}: {error}"))?;

    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::create_dir_all(&folder).map_err(|error| format!("{name}: {error}"))?;
        std::fs::write(&reference, &png).map_err(|error| format!("{name}: {error}"))?;
        let _ = std::fs::remove_file(&new);
        return Ok(());
    }

    let expected = match read_frame(&reference) {
        Ok(expected) => expected,
        Err(reason) => {
            let _ = std::fs::write(&new, &png);
            return Err(format!(
                "{name}: {reason}; wrote {}; run with UPDATE_FIXTURES=1 to accept it",
                new.display()
            ));
        }
    };
    if &expected == frame {
        let _ = std::fs::remove_file(&new);
        return Ok(());
    }
    let differing = (0..HEIGHT)
        .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
        .filter(|&(x, y)| expected.pixel(x, y) != frame.pixel(x, y))
        .count();
    let _ = std::fs::write(&new, &png);
    Err(format!(
        "{name}: {differing} pixels differ from {}; the new frame is {}",
        reference.display(),
        new.display()
    ))
}

/// Reads a reference PNG back into a frame: a display pixel is lit when the top left image
/// pixel of its cell is bright.
fn read_frame(path: &std::path::Path) -> Result<Frame, String> {
    let file = File::open(path).map_err(|error| format!("cannot open the reference: {error}"))?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .map_err(|error| format!("cannot decode the reference: {error}"))?;
    let size = reader
        .output_buffer_size()
        .ok_or("the reference PNG is too large")?;
    let mut buffer = vec![0; size];
    let info = reader
        .next_frame(&mut buffer)
        .map_err(|error| format!("cannot decode the reference: {error}"))?;
    if info.width != WIDTH * SCALE || info.height != HEIGHT * SCALE {
        return Err(format!(
            "the reference is {}x{}, expected {}x{}",
            info.width,
            info.height,
            WIDTH * SCALE,
            HEIGHT * SCALE
        ));
    }
    let channels = info.color_type.samples();
    let mut frame = Frame::new();
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let offset = ((y * SCALE) as usize * info.line_size) + (x * SCALE) as usize * channels;
            frame.set_pixel(x, y, buffer[offset] > 0x80);
        }
    }
    Ok(frame)
}
