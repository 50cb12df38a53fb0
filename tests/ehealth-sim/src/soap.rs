//! SOAP 1.1 transport of the simulator: envelope parsing, dispatch to an operation, and rendering
//! of replies (inline, swaRef or MTOM/XOP) and platform faults.
//!
//! This module knows the wire shape only. It does not check WS-Security (that is
//! [`crate::security`]'s job) and it does not implement any operation.
//!
//! # SOAPAction
//!
//! The Body's root element decides the operation. [`check_soap_action`] then checks that the
//! `SOAPAction` header names that operation, with the values the `soapAction` attributes of the
//! platform's WSDLs declare (the WS-I Basic Profile requires SOAP 1.1 clients to send exactly
//! those):
//!
//! | service | SOAPAction |
//! |---|---|
//! | eHealthBox consultation v3 | `urn:be:fgov:ehealth:ehbox:consultation:protocol:v3:<operation>` |
//! | eHealthBox publication v3 | `urn:be:fgov:ehealth:ehbox:publication:protocol:v3:sendMessage` |
//! | STS, WS-Trust | `urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken`, or `…:Challenge` for the reply to a sign challenge |
//! | STS, SAML 1.1 `samlp:Request` | `…:RequestSecurityToken`, or `…:RequestSecureToken` as the eHealth connector sends it |
//! | ETK depot | empty (`""`) |
//!
//! Surrounding quotes are removed before the comparison. A missing or different action is
//! SOA-03004 (a WS-I conformance failure). NOTE: that code, and that the platform checks the
//! action at all, are inferred; the knob [`crate::knobs::Knobs::set_soap_action_check`] turns the
//! check off. SOAP 1.2, whose action travels in the Content-Type, is rejected before this check.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::sts::{ACTION_CHALLENGE, ACTION_ISSUE};
use crate::wire::{Attachment, Fault, FaultKind, SoapReply};

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace, recognised only to reject it with a precise message.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// Namespace of the eHealth fault details (`err:BusinessError`, `err:SystemError`).
pub const ERRORS_NS: &str = "urn:be:fgov:ehealth:errors:soa:v1";
/// eHealthBox consultation v3 protocol namespace.
pub const CONSULTATION_NS: &str = "urn:be:fgov:ehealth:ehbox:consultation:protocol:v3";
/// eHealthBox publication v3 protocol namespace.
pub const PUBLICATION_NS: &str = "urn:be:fgov:ehealth:ehbox:publication:protocol:v3";
/// WS-Trust 1.3 namespace.
pub const WS_TRUST_NS: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
/// SAML 1.x protocol namespace (`samlp:Request`).
pub const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:1.0:protocol";
/// ETK depot protocol namespace.
pub const ETK_DEPOT_NS: &str = "urn:be:fgov:ehealth:etkdepot:1_0:protocol";
/// XOP namespace of `xop:Include` in MTOM messages.
pub const XOP_NS: &str = "http://www.w3.org/2004/08/xop/include";

/// The `err:Environment` value the simulator puts in every fault detail. `Simulation` is one of
/// the values of the eHealth error schema's environment enumeration.
pub const ENVIRONMENT: &str = "Simulation";

/// The services the simulator exposes, one per endpoint path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// `/ehBoxConsultation/v3`
    Consultation,
    /// `/ehBoxPublication/v3`
    Publication,
    /// `/IAM/SecurityTokenService/v1` (WS-Trust 1.3)
    Sts,
    /// `/IAM/Saml11TokenService/v1` (SAML 1.1 `samlp:Request`)
    Saml11,
    /// `/EtkDepot/v1`
    EtkDepot,
}

impl Service {
    /// Every service, in the order the server registers their routes.
    pub const ALL: [Service; 5] = [
        Service::Consultation,
        Service::Publication,
        Service::Sts,
        Service::Saml11,
        Service::EtkDepot,
    ];

    /// Returns the endpoint path of the service, without the configurable prefix.
    pub fn path(self) -> &'static str {
        match self {
            Service::Consultation => "/ehBoxConsultation/v3",
            Service::Publication => "/ehBoxPublication/v3",
            Service::Sts => "/IAM/SecurityTokenService/v1",
            Service::Saml11 => "/IAM/Saml11TokenService/v1",
            Service::EtkDepot => "/EtkDepot/v1",
        }
    }

    /// Returns the operation name (as in the WSDL) for a Body root element of this service.
    fn operation_for(self, namespace: &str, local_name: &str) -> Option<&'static str> {
        const CONSULTATION: &[(&str, &str)] = &[
            ("GetBoxInfoRequest", "getBoxInfo"),
            ("GetMessagesListRequest", "getMessagesList"),
            ("GetFullMessageRequest", "getFullMessage"),
            ("GetHistoryRequest", "getMessageHistory"),
            (
                "GetMessageAcknowledgmentsStatusRequest",
                "getMessageAcknowledgmentsStatus",
            ),
            ("MoveMessageRequest", "moveMessage"),
            ("DeleteMessageRequest", "deleteMessage"),
            (
                "GetAllEhboxesMessagesListRequest",
                "getAllEhboxesMessagesList",
            ),
            ("InsertOoORequest", "insertOoO"),
            ("DeleteOoORequest", "deleteOoO"),
            ("GetOoOListRequest", "getOoOList"),
        ];
        const WS_TRUST: &[(&str, &str)] = &[
            ("RequestSecurityToken", "RequestSecurityToken"),
            ("RequestSecurityTokenResponse", "Challenge"),
        ];
        let table: &[(&str, &str)] = match (self, namespace) {
            (Service::Consultation, CONSULTATION_NS) => CONSULTATION,
            (Service::Publication, PUBLICATION_NS) => &[("SendMessageRequest", "sendMessage")],
            // Some clients post WS-Trust requests to the SAML 1.1 endpoint too.
            (Service::Sts | Service::Saml11, WS_TRUST_NS) => WS_TRUST,
            (Service::Saml11, SAMLP_NS) => &[("Request", SAML_P_OPERATION)],
            (Service::EtkDepot, ETK_DEPOT_NS) => &[("GetEtkRequest", "GetEtk")],
            _ => &[],
        };
        table
            .iter()
            .find(|(root, _)| *root == local_name)
            .map(|(_, operation)| *operation)
    }
}

/// The operation name of a SAML 1.1 `samlp:Request` (AttributeQuery) on the SAML 1.1 endpoint.
pub const SAML_P_OPERATION: &str = "samlpRequest";

/// The SOAPAction the eHealth connector sends with a SAML 1.1 `samlp:Request`.
const ACTION_SAML_P_CONNECTOR: &str = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecureToken";

/// Returns the SOAPAction values accepted for `operation` of `service` (see the module docs).
pub fn expected_soap_actions(service: Service, operation: &str) -> Vec<String> {
    match (service, operation) {
        (Service::Consultation, _) => vec![format!("{CONSULTATION_NS}:{operation}")],
        (Service::Publication, _) => vec![format!("{PUBLICATION_NS}:{operation}")],
        (Service::Saml11, SAML_P_OPERATION) => {
            vec![ACTION_ISSUE.to_owned(), ACTION_SAML_P_CONNECTOR.to_owned()]
        }
        (Service::Sts | Service::Saml11, "Challenge") => vec![ACTION_CHALLENGE.to_owned()],
        (Service::Sts | Service::Saml11, _) => vec![ACTION_ISSUE.to_owned()],
        (Service::EtkDepot, _) => vec![String::new()],
    }
}

/// Checks the `SOAPAction` header (`None` when absent) against `operation` of `service`, and
/// returns SOA-03004 when it is missing or names another action.
pub fn check_soap_action(
    service: Service,
    operation: &str,
    soap_action: Option<&str>,
) -> Result<(), Fault> {
    let expected = expected_soap_actions(service, operation);
    let quoted: Vec<String> = expected
        .iter()
        .map(|action| format!("\"{action}\""))
        .collect();
    let Some(sent) = soap_action else {
        return Err(Fault::system(
            "SOA-03004",
            format!(
                "the request has no SOAPAction header; send SOAPAction: {} for {operation}",
                quoted.join(" or ")
            ),
            false,
        ));
    };
    let unquoted = sent.trim().trim_matches('"');
    if expected.iter().any(|action| action == unquoted) {
        return Ok(());
    }
    Err(Fault::system(
        "SOA-03004",
        format!(
            "the SOAPAction {sent:?} does not match the Body's operation {operation}; send {}",
            quoted.join(" or ")
        ),
        false,
    ))
}

/// A parsed SOAP 1.1 request: the document and what its Body asks for.
#[derive(Debug)]
pub struct SoapRequest<'input> {
    pub document: roxmltree::Document<'input>,
    /// Operation name as in the WSDL, for example `getMessagesList`.
    pub operation: &'static str,
}

impl<'input> SoapRequest<'input> {
    /// Returns the root element of the SOAP Body (the operation's request element).
    pub fn body_root(&self) -> roxmltree::Node<'_, 'input> {
        // `parse_request` only builds a `SoapRequest` after finding this element.
        body_root_element(&self.document).unwrap_or_else(|| self.document.root_element())
    }
}

/// Checks that an HTTP request carries SOAP 1.1 (`text/xml`) and names an operation of `service`.
///
/// The SOAPAction header is not used for dispatch, because real clients send odd values; the
/// Body's root element decides. Every failure is the platform fault a real endpoint would send.
pub fn parse_request<'input>(
    service: Service,
    content_type: Option<&str>,
    text: &'input str,
) -> Result<SoapRequest<'input>, Fault> {
    check_content_type(content_type)?;

    let document = roxmltree::Document::parse(text)
        .map_err(|error| not_soap(format!("the request is not well-formed XML: {error}")))?;
    let envelope = document.root_element();
    if envelope.tag_name().name() != "Envelope" {
        return Err(not_soap(format!(
            "the request root element is {:?}, expected a SOAP 1.1 Envelope",
            envelope.tag_name().name()
        )));
    }
    match envelope.tag_name().namespace() {
        Some(SOAP11_NS) => {}
        Some(SOAP12_NS) => {
            return Err(not_soap(
                "the request is a SOAP 1.2 envelope; this endpoint accepts SOAP 1.1 only",
            ));
        }
        other => {
            return Err(not_soap(format!(
                "the Envelope namespace is {other:?}, expected {SOAP11_NS:?}"
            )));
        }
    }

    let Some(root) = body_root_element(&document) else {
        return Err(Fault::system(
            "SOA-03003",
            "the SOAP request has no Body element content",
            false,
        ));
    };
    let operation = operation_of(service, root)?;
    Ok(SoapRequest {
        document,
        operation,
    })
}

fn check_content_type(content_type: Option<&str>) -> Result<(), Fault> {
    let Some(content_type) = content_type else {
        return Err(not_soap(
            "the request has no Content-Type; send text/xml (SOAP 1.1)",
        ));
    };
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("text/xml") {
        return Ok(());
    }
    if media_type.eq_ignore_ascii_case("application/soap+xml") {
        return Err(not_soap(
            "the Content-Type application/soap+xml is SOAP 1.2; this endpoint accepts SOAP 1.1 (text/xml)",
        ));
    }
    Err(not_soap(format!(
        "the Content-Type {media_type:?} is not SOAP 1.1; send text/xml"
    )))
}

/// Returns the first element child of `soap:Body`, if the envelope has a Body with content.
fn body_root_element<'a, 'input>(
    document: &'a roxmltree::Document<'input>,
) -> Option<roxmltree::Node<'a, 'input>> {
    let body = document
        .root_element()
        .children()
        .find(|node| node.is_element() && node.has_tag_name((SOAP11_NS, "Body")))?;
    body.children().find(|node| node.is_element())
}

fn operation_of(service: Service, root: roxmltree::Node<'_, '_>) -> Result<&'static str, Fault> {
    let local_name = root.tag_name().name();
    let namespace = root.tag_name().namespace().unwrap_or("");
    if let Some(operation) = service.operation_for(namespace, local_name) {
        return Ok(operation);
    }
    Err(Fault::system(
        "SOA-03005",
        format!(
            "the Body element {{{namespace}}}{local_name} is not an operation of {}",
            service.path()
        ),
        false,
    ))
}

/// SOA-03002: the message is not a SOAP message.
pub fn not_soap(detail: impl Into<String>) -> Fault {
    Fault::system("SOA-03002", detail, false)
}

/// Wraps a Body element (with its own namespace declarations) in a SOAP 1.1 envelope.
pub fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soap:Envelope xmlns:soap=\"{SOAP11_NS}\"><soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

/// Renders a platform fault as a SOAP 1.1 envelope.
///
/// `ticket` becomes the detail's `Id` attribute, the reference the platform gives for support.
// NOTE: the faultcode values (soap:Client for business and malformed-request faults, soap:Server
// otherwise) are an assumption; only the detail structure is documented by the error schemas.
pub fn render_fault(fault: &Fault, ticket: &str) -> String {
    let (detail_element, origin) = match fault.kind {
        FaultKind::Business => ("err:BusinessError", "Client"),
        FaultKind::System => ("err:SystemError", "Server"),
    };
    let faultcode = if fault.kind == FaultKind::Business || fault.code.starts_with("SOA-03") {
        "soap:Client"
    } else {
        "soap:Server"
    };
    let message = escape(fault.message.as_str());
    let body = format!(
        "<soap:Fault><faultcode>{faultcode}</faultcode><faultstring>{message}</faultstring>\
         <detail><{detail_element} xmlns:err=\"{ERRORS_NS}\" Id=\"{ticket}\">\
         <Origin>{origin}</Origin><Code>{code}</Code><Message xml:lang=\"en\">{message}</Message>\
         <Retry>{retry}</Retry><err:Environment>{ENVIRONMENT}</err:Environment>\
         </{detail_element}></detail></soap:Fault>",
        ticket = escape(ticket),
        code = escape(fault.code.as_str()),
        retry = fault.retry,
    );
    envelope(&body)
}

/// How binary parts of a reply travel on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinaryMode {
    /// base64 text in place of the `cid:` reference.
    #[default]
    Inline,
    /// `cid:` reference as element text, the bytes in a `multipart/related` part (SOAP with
    /// attachments, WS-I Attachments Profile).
    SwaRef,
    /// `xop:Include` in place of the element text, the bytes in a `multipart/related` part of an
    /// MTOM message.
    Mtom,
}

/// An HTTP response body with its Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBody {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The Content-ID of the root (envelope) part of multipart replies.
const ROOT_CONTENT_ID: &str = "root.message@ehealth-sim";

/// Renders a successful reply in `mode`.
///
/// The handler's body refers to each attachment as element text `cid:<content_id>`. A reply
/// without attachments is always plain `text/xml`, as the platform sends it.
pub fn render_reply(reply: &SoapReply, mode: BinaryMode) -> HttpBody {
    if reply.attachments.is_empty() {
        return xml_body(envelope(&reply.body));
    }
    match mode {
        BinaryMode::Inline => xml_body(envelope(&inline_attachments(reply))),
        BinaryMode::SwaRef => render_swaref(reply),
        BinaryMode::Mtom => render_mtom(reply),
    }
}

fn xml_body(xml: String) -> HttpBody {
    HttpBody {
        content_type: "text/xml; charset=UTF-8".to_owned(),
        bytes: xml.into_bytes(),
    }
}

fn cid_text(content_id: &str) -> String {
    format!(">cid:{content_id}<")
}

fn inline_attachments(reply: &SoapReply) -> String {
    let mut body = reply.body.clone();
    for attachment in &reply.attachments {
        let encoded = format!(">{}<", BASE64.encode(&attachment.bytes));
        body = body.replace(&cid_text(&attachment.content_id), &encoded);
    }
    body
}

fn render_swaref(reply: &SoapReply) -> HttpBody {
    let root = envelope(&reply.body);
    let boundary = boundary_for(reply, &root);
    let root_headers = "Content-Type: text/xml; charset=UTF-8\r\n";
    let bytes = multipart(&boundary, root_headers, &root, reply);
    let content_type = format!(
        "multipart/related; type=\"text/xml\"; start=\"<{ROOT_CONTENT_ID}>\"; boundary=\"{boundary}\""
    );
    HttpBody {
        content_type,
        bytes,
    }
}

fn render_mtom(reply: &SoapReply) -> HttpBody {
    let mut body = reply.body.clone();
    for attachment in &reply.attachments {
        let include = format!(
            "><xop:Include xmlns:xop=\"{XOP_NS}\" href=\"cid:{}\"/><",
            escape(attachment.content_id.as_str())
        );
        body = body.replace(&cid_text(&attachment.content_id), &include);
    }
    let root = envelope(&body);
    let boundary = boundary_for(reply, &root);
    let root_headers = "Content-Type: application/xop+xml; charset=UTF-8; type=\"text/xml\"\r\n";
    let bytes = multipart(&boundary, root_headers, &root, reply);
    let content_type = format!(
        "multipart/related; type=\"application/xop+xml\"; start=\"<{ROOT_CONTENT_ID}>\"; \
         start-info=\"text/xml\"; boundary=\"{boundary}\""
    );
    HttpBody {
        content_type,
        bytes,
    }
}

/// Derives a boundary from the content, so replies are reproducible, and makes sure it occurs in
/// none of the parts.
fn boundary_for(reply: &SoapReply, root: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(root.as_bytes());
    for attachment in &reply.attachments {
        hasher.update(&attachment.bytes);
    }
    let mut digest = hasher.finalize().to_vec();
    loop {
        let mut boundary = String::from("MIMEBoundary_");
        for byte in &digest[..16] {
            let _ = write!(boundary, "{byte:02x}");
        }
        let clashes = contains(root.as_bytes(), boundary.as_bytes())
            || reply
                .attachments
                .iter()
                .any(|part| contains(&part.bytes, boundary.as_bytes()));
        if !clashes {
            return boundary;
        }
        digest = Sha256::digest(&digest).to_vec();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn multipart(boundary: &str, root_headers: &str, root: &str, reply: &SoapReply) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(root.len() + 1024);
    bytes.extend_from_slice(format!("--{boundary}\r\n{root_headers}").as_bytes());
    bytes.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
    bytes.extend_from_slice(format!("Content-ID: <{ROOT_CONTENT_ID}>\r\n\r\n").as_bytes());
    bytes.extend_from_slice(root.as_bytes());

    for attachment in &reply.attachments {
        let headers = format!(
            "\r\n--{boundary}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: binary\r\n\
             Content-ID: <{}>\r\n\r\n",
            attachment.content_type, attachment.content_id
        );
        bytes.extend_from_slice(headers.as_bytes());
        bytes.extend_from_slice(&attachment.bytes);
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

/// A parsed `multipart/related` message: the root part and the other parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The Content-Type of the root part.
    pub root_content_type: String,
    pub root: Vec<u8>,
    /// The other parts, keyed by Content-ID without angle brackets.
    pub parts: Vec<Attachment>,
}

/// Errors of reading a `multipart/related` body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MultipartError {
    #[error("the Content-Type {0:?} has no boundary parameter")]
    NoBoundary(String),
    #[error("the multipart body has no part delimited by boundary {0:?}")]
    NoParts(String),
    #[error("a MIME part has no blank line after its headers")]
    UnterminatedHeaders,
    #[error("the start parameter names Content-ID {0:?}, which no part has")]
    UnknownStart(String),
}

/// Returns the value of parameter `name` of a MIME Content-Type, unquoted.
pub fn content_type_parameter(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (key, value) = parameter.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case(name) {
            return None;
        }
        Some(value.trim().trim_matches('"').to_owned())
    })
}

/// Splits a `multipart/related` body (swaRef or MTOM) into its root and other parts.
///
/// The root is the part named by the `start` parameter, or the first part when there is none.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Multipart, MultipartError> {
    let boundary = content_type_parameter(content_type, "boundary")
        .filter(|boundary| !boundary.is_empty())
        .ok_or_else(|| MultipartError::NoBoundary(content_type.to_owned()))?;
    let delimiter = format!("--{boundary}");

    let mut sections = Vec::new();
    let mut rest = body;
    let Some(first) = find(rest, delimiter.as_bytes()) else {
        return Err(MultipartError::NoParts(boundary));
    };
    rest = &rest[first + delimiter.len()..];
    while !rest.starts_with(b"--") {
        let rest_of_line = find(rest, b"\r\n").map_or(rest.len(), |end| end + 2);
        rest = &rest[rest_of_line..];
        let end = find(rest, format!("\r\n{delimiter}").as_bytes()).unwrap_or(rest.len());
        sections.push(&rest[..end]);
        if end == rest.len() {
            break;
        }
        rest = &rest[end + 2 + delimiter.len()..];
    }
    if sections.is_empty() {
        return Err(MultipartError::NoParts(boundary));
    }

    let mut parts = Vec::new();
    for section in sections {
        parts.push(parse_part(section)?);
    }
    let root_index = match content_type_parameter(content_type, "start") {
        Some(start) => {
            let start = start
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned();
            parts
                .iter()
                .position(|part| part.content_id == start)
                .ok_or(MultipartError::UnknownStart(start))?
        }
        None => 0,
    };
    let root = parts.remove(root_index);
    Ok(Multipart {
        root_content_type: root.content_type,
        root: root.bytes,
        parts,
    })
}

fn parse_part(section: &[u8]) -> Result<Attachment, MultipartError> {
    let split = find(section, b"\r\n\r\n").ok_or(MultipartError::UnterminatedHeaders)?;
    let headers = String::from_utf8_lossy(&section[..split]);
    let mut content_id = String::new();
    let mut content_type = String::new();
    for line in headers.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("Content-ID") {
            content_id = value
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned();
        } else if name.trim().eq_ignore_ascii_case("Content-Type") {
            content_type = value.to_owned();
        }
    }
    Ok(Attachment {
        content_id,
        content_type,
        bytes: section[split + 4..].to_vec(),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap_action_accepted_per_operation() {
        let accepted = [
            (
                Service::Consultation,
                "getMessagesList",
                "\"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3:getMessagesList\"",
            ),
            (
                Service::Consultation,
                "getMessageHistory",
                "urn:be:fgov:ehealth:ehbox:consultation:protocol:v3:getMessageHistory",
            ),
            (
                Service::Publication,
                "sendMessage",
                "\"urn:be:fgov:ehealth:ehbox:publication:protocol:v3:sendMessage\"",
            ),
            (
                Service::Sts,
                "RequestSecurityToken",
                "\"urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken\"",
            ),
            (
                Service::Sts,
                "Challenge",
                "\"urn:be:fgov:ehealth:sts:protocol:v1:Challenge\"",
            ),
            (
                Service::Saml11,
                SAML_P_OPERATION,
                "\"urn:be:fgov:ehealth:sts:protocol:v1:RequestSecureToken\"",
            ),
            (Service::EtkDepot, "GetEtk", "\"\""),
        ];
        for (service, operation, action) in accepted {
            let checked = check_soap_action(service, operation, Some(action));
            assert!(
                checked.is_ok(),
                "{service:?} {operation} {action}: {checked:?}"
            );
        }
    }

    #[test]
    fn soap_action_mismatch_is_soa_03004() {
        let rejected = [
            (Service::Consultation, "getFullMessage", Some("\"\"")),
            (
                Service::Consultation,
                "moveMessage",
                Some("\"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3:deleteMessage\""),
            ),
            (
                Service::Sts,
                "Challenge",
                Some("\"urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken\""),
            ),
            (Service::EtkDepot, "GetEtk", Some("\"GetEtk\"")),
            (Service::Consultation, "getBoxInfo", None),
        ];
        for (service, operation, action) in rejected {
            let fault = check_soap_action(service, operation, action).expect_err(operation);
            assert_eq!(fault.code, "SOA-03004", "{operation}: {}", fault.message);
            assert!(fault.message.contains(operation), "{}", fault.message);
        }
    }

    #[test]
    fn soap_action_fault_names_expected_value() {
        let fault = check_soap_action(Service::Consultation, "getBoxInfo", None).unwrap_err();
        assert_eq!(
            fault.message,
            "the request has no SOAPAction header; send SOAPAction: \
             \"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3:getBoxInfo\" for getBoxInfo"
        );
    }

    fn request(body: &str) -> String {
        format!(
            "<s:Envelope xmlns:s=\"{SOAP11_NS}\"><s:Header/><s:Body>{body}</s:Body></s:Envelope>"
        )
    }

    #[test]
    fn dispatch_uses_body_root() {
        let text = request(&format!(
            "<c:GetMessagesListRequest xmlns:c=\"{CONSULTATION_NS}\"><Source>INBOX</Source>\
             </c:GetMessagesListRequest>"
        ));
        let parsed = parse_request(
            Service::Consultation,
            Some("text/xml; charset=UTF-8"),
            &text,
        )
        .expect("valid request");
        assert_eq!(parsed.operation, "getMessagesList");
        assert_eq!(
            parsed.body_root().tag_name().name(),
            "GetMessagesListRequest"
        );
    }

    #[test]
    fn non_soap_content_type_is_soa_03002() {
        let fault = parse_request(Service::Consultation, Some("application/json"), "{}")
            .expect_err("JSON is not SOAP");
        assert_eq!(fault.code, "SOA-03002");
        assert!(
            fault.message.contains("application/json"),
            "{}",
            fault.message
        );
    }

    #[test]
    fn soap12_envelope_is_soa_03002() {
        let text = format!("<e:Envelope xmlns:e=\"{SOAP12_NS}\"><e:Body/></e:Envelope>");
        let fault = parse_request(Service::Sts, Some("text/xml"), &text).expect_err("SOAP 1.2");
        assert_eq!(fault.code, "SOA-03002");
        assert!(fault.message.contains("SOAP 1.2"), "{}", fault.message);
    }

    #[test]
    fn empty_body_is_soa_03003() {
        let fault = parse_request(Service::Sts, Some("text/xml"), &request(""))
            .expect_err("no Body content");
        assert_eq!(fault.code, "SOA-03003");
    }

    #[test]
    fn foreign_operation_is_soa_03005() {
        let text = request(&format!(
            "<c:GetBoxInfoRequest xmlns:c=\"{CONSULTATION_NS}\"/>"
        ));
        let fault = parse_request(Service::Publication, Some("text/xml"), &text)
            .expect_err("consultation element on the publication endpoint");
        assert_eq!(fault.code, "SOA-03005");
        assert!(
            fault.message.contains("GetBoxInfoRequest"),
            "{}",
            fault.message
        );
    }

    #[test]
    fn fault_has_platform_detail() {
        let fault = Fault::system("SOA-02001", "Service not available <now>", true);
        let xml = render_fault(&fault, "T-1");
        let document = roxmltree::Document::parse(&xml).expect("well-formed fault");
        let detail = document
            .descendants()
            .find(|node| node.has_tag_name((ERRORS_NS, "SystemError")))
            .expect("err:SystemError");
        let child = |name: &str| {
            detail
                .children()
                .find(|node| node.is_element() && node.tag_name().name() == name)
                .expect(name)
        };
        assert_eq!(child("Code").text(), Some("SOA-02001"));
        assert_eq!(child("Code").tag_name().namespace(), None);
        assert_eq!(child("Retry").text(), Some("true"));
        assert_eq!(child("Message").text(), Some("Service not available <now>"));
        assert_eq!(child("Environment").tag_name().namespace(), Some(ERRORS_NS));
        assert_eq!(detail.attribute("Id"), Some("T-1"));
        let faultcode = document
            .descendants()
            .find(|node| node.has_tag_name("faultcode"))
            .and_then(|node| node.text());
        assert_eq!(faultcode, Some("soap:Server"));
    }

    #[test]
    fn business_fault_is_client_fault() {
        let xml = render_fault(&Fault::business("810", "BoxId invalid"), "T-2");
        assert!(xml.contains("<faultcode>soap:Client</faultcode>"), "{xml}");
        assert!(xml.contains("<err:BusinessError"), "{xml}");
    }

    fn reply_with_attachment() -> SoapReply {
        SoapReply {
            body: "<r:R xmlns:r=\"urn:r\"><Content>cid:part-1@sim</Content></r:R>".to_owned(),
            attachments: vec![Attachment {
                content_id: "part-1@sim".to_owned(),
                content_type: "application/octet-stream".to_owned(),
                bytes: vec![0, 1, 2, 0xff, b'\r', b'\n'],
            }],
        }
    }

    #[test]
    fn inline_mode_puts_base64_in_place() {
        let body = render_reply(&reply_with_attachment(), BinaryMode::Inline);
        let text = String::from_utf8(body.bytes).expect("UTF-8");
        assert!(body.content_type.starts_with("text/xml"));
        assert!(text.contains("<Content>AAEC/w0K</Content>"), "{text}");
    }

    #[test]
    fn swaref_mode_writes_parts() {
        let body = render_reply(&reply_with_attachment(), BinaryMode::SwaRef);
        let boundary = body
            .content_type
            .split("boundary=\"")
            .nth(1)
            .expect("boundary");
        let boundary = boundary.trim_end_matches('"');
        assert!(
            body.content_type
                .starts_with("multipart/related; type=\"text/xml\"")
        );
        let text = String::from_utf8_lossy(&body.bytes);
        assert!(text.contains("<Content>cid:part-1@sim</Content>"), "{text}");
        assert!(text.contains("Content-ID: <part-1@sim>\r\n\r\n"), "{text}");
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")), "{text}");
        assert!(contains(
            &body.bytes,
            &[0, 1, 2, 0xff, b'\r', b'\n', b'\r', b'\n', b'-']
        ));
    }

    #[test]
    fn mtom_mode_uses_xop_include() {
        let body = render_reply(&reply_with_attachment(), BinaryMode::Mtom);
        assert!(body.content_type.contains("type=\"application/xop+xml\""));
        assert!(body.content_type.contains("start-info=\"text/xml\""));
        let text = String::from_utf8_lossy(&body.bytes);
        assert!(
            text.contains("href=\"cid:part-1@sim\"/></Content>"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: application/xop+xml; charset=UTF-8; type=\"text/xml\"")
        );
    }

    #[test]
    fn multipart_round_trip() {
        for mode in [BinaryMode::SwaRef, BinaryMode::Mtom] {
            let body = render_reply(&reply_with_attachment(), mode);
            let parsed = parse_multipart(&body.content_type, &body.bytes).expect("parsable MIME");
            assert!(
                String::from_utf8_lossy(&parsed.root).starts_with("<?xml"),
                "{mode:?}"
            );
            assert_eq!(parsed.parts.len(), 1, "{mode:?}");
            assert_eq!(parsed.parts[0].content_id, "part-1@sim");
            assert_eq!(parsed.parts[0].bytes, [0, 1, 2, 0xff, b'\r', b'\n']);
        }
    }

    #[test]
    fn multipart_without_boundary_is_rejected() {
        let error = parse_multipart("multipart/related", b"").expect_err("no boundary");
        assert_eq!(
            error,
            MultipartError::NoBoundary("multipart/related".to_owned())
        );
    }
}
