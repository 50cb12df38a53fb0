//! The SAML 1.1 holder-of-key assertion the STS issues, and the attributes it may certify.
//!
//! The assertion declares its own `saml` and `ds` namespaces so that its exclusive-c14n form, and so
//! its signature, does not depend on the document it is later embedded in.

use jiff::Timestamp;
use quick_xml::escape::escape;

use super::Person;

/// The `Issuer` of every assertion, as the eHealth STS writes it.
pub const ISSUER: &str = "urn:be:fgov:ehealth:sts:1_0";
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
pub const HOLDER_OF_KEY: &str = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key";
const AUTHENTICATION_METHOD_X509: &str = "urn:oasis:names:tc:SAML:1.0:am:X509-PKI";
const NAME_FORMAT_X509_SUBJECT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName";

/// AttributeNamespace of the identity attributes.
pub const IDENTIFICATION_NAMESPACE: &str = "urn:be:fgov:identification-namespace";
/// AttributeNamespace of the attributes the platform certifies from its sources.
pub const CERTIFIED_NAMESPACE: &str = "urn:be:fgov:certified-namespace:ehealth";

pub const CERTIFICATE_HOLDER_SSIN: &str = "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin";
pub const PERSON_SSIN: &str = "urn:be:fgov:person:ssin";
pub const DOCTOR_BOOLEAN: &str = "urn:be:fgov:person:ssin:doctor:boolean";
pub const DOCTOR_NIHII11: &str = "urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11";

/// One `saml:Attribute` with a single value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    pub namespace: String,
    pub name: String,
    pub value: String,
}

impl SamlAttribute {
    fn new(namespace: &str, name: &str, value: impl Into<String>) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            value: value.into(),
        }
    }
}

/// Returns the attributes granted for the requested designators, in request order.
///
/// The SSIN designators are granted to everyone with the SSIN of the authenticated certificate.
/// The doctor designators are granted only to people the directory lists as doctors, and NIHII only
/// when it is known. Designators the STS cannot certify are left out, as the platform does.
pub fn grant_attributes<'a>(
    requested: impl IntoIterator<Item = &'a str>,
    ssin: &str,
    person: Option<&Person>,
) -> Vec<SamlAttribute> {
    let doctor = person.filter(|person| person.doctor);
    let mut granted: Vec<SamlAttribute> = Vec::new();
    for uri in requested {
        let attribute = match uri {
            CERTIFICATE_HOLDER_SSIN | PERSON_SSIN => {
                Some(SamlAttribute::new(IDENTIFICATION_NAMESPACE, uri, ssin))
            }
            DOCTOR_BOOLEAN => doctor.map(|_| SamlAttribute::new(CERTIFIED_NAMESPACE, uri, "true")),
            DOCTOR_NIHII11 => doctor
                .and_then(|person| person.nihii11.clone())
                .map(|nihii| SamlAttribute::new(CERTIFIED_NAMESPACE, uri, nihii)),
            _ => None,
        };
        if let Some(attribute) = attribute
            && !granted.contains(&attribute)
        {
            granted.push(attribute);
        }
    }
    granted
}

/// Everything an assertion states, before it is signed.
#[derive(Debug, Clone)]
pub struct AssertionContent<'a> {
    pub assertion_id: &'a str,
    pub issue_instant: Timestamp,
    pub not_before: Timestamp,
    pub not_on_or_after: Timestamp,
    /// Subject DN of the authenticating certificate.
    pub subject_dn: &'a str,
    /// Issuer DN of the authenticating certificate.
    pub subject_issuer_dn: &'a str,
    /// DER of the holder-of-key certificate.
    pub holder_of_key_der: &'a [u8],
    pub attributes: &'a [SamlAttribute],
}

/// Formats an instant as `xs:dateTime` in UTC with milliseconds.
pub fn format_instant(instant: Timestamp) -> String {
    instant.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Writes the unsigned assertion; the enveloped signature is appended as its last child afterwards.
pub fn unsigned_assertion(content: &AssertionContent) -> String {
    use base64::Engine;
    let hok = base64::engine::general_purpose::STANDARD.encode(content.holder_of_key_der);
    let subject = subject_element(content, Some(&hok));
    let subject_again = subject_element(content, None);

    let mut xml = String::new();
    xml.push_str(&format!(
        r#"<saml:Assertion xmlns:saml="{SAML_NS}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" MajorVersion="1" MinorVersion="1" AssertionID="{id}" IssueInstant="{instant}" Issuer="{ISSUER}">"#,
        id = escape(content.assertion_id),
        instant = format_instant(content.issue_instant),
    ));
    xml.push_str(&format!(
        r#"<saml:Conditions NotBefore="{}" NotOnOrAfter="{}"/>"#,
        format_instant(content.not_before),
        format_instant(content.not_on_or_after),
    ));
    xml.push_str(&format!(
        r#"<saml:AuthenticationStatement AuthenticationInstant="{}" AuthenticationMethod="{AUTHENTICATION_METHOD_X509}">{subject}</saml:AuthenticationStatement>"#,
        format_instant(content.issue_instant),
    ));
    xml.push_str("<saml:AttributeStatement>");
    xml.push_str(&subject_again);
    for attribute in content.attributes {
        xml.push_str(&format!(
            r#"<saml:Attribute AttributeNamespace="{}" AttributeName="{}"><saml:AttributeValue>{}</saml:AttributeValue></saml:Attribute>"#,
            escape(&attribute.namespace),
            escape(&attribute.name),
            escape(&attribute.value),
        ));
    }
    xml.push_str("</saml:AttributeStatement>");
    xml.push_str("</saml:Assertion>");
    xml
}

fn subject_element(content: &AssertionContent, holder_of_key_base64: Option<&str>) -> String {
    let mut xml = format!(
        r#"<saml:Subject><saml:NameIdentifier Format="{NAME_FORMAT_X509_SUBJECT}" NameQualifier="{}">{}</saml:NameIdentifier>"#,
        escape(content.subject_issuer_dn),
        escape(content.subject_dn),
    );
    if let Some(certificate) = holder_of_key_base64 {
        xml.push_str(&format!(
            "<saml:SubjectConfirmation><saml:ConfirmationMethod>{HOLDER_OF_KEY}</saml:ConfirmationMethod><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></saml:SubjectConfirmation>"
        ));
    }
    xml.push_str("</saml:Subject>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSIN: &str = "79102520991";
    const ALL: [&str; 4] = [
        CERTIFICATE_HOLDER_SSIN,
        PERSON_SSIN,
        DOCTOR_BOOLEAN,
        DOCTOR_NIHII11,
    ];

    #[test]
    fn doctor_gets_all_designators() {
        let doctor = Person {
            doctor: true,
            nihii11: Some("10012345001".to_owned()),
        };
        let granted = grant_attributes(ALL, SSIN, Some(&doctor));
        let names: Vec<&str> = granted.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ALL);
        assert_eq!(granted[2].value, "true");
        assert_eq!(granted[2].namespace, CERTIFIED_NAMESPACE);
        assert_eq!(granted[3].value, "10012345001");
        assert_eq!(granted[0].namespace, IDENTIFICATION_NAMESPACE);
    }

    #[test]
    fn unknown_person_gets_only_ssin() {
        let granted = grant_attributes(ALL, SSIN, None);
        let names: Vec<&str> = granted.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, [CERTIFICATE_HOLDER_SSIN, PERSON_SSIN]);
        assert!(granted.iter().all(|a| a.value == SSIN));
    }

    #[test]
    fn non_doctor_gets_no_doctor_attributes() {
        let nurse = Person {
            doctor: false,
            nihii11: Some("40012345001".to_owned()),
        };
        let granted = grant_attributes(ALL, SSIN, Some(&nurse));
        assert!(
            granted
                .iter()
                .all(|a| a.namespace == IDENTIFICATION_NAMESPACE)
        );
    }

    #[test]
    fn instant_has_milliseconds_and_z() {
        let instant: Timestamp = "2024-05-02T10:00:00Z".parse().unwrap();
        assert_eq!(format_instant(instant), "2024-05-02T10:00:00.000Z");
    }
}
