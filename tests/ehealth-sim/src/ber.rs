//! BER encoding the way Java/BouncyCastle streaming senders write CMS messages.
//!
//! Real ETKs and sealed messages are not DER: their outer structures have indefinite lengths
//! (`0x80` after the identifier, closed by `00 00`), and the encapsulated or encrypted content is a
//! constructed OCTET STRING split into 1000-byte segments. This module builds such encodings in two
//! ways:
//!
//! - [`der_to_ber`] re-encodes a DER value, choosing by tag path which constructed values get an
//!   indefinite length and which primitive strings are split into segments.
//! - [`Node`] is a small encoding tree whose leaves borrow their bytes, so large content is written
//!   straight into the output (or into a digest) without intermediate copies. With every
//!   `indefinite` and `chunk_size` unset the same tree writes DER.
//!
//! [`ber_to_der`] goes the other way, for readers: `der`'s `from_ber` accepts indefinite lengths
//! but returns the raw segments of a constructed OCTET STRING held in an `ANY` (such as a
//! SignedData's eContent), so BER input is normalised first.

use std::borrow::Cow;
use std::io::{self, Write};

/// Segment size of BouncyCastle's `BEROctetStringGenerator` when no buffer size is given.
pub const DEFAULT_CHUNK_SIZE: usize = 1000;

/// Deepest nesting [`der_to_ber`] descends into, the same limit as `der`'s reader.
const MAX_DEPTH: usize = 64;

const CONSTRUCTED: u8 = 0x20;
const OCTET_STRING: u8 = 0x04;
const CONTEXT_SPECIFIC: u8 = 0x80;
const CLASS_MASK: u8 = 0xC0;
const HIGH_TAG_NUMBER: u8 = 0x1F;
const INDEFINITE_LENGTH: u8 = 0x80;
const END_OF_CONTENTS: [u8; 2] = [0x00, 0x00];

/// Errors from re-encoding DER as BER.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BerError {
    #[error("truncated value at offset {offset}: its {part} runs past the end of the input")]
    Truncated { offset: usize, part: &'static str },

    #[error(
        "invalid DER length at offset {offset}: {reason}; the input must be DER with definite \
         lengths of at most 4 octets"
    )]
    InvalidLength { offset: usize, reason: &'static str },

    #[error(
        "{count} bytes follow the value that ends at offset {offset}; the input must hold exactly \
         one DER value"
    )]
    TrailingData { offset: usize, count: usize },

    #[error(
        "the value at offset {offset} has a high tag number (identifier 0x{identifier:02x}); only \
         tag numbers below 31 can be re-encoded, so leave it off the selected paths"
    )]
    HighTagNumber { offset: usize, identifier: u8 },

    #[error(
        "the value at offset {offset} (identifier 0x{identifier:02x}) cannot be split into \
         segments; only OCTET STRINGs and implicitly tagged primitive strings can"
    )]
    NotChunkable { offset: usize, identifier: u8 },

    #[error("the DER value nests deeper than {MAX_DEPTH} levels at offset {offset}")]
    TooDeep { offset: usize },

    #[error(
        "the constructed OCTET STRING has a segment with identifier 0x{identifier:02x} at offset \
         {offset}; its segments must be OCTET STRINGs"
    )]
    BadSegment { offset: usize, identifier: u8 },

    #[error("chunk size 0 is invalid; use a positive segment size such as 1000")]
    ZeroChunkSize,
}

/// One step of a tag path: an identifier octet, or any value at that position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagPattern {
    /// The value's identifier octet must equal this one (for example `0x30` for SEQUENCE).
    Tag(u8),
    /// Any value matches.
    Any,
}

impl TagPattern {
    fn matches(self, identifier: u8) -> bool {
        match self {
            TagPattern::Tag(expected) => expected == identifier,
            TagPattern::Any => true,
        }
    }
}

/// Which values [`der_to_ber`] re-encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Paths of identifier octets from the outermost value down. Every constructed value on a path
    /// gets an indefinite length, and a primitive string at the end of a path is split into
    /// segments. Values off every path are copied unchanged, so certificates and signed attributes
    /// keep their DER bytes.
    Paths(Vec<Vec<TagPattern>>),
    /// Every constructed value gets an indefinite length and every OCTET STRING longer than the
    /// chunk size is split, certificates included. Used to check that readers tolerate BER
    /// anywhere.
    Everything,
}

/// How [`der_to_ber`] re-encodes a DER value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BerOptions {
    pub selection: Selection,
    /// Segment size, in bytes, of split strings.
    pub chunk_size: usize,
}

impl BerOptions {
    /// Encoding of a ContentInfo SignedData with id-data content as BouncyCastle's
    /// `CMSSignedDataStreamGenerator` writes it: indefinite lengths on ContentInfo, SignedData,
    /// EncapsulatedContentInfo, the eContent `[0]` and the certificates `[0]`, and the eContent
    /// OCTET STRING split into segments.
    pub fn signed_data(chunk_size: usize) -> Self {
        use TagPattern::Tag;
        let content_info = [Tag(0x30), Tag(0xA0), Tag(0x30)];
        let econtent = [Tag(0x30), Tag(0xA0), Tag(OCTET_STRING)];
        let certificates = [Tag(0xA0)];
        Self {
            selection: Selection::Paths(vec![
                [content_info.as_slice(), econtent.as_slice()].concat(),
                [content_info.as_slice(), certificates.as_slice()].concat(),
            ]),
            chunk_size,
        }
    }

    /// Encoding of a ContentInfo EnvelopedData as BouncyCastle's streaming generator writes it:
    /// indefinite lengths on ContentInfo, EnvelopedData and EncryptedContentInfo, and the
    /// `[0] IMPLICIT` encrypted content split into segments.
    pub fn enveloped_data(chunk_size: usize) -> Self {
        use TagPattern::Tag;
        Self {
            selection: Selection::Paths(vec![vec![
                Tag(0x30),
                Tag(0xA0),
                Tag(0x30),
                Tag(0x30),
                Tag(CONTEXT_SPECIFIC),
            ]]),
            chunk_size,
        }
    }

    /// Every constructed value indefinite, every long OCTET STRING split.
    pub fn everything(chunk_size: usize) -> Self {
        Self {
            selection: Selection::Everything,
            chunk_size,
        }
    }
}

/// A value to encode. Leaves borrow their bytes, so encoding a tree copies each byte once.
#[derive(Debug, Clone)]
pub enum Node<'a> {
    /// A complete encoded value (identifier, length and contents), written as is.
    Encoded(Cow<'a, [u8]>),
    /// A constructed value. The constructed bit is set on the identifier when writing, so `0x30`
    /// and `0x10` both mean SEQUENCE.
    Constructed {
        identifier: u8,
        indefinite: bool,
        children: Vec<Node<'a>>,
    },
    /// A string value (OCTET STRING, or an implicitly tagged one such as `[0]` encryptedContent).
    /// With a chunk size it is written in constructed form with an indefinite length and segments
    /// of at most that many bytes, each a primitive OCTET STRING. The chunk size must be at least
    /// 1: encoding panics on 0.
    Octets {
        identifier: u8,
        value: &'a [u8],
        chunk_size: Option<usize>,
    },
    /// An OCTET STRING whose contents are the encoding of another node, as the eContent of a
    /// SignedData is the encoding of the message it signs. The inner node is encoded on the fly,
    /// straight into the segments. The chunk size must be at least 1, as for [`Node::Octets`].
    Wrapped {
        identifier: u8,
        inner: Box<Node<'a>>,
        chunk_size: Option<usize>,
    },
}

impl<'a> Node<'a> {
    /// A constructed value with a definite length.
    pub fn definite(identifier: u8, children: Vec<Node<'a>>) -> Self {
        Node::Constructed {
            identifier,
            indefinite: false,
            children,
        }
    }

    /// A constructed value with a definite length in DER mode or an indefinite one in BER mode.
    pub fn constructed(identifier: u8, indefinite: bool, children: Vec<Node<'a>>) -> Self {
        Node::Constructed {
            identifier,
            indefinite,
            children,
        }
    }

    /// A complete value that is already encoded.
    pub fn encoded(bytes: impl Into<Cow<'a, [u8]>>) -> Self {
        Node::Encoded(bytes.into())
    }

    /// Returns the number of bytes [`Node::write_to`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Node::Encoded(bytes) => bytes.len(),
            Node::Constructed {
                indefinite,
                children,
                ..
            } => {
                let content: usize = children.iter().map(Node::encoded_len).sum();
                framed_len(content, *indefinite)
            }
            Node::Octets {
                value, chunk_size, ..
            } => string_len(value.len(), *chunk_size),
            Node::Wrapped {
                inner, chunk_size, ..
            } => string_len(inner.encoded_len(), *chunk_size),
        }
    }

    /// Writes the encoding into `out`.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        match self {
            Node::Encoded(bytes) => out.write_all(bytes),
            Node::Constructed {
                identifier,
                indefinite,
                children,
            } => {
                if *indefinite {
                    out.write_all(&[identifier | CONSTRUCTED, INDEFINITE_LENGTH])?;
                } else {
                    let content = children.iter().map(Node::encoded_len).sum();
                    write_header(out, identifier | CONSTRUCTED, content)?;
                }
                for child in children {
                    child.write_to(out)?;
                }
                if *indefinite {
                    out.write_all(&END_OF_CONTENTS)?;
                }
                Ok(())
            }
            Node::Octets {
                identifier,
                value,
                chunk_size,
            } => match chunk_size {
                None => {
                    write_header(out, *identifier, value.len())?;
                    out.write_all(value)
                }
                Some(size) => {
                    out.write_all(&[identifier | CONSTRUCTED, INDEFINITE_LENGTH])?;
                    let mut segments = SegmentWriter::new(out, *size);
                    segments.write_all(value)?;
                    segments.finish()?;
                    out.write_all(&END_OF_CONTENTS)
                }
            },
            Node::Wrapped {
                identifier,
                inner,
                chunk_size,
            } => match chunk_size {
                None => {
                    write_header(out, *identifier, inner.encoded_len())?;
                    inner.write_to(out)
                }
                Some(size) => {
                    out.write_all(&[identifier | CONSTRUCTED, INDEFINITE_LENGTH])?;
                    let mut segments = SegmentWriter::new(out, *size);
                    inner.write_to(&mut segments)?;
                    segments.finish()?;
                    out.write_all(&END_OF_CONTENTS)
                }
            },
        }
    }

    /// Encodes the tree into a new vector sized exactly for it.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out)
            .unwrap_or_else(|_| unreachable!("writing into a Vec<u8> cannot fail"));
        out
    }
}

/// Re-encodes one DER value as BER according to `options`.
///
/// Only the values that `options` selects change form. Everything else, including the contents of
/// primitive values, is copied byte for byte.
pub fn der_to_ber(der: &[u8], options: &BerOptions) -> Result<Vec<u8>, BerError> {
    if options.chunk_size == 0 {
        return Err(BerError::ZeroChunkSize);
    }
    let (node, end) = parse_node(der, 0, &mut Vec::new(), options)?;
    if end != der.len() {
        return Err(BerError::TrailingData {
            offset: end,
            count: der.len() - end,
        });
    }
    Ok(node.to_vec())
}

/// Parses the DER value at `offset` into a node, descending only along selected paths. Returns the
/// node and the offset just past the value.
fn parse_node<'a>(
    der: &'a [u8],
    offset: usize,
    path: &mut Vec<u8>,
    options: &BerOptions,
) -> Result<(Node<'a>, usize), BerError> {
    if path.len() > MAX_DEPTH {
        return Err(BerError::TooDeep { offset });
    }
    let header = read_header(der, offset)?;
    let end = header.contents_start + header.contents_len;
    let whole = &der[offset..end];
    let contents = &der[header.contents_start..end];

    path.push(header.identifier);
    let role = options.role_of(path, &header, contents.len());
    let result = match role {
        Role::Copy => Ok(Node::encoded(whole)),
        Role::Descend | Role::Chunk if header.high_tag_number => Err(BerError::HighTagNumber {
            offset,
            identifier: header.identifier,
        }),
        Role::Descend => {
            parse_children(der, header.contents_start, end, path, options).map(|children| {
                Node::Constructed {
                    identifier: header.identifier,
                    indefinite: true,
                    children,
                }
            })
        }
        Role::Chunk if is_chunkable(header.identifier) => Ok(Node::Octets {
            identifier: header.identifier,
            value: contents,
            chunk_size: Some(options.chunk_size),
        }),
        Role::Chunk => Err(BerError::NotChunkable {
            offset,
            identifier: header.identifier,
        }),
    };
    path.pop();
    Ok((result?, end))
}

fn parse_children<'a>(
    der: &'a [u8],
    mut offset: usize,
    end: usize,
    path: &mut Vec<u8>,
    options: &BerOptions,
) -> Result<Vec<Node<'a>>, BerError> {
    let mut children = Vec::new();
    while offset < end {
        let (child, next) = parse_node(&der[..end], offset, path, options)?;
        children.push(child);
        offset = next;
    }
    Ok(children)
}

/// What [`der_to_ber`] does with one value.
enum Role {
    Copy,
    Descend,
    Chunk,
}

impl BerOptions {
    fn role_of(&self, path: &[u8], header: &Header, contents_len: usize) -> Role {
        let constructed = header.identifier & CONSTRUCTED != 0;
        match &self.selection {
            Selection::Everything if header.high_tag_number => Role::Copy,
            Selection::Everything if constructed => Role::Descend,
            Selection::Everything
                if header.identifier == OCTET_STRING && contents_len > self.chunk_size =>
            {
                Role::Chunk
            }
            Selection::Everything => Role::Copy,
            Selection::Paths(patterns) => {
                let on_path = patterns.iter().any(|pattern| path_matches(pattern, path));
                match (on_path, constructed) {
                    (false, _) => Role::Copy,
                    (true, true) => Role::Descend,
                    (true, false) => {
                        let path_ends = patterns.iter().any(|pattern| {
                            pattern.len() == path.len() && path_matches(pattern, path)
                        });
                        if path_ends { Role::Chunk } else { Role::Copy }
                    }
                }
            }
        }
    }
}

/// Whether `path` is a prefix of `pattern` (or all of it).
fn path_matches(pattern: &[TagPattern], path: &[u8]) -> bool {
    path.len() <= pattern.len()
        && pattern
            .iter()
            .zip(path)
            .all(|(step, identifier)| step.matches(*identifier))
}

/// Whether a primitive value with this identifier may be written in constructed form: a universal
/// OCTET STRING, or a context-specific tag that implicitly retags one.
fn is_chunkable(identifier: u8) -> bool {
    identifier == OCTET_STRING || identifier & CLASS_MASK == CONTEXT_SPECIFIC
}

/// The identifier and length octets of one DER value.
#[derive(Debug)]
struct Header {
    identifier: u8,
    high_tag_number: bool,
    identifier_len: usize,
    contents_start: usize,
    /// Zero when `indefinite`.
    contents_len: usize,
    indefinite: bool,
}

fn read_header(der: &[u8], offset: usize) -> Result<Header, BerError> {
    let header = read_ber_header(der, offset)?;
    if header.indefinite {
        return Err(BerError::InvalidLength {
            offset,
            reason: "indefinite length",
        });
    }
    Ok(header)
}

/// Reads identifier and length octets, accepting an indefinite length on a constructed value.
fn read_ber_header(der: &[u8], offset: usize) -> Result<Header, BerError> {
    let truncated = |part| BerError::Truncated { offset, part };
    let identifier = *der.get(offset).ok_or(truncated("identifier"))?;
    let mut position = offset + 1;

    let high_tag_number = identifier & HIGH_TAG_NUMBER == HIGH_TAG_NUMBER;
    if high_tag_number {
        loop {
            let octet = *der.get(position).ok_or(truncated("identifier"))?;
            position += 1;
            if octet & 0x80 == 0 {
                break;
            }
        }
    }

    let length_start = position;
    let first = *der.get(position).ok_or(truncated("length"))?;
    position += 1;
    let contents_len = match first {
        0x00..=0x7F => usize::from(first),
        INDEFINITE_LENGTH if identifier & CONSTRUCTED != 0 => {
            return Ok(Header {
                identifier,
                high_tag_number,
                identifier_len: length_start - offset,
                contents_start: position,
                contents_len: 0,
                indefinite: true,
            });
        }
        INDEFINITE_LENGTH => {
            return Err(BerError::InvalidLength {
                offset,
                reason: "indefinite length on a primitive value",
            });
        }
        0xFF => {
            return Err(BerError::InvalidLength {
                offset,
                reason: "reserved length octet 0xff",
            });
        }
        _ => {
            let count = usize::from(first & 0x7F);
            if count > 4 {
                return Err(BerError::InvalidLength {
                    offset,
                    reason: "more than 4 length octets",
                });
            }
            let octets = der
                .get(position..position + count)
                .ok_or(truncated("length"))?;
            position += count;
            octets
                .iter()
                .fold(0usize, |length, octet| (length << 8) | usize::from(*octet))
        }
    };

    if der.len() - position < contents_len {
        return Err(truncated("contents"));
    }
    Ok(Header {
        identifier,
        high_tag_number,
        identifier_len: length_start - offset,
        contents_start: position,
        contents_len,
        indefinite: false,
    })
}

/// Re-encodes one BER value with definite lengths, joining the segments of every constructed
/// OCTET STRING (identifier `0x24`) into one primitive OCTET STRING.
///
/// The result has DER lengths but is not checked or made canonical in other ways: SET OF order,
/// BOOLEAN and INTEGER forms are left as they are, so decode it with `from_ber`. Constructed
/// context-specific values stay constructed, because without the schema an implicitly tagged
/// constructed string (such as the `[0]` encrypted content of an EnvelopedData) cannot be told
/// apart from an explicit tag.
pub fn ber_to_der(ber: &[u8]) -> Result<Vec<u8>, BerError> {
    let mut out = Vec::with_capacity(ber.len());
    let end = normalise(ber, 0, 0, &mut out)?;
    if end != ber.len() {
        return Err(BerError::TrailingData {
            offset: end,
            count: ber.len() - end,
        });
    }
    Ok(out)
}

/// Appends the definite-length form of the value at `offset` to `out`. Returns the offset just
/// past the value.
fn normalise(
    ber: &[u8],
    offset: usize,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<usize, BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep { offset });
    }
    let header = read_ber_header(ber, offset)?;
    let identifier = &ber[offset..offset + header.identifier_len];

    if header.identifier & CONSTRUCTED == 0 {
        let end = header.contents_start + header.contents_len;
        out.extend_from_slice(identifier);
        write_length(out, header.contents_len);
        out.extend_from_slice(&ber[header.contents_start..end]);
        return Ok(end);
    }

    // Children are normalised into a buffer first, because their DER length is not known yet.
    // NOTE: this copies contents once per nesting level, which suits ETKs and certificates but
    // not multi-megabyte messages.
    let mut contents = Vec::new();
    let end = if header.identifier == OCTET_STRING | CONSTRUCTED {
        join_segments(ber, &header, depth, &mut contents)?
    } else {
        let mut position = header.contents_start;
        loop {
            match children_end(ber, &header, position)? {
                Some(end) => break end,
                None => position = normalise(ber, position, depth + 1, &mut contents)?,
            }
        }
    };

    if header.identifier == OCTET_STRING | CONSTRUCTED {
        out.push(OCTET_STRING);
    } else {
        out.extend_from_slice(identifier);
    }
    write_length(out, contents.len());
    out.extend_from_slice(&contents);
    Ok(end)
}

/// Appends the contents of every segment of a constructed OCTET STRING, nested ones included.
fn join_segments(
    ber: &[u8],
    header: &Header,
    depth: usize,
    contents: &mut Vec<u8>,
) -> Result<usize, BerError> {
    let mut position = header.contents_start;
    loop {
        if let Some(end) = children_end(ber, header, position)? {
            return Ok(end);
        }
        let segment = read_ber_header(ber, position)?;
        if segment.identifier & !CONSTRUCTED != OCTET_STRING {
            return Err(BerError::BadSegment {
                offset: position,
                identifier: segment.identifier,
            });
        }
        if segment.identifier & CONSTRUCTED != 0 {
            if depth + 1 > MAX_DEPTH {
                return Err(BerError::TooDeep { offset: position });
            }
            position = join_segments(ber, &segment, depth + 1, contents)?;
        } else {
            let end = segment.contents_start + segment.contents_len;
            contents.extend_from_slice(&ber[segment.contents_start..end]);
            position = end;
        }
    }
}

/// Where a constructed value ends, if its children end at `position`: at the end of its definite
/// length, or just past the end-of-contents octets of an indefinite one.
fn children_end(ber: &[u8], header: &Header, position: usize) -> Result<Option<usize>, BerError> {
    if !header.indefinite {
        let end = header.contents_start + header.contents_len;
        if position > end {
            return Err(BerError::InvalidLength {
                offset: header.contents_start,
                reason: "a nested value runs past the end of its enclosing value",
            });
        }
        return Ok((position == end).then_some(end));
    }
    match ber.get(position..position + 2) {
        Some(octets) if octets == END_OF_CONTENTS => Ok(Some(position + 2)),
        Some(_) => Ok(None),
        None => Err(BerError::Truncated {
            offset: position,
            part: "end-of-contents octets",
        }),
    }
}

fn write_length(out: &mut Vec<u8>, len: usize) {
    let mut header = Vec::with_capacity(1 + size_of::<usize>());
    write_header(&mut header, 0, len).unwrap_or_else(|_| unreachable!("Vec writes cannot fail"));
    out.extend_from_slice(&header[1..]);
}

/// Number of length octets DER uses for `len`.
fn length_octets(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
    }
}

fn framed_len(content: usize, indefinite: bool) -> usize {
    if indefinite {
        2 + content + END_OF_CONTENTS.len()
    } else {
        1 + length_octets(content) + content
    }
}

/// Encoded size of a string of `len` bytes, split into segments of `chunk_size` or primitive.
fn string_len(len: usize, chunk_size: Option<usize>) -> usize {
    match chunk_size {
        None => framed_len(len, false),
        Some(size) => {
            let full = len / size;
            let rest = len % size;
            let mut segments = full * framed_len(size, false);
            if rest > 0 {
                segments += framed_len(rest, false);
            }
            framed_len(segments, true)
        }
    }
}

/// Writes an identifier octet and a DER length.
fn write_header(out: &mut dyn Write, identifier: u8, len: usize) -> io::Result<()> {
    let mut header = [0u8; 1 + 1 + size_of::<usize>()];
    header[0] = identifier;
    let count = length_octets(len);
    if count == 1 {
        header[1] = len as u8;
    } else {
        let octets = count - 1;
        header[1] = 0x80 | octets as u8;
        let be = len.to_be_bytes();
        header[2..2 + octets].copy_from_slice(&be[be.len() - octets..]);
    }
    out.write_all(&header[..1 + count])
}

/// An [`io::Write`] that wraps what it receives into primitive OCTET STRING segments of a fixed
/// size. Full segments are written straight from the caller's buffer, and only a partial segment
/// is buffered.
struct SegmentWriter<'w> {
    out: &'w mut dyn Write,
    pending: Vec<u8>,
    chunk_size: usize,
}

impl<'w> SegmentWriter<'w> {
    fn new(out: &'w mut dyn Write, chunk_size: usize) -> Self {
        assert!(chunk_size > 0, "a BER segment size must be at least 1 byte");
        Self {
            out,
            pending: Vec::with_capacity(chunk_size),
            chunk_size,
        }
    }

    fn write_segment(out: &mut dyn Write, segment: &[u8]) -> io::Result<()> {
        write_header(out, OCTET_STRING, segment.len())?;
        out.write_all(segment)
    }

    /// Writes the last, partial segment.
    fn finish(mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            Self::write_segment(self.out, &self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }
}

impl Write for SegmentWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;

        if !self.pending.is_empty() {
            let take = rest.len().min(self.chunk_size - self.pending.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == self.chunk_size {
                Self::write_segment(self.out, &self.pending)?;
                self.pending.clear();
            }
        }

        while rest.len() >= self.chunk_size {
            Self::write_segment(self.out, &rest[..self.chunk_size])?;
            rest = &rest[self.chunk_size..];
        }
        self.pending.extend_from_slice(rest);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// An [`io::Write`] that feeds a digest, so an encoding can be hashed without being stored.
#[derive(Debug)]
pub struct DigestWriter<D>(pub D);

impl<D: sha2::digest::Update> Write for DigestWriter<D> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.update(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use cms::content_info::{CmsVersion, ContentInfo};
    use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerInfos};
    use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
    use der::{Any, Decode, Encode, EncodingRules};

    use super::*;

    const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
    const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

    fn octets(value: &[u8], chunk_size: Option<usize>) -> Node<'_> {
        Node::Octets {
            identifier: OCTET_STRING,
            value,
            chunk_size,
        }
    }

    /// A DER ContentInfo SignedData with `content` as its eContent and no signers.
    fn signed_data_der(content: &[u8]) -> Vec<u8> {
        let econtent = OctetString::new(content).expect("octet string");
        let signed_data = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::default(),
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: Some(Any::encode_from(&econtent).expect("any")),
            },
            certificates: None,
            crls: None,
            signer_infos: SignerInfos(SetOfVec::default()),
        };
        ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data).expect("any"),
        }
        .to_der()
        .expect("encode")
    }

    #[test]
    fn segments_split_at_chunk_size() {
        for len in [0, 1, 999, 1000, 1001, 2500] {
            let value = vec![0xA5; len];
            let node = octets(&value, Some(1000));

            let encoded = node.to_vec();

            assert_eq!(encoded.len(), node.encoded_len(), "length {len}");
            assert_eq!(&encoded[..2], &[0x24, 0x80], "length {len}");
            assert_eq!(&encoded[encoded.len() - 2..], &[0, 0], "length {len}");
            let decoded = OctetString::from_ber(&encoded).expect("der reads the BER");
            assert_eq!(decoded.as_bytes(), value.as_slice(), "length {len}");
            let normalised = ber_to_der(&encoded).expect("normalise");
            assert_eq!(normalised, octets(&value, None).to_vec(), "length {len}");
        }
    }

    #[test]
    fn segment_count_matches_chunk_size() {
        let value = vec![1u8; 2500];

        let encoded = octets(&value, Some(1000)).to_vec();

        // 2 header, 3 segments with 4-byte headers, 2 end-of-contents.
        assert_eq!(encoded.len(), 2 + (4 + 1000) * 2 + (4 + 500) + 2);
        assert_eq!(&encoded[2..6], &[0x04, 0x82, 0x03, 0xE8]);
        assert_eq!(&encoded[2010..2014], &[0x04, 0x82, 0x01, 0xF4]);
    }

    #[test]
    fn wrapped_node_matches_octets() {
        let inner: Vec<u8> = (0..3000u32).map(|i| (i % 256) as u8).collect();
        for chunk_size in [None, Some(1000), Some(7)] {
            let wrapped = Node::Wrapped {
                identifier: OCTET_STRING,
                inner: Box::new(Node::encoded(inner.as_slice())),
                chunk_size,
            };

            let expected = octets(&inner, chunk_size).to_vec();

            assert_eq!(wrapped.to_vec(), expected, "chunk size {chunk_size:?}");
            assert_eq!(
                wrapped.encoded_len(),
                expected.len(),
                "chunk size {chunk_size:?}"
            );
        }
    }

    #[test]
    fn definite_tree_is_der() {
        let value = vec![9u8; 300];
        let tree = Node::definite(
            0x30,
            vec![octets(&value, None), Node::encoded(&[0x05, 0x00][..])],
        );

        let encoded = tree.to_vec();

        let expected = der::asn1::Any::from_der(&encoded).expect("valid DER");
        assert_eq!(expected.value().len(), 4 + 300 + 2);
        assert_eq!(&encoded[..4], &[0x30, 0x82, 0x01, 0x32]);
    }

    #[test]
    fn signed_data_round_trip() {
        let content = vec![0x42; 2500];
        let der = signed_data_der(&content);

        let ber = der_to_ber(&der, &BerOptions::signed_data(1000)).expect("re-encode");

        assert_eq!(&ber[..2], &[0x30, 0x80]);
        assert_eq!(ber_to_der(&ber).expect("normalise"), der);
        let content_info = ContentInfo::from_ber(&ber).expect("der reads the BER");
        assert_eq!(content_info.content_type, ID_SIGNED_DATA);
        let signed_data = content_info
            .content
            .decode_as_encoding::<SignedData>(EncodingRules::Ber)
            .expect("SignedData");
        assert_eq!(signed_data.version, CmsVersion::V1);
        assert_eq!(signed_data.encap_content_info.econtent_type, ID_DATA);
    }

    #[test]
    fn unselected_values_stay_der() {
        let der = signed_data_der(b"short");

        let ber = der_to_ber(&der, &BerOptions::signed_data(1000)).expect("re-encode");

        // version, digestAlgorithms and signerInfos keep their DER bytes.
        let tail = [0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        assert!(ber.ends_with(&tail), "{ber:02x?}");
        assert!(ber.windows(3).any(|window| window == [0x02, 0x01, 0x01]));
    }

    #[test]
    fn everything_makes_all_constructed_indefinite() {
        let der = signed_data_der(&[3u8; 50]);

        let ber = der_to_ber(&der, &BerOptions::everything(10)).expect("re-encode");

        assert_eq!(ber_to_der(&ber).expect("normalise"), der);
        // The 50-byte eContent is split into five 10-byte segments.
        let segment_headers = ber
            .windows(2)
            .filter(|window| *window == [0x04, 0x0A])
            .count();
        assert_eq!(segment_headers, 5);
        assert!(ContentInfo::from_ber(&ber).is_ok());
    }

    #[test]
    fn enveloped_data_path_chunks_implicit_string() {
        // ContentInfo { OID, [0] { SEQUENCE { INTEGER 0, SET {}, SEQUENCE { OID, [0] IMPLICIT } } } }
        let ciphertext = vec![0xEE; 40];
        let encrypted_content_info = Node::definite(
            0x30,
            vec![
                Node::encoded(ID_DATA.to_der().expect("oid")),
                Node::Octets {
                    identifier: 0x80,
                    value: &ciphertext,
                    chunk_size: None,
                },
            ],
        );
        let enveloped = Node::definite(
            0x30,
            vec![
                Node::encoded(&[0x02, 0x01, 0x00][..]),
                Node::encoded(&[0x31, 0x00][..]),
                encrypted_content_info,
            ],
        );
        let der = Node::definite(
            0x30,
            vec![
                Node::encoded(ID_DATA.to_der().expect("oid")),
                Node::definite(0xA0, vec![enveloped]),
            ],
        )
        .to_vec();

        let ber = der_to_ber(&der, &BerOptions::enveloped_data(16)).expect("re-encode");

        let implicit_start = ber
            .windows(2)
            .position(|window| window == [0xA0, 0x80])
            .and_then(|first| {
                ber[first + 2..]
                    .windows(2)
                    .rposition(|window| window == [0xA0, 0x80])
                    .map(|offset| first + 2 + offset)
            })
            .expect("a constructed [0] with indefinite length");
        assert_eq!(&ber[implicit_start + 2..implicit_start + 4], &[0x04, 0x10]);
    }

    #[test]
    fn trailing_data_rejected() {
        let mut der = signed_data_der(b"x");
        der.push(0x00);

        let error = der_to_ber(&der, &BerOptions::signed_data(1000)).expect_err("trailing byte");

        assert_eq!(
            error,
            BerError::TrailingData {
                offset: der.len() - 1,
                count: 1
            }
        );
        assert!(
            error.to_string().contains("exactly one DER value"),
            "{error}"
        );
    }

    #[test]
    fn truncated_input_rejected() {
        let der = signed_data_der(b"hello");

        let error = der_to_ber(&der[..der.len() - 3], &BerOptions::signed_data(1000))
            .expect_err("truncated");

        assert!(matches!(error, BerError::Truncated { .. }), "{error}");
    }

    #[test]
    fn indefinite_input_rejected_by_der_to_ber() {
        let ber = [0x30, 0x80, 0x05, 0x00, 0x00, 0x00];

        let error = der_to_ber(&ber, &BerOptions::everything(10)).expect_err("not DER");

        assert_eq!(
            error,
            BerError::InvalidLength {
                offset: 0,
                reason: "indefinite length"
            }
        );
    }

    #[test]
    fn zero_chunk_size_rejected() {
        let error = der_to_ber(&[0x05, 0x00], &BerOptions::everything(0)).expect_err("zero");

        assert_eq!(error, BerError::ZeroChunkSize);
        assert!(error.to_string().contains("such as 1000"), "{error}");
    }

    #[test]
    fn path_ending_at_integer_rejected() {
        let options = BerOptions {
            selection: Selection::Paths(vec![vec![TagPattern::Tag(0x30), TagPattern::Tag(0x02)]]),
            chunk_size: 10,
        };

        let error = der_to_ber(&[0x30, 0x03, 0x02, 0x01, 0x05], &options).expect_err("INTEGER");

        assert_eq!(
            error,
            BerError::NotChunkable {
                offset: 2,
                identifier: 0x02
            }
        );
    }

    #[test]
    fn bad_segment_rejected() {
        let ber = [0x24, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00];

        let error = ber_to_der(&ber).expect_err("INTEGER segment");

        assert_eq!(
            error,
            BerError::BadSegment {
                offset: 2,
                identifier: 0x02
            }
        );
    }

    #[test]
    fn deep_nesting_rejected() {
        let depth = MAX_DEPTH + 2;
        let mut ber = [0x30, 0x80].repeat(depth);
        ber.extend([0x00, 0x00].repeat(depth));

        let error = ber_to_der(&ber).expect_err("too deep");

        assert!(matches!(error, BerError::TooDeep { .. }), "{error}");
    }

    #[test]
    fn missing_end_of_contents_rejected() {
        let ber = [0x30, 0x80, 0x05, 0x00];

        let error = ber_to_der(&ber).expect_err("no EOC");

        assert!(matches!(error, BerError::Truncated { .. }), "{error}");
    }

    #[test]
    fn long_lengths_round_trip() {
        for len in [127, 128, 255, 256, 65_535, 65_536, 16_777_216] {
            let value = vec![0u8; len];
            let der = octets(&value, None).to_vec();

            let header = read_header(&der, 0).expect("header");

            assert_eq!(header.contents_len, len, "length {len}");
            assert_eq!(
                header.contents_start,
                1 + length_octets(len),
                "length {len}"
            );
        }
    }
}
