//! The citizen data on the card: the identity file (3F00/DF01/4031), the address file (4033),
//! the INSZ with its check digits, and the answer to GET CARD DATA.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::tlv::{self, TlvError};

/// Tags of the identity file.
pub mod tag {
    pub const FILE_VERSION: u8 = 0x00;
    pub const CARD_NUMBER: u8 = 0x01;
    pub const CHIP_NUMBER: u8 = 0x02;
    pub const VALIDITY_BEGIN: u8 = 0x03;
    pub const VALIDITY_END: u8 = 0x04;
    pub const DELIVERY_MUNICIPALITY: u8 = 0x05;
    pub const NATIONAL_NUMBER: u8 = 0x06;
    pub const NAME: u8 = 0x07;
    pub const FIRST_NAMES: u8 = 0x08;
    pub const THIRD_INITIAL: u8 = 0x09;
    pub const NATIONALITY: u8 = 0x0A;
    pub const BIRTH_PLACE: u8 = 0x0B;
    pub const BIRTH_DATE: u8 = 0x0C;
    pub const SEX: u8 = 0x0D;
    pub const NOBLE_CONDITION: u8 = 0x0E;
    pub const DOCUMENT_TYPE: u8 = 0x0F;
    pub const SPECIAL_STATUS: u8 = 0x10;
    pub const PHOTO_HASH: u8 = 0x11;
    pub const BASIC_KEY_HASH: u8 = 0x1A;
}

/// Tags of the address file.
pub mod address_tag {
    pub const STREET_AND_NUMBER: u8 = 0x01;
    pub const POSTAL_CODE: u8 = 0x02;
    pub const MUNICIPALITY: u8 = 0x03;
}

/// An identity, address or card data file that does not have the expected content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The TLV structure is broken.
    #[error("the {file} file is malformed: {source}")]
    Tlv {
        file: &'static str,
        #[source]
        source: TlvError,
    },
    /// A mandatory field is absent.
    #[error("the {file} file has no {field} field (tag {tag:#04x})")]
    Missing {
        file: &'static str,
        field: &'static str,
        tag: u8,
    },
    /// A text field is not UTF-8.
    #[error("the {field} field of the {file} file is not valid UTF-8")]
    NotUtf8 {
        file: &'static str,
        field: &'static str,
    },
    /// A date field is not `DD.MM.YYYY`.
    #[error("the {field} field {value:?} is not a DD.MM.YYYY date")]
    BadDate { field: &'static str, value: String },
    /// The national number is not a valid INSZ.
    #[error(transparent)]
    Insz(#[from] InszError),
    /// GET CARD DATA returned too few bytes.
    #[error("GET CARD DATA returned {length} bytes; at least 28 are expected")]
    CardDataTooShort { length: usize },
}

/// An INSZ (national register number) that fails validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InszError {
    /// Not 11 digits.
    #[error("INSZ {value:?} must be exactly 11 digits without separators")]
    Format { value: String },
    /// The check digits do not match for a birth in either century.
    #[error("INSZ {value:?} has wrong check digits; check the number for a typing error")]
    CheckDigits { value: String },
}

/// A Belgian national register number (INSZ/NISS/SSIN), `YYMMDDSSSCC`, with valid check digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Insz(String);

impl Insz {
    /// Validates the 11 digits and the check digits `97 - (N mod 97)`, where N is the first
    /// nine digits, prefixed with `2` for people born in 2000 or later.
    pub fn parse(value: &str) -> Result<Self, InszError> {
        if value.len() != 11 || !value.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(InszError::Format {
                value: value.to_owned(),
            });
        }
        let (base, check) = value.split_at(9);
        let base: u64 = base.parse().unwrap_or_default();
        let check: u64 = check.parse().unwrap_or_default();
        let born_1900s = 97 - base % 97 == check;
        let born_2000s = 97 - (2_000_000_000 + base) % 97 == check;
        if !born_1900s && !born_2000s {
            return Err(InszError::CheckDigits {
                value: value.to_owned(),
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// Computes the check digits for nine leading digits (for test data).
    pub fn check_digits(first_nine: u64, born_2000s: bool) -> u64 {
        let base = if born_2000s {
            2_000_000_000 + first_nine
        } else {
            first_nine
        };
        97 - base % 97
    }

    /// Returns the 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Insz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity file of a Belgian eID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Document number printed on the card.
    pub card_number: String,
    /// Chip serial number (16 bytes).
    pub chip_number: Vec<u8>,
    /// First day of validity.
    pub validity_begin: Date,
    /// Last day of validity.
    pub validity_end: Date,
    /// Municipality that issued the card.
    pub delivery_municipality: String,
    /// National register number.
    pub insz: Insz,
    /// Surname.
    pub name: String,
    /// First two given names, space-separated.
    pub first_names: String,
    /// First letter of the third given name; often empty.
    pub third_initial: String,
    /// Nationality, in the card's language.
    pub nationality: String,
    /// Place of birth.
    pub birth_place: String,
    /// Birth date as printed (localized, for example `12 MARS 1975` or `12.MÄR.1975`).
    pub birth_date_text: String,
    /// Birth date parsed from the printed text, when day and month are known.
    pub birth_date: Option<Date>,
    /// `M`, or `F`/`V`/`W` for women.
    pub sex: String,
    /// Noble condition; usually empty.
    pub noble_condition: String,
    /// Document type code (`1` eID, `6` Kids-ID, foreigner cards above 10).
    pub document_type: String,
    /// Special status code (`0` none).
    pub special_status: String,
    /// Hash of the photo file: SHA-1 (20 bytes) on applet 1.7, SHA-384 (48) on 1.8.
    pub photo_hash: Vec<u8>,
    /// SHA-384 of the basic public key file (4040); applet 1.8 only.
    pub basic_key_hash: Option<Vec<u8>>,
    /// Every field by tag, including the ones this type does not name.
    pub fields: BTreeMap<u8, Vec<u8>>,
}

const IDENTITY: &str = "identity";
const ADDRESS: &str = "address";

impl Identity {
    /// Parses the identity file.
    pub fn parse(file: &[u8]) -> Result<Self, DataError> {
        let fields = tlv::parse(file).map_err(|source| DataError::Tlv {
            file: IDENTITY,
            source,
        })?;
        let text = |tag, field| text_field(&fields, IDENTITY, tag, field);
        let optional = |tag, field| optional_text(&fields, IDENTITY, tag, field);

        let birth_date_text = text(tag::BIRTH_DATE, "birth date")?;
        let insz = Insz::parse(&text(tag::NATIONAL_NUMBER, "national number")?)?;
        Ok(Self {
            card_number: text(tag::CARD_NUMBER, "card number")?,
            chip_number: bytes_field(&fields, IDENTITY, tag::CHIP_NUMBER, "chip number")?,
            validity_begin: dotted_date(
                &text(tag::VALIDITY_BEGIN, "validity begin")?,
                "validity begin",
            )?,
            validity_end: dotted_date(&text(tag::VALIDITY_END, "validity end")?, "validity end")?,
            delivery_municipality: optional(tag::DELIVERY_MUNICIPALITY, "delivery municipality")?,
            insz,
            name: text(tag::NAME, "name")?,
            first_names: optional(tag::FIRST_NAMES, "first names")?,
            third_initial: optional(tag::THIRD_INITIAL, "third given name")?,
            nationality: optional(tag::NATIONALITY, "nationality")?,
            birth_place: optional(tag::BIRTH_PLACE, "birth place")?,
            birth_date: parse_birth_date(&birth_date_text),
            birth_date_text,
            sex: optional(tag::SEX, "sex")?,
            noble_condition: optional(tag::NOBLE_CONDITION, "noble condition")?,
            document_type: optional(tag::DOCUMENT_TYPE, "document type")?,
            special_status: optional(tag::SPECIAL_STATUS, "special status")?,
            photo_hash: bytes_field(&fields, IDENTITY, tag::PHOTO_HASH, "photo hash")?,
            basic_key_hash: fields.get(&tag::BASIC_KEY_HASH).cloned(),
            fields,
        })
    }
}

/// The address file of a Belgian eID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Street and house number.
    pub street_and_number: String,
    /// Postal code.
    pub postal_code: String,
    /// Municipality.
    pub municipality: String,
}

impl Address {
    /// Parses the address file (zero padding included).
    pub fn parse(file: &[u8]) -> Result<Self, DataError> {
        let fields = tlv::parse(file).map_err(|source| DataError::Tlv {
            file: ADDRESS,
            source,
        })?;
        Ok(Self {
            street_and_number: text_field(
                &fields,
                ADDRESS,
                address_tag::STREET_AND_NUMBER,
                "street and number",
            )?,
            postal_code: text_field(&fields, ADDRESS, address_tag::POSTAL_CODE, "postal code")?,
            municipality: text_field(&fields, ADDRESS, address_tag::MUNICIPALITY, "municipality")?,
        })
    }
}

/// The Belpic applet generation, which decides key types and algorithm references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppletVersion {
    /// Applet 1.7: RSA-2048 citizen keys.
    V1_7,
    /// Applet 1.8: ECDSA P-384 citizen keys.
    V1_8,
}

impl std::fmt::Display for AppletVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V1_7 => f.write_str("1.7"),
            Self::V1_8 => f.write_str("1.8"),
        }
    }
}

/// The answer to GET CARD DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardData {
    /// Chip serial number (16 bytes).
    pub chip_serial: Vec<u8>,
    /// Applet version byte (`0x17`, `0x18`, or older values).
    pub applet_version_byte: u8,
    /// Applet life cycle (`0x0F` personalised).
    pub life_cycle: u8,
    /// Remaining PIN tries, only reported by applet 1.8 (`None` when unknown).
    pub pin_tries_left: Option<u8>,
}

impl CardData {
    /// Parses the 28 bytes of GET CARD DATA, or the 31 bytes of the applet 1.8 variant.
    pub fn parse(data: &[u8]) -> Result<Self, DataError> {
        if data.len() < 28 {
            return Err(DataError::CardDataTooShort { length: data.len() });
        }
        let pin_tries_left = data.get(28).copied().filter(|tries| *tries != 0xFF);
        Ok(Self {
            chip_serial: data[..16].to_vec(),
            applet_version_byte: data[21],
            life_cycle: data[27],
            pin_tries_left,
        })
    }
}

fn bytes_field(
    fields: &BTreeMap<u8, Vec<u8>>,
    file: &'static str,
    tag: u8,
    field: &'static str,
) -> Result<Vec<u8>, DataError> {
    fields
        .get(&tag)
        .cloned()
        .ok_or(DataError::Missing { file, field, tag })
}

fn text_field(
    fields: &BTreeMap<u8, Vec<u8>>,
    file: &'static str,
    tag: u8,
    field: &'static str,
) -> Result<String, DataError> {
    let bytes = bytes_field(fields, file, tag, field)?;
    String::from_utf8(bytes).map_err(|_| DataError::NotUtf8 { file, field })
}

fn optional_text(
    fields: &BTreeMap<u8, Vec<u8>>,
    file: &'static str,
    tag: u8,
    field: &'static str,
) -> Result<String, DataError> {
    match fields.get(&tag) {
        None => Ok(String::new()),
        Some(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| DataError::NotUtf8 { file, field })
        }
    }
}

fn dotted_date(value: &str, field: &'static str) -> Result<Date, DataError> {
    let bad = || DataError::BadDate {
        field,
        value: value.to_owned(),
    };
    let mut parts = value.split('.');
    let (Some(day), Some(month), Some(year), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let day: i8 = day.parse().map_err(|_| bad())?;
    let month: i8 = month.parse().map_err(|_| bad())?;
    let year: i16 = year.parse().map_err(|_| bad())?;
    Date::new(year, month, day).map_err(|_| bad())
}

/// Month tokens of French, Dutch and German cards, by month number.
const MONTH_TOKENS: [&[&str]; 12] = [
    &["JAN"],
    &["FEV", "FEB"],
    &["MARS", "MAAR", "MÄR"],
    &["AVR", "APR"],
    &["MAI", "MEI"],
    &["JUIN", "JUN"],
    &["JUIL", "JUL"],
    &["AOUT", "AUG"],
    &["SEPT", "SEP"],
    &["OCT", "OKT"],
    &["NOV"],
    &["DEC", "DEZ"],
];

/// Parses a localized birth date: day, month token and year separated by spaces (French and
/// Dutch cards) or dots (German cards). Returns `None` when the day or month is blank.
fn parse_birth_date(text: &str) -> Option<Date> {
    let parts: Vec<&str> = text
        .split([' ', '.'])
        .filter(|part| !part.is_empty())
        .collect();
    let [day, month, year] = parts.as_slice() else {
        return None;
    };
    let day: i8 = day.parse().ok()?;
    let year: i16 = year.parse().ok()?;
    let month_upper = month.to_uppercase();
    let month = MONTH_TOKENS
        .iter()
        .position(|tokens| tokens.contains(&month_upper.as_str()))?;
    Date::new(year, month as i8 + 1, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insz_accepts_valid_check_digits() {
        // 85.07.30-033.28: 97 - (850730033 mod 97) = 28.
        assert!(Insz::parse("85073003328").is_ok());
    }

    #[test]
    fn insz_accepts_born_after_2000() {
        let check = Insz::check_digits(10_203_004, true);
        let value = format!("010203004{check:02}");
        assert!(Insz::parse(&value).is_ok());
    }

    #[test]
    fn insz_rejects_wrong_check_digits() {
        let error = Insz::parse("85073003329").unwrap_err();
        assert_eq!(
            error.to_string(),
            "INSZ \"85073003329\" has wrong check digits; check the number for a typing error"
        );
    }

    #[test]
    fn insz_rejects_separators() {
        assert!(matches!(
            Insz::parse("85.07.30-033.28"),
            Err(InszError::Format { .. })
        ));
    }

    #[test]
    fn birth_date_parses_three_languages() {
        let expected = Date::new(1975, 3, 12).ok();
        assert_eq!(parse_birth_date("12 MARS 1975"), expected);
        assert_eq!(parse_birth_date("12 MAAR 1975"), expected);
        assert_eq!(parse_birth_date("12.MÄR.1975"), expected);
        assert_eq!(parse_birth_date("   1975"), None);
    }

    #[test]
    fn card_data_reads_version_and_tries() {
        let mut data = vec![0u8; 31];
        data[21] = 0x18;
        data[27] = 0x0F;
        data[28] = 2;
        let card_data = CardData::parse(&data).unwrap();
        assert_eq!(card_data.applet_version_byte, 0x18);
        assert_eq!(card_data.pin_tries_left, Some(2));
        assert_eq!(
            CardData::parse(&data[..27]).unwrap_err(),
            DataError::CardDataTooShort { length: 27 }
        );
    }

    #[test]
    fn address_parses_padded_file() {
        let mut file = vec![0x00, 0x01, 0x01];
        tlv::encode_field(&mut file, 0x01, "Wetstraat 16".as_bytes());
        tlv::encode_field(&mut file, 0x02, b"1000");
        tlv::encode_field(&mut file, 0x03, "Brussel".as_bytes());
        file.resize(117, 0);
        let address = Address::parse(&file).unwrap();
        assert_eq!(address.street_and_number, "Wetstraat 16");
        assert_eq!(address.postal_code, "1000");
        assert_eq!(address.municipality, "Brussel");
    }
}
