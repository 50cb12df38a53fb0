//! A small BER reader for the CMS layers of sealed messages.
//!
//! Sealed messages arrive in BER: indefinite lengths and OCTET STRINGs split into chunks, as
//! written by streaming encoders (OpenSSL `cms -stream`, BouncyCastle). The `der` crate reads
//! DER, and its BER mode reassembles only one level of indefinite-length chunks and copies every
//! `Any` it meets. This reader walks the encoding in place and borrows every element from the
//! input. It copies a string only when the string was split into chunks. Small elements
//! (certificates, signer and recipient infos) are converted to DER, so that the `cms` and
//! `x509-cert` types can decode them.

use std::borrow::Cow;

use der::DecodeOwned;

/// Maximum nesting of constructed elements; real CMS structures stay far below it.
const MAX_DEPTH: usize = 64;

/// A BER reading failure, without the layer it happened in (the caller adds that).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BerError {
    #[error("the data ends before the element that starts at byte {offset} is complete")]
    Truncated { offset: usize },
    #[error("invalid length at byte {offset}")]
    InvalidLength { offset: usize },
    #[error("elements are nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    #[error("expected {expected}, found tag {found}")]
    UnexpectedTag { expected: &'static str, found: Tag },
    #[error("{0}")]
    Invalid(String),
}

/// Tag class bits of the identifier octet.
const CLASS_UNIVERSAL: u8 = 0x00;
const CLASS_CONTEXT: u8 = 0x80;

/// The identifier of an element: class, constructed bit and tag number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    class: u8,
    constructed: bool,
    number: u32,
}

impl Tag {
    pub(crate) const INTEGER: Tag = Tag::universal(2, false);
    pub(crate) const OCTET_STRING: Tag = Tag::universal(4, false);
    pub(crate) const OID: Tag = Tag::universal(6, false);
    pub(crate) const SEQUENCE: Tag = Tag::universal(16, true);
    pub(crate) const SET: Tag = Tag::universal(17, true);

    const fn universal(number: u32, constructed: bool) -> Tag {
        Tag {
            class: CLASS_UNIVERSAL,
            constructed,
            number,
        }
    }

    /// Returns the context-specific tag `[number]`, constructed or primitive.
    pub(crate) const fn context(number: u32, constructed: bool) -> Tag {
        Tag {
            class: CLASS_CONTEXT,
            constructed,
            number,
        }
    }

    pub(crate) fn is_constructed(self) -> bool {
        self.constructed
    }

    /// Compares class and number, ignoring the constructed bit (BER may chunk strings).
    pub(crate) fn same_type(self, other: Tag) -> bool {
        self.class == other.class && self.number == other.number
    }

    fn is_end_of_contents(self) -> bool {
        self.class == CLASS_UNIVERSAL && !self.constructed && self.number == 0
    }

    /// Universal string types that BER may encode in constructed (chunked) form.
    fn is_universal_string(self) -> bool {
        self.class == CLASS_UNIVERSAL && matches!(self.number, 3 | 4 | 12 | 18..=22 | 25..=28 | 30)
    }

    fn identifier_octet(self) -> u8 {
        let constructed = if self.constructed { 0x20 } else { 0 };
        let low = if self.number < 31 {
            self.number as u8
        } else {
            0x1f
        };
        self.class | constructed | low
    }

    fn encode(self, out: &mut Vec<u8>) {
        out.push(self.identifier_octet());
        if self.number < 31 {
            return;
        }
        let mut groups = Vec::new();
        let mut number = self.number;
        loop {
            groups.push((number & 0x7f) as u8);
            number >>= 7;
            if number == 0 {
                break;
            }
        }
        for (index, group) in groups.iter().enumerate().rev() {
            let more = if index == 0 { 0 } else { 0x80 };
            out.push(group | more);
        }
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let form = if self.constructed {
            "constructed"
        } else {
            "primitive"
        };
        match self.class {
            CLASS_UNIVERSAL => write!(f, "UNIVERSAL {} ({form})", self.number),
            CLASS_CONTEXT => write!(f, "[{}] ({form})", self.number),
            0x40 => write!(f, "APPLICATION {} ({form})", self.number),
            _ => write!(f, "PRIVATE {} ({form})", self.number),
        }
    }
}

/// One element borrowed from the input: identifier, length octets, contents and, for an
/// indefinite length, the end-of-contents octets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    tag: Tag,
    header_len: usize,
    indefinite: bool,
    raw: &'a [u8],
    /// Offset of `raw` in the outermost input, for error messages.
    offset: usize,
}

impl<'a> Tlv<'a> {
    /// Parses the single element that must fill `input` exactly.
    pub(crate) fn parse_exact(input: &'a [u8]) -> Result<Tlv<'a>, BerError> {
        let tlv = parse_at(input, 0, 0)?;
        if tlv.raw.len() != input.len() {
            return Err(BerError::Invalid(format!(
                "{} bytes follow the end of the element",
                input.len() - tlv.raw.len()
            )));
        }
        Ok(tlv)
    }

    pub(crate) fn tag(&self) -> Tag {
        self.tag
    }

    /// Returns the whole encoding, header and end-of-contents octets included.
    pub(crate) fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Returns the contents octets, without the end-of-contents octets of an indefinite length.
    pub(crate) fn contents(&self) -> &'a [u8] {
        let end = if self.indefinite {
            self.raw.len() - 2
        } else {
            self.raw.len()
        };
        &self.raw[self.header_len..end]
    }

    /// The position of the contents octets in the input given to [`Tlv::parse_exact`].
    pub(crate) fn contents_range(&self) -> std::ops::Range<usize> {
        let start = self.offset + self.header_len;
        start..start + self.contents().len()
    }

    /// Checks the tag, ignoring whether a string type is chunked.
    pub(crate) fn expect(self, tag: Tag, expected: &'static str) -> Result<Tlv<'a>, BerError> {
        let form_matches = self.tag.constructed == tag.constructed
            || self.tag.is_universal_string()
            || tag.class == CLASS_CONTEXT;
        if self.tag.same_type(tag) && form_matches {
            return Ok(self);
        }
        Err(BerError::UnexpectedTag {
            expected,
            found: self.tag,
        })
    }

    /// Iterates over the elements inside a constructed element.
    pub(crate) fn children(&self) -> Children<'a> {
        Children {
            input: self.contents(),
            position: 0,
            base: self.offset + self.header_len,
        }
    }

    /// Returns the bytes of an OCTET STRING (or an implicitly tagged one), borrowed when the
    /// string is primitive and reassembled into one buffer when it was sent in chunks.
    pub(crate) fn octet_string(&self) -> Result<Cow<'a, [u8]>, BerError> {
        if !self.tag.constructed {
            return Ok(Cow::Borrowed(self.contents()));
        }
        let mut total = 0usize;
        visit_chunks(self, 0, &mut |chunk| total += chunk.len())?;
        let mut joined = Vec::with_capacity(total);
        visit_chunks(self, 0, &mut |chunk| joined.extend_from_slice(chunk))?;
        Ok(Cow::Owned(joined))
    }

    /// Decodes the element with a DER decoder, converting it to DER first when it is BER.
    pub(crate) fn decode<T: DecodeOwned>(&self) -> Result<T, BerError> {
        match T::from_der(self.raw) {
            Ok(value) => Ok(value),
            Err(der_error) => {
                let der = self.to_der()?;
                T::from_der(&der).map_err(|_| BerError::Invalid(der_error.to_string()))
            }
        }
    }

    /// Re-encodes the element with definite lengths and unchunked strings. It does not sort SET
    /// OF elements: the sender's order is kept, which is what a signature covers.
    pub(crate) fn to_der(self) -> Result<Vec<u8>, BerError> {
        let mut out = Vec::with_capacity(self.raw.len());
        write_der(&self, 0, &mut out)?;
        Ok(out)
    }
}

/// Iterator over the children of a constructed element.
#[derive(Debug)]
pub(crate) struct Children<'a> {
    input: &'a [u8],
    position: usize,
    base: usize,
}

impl<'a> Children<'a> {
    /// Returns the next child, or an error naming `expected` when there is none left.
    pub(crate) fn required(&mut self, expected: &'static str) -> Result<Tlv<'a>, BerError> {
        match self.next() {
            Some(child) => child,
            None => Err(BerError::Invalid(format!("missing {expected}"))),
        }
    }

    /// Returns the next child if it has the context-specific `tag`, leaving others in place.
    pub(crate) fn optional(&mut self, tag: Tag) -> Result<Option<Tlv<'a>>, BerError> {
        let mut lookahead = Children {
            input: self.input,
            position: self.position,
            base: self.base,
        };
        match lookahead.next() {
            Some(Ok(child)) if child.tag.same_type(tag) => {
                self.position = lookahead.position;
                Ok(Some(child))
            }
            Some(Err(error)) => Err(error),
            _ => Ok(None),
        }
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Tlv<'a>, BerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.position >= self.input.len() {
            return None;
        }
        let rest = &self.input[self.position..];
        let result = parse_at(rest, self.base + self.position, 1).and_then(|tlv| {
            if tlv.tag.is_end_of_contents() {
                return Err(BerError::Invalid(format!(
                    "unexpected end-of-contents octets at byte {}",
                    tlv.offset
                )));
            }
            Ok(tlv)
        });
        match &result {
            Ok(tlv) => self.position += tlv.raw.len(),
            Err(_) => self.position = self.input.len(),
        }
        Some(result)
    }
}

/// Reads the identifier and length octets at the start of `input`.
fn parse_header(input: &[u8], offset: usize) -> Result<(Tag, usize, Option<usize>), BerError> {
    let truncated = BerError::Truncated { offset };
    let first = *input.first().ok_or(truncated.clone())?;
    let class = first & 0xc0;
    let constructed = first & 0x20 != 0;
    let mut position = 1;

    let mut number = u32::from(first & 0x1f);
    if number == 0x1f {
        number = 0;
        loop {
            let byte = *input.get(position).ok_or(truncated.clone())?;
            position += 1;
            if number > (u32::MAX >> 7) {
                return Err(BerError::Invalid(format!(
                    "tag number too large at byte {offset}"
                )));
            }
            number = (number << 7) | u32::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                break;
            }
        }
    }
    let tag = Tag {
        class,
        constructed,
        number,
    };

    let length_octet = *input.get(position).ok_or(truncated.clone())?;
    position += 1;
    let length = match length_octet {
        0x00..=0x7f => Some(usize::from(length_octet)),
        0x80 if constructed => None,
        0x80 | 0xff => return Err(BerError::InvalidLength { offset }),
        _ => {
            let count = usize::from(length_octet & 0x7f);
            if count > std::mem::size_of::<usize>() {
                return Err(BerError::InvalidLength { offset });
            }
            let bytes = input
                .get(position..position + count)
                .ok_or(truncated.clone())?;
            position += count;
            Some(
                bytes
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            )
        }
    };
    Ok((tag, position, length))
}

/// Parses one element at the start of `input`, scanning an indefinite length to its end.
fn parse_at(input: &[u8], offset: usize, depth: usize) -> Result<Tlv<'_>, BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    let (tag, header_len, length) = parse_header(input, offset)?;

    let Some(length) = length else {
        let end = scan_indefinite(input, header_len, offset, depth)?;
        return Ok(Tlv {
            tag,
            header_len,
            indefinite: true,
            raw: &input[..end],
            offset,
        });
    };

    let end = header_len
        .checked_add(length)
        .ok_or(BerError::InvalidLength { offset })?;
    if end > input.len() {
        return Err(BerError::Truncated { offset });
    }
    Ok(Tlv {
        tag,
        header_len,
        indefinite: false,
        raw: &input[..end],
        offset,
    })
}

/// Returns the end (after the end-of-contents octets) of an indefinite-length element whose
/// contents start at `start`.
fn scan_indefinite(
    input: &[u8],
    start: usize,
    offset: usize,
    depth: usize,
) -> Result<usize, BerError> {
    let mut position = start;
    loop {
        let rest = &input[position..];
        if rest.len() < 2 {
            return Err(BerError::Truncated { offset });
        }
        if rest[0] == 0 && rest[1] == 0 {
            return Ok(position + 2);
        }
        let child = parse_at(rest, offset + position, depth + 1)?;
        position += child.raw.len();
    }
}

/// Calls `visit` with each primitive chunk of a constructed string, depth first.
fn visit_chunks(tlv: &Tlv<'_>, depth: usize, visit: &mut dyn FnMut(&[u8])) -> Result<(), BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    for child in tlv.children() {
        let child = child?;
        if child.tag.class != CLASS_UNIVERSAL || child.tag.number != 4 {
            return Err(BerError::UnexpectedTag {
                expected: "an OCTET STRING chunk",
                found: child.tag,
            });
        }
        if child.tag.constructed {
            visit_chunks(&child, depth + 1, visit)?;
        } else {
            visit(child.contents());
        }
    }
    Ok(())
}

fn write_length(length: usize, out: &mut Vec<u8>) {
    if length < 0x80 {
        out.push(length as u8);
        return;
    }
    let bytes = length.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

fn write_der(tlv: &Tlv<'_>, depth: usize, out: &mut Vec<u8>) -> Result<(), BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    if !tlv.tag.constructed {
        tlv.tag.encode(out);
        write_length(tlv.contents().len(), out);
        out.extend_from_slice(tlv.contents());
        return Ok(());
    }

    if tlv.tag.is_universal_string() {
        let primitive = Tag {
            constructed: false,
            ..tlv.tag
        };
        let joined = join_string_chunks(tlv, depth)?;
        primitive.encode(out);
        write_length(joined.len(), out);
        out.extend_from_slice(&joined);
        return Ok(());
    }

    let mut body = Vec::with_capacity(tlv.contents().len());
    for child in tlv.children() {
        write_der(&child?, depth + 1, &mut body)?;
    }
    tlv.tag.encode(out);
    write_length(body.len(), out);
    out.extend_from_slice(&body);
    Ok(())
}

/// Joins the chunks of a constructed universal string. BIT STRING chunks each start with an
/// unused-bits octet, and only the last chunk may have unused bits.
fn join_string_chunks(tlv: &Tlv<'_>, depth: usize) -> Result<Vec<u8>, BerError> {
    let mut joined = Vec::new();
    let mut last_unused_bits = None;
    append_string_chunks(tlv, depth, &mut joined, &mut last_unused_bits)?;
    if tlv.tag.number == 3 {
        joined.insert(0, last_unused_bits.unwrap_or(0));
    }
    Ok(joined)
}

fn append_string_chunks(
    tlv: &Tlv<'_>,
    depth: usize,
    joined: &mut Vec<u8>,
    last_unused_bits: &mut Option<u8>,
) -> Result<(), BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    let is_bit_string = tlv.tag.number == 3;
    for child in tlv.children() {
        let child = child?;
        if !child.tag.same_type(tlv.tag) {
            return Err(BerError::UnexpectedTag {
                expected: "a chunk of the same string type",
                found: child.tag,
            });
        }
        if child.tag.constructed {
            append_string_chunks(&child, depth + 1, joined, last_unused_bits)?;
            continue;
        }
        if !is_bit_string {
            joined.extend_from_slice(child.contents());
            continue;
        }

        if last_unused_bits.is_some_and(|bits| bits != 0) {
            return Err(BerError::Invalid(
                "a BIT STRING chunk with unused bits is not the last chunk".to_owned(),
            ));
        }
        let (unused_bits, bits) = child
            .contents()
            .split_first()
            .ok_or_else(|| BerError::Invalid("empty BIT STRING chunk".to_owned()))?;
        *last_unused_bits = Some(*unused_bits);
        joined.extend_from_slice(bits);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definite_primitive_is_borrowed() {
        let input = [0x04, 0x03, 1, 2, 3];
        let tlv = Tlv::parse_exact(&input).unwrap();
        let bytes = tlv.octet_string().unwrap();
        assert!(matches!(bytes, Cow::Borrowed(_)));
        assert_eq!(&*bytes, &[1, 2, 3]);
    }

    #[test]
    fn indefinite_chunks_are_joined() {
        // [0] constructed indefinite, two chunks, one nested constructed chunk.
        let input = [
            0xa0, 0x80, 0x04, 0x02, 1, 2, 0x24, 0x80, 0x04, 0x01, 3, 0x00, 0x00, 0x04, 0x01, 4,
            0x00, 0x00,
        ];
        let tlv = Tlv::parse_exact(&input).unwrap();
        assert_eq!(&*tlv.octet_string().unwrap(), &[1, 2, 3, 4]);
    }

    #[test]
    fn definite_constructed_chunks_are_joined() {
        let input = [0x24, 0x08, 0x04, 0x02, 1, 2, 0x04, 0x02, 3, 4];
        let tlv = Tlv::parse_exact(&input).unwrap();
        assert_eq!(&*tlv.octet_string().unwrap(), &[1, 2, 3, 4]);
    }

    #[test]
    fn truncated_definite_length() {
        let input = [0x30, 0x05, 0x02, 0x01];
        let error = Tlv::parse_exact(&input).unwrap_err();
        assert_eq!(error, BerError::Truncated { offset: 0 });
    }

    #[test]
    fn missing_end_of_contents() {
        let input = [0x30, 0x80, 0x02, 0x01, 0x05];
        let error = Tlv::parse_exact(&input).unwrap_err();
        assert_eq!(error, BerError::Truncated { offset: 0 });
    }

    #[test]
    fn nesting_limit() {
        let mut input = Vec::new();
        for _ in 0..100 {
            input.extend_from_slice(&[0x30, 0x80]);
        }
        input.extend_from_slice(&[0x05, 0x00]);
        input.resize(input.len() + 200, 0);
        assert_eq!(Tlv::parse_exact(&input).unwrap_err(), BerError::TooDeep);
    }

    #[test]
    fn trailing_bytes_rejected() {
        let input = [0x05, 0x00, 0xff];
        assert!(matches!(
            Tlv::parse_exact(&input),
            Err(BerError::Invalid(_))
        ));
    }

    #[test]
    fn to_der_makes_lengths_definite() {
        let input = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x01, 7, 0x04, 0x01, 8, 0x00, 0x00, 0x02, 0x01, 5, 0x00,
            0x00,
        ];
        let tlv = Tlv::parse_exact(&input).unwrap();
        assert_eq!(
            tlv.to_der().unwrap(),
            vec![0x30, 0x07, 0x04, 0x02, 7, 8, 0x02, 0x01, 5]
        );
    }

    #[test]
    fn to_der_joins_bit_string_chunks() {
        let input = [
            0x23, 0x80, 0x03, 0x02, 0x00, 0xaa, 0x03, 0x02, 0x04, 0xb0, 0x00, 0x00,
        ];
        let tlv = Tlv::parse_exact(&input).unwrap();
        assert_eq!(tlv.to_der().unwrap(), vec![0x03, 0x03, 0x04, 0xaa, 0xb0]);
    }

    #[test]
    fn long_form_length() {
        let mut input = vec![0x04, 0x82, 0x01, 0x00];
        input.extend(std::iter::repeat_n(9u8, 256));
        let tlv = Tlv::parse_exact(&input).unwrap();
        assert_eq!(tlv.contents().len(), 256);
        assert_eq!(tlv.to_der().unwrap(), input);
    }

    #[test]
    fn high_tag_number_round_trips() {
        let input = [0xbf, 0x81, 0x00, 0x02, 0x05, 0x00];
        let tlv = Tlv::parse_exact(&input).unwrap();
        assert_eq!(tlv.tag(), Tag::context(128, true));
        assert_eq!(tlv.to_der().unwrap(), input.to_vec());
    }
}
