//! Reading the replies of eHealthBox consultation v3.
//!
//! The response element must be the expected one in the consultation namespace. Its children
//! are looked up by local name only, because the schemas leave them unqualified and a lenient
//! reader costs nothing. Each missing required element is reported by name.

use roxmltree::{Document, Node};

use super::content::{self, DoubleBase64};
use super::model::{
    Acknowledgment, BoxId, BoxInfo, ContentType, ErrorReport, FreeInformation, FullMessage,
    MessageSummary, Payload, Sender,
};
use super::request::CONSULTATION_NS;
use crate::ehealth::endpoints::BusinessCodes;
use crate::ehealth::errors::{self, EhealthError};
use crate::ehealth::transport::SoapReply;
use crate::xmlsec::ns;

/// Status codes that mean success (100 is the documented one; 200 is seen too).
const SUCCESS_CODES: [&str; 2] = ["100", "200"];

/// A reader for one reply, carrying the operation name into its errors.
#[derive(Debug, Clone, Copy)]
pub struct ReplyReader<'a> {
    pub operation: &'a str,
    pub codes: &'a BusinessCodes,
}

impl<'a> ReplyReader<'a> {
    fn malformed(&self, element: &str, detail: impl Into<String>) -> EhealthError {
        EhealthError::malformed(self.operation, element, detail)
    }

    /// Parses the envelope text.
    pub fn parse<'input>(&self, envelope: &'input str) -> Result<Document<'input>, EhealthError> {
        Document::parse(envelope)
            .map_err(|error| self.malformed("soap:Envelope", error.to_string()))
    }

    /// Returns the response element `local_name` in the Body, after checking its Status.
    pub fn response<'d, 'input>(
        &self,
        document: &'d Document<'input>,
        local_name: &str,
    ) -> Result<Node<'d, 'input>, EhealthError> {
        let body = document
            .root_element()
            .children()
            .find(|node| node.has_tag_name((ns::SOAP, "Body")))
            .ok_or_else(|| self.malformed("soap:Body", "missing"))?;
        let response = body
            .children()
            .find(|node| node.is_element())
            .ok_or_else(|| self.malformed("soap:Body", "empty"))?;
        if !response.has_tag_name((CONSULTATION_NS, local_name)) {
            return Err(self.malformed(
                local_name,
                format!(
                    "the Body holds {{{}}}{} instead",
                    response.tag_name().namespace().unwrap_or(""),
                    response.tag_name().name()
                ),
            ));
        }
        self.check_status(response)?;
        Ok(response)
    }

    fn check_status(&self, response: Node<'_, '_>) -> Result<(), EhealthError> {
        let status =
            child(response, "Status").ok_or_else(|| self.malformed("Status", "missing"))?;
        let code = text(status, "Code").ok_or_else(|| self.malformed("Status/Code", "missing"))?;
        if SUCCESS_CODES.contains(&code.as_str()) {
            return Ok(());
        }
        let message = children(status, "Message")
            .map(|node| node_text(node))
            .collect::<Vec<_>>()
            .join(" / ");
        Err(errors::classify_status(
            self.operation,
            &code,
            &message,
            self.codes,
        ))
    }

    fn required(&self, parent: Node<'_, '_>, name: &str) -> Result<String, EhealthError> {
        text(parent, name).ok_or_else(|| {
            self.malformed(name, format!("missing in <{}>", parent.tag_name().name()))
        })
    }

    fn required_child<'d, 'input>(
        &self,
        parent: Node<'d, 'input>,
        name: &str,
    ) -> Result<Node<'d, 'input>, EhealthError> {
        child(parent, name).ok_or_else(|| {
            self.malformed(name, format!("missing in <{}>", parent.tag_name().name()))
        })
    }

    fn number(&self, parent: Node<'_, '_>, name: &str) -> Result<u64, EhealthError> {
        let value = self.required(parent, name)?;
        value
            .parse()
            .map_err(|_| self.malformed(name, format!("{value:?} is not a whole number")))
    }

    pub fn box_info(&self, response: Node<'_, '_>) -> Result<BoxInfo, EhealthError> {
        let box_id = self.box_id(self.required_child(response, "BoxId")?)?;
        Ok(BoxInfo {
            box_id,
            messages_in_standby: self.number(response, "NbrMessagesInStandBy")?,
            current_size: self.number(response, "CurrentSize")?,
            max_size: self.number(response, "MaxSize")?,
        })
    }

    fn box_id(&self, element: Node<'_, '_>) -> Result<BoxId, EhealthError> {
        Ok(BoxId {
            id: self.required(element, "Id")?,
            id_type: self.required(element, "Type")?,
            sub_type: text(element, "SubType"),
            quality: self.required(element, "Quality")?,
        })
    }

    fn sender(&self, element: Node<'_, '_>) -> Result<Sender, EhealthError> {
        Ok(Sender {
            id: self.required(element, "Id")?,
            id_type: self.required(element, "Type")?,
            sub_type: text(element, "SubType"),
            quality: self.required(element, "Quality")?,
            name: text(element, "Name").unwrap_or_default(),
            first_name: text(element, "FirstName"),
            person_in_organisation: text(element, "PersonInOrganisation"),
        })
    }

    /// The `Message` entries of a getMessagesList page.
    pub fn message_list(
        &self,
        response: Node<'_, '_>,
    ) -> Result<Vec<MessageSummary>, EhealthError> {
        children(response, "Message")
            .map(|message| self.summary(message))
            .collect()
    }

    fn summary(&self, message: Node<'_, '_>) -> Result<MessageSummary, EhealthError> {
        let message_id = self.required(message, "MessageId")?;
        let sender = self.sender(self.required_child(message, "Sender")?)?;
        let destination = child(message, "Destination")
            .map(|node| self.box_id(node))
            .transpose()?;
        let info = child(message, "MessageInfo");
        let content_info = child(message, "ContentInfo");
        let specification = self.required_child(message, "ContentSpecification")?;

        Ok(MessageSummary {
            message_id,
            destination,
            sender,
            publication_date: info.and_then(|node| text(node, "PublicationDate")),
            expiration_date: info.and_then(|node| text(node, "ExpirationDate")),
            size: info.and_then(|node| text(node, "Size")),
            title: content_info.and_then(|node| text(node, "Title")),
            mime_type: content_info.and_then(|node| text(node, "MimeType")),
            has_annex: content_info.is_some_and(|node| flag(node, "HasAnnex")),
            content_type: ContentType::from_wire(&self.required(specification, "ContentType")?),
            application_name: text(specification, "ApplicationName"),
            is_important: flag(specification, "IsImportant"),
            is_encrypted: flag(specification, "IsEncrypted"),
        })
    }

    /// The `MessageId` children of a move, delete or history reply.
    pub fn message_ids(&self, response: Node<'_, '_>) -> Vec<String> {
        children(response, "MessageId").map(node_text).collect()
    }

    /// A getFullMessage reply, with binary content resolved from `reply`'s MIME parts.
    pub fn full_message(
        &self,
        response: Node<'_, '_>,
        reply: &SoapReply,
        double_base64: DoubleBase64,
    ) -> Result<FullMessage, EhealthError> {
        let sender = self.sender(self.required_child(response, "Sender")?)?;
        let message = self.required_child(response, "Message")?;
        let message_id = message
            .attribute("MessageId")
            .map(str::to_owned)
            .ok_or_else(|| self.malformed("Message", "no MessageId attribute"))?;
        let context = self.required_child(message, "ContentContext")?;
        let content = self.required_child(context, "Content")?;
        let specification = self.required_child(context, "ContentSpecification")?;
        let is_encrypted = flag(specification, "IsEncrypted");
        let decoder = FieldDecoder {
            reader: *self,
            reply,
            is_encrypted,
            double_base64,
        };

        Ok(FullMessage {
            message_id,
            publication_id: text(message, "PublicationId"),
            sender,
            destinations: children(message, "DestinationContext")
                .map(|node| self.box_id(node))
                .collect::<Result<_, _>>()?,
            content_type: ContentType::from_wire(&self.required(specification, "ContentType")?),
            application_name: text(specification, "ApplicationName"),
            is_important: flag(specification, "IsImportant"),
            is_encrypted,
            document: decoder.document(self.required_child(content, "Document")?)?,
            free_information: child(content, "FreeInformations")
                .map(|node| decoder.free_information(node))
                .transpose()?,
            patient_inss: child(content, "EncryptableINSSPatient")
                .map(|node| decoder.inline_field(node))
                .transpose()?,
            annexes: children(content, "Annex")
                .map(|node| decoder.annex(node))
                .collect::<Result<_, _>>()?,
            acknowledgment: child(content, "Acknowledgment")
                .map(|node| self.acknowledgment(node))
                .transpose()?,
            error: child(content, "Error")
                .map(|node| self.error_report(node))
                .transpose()?,
            size: child(response, "MessageInfo").and_then(|node| text(node, "Size")),
            raw_envelope: reply.envelope.clone(),
        })
    }

    fn acknowledgment(&self, element: Node<'_, '_>) -> Result<Acknowledgment, EhealthError> {
        Ok(Acknowledgment {
            message_id: self.required(element, "MessageId")?,
            ack_type: self.required(element, "AckType")?,
            date_time: text(element, "DateTime"),
        })
    }

    fn error_report(&self, element: Node<'_, '_>) -> Result<ErrorReport, EhealthError> {
        Ok(ErrorReport {
            code: self.required(element, "Code")?,
            messages: children(element, "Message").map(node_text).collect(),
            publication_id: element.attribute("PublicationId").map(str::to_owned),
        })
    }
}

/// Decodes the Encryptable fields of one full message.
struct FieldDecoder<'a> {
    reader: ReplyReader<'a>,
    reply: &'a SoapReply,
    is_encrypted: bool,
    double_base64: DoubleBase64,
}

impl FieldDecoder<'_> {
    fn document(&self, element: Node<'_, '_>) -> Result<Payload, EhealthError> {
        let title = self.reader.required(element, "Title")?.into_bytes();
        self.payload(element, title)
    }

    fn annex(&self, element: Node<'_, '_>) -> Result<Payload, EhealthError> {
        let title = match child(element, "EncryptableTitle") {
            Some(node) => self.inline_field(node)?,
            None => Vec::new(),
        };
        self.payload(element, title)
    }

    fn payload(&self, element: Node<'_, '_>, title: Vec<u8>) -> Result<Payload, EhealthError> {
        let content_element = child(element, "EncryptableBinaryContent")
            .or_else(|| child(element, "EncryptableTextContent"))
            .ok_or_else(|| {
                self.reader.malformed(
                    "EncryptableBinaryContent",
                    format!(
                        "neither it nor EncryptableTextContent in <{}>",
                        element.tag_name().name()
                    ),
                )
            })?;
        let name = content_element.tag_name().name();
        let (bytes, transfer) = content::binary_value(content_element, self.reply)
            .map_err(|error| self.reader.malformed(name, error.detail))?;
        let content = if self.is_encrypted {
            content::undo_double_base64_sealed(bytes)
        } else if self.double_base64.plain_payloads {
            content::undo_double_base64_plain(bytes)
        } else {
            bytes
        };
        Ok(Payload {
            title,
            content,
            transfer,
            download_file_name: text(element, "DownloadFileName"),
            mime_type: text(element, "MimeType"),
        })
    }

    /// An inline base64Binary field (titles, free text, INSS, table cells).
    fn inline_field(&self, element: Node<'_, '_>) -> Result<Vec<u8>, EhealthError> {
        let name = element.tag_name().name();
        let (bytes, _) = content::binary_value(element, self.reply)
            .map_err(|error| self.reader.malformed(name, error.detail))?;
        Ok(if self.is_encrypted {
            content::undo_double_base64_sealed(bytes)
        } else {
            bytes
        })
    }

    fn free_information(&self, element: Node<'_, '_>) -> Result<FreeInformation, EhealthError> {
        if let Some(text) = child(element, "EncryptableFreeText") {
            return Ok(FreeInformation::Text(self.inline_field(text)?));
        }
        if let Some(table) = child(element, "Table") {
            let rows = children(table, "Row")
                .map(|row| {
                    let cell = |name| match child(row, name) {
                        Some(node) => self.inline_field(node),
                        None => Ok(Vec::new()),
                    };
                    Ok((cell("EncryptableLeftCell")?, cell("EncryptableRightCell")?))
                })
                .collect::<Result<_, EhealthError>>()?;
            return Ok(FreeInformation::Table {
                title: table.attribute("Title").map(str::to_owned),
                rows,
            });
        }
        if let Some(old) = child(element, "EncryptableOldFreeInformation") {
            return Ok(FreeInformation::Old {
                render: old.attribute("Render").map(str::to_owned),
                content: self.inline_field(old)?,
            });
        }
        Err(self.reader.malformed(
            "FreeInformations",
            "none of EncryptableFreeText, Table or EncryptableOldFreeInformation",
        ))
    }
}

fn child<'a, 'input>(parent: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    parent
        .children()
        .find(|node| node.is_element() && node.tag_name().name() == name)
}

fn children<'a, 'input>(
    parent: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    parent
        .children()
        .filter(move |node| node.is_element() && node.tag_name().name() == name)
}

fn node_text(node: Node<'_, '_>) -> String {
    node.children()
        .filter(|child| child.is_text())
        .filter_map(|child| child.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

fn text(parent: Node<'_, '_>, name: &str) -> Option<String> {
    child(parent, name).map(node_text)
}

fn flag(parent: Node<'_, '_>, name: &str) -> bool {
    text(parent, name).is_some_and(|value| value == "true" || value == "1")
}
