//! The status screen on the simulated 128x64 display: drawn with the box's 6x10 font into the
//! front panel's framebuffer, shown in the terminal as text and written as PNG frames.
//!
//! The screen has a title row with the LED state, one row per doctor (family name, messages new
//! today, `ok`, `nH` for held messages or `ERR` for a problem) and the time of the last fetch.
//! Six rows of 10 pixels fit, so a practice of more than four doctors shows the first four.
//!
//! TODO: the front panel's own status screen (cycling one line per doctor, button navigation)
//! belongs to the panel; until it exists, the demo draws this one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::text::{Baseline, Text};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use practicebox_hardware::Display as _;
use practicebox_hardware::sim::{AsciiStyle, FrameBuffer, RenderError};

use crate::status::{Led, StatusSnapshot};
use crate::store::PrincipalId;

/// Characters per row of the 6x10 font on 128 pixels.
const COLUMNS: usize = 21;
/// Rows of the 6x10 font on 64 pixels.
const ROWS: usize = 6;
/// Pixels per display pixel in the PNG frames.
const PNG_SCALE: u32 = 4;

/// Errors of the screen.
#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error("drawing on the simulated display failed: {0}")]
    Display(#[from] practicebox_hardware::DisplayError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("writing frame {path} failed: {source}; check that the --frames folder is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Returns the rows of the status screen for `snapshot` at `now`, each at most 21 characters.
/// `family_names` gives the name to show per principal; others show the snapshot's name.
pub fn screen_rows(
    snapshot: &StatusSnapshot,
    now: Timestamp,
    zone: &TimeZone,
    family_names: &HashMap<PrincipalId, String>,
) -> Vec<String> {
    let led = match snapshot.led {
        Led::Off => "off",
        Led::Green => "green",
        Led::AmberBlinking => "amber",
        Led::Red => "red",
    };
    let mut rows = vec![format!("PracticeBox{:>10}", format!("LED {led}"))];
    let today = now.to_zoned_datetime(zone.clone()).date();
    for status in snapshot.principals.iter().take(ROWS - 2) {
        let family = family_names.get(&status.principal).unwrap_or(&status.name);
        let new_today = if status.new_today_date == Some(today) {
            status.new_today
        } else {
            0
        };
        let mark = if status.problem.is_some() {
            "ERR".to_owned()
        } else if status.held > 0 {
            format!("{}H", status.held)
        } else {
            "ok".to_owned()
        };
        rows.push(format!(
            "{:<10.10}{new_today:>3} new {mark:>3}",
            ascii(family)
        ));
    }
    let last = snapshot
        .principals
        .iter()
        .filter_map(|status| status.last_success)
        .max();
    rows.push(match last {
        Some(at) => format!(
            "last fetch {}",
            at.to_zoned_datetime(zone.clone()).strftime("%H:%M:%S")
        ),
        None => "not fetched yet".to_owned(),
    });
    rows
}

/// Replaces what the display's ASCII font cannot draw with `?`.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect()
}

/// The simulated display and the frames written from it.
#[derive(Debug)]
pub struct Screen {
    display: FrameBuffer,
    frames: Option<PathBuf>,
    written: u32,
}

impl Screen {
    /// Creates a blank screen; with `frames`, every drawn screen is also written there as PNG.
    pub fn new(frames: Option<PathBuf>) -> Self {
        Self {
            display: FrameBuffer::new(),
            frames,
            written: 0,
        }
    }

    /// Draws `rows` and flushes them to the panel, then writes the PNG frame if asked to.
    pub fn draw(&mut self, rows: &[String]) -> Result<(), ScreenError> {
        // The framebuffer's drawing never fails.
        let _ = self.display.clear(BinaryColor::Off);
        let style = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
        for (index, row) in rows.iter().take(ROWS).enumerate() {
            let text: String = row.chars().take(COLUMNS).collect();
            let origin = Point::new(1, 1 + 10 * index as i32);
            let _ =
                Text::with_baseline(&text, origin, style, Baseline::Top).draw(&mut self.display);
        }
        self.display.flush()?;
        if let Some(folder) = self.frames.clone() {
            self.write_png(&folder)?;
        }
        Ok(())
    }

    /// Returns the shown frame as text, two pixel rows per line.
    pub fn ascii(&self) -> String {
        self.display.to_ascii(AsciiStyle::HalfBlocks)
    }

    /// Returns how many PNG frames were written.
    pub fn frames_written(&self) -> u32 {
        self.written
    }

    fn write_png(&mut self, folder: &Path) -> Result<(), ScreenError> {
        self.written += 1;
        let path = folder.join(format!("frame-{:04}.png", self.written));
        let png = self.display.to_png(PNG_SCALE)?;
        std::fs::write(&path, png).map_err(|source| ScreenError::Write { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::StatusEvent;

    fn snapshot(now: Timestamp) -> StatusSnapshot {
        let mut snapshot = StatusSnapshot::new(&TimeZone::UTC, now);
        for (id, name) in [(1, "Dr Lotte Vermeiren"), (2, "Dr Bram Van Damme")] {
            snapshot.apply(
                &StatusEvent::PrincipalAdded {
                    principal: PrincipalId(id),
                    name: name.to_owned(),
                    interval_secs: 2,
                },
                now,
            );
        }
        snapshot.apply(
            &StatusEvent::Ok {
                principal: PrincipalId(2),
                new: 7,
                delivered: 6,
                held: 1,
                at: now,
            },
            now,
        );
        snapshot
    }

    #[test]
    fn rows_fit_the_display() {
        let now: Timestamp = "2026-12-04T10:42:07Z".parse().unwrap();
        let names = HashMap::from([(PrincipalId(2), "Van Damme".to_owned())]);
        let rows = screen_rows(&snapshot(now), now, &TimeZone::UTC, &names);
        assert_eq!(rows[0], "PracticeBox LED amber");
        assert_eq!(rows[1], "Dr Lotte V  0 new  ok");
        assert_eq!(rows[2], "Van Damme   7 new  1H");
        assert_eq!(rows[3], "last fetch 10:42:07");
        for row in &rows {
            assert!(row.chars().count() <= COLUMNS, "{row:?} is too wide");
        }
    }

    #[test]
    fn drawn_screen_lights_pixels() {
        let mut screen = Screen::new(None);
        screen.draw(&["PracticeBox".to_owned()]).unwrap();
        assert!(screen.display.shown().lit_pixels() > 0);
        assert!(screen.ascii().lines().count() > 30);
    }

    #[test]
    fn frames_are_written() {
        let folder = tempfile::tempdir().unwrap();
        let mut screen = Screen::new(Some(folder.path().to_owned()));
        screen.draw(&["one".to_owned()]).unwrap();
        screen.draw(&["two".to_owned()]).unwrap();
        assert_eq!(screen.frames_written(), 2);
        let second = std::fs::read(folder.path().join("frame-0002.png")).unwrap();
        assert!(second.starts_with(b"\x89PNG"));
    }
}
