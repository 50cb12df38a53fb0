#![allow(clippy::unwrap_used, reason = "tests")]

use super::*;

/// The document of [`sample`], as signed. Regenerate it only when the format version changes.
const FIXTURE: &[u8] = include_bytes!("fixtures/mandate-v1.txt");

fn sample() -> MandateFields {
    MandateFields {
        mandator: Person {
            family_name: "Vandenberghe-Lemaître".into(),
            given_names: "Jan-Willem Alexandre".into(),
            insz: "85073003328".into(),
        },
        mandator_riziv: "17041217004".into(),
        grantee: Person {
            family_name: "Vermeiren".into(),
            given_names: "Lotte".into(),
            insz: "78031414230".into(),
        },
        box_id: "pbx-0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
        certificate_sha256: "9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab"
            .into(),
        starts_at: "2026-12-04T12:00:00Z".parse().unwrap(),
        ends_at: "2029-12-03T11:59:59Z".parse().unwrap(),
    }
}

#[test]
fn encoding_matches_fixture() {
    let bytes = encode(&sample()).unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        String::from_utf8(FIXTURE.to_vec()).unwrap()
    );
}

#[test]
fn encoding_is_bilingual() {
    let text = String::from_utf8(encode(&sample()).unwrap()).unwrap();
    assert!(text.contains("\nNL\nIk, Jan-Willem Alexandre Vandenberghe-Lemaître (INSZ"));
    assert!(text.contains("persoonlijke eHealthBox te downloaden"));
    assert!(text.contains("\nFR\nJe soussigné(e), Jan-Willem Alexandre Vandenberghe-Lemaître"));
    assert!(text.contains("télécharger mon eHealthBox personnelle"));
    for language_line in [
        "Dit mandaat geldt van 2026-12-04 12:00:00 UTC tot 2029-12-03 11:59:59 UTC.",
        "Ce mandat est valable du 2026-12-04 12:00:00 UTC au 2029-12-03 11:59:59 UTC.",
    ] {
        assert!(text.contains(language_line), "{language_line}");
    }
}

#[test]
fn encoding_is_canonical_text() {
    let bytes = encode(&sample()).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains('\r'));
    assert!(text.ends_with('\n'));
    assert!(!text.ends_with("\n\n"));
    for line in text.lines() {
        assert_eq!(line, line.trim_end(), "trailing space in {line:?}");
    }
    let nfc: String = text.nfc().collect();
    assert_eq!(text, nfc);
}

#[test]
fn decomposed_names_encode_identically() {
    let mut fields = sample();
    fields.mandator.family_name = "Vandenberghe-Lemai\u{0302}tre".into();
    assert_eq!(encode(&fields).unwrap(), FIXTURE);
}

#[test]
fn fields_parse_back() {
    let bytes = encode(&sample()).unwrap();
    let fields = parse_fields(&bytes).unwrap();
    let values: Vec<String> = fields.iter().map(|(_, value)| value.clone()).collect();
    assert_eq!(values, sample().values().to_vec());
    let keys: Vec<&str> = fields.iter().map(|(key, _)| *key).collect();
    assert_eq!(keys, FIELD_KEYS.to_vec());
}

#[test]
fn first_difference_names_field() {
    let mut other = sample();
    other.ends_at = "2030-01-01T00:00:00Z".parse().unwrap();
    let expected = parse_fields(&encode(&sample()).unwrap()).unwrap();
    let found_bytes = encode(&other).unwrap();
    let found = parse_fields(&found_bytes).unwrap();
    assert_eq!(
        first_difference(&expected, &found),
        Some((
            "ends_at",
            "2029-12-03T11:59:59Z".to_owned(),
            "2030-01-01T00:00:00Z".to_owned()
        ))
    );
}

#[test]
fn encode_rejects_line_break() {
    let mut fields = sample();
    fields.grantee.given_names = "Lotte\nFR".into();
    assert_eq!(
        encode(&fields).unwrap_err().to_string(),
        "the mandate field grantee.given_names contains a control character or line break; a \
         mandate document holds one line per field"
    );
}

#[test]
fn encode_rejects_empty_field() {
    let mut fields = sample();
    fields.box_id = " ".into();
    assert_eq!(
        encode(&fields).unwrap_err(),
        DocumentError::EmptyField { field: "box.id" }
    );
}

#[test]
fn parse_rejects_other_format() {
    assert_eq!(
        parse_fields(b"PracticeBox\nformat: other\n").unwrap_err(),
        DocumentError::UnknownFormat
    );
    assert_eq!(
        parse_fields(&[0xff, 0xfe]).unwrap_err(),
        DocumentError::NotUtf8
    );
    let text = format!("x\nformat: {FORMAT}\nmandator.family_name: A\n");
    assert_eq!(
        parse_fields(text.as_bytes()).unwrap_err().to_string(),
        "the mandate document lacks the field mandator.given_names"
    );
}
