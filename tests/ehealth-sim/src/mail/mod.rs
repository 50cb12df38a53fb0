//! Realistic Belgian practice mail for the simulator's eHealthBoxes.
//!
//! The generator invents patients and senders (labs, hospitals, radiology departments,
//! specialists, the eHealth platform). The senders send a doctor Medidoc lab results and letters,
//! HealthOne lab results and radiology reports, KMEHR contact reports with an embedded PDF, and
//! PDF letters with a structured twin, with scanned annexes and small images. They also send
//! messages that must never reach the medical record software: acknowledgements, errors and
//! news. Text files come in the encodings the field uses (UTF-8 with and without BOM,
//! Windows-1252, code page 850) with CRLF or LF line endings. A few file names are hostile on
//! purpose.
//!
//! Everything is deterministic: the same seed, date and recipients give the same bytes. This
//! module produces plaintext only, and other parts of the simulator seal and publish it.
//!
//! # Layout
//! - [`generator`]: the message mix and [`generate_practice_mail`].
//! - [`message`]: the output types.
//! - [`people`]: patients, recipients, INSZ check digits.
//! - [`senders`]: the invented senders.
//! - [`text`]: encodings (with the code page 850 table) and line endings.
//! - `medidoc`, `healthone`, `kmehr`, `pdf`, `annex`: the format writers.
//! - `content`: the clinical content shared by the writers.

mod annex;
mod content;
pub mod generator;
mod healthone;
mod kmehr;
mod medidoc;
pub mod message;
mod pdf;
pub mod people;
pub mod senders;
pub mod text;

pub use generator::{DEFAULT_MAIL_DATE, MailGenerator, generate_practice_mail};
pub use kmehr::KMEHR_NAMESPACE;
pub use message::{AckType, DocumentFormat, GeneratedMessage, MessageKind, Notice, Part};
pub use people::{Address, Patient, Recipient, Sex, insz_is_valid};
pub use senders::{IdType, Sender};
pub use text::{LineEnding, TextEncoding, TextFacts};

/// Errors of the mail generator.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(
        "character {character:?} cannot be written in {encoding}; use UTF-8 or drop the character"
    )]
    Unencodable {
        character: char,
        encoding: &'static str,
    },
    #[error(
        "text is not valid UTF-8 at byte {offset}; decode it with the encoding the sender used"
    )]
    InvalidUtf8 { offset: usize },
    #[error(
        "text announced as UTF-8 with BOM does not start with EF BB BF; decode it as plain UTF-8"
    )]
    MissingBom,
    #[error(
        "recipient INSZ {ssin:?} is invalid; pass 11 digits whose last two are 97 minus the first \
         nine mod 97 (with a 2 prefixed to the nine for births from 2000)"
    )]
    InvalidRecipientSsin { ssin: String },
    #[error("recipient RIZIV number {nihii:?} is invalid; pass its 11 digits without separators")]
    InvalidRecipientNihii { nihii: String },
    #[error("encoding a PNG annex failed")]
    Image(#[source] png::EncodingError),
}
