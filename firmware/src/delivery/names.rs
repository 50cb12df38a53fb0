//! File and folder names that are safe on Windows, on SMB and on Linux.
//!
//! A safe name is one path component that:
//! - is not empty and fits in [`MAX_NAME_BYTES`] bytes of UTF-8;
//! - contains no `/ \ < > : " | ? *`, no control character (C0, DEL, C1) and
//!   no bidirectional-text control (U+061C, U+200E, U+200F, U+202A to U+202E,
//!   U+2066 to U+2069) nor a byte-order mark (U+FEFF);
//! - does not start with a dot, so it is never hidden and never looks like a
//!   staging file;
//! - does not end with a dot or white space, which Windows strips silently;
//! - is not a DOS device name (CON, PRN, AUX, NUL, COM1 to COM9, LPT1 to LPT9,
//!   the COM/LPT forms with the superscript digits ¹ ² ³, and the console
//!   names CONIN$ and CONOUT$ that `CreateFile` opens), with or without an
//!   extension and spaces before it, in any letter case.
//!
//! Accented letters and other non-ASCII text are kept. Names are not
//! normalised to Unicode NFC.
//!
//! The names PracticeBox builds never use the sender's file name: a document is
//! named from its date, sender, patient INSZ, MessageId and part index, and the
//! sender's file name only goes into the sidecar.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};

use crate::store::validate_insz;

/// Maximum length of one name, in bytes of UTF-8. Windows and SMB allow 255
/// UTF-16 units; 200 bytes leaves room for a `-N` suffix and a `.json` sidecar.
pub const MAX_NAME_BYTES: usize = 200;

/// Maximum length of the sender part of a document name, in bytes.
const MAX_SENDER_BYTES: usize = 60;

/// Maximum length of a MessageId used verbatim in a name; longer ones are replaced by a hash.
const MAX_MESSAGE_ID_BYTES: usize = 40;

/// Maximum length of the extension kept when a name is truncated, dot included.
const MAX_KEPT_EXTENSION_BYTES: usize = 16;

/// The name used when nothing safe is left of the input.
const FALLBACK_NAME: &str = "unnamed";

/// Characters that Windows or SMB reject in a name, besides control characters.
const WINDOWS_FORBIDDEN: &[char] = &['/', '\\', '<', '>', ':', '"', '|', '?', '*'];

/// DOS device names, compared in upper case. Windows counts the Latin-1
/// superscripts ¹ ² ³ as digits, so `COM¹` and `LPT³` are ports too.
/// `CONIN$` and `CONOUT$` open the console.
const RESERVED_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM1", "COM2", "COM3", "COM4", "COM5",
    "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5",
    "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// Tells whether `c` reorders displayed text or is a byte-order mark.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Tells whether `c` may not appear in a name. Line and paragraph separators
/// are legal on Windows but break logs and import lists, so they go too.
fn is_forbidden(c: char) -> bool {
    c.is_control()
        || WINDOWS_FORBIDDEN.contains(&c)
        || is_bidi_control(c)
        || matches!(c, '\u{2028}' | '\u{2029}')
}

fn trim_name_end(name: &str) -> &str {
    name.trim_end_matches(|c: char| c == '.' || c.is_whitespace())
}

/// Tells whether `name` is a DOS device name, extension or not: the part before
/// the first dot, without trailing spaces, is one of `RESERVED_NAMES`.
pub(crate) fn is_dos_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.trim_end_matches(' ').to_uppercase();
    RESERVED_NAMES.contains(&stem.as_str())
}

/// Splits `name` into stem and extension (with its dot) when the extension is short.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_KEPT_EXTENSION_BYTES => name.split_at(dot),
        _ => (name, ""),
    }
}

/// Cuts `text` to at most `max_bytes` bytes, at a character boundary.
fn truncate_at_char(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Turns any text into a safe name of at most `max_bytes` bytes (see the module
/// docs for the rules). `max_bytes` below 32 is raised to 32.
pub fn safe_name_within(raw: &str, max_bytes: usize) -> String {
    let max_bytes = max_bytes.max(32);
    let replaced: String = raw
        .chars()
        .map(|c| if is_forbidden(c) { '_' } else { c })
        .collect();

    let trimmed = trim_name_end(replaced.trim_start());
    let leading_dots = trimmed.len() - trimmed.trim_start_matches('.').len();
    let mut name = "_".repeat(leading_dots) + &trimmed[leading_dots..];
    if name.is_empty() {
        name = FALLBACK_NAME.to_owned();
    }
    if is_dos_device_name(&name) {
        name.insert(0, '_');
    }
    truncate_name(&name, max_bytes)
}

/// Turns any text into a safe name of at most [`MAX_NAME_BYTES`] bytes.
pub fn safe_name(raw: &str) -> String {
    safe_name_within(raw, MAX_NAME_BYTES)
}

/// Shortens a name that is already safe, keeping a short extension.
fn truncate_name(name: &str, max_bytes: usize) -> String {
    if name.len() <= max_bytes {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    let mut stem = trim_name_end(truncate_at_char(stem, max_bytes - extension.len())).to_owned();
    if stem.is_empty() || is_dos_device_name(&stem) {
        let room = max_bytes - extension.len() - 1;
        stem = format!("_{}", trim_name_end(truncate_at_char(&stem, room)));
    }
    format!("{stem}{extension}")
}

/// Tells whether `name` follows every rule in the module docs and fits in `max_bytes`.
pub fn is_safe_name(name: &str, max_bytes: usize) -> bool {
    !name.is_empty()
        && name.len() <= max_bytes
        && !name.chars().any(is_forbidden)
        && !name.starts_with('.')
        && !name.ends_with(|c: char| c == '.' || c.is_whitespace())
        && !is_dos_device_name(name)
}

/// Reduces free text (a sender or doctor name) to letters, digits and single
/// hyphens, so that `_` and `.` stay free as separators in the names we build.
fn name_field(raw: &str, max_bytes: usize) -> Option<String> {
    let mut field = String::new();
    for c in raw.chars() {
        if c.is_alphanumeric() && !is_forbidden(c) {
            field.push(c);
        } else if !field.is_empty() && !field.ends_with('-') {
            field.push('-');
        }
    }
    let field = truncate_at_char(field.trim_end_matches('-'), max_bytes);
    let field = field.trim_end_matches('-');
    (!field.is_empty()).then(|| field.to_owned())
}

/// Formats an 11-digit RIZIV number as `1-23456-78-001`; other input is returned unchanged.
pub fn format_riziv(riziv: &str) -> String {
    if riziv.len() != 11 || !riziv.bytes().all(|b| b.is_ascii_digit()) {
        return riziv.to_owned();
    }
    format!(
        "{}-{}-{}-{}",
        &riziv[0..1],
        &riziv[1..6],
        &riziv[6..8],
        &riziv[8..11]
    )
}

/// Builds a doctor's folder name, such as `Peeters_Jan_1-23456-78-001`.
pub fn doctor_folder_name(family_name: &str, given_names: &str, riziv: &str) -> String {
    let parts: Vec<String> = [family_name, given_names, &format_riziv(riziv)]
        .into_iter()
        .filter_map(|part| name_field(part, MAX_SENDER_BYTES))
        .collect();
    safe_name(&parts.join("_"))
}

/// Returns the MessageId as it appears in names. A short, plain id is used
/// verbatim. Any other id becomes `h` and the first 16 hex digits of its
/// SHA-256, so it stays unique.
fn message_id_token(message_id: &str) -> String {
    let plain = message_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if plain && !message_id.is_empty() && message_id.len() <= MAX_MESSAGE_ID_BYTES {
        return message_id.to_owned();
    }
    let digest = Sha256::digest(message_id.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("h{hex}")
}

/// The facts a document's name is built from.
#[derive(Debug, Clone)]
pub struct DocumentName<'a> {
    pub published_at: Option<Timestamp>,
    pub sender: Option<&'a str>,
    pub patient_insz: Option<&'a str>,
    pub message_id: &'a str,
    /// 1 for the main document, 2 and up for the annexes.
    pub part_index: u32,
    /// Extension without the dot; must already be plain ASCII letters and digits.
    pub extension: &'a str,
}

impl DocumentName<'_> {
    /// Builds the name `DATE_SENDER_INSZ_MESSAGEID_INDEX.EXT`, leaving out the
    /// date, sender or INSZ when unknown. The date is the publication date in
    /// `time_zone`. The same input always gives the same name, so a message
    /// delivered again after a crash finds its earlier file.
    pub fn build(&self, time_zone: &TimeZone) -> String {
        let mut fields = Vec::new();
        if let Some(published_at) = self.published_at {
            let date = time_zone.to_datetime(published_at).date();
            fields.push(date.strftime("%Y-%m-%d").to_string());
        }
        if let Some(sender) = self.sender.and_then(|s| name_field(s, MAX_SENDER_BYTES)) {
            fields.push(sender);
        }
        if let Some(insz) = self.patient_insz.filter(|i| validate_insz(i).is_ok()) {
            fields.push(insz.to_owned());
        }
        fields.push(message_id_token(self.message_id));
        fields.push(self.part_index.to_string());

        safe_name(&format!("{}.{}", fields.join("_"), self.extension))
    }
}

/// Returns the `n`-th candidate for `name`: the name itself, then `stem-2.ext`, `stem-3.ext`, ...
pub fn numbered(name: &str, n: u32) -> String {
    if n <= 1 {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    let suffix = format!("-{n}");
    let stem = truncate_at_char(stem, MAX_NAME_BYTES - extension.len() - suffix.len());
    format!("{stem}{suffix}{extension}")
}

/// Extensions a sender's file may keep on the share: documents and images that the medical
/// software or a viewer opens as data. Anything else gets the route's extension, because an
/// extension list of what Windows runs (`exe`, `scf`, `iso`, `svg`, `docm`, ...) is never complete.
const DOCUMENT_EXTENSIONS: &[&str] = &[
    "bmp", "csv", "dcm", "doc", "docx", "gif", "hl1", "jpeg", "jpg", "lab", "mdi", "odt", "pdf",
    "png", "rtf", "tif", "tiff", "txt", "xls", "xlsx", "xml",
];

/// Returns the sender's extension, lower-cased, if it is one of the plain document and image
/// types in `DOCUMENT_EXTENSIONS`.
pub fn plain_extension(original_name: &str) -> Option<String> {
    let (stem, extension) = original_name.rsplit_once('.')?;
    let extension = extension.to_ascii_lowercase();
    let allowed = DOCUMENT_EXTENSIONS.contains(&extension.as_str());
    (allowed && !stem.is_empty()).then_some(extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "..\\..\\evil.txt",
        "../../etc/passwd",
        "CON.txt",
        "con",
        "Lpt9.tar.gz",
        "COM¹.pdf",
        "lpt³",
        "CONIN$",
        "conout$.txt",
        "CONOUT$ .log",
        "NUL .txt",
        "a/b",
        "a\\b",
        "",
        "   ",
        ".",
        "..",
        "...",
        ".hidden",
        ".pbx-staging-1-1",
        "noextension",
        "trailing dots...",
        "trailing space ",
        "trailing mix . .",
        "pipe|star*question?",
        "quote\"colon:lt<gt>",
        "tab\there",
        "new\nline",
        "nul\0byte",
        "del\u{7f}c1\u{85}",
        "Résultat Élodie François.pdf",
        "🩺 verslag 😀.pdf",
        "invoice\u{202E}fdp.exe",
        "isolate\u{2067}x\u{2069}.txt",
        "\u{FEFF}bom.txt",
        "mark\u{200F}.txt",
        "line\u{2028}separator.txt",
    ];

    #[test]
    fn safe_name_fixes_hostile_names() {
        for raw in HOSTILE {
            let safe = safe_name(raw);
            assert!(
                is_safe_name(&safe, MAX_NAME_BYTES),
                "{raw:?} became unsafe {safe:?}"
            );
        }
    }

    #[test]
    fn safe_name_expected_results() {
        let cases = [
            ("..\\..\\evil.txt", "___.._evil.txt"),
            ("CON.txt", "_CON.txt"),
            ("a/b", "a_b"),
            ("", "unnamed"),
            ("..", "unnamed"),
            ("noextension", "noextension"),
            ("trailing dots...", "trailing dots"),
            ("Résultat Élodie.pdf", "Résultat Élodie.pdf"),
            ("🩺 verslag.pdf", "🩺 verslag.pdf"),
            ("invoice\u{202E}fdp.exe", "invoice_fdp.exe"),
        ];
        for (raw, expected) in cases {
            assert_eq!(safe_name(raw), expected, "for {raw:?}");
        }
    }

    #[test]
    fn device_names_are_reserved() {
        let reserved = [
            "CON",
            "con.txt",
            "Nul.tar.gz",
            "AUX .pdf",
            "CONIN$",
            "conin$.txt",
            "CONOUT$",
            "Conout$.log",
            "COM1",
            "com9.pdf",
            "COM¹",
            "com².txt",
            "COM³ .pdf",
            "LPT1",
            "lpt¹",
            "LPT².pdf",
            "lpt³",
        ];
        for name in reserved {
            assert!(is_dos_device_name(name), "{name:?} is a device name");
            assert!(
                !is_safe_name(name, MAX_NAME_BYTES),
                "{name:?} passed as safe"
            );
            let fixed = safe_name(name);
            assert!(fixed.starts_with('_'), "{name:?} became {fixed:?}");
            assert!(
                is_safe_name(&fixed, MAX_NAME_BYTES),
                "{name:?} became {fixed:?}"
            );
        }
        for name in [
            "CONSOLE",
            "CONIN",
            "COM10",
            "COM0x",
            "LPT⁴",
            "xCON",
            "CON_1.txt",
            "NULL",
        ] {
            assert!(!is_dos_device_name(name), "{name:?} is not a device name");
        }
    }

    #[test]
    fn trailing_dot_and_space_are_removed() {
        let cases = [
            ("report.", "report"),
            ("report ", "report"),
            ("report. . ", "report"),
            ("CON.", "_CON"),
            ("conin$ .", "_conin$"),
        ];
        for (raw, expected) in cases {
            assert_eq!(safe_name(raw), expected, "for {raw:?}");
            assert!(!is_safe_name(raw, MAX_NAME_BYTES), "{raw:?} passed as safe");
        }
    }

    #[test]
    fn safe_name_bounds_length() {
        let long_ascii = format!("{}.pdf", "a".repeat(300));
        let long_accents = format!("{}.pdf", "é".repeat(300));
        let long_emoji = "😀".repeat(100);

        for raw in [&long_ascii, &long_accents, &long_emoji] {
            let safe = safe_name(raw);
            assert!(safe.len() <= MAX_NAME_BYTES, "{} bytes", safe.len());
            assert!(is_safe_name(&safe, MAX_NAME_BYTES), "{safe:?}");
        }
        assert!(safe_name(&long_ascii).ends_with(".pdf"));
        assert!(safe_name(&long_accents).ends_with(".pdf"));
    }

    #[test]
    fn safe_name_truncation_keeps_no_trailing_dot() {
        let raw = format!("{}. x", "a".repeat(MAX_NAME_BYTES - 1));
        let safe = safe_name(&raw);
        assert!(is_safe_name(&safe, MAX_NAME_BYTES), "{safe:?}");
    }

    #[test]
    fn is_safe_name_rejects_each_rule() {
        for unsafe_name in ["", ".x", "x.", "x ", "CON", "aux.txt", "a/b", "a\u{202E}b"] {
            assert!(
                !is_safe_name(unsafe_name, MAX_NAME_BYTES),
                "{unsafe_name:?}"
            );
        }
        assert!(!is_safe_name(
            &"a".repeat(MAX_NAME_BYTES + 1),
            MAX_NAME_BYTES
        ));
        assert!(is_safe_name("CONSULT.txt", MAX_NAME_BYTES));
    }

    #[test]
    fn doctor_folder_name_example() {
        assert_eq!(
            doctor_folder_name("Peeters", "Jan", "12345678001"),
            "Peeters_Jan_1-23456-78-001"
        );
        assert_eq!(
            doctor_folder_name("Van den Broeck", "Anne-Marie", "12345678001"),
            "Van-den-Broeck_Anne-Marie_1-23456-78-001"
        );
        assert_eq!(
            doctor_folder_name("..\\CON", "Élodie", "12345678001"),
            "CON_Élodie_1-23456-78-001"
        );
    }

    fn name<'a>(sender: Option<&'a str>, message_id: &'a str) -> DocumentName<'a> {
        DocumentName {
            published_at: Some("2024-03-14T23:30:00Z".parse().unwrap()),
            sender,
            patient_insz: Some("62090524597"),
            message_id,
            part_index: 2,
            extension: "pdf",
        }
    }

    #[test]
    fn document_name_fields() {
        let brussels = TimeZone::get("Europe/Brussels").unwrap();
        let built = name(Some("AZ Proefziekenhuis - Radiologie"), "MSG0001").build(&brussels);
        assert_eq!(
            built,
            "2024-03-15_AZ-Proefziekenhuis-Radiologie_62090524597_MSG0001_2.pdf"
        );
    }

    #[test]
    fn document_name_hostile_sender() {
        let utc = TimeZone::UTC;
        for sender in HOSTILE {
            let built = name(Some(sender), "MSG0001").build(&utc);
            assert!(
                is_safe_name(&built, MAX_NAME_BYTES),
                "{sender:?} gave {built:?}"
            );
            assert!(built.ends_with("_MSG0001_2.pdf"), "{built:?}");
        }
        let long = "Ziekenhuis ".repeat(40);
        let built = name(Some(&long), "MSG0001").build(&utc);
        assert!(built.len() <= MAX_NAME_BYTES);
        assert!(built.ends_with("_MSG0001_2.pdf"), "{built:?}");
    }

    #[test]
    fn document_name_hashes_odd_message_id() {
        let utc = TimeZone::UTC;
        let odd = name(None, "../x:y").build(&utc);
        let other = name(None, "../x:z").build(&utc);
        assert!(is_safe_name(&odd, MAX_NAME_BYTES), "{odd:?}");
        assert_ne!(odd, other);
        assert!(!odd.contains(".."), "{odd:?}");
    }

    #[test]
    fn document_name_skips_invalid_insz() {
        let mut parts = name(None, "M1");
        parts.patient_insz = Some("12345678901");
        assert_eq!(parts.build(&TimeZone::UTC), "2024-03-14_M1_2.pdf");
    }

    #[test]
    fn numbered_candidates() {
        assert_eq!(numbered("a_1.pdf", 1), "a_1.pdf");
        assert_eq!(numbered("a_1.pdf", 2), "a_1-2.pdf");
        assert_eq!(numbered("a_1", 3), "a_1-3");
        let long = format!("{}.pdf", "a".repeat(MAX_NAME_BYTES - 4));
        assert!(numbered(&long, 12).len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn plain_extension_cases() {
        assert_eq!(plain_extension("brief.PDF").as_deref(), Some("pdf"));
        assert_eq!(plain_extension("scan.TIFF").as_deref(), Some("tiff"));
        assert_eq!(plain_extension("x.tar.gz"), None);
        assert_eq!(plain_extension("noext"), None);
        assert_eq!(plain_extension(".bashrc"), None);
        assert_eq!(plain_extension("..\\..\\evil.t/xt"), None);
        assert_eq!(plain_extension("a.verylongextension"), None);
        assert_eq!(plain_extension("trailing."), None);
        assert_eq!(plain_extension("factuur.pdf.EXE"), None);
        assert_eq!(plain_extension("script.vbs"), None);
        assert_eq!(plain_extension("report.scf"), None);
        assert_eq!(plain_extension("disk.iso"), None);
        assert_eq!(plain_extension("page.html"), None);
        assert_eq!(plain_extension("image.svg"), None);
        assert_eq!(plain_extension("macro.docm"), None);
    }
}
