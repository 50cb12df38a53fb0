//! The SAML 1.1 holder-of-key assertion the STS issues: kept as the exact text received, and
//! checked before use.
//!
//! [`SamlToken::from_assertion`] checks the Issuer, the SAML version, the validity window
//! against the caller's clock, the STS signature over the assertion (with the certificate in its
//! KeyInfo, which proves that the text arrived intact), that the holder-of-key certificate is
//! the doctor's own authentication certificate, and that the SSIN attribute names the doctor.
//! It extracts the certified `doctor:boolean` and `doctor:nihii11` attributes.

use jiff::{SignedDuration, Timestamp};
use roxmltree::{Document, Node};

use crate::xmlsec::{dsig, ns, wsse};

/// AttributeName of the person's SSIN.
pub const PERSON_SSIN: &str = "urn:be:fgov:person:ssin";
/// AttributeName of the certificate holder's SSIN.
pub const CERTIFICATE_HOLDER_SSIN: &str = "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin";
/// AttributeName of "recognised as a doctor".
pub const DOCTOR_BOOLEAN: &str = "urn:be:fgov:person:ssin:doctor:boolean";
/// AttributeName of the doctor's 11-digit RIZIV (NIHII) number.
pub const DOCTOR_NIHII11: &str = "urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11";

/// How far `NotBefore` may lie ahead of our clock (the STS clock may run ahead of ours).
const NOT_BEFORE_SKEW: SignedDuration = SignedDuration::from_mins(5);

/// Reason an assertion is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The assertion lacks something or has a wrong value; `element` names where.
    #[error("{detail} (element <{element}>)")]
    Invalid { element: String, detail: String },
    /// The platform does not certify the doctor quality that was requested.
    #[error(
        "eHealth does not certify SSIN {ssin} as a doctor (no {DOCTOR_BOOLEAN} = true in the token); check the doctor's registration with RIZIV/eHealth"
    )]
    NotADoctor { ssin: String },
}

fn invalid(element: &str, detail: impl Into<String>) -> TokenError {
    TokenError::Invalid {
        element: element.to_owned(),
        detail: detail.into(),
    }
}

/// One `saml:Attribute` of the assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    pub namespace: Option<String>,
    pub name: String,
    pub values: Vec<String>,
}

/// Values the token must match.
#[derive(Debug, Clone, Copy)]
pub struct TokenExpectations<'a> {
    pub issuer: &'a str,
    /// DER of the doctor's authentication certificate, the requested holder-of-key.
    pub holder_of_key_der: &'a [u8],
    pub ssin: &'a str,
    /// Whether `doctor:boolean = true` is required (it was requested).
    pub require_doctor: bool,
    pub now: Timestamp,
}

/// A checked SAML 1.1 holder-of-key token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlToken {
    /// The `saml:Assertion` element as the STS sent it, declaring its own namespaces.
    xml: String,
    pub assertion_id: String,
    pub issuer: String,
    pub issue_instant: Option<Timestamp>,
    pub not_before: Timestamp,
    pub not_on_or_after: Timestamp,
    pub ssin: String,
    /// The certified doctor quality, when the STS returned the attribute.
    pub doctor: Option<bool>,
    /// The certified 11-digit RIZIV number, when the STS returned it.
    pub nihii11: Option<String>,
    pub attributes: Vec<SamlAttribute>,
}

impl SamlToken {
    /// Parses and checks `assertion_xml` (one `saml:Assertion` element, standalone).
    pub fn from_assertion(
        assertion_xml: String,
        expected: &TokenExpectations<'_>,
    ) -> Result<Self, TokenError> {
        let document = Document::parse(&assertion_xml)
            .map_err(|error| invalid("saml:Assertion", format!("not well-formed XML: {error}")))?;
        let assertion = document.root_element();
        check_name(assertion, "Assertion")?;
        check_version(assertion)?;
        let assertion_id = required_attribute(assertion, "AssertionID")?;
        let issuer = required_attribute(assertion, "Issuer")?;
        if issuer != expected.issuer {
            return Err(invalid(
                "saml:Assertion",
                format!("Issuer is {issuer:?}, expected {:?}", expected.issuer),
            ));
        }
        let issue_instant = assertion
            .attribute("IssueInstant")
            .map(|text| parse_instant("IssueInstant", text))
            .transpose()?;

        let (not_before, not_on_or_after) = validity(assertion, expected.now)?;
        check_signature(&document, assertion)?;
        check_holder_of_key(assertion, expected.holder_of_key_der)?;

        let attributes = read_attributes(assertion);
        let ssin = attribute_value(&attributes, PERSON_SSIN)
            .ok_or_else(|| invalid("saml:Attribute", format!("no {PERSON_SSIN} attribute")))?;
        if ssin != expected.ssin {
            return Err(invalid(
                "saml:AttributeValue",
                format!(
                    "the token's SSIN {ssin} is not the doctor's SSIN {}",
                    expected.ssin
                ),
            ));
        }
        let doctor = attribute_value(&attributes, DOCTOR_BOOLEAN).map(|value| value == "true");
        if expected.require_doctor && doctor != Some(true) {
            return Err(TokenError::NotADoctor { ssin });
        }
        let nihii11 = attribute_value(&attributes, DOCTOR_NIHII11);

        Ok(Self {
            assertion_id,
            issuer,
            issue_instant,
            not_before,
            not_on_or_after,
            ssin,
            doctor,
            nihii11,
            attributes,
            xml: assertion_xml,
        })
    }

    /// Returns the assertion exactly as received, to embed verbatim in WS-Security headers.
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// Returns the length of the whole validity window.
    pub fn lifetime(&self) -> SignedDuration {
        self.not_on_or_after.duration_since(self.not_before)
    }

    /// Whether the token should still be used at `now`: more than half of its lifetime left.
    pub fn worth_reusing(&self, now: Timestamp) -> bool {
        let remaining = self.not_on_or_after.duration_since(now);
        remaining > SignedDuration::ZERO && remaining * 2 > self.lifetime()
    }
}

fn check_name(element: Node<'_, '_>, local_name: &str) -> Result<(), TokenError> {
    let name = element.tag_name();
    if name.namespace() == Some(ns::SAML) && name.name() == local_name {
        return Ok(());
    }
    Err(invalid(
        &format!("saml:{local_name}"),
        format!(
            "found <{}> in namespace {:?} instead",
            name.name(),
            name.namespace().unwrap_or("")
        ),
    ))
}

fn check_version(assertion: Node<'_, '_>) -> Result<(), TokenError> {
    let major = assertion.attribute("MajorVersion");
    let minor = assertion.attribute("MinorVersion");
    if major == Some("1") && minor == Some("1") {
        return Ok(());
    }
    Err(invalid(
        "saml:Assertion",
        format!("SAML version {major:?}.{minor:?}, expected 1.1"),
    ))
}

fn required_attribute(element: Node<'_, '_>, name: &str) -> Result<String, TokenError> {
    element
        .attribute(name)
        .map(str::to_owned)
        .ok_or_else(|| invalid("saml:Assertion", format!("no {name} attribute")))
}

fn parse_instant(field: &str, text: &str) -> Result<Timestamp, TokenError> {
    text.trim().parse().map_err(|error| {
        invalid(
            "saml:Conditions",
            format!("{field} {text:?} is not a UTC instant: {error}"),
        )
    })
}

fn validity(assertion: Node<'_, '_>, now: Timestamp) -> Result<(Timestamp, Timestamp), TokenError> {
    let conditions = assertion
        .children()
        .find(|node| node.has_tag_name((ns::SAML, "Conditions")))
        .ok_or_else(|| invalid("saml:Conditions", "missing"))?;
    let read = |name: &str| {
        let text = conditions
            .attribute(name)
            .ok_or_else(|| invalid("saml:Conditions", format!("no {name} attribute")))?;
        parse_instant(name, text)
    };
    let not_before = read("NotBefore")?;
    let not_on_or_after = read("NotOnOrAfter")?;

    if not_on_or_after <= not_before {
        return Err(invalid(
            "saml:Conditions",
            format!("NotOnOrAfter {not_on_or_after} is not after NotBefore {not_before}"),
        ));
    }
    if not_on_or_after <= now {
        return Err(invalid(
            "saml:Conditions",
            format!("the token expired at {not_on_or_after} (now {now}); check the box's clock"),
        ));
    }
    if not_before > now + NOT_BEFORE_SKEW {
        return Err(invalid(
            "saml:Conditions",
            format!("the token is valid only from {not_before} (now {now}); check the box's clock"),
        ));
    }
    Ok((not_before, not_on_or_after))
}

/// Verifies the enveloped STS signature with the certificate of its KeyInfo.
// NOTE: this proves integrity, not that the eHealth STS made the signature: the box has no
// pinned STS certificate. The platform checks the signature again on every call.
fn check_signature(document: &Document<'_>, assertion: Node<'_, '_>) -> Result<(), TokenError> {
    let signature = assertion
        .children()
        .find(|node| node.has_tag_name((ns::DS, "Signature")))
        .ok_or_else(|| invalid("ds:Signature", "the assertion is not signed"))?;
    let certificate = dsig::key_info_certificate(signature)
        .map_err(|error| invalid("ds:KeyInfo", error.to_string()))?
        .ok_or_else(|| invalid("ds:KeyInfo", "no ds:X509Certificate of the STS"))?;
    let key = dsig::certificate_public_key(&certificate)
        .map_err(|error| invalid("ds:X509Certificate", error.to_string()))?;
    wsse::verify_assertion_signature(document, assertion, &key)
        .map_err(|error| invalid("ds:Signature", error.to_string()))?;
    Ok(())
}

fn check_holder_of_key(assertion: Node<'_, '_>, expected_der: &[u8]) -> Result<(), TokenError> {
    let holder = wsse::holder_of_key_certificate(assertion)
        .map_err(|error| invalid("saml:SubjectConfirmation", error.to_string()))?;
    if holder != expected_der {
        return Err(invalid(
            "saml:SubjectConfirmation",
            "the holder-of-key certificate is not the doctor's authentication certificate",
        ));
    }
    Ok(())
}

fn read_attributes(assertion: Node<'_, '_>) -> Vec<SamlAttribute> {
    assertion
        .children()
        .filter(|node| node.has_tag_name((ns::SAML, "AttributeStatement")))
        .flat_map(|statement| statement.children())
        .filter(|node| node.has_tag_name((ns::SAML, "Attribute")))
        .filter_map(|attribute| {
            let name = attribute.attribute("AttributeName")?.to_owned();
            let values = attribute
                .children()
                .filter(|node| node.has_tag_name((ns::SAML, "AttributeValue")))
                .map(|value| value.text().unwrap_or("").trim().to_owned())
                .collect();
            Some(SamlAttribute {
                namespace: attribute.attribute("AttributeNamespace").map(str::to_owned),
                name,
                values,
            })
        })
        .collect()
}

fn attribute_value(attributes: &[SamlAttribute], name: &str) -> Option<String> {
    attributes
        .iter()
        .find(|attribute| attribute.name == name)
        .and_then(|attribute| attribute.values.first().cloned())
}
