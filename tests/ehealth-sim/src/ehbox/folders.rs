//! moveMessage, deleteMessage and getMessageHistory.
//!
//! Move and delete take 1 to 100 ids, process every id found in `Source` and report the others as
//! configured by [`PartialFailureStyle`]. Deleting frees quota and admits stand-by messages,
//! but moving to a bin frees nothing.

use jiff::Timestamp;
use roxmltree::Node;

use super::consultation::{
    CONSULTATION_NS, ConsultationOptions, Failure, PartialFailureStyle, SUCCESS_MESSAGE,
    check_message_id, read_list_source, read_message_ids, resolve_box, schema_violation,
};
use super::full_message::folders_for_source;
use super::model::{BoxKey, Folder};
use super::platform::Platform;
use super::render::{SUCCESS_CODE, write_status};
use super::xml::{XmlWriter, child_text};
use crate::caller::Caller;
use crate::wire::{Fault, SoapReply};

/// The ids a batch operation processed and the ids it did not find.
struct BatchOutcome {
    processed: Vec<String>,
    unknown: Vec<String>,
}

pub(crate) fn move_message(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    options: &ConsultationOptions,
) -> Result<SoapReply, Failure> {
    let key = resolve_box(platform, caller, request, &options.codes)?;
    let source = read_list_source(request, &options.codes)?;
    let destination = read_destination_folder(request, options)?;
    let ids = read_message_ids(request, &options.codes)?;

    if !is_allowed_move(source, destination) {
        return Err(Failure::business(
            &options.codes.invalid_move,
            format!(
                "moving from {} to {} is not allowed; move between INBOX and BININBOX or between SENTBOX and BINSENTBOX",
                source.wire_name(),
                destination.wire_name()
            ),
        ));
    }

    let mut outcome = BatchOutcome {
        processed: Vec::new(),
        unknown: Vec::new(),
    };
    if let Some(ehealth_box) = platform.box_mut(&key) {
        for id in ids {
            let entry = ehealth_box
                .entries
                .iter_mut()
                .find(|e| e.folder == source && e.message.message_id == id);
            match entry {
                Some(entry) => {
                    entry.folder = destination;
                    outcome.processed.push(id);
                }
                None => outcome.unknown.push(id),
            }
        }
    }
    tracing::info!(box_key = %key, moved = outcome.processed.len(), unknown = outcome.unknown.len(), "messages moved");
    batch_reply("MoveMessageResponse", &key, source, outcome, options)
}

pub(crate) fn delete_message(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    now: Timestamp,
    options: &ConsultationOptions,
) -> Result<SoapReply, Failure> {
    let key = resolve_box(platform, caller, request, &options.codes)?;
    let source = read_list_source(request, &options.codes)?;
    let ids = read_message_ids(request, &options.codes)?;

    let mut outcome = BatchOutcome {
        processed: Vec::new(),
        unknown: Vec::new(),
    };
    if let Some(ehealth_box) = platform.box_mut(&key) {
        for id in ids {
            let position = ehealth_box
                .entries
                .iter()
                .position(|e| e.folder == source && e.message.message_id == id);
            match position {
                Some(position) => {
                    ehealth_box.entries.remove(position);
                    outcome.processed.push(id);
                }
                None => outcome.unknown.push(id),
            }
        }
    }
    platform.drain_standby(&key, now);
    tracing::info!(box_key = %key, deleted = outcome.processed.len(), unknown = outcome.unknown.len(), "messages deleted");
    batch_reply("DeleteMessageResponse", &key, source, outcome, options)
}

/// getMessageHistory: the message itself followed by the acknowledgment and error messages in the
/// same box that refer to it, oldest first.
// NOTE: the schema only defines "MessageId+". Which messages the real platform chains is not public.
pub(crate) fn get_history(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    options: &ConsultationOptions,
) -> Result<SoapReply, Failure> {
    let key = resolve_box(platform, caller, request, &options.codes)?;
    let source = child_text(request, "Source").unwrap_or("INBOX");
    let folders = folders_for_source(source).ok_or_else(|| {
        schema_violation(
            &options.codes,
            format!("Source {source:?} is not allowed for getMessageHistory; use INBOX, SENTBOX or HISTORY"),
        )
    })?;
    let message_id = check_message_id(
        child_text(request, "MessageId").unwrap_or(""),
        &options.codes,
    )?;

    let not_found = || {
        Failure::business(
            &options.codes.message_not_found,
            format!("message {message_id} not found in {source} of box {key}"),
        )
    };
    let ehealth_box = platform.box_ref(&key).ok_or_else(not_found)?;
    if !ehealth_box
        .entries
        .iter()
        .any(|e| e.message.message_id == message_id && folders.contains(&e.folder))
    {
        return Err(not_found());
    }

    let mut related: Vec<(u64, String)> = ehealth_box
        .entries
        .iter()
        .filter(|e| refers_to(&e.message, &message_id))
        .map(|e| (e.sequence, e.message.message_id.clone()))
        .collect();
    related.sort();

    let body = XmlWriter::response(CONSULTATION_NS, "GetHistoryResponse", &[], |w| {
        write_status(w, SUCCESS_CODE, SUCCESS_MESSAGE);
        w.text("MessageId", &message_id);
        for (_, id) in &related {
            w.text("MessageId", id);
        }
    });
    Ok(SoapReply {
        body,
        attachments: Vec::new(),
    })
}

fn refers_to(message: &super::model::Message, message_id: &str) -> bool {
    let content = &message.content;
    let by_ack = content
        .acknowledgment
        .as_ref()
        .is_some_and(|a| a.message_id == message_id);
    by_ack && message.message_id != message_id
}

fn read_destination_folder(
    request: Node<'_, '_>,
    options: &ConsultationOptions,
) -> Result<Folder, Failure> {
    let text = child_text(request, "Destination").unwrap_or("");
    Folder::from_wire(text).ok_or_else(|| {
        schema_violation(
            &options.codes,
            format!(
                "Destination {text:?} is not a folder; use INBOX, SENTBOX, BININBOX or BINSENTBOX"
            ),
        )
    })
}

/// Moves are allowed between a folder and its bin, in both directions.
fn is_allowed_move(source: Folder, destination: Folder) -> bool {
    matches!(
        (source, destination),
        (Folder::Inbox, Folder::BinInbox)
            | (Folder::BinInbox, Folder::Inbox)
            | (Folder::Sentbox, Folder::BinSentbox)
            | (Folder::BinSentbox, Folder::Sentbox)
    )
}

/// Builds the reply of a move or delete, reporting unknown ids as the options ask.
fn batch_reply(
    response: &str,
    key: &BoxKey,
    source: Folder,
    outcome: BatchOutcome,
    options: &ConsultationOptions,
) -> Result<SoapReply, Failure> {
    let render = |code: &str, message: &str| {
        let body = XmlWriter::response(CONSULTATION_NS, response, &[], |w| {
            write_status(w, code, message);
            for id in &outcome.processed {
                w.text("MessageId", id);
            }
        });
        SoapReply {
            body,
            attachments: Vec::new(),
        }
    };
    if outcome.unknown.is_empty() {
        return Ok(render(SUCCESS_CODE, SUCCESS_MESSAGE));
    }

    let code = &options.codes.message_not_found;
    let message = format!(
        "messages not found in {} of box {key}: {}",
        source.wire_name(),
        outcome.unknown.join(", ")
    );
    match options.partial_failure {
        PartialFailureStyle::Fault => Err(Failure::Fault(Fault::business(code.clone(), message))),
        PartialFailureStyle::StatusWithProcessedIds => Ok(render(code, &message)),
        PartialFailureStyle::SilentSuccess => Ok(render(SUCCESS_CODE, SUCCESS_MESSAGE)),
    }
}
