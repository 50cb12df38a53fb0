//! The WS-Trust 1.3 bodies the box sends to the STS and the reading of its replies.

use base64::Engine as _;
use jiff::Timestamp;
use quick_xml::escape::escape;
use roxmltree::{Document, Node};

use super::token::{CERTIFICATE_HOLDER_SSIN, PERSON_SSIN};
use crate::xmlsec::ns;

pub const WST_NS: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
const AUTH_NS: &str = "http://docs.oasis-open.org/wsfed/authorization/200706";
const SAML11_TOKEN_TYPE: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1";
const REQUEST_TYPE_ISSUE: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue";
const CLAIMS_DIALECT: &str = "http://docs.oasis-open.org/wsfed/authorization/200706/authclaims";
/// The KeyType as eHealth spells it: `wstrust` without the hyphen of the WS-Trust 1.3
/// constant. Every known eHealth client sends this spelling.
pub const KEY_TYPE_PUBLIC_KEY: &str = "http://docs.oasis-open.org/ws-sx/wstrust/200512/PublicKey";

/// Parameters of an Issue request.
#[derive(Debug, Clone)]
pub struct IssueParameters<'a> {
    /// `Context` of the request, `urn:uuid:...`.
    pub context: &'a str,
    pub ssin: &'a str,
    /// Requested attribute URNs (no value).
    pub designators: &'a [String],
    pub created: Timestamp,
    pub expires: Timestamp,
    /// DER of the holder-of-key certificate.
    pub holder_of_key_der: &'a [u8],
}

/// Builds the `wst:RequestSecurityToken` body of an Issue request.
pub fn issue_body(parameters: &IssueParameters<'_>) -> String {
    let ssin = escape(parameters.ssin);
    let mut claims = String::new();
    for asserted in [CERTIFICATE_HOLDER_SSIN, PERSON_SSIN] {
        claims.push_str(&format!(
            "<auth:ClaimType Uri=\"{asserted}\"><auth:Value>{ssin}</auth:Value></auth:ClaimType>"
        ));
    }
    for designator in parameters.designators {
        claims.push_str(&format!("<auth:ClaimType Uri=\"{}\"/>", escape(designator)));
    }
    let certificate =
        base64::engine::general_purpose::STANDARD.encode(parameters.holder_of_key_der);

    format!(
        "<wst:RequestSecurityToken xmlns:wst=\"{WST_NS}\" xmlns:auth=\"{AUTH_NS}\" \
         xmlns:wsu=\"{wsu}\" xmlns:wsse=\"{wsse}\" xmlns:ds=\"{ds}\" Context=\"{context}\">\
         <wst:TokenType>{SAML11_TOKEN_TYPE}</wst:TokenType>\
         <wst:RequestType>{REQUEST_TYPE_ISSUE}</wst:RequestType>\
         <wst:Claims Dialect=\"{CLAIMS_DIALECT}\">{claims}</wst:Claims>\
         <wst:Lifetime><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wst:Lifetime>\
         <wst:KeyType>{KEY_TYPE_PUBLIC_KEY}</wst:KeyType>\
         <wst:UseKey><wsse:SecurityTokenReference><ds:X509Data>\
         <ds:X509Certificate>{certificate}</ds:X509Certificate>\
         </ds:X509Data></wsse:SecurityTokenReference></wst:UseKey>\
         </wst:RequestSecurityToken>",
        wsu = ns::WSU,
        wsse = ns::WSSE,
        ds = ns::DS,
        context = escape(parameters.context),
        created = format_instant(parameters.created),
        expires = format_instant(parameters.expires),
    )
}

/// Builds the answer to a sign challenge.
pub fn challenge_answer_body(context: &str, challenge: &str) -> String {
    format!(
        "<wst:RequestSecurityTokenResponse xmlns:wst=\"{WST_NS}\" Context=\"{}\">\
         <wst:SignChallengeResponse><wst:Challenge>{}</wst:Challenge></wst:SignChallengeResponse>\
         </wst:RequestSecurityTokenResponse>",
        escape(context),
        escape(challenge)
    )
}

/// Formats an instant as xs:dateTime in UTC, to the second.
pub fn format_instant(instant: Timestamp) -> String {
    let seconds = Timestamp::from_second(instant.as_second()).unwrap_or(instant);
    seconds.to_string()
}

/// Content of an STS reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsAnswer {
    /// The assertion, as standalone XML text.
    Token(String),
    /// A sign challenge to answer with the holder-of-key credential.
    Challenge { context: String, challenge: String },
}

/// Element and description of a malformed STS reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError {
    pub element: &'static str,
    pub detail: String,
}

fn reply_error(element: &'static str, detail: impl Into<String>) -> ReplyError {
    ReplyError {
        element,
        detail: detail.into(),
    }
}

/// Reads the Body of an STS reply: a token or a challenge.
pub fn read_answer(envelope: &str) -> Result<StsAnswer, ReplyError> {
    let document = Document::parse(envelope)
        .map_err(|error| reply_error("soap:Envelope", error.to_string()))?;
    let body = document
        .root_element()
        .children()
        .find(|node| node.has_tag_name((ns::SOAP, "Body")))
        .ok_or_else(|| reply_error("soap:Body", "missing"))?;
    let first = body
        .children()
        .find(Node::is_element)
        .ok_or_else(|| reply_error("soap:Body", "empty"))?;

    let response = if first.has_tag_name((WST_NS, "RequestSecurityTokenResponseCollection")) {
        first
            .children()
            .find(|node| node.has_tag_name((WST_NS, "RequestSecurityTokenResponse")))
            .ok_or_else(|| {
                reply_error(
                    "wst:RequestSecurityTokenResponse",
                    "missing in the collection",
                )
            })?
    } else if first.has_tag_name((WST_NS, "RequestSecurityTokenResponse")) {
        first
    } else {
        return Err(reply_error(
            "wst:RequestSecurityTokenResponse",
            format!("the Body holds <{}> instead", first.tag_name().name()),
        ));
    };

    if let Some(assertion) = response
        .children()
        .find(|node| node.has_tag_name((WST_NS, "RequestedSecurityToken")))
        .and_then(|token| {
            token
                .children()
                .find(|node| node.has_tag_name((ns::SAML, "Assertion")))
        })
    {
        return Ok(StsAnswer::Token(standalone_element(envelope, assertion)));
    }

    let challenge = response
        .children()
        .find(|node| node.has_tag_name((WST_NS, "SignChallenge")))
        .and_then(|sign| {
            sign.children()
                .find(|node| node.has_tag_name((WST_NS, "Challenge")))
        });
    let Some(challenge) = challenge else {
        return Err(reply_error(
            "wst:RequestedSecurityToken",
            "neither a saml:Assertion nor a wst:SignChallenge in the reply",
        ));
    };
    let context = response.attribute("Context").ok_or_else(|| {
        reply_error(
            "wst:RequestSecurityTokenResponse",
            "a challenge without Context",
        )
    })?;
    Ok(StsAnswer::Challenge {
        context: context.to_owned(),
        challenge: challenge.text().unwrap_or("").trim().to_owned(),
    })
}

/// Returns the exact text of `element`, with the namespace declarations it inherits inserted
/// into its start tag when it does not declare them itself.
///
/// Exclusive canonicalisation renders the namespaces an element uses at the top of the signed
/// subtree wherever they were declared, so the added declarations leave the STS signature valid.
pub fn standalone_element(source: &str, element: Node<'_, '_>) -> String {
    let text = &source[element.range()];
    if Document::parse(text).is_ok() {
        return text.to_owned();
    }

    let name_end = text
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(text.len());
    let start_tag_end = text.find('>').unwrap_or(text.len());
    let start_tag = &text[..start_tag_end];
    let mut declarations = String::new();
    for namespace in element.namespaces() {
        let attribute = match namespace.name() {
            Some(prefix) => format!("xmlns:{prefix}="),
            None => "xmlns=".to_owned(),
        };
        if namespace.name() == Some("xml") || start_tag.contains(&attribute) {
            continue;
        }
        declarations.push_str(&format!(" {attribute}\"{}\"", escape(namespace.uri())));
    }
    format!("{}{declarations}{}", &text[..name_end], &text[name_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_body_shape() {
        let designators = vec!["urn:be:fgov:person:ssin:doctor:boolean".to_owned()];
        let body = issue_body(&IssueParameters {
            context: "urn:uuid:1",
            ssin: "78031414266",
            designators: &designators,
            created: "2026-12-04T10:00:00.123Z".parse().unwrap(),
            expires: "2026-12-05T10:00:00Z".parse().unwrap(),
            holder_of_key_der: &[1, 2, 3],
        });
        let document = Document::parse(&body).unwrap();
        let root = document.root_element();
        assert!(root.has_tag_name((WST_NS, "RequestSecurityToken")));
        assert_eq!(root.attribute("Context"), Some("urn:uuid:1"));

        let key_type = root
            .children()
            .find(|n| n.has_tag_name((WST_NS, "KeyType")))
            .unwrap();
        assert_eq!(key_type.text(), Some(KEY_TYPE_PUBLIC_KEY));
        assert!(KEY_TYPE_PUBLIC_KEY.contains("/wstrust/"));

        let claims: Vec<(String, Option<String>)> = document
            .descendants()
            .filter(|n| n.has_tag_name((AUTH_NS, "ClaimType")))
            .map(|claim| {
                let value = claim
                    .children()
                    .find(|n| n.is_element())
                    .and_then(|v| v.text());
                (
                    claim.attribute("Uri").unwrap().to_owned(),
                    value.map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(
            claims,
            vec![
                (
                    CERTIFICATE_HOLDER_SSIN.to_owned(),
                    Some("78031414266".to_owned())
                ),
                (PERSON_SSIN.to_owned(), Some("78031414266".to_owned())),
                ("urn:be:fgov:person:ssin:doctor:boolean".to_owned(), None),
            ]
        );

        let created = document
            .descendants()
            .find(|n| n.has_tag_name((ns::WSU, "Created")))
            .unwrap();
        assert_eq!(created.text(), Some("2026-12-04T10:00:00Z"));
        let certificate = document
            .descendants()
            .find(|n| n.has_tag_name((ns::DS, "X509Certificate")))
            .unwrap();
        assert_eq!(certificate.text(), Some("AQID"));
    }

    #[test]
    fn token_reply_in_collection() {
        let envelope = format!(
            "<s:Envelope xmlns:s=\"{}\"><s:Body><wst:RequestSecurityTokenResponseCollection xmlns:wst=\"{WST_NS}\">\
             <wst:RequestSecurityTokenResponse><wst:RequestedSecurityToken>\
             <saml:Assertion xmlns:saml=\"{}\" AssertionID=\"_a\"><saml:X/></saml:Assertion>\
             </wst:RequestedSecurityToken></wst:RequestSecurityTokenResponse>\
             </wst:RequestSecurityTokenResponseCollection></s:Body></s:Envelope>",
            ns::SOAP,
            ns::SAML
        );
        let StsAnswer::Token(assertion) = read_answer(&envelope).unwrap() else {
            panic!("expected a token");
        };
        assert_eq!(
            assertion,
            format!(
                "<saml:Assertion xmlns:saml=\"{}\" AssertionID=\"_a\"><saml:X/></saml:Assertion>",
                ns::SAML
            )
        );
    }

    #[test]
    fn inherited_namespaces_are_added() {
        let envelope = format!(
            "<s:Envelope xmlns:s=\"{}\" xmlns:saml=\"{}\"><s:Body><wst:RequestSecurityTokenResponse xmlns:wst=\"{WST_NS}\">\
             <wst:RequestedSecurityToken><saml:Assertion AssertionID=\"_a\"><saml:X/></saml:Assertion>\
             </wst:RequestedSecurityToken></wst:RequestSecurityTokenResponse></s:Body></s:Envelope>",
            ns::SOAP,
            ns::SAML
        );
        let StsAnswer::Token(assertion) = read_answer(&envelope).unwrap() else {
            panic!("expected a token");
        };
        let document = Document::parse(&assertion).unwrap();
        assert!(
            document
                .root_element()
                .has_tag_name((ns::SAML, "Assertion"))
        );
        assert!(
            assertion.starts_with("<saml:Assertion xmlns:"),
            "{assertion}"
        );
        assert!(
            assertion.ends_with("AssertionID=\"_a\"><saml:X/></saml:Assertion>"),
            "{assertion}"
        );
    }

    #[test]
    fn challenge_reply() {
        let envelope = format!(
            "<s:Envelope xmlns:s=\"{}\"><s:Body><wst:RequestSecurityTokenResponse xmlns:wst=\"{WST_NS}\" Context=\"urn:uuid:c\">\
             <wst:SignChallenge><wst:Challenge>abc123</wst:Challenge></wst:SignChallenge>\
             </wst:RequestSecurityTokenResponse></s:Body></s:Envelope>",
            ns::SOAP
        );
        assert_eq!(
            read_answer(&envelope).unwrap(),
            StsAnswer::Challenge {
                context: "urn:uuid:c".to_owned(),
                challenge: "abc123".to_owned()
            }
        );
        let answer = challenge_answer_body("urn:uuid:c", "abc123");
        let document = Document::parse(&answer).unwrap();
        let challenge = document
            .descendants()
            .find(|n| n.has_tag_name((WST_NS, "Challenge")))
            .unwrap();
        assert_eq!(challenge.text(), Some("abc123"));
    }

    #[test]
    fn reply_without_token_names_element() {
        let envelope = format!(
            "<s:Envelope xmlns:s=\"{}\"><s:Body><wst:RequestSecurityTokenResponse xmlns:wst=\"{WST_NS}\"/></s:Body></s:Envelope>",
            ns::SOAP
        );
        let error = read_answer(&envelope).unwrap_err();
        assert_eq!(error.element, "wst:RequestedSecurityToken");
    }
}
