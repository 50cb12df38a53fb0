//! Reading and validating a publication v3 `SendMessageRequest` into a [`NewMessage`].
//!
//! Schema limits (lengths, required elements, enumerations) fail with the configured SOA code.
//! Recipient identifiers fail with 802 to 805, a forbidden recipient quality with 814, the size
//! limit with 801 and a wrong `Digest` with 816.

use roxmltree::Node;
use sha2::{Digest as _, Sha256};

use super::consultation::{Failure, schema_fault};
use super::model::{
    Annex, BoxKey, ContentType, Destination, Document, FreeInformation, Mandate, MetaEntry,
    NewMessage, Receipts, Sender, User,
};
use super::publication::PublicationOptions;
use super::xml::{child, child_text, children, decode_base64, element_text, encode_base64};
use crate::wire::Attachment;

/// Identifier types accepted on the eHealthBox wire.
const IDENTIFIER_TYPES: &[&str] = &["INSS", "NIHII", "CBE", "EHP"];

/// Recipient qualities the simulator accepts. The real platform has about fifty.
pub const KNOWN_QUALITIES: &[&str] = &[
    "DOCTOR",
    "NURSE",
    "DENTIST",
    "PHARMACIST",
    "PHYSIOTHERAPIST",
    "MIDWIFE",
    "CITIZEN",
    "HOSPITAL",
    "LABO",
    "GROUP_DOCTORS",
    "MEDICAL_HOUSE",
    "PHARMACY",
    "PSYCHIATRIC_HOSPITAL",
    "RETIREMENT",
    "HOME_SERVICES",
    "GUARD_POST",
    "OFFICE_DOCTORS",
    "OFFICE_DENTISTS",
    "INSTITUTION",
    "INSTITUTION_EHP",
    "EHP",
    "CTRL_ORGANISM",
    "AMBULANCE_RESCUER",
    "AUDIOLOGIST",
    "DIETICIAN",
    "LOGOPEDIST",
    "OCCUPATIONAL_THERAPIST",
    "ORTHOPEDIST",
    "ORTHOPTIST",
    "PODOLOGIST",
    "PRACTICALNURSE",
    "OPTICIAN",
    "AUDICIEN",
    "CLINICAL_PSYCHOLOGIST",
    "ORTHOPEDAGOGIST",
    "BANDAGIST",
    "DENTAL_HYGIENIST",
    "TREATMENT_CENTER",
    "LABO_TECHNOLOGIST",
    "IMAGING_TECHNOLOGIST",
];

/// Organisation sub types the simulator accepts.
pub const KNOWN_SUB_TYPES: &[&str] = &[
    "HOSPITAL",
    "PHARMACY",
    "GROUP_DOCTORS",
    "MEDICAL_HOUSE",
    "LABO",
    "PSYCHIATRIC_HOSPITAL",
    "RETIREMENT",
    "HOME_SERVICES",
    "GUARD_POST",
    "OFFICE_DOCTORS",
    "OFFICE_DENTISTS",
    "TREATMENT_CENTER",
    "CTRL_ORGANISM",
    "INSTITUTION",
    "EHEALTH",
];

/// A parsed request: the message and the publication id it carries.
#[derive(Debug)]
pub(crate) struct SendMessage {
    pub(crate) publication_id: String,
    pub(crate) message: NewMessage,
}

/// Reading context: the options (for codes and limits) and the request's MIME parts.
pub(crate) struct RequestReader<'o> {
    pub(crate) options: &'o PublicationOptions,
    pub(crate) attachments: &'o [Attachment],
}

impl RequestReader<'_> {
    /// Reads the whole request. `sender` is the sending box as resolved from `BoxId`.
    pub(crate) fn read(
        &self,
        request: Node<'_, '_>,
        sender: Sender,
    ) -> Result<SendMessage, Failure> {
        let publication_id = self.read_publication_id(request)?;

        let mut destinations = Vec::new();
        for node in children(request, "DestinationContext") {
            destinations.push(self.read_destination(node)?);
        }
        if destinations.is_empty() {
            return Err(self.schema(
                "SendMessageRequest has no DestinationContext; send at least one recipient",
            ));
        }

        let context = self.required_child(request, "ContentContext")?;
        let content = self.required_child(context, "Content")?;
        let specification = self.required_child(context, "ContentSpecification")?;

        let mut message = NewMessage::document(sender, destinations, self.read_document(content)?);
        message.publication_id = Some(publication_id.clone());
        message.free_information = self.read_free_information(content)?;
        message.patient_inss = self.optional_base64(content, "EncryptableINSSPatient")?;
        for node in children(content, "Annex") {
            message.annexes.push(self.read_annex(node)?);
        }
        self.read_specification(specification, &mut message)?;
        message.custom_meta = self.read_pairs(context, "CustomMeta", "Key", "Value", 250)?;
        message.meta = self.read_pairs(request, "Meta", "Type", "Value", 250)?;
        for node in children(request, "CopyMailTo") {
            message.copy_mail_to.push(
                self.limited(element_text(node), "CopyMailTo", 80)?
                    .to_owned(),
            );
        }

        self.check_size(&message)?;
        Ok(SendMessage {
            publication_id,
            message,
        })
    }

    fn read_publication_id(&self, request: Node<'_, '_>) -> Result<String, Failure> {
        let id = request.attribute("PublicationId").unwrap_or("").trim();
        if id.is_empty() || id.chars().count() > 13 {
            return Err(self.schema(format!(
                "PublicationId {id:?} is invalid; send an attribute of 1 to 13 characters"
            )));
        }
        Ok(id.to_owned())
    }

    fn read_destination(&self, node: Node<'_, '_>) -> Result<Destination, Failure> {
        let codes = &self.options.codes;
        let id = self.required_text(node, "Id")?;
        let id_type = self.required_text(node, "Type")?;
        let quality = self.required_text(node, "Quality")?;
        let sub_type = child_text(node, "SubType").filter(|t| !t.is_empty());

        if !IDENTIFIER_TYPES.contains(&id_type) {
            return Err(Failure::business(
                &codes.invalid_type,
                format!("recipient Type {id_type:?} is invalid; use INSS, NIHII, CBE or EHP"),
            ));
        }
        if !is_valid_identifier(id_type, id) {
            return Err(Failure::business(
                &codes.invalid_identifier,
                format!("recipient Id {id:?} is not a valid {id_type} number"),
            ));
        }
        if !KNOWN_QUALITIES.contains(&quality) {
            return Err(Failure::business(
                &codes.invalid_quality,
                format!("recipient Quality {quality:?} is not a known eHealthBox quality"),
            ));
        }
        if let Some(sub_type) = sub_type.filter(|s| !KNOWN_SUB_TYPES.contains(s)) {
            return Err(Failure::business(
                &codes.invalid_sub_type,
                format!("recipient SubType {sub_type:?} is not a known organisation kind"),
            ));
        }
        if self
            .options
            .forbidden_destination_qualities
            .iter()
            .any(|q| q == quality)
        {
            return Err(Failure::business(
                &codes.quality_not_allowed,
                format!("publishing to Quality {quality} is not allowed for this sender"),
            ));
        }

        let key = BoxKey {
            id: id.to_owned(),
            id_type: id_type.to_owned(),
            sub_type: sub_type.map(str::to_owned),
            quality: quality.to_owned(),
        };
        Ok(Destination {
            key,
            user: self.read_user(node)?,
            mandate: self.read_mandate(node)?,
        })
    }

    fn read_user(&self, node: Node<'_, '_>) -> Result<Option<User>, Failure> {
        let Some(user) = child(node, "User") else {
            return Ok(None);
        };
        let inss = element_text(user);
        if !(8..=13).contains(&inss.len()) {
            return Err(self.schema(format!(
                "User {inss:?} is invalid; send an INSZ of 8 to 13 characters"
            )));
        }
        let first_name = self.limited(
            user.attribute("FirstName").unwrap_or(""),
            "User/@FirstName",
            100,
        )?;
        let last_name = self.limited(
            user.attribute("LastName").unwrap_or(""),
            "User/@LastName",
            100,
        )?;
        Ok(Some(User {
            inss: inss.to_owned(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
        }))
    }

    fn read_mandate(&self, node: Node<'_, '_>) -> Result<Option<Mandate>, Failure> {
        let Some(mandate) = child(node, "Mandate") else {
            return Ok(None);
        };
        Ok(Some(Mandate {
            id: self.required_text(mandate, "Id")?.to_owned(),
            id_type: self.required_text(mandate, "Type")?.to_owned(),
            sub_type: child_text(mandate, "SubType").map(str::to_owned),
            name: child_text(mandate, "Name").map(str::to_owned),
        }))
    }

    fn read_document(&self, content: Node<'_, '_>) -> Result<Document, Failure> {
        let node = self.required_child(content, "Document")?;
        let title = self.limited(self.required_text(node, "Title")?, "Document/Title", 400)?;
        let bytes = self.read_content_bytes(node, "Document")?;
        self.check_digest(node, &bytes, "Document")?;
        Ok(Document {
            title: title.to_owned(),
            content: bytes,
            download_file_name: self.limited_child(node, "DownloadFileName", 255)?,
            mime_type: self.limited_child(node, "MimeType", 255)?,
        })
    }

    fn read_annex(&self, node: Node<'_, '_>) -> Result<Annex, Failure> {
        let title = self
            .optional_base64(node, "EncryptableTitle")?
            .ok_or_else(|| self.schema("Annex has no EncryptableTitle; send the annex title"))?;
        let bytes = self.read_content_bytes(node, "Annex")?;
        self.check_digest(node, &bytes, "Annex")?;
        Ok(Annex {
            title,
            content: bytes,
            download_file_name: self.limited_child(node, "DownloadFileName", 255)?,
            mime_type: self.limited_child(node, "MimeType", 255)?,
        })
    }

    /// Reads the transmitted bytes of a document or annex: inline `EncryptableTextContent`, or
    /// `EncryptableBinaryContent` referring to a MIME part by `cid:` (swaRef text or xop:Include).
    fn read_content_bytes(&self, node: Node<'_, '_>, what: &str) -> Result<Vec<u8>, Failure> {
        if let Some(bytes) = self.optional_base64(node, "EncryptableTextContent")? {
            return Ok(bytes);
        }
        let Some(binary) = child(node, "EncryptableBinaryContent") else {
            return Err(self.schema(format!(
                "{what} has neither EncryptableTextContent nor EncryptableBinaryContent; send one"
            )));
        };

        let reference = match child(binary, "Include") {
            Some(include) => include.attribute("href").unwrap_or(""),
            None => element_text(binary),
        };
        let content_id = reference.strip_prefix("cid:").unwrap_or(reference);
        let content_id = content_id.trim_start_matches('<').trim_end_matches('>');
        self.attachments
            .iter()
            .find(|a| a.content_id == content_id)
            .map(|a| a.bytes.clone())
            .ok_or_else(|| {
                self.schema(format!(
                    "{what} refers to MIME part {reference:?}, which the request does not contain"
                ))
            })
    }

    /// Checks `Digest` = base64(SHA-256(transmitted bytes)) when the sender supplied one.
    fn check_digest(&self, node: Node<'_, '_>, bytes: &[u8], what: &str) -> Result<(), Failure> {
        let Some(supplied) = child_text(node, "Digest") else {
            return Ok(());
        };
        let computed = encode_base64(&Sha256::digest(bytes));
        if supplied == computed {
            return Ok(());
        }
        Err(Failure::business(
            &self.options.codes.digest_mismatch,
            format!(
                "{what} Digest {supplied} does not match the SHA-256 of the transmitted content ({computed})"
            ),
        ))
    }

    fn read_free_information(
        &self,
        content: Node<'_, '_>,
    ) -> Result<Option<FreeInformation>, Failure> {
        let Some(free) = child(content, "FreeInformations") else {
            return Ok(None);
        };
        if let Some(text) = self.optional_base64(free, "EncryptableFreeText")? {
            return Ok(Some(FreeInformation::FreeText(text)));
        }
        if let Some(table) = child(free, "Table") {
            let mut rows = Vec::new();
            for row in children(table, "Row") {
                let left = self
                    .optional_base64(row, "EncryptableLeftCell")?
                    .unwrap_or_default();
                let right = self
                    .optional_base64(row, "EncryptableRightCell")?
                    .unwrap_or_default();
                rows.push((left, right));
            }
            let title = table.attribute("Title").unwrap_or("").to_owned();
            return Ok(Some(FreeInformation::Table { title, rows }));
        }
        if let Some(old) = child(free, "EncryptableOldFreeInformation") {
            let content = self.decode(element_text(old), "EncryptableOldFreeInformation")?;
            let render = old.attribute("Render").map(str::to_owned);
            return Ok(Some(FreeInformation::OldFreeInformation {
                render,
                content,
            }));
        }
        Err(self.schema("FreeInformations is empty; send EncryptableFreeText, Table or EncryptableOldFreeInformation"))
    }

    fn read_specification(
        &self,
        node: Node<'_, '_>,
        message: &mut NewMessage,
    ) -> Result<(), Failure> {
        message.application_name = match child_text(node, "ApplicationName") {
            Some(name) => Some(self.limited(name, "ApplicationName", 25)?.to_owned()),
            None => None,
        };
        let content_type = self.required_text(node, "ContentType")?;
        message.content_type = ContentType::from_wire(content_type).ok_or_else(|| {
            self.schema(format!(
                "ContentType {content_type:?} is invalid; use DOCUMENT, NEWS, ACKNOWLEDGMENT or ERROR"
            ))
        })?;
        message.is_important = self.read_bool(node, "IsImportant")?.unwrap_or(false);
        message.is_encrypted = self.read_bool(node, "IsEncrypted")?.unwrap_or(false);
        message.receipts = Receipts {
            publication: self.read_bool(node, "PublicationReceipt")?.unwrap_or(false),
            received: self.read_bool(node, "ReceivedReceipt")?.unwrap_or(false),
            read: self.read_bool(node, "ReadReceipt")?.unwrap_or(false),
        };
        Ok(())
    }

    fn read_pairs(
        &self,
        parent: Node<'_, '_>,
        element: &str,
        key_name: &str,
        value_name: &str,
        max: usize,
    ) -> Result<Vec<MetaEntry>, Failure> {
        let mut entries = Vec::new();
        for node in children(parent, element) {
            let key = self.limited(self.required_text(node, key_name)?, key_name, max)?;
            let value = self.limited(self.required_text(node, value_name)?, value_name, max)?;
            entries.push(MetaEntry {
                key: key.to_owned(),
                value: value.to_owned(),
            });
        }
        if entries.len() > 100 {
            return Err(self.schema(format!(
                "{} {element} elements sent; send at most 100",
                entries.len()
            )));
        }
        Ok(entries)
    }

    fn check_size(&self, message: &NewMessage) -> Result<(), Failure> {
        let size = message.size();
        if size <= self.options.max_message_size {
            return Ok(());
        }
        Err(Failure::business(
            &self.options.codes.message_too_large,
            format!(
                "message of {size} bytes exceeds the maximum of {} bytes; send smaller content",
                self.options.max_message_size
            ),
        ))
    }

    fn read_bool(&self, node: Node<'_, '_>, name: &str) -> Result<Option<bool>, Failure> {
        match child_text(node, name) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(other) => Err(self.schema(format!(
                "{name} {other:?} is not a boolean; send true or false"
            ))),
        }
    }

    fn optional_base64(&self, node: Node<'_, '_>, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        match child(node, name) {
            None => Ok(None),
            Some(element) => self.decode(element_text(element), name).map(Some),
        }
    }

    fn decode(&self, text: &str, name: &str) -> Result<Vec<u8>, Failure> {
        decode_base64(text)
            .map_err(|error| self.schema(format!("{name} is not valid base64: {error}")))
    }

    fn required_child<'a, 'i>(
        &self,
        node: Node<'a, 'i>,
        name: &str,
    ) -> Result<Node<'a, 'i>, Failure> {
        child(node, name).ok_or_else(|| {
            self.schema(format!(
                "{} has no {name} element; send it",
                node.tag_name().name()
            ))
        })
    }

    fn required_text<'a>(&self, node: Node<'a, '_>, name: &str) -> Result<&'a str, Failure> {
        match child_text(node, name) {
            Some(text) if !text.is_empty() => Ok(text),
            _ => Err(self.schema(format!(
                "{} has no {name} value; send it",
                node.tag_name().name()
            ))),
        }
    }

    fn limited_child(&self, node: Node<'_, '_>, name: &str, max: usize) -> Result<String, Failure> {
        let text = self.required_text(node, name)?;
        Ok(self.limited(text, name, max)?.to_owned())
    }

    /// Checks the schema's 1-to-`max` character length of a string field.
    fn limited<'t>(&self, text: &'t str, name: &str, max: usize) -> Result<&'t str, Failure> {
        let length = text.chars().count();
        if (1..=max).contains(&length) {
            return Ok(text);
        }
        Err(self.schema(format!("{name} has {length} characters; send 1 to {max}")))
    }

    fn schema(&self, message: impl Into<String>) -> Failure {
        schema_fault(&self.options.codes.schema_violation, message)
    }
}

/// Checks the format of a recipient identifier: INSZ 11 digits, NIHII 8 or 11, CBE and EHP 10.
fn is_valid_identifier(id_type: &str, id: &str) -> bool {
    let digits = id.bytes().all(|b| b.is_ascii_digit());
    match id_type {
        "INSS" => digits && id.len() == 11,
        "NIHII" => digits && (id.len() == 8 || id.len() == 11),
        "CBE" | "EHP" => digits && id.len() == 10,
        _ => false,
    }
}
