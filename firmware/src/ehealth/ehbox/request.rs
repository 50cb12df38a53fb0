//! The request bodies of eHealthBox consultation v3.
//!
//! Only the request element is namespace-qualified (prefix `ehbox`); the schemas are
//! `elementFormDefault="unqualified"`, so every child is in no namespace and the root never
//! declares a default namespace.

use quick_xml::escape::escape;

use super::model::{BoxId, Source};

/// The consultation v3 protocol namespace.
pub const CONSULTATION_NS: &str = "urn:be:fgov:ehealth:ehbox:consultation:protocol:v3";

/// The maximum number of ids in one move or delete call, and of messages in one list page.
pub const MAX_BATCH: usize = 100;

/// Builds a request element `ehbox:<name>` around `children`.
fn request(name: &str, box_id: Option<&BoxId>, children: &str) -> String {
    let box_id = box_id.map(box_id_xml).unwrap_or_default();
    format!("<ehbox:{name} xmlns:ehbox=\"{CONSULTATION_NS}\">{box_id}{children}</ehbox:{name}>")
}

fn element(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", escape(text))
}

fn box_id_xml(box_id: &BoxId) -> String {
    let sub_type = box_id
        .sub_type
        .as_deref()
        .map(|sub_type| element("SubType", sub_type))
        .unwrap_or_default();
    format!(
        "<BoxId>{}{}{sub_type}{}</BoxId>",
        element("Id", &box_id.id),
        element("Type", &box_id.id_type),
        element("Quality", &box_id.quality)
    )
}

pub fn get_box_info(box_id: Option<&BoxId>) -> String {
    request("GetBoxInfoRequest", box_id, "")
}

/// One page of `source`, indexes 1-based and inclusive.
pub fn get_messages_list(
    box_id: Option<&BoxId>,
    source: Source,
    start: usize,
    end: usize,
) -> String {
    let children = format!(
        "{}{}{}",
        element("Source", source.as_str()),
        element("StartIndex", &start.to_string()),
        element("EndIndex", &end.to_string())
    );
    request("GetMessagesListRequest", box_id, &children)
}

/// `source` is INBOX or SENTBOX (the schema allows HISTORY too, and no bin folder).
pub fn get_full_message(box_id: Option<&BoxId>, source: &str, message_id: &str) -> String {
    let children = format!(
        "{}{}",
        element("Source", source),
        element("MessageId", message_id)
    );
    request("GetFullMessageRequest", box_id, &children)
}

pub fn get_history(box_id: Option<&BoxId>, source: &str, message_id: &str) -> String {
    let children = format!(
        "{}{}",
        element("Source", source),
        element("MessageId", message_id)
    );
    request("GetHistoryRequest", box_id, &children)
}

pub fn move_message(
    box_id: Option<&BoxId>,
    source: Source,
    destination: Source,
    message_ids: &[String],
) -> String {
    let mut children = format!(
        "{}{}",
        element("Source", source.as_str()),
        element("Destination", destination.as_str())
    );
    for id in message_ids {
        children.push_str(&element("MessageId", id));
    }
    request("MoveMessageRequest", box_id, &children)
}

pub fn delete_message(box_id: Option<&BoxId>, source: Source, message_ids: &[String]) -> String {
    let mut children = element("Source", source.as_str());
    for id in message_ids {
        children.push_str(&element("MessageId", id));
    }
    request("DeleteMessageRequest", box_id, &children)
}

/// Checks the schema's MessageId format: exactly 13 ASCII letters and digits.
pub fn is_valid_message_id(id: &str) -> bool {
    id.len() == 13 && id.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use roxmltree::Document;

    fn children(xml: &str) -> Vec<(Option<String>, String, String)> {
        let document = Document::parse(xml).unwrap();
        document
            .root_element()
            .children()
            .filter(|node| node.is_element())
            .map(|node| {
                (
                    node.tag_name().namespace().map(str::to_owned),
                    node.tag_name().name().to_owned(),
                    node.text().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn list_request_has_prefixed_root_and_unqualified_children() {
        let xml = get_messages_list(None, Source::Inbox, 101, 200);
        assert_eq!(
            xml,
            "<ehbox:GetMessagesListRequest xmlns:ehbox=\"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3\">\
             <Source>INBOX</Source><StartIndex>101</StartIndex><EndIndex>200</EndIndex>\
             </ehbox:GetMessagesListRequest>"
        );
        let document = Document::parse(&xml).unwrap();
        assert_eq!(
            document.root_element().tag_name().namespace(),
            Some(CONSULTATION_NS)
        );
        for (namespace, name, _) in children(&xml) {
            assert_eq!(namespace, None, "<{name}> must be unqualified");
        }
    }

    #[test]
    fn box_id_comes_first() {
        let box_id = BoxId {
            id: "0123456789".to_owned(),
            id_type: "CBE".to_owned(),
            sub_type: Some("HOSPITAL".to_owned()),
            quality: "HOSPITAL".to_owned(),
        };
        let xml = get_box_info(Some(&box_id));
        let document = Document::parse(&xml).unwrap();
        let box_element = document.root_element().first_element_child().unwrap();
        assert_eq!(box_element.tag_name().name(), "BoxId");
        assert_eq!(box_element.tag_name().namespace(), None);
        let names: Vec<&str> = box_element
            .children()
            .filter(|node| node.is_element())
            .map(|node| node.tag_name().name())
            .collect();
        assert_eq!(names, ["Id", "Type", "SubType", "Quality"]);
        assert!(
            box_element
                .descendants()
                .all(|node| node.tag_name().namespace().is_none())
        );
    }

    #[test]
    fn move_request_lists_ids() {
        let ids = vec!["AAAAAAAAAAAA1".to_owned(), "AAAAAAAAAAAA2".to_owned()];
        let xml = move_message(None, Source::Inbox, Source::BinInbox, &ids);
        let names: Vec<(String, String)> = children(&xml)
            .into_iter()
            .map(|(_, name, text)| (name, text))
            .collect();
        assert_eq!(
            names,
            [
                ("Source".to_owned(), "INBOX".to_owned()),
                ("Destination".to_owned(), "BININBOX".to_owned()),
                ("MessageId".to_owned(), "AAAAAAAAAAAA1".to_owned()),
                ("MessageId".to_owned(), "AAAAAAAAAAAA2".to_owned()),
            ]
        );
    }

    #[test]
    fn full_message_and_delete_requests() {
        let xml = get_full_message(None, "INBOX", "A1B2C3D4E5F6G");
        assert!(
            xml.starts_with("<ehbox:GetFullMessageRequest xmlns:ehbox="),
            "{xml}"
        );
        assert!(xml.contains("<Source>INBOX</Source><MessageId>A1B2C3D4E5F6G</MessageId>"));
        let xml = delete_message(None, Source::BinInbox, &["A1B2C3D4E5F6G".to_owned()]);
        assert!(xml.contains("<Source>BININBOX</Source><MessageId>A1B2C3D4E5F6G</MessageId>"));
        let xml = get_history(None, "INBOX", "A1B2C3D4E5F6G");
        assert!(xml.starts_with("<ehbox:GetHistoryRequest "), "{xml}");
    }

    #[test]
    fn message_id_format() {
        assert!(is_valid_message_id("A1B2C3D4E5F6G"));
        assert!(!is_valid_message_id("A1B2C3D4E5F6"));
        assert!(!is_valid_message_id("A1B2C3D4E5F6<"));
    }
}
