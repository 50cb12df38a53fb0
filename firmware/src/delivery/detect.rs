//! Format detection on a document's bytes, for routing.
//!
//! Detection reads the record structure only, never decodes text, and works the
//! same on UTF-8 (with or without a byte-order mark), Windows-1252 and CP850
//! files, with LF or CRLF line ends:
//!
//! - **PDF**: `%PDF-` within the first 1024 bytes.
//! - **KMEHR**: an XML document whose root element's local name is `kmehrmessage`.
//! - **HealthOne**: the first record is `A1\`, and every non-blank line is a
//!   record `<letter><digit>\...` or the closing `END`. It is a lab result when
//!   it has `L1` lab lines, else a text report (`L5`, `L2`, `L3` lines).
//! - **Medidoc**: patient blocks opened by `#A` and closed by `#A/`, at least
//!   one result block `#R<letter>`, and a last line `#/`, optionally followed by
//!   a number. It is a lab file when its first line is a Medidoc lab id (a
//!   letter and three digits, such as `W851`). It is a text report when its
//!   first line is the executing doctor's RIZIV number (`1/23456/78/901`).
//!   Otherwise numeric or dynamic result blocks (`#Ra`, `#Rd`, `#Rh`, `#Rm`,
//!   `#Rs`) make it a lab file, and text blocks alone a report.
//!
//! Detection also reads the patient's INSZ when the document names exactly one
//! patient and every patient block carries the same valid INSZ.

use std::collections::BTreeSet;
use std::fmt;

use crate::store::validate_insz;

/// A document format that routing profiles know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    MedidocLab,
    MedidocReport,
    HealthOneLab,
    HealthOneReport,
    Kmehr,
    Pdf,
    Other,
}

impl Format {
    /// Every format, in the order of the routing profile docs.
    pub const ALL: [Format; 7] = [
        Format::MedidocLab,
        Format::MedidocReport,
        Format::HealthOneLab,
        Format::HealthOneReport,
        Format::Kmehr,
        Format::Pdf,
        Format::Other,
    ];

    /// Returns the name used in routing profiles and sidecars.
    pub fn name(self) -> &'static str {
        match self {
            Format::MedidocLab => "medidoc-lab",
            Format::MedidocReport => "medidoc-report",
            Format::HealthOneLab => "healthone-lab",
            Format::HealthOneReport => "healthone-report",
            Format::Kmehr => "kmehr",
            Format::Pdf => "pdf",
            Format::Other => "other",
        }
    }

    /// Parses a name written by [`Format::name`].
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|format| format.name() == name)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of [`detect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub format: Format,
    /// The one patient's INSZ, when the document names exactly one.
    pub patient_insz: Option<String>,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// How far into a file a PDF header may start; PDF readers accept junk before it.
const PDF_HEADER_WINDOW: usize = 1024;

/// Detects the format of `bytes` and the patient it names.
pub fn detect(bytes: &[u8]) -> Detection {
    let text = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let window = &bytes[..bytes.len().min(PDF_HEADER_WINDOW)];
    if find(window, b"%PDF-").is_some() {
        return Detection {
            format: Format::Pdf,
            patient_insz: None,
        };
    }
    if is_kmehr(text) {
        return Detection {
            format: Format::Kmehr,
            patient_insz: kmehr_patient(text),
        };
    }

    let lines = lines(text);
    if let Some(detection) = detect_healthone(&lines) {
        return detection;
    }
    if let Some(detection) = detect_medidoc(&lines) {
        return detection;
    }
    Detection {
        format: Format::Other,
        patient_insz: None,
    }
}

/// Splits into lines without their CR or LF, dropping blank ones.
fn lines(text: &[u8]) -> Vec<&[u8]> {
    text.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.trim_ascii().is_empty())
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Returns the single INSZ when every found value is the same valid one.
fn single_insz(found: impl IntoIterator<Item = Option<String>>) -> Option<String> {
    let mut distinct = BTreeSet::new();
    for value in found {
        distinct.insert(value?);
    }
    let only = distinct.pop_first()?;
    (distinct.is_empty() && validate_insz(&only).is_ok()).then_some(only)
}

fn is_kmehr(text: &[u8]) -> bool {
    root_element(text).is_some_and(|name| {
        let local = name.rsplit(|&b| b == b':').next().unwrap_or(name);
        local == b"kmehrmessage"
    })
}

/// Returns the name of the first element, skipping the XML declaration,
/// processing instructions, comments and the document type declaration.
fn root_element(text: &[u8]) -> Option<&[u8]> {
    let mut rest = text.trim_ascii_start();
    loop {
        rest = rest.strip_prefix(b"<")?;
        let skip_to = match rest.first()? {
            b'?' => find(rest, b"?>")? + 2,
            b'!' if rest.starts_with(b"!--") => find(rest, b"-->")? + 3,
            b'!' => find(rest, b">")? + 1,
            _ => break,
        };
        rest = rest[skip_to..].trim_ascii_start();
    }
    let end = rest
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')?;
    Some(&rest[..end])
}

/// Reads the text of every `ID-PATIENT` id element.
fn kmehr_patient(text: &[u8]) -> Option<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = find(rest, b"\"ID-PATIENT\"") {
        rest = &rest[at..];
        let open_end = find(rest, b">")? + 1;
        let close = find(&rest[open_end..], b"<")?;
        let value = rest[open_end..open_end + close].trim_ascii();
        found.push(std::str::from_utf8(value).ok().map(str::to_owned));
        rest = &rest[open_end..];
    }
    single_insz(found)
}

fn is_healthone_record(line: &[u8]) -> bool {
    matches!(line, [letter, digit, b'\\', ..] if letter.is_ascii_uppercase() && digit.is_ascii_digit())
}

fn detect_healthone(lines: &[&[u8]]) -> Option<Detection> {
    if !lines.first()?.starts_with(b"A1\\") {
        return None;
    }
    let all_records = lines
        .iter()
        .all(|line| is_healthone_record(line) || line.trim_ascii() == b"END");
    if !all_records {
        return None;
    }

    let lab = lines.iter().any(|line| line.starts_with(b"L1\\"));
    Some(Detection {
        format: if lab {
            Format::HealthOneLab
        } else {
            Format::HealthOneReport
        },
        patient_insz: healthone_patient(lines),
    })
}

/// Finds the INSZ of each protocol: field 7 of `A2` (some labs) or field 4 of
/// `A5`, whichever is filled, because many labs leave one of them empty.
fn healthone_patient(lines: &[&[u8]]) -> Option<String> {
    let mut protocols: Vec<(&[u8], Option<String>)> = Vec::new();
    for line in lines {
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\\').collect();
        let reference = fields.get(1).map(|r| r.trim_ascii()).unwrap_or_default();
        let insz_field = match fields[0] {
            b"A1" => {
                protocols.push((reference, None));
                continue;
            }
            b"A2" => fields.get(6),
            b"A5" => fields.get(3),
            _ => continue,
        };
        let insz = insz_field
            .map(|value| value.trim_ascii())
            .filter(|value| !value.is_empty())
            .and_then(|value| std::str::from_utf8(value).ok());
        let protocol = protocols.iter_mut().rev().find(|(r, _)| *r == reference);
        if let (Some((_, slot)), Some(insz)) = (protocol, insz)
            && slot.is_none()
        {
            *slot = Some(insz.to_owned());
        }
    }
    single_insz(protocols.into_iter().map(|(_, insz)| insz))
}

fn detect_medidoc(lines: &[&[u8]]) -> Option<Detection> {
    let last = lines.last()?.trim_ascii();
    let closed = last
        .strip_prefix(b"#/")
        .is_some_and(|count| count.iter().all(u8::is_ascii_digit));
    let has_patient = lines.iter().any(|line| is_patient_open(line));
    let has_patient_close = lines.iter().any(|line| line.trim_ascii() == b"#A/");
    let has_result = lines.iter().any(|line| result_block(line).is_some());
    if !(closed && has_patient && has_patient_close && has_result) {
        return None;
    }

    Some(Detection {
        format: medidoc_variant(lines),
        patient_insz: single_insz(
            lines
                .iter()
                .filter(|line| is_patient_open(line))
                .map(|line| {
                    std::str::from_utf8(line[2..].trim_ascii())
                        .ok()
                        .map(str::to_owned)
                }),
        ),
    })
}

fn is_patient_open(line: &[u8]) -> bool {
    line.starts_with(b"#A") && !line.starts_with(b"#A/")
}

/// Returns the block letter of a `#R?` opening line.
fn result_block(line: &[u8]) -> Option<u8> {
    match line.trim_ascii() {
        [b'#', b'R', letter] if letter.is_ascii_lowercase() => Some(*letter),
        _ => None,
    }
}

fn medidoc_variant(lines: &[&[u8]]) -> Format {
    let first = lines[0].trim_ascii();
    if matches!(first, [letter, d1, d2, d3] if letter.is_ascii_uppercase()
        && d1.is_ascii_digit() && d2.is_ascii_digit() && d3.is_ascii_digit())
    {
        return Format::MedidocLab;
    }
    if is_slashed_riziv(first) {
        return Format::MedidocReport;
    }
    let lab_blocks = lines
        .iter()
        .filter_map(|line| result_block(line))
        .any(|letter| matches!(letter, b'a' | b'd' | b'h' | b'm' | b's'));
    if lab_blocks {
        Format::MedidocLab
    } else {
        Format::MedidocReport
    }
}

/// Tells whether `text` is a RIZIV number written `1/23456/78/901`.
fn is_slashed_riziv(text: &[u8]) -> bool {
    let groups: Vec<&[u8]> = text.split(|&b| b == b'/').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    lengths == [1, 5, 2, 3]
        && groups
            .iter()
            .all(|group| group.iter().all(u8::is_ascii_digit))
}
