//! Checks the practice mail generator against the hand-off formats the box must recognise.
#![allow(
    clippy::unwrap_used,
    reason = "helpers of tests panic on generator output they reject"
)]

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ehealth_sim::mail::people::insz_for;
use ehealth_sim::mail::{
    DocumentFormat, GeneratedMessage, KMEHR_NAMESPACE, LineEnding, MailError, MessageKind, Notice,
    Part, Recipient, TextEncoding, generate_practice_mail, insz_is_valid,
};

const SEED: u64 = 20240315;

fn recipients() -> Vec<Recipient> {
    vec![
        Recipient {
            ssin: insz_for(jiff::civil::date(1979, 4, 2), 137),
            nihii11: "12345678004".to_owned(),
            first_name: "Pieter".to_owned(),
            last_name: "Janssens".to_owned(),
        },
        Recipient {
            ssin: insz_for(jiff::civil::date(1985, 11, 23), 42),
            nihii11: "17654321004".to_owned(),
            first_name: "Élise".to_owned(),
            last_name: "Lemaître".to_owned(),
        },
        Recipient {
            ssin: insz_for(jiff::civil::date(2001, 2, 28), 9),
            nihii11: "19876543004".to_owned(),
            first_name: "Noor".to_owned(),
            last_name: "Van den Broeck".to_owned(),
        },
    ]
}

/// 300 messages: 100 for each of the three recipients.
fn mail() -> Vec<GeneratedMessage> {
    generate_practice_mail(SEED, &recipients(), 100).unwrap()
}

fn decoded_lines(part: &Part) -> Vec<String> {
    let facts = part
        .text
        .unwrap_or_else(|| panic!("{} has no text facts", part.file_name));
    let text = facts.encoding.decode(&part.bytes).unwrap();
    match facts.line_ending {
        LineEnding::Crlf => assert!(
            !text.replace("\r\n", "").contains(['\r', '\n']),
            "stray CR or LF in CRLF text"
        ),
        LineEnding::Lf => assert!(!text.contains('\r'), "CR in LF text"),
    }
    let separator = facts.line_ending.as_str();
    let body = text
        .strip_suffix(separator)
        .expect("text ends with a line ending");
    body.split(separator).map(str::to_owned).collect()
}

fn is_digits(text: &str, count: usize) -> bool {
    text.len() == count && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_riziv_dashed(line: &str) -> bool {
    let parts: Vec<&str> = line.split('/').collect();
    parts.len() == 4
        && [1, 5, 2, 3]
            .iter()
            .zip(&parts)
            .all(|(count, part)| is_digits(part, *count))
}

fn is_yyyymmdd(text: &str) -> bool {
    is_digits(text, 8) && jiff::civil::Date::strptime("%Y%m%d", text).is_ok()
}

/// Walks a Medidoc file and returns the INSZ numbers found on `#A` lines.
fn check_medidoc(lines: &[String]) -> Result<Vec<String>, String> {
    let first = lines.first().ok_or("empty file")?;
    let is_lab = first.len() == 4 && "WOABL".contains(&first[..1]) && is_digits(&first[1..], 3);
    if is_lab {
        if !(is_digits(&lines[6], 8) || is_digits(&lines[6], 12)) {
            return Err(format!("lab header line 7 is not a date: {:?}", lines[6]));
        }
    } else {
        if !is_riziv_dashed(first) {
            return Err(format!(
                "first line is neither a lab id nor a RIZIV number: {first:?}"
            ));
        }
        for (index, width) in [(1, 40), (2, 45), (3, 45)] {
            if lines[index].chars().count() != width {
                return Err(format!(
                    "report header line {} is not {width} characters: {:?}",
                    index + 1,
                    lines[index]
                ));
            }
        }
        if !is_yyyymmdd(&lines[6]) {
            return Err(format!(
                "report header line 7 is not a date: {:?}",
                lines[6]
            ));
        }
    }
    if !is_riziv_dashed(&lines[7]) {
        return Err(format!(
            "header line 8 is not a RIZIV number: {:?}",
            lines[7]
        ));
    }
    if lines[8].chars().count() != 40 {
        return Err(format!(
            "header line 9 is not 24 + 16 characters: {:?}",
            lines[8]
        ));
    }

    let mut inszs = Vec::new();
    let mut index = 9;
    while lines[index].starts_with("#A") && lines[index] != "#A/" {
        index = check_patient_block(lines, index, is_lab, &mut inszs)?;
    }
    if inszs.is_empty() {
        return Err("no patient block".to_owned());
    }

    let trailer = &lines[index];
    let count = trailer.strip_prefix("#/").ok_or(format!(
        "expected #/ at line {}, found {trailer:?}",
        index + 1
    ))?;
    if !count.is_empty() && count.parse::<usize>() != Ok(index) {
        return Err(format!(
            "trailer {trailer:?} does not count the {index} lines before it"
        ));
    }
    if index + 1 != lines.len() {
        return Err("lines after the #/ trailer".to_owned());
    }
    Ok(inszs)
}

fn check_patient_block(
    lines: &[String],
    start: usize,
    is_lab: bool,
    inszs: &mut Vec<String>,
) -> Result<usize, String> {
    let id = &lines[start][2..];
    match id.len() {
        11 if insz_is_valid(id) => inszs.push(id.to_owned()),
        13 if is_digits(&id[..6], 6) && "XYZ".contains(&id[6..7]) => inszs.push(String::new()),
        _ => {
            return Err(format!(
                "#A line carries neither an INSZ nor a Medidoc number: {:?}",
                lines[start]
            ));
        }
    }
    if lines[start + 1].chars().count() != 40 {
        return Err(format!(
            "patient name is not 24 + 16 characters: {:?}",
            lines[start + 1]
        ));
    }
    let birth = &lines[start + 2];
    if !(is_yyyymmdd(birth) || is_digits(birth, 6)) {
        return Err(format!(
            "birth date is neither YYYYMMDD nor YYMMDD: {birth:?}"
        ));
    }
    if !["X", "Y", "Z"].contains(&lines[start + 3].as_str()) {
        return Err(format!("sex is not X, Y or Z: {:?}", lines[start + 3]));
    }
    if !is_yyyymmdd(&lines[start + 4]) {
        return Err(format!(
            "request date is not YYYYMMDD: {:?}",
            lines[start + 4]
        ));
    }
    if lines[start + 5].chars().count() > 14 {
        return Err(format!(
            "request reference is longer than 14: {:?}",
            lines[start + 5]
        ));
    }
    if is_lab && !["P", "C", "S", "L"].contains(&lines[start + 6].as_str()) {
        return Err(format!(
            "protocol code is not P, C, S or L: {:?}",
            lines[start + 6]
        ));
    }

    let mut index = start + 6;
    while !lines[index].starts_with('#') {
        index += 1;
    }
    let mut results = 0;
    while let Some(kind) = lines[index].strip_prefix("#R").filter(|kind| *kind != "/") {
        if !["a", "b", "c", "d", "h", "m", "s"].contains(&kind) {
            return Err(format!("unknown result block {:?}", lines[index]));
        }
        let end = (index + 1..lines.len())
            .find(|&i| lines[i].starts_with('#'))
            .ok_or("unterminated result block")?;
        if lines[end] != "#R/" {
            return Err(format!(
                "result block ends with {:?} instead of #R/",
                lines[end]
            ));
        }
        if kind == "a" {
            check_numeric_result(&lines[index + 1..end])?;
        }
        results += 1;
        index = end + 1;
    }
    if results == 0 {
        return Err(format!(
            "patient block at line {} has no result block",
            start + 1
        ));
    }
    if lines[index] != "#A/" {
        return Err(format!(
            "patient block ends with {:?} instead of #A/",
            lines[index]
        ));
    }
    Ok(index + 1)
}

fn check_numeric_result(block: &[String]) -> Result<(), String> {
    let [name, value, unit, flag, ..] = block else {
        return Err(format!("numeric result has fewer than 4 lines: {block:?}"));
    };
    if !name.starts_with('!') || name.chars().count() > 57 {
        return Err(format!(
            "analysis name is not ! + up to 56 characters: {name:?}"
        ));
    }
    if !value.starts_with(['=', '<', '>']) {
        return Err(format!("value does not start with =, < or >: {value:?}"));
    }
    if unit.chars().count() != 2 {
        return Err(format!("unit code is not 2 characters: {unit:?}"));
    }
    let flags = [
        "--", "LL", "1", "-", "L", "2", "=", "N", "3", "", "+", "H", "4", "++", "HH", "5",
    ];
    if !flags.contains(&flag.as_str()) {
        return Err(format!("unknown flag {flag:?}"));
    }
    Ok(())
}

/// Walks a HealthOne file and returns the INSZ it carries (in A2 or A5).
fn check_healthone(lines: &[String]) -> Result<String, String> {
    let mut reference = None;
    let mut insz = String::new();
    let mut kinds = Vec::new();
    for (number, line) in lines.iter().enumerate() {
        if line == "END" {
            if number + 1 != lines.len() {
                return Err("END is not the last line".to_owned());
            }
            continue;
        }
        let mut fields: Vec<&str> = line.split('\\').collect();
        let kind = fields[0];
        let trailing = fields.last() == Some(&"");
        if trailing {
            fields.pop();
        } else if !["A2", "A5"].contains(&kind) {
            return Err(format!(
                "{kind} record without trailing backslash: {line:?}"
            ));
        }
        let expected: &[usize] = match kind {
            "A1" => &[1],
            "A2" => &[4, 5],
            "A3" => &[3],
            "A4" => &[4],
            // Without its trailing backslash, an A5 whose last field is empty looks one field short.
            "A5" => &[5, 6],
            "L1" | "L5" => &[6],
            _ => return Err(format!("unknown record type in {line:?}")),
        };
        let values = &fields[2..];
        if !expected.contains(&values.len()) {
            return Err(format!(
                "{kind} has {} fields, expected {expected:?}: {line:?}",
                values.len()
            ));
        }
        if *reference.get_or_insert(fields[1]) != fields[1] {
            return Err(format!("protocol reference changes in {line:?}"));
        }
        match kind {
            "A2" => {
                if !["M", "F", "V", ""].contains(&values[2]) {
                    return Err(format!("A2 sex is not M, F or V: {line:?}"));
                }
                if jiff::civil::Date::strptime("%d%m%Y", values[3]).is_err() {
                    return Err(format!("A2 birth date is not DDMMYYYY: {line:?}"));
                }
                if let Some(value) = values.get(4) {
                    insz = (*value).to_owned();
                }
            }
            "A4" if jiff::civil::Date::strptime("%d%m%Y", values[1]).is_err() => {
                return Err(format!("A4 request date is not DDMMYYYY: {line:?}"));
            }
            "A4" if !["P", "C"].contains(&values[3]) => {
                return Err(format!("A4 status is not P or C: {line:?}"));
            }
            "A5" if !values[1].is_empty() => insz = values[1].to_owned(),
            "L1" if !["", "*", "C"].contains(&values[4]) => {
                return Err(format!("L1 flag is invalid: {line:?}"));
            }
            "L5" if values[1..5].iter().any(|field| !field.is_empty()) => {
                return Err(format!("L5 fields 2 to 5 are not empty: {line:?}"));
            }
            _ => {}
        }
        kinds.push(kind);
    }
    if kinds.first() != Some(&"A1")
        || kinds.get(1) != Some(&"A2")
        || kinds.get(2) != Some(&"A3")
        || kinds.get(3) != Some(&"A4")
    {
        return Err(format!(
            "records do not start with A1, A2, A3, A4: {kinds:?}"
        ));
    }
    if !kinds.iter().any(|kind| kind.starts_with('L')) {
        return Err("no L1 or L5 line".to_owned());
    }
    if !insz_is_valid(&insz) {
        return Err(format!("no valid INSZ in A2 or A5 (found {insz:?})"));
    }
    Ok(insz)
}

/// Checks that every in-use cross-reference entry points at `N 0 obj` and returns the count.
fn check_pdf_xref(pdf: &[u8]) -> Result<usize, String> {
    if !pdf.starts_with(b"%PDF-") || !pdf.ends_with(b"%%EOF\n") {
        return Err("missing %PDF- header or %%EOF".to_owned());
    }
    let find_last = |needle: &[u8]| {
        pdf.windows(needle.len())
            .rposition(|window| window == needle)
    };
    let ascii_line = |at: usize| -> String {
        let end = pdf[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(pdf.len(), |length| at + length);
        String::from_utf8_lossy(&pdf[at..end]).into_owned()
    };

    let start = find_last(b"startxref\n").ok_or("no startxref")? + "startxref\n".len();
    let xref_offset: usize = ascii_line(start)
        .parse()
        .map_err(|_| "startxref is not a number")?;
    if ascii_line(xref_offset) != "xref" {
        return Err(format!(
            "startxref {xref_offset} does not point at the xref table"
        ));
    }
    let subsection = ascii_line(xref_offset + 5);
    let size: usize = subsection
        .strip_prefix("0 ")
        .and_then(|count| count.parse().ok())
        .ok_or(format!("bad xref subsection {subsection:?}"))?;
    let entries = xref_offset + 5 + subsection.len() + 1;
    for number in 0..size {
        let entry =
            String::from_utf8_lossy(&pdf[entries + number * 20..entries + (number + 1) * 20]);
        let expected_suffix = if number == 0 { " f \n" } else { " n \n" };
        if !entry.ends_with(expected_suffix) {
            return Err(format!(
                "entry {number} is not a 20-byte `{expected_suffix}` entry: {entry:?}"
            ));
        }
        if number == 0 {
            continue;
        }
        let offset: usize = entry[..10]
            .parse()
            .map_err(|_| format!("bad offset in {entry:?}"))?;
        if !pdf[offset..].starts_with(format!("{number} 0 obj\n").as_bytes()) {
            return Err(format!(
                "entry {number} points at offset {offset}, which is not `{number} 0 obj`"
            ));
        }
    }
    let trailer = ascii_line(entries + size * 20);
    let dictionary = ascii_line(entries + size * 20 + trailer.len() + 1);
    if trailer != "trailer" || !dictionary.starts_with(&format!("<< /Size {size} /Root 1 0 R")) {
        return Err(format!(
            "trailer does not follow the table with /Size {size}: {dictionary:?}"
        ));
    }
    Ok(size - 1)
}

fn all_pdfs(messages: &[GeneratedMessage]) -> Vec<Vec<u8>> {
    let mut pdfs: Vec<Vec<u8>> = messages
        .iter()
        .flat_map(GeneratedMessage::parts)
        .filter(|part| part.mime_type == "application/pdf")
        .map(|part| part.bytes.clone())
        .collect();
    for message in messages
        .iter()
        .filter(|message| message.format == DocumentFormat::Kmehr)
    {
        pdfs.push(embedded_pdf(&message.document));
    }
    pdfs
}

fn embedded_pdf(part: &Part) -> Vec<u8> {
    let text = part.text.unwrap().encoding.decode(&part.bytes).unwrap();
    let document = roxmltree::Document::parse(&text).unwrap();
    let lnk = document
        .descendants()
        .find(|node| node.has_tag_name((KMEHR_NAMESPACE, "lnk")))
        .unwrap();
    BASE64.decode(lnk.text().unwrap()).unwrap()
}

#[test]
fn generated_patients_have_valid_insz() {
    let messages = mail();
    let patients: Vec<_> = messages
        .iter()
        .filter_map(|message| message.patient.as_ref())
        .collect();
    assert!(
        patients.len() > 200,
        "only {} messages name a patient",
        patients.len()
    );
    for patient in &patients {
        assert!(insz_is_valid(&patient.insz), "{patient}");
        assert_eq!(
            &patient.insz[..6],
            patient.birth_date.strftime("%y%m%d").to_string(),
            "{patient}"
        );
    }
    let from_2000: Vec<_> = patients
        .iter()
        .filter(|patient| patient.birth_date.year() >= 2000)
        .collect();
    assert!(!from_2000.is_empty(), "no patient born from 2000 on");
    for patient in from_2000 {
        let first_nine: u64 = patient.insz[..9].parse().unwrap();
        let check: u64 = patient.insz[9..].parse().unwrap();
        assert_eq!(check, 97 - (2_000_000_000 + first_nine) % 97, "{patient}");
    }
}

#[test]
fn medidoc_documents_follow_layout() {
    let messages = mail();
    let mut checked = 0;
    for message in messages
        .iter()
        .filter(|message| message.kind == MessageKind::Document)
    {
        // Medidoc files are the plain-text parts that are not HealthOne records.
        for part in message
            .parts()
            .filter(|part| part.mime_type == "text/plain")
        {
            let lines = decoded_lines(part);
            if lines[0].starts_with("A1\\") {
                continue;
            }
            let inszs =
                check_medidoc(&lines).unwrap_or_else(|error| panic!("{error}\nin {message}"));
            if let (Some(patient), [insz]) = (&message.patient, inszs.as_slice()) {
                assert!(insz.is_empty() || insz == &patient.insz, "{message}");
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} Medidoc files checked");
}

#[test]
fn healthone_documents_follow_layout() {
    let messages = mail();
    let healthone: Vec<_> = messages
        .iter()
        .filter(|message| message.format == DocumentFormat::HealthOne)
        .collect();
    assert!(healthone.len() > 50);
    for message in healthone {
        let lines = decoded_lines(&message.document);
        let insz = check_healthone(&lines).unwrap_or_else(|error| panic!("{error}\nin {message}"));
        assert_eq!(
            Some(insz),
            message.patient.as_ref().map(|patient| patient.insz.clone()),
            "{message}"
        );
    }
}

#[test]
fn kmehr_documents_are_wellformed() {
    let messages = mail();
    let kmehr: Vec<&Part> = messages
        .iter()
        .flat_map(GeneratedMessage::parts)
        .filter(|part| part.mime_type == "text/xml")
        .collect();
    assert!(kmehr.len() > 25);
    for part in kmehr {
        let text = part.text.unwrap().encoding.decode(&part.bytes).unwrap();
        let document = roxmltree::Document::parse(&text)
            .unwrap_or_else(|error| panic!("{error} in {}", part.file_name));
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "kmehrmessage");
        assert_eq!(root.tag_name().namespace(), Some(KMEHR_NAMESPACE));
        let transaction_kind = document
            .descendants()
            .find(|node| {
                node.has_tag_name((KMEHR_NAMESPACE, "cd"))
                    && node.attribute("S") == Some("CD-TRANSACTION")
            })
            .and_then(|node| node.text());
        assert_eq!(transaction_kind, Some("contactreport"));
        let patient_id = document
            .descendants()
            .find(|node| node.attribute("S") == Some("ID-PATIENT"))
            .and_then(|node| node.text())
            .unwrap();
        assert!(insz_is_valid(patient_id), "{patient_id}");
        assert!(
            embedded_pdf(part).starts_with(b"%PDF-"),
            "{}",
            part.file_name
        );
    }
}

#[test]
fn pdf_xref_offsets_point_at_objects() {
    let pdfs = all_pdfs(&mail());
    assert!(pdfs.len() > 30, "only {} PDFs", pdfs.len());
    for pdf in &pdfs {
        let objects = check_pdf_xref(pdf).unwrap_or_else(|error| panic!("{error}"));
        assert!(objects >= 5);
    }
}

/// Runs `qpdf --check` and `pdftotext` on a few generated PDFs when those tools are installed.
#[test]
fn pdfs_pass_external_checkers() {
    let tools_present = ["qpdf", "pdftotext"].iter().all(|tool| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok()
    });
    if !tools_present {
        eprintln!("NOTE: qpdf or pdftotext is not installed; only the built-in xref check ran");
        return;
    }

    let directory = tempfile::tempdir().unwrap();
    let messages = mail();
    let letter = messages
        .iter()
        .find(|message| message.format == DocumentFormat::Pdf)
        .unwrap();
    let scan = messages
        .iter()
        .flat_map(GeneratedMessage::parts)
        .find(|part| part.file_name.starts_with("scan_"))
        .unwrap();

    for (name, bytes) in [
        ("letter.pdf", &letter.document.bytes),
        ("scan.pdf", &scan.bytes),
    ] {
        let path = directory.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let check = std::process::Command::new("qpdf")
            .arg("--check")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "qpdf --check {name}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        assert!(
            !String::from_utf8_lossy(&check.stderr).contains("WARNING"),
            "{name}"
        );
    }

    let text = std::process::Command::new("pdftotext")
        .arg(directory.path().join("letter.pdf"))
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let patient = letter.patient.as_ref().unwrap();
    assert!(
        text.contains(&patient.last_name),
        "pdftotext output lacks {}: {text}",
        patient.last_name
    );
    assert!(
        text.contains(&letter.title),
        "pdftotext output lacks the title: {text}"
    );
}

#[test]
fn encodings_match_announced_facts() {
    let messages = mail();
    let mut seen = HashSet::new();
    for part in messages.iter().flat_map(GeneratedMessage::parts) {
        let Some(facts) = part.text else { continue };
        seen.insert((facts.encoding, facts.line_ending));
        assert_eq!(
            part.bytes.starts_with(b"\xEF\xBB\xBF"),
            facts.encoding.has_bom(),
            "{}",
            part.file_name
        );
        let text = facts.encoding.decode(&part.bytes).unwrap();
        if text.contains('é') {
            let e_acute: &[u8] = match facts.encoding {
                TextEncoding::Cp850 => &[0x82],
                TextEncoding::Windows1252 => &[0xE9],
                TextEncoding::Utf8 | TextEncoding::Utf8WithBom => "é".as_bytes(),
            };
            assert!(
                part.bytes
                    .windows(e_acute.len())
                    .any(|window| window == e_acute),
                "{}",
                part.file_name
            );
        }
        if matches!(
            facts.encoding,
            TextEncoding::Cp850 | TextEncoding::Windows1252
        ) {
            assert!(
                std::str::from_utf8(&part.bytes).is_err() || part.bytes.is_ascii(),
                "{}",
                part.file_name
            );
        }
    }
    for encoding in [
        TextEncoding::Utf8,
        TextEncoding::Utf8WithBom,
        TextEncoding::Windows1252,
        TextEncoding::Cp850,
    ] {
        for line_ending in [LineEnding::Crlf, LineEnding::Lf] {
            assert!(
                seen.contains(&(encoding, line_ending)),
                "no {encoding}/{line_ending} text"
            );
        }
    }
}

#[test]
fn same_seed_same_bytes() {
    let first = mail();
    let second = mail();
    assert_eq!(first, second);
    let other = generate_practice_mail(SEED + 1, &recipients(), 100).unwrap();
    assert_ne!(first, other);
}

#[test]
fn mix_covers_every_kind_and_format() {
    let messages = mail();
    assert_eq!(messages.len(), 300);
    for kind in [
        MessageKind::Document,
        MessageKind::Acknowledgment,
        MessageKind::Error,
        MessageKind::News,
    ] {
        assert!(
            messages.iter().any(|message| message.kind == kind),
            "no {kind}"
        );
    }
    for format in [
        DocumentFormat::Medidoc,
        DocumentFormat::HealthOne,
        DocumentFormat::Kmehr,
        DocumentFormat::Pdf,
        DocumentFormat::Other,
    ] {
        assert!(
            messages.iter().any(|message| message.format == format),
            "no {format}"
        );
    }
    let non_documents = messages
        .iter()
        .filter(|message| !message.is_for_medical_software())
        .count();
    assert_eq!(
        non_documents, 15,
        "acknowledgements, errors and news are 5 % of 300"
    );
    for message in messages
        .iter()
        .filter(|message| message.kind != MessageKind::Document)
    {
        assert_eq!(message.format, DocumentFormat::Other, "{message}");
        assert!(message.patient.is_none(), "{message}");
    }
    assert!(messages.iter().any(|message| {
        message
            .annexes
            .iter()
            .any(|part| part.mime_type == "image/png")
    }));
    assert!(messages.iter().any(|message| {
        message.format == DocumentFormat::Pdf
            && message
                .annexes
                .iter()
                .any(|part| part.mime_type == "text/xml")
    }));
    assert!(messages.iter().any(|message| {
        message.format == DocumentFormat::Pdf
            && message
                .annexes
                .iter()
                .any(|part| part.mime_type == "text/plain")
    }));
}

#[test]
fn messages_go_to_each_recipient() {
    let messages = mail();
    for (index, recipient) in recipients().iter().enumerate() {
        let theirs = &messages[index * 100..(index + 1) * 100];
        assert!(
            theirs
                .iter()
                .all(|message| message.recipient_ssin == recipient.ssin)
        );
    }
}

#[test]
fn notices_match_their_kind() {
    for message in mail() {
        match (&message.kind, &message.notice) {
            (MessageKind::Acknowledgment, Some(Notice::Acknowledgment { message_id, .. })) => {
                assert_eq!(message_id.len(), 13);
                assert!(message_id.bytes().all(|b| b.is_ascii_alphanumeric()));
            }
            (
                MessageKind::Error,
                Some(Notice::Error {
                    code,
                    messages,
                    publication_id,
                    ..
                }),
            ) => {
                assert_eq!(code.len(), 3);
                assert!(!messages.is_empty());
                assert!(publication_id.len() <= 13);
            }
            (MessageKind::Document | MessageKind::News, None) => {}
            (kind, notice) => panic!("{kind} message with notice {notice:?}"),
        }
    }
}

#[test]
fn wire_field_limits_hold() {
    let messages = mail();
    let mut ids = HashSet::new();
    for message in &messages {
        assert!(
            !message.publication_id.is_empty() && message.publication_id.chars().count() <= 13,
            "{message}"
        );
        assert!(
            ids.insert(message.publication_id.clone()),
            "duplicate publication id in {message}"
        );
        assert!(
            (1..=400).contains(&message.title.chars().count()),
            "{message}"
        );
        assert!(
            (1..=25).contains(&message.application_name.len()),
            "{message}"
        );
        for part in message.parts() {
            assert!(
                (1..=255).contains(&part.file_name.chars().count()),
                "{}",
                part.file_name
            );
            assert!(!part.bytes.is_empty());
        }
    }
}

#[test]
fn some_file_names_are_hostile() {
    let messages = mail();
    let hostile: Vec<&str> = messages
        .iter()
        .flat_map(GeneratedMessage::parts)
        .filter(|part| part.file_name_is_hostile)
        .map(|part| part.file_name.as_str())
        .collect();
    let total = messages.iter().flat_map(GeneratedMessage::parts).count();
    assert!(!hostile.is_empty());
    assert!(
        hostile.len() * 10 < total,
        "{} of {total} names are hostile",
        hostile.len()
    );
    assert!(hostile.iter().any(|name| name.contains(['/', '\\'])
        || name.chars().count() > 200
        || !name.contains('.')));
    for part in messages
        .iter()
        .flat_map(GeneratedMessage::parts)
        .filter(|part| !part.file_name_is_hostile)
    {
        assert!(!part.file_name.contains(['/', '\\']), "{}", part.file_name);
    }
}

#[test]
fn describe_is_one_line() {
    for message in mail() {
        let line = message.describe();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains(&message.publication_id), "{line}");
    }
}

#[test]
fn invalid_recipient_is_rejected() {
    let mut recipients = recipients();
    recipients[1].ssin = "85112304299".to_owned();
    let error = generate_practice_mail(SEED, &recipients, 3).unwrap_err();
    assert!(matches!(error, MailError::InvalidRecipientSsin { .. }));
    assert!(error.to_string().contains("\"85112304299\""), "{error}");
}

#[test]
fn invalid_recipient_nihii_is_rejected() {
    let mut recipients = recipients();
    recipients[0].nihii11 = "1/23456/78/004".to_owned();
    let error = generate_practice_mail(SEED, &recipients, 3).unwrap_err();
    assert_eq!(
        error.to_string(),
        "recipient RIZIV number \"1/23456/78/004\" is invalid; pass its 11 digits without separators"
    );
}
