//! eHealthBox consultation v3: the operation dispatcher, its options, box access and the
//! getBoxInfo operation. Listing, full messages and folder operations live in sibling modules.
//!
//! Access rules: without `BoxId` a caller opens its personal box (`INSS` + its certified quality,
//! so a token without `doctor:boolean` gets SOA-01002). With `BoxId` the box must be that personal
//! box or one granted to the caller in the platform's access table, else business code 810.

use jiff::Timestamp;
use roxmltree::Node;

use super::model::{BoxKey, Folder};
use super::platform::Platform;
use super::render::{SUCCESS_CODE, read_box_key, write_box_id, write_status};
use super::xml::{XmlWriter, child, child_text, children, element_text};
use super::{folders, full_message, listing};
use crate::caller::Caller;
use crate::wire::{Fault, SoapReply};

/// Namespace of the consultation request and response elements.
pub const CONSULTATION_NS: &str = "urn:be:fgov:ehealth:ehbox:consultation:protocol:v3";

/// The message of a successful `Status`.
pub(crate) const SUCCESS_MESSAGE: &str = "SUCCESS";

/// How getFullMessage transmits document and annex content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryMode {
    /// `EncryptableTextContent` with the bytes inline as base64.
    Inline,
    /// `EncryptableBinaryContent` with the text `cid:X` and a MIME part `X` (swaRef).
    SwaRef,
    /// `EncryptableBinaryContent` containing `<xop:Include href="cid:X"/>` and a MIME part `X`
    /// (MTOM/XOP).
    Mtom,
}

/// How a business error (an 8xx code) reaches the client. The real platform is known to use both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusinessErrorStyle {
    /// A SOAP fault with `err:BusinessError`.
    Fault,
    /// A normal response whose `Status/Code` is the error code and which has no payload.
    Status,
}

/// How moveMessage and deleteMessage report ids they could not find while processing the others.
// NOTE: the real platform's reporting is not public; all three styles are plausible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialFailureStyle {
    /// A business fault whose message lists the unknown ids; the known ids are processed anyway.
    Fault,
    /// A response whose `Status` carries the error code and lists the unknown ids, followed by
    /// the processed `MessageId`s.
    StatusWithProcessedIds,
    /// Status 100 listing only the processed ids; the unknown ids are silently left out.
    SilentSuccess,
}

/// Business and fault codes of the consultation operations.
///
/// Only 810 is documented for eHealthBox. The other business codes are not public, so their
/// defaults are guesses until the official codes are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationCodes {
    /// Explicit `BoxId` the caller may not open.
    pub box_not_accessible: String,
    /// `EndIndex` before `StartIndex`, or more messages requested than a page allows.
    pub invalid_index_range: String,
    /// A MessageId that is not in the requested folder.
    pub message_not_found: String,
    /// A moveMessage between folders that are not an inbox/bin or sentbox/bin pair.
    pub invalid_move: String,
    /// A request that breaks the schema (missing element, bad enumeration value or id format).
    pub schema_violation: String,
}

impl Default for ConsultationCodes {
    fn default() -> Self {
        Self {
            box_not_accessible: "810".to_owned(),
            invalid_index_range: "812".to_owned(),
            message_not_found: "811".to_owned(),
            invalid_move: "813".to_owned(),
            schema_violation: "SOA-03006".to_owned(),
        }
    }
}

/// The behaviour knobs of the consultation handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationOptions {
    /// How getFullMessage transmits document and annex content.
    // NOTE: the default follows the consultation cookbook's MTOM policy; which form the real
    // platform sends to a given client is not public.
    pub binary_mode: BinaryMode,
    /// Reproduces the sender-side quirk of content base64-encoded once more before transmission.
    pub double_base64: bool,
    pub business_errors: BusinessErrorStyle,
    pub partial_failure: PartialFailureStyle,
    /// The maximum number of messages one list page may request (100 on the real platform).
    pub max_page_size: usize,
    pub codes: ConsultationCodes,
}

impl Default for ConsultationOptions {
    fn default() -> Self {
        Self {
            binary_mode: BinaryMode::Mtom,
            double_base64: false,
            business_errors: BusinessErrorStyle::Fault,
            partial_failure: PartialFailureStyle::Fault,
            max_page_size: 100,
            codes: ConsultationCodes::default(),
        }
    }
}

/// Why an operation did not succeed: a fault as such, or a business error that the options turn
/// into a fault or a status response.
#[derive(Debug)]
pub(crate) enum Failure {
    Fault(Fault),
    Business { code: String, message: String },
}

impl Failure {
    pub(crate) fn business(code: &str, message: impl Into<String>) -> Self {
        Failure::Business {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Creates the failure for a request that breaks the schema, with the configured SOA code.
pub(crate) fn schema_violation(codes: &ConsultationCodes, message: impl Into<String>) -> Failure {
    schema_fault(&codes.schema_violation, message)
}

/// Creates a schema violation fault with the given SOA code.
pub(crate) fn schema_fault(code: &str, message: impl Into<String>) -> Failure {
    Failure::Fault(Fault::system(code, message, false))
}

/// Serves one consultation operation for an authenticated caller.
///
/// `request` is the element inside `soap:Body`. The handler first delivers any delayed
/// publication that is due at `now`, then dispatches on the element's local name.
pub fn handle_consultation(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    now: Timestamp,
    options: &ConsultationOptions,
) -> Result<SoapReply, Fault> {
    let operation = request.tag_name().name();
    if request.tag_name().namespace() != Some(CONSULTATION_NS) {
        let namespace = request.tag_name().namespace().unwrap_or("no namespace");
        return Err(Fault::system(
            options.codes.schema_violation.clone(),
            format!(
                "element {operation} in {namespace} is not a consultation v3 request; use namespace {CONSULTATION_NS}"
            ),
            false,
        ));
    }

    platform.deliver_due(now);
    let result = match operation {
        "GetBoxInfoRequest" => get_box_info(platform, caller, request, options),
        "GetMessagesListRequest" => {
            listing::get_messages_list(platform, caller, request, now, options)
        }
        "GetAllEhboxesMessagesListRequest" => {
            listing::get_all_ehboxes_messages_list(platform, caller, request, options)
        }
        "GetFullMessageRequest" => {
            full_message::get_full_message(platform, caller, request, now, options)
        }
        "MoveMessageRequest" => folders::move_message(platform, caller, request, options),
        "DeleteMessageRequest" => folders::delete_message(platform, caller, request, now, options),
        "GetHistoryRequest" => folders::get_history(platform, caller, request, options),
        // TODO: getMessageAcknowledgmentsStatus and the out-of-office operations (insertOoO,
        // deleteOoO, getOoOList, and code 826 on sendMessage) are not simulated yet.
        other => Err(schema_violation(
            &options.codes,
            format!("consultation operation {other} is not supported by the simulator"),
        )),
    };

    result.or_else(|failure| {
        failure_reply(CONSULTATION_NS, operation, failure, options.business_errors)
    })
}

/// Turns a failure into a fault, or into a status response when `style` selects that.
pub(crate) fn failure_reply(
    namespace: &str,
    operation: &str,
    failure: Failure,
    style: BusinessErrorStyle,
) -> Result<SoapReply, Fault> {
    match failure {
        Failure::Fault(fault) => {
            tracing::info!(operation, code = %fault.code, message = %fault.message, "request rejected with a fault");
            Err(fault)
        }
        Failure::Business { code, message } => match style {
            BusinessErrorStyle::Fault => {
                tracing::info!(
                    operation,
                    code,
                    message,
                    "request rejected with a business fault"
                );
                Err(Fault::business(code, message))
            }
            BusinessErrorStyle::Status => {
                tracing::info!(
                    operation,
                    code,
                    message,
                    "request rejected with a status response"
                );
                let body = XmlWriter::response(namespace, &response_name(operation), &[], |w| {
                    write_status(w, &code, &message)
                });
                Ok(SoapReply {
                    body,
                    attachments: Vec::new(),
                })
            }
        },
    }
}

/// Returns the response element name for a request element name (`XxxRequest` → `XxxResponse`).
pub(crate) fn response_name(operation: &str) -> String {
    match operation.strip_suffix("Request") {
        Some(stem) => format!("{stem}Response"),
        None => format!("{operation}Response"),
    }
}

/// Resolves which box a consultation request acts on, from its optional `BoxId`.
pub(crate) fn resolve_box(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    codes: &ConsultationCodes,
) -> Result<BoxKey, Failure> {
    resolve_box_with(
        platform,
        caller,
        request,
        &codes.box_not_accessible,
        &codes.schema_violation,
    )
}

/// Resolves which box a request acts on, from its optional `BoxId`, with the given codes for a
/// refused box and a malformed `BoxId`.
pub(crate) fn resolve_box_with(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    box_not_accessible: &str,
    schema_violation_code: &str,
) -> Result<BoxKey, Failure> {
    let Some(box_id) = child(request, "BoxId") else {
        return platform.personal_box(caller).ok_or_else(|| {
            Failure::Fault(Fault::not_authorised(format!(
                "the token of {} grants no quality with a personal eHealthBox; request a token with the doctor attribute",
                caller.ssin
            )))
        });
    };

    let key = read_box_key(box_id).map_err(|missing| {
        schema_fault(
            schema_violation_code,
            format!("BoxId has no {missing} element; send Id, Type and Quality"),
        )
    })?;
    let is_personal = caller
        .personal_quality()
        .is_some_and(|quality| key == BoxKey::person(caller.ssin.clone(), quality));
    if is_personal && platform.personal_box(caller).is_some() {
        return Ok(key);
    }
    if platform.has_granted_access(&caller.ssin, &key) && platform.box_ref(&key).is_some() {
        return Ok(key);
    }
    Err(Failure::business(
        box_not_accessible,
        format!(
            "BoxId {key} is invalid or not accessible to {}",
            caller.ssin
        ),
    ))
}

/// Reads the `Source` folder of a list, move or delete request (default INBOX).
pub(crate) fn read_list_source(
    request: Node<'_, '_>,
    codes: &ConsultationCodes,
) -> Result<Folder, Failure> {
    let Some(text) = child_text(request, "Source") else {
        return Ok(Folder::Inbox);
    };
    Folder::from_wire(text).ok_or_else(|| {
        schema_violation(
            codes,
            format!("Source {text:?} is not a folder; use INBOX, SENTBOX, BININBOX or BINSENTBOX"),
        )
    })
}

/// Reads the 1 to 100 `MessageId` children of a move or delete request, without duplicates.
pub(crate) fn read_message_ids(
    request: Node<'_, '_>,
    codes: &ConsultationCodes,
) -> Result<Vec<String>, Failure> {
    let mut ids: Vec<String> = Vec::new();
    for node in children(request, "MessageId") {
        let id = check_message_id(element_text(node), codes)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let count = children(request, "MessageId").count();
    if count == 0 || count > 100 {
        return Err(schema_violation(
            codes,
            format!("{count} MessageId elements sent; send between 1 and 100"),
        ));
    }
    Ok(ids)
}

/// Checks the `[a-zA-Z0-9]{13}` format of a MessageId.
pub(crate) fn check_message_id(text: &str, codes: &ConsultationCodes) -> Result<String, Failure> {
    if text.len() == 13 && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(text.to_owned())
    } else {
        Err(schema_violation(
            codes,
            format!("MessageId {text:?} is invalid; a MessageId is 13 letters or digits"),
        ))
    }
}

/// getBoxInfo: the box identity, the stand-by count and the quota.
fn get_box_info(
    platform: &mut Platform,
    caller: &Caller,
    request: Node<'_, '_>,
    options: &ConsultationOptions,
) -> Result<SoapReply, Failure> {
    let key = resolve_box(platform, caller, request, &options.codes)?;
    let Some(ehealth_box) = platform.box_ref(&key) else {
        return Err(Failure::business(
            &options.codes.box_not_accessible,
            format!("box {key} not found"),
        ));
    };

    let body = XmlWriter::response(CONSULTATION_NS, "GetBoxInfoResponse", &[], |w| {
        write_status(w, SUCCESS_CODE, SUCCESS_MESSAGE);
        write_box_id(w, "BoxId", &ehealth_box.key);
        w.text(
            "NbrMessagesInStandBy",
            &ehealth_box.standby_count().to_string(),
        );
        w.text("CurrentSize", &ehealth_box.current_size().to_string());
        w.text("MaxSize", &ehealth_box.max_size.to_string());
    });
    Ok(SoapReply {
        body,
        attachments: Vec::new(),
    })
}
