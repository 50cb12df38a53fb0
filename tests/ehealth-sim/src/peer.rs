//! A small client of the simulator that signs its requests like a real platform user. It requests
//! a token from the STS and sends eHealthBox or publication calls, acting as a hospital or a doctor.
//!
//! It is test and demo tooling (the simulator's tests and its `send` command use it), not the
//! appliance's eHealth client. The pure parts (request bodies, signed envelopes, reading replies)
//! work without HTTP; [`Peer`] adds the transport over reqwest with rustls, trusting only the CA
//! certificates it is given, and talking only to loopback addresses.

use std::sync::atomic::{AtomicU64, Ordering};

use jiff::{SignedDuration, Timestamp};
use practicebox_xmlsec::dsig::Algorithms;
use practicebox_xmlsec::ns;
use practicebox_xmlsec::wsse::{self, EnvelopeOptions, IdGenerator, SequentialIds};
use quick_xml::escape::escape;
use roxmltree::{Document, Node};

use crate::pki::Credential;
use crate::sts::{self, format_instant};

/// Path of the WS-Trust STS endpoint.
pub const STS_PATH: &str = "/IAM/SecurityTokenService/v1";

const WST_NS: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
const AUTH_NS: &str = "http://docs.oasis-open.org/wsfed/authorization/200706";
const CLAIMS_DIALECT: &str = "http://docs.oasis-open.org/wsfed/authorization/200706/authclaims";
const REQUEST_TYPE_ISSUE: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue";

/// Errors of building, sending or reading a peer's request.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("failed to build the signed envelope: {0}")]
    Envelope(#[from] wsse::WsseError),
    #[error("invalid base URL {url:?}: {reason}; use http(s)://127.0.0.1:<port> or localhost")]
    BaseUrl { url: String, reason: String },
    #[error("invalid CA certificate for the HTTPS client: {0}")]
    CaCertificate(String),
    #[error("HTTP request to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("platform fault {code}: {message}")]
    Fault { code: String, message: String },
    #[error("HTTP status {status} from {url} without a SOAP fault: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("unexpected reply: {0}")]
    Reply(String),
}

/// A token request to the STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The SSIN asserted in the identity claims.
    pub ssin: String,
    /// Requested attribute designators without a value.
    pub designators: Vec<String>,
    /// Requested token lifetime.
    pub lifetime: SignedDuration,
    /// The `wst:KeyType` URI.
    pub key_type: String,
    /// The `Context` attribute of the request.
    pub context: String,
}

impl TokenRequest {
    /// Creates a doctor's request: both SSIN claims asserted, `doctor:boolean` and `doctor:nihii11`
    /// requested, 24 hours, the eHealth KeyType spelling.
    pub fn doctor(ssin: &str) -> Self {
        Self {
            ssin: ssin.to_owned(),
            designators: vec![
                sts::DOCTOR_BOOLEAN.to_owned(),
                sts::DOCTOR_NIHII11.to_owned(),
            ],
            lifetime: SignedDuration::from_hours(24),
            key_type: sts::KEY_TYPE_PUBLIC_KEY.to_owned(),
            context: format!("urn:uuid:peer-{ssin}"),
        }
    }

    /// Writes the `wst:RequestSecurityToken` body for the holder-of-key certificate `holder_der`.
    pub fn body(&self, holder_der: &[u8], now: Timestamp) -> String {
        use base64::Engine;
        let holder = base64::engine::general_purpose::STANDARD.encode(holder_der);
        let ssin = escape(&self.ssin);
        let mut claims = String::new();
        for uri in [sts::CERTIFICATE_HOLDER_SSIN, sts::PERSON_SSIN] {
            claims.push_str(&format!(
                r#"<auth:ClaimType Uri="{uri}"><auth:Value>{ssin}</auth:Value></auth:ClaimType>"#
            ));
        }
        for uri in &self.designators {
            claims.push_str(&format!(r#"<auth:ClaimType Uri="{}"/>"#, escape(uri)));
        }
        let expires = now.saturating_add(self.lifetime).unwrap_or(Timestamp::MAX);
        format!(
            r#"<wst:RequestSecurityToken xmlns:wst="{WST_NS}" xmlns:auth="{AUTH_NS}" xmlns:wsu="{wsu}" xmlns:wsse="{wsse}" xmlns:ds="{ds}" Context="{context}"><wst:TokenType>{token_type}</wst:TokenType><wst:RequestType>{REQUEST_TYPE_ISSUE}</wst:RequestType><wst:Claims Dialect="{CLAIMS_DIALECT}">{claims}</wst:Claims><wst:Lifetime><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wst:Lifetime><wst:KeyType>{key_type}</wst:KeyType><wst:UseKey><wsse:SecurityTokenReference><ds:X509Data><ds:X509Certificate>{holder}</ds:X509Certificate></ds:X509Data></wsse:SecurityTokenReference></wst:UseKey></wst:RequestSecurityToken>"#,
            wsu = ns::WSU,
            wsse = ns::WSSE,
            ds = ns::DS,
            context = escape(&self.context),
            token_type = wsse::SAML_V11_TOKEN_TYPE,
            created = format_instant(now),
            expires = format_instant(expires),
            key_type = escape(&self.key_type),
        )
    }
}

/// Writes the `wst:RequestSecurityTokenResponse` that responds to a sign challenge.
pub fn challenge_answer_body(context: &str, challenge: &str) -> String {
    format!(
        r#"<wst:RequestSecurityTokenResponse xmlns:wst="{WST_NS}" Context="{}"><wst:SignChallengeResponse><wst:Challenge>{}</wst:Challenge></wst:SignChallengeResponse></wst:RequestSecurityTokenResponse>"#,
        escape(context),
        escape(challenge),
    )
}

/// Numbers the calls of every [`Peer`] of this process.
static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

/// IDs `TS-<call>-1`, `Body-<call>-2`, ...: reproducible within a call, and different for each
/// call, so that two calls made at the same instant never send the same signed envelope (which
/// the simulator rejects as a replay).
#[derive(Debug)]
struct CallIds {
    call: u64,
    last: u64,
}

impl CallIds {
    fn next_call() -> Self {
        Self {
            call: NEXT_CALL.fetch_add(1, Ordering::Relaxed),
            last: 0,
        }
    }
}

impl IdGenerator for CallIds {
    fn next_id(&mut self, prefix: &str) -> String {
        self.last += 1;
        format!("{prefix}-{}-{}", self.call, self.last)
    }
}

/// Wraps `body_xml` in an envelope signed with `credential` and carrying its certificate as a
/// BinarySecurityToken, as STS calls are. The same input gives the same envelope.
pub fn x509_envelope(
    body_xml: &str,
    credential: &Credential,
    now: Timestamp,
    algorithms: Algorithms,
) -> Result<String, PeerError> {
    x509_envelope_with(
        body_xml,
        credential,
        now,
        algorithms,
        &mut SequentialIds::new(),
    )
}

fn x509_envelope_with(
    body_xml: &str,
    credential: &Credential,
    now: Timestamp,
    algorithms: Algorithms,
    ids: &mut dyn IdGenerator,
) -> Result<String, PeerError> {
    let options = EnvelopeOptions {
        algorithms,
        ..EnvelopeOptions::new(now)
    };
    Ok(wsse::build_x509_envelope(
        body_xml,
        credential.certificate_der(),
        credential.key(),
        &options,
        ids,
    )?)
}

/// Wraps `body_xml` in an envelope carrying `assertion_xml` and signed with the holder-of-key
/// `credential`, as eHealthBox and publication calls are. The same input gives the same envelope.
pub fn saml_envelope(
    body_xml: &str,
    assertion_xml: &str,
    credential: &Credential,
    now: Timestamp,
) -> Result<String, PeerError> {
    saml_envelope_with(
        body_xml,
        assertion_xml,
        credential,
        now,
        &mut SequentialIds::new(),
    )
}

fn saml_envelope_with(
    body_xml: &str,
    assertion_xml: &str,
    credential: &Credential,
    now: Timestamp,
    ids: &mut dyn IdGenerator,
) -> Result<String, PeerError> {
    Ok(wsse::build_saml_envelope(
        body_xml,
        assertion_xml,
        credential.key(),
        &EnvelopeOptions::new(now),
        ids,
    )?)
}

/// The STS reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsReply {
    /// The signed assertion, exactly as received.
    Token(String),
    /// A sign challenge, to be signed back with the holder-of-key credential.
    Challenge { context: String, challenge: String },
}

/// Reads an STS reply: a whole SOAP envelope or only its body element.
pub fn read_sts_reply(xml: &str) -> Result<StsReply, PeerError> {
    let doc = Document::parse(xml)
        .map_err(|err| PeerError::Reply(format!("STS reply is not XML: {err}")))?;
    if let Some(assertion) = find(&doc, ns::SAML, "Assertion") {
        return Ok(StsReply::Token(xml[assertion.range()].to_owned()));
    }
    let sign_challenge = find(&doc, WST_NS, "SignChallenge").ok_or_else(|| {
        PeerError::Reply("STS reply holds neither an assertion nor a sign challenge".to_owned())
    })?;
    let context = sign_challenge
        .parent()
        .and_then(|response| response.attribute("Context"))
        .ok_or_else(|| PeerError::Reply("sign challenge without a Context".to_owned()))?;
    let challenge = sign_challenge
        .children()
        .find(|node| node.has_tag_name((WST_NS, "Challenge")))
        .map(text)
        .ok_or_else(|| PeerError::Reply("SignChallenge without a Challenge".to_owned()))?;
    Ok(StsReply::Challenge {
        context: context.to_owned(),
        challenge,
    })
}

/// Reads the code and message of a SOAP fault: the `Code` of the eHealth error detail when present,
/// else `faultcode`.
pub fn read_fault(xml: &str) -> Option<(String, String)> {
    let doc = Document::parse(xml).ok()?;
    let fault = find(&doc, ns::SOAP, "Fault")?;
    let child_text = |parent: Node, name: &str| {
        parent
            .descendants()
            .find(|node| node.is_element() && node.tag_name().name() == name)
            .map(text)
    };
    let message = child_text(fault, "faultstring").unwrap_or_default();
    let code = fault
        .descendants()
        .find(|node| node.has_tag_name("detail"))
        .and_then(|detail| child_text(detail, "Code"))
        .or_else(|| child_text(fault, "faultcode"))?;
    Some((code, message))
}

fn find<'a, 'input>(
    doc: &'a Document<'input>,
    namespace: &str,
    name: &str,
) -> Option<Node<'a, 'input>> {
    doc.descendants()
        .find(|node| node.has_tag_name((namespace, name)))
}

fn text(node: Node) -> String {
    node.descendants()
        .filter_map(|n| n.is_text().then(|| n.text()).flatten())
        .collect::<String>()
        .trim()
        .to_owned()
}

/// An HTTP(S) client of the simulator.
#[derive(Debug, Clone)]
pub struct Peer {
    http: reqwest::Client,
    base_url: String,
}

impl Peer {
    /// Creates a client of the simulator at `base_url` (loopback only) that trusts only the DER
    /// CA certificates `trusted_ca_der` for HTTPS.
    pub fn new(base_url: &str, trusted_ca_der: &[&[u8]]) -> Result<Self, PeerError> {
        check_loopback(base_url)?;
        let mut certificates = Vec::new();
        for der in trusted_ca_der {
            let certificate = reqwest::Certificate::from_der(der)
                .map_err(|err| PeerError::CaCertificate(err.to_string()))?;
            certificates.push(certificate);
        }
        let http = reqwest::Client::builder()
            .tls_certs_only(certificates)
            .no_proxy()
            .build()
            .map_err(|source| PeerError::Http {
                url: base_url.to_owned(),
                source,
            })?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Requests a token from the STS: the request is signed with `authenticating`, with IDs of
    /// its own as in [`Peer::send`], and `holder` is the holder-of-key. When the STS replies with
    /// a sign challenge, the response is signed with `holder`. Returns the assertion as received.
    pub async fn request_token(
        &self,
        authenticating: &Credential,
        holder: &Credential,
        request: &TokenRequest,
        now: Timestamp,
    ) -> Result<String, PeerError> {
        let body = request.body(holder.certificate_der(), now);
        let mut ids = CallIds::next_call();
        let envelope =
            x509_envelope_with(&body, authenticating, now, Algorithms::SHA256, &mut ids)?;
        let reply = self.post(STS_PATH, sts::ACTION_ISSUE, envelope).await?;

        match read_sts_reply(&reply)? {
            StsReply::Token(assertion) => Ok(assertion),
            StsReply::Challenge { context, challenge } => {
                let answer = challenge_answer_body(&context, &challenge);
                let envelope =
                    x509_envelope_with(&answer, holder, now, Algorithms::SHA256, &mut ids)?;
                let reply = self.post(STS_PATH, sts::ACTION_CHALLENGE, envelope).await?;
                match read_sts_reply(&reply)? {
                    StsReply::Token(assertion) => Ok(assertion),
                    StsReply::Challenge { .. } => Err(PeerError::Reply(
                        "STS answered a challenge answer with another challenge".to_owned(),
                    )),
                }
            }
        }
    }

    /// Sends `body_xml` to `path` in an envelope carrying `assertion_xml`, signed with the
    /// holder-of-key `holder`, with IDs of its own so that the envelope is new even when an
    /// earlier call sent the same body at the same instant. Returns the reply envelope.
    pub async fn send(
        &self,
        path: &str,
        soap_action: &str,
        body_xml: &str,
        assertion_xml: &str,
        holder: &Credential,
        now: Timestamp,
    ) -> Result<String, PeerError> {
        let mut ids = CallIds::next_call();
        let envelope = saml_envelope_with(body_xml, assertion_xml, holder, now, &mut ids)?;
        self.post(path, soap_action, envelope).await
    }

    /// Posts a SOAP 1.1 envelope and returns the reply text, or the platform fault it carries.
    pub async fn post(
        &self,
        path: &str,
        soap_action: &str,
        envelope: String,
    ) -> Result<String, PeerError> {
        let url = format!("{}{path}", self.base_url);
        let http_error = |source| PeerError::Http {
            url: url.clone(),
            source,
        };
        let response = self
            .http
            .post(&url)
            .header("Content-Type", "text/xml; charset=UTF-8")
            .header("SOAPAction", format!("\"{soap_action}\""))
            .body(envelope)
            .send()
            .await
            .map_err(http_error)?;
        let status = response.status();
        let body = response.text().await.map_err(http_error)?;
        if status.is_success() {
            return Ok(body);
        }
        match read_fault(&body) {
            Some((code, message)) => Err(PeerError::Fault { code, message }),
            None => Err(PeerError::Status {
                url,
                status: status.as_u16(),
                body,
            }),
        }
    }
}

fn check_loopback(base_url: &str) -> Result<(), PeerError> {
    let invalid = |reason: &str| PeerError::BaseUrl {
        url: base_url.to_owned(),
        reason: reason.to_owned(),
    };
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .ok_or_else(|| invalid("the scheme must be http or https"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(invalid(
            "the simulator client talks to loopback addresses only",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_accepted() {
        for url in [
            "http://127.0.0.1:8080",
            "https://localhost:9443/",
            "https://[::1]:9443",
        ] {
            assert!(check_loopback(url).is_ok(), "{url} rejected");
        }
    }

    #[test]
    fn remote_urls_rejected() {
        for url in [
            "https://services.ehealth.fgov.be",
            "http://10.0.0.1:80",
            "ftp://127.0.0.1",
        ] {
            assert!(check_loopback(url).is_err(), "{url} accepted");
        }
    }

    #[test]
    fn fault_code_read_from_detail() {
        let fault = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>bad token</faultstring><detail><err:SystemError xmlns:err="urn:be:fgov:ehealth:errors:soa:v1"><Origin>Server</Origin><Code>SOA-01001</Code></err:SystemError></detail></soap:Fault></soap:Body></soap:Envelope>"#;
        assert_eq!(
            read_fault(fault),
            Some(("SOA-01001".to_owned(), "bad token".to_owned()))
        );
    }
}

#[cfg(test)]
mod http_tests;
