//! The front panel in the demo: the panel's own status screen on the simulated 128x64
//! display and LEDs, shown in the terminal as text with the LED states, and written as PNG
//! frames.
//!
//! The demo has no buttons, so the panel stays on its status screen; its pages of doctors turn
//! as they do on the box.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use practicebox_hardware::MonotonicClock;
use practicebox_hardware::sim::{AsciiStyle, FrameBuffer, LedTimeline, RenderError};
use rand::SeedableRng as _;

use crate::credentials::{CredentialError, CredentialVault};
use crate::eid::{EidError, TransportError};
use crate::panel::controller::{PanelContext, PanelInput};
use crate::panel::eid_reader::Signer;
use crate::panel::network::NetworkInfo;
use crate::panel::runner::PanelError;
use crate::panel::settings::{PanelSettings, SETTINGS_FILE, SettingsError};
use crate::panel::{FolderCertificates, Language, Panel, PanelRunner};
use crate::status::StatusSnapshot;
use crate::store::StoreHandle;

/// Pixels per display pixel in the PNG frames.
const PNG_SCALE: u32 = 4;

/// Errors of the screen.
#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error(transparent)]
    Panel(#[from] PanelError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot set up the demo's front panel: {0}")]
    Credentials(#[from] CredentialError),
    #[error("cannot set up the demo's front panel: {0}")]
    Settings(#[from] SettingsError),
    #[error("writing frame {path} failed: {source}; check that the --frames folder is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The simulated front panel and the frames written from it.
#[derive(Debug)]
pub struct Screen {
    runner: PanelRunner<FrameBuffer, LedTimeline>,
    frames: Option<PathBuf>,
    written: u32,
}

impl Screen {
    /// Creates the panel on `store`, keeping its files in `data_dir`, in `language`. With
    /// `frames`, every changed screen is also written there as PNG.
    pub fn new(
        store: StoreHandle,
        data_dir: &Path,
        language: Language,
        frames: Option<PathBuf>,
        now: Timestamp,
    ) -> Result<Self, ScreenError> {
        let settings_file = data_dir.join(SETTINGS_FILE);
        PanelSettings { language }.save(&settings_file)?;
        let context = PanelContext {
            store,
            vault: CredentialVault::open(&data_dir.join("credentials"))?,
            mandate_settings: Err("the demo has no eID reader and no USB stick".to_owned()),
            certificates: Box::new(FolderCertificates::new(data_dir.join("stick"))),
            eid: Box::new(|| -> Result<Signer, EidError> {
                Err(EidError::Transport(TransportError::NoReader))
            }),
            rng: rand::rngs::StdRng::from_rng(&mut rand::rng()),
            settings_file,
            network: Box::new(NetworkInfo::of_this_machine),
        };
        let snapshot = StatusSnapshot::new(&jiff::tz::TimeZone::UTC, now);
        let panel = Panel::new(context, snapshot, now);
        let leds = LedTimeline::new(MonotonicClock::new());
        Ok(Self {
            runner: PanelRunner::new(panel, FrameBuffer::new(), leds),
            frames,
            written: 0,
        })
    }

    /// Shows `snapshot` at `now`, and writes the PNG frame when the screen changed. Returns
    /// whether it changed.
    pub fn show(&mut self, snapshot: StatusSnapshot, now: Timestamp) -> Result<bool, ScreenError> {
        let mut changed = self
            .runner
            .step(PanelInput::Status(Box::new(snapshot)), now)?;
        changed |= self.runner.step(PanelInput::Tick, now)?;
        if changed && let Some(folder) = self.frames.clone() {
            self.write_png(&folder)?;
        }
        Ok(changed)
    }

    /// Returns the shown frame as text, two pixel rows per line, with the LED states below.
    pub fn ascii(&self) -> String {
        let mut text = self.runner.display().to_ascii(AsciiStyle::HalfBlocks);
        text.push_str(&format!("LEDs {}\n", self.runner.leds().render_line()));
        text
    }

    /// Returns how many PNG frames were written.
    pub fn frames_written(&self) -> u32 {
        self.written
    }

    fn write_png(&mut self, folder: &Path) -> Result<(), ScreenError> {
        self.written += 1;
        let path = folder.join(format!("frame-{:04}.png", self.written));
        let png = self.runner.display().to_png(PNG_SCALE)?;
        std::fs::write(&path, png).map_err(|source| ScreenError::Write { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::StatusEvent;
    use crate::store::{PrincipalId, Store};

    fn now() -> Timestamp {
        "2026-12-04T10:42:07Z".parse().unwrap()
    }

    fn snapshot() -> StatusSnapshot {
        let mut snapshot = StatusSnapshot::new(&jiff::tz::TimeZone::UTC, now());
        snapshot.apply(
            &StatusEvent::PrincipalAdded {
                principal: PrincipalId(1),
                name: "Dr Lotte Vermeiren".to_owned(),
                interval_secs: 2,
            },
            now(),
        );
        snapshot.apply(
            &StatusEvent::Ok {
                principal: PrincipalId(1),
                new: 7,
                delivered: 6,
                held: 1,
                at: now(),
            },
            now(),
        );
        snapshot
    }

    fn screen(folder: &Path, frames: Option<PathBuf>) -> Screen {
        let store = Store::open(&folder.join("store.sqlite"))
            .unwrap()
            .into_handle();
        Screen::new(store, folder, Language::French, frames, now()).unwrap()
    }

    #[test]
    fn shown_status_is_text_with_leds() {
        let folder = tempfile::tempdir().unwrap();
        let mut screen = screen(folder.path(), None);

        assert!(screen.show(snapshot(), now()).unwrap());

        let text = screen.ascii();
        assert_eq!(text.lines().count(), 35);
        // The run held one message, which blinks the amber LED.
        assert!(text.ends_with("LEDs [G off] [A blink] [R off]\n"), "{text}");
    }

    #[test]
    fn frames_are_written_when_screen_changes() {
        let folder = tempfile::tempdir().unwrap();
        let frames = folder.path().join("frames");
        std::fs::create_dir(&frames).unwrap();
        let mut screen = screen(folder.path(), Some(frames.clone()));

        screen.show(snapshot(), now()).unwrap();
        screen.show(snapshot(), now()).unwrap();

        assert_eq!(screen.frames_written(), 1);
        let first = std::fs::read(frames.join("frame-0001.png")).unwrap();
        assert!(first.starts_with(b"\x89PNG"));
    }
}
