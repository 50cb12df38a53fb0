//! getMessagesList and getAllEhboxesMessagesList: one folder, newest first, in pages of at most
//! 100 messages addressed by 1-based inclusive `StartIndex`/`EndIndex` (defaults 1 and 100).

use std::sync::Arc;

use jiff::Timestamp;
use roxmltree::Node;

use super::consultation::{
    CONSULTATION_NS, ConsultationOptions, Failure, SUCCESS_MESSAGE, read_list_source, resolve_box,
    schema_violation,
};
use super::model::{Destination, Folder, Message};
use super::platform::Platform;
use super::render::{
    SUCCESS_CODE, bool_text, write_content_specification, write_custom_meta, write_identifier,
    write_message_info, write_sender, write_status,
};
use super::xml::{XmlWriter, child_text};
use crate::caller::Caller;
use crate::wire::{Fault, SoapReply};

/// One message of a list page and the box it is in.
struct ListedMessage {
    message: Arc<Message>,
    destination: Destination,
}

/// A validated page request: zero-based offset and number of messages.
#[derive(Debug, Clone, Copy)]
struct Page {
    skip: usize,
    take: usize,
}

/// getMessagesList on one box.
///
/// After the page is built, messages queued with `Platform::inject_after_next_list_page` enter the
/// box, which shifts the indices of the next page.
pub(crate) fn get_messages_list(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    now: Timestamp,
    options: &ConsultationOptions,
) -> Result<SoapReply, Failure> {
    let key = resolve_box(platform, caller, request, &options.codes)?;
    let source = read_list_source(request, &options.codes)?;
    let page = read_page(request, options)?;

    let listed: Vec<ListedMessage> = match platform.box_ref(&key) {
        Some(ehealth_box) => {
            let destination = ehealth_box.as_destination();
            ehealth_box
                .folder_newest_first(source)
                .into_iter()
                .skip(page.skip)
                .take(page.take)
                .map(|entry| ListedMessage {
                    message: Arc::clone(&entry.message),
                    destination: destination.clone(),
                })
                .collect()
        }
        None => Vec::new(),
    };
    let body = render_list("GetMessagesListResponse", source, &listed);

    for injected in platform.take_injections(&key) {
        let message = platform.accept(injected, now);
        tracing::info!(box_key = %key, message_id = %message.message_id, "message injected after a list page");
        platform.place_in_inbox(&key, message, now);
    }
    Ok(SoapReply {
        body,
        attachments: Vec::new(),
    })
}

/// getAllEhboxesMessagesList: one folder across every box the caller may open, newest first,
/// each message's `Destination` naming its box.
pub(crate) fn get_all_ehboxes_messages_list(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    options: &ConsultationOptions,
) -> Result<SoapReply, Failure> {
    let source = read_list_source(request, &options.codes)?;
    let page = read_page(request, options)?;

    let mut keys = platform.granted_boxes(&caller.ssin);
    if let Some(personal) = platform.personal_box(caller) {
        keys.retain(|key| *key != personal);
        keys.insert(0, personal);
    }
    if keys.is_empty() {
        return Err(Failure::Fault(Fault::not_authorised(format!(
            "{} has no personal eHealthBox and no access to another box",
            caller.ssin
        ))));
    }

    let mut all: Vec<(u64, ListedMessage)> = Vec::new();
    for key in &keys {
        let Some(ehealth_box) = platform.box_ref(key) else {
            continue;
        };
        let destination = ehealth_box.as_destination();
        for entry in ehealth_box.folder_newest_first(source) {
            let listed = ListedMessage {
                message: Arc::clone(&entry.message),
                destination: destination.clone(),
            };
            all.push((entry.sequence, listed));
        }
    }
    all.sort_by_key(|(sequence, _)| std::cmp::Reverse(*sequence));

    let listed: Vec<ListedMessage> = all
        .into_iter()
        .skip(page.skip)
        .take(page.take)
        .map(|(_, listed)| listed)
        .collect();
    let body = render_list("GetAllEhboxesMessagesListResponse", source, &listed);
    Ok(SoapReply {
        body,
        attachments: Vec::new(),
    })
}

/// Reads `StartIndex` and `EndIndex` and checks the page size.
fn read_page(request: Node<'_, '_>, options: &ConsultationOptions) -> Result<Page, Failure> {
    let start = read_index(request, "StartIndex", 1, options)?;
    let end = read_index(request, "EndIndex", 100, options)?;

    if end < start {
        return Err(Failure::business(
            &options.codes.invalid_index_range,
            format!("EndIndex {end} is before StartIndex {start}; send EndIndex >= StartIndex"),
        ));
    }
    let count = end - start + 1;
    if count > options.max_page_size {
        return Err(Failure::business(
            &options.codes.invalid_index_range,
            format!(
                "StartIndex {start} to EndIndex {end} asks for {count} messages; request at most {} per call",
                options.max_page_size
            ),
        ));
    }
    Ok(Page {
        skip: start - 1,
        take: count,
    })
}

/// Reads one index (`xs:int` of at least 1).
fn read_index(
    request: Node<'_, '_>,
    name: &str,
    default: usize,
    options: &ConsultationOptions,
) -> Result<usize, Failure> {
    let Some(text) = child_text(request, name) else {
        return Ok(default);
    };
    match text.parse::<i32>() {
        Ok(value) if value >= 1 => Ok(value as usize),
        _ => Err(schema_violation(
            &options.codes,
            format!("{name} {text:?} is invalid; send a whole number of at least 1"),
        )),
    }
}

fn render_list(response: &str, source: Folder, listed: &[ListedMessage]) -> String {
    XmlWriter::response(CONSULTATION_NS, response, &[], |w| {
        write_status(w, SUCCESS_CODE, SUCCESS_MESSAGE);
        w.text("Source", source.wire_name());
        for item in listed {
            write_list_message(w, item);
        }
    })
}

/// Writes one `Message` of a list response.
fn write_list_message(w: &mut XmlWriter, item: &ListedMessage) {
    let message = &item.message;
    let content = &message.content;
    w.element("Message", |w| {
        w.text("MessageId", &message.message_id);
        write_identifier(w, "Destination", &item.destination);
        write_sender(w, &content.sender);
        write_message_info(w, message);
        w.element("ContentInfo", |w| {
            if let Some(patient) = &content.patient_inss {
                w.base64("EncryptableINSSPatient", patient);
            }
            w.text("Title", &content.document.title);
            w.text("MimeType", &content.document.mime_type);
            w.text(
                "HasFreeInformations",
                bool_text(content.free_information.is_some()),
            );
            w.text("HasAnnex", bool_text(!content.annexes.is_empty()));
        });
        write_content_specification(w, message, false);
        write_custom_meta(w, &content.custom_meta);
    });
}
