//! Decoding the base64 text of an encrypted eHealthBox field into the sealed message bytes.
//!
//! Some senders base64-encode the sealed message before putting it in a base64Binary field,
//! so the field decodes to base64 text. After one decoding, bytes that are themselves valid
//! base64 and do not start with an ASN.1 SEQUENCE (0x30, which every sealed message starts
//! with) are decoded once more.

use base64::{
    Engine,
    alphabet::STANDARD,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};

/// Tag octet of an ASN.1 SEQUENCE, the first byte of every CMS ContentInfo.
const SEQUENCE_TAG: u8 = 0x30;

/// Standard alphabet; padding may be present or absent.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A field that is not base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the sealed field is not valid base64 ({detail}); keep the raw message and check how it was downloaded"
)]
pub struct FieldError {
    detail: String,
}

/// Decodes a field's base64 text, decoding a second time when the sender encoded twice. An
/// empty field gives empty bytes. Whitespace (line breaks in the XML) is ignored.
pub fn decode_sealed_field(text: &[u8]) -> Result<Vec<u8>, FieldError> {
    let decoded = decode(text).map_err(|detail| FieldError { detail })?;
    if decoded.first() == Some(&SEQUENCE_TAG) {
        return Ok(decoded);
    }
    match decode(&decoded) {
        Ok(twice) if !twice.is_empty() => Ok(twice),
        _ => Ok(decoded),
    }
}

fn decode(text: &[u8]) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    BASE64.decode(compact).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEALED_START: &[u8] = &[0x30, 0x80, 0x06, 0x09, 0x2a, 0x86];

    #[test]
    fn single_encoding() {
        let text = BASE64.encode(SEALED_START);
        assert_eq!(decode_sealed_field(text.as_bytes()).unwrap(), SEALED_START);
    }

    #[test]
    fn double_encoding() {
        let twice = BASE64.encode(BASE64.encode(SEALED_START));
        assert_eq!(decode_sealed_field(twice.as_bytes()).unwrap(), SEALED_START);
    }

    #[test]
    fn line_breaks_ignored() {
        let text = "MIAGCSqG\r\nSIb3DQEHAqCA\n";
        let decoded = decode_sealed_field(text.as_bytes()).unwrap();
        assert_eq!(decoded[0], SEQUENCE_TAG);
        assert_eq!(decoded.len(), 15);
    }

    #[test]
    fn empty_field() {
        assert_eq!(decode_sealed_field(b"").unwrap(), Vec::<u8>::new());
        assert_eq!(decode_sealed_field(b" \n").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn plain_text_not_decoded_twice() {
        // "hello!" is not base64 after the first decoding, so it stays as is.
        let text = BASE64.encode(b"hello!");
        assert_eq!(decode_sealed_field(text.as_bytes()).unwrap(), b"hello!");
    }

    #[test]
    fn invalid_base64() {
        let error = decode_sealed_field(b"not*base64").unwrap_err();
        assert!(error.to_string().contains("not valid base64"), "{error}");
    }
}
