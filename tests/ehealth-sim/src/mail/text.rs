//! Text encodings and line endings of hand-off files, as Belgian lab and hospital software writes
//! them: UTF-8 with or without a byte-order mark, Windows-1252 and DOS code page 850, with CRLF or
//! LF line endings.
//!
//! Windows-1252 goes through `encoding_rs`. Code page 850 is not in `encoding_rs` (it follows the
//! WHATWG encoding list), so this module carries its own table of the upper 128 code points.

use std::fmt;

use super::MailError;

/// The UTF-8 byte-order mark some senders put before the first line.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The byte encoding of a text document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 preceded by the byte-order mark `EF BB BF`.
    Utf8WithBom,
    /// Windows-1252 (a superset of ISO-8859-1 for printable characters); `é` is `0xE9`.
    Windows1252,
    /// IBM/DOS code page 850 (multilingual Latin-1); `é` is `0x82`.
    Cp850,
}

impl TextEncoding {
    /// Returns the usual label of the encoding, as a charset parameter would name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Utf8WithBom => "UTF-8 with BOM",
            Self::Windows1252 => "windows-1252",
            Self::Cp850 => "IBM850",
        }
    }

    /// Returns whether encoded documents start with a byte-order mark.
    pub fn has_bom(self) -> bool {
        self == Self::Utf8WithBom
    }

    /// Encodes `text` without changing its line endings.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, MailError> {
        match self {
            Self::Utf8 => Ok(text.as_bytes().to_vec()),
            Self::Utf8WithBom => Ok([UTF8_BOM, text.as_bytes()].concat()),
            Self::Windows1252 => encode_windows_1252(text),
            Self::Cp850 => text.chars().map(cp850_byte).collect(),
        }
    }

    /// Decodes bytes written by [`TextEncoding::encode`]; a byte-order mark is removed when the
    /// encoding announces one and rejected when it does not.
    pub fn decode(self, bytes: &[u8]) -> Result<String, MailError> {
        match self {
            Self::Utf8 => decode_utf8(bytes),
            Self::Utf8WithBom => match bytes.strip_prefix(UTF8_BOM) {
                Some(rest) => decode_utf8(rest),
                None => Err(MailError::MissingBom),
            },
            Self::Windows1252 => {
                let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
                Ok(text.into_owned())
            }
            Self::Cp850 => Ok(bytes.iter().map(|&byte| cp850_char(byte)).collect()),
        }
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The line separator of a text document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineEnding {
    /// `\r\n`, what DOS and Windows lab systems write.
    Crlf,
    /// `\n` alone.
    Lf,
}

impl LineEnding {
    /// Returns the separator bytes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crlf => "\r\n",
            Self::Lf => "\n",
        }
    }
}

impl fmt::Display for LineEnding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Crlf => "CRLF",
            Self::Lf => "LF",
        })
    }
}

/// How a text part is written: which bytes stand for its characters and which end its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextFacts {
    pub encoding: TextEncoding,
    pub line_ending: LineEnding,
}

impl TextFacts {
    /// Writes `lines`, each followed by the line ending, in the encoding.
    pub fn write_lines(self, lines: &[String]) -> Result<Vec<u8>, MailError> {
        let separator = self.line_ending.as_str();
        let mut text = String::new();
        for line in lines {
            text.push_str(line);
            text.push_str(separator);
        }
        self.encoding.encode(&text)
    }
}

impl fmt::Display for TextFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.encoding, self.line_ending)
    }
}

fn decode_utf8(bytes: &[u8]) -> Result<String, MailError> {
    String::from_utf8(bytes.to_vec()).map_err(|error| MailError::InvalidUtf8 {
        offset: error.utf8_error().valid_up_to(),
    })
}

fn encode_windows_1252(text: &str) -> Result<Vec<u8>, MailError> {
    let (bytes, _, had_unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    if !had_unmappable {
        return Ok(bytes.into_owned());
    }

    // `encoding_rs` replaced the character by an HTML entity; find it to name it in the error.
    let character = text
        .chars()
        .find(|c| {
            encoding_rs::WINDOWS_1252
                .encode(c.encode_utf8(&mut [0; 4]))
                .2
        })
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    Err(MailError::Unencodable {
        character,
        encoding: TextEncoding::Windows1252.label(),
    })
}

/// The characters of code page 850 bytes `0x80..=0xFF`, in byte order.
const CP850_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', //
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', 'ø', '£', 'Ø', '×', 'ƒ', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '®', '¬', '½', '¼', '¡', '«', '»', //
    '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'À', '©', '╣', '║', '╗', '╝', '¢', '¥', '┐', //
    '└', '┴', '┬', '├', '─', '┼', 'ã', 'Ã', '╚', '╔', '╩', '╦', '╠', '═', '╬', '¤', //
    'ð', 'Ð', 'Ê', 'Ë', 'È', 'ı', 'Í', 'Î', 'Ï', '┘', '┌', '█', '▄', '¦', 'Ì', '▀', //
    'Ó', 'ß', 'Ô', 'Ò', 'õ', 'Õ', 'µ', 'þ', 'Þ', 'Ú', 'Û', 'Ù', 'ý', 'Ý', '¯', '´', //
    '\u{AD}', '±', '‗', '¾', '¶', '§', '÷', '¸', '°', '¨', '·', '¹', '³', '²', '■', '\u{A0}',
];

fn cp850_byte(character: char) -> Result<u8, MailError> {
    if character.is_ascii() {
        return Ok(character as u8);
    }
    match CP850_HIGH.iter().position(|&c| c == character) {
        Some(index) => Ok(0x80 + index as u8),
        None => Err(MailError::Unencodable {
            character,
            encoding: TextEncoding::Cp850.label(),
        }),
    }
}

fn cp850_char(byte: u8) -> char {
    match byte {
        0x00..=0x7F => char::from(byte),
        _ => CP850_HIGH[usize::from(byte - 0x80)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCENTS: &str = "é è ë ê ç à â ô ö ü û ï î É È Ç µ °";

    #[test]
    fn cp850_accented_letters() {
        let bytes = TextEncoding::Cp850.encode("éèëçàôüÉÇ").unwrap();
        assert_eq!(
            bytes,
            [0x82, 0x8A, 0x89, 0x87, 0x85, 0x93, 0x81, 0x90, 0x80]
        );
    }

    #[test]
    fn cp850_round_trip_all_bytes() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = TextEncoding::Cp850.decode(&bytes).unwrap();
        assert_eq!(TextEncoding::Cp850.encode(&text).unwrap(), bytes);
    }

    #[test]
    fn cp850_rejects_euro_sign() {
        let error = TextEncoding::Cp850.encode("12 €").unwrap_err();
        assert_eq!(
            error.to_string(),
            "character '€' cannot be written in IBM850; use UTF-8 or drop the character"
        );
    }

    #[test]
    fn windows_1252_e_acute() {
        assert_eq!(TextEncoding::Windows1252.encode("é").unwrap(), [0xE9]);
    }

    #[test]
    fn windows_1252_rejects_cjk() {
        let error = TextEncoding::Windows1252.encode("ab漢").unwrap_err();
        assert!(matches!(
            error,
            MailError::Unencodable {
                character: '漢',
                ..
            }
        ));
    }

    #[test]
    fn every_encoding_round_trips_accents() {
        for encoding in [
            TextEncoding::Utf8,
            TextEncoding::Utf8WithBom,
            TextEncoding::Windows1252,
            TextEncoding::Cp850,
        ] {
            let bytes = encoding.encode(ACCENTS).unwrap();
            assert_eq!(encoding.decode(&bytes).unwrap(), ACCENTS, "{encoding}");
            assert_eq!(
                bytes.starts_with(UTF8_BOM),
                encoding.has_bom(),
                "{encoding}"
            );
        }
    }

    #[test]
    fn bom_decoding_requires_bom() {
        let error = TextEncoding::Utf8WithBom.decode(b"abc").unwrap_err();
        assert!(matches!(error, MailError::MissingBom));
    }

    #[test]
    fn write_lines_crlf() {
        let facts = TextFacts {
            encoding: TextEncoding::Utf8,
            line_ending: LineEnding::Crlf,
        };
        let bytes = facts
            .write_lines(&["#A".to_owned(), "#/".to_owned()])
            .unwrap();
        assert_eq!(bytes, b"#A\r\n#/\r\n");
    }
}
