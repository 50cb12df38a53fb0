//! The mandate wizard's PIN step with and without a pinpad reader: the virtual eID replies
//! through its in-process transport, which either reports `FEATURE_VERIFY_PIN_DIRECT` and
//! plays the holder typing on the reader, or reports no features.
//!
//! With a pinpad, the wizard prompts for the PIN on the reader and signs without a typed PIN. The
//! new screen is compared, in Dutch, French and English, with the references in
//! `tests/snapshots/panel/` (`UPDATE_FIXTURES=1` accepts new frames). Without one, the digit
//! picker appears as before.

#![allow(clippy::unwrap_used, reason = "tests")]

#[path = "support/doctors.rs"]
mod doctors;
mod panel_support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use doctors::{
    MAIN_PIN, MAIN_RIZIV, MAIN_SSIN, MANDATOR_PIN, MANDATOR_RIZIV, MANDATOR_SSIN, generate_pki,
    keystore_index, main_card, mandator_card, now, write_trust_anchors,
};
use ehealth_sim::pki::TestPki;
use jiff::tz::TimeZone;
use panel_support::Snapshots;
use practicebox::credentials::CredentialVault;
use practicebox::eid::{EidCard, EidError, TransportError};
use practicebox::mandates::{self, MandateSettings, RizivCheck, Step};
use practicebox::panel::controller::{PanelContext, PanelInput};
use practicebox::panel::eid_reader::Signer;
use practicebox::panel::network::NetworkInfo;
use practicebox::panel::pages::text_page;
use practicebox::panel::render::wrap;
use practicebox::panel::settings::SETTINGS_FILE;
use practicebox::panel::text::{COLUMNS, Text};
use practicebox::panel::{FolderCertificates, KeyEvent, Language, Panel};
use practicebox::status::StatusSnapshot;
use practicebox::store::{Store, StoreHandle};
use practicebox_hardware::sim::{ScriptStep, ScriptedButtons};
use practicebox_hardware::{Button, ButtonConfig, Frame, ManualClock};
use rand::SeedableRng;
use virtual_eid::{InProcessTransport, PinpadInput, SharedCard};
use zeroize::Zeroizing;

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| generate_pki(&[]))
}

/// A card in a reader: with `pinpad`, a reader that offers secure PIN entry, and what the
/// holder does on its keys.
#[derive(Clone)]
struct Reader {
    card: SharedCard,
    pinpad: Option<PinpadInput>,
}

/// The box under test: a store in a temporary folder, a folder as the USB stick, the reader,
/// and the panel driven directly, recording each waiting screen.
struct Bench {
    _dir: tempfile::TempDir,
    store: StoreHandle,
    reader: Arc<Mutex<Option<Reader>>>,
    clock: ManualClock,
    panel: Panel,
    /// The screens shown while a slow step ran, in every language.
    waiting: Vec<Vec<(Language, Frame)>>,
}

impl Bench {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let stick = root.join("stick");
        std::fs::create_dir_all(&stick).unwrap();
        for doctor in &pki().doctors {
            let keystore = &doctor.keystore;
            std::fs::write(stick.join(&keystore.file_name), &keystore.bytes).unwrap();
        }

        let store = Store::open(&root.join("practicebox.sqlite"))
            .unwrap()
            .into_handle();
        let reader: Arc<Mutex<Option<Reader>>> = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&reader);
        let connect = move || -> Result<Signer, EidError> {
            let Some(reader) = slot.lock().unwrap().clone() else {
                return Err(EidError::Transport(TransportError::NoCard {
                    reader: "in-process".to_owned(),
                }));
            };
            let transport = match reader.pinpad {
                Some(input) => InProcessTransport::with_pinpad(reader.card, input),
                None => InProcessTransport::new(reader.card),
            };
            Ok(Box::new(EidCard::open(transport)?))
        };

        let context = PanelContext {
            store: store.clone(),
            vault: CredentialVault::open(&root.join("credentials")).unwrap(),
            mandate_settings: Ok(settings(root)),
            certificates: Box::new(FolderCertificates::new(&stick)),
            eid: Box::new(connect),
            rng: rand::rngs::StdRng::seed_from_u64(7),
            settings_file: root.join(SETTINGS_FILE),
            network: Box::new(|_| NetworkInfo::default()),
        };
        let snapshot = StatusSnapshot::new(&TimeZone::UTC, now());
        Self {
            _dir: dir,
            store,
            reader,
            clock: ManualClock::new(),
            panel: Panel::new(context, snapshot, now()),
            waiting: Vec::new(),
        }
    }

    /// Feeds `input` to the panel and runs the slow steps it starts, recording the waiting
    /// screen of each.
    fn input(&mut self, input: PanelInput) {
        self.panel.handle(input, now());
        while self.panel.has_job() {
            let frames = Language::ALL
                .iter()
                .map(|language| (*language, self.panel.render_in(*language, now())))
                .collect();
            self.waiting.push(frames);
            self.panel.run_job(now());
        }
    }

    fn insert(&mut self, card: SharedCard, pinpad: Option<PinpadInput>) {
        *self.reader.lock().unwrap() = Some(Reader { card, pinpad });
    }

    fn press(&mut self, button: Button) {
        let steps = vec![
            ScriptStep::press(Duration::from_millis(40), button),
            ScriptStep::release(Duration::from_millis(80), button),
        ];
        let events =
            ScriptedButtons::new(ButtonConfig::default(), self.clock.clone(), steps).drain();
        for event in events {
            self.input(PanelInput::Button(event));
        }
    }

    fn presses(&mut self, button: Button, count: usize) {
        for _ in 0..count {
            self.press(button);
        }
    }

    /// Types `text` on the keyboard, then Enter.
    fn type_text(&mut self, text: &str) {
        for character in text.chars() {
            self.input(PanelInput::Key(KeyEvent::Char(character)));
        }
        self.input(PanelInput::Key(KeyEvent::Enter));
    }

    fn step(&self) -> Option<Step> {
        self.panel.wizard_step()
    }

    fn screen(&self) -> Frame {
        self.panel.render_in(Language::English, now())
    }

    /// Opens the wizard from the menu entry `entry` and goes up to the review, with the
    /// keystore of `ssin`, its password and `riziv` typed on the keyboard.
    fn go_to_review(&mut self, entry: usize, ssin: &str, riziv: &str) {
        self.press(Button::Ok);
        self.presses(Button::Down, entry);
        self.press(Button::Ok);
        self.press(Button::Ok);
        self.presses(Button::Down, keystore_index(pki(), ssin));
        self.press(Button::Ok);
        self.type_text(&pki().doctor(ssin).unwrap().keystore.password);
        assert_eq!(self.step(), Some(Step::Details));
        self.type_text(riziv);
        self.press(Button::Ok);
        self.press(Button::Ok);
    }
}

/// Builds the mandate settings from the test PKI's roots and a fixed box identity.
fn settings(root: &std::path::Path) -> MandateSettings {
    write_trust_anchors(root, pki(), &mandator_card());
    MandateSettings {
        ehealth_anchors: mandates::load_ehealth_anchors(&root.join("ehealth-ca.pem")).unwrap(),
        eid_anchors: mandates::load_eid_anchors(&root.join("eid-roots.pem")).unwrap(),
        riziv_check: RizivCheck::Strict,
        box_id: "pbx-0a1b2c3d4e5f60718293a4b5c6d7e8f9".to_owned(),
    }
}

fn digits(pin: &str) -> Option<PinpadInput> {
    Some(PinpadInput::Digits(Zeroizing::new(pin.into())))
}

/// Sets up the main doctor with the main doctor's card in a pinpad reader.
fn set_up_on_pinpad(bench: &mut Bench) {
    bench.insert(main_card(), digits(MAIN_PIN));
    bench.go_to_review(1, MAIN_SSIN, MAIN_RIZIV);
    assert_eq!(bench.step(), Some(Step::Review));
    bench.press(Button::Ok);
    assert_eq!(bench.step(), Some(Step::Done));
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    assert!(bench.panel.is_on_status());
}

/// Returns the last waiting screen in `language`.
fn last_waiting(bench: &Bench, language: Language) -> Frame {
    let frames = bench.waiting.last().unwrap();
    frames
        .iter()
        .find(|(shown, _)| *shown == language)
        .map(|(_, frame)| frame.clone())
        .unwrap()
}

#[test]
fn pinpad_reader_signs_mandate() {
    let mut bench = Bench::new();
    set_up_on_pinpad(&mut bench);
    let main = bench.store.with(|store| store.main_principal()).unwrap();
    assert_eq!(main.map(|main| main.insz).as_deref(), Some(MAIN_SSIN));

    bench.insert(mandator_card(), digits(MANDATOR_PIN));
    bench.go_to_review(0, MANDATOR_SSIN, MANDATOR_RIZIV);
    assert_eq!(bench.step(), Some(Step::EndDate));
    // The end date's year, month and day as proposed.
    bench.presses(Button::Ok, 3);
    assert_eq!(bench.step(), Some(Step::Review));
    let waiting_before = bench.waiting.len();
    bench.press(Button::Ok);

    assert_eq!(bench.step(), Some(Step::Done));
    assert_eq!(
        bench.waiting.len(),
        waiting_before + 1,
        "one slow step: the pinpad"
    );
    let mut snapshots = Snapshots::new();
    for language in Language::ALL {
        let frame = last_waiting(&bench, language);
        snapshots.check(&format!("wizard-pin-on-reader.{language}"), &frame);
    }
    snapshots.finish();
    let mandator = bench
        .store
        .with(|store| store.principal_by_insz(MANDATOR_SSIN))
        .unwrap()
        .unwrap();
    let mandates = bench
        .store
        .with(|store| store.mandates_of(mandator.id))
        .unwrap();
    assert_eq!(mandates.len(), 1);
}

#[test]
fn reader_without_pinpad_shows_picker() {
    let mut bench = Bench::new();
    bench.insert(main_card(), None);
    bench.go_to_review(1, MAIN_SSIN, MAIN_RIZIV);
    let waiting_before = bench.waiting.len();

    bench.press(Button::Ok);

    assert_eq!(bench.step(), Some(Step::Pin));
    assert_eq!(
        bench.waiting.len(),
        waiting_before,
        "no slow step before the PIN"
    );
    bench.type_text(MAIN_PIN);
    assert_eq!(bench.step(), Some(Step::Done));
    let main = bench.store.with(|store| store.main_principal()).unwrap();
    assert_eq!(main.map(|main| main.insz).as_deref(), Some(MAIN_SSIN));
}

/// Draws the error screen with `text`, in English.
fn error_screen(text: Text) -> Frame {
    let english = Language::English;
    text_page(
        english.text(Text::ErrorTitle),
        &wrap(english.text(text), COLUMNS),
        0,
        english.text(Text::HintTryAgain),
    )
}

#[test]
fn pinpad_cancel_shows_error_then_retries() {
    let mut bench = Bench::new();
    bench.insert(main_card(), Some(PinpadInput::Cancel));
    bench.go_to_review(1, MAIN_SSIN, MAIN_RIZIV);

    bench.press(Button::Ok);
    assert_eq!(bench.step(), Some(Step::Pin));
    assert_eq!(bench.screen(), error_screen(Text::ErrorPinpadCancelled));

    // OK prompts for the PIN on the reader again, and the holder cancels again.
    let waiting_before = bench.waiting.len();
    bench.press(Button::Ok);
    assert_eq!(bench.waiting.len(), waiting_before + 1);
    assert_eq!(bench.screen(), error_screen(Text::ErrorPinpadCancelled));

    bench.press(Button::Back);
    assert_eq!(bench.step(), Some(Step::Cancelled));
    let main = bench.store.with(|store| store.main_principal()).unwrap();
    assert!(main.is_none());
}
