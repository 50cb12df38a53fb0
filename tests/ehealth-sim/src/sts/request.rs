//! Reading the WS-Trust 1.3 bodies the STS accepts: `wst:RequestSecurityToken` (Issue) and the
//! `wst:RequestSecurityTokenResponse` that responds to a sign challenge.
//!
//! Only the body element is read here; the WS-Security header is checked by the caller.

use base64::Engine;
use jiff::Timestamp;
use roxmltree::Node;

use super::StsError;

pub(crate) const WST_NS: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
pub(crate) const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
pub(crate) const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub(crate) const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const AUTH_NS: &str = "http://docs.oasis-open.org/wsfed/authorization/200706";

pub(crate) const SAML11_TOKEN_TYPE: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1";
pub(crate) const REQUEST_TYPE_ISSUE: &str =
    "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue";
/// The KeyType spelling eHealth clients send (no hyphen in `wstrust`).
pub(crate) const KEY_TYPE_PUBLIC_KEY_EHEALTH: &str =
    "http://docs.oasis-open.org/ws-sx/wstrust/200512/PublicKey";
/// The KeyType constant of the WS-Trust 1.3 standard.
pub(crate) const KEY_TYPE_PUBLIC_KEY_STANDARD: &str =
    "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey";
pub(crate) const CLAIMS_DIALECT: &str =
    "http://docs.oasis-open.org/wsfed/authorization/200706/authclaims";

/// A parsed `wst:RequestSecurityToken` with RequestType Issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssueRequest {
    pub context: Option<String>,
    pub claims: Vec<Claim>,
    pub lifetime: Option<RequestedLifetime>,
    /// The DER certificate in `wst:UseKey`: the requested holder-of-key.
    pub use_key_certificate: Vec<u8>,
}

/// One `auth:ClaimType`: an asserted value when `value` is set, a requested attribute otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    pub uri: String,
    pub value: Option<String>,
}

/// The `wst:Lifetime` the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestedLifetime {
    pub created: Option<Timestamp>,
    pub expires: Option<Timestamp>,
}

/// A parsed `wst:RequestSecurityTokenResponse` carrying a `wst:SignChallengeResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChallengeAnswer {
    pub context: String,
    pub challenge: String,
}

/// The operation an STS call requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StsRequest {
    Issue(IssueRequest),
    ChallengeAnswer(ChallengeAnswer),
}

/// Reads the body element of an STS call.
pub(crate) fn parse_body_element(element: Node) -> Result<StsRequest, StsError> {
    let name = element.tag_name();
    match (name.namespace(), name.name()) {
        (Some(WST_NS), "RequestSecurityToken") => parse_issue(element).map(StsRequest::Issue),
        (Some(WST_NS), "RequestSecurityTokenResponse") => {
            parse_challenge_answer(element).map(StsRequest::ChallengeAnswer)
        }
        (namespace, local) => Err(StsError::UnknownOperation {
            element: format!("{{{}}}{local}", namespace.unwrap_or("")),
        }),
    }
}

fn parse_issue(rst: Node) -> Result<IssueRequest, StsError> {
    let token_type = required_text(rst, WST_NS, "TokenType")?;
    if token_type != SAML11_TOKEN_TYPE {
        return Err(StsError::invalid(
            "wst:TokenType",
            &token_type,
            SAML11_TOKEN_TYPE,
        ));
    }

    let request_type = required_text(rst, WST_NS, "RequestType")?;
    if request_type != REQUEST_TYPE_ISSUE {
        // TODO: Renew (RequestType …/Renew with a RenewTarget) is not implemented; clients can
        // issue a new token instead.
        return Err(StsError::invalid(
            "wst:RequestType",
            &request_type,
            REQUEST_TYPE_ISSUE,
        ));
    }

    if let Some(key_type) = optional_text(rst, WST_NS, "KeyType")
        && key_type != KEY_TYPE_PUBLIC_KEY_EHEALTH
        && key_type != KEY_TYPE_PUBLIC_KEY_STANDARD
    {
        return Err(StsError::invalid(
            "wst:KeyType",
            &key_type,
            KEY_TYPE_PUBLIC_KEY_EHEALTH,
        ));
    }

    Ok(IssueRequest {
        context: rst.attribute("Context").map(str::to_owned),
        claims: parse_claims(rst)?,
        lifetime: parse_lifetime(rst)?,
        use_key_certificate: parse_use_key(rst)?,
    })
}

fn parse_claims(rst: Node) -> Result<Vec<Claim>, StsError> {
    let Some(claims) = child(rst, WST_NS, "Claims") else {
        return Ok(Vec::new());
    };
    if let Some(dialect) = claims.attribute("Dialect")
        && dialect != CLAIMS_DIALECT
    {
        return Err(StsError::invalid(
            "wst:Claims/@Dialect",
            dialect,
            CLAIMS_DIALECT,
        ));
    }

    let mut parsed = Vec::new();
    for claim_type in children(claims, AUTH_NS, "ClaimType") {
        let uri = claim_type
            .attribute("Uri")
            .ok_or_else(|| StsError::MissingElement {
                element: "auth:ClaimType/@Uri".to_owned(),
            })?;
        let value = child(claim_type, AUTH_NS, "Value").map(|value| text_of(value));
        parsed.push(Claim {
            uri: uri.to_owned(),
            value,
        });
    }
    Ok(parsed)
}

fn parse_lifetime(rst: Node) -> Result<Option<RequestedLifetime>, StsError> {
    let Some(lifetime) = child(rst, WST_NS, "Lifetime") else {
        return Ok(None);
    };
    let created = optional_text(lifetime, WSU_NS, "Created")
        .map(|text| parse_instant("wst:Lifetime/wsu:Created", &text))
        .transpose()?;
    let expires = optional_text(lifetime, WSU_NS, "Expires")
        .map(|text| parse_instant("wst:Lifetime/wsu:Expires", &text))
        .transpose()?;
    if let (Some(created), Some(expires)) = (created, expires)
        && expires <= created
    {
        return Err(StsError::invalid(
            "wst:Lifetime",
            &format!("Created {created}, Expires {expires}"),
            "an Expires later than Created",
        ));
    }
    Ok(Some(RequestedLifetime { created, expires }))
}

fn parse_use_key(rst: Node) -> Result<Vec<u8>, StsError> {
    let missing = || StsError::MissingElement {
        element: "wst:UseKey/wsse:SecurityTokenReference/ds:X509Data/ds:X509Certificate".to_owned(),
    };
    let use_key = child(rst, WST_NS, "UseKey").ok_or_else(missing)?;
    let certificate = use_key
        .descendants()
        .find(|node| node.has_tag_name((DS_NS, "X509Certificate")))
        .ok_or_else(missing)?;
    decode_base64("wst:UseKey X509Certificate", &text_of(certificate))
}

fn parse_challenge_answer(rstr: Node) -> Result<ChallengeAnswer, StsError> {
    let context = rstr
        .attribute("Context")
        .ok_or_else(|| StsError::MissingElement {
            element: "wst:RequestSecurityTokenResponse/@Context".to_owned(),
        })?;
    let response =
        child(rstr, WST_NS, "SignChallengeResponse").ok_or_else(|| StsError::MissingElement {
            element: "wst:SignChallengeResponse".to_owned(),
        })?;
    let challenge = required_text(response, WST_NS, "Challenge")?;
    Ok(ChallengeAnswer {
        context: context.to_owned(),
        challenge,
    })
}

/// Parses an `xs:dateTime` in UTC or with an offset.
pub(crate) fn parse_instant(field: &str, text: &str) -> Result<Timestamp, StsError> {
    text.trim()
        .parse::<Timestamp>()
        .map_err(|_| StsError::invalid(field, text, "an xs:dateTime such as 2024-05-02T10:00:00Z"))
}

pub(crate) fn decode_base64(field: &str, text: &str) -> Result<Vec<u8>, StsError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|err| StsError::invalid(field, &format!("invalid base64 ({err})"), "base64 DER"))
}

pub(crate) fn child<'a, 'input>(
    node: Node<'a, 'input>,
    ns: &str,
    name: &str,
) -> Option<Node<'a, 'input>> {
    node.children().find(|child| child.has_tag_name((ns, name)))
}

fn children<'a, 'input>(
    node: Node<'a, 'input>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children()
        .filter(move |child| child.has_tag_name((ns, name)))
}

pub(crate) fn text_of(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

fn optional_text(node: Node, ns: &str, name: &str) -> Option<String> {
    child(node, ns, name).map(text_of)
}

fn required_text(node: Node, ns: &str, name: &str) -> Result<String, StsError> {
    optional_text(node, ns, name).ok_or_else(|| StsError::MissingElement {
        element: format!("{}:{name}", prefix_for(ns)),
    })
}

fn prefix_for(ns: &str) -> &'static str {
    match ns {
        WST_NS => "wst",
        WSU_NS => "wsu",
        WSSE_NS => "wsse",
        DS_NS => "ds",
        AUTH_NS => "auth",
        _ => "ns",
    }
}
