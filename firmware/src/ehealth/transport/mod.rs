//! SOAP 1.1 over HTTPS to the eHealth platform, and the reading of what comes back.
//!
//! [`HttpsTransport`] posts an envelope (`text/xml; charset=UTF-8` and a quoted `SOAPAction`)
//! with reqwest and rustls, trusting the anchors the [`Endpoints`] name. [`interpret_reply`]
//! turns the HTTP status, Content-Type and body into a [`SoapReply`]: plain XML, or the root of
//! a `multipart/related` body with its MIME parts (see [`mime`]). Failures become a
//! [`TransportError`], which keeps apart the cases the retry policy treats differently: a SOAP
//! fault (any status, usually 500), an HTTP error without a SOAP body (a 503 from a load
//! balancer), a connection that failed or dropped, a timeout, and a reply that is not SOAP.
//!
//! The [`SoapTransport`] trait lets tests put a scripted transport under the STS and
//! eHealthBox clients.

pub mod fault;
pub mod mime;

use std::future::Future;

use roxmltree::Document;

use super::endpoints::{Endpoints, TrustAnchors};
pub use fault::{FaultKind, PlatformFault};
pub use mime::{MimeError, MimePart};

/// Content-Type of SOAP 1.1 requests.
pub const SOAP11_CONTENT_TYPE: &str = "text/xml; charset=UTF-8";

/// Maximum number of characters of a non-SOAP body quoted in an error.
const EXCERPT_CHARS: usize = 200;

/// The largest reply body read, in bytes. A reply is held in memory whole, so a larger one is
/// rejected before it can exhaust the box's memory.
// NOTE: sized at about four times the platform's 10 MB message limit, to leave room for base64
// (4/3), double base64 and the envelope; raise it if the platform raises that limit.
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// A SOAP call that did not produce a usable reply.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{url} returned SOAP fault {fault} with HTTP status {status}")]
    Fault {
        url: String,
        status: u16,
        fault: Box<PlatformFault>,
    },
    #[error("{url} returned HTTP status {status} without a SOAP body ({excerpt:?})")]
    HttpStatus {
        url: String,
        status: u16,
        excerpt: String,
    },
    #[error("connection to {url} failed or was closed: {detail}; check the network and DNS")]
    Connection { url: String, detail: String },
    #[error("{url} did not answer within the configured timeout")]
    Timeout { url: String },
    #[error("{url} returned HTTP {status} with a reply that is not a SOAP envelope: {detail}")]
    NotSoap {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("{url} returned an unreadable multipart reply: {source}")]
    Mime {
        url: String,
        #[source]
        source: MimeError,
    },
    #[error(
        "{url} returned a reply larger than {limit} bytes; it was not read, report it with the logged request"
    )]
    TooLarge { url: String, limit: usize },
    #[error("cannot set up the HTTPS client: {0}")]
    Setup(String),
}

/// A successful SOAP reply: the envelope text and the MIME parts that came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapReply {
    /// The SOAP envelope, as received.
    pub envelope: String,
    /// The other MIME parts of a `multipart/related` reply; empty for plain XML.
    pub attachments: Vec<MimePart>,
}

impl SoapReply {
    /// Returns the MIME part that a `cid:` reference or Content-ID names.
    pub fn attachment(&self, reference: &str) -> Option<&MimePart> {
        mime::find_attachment(&self.attachments, reference)
    }
}

/// Something that posts SOAP envelopes.
pub trait SoapTransport: Send + Sync {
    /// Posts `envelope` to `url` with the SOAPAction `action`.
    fn post(
        &self,
        url: &str,
        action: &str,
        envelope: String,
    ) -> impl Future<Output = Result<SoapReply, TransportError>> + Send;
}

/// The real transport: HTTPS with rustls.
#[derive(Debug, Clone)]
pub struct HttpsTransport {
    client: reqwest::Client,
}

impl HttpsTransport {
    /// Builds a client with the trust anchors, resolver overrides and timeouts of `endpoints`.
    pub fn new(endpoints: &Endpoints) -> Result<Self, TransportError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(endpoints.timeouts.connect)
            .timeout(endpoints.timeouts.request)
            .user_agent(concat!("PracticeBox/", env!("CARGO_PKG_VERSION")));
        if let TrustAnchors::PemFile(path) = &endpoints.trust {
            let pem = std::fs::read(path).map_err(|error| {
                TransportError::Setup(format!(
                    "cannot read the CA file '{}': {error}; check `ca_file`",
                    path.display()
                ))
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
                TransportError::Setup(format!(
                    "the CA file '{}' contains no valid PEM certificate: {error}; check `ca_file`",
                    path.display()
                ))
            })?;
            builder = builder.tls_certs_only(certificates);
        }
        for (host, address) in &endpoints.resolve {
            builder = builder.resolve(host, *address);
        }
        if !endpoints.resolve.is_empty() {
            // A fixed address means a local test set-up: a proxy would break it.
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|error| TransportError::Setup(error.to_string()))?;
        Ok(Self { client })
    }
}

impl SoapTransport for HttpsTransport {
    async fn post(
        &self,
        url: &str,
        action: &str,
        envelope: String,
    ) -> Result<SoapReply, TransportError> {
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, SOAP11_CONTENT_TYPE)
            .header("SOAPAction", format!("\"{action}\""))
            .body(envelope)
            .send()
            .await
            .map_err(|error| request_error(url, &error))?;

        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = read_body(url, response, MAX_REPLY_BYTES).await?;
        tracing::debug!(
            url,
            action,
            status,
            bytes = body.len(),
            "SOAP reply received"
        );
        interpret_reply(url, status, &content_type, &body)
    }
}

/// Reads a reply body of at most `limit` bytes.
async fn read_body(
    url: &str,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, TransportError> {
    let too_large = || TransportError::TooLarge {
        url: url.to_owned(),
        limit,
    };
    let announced = response.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(too_large());
    }

    let mut body = Vec::with_capacity(announced as usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| request_error(url, &error))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn request_error(url: &str, error: &reqwest::Error) -> TransportError {
    if error.is_timeout() {
        return TransportError::Timeout {
            url: url.to_owned(),
        };
    }
    TransportError::Connection {
        url: url.to_owned(),
        detail: error_chain(error),
    }
}

/// Joins an error and its sources, since reqwest's own message hides the cause.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads an HTTP reply to a SOAP call.
pub fn interpret_reply(
    url: &str,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Result<SoapReply, TransportError> {
    let (envelope_bytes, attachments) = if mime::is_multipart_related(content_type) {
        let multipart = mime::split(content_type, body).map_err(|source| TransportError::Mime {
            url: url.to_owned(),
            source,
        })?;
        (multipart.root.body, multipart.attachments)
    } else {
        (body.to_vec(), Vec::new())
    };

    let envelope = String::from_utf8(envelope_bytes);
    let parsed = envelope
        .as_ref()
        .map_err(|error| error.to_string())
        .and_then(|text| Document::parse(text).map_err(|error| error.to_string()));
    let document = match parsed {
        Ok(document) if is_soap_envelope(&document) => document,
        Ok(_) | Err(_) if !(200..300).contains(&status) => {
            return Err(TransportError::HttpStatus {
                url: url.to_owned(),
                status,
                excerpt: excerpt(body),
            });
        }
        Ok(document) => {
            return Err(TransportError::NotSoap {
                url: url.to_owned(),
                status,
                detail: format!(
                    "the document element is <{}>, not soap:Envelope",
                    document.root_element().tag_name().name()
                ),
            });
        }
        Err(detail) => {
            return Err(TransportError::NotSoap {
                url: url.to_owned(),
                status,
                detail,
            });
        }
    };

    if let Some(fault) = fault::parse_fault(&document) {
        return Err(TransportError::Fault {
            url: url.to_owned(),
            status,
            fault: Box::new(fault),
        });
    }
    if !(200..300).contains(&status) {
        return Err(TransportError::HttpStatus {
            url: url.to_owned(),
            status,
            excerpt: excerpt(body),
        });
    }
    drop(document);
    let envelope = envelope.unwrap_or_default();
    Ok(SoapReply {
        envelope,
        attachments,
    })
}

fn is_soap_envelope(document: &Document<'_>) -> bool {
    let root = document.root_element();
    root.tag_name().name() == "Envelope"
        && root.tag_name().namespace() == Some(crate::xmlsec::ns::SOAP)
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://localhost/ehBoxConsultation/v3";

    const FAULT: &str = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>x</faultstring><detail><err:SystemError xmlns:err="urn:be:fgov:ehealth:errors:soa:v1" Id="T1"><Origin>Server</Origin><Code>SOA-01001</Code><Message>Service call not authenticated</Message><Retry>false</Retry></err:SystemError></detail></soap:Fault></soap:Body></soap:Envelope>"#;

    const REPLY: &str = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><c:GetBoxInfoResponse xmlns:c="urn:be:fgov:ehealth:ehbox:consultation:protocol:v3"/></soap:Body></soap:Envelope>"#;

    #[test]
    fn plain_reply_is_accepted() {
        let reply = interpret_reply(URL, 200, "text/xml;charset=UTF-8", REPLY.as_bytes()).unwrap();
        assert_eq!(reply.envelope, REPLY);
        assert!(reply.attachments.is_empty());
    }

    #[test]
    fn fault_with_500_is_a_fault() {
        let error = interpret_reply(URL, 500, "text/xml", FAULT.as_bytes()).unwrap_err();
        let TransportError::Fault { status, fault, .. } = error else {
            panic!("expected a fault, got {error:?}");
        };
        assert_eq!(status, 500);
        assert_eq!(fault.code.as_deref(), Some("SOA-01001"));
        assert_eq!(fault.retry, Some(false));
    }

    #[test]
    fn empty_503_is_http_status() {
        let error = interpret_reply(URL, 503, "text/plain", b"").unwrap_err();
        assert!(
            matches!(error, TransportError::HttpStatus { status: 503, .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "https://localhost/ehBoxConsultation/v3 returned HTTP status 503 without a SOAP body (\"\")"
        );
    }

    #[test]
    fn html_500_is_http_status() {
        let body = b"<html><body>Internal Server Error</body></html>";
        let error = interpret_reply(URL, 500, "text/html", body).unwrap_err();
        assert!(matches!(
            error,
            TransportError::HttpStatus { status: 500, .. }
        ));
    }

    #[test]
    fn garbage_200_is_not_soap() {
        let error = interpret_reply(URL, 200, "text/xml", b"not xml").unwrap_err();
        assert!(
            matches!(error, TransportError::NotSoap { status: 200, .. }),
            "{error:?}"
        );
        let error = interpret_reply(URL, 200, "text/xml", b"<html/>").unwrap_err();
        assert!(error.to_string().contains("<html>"), "{error}");
    }

    #[test]
    fn mtom_reply_root_and_part() {
        let content_type = "multipart/related; type=\"application/xop+xml\"; \
            start=\"<root@x>\"; start-info=\"text/xml\"; boundary=\"MIMEBoundary_1\"";
        let envelope = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><c:R xmlns:c="urn:c"><B><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:doc%40x"/></B></c:R></soap:Body></soap:Envelope>"#;
        let body = format!(
            "--MIMEBoundary_1\r\nContent-Type: application/xop+xml; charset=UTF-8; \
             type=\"text/xml\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <root@x>\r\n\r\n\
             {envelope}\r\n--MIMEBoundary_1\r\nContent-Type: application/octet-stream\r\n\
             Content-Transfer-Encoding: binary\r\nContent-ID: <doc@x>\r\n\r\nPAYLOAD\r\n\
             --MIMEBoundary_1--\r\n"
        );
        let reply = interpret_reply(URL, 200, content_type, body.as_bytes()).unwrap();
        assert_eq!(reply.envelope, envelope);
        assert_eq!(reply.attachment("cid:doc%40x").unwrap().body, b"PAYLOAD");
    }

    #[test]
    fn broken_multipart_is_mime_error() {
        let error = interpret_reply(URL, 200, "multipart/related", b"--x").unwrap_err();
        assert!(matches!(error, TransportError::Mime { .. }), "{error:?}");
    }
}
