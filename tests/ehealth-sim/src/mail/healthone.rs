//! HealthOne hand-off files: lab results (`L1` lines) and text reports (`L5` lines).
//!
//! Every record is one line of backslash-separated fields: the record type, the protocol
//! reference, then the record's fields, and a trailing backslash.
//!
//! | record | fields after type and reference |
//! | --- | --- |
//! | `A1` | sender name |
//! | `A2` | last name, first name, sex `M`/`F`/`V`, birth date `DDMMYYYY`, optionally the INSZ |
//! | `A3` | street and number, postcode, town |
//! | `A4` | requesting doctor, request date `DDMMYYYY`, time `HHMM`, status `P`/`C` |
//! | `A5` | mutuality id, INSZ, coverage, holder, two more codes |
//! | `L1` | code, name, reference range, unit, flag (`*` abnormal, `C` text), value |
//! | `L5` | section code, four empty fields, one line of text |
//!
//! An `END` line may close the file.

use super::content::{Flag, LabRequest, LabResult, LabValue, RadiologyReport};
use super::people::{Patient, Recipient, Sex};

/// Optional deviations real HealthOne senders make.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HealthOneQuirks {
    /// The INSZ as a 7th field of `A2` instead of in `A5` (whose INSZ field is then empty).
    pub insz_in_a2: bool,
    /// `A2` and `A5` written without their trailing backslash.
    pub no_trailing_backslash: bool,
    /// Write `V` (vrouw) rather than `F` for women.
    pub dutch_female_letter: bool,
    /// Close the file with an `END` line.
    pub end_line: bool,
}

/// Writes one lab request as HealthOne lines, without line endings.
pub(crate) fn lab_lines(
    lab_name: &str,
    requester: &Recipient,
    request: &LabRequest,
    request_time: &str,
    quirks: HealthOneQuirks,
) -> Vec<String> {
    let reference = &request.reference;
    let mut lines = Vec::new();
    lines.push(record("A1", reference, &[lab_name]));
    patient_records(&mut lines, reference, &request.patient, quirks);
    let date = request.request_date.strftime("%d%m%Y").to_string();
    let doctor = format!("{} {}", requester.last_name, requester.first_name);
    lines.push(record(
        "A4",
        reference,
        &[
            &doctor,
            &date,
            request_time,
            request.status.healthone_code(),
        ],
    ));
    a5_record(&mut lines, reference, &request.patient, quirks);

    for section in &request.sections {
        lines.push(record(
            "L1",
            reference,
            &[section.code, section.title, "", "", "", ""],
        ));
        for result in &section.results {
            lines.push(result_record(reference, result, request.dutch));
            if let Some(comment) = result.comment {
                lines.push(record(
                    "L1",
                    reference,
                    &[result.code, result.name, "", "", "C", &clean(comment)],
                ));
            }
        }
    }
    if let Some(remark) = request.remark {
        let title = if request.dutch {
            "Opmerking"
        } else {
            "Remarque"
        };
        lines.push(record(
            "L1",
            reference,
            &["OPM", title, "", "", "C", &clean(remark)],
        ));
    }
    if quirks.end_line {
        lines.push("END".to_owned());
    }
    lines
}

/// Writes a radiology report as HealthOne lines, without line endings.
pub(crate) fn radiology_lines(report: &RadiologyReport, quirks: HealthOneQuirks) -> Vec<String> {
    let reference = &report.reference;
    let department = if report.department.dutch {
        "Radiologie"
    } else {
        "Imagerie médicale"
    };
    let sender = format!("{} - {department}", report.department.name);
    let mut lines = vec![record("A1", reference, &[&sender])];
    patient_records(&mut lines, reference, &report.patient, quirks);
    let date = report.exam_time.strftime("%d%m%Y").to_string();
    let time = report.exam_time.strftime("%H%M").to_string();
    let doctor = format!(
        "{} {}",
        report.recipient.last_name, report.recipient.first_name
    );
    lines.push(record("A4", reference, &[&doctor, &date, &time, "C"]));
    // Text reports often have no A5 record; the INSZ then sits in A2.
    if !quirks.insz_in_a2 {
        a5_record(&mut lines, reference, &report.patient, quirks);
    }

    let section = report.section;
    lines.push(report_line(reference, section, report.exam));
    for finding in &report.findings {
        lines.push(report_line(reference, section, finding));
    }
    lines.push(report_line(reference, "CONCL", report.conclusion));
    let signature = format!(
        "Dr. {} {}",
        report.radiologist.first_name, report.radiologist.last_name
    );
    lines.push(report_line(reference, "CONCL", &signature));
    if quirks.end_line {
        lines.push("END".to_owned());
    }
    lines
}

fn patient_records(
    lines: &mut Vec<String>,
    reference: &str,
    patient: &Patient,
    quirks: HealthOneQuirks,
) {
    let sex = match patient.sex {
        Sex::Male => "M",
        Sex::Female if quirks.dutch_female_letter => "V",
        Sex::Female => "F",
    };
    let birth = patient.birth_date.strftime("%d%m%Y").to_string();
    let last_name = patient.last_name.to_uppercase();
    let mut fields = vec![
        last_name.as_str(),
        patient.first_name.as_str(),
        sex,
        birth.as_str(),
    ];
    if quirks.insz_in_a2 {
        fields.push(&patient.insz);
    }
    let mut a2 = record("A2", reference, &fields);
    if quirks.no_trailing_backslash {
        a2.pop();
    }
    lines.push(a2);

    let address = &patient.address;
    let street = format!("{} {}", address.street, address.number);
    lines.push(record(
        "A3",
        reference,
        &[&street, &address.postcode, &address.town],
    ));
}

fn a5_record(lines: &mut Vec<String>, reference: &str, patient: &Patient, quirks: HealthOneQuirks) {
    let insz = if quirks.insz_in_a2 {
        ""
    } else {
        patient.insz.as_str()
    };
    let mut a5 = record("A5", reference, &["", insz, "", "", "", ""]);
    if quirks.no_trailing_backslash {
        a5.pop();
    }
    lines.push(a5);
}

fn result_record(reference: &str, result: &LabResult, dutch: bool) -> String {
    let pending_text = if dutch { "volgt" } else { "suit" };
    let range = result.range.as_deref().unwrap_or_default();
    let unit = result.unit;
    match &result.value {
        LabValue::Measured { comparator, number } => {
            let flag = if result.flag == Flag::Normal { "" } else { "*" };
            let value = match comparator {
                '=' => number.clone(),
                other => format!("{other}{number}"),
            };
            record(
                "L1",
                reference,
                &[result.code, result.name, range, unit, flag, &value],
            )
        }
        LabValue::Pending => record(
            "L1",
            reference,
            &[result.code, result.name, range, unit, "C", pending_text],
        ),
    }
}

fn report_line(reference: &str, section: &str, text: &str) -> String {
    record("L5", reference, &[section, "", "", "", "", &clean(text)])
}

/// Joins a record: type, reference, fields, each followed by a backslash.
fn record(kind: &str, reference: &str, fields: &[&str]) -> String {
    let mut line = format!("{kind}\\{reference}\\");
    for field in fields {
        line.push_str(field);
        line.push('\\');
    }
    line
}

/// Removes the field separator from free text.
fn clean(text: &str) -> String {
    text.replace('\\', "/")
}
