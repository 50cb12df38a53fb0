//! The simple TLV encoding of the identity and address files: a one-byte tag, a length in which
//! each leading `FF` adds 255 (300 is `FF 2D`), and the value. Tag `00` opens the file, and a
//! `00` tag anywhere after the start is zero padding, so it ends the list.

use std::collections::BTreeMap;

/// A TLV file that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    /// A length runs past the end of the file.
    #[error(
        "tag {tag:#04x} at offset {offset} declares {length} bytes but only {available} remain"
    )]
    Overrun {
        tag: u8,
        offset: usize,
        length: usize,
        available: usize,
    },
    /// The file ends inside a tag or length.
    #[error("the file ends inside the header of the field at offset {offset}")]
    Truncated { offset: usize },
    /// A tag appears twice.
    #[error("tag {tag:#04x} appears twice (second time at offset {offset})")]
    Duplicate { tag: u8, offset: usize },
}

/// Parses a TLV file into its fields by tag. Unknown tags are kept; the caller skips them.
pub fn parse(file: &[u8]) -> Result<BTreeMap<u8, Vec<u8>>, TlvError> {
    let mut fields = BTreeMap::new();
    let mut offset = 0;

    while offset < file.len() {
        let field_start = offset;
        let tag = file[offset];
        if tag == 0x00 && field_start > 0 {
            break;
        }
        offset += 1;

        let mut length = 0usize;
        loop {
            let byte = *file.get(offset).ok_or(TlvError::Truncated {
                offset: field_start,
            })?;
            offset += 1;
            length += usize::from(byte);
            if byte != 0xFF {
                break;
            }
        }

        let available = file.len() - offset;
        if length > available {
            return Err(TlvError::Overrun {
                tag,
                offset: field_start,
                length,
                available,
            });
        }
        let value = file[offset..offset + length].to_vec();
        offset += length;

        if fields.insert(tag, value).is_some() {
            return Err(TlvError::Duplicate {
                tag,
                offset: field_start,
            });
        }
    }
    Ok(fields)
}

/// Encodes one field; the emulator and tests build files with it.
pub fn encode_field(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    let mut remaining = value.len();
    while remaining >= 255 {
        out.push(0xFF);
        remaining -= 255;
    }
    out.push(remaining as u8);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_fields_and_stops_at_padding() {
        let file = [0x00, 0x01, 0x01, 0x06, 0x02, b'A', b'B', 0x00, 0x00, 0x00];
        let fields = parse(&file).unwrap();
        assert_eq!(fields.get(&0x00), Some(&vec![0x01]));
        assert_eq!(fields.get(&0x06), Some(&b"AB".to_vec()));
        assert_eq!(fields.len(), 2);
    }

    #[test]
    fn parse_reads_ff_extended_length() {
        let value = vec![0x41; 300];
        let mut file = vec![0x00, 0x01, 0x01];
        encode_field(&mut file, 0x07, &value);
        assert_eq!(&file[3..6], &[0x07, 0xFF, 0x2D]);
        assert_eq!(parse(&file).unwrap().get(&0x07), Some(&value));
    }

    #[test]
    fn parse_keeps_empty_fields() {
        let file = [0x00, 0x01, 0x01, 0x14, 0x00];
        assert_eq!(parse(&file).unwrap().get(&0x14), Some(&Vec::new()));
    }

    #[test]
    fn parse_rejects_overrun() {
        let file = [0x00, 0x01, 0x01, 0x07, 0x05, b'A'];
        let error = parse(&file).unwrap_err();
        assert_eq!(
            error,
            TlvError::Overrun {
                tag: 0x07,
                offset: 3,
                length: 5,
                available: 1
            }
        );
        assert_eq!(
            error.to_string(),
            "tag 0x07 at offset 3 declares 5 bytes but only 1 remain"
        );
    }

    #[test]
    fn parse_rejects_truncated_header() {
        assert_eq!(
            parse(&[0x00, 0x01, 0x01, 0x07]).unwrap_err(),
            TlvError::Truncated { offset: 3 }
        );
    }

    #[test]
    fn parse_rejects_duplicate_tag() {
        let file = [0x00, 0x01, 0x01, 0x07, 0x01, b'A', 0x07, 0x01, b'B'];
        assert!(matches!(
            parse(&file),
            Err(TlvError::Duplicate { tag: 0x07, .. })
        ));
    }
}
