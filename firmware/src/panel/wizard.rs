//! The mandate wizard: the mandate workflow driven with the panel's buttons.
//!
//! The stages follow what the doctor does at the box. First the doctor inserts the USB stick,
//! picks a certificate, types its password and the RIZIV number, and inserts the eID, from
//! which the box reads the names and the INSZ. Then the doctor checks the identity, chooses
//! the end date (default the certificate's end), reads the text to sign and types the PIN.
//! The wizard shows the result and asks to remove stick and card. A setup of the main doctor
//! skips the end date and signs nothing.
//!
//! Each failed step shows the error in plain words with what to do; OK goes back to the step
//! that failed, which is still where the workflow stands, and Back cancels. Slow steps (reading
//! the stick, opening the keystore, reading the eID, signing) become a [`Job`] that the panel
//! draws as a waiting screen first and then runs with [`Wizard::run_job`].
//!
//! The PIN is typed on the reader when the reader offers secure PIN entry
//! (`FEATURE_VERIFY_PIN_DIRECT`), so it never reaches the box. The screen then prompts for it
//! while the reader waits. Other readers get the PIN from the digit picker or the keyboard.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use practicebox_hardware::{Button, Frame};
use rand::rngs::StdRng;
use zeroize::Zeroizing;

use super::certificates::{CertificateSource, FoundCertificate};
use super::eid_reader::{EidConnector, Signer};
use super::entry::{DatePicker, EntryAction, EntryKind, TextEntry};
use super::errors::{
    Message, describe_eid_error, describe_mandate_error, describe_source_error, format_date,
};
use super::gesture::Gesture;
use super::keys::KeyEvent;
use super::pages::{last_first_row, list_page, text_page};
use super::render::{Canvas, body_row_top, truncate, wrap};
use super::text::{COLUMNS, Language, Text};
use crate::credentials::CredentialVault;
use crate::eid::{EidError, PinEntry, PinpadLanguage, TransportError, TrustAnchors};
use crate::mandates::rules::utc_date;
use crate::mandates::workflow::{Environment, Input, InputKind, Step, Workflow};
use crate::mandates::{
    EidHolder, MandateError, MandateSettings, MandateSigner, Purpose, RuleError,
};
use crate::store::StoreHandle;

/// The world the wizard's slow steps run in.
pub struct WizardWorld<'a> {
    pub store: &'a StoreHandle,
    pub vault: &'a CredentialVault,
    pub settings: &'a MandateSettings,
    pub certificates: &'a mut dyn CertificateSource,
    pub eid: &'a mut dyn EidConnector,
    pub rng: &'a mut StdRng,
    pub now: Timestamp,
    /// Actor name in the audit log.
    pub actor: &'a str,
    /// The language on screen, which the reader's pinpad prompts in too.
    pub language: Language,
}

impl std::fmt::Debug for WizardWorld<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WizardWorld")
            .field("now", &self.now)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// A slow step, run after its waiting screen is shown.
#[derive(Debug)]
pub enum Job {
    ReadStick,
    LoadCertificate(usize),
    OpenKeystore(Zeroizing<String>),
    ReadEid,
    Sign(Zeroizing<String>),
    /// Signs with the PIN typed on the reader's pinpad; the waiting screen prompts for it.
    SignOnPinpad,
}

impl Job {
    fn waiting_text(&self, purpose: Purpose) -> Text {
        match (self, purpose) {
            (Job::ReadStick, _) => Text::WizardReadingStick,
            (Job::LoadCertificate(_) | Job::OpenKeystore(_), _) => Text::WizardOpeningCertificate,
            (Job::ReadEid, _) => Text::WizardReadingEid,
            (Job::SignOnPinpad, _) => Text::WizardPinOnReader,
            (Job::Sign(_), Purpose::Mandate) => Text::WizardSigning,
            (Job::Sign(_), Purpose::Setup) => Text::WizardConfirming,
        }
    }
}

/// Stage that OK on an error screen returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    InsertStick,
    Password,
    Riziv,
    InsertEid,
    EndDate,
    Review,
    Pin,
}

#[derive(Debug)]
enum Stage {
    InsertStick,
    ChooseCertificate {
        selected: usize,
    },
    Password(TextEntry),
    Riziv(TextEntry),
    InsertEid,
    Identity,
    EndDate(DatePicker),
    Review {
        first: usize,
    },
    Pin(TextEntry),
    Done {
        first: usize,
    },
    Cancelled,
    RemoveStickAndCard,
    Error {
        message: Message,
        first: usize,
        resume: Resume,
    },
    Busy(Job),
    Finished,
}

/// A mandate or setup in progress at the panel.
pub struct Wizard {
    workflow: Workflow,
    stage: Stage,
    found: Vec<FoundCertificate>,
    /// The file name of the keystore picked from the list.
    chosen: Option<String>,
    riziv: String,
    signer: Option<Signer>,
}

impl std::fmt::Debug for Wizard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wizard")
            .field("workflow", &self.workflow)
            .field("stage", &self.stage)
            .field("found", &self.found.len())
            .field("eid_connected", &self.signer.is_some())
            .finish_non_exhaustive()
    }
}

impl Wizard {
    /// Starts a mandate or a setup at the "insert the USB stick" stage.
    pub fn new(purpose: Purpose) -> Self {
        Self {
            workflow: Workflow::new(purpose),
            stage: Stage::InsertStick,
            found: Vec::new(),
            chosen: None,
            riziv: String::new(),
            signer: None,
        }
    }

    /// Returns whether the wizard is over and the panel should leave it.
    pub fn is_finished(&self) -> bool {
        matches!(self.stage, Stage::Finished)
    }

    /// Returns whether a slow step waits for [`Wizard::run_job`].
    pub fn has_job(&self) -> bool {
        matches!(self.stage, Stage::Busy(_))
    }

    /// Returns the workflow's current step.
    pub fn step(&self) -> Step {
        self.workflow.step()
    }

    /// Applies a button press. `language` is the one on screen, because it decides how far
    /// the texts scroll. Only quick steps run here, and slow ones become a job.
    pub fn gesture(&mut self, gesture: Gesture, language: Language, world: &mut WizardWorld<'_>) {
        if gesture == Gesture::long(Button::Back) && self.can_cancel() {
            self.cancel(world);
            return;
        }
        let stage = std::mem::replace(&mut self.stage, Stage::Finished);
        self.stage = self.next_stage(stage, gesture, language, world);
    }

    /// Applies a typed key to the entry on screen; other stages ignore keys.
    pub fn key(&mut self, key: KeyEvent, world: &mut WizardWorld<'_>) {
        let stage = std::mem::replace(&mut self.stage, Stage::Finished);
        self.stage = match stage {
            Stage::Password(mut entry) | Stage::Riziv(mut entry) | Stage::Pin(mut entry) => {
                let action = entry.key(key);
                self.after_entry(entry, action, world)
            }
            other => other,
        };
    }

    /// Runs the slow step shown on the waiting screen.
    pub fn run_job(&mut self, world: &mut WizardWorld<'_>) {
        let Stage::Busy(job) = std::mem::replace(&mut self.stage, Stage::Finished) else {
            return;
        };
        self.stage = match job {
            Job::ReadStick => self.read_stick(world),
            Job::LoadCertificate(index) => self.load_certificate(index, world),
            Job::OpenKeystore(password) => {
                self.submit(Input::Password(password), Resume::Password, world)
            }
            Job::ReadEid => self.read_eid(world),
            Job::Sign(pin) => self.sign(Input::Pin(pin), world),
            Job::SignOnPinpad => {
                let language = pinpad_language(world.language);
                self.sign(Input::PinOnPinpad(language), world)
            }
        };
    }

    fn can_cancel(&self) -> bool {
        !matches!(
            self.stage,
            Stage::Busy(_)
                | Stage::Done { .. }
                | Stage::Cancelled
                | Stage::RemoveStickAndCard
                | Stage::Finished
        )
    }

    fn cancel(&mut self, world: &mut WizardWorld<'_>) {
        self.submit_quietly(Input::Cancel, world);
        self.signer = None;
        self.stage = Stage::Cancelled;
    }

    fn next_stage(
        &mut self,
        stage: Stage,
        gesture: Gesture,
        language: Language,
        world: &mut WizardWorld<'_>,
    ) -> Stage {
        let button = gesture.button;
        match stage {
            Stage::InsertStick => match button {
                Button::Ok => Stage::Busy(Job::ReadStick),
                Button::Back => self.finish(world),
                _ => Stage::InsertStick,
            },
            Stage::ChooseCertificate { selected } => self.choose(selected, gesture, world),
            Stage::Password(mut entry) | Stage::Riziv(mut entry) | Stage::Pin(mut entry) => {
                let action = entry.gesture(gesture);
                self.after_entry(entry, action, world)
            }
            Stage::InsertEid => match button {
                Button::Ok => Stage::Busy(Job::ReadEid),
                Button::Back => self.cancelled(world),
                _ => Stage::InsertEid,
            },
            Stage::Identity => match button {
                Button::Ok => self.after_identity(world),
                Button::Back => self.cancelled(world),
                _ => Stage::Identity,
            },
            Stage::EndDate(mut picker) => match picker.gesture(gesture) {
                EntryAction::Continue => Stage::EndDate(picker),
                EntryAction::Done => {
                    self.submit(Input::EndDate(Some(picker.date())), Resume::EndDate, world)
                }
                EntryAction::Cancel => self.cancelled(world),
            },
            Stage::Review { first } => match button {
                Button::Up => Stage::Review {
                    first: first.saturating_sub(1),
                },
                Button::Down => Stage::Review {
                    first: scroll_down(first, self.review_rows(language).len()),
                },
                Button::Ok => self.submit(Input::Confirm(true), Resume::Review, world),
                Button::Back => self.cancelled(world),
            },
            Stage::Done { first } => match button {
                Button::Up => Stage::Done {
                    first: first.saturating_sub(1),
                },
                Button::Down => Stage::Done {
                    first: scroll_down(first, wrap(&self.done_text(language), COLUMNS).len()),
                },
                Button::Ok | Button::Back => Stage::RemoveStickAndCard,
            },
            Stage::Cancelled => match button {
                Button::Ok | Button::Back => Stage::RemoveStickAndCard,
                _ => Stage::Cancelled,
            },
            Stage::RemoveStickAndCard => match button {
                Button::Ok | Button::Back => self.finish(world),
                _ => Stage::RemoveStickAndCard,
            },
            Stage::Error {
                message,
                first,
                resume,
            } => match button {
                Button::Up => Stage::Error {
                    message,
                    first: first.saturating_sub(1),
                    resume,
                },
                Button::Down => Stage::Error {
                    first: scroll_down(first, wrap(&message.render(language), COLUMNS).len()),
                    message,
                    resume,
                },
                Button::Ok => self.resume(resume, world),
                Button::Back => self.cancelled(world),
            },
            Stage::Busy(job) => Stage::Busy(job),
            Stage::Finished => Stage::Finished,
        }
    }

    /// Returns the stage after an entry's `action`: the entry again, the step that takes its
    /// value, or the cancelled screen.
    fn after_entry(
        &mut self,
        mut entry: TextEntry,
        action: EntryAction,
        world: &mut WizardWorld<'_>,
    ) -> Stage {
        match (action, entry.kind()) {
            (EntryAction::Cancel, _) => self.cancelled(world),
            (EntryAction::Continue, EntryKind::Password) => Stage::Password(entry),
            (EntryAction::Continue, EntryKind::Riziv) => Stage::Riziv(entry),
            (EntryAction::Continue, EntryKind::Pin) => Stage::Pin(entry),
            (EntryAction::Done, EntryKind::Password) => {
                Stage::Busy(Job::OpenKeystore(entry.take()))
            }
            (EntryAction::Done, EntryKind::Riziv) => {
                self.riziv = entry.take().to_string();
                Stage::InsertEid
            }
            (EntryAction::Done, EntryKind::Pin) => Stage::Busy(Job::Sign(entry.take())),
        }
    }

    fn choose(&mut self, selected: usize, gesture: Gesture, world: &mut WizardWorld<'_>) -> Stage {
        let count = self.found.len();
        match gesture.button {
            Button::Up => Stage::ChooseCertificate {
                selected: selected.saturating_sub(1),
            },
            Button::Down => Stage::ChooseCertificate {
                selected: (selected + 1).min(count.saturating_sub(1)),
            },
            Button::Ok if selected < count => Stage::Busy(Job::LoadCertificate(selected)),
            Button::Ok => Stage::ChooseCertificate { selected },
            Button::Back => self.cancelled(world),
        }
    }

    fn read_stick(&mut self, world: &mut WizardWorld<'_>) -> Stage {
        match world.certificates.certificates() {
            Ok(found) => {
                tracing::info!(count = found.len(), "keystores found on the USB stick");
                self.found = found;
                Stage::ChooseCertificate { selected: 0 }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot list the keystores on the USB stick");
                error_stage(describe_source_error(&error), Resume::InsertStick)
            }
        }
    }

    fn load_certificate(&mut self, index: usize, world: &mut WizardWorld<'_>) -> Stage {
        let Some(found) = self.found.get(index).cloned() else {
            return Stage::InsertStick;
        };
        match world.certificates.read(&found) {
            Ok(bytes) => {
                self.chosen = Some(found.name.clone());
                let input = Input::CertificateFile {
                    name: found.name.clone(),
                    bytes,
                };
                self.submit(input, Resume::InsertStick, world)
            }
            Err(error) => {
                tracing::warn!(%error, file = %found.name, "cannot read the keystore");
                error_stage(describe_source_error(&error), Resume::InsertStick)
            }
        }
    }

    fn read_eid(&mut self, world: &mut WizardWorld<'_>) -> Stage {
        if self.signer.is_none() {
            match world.eid.connect() {
                Ok(signer) => self.signer = Some(signer),
                Err(error) => {
                    tracing::warn!(%error, "cannot open the eID");
                    return error_stage(describe_eid_error(&error), Resume::InsertEid);
                }
            }
        }
        let riziv = self.riziv.clone();
        let stage = self.submit(Input::CardDetails { riziv }, Resume::InsertEid, world);
        if matches!(stage, Stage::Error { .. }) {
            // A new card may be inserted before the next try.
            self.signer = None;
        }
        stage
    }

    /// Signs with the PIN entry `pin` ([`Input::Pin`] or [`Input::PinOnPinpad`]). A card taken
    /// out and put back since it was read is opened again, so the doctor can retry after an
    /// error that asked to insert the card again.
    fn sign(&mut self, pin: Input, world: &mut WizardWorld<'_>) -> Stage {
        if self.signer.is_none() {
            match world.eid.connect() {
                Ok(signer) => self.signer = Some(signer),
                Err(error) => {
                    tracing::warn!(%error, "cannot open the eID for the signature");
                    return error_stage(describe_eid_error(&error), Resume::Pin);
                }
            }
        }
        let stage = self.submit(pin, Resume::Pin, world);
        if matches!(stage, Stage::Error { .. }) {
            return stage;
        }
        let error = self.submit_quietly(Input::Continue, world);
        match error {
            None => self.stage_for_step(),
            Some(error) => {
                tracing::warn!(%error, "signing at the panel failed");
                if matches!(&error, MandateError::Eid(EidError::Transport(_))) {
                    self.signer = None;
                }
                error_stage(describe_mandate_error(&error), Resume::Pin)
            }
        }
    }

    fn after_identity(&mut self, world: &mut WizardWorld<'_>) -> Stage {
        match self.workflow.screen().input {
            InputKind::EndDate { latest, .. } => {
                Stage::EndDate(DatePicker::new(utc_date(world.now), latest))
            }
            _ => Stage::Review { first: 0 },
        }
    }

    /// Submits `input` and returns the stage for the workflow's new step, or the error with
    /// `resume` as the way back.
    fn submit(&mut self, input: Input, resume: Resume, world: &mut WizardWorld<'_>) -> Stage {
        let error = self.submit_quietly(input, world);
        if let Some(error) = error {
            tracing::warn!(step = ?self.workflow.step(), %error, "mandate wizard step failed");
            let resume = match (&error, resume) {
                (
                    MandateError::Rule(
                        RuleError::RizivFormat { .. } | RuleError::RizivCheckDigits { .. },
                    ),
                    _,
                ) => Resume::Riziv,
                (_, resume) => resume,
            };
            return error_stage(describe_mandate_error(&error), resume);
        }
        self.stage_for_step()
    }

    /// Submits `input` with the world as the workflow's environment, and returns its error.
    fn submit_quietly(
        &mut self,
        input: Input,
        world: &mut WizardWorld<'_>,
    ) -> Option<MandateError> {
        let mut no_card = NoCard;
        let signer: &mut dyn MandateSigner = match self.signer.as_mut() {
            Some(signer) => signer.as_mut(),
            None => &mut no_card,
        };
        let workflow = &mut self.workflow;
        world.store.with(|store| {
            let mut environment = Environment {
                store,
                vault: world.vault,
                signer,
                settings: world.settings,
                rng: &mut *world.rng,
                now: world.now,
                actor: world.actor,
            };
            workflow.submit(input, &mut environment);
        });
        self.workflow.take_error()
    }

    fn stage_for_step(&self) -> Stage {
        match self.workflow.step() {
            Step::Certificate => Stage::InsertStick,
            Step::Password => Stage::Password(TextEntry::new(EntryKind::Password)),
            Step::Details => Stage::Riziv(TextEntry::new(EntryKind::Riziv)),
            Step::Card => Stage::InsertEid,
            // The identity is shown before the end date, or before the review of a setup.
            Step::EndDate => Stage::Identity,
            Step::Review if self.workflow.purpose() == Purpose::Setup => Stage::Identity,
            Step::Review => Stage::Review { first: 0 },
            Step::Pin | Step::Signing => self.pin_stage(),
            Step::Done => Stage::Done { first: 0 },
            Step::Cancelled => Stage::Cancelled,
        }
    }

    fn resume(&mut self, resume: Resume, world: &mut WizardWorld<'_>) -> Stage {
        match resume {
            Resume::InsertStick => Stage::InsertStick,
            Resume::Password => Stage::Password(TextEntry::new(EntryKind::Password)),
            Resume::Riziv => Stage::Riziv(TextEntry::new(EntryKind::Riziv)),
            Resume::InsertEid => Stage::InsertEid,
            Resume::EndDate => self.after_identity(world),
            Resume::Review => Stage::Review { first: 0 },
            Resume::Pin => self.pin_stage(),
        }
    }

    /// Returns the PIN step: the pinpad prompt, run at once as a job, when the connected
    /// reader has a pinpad, and the digit picker otherwise. A card that must be opened again
    /// after an error gets the picker, because the reader is not known until then, and a typed
    /// PIN works on every reader.
    fn pin_stage(&self) -> Stage {
        if self
            .signer
            .as_ref()
            .is_some_and(|signer| signer.has_pinpad())
        {
            Stage::Busy(Job::SignOnPinpad)
        } else {
            Stage::Pin(TextEntry::new(EntryKind::Pin))
        }
    }

    fn cancelled(&mut self, world: &mut WizardWorld<'_>) -> Stage {
        self.cancel(world);
        Stage::Cancelled
    }

    fn finish(&mut self, world: &mut WizardWorld<'_>) -> Stage {
        world.certificates.release();
        self.signer = None;
        Stage::Finished
    }

    /// Draws the current stage in `language`.
    pub fn render(&self, language: Language) -> Frame {
        let title = language.text(match self.workflow.purpose() {
            Purpose::Mandate => Text::WizardMandateTitle,
            Purpose::Setup => Text::WizardSetupTitle,
        });
        match &self.stage {
            Stage::InsertStick => {
                message_page(language, title, Text::WizardInsertStick, Text::HintNext)
            }
            Stage::ChooseCertificate { selected } => {
                let names: Vec<String> = self
                    .found
                    .iter()
                    .map(|found| truncate(&found.name, COLUMNS))
                    .collect();
                list_page(
                    language.text(Text::WizardCertificateTitle),
                    &names,
                    *selected,
                    language.text(Text::HintChoose),
                )
            }
            Stage::Password(entry) => {
                let file = self.chosen.clone().unwrap_or_default();
                entry_page(
                    language,
                    Text::WizardPasswordTitle,
                    &[truncate(&file, COLUMNS)],
                    entry,
                )
            }
            Stage::Riziv(entry) => {
                let name = self.certificate_holder();
                let prompt = language.format(Text::WizardRizivFor, &[("name", &name)]);
                entry_page(
                    language,
                    Text::WizardRizivTitle,
                    &wrap(&prompt, COLUMNS),
                    entry,
                )
            }
            Stage::InsertEid => {
                message_page(language, title, Text::WizardInsertEid, Text::HintNext)
            }
            Stage::Identity => self.render_identity(language),
            Stage::EndDate(picker) => self.render_end_date(language, picker),
            Stage::Review { first } => text_page(
                language.text(Text::WizardReviewTitle),
                &self.review_rows(language),
                *first,
                language.text(Text::HintSign),
            ),
            Stage::Pin(entry) => {
                let tries = match self.workflow.screen().input {
                    InputKind::Pin {
                        tries_left: Some(tries),
                    } => vec![
                        language.format(Text::WizardPinTriesLeft, &[("tries", &tries.to_string())]),
                    ],
                    _ => Vec::new(),
                };
                entry_page(language, Text::WizardPinTitle, &tries, entry)
            }
            Stage::Done { first } => text_page(
                language.text(Text::WizardDoneTitle),
                &wrap(&self.done_text(language), COLUMNS),
                *first,
                language.text(Text::HintNext),
            ),
            Stage::Cancelled => {
                message_page(language, title, Text::WizardCancelled, Text::HintNext)
            }
            Stage::RemoveStickAndCard => message_page(
                language,
                title,
                Text::WizardRemoveStickAndCard,
                Text::HintNext,
            ),
            Stage::Error { message, first, .. } => text_page(
                language.text(Text::ErrorTitle),
                &wrap(&message.render(language), COLUMNS),
                *first,
                language.text(Text::HintTryAgain),
            ),
            Stage::Busy(Job::SignOnPinpad) => self.render_pinpad(language),
            Stage::Busy(job) => {
                let mut canvas = Canvas::new();
                canvas.title(title);
                let text = language.text(job.waiting_text(self.workflow.purpose()));
                canvas.body(&wrap(text, COLUMNS));
                canvas.into_frame()
            }
            Stage::Finished => Canvas::new().into_frame(),
        }
    }

    /// Draws the request to type the PIN on the reader, with the tries left when known.
    fn render_pinpad(&self, language: Language) -> Frame {
        let mut canvas = Canvas::new();
        canvas.title(language.text(Text::WizardPinTitle));
        let mut rows = wrap(language.text(Text::WizardPinOnReader), COLUMNS);
        if let Some(tries) = self.tries_left() {
            rows.push(language.format(Text::WizardPinTriesLeft, &[("tries", &tries.to_string())]));
        }
        canvas.body(&rows);
        canvas.into_frame()
    }

    fn tries_left(&self) -> Option<u8> {
        match self.workflow.screen().input {
            InputKind::Pin { tries_left } => tries_left,
            _ => None,
        }
    }

    fn render_identity(&self, language: Language) -> Frame {
        let mut rows = Vec::new();
        if let Some(holder) = self.workflow.holder() {
            rows.extend(wrap(&holder_name(holder), COLUMNS));
            let insz = holder.identity.insz.to_string();
            rows.push(language.format(Text::WizardIdentityInsz, &[("insz", &insz)]));
        }
        text_page(
            language.text(Text::WizardIdentityTitle),
            &rows,
            0,
            language.text(Text::HintNext),
        )
    }

    fn render_end_date(&self, language: Language, picker: &DatePicker) -> Frame {
        let mut canvas = Canvas::new();
        canvas.title(language.text(Text::WizardEndDateTitle));
        if let Some(holder) = self.workflow.holder() {
            canvas.text(0, body_row_top(0), &truncate(&holder_name(holder), COLUMNS));
        }
        picker.draw(&mut canvas, body_row_top(1) + 2);
        if let InputKind::EndDate { latest, .. } = self.workflow.screen().input {
            let latest = format_date(latest);
            let row = language.format(Text::WizardEndDateLatest, &[("date", &latest)]);
            canvas.text(0, body_row_top(3), &row);
        }
        canvas.hint(language.text(Text::HintDate));
        canvas.into_frame()
    }

    /// Returns the rows of the review. A mandate shows its text in the panel's language
    /// first, then the whole signed document. A setup shows the question.
    fn review_rows(&self, language: Language) -> Vec<String> {
        if self.workflow.purpose() == Purpose::Setup {
            let (name, insz) = match self.workflow.holder() {
                Some(holder) => (holder_name(holder), holder.identity.insz.to_string()),
                None => (String::new(), String::new()),
            };
            let text =
                language.format(Text::WizardReviewSetup, &[("name", &name), ("insz", &insz)]);
            return wrap(&text, COLUMNS);
        }
        let Some(document) = self.workflow.document() else {
            return Vec::new();
        };
        let document = String::from_utf8_lossy(document);
        let mut rows = Vec::new();
        if let Some(section) = document_section(&document, language) {
            rows.extend(wrap(&section, COLUMNS));
            rows.push(String::new());
        }
        rows.extend(wrap(&document, COLUMNS));
        rows
    }

    fn done_text(&self, language: Language) -> String {
        let name = self.workflow.holder().map(holder_name).unwrap_or_default();
        match self.workflow.purpose() {
            Purpose::Mandate => {
                let date = self
                    .workflow
                    .ends_at()
                    .map(|ends_at| format_date(last_day(ends_at)))
                    .unwrap_or_default();
                language.format(Text::WizardDoneMandate, &[("name", &name), ("date", &date)])
            }
            Purpose::Setup => language.format(Text::WizardDoneSetup, &[("name", &name)]),
        }
    }

    /// Returns the holder name in the certificate, or the file name when it has none.
    fn certificate_holder(&self) -> String {
        self.workflow
            .certificate_facts()
            .and_then(|facts| facts.name.clone())
            .or_else(|| self.chosen.clone())
            .unwrap_or_default()
    }
}

/// The signer before the eID is connected: every operation reports that no card is there.
struct NoCard;

impl NoCard {
    fn error() -> EidError {
        EidError::Transport(TransportError::NoCard {
            reader: String::new(),
        })
    }
}

impl MandateSigner for NoCard {
    fn read_holder(&mut self, _: &TrustAnchors, _: Timestamp) -> Result<EidHolder, EidError> {
        Err(Self::error())
    }

    fn pin_tries_left(&mut self) -> Result<Option<u8>, EidError> {
        Err(Self::error())
    }

    fn has_pinpad(&self) -> bool {
        false
    }

    fn verify_pin(&mut self, _: PinEntry<'_>) -> Result<(), EidError> {
        Err(Self::error())
    }

    fn sign_document(&mut self, _: &[u8], _: PinEntry<'_>) -> Result<Vec<u8>, EidError> {
        Err(Self::error())
    }
}

/// Returns the pinpad prompt's language for the panel's `language`.
fn pinpad_language(language: Language) -> PinpadLanguage {
    match language {
        Language::Dutch => PinpadLanguage::Dutch,
        Language::French => PinpadLanguage::French,
        Language::English => PinpadLanguage::English,
    }
}

/// Returns the first row after scrolling down once through `rows` rows.
fn scroll_down(first: usize, rows: usize) -> usize {
    (first + 1).min(last_first_row(rows))
}

fn error_stage(message: Message, resume: Resume) -> Stage {
    Stage::Error {
        message,
        first: 0,
        resume,
    }
}

fn holder_name(holder: &EidHolder) -> String {
    format!("{} {}", holder.identity.first_names, holder.identity.name)
}

/// Returns the last day a mandate ending at `ends_at` (exclusive) is in force, in UTC.
fn last_day(ends_at: Timestamp) -> Date {
    utc_date(ends_at - SignedDuration::from_secs(1))
}

/// Returns the prose of the mandate document in `language`: the paragraphs after the `NL` or
/// `FR` line. The document has no English part.
fn document_section(document: &str, language: Language) -> Option<String> {
    let marker = match language {
        Language::Dutch => "NL",
        Language::French => "FR",
        Language::English => return None,
    };
    let mut lines = document.lines().skip_while(|line| *line != marker).skip(1);
    let section: Vec<&str> = lines.by_ref().take_while(|line| !line.is_empty()).collect();
    if section.is_empty() {
        return None;
    }
    Some(section.join("\n"))
}

/// Draws a page with `text` wrapped in the body.
fn message_page(language: Language, title: &str, text: Text, hint: Text) -> Frame {
    let mut canvas = Canvas::new();
    canvas.title(title);
    canvas.body(&wrap(language.text(text), COLUMNS));
    canvas.hint(language.text(hint));
    canvas.into_frame()
}

/// Draws an entry under `title` with up to two rows of `prompt` above it.
fn entry_page(language: Language, title: Text, prompt: &[String], entry: &TextEntry) -> Frame {
    let mut canvas = Canvas::new();
    canvas.title(language.text(title));
    for (row, text) in prompt.iter().take(2).enumerate() {
        canvas.text(0, body_row_top(row), text);
    }
    entry.draw(&mut canvas);
    canvas.hint(language.text(Text::HintPicker));
    canvas.into_frame()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_day_of_midnight_end_is_day_before() {
        let ends_at: Timestamp = "2027-07-01T00:00:00Z".parse().unwrap();

        assert_eq!(last_day(ends_at), jiff::civil::date(2027, 6, 30));
    }

    #[test]
    fn last_day_of_certificate_end_is_that_day() {
        let ends_at: Timestamp = "2027-11-30T10:15:00Z".parse().unwrap();

        assert_eq!(last_day(ends_at), jiff::civil::date(2027, 11, 30));
    }

    #[test]
    fn section_is_taken_in_language() {
        let document = "title\nfield: x\n\nNL\nIk geef toelating.\nTot 2027.\n\nFR\nJ'autorise.\n";

        assert_eq!(
            document_section(document, Language::Dutch).as_deref(),
            Some("Ik geef toelating.\nTot 2027.")
        );
        assert_eq!(
            document_section(document, Language::French).as_deref(),
            Some("J'autorise.")
        );
        assert_eq!(document_section(document, Language::English), None);
    }
}
