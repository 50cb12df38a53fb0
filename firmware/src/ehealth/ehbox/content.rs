//! Binary content of eHealthBox replies: inline base64, swaRef (`cid:` text and a MIME part) or
//! MTOM (`xop:Include` and a MIME part), and the double-base64 quirk.
//!
//! Some senders base64-encode a payload before putting it in a base64Binary field, so after the
//! wire decoding the bytes are base64 text once more. For sealed fields the test is safe,
//! because a sealed message is a CMS ContentInfo and starts with an ASN.1 SEQUENCE (0x30) while
//! base64 text never does. Bytes that do not start with 0x30 and decode to bytes that do are
//! therefore decoded once more.
//!
//! For the unencrypted document and annex payloads the only test is that the bytes are strict
//! base64 (alphabet, padding, length a multiple of four). That can misfire on a short text
//! payload that happens to be valid base64, so [`DoubleBase64`] can turn it off.

use base64::Engine as _;
use roxmltree::Node;

use super::super::transport::SoapReply;

/// The XOP namespace of `xop:Include`.
pub const XOP_NS: &str = "http://www.w3.org/2004/08/xop/include";

/// Tag octet of an ASN.1 SEQUENCE, the first byte of every sealed message.
const SEQUENCE_TAG: u8 = 0x30;

/// Wire encoding of a binary field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// base64 text in the element.
    Inline,
    /// `cid:` text and a MIME part.
    SwaRef,
    /// `xop:Include` and a MIME part.
    Mtom,
}

impl std::fmt::Display for Transfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Inline => "inline",
            Self::SwaRef => "swaRef",
            Self::Mtom => "MTOM",
        })
    }
}

/// When the double-base64 quirk is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoubleBase64 {
    /// Undo it on unencrypted document and annex payloads that are strict base64.
    pub plain_payloads: bool,
}

impl Default for DoubleBase64 {
    fn default() -> Self {
        Self {
            plain_payloads: true,
        }
    }
}

/// Failure to read a binary field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentError {
    pub detail: String,
}

/// Returns the bytes of a binary field and how they travelled.
pub fn binary_value(
    element: Node<'_, '_>,
    reply: &SoapReply,
) -> Result<(Vec<u8>, Transfer), ContentError> {
    if let Some(include) = element
        .children()
        .find(|node| node.has_tag_name((XOP_NS, "Include")))
    {
        let href = include.attribute("href").ok_or_else(|| ContentError {
            detail: "xop:Include without href".to_owned(),
        })?;
        return part(reply, href).map(|bytes| (bytes, Transfer::Mtom));
    }

    let text: String = element
        .children()
        .filter(|node| node.is_text())
        .filter_map(|node| node.text())
        .collect();
    let text = text.trim();
    if text.starts_with("cid:") {
        return part(reply, text).map(|bytes| (bytes, Transfer::SwaRef));
    }
    decode_base64(text.as_bytes())
        .map(|bytes| (bytes, Transfer::Inline))
        .map_err(|detail| ContentError {
            detail: format!("the inline content is not base64: {detail}"),
        })
}

fn part(reply: &SoapReply, reference: &str) -> Result<Vec<u8>, ContentError> {
    reply
        .attachment(reference)
        .map(|part| part.body.clone())
        .ok_or_else(|| ContentError {
            detail: format!("no MIME part with Content-ID {reference:?} in the reply"),
        })
}

/// Undoes the double-base64 quirk on a sealed field: decodes once more only when that turns
/// non-CMS bytes into CMS bytes.
pub fn undo_double_base64_sealed(bytes: Vec<u8>) -> Vec<u8> {
    if bytes.first() == Some(&SEQUENCE_TAG) {
        return bytes;
    }
    match decode_base64(&bytes) {
        Ok(decoded) if decoded.first() == Some(&SEQUENCE_TAG) => decoded,
        _ => bytes,
    }
}

/// Undoes the double-base64 quirk on an unencrypted payload that is strict base64.
pub fn undo_double_base64_plain(bytes: Vec<u8>) -> Vec<u8> {
    if !is_strict_base64(&bytes) {
        return bytes;
    }
    match decode_base64(&bytes) {
        Ok(decoded) => decoded,
        Err(_) => bytes,
    }
}

/// Non-empty, only the standard alphabet with at most two padding characters at the end, and
/// (ignoring line breaks) a length that is a multiple of four.
fn is_strict_base64(bytes: &[u8]) -> bool {
    let compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|byte| !matches!(byte, b'\r' | b'\n'))
        .collect();
    if compact.is_empty() || !compact.len().is_multiple_of(4) {
        return false;
    }
    let body_end = compact.len()
        - compact
            .iter()
            .rev()
            .take_while(|byte| **byte == b'=')
            .count();
    if compact.len() - body_end > 2 {
        return false;
    }
    compact[..body_end]
        .iter()
        .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/')
}

/// Decodes base64 with XML whitespace anywhere.
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ehealth::transport::MimePart;
    use roxmltree::Document;

    fn reply_with_part(content_id: &str, body: &[u8]) -> SoapReply {
        SoapReply {
            envelope: String::new(),
            attachments: vec![MimePart {
                content_id: Some(content_id.to_owned()),
                content_type: Some("application/octet-stream".to_owned()),
                body: body.to_vec(),
            }],
        }
    }

    #[test]
    fn inline_value_is_decoded() {
        let document = Document::parse("<C>aGVs\n bG8=</C>").unwrap();
        let reply = reply_with_part("x", b"");
        let (bytes, transfer) = binary_value(document.root_element(), &reply).unwrap();
        assert_eq!(bytes, b"hello");
        assert_eq!(transfer, Transfer::Inline);
    }

    #[test]
    fn swaref_value_is_the_part() {
        let document = Document::parse("<C> cid:doc%40sim </C>").unwrap();
        let reply = reply_with_part("doc@sim", &[0x30, 0x80, 0]);
        let (bytes, transfer) = binary_value(document.root_element(), &reply).unwrap();
        assert_eq!(bytes, [0x30, 0x80, 0]);
        assert_eq!(transfer, Transfer::SwaRef);
    }

    #[test]
    fn mtom_value_is_the_part() {
        let xml = format!("<C><xop:Include xmlns:xop=\"{XOP_NS}\" href=\"cid:doc@sim\"/></C>");
        let document = Document::parse(&xml).unwrap();
        let reply = reply_with_part("doc@sim", b"PDF");
        let (bytes, transfer) = binary_value(document.root_element(), &reply).unwrap();
        assert_eq!(bytes, b"PDF");
        assert_eq!(transfer, Transfer::Mtom);
    }

    #[test]
    fn missing_part_is_an_error() {
        let document = Document::parse("<C>cid:gone</C>").unwrap();
        let reply = reply_with_part("doc@sim", b"PDF");
        let error = binary_value(document.root_element(), &reply).unwrap_err();
        assert!(error.detail.contains("\"cid:gone\""), "{}", error.detail);
    }

    #[test]
    fn sealed_quirk_decodes_only_to_cms() {
        let cms = vec![0x30, 0x80, 0x06, 0x09];
        assert_eq!(undo_double_base64_sealed(cms.clone()), cms);
        assert_eq!(undo_double_base64_sealed(b"MIAGCQ==".to_vec()), cms);
        // Valid base64 that does not decode to CMS stays as it is.
        assert_eq!(undo_double_base64_sealed(b"aGVsbG8=".to_vec()), b"aGVsbG8=");
    }

    #[test]
    fn plain_quirk_needs_strict_base64() {
        assert_eq!(undo_double_base64_plain(b"aGVsbG8=".to_vec()), b"hello");
        assert_eq!(
            undo_double_base64_plain(b"Hello, doctor".to_vec()),
            b"Hello, doctor"
        );
        assert_eq!(undo_double_base64_plain(b"abc".to_vec()), b"abc");
        assert_eq!(undo_double_base64_plain(Vec::new()), b"");
        assert_eq!(undo_double_base64_plain(b"ab=c".to_vec()), b"ab=c");
    }
}
