//! Writers for the eHealthBox core types shared by several responses (identifiers, sender,
//! status, message info, content specification, acknowledgment and error content), and the
//! matching lenient reader for `BoxIdType`.

use roxmltree::Node;

use super::model::{
    Acknowledgment, BoxKey, Destination, ErrorContent, FreeInformation, Message, MetaEntry, Sender,
    User,
};
use super::platform::utc_date;
use super::xml::{XmlWriter, child_text};

/// The `Status/Code` of a successful response.
pub(crate) const SUCCESS_CODE: &str = "100";

/// Writes `<Status><Code>…</Code><Message Lang="EN">…</Message></Status>`.
pub(crate) fn write_status(w: &mut XmlWriter, code: &str, message: &str) {
    w.element("Status", |w| {
        w.text("Code", code);
        w.text_with("Message", &[("Lang", "EN")], message);
    });
}

/// Writes the `Id`, `Type`, `SubType?` and `Quality` children of an identifier.
fn write_key_fields(w: &mut XmlWriter, key: &BoxKey) {
    w.text("Id", &key.id);
    w.text("Type", &key.id_type);
    w.optional_text("SubType", key.sub_type.as_deref());
    w.text("Quality", &key.quality);
}

fn write_user(w: &mut XmlWriter, user: &User) {
    w.text_with(
        "User",
        &[
            ("FirstName", &user.first_name),
            ("LastName", &user.last_name),
        ],
        &user.inss,
    );
}

/// Writes a `BoxIdType` element.
pub(crate) fn write_box_id(w: &mut XmlWriter, name: &str, key: &BoxKey) {
    w.element(name, |w| write_key_fields(w, key));
}

/// Writes an `EhboxIdentifierType` element (identifier plus optional `User`).
pub(crate) fn write_identifier(w: &mut XmlWriter, name: &str, destination: &Destination) {
    w.element(name, |w| {
        write_key_fields(w, &destination.key);
        if let Some(user) = &destination.user {
            write_user(w, user);
        }
    });
}

/// Writes a `DestinationContext` of a full message, with its optional `Mandate`.
pub(crate) fn write_destination_context(w: &mut XmlWriter, destination: &Destination) {
    w.element("DestinationContext", |w| {
        write_key_fields(w, &destination.key);
        if let Some(user) = &destination.user {
            write_user(w, user);
        }
        if let Some(mandate) = &destination.mandate {
            w.element("Mandate", |w| {
                w.text("Id", &mandate.id);
                w.text("Type", &mandate.id_type);
                w.optional_text("SubType", mandate.sub_type.as_deref());
                w.optional_text("Name", mandate.name.as_deref());
            });
        }
    });
}

/// Writes a `SenderType` element named `Sender`.
pub(crate) fn write_sender(w: &mut XmlWriter, sender: &Sender) {
    w.element("Sender", |w| {
        write_key_fields(w, &sender.key);
        w.text("Name", &sender.name);
        w.optional_text("FirstName", sender.first_name.as_deref());
        w.optional_text(
            "PersonInOrganisation",
            sender.person_in_organisation.as_deref(),
        );
    });
}

/// Writes `MessageInfo`: publication and expiration dates (`xs:date`) and the size in bytes.
pub(crate) fn write_message_info(w: &mut XmlWriter, message: &Message) {
    w.element("MessageInfo", |w| {
        w.text(
            "PublicationDate",
            &utc_date(message.published_at).to_string(),
        );
        w.text("ExpirationDate", &message.expiration_date.to_string());
        w.text("Size", &message.size().to_string());
    });
}

/// Writes `ContentSpecification`; the receipt flags are written only when `with_receipts`.
pub(crate) fn write_content_specification(
    w: &mut XmlWriter,
    message: &Message,
    with_receipts: bool,
) {
    let content = &message.content;
    w.element("ContentSpecification", |w| {
        w.optional_text("ApplicationName", content.application_name.as_deref());
        w.text("ContentType", content.content_type.wire_name());
        w.text("IsImportant", bool_text(content.is_important));
        w.text("IsEncrypted", bool_text(content.is_encrypted));
        if with_receipts {
            w.text(
                "PublicationReceipt",
                bool_text(content.receipts.publication),
            );
            w.text("ReceivedReceipt", bool_text(content.receipts.received));
            w.text("ReadReceipt", bool_text(content.receipts.read));
        }
    });
}

pub(crate) fn write_custom_meta(w: &mut XmlWriter, entries: &[MetaEntry]) {
    for entry in entries {
        w.element("CustomMeta", |w| {
            w.text("Key", &entry.key);
            w.text("Value", &entry.value);
        });
    }
}

pub(crate) fn write_meta(w: &mut XmlWriter, entries: &[MetaEntry]) {
    for entry in entries {
        w.element("Meta", |w| {
            w.text("Type", &entry.key);
            w.text("Value", &entry.value);
        });
    }
}

pub(crate) fn write_free_information(w: &mut XmlWriter, free: &FreeInformation) {
    w.element("FreeInformations", |w| match free {
        FreeInformation::FreeText(text) => w.base64("EncryptableFreeText", text),
        FreeInformation::Table { title, rows } => {
            w.element_with("Table", &[("Title", title)], |w| {
                for (left, right) in rows {
                    w.element("Row", |w| {
                        w.base64("EncryptableLeftCell", left);
                        w.base64("EncryptableRightCell", right);
                    });
                }
            })
        }
        FreeInformation::OldFreeInformation { render, content } => {
            let attributes: Vec<(&str, &str)> =
                render.iter().map(|r| ("Render", r.as_str())).collect();
            w.element_with("EncryptableOldFreeInformation", &attributes, |w| {
                w.raw(&super::xml::encode_base64(content));
            });
        }
    });
}

pub(crate) fn write_acknowledgment(w: &mut XmlWriter, ack: &Acknowledgment) {
    w.element("Acknowledgment", |w| {
        w.text("MessageId", &ack.message_id);
        if let Some(recipient) = &ack.recipient {
            write_identifier(w, "Recipient", recipient);
        }
        w.text("AckType", ack.ack_type.wire_name());
        w.text("DateTime", &ack.date_time.to_string());
    });
}

pub(crate) fn write_error(w: &mut XmlWriter, error: &ErrorContent) {
    let attributes: Vec<(&str, &str)> = error
        .publication_id
        .iter()
        .map(|id| ("PublicationId", id.as_str()))
        .collect();
    w.element_with("Error", &attributes, |w| {
        w.text("Code", &error.code);
        for message in &error.messages {
            w.text("Message", message);
        }
        for failure in &error.failures {
            w.text("Failure", failure);
        }
        for destination in &error.destinations {
            write_identifier(w, "Destination", destination);
        }
    });
}

pub(crate) fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// Reads a `BoxIdType` (or any identifier) element; returns the name of the first missing child.
pub(crate) fn read_box_key(node: Node<'_, '_>) -> Result<BoxKey, &'static str> {
    let id = child_text(node, "Id")
        .filter(|t| !t.is_empty())
        .ok_or("Id")?;
    let id_type = child_text(node, "Type")
        .filter(|t| !t.is_empty())
        .ok_or("Type")?;
    let quality = child_text(node, "Quality")
        .filter(|t| !t.is_empty())
        .ok_or("Quality")?;
    let sub_type = child_text(node, "SubType").filter(|t| !t.is_empty());
    Ok(BoxKey {
        id: id.to_owned(),
        id_type: id_type.to_owned(),
        sub_type: sub_type.map(str::to_owned),
        quality: quality.to_owned(),
    })
}
