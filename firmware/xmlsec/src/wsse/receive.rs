//! Checking a received WS-Security envelope: structure, key source and message signature.

use roxmltree::{Document, Node};

use super::{
    BASE64_ENCODING_TYPE, SAML_ASSERTION_ID_VALUE_TYPE, SAML_V11_TOKEN_TYPE, WsseError,
    X509V3_VALUE_TYPE, assertion,
};
use crate::dsig::{self, VerifiedSignature};
use crate::ids::{IdIndex, fragment_id};
use crate::{ns, xml};

/// A received envelope whose message signature verified with the key of its own token.
#[derive(Debug, Clone)]
pub struct ReceivedEnvelope<'a, 'input> {
    /// The `soap:Envelope` element.
    pub envelope: Node<'a, 'input>,
    /// The `wsse:Security` header.
    pub security: Node<'a, 'input>,
    /// The `soap:Body`: the child of the envelope, wherever other copies may sit.
    pub body: Node<'a, 'input>,
    /// The `wsu:Timestamp` of the Security header.
    pub timestamp: Timestamp<'a, 'input>,
    /// The token whose key made the message signature.
    pub key_source: KeySource<'a, 'input>,
    /// The verified message signature.
    pub signature: VerifiedSignature<'a, 'input>,
    /// Whether `body` itself is among the signed elements.
    pub body_signed: bool,
    /// Whether `timestamp.element` itself is among the signed elements.
    pub timestamp_signed: bool,
    /// Whether the token (BinarySecurityToken or assertion) is among the signed elements.
    pub token_signed: bool,
}

/// The `wsu:Timestamp` of a Security header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp<'a, 'input> {
    /// The `wsu:Timestamp` element.
    pub element: Node<'a, 'input>,
    /// `wsu:Created`.
    pub created: jiff::Timestamp,
    /// `wsu:Expires`.
    pub expires: jiff::Timestamp,
}

/// Token that provides the key of the message signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource<'a, 'input> {
    /// An X.509 `wsse:BinarySecurityToken` in the Security header.
    BinarySecurityToken {
        /// The token element.
        element: Node<'a, 'input>,
        /// The DER certificate it carries.
        certificate_der: Vec<u8>,
    },
    /// A SAML 1.1 holder-of-key assertion in the Security header.
    SamlAssertion(HolderOfKeyAssertion<'a, 'input>),
}

impl<'a, 'input> KeySource<'a, 'input> {
    /// Returns the DER certificate whose key made the message signature.
    pub fn certificate_der(&self) -> &[u8] {
        match self {
            Self::BinarySecurityToken {
                certificate_der, ..
            } => certificate_der,
            Self::SamlAssertion(assertion) => &assertion.holder_of_key_certificate_der,
        }
    }

    /// Returns the token element.
    pub fn element(&self) -> Node<'a, 'input> {
        match self {
            Self::BinarySecurityToken { element, .. } => *element,
            Self::SamlAssertion(assertion) => assertion.element,
        }
    }
}

/// A holder-of-key assertion found in a Security header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderOfKeyAssertion<'a, 'input> {
    /// The `saml:Assertion` element.
    pub element: Node<'a, 'input>,
    /// The exact text of the assertion in the received document.
    pub text: &'input str,
    /// Its AssertionID.
    pub assertion_id: String,
    /// The DER certificate of its holder-of-key SubjectConfirmation.
    pub holder_of_key_certificate_der: Vec<u8>,
}

/// Checks a received envelope and verifies its message signature with the key of the token its
/// KeyInfo references, then rejects it unless both the soap:Body and the wsu:Timestamp of the
/// Security header are signed.
///
/// The timestamp window, the trust in the certificate or in the assertion's issuer (see
/// [`verify_assertion_signature`](super::verify_assertion_signature)) and the assertion's
/// conditions are left to the caller.
pub fn verify_envelope<'a, 'input>(
    doc: &'a Document<'input>,
) -> Result<ReceivedEnvelope<'a, 'input>, WsseError> {
    let envelope = parse_envelope(doc)?;
    if !envelope.body_signed {
        return Err(WsseError::UnsignedBody);
    }
    if !envelope.timestamp_signed {
        return Err(WsseError::UnsignedTimestamp);
    }
    Ok(envelope)
}

/// Checks a received envelope and verifies its message signature like [`verify_envelope`], but
/// reports whether Body, Timestamp and token are signed instead of rejecting when they are not.
pub fn parse_envelope<'a, 'input>(
    doc: &'a Document<'input>,
) -> Result<ReceivedEnvelope<'a, 'input>, WsseError> {
    let index = IdIndex::build(doc)?;
    let (envelope, header, body) = envelope_parts(doc)?;
    let security = single_child(header, ns::WSSE, "Security", "wsse:Security", "soap:Header")?;
    let timestamp_element = single_child(
        security,
        ns::WSU,
        "Timestamp",
        "wsu:Timestamp",
        "wsse:Security",
    )?;
    let signature = single_child(
        security,
        ns::DS,
        "Signature",
        "ds:Signature",
        "wsse:Security",
    )?;

    let timestamp = parse_timestamp(timestamp_element)?;
    let key_source = key_source(doc, &index, security, signature)?;
    let public_key = dsig::certificate_public_key(key_source.certificate_der())
        .map_err(WsseError::Certificate)?;
    let verified = dsig::verify(doc, signature, &public_key)?;

    Ok(ReceivedEnvelope {
        envelope,
        security,
        body,
        body_signed: verified.covers(body),
        timestamp_signed: verified.covers(timestamp_element),
        token_signed: verified.covers(key_source.element()),
        timestamp,
        key_source,
        signature: verified,
    })
}

type EnvelopeParts<'a, 'input> = (Node<'a, 'input>, Node<'a, 'input>, Node<'a, 'input>);

/// Returns the envelope, its header and its body, which must be its only children, in order.
fn envelope_parts<'a, 'input>(
    doc: &'a Document<'input>,
) -> Result<EnvelopeParts<'a, 'input>, WsseError> {
    let envelope = doc.root_element();
    if !xml::has_name(envelope, ns::SOAP, "Envelope") {
        return Err(WsseError::NotSoapEnvelope(
            envelope.tag_name().name().to_owned(),
        ));
    }

    let mut children = xml::child_elements(envelope);
    let header = children
        .next()
        .filter(|node| xml::has_name(*node, ns::SOAP, "Header"));
    let header = header.ok_or(WsseError::MissingElement {
        element: "soap:Header",
        parent: "soap:Envelope",
    })?;
    let body = children
        .next()
        .filter(|node| xml::has_name(*node, ns::SOAP, "Body"));
    let body = body.ok_or(WsseError::MissingElement {
        element: "soap:Body",
        parent: "soap:Envelope",
    })?;
    if let Some(extra) = children.next() {
        return Err(WsseError::UnexpectedElement {
            element: extra.tag_name().name().to_owned(),
            parent: "soap:Envelope",
        });
    }
    Ok((envelope, header, body))
}

fn single_child<'a, 'input>(
    parent: Node<'a, 'input>,
    namespace: &'a str,
    local_name: &'a str,
    element: &'static str,
    parent_name: &'static str,
) -> Result<Node<'a, 'input>, WsseError> {
    let mut matches = xml::children_named(parent, namespace, local_name);
    match (matches.next(), matches.next()) {
        (Some(only), None) => Ok(only),
        (None, _) => Err(WsseError::MissingElement {
            element,
            parent: parent_name,
        }),
        (Some(_), Some(_)) => Err(WsseError::DuplicateElement {
            element,
            parent: parent_name,
        }),
    }
}

fn parse_timestamp<'a, 'input>(
    element: Node<'a, 'input>,
) -> Result<Timestamp<'a, 'input>, WsseError> {
    let created = single_child(element, ns::WSU, "Created", "wsu:Created", "wsu:Timestamp")?;
    let expires = single_child(element, ns::WSU, "Expires", "wsu:Expires", "wsu:Timestamp")?;
    Ok(Timestamp {
        element,
        created: parse_time(created, "wsu:Created")?,
        expires: parse_time(expires, "wsu:Expires")?,
    })
}

fn parse_time(element: Node<'_, '_>, name: &'static str) -> Result<jiff::Timestamp, WsseError> {
    let value = xml::text(element);
    value
        .trim()
        .parse()
        .map_err(|error: jiff::Error| WsseError::InvalidTimestamp {
            element: name,
            value: value.clone(),
            reason: error.to_string(),
        })
}

/// Follows the SecurityTokenReference in the signature's KeyInfo to its token.
fn key_source<'a, 'input>(
    doc: &'a Document<'input>,
    index: &IdIndex<'a, 'input>,
    security: Node<'a, 'input>,
    signature: Node<'a, 'input>,
) -> Result<KeySource<'a, 'input>, WsseError> {
    let key_info = single_child(signature, ns::DS, "KeyInfo", "ds:KeyInfo", "ds:Signature")?;
    let mut key_info_children = xml::child_elements(key_info);
    let reference = match (key_info_children.next(), key_info_children.next()) {
        (Some(only), None) if xml::has_name(only, ns::WSSE, "SecurityTokenReference") => only,
        _ => {
            return Err(WsseError::UnsupportedKeyInfo(
                "ds:KeyInfo must contain exactly one wsse:SecurityTokenReference".to_owned(),
            ));
        }
    };

    let mut children = xml::child_elements(reference);
    match (children.next(), children.next()) {
        (Some(child), None) if xml::has_name(child, ns::WSSE, "Reference") => {
            token_by_reference(index, security, child)
        }
        (Some(child), None) if xml::has_name(child, ns::WSSE, "KeyIdentifier") => {
            check_token_type(reference)?;
            assertion_by_identifier(doc, index, security, child)
        }
        _ => Err(WsseError::UnsupportedKeyInfo(
            "wsse:SecurityTokenReference must contain one wsse:Reference or wsse:KeyIdentifier"
                .to_owned(),
        )),
    }
}

fn token_by_reference<'a, 'input>(
    index: &IdIndex<'a, 'input>,
    security: Node<'a, 'input>,
    reference: Node<'a, 'input>,
) -> Result<KeySource<'a, 'input>, WsseError> {
    let uri = reference.attribute("URI").unwrap_or_default();
    check_optional(
        reference.attribute("ValueType"),
        "ValueType",
        X509V3_VALUE_TYPE,
    )?;
    let token = index.get(fragment_id(uri)?)?;
    let in_header =
        token.parent() == Some(security) && xml::has_name(token, ns::WSSE, "BinarySecurityToken");
    if !in_header {
        return Err(WsseError::TokenNotInHeader(fragment_id(uri)?.to_owned()));
    }

    check_required(token.attribute("ValueType"), "ValueType", X509V3_VALUE_TYPE)?;
    check_optional(
        token.attribute("EncodingType"),
        "EncodingType",
        BASE64_ENCODING_TYPE,
    )?;
    let certificate_der = xml::decode_base64(&xml::text(token)).map_err(|error| {
        WsseError::Certificate(dsig::DsigError::InvalidBase64 {
            element: "wsse:BinarySecurityToken",
            reason: error.to_string(),
        })
    })?;
    Ok(KeySource::BinarySecurityToken {
        element: token,
        certificate_der,
    })
}

fn assertion_by_identifier<'a, 'input>(
    doc: &'a Document<'input>,
    index: &IdIndex<'a, 'input>,
    security: Node<'a, 'input>,
    identifier: Node<'a, 'input>,
) -> Result<KeySource<'a, 'input>, WsseError> {
    check_required(
        identifier.attribute("ValueType"),
        "ValueType",
        SAML_ASSERTION_ID_VALUE_TYPE,
    )?;
    let assertion_id = xml::text(identifier).trim().to_owned();
    let element = index
        .get(&assertion_id)
        .ok()
        .filter(|node| node.parent() == Some(security))
        .filter(|node| xml::has_name(*node, ns::SAML, "Assertion"))
        .filter(|node| node.attribute("AssertionID") == Some(assertion_id.as_str()))
        .ok_or_else(|| WsseError::AssertionNotInHeader(assertion_id.clone()))?;

    Ok(KeySource::SamlAssertion(HolderOfKeyAssertion {
        element,
        text: &doc.input_text()[element.range()],
        holder_of_key_certificate_der: assertion::holder_of_key_certificate(element)?,
        assertion_id,
    }))
}

/// Checks the optional `wsse11:TokenType` of a SecurityTokenReference to an assertion.
fn check_token_type(reference: Node<'_, '_>) -> Result<(), WsseError> {
    check_optional(
        reference.attribute((ns::WSSE11, "TokenType")),
        "wsse11:TokenType",
        SAML_V11_TOKEN_TYPE,
    )
}

fn check_optional(
    value: Option<&str>,
    attribute: &'static str,
    expected: &'static str,
) -> Result<(), WsseError> {
    match value {
        None => Ok(()),
        Some(value) => check_required(Some(value), attribute, expected),
    }
}

fn check_required(
    value: Option<&str>,
    attribute: &'static str,
    expected: &'static str,
) -> Result<(), WsseError> {
    if value == Some(expected) {
        return Ok(());
    }
    Err(WsseError::UnsupportedTokenType {
        attribute,
        value: value.unwrap_or("(missing)").to_owned(),
        expected,
    })
}
