//! The cardholder PIN: validation, the format-2 PIN block that VERIFY carries, and secure PIN
//! entry on pinpad readers (PC/SC part 10 `FEATURE_VERIFY_PIN_DIRECT`).
//!
//! A PIN only ever lives in [`Zeroizing`] buffers, and no function here logs it or puts it in an
//! error.

use zeroize::Zeroizing;

/// Minimum number of digits of a Belgian eID PIN.
pub const PIN_MIN_DIGITS: usize = 4;
/// Maximum number of digits of a Belgian eID PIN.
pub const PIN_MAX_DIGITS: usize = 12;

/// `FEATURE_VERIFY_PIN_DIRECT` tag in the GET_FEATURE_REQUEST response.
pub const FEATURE_VERIFY_PIN_DIRECT: u8 = 0x06;
/// `CM_IOCTL_GET_FEATURE_REQUEST` is `SCARD_CTL_CODE(3400)`.
pub const GET_FEATURE_REQUEST_FUNCTION: u32 = 3400;

/// A PIN that cannot be sent to the card. The variants never contain the PIN itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinFormatError {
    /// Too few or too many digits.
    #[error("the PIN has {length} characters; a Belgian eID PIN has 4 to 12 digits")]
    Length { length: usize },
    /// A character is not a decimal digit.
    #[error("the PIN contains a character that is not a digit; type digits only")]
    NotDigits,
}

/// Builds the 8-byte format-2 PIN block: `2L`, the digits in BCD, padded with `F`.
/// For example PIN 12345 gives `25 12 34 5F FF FF FF FF`.
pub fn pin_block(pin: &Zeroizing<String>) -> Result<Zeroizing<[u8; 8]>, PinFormatError> {
    let digits = pin.as_bytes();
    let length = pin.chars().count();
    if !(PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&length) {
        return Err(PinFormatError::Length { length });
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(PinFormatError::NotDigits);
    }

    let mut block = Zeroizing::new([0xFFu8; 8]);
    block[0] = 0x20 | length as u8;
    for (index, digit) in digits.iter().enumerate() {
        let nibble = digit - b'0';
        let byte = &mut block[1 + index / 2];
        if index % 2 == 0 {
            *byte = (nibble << 4) | 0x0F;
        } else {
            *byte = (*byte & 0xF0) | nibble;
        }
    }
    Ok(block)
}

/// A reader feature list entry that is not 6 bytes of tag, `04` and a 4-byte code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the reader's feature list is malformed at offset {offset}: expected tag, 04, 4-byte code")]
pub struct FeatureListError {
    /// Offset of the bad entry.
    pub offset: usize,
}

/// Parses the GET_FEATURE_REQUEST response (tag, `04`, big-endian control code, repeated) and
/// returns the control code of `FEATURE_VERIFY_PIN_DIRECT`, if the reader offers it.
pub fn verify_pin_direct_code(features: &[u8]) -> Result<Option<u32>, FeatureListError> {
    let mut found = None;
    for (index, entry) in features.chunks(6).enumerate() {
        let offset = index * 6;
        let [tag, 0x04, a, b, c, d] = *entry else {
            return Err(FeatureListError { offset });
        };
        if tag == FEATURE_VERIFY_PIN_DIRECT {
            found = Some(u32::from_be_bytes([a, b, c, d]));
        }
    }
    Ok(found)
}

/// Language shown on the pinpad's display (a Windows LANGID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinpadLanguage {
    /// Dutch (Belgium), `0813`.
    Dutch,
    /// French (Belgium), `080C`.
    French,
    /// German, `0407`.
    German,
    /// English, `0409`.
    English,
}

impl PinpadLanguage {
    fn lang_id(self) -> u16 {
        match self {
            Self::Dutch => 0x0813,
            Self::French => 0x080C,
            Self::German => 0x0407,
            Self::English => 0x0409,
        }
    }
}

/// Builds the `PIN_VERIFY_STRUCTURE` for a VERIFY of the cardholder PIN: the reader prompts,
/// fills the BCD digits and the length nibble of an empty format-2 block, and sends the APDU.
/// Multi-byte fields are little-endian.
pub fn pin_verify_structure(language: PinpadLanguage) -> Vec<u8> {
    const VERIFY_EMPTY_BLOCK: [u8; 13] = [
        0x00, 0x20, 0x00, 0x01, 0x08, 0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ];
    let mut structure = vec![
        0x1E,                 // bTimerOut: 30 s
        0x1E,                 // bTimerOut2: 30 s
        0x89, // bmFormatString: byte units, PIN starts 1 byte in, left-justified, BCD
        0x47, // bmPINBlockString: 4-bit length field, 7-byte PIN area
        0x04, // bmPINLengthFormat: the length is the low nibble of the first byte
        PIN_MAX_DIGITS as u8, // wPINMaxExtraDigit, low byte: maximum digits
        PIN_MIN_DIGITS as u8, // wPINMaxExtraDigit, high byte: minimum digits
        0x02, // bEntryValidationCondition: OK key
        0x01, // bNumberMessage
    ];
    structure.extend_from_slice(&language.lang_id().to_le_bytes());
    structure.push(0x00); // bMsgIndex
    structure.extend_from_slice(&[0x00, 0x00, 0x00]); // bTeoPrologue
    structure.extend_from_slice(&(VERIFY_EMPTY_BLOCK.len() as u32).to_le_bytes());
    structure.extend_from_slice(&VERIFY_EMPTY_BLOCK);
    structure
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(text: &str) -> Zeroizing<String> {
        Zeroizing::new(text.to_owned())
    }

    #[test]
    fn pin_block_four_digits() {
        assert_eq!(
            *pin_block(&pin("1234")).unwrap(),
            [0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
    }

    #[test]
    fn pin_block_odd_digits() {
        assert_eq!(
            *pin_block(&pin("12345")).unwrap(),
            [0x25, 0x12, 0x34, 0x5F, 0xFF, 0xFF, 0xFF, 0xFF]
        );
    }

    #[test]
    fn pin_block_twelve_digits() {
        assert_eq!(
            *pin_block(&pin("123456789012")).unwrap(),
            [0x2C, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0xFF]
        );
    }

    #[test]
    fn pin_block_rejects_lengths() {
        assert_eq!(
            pin_block(&pin("123")).unwrap_err(),
            PinFormatError::Length { length: 3 }
        );
        assert_eq!(
            pin_block(&pin("1234567890123")).unwrap_err(),
            PinFormatError::Length { length: 13 }
        );
    }

    #[test]
    fn pin_block_rejects_letters() {
        let error = pin_block(&pin("12a4")).unwrap_err();
        assert_eq!(error, PinFormatError::NotDigits);
        assert!(!error.to_string().contains("12a4"));
    }

    #[test]
    fn feature_list_finds_verify_pin_direct() {
        // A libccid pinpad response: VERIFY_PIN_DIRECT, MODIFY_PIN_DIRECT, IFD_PIN_PROPERTIES,
        // GET_TLV_PROPERTIES.
        let features = [
            0x06, 0x04, 0x42, 0x33, 0x00, 0x06, //
            0x07, 0x04, 0x42, 0x33, 0x00, 0x07, //
            0x0A, 0x04, 0x42, 0x33, 0x00, 0x0A, //
            0x12, 0x04, 0x42, 0x33, 0x00, 0x12,
        ];
        assert_eq!(verify_pin_direct_code(&features), Ok(Some(0x4233_0006)));
    }

    #[test]
    fn feature_list_without_pinpad() {
        let features = [0x12, 0x04, 0x42, 0x33, 0x00, 0x12];
        assert_eq!(verify_pin_direct_code(&features), Ok(None));
        assert_eq!(verify_pin_direct_code(&[]), Ok(None));
    }

    #[test]
    fn feature_list_rejects_bad_entry() {
        assert_eq!(
            verify_pin_direct_code(&[0x06, 0x04, 0x42, 0x33]),
            Err(FeatureListError { offset: 0 })
        );
        assert_eq!(
            verify_pin_direct_code(&[0x12, 0x04, 0, 0, 0, 1, 0x06, 0x02, 0, 0, 0, 0]),
            Err(FeatureListError { offset: 6 })
        );
    }

    #[test]
    fn verify_structure_layout() {
        let structure = pin_verify_structure(PinpadLanguage::Dutch);
        assert_eq!(structure.len(), 19 + 13);
        assert_eq!(
            &structure[..9],
            &[0x1E, 0x1E, 0x89, 0x47, 0x04, 0x0C, 0x04, 0x02, 0x01]
        );
        assert_eq!(&structure[9..11], &[0x13, 0x08]);
        assert_eq!(&structure[15..19], &[0x0D, 0x00, 0x00, 0x00]);
        assert_eq!(&structure[19..24], &[0x00, 0x20, 0x00, 0x01, 0x08]);
    }
}
