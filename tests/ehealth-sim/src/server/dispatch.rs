//! One SOAP call, from the HTTP request to the HTTP response: routing by path, reading the body
//! within its timeout, SOAP parsing, the SOAPAction check, fault injection, authentication, the
//! operation handler, rendering and the request log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::{DropConnection, Parts, SimConfig};
use crate::clock::{Clock, SimClock};
use crate::ehbox::{self, ConsultationOptions, Platform, PublicationOptions};
use crate::etk_depot::EtkDepot;
use crate::knobs::{Injection, Knobs};
use crate::request_log::{RequestLog, RequestRecord};
use crate::security::Authenticator;
use crate::soap::{self, BinaryMode, Service};
use crate::sts::Sts;
use crate::wire::{Attachment, Fault, SoapReply};

/// The largest request body accepted: a 10 MB message, base64-encoded, plus the envelope.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// What the SOAP listeners share.
#[derive(Debug)]
pub struct SoapState {
    prefix: String,
    clock: Arc<SimClock>,
    knobs: Arc<Knobs>,
    log: Arc<RequestLog>,
    sts: Arc<Sts>,
    platform: Arc<Mutex<Platform>>,
    etk_depot: Arc<EtkDepot>,
    authenticator: Authenticator,
    body_timeout: Duration,
    next_ticket: AtomicU64,
}

impl SoapState {
    pub(super) fn new(config: &SimConfig, parts: &Parts, authenticator: Authenticator) -> Self {
        Self {
            prefix: config.path_prefix.clone(),
            clock: Arc::clone(&config.clock),
            knobs: Arc::clone(&parts.knobs),
            log: Arc::clone(&parts.log),
            sts: Arc::clone(&parts.sts),
            platform: Arc::clone(&parts.platform),
            etk_depot: Arc::clone(&parts.etk_depot),
            authenticator,
            body_timeout: config.timeouts.request_body,
            next_ticket: AtomicU64::new(1),
        }
    }

    fn service_for(&self, path: &str) -> Option<Service> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        Service::ALL
            .into_iter()
            .find(|service| service.path() == rest)
    }

    fn ticket(&self) -> String {
        format!(
            "SIM-{:08}",
            self.next_ticket.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// How a call ends.
#[derive(Debug)]
enum Outcome {
    Reply(SoapReply),
    Fault(Fault),
    /// An injected bare HTTP status with an empty body.
    Status(StatusCode),
    /// An injected dropped connection.
    Drop,
}

/// What the log records about a call besides its outcome.
#[derive(Debug, Default)]
struct CallFacts {
    operation: Option<&'static str>,
    caller_ssin: Option<String>,
    injected: bool,
}

/// Serves one HTTP request on a SOAP listener.
pub async fn handle(
    state: Arc<SoapState>,
    request: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let path = request.uri().path().to_owned();
    let Some(service) = state.service_for(&path) else {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            format!("no service at {path}\n"),
        ));
    };
    if request.method() != Method::POST {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "SOAP endpoints accept POST only\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return Ok(response);
    }

    let received_at = state.clock.now();
    let content_type = header_text(&request, CONTENT_TYPE.as_str());
    let soap_action =
        header_text(&request, "SOAPAction").map(|action| action.trim_matches('"').to_owned());
    let body = axum::body::to_bytes(Body::new(request.into_body()), MAX_REQUEST_BYTES);
    let bytes = match tokio::time::timeout(state.body_timeout, body).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => {
            tracing::debug!(%error, "reading a request body failed");
            return Err(DropConnection);
        }
        Err(_) => {
            tracing::info!(%path, timeout = ?state.body_timeout, "request body timed out");
            return Ok(request_timeout(state.body_timeout));
        }
    };
    let (message, text) = unpack(content_type, &bytes);

    let (outcome, facts) = match message {
        Ok(message) => serve(&state, service, message, soap_action.clone()).await,
        Err(fault) => (Outcome::Fault(fault), CallFacts::default()),
    };
    let rendered = render(&state, outcome);
    state.log.push(RequestRecord {
        sequence: 0,
        received_at,
        path,
        operation: facts.operation.map(str::to_owned),
        soap_action,
        caller_ssin: facts.caller_ssin,
        http_status: rendered.status.map(|status| status.as_u16()),
        fault_code: rendered.fault_code,
        injected: facts.injected,
        request: text,
        response: rendered.envelope,
        truncated: false,
    });
    rendered.response
}

/// A request body as the handlers see it: the SOAP envelope and any MIME parts beside it.
#[derive(Debug)]
struct Message {
    content_type: Option<String>,
    envelope: String,
    attachments: Vec<Attachment>,
}

/// Separates the envelope from MIME parts when the request is `multipart/related`; returns the
/// message and the text to log.
fn unpack(content_type: Option<String>, bytes: &[u8]) -> (Result<Message, Fault>, String) {
    let is_multipart = content_type.as_deref().is_some_and(|value| {
        value
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/related")
    });
    if !is_multipart {
        let envelope = String::from_utf8_lossy(bytes).into_owned();
        let message = Message {
            content_type,
            envelope: envelope.clone(),
            attachments: Vec::new(),
        };
        return (Ok(message), envelope);
    }

    let content_type = content_type.unwrap_or_default();
    match soap::parse_multipart(&content_type, bytes) {
        Ok(multipart) => {
            let envelope = String::from_utf8_lossy(&multipart.root).into_owned();
            // An MTOM root is application/xop+xml carrying text/xml; both mean SOAP 1.1 here.
            let root_type = if multipart
                .root_content_type
                .to_ascii_lowercase()
                .starts_with("application/xop+xml")
            {
                "text/xml".to_owned()
            } else {
                multipart.root_content_type
            };
            let message = Message {
                content_type: Some(root_type),
                envelope: envelope.clone(),
                attachments: multipart.parts,
            };
            (Ok(message), envelope)
        }
        Err(error) => {
            let fault =
                soap::not_soap(format!("the multipart/related request is invalid: {error}"));
            (Err(fault), String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

async fn serve(
    state: &Arc<SoapState>,
    service: Service,
    message: Message,
    soap_action: Option<String>,
) -> (Outcome, CallFacts) {
    let mut facts = CallFacts::default();
    let operation =
        match soap::parse_request(service, message.content_type.as_deref(), &message.envelope) {
            Ok(request) => request.operation,
            Err(fault) => return (Outcome::Fault(fault), facts),
        };
    facts.operation = Some(operation);
    if state.knobs.soap_action_check()
        && let Err(fault) = soap::check_soap_action(service, operation, soap_action.as_deref())
    {
        return (Outcome::Fault(fault), facts);
    }

    let plan = state.knobs.plan_call(operation);
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    if let Some(injection) = plan.injection {
        facts.injected = true;
        tracing::debug!(operation, ?injection, "injecting a fault");
        let outcome = match injection {
            Injection::Http500 => Outcome::Status(StatusCode::INTERNAL_SERVER_ERROR),
            Injection::Http503 => Outcome::Status(StatusCode::SERVICE_UNAVAILABLE),
            Injection::DropConnection => Outcome::Drop,
            other => match other.soap_fault() {
                Some(fault) => Outcome::Fault(fault),
                None => Outcome::Status(StatusCode::INTERNAL_SERVER_ERROR),
            },
        };
        return (outcome, facts);
    }

    // The handlers verify signatures and sign assertions; keep that CPU work off the reactor.
    let worker_state = Arc::clone(state);
    let served = tokio::task::spawn_blocking(move || {
        serve_operation(
            &worker_state,
            service,
            operation,
            soap_action.as_deref(),
            &message,
        )
    })
    .await;
    match served {
        Ok((result, caller_ssin)) => {
            facts.caller_ssin = caller_ssin;
            let outcome = match result {
                Ok(reply) => Outcome::Reply(reply),
                Err(fault) => Outcome::Fault(fault),
            };
            (outcome, facts)
        }
        Err(error) => {
            tracing::error!(operation, %error, "an operation handler panicked");
            (
                Outcome::Fault(Fault::system("SOA-00001", "Service error", true)),
                facts,
            )
        }
    }
}

/// Runs the operation behind a parsed request and returns its result and the caller's INSZ.
fn serve_operation(
    state: &SoapState,
    service: Service,
    operation: &str,
    soap_action: Option<&str>,
    message: &Message,
) -> (Result<SoapReply, Fault>, Option<String>) {
    let now = state.clock.now();
    let text = message.envelope.as_str();
    match service {
        Service::Saml11 if operation == soap::SAML_P_OPERATION => {
            // TODO: SAML 1.1 samlp:Request (AttributeQuery) is not implemented; WS-Trust covers
            // the appliance, which never sends SAML-P.
            let fault = Fault::system(
                "SOA-03005",
                "samlp:Request (SAML-P) is not supported by the simulator; send a WS-Trust \
                 wst:RequestSecurityToken to /IAM/SecurityTokenService/v1",
                false,
            );
            (Err(fault), None)
        }
        Service::Sts | Service::Saml11 => {
            let result = state.sts.handle(text, soap_action, now);
            let ssin = result
                .as_ref()
                .ok()
                .and_then(|reply| assertion_ssin(&reply.body));
            (result, ssin)
        }
        Service::EtkDepot => (
            with_request(service, text, |root| state.etk_depot.handle(root)),
            None,
        ),
        Service::Consultation | Service::Publication => serve_ehbox(state, service, message, now),
    }
}

fn serve_ehbox(
    state: &SoapState,
    service: Service,
    message: &Message,
    now: jiff::Timestamp,
) -> (Result<SoapReply, Fault>, Option<String>) {
    let text = message.envelope.as_str();
    let authenticated = match state.authenticator.authenticate(text, now) {
        Ok(authenticated) => authenticated,
        Err(fault) => return (Err(fault), None),
    };
    let caller = authenticated.caller;
    let ssin = Some(caller.ssin.clone());

    let result = with_request(service, text, |root| {
        let mut platform = state
            .platform
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        platform.deliver_due(now);
        match service {
            Service::Publication => {
                let options = PublicationOptions::default();
                ehbox::handle_publication(
                    &mut platform,
                    &caller,
                    root,
                    &message.attachments,
                    now,
                    &options,
                )
            }
            _ => {
                let options = ConsultationOptions {
                    binary_mode: platform_binary_mode(state.knobs.binary_mode()),
                    double_base64: state.knobs.double_base64(),
                    ..ConsultationOptions::default()
                };
                ehbox::handle_consultation(&mut platform, &caller, root, now, &options)
            }
        }
    });
    (result, ssin)
}

fn platform_binary_mode(mode: BinaryMode) -> ehbox::BinaryMode {
    match mode {
        BinaryMode::Inline => ehbox::BinaryMode::Inline,
        BinaryMode::SwaRef => ehbox::BinaryMode::SwaRef,
        BinaryMode::Mtom => ehbox::BinaryMode::Mtom,
    }
}

/// Parses `text` again (the parsed tree cannot cross the blocking-task boundary) and runs `serve`
/// on the Body's root element.
fn with_request(
    service: Service,
    text: &str,
    serve: impl FnOnce(roxmltree::Node<'_, '_>) -> Result<SoapReply, Fault>,
) -> Result<SoapReply, Fault> {
    let request = soap::parse_request(service, Some("text/xml"), text)?;
    serve(request.body_root())
}

/// Returns the `urn:be:fgov:person:ssin` attribute value of the assertion in an STS reply.
fn assertion_ssin(reply_body: &str) -> Option<String> {
    let document = roxmltree::Document::parse(reply_body).ok()?;
    let attribute = document.descendants().find(|node| {
        node.tag_name().name() == "Attribute"
            && node.attribute("AttributeName") == Some("urn:be:fgov:person:ssin")
    })?;
    let value = attribute
        .descendants()
        .find(|node| node.tag_name().name() == "AttributeValue")?;
    value.text().map(|text| text.trim().to_owned())
}

/// The HTTP response of a call with what the request log keeps of it.
#[derive(Debug)]
struct Rendered {
    response: Result<Response<Body>, DropConnection>,
    /// The SOAP envelope sent (without MIME parts).
    envelope: Option<String>,
    status: Option<StatusCode>,
    fault_code: Option<String>,
}

/// Builds the HTTP response of an outcome.
fn render(state: &SoapState, outcome: Outcome) -> Rendered {
    match outcome {
        Outcome::Reply(reply) => {
            let body = soap::render_reply(&reply, state.knobs.binary_mode());
            Rendered {
                response: Ok(with_body(StatusCode::OK, &body.content_type, body.bytes)),
                envelope: Some(soap::envelope(&reply.body)),
                status: Some(StatusCode::OK),
                fault_code: None,
            }
        }
        Outcome::Fault(fault) => {
            let xml = soap::render_fault(&fault, &state.ticket());
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            let bytes = xml.clone().into_bytes();
            Rendered {
                response: Ok(with_body(status, "text/xml; charset=UTF-8", bytes)),
                envelope: Some(xml),
                status: Some(status),
                fault_code: Some(fault.code),
            }
        }
        Outcome::Status(status) => Rendered {
            response: Ok(with_body(status, "text/plain", Vec::new())),
            envelope: None,
            status: Some(status),
            fault_code: None,
        },
        Outcome::Drop => Rendered {
            response: Err(DropConnection),
            envelope: None,
            status: None,
            fault_code: None,
        },
    }
}

fn with_body(status: StatusCode, content_type: &str, bytes: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

/// 408 with `Connection: close`: the rest of the body is not read, so the connection cannot
/// carry another request.
fn request_timeout(timeout: Duration) -> Response<Body> {
    let mut response = plain(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "the request body did not arrive within {} s; send it at once\n",
            timeout.as_secs_f64()
        ),
    );
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

fn plain(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    with_body(
        status,
        "text/plain; charset=UTF-8",
        text.into().into_bytes(),
    )
}

fn header_text(request: &Request<Incoming>, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_ssin_reads_attribute() {
        let body = "<r xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\"><saml:Attribute \
                    AttributeName=\"urn:be:fgov:person:ssin\"><saml:AttributeValue> 79021802145 \
                    </saml:AttributeValue></saml:Attribute></r>";
        assert_eq!(assertion_ssin(body).as_deref(), Some("79021802145"));
    }
}
