//! Belgian person and provider numbers as the test PKI needs them: the INSZ (social security
//! number, called SSIN by eHealth) and the 11-digit RIZIV number (NIHII) of a doctor, with their
//! check digits.
//!
//! INSZ: 11 digits `YYMMDD` + a 3-digit birth serial (odd for men, even for women) + 2 check
//! digits. The check digits are `97 - (N mod 97)` where `N` is the first 9 digits read as a
//! number, and for births from the year 2000 on `N` is prefixed with a `2`
//! (`N + 2 000 000 000`).
//!
//! RIZIV number of a doctor: a 6-digit identifier, 2 check digits equal to
//! `97 - (identifier mod 97)`, then a 3-digit qualification code. The eHealth acceptance
//! environment's test doctor number `19997341001` follows this rule.
//!
//! NOTE: since April 2019 RIZIV also issues doctors' numbers whose check digits use a modulo-89
//! rule. Its exact formula was not verified, so [`validate_nihii11`] rejects such numbers and the
//! simulator only generates modulo-97 ones.

use jiff::civil::Date;

/// Errors of INSZ and RIZIV number checks and generation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("invalid INSZ {value:?}: expected exactly 11 digits without dots or dashes")]
    InszFormat { value: String },

    #[error(
        "invalid INSZ {value:?}: check digits {found:02} match neither a birth before 2000 \
         (expected {before_2000:02}) nor a birth from 2000 on (expected {from_2000:02})"
    )]
    InszCheckDigits {
        value: String,
        found: u8,
        before_2000: u8,
        from_2000: u8,
    },

    #[error("invalid INSZ birth serial {serial}: expected 1 to 998 (odd for men, even for women)")]
    InszSerial { serial: u16 },

    #[error("invalid INSZ birth date {date}: the INSZ only encodes years 1900 to 2099")]
    InszBirthYear { date: Date },

    #[error("invalid RIZIV number {value:?}: expected exactly 11 digits without dots or dashes")]
    NihiiFormat { value: String },

    #[error(
        "invalid RIZIV number {value:?}: check digits are {found:02}, expected {expected:02} \
         (97 minus the first 6 digits modulo 97)"
    )]
    NihiiCheckDigits {
        value: String,
        found: u8,
        expected: u8,
    },

    #[error("invalid RIZIV identifier {identifier}: expected 1 to 999999 (6 digits)")]
    NihiiIdentifier { identifier: u32 },

    #[error("invalid RIZIV qualification code {code}: expected 0 to 999 (3 digits)")]
    NihiiQualification { code: u16 },
}

/// Computes the INSZ check digits of the first 9 digits (`YYMMDD` + serial).
pub fn insz_check_digits(first_nine: u32, born_from_2000: bool) -> u8 {
    let mut number = u64::from(first_nine);
    if born_from_2000 {
        number += 2_000_000_000;
    }
    // The remainder is below 97, so the result is 1..=97 and fits in a u8.
    (97 - number % 97) as u8
}

/// Builds a valid INSZ from a birth date and the birth serial of that day (1 to 998).
pub fn insz_from_birth_date(birth: Date, serial: u16) -> Result<String, IdError> {
    if !(1..=998).contains(&serial) {
        return Err(IdError::InszSerial { serial });
    }
    if !(1900..=2099).contains(&birth.year()) {
        return Err(IdError::InszBirthYear { date: birth });
    }

    let year = (birth.year() % 100) as u32;
    let first_nine = year * 10_000_000
        + birth.month() as u32 * 100_000
        + birth.day() as u32 * 1_000
        + u32::from(serial);
    let check = insz_check_digits(first_nine, birth.year() >= 2000);
    Ok(format!("{first_nine:09}{check:02}"))
}

/// Checks that `value` is 11 digits whose check digits fit a birth before or from 2000.
pub fn validate_insz(value: &str) -> Result<(), IdError> {
    let digits = eleven_digits(value).ok_or_else(|| IdError::InszFormat {
        value: value.to_owned(),
    })?;

    let first_nine = (digits / 100) as u32;
    let found = (digits % 100) as u8;
    let before_2000 = insz_check_digits(first_nine, false);
    let from_2000 = insz_check_digits(first_nine, true);
    if found == before_2000 || found == from_2000 {
        return Ok(());
    }
    Err(IdError::InszCheckDigits {
        value: value.to_owned(),
        found,
        before_2000,
        from_2000,
    })
}

/// Computes the 2 check digits of a 6-digit RIZIV identifier.
pub fn nihii_check_digits(identifier: u32) -> u8 {
    (97 - identifier % 97) as u8
}

/// Builds an 11-digit RIZIV number from a 6-digit identifier and a 3-digit qualification code.
pub fn nihii11(identifier: u32, qualification: u16) -> Result<String, IdError> {
    if !(1..=999_999).contains(&identifier) {
        return Err(IdError::NihiiIdentifier { identifier });
    }
    if qualification > 999 {
        return Err(IdError::NihiiQualification {
            code: qualification,
        });
    }
    let check = nihii_check_digits(identifier);
    Ok(format!("{identifier:06}{check:02}{qualification:03}"))
}

/// Checks that `value` is an 11-digit RIZIV number with modulo-97 check digits.
pub fn validate_nihii11(value: &str) -> Result<(), IdError> {
    let digits = eleven_digits(value).ok_or_else(|| IdError::NihiiFormat {
        value: value.to_owned(),
    })?;

    let identifier = (digits / 100_000) as u32;
    let found = ((digits / 1_000) % 100) as u8;
    let expected = nihii_check_digits(identifier);
    if found == expected {
        return Ok(());
    }
    Err(IdError::NihiiCheckDigits {
        value: value.to_owned(),
        found,
        expected,
    })
}

fn eleven_digits(value: &str) -> Option<u64> {
    if value.len() != 11 || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn insz_known_examples_validate() {
        // The eHealth acceptance test person, born in 1979.
        assert_eq!(validate_insz("79021802145"), Ok(()));
        // A birth from 2000 on: 97 - (2 000 125 567 mod 97) = 77.
        assert_eq!(validate_insz("00012556777"), Ok(()));
    }

    #[test]
    fn insz_century_rule_changes_check_digits() {
        assert_eq!(insz_check_digits(790_218_021, false), 45);
        assert_eq!(insz_check_digits(125_567, true), 77);
        assert_eq!(insz_check_digits(125_567, false), 97 - (125_567 % 97) as u8);
    }

    #[test]
    fn insz_from_birth_date_round_trips() {
        let before = insz_from_birth_date(date(1979, 2, 18), 21);
        assert_eq!(before.as_deref(), Ok("79021802145"));

        let after = insz_from_birth_date(date(2000, 1, 25), 567);
        assert_eq!(after.as_deref(), Ok("00012556777"));
    }

    #[test]
    fn insz_rejects_bad_input() {
        assert!(matches!(
            validate_insz("79021802146"),
            Err(IdError::InszCheckDigits { found: 46, .. })
        ));
        assert!(matches!(
            validate_insz("7902180214"),
            Err(IdError::InszFormat { .. })
        ));
        assert!(matches!(
            validate_insz("79.02.18-021.45"),
            Err(IdError::InszFormat { .. })
        ));
        assert_eq!(
            insz_from_birth_date(date(1980, 1, 1), 0),
            Err(IdError::InszSerial { serial: 0 })
        );
        assert_eq!(
            insz_from_birth_date(date(1980, 1, 1), 999),
            Err(IdError::InszSerial { serial: 999 })
        );
    }

    #[test]
    fn nihii_known_example_validates() {
        // The eHealth acceptance test doctor: 97 - (199973 mod 97) = 41.
        assert_eq!(nihii_check_digits(199_973), 41);
        assert_eq!(validate_nihii11("19997341001"), Ok(()));
        assert_eq!(nihii11(199_973, 1).as_deref(), Ok("19997341001"));
    }

    #[test]
    fn nihii_rejects_bad_input() {
        assert!(matches!(
            validate_nihii11("19997342001"),
            Err(IdError::NihiiCheckDigits {
                found: 42,
                expected: 41,
                ..
            })
        ));
        assert!(matches!(
            validate_nihii11("1999734100"),
            Err(IdError::NihiiFormat { .. })
        ));
        assert_eq!(
            nihii11(1_000_000, 3),
            Err(IdError::NihiiIdentifier {
                identifier: 1_000_000
            })
        );
        assert_eq!(
            nihii11(199_973, 1000),
            Err(IdError::NihiiQualification { code: 1000 })
        );
    }

    #[test]
    fn error_text_names_value_and_rule() {
        let error = validate_nihii11("19997342001").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid RIZIV number \"19997342001\": check digits are 42, expected 41 \
             (97 minus the first 6 digits modulo 97)"
        );
    }
}
