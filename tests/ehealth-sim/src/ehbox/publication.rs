//! eHealthBox publication v3: `SendMessageRequest`.
//!
//! A valid publication is accepted at once (status 100 only means "accepted"). The sender's
//! SENTBOX gets its copy, and each existing recipient box gets the message in its INBOX after the
//! configured delay. The sender's INBOX gets the PUBLISHED and RECEIVED acknowledgments it
//! requested, plus one ERROR message naming the recipients whose box does not exist.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use roxmltree::Node;

use super::consultation::{
    BusinessErrorStyle, Failure, SUCCESS_MESSAGE, failure_reply, resolve_box_with,
};
use super::model::{
    AckType, BoxKey, ContentType, Destination, Document, ErrorContent, Folder, Message, NewMessage,
};
use super::platform::{Platform, PublicationRecord};
use super::publication_request::{RequestReader, SendMessage};
use super::render::{SUCCESS_CODE, write_status};
use super::xml::XmlWriter;
use crate::caller::Caller;
use crate::wire::{Attachment, Fault, SoapReply};

/// Namespace of the publication request and response elements.
pub const PUBLICATION_NS: &str = "urn:be:fgov:ehealth:ehbox:publication:protocol:v3";

/// Business and fault codes of sendMessage. 801 to 816 are the documented publication codes;
/// the others are not public, so their defaults are guesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationCodes {
    pub message_too_large: String,
    pub invalid_identifier: String,
    pub invalid_quality: String,
    pub invalid_type: String,
    pub invalid_sub_type: String,
    pub box_not_accessible: String,
    pub quality_not_allowed: String,
    pub digest_mismatch: String,
    /// A DOCUMENT PublicationId the sender used before.
    pub publication_id_reused: String,
    /// The `Error/Code` of the ERROR message about recipients whose box does not exist.
    pub undeliverable: String,
    /// A request that breaks the schema.
    pub schema_violation: String,
}

impl Default for PublicationCodes {
    fn default() -> Self {
        Self {
            message_too_large: "801".to_owned(),
            invalid_identifier: "802".to_owned(),
            invalid_quality: "803".to_owned(),
            invalid_type: "804".to_owned(),
            invalid_sub_type: "805".to_owned(),
            box_not_accessible: "810".to_owned(),
            quality_not_allowed: "814".to_owned(),
            digest_mismatch: "816".to_owned(),
            publication_id_reused: "815".to_owned(),
            undeliverable: "820".to_owned(),
            schema_violation: "SOA-03006".to_owned(),
        }
    }
}

/// The behaviour knobs of the publication handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationOptions {
    /// The maximum message size in bytes (10 MB per the eHealth service description).
    pub max_message_size: u64,
    /// Time between acceptance and arrival in the recipients' INBOX.
    pub delivery_delay: SignedDuration,
    /// Recipient qualities this platform refuses publications to, with code 814.
    pub forbidden_destination_qualities: Vec<String>,
    pub business_errors: BusinessErrorStyle,
    pub codes: PublicationCodes,
}

impl Default for PublicationOptions {
    fn default() -> Self {
        Self {
            max_message_size: 10 * 1024 * 1024,
            delivery_delay: SignedDuration::ZERO,
            forbidden_destination_qualities: Vec::new(),
            business_errors: BusinessErrorStyle::Fault,
            codes: PublicationCodes::default(),
        }
    }
}

/// Serves a `SendMessageRequest` for an authenticated caller.
///
/// `attachments` are the MIME parts of the request, which `EncryptableBinaryContent` refers to by
/// `cid:` (swaRef text or MTOM `xop:Include`). Pass an empty slice for a plain SOAP request.
pub fn handle_publication(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    attachments: &[Attachment],
    now: Timestamp,
    options: &PublicationOptions,
) -> Result<SoapReply, Fault> {
    let operation = request.tag_name().name();
    if request.tag_name().namespace() != Some(PUBLICATION_NS) || operation != "SendMessageRequest" {
        let namespace = request.tag_name().namespace().unwrap_or("no namespace");
        return Err(Fault::system(
            options.codes.schema_violation.clone(),
            format!(
                "element {operation} in {namespace} is not a publication request; send SendMessageRequest in {PUBLICATION_NS}"
            ),
            false,
        ));
    }

    platform.deliver_due(now);
    send_message(platform, caller, request, attachments, now, options).or_else(|failure| {
        failure_reply(PUBLICATION_NS, operation, failure, options.business_errors)
    })
}

fn send_message(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    attachments: &[Attachment],
    now: Timestamp,
    options: &PublicationOptions,
) -> Result<SoapReply, Failure> {
    let codes = &options.codes;
    let sender_box = resolve_box_with(
        platform,
        caller,
        request,
        &codes.box_not_accessible,
        &codes.schema_violation,
    )?;
    let mut sender = platform
        .box_ref(&sender_box)
        .map(|b| b.as_sender())
        .ok_or_else(|| {
            Failure::business(
                &codes.box_not_accessible,
                format!("box {sender_box} not found"),
            )
        })?;
    if sender_box.id != caller.ssin {
        sender.person_in_organisation = Some(caller.ssin.clone());
    }

    let reader = RequestReader {
        options,
        attachments,
    };
    let SendMessage {
        publication_id,
        message,
    } = reader.read(request, sender)?;
    check_publication_id(
        platform,
        &sender_box,
        &publication_id,
        message.content_type,
        now,
        options,
    )?;

    let message = publish(platform, &sender_box, message, now, options);
    platform.record_publication(
        &sender_box,
        &publication_id,
        PublicationRecord {
            content_type: message.content.content_type,
            message_id: message.message_id.clone(),
        },
    );

    let body = XmlWriter::response(
        PUBLICATION_NS,
        "SendMessageResponse",
        // NOTE: the schema gives the response an optional Id; using the new MessageId is a guess.
        &[
            ("Id", &message.message_id),
            ("SentPublicationId", &publication_id),
        ],
        |w| write_status(w, SUCCESS_CODE, SUCCESS_MESSAGE),
    );
    Ok(SoapReply {
        body,
        attachments: Vec::new(),
    })
}

/// Rejects a reused PublicationId, except NEWS replacing earlier NEWS, which it removes.
fn check_publication_id(
    platform: &mut Platform,
    sender_box: &BoxKey,
    publication_id: &str,
    content_type: ContentType,
    now: Timestamp,
    options: &PublicationOptions,
) -> Result<(), Failure> {
    let Some(previous) = platform.publication(sender_box, publication_id).cloned() else {
        return Ok(());
    };
    if previous.content_type == ContentType::News && content_type == ContentType::News {
        tracing::info!(publication_id, replaced = %previous.message_id, "NEWS replaced");
        platform.remove_everywhere(&previous.message_id, now);
        return Ok(());
    }
    Err(Failure::business(
        &options.codes.publication_id_reused,
        format!(
            "PublicationId {publication_id} was already used by {sender_box} for message {}; send a new PublicationId",
            previous.message_id
        ),
    ))
}

/// Accepts the message and performs every delivery and acknowledgment it causes.
fn publish(
    platform: &mut Platform,
    sender_box: &BoxKey,
    message: NewMessage,
    now: Timestamp,
    options: &PublicationOptions,
) -> Arc<Message> {
    let (known, unknown): (Vec<Destination>, Vec<Destination>) = message
        .destinations
        .iter()
        .cloned()
        .partition(|d| platform.box_ref(&d.key).is_some());

    let message = platform.accept(message, now);
    tracing::info!(message_id = %message.message_id, sender = %sender_box, recipients = known.len(), "publication accepted");

    platform.place(sender_box, Folder::Sentbox, Arc::clone(&message));
    if message.content.receipts.publication {
        platform.send_acknowledgment(&message, AckType::Published, None, now);
    }

    let recipients = known.into_iter().map(|d| d.key).collect();
    let due = now.saturating_add(options.delivery_delay).unwrap_or(now);
    platform.schedule_inbox_delivery(Arc::clone(&message), recipients, due, now);

    if !unknown.is_empty() {
        send_undeliverable_error(platform, sender_box, &message, unknown, now, options);
    }
    message
}

/// Sends the sender one ERROR message listing the recipients whose box does not exist.
fn send_undeliverable_error(
    platform: &mut Platform,
    sender_box: &BoxKey,
    about: &Message,
    unknown: Vec<Destination>,
    now: Timestamp,
    options: &PublicationOptions,
) {
    let names: Vec<String> = unknown.iter().map(|d| d.key.to_string()).collect();
    let text = format!(
        "message {} could not be delivered; no eHealthBox exists for: {}",
        about.message_id,
        names.join(", ")
    );
    tracing::warn!(message_id = %about.message_id, recipients = %names.join(", "), "recipients without a box");

    let mut error = NewMessage::document(
        platform.config().platform_sender.clone(),
        vec![Destination::to_box(sender_box.clone())],
        Document {
            title: "Delivery error".to_owned(),
            content: text.clone().into_bytes(),
            download_file_name: "error.txt".to_owned(),
            mime_type: "text/plain".to_owned(),
        },
    );
    error.content_type = ContentType::Error;
    error.publication_id = about.content.publication_id.clone();
    error.error = Some(ErrorContent {
        code: options.codes.undeliverable.clone(),
        messages: vec![text],
        failures: Vec::new(),
        destinations: unknown,
        publication_id: about.content.publication_id.clone(),
    });

    let error = platform.accept(error, now);
    platform.place(sender_box, Folder::Inbox, error);
}
