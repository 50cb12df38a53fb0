//! The UI-neutral state machine of a mandate and of a setup.
//!
//! A mandate goes through: certificate chosen, password, typed details, eID read (the identity
//! is shown from then on), end date (default the certificate's end, can be shortened), review of
//! the exact text to sign, PIN, signing, result. A setup skips the end date and signs nothing:
//! the PIN proves that the eID's holder is present.
//!
//! [`Workflow::screen`] returns what to show and which [`InputKind`] the step needs;
//! [`Workflow::submit`] takes that input and returns the next screen. A failed step stays where
//! it is, with the error on the screen, and stores nothing. Only the signing step writes, and
//! only after every check passed. The terminal and the front panel drive it. For the details
//! step the panel submits [`Input::CardDetails`], which reads the names and the INSZ from the
//! eID instead of having them typed with four buttons.

use jiff::Timestamp;
use jiff::civil::Date;
use rand::CryptoRng;
use zeroize::Zeroizing;

use super::grant::{
    self, Applicant, CheckedKeystore, PreparedMandate, Purpose, StoreContext, TypedDetails,
};
use super::rules::{self, utc_date};
use super::signer::{EidHolder, MandateSigner};
use super::{MandateError, MandateSettings};
use crate::credentials::CredentialVault;
use crate::ehealth::keystore::CertificateFacts;
use crate::eid::{EidError, PinEntry, PinpadLanguage};
use crate::store::{MandateId, PrincipalId, Store};

/// The steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Certificate,
    Password,
    Details,
    Card,
    EndDate,
    Review,
    Pin,
    Signing,
    Done,
    Cancelled,
}

/// The input a step needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A keystore file: its name and bytes.
    CertificateFile,
    /// The keystore password, without echo.
    Password,
    /// Family name, first name, INSZ and RIZIV number.
    Details,
    /// A signal that the eID is in the reader.
    CardReady,
    /// An end date between today and `latest`, or none for `default`.
    EndDate { default: Date, latest: Date },
    /// Yes or no.
    Confirm,
    /// The eID PIN, without echo.
    Pin { tries_left: Option<u8> },
    /// A signal to go on, after the screen was shown.
    Continue,
    /// Nothing: the workflow has ended.
    Nothing,
}

/// An input for [`Workflow::submit`].
pub enum Input {
    CertificateFile {
        name: String,
        bytes: Zeroizing<Vec<u8>>,
    },
    Password(Zeroizing<String>),
    Details(TypedDetails),
    /// The typed RIZIV number, with the names and the INSZ read from the eID in the reader.
    /// Completes the details step and the card step at once.
    CardDetails {
        riziv: String,
    },
    CardReady,
    EndDate(Option<Date>),
    Confirm(bool),
    /// The PIN typed on the box.
    Pin(Zeroizing<String>),
    /// The PIN to be typed on the reader's pinpad, which prompts in this language.
    PinOnPinpad(PinpadLanguage),
    Continue,
    Cancel,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::CertificateFile { name, bytes } => f
                .debug_struct("CertificateFile")
                .field("name", name)
                .field("bytes", &bytes.len())
                .finish(),
            Input::Password(_) => f.write_str("Password(<secret>)"),
            Input::Details(details) => f.debug_tuple("Details").field(details).finish(),
            Input::CardDetails { riziv } => {
                f.debug_struct("CardDetails").field("riziv", riziv).finish()
            }
            Input::CardReady => f.write_str("CardReady"),
            Input::EndDate(date) => f.debug_tuple("EndDate").field(date).finish(),
            Input::Confirm(yes) => f.debug_tuple("Confirm").field(yes).finish(),
            Input::Pin(_) => f.write_str("Pin(<secret>)"),
            Input::PinOnPinpad(language) => f.debug_tuple("PinOnPinpad").field(language).finish(),
            Input::Continue => f.write_str("Continue"),
            Input::Cancel => f.write_str("Cancel"),
        }
    }
}

/// A screen: the lines to show and the input the step needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub step: Step,
    pub title: String,
    pub lines: Vec<String>,
    pub input: InputKind,
    /// The error of the last submit, with its fix.
    pub error: Option<String>,
}

/// The record a finished workflow stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Mandate(MandateId),
    Setup(PrincipalId),
}

/// The workflow's world: the store, the credentials, the eID, the clock and the RNG.
pub struct Environment<'a, R> {
    pub store: &'a mut Store,
    pub vault: &'a CredentialVault,
    pub signer: &'a mut dyn MandateSigner,
    pub settings: &'a MandateSettings,
    pub rng: &'a mut R,
    pub now: Timestamp,
    /// The actor named in the audit log.
    pub actor: &'a str,
}

impl<R> std::fmt::Debug for Environment<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("now", &self.now)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

fn wrong_pin_tries(error: &EidError) -> Option<u8> {
    match error {
        EidError::WrongPin { tries_left } => Some(*tries_left),
        _ => None,
    }
}

/// A mandate or setup in progress.
/// The PIN entry chosen at the PIN step, kept until the signature.
enum PinChoice {
    Typed(Zeroizing<String>),
    Pinpad(PinpadLanguage),
}

impl std::fmt::Debug for PinChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.entry().fmt(f)
    }
}

impl PinChoice {
    fn entry(&self) -> PinEntry<'_> {
        match self {
            Self::Typed(pin) => PinEntry::Typed(pin),
            Self::Pinpad(language) => PinEntry::Pinpad(*language),
        }
    }
}

#[derive(Debug)]
pub struct Workflow {
    purpose: Purpose,
    step: Step,
    certificate: Option<(String, Zeroizing<Vec<u8>>)>,
    keystore: Option<CheckedKeystore>,
    applicant: Option<Applicant>,
    holder: Option<EidHolder>,
    prepared: Option<PreparedMandate>,
    pin: Option<PinChoice>,
    tries_left: Option<u8>,
    outcome: Option<Outcome>,
    error: Option<MandateError>,
}

impl Workflow {
    /// Starts a mandate or a setup at the certificate step.
    pub fn new(purpose: Purpose) -> Self {
        Self {
            purpose,
            step: Step::Certificate,
            certificate: None,
            keystore: None,
            applicant: None,
            holder: None,
            prepared: None,
            pin: None,
            tries_left: None,
            outcome: None,
            error: None,
        }
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// Returns the error of the last submit, if it failed.
    pub fn error(&self) -> Option<&MandateError> {
        self.error.as_ref()
    }

    /// Takes the error of the last submit out of the workflow.
    pub fn take_error(&mut self) -> Option<MandateError> {
        self.error.take()
    }

    /// Returns what the workflow stored, once done.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// Returns whether this is a mandate or a setup.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// Returns the facts of the keystore, once its password opened it.
    pub fn certificate_facts(&self) -> Option<&CertificateFacts> {
        self.keystore.as_ref().map(|keystore| &keystore.facts)
    }

    /// Returns the eID holder, once the card was read.
    pub fn holder(&self) -> Option<&EidHolder> {
        self.holder.as_ref()
    }

    /// Returns the end of the mandate, from the review step on.
    pub fn ends_at(&self) -> Option<Timestamp> {
        self.prepared
            .as_ref()
            .map(|prepared| prepared.fields.ends_at)
    }

    /// Returns the exact document to sign, from the review step on.
    pub fn document(&self) -> Option<&[u8]> {
        self.prepared
            .as_ref()
            .map(|prepared| prepared.document.as_slice())
    }

    /// Takes the input of the current step and moves on, or stays with the error.
    pub fn submit<R: CryptoRng>(&mut self, input: Input, env: &mut Environment<'_, R>) -> Screen {
        self.error = None;
        let result = match input {
            Input::Cancel => {
                self.cancel();
                Ok(())
            }
            input => self.advance(input, env),
        };
        if let Err(error) = result {
            tracing::info!(step = ?self.step, %error, "mandate step rejected");
            self.error = Some(error);
        }
        self.screen()
    }

    fn advance<R: CryptoRng>(
        &mut self,
        input: Input,
        env: &mut Environment<'_, R>,
    ) -> Result<(), MandateError> {
        match (self.step, input) {
            (Step::Certificate, Input::CertificateFile { name, bytes }) => {
                self.certificate = Some((name, bytes));
                self.step = Step::Password;
            }
            (Step::Password, Input::Password(password)) => self.take_password(password, env)?,
            (Step::Details, Input::Details(typed)) => self.take_details(&typed, env)?,
            (Step::Details, Input::CardDetails { riziv }) => {
                self.take_card_details(riziv, env)?;
            }
            (Step::Card, Input::CardReady) => self.read_card(env)?,
            (Step::EndDate, Input::EndDate(date)) => self.take_end_date(date, env)?,
            (Step::Review, Input::Confirm(true)) => {
                self.tries_left = env.signer.pin_tries_left().unwrap_or(None);
                self.step = Step::Pin;
            }
            (Step::Review, Input::Confirm(false)) => self.cancel(),
            (Step::Pin, Input::Pin(pin)) => {
                self.pin = Some(PinChoice::Typed(pin));
                self.step = Step::Signing;
            }
            (Step::Pin, Input::PinOnPinpad(language)) => {
                self.pin = Some(PinChoice::Pinpad(language));
                self.step = Step::Signing;
            }
            (Step::Signing, Input::Continue) => self.sign_and_store(env)?,
            (step, input) => {
                return Err(MandateError::UnexpectedInput {
                    step: format!("{step:?}"),
                    input: format!("{input:?}"),
                });
            }
        }
        Ok(())
    }

    fn take_password<R>(
        &mut self,
        password: Zeroizing<String>,
        env: &Environment<'_, R>,
    ) -> Result<(), MandateError> {
        let Some((name, bytes)) = &self.certificate else {
            self.step = Step::Certificate;
            return Ok(());
        };
        let keystore = grant::open_keystore(name, bytes.clone(), password, env.settings, env.now)?;
        self.keystore = Some(keystore);
        self.step = Step::Details;
        Ok(())
    }

    fn take_details<R>(
        &mut self,
        typed: &TypedDetails,
        env: &Environment<'_, R>,
    ) -> Result<(), MandateError> {
        let keystore = self.keystore.as_ref().ok_or(MandateError::StepOrder)?;
        let applicant =
            grant::check_applicant(typed, keystore, self.purpose, env.store, env.settings)?;
        self.applicant = Some(applicant);
        self.step = Step::Card;
        Ok(())
    }

    fn read_card<R>(&mut self, env: &mut Environment<'_, R>) -> Result<(), MandateError> {
        let keystore = self.keystore.as_ref().ok_or(MandateError::StepOrder)?;
        let applicant = self.applicant.as_ref().ok_or(MandateError::StepOrder)?;
        let holder = env.signer.read_holder(&env.settings.eid_anchors, env.now)?;
        grant::check_holder(applicant, keystore, &holder)?;
        self.holder = Some(holder);
        self.step = self.step_after_card();
        Ok(())
    }

    /// Reads the eID and takes the names and the INSZ from it, with the typed RIZIV number,
    /// then checks them as the details and card steps do. Nothing changes unless every check
    /// passes.
    fn take_card_details<R>(
        &mut self,
        riziv: String,
        env: &mut Environment<'_, R>,
    ) -> Result<(), MandateError> {
        let keystore = self.keystore.as_ref().ok_or(MandateError::StepOrder)?;
        let holder = env.signer.read_holder(&env.settings.eid_anchors, env.now)?;
        let (family_name, first_name) = grant::eid_names(&holder);
        let typed = TypedDetails {
            family_name,
            first_name,
            insz: holder.identity.insz.to_string(),
            riziv,
        };
        let applicant =
            grant::check_applicant(&typed, keystore, self.purpose, env.store, env.settings)?;
        grant::check_holder(&applicant, keystore, &holder)?;

        self.applicant = Some(applicant);
        self.holder = Some(holder);
        self.step = self.step_after_card();
        Ok(())
    }

    fn step_after_card(&self) -> Step {
        match self.purpose {
            Purpose::Mandate => Step::EndDate,
            Purpose::Setup => Step::Review,
        }
    }

    fn take_end_date<R>(
        &mut self,
        date: Option<Date>,
        env: &Environment<'_, R>,
    ) -> Result<(), MandateError> {
        let keystore = self.keystore.as_ref().ok_or(MandateError::StepOrder)?;
        let applicant = self.applicant.as_ref().ok_or(MandateError::StepOrder)?;
        let holder = self.holder.as_ref().ok_or(MandateError::StepOrder)?;
        let ends_at = rules::resolve_end(date, env.now, keystore.facts.not_after)?;
        let prepared =
            grant::prepare_mandate(applicant, keystore, holder, env.settings, env.now, ends_at)?;
        self.prepared = Some(prepared);
        self.step = Step::Review;
        Ok(())
    }

    fn sign_and_store<R: CryptoRng>(
        &mut self,
        env: &mut Environment<'_, R>,
    ) -> Result<(), MandateError> {
        let pin = self.pin.take().ok_or(MandateError::StepOrder)?;
        // A wrong PIN or a card error returns to the PIN step, so the holder can try again.
        self.step = Step::Pin;
        let mut context = StoreContext {
            store: &mut *env.store,
            vault: env.vault,
            settings: env.settings,
            rng: &mut *env.rng,
            now: env.now,
            actor: env.actor,
        };

        let mut tries_left = None;
        let outcome = self.sign_with(&mut context, env.signer, pin.entry(), &mut tries_left);
        if tries_left.is_some() {
            self.tries_left = tries_left;
        }
        self.outcome = Some(outcome?);
        self.step = Step::Done;
        self.forget_secrets();
        Ok(())
    }

    fn sign_with<R: CryptoRng>(
        &self,
        context: &mut StoreContext<'_, R>,
        signer: &mut dyn MandateSigner,
        pin: PinEntry<'_>,
        tries_left: &mut Option<u8>,
    ) -> Result<Outcome, MandateError> {
        let keystore = self.keystore.as_ref().ok_or(MandateError::StepOrder)?;
        let applicant = self.applicant.as_ref().ok_or(MandateError::StepOrder)?;
        let holder = self.holder.as_ref().ok_or(MandateError::StepOrder)?;
        let outcome = match self.purpose {
            Purpose::Mandate => {
                let prepared = self.prepared.as_ref().ok_or(MandateError::StepOrder)?;
                let signature = signer
                    .sign_document(&prepared.document, pin)
                    .inspect_err(|error| *tries_left = wrong_pin_tries(error))?;
                let id = grant::commit_mandate(
                    context, applicant, keystore, holder, prepared, signature,
                )?;
                Outcome::Mandate(id)
            }
            Purpose::Setup => {
                signer
                    .verify_pin(pin)
                    .inspect_err(|error| *tries_left = wrong_pin_tries(error))?;
                Outcome::Setup(grant::commit_setup(context, applicant, keystore, holder)?)
            }
        };
        Ok(outcome)
    }

    fn cancel(&mut self) {
        self.step = Step::Cancelled;
        self.forget_secrets();
    }

    /// Drops the keystore, its password and the PIN; their buffers wipe themselves.
    fn forget_secrets(&mut self) {
        self.certificate = None;
        self.keystore = None;
        self.pin = None;
    }

    /// Returns what to show for the current step.
    pub fn screen(&self) -> Screen {
        let (title, lines, input) = match self.step {
            Step::Certificate => (
                "Choose the eHealth certificate",
                vec!["Choose the doctor's .p12 or .acc-p12 file on the USB stick.".to_owned()],
                InputKind::CertificateFile,
            ),
            Step::Password => (
                "Certificate password",
                vec![format!(
                    "Type the password of {}.",
                    self.certificate
                        .as_ref()
                        .map(|(name, _)| name.as_str())
                        .unwrap_or("the certificate")
                )],
                InputKind::Password,
            ),
            Step::Details => ("Doctor's details", self.details_lines(), InputKind::Details),
            Step::Card => (
                "Insert the eID",
                vec!["Insert the doctor's eID in the reader.".to_owned()],
                InputKind::CardReady,
            ),
            Step::EndDate => (
                "End of the mandate",
                self.end_date_lines(),
                self.end_date_input(),
            ),
            Step::Review => ("Review", self.review_lines(), InputKind::Confirm),
            Step::Pin => (
                "eID PIN",
                vec![self.pin_line()],
                InputKind::Pin {
                    tries_left: self.tries_left,
                },
            ),
            Step::Signing => (
                "Signing",
                vec!["Keep the eID in the reader until the box is done.".to_owned()],
                InputKind::Continue,
            ),
            Step::Done => ("Done", self.done_lines(), InputKind::Nothing),
            Step::Cancelled => (
                "Cancelled",
                vec!["Cancelled; nothing was stored.".to_owned()],
                InputKind::Nothing,
            ),
        };
        Screen {
            step: self.step,
            title: title.to_owned(),
            lines,
            input,
            error: self.error.as_ref().map(ToString::to_string),
        }
    }

    fn details_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(keystore) = &self.keystore {
            let facts = &keystore.facts;
            lines.push(format!(
                "Certificate of {} (INSZ {}), valid until {}.",
                facts.name.as_deref().unwrap_or("an unnamed holder"),
                facts.ssin.as_deref().unwrap_or("none"),
                utc_date(facts.not_after)
            ));
        }
        lines.push(
            "Type the family name and first name as on the eID, the INSZ and the RIZIV number."
                .to_owned(),
        );
        lines
    }

    fn identity_line(&self) -> Option<String> {
        self.holder.as_ref().map(|holder| {
            let identity = &holder.identity;
            format!(
                "eID: {} {}, INSZ {}",
                identity.first_names, identity.name, identity.insz
            )
        })
    }

    fn end_date_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.identity_line().into_iter().collect();
        if let Some(keystore) = &self.keystore {
            lines.push(format!(
                "The mandate ends with the certificate on {}; keep that date or choose an \
                 earlier one.",
                utc_date(keystore.facts.not_after)
            ));
        }
        lines
    }

    fn end_date_input(&self) -> InputKind {
        let latest = self
            .keystore
            .as_ref()
            .map(|keystore| utc_date(keystore.facts.not_after))
            .unwrap_or_default();
        InputKind::EndDate {
            default: latest,
            latest,
        }
    }

    fn review_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.identity_line().into_iter().collect();
        match (&self.prepared, &self.applicant) {
            (Some(prepared), _) => {
                lines.push("The eID will sign this text:".to_owned());
                let text = String::from_utf8_lossy(&prepared.document);
                lines.extend(text.lines().map(str::to_owned));
            }
            (None, Some(applicant)) => lines.push(format!(
                "Set up {} {} (INSZ {}, RIZIV {}) as the main practitioner of this box.",
                applicant.typed.first_name,
                applicant.typed.family_name,
                applicant.typed.insz,
                applicant.typed.riziv
            )),
            (None, None) => {}
        }
        lines
    }

    fn pin_line(&self) -> String {
        let action = match self.purpose {
            Purpose::Mandate => "sign the mandate",
            Purpose::Setup => "confirm",
        };
        match self.tries_left {
            Some(tries) => format!("Type the eID PIN to {action} ({tries} tries left)."),
            None => format!("Type the eID PIN to {action}."),
        }
    }

    fn done_lines(&self) -> Vec<String> {
        let name = self
            .applicant
            .as_ref()
            .map(|applicant| {
                format!(
                    "{} {}",
                    applicant.typed.first_name, applicant.typed.family_name
                )
            })
            .unwrap_or_default();
        match (self.outcome, &self.prepared) {
            (Some(Outcome::Mandate(id)), Some(prepared)) => vec![format!(
                "Mandate {id} stored: the box fetches the eHealthBox of {name} until {}.",
                utc_date(prepared.fields.ends_at)
            )],
            (Some(Outcome::Setup(_)), _) => vec![format!(
                "{name} is the main practitioner of this box; fetching starts now."
            )],
            _ => Vec::new(),
        }
    }
}
