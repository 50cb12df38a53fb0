//! Tests of the eHealthBox platform, driven by XML requests written the way clients send them:
//! a prefixed request element with unqualified children.

mod consultation;
mod full_message;
mod lifecycle;
mod publication;

use jiff::{SignedDuration, Timestamp};
use roxmltree::{Document as XmlDocument, Node};

use super::*;
use crate::caller::Caller;
use crate::wire::{Fault, SoapReply};

pub(super) const DOCTOR_A: &str = "79021802145";
pub(super) const DOCTOR_B: &str = "81050512367";
pub(super) const NOT_A_DOCTOR: &str = "90010112345";

/// 2026-01-05T09:00:00Z, a fixed starting instant.
pub(super) fn start() -> Timestamp {
    Timestamp::from_second(1_767_603_600).expect("valid timestamp")
}

pub(super) fn later(seconds: i64) -> Timestamp {
    start() + SignedDuration::from_secs(seconds)
}

pub(super) fn doctor(ssin: &str) -> Caller {
    Caller {
        ssin: ssin.to_owned(),
        is_doctor: true,
        nihii11: Some("10012345001".to_owned()),
        assertion_id: format!("assertion-{ssin}"),
    }
}

pub(super) fn not_a_doctor(ssin: &str) -> Caller {
    Caller {
        ssin: ssin.to_owned(),
        is_doctor: false,
        nihii11: None,
        assertion_id: "assertion".to_owned(),
    }
}

pub(super) fn doctor_box(ssin: &str) -> BoxKey {
    BoxKey::person(ssin, "DOCTOR")
}

pub(super) fn hospital_box() -> BoxKey {
    BoxKey::organisation("71000436", "NIHII", "HOSPITAL", "HOSPITAL")
}

/// Creates a platform with the personal boxes of doctors A and B, owned by named users.
pub(super) fn platform() -> Platform {
    let mut platform = Platform::new(PlatformConfig::default());
    for (ssin, first, last) in [(DOCTOR_A, "Jan", "Peeters"), (DOCTOR_B, "Marie", "Dubois")] {
        let owner = User {
            inss: ssin.to_owned(),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
        };
        platform
            .create_box(
                doctor_box(ssin),
                BoxSettings {
                    owner: Some(owner),
                    ..BoxSettings::default()
                },
            )
            .expect("new box");
    }
    platform
}

pub(super) fn hospital_sender() -> Sender {
    Sender {
        key: hospital_box(),
        name: "AZ Simulatie".to_owned(),
        first_name: None,
        person_in_organisation: Some("65010112345".to_owned()),
    }
}

/// Creates a plain DOCUMENT from the hospital to `to`.
pub(super) fn letter(to: &BoxKey, content: &[u8]) -> NewMessage {
    NewMessage::document(
        hospital_sender(),
        vec![Destination::to_box(to.clone())],
        Document {
            title: "Lab result".to_owned(),
            content: content.to_vec(),
            download_file_name: "result.txt".to_owned(),
            mime_type: "text/plain".to_owned(),
        },
    )
}

/// Delivers `count` letters to `to`, one second apart; returns their MessageIds, oldest first.
pub(super) fn seed_letters(platform: &mut Platform, to: &BoxKey, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let content = format!("letter {i}");
            let report = platform
                .deliver_message(letter(to, content.as_bytes()), later(i as i64))
                .expect("delivery to an existing box");
            report.message_id
        })
        .collect()
}

pub(super) fn consult(
    platform: &mut Platform,
    caller: &Caller,
    request: &str,
    now: Timestamp,
    options: &ConsultationOptions,
) -> Result<SoapReply, Fault> {
    let document = XmlDocument::parse(request).expect("test request is well-formed XML");
    handle_consultation(platform, caller, document.root_element(), now, options)
}

/// Wraps children into a consultation request element with the `cons` prefix.
pub(super) fn consultation_request(operation: &str, children: &str) -> String {
    format!(r#"<cons:{operation} xmlns:cons="{CONSULTATION_NS}">{children}</cons:{operation}>"#)
}

pub(super) fn list_request(source: &str, start: usize, end: usize) -> String {
    consultation_request(
        "GetMessagesListRequest",
        &format!(
            "<Source>{source}</Source><StartIndex>{start}</StartIndex><EndIndex>{end}</EndIndex>"
        ),
    )
}

pub(super) fn ids_request(operation: &str, prefix: &str, ids: &[&str]) -> String {
    let ids: String = ids
        .iter()
        .map(|id| format!("<MessageId>{id}</MessageId>"))
        .collect();
    consultation_request(operation, &format!("{prefix}{ids}"))
}

/// Returns the text of every element with local name `name`, in document order.
pub(super) fn texts(body: &str, name: &str) -> Vec<String> {
    let document = XmlDocument::parse(body).expect("response is well-formed XML");
    document
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or("").to_owned())
        .collect()
}

/// Returns the text of the first element named `name`.
pub(super) fn text(body: &str, name: &str) -> String {
    texts(body, name)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

/// Returns the MessageIds of a list response, in order.
pub(super) fn listed_ids(reply: &SoapReply) -> Vec<String> {
    let document = XmlDocument::parse(&reply.body).expect("response is well-formed XML");
    document
        .root_element()
        .children()
        .filter(|n| n.tag_name().name() == "Message")
        .filter_map(|m| m.children().find(|c| c.tag_name().name() == "MessageId"))
        .map(|n| n.text().unwrap_or("").to_owned())
        .collect()
}

/// Asserts the unqualified form: the root is prefixed and in `namespace`, every descendant element
/// is in no namespace (except `xop:Include` when `allow_xop`), and no default namespace exists.
pub(super) fn assert_unqualified(body: &str, namespace: &str, allow_xop: bool) {
    let document = XmlDocument::parse(body).expect("response is well-formed XML");
    let root = document.root_element();
    assert_eq!(
        root.tag_name().namespace(),
        Some(namespace),
        "root namespace of {body}"
    );
    assert!(
        body.starts_with("<ns:"),
        "root element is not prefixed: {body}"
    );
    assert!(
        !body.contains("xmlns=\""),
        "a default namespace is declared: {body}"
    );

    for node in root.descendants().filter(|n| n.is_element() && *n != root) {
        if allow_xop && is_xop_include(node) {
            continue;
        }
        assert_eq!(
            node.tag_name().namespace(),
            None,
            "element {} is namespace-qualified in {body}",
            node.tag_name().name()
        );
    }
}

fn is_xop_include(node: Node<'_, '_>) -> bool {
    node.tag_name().namespace() == Some(XOP_NS) && node.tag_name().name() == "Include"
}

/// Returns the business code of a fault, failing the test if the call succeeded.
pub(super) fn fault_code(result: Result<SoapReply, Fault>) -> String {
    match result {
        Ok(reply) => panic!("expected a fault, got {}", reply.body),
        Err(fault) => fault.code,
    }
}
