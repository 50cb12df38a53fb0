#![allow(clippy::unwrap_used, reason = "tests")]

use jiff::civil::date;

use super::*;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[test]
fn insz_accepts_valid_numbers() {
    check_insz("85073003328").unwrap();
    // Born in 2001: the check digits use the nine digits with a 2 in front.
    check_insz("01062721636").unwrap();
}

#[test]
fn insz_accepts_bis_numbers() {
    check_insz("85273003371").unwrap();
    check_insz("85473003317").unwrap();
}

#[test]
fn insz_rejects_format() {
    let error = check_insz("85.07.30-033.28").unwrap_err();
    assert_eq!(
        error.to_string(),
        "INSZ \"85.07.30-033.28\" must be 11 digits without separators, such as 85073003328"
    );
    assert!(matches!(
        check_insz("8507300332").unwrap_err(),
        RuleError::InszFormat { .. }
    ));
}

#[test]
fn insz_rejects_birth_date() {
    let error = check_insz("85133003328").unwrap_err();
    assert_eq!(
        error.to_string(),
        "INSZ \"85133003328\" does not start with a birth date (YYMMDD, month 00 to 12, or 20 to \
         32 and 40 to 52 for BIS numbers); retype the INSZ from the eID"
    );
    assert!(matches!(
        check_insz("85073203328").unwrap_err(),
        RuleError::InszBirthDate { .. }
    ));
}

#[test]
fn insz_rejects_check_digits() {
    let error = check_insz("85073003329").unwrap_err();
    assert_eq!(
        error.to_string(),
        "INSZ \"85073003329\" has wrong check digits (expected 28 or 57); retype the INSZ from \
         the eID"
    );
}

#[test]
fn riziv_strict_accepts_valid() {
    check_riziv("17041217004", RizivCheck::Strict).unwrap();
    check_riziv("17139009004", RizivCheck::Strict).unwrap();
}

#[test]
fn riziv_rejects_format() {
    let error = check_riziv("1-70412-17-004", RizivCheck::Strict).unwrap_err();
    assert_eq!(
        error.to_string(),
        "RIZIV number \"1-70412-17-004\" must be 11 digits without separators, such as \
         17041297004"
    );
    assert!(matches!(
        check_riziv("1704121700", RizivCheck::FormatOnly).unwrap_err(),
        RuleError::RizivFormat { .. }
    ));
}

#[test]
fn riziv_rejects_check_digits() {
    let error = check_riziv("17041218004", RizivCheck::Strict).unwrap_err();
    assert_eq!(
        error.to_string(),
        "RIZIV number \"17041218004\" has wrong check digits (digits 7 and 8 should be 17); \
         retype the number, or if it is genuine, turn off the strict RIZIV check"
    );
}

#[test]
fn riziv_format_only_skips_check_digits() {
    check_riziv("17041218004", RizivCheck::FormatOnly).unwrap();
}

#[test]
fn name_ignores_case_accents_and_spaces() {
    check_name(
        "family name",
        "  vandenberghe-lemaitre ",
        "Vandenberghe-Lemaître",
    )
    .unwrap();
    check_name("family name", "DE SMEDT", "De Smedt").unwrap();
}

#[test]
fn name_mismatch_reports_difference() {
    let error = check_name("family name", "Vandenberge", "Vandenberghe").unwrap_err();
    assert_eq!(
        error.to_string(),
        "the family name \"Vandenberge\" differs from \"Vandenberghe\" on the eID (first \
         difference at character 11); type the name as it is printed on the eID"
    );
}

#[test]
fn given_names_accept_first_or_all() {
    check_given_names("Jan-Willem", "Jan-Willem Alexandre").unwrap();
    check_given_names("jan-willem alexandre", "Jan-Willem Alexandre").unwrap();
    let error = check_given_names("Alexandre", "Jan-Willem Alexandre").unwrap_err();
    assert!(matches!(
        error,
        RuleError::NameMismatch {
            field: "first name",
            position: 1,
            ..
        }
    ));
}

#[test]
fn clean_name_rejects_empty_and_control() {
    assert_eq!(
        clean_name("family name", "  ").unwrap_err().to_string(),
        "the family name is empty; type it as it is printed on the eID"
    );
    assert_eq!(
        clean_name("first name", "Jan\nX").unwrap_err().to_string(),
        "the first name contains a line break or another control character; type it as it is \
         printed on the eID"
    );
    assert_eq!(clean_name("first name", " Jan ").unwrap(), "Jan");
}

#[test]
fn clean_name_normalises_to_nfc() {
    let decomposed = "Lemai\u{0302}tre";
    assert_eq!(clean_name("family name", decomposed).unwrap(), "Lemaître");
}

#[test]
fn same_person_accepts_match() {
    check_same_person(
        "85073003328",
        Some("85073003328"),
        "CN=x",
        Some("85073003328"),
    )
    .unwrap();
    check_same_person("85073003328", Some("85073003328"), "CN=x", None).unwrap();
}

#[test]
fn same_person_rejects_certificate_of_other() {
    let error = check_same_person("85073003328", Some("78031414230"), "CN=x", None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the typed INSZ 85073003328 is not the INSZ 78031414230 of the eHealth certificate; \
         choose the certificate of this doctor, or retype the INSZ"
    );
}

#[test]
fn same_person_rejects_other_eid() {
    let error = check_same_person(
        "85073003328",
        Some("85073003328"),
        "CN=x",
        Some("78031414230"),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the typed INSZ 85073003328 is not the national number 78031414230 of the eID in the \
         reader; insert the eID of the doctor whose certificate this is, or retype the INSZ"
    );
}

#[test]
fn same_person_rejects_certificate_without_ssin() {
    let error = check_same_person("85073003328", None, "CN=CBE=0123", None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the eHealth certificate \"CN=CBE=0123\" names no person (no SSIN= in its subject); \
         choose the personal eHealth certificate of the doctor"
    );
}

#[test]
fn end_defaults_to_certificate_end() {
    let now = ts("2026-12-04T12:00:00Z");
    let end = ts("2029-12-03T11:59:59.250Z");
    assert_eq!(
        resolve_end(None, now, end).unwrap(),
        ts("2029-12-03T11:59:59Z")
    );
}

#[test]
fn end_date_runs_to_end_of_day() {
    let now = ts("2026-12-04T12:00:00Z");
    let end = ts("2029-12-03T12:00:00Z");
    assert_eq!(
        resolve_end(Some(date(2027, 6, 30)), now, end).unwrap(),
        ts("2027-07-01T00:00:00Z")
    );
    assert_eq!(
        resolve_end(Some(date(2026, 12, 4)), now, end).unwrap(),
        ts("2026-12-05T00:00:00Z")
    );
    assert_eq!(
        resolve_end(Some(date(2029, 12, 3)), now, end).unwrap(),
        end,
        "the certificate's last day ends with the certificate"
    );
}

#[test]
fn end_date_in_past_rejected() {
    let now = ts("2026-12-04T12:00:00Z");
    let error = resolve_end(Some(date(2026, 12, 3)), now, ts("2029-12-03T12:00:00Z")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "end date 2026-12-03 is in the past (today is 2026-12-04); choose today or a later date"
    );
}

#[test]
fn end_date_after_certificate_rejected() {
    let now = ts("2026-12-04T12:00:00Z");
    let error = resolve_end(Some(date(2029, 12, 4)), now, ts("2029-12-03T12:00:00Z")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "end date 2029-12-04 is after the end of the eHealth certificate (2029-12-03); choose \
         2029-12-03 or an earlier date"
    );
}

#[test]
fn end_with_expired_certificate_rejected() {
    let now = ts("2026-12-04T12:00:00Z");
    let error = resolve_end(None, now, ts("2026-12-04T11:00:00Z")).unwrap_err();
    assert!(matches!(error, RuleError::CertificateEndsNow { .. }));
}

#[test]
fn days_left_counts_whole_days() {
    let now = ts("2026-12-04T12:00:00Z");
    assert_eq!(days_left(now, ts("2026-12-05T11:00:00Z")), 0);
    assert_eq!(days_left(now, ts("2027-01-03T12:00:00Z")), 30);
    assert_eq!(days_left(now, ts("2026-12-04T11:00:00Z")), -1);
}

#[test]
fn other_errors_name_fix() {
    let cases = [
        (
            RuleError::MandatorIsMain {
                insz: "78031414230".into(),
            },
            "INSZ 78031414230 is the main practitioner of this box, who needs no mandate; the \
             mandate must come from a colleague",
        ),
        (
            RuleError::NoMainPractitioner,
            "this box has no main practitioner yet; run `practicebox setup` for the box's own \
             doctor first",
        ),
        (
            RuleError::MainPractitionerExists {
                insz: "78031414230".into(),
                name: "Lotte Vermeiren".into(),
            },
            "this box already has a main practitioner (Lotte Vermeiren, INSZ 78031414230); a \
             colleague grants a mandate with `practicebox mandate add` instead",
        ),
        (
            RuleError::AlreadyMandator {
                insz: "85073003328".into(),
            },
            "INSZ 85073003328 is already stored as a colleague with a mandate; remove the \
             mandate before making this doctor the main practitioner",
        ),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}
