//! The panel's message catalogue: typed keys, one table per language, and placeholder filling.
//!
//! Every text the panel shows is a [`Text`] key. Each language module ([`en`], [`nl`], [`fr`])
//! maps every key to its text in one exhaustive `match`, so a key missing from a language does
//! not compile. Texts take named placeholders such as `{time}`, filled by [`Language::format`].
//! Each key also states how much room it has on the 128x64 display ([`Fit`]). A test checks
//! every language against it with the widest values the placeholders take.

mod en;
mod fr;
mod nl;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Characters per row of the panel's 6x10 font on 128 pixels.
pub const COLUMNS: usize = 21;

/// A language of the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Language {
    #[serde(rename = "nl")]
    Dutch,
    #[serde(rename = "fr")]
    French,
    /// The language until someone picks another in the menu.
    #[default]
    #[serde(rename = "en")]
    English,
}

impl Language {
    /// Every language, in the order of the language menu.
    pub const ALL: [Language; 3] = [Language::Dutch, Language::French, Language::English];

    /// ISO 639-1 code, as stored in the settings file.
    pub fn code(self) -> &'static str {
        match self {
            Language::Dutch => "nl",
            Language::French => "fr",
            Language::English => "en",
        }
    }

    /// Returns the language's name in that language, as the language menu lists it.
    pub fn native_name(self) -> &'static str {
        match self {
            Language::Dutch => "Nederlands",
            Language::French => "Français",
            Language::English => "English",
        }
    }

    /// Returns the template of `key` in this language, placeholders unfilled.
    pub fn text(self, key: Text) -> &'static str {
        match self {
            Language::Dutch => nl::text(key),
            Language::French => fr::text(key),
            Language::English => en::text(key),
        }
    }

    /// Returns the text of `key` with each `{name}` placeholder replaced by its value.
    pub fn format(self, key: Text, values: &[(&str, &str)]) -> String {
        fill(self.text(key), values)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code that the panel does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown panel language {0:?}; use nl, fr or en")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Language::ALL
            .into_iter()
            .find(|language| language.code() == code)
            .ok_or_else(|| UnknownLanguage(code.to_owned()))
    }
}

/// Replaces each `{name}` in `template` with the value given for `name`. A placeholder without
/// a value stays as it is, so a missing value shows up on the screen and in tests.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// Returns the placeholder names in `template`, in order of appearance.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            break;
        };
        names.push(&after[..end]);
        rest = &after[end + 1..];
    }
    names
}

/// The room a text has on the display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// One row of at most this many characters.
    Line(usize),
    /// Wrapped at [`COLUMNS`], at most this many rows.
    Rows(usize),
}

/// Declares the [`Text`] keys with the room each has.
macro_rules! texts {
    ($($(#[doc = $doc:literal])* $key:ident: $fit:expr;)*) => {
        /// A text of the panel; [`Language::text`] returns it in a language.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Text {
            $($(#[doc = $doc])* $key,)*
        }

        impl Text {
            /// Every key, in declaration order.
            pub const ALL: &'static [Text] = &[$(Text::$key,)*];

            /// Returns the room the text has on the display.
            pub fn fit(self) -> Fit {
                match self {
                    $(Text::$key => $fit,)*
                }
            }
        }
    };
}

/// Room of the LED meaning in the status header, left of the clock and its space.
const HEADER: Fit = Fit::Line(COLUMNS - 6);
/// Room of a problem word in a principal's status row, right of the name and the mark.
const PROBLEM_WORD: Fit = Fit::Line(9);
/// Room of one full row.
const ROW: Fit = Fit::Line(COLUMNS);
/// Room of a sentence in the body of a screen: four rows between title and hint.
const BODY: Fit = Fit::Rows(4);
/// Room of a text on a scrolling screen; the reader scrolls, but no text should need more.
const SCROLLED: Fit = Fit::Rows(8);

texts! {
    // Status screen header: the LED and its meaning.
    /// No principal to fetch; every LED is off.
    StatusOff: HEADER;
    /// Green.
    StatusAllFetched: HEADER;
    /// Amber, because a fetch is under way.
    StatusFetching: HEADER;
    /// Amber, because a message of a box's last run could not be opened or delivered.
    StatusHeld: HEADER;
    /// Amber, because a mandate or certificate ends within 30 days.
    StatusEndsSoon: HEADER;
    /// Amber, because a box has not been fetched within its interval yet.
    StatusPending: HEADER;
    /// Red.
    StatusProblem: HEADER;
    // Status screen footer: the platform's state.
    StatusEhealthReachable: ROW;
    StatusEhealthUnknown: ROW;
    StatusEhealthUnreachable: Fit::Rows(2);
    StatusNoPrincipal: Fit::Rows(3);
    // One word per problem kind, in a principal's row.
    ProblemWordUnreachable: PROBLEM_WORD;
    ProblemWordAuthentication: PROBLEM_WORD;
    ProblemWordDoctorAction: PROBLEM_WORD;
    ProblemWordPlatform: PROBLEM_WORD;
    ProblemWordShare: PROBLEM_WORD;
    ProblemWordClock: PROBLEM_WORD;
    ProblemWordInternal: PROBLEM_WORD;
    // The principal detail screen.
    DetailNewToday: ROW;
    DetailLastFetch: ROW;
    DetailNotFetched: ROW;
    DetailFetching: ROW;
    DetailHeld: ROW;
    DetailMandateEnds: Fit::Rows(2);
    DetailCertificateEnds: Fit::Rows(2);
    DetailAllFine: ROW;
    ProblemUnreachable: SCROLLED;
    ProblemAuthentication: SCROLLED;
    ProblemDoctorAction: SCROLLED;
    ProblemPlatform: SCROLLED;
    ProblemShare: SCROLLED;
    ProblemClock: SCROLLED;
    ProblemInternal: SCROLLED;
    // Menu.
    MenuTitle: ROW;
    MenuGrantMandate: ROW;
    MenuSetUpMain: ROW;
    MenuListMandates: ROW;
    MenuRemoveMandate: ROW;
    MenuNetwork: ROW;
    MenuLeds: ROW;
    MenuLanguage: ROW;
    MenuAbout: ROW;
    // Mandate list and removal.
    MandatesNone: BODY;
    MandateActive: ROW;
    MandateEndsSoon: ROW;
    MandateNotStarted: ROW;
    MandateEnded: ROW;
    MandateRevoked: ROW;
    RemoveNone: BODY;
    RemoveConfirm: SCROLLED;
    RemoveDone: BODY;
    // Network, LEDs, about.
    NetworkHost: ROW;
    NetworkNoAddress: ROW;
    NetworkShares: ROW;
    NetworkNoShare: ROW;
    LegendGreen: SCROLLED;
    LegendAmber: SCROLLED;
    LegendRed: SCROLLED;
    AboutVersion: ROW;
    AboutBox: ROW;
    AboutDoctors: ROW;
    // Mandate wizard.
    WizardMandateTitle: ROW;
    WizardSetupTitle: ROW;
    WizardInsertStick: BODY;
    WizardReadingStick: BODY;
    WizardCertificateTitle: ROW;
    WizardPasswordTitle: ROW;
    WizardOpeningCertificate: BODY;
    WizardRizivTitle: ROW;
    WizardRizivFor: BODY;
    WizardInsertEid: BODY;
    WizardReadingEid: BODY;
    WizardIdentityTitle: ROW;
    WizardIdentityInsz: ROW;
    WizardEndDateTitle: ROW;
    WizardEndDateLatest: ROW;
    WizardReviewTitle: ROW;
    WizardReviewSetup: SCROLLED;
    WizardPinTitle: ROW;
    WizardPinTriesLeft: ROW;
    /// Above the tries left, while the reader's pinpad waits for the PIN.
    WizardPinOnReader: Fit::Rows(3);
    WizardSigning: BODY;
    WizardConfirming: BODY;
    WizardDoneTitle: ROW;
    WizardDoneMandate: SCROLLED;
    WizardDoneSetup: SCROLLED;
    WizardCancelled: BODY;
    WizardRemoveStickAndCard: BODY;
    ErrorTitle: ROW;
    // Button hints on the bottom row.
    HintNext: ROW;
    HintChoose: ROW;
    HintScroll: ROW;
    HintPicker: ROW;
    HintDate: ROW;
    HintYesNo: ROW;
    HintSign: ROW;
    HintTryAgain: ROW;
    HintBack: ROW;
    // Errors of the certificate source (the USB stick).
    ErrorNoStick: SCROLLED;
    ErrorNoCertificate: SCROLLED;
    ErrorTooManyFiles: SCROLLED;
    ErrorStickUnreadable: SCROLLED;
    ErrorStickRemoved: SCROLLED;
    ErrorStickMountUnavailable: SCROLLED;
    ErrorFileTooLarge: SCROLLED;
    // Errors of the mandate workflow.
    ErrorNotKeystore: SCROLLED;
    ErrorWrongPassword: SCROLLED;
    ErrorKeystoreDamaged: SCROLLED;
    ErrorCertificateExpired: SCROLLED;
    ErrorCertificateNotYetValid: SCROLLED;
    ErrorCertificateUntrusted: SCROLLED;
    ErrorCertificateNotPersonal: SCROLLED;
    ErrorCertificateEndsNow: SCROLLED;
    ErrorInsz: SCROLLED;
    ErrorRizivFormat: SCROLLED;
    ErrorRizivCheckDigits: SCROLLED;
    ErrorName: SCROLLED;
    ErrorOtherPerson: SCROLLED;
    ErrorMandatorIsMain: SCROLLED;
    ErrorNoMainDoctor: SCROLLED;
    ErrorMainDoctorExists: SCROLLED;
    ErrorAlreadyMandator: SCROLLED;
    ErrorEndDatePast: SCROLLED;
    ErrorEndDateAfterCertificate: SCROLLED;
    ErrorCardService: SCROLLED;
    ErrorNoReader: SCROLLED;
    ErrorNoCard: SCROLLED;
    ErrorCardRemoved: SCROLLED;
    ErrorNotEid: SCROLLED;
    ErrorCardExpired: SCROLLED;
    ErrorCardUntrusted: SCROLLED;
    ErrorCardCannotSign: SCROLLED;
    ErrorChipCheckBlocked: SCROLLED;
    ErrorCardFailed: SCROLLED;
    ErrorWrongPin: SCROLLED;
    ErrorPinBlocked: SCROLLED;
    ErrorPinFormat: SCROLLED;
    ErrorPinpadTimeout: SCROLLED;
    ErrorPinpadCancelled: SCROLLED;
    ErrorSignatureRejected: SCROLLED;
    ErrorStorage: SCROLLED;
    ErrorBoxSetup: SCROLLED;
    ErrorStartAgain: SCROLLED;
}

#[cfg(test)]
mod tests;
