//! KMEHR messages: a contact report from a hospital specialist, with the letter embedded as a
//! base64 PDF in a `lnk` element.
//!
//! The root is `kmehrmessage` in the namespace `http://www.ehealth.fgov.be/standards/kmehr/schema/v1`.
//! The header carries the standard version (`CD-STANDARD`), the message id (`ID-KMEHR`), date, time,
//! sender and recipient `hcparty` (id `ID-HCPARTY` = RIZIV number, kind `CD-HCPARTY`); one `folder`
//! contains the `patient` (`ID-PATIENT` = INSZ) and a `transaction` of kind `contactreport`.
//!
//! NOTE: the `SV` code-list versions and the `CD-STANDARD` value are illustrative; the output is
//! not validated against the official KMEHR XSD.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::content::Letter;
use super::people::Sex;

/// The KMEHR namespace of every element in a message.
pub const KMEHR_NAMESPACE: &str = "http://www.ehealth.fgov.be/standards/kmehr/schema/v1";

/// Writes a contact report for `letter` embedding `pdf`, as lines of XML without line endings.
pub(crate) fn contact_report_lines(letter: &Letter, pdf: &[u8]) -> Vec<String> {
    let written = letter.written;
    let message_id = format!(
        "{}.{}",
        letter.hospital.nihii8,
        written.strftime("%Y%m%d%H%M%S")
    );
    let patient = &letter.patient;
    let author = &letter.author;
    let recipient = &letter.recipient;
    let sex = match patient.sex {
        Sex::Female => "female",
        Sex::Male => "male",
    };
    let language = if author.dutch { "nl" } else { "fr" };

    let mut x = Vec::new();
    x.push(r#"<?xml version="1.0" encoding="UTF-8"?>"#.to_owned());
    x.push(format!(r#"<kmehrmessage xmlns="{KMEHR_NAMESPACE}">"#));
    x.push("  <header>".to_owned());
    x.push(r#"    <standard><cd S="CD-STANDARD" SV="1.0">20161201</cd></standard>"#.to_owned());
    x.push(format!(
        r#"    <id S="ID-KMEHR" SV="1.0">{message_id}</id>"#
    ));
    x.push(format!("    <date>{}</date>", written.strftime("%Y-%m-%d")));
    x.push(format!("    <time>{}</time>", written.strftime("%H:%M:%S")));
    x.push("    <sender>".to_owned());
    x.push("      <hcparty>".to_owned());
    x.push(format!(
        r#"        <id S="ID-HCPARTY" SV="1.0">{}</id>"#,
        letter.hospital.nihii8
    ));
    x.push(r#"        <cd S="CD-HCPARTY" SV="1.1">orghospital</cd>"#.to_owned());
    x.push(format!(
        "        <name>{}</name>",
        escape(letter.hospital.name)
    ));
    x.push("      </hcparty>".to_owned());
    x.push("    </sender>".to_owned());
    x.push("    <recipient>".to_owned());
    push_physician(
        &mut x,
        "      ",
        &recipient.nihii11,
        &recipient.first_name,
        &recipient.last_name,
    );
    x.push("    </recipient>".to_owned());
    x.push("  </header>".to_owned());
    x.push("  <folder>".to_owned());
    x.push(r#"    <id S="ID-KMEHR" SV="1.0">1</id>"#.to_owned());
    x.push("    <patient>".to_owned());
    x.push(format!(
        r#"      <id S="ID-PATIENT" SV="1.0">{}</id>"#,
        patient.insz
    ));
    x.push(format!(
        "      <firstname>{}</firstname>",
        escape(&patient.first_name)
    ));
    x.push(format!(
        "      <familyname>{}</familyname>",
        escape(&patient.last_name)
    ));
    x.push(format!(
        "      <birthdate><date>{}</date></birthdate>",
        patient.birth_date.strftime("%Y-%m-%d")
    ));
    x.push(format!(
        r#"      <sex><cd S="CD-SEX" SV="1.1">{sex}</cd></sex>"#
    ));
    x.push("    </patient>".to_owned());
    x.push("    <transaction>".to_owned());
    x.push(r#"      <id S="ID-KMEHR" SV="1.0">1</id>"#.to_owned());
    x.push(format!(
        r#"      <id S="LOCAL" SL="PROTOCOL" SV="1.0">{}</id>"#,
        escape(&letter.reference)
    ));
    x.push(r#"      <cd S="CD-TRANSACTION" SV="1.10">contactreport</cd>"#.to_owned());
    x.push(format!(
        "      <date>{}</date>",
        letter.consultation.strftime("%Y-%m-%d")
    ));
    x.push(format!(
        "      <time>{}</time>",
        letter.consultation.strftime("%H:%M:%S")
    ));
    x.push("      <author>".to_owned());
    push_physician(
        &mut x,
        "        ",
        &author.nihii11,
        &author.first_name,
        &author.last_name,
    );
    x.push("      </author>".to_owned());
    x.push("      <iscomplete>true</iscomplete>".to_owned());
    x.push("      <isvalidated>true</isvalidated>".to_owned());
    x.push(format!(
        r#"      <text L="{language}">{}</text>"#,
        escape(&letter.summary)
    ));
    x.push(format!(
        r#"      <lnk TYPE="multimedia" MEDIATYPE="application/pdf">{}</lnk>"#,
        BASE64.encode(pdf)
    ));
    x.push("    </transaction>".to_owned());
    x.push("  </folder>".to_owned());
    x.push("</kmehrmessage>".to_owned());
    x
}

fn push_physician(
    x: &mut Vec<String>,
    indent: &str,
    nihii11: &str,
    first_name: &str,
    last_name: &str,
) {
    x.push(format!("{indent}<hcparty>"));
    x.push(format!(
        r#"{indent}  <id S="ID-HCPARTY" SV="1.0">{nihii11}</id>"#
    ));
    x.push(format!(
        r#"{indent}  <cd S="CD-HCPARTY" SV="1.1">persphysician</cd>"#
    ));
    x.push(format!(
        "{indent}  <firstname>{}</firstname>",
        escape(first_name)
    ));
    x.push(format!(
        "{indent}  <familyname>{}</familyname>",
        escape(last_name)
    ));
    x.push(format!("{indent}</hcparty>"));
}

/// Escapes the five XML special characters for element text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_specials() {
        assert_eq!(
            escape(r#"D'Hondt & <Zoë> "x""#),
            "D&apos;Hondt &amp; &lt;Zoë&gt; &quot;x&quot;"
        );
    }
}
