//! Opening a downloaded message: every sealed field unsealed, the parts to deliver in order, and
//! the flags and the problem that keep a message from the share.
//!
//! When `IsEncrypted` is true every `Encryptable` field is a sealed message of its own: the
//! document and annex contents, the annex titles, the patient INSZ and the free text. A message
//! whose fields cannot all be unsealed is not delivered at all: a part of it on the share would
//! look complete to the medical record software.

use crate::ehealth::ehbox::model::FreeInformation;
use crate::ehealth::ehbox::{ContentType, FullMessage, Payload};
use crate::ehealth::keystore::EhealthKeystore;
use crate::ehealth::unseal::{self, UnsealError, UnsealPolicy};
use crate::store::{MessageFlags, MessageKind};

/// One part to deliver: the main document or an annex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPart {
    pub title: Option<String>,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Why a message is held instead of delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The reason in plain words, shown in the status and stored with the message.
    pub reason: String,
    /// Whether downloading the message again may help (a truncated download).
    pub retry: bool,
}

/// A downloaded message with its sealed fields opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedMessage {
    pub kind: MessageKind,
    /// Main document first, then the annexes; empty when a field could not be unsealed.
    pub parts: Vec<OpenedPart>,
    pub patient_insz: Option<String>,
    pub free_text: Option<String>,
    pub flags: MessageFlags,
    /// Set when the message must not reach the share.
    pub problem: Option<Problem>,
}

impl OpenedMessage {
    /// Bytes of every part together.
    pub fn size_bytes(&self) -> u64 {
        self.parts.iter().map(|part| part.bytes.len() as u64).sum()
    }
}

/// Maps the eHealthBox content type to the kind the store records.
///
/// A content type this build does not know is recorded as a document and held, so that a person
/// looks at it.
pub fn message_kind(content_type: &ContentType) -> MessageKind {
    match content_type {
        ContentType::Document | ContentType::Other(_) => MessageKind::Document,
        ContentType::News => MessageKind::News,
        ContentType::Acknowledgment => MessageKind::Acknowledgment,
        ContentType::Error => MessageKind::Error,
    }
}

/// Unseals every sealed field of `message` with the keystore's encryption keys.
pub fn open_message(
    message: &FullMessage,
    keystore: &EhealthKeystore,
    policy: &UnsealPolicy,
) -> OpenedMessage {
    let mut opener = Opener {
        keystore,
        policy,
        encrypted: message.is_encrypted,
        flags: MessageFlags::default(),
        problem: None,
    };

    let mut parts = vec![opener.part(&message.document, "document", true)];
    for (index, annex) in message.annexes.iter().enumerate() {
        parts.push(opener.part(annex, &format!("annex {}", index + 1), false));
    }
    let patient_insz = message
        .patient_inss
        .as_deref()
        .and_then(|bytes| opener.text(bytes, "patient INSZ"))
        .map(|insz| insz.trim().to_owned());
    let free_text = message
        .free_information
        .as_ref()
        .and_then(|free| opener.free_text(free));

    let mut problem = opener.problem;
    if let ContentType::Other(value) = &message.content_type {
        problem.get_or_insert(Problem {
            reason: format!(
                "unknown content type {value:?}; the message stays in the eHealthBox until a \
                 PracticeBox update knows it"
            ),
            retry: false,
        });
    }
    if message.is_encrypted && problem.is_none() {
        opener.flags.unsealed_ok = true;
    }
    OpenedMessage {
        kind: message_kind(&message.content_type),
        parts: if problem.is_some() { Vec::new() } else { parts },
        patient_insz,
        free_text,
        flags: opener.flags,
        problem,
    }
}

struct Opener<'a> {
    keystore: &'a EhealthKeystore,
    policy: &'a UnsealPolicy,
    encrypted: bool,
    flags: MessageFlags,
    /// The first failure; later fields are still tried so that every flag is set.
    problem: Option<Problem>,
}

impl Opener<'_> {
    fn part(&mut self, payload: &Payload, field: &str, clear_title: bool) -> OpenedPart {
        let title = if clear_title {
            Some(String::from_utf8_lossy(&payload.title).into_owned())
        } else {
            self.text(&payload.title, &format!("{field} title"))
        };
        let bytes = self.field(&payload.content, field).unwrap_or_default();
        OpenedPart {
            title: title.filter(|title| !title.is_empty()),
            file_name: payload.download_file_name.clone(),
            mime_type: payload.mime_type.clone(),
            bytes,
        }
    }

    fn free_text(&mut self, free: &FreeInformation) -> Option<String> {
        match free {
            FreeInformation::Text(bytes) => self.text(bytes, "free text"),
            FreeInformation::Old { content, .. } => self.text(content, "free text"),
            FreeInformation::Table { rows, .. } => {
                let mut lines = Vec::new();
                for (left, right) in rows {
                    let left = self.text(left, "free text table cell")?;
                    let right = self.text(right, "free text table cell")?;
                    lines.push(format!("{left}: {right}"));
                }
                Some(lines.join("\n"))
            }
        }
    }

    fn text(&mut self, bytes: &[u8], field: &str) -> Option<String> {
        if bytes.is_empty() {
            return None;
        }
        let clear = self.field(bytes, field)?;
        Some(String::from_utf8_lossy(&clear).into_owned())
    }

    /// Returns the clear bytes of one field, or records why they cannot be had.
    fn field(&mut self, bytes: &[u8], field: &str) -> Option<Vec<u8>> {
        if !self.encrypted {
            return Some(bytes.to_vec());
        }
        match unseal::unseal(bytes, self.keystore, self.policy) {
            Ok(unsealed) => Some(unsealed.content),
            Err(error) => {
                self.record(field, &error);
                None
            }
        }
    }

    fn record(&mut self, field: &str, error: &UnsealError) {
        let retry = match error {
            UnsealError::NotAddressedToKeystore { .. } => {
                self.flags.not_addressed_to_us = true;
                false
            }
            UnsealError::BadSignature { .. }
            | UnsealError::SignerCertificateMissing { .. }
            | UnsealError::InnerSignerMismatch { .. } => {
                self.flags.bad_signature = true;
                false
            }
            UnsealError::Truncated { .. } => true,
            _ => false,
        };
        tracing::warn!(field, %error, "cannot unseal a message field");
        self.problem.get_or_insert(Problem {
            reason: format!("cannot unseal the {field}: {error}"),
            retry,
        });
    }
}
