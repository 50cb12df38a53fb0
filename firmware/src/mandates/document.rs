//! The mandate document: the text, in Dutch and French, that the mandator signs with the eID.
//!
//! # Encoding (format `practicebox-mandate-v1`)
//!
//! The signed bytes are UTF-8 text in Unicode NFC with LF line endings, no trailing spaces and a
//! final LF. They are built only from [`MandateFields`], so the same fields always give the same
//! bytes, and the verifier rebuilds them from the stored rows:
//!
//! 1. a title line and `format: practicebox-mandate-v1`;
//! 2. one `key: value` line per field, in the fixed order of [`FIELD_KEYS`]; timestamps are
//!    RFC 3339 in UTC to the second (`2029-12-03T11:59:59Z`);
//! 3. an empty line, then `NL` and the Dutch text, an empty line, then `FR` and the French
//!    text. Both texts repeat the fields in words.
//!
//! A value may not contain a control character (line breaks included), so each field stays on
//! its line and [`parse_fields`] can read the field lines back.

use jiff::Timestamp;
use unicode_normalization::UnicodeNormalization;

/// The format line's value.
pub const FORMAT: &str = "practicebox-mandate-v1";

/// The field keys, in the order the document writes them.
pub const FIELD_KEYS: [&str; 11] = [
    "mandator.family_name",
    "mandator.given_names",
    "mandator.insz",
    "mandator.riziv",
    "grantee.family_name",
    "grantee.given_names",
    "grantee.insz",
    "box.id",
    "certificate.sha256",
    "starts_at",
    "ends_at",
];

/// A document that cannot be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error(
        "the mandate field {field} contains a control character or line break; a mandate \
         document holds one line per field"
    )]
    ControlCharacter { field: &'static str },
    #[error("the mandate field {field} is empty")]
    EmptyField { field: &'static str },
    #[error("the mandate document is not UTF-8 text")]
    NotUtf8,
    #[error("the mandate document has no `format: {FORMAT}` line")]
    UnknownFormat,
    #[error("the mandate document lacks the field {field}")]
    MissingField { field: &'static str },
    #[error("the mandate field {field} has the invalid timestamp {value:?}")]
    InvalidTimestamp { field: &'static str, value: String },
}

/// One person in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub family_name: String,
    pub given_names: String,
    pub insz: String,
}

/// Everything the mandate document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateFields {
    /// The colleague who grants the mandate.
    pub mandator: Person,
    pub mandator_riziv: String,
    /// The box's main practitioner, who receives the mandate.
    pub grantee: Person,
    /// The identity of the box the mandate is for.
    pub box_id: String,
    /// SHA-256 fingerprint of the mandator's eHealth authentication certificate, lowercase hex.
    pub certificate_sha256: String,
    pub starts_at: Timestamp,
    /// End of the mandate, exclusive.
    pub ends_at: Timestamp,
}

impl MandateFields {
    /// Returns the field values in [`FIELD_KEYS`] order, NFC-normalised.
    pub fn values(&self) -> [String; 11] {
        [
            self.mandator.family_name.nfc().collect(),
            self.mandator.given_names.nfc().collect(),
            self.mandator.insz.clone(),
            self.mandator_riziv.clone(),
            self.grantee.family_name.nfc().collect(),
            self.grantee.given_names.nfc().collect(),
            self.grantee.insz.clone(),
            self.box_id.clone(),
            self.certificate_sha256.clone(),
            format_timestamp(self.starts_at),
            format_timestamp(self.ends_at),
        ]
    }
}

/// Formats a timestamp as the document writes it: RFC 3339, UTC, whole seconds.
pub fn format_timestamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Encodes the document: the exact bytes the mandator signs.
pub fn encode(fields: &MandateFields) -> Result<Vec<u8>, DocumentError> {
    let values = fields.values();
    for (key, value) in FIELD_KEYS.iter().zip(&values) {
        if value.trim().is_empty() {
            return Err(DocumentError::EmptyField { field: key });
        }
        if value.chars().any(char::is_control) {
            return Err(DocumentError::ControlCharacter { field: key });
        }
    }

    let mut lines = vec![
        "PracticeBox - mandaat / mandat".to_owned(),
        format!("format: {FORMAT}"),
    ];
    for (key, value) in FIELD_KEYS.iter().zip(&values) {
        lines.push(format!("{key}: {}", value.trim()));
    }
    lines.push(String::new());
    lines.push("NL".to_owned());
    lines.extend(dutch(fields));
    lines.push(String::new());
    lines.push("FR".to_owned());
    lines.extend(french(fields));

    let mut text: String = lines
        .iter()
        .map(|line| line.trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    Ok(text.nfc().collect::<String>().into_bytes())
}

fn full_name(person: &Person) -> String {
    format!(
        "{} {}",
        person.given_names.trim(),
        person.family_name.trim()
    )
}

fn human_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn dutch(fields: &MandateFields) -> [String; 4] {
    [
        format!(
            "Ik, {} (INSZ {}, RIZIV {}), geef de PracticeBox van {} (INSZ {}), met \
             box-identiteit {}, de toelating om mijn persoonlijke eHealthBox te downloaden en de \
             berichten af te leveren aan het medisch softwarepakket van de praktijk.",
            full_name(&fields.mandator),
            fields.mandator.insz,
            fields.mandator_riziv,
            full_name(&fields.grantee),
            fields.grantee.insz,
            fields.box_id,
        ),
        format!(
            "Dit mandaat geldt van {} tot {}.",
            human_time(fields.starts_at),
            human_time(fields.ends_at)
        ),
        format!(
            "Het geldt voor mijn eHealth-certificaat met SHA-256-vingerafdruk {}.",
            fields.certificate_sha256
        ),
        "Ik kan dit mandaat op elk moment intrekken op de PracticeBox.".to_owned(),
    ]
}

fn french(fields: &MandateFields) -> [String; 4] {
    [
        format!(
            "Je soussigné(e), {} (NISS {}, INAMI {}), autorise la PracticeBox de {} (NISS {}), \
             identifiant de boîtier {}, à télécharger mon eHealthBox personnelle et à remettre \
             les messages au logiciel médical du cabinet.",
            full_name(&fields.mandator),
            fields.mandator.insz,
            fields.mandator_riziv,
            full_name(&fields.grantee),
            fields.grantee.insz,
            fields.box_id,
        ),
        format!(
            "Ce mandat est valable du {} au {}.",
            human_time(fields.starts_at),
            human_time(fields.ends_at)
        ),
        format!(
            "Il porte sur mon certificat eHealth d'empreinte SHA-256 {}.",
            fields.certificate_sha256
        ),
        "Je peux révoquer ce mandat à tout moment sur la PracticeBox.".to_owned(),
    ]
}

/// Reads the `key: value` field lines of a document, in [`FIELD_KEYS`] order. It does not
/// check the prose: compare the whole document with [`encode`] for that.
pub fn parse_fields(bytes: &[u8]) -> Result<Vec<(&'static str, String)>, DocumentError> {
    let text = std::str::from_utf8(bytes).map_err(|_| DocumentError::NotUtf8)?;
    let header: Vec<&str> = text.lines().take_while(|line| !line.is_empty()).collect();
    if !header.contains(&format!("format: {FORMAT}").as_str()) {
        return Err(DocumentError::UnknownFormat);
    }

    let mut fields = Vec::new();
    for key in FIELD_KEYS {
        let prefix = format!("{key}: ");
        let value = header
            .iter()
            .find_map(|line| line.strip_prefix(&prefix))
            .ok_or(DocumentError::MissingField { field: key })?;
        fields.push((key, value.to_owned()));
    }
    Ok(fields)
}

/// Parses a timestamp field written by [`format_timestamp`].
pub fn parse_timestamp(field: &'static str, value: &str) -> Result<Timestamp, DocumentError> {
    value.parse().map_err(|_| DocumentError::InvalidTimestamp {
        field,
        value: value.to_owned(),
    })
}

/// Names the first field whose value differs between two documents' field lines.
pub fn first_difference(
    expected: &[(&'static str, String)],
    found: &[(&'static str, String)],
) -> Option<(&'static str, String, String)> {
    expected
        .iter()
        .zip(found)
        .find(|(a, b)| a.1 != b.1)
        .map(|(a, b)| (a.0, a.1.clone(), b.1.clone()))
}

#[cfg(test)]
#[path = "document_tests.rs"]
mod tests;
