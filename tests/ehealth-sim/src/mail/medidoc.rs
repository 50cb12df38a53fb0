//! Medidoc hand-off files: lab results and text reports (letters, protocols).
//!
//! A Medidoc file is a fixed sequence of lines. A 9-line header names the sender and the requesting
//! doctor. Each patient block runs from `#A` (optionally followed by the INSZ or a 13-character
//! Medidoc patient number) to `#A/`. Inside it, result blocks run from `#Ra` (numeric), `#Rb`
//! (free text) or `#Rc` (title) to `#R/`. The file ends with `#/`, sometimes followed by a number.
//! Names are fixed-width: last name in 24 characters, then first name in 16.
//!
//! Lab header: lab id (province letter + two postcode digits + sequence), 5 lines of lab
//! identification, creation date `YYYYMMDDHHMM`, requesting doctor's RIZIV `C/CCCCC/CC/CCC`, and
//! the requesting doctor's name. Report header: the executing doctor's RIZIV and name, street
//! (35 characters) and number (10), postcode (10) and town (35), phone, a free message, the date,
//! and the requesting doctor's RIZIV and name.

use jiff::civil::Date;

use super::content::{Flag, LabReport, LabRequest, LabResult, LabValue, Letter};
use super::people::{Patient, Sex};
use super::senders::{FlagStyle, Lab, riziv_dashed};

/// Optional deviations that real Medidoc senders make.
///
/// TODO: the variant with the address and INSZ lines before the birth date, and dynamic result
/// blocks (`#Rd`, `#Rh`, `#Rm`, `#Rs`), are not generated yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MedidocQuirks {
    /// Birth dates as `YYMMDD` instead of `YYYYMMDD`, as older files write them.
    pub short_birth_date: bool,
    /// `#A` followed by the 13-character Medidoc patient number instead of the INSZ.
    pub medidoc_patient_number: bool,
    /// The final `#/` followed by the number of lines before it.
    pub line_count_trailer: bool,
}

/// Writes a lab report as Medidoc lines, without line endings.
pub(crate) fn lab_report_lines(report: &LabReport, quirks: MedidocQuirks) -> Vec<String> {
    let lab = report.lab;
    let mut lines = vec![
        lab.medidoc_id.to_owned(),
        lab.name.to_uppercase(),
        lab.street.to_owned(),
        format!("{} {}", lab.postcode, lab.town),
        lab.phone.to_owned(),
        format!("RIZIV {}", lab.nihii8),
        report.created.strftime("%Y%m%d%H%M").to_string(),
        riziv_dashed(&report.requester.nihii11),
        fixed_name(&report.requester.last_name, &report.requester.first_name),
    ];
    for request in &report.requests {
        lab_request_lines(&mut lines, request, lab, quirks);
    }
    finish(lines, quirks)
}

/// Writes a letter as a Medidoc text report, without line endings.
pub(crate) fn letter_lines(letter: &Letter, quirks: MedidocQuirks) -> Vec<String> {
    let author = &letter.author;
    let mut lines = vec![
        riziv_dashed(&author.nihii11),
        fixed_name(&author.last_name, &author.first_name),
        format!(
            "{}{}",
            pad(&author.address.street, 35),
            pad(&author.address.number, 10)
        ),
        format!(
            "{}{}",
            pad(&author.address.postcode, 10),
            pad(&author.address.town, 35)
        ),
        pad(&author.phone, 50),
        truncate(letter.hospital.name, 50),
        letter.written.strftime("%Y%m%d").to_string(),
        riziv_dashed(&letter.recipient.nihii11),
        fixed_name(&letter.recipient.last_name, &letter.recipient.first_name),
    ];
    patient_lines(
        &mut lines,
        &letter.patient,
        letter.consultation.date(),
        &letter.reference,
        quirks,
    );
    lines.push(String::new());
    lines.push("#Rb".to_owned());
    lines.push(format!("!{}", letter.title));
    lines.extend(letter.body.iter().map(|line| safe_text_line(line)));
    lines.push("#R/".to_owned());
    lines.push("#A/".to_owned());
    finish(lines, quirks)
}

fn lab_request_lines(
    lines: &mut Vec<String>,
    request: &LabRequest,
    lab: &Lab,
    quirks: MedidocQuirks,
) {
    patient_lines(
        lines,
        &request.patient,
        request.request_date,
        &request.reference,
        quirks,
    );
    lines.push(request.status.medidoc_code().to_owned());

    let address = &request.patient.address;
    lines.push(format!("{} {}", address.street, address.number));
    lines.push(address.postcode.clone());
    lines.push(address.town.to_uppercase());

    for section in &request.sections {
        lines.extend([
            "#Rc".to_owned(),
            format!("!{}", section.title),
            "#R/".to_owned(),
        ]);
        for result in &section.results {
            result_lines(lines, result, lab.flag_style);
        }
    }
    if let Some(remark) = request.remark {
        let title = if lab.dutch {
            "!Opmerking labo"
        } else {
            "!Remarque du laboratoire"
        };
        lines.extend([
            "#Rb".to_owned(),
            title.to_owned(),
            safe_text_line(remark),
            "#R/".to_owned(),
        ]);
    }
    lines.push("#A/".to_owned());
}

/// Writes the `#A` line and the fixed patient lines up to the request reference.
fn patient_lines(
    lines: &mut Vec<String>,
    patient: &Patient,
    request_date: Date,
    reference: &str,
    quirks: MedidocQuirks,
) {
    let id = if quirks.medidoc_patient_number {
        medidoc_patient_number(patient)
    } else {
        patient.insz.clone()
    };
    let birth_format = if quirks.short_birth_date {
        "%y%m%d"
    } else {
        "%Y%m%d"
    };
    lines.push(format!("#A{id}"));
    lines.push(fixed_name(
        &patient.last_name.to_uppercase(),
        &patient.first_name.to_uppercase(),
    ));
    lines.push(patient.birth_date.strftime(birth_format).to_string());
    lines.push(sex_code(patient.sex).to_owned());
    lines.push(request_date.strftime("%Y%m%d").to_string());
    lines.push(truncate(reference, 14));
}

fn result_lines(lines: &mut Vec<String>, result: &LabResult, style: FlagStyle) {
    lines.push("#Ra".to_owned());
    lines.push(format!("!{}", truncate(result.name, 56)));
    match &result.value {
        LabValue::Measured { comparator, number } => {
            lines.push(format!("{comparator}{number}"));
            lines.push(result.medidoc_unit.to_owned());
            lines.push(flag_code(result.flag, style).to_owned());
            if let Some(range) = &result.range {
                lines.push(format!("\\{range}"));
            }
        }
        LabValue::Pending => {
            lines.push("=%%".to_owned());
            lines.push(result.medidoc_unit.to_owned());
            lines.push(String::new());
        }
    }
    if let Some(comment) = result.comment {
        lines.push(safe_text_line(comment));
    }
    lines.push("#R/".to_owned());
}

fn finish(mut lines: Vec<String>, quirks: MedidocQuirks) -> Vec<String> {
    let trailer = if quirks.line_count_trailer {
        format!("#/{}", lines.len())
    } else {
        "#/".to_owned()
    };
    lines.push(trailer);
    lines
}

/// Returns the Medidoc flag for `flag` in the lab's style.
pub(crate) fn flag_code(flag: Flag, style: FlagStyle) -> &'static str {
    let codes = match style {
        FlagStyle::Letters => ["LL", "L", "N", "H", "HH"],
        FlagStyle::Symbols => ["--", "-", "=", "+", "++"],
        FlagStyle::Digits => ["1", "2", "3", "4", "5"],
    };
    let index = match flag {
        Flag::VeryLow => 0,
        Flag::Low => 1,
        Flag::Normal => 2,
        Flag::High => 3,
        Flag::VeryHigh => 4,
    };
    codes[index]
}

fn sex_code(sex: Sex) -> &'static str {
    match sex {
        Sex::Female => "X",
        Sex::Male => "Y",
    }
}

/// Builds the 13-character Medidoc patient number: `YYMMDD`, a sex letter, then 4 letters of the
/// last name and 2 of the first name, dots where a name is too short.
pub(crate) fn medidoc_patient_number(patient: &Patient) -> String {
    let letters = |name: &str, count: usize| -> String {
        let mut part: String = name
            .chars()
            .map(fold_accent)
            .filter(char::is_ascii_alphabetic)
            .take(count)
            .collect();
        while part.len() < count {
            part.push('.');
        }
        part.to_uppercase()
    };
    format!(
        "{}{}{}{}",
        patient.birth_date.strftime("%y%m%d"),
        sex_code(patient.sex),
        letters(&patient.last_name, 4),
        letters(&patient.first_name, 2)
    )
}

fn fold_accent(c: char) -> char {
    match c {
        'é' | 'è' | 'ë' | 'ê' | 'É' | 'È' => 'e',
        'à' | 'â' | 'ä' => 'a',
        'ç' | 'Ç' => 'c',
        'ô' | 'ö' => 'o',
        'ü' | 'û' => 'u',
        'ï' | 'î' => 'i',
        other => other,
    }
}

/// Pads or truncates `last` to 24 characters and `first` to 16.
fn fixed_name(last: &str, first: &str) -> String {
    format!("{}{}", pad(last, 24), pad(first, 16))
}

/// Pads `text` with spaces to exactly `width` characters, truncating longer text.
fn pad(text: &str, width: usize) -> String {
    format!("{:<width$}", truncate(text, width))
}

fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

/// Keeps free text from being read as a record marker: no text line may start with `#`.
fn safe_text_line(line: &str) -> String {
    match line.strip_prefix('#') {
        Some(rest) => format!("Nr. {rest}"),
        None => line.to_owned(),
    }
}
