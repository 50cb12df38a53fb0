//! Exclusive canonicalisation against the outputs of xmllint, lxml and Apache Santuario.
//!
//! Each corpus folder under `fixtures/c14n` holds one input, `soap.xml`, and reference outputs
//! named `<producer>-<target>-<algorithm>[-pl|-withcomments].xml`. The target is `doc` (the whole
//! document) or the ID of a subtree, the algorithm is `exc` or `inc`, and `-pl` means the prefix
//! list `saml xsi`. Every exclusive reference must match byte for byte.

// Helpers outside #[test] functions unwrap too: a failed setup step should fail the test.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use practicebox_xmlsec::c14n::{self, C14nOptions};

/// Exclusive references per folder; `c14n-nl` has no Santuario outputs for exclusive forms.
const EXPECTED_EXCLUSIVE: [(&str, usize); 3] = [("c14n", 16), ("c14n-nl", 9), ("c14n-notab", 16)];

#[derive(Debug)]
struct Case {
    path: PathBuf,
    target: String,
    exclusive: bool,
    options: C14nOptions,
}

fn corpus_folder(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/c14n")
        .join(name)
}

/// Reads the target, algorithm and options from a reference file name.
fn parse_case(path: &Path) -> Option<Case> {
    let stem = path.file_stem()?.to_str()?;
    let rest = ["ref-xmllint-", "ref-lxml-", "java-"]
        .iter()
        .find_map(|producer| stem.strip_prefix(producer))?;

    let mut parts: Vec<&str> = rest.split('-').collect();
    let mut options = C14nOptions::exclusive();
    match parts.last() {
        Some(&"pl") => {
            options = options.prefix_list("saml xsi");
            parts.pop();
        }
        Some(&"withcomments") => {
            options = options.keep_comments();
            parts.pop();
        }
        _ => {}
    }
    let exclusive = match parts.pop()? {
        "exc" => true,
        "inc" => false,
        other => panic!("unknown algorithm {other:?} in {}", path.display()),
    };

    Some(Case {
        path: path.to_owned(),
        target: parts.join("-"),
        exclusive,
        options,
    })
}

fn cases(folder: &Path) -> Vec<Case> {
    let mut cases: Vec<Case> = fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| parse_case(&path))
        .collect();
    cases.sort_by(|a, b| a.path.cmp(&b.path));
    cases
}

fn canonicalize(input: &str, case: &Case) -> Vec<u8> {
    if case.target == "doc" {
        c14n::canonicalize_document(input, &case.options).unwrap()
    } else {
        c14n::canonicalize_subtree_by_id(input, &case.target, &case.options).unwrap()
    }
}

#[test]
fn exclusive_references_match() {
    let mut failures = Vec::new();

    for (folder_name, expected_count) in EXPECTED_EXCLUSIVE {
        let folder = corpus_folder(folder_name);
        let input = fs::read_to_string(folder.join("soap.xml")).unwrap();
        let mut passed = 0;

        for case in cases(&folder) {
            if !case.exclusive {
                // Inclusive C14N is not implemented: eHealth signatures use the exclusive form.
                eprintln!(
                    "skipped (inclusive c14n is not implemented): {}",
                    case.path.display()
                );
                continue;
            }
            let expected = fs::read(&case.path).unwrap();
            let actual = canonicalize(&input, &case);
            if actual == expected {
                passed += 1;
            } else {
                failures.push(format!(
                    "{}:\n expected {}\n actual   {}",
                    case.path.display(),
                    String::from_utf8_lossy(&expected),
                    String::from_utf8_lossy(&actual)
                ));
            }
        }

        assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
        assert_eq!(
            passed, expected_count,
            "exclusive references passed in {folder_name}"
        );
    }
}

#[test]
fn literal_whitespace_variants_agree() {
    // A literal TAB or LF in an attribute value is a space after parsing, so the two variants
    // differ from each other in input bytes only.
    let tab = fs::read_to_string(corpus_folder("c14n").join("soap.xml")).unwrap();
    let newline = fs::read_to_string(corpus_folder("c14n-nl").join("soap.xml")).unwrap();
    let options = C14nOptions::exclusive();

    assert_ne!(tab, newline);
    assert_eq!(
        c14n::canonicalize_document(&tab, &options).unwrap(),
        c14n::canonicalize_document(&newline, &options).unwrap()
    );
}
