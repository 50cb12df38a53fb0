//! The eHealthBox types the client returns: folders, box identities, message summaries and
//! full messages.

use super::content::Transfer;

/// An eHealthBox folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Inbox,
    Sentbox,
    BinInbox,
    BinSentbox,
}

impl Source {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbox => "INBOX",
            Self::Sentbox => "SENTBOX",
            Self::BinInbox => "BININBOX",
            Self::BinSentbox => "BINSENTBOX",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ContentSpecification/ContentType`: what kind of message it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentType {
    /// A document for the medical record software.
    Document,
    /// A news item (replaced when re-sent with the same PublicationId); also for the EMD.
    News,
    /// A PUBLISHED, RECEIVED or READ status of a message the box holder sent.
    Acknowledgment,
    /// A delivery error of a message the box holder sent.
    Error,
    /// A value the schema did not have when this client was written.
    Other(String),
}

impl ContentType {
    pub fn from_wire(value: &str) -> Self {
        match value {
            "DOCUMENT" => Self::Document,
            "NEWS" => Self::News,
            "ACKNOWLEDGMENT" => Self::Acknowledgment,
            "ERROR" => Self::Error,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Document => "DOCUMENT",
            Self::News => "NEWS",
            Self::Acknowledgment => "ACKNOWLEDGMENT",
            Self::Error => "ERROR",
            Self::Other(other) => other,
        }
    }

    /// Whether the message goes to the medical record software (DOCUMENT and NEWS); the
    /// others carry only a status and are logged.
    pub fn is_for_medical_software(&self) -> bool {
        matches!(self, Self::Document | Self::News)
    }
}

impl std::fmt::Display for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A box identity (`BoxIdType`, also the identifier part of destinations).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoxId {
    pub id: String,
    pub id_type: String,
    pub sub_type: Option<String>,
    pub quality: String,
}

/// The sender of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    pub id: String,
    pub id_type: String,
    pub sub_type: Option<String>,
    pub quality: String,
    pub name: String,
    pub first_name: Option<String>,
    /// INSZ of the person who sent on behalf of an organisation.
    pub person_in_organisation: Option<String>,
}

impl Sender {
    /// "First Last" or the organisation name.
    pub fn display_name(&self) -> String {
        match &self.first_name {
            Some(first) if !first.is_empty() => format!("{first} {}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// `getBoxInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxInfo {
    pub box_id: BoxId,
    /// Messages held back because the box is full.
    pub messages_in_standby: u64,
    pub current_size: u64,
    pub max_size: u64,
}

/// One entry of `getMessagesList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    pub message_id: String,
    /// Which of the caller's boxes received it.
    pub destination: Option<BoxId>,
    pub sender: Sender,
    pub publication_date: Option<String>,
    pub expiration_date: Option<String>,
    /// `MessageInfo/Size`, a string on the wire (bytes).
    pub size: Option<String>,
    /// `ContentInfo/Title`, never encrypted.
    pub title: Option<String>,
    pub mime_type: Option<String>,
    pub has_annex: bool,
    pub content_type: ContentType,
    pub application_name: Option<String>,
    pub is_important: bool,
    pub is_encrypted: bool,
}

/// The document or an annex of a full message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The document's clear `Title`, or the annex's `EncryptableTitle` bytes (sealed when the
    /// message is encrypted).
    pub title: Vec<u8>,
    /// The content bytes: a sealed message when encrypted, else the payload.
    pub content: Vec<u8>,
    pub transfer: Transfer,
    pub download_file_name: Option<String>,
    pub mime_type: Option<String>,
}

/// `FreeInformations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreeInformation {
    Text(Vec<u8>),
    Table {
        title: Option<String>,
        rows: Vec<(Vec<u8>, Vec<u8>)>,
    },
    Old {
        render: Option<String>,
        content: Vec<u8>,
    },
}

/// `Content/Acknowledgment` of an ACKNOWLEDGMENT message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgment {
    /// The message this status is about.
    pub message_id: String,
    pub ack_type: String,
    pub date_time: Option<String>,
}

/// `Content/Error` of an ERROR message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    pub code: String,
    pub messages: Vec<String>,
    pub publication_id: Option<String>,
}

/// `getFullMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullMessage {
    pub message_id: String,
    pub publication_id: Option<String>,
    pub sender: Sender,
    pub destinations: Vec<BoxId>,
    pub content_type: ContentType,
    pub application_name: Option<String>,
    pub is_important: bool,
    pub is_encrypted: bool,
    pub document: Payload,
    pub free_information: Option<FreeInformation>,
    /// `EncryptableINSSPatient` bytes.
    pub patient_inss: Option<Vec<u8>>,
    pub annexes: Vec<Payload>,
    pub acknowledgment: Option<Acknowledgment>,
    pub error: Option<ErrorReport>,
    pub size: Option<String>,
    /// The whole SOAP envelope as received, for storage.
    pub raw_envelope: String,
}

/// What a move or delete of a list of ids achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Ids the platform reported as processed.
    pub processed: Vec<String>,
    /// Ids that were no longer in the source folder, for instance already moved by an attempt
    /// whose reply was lost. The end state is the requested one.
    pub not_found: Vec<String>,
}
