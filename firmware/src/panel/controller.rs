//! The panel controller: a state machine fed with button presses, typed keys, status snapshots
//! and clock ticks, which draws the screen for its current state.
//!
//! Screens: the status screen (default), a principal's detail page, the menu, the mandate list,
//! removing a mandate (with confirmation), the network page, the LED meanings, the language
//! menu, the about page, and the mandate wizard. Long inactivity on a menu page returns to the
//! status screen; the wizard stays until it ends.
//!
//! [`Panel::handle`] does only quick work: store reads and writes, and at most a short card
//! status read. A slow wizard step shows its waiting screen first, so the caller sees
//! [`Panel::has_job`] and calls [`Panel::run_job`], which blocks until the step is done.

use std::collections::HashMap;
use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use practicebox_hardware::{Button, ButtonEvent, Frame};
use rand::rngs::StdRng;

use super::certificates::CertificateSource;
use super::eid_reader::EidConnector;
use super::errors::{Message, describe_mandate_error, format_utc_date};
use super::gesture::{Gesture, GestureTracker};
use super::keys::KeyEvent;
use super::network::NetworkInfo;
use super::pages::{last_first_row, list_page, text_page};
use super::render::wrap;
use super::settings::PanelSettings;
use super::status_screen::{StatusScreen, render_detail};
use super::text::{COLUMNS, Language, Text};
use super::wizard::{Wizard, WizardWorld};
use crate::credentials::CredentialVault;
use crate::mandates::grant;
use crate::mandates::status::{MandateListing, MandateStatus, list_mandates};
use crate::mandates::{MandateSettings, Purpose};
use crate::samba::names::ShareName;
use crate::status::{Led, StatusSnapshot};
use crate::store::{PrincipalId, StoreHandle};

/// Actor name in the audit log for actions taken at the panel.
pub const PANEL_ACTOR: &str = "panel";

/// Seconds each page of principals stays on the status screen.
const PAGE_SECONDS: i64 = 5;

/// Seconds without a button press after which a menu page returns to the status screen.
const IDLE_SECONDS: i64 = 120;

/// An input of the panel.
#[derive(Debug, Clone)]
pub enum PanelInput {
    Button(ButtonEvent),
    Key(KeyEvent),
    Status(Box<StatusSnapshot>),
    /// Time passed: the clock, page turns and idle time move on.
    Tick,
}

/// Reads the network facts; the box reads its interfaces, tests give fixed facts.
pub type NetworkSource = Box<dyn Fn(&[String]) -> NetworkInfo + Send>;

/// Dependencies of the panel besides its devices: store, credentials, USB stick, eID.
pub struct PanelContext {
    pub store: StoreHandle,
    pub vault: CredentialVault,
    /// The trust anchors and box identity, or why they could not be loaded; the wizard shows
    /// an installation error when they are missing.
    pub mandate_settings: Result<MandateSettings, String>,
    pub certificates: Box<dyn CertificateSource + Send>,
    pub eid: Box<dyn EidConnector + Send>,
    pub rng: StdRng,
    /// File that keeps the chosen language.
    pub settings_file: PathBuf,
    pub network: NetworkSource,
}

impl std::fmt::Debug for PanelContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PanelContext")
            .field("settings_file", &self.settings_file)
            .field("mandate_settings", &self.mandate_settings.is_ok())
            .finish_non_exhaustive()
    }
}

/// An entry of the menu, in menu order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuItem {
    GrantMandate,
    SetUpMain,
    ListMandates,
    RemoveMandate,
    Network,
    Leds,
    Language,
    About,
}

impl MenuItem {
    pub const ALL: [MenuItem; 8] = [
        MenuItem::GrantMandate,
        MenuItem::SetUpMain,
        MenuItem::ListMandates,
        MenuItem::RemoveMandate,
        MenuItem::Network,
        MenuItem::Leds,
        MenuItem::Language,
        MenuItem::About,
    ];

    fn text(self) -> Text {
        match self {
            MenuItem::GrantMandate => Text::MenuGrantMandate,
            MenuItem::SetUpMain => Text::MenuSetUpMain,
            MenuItem::ListMandates => Text::MenuListMandates,
            MenuItem::RemoveMandate => Text::MenuRemoveMandate,
            MenuItem::Network => Text::MenuNetwork,
            MenuItem::Leds => Text::MenuLeds,
            MenuItem::Language => Text::MenuLanguage,
            MenuItem::About => Text::MenuAbout,
        }
    }
}

/// The screen the panel shows.
#[derive(Debug)]
enum View {
    Status,
    Detail {
        index: usize,
        first: usize,
    },
    Menu {
        selected: usize,
    },
    Mandates {
        listings: Vec<MandateListing>,
        first: usize,
    },
    RemoveList {
        listings: Vec<MandateListing>,
        selected: usize,
    },
    RemoveConfirm {
        listing: Box<MandateListing>,
        first: usize,
    },
    Message {
        title: Text,
        message: Message,
        first: usize,
    },
    Network {
        info: NetworkInfo,
        first: usize,
    },
    Leds {
        first: usize,
    },
    Language {
        selected: usize,
    },
    About {
        rows: Vec<String>,
        first: usize,
    },
    Wizard(Box<Wizard>),
}

/// The front panel's state.
#[derive(Debug)]
pub struct Panel {
    context: PanelContext,
    language: Language,
    snapshot: StatusSnapshot,
    names: HashMap<PrincipalId, String>,
    view: View,
    gestures: GestureTracker,
    page: usize,
    page_since: Timestamp,
    last_input: Timestamp,
}

impl Panel {
    /// Creates the panel on the status screen, in the language of the settings file.
    pub fn new(context: PanelContext, snapshot: StatusSnapshot, now: Timestamp) -> Self {
        let language = match PanelSettings::load(&context.settings_file) {
            Ok(settings) => settings.language,
            Err(error) => {
                tracing::warn!(%error, "panel settings unreadable; using the defaults");
                Language::default()
            }
        };
        let mut panel = Self {
            context,
            language,
            snapshot,
            names: HashMap::new(),
            view: View::Status,
            gestures: GestureTracker::new(),
            page: 0,
            page_since: now,
            last_input: now,
        };
        panel.refresh_names();
        panel
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// Returns the LED state the panel shows.
    pub fn led(&self) -> Led {
        self.snapshot.led
    }

    /// Returns whether the status screen is shown.
    pub fn is_on_status(&self) -> bool {
        matches!(self.view, View::Status)
    }

    /// Returns whether the mandate wizard is open.
    pub fn is_in_wizard(&self) -> bool {
        matches!(self.view, View::Wizard(_))
    }

    /// Returns the wizard's workflow step, while the wizard is open.
    pub fn wizard_step(&self) -> Option<crate::mandates::Step> {
        match &self.view {
            View::Wizard(wizard) => Some(wizard.step()),
            _ => None,
        }
    }

    /// Takes one input at `now`.
    pub fn handle(&mut self, input: PanelInput, now: Timestamp) {
        match input {
            PanelInput::Button(event) => {
                if let Some(gesture) = self.gestures.event(&event) {
                    self.last_input = now;
                    self.gesture(gesture, now);
                }
            }
            PanelInput::Key(key) => {
                self.last_input = now;
                self.key(key, now);
            }
            PanelInput::Status(snapshot) => self.status(*snapshot),
            PanelInput::Tick => self.tick(now),
        }
    }

    /// Returns whether a slow wizard step waits for [`Panel::run_job`].
    pub fn has_job(&self) -> bool {
        matches!(&self.view, View::Wizard(wizard) if wizard.has_job())
    }

    /// Runs the slow wizard step on screen; blocks until it is done.
    pub fn run_job(&mut self, now: Timestamp) {
        let Panel { context, view, .. } = self;
        let View::Wizard(wizard) = view else {
            return;
        };
        with_world(context, now, self.language, |world| wizard.run_job(world));
        self.leave_finished_wizard();
    }

    /// Draws the current screen at `now`.
    pub fn render(&self, now: Timestamp) -> Frame {
        self.render_in(self.language, now)
    }

    /// Draws the current screen at `now` in `language`, whatever language is chosen.
    pub fn render_in(&self, language: Language, now: Timestamp) -> Frame {
        match &self.view {
            View::Status => self.status_screen(now).render(language),
            View::Detail { index, first } => match self.snapshot.principals.get(*index) {
                Some(status) => {
                    render_detail(language, &self.snapshot, status, &status.name, now, *first)
                }
                None => self.status_screen(now).render(language),
            },
            View::Menu { selected } => {
                let items: Vec<String> = MenuItem::ALL
                    .iter()
                    .map(|item| language.text(item.text()).to_owned())
                    .collect();
                list_page(
                    language.text(Text::MenuTitle),
                    &items,
                    *selected,
                    language.text(Text::HintChoose),
                )
            }
            View::Mandates { listings, first } => text_page(
                language.text(Text::MenuListMandates),
                &mandate_rows(language, listings),
                *first,
                language.text(Text::HintBack),
            ),
            View::RemoveList { listings, selected } => {
                let names: Vec<String> = listings.iter().map(listing_name).collect();
                list_page(
                    language.text(Text::MenuRemoveMandate),
                    &names,
                    *selected,
                    language.text(Text::HintChoose),
                )
            }
            View::RemoveConfirm { listing, first } => {
                let text =
                    language.format(Text::RemoveConfirm, &[("name", &listing_name(listing))]);
                text_page(
                    language.text(Text::MenuRemoveMandate),
                    &wrap(&text, COLUMNS),
                    *first,
                    language.text(Text::HintYesNo),
                )
            }
            View::Message {
                title,
                message,
                first,
            } => text_page(
                language.text(*title),
                &wrap(&message.render(language), COLUMNS),
                *first,
                language.text(Text::HintBack),
            ),
            View::Network { info, first } => text_page(
                language.text(Text::MenuNetwork),
                &network_rows(language, info),
                *first,
                language.text(Text::HintBack),
            ),
            View::Leds { first } => text_page(
                language.text(Text::MenuLeds),
                &legend_rows(language),
                *first,
                language.text(Text::HintBack),
            ),
            View::Language { selected } => {
                let names: Vec<String> = Language::ALL
                    .iter()
                    .map(|language| language.native_name().to_owned())
                    .collect();
                list_page(
                    language.text(Text::MenuLanguage),
                    &names,
                    *selected,
                    language.text(Text::HintChoose),
                )
            }
            View::About { rows, first } => text_page(
                language.text(Text::MenuAbout),
                &about_rows(language, rows),
                *first,
                language.text(Text::HintBack),
            ),
            View::Wizard(wizard) => wizard.render(language),
        }
    }

    fn status_screen(&self, now: Timestamp) -> StatusScreen<'_> {
        StatusScreen {
            snapshot: &self.snapshot,
            names: &self.names,
            now,
            page: self.page,
        }
    }

    fn status(&mut self, snapshot: StatusSnapshot) {
        let known = snapshot
            .principals
            .iter()
            .all(|status| self.names.contains_key(&status.principal));
        self.snapshot = snapshot;
        if !known {
            self.refresh_names();
        }
    }

    fn tick(&mut self, now: Timestamp) {
        self.snapshot.refresh(now);
        if now.duration_since(self.page_since) >= SignedDuration::from_secs(PAGE_SECONDS) {
            self.page = self.page.wrapping_add(1);
            self.page_since = now;
        }
        let idle = now.duration_since(self.last_input) >= SignedDuration::from_secs(IDLE_SECONDS);
        if idle && !matches!(self.view, View::Status | View::Wizard(_)) {
            self.view = View::Status;
        }
    }

    fn key(&mut self, key: KeyEvent, now: Timestamp) {
        let Panel { context, view, .. } = self;
        if let View::Wizard(wizard) = view {
            with_world(context, now, self.language, |world| wizard.key(key, world));
            self.leave_finished_wizard();
        }
    }

    fn gesture(&mut self, gesture: Gesture, now: Timestamp) {
        let view = std::mem::replace(&mut self.view, View::Status);
        self.view = match view {
            View::Wizard(mut wizard) => {
                let language = self.language;
                with_world(&mut self.context, now, language, |world| {
                    wizard.gesture(gesture, language, world);
                });
                View::Wizard(wizard)
            }
            other => self.navigate(other, gesture, now),
        };
        self.leave_finished_wizard();
    }

    /// Returns the view after `gesture` on every screen but the wizard.
    fn navigate(&mut self, view: View, gesture: Gesture, now: Timestamp) -> View {
        let button = gesture.button;
        match view {
            View::Status => match button {
                Button::Ok => View::Menu { selected: 0 },
                Button::Up | Button::Down if !self.snapshot.principals.is_empty() => {
                    View::Detail { index: 0, first: 0 }
                }
                _ => View::Status,
            },
            View::Detail { index, first } => self.detail(index, first, button, now),
            View::Menu { selected } => match button {
                Button::Up => View::Menu {
                    selected: selected.saturating_sub(1),
                },
                Button::Down => View::Menu {
                    selected: (selected + 1).min(MenuItem::ALL.len() - 1),
                },
                Button::Ok => self.open(MenuItem::ALL[selected], now),
                Button::Back => View::Status,
            },
            View::Mandates { listings, first } => {
                let rows = mandate_rows(self.language, &listings).len();
                match scroll(first, rows, button) {
                    Some(first) => View::Mandates { listings, first },
                    None => self.menu_at(MenuItem::ListMandates),
                }
            }
            View::RemoveList { listings, selected } => match button {
                Button::Up => View::RemoveList {
                    listings,
                    selected: selected.saturating_sub(1),
                },
                Button::Down => View::RemoveList {
                    selected: (selected + 1).min(listings.len().saturating_sub(1)),
                    listings,
                },
                Button::Ok => match listings.get(selected) {
                    Some(listing) => View::RemoveConfirm {
                        listing: Box::new(listing.clone()),
                        first: 0,
                    },
                    None => self.menu_at(MenuItem::RemoveMandate),
                },
                Button::Back => self.menu_at(MenuItem::RemoveMandate),
            },
            View::RemoveConfirm { listing, first } => match button {
                Button::Up => View::RemoveConfirm {
                    listing,
                    first: first.saturating_sub(1),
                },
                Button::Down => View::RemoveConfirm {
                    listing,
                    first: first + 1,
                },
                Button::Ok => self.remove(&listing, now),
                Button::Back => self.open(MenuItem::RemoveMandate, now),
            },
            View::Message {
                title,
                message,
                first,
            } => {
                let rows = wrap(&message.render(self.language), COLUMNS).len();
                match scroll(first, rows, button) {
                    Some(first) => View::Message {
                        title,
                        message,
                        first,
                    },
                    None => View::Menu { selected: 0 },
                }
            }
            View::Network { info, first } => {
                let rows = network_rows(self.language, &info).len();
                match scroll(first, rows, button) {
                    Some(first) => View::Network { info, first },
                    None => self.menu_at(MenuItem::Network),
                }
            }
            View::Leds { first } => match scroll(first, legend_rows(self.language).len(), button) {
                Some(first) => View::Leds { first },
                None => self.menu_at(MenuItem::Leds),
            },
            View::Language { selected } => match button {
                Button::Up => View::Language {
                    selected: selected.saturating_sub(1),
                },
                Button::Down => View::Language {
                    selected: (selected + 1).min(Language::ALL.len() - 1),
                },
                Button::Ok => {
                    self.set_language(Language::ALL[selected]);
                    self.menu_at(MenuItem::Language)
                }
                Button::Back => self.menu_at(MenuItem::Language),
            },
            View::About { rows, first } => {
                let count = about_rows(self.language, &rows).len();
                match scroll(first, count, button) {
                    Some(first) => View::About { rows, first },
                    None => self.menu_at(MenuItem::About),
                }
            }
            View::Wizard(wizard) => View::Wizard(wizard),
        }
    }

    fn detail(&self, index: usize, first: usize, button: Button, now: Timestamp) -> View {
        let count = self.snapshot.principals.len();
        if count == 0 {
            return View::Status;
        }
        let rows = self.snapshot.principals.get(index).map_or(0, |status| {
            super::status_screen::detail_rows(self.language, &self.snapshot, status, now).len()
        });
        match button {
            Button::Up => View::Detail {
                index,
                first: first.saturating_sub(1),
            },
            Button::Down => View::Detail {
                index,
                first: (first + 1).min(last_first_row(rows)),
            },
            Button::Ok => View::Detail {
                index: (index + 1) % count,
                first: 0,
            },
            Button::Back => View::Status,
        }
    }

    fn menu_at(&self, item: MenuItem) -> View {
        let selected = MenuItem::ALL
            .iter()
            .position(|candidate| *candidate == item)
            .unwrap_or(0);
        View::Menu { selected }
    }

    /// Opens a menu entry.
    fn open(&mut self, item: MenuItem, now: Timestamp) -> View {
        match item {
            MenuItem::GrantMandate => self.start_wizard(Purpose::Mandate),
            MenuItem::SetUpMain => self.start_wizard(Purpose::Setup),
            MenuItem::ListMandates => match self.listings(now) {
                Ok(listings) => View::Mandates { listings, first: 0 },
                Err(view) => view,
            },
            MenuItem::RemoveMandate => match self.listings(now) {
                Ok(listings) => {
                    let in_force: Vec<MandateListing> =
                        listings.into_iter().filter(is_removable).collect();
                    if in_force.is_empty() {
                        message_view(Text::MenuRemoveMandate, Message::new(Text::RemoveNone))
                    } else {
                        View::RemoveList {
                            listings: in_force,
                            selected: 0,
                        }
                    }
                }
                Err(view) => view,
            },
            MenuItem::Network => View::Network {
                info: (self.context.network)(&self.share_names()),
                first: 0,
            },
            MenuItem::Leds => View::Leds { first: 0 },
            MenuItem::Language => View::Language {
                selected: Language::ALL
                    .iter()
                    .position(|language| *language == self.language)
                    .unwrap_or(0),
            },
            MenuItem::About => View::About {
                rows: self.about_facts(),
                first: 0,
            },
        }
    }

    fn start_wizard(&self, purpose: Purpose) -> View {
        if let Err(reason) = &self.context.mandate_settings {
            tracing::error!(%reason, "the mandate wizard cannot start");
            return message_view(Text::ErrorTitle, Message::new(Text::ErrorBoxSetup));
        }
        tracing::info!(?purpose, "mandate wizard started at the panel");
        View::Wizard(Box::new(Wizard::new(purpose)))
    }

    fn listings(&self, now: Timestamp) -> Result<Vec<MandateListing>, View> {
        self.context
            .store
            .with(|store| list_mandates(store, now))
            .map_err(|error| {
                tracing::error!(%error, "cannot list the mandates");
                message_view(Text::ErrorTitle, Message::new(Text::ErrorStorage))
            })
    }

    fn remove(&mut self, listing: &MandateListing, now: Timestamp) -> View {
        let insz = listing.mandator.insz.clone();
        let vault = &self.context.vault;
        let removed = self
            .context
            .store
            .with(|store| grant::remove_mandate(store, vault, &insz, PANEL_ACTOR, now));
        match removed {
            Ok(ids) => {
                tracing::info!(%insz, mandates = ids.len(), "mandate removed at the panel");
                let name = listing_name(listing);
                message_view(
                    Text::MenuRemoveMandate,
                    Message::with(Text::RemoveDone, "name", name),
                )
            }
            Err(error) => {
                tracing::error!(%insz, %error, "cannot remove the mandate");
                message_view(Text::ErrorTitle, describe_mandate_error(&error))
            }
        }
    }

    fn set_language(&mut self, language: Language) {
        self.language = language;
        let settings = PanelSettings { language };
        match settings.save(&self.context.settings_file) {
            Ok(()) => tracing::info!(%language, "panel language changed"),
            Err(error) => tracing::error!(%error, "cannot keep the panel language"),
        }
    }

    fn share_names(&self) -> Vec<String> {
        let principals = self.context.store.with(|store| store.principals());
        match principals {
            Ok(principals) => principals
                .iter()
                .filter(|principal| principal.active)
                .filter_map(|principal| ShareName::from_folder_name(&principal.share_folder).ok())
                .map(|share| share.as_str().to_owned())
                .collect(),
            Err(error) => {
                tracing::error!(%error, "cannot read the principals for the share names");
                Vec::new()
            }
        }
    }

    /// Returns the about facts that need no translation: version and box identity.
    fn about_facts(&self) -> Vec<String> {
        let box_id = match &self.context.mandate_settings {
            Ok(settings) => settings.box_id.clone(),
            Err(_) => "-".to_owned(),
        };
        vec![
            env!("CARGO_PKG_VERSION").to_owned(),
            box_id,
            self.snapshot.principals.len().to_string(),
        ]
    }

    fn refresh_names(&mut self) {
        let principals = self.context.store.with(|store| store.principals());
        match principals {
            Ok(principals) => {
                self.names = principals
                    .into_iter()
                    .map(|principal| (principal.id, principal.family_name))
                    .collect();
            }
            Err(error) => tracing::error!(%error, "cannot read the principals' names"),
        }
    }

    fn leave_finished_wizard(&mut self) {
        if matches!(&self.view, View::Wizard(wizard) if wizard.is_finished()) {
            tracing::info!("mandate wizard closed");
            self.view = View::Status;
            self.refresh_names();
        }
    }
}

/// Runs `f` with the wizard's world built from `context` in `language`, unless the mandate
/// settings are missing (the wizard does not start then).
fn with_world(
    context: &mut PanelContext,
    now: Timestamp,
    language: Language,
    f: impl FnOnce(&mut WizardWorld<'_>),
) {
    let Ok(settings) = &context.mandate_settings else {
        return;
    };
    let mut world = WizardWorld {
        store: &context.store,
        vault: &context.vault,
        settings,
        certificates: context.certificates.as_mut(),
        eid: context.eid.as_mut(),
        rng: &mut context.rng,
        now,
        actor: PANEL_ACTOR,
        language,
    };
    f(&mut world);
}

/// Scrolls a text page: returns the new first row, or `None` when OK or Back leaves the page.
fn scroll(first: usize, rows: usize, button: Button) -> Option<usize> {
    match button {
        Button::Up => Some(first.saturating_sub(1)),
        Button::Down => Some((first + 1).min(last_first_row(rows))),
        Button::Ok | Button::Back => None,
    }
}

fn message_view(title: Text, message: Message) -> View {
    View::Message {
        title,
        message,
        first: 0,
    }
}

fn is_removable(listing: &MandateListing) -> bool {
    matches!(
        listing.status,
        MandateStatus::Active | MandateStatus::EndsSoon | MandateStatus::NotStarted
    )
}

fn listing_name(listing: &MandateListing) -> String {
    format!(
        "{} {}",
        listing.mandator.given_names, listing.mandator.family_name
    )
}

/// Builds two rows per mandate: the mandator's name, and the status with its date.
fn mandate_rows(language: Language, listings: &[MandateListing]) -> Vec<String> {
    if listings.is_empty() {
        return wrap(language.text(Text::MandatesNone), COLUMNS);
    }
    let mut rows = Vec::new();
    for listing in listings {
        rows.push(super::render::truncate(&listing_name(listing), COLUMNS));
        let (key, at) = match &listing.status {
            MandateStatus::Active => (Text::MandateActive, listing.ends_at),
            MandateStatus::EndsSoon => (Text::MandateEndsSoon, listing.ends_at),
            MandateStatus::NotStarted => (Text::MandateNotStarted, listing.ends_at),
            MandateStatus::Ended => (Text::MandateEnded, listing.ends_at),
            MandateStatus::Revoked { at, .. } => (Text::MandateRevoked, *at),
        };
        let date = format_utc_date(at);
        rows.push(format!(" {}", language.format(key, &[("date", &date)])));
    }
    rows
}

fn network_rows(language: Language, info: &NetworkInfo) -> Vec<String> {
    let mut rows = vec![language.format(Text::NetworkHost, &[("host", &info.host)])];
    if info.addresses.is_empty() {
        rows.push(language.text(Text::NetworkNoAddress).to_owned());
    }
    for address in &info.addresses {
        rows.extend(wrap(&format!("IP {address}"), COLUMNS));
    }
    if info.shares.is_empty() {
        rows.push(language.text(Text::NetworkNoShare).to_owned());
    } else {
        rows.push(language.text(Text::NetworkShares).to_owned());
        for share in &info.shares {
            rows.extend(wrap(share, COLUMNS));
        }
    }
    rows
}

fn legend_rows(language: Language) -> Vec<String> {
    let mut rows = Vec::new();
    for key in [Text::LegendGreen, Text::LegendAmber, Text::LegendRed] {
        rows.extend(wrap(language.text(key), COLUMNS));
    }
    rows
}

/// Builds the about rows from the facts: version, box identity, number of doctors.
fn about_rows(language: Language, facts: &[String]) -> Vec<String> {
    let fact = |index: usize| facts.get(index).map_or("", String::as_str);
    let mut rows = vec![language.format(Text::AboutVersion, &[("version", fact(0))])];
    rows.push(language.format(Text::AboutDoctors, &[("count", fact(2))]));
    rows.push(language.text(Text::AboutBox).to_owned());
    rows.extend(wrap(fact(1), COLUMNS));
    rows
}

/// The controller's screens drawn from given data, for snapshot tests.
pub mod screens {
    use super::*;

    /// Draws the menu with `selected` highlighted.
    pub fn menu(language: Language, selected: usize) -> Frame {
        let items: Vec<String> = MenuItem::ALL
            .iter()
            .map(|item| language.text(item.text()).to_owned())
            .collect();
        list_page(
            language.text(Text::MenuTitle),
            &items,
            selected,
            language.text(Text::HintChoose),
        )
    }

    /// Draws the mandate list.
    pub fn mandates(language: Language, listings: &[MandateListing]) -> Frame {
        text_page(
            language.text(Text::MenuListMandates),
            &mandate_rows(language, listings),
            0,
            language.text(Text::HintBack),
        )
    }

    /// Draws the confirmation before a mandate is removed.
    pub fn remove_confirm(language: Language, listing: &MandateListing) -> Frame {
        let text = language.format(Text::RemoveConfirm, &[("name", &listing_name(listing))]);
        text_page(
            language.text(Text::MenuRemoveMandate),
            &wrap(&text, COLUMNS),
            0,
            language.text(Text::HintYesNo),
        )
    }

    /// Draws the network page.
    pub fn network(language: Language, info: &NetworkInfo) -> Frame {
        text_page(
            language.text(Text::MenuNetwork),
            &network_rows(language, info),
            0,
            language.text(Text::HintBack),
        )
    }

    /// Draws the LED meanings.
    pub fn leds(language: Language) -> Frame {
        text_page(
            language.text(Text::MenuLeds),
            &legend_rows(language),
            0,
            language.text(Text::HintBack),
        )
    }

    /// Draws the language menu.
    pub fn language_menu(language: Language) -> Frame {
        let names: Vec<String> = Language::ALL
            .iter()
            .map(|language| language.native_name().to_owned())
            .collect();
        let selected = Language::ALL
            .iter()
            .position(|candidate| *candidate == language)
            .unwrap_or(0);
        list_page(
            language.text(Text::MenuLanguage),
            &names,
            selected,
            language.text(Text::HintChoose),
        )
    }

    /// Draws the about page for `version`, `box_id` and `doctors`.
    pub fn about(language: Language, version: &str, box_id: &str, doctors: usize) -> Frame {
        let facts = [version.to_owned(), box_id.to_owned(), doctors.to_string()];
        text_page(
            language.text(Text::MenuAbout),
            &about_rows(language, &facts),
            0,
            language.text(Text::HintBack),
        )
    }

    /// Draws a principal's detail page.
    pub fn detail(
        language: Language,
        snapshot: &StatusSnapshot,
        index: usize,
        now: Timestamp,
    ) -> Option<Frame> {
        let status = snapshot.principals.get(index)?;
        Some(render_detail(
            language,
            snapshot,
            status,
            &status.name,
            now,
            0,
        ))
    }
}
