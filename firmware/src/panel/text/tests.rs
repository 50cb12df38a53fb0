use std::collections::BTreeSet;

use super::*;
use crate::panel::render::wrap;

/// The widest value each placeholder takes on the box.
const SAMPLES: &[(&str, &str)] = &[
    ("time", "23:59"),
    ("date", "31/12/2027"),
    ("count", "999"),
    ("tries", "3"),
    ("name", "Jan-Willem Vandenberghe-Lemaître"),
    ("insz", "85073003328"),
    ("value", "17041217004"),
    ("host", "practicebox"),
    ("version", "10.10.10"),
    ("file", "SSIN=85073003328 20260101-100000.acc-p12"),
];

/// Placeholders whose value the screen cuts to the row, so a one-row text may hold them.
const CUT_TO_ROW: &[&str] = &["name", "host"];

fn filled(language: Language, key: Text) -> String {
    language.format(key, SAMPLES)
}

#[test]
fn every_key_has_text_in_every_language() {
    for language in Language::ALL {
        for &key in Text::ALL {
            let text = language.text(key);
            assert!(!text.trim().is_empty(), "{key:?} is empty in {language}");
            assert_eq!(text, text.trim(), "{key:?} in {language} has outer spaces");
        }
    }
}

#[test]
fn placeholders_match_english() {
    for &key in Text::ALL {
        let english: BTreeSet<&str> = placeholders(Language::English.text(key))
            .into_iter()
            .collect();
        for language in [Language::Dutch, Language::French] {
            let other: BTreeSet<&str> = placeholders(language.text(key)).into_iter().collect();
            assert_eq!(other, english, "{key:?} in {language}");
        }
    }
}

#[test]
fn every_placeholder_has_a_sample() {
    let known: BTreeSet<&str> = SAMPLES.iter().map(|(name, _)| *name).collect();
    for &key in Text::ALL {
        for name in placeholders(Language::English.text(key)) {
            assert!(
                known.contains(name),
                "{key:?} uses {{{name}}} without a sample"
            );
        }
    }
}

#[test]
fn texts_fit_their_room() {
    let mut too_long = Vec::new();
    for language in Language::ALL {
        for &key in Text::ALL {
            let text = filled(language, key);
            match key.fit() {
                Fit::Line(columns) => {
                    let names = placeholders(language.text(key));
                    if names.iter().any(|name| CUT_TO_ROW.contains(name)) {
                        continue;
                    }
                    let width = text.chars().count();
                    if width > columns {
                        too_long.push(format!(
                            "{key:?} in {language} is {width} characters, room for {columns}: \
                             {text:?}"
                        ));
                    }
                }
                Fit::Rows(rows) => {
                    let wrapped = wrap(&text, COLUMNS);
                    if wrapped.len() > rows {
                        too_long.push(format!(
                            "{key:?} in {language} takes {} rows, room for {rows}: {wrapped:?}",
                            wrapped.len()
                        ));
                    }
                }
            }
        }
    }
    assert!(too_long.is_empty(), "{}", too_long.join("\n"));
}

#[test]
fn one_row_names_fit_when_cut() {
    // A one-row text with a cut placeholder must leave room for at least 8 characters of it.
    for language in Language::ALL {
        for &key in Text::ALL {
            let Fit::Line(columns) = key.fit() else {
                continue;
            };
            let template = language.text(key);
            if !placeholders(template)
                .iter()
                .any(|name| CUT_TO_ROW.contains(name))
            {
                continue;
            }
            let fixed = fill(template, &[("name", ""), ("host", "")])
                .chars()
                .count();
            assert!(
                fixed + 8 <= columns,
                "{key:?} in {language} leaves {} characters for the name",
                columns.saturating_sub(fixed)
            );
        }
    }
}

#[test]
fn texts_use_only_latin1() {
    for language in Language::ALL {
        for &key in Text::ALL {
            let text = language.text(key);
            let outside: Vec<char> = text.chars().filter(|c| u32::from(*c) > 0xFF).collect();
            assert!(
                outside.is_empty(),
                "{key:?} in {language} has {outside:?}, which the ISO-8859-1 font cannot draw"
            );
        }
    }
}

#[test]
fn fill_replaces_named_placeholders() {
    let text = fill(
        "{name} until {date}, {name}",
        &[("name", "A"), ("date", "B")],
    );

    assert_eq!(text, "A until B, A");
}

#[test]
fn fill_keeps_placeholder_without_value() {
    assert_eq!(fill("since {time}", &[]), "since {time}");
}

#[test]
fn language_code_round_trips() {
    for language in Language::ALL {
        assert_eq!(language.code().parse::<Language>(), Ok(language));
    }
    let error = "de".parse::<Language>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown panel language \"de\"; use nl, fr or en"
    );
}
