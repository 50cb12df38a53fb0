//! getFullMessage: the whole message with its content, which marks it read and sends the READ
//! acknowledgment the sender asked for.
//!
//! Document and annex content go out in the configured [`BinaryMode`]. Every other `Encryptable`
//! field is inline base64, as the schema types it.

use std::sync::Arc;

use jiff::Timestamp;
use roxmltree::Node;

use super::consultation::{
    BinaryMode, CONSULTATION_NS, ConsultationOptions, Failure, SUCCESS_MESSAGE, check_message_id,
    resolve_box, schema_violation,
};
use super::model::{AckType, BoxKey, ContentType, Folder, Message};
use super::platform::Platform;
use super::render::{
    SUCCESS_CODE, write_acknowledgment, write_content_specification, write_custom_meta,
    write_destination_context, write_error, write_free_information, write_message_info, write_meta,
    write_sender, write_status,
};
use super::xml::{XmlWriter, child_text, encode_base64};
use crate::caller::Caller;
use crate::wire::{Attachment, SoapReply};

/// The XOP namespace of `xop:Include` in MTOM replies.
pub const XOP_NS: &str = "http://www.w3.org/2004/08/xop/include";

/// The content type of the MIME parts carrying document and annex content.
const PART_CONTENT_TYPE: &str = "application/octet-stream";

/// Returns the folders a getFullMessage or getMessageHistory `Source` searches. The schema allows
/// INBOX, SENTBOX and HISTORY.
pub(crate) fn folders_for_source(source: &str) -> Option<&'static [Folder]> {
    match source {
        "INBOX" => Some(&[Folder::Inbox]),
        "SENTBOX" => Some(&[Folder::Sentbox]),
        // NOTE: what HISTORY covers on the real platform is not public; here it is every folder.
        "HISTORY" => Some(&[
            Folder::Inbox,
            Folder::Sentbox,
            Folder::BinInbox,
            Folder::BinSentbox,
        ]),
        _ => None,
    }
}

pub(crate) fn get_full_message(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    now: Timestamp,
    options: &ConsultationOptions,
) -> Result<SoapReply, Failure> {
    let key = resolve_box(platform, caller, request, &options.codes)?;
    let source = child_text(request, "Source").unwrap_or("INBOX");
    let folders = folders_for_source(source).ok_or_else(|| {
        schema_violation(
            &options.codes,
            format!("Source {source:?} is not allowed for getFullMessage; use INBOX, SENTBOX or HISTORY, and move a message out of a bin first"),
        )
    })?;
    let message_id = child_text(request, "MessageId").unwrap_or("");
    let message_id = check_message_id(message_id, &options.codes)?;

    let message = mark_read(platform, &key, folders, &message_id, now).ok_or_else(|| {
        Failure::business(
            &options.codes.message_not_found,
            format!("message {message_id} not found in {source} of box {key}"),
        )
    })?;

    let mut attachments = Vec::new();
    let body = XmlWriter::response(CONSULTATION_NS, "GetFullMessageResponse", &[], |w| {
        write_status(w, SUCCESS_CODE, SUCCESS_MESSAGE);
        write_sender(w, &message.content.sender);
        write_message(w, &message, options, &mut attachments);
        write_message_info(w, &message);
    });
    Ok(SoapReply { body, attachments })
}

/// Marks the message read and sends the READ acknowledgment on the first read of a received copy.
fn mark_read(
    platform: &mut Platform,
    key: &BoxKey,
    folders: &[Folder],
    message_id: &str,
    now: Timestamp,
) -> Option<Arc<Message>> {
    let ehealth_box = platform.box_mut(key)?;
    let destination = ehealth_box.as_destination();
    let entry = ehealth_box
        .entries
        .iter_mut()
        .find(|e| e.message.message_id == message_id && folders.contains(&e.folder))?;

    let first_read = !entry.read;
    entry.read = true;
    let received_copy = matches!(entry.folder, Folder::Inbox | Folder::BinInbox);
    let message = Arc::clone(&entry.message);

    let content = &message.content;
    let acknowledgeable = matches!(
        content.content_type,
        ContentType::Document | ContentType::News
    );
    if first_read && received_copy && acknowledgeable && content.receipts.read {
        platform.send_acknowledgment(&message, AckType::Read, Some(destination), now);
    }
    Some(message)
}

/// Writes the `Message` element of a full message.
fn write_message(
    w: &mut XmlWriter,
    message: &Message,
    options: &ConsultationOptions,
    attachments: &mut Vec<Attachment>,
) {
    let content = &message.content;
    w.element_with("Message", &[("MessageId", &message.message_id)], |w| {
        w.optional_text("PublicationId", content.publication_id.as_deref());
        for destination in &content.destinations {
            write_destination_context(w, destination);
        }
        w.element("ContentContext", |w| {
            w.element("Content", |w| {
                write_content(w, message, options, attachments)
            });
            write_content_specification(w, message, true);
            write_custom_meta(w, &content.custom_meta);
        });
        write_meta(w, &content.meta);
        for address in &content.copy_mail_to {
            w.text("CopyMailTo", address);
        }
    });
}

fn write_content(
    w: &mut XmlWriter,
    message: &Message,
    options: &ConsultationOptions,
    attachments: &mut Vec<Attachment>,
) {
    let content = &message.content;
    let document = &content.document;
    w.element("Document", |w| {
        w.text("Title", &document.title);
        let content_id = format!("{}.document@ehealth-sim", message.message_id);
        write_payload(w, &document.content, content_id, options, attachments);
        w.text("DownloadFileName", &document.download_file_name);
        w.text("MimeType", &document.mime_type);
    });
    if let Some(free) = &content.free_information {
        write_free_information(w, free);
    }
    if let Some(patient) = &content.patient_inss {
        w.base64("EncryptableINSSPatient", patient);
    }
    for (index, annex) in content.annexes.iter().enumerate() {
        w.element("Annex", |w| {
            w.base64("EncryptableTitle", &annex.title);
            let content_id = format!("{}.annex{}@ehealth-sim", message.message_id, index + 1);
            write_payload(w, &annex.content, content_id, options, attachments);
            w.text("DownloadFileName", &annex.download_file_name);
            w.text("MimeType", &annex.mime_type);
        });
    }
    if let Some(ack) = &content.acknowledgment {
        write_acknowledgment(w, ack);
    }
    if let Some(error) = &content.error {
        write_error(w, error);
    }
}

/// Writes document or annex content in the configured binary mode, adding a MIME part when the
/// mode refers to one.
fn write_payload(
    w: &mut XmlWriter,
    stored: &[u8],
    content_id: String,
    options: &ConsultationOptions,
    attachments: &mut Vec<Attachment>,
) {
    let bytes = if options.double_base64 {
        encode_base64(stored).into_bytes()
    } else {
        stored.to_vec()
    };

    match options.binary_mode {
        BinaryMode::Inline => w.base64("EncryptableTextContent", &bytes),
        BinaryMode::SwaRef => w.text("EncryptableBinaryContent", &format!("cid:{content_id}")),
        BinaryMode::Mtom => w.element("EncryptableBinaryContent", |w| {
            w.raw(&format!(
                r#"<xop:Include xmlns:xop="{XOP_NS}" href="cid:{content_id}"/>"#
            ));
        }),
    }
    if options.binary_mode != BinaryMode::Inline {
        attachments.push(Attachment {
            content_id,
            content_type: PART_CONTENT_TYPE.to_owned(),
            bytes,
        });
    }
}
