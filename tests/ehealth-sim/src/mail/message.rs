//! The generator's output: one plaintext eHealthBox message, ready to be sealed and published.

use std::fmt;

use jiff::civil::DateTime;

use super::people::Patient;
use super::senders::Sender;
use super::text::TextFacts;

/// The kind of a message, from its `ContentSpecification/ContentType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A medical document for the medical record software.
    Document,
    /// A receipt about a message the doctor sent (published, received or read). Never exported.
    Acknowledgment,
    /// A delivery failure report about a message the doctor sent. Never exported.
    Error,
    /// An announcement of the eHealth platform. Never exported.
    News,
}

impl MessageKind {
    /// Returns the `ContentType` value of the eHealthBox schema.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Document => "DOCUMENT",
            Self::Acknowledgment => "ACKNOWLEDGMENT",
            Self::Error => "ERROR",
            Self::News => "NEWS",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.content_type())
    }
}

/// The hand-off format of the main document, which decides where the box routes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentFormat {
    /// Medidoc lab results or text report (`#A` ... `#A/` ... `#/`).
    Medidoc,
    /// HealthOne records (`A1\...\`, `L1\...\`, `L5\...\`).
    HealthOne,
    /// KMEHR XML with root `kmehrmessage`.
    Kmehr,
    /// A PDF letter (`%PDF-`).
    Pdf,
    /// Anything else: the plain text of acknowledgements, errors and news.
    Other,
}

impl fmt::Display for DocumentFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Medidoc => "Medidoc",
            Self::HealthOne => "HealthOne",
            Self::Kmehr => "KMEHR",
            Self::Pdf => "PDF",
            Self::Other => "other",
        })
    }
}

/// A file of a message: the main document or an annex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `Document/Title` for the main document, `EncryptableTitle` for an annex.
    pub title: String,
    /// The sender's `DownloadFileName`. A small fraction is hostile on purpose (path separators,
    /// `..`, reserved Windows names, 255 characters, accents, no extension); see
    /// [`Part::file_name_is_hostile`].
    pub file_name: String,
    /// `MimeType`, such as `text/plain`, `text/xml`, `application/pdf`, `image/png`.
    pub mime_type: String,
    /// The plaintext bytes, exactly as the sender would publish them.
    pub bytes: Vec<u8>,
    /// How a text part is encoded; `None` for binary parts (PDF, PNG).
    pub text: Option<TextFacts>,
    /// Whether `file_name` was picked from the hostile names rather than built from the content.
    pub file_name_is_hostile: bool,
}

/// The kind of an acknowledgement (`AckType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckType {
    Published,
    Received,
    Read,
}

impl AckType {
    /// Returns the `AckType` value of the eHealthBox schema.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "PUBLISHED",
            Self::Received => "RECEIVED",
            Self::Read => "READ",
        }
    }
}

/// The structured content of a non-document message (`Content/Acknowledgment` or `Content/Error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Acknowledgment {
        /// The 13-character id of the message the doctor sent.
        message_id: String,
        /// The INSZ of the recipient of that message, when the receipt concerns one recipient.
        recipient: Option<String>,
        ack_type: AckType,
        date_time: DateTime,
    },
    Error {
        /// An eHealthBox publication status code, such as `802` (invalid identifier).
        code: String,
        messages: Vec<String>,
        /// The destination the message could not reach, when the error names one.
        failed_destination: Option<String>,
        /// The `PublicationId` of the failed publication.
        publication_id: String,
    },
}

/// One generated eHealthBox message, in plaintext.
///
/// To publish it: `sender` becomes the `Sender`, `recipient_ssin` the destination (`Type=INSS`,
/// `Quality=DOCTOR`), `kind` the `ContentType`, `document` the `Document`, `annexes` the `Annex`
/// elements, `free_text` the `FreeInformations/EncryptableFreeText`, `patient.insz` the
/// `EncryptableINSSPatient`, `notice` the `Acknowledgment` or `Error` content, and `important`
/// the `IsImportant` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedMessage {
    pub kind: MessageKind,
    /// The format of `document`; [`DocumentFormat::Other`] for every non-document message.
    pub format: DocumentFormat,
    /// The message title (`Document/Title`), at most 400 characters.
    pub title: String,
    pub sender: Sender,
    /// INSZ of the recipient doctor, the id of their personal eHealthBox.
    pub recipient_ssin: String,
    /// The patient the message is about; `None` for non-documents and multi-patient lab batches.
    pub patient: Option<Patient>,
    pub document: Part,
    pub annexes: Vec<Part>,
    pub free_text: Option<String>,
    /// The sender-chosen `PublicationId`, 13 characters, unique within one generator run.
    pub publication_id: String,
    /// `ContentSpecification/ApplicationName`, at most 25 characters.
    pub application_name: String,
    pub important: bool,
    /// When the sender published the message (local Belgian time).
    pub published: DateTime,
    /// The acknowledgement or error content; `None` for documents and news.
    pub notice: Option<Notice>,
}

impl GeneratedMessage {
    /// Returns a one-line summary for logs.
    pub fn describe(&self) -> String {
        self.to_string()
    }

    /// Returns whether the box must hand this message to the medical record software.
    pub fn is_for_medical_software(&self) -> bool {
        self.kind == MessageKind::Document
    }

    /// Returns the main document and the annexes, in that order.
    pub fn parts(&self) -> impl Iterator<Item = &Part> {
        std::iter::once(&self.document).chain(&self.annexes)
    }
}

impl fmt::Display for GeneratedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:?} from {} to {} as {:?}",
            self.kind,
            self.format,
            self.title,
            self.sender,
            self.recipient_ssin,
            self.document.file_name
        )?;
        if let Some(facts) = self.document.text {
            write!(f, " ({facts})")?;
        }
        if let Some(patient) = &self.patient {
            write!(f, ", patient {}", patient.insz)?;
        }
        if !self.annexes.is_empty() {
            write!(f, ", {} annex(es)", self.annexes.len())?;
        }
        if self.important {
            f.write_str(", important")?;
        }
        write!(f, ", publication {}", self.publication_id)
    }
}
