//! The rules a mandate or a setup must pass before anything is stored.
//!
//! Each rule is a small function that returns a [`RuleError`] naming the value and the fix.
//! The rules only read: the caller stores nothing until every rule has passed.
//!
//! - INSZ: 11 digits `YYMMDDSSSCC`. The check number `CC` is 97 minus the first nine digits
//!   modulo 97. For people born from 2000 on, a `2` is put in front of the nine digits first.
//!   BIS numbers add 20 or 40 to the month and follow the same check rule.
//! - RIZIV number: 11 digits, an 8-digit identifier whose last two digits are 97 minus its first
//!   six digits modulo 97, then a 3-digit qualification code.
//! - Names: compared with the eID after trimming, ignoring letter case and accents.

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp, ToSpan, tz::TimeZone};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::eid::Insz;

/// The strictness of the RIZIV number check.
///
/// NOTE: the modulo-97 rule holds for the RIZIV numbers of doctors issued so far; newer
/// numbers may follow another rule. [`RizivCheck::FormatOnly`] accepts any 11 digits for
/// when a genuine number is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RizivCheck {
    /// 11 digits and the modulo-97 check digits.
    #[default]
    Strict,
    /// 11 digits only.
    FormatOnly,
}

/// A rule that a mandate or a setup does not pass. No variant contains a password or a PIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("INSZ {value:?} must be 11 digits without separators, such as 85073003328")]
    InszFormat { value: String },
    #[error(
        "INSZ {value:?} does not start with a birth date (YYMMDD, month 00 to 12, or 20 to 32 \
         and 40 to 52 for BIS numbers); retype the INSZ from the eID"
    )]
    InszBirthDate { value: String },
    #[error(
        "INSZ {value:?} has wrong check digits (expected {before_2000:02} or {from_2000:02}); \
         retype the INSZ from the eID"
    )]
    InszCheckDigits {
        value: String,
        before_2000: u64,
        from_2000: u64,
    },
    #[error("RIZIV number {value:?} must be 11 digits without separators, such as 17041297004")]
    RizivFormat { value: String },
    #[error(
        "RIZIV number {value:?} has wrong check digits (digits 7 and 8 should be {expected:02}); \
         retype the number, or if it is genuine, turn off the strict RIZIV check"
    )]
    RizivCheckDigits { value: String, expected: u64 },
    #[error("the {field} is empty; type it as it is printed on the eID")]
    EmptyName { field: &'static str },
    #[error(
        "the {field} contains a line break or another control character; type it as it is \
         printed on the eID"
    )]
    ControlCharacter { field: &'static str },
    #[error(
        "the {field} {typed:?} differs from {on_card:?} on the eID (first difference at \
         character {position}); type the name as it is printed on the eID"
    )]
    NameMismatch {
        field: &'static str,
        typed: String,
        on_card: String,
        position: usize,
    },
    #[error(
        "the typed INSZ {typed} is not the national number {on_card} of the eID in the reader; \
         insert the eID of the doctor whose certificate this is, or retype the INSZ"
    )]
    EidInszMismatch { typed: String, on_card: String },
    #[error(
        "the typed INSZ {typed} is not the INSZ {certificate} of the eHealth certificate; \
         choose the certificate of this doctor, or retype the INSZ"
    )]
    CertificateInszMismatch { typed: String, certificate: String },
    #[error(
        "the eHealth certificate {subject:?} names no person (no SSIN= in its subject); \
         choose the personal eHealth certificate of the doctor"
    )]
    CertificateWithoutInsz { subject: String },
    #[error(
        "INSZ {insz} is the main practitioner of this box, who needs no mandate; the mandate \
         must come from a colleague"
    )]
    MandatorIsMain { insz: String },
    #[error(
        "this box has no main practitioner yet; run `practicebox setup` for the box's own \
         doctor first"
    )]
    NoMainPractitioner,
    #[error(
        "this box already has a main practitioner ({name}, INSZ {insz}); a colleague grants a \
         mandate with `practicebox mandate add` instead"
    )]
    MainPractitionerExists { insz: String, name: String },
    #[error(
        "INSZ {insz} is already stored as a colleague with a mandate; remove the mandate \
         before making this doctor the main practitioner"
    )]
    AlreadyMandator { insz: String },
    #[error("end date {end} is in the past (today is {today}); choose today or a later date")]
    EndDateInPast { end: Date, today: Date },
    #[error(
        "end date {end} is after the end of the eHealth certificate ({certificate_end}); \
         choose {certificate_end} or an earlier date"
    )]
    EndDateAfterCertificate { end: Date, certificate_end: Date },
    #[error(
        "the eHealth certificate ends at {certificate_end}, which leaves no time for a \
         mandate; renew the certificate first"
    )]
    CertificateEndsNow { certificate_end: Timestamp },
}

/// Checks an INSZ (national number, or BIS number) typed by a person.
pub fn check_insz(value: &str) -> Result<(), RuleError> {
    let Some(digits) = eleven_digits(value) else {
        return Err(RuleError::InszFormat {
            value: value.to_owned(),
        });
    };

    let month = (digits / 10_000_000) % 100;
    let day = (digits / 100_000) % 100;
    let month_ok = matches!(month, 0..=12 | 20..=32 | 40..=52);
    if !month_ok || day > 31 {
        return Err(RuleError::InszBirthDate {
            value: value.to_owned(),
        });
    }

    let first_nine = digits / 100;
    let check = digits % 100;
    let before_2000 = Insz::check_digits(first_nine, false);
    let from_2000 = Insz::check_digits(first_nine, true);
    if check != before_2000 && check != from_2000 {
        return Err(RuleError::InszCheckDigits {
            value: value.to_owned(),
            before_2000,
            from_2000,
        });
    }
    Ok(())
}

/// Checks a RIZIV (NIHII) number of a care provider.
pub fn check_riziv(value: &str, check: RizivCheck) -> Result<(), RuleError> {
    let Some(digits) = eleven_digits(value) else {
        return Err(RuleError::RizivFormat {
            value: value.to_owned(),
        });
    };
    if check == RizivCheck::FormatOnly {
        return Ok(());
    }

    let identifier = digits / 100_000;
    let found = (digits / 1_000) % 100;
    let expected = 97 - identifier % 97;
    if found != expected {
        return Err(RuleError::RizivCheckDigits {
            value: value.to_owned(),
            expected,
        });
    }
    Ok(())
}

fn eleven_digits(value: &str) -> Option<u64> {
    if value.len() != 11 || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Trims a typed name and rejects an empty one or one with control characters.
pub fn clean_name(field: &'static str, typed: &str) -> Result<String, RuleError> {
    let trimmed = typed.trim();
    if trimmed.is_empty() {
        return Err(RuleError::EmptyName { field });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(RuleError::ControlCharacter { field });
    }
    Ok(trimmed.nfc().collect())
}

/// Folds a name for comparison: trimmed, accents removed, lowercase.
pub fn fold_name(name: &str) -> String {
    name.trim()
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Compares a typed name with the name on the eID, ignoring case and accents.
pub fn check_name(field: &'static str, typed: &str, on_card: &str) -> Result<(), RuleError> {
    let typed_folded = fold_name(typed);
    let card_folded = fold_name(on_card);
    if typed_folded == card_folded {
        return Ok(());
    }

    let position = typed_folded
        .chars()
        .zip(card_folded.chars())
        .take_while(|(a, b)| a == b)
        .count()
        + 1;
    Err(RuleError::NameMismatch {
        field,
        typed: typed.trim().to_owned(),
        on_card: on_card.to_owned(),
        position,
    })
}

/// Compares typed given names with those on the eID: either all of them, or the first one
/// alone, as most people write only their first given name.
pub fn check_given_names(typed: &str, on_card: &str) -> Result<(), RuleError> {
    let whole = check_name("first name", typed, on_card);
    if whole.is_ok() {
        return whole;
    }
    let first = on_card.split_whitespace().next().unwrap_or_default();
    if check_name("first name", typed, first).is_ok() {
        return Ok(());
    }
    whole
}

/// Checks that the typed INSZ, the eHealth certificate's SSIN and, once read, the eID's
/// national number are the same person.
pub fn check_same_person(
    typed: &str,
    certificate_ssin: Option<&str>,
    certificate_subject: &str,
    eid_insz: Option<&str>,
) -> Result<(), RuleError> {
    let Some(certificate) = certificate_ssin else {
        return Err(RuleError::CertificateWithoutInsz {
            subject: certificate_subject.to_owned(),
        });
    };
    if certificate != typed {
        return Err(RuleError::CertificateInszMismatch {
            typed: typed.to_owned(),
            certificate: certificate.to_owned(),
        });
    }
    if let Some(on_card) = eid_insz
        && on_card != typed
    {
        return Err(RuleError::EidInszMismatch {
            typed: typed.to_owned(),
            on_card: on_card.to_owned(),
        });
    }
    Ok(())
}

/// Turns a chosen end date into the mandate's end (exclusive), checked against `now` and the
/// end of the eHealth certificate.
///
/// No date means the certificate's end. A date `D` means "until the end of day D, UTC", so the
/// mandate ends at D+1 00:00 UTC, or at the certificate's end when that comes first on day D.
/// The result is whole seconds, as the mandate document writes it.
pub fn resolve_end(
    chosen: Option<Date>,
    now: Timestamp,
    certificate_end: Timestamp,
) -> Result<Timestamp, RuleError> {
    let certificate_end = whole_seconds(certificate_end);
    if certificate_end <= now {
        return Err(RuleError::CertificateEndsNow { certificate_end });
    }
    let Some(end) = chosen else {
        return Ok(certificate_end);
    };

    let today = utc_date(now);
    let last_day = utc_date(certificate_end);
    if end < today {
        return Err(RuleError::EndDateInPast { end, today });
    }
    if end > last_day {
        return Err(RuleError::EndDateAfterCertificate {
            end,
            certificate_end: last_day,
        });
    }

    let next_midnight = TimeZone::UTC
        .to_timestamp(end.saturating_add(1.day()).to_datetime(Time::midnight()))
        .unwrap_or(certificate_end);
    Ok(next_midnight.min(certificate_end))
}

/// Returns the UTC calendar date of `at`.
pub fn utc_date(at: Timestamp) -> Date {
    TimeZone::UTC.to_datetime(at).date()
}

/// Drops the sub-second part of `at`.
pub fn whole_seconds(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

/// Returns whole days from `now` to `end`, negative once `end` has passed.
pub fn days_left(now: Timestamp, end: Timestamp) -> i64 {
    let seconds = end.duration_since(now).as_secs();
    seconds.div_euclid(SignedDuration::from_hours(24).as_secs())
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
