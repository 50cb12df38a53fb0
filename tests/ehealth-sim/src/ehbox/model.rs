//! The eHealthBox data model: box identities, folders, and the messages that boxes contain.
//!
//! Every field the schemas name `Encryptable*` is kept as the exact bytes the sender transmitted:
//! a sealed CMS blob when the message is encrypted, the plain bytes otherwise. The platform never
//! opens sealed content.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// The identity of one eHealthBox: `Id`, `Type`, `SubType` and `Quality`, as in `BoxIdType`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BoxKey {
    /// The identifier value, for example an INSZ of 11 digits or a NIHII number.
    pub id: String,
    /// The identifier type on the wire: `INSS`, `NIHII`, `CBE` or `EHP`.
    pub id_type: String,
    /// The organisation kind for organisation boxes, for example `HOSPITAL`.
    pub sub_type: Option<String>,
    /// The quality of the box holder, for example `DOCTOR` or `HOSPITAL`.
    pub quality: String,
}

impl BoxKey {
    /// Creates the key of a person's box: `Type=INSS` with the given quality.
    pub fn person(inss: impl Into<String>, quality: impl Into<String>) -> Self {
        Self {
            id: inss.into(),
            id_type: "INSS".to_owned(),
            sub_type: None,
            quality: quality.into(),
        }
    }

    /// Creates the key of an organisation's box identified by `id_type` plus `sub_type`.
    pub fn organisation(
        id: impl Into<String>,
        id_type: impl Into<String>,
        sub_type: impl Into<String>,
        quality: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            id_type: id_type.into(),
            sub_type: Some(sub_type.into()),
            quality: quality.into(),
        }
    }
}

impl fmt::Display for BoxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id_type, self.id)?;
        if let Some(sub_type) = &self.sub_type {
            write!(f, "/{sub_type}")?;
        }
        write!(f, " ({})", self.quality)
    }
}

/// A folder of an eHealthBox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Folder {
    Inbox,
    Sentbox,
    BinInbox,
    BinSentbox,
}

impl Folder {
    /// Returns the folder name used on the wire (`INBOX`, `SENTBOX`, `BININBOX`, `BINSENTBOX`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Folder::Inbox => "INBOX",
            Folder::Sentbox => "SENTBOX",
            Folder::BinInbox => "BININBOX",
            Folder::BinSentbox => "BINSENTBOX",
        }
    }

    /// Parses a wire folder name; the names are case-sensitive as in the schema enumeration.
    pub fn from_wire(name: &str) -> Option<Self> {
        match name {
            "INBOX" => Some(Folder::Inbox),
            "SENTBOX" => Some(Folder::Sentbox),
            "BININBOX" => Some(Folder::BinInbox),
            "BINSENTBOX" => Some(Folder::BinSentbox),
            _ => None,
        }
    }

    /// Returns whether the folder is one of the two recycle bins.
    pub fn is_bin(self) -> bool {
        matches!(self, Folder::BinInbox | Folder::BinSentbox)
    }
}

/// The `ContentSpecification/ContentType` of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContentType {
    Document,
    /// A message that a later publication with the same `PublicationId` replaces.
    News,
    Acknowledgment,
    Error,
}

impl ContentType {
    pub fn wire_name(self) -> &'static str {
        match self {
            ContentType::Document => "DOCUMENT",
            ContentType::News => "NEWS",
            ContentType::Acknowledgment => "ACKNOWLEDGMENT",
            ContentType::Error => "ERROR",
        }
    }

    pub fn from_wire(name: &str) -> Option<Self> {
        match name {
            "DOCUMENT" => Some(ContentType::Document),
            "NEWS" => Some(ContentType::News),
            "ACKNOWLEDGMENT" => Some(ContentType::Acknowledgment),
            "ERROR" => Some(ContentType::Error),
            _ => None,
        }
    }
}

/// The kind of an acknowledgment message (`AckType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AckType {
    /// The platform accepted the publication.
    Published,
    /// The message entered a recipient's INBOX.
    Received,
    /// A recipient opened the message with getFullMessage.
    Read,
}

impl AckType {
    pub fn wire_name(self) -> &'static str {
        match self {
            AckType::Published => "PUBLISHED",
            AckType::Received => "RECEIVED",
            AckType::Read => "READ",
        }
    }
}

/// The person behind an identifier (`User` element: INSZ text, `FirstName`, `LastName`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub inss: String,
    pub first_name: String,
    pub last_name: String,
}

/// The sender of a message (`SenderType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub key: BoxKey,
    pub name: String,
    pub first_name: Option<String>,
    /// The INSZ of the person who sent on behalf of an organisation.
    pub person_in_organisation: Option<String>,
}

/// A `Mandate` entry inside a `DestinationContext`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    pub id: String,
    pub id_type: String,
    pub sub_type: Option<String>,
    pub name: Option<String>,
}

/// One recipient of a message (`DestinationContext`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub key: BoxKey,
    pub user: Option<User>,
    pub mandate: Option<Mandate>,
}

impl Destination {
    /// Creates a destination with no user and no mandate.
    pub fn to_box(key: BoxKey) -> Self {
        Self {
            key,
            user: None,
            mandate: None,
        }
    }
}

/// The main document of a message. `Title`, `DownloadFileName` and `MimeType` are never encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    /// The content bytes as transmitted (sealed when the message is encrypted).
    pub content: Vec<u8>,
    pub download_file_name: String,
    pub mime_type: String,
}

/// An annex. Its title is an `Encryptable` field, unlike the document title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annex {
    pub title: Vec<u8>,
    pub content: Vec<u8>,
    pub download_file_name: String,
    pub mime_type: String,
}

/// The `FreeInformations` choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FreeInformation {
    FreeText(Vec<u8>),
    Table {
        title: String,
        rows: Vec<(Vec<u8>, Vec<u8>)>,
    },
    OldFreeInformation {
        render: Option<String>,
        content: Vec<u8>,
    },
}

/// The `Content/Acknowledgment` of an ACKNOWLEDGMENT message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgment {
    /// The MessageId the acknowledgment is about.
    pub message_id: String,
    pub recipient: Option<Destination>,
    pub ack_type: AckType,
    pub date_time: Timestamp,
}

/// The `Content/Error` of an ERROR message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorContent {
    pub code: String,
    pub messages: Vec<String>,
    pub failures: Vec<String>,
    pub destinations: Vec<Destination>,
    pub publication_id: Option<String>,
}

/// Which acknowledgments the sender asked for in `ContentSpecification`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipts {
    pub publication: bool,
    pub received: bool,
    pub read: bool,
}

/// A key/value pair of `CustomMeta` or a type/value pair of `Meta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaEntry {
    pub key: String,
    pub value: String,
}

/// A message as a sender hands it to the platform, before it gets a MessageId.
///
/// The publication handler builds it from a `SendMessageRequest`; tests and the admin interface
/// build it directly to seed boxes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    pub publication_id: Option<String>,
    pub sender: Sender,
    pub destinations: Vec<Destination>,
    pub content_type: ContentType,
    pub document: Document,
    pub free_information: Option<FreeInformation>,
    /// `EncryptableINSSPatient`: the patient's INSZ, sealed when the message is encrypted.
    pub patient_inss: Option<Vec<u8>>,
    pub annexes: Vec<Annex>,
    pub acknowledgment: Option<Acknowledgment>,
    pub error: Option<ErrorContent>,
    pub application_name: Option<String>,
    pub is_important: bool,
    pub is_encrypted: bool,
    pub receipts: Receipts,
    pub custom_meta: Vec<MetaEntry>,
    pub meta: Vec<MetaEntry>,
    pub copy_mail_to: Vec<String>,
    /// The expiration date; `None` lets the platform apply its configured message validity.
    pub expiration_date: Option<Date>,
}

impl NewMessage {
    /// Creates a plain (not encrypted) DOCUMENT message with no receipts, annexes or metadata.
    pub fn document(sender: Sender, destinations: Vec<Destination>, document: Document) -> Self {
        Self {
            publication_id: None,
            sender,
            destinations,
            content_type: ContentType::Document,
            document,
            free_information: None,
            patient_inss: None,
            annexes: Vec::new(),
            acknowledgment: None,
            error: None,
            application_name: None,
            is_important: false,
            is_encrypted: false,
            receipts: Receipts::default(),
            custom_meta: Vec::new(),
            meta: Vec::new(),
            copy_mail_to: Vec::new(),
            expiration_date: None,
        }
    }

    /// Returns the message size in bytes: the sum of every content field as transmitted.
    pub fn size(&self) -> u64 {
        let annexes: usize = self
            .annexes
            .iter()
            .map(|a| a.title.len() + a.content.len())
            .sum();
        let free = match &self.free_information {
            None => 0,
            Some(FreeInformation::FreeText(text)) => text.len(),
            Some(FreeInformation::Table { rows, .. }) => rows
                .iter()
                .map(|(left, right)| left.len() + right.len())
                .sum(),
            Some(FreeInformation::OldFreeInformation { content, .. }) => content.len(),
        };
        let patient = self.patient_inss.as_ref().map_or(0, Vec::len);
        (self.document.content.len() + annexes + free + patient) as u64
    }
}

/// A message accepted by the platform: the sender's content plus what the platform assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// 13 alphanumeric characters, unique across the platform.
    pub message_id: String,
    pub published_at: Timestamp,
    pub expiration_date: Date,
    pub content: NewMessage,
}

impl Message {
    pub fn size(&self) -> u64 {
        self.content.size()
    }
}
