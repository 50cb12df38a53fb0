//! The mandate wizard at the front panel, end to end: buttons scripted on simulated time go
//! through the real debouncer, a folder replaces the USB stick, and the virtual eID replies
//! through its in-process transport.
//!
//! One run sets up the main doctor with the character picker. It then grants a colleague's
//! mandate from a USB keyboard, meeting a wrong password, a missing card and a wrong PIN on the
//! way, cancels a third attempt, and removes the mandate from the menu. Every wizard screen it
//! passes is compared, in Dutch, French and English, with the references in
//! `tests/snapshots/panel/` (`UPDATE_FIXTURES=1` accepts new frames). A second run does the
//! setup and the mandate through the real pcscd with the vpcd reader, as root, in a child
//! process with a pcscd of its own (see `support/pcscd.rs`). It fails with the start script's
//! reason when pcscd cannot start. That run ends with what the practice gets: `practicebox run`
//! fetches the colleague's mail from the platform simulator into the colleague's folder on the
//! share.

#![allow(clippy::unwrap_used, reason = "tests")]

#[path = "support/doctors.rs"]
mod doctors;
mod panel_support;
#[path = "support/pcscd.rs"]
mod pcscd_support;
#[path = "support/service.rs"]
mod service_support;

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use doctors::{
    MAIN_PIN, MAIN_RIZIV, MAIN_SSIN, MANDATOR_NAME, MANDATOR_PIN, MANDATOR_RIZIV, MANDATOR_SSIN,
    PKI_SEED, generate_pki, keystore_index, main_card, mandator_card, now, write_trust_anchors,
};
use ehealth_sim::pki::TestPki;
use ehealth_sim::server::{SimConfig, Simulator};
use embedded_graphics::Pixel;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Size};
use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use panel_support::Snapshots;
use pcscd_support::{
    CARD_WAIT, in_private_pcscd, wait_until_card_present, wait_until_reader_empty,
};
use practicebox::credentials::CredentialVault;
use practicebox::delivery::names::doctor_folder_name;
use practicebox::eid::{EidCard, EidError, TransportError};
use practicebox::mandates::{self, MandateSettings, RizivCheck, Step};
use practicebox::panel::controller::{PanelContext, PanelInput};
use practicebox::panel::eid_reader::{EidConnector, PcscConnector, Signer};
use practicebox::panel::network::NetworkInfo;
use practicebox::panel::settings::{PanelSettings, SETTINGS_FILE};
use practicebox::panel::{FolderCertificates, KeyEvent, Language, Panel, PanelRunner};
use practicebox::status::{StatusEvent, StatusSnapshot};
use practicebox::store::{Role, Store, StoreHandle};
use practicebox_hardware::sim::{FrameBuffer, LedTimeline, ScriptStep, ScriptedButtons};
use practicebox_hardware::{
    Button, ButtonConfig, Display, DisplayError, Frame, HEIGHT, Led, LedState, ManualClock, WIDTH,
};
use rand::SeedableRng;
use service_support::{Service, send_mail, wait_for_documents, write_simulator_config};
use virtual_eid::pcscd::{PcscdVpcd, VPCD_READER_PREFIX};
use virtual_eid::{InProcessTransport, Removal, SharedCard, VpcdConnection};

/// The characters of the password picker, in its order.
const PASSWORD_RING: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\
                             !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// The characters of the digit picker.
const DIGIT_RING: &str = "0123456789";

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| generate_pki(&[]))
}

/// A simulated display that keeps every flushed frame.
#[derive(Debug, Clone, Default)]
struct RecordingDisplay {
    inner: FrameBuffer,
    flushed: Arc<Mutex<Vec<Frame>>>,
}

impl OriginDimensions for RecordingDisplay {
    fn size(&self) -> Size {
        Size::new(WIDTH, HEIGHT)
    }
}

impl DrawTarget for RecordingDisplay {
    type Color = BinaryColor;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        self.inner.draw_iter(pixels)
    }
}

impl Display for RecordingDisplay {
    fn flush(&mut self) -> Result<(), DisplayError> {
        self.inner.flush()?;
        self.flushed
            .lock()
            .unwrap()
            .push(self.inner.shown().clone());
        Ok(())
    }

    fn set_display_on(&mut self, on: bool) -> Result<(), DisplayError> {
        self.inner.set_display_on(on)
    }
}

/// Where the panel finds the eID.
enum Reader {
    /// The in-process transport; the slot contains the inserted card.
    InProcess(Arc<Mutex<Option<SharedCard>>>),
    /// The real pcscd with the vpcd reader, and the card connected to it.
    Pcscd {
        pcscd: PcscdVpcd,
        inserted: Option<VpcdConnection>,
    },
}

impl Reader {
    /// Returns the reader and the connector the panel uses with it: `pcscd` when given,
    /// otherwise the in-process transport.
    fn start(pcscd: Option<PcscdVpcd>) -> (Self, Box<dyn EidConnector + Send>) {
        if let Some(pcscd) = pcscd {
            let connector = PcscConnector::new(VPCD_READER_PREFIX).with_card_wait(CARD_WAIT);
            let reader = Reader::Pcscd {
                pcscd,
                inserted: None,
            };
            return (reader, Box::new(connector));
        }
        let slot: Arc<Mutex<Option<SharedCard>>> = Arc::new(Mutex::new(None));
        let card_slot = Arc::clone(&slot);
        let connect = move || -> Result<Signer, EidError> {
            let card = card_slot.lock().unwrap().clone();
            let Some(card) = card else {
                return Err(EidError::Transport(TransportError::NoCard {
                    reader: "in-process".to_owned(),
                }));
            };
            Ok(Box::new(EidCard::open(InProcessTransport::new(card))?))
        };
        (Reader::InProcess(slot), Box::new(connect))
    }

    /// Puts the card in. Through pcscd, waits until pcscd reports it, as a person would
    /// wait for the reader's light before pressing OK.
    fn insert(&mut self, card: SharedCard) {
        match self {
            Reader::InProcess(slot) => *slot.lock().unwrap() = Some(card),
            Reader::Pcscd { pcscd, inserted } => {
                *inserted = Some(pcscd.insert(card).unwrap());
                wait_until_card_present();
            }
        }
    }

    /// Takes the card out. Through pcscd, waits until pcscd reports the reader empty, as it
    /// would be before a person inserts the next card.
    fn remove(&mut self) {
        match self {
            Reader::InProcess(slot) => *slot.lock().unwrap() = None,
            Reader::Pcscd { inserted, .. } => {
                *inserted = None;
                wait_until_reader_empty();
            }
        }
    }
}

/// The box under test: a store in a temporary folder, the stick folder, the eID reader, and
/// the panel on simulated devices.
struct Bench {
    dir: tempfile::TempDir,
    store: StoreHandle,
    reader: Reader,
    clock: ManualClock,
    runner: PanelRunner<RecordingDisplay, LedTimeline>,
    flushed: Arc<Mutex<Vec<Frame>>>,
    snapshots: Snapshots,
}

impl Bench {
    /// Builds the box, with its eID reader behind `pcscd` when given.
    fn new(pcscd: Option<PcscdVpcd>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let state = root.join("state");
        std::fs::create_dir_all(&state).unwrap();
        let stick = root.join("stick");
        std::fs::create_dir_all(&stick).unwrap();
        for doctor in &pki().doctors {
            std::fs::write(
                stick.join(&doctor.keystore.file_name),
                &doctor.keystore.bytes,
            )
            .unwrap();
        }

        let store = Store::open(&state.join("practicebox.sqlite"))
            .unwrap()
            .into_handle();
        let (reader, connector) = Reader::start(pcscd);
        let context = PanelContext {
            store: store.clone(),
            vault: CredentialVault::open(&state.join("credentials")).unwrap(),
            mandate_settings: Ok(settings(root)),
            certificates: Box::new(FolderCertificates::new(&stick)),
            eid: connector,
            rng: rand::rngs::StdRng::seed_from_u64(5),
            settings_file: state.join(SETTINGS_FILE),
            network: Box::new(|_| NetworkInfo::default()),
        };
        let snapshot = StatusSnapshot::new(&TimeZone::get("Europe/Brussels").unwrap(), now());
        let panel = Panel::new(context, snapshot, now());
        let clock = ManualClock::new();
        let display = RecordingDisplay::default();
        let flushed = Arc::clone(&display.flushed);
        let mut runner = PanelRunner::new(panel, display, LedTimeline::new(clock.clone()));
        runner.show(now()).unwrap();
        Self {
            dir,
            store,
            reader,
            clock,
            runner,
            flushed,
            snapshots: Snapshots::new(),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Plays `gestures` (button, held milliseconds) through the scripted buttons and feeds
    /// each debounced event to the panel.
    fn play(&mut self, gestures: &[(Button, u64)]) {
        let mut steps = Vec::new();
        for &(button, held) in gestures {
            steps.push(ScriptStep::press(Duration::from_millis(40), button));
            steps.push(ScriptStep::release(Duration::from_millis(held), button));
        }
        let events =
            ScriptedButtons::new(ButtonConfig::default(), self.clock.clone(), steps).drain();
        for event in events {
            self.runner.step(PanelInput::Button(event), now()).unwrap();
        }
    }

    fn press(&mut self, button: Button) {
        self.play(&[(button, 80)]);
    }

    fn presses(&mut self, button: Button, count: usize) {
        self.play(&vec![(button, 80); count]);
    }

    fn hold(&mut self, button: Button) {
        self.play(&[(button, 1500)]);
    }

    /// Types `text` with the picker whose characters are `ring`, then finishes with a long OK.
    fn pick(&mut self, ring: &str, text: &str) {
        let ring: Vec<char> = ring.chars().collect();
        let mut cursor = 0;
        for character in text.chars() {
            let target = ring.iter().position(|c| *c == character).unwrap();
            let forward = (target + ring.len() - cursor) % ring.len();
            if forward <= ring.len() / 2 {
                self.presses(Button::Up, forward);
            } else {
                self.presses(Button::Down, ring.len() - forward);
            }
            self.press(Button::Ok);
            cursor = target;
        }
        self.hold(Button::Ok);
    }

    /// Types `text` on the keyboard, then Enter.
    fn type_text(&mut self, text: &str) {
        for character in text.chars() {
            self.key(KeyEvent::Char(character));
        }
        self.key(KeyEvent::Enter);
    }

    fn key(&mut self, key: KeyEvent) {
        self.runner.step(PanelInput::Key(key), now()).unwrap();
    }

    fn insert(&mut self, card: SharedCard) {
        self.reader.insert(card);
    }

    fn remove_card(&mut self) {
        self.reader.remove();
    }

    /// Compares the screen with the reference `wizard-<name>` in every language.
    fn snapshot(&mut self, name: &str) {
        let panel = self.runner.panel();
        for language in Language::ALL {
            let frame = panel.render_in(language, now());
            self.snapshots
                .check(&format!("wizard-{name}.{language}"), &frame);
        }
    }

    /// Compares the frame flushed before the current one with the reference: the waiting
    /// screen of the slow step that the last input ran.
    fn snapshot_waiting(&mut self, name: &str, language: Language) {
        let flushed = self.flushed.lock().unwrap().clone();
        let frame = &flushed[flushed.len() - 2];
        self.snapshots
            .check(&format!("wizard-{name}.{language}"), frame);
    }

    fn step(&self) -> Option<Step> {
        self.runner.panel().wizard_step()
    }
}

/// Builds the mandate settings from the test PKI's roots and a fixed box identity.
fn settings(root: &Path) -> MandateSettings {
    write_trust_anchors(root, pki(), &mandator_card());
    MandateSettings {
        ehealth_anchors: mandates::load_ehealth_anchors(&root.join("ehealth-ca.pem")).unwrap(),
        eid_anchors: mandates::load_eid_anchors(&root.join("eid-roots.pem")).unwrap(),
        riziv_check: RizivCheck::Strict,
        box_id: "pbx-5e1f0c2a9b3d4e6f8a7b6c5d4e3f2a1b".to_owned(),
    }
}

fn password(ssin: &str) -> String {
    pki().doctor(ssin).unwrap().keystore.password.clone()
}

/// Chooses `language` in the menu: Language is the seventh entry, languages are listed
/// Dutch, French, English.
fn choose_language(bench: &mut Bench, language: Language) {
    bench.press(Button::Ok);
    bench.presses(Button::Down, 6);
    bench.press(Button::Ok);
    bench.presses(Button::Up, 2);
    let index = Language::ALL.iter().position(|l| *l == language).unwrap();
    bench.presses(Button::Down, index);
    bench.press(Button::Ok);
    bench.press(Button::Back);
    assert!(bench.runner.panel().is_on_status());
}

/// Sets up the main doctor with the picker for every value.
fn set_up_main_doctor(bench: &mut Bench) {
    bench.press(Button::Ok);
    bench.press(Button::Down);
    bench.press(Button::Ok);
    bench.snapshot("setup-insert-stick");

    bench.press(Button::Ok);
    bench.snapshot_waiting("reading-stick", Language::Dutch);
    bench.snapshot("certificates");

    bench.presses(Button::Down, keystore_index(pki(), MAIN_SSIN));
    bench.press(Button::Ok);
    assert_eq!(bench.step(), Some(Step::Password));
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    bench.presses(Button::Up, 3);
    bench.snapshot("password");
    // Back twice removes the two characters typed while looking at the screen.
    bench.presses(Button::Back, 2);
    bench.presses(Button::Down, 3);

    bench.pick(PASSWORD_RING, &password(MAIN_SSIN));
    bench.snapshot_waiting("opening", Language::Dutch);
    assert_eq!(bench.step(), Some(Step::Details));
    bench.snapshot("riziv-empty");

    bench.pick(DIGIT_RING, MAIN_RIZIV);
    assert_eq!(bench.step(), Some(Step::Details));
    bench.snapshot("setup-insert-eid");

    bench.insert(main_card());
    bench.press(Button::Ok);
    bench.snapshot_waiting("reading-eid", Language::Dutch);
    bench.snapshot("setup-identity");

    bench.press(Button::Ok);
    bench.snapshot("setup-review");
    bench.press(Button::Ok);
    assert_eq!(bench.step(), Some(Step::Pin));
    bench.snapshot("pin-empty");

    bench.pick(DIGIT_RING, MAIN_PIN);
    bench.snapshot_waiting("confirming", Language::Dutch);
    assert_eq!(bench.step(), Some(Step::Done));
    bench.snapshot("setup-done");

    bench.press(Button::Ok);
    bench.snapshot("remove-stick-and-card");
    bench.remove_card();
    bench.press(Button::Ok);
    assert!(bench.runner.panel().is_on_status());
}

/// Grants the colleague's mandate from the keyboard, one month shorter than the certificate.
/// With `missing_card`, OK is first pressed with no card in the reader.
fn grant_mandate(bench: &mut Bench, missing_card: bool) {
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    bench.snapshot("mandate-insert-stick");
    bench.press(Button::Ok);
    bench.presses(Button::Down, keystore_index(pki(), MANDATOR_SSIN));
    bench.press(Button::Ok);

    bench.type_text("not-the-password");
    assert_eq!(bench.step(), Some(Step::Password));
    bench.snapshot("error-wrong-password");
    bench.press(Button::Ok);
    bench.type_text(&password(MANDATOR_SSIN));
    assert_eq!(bench.step(), Some(Step::Details));

    bench.type_text(MANDATOR_RIZIV);
    if missing_card {
        bench.press(Button::Ok);
        assert_eq!(bench.step(), Some(Step::Details));
        bench.snapshot("error-no-card");
        bench.press(Button::Ok);
    }
    bench.insert(mandator_card());
    bench.press(Button::Ok);
    assert_eq!(bench.step(), Some(Step::EndDate));
    bench.snapshot("mandate-identity");

    bench.press(Button::Ok);
    bench.snapshot("end-date");
    // Year stays, the month goes one back, the day stays.
    bench.press(Button::Ok);
    bench.press(Button::Down);
    bench.snapshot("end-date-month");
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    assert_eq!(bench.step(), Some(Step::Review));
    bench.snapshot("review");
    bench.presses(Button::Down, 5);
    bench.snapshot("review-scrolled");

    bench.press(Button::Ok);
    assert_eq!(bench.step(), Some(Step::Pin));
    bench.type_text("947205");
    assert_eq!(bench.step(), Some(Step::Pin));
    bench.snapshot("error-wrong-pin");
    bench.press(Button::Ok);
    bench.key(KeyEvent::Char('7'));
    bench.snapshot("pin-one-digit");

    bench.key(KeyEvent::Backspace);
    bench.type_text(MANDATOR_PIN);
    assert_eq!(bench.step(), Some(Step::Done));
    bench.snapshot("mandate-done");
    bench.press(Button::Ok);
    bench.remove_card();
    bench.press(Button::Ok);
    assert!(bench.runner.panel().is_on_status());
}

/// Returns the end a mandate chosen one month before the certificate's last day gets.
fn expected_end() -> Timestamp {
    let certificate_end = pki()
        .doctor(MANDATOR_SSIN)
        .unwrap()
        .authentication
        .not_after();
    let last_day = mandates::rules::utc_date(certificate_end)
        .checked_sub(1.month())
        .unwrap();
    TimeZone::UTC
        .to_timestamp(last_day.tomorrow().unwrap().to_datetime(Time::midnight()))
        .unwrap()
}

#[test]
fn wizard_through_pcscd_stores_mandate() {
    in_private_pcscd("wizard_through_pcscd_stores_mandate", wizard_through_pcscd);
}

/// Sets up the main doctor and grants the mandate with the cards in the vpcd reader of `pcscd`.
fn wizard_through_pcscd(pcscd: PcscdVpcd) {
    let mut bench = Bench::new(Some(pcscd));
    // The waiting screens are compared as flushed, in the panel's language.
    choose_language(&mut bench, Language::Dutch);

    set_up_main_doctor(&mut bench);
    grant_mandate(&mut bench, false);

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
    assert_eq!(mandates[0].ends_at, expected_end());
    assert!(mandates[0].revoked_at.is_none());

    // What the practice gets: the service fetches the colleague's mail into the colleague's
    // folder on the share. It checks certificates and the mandate against the system clock, so
    // this part needs a clock later than `now()`.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut simulator_config = SimConfig::loopback(pki().clone(), PKI_SEED);
    simulator_config.http = None;
    simulator_config.admin = None;
    let simulator = runtime
        .block_on(Simulator::start(simulator_config))
        .unwrap();
    let colleague = simulator.pki.doctor(MANDATOR_SSIN).unwrap();
    let colleague_mail = send_mail(&simulator, colleague, PKI_SEED);
    let share = bench.dir.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let config = write_simulator_config(bench.dir.path(), &simulator, &bench.state(), &share, 2);
    let mut service = Service::start(&config, bench.dir.path().join("service.log"));

    let folder = share.join(&mandator.share_folder);
    wait_for_documents(&folder, &colleague_mail, &mut service);
    assert_eq!(
        mandator.share_folder,
        doctor_folder_name(MANDATOR_NAME.0, MANDATOR_NAME.1, MANDATOR_RIZIV),
        "the colleague's folder is named from the eID"
    );
    let log = service.stop();
    for secret in [MAIN_PIN, MANDATOR_PIN] {
        assert!(!log.contains(secret), "a PIN is in the service log:\n{log}");
    }
    bench.snapshots.finish();
}

#[test]
fn wizard_sets_up_grants_cancels_and_removes() {
    let mut bench = Bench::new(None);
    assert_eq!(bench.runner.panel().language(), Language::English);

    choose_language(&mut bench, Language::Dutch);
    let settings = PanelSettings::load(&bench.state().join(SETTINGS_FILE)).unwrap();
    assert_eq!(settings.language, Language::Dutch);

    set_up_main_doctor(&mut bench);
    let main = bench
        .store
        .with(|store| store.main_principal())
        .unwrap()
        .unwrap();
    assert_eq!(main.insz, MAIN_SSIN);
    assert_eq!(main.riziv, MAIN_RIZIV);
    assert_eq!(main.given_names, "Lotte Maria");

    grant_mandate(&mut bench, true);
    let mandator = bench
        .store
        .with(|store| store.principal_by_insz(MANDATOR_SSIN))
        .unwrap()
        .unwrap();
    assert_eq!(mandator.role, Role::Mandator);
    assert_eq!(mandator.riziv, MANDATOR_RIZIV);
    let mandates = bench
        .store
        .with(|store| store.mandates_of(mandator.id))
        .unwrap();
    assert_eq!(mandates.len(), 1);
    assert_eq!(mandates[0].ends_at, expected_end());
    let active: Vec<String> = bench
        .store
        .with(|store| store.active_principals(now()))
        .unwrap()
        .into_iter()
        .map(|principal| principal.insz)
        .collect();
    assert_eq!(active, [MAIN_SSIN, MANDATOR_SSIN]);

    // A third attempt, cancelled with a long press on Back, stores nothing.
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    bench.hold(Button::Back);
    bench.snapshot("cancelled");
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    assert!(bench.runner.panel().is_on_status());
    let after_cancel = bench
        .store
        .with(|store| store.mandates_of(mandator.id))
        .unwrap();
    assert_eq!(after_cancel, mandates);

    // Remove the mandate from the menu: fourth entry, one mandate, confirm.
    bench.press(Button::Ok);
    bench.presses(Button::Down, 3);
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    let revoked = bench
        .store
        .with(|store| store.mandates_of(mandator.id))
        .unwrap();
    assert!(revoked[0].revoked_at.is_some());
    assert_eq!(revoked[0].revoked_by.as_deref(), Some("panel"));

    // The LEDs follow the status snapshots: green once both boxes were fetched.
    assert_eq!(bench.runner.leds().state(Led::Green), LedState::Off);
    let mut snapshot = StatusSnapshot::new(&TimeZone::UTC, now());
    for principal in [main.id, mandator.id] {
        let added = StatusEvent::PrincipalAdded {
            principal,
            name: format!("principal {principal}"),
            interval_secs: 300,
        };
        snapshot.apply(&added, now());
        let fetched = StatusEvent::Ok {
            principal,
            new: 1,
            delivered: 1,
            held: 0,
            at: now(),
        };
        snapshot.apply(&fetched, now());
    }
    bench
        .runner
        .step(PanelInput::Status(Box::new(snapshot)), now())
        .unwrap();
    assert_eq!(bench.runner.leds().state(Led::Green), LedState::On);
    assert_eq!(bench.runner.leds().state(Led::Amber), LedState::Off);
    assert_eq!(bench.runner.leds().state(Led::Red), LedState::Off);
    bench.snapshots.finish();
}

#[test]
fn menu_returns_to_status_when_idle() {
    let mut bench = Bench::new(None);
    bench.press(Button::Ok);
    assert!(!bench.runner.panel().is_on_status());

    let soon = now() + jiff::SignedDuration::from_secs(119);
    bench.runner.step(PanelInput::Tick, soon).unwrap();
    assert!(!bench.runner.panel().is_on_status());

    let later = now() + jiff::SignedDuration::from_secs(120);
    bench.runner.step(PanelInput::Tick, later).unwrap();
    assert!(bench.runner.panel().is_on_status());
}

#[test]
fn wizard_stays_open_when_idle() {
    let mut bench = Bench::new(None);
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    assert!(bench.runner.panel().is_in_wizard());

    let later = now() + jiff::SignedDuration::from_secs(600);
    bench.runner.step(PanelInput::Tick, later).unwrap();

    assert!(bench.runner.panel().is_in_wizard());
}

#[test]
fn card_pulled_while_signing_then_retried() {
    let mut bench = Bench::new(None);
    choose_language(&mut bench, Language::Dutch);
    set_up_main_doctor(&mut bench);

    bench.press(Button::Ok);
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    bench.presses(Button::Down, keystore_index(pki(), MANDATOR_SSIN));
    bench.press(Button::Ok);
    bench.type_text(&password(MANDATOR_SSIN));
    bench.type_text(MANDATOR_RIZIV);
    let card = mandator_card();
    bench.insert(Arc::clone(&card));
    bench.press(Button::Ok);
    bench.press(Button::Ok);
    // OK on year, month and day keeps the default end date.
    bench.presses(Button::Ok, 3);
    assert_eq!(bench.step(), Some(Step::Review));
    bench.press(Button::Ok);
    assert_eq!(bench.step(), Some(Step::Pin));

    // PSO: COMPUTE DIGITAL SIGNATURE pulls the card out.
    card.lock().unwrap().remove_on(Removal::OnInstruction(0x2A));
    bench.type_text(MANDATOR_PIN);
    assert_eq!(bench.step(), Some(Step::Pin));
    bench.snapshot("error-card-removed");

    card.lock().unwrap().reinsert();
    bench.press(Button::Ok);
    bench.type_text(MANDATOR_PIN);

    assert_eq!(bench.step(), Some(Step::Done));
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
    bench.snapshots.finish();
}
