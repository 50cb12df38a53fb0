//! A small reader of `multipart/related` HTTP bodies: SOAP with attachments (swaRef) and
//! MTOM/XOP replies, which reqwest hands over as plain bytes.
//!
//! It splits the body on the boundary of the Content-Type, reads each part's headers, decodes
//! `Content-Transfer-Encoding: base64` parts (binary, 8bit and 7bit parts are kept as they are)
//! and picks the root part named by the `start` parameter, or the first part when there is no
//! `start`. Attachments are found by Content-ID, with or without angle brackets, or by a `cid:`
//! URL as swaRef text and `xop:Include/@href` carry it.

use base64::Engine as _;

/// Failure while splitting a `multipart/related` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    #[error("the Content-Type {0:?} has no boundary parameter; the reply is not valid MIME")]
    NoBoundary(String),
    #[error("no part delimited by boundary {0:?} in the multipart reply")]
    NoParts(String),
    #[error("MIME part {index} has no blank line after its headers")]
    UnterminatedHeaders { index: usize },
    #[error(
        "MIME part {index} uses Content-Transfer-Encoding {encoding:?}, which is not supported"
    )]
    UnsupportedEncoding { index: usize, encoding: String },
    #[error("MIME part {index} is declared base64 but does not decode: {detail}")]
    InvalidBase64 { index: usize, detail: String },
    #[error("the start parameter names Content-ID {0:?}, but no part has it")]
    MissingRoot(String),
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimePart {
    /// Content-ID without angle brackets, if the part has one.
    pub content_id: Option<String>,
    pub content_type: Option<String>,
    /// The content, transfer-decoded.
    pub body: Vec<u8>,
}

/// A split `multipart/related` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The root part: the SOAP envelope (text/xml, or application/xop+xml for MTOM).
    pub root: MimePart,
    /// Every other part, in order.
    pub attachments: Vec<MimePart>,
}

impl Multipart {
    /// Returns the attachment whose Content-ID is `reference`: a `cid:` URL (percent-encoded
    /// as RFC 2392 specifies) or a bare Content-ID, with or without angle brackets.
    pub fn attachment(&self, reference: &str) -> Option<&MimePart> {
        find_attachment(&self.attachments, reference)
    }
}

/// Returns the part among `parts` named by `reference` (see [`Multipart::attachment`]).
pub fn find_attachment<'a>(parts: &'a [MimePart], reference: &str) -> Option<&'a MimePart> {
    let wanted = content_id_of_reference(reference);
    parts
        .iter()
        .find(|part| part.content_id.as_deref() == Some(wanted.as_str()))
}

/// Turns `cid:a%40b` or `<a@b>` into the bare Content-ID `a@b`.
pub fn content_id_of_reference(reference: &str) -> String {
    let trimmed = reference.trim();
    match trimmed.strip_prefix("cid:") {
        Some(encoded) => percent_decode(encoded),
        None => strip_angle_brackets(trimmed).to_owned(),
    }
}

/// Returns whether `content_type` is `multipart/related` (any parameters).
pub fn is_multipart_related(content_type: &str) -> bool {
    media_type(content_type) == "multipart/related"
}

/// Returns the lowercase media type of a Content-Type value, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Returns the value of parameter `name` of a Content-Type value, unquoted.
pub fn content_type_parameter(content_type: &str, name: &str) -> Option<String> {
    split_parameters(content_type)
        .into_iter()
        .skip(1)
        .find_map(|parameter| {
            let (key, value) = parameter.split_once('=')?;
            if !key.trim().eq_ignore_ascii_case(name) {
                return None;
            }
            Some(unquote(value.trim()))
        })
}

/// Splits a `multipart/related` body into its root and attachments.
pub fn split(content_type: &str, body: &[u8]) -> Result<Multipart, MimeError> {
    let boundary = content_type_parameter(content_type, "boundary")
        .filter(|boundary| !boundary.is_empty())
        .ok_or_else(|| MimeError::NoBoundary(content_type.to_owned()))?;
    let raw_parts = raw_parts(body, &boundary);
    if raw_parts.is_empty() {
        return Err(MimeError::NoParts(boundary));
    }

    let mut parts = Vec::with_capacity(raw_parts.len());
    for (index, raw) in raw_parts.into_iter().enumerate() {
        parts.push(parse_part(index + 1, raw)?);
    }

    let root_index = match content_type_parameter(content_type, "start") {
        Some(start) => {
            let wanted = strip_angle_brackets(&start).to_owned();
            parts
                .iter()
                .position(|part| part.content_id.as_deref() == Some(wanted.as_str()))
                .ok_or(MimeError::MissingRoot(wanted))?
        }
        None => 0,
    };
    let root = parts.remove(root_index);
    Ok(Multipart {
        root,
        attachments: parts,
    })
}

/// Returns the bytes of each part between the delimiters, without the CRLF that belongs to
/// the next delimiter. The preamble and the epilogue are dropped.
fn raw_parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut position = 0;
    while let Some(found) = find(&body[position..], delimiter) {
        let at = position + found;
        let at_line_start = at == 0 || body[at - 1] == b'\n';
        position = at + delimiter.len();
        if at_line_start {
            starts.push(at);
        }
    }

    let mut parts = Vec::new();
    for pair in starts.windows(2) {
        let (start, next) = (pair[0], pair[1]);
        let after_delimiter = start + delimiter.len();
        if body[after_delimiter..].starts_with(b"--") {
            break;
        }
        let content_start = skip_line(body, after_delimiter);
        let content_end = trim_line_break_before(body, next);
        if content_start <= content_end {
            parts.push(&body[content_start..content_end]);
        }
    }
    parts
}

/// Returns the index after the end of the line that contains `index`.
fn skip_line(body: &[u8], index: usize) -> usize {
    match body[index..].iter().position(|byte| *byte == b'\n') {
        Some(offset) => index + offset + 1,
        None => body.len(),
    }
}

/// Moves `end` back over the CRLF (or LF) that precedes a delimiter.
fn trim_line_break_before(body: &[u8], end: usize) -> usize {
    let mut end = end;
    if end > 0 && body[end - 1] == b'\n' {
        end -= 1;
        if end > 0 && body[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}

fn parse_part(index: usize, raw: &[u8]) -> Result<MimePart, MimeError> {
    let (header_end, body_start) =
        header_end(raw).ok_or(MimeError::UnterminatedHeaders { index })?;
    let header_text = String::from_utf8_lossy(&raw[..header_end]);
    let headers = unfold_headers(&header_text);

    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    let content = &raw[body_start..];
    let encoding = header("Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body = match encoding.as_str() {
        "" | "binary" | "8bit" | "7bit" => content.to_vec(),
        "base64" => {
            decode_base64(content).map_err(|detail| MimeError::InvalidBase64 { index, detail })?
        }
        _ => return Err(MimeError::UnsupportedEncoding { index, encoding }),
    };

    Ok(MimePart {
        content_id: header("Content-ID").map(|id| strip_angle_brackets(&id).to_owned()),
        content_type: header("Content-Type"),
        body,
    })
}

/// Returns (end of headers, start of body); a part without headers starts with a blank line.
fn header_end(raw: &[u8]) -> Option<(usize, usize)> {
    if raw.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if raw.starts_with(b"\n") {
        return Some((0, 1));
    }
    let crlf = find(raw, b"\r\n\r\n").map(|at| (at, at + 4));
    let lf = find(raw, b"\n\n").map(|at| (at, at + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (found, None) | (None, found) => found,
    }
}

/// Splits header lines into (name, value), joining folded continuation lines.
fn unfold_headers(text: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    headers
}

fn decode_base64(content: &[u8]) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = content
        .iter()
        .copied()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|error| error.to_string())
}

/// Splits `type/subtype; a=b; c="d;e"` on semicolons outside quotes.
fn split_parameters(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for character in value.chars() {
        if escaped {
            current.push(character);
            escaped = false;
            continue;
        }
        match character {
            '\\' if quoted => {
                current.push(character);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                current.push(character);
            }
            ';' if !quoted => parts.push(std::mem::take(&mut current)),
            _ => current.push(character),
        }
    }
    parts.push(current);
    parts
}

fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut unquoted = String::with_capacity(inner.len());
    let mut characters = inner.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            if let Some(next) = characters.next() {
                unquoted.push(next);
            }
        } else {
            unquoted.push(character);
        }
    }
    unquoted
}

fn strip_angle_brackets(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('<')
        .and_then(|inner| inner.strip_suffix('>'))
        .unwrap_or(value)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && index + 3 <= bytes.len()
            && let Some(byte) = hex_byte(&bytes[index + 1..index + 3])
        {
            decoded.push(byte);
            index += 3;
            continue;
        }
        decoded.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(text, 16).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SWAREF_TYPE: &str = "multipart/related; type=\"text/xml\"; \
        start=\"<root.message@cxf.apache.org>\"; boundary=\"uuid:9f1c\"";

    fn swaref_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(b"preamble to ignore\r\n");
        body.extend_from_slice(b"--uuid:9f1c\r\nContent-Type: text/xml; charset=UTF-8\r\n");
        body.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
        body.extend_from_slice(b"Content-ID: <root.message@cxf.apache.org>\r\n\r\n");
        body.extend_from_slice(b"<soap:Envelope/>");
        body.extend_from_slice(b"\r\n--uuid:9f1c\r\nContent-Type: application/octet-stream\r\n");
        body.extend_from_slice(b"Content-Transfer-Encoding: binary\r\nContent-ID: <doc@x>\r\n\r\n");
        body.extend_from_slice(&[0x30, 0x80, 0x0d, 0x0a, 0x00, 0xff]);
        body.extend_from_slice(b"\r\n--uuid:9f1c\r\nContent-Type: text/plain\r\n");
        body.extend_from_slice(b"Content-Transfer-Encoding: base64\r\nContent-ID: <b64@x>\r\n\r\n");
        body.extend_from_slice(b"aGVs\r\nbG8=");
        body.extend_from_slice(b"\r\n--uuid:9f1c--\r\nepilogue");
        body
    }

    #[test]
    fn split_finds_root_and_parts() {
        let multipart = split(SWAREF_TYPE, &swaref_body()).unwrap();
        assert_eq!(multipart.root.body, b"<soap:Envelope/>");
        assert_eq!(
            multipart.root.content_id.as_deref(),
            Some("root.message@cxf.apache.org")
        );
        assert_eq!(multipart.attachments.len(), 2);
        assert_eq!(
            multipart.attachment("cid:doc@x").unwrap().body,
            [0x30, 0x80, 0x0d, 0x0a, 0x00, 0xff]
        );
        assert_eq!(multipart.attachment("<b64@x>").unwrap().body, b"hello");
    }

    #[test]
    fn root_is_start_part_not_first() {
        let content_type = "multipart/related; boundary=b; start=\"<env>\"";
        let body = b"--b\r\nContent-ID: <att>\r\n\r\nDATA\r\n--b\r\nContent-ID: <env>\r\n\r\n<e/>\r\n--b--\r\n";
        let multipart = split(content_type, body).unwrap();
        assert_eq!(multipart.root.body, b"<e/>");
        assert_eq!(multipart.attachments[0].body, b"DATA");
    }

    #[test]
    fn cid_reference_is_percent_decoded() {
        let parts = vec![MimePart {
            content_id: Some("part 1@example".to_owned()),
            content_type: None,
            body: b"x".to_vec(),
        }];
        assert!(find_attachment(&parts, "cid:part%201%40example").is_some());
        assert!(find_attachment(&parts, "cid:other").is_none());
    }

    #[test]
    fn boundary_inside_content_is_not_a_delimiter() {
        let content_type = "multipart/related; boundary=xyz";
        let body = b"--xyz\r\n\r\n<e>--xyz inside</e>\r\n--xyz--";
        let multipart = split(content_type, body).unwrap();
        assert_eq!(multipart.root.body, b"<e>--xyz inside</e>");
    }

    #[test]
    fn missing_boundary_is_rejected() {
        let error = split("multipart/related; type=\"text/xml\"", b"").unwrap_err();
        assert_eq!(
            error,
            MimeError::NoBoundary("multipart/related; type=\"text/xml\"".to_owned())
        );
    }

    #[test]
    fn missing_start_part_is_rejected() {
        let content_type = "multipart/related; boundary=b; start=\"<gone>\"";
        let body = b"--b\r\nContent-ID: <env>\r\n\r\n<e/>\r\n--b--\r\n";
        assert_eq!(
            split(content_type, body).unwrap_err(),
            MimeError::MissingRoot("gone".to_owned())
        );
    }

    #[test]
    fn quoted_printable_is_rejected() {
        let content_type = "multipart/related; boundary=b";
        let body = b"--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=41\r\n--b--";
        assert!(matches!(
            split(content_type, body).unwrap_err(),
            MimeError::UnsupportedEncoding { index: 1, .. }
        ));
    }

    #[test]
    fn parameters_with_quoted_semicolons() {
        let value = "multipart/related; start-info=\"text/xml; x\"; boundary=\"a;b\"";
        assert_eq!(
            content_type_parameter(value, "boundary").as_deref(),
            Some("a;b")
        );
        assert_eq!(
            content_type_parameter(value, "start-info").as_deref(),
            Some("text/xml; x")
        );
        assert!(is_multipart_related(value));
        assert_eq!(media_type("Text/XML; charset=UTF-8"), "text/xml");
    }
}
