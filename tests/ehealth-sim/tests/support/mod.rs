//! Helpers shared by the simulator's server tests: one test PKI per test binary, an in-process
//! simulator on loopback, an HTTPS client that trusts only the test CA, and fault readers.
#![allow(dead_code)]

use std::sync::OnceLock;

use ehealth_sim::pki::{self, KeystoreOptions, TestPki};
use ehealth_sim::server::{RunningSimulator, SimConfig, Simulator};
use ehealth_sim::soap::{self, Service};
use jiff::Timestamp;

/// The seed of every test simulator.
pub const SEED: u64 = 20_260_131;

/// Returns the test PKI (the practice preset), generated once per test binary.
pub fn test_pki() -> TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::generate_with(
            SEED,
            Timestamp::now(),
            &pki::practice(),
            &KeystoreOptions::fast(),
        )
        .expect("test PKI generation")
    })
    .clone()
}

/// Starts a simulator with HTTPS, HTTP and admin listeners on free loopback ports.
pub async fn start() -> RunningSimulator {
    Simulator::start(SimConfig::loopback(test_pki(), SEED))
        .await
        .expect("simulator start")
}

/// Builds an HTTPS client that trusts only the simulator's test CA.
pub fn https_client(simulator: &RunningSimulator) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(simulator.ca_pem.as_bytes()).expect("CA PEM");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve("localhost", simulator.addresses.https)
        .no_proxy()
        .build()
        .expect("HTTPS client")
}

/// Builds a plain HTTP client.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client")
}

/// A reply as received: status, Content-Type and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Returns the SOAP envelope: the root part of a multipart reply, or the whole body.
    pub fn envelope(&self) -> String {
        if self.content_type.starts_with("multipart/related") {
            let parsed = soap::parse_multipart(&self.content_type, &self.body).expect("MIME reply");
            return String::from_utf8_lossy(&parsed.root).into_owned();
        }
        self.text()
    }
}

/// Posts `body` with `content_type` to the HTTPS endpoint of `service`, with the SOAPAction a
/// conforming client sends for the operation in the Body (`""` when the body names none).
pub async fn post(
    client: &reqwest::Client,
    simulator: &RunningSimulator,
    service: Service,
    content_type: &str,
    body: String,
) -> Result<Reply, reqwest::Error> {
    let action = format!("\"{}\"", soap_action_for(service, &body));
    post_with_action(
        client,
        simulator,
        service,
        Some(&action),
        content_type,
        body,
    )
    .await
}

/// Returns the SOAPAction the simulator expects for the SOAP 1.1 envelope `body`.
pub fn soap_action_for(service: Service, body: &str) -> String {
    soap::parse_request(service, Some("text/xml"), body)
        .ok()
        .and_then(|request| {
            soap::expected_soap_actions(service, request.operation)
                .into_iter()
                .next()
        })
        .unwrap_or_default()
}

/// Posts `body` with `content_type` and `soap_action` (the header as sent; none when `None`) to
/// the HTTPS endpoint of `service`.
pub async fn post_with_action(
    client: &reqwest::Client,
    simulator: &RunningSimulator,
    service: Service,
    soap_action: Option<&str>,
    content_type: &str,
    body: String,
) -> Result<Reply, reqwest::Error> {
    let url = simulator.addresses.https_url(service);
    let mut request = client.post(url).header("Content-Type", content_type);
    if let Some(action) = soap_action {
        request = request.header("SOAPAction", action);
    }
    let response = request.body(body).send().await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.bytes().await?.to_vec();
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

/// Returns `faultcode` and the `Code` of the `err:` detail of a SOAP fault.
pub fn fault_codes(xml: &str) -> Option<(String, String)> {
    let document = roxmltree::Document::parse(xml).ok()?;
    let faultcode = document
        .descendants()
        .find(|node| node.tag_name().name() == "faultcode")?
        .text()?
        .trim()
        .to_owned();
    let detail = document.descendants().find(|node| {
        node.tag_name().namespace() == Some(soap::ERRORS_NS)
            && matches!(node.tag_name().name(), "BusinessError" | "SystemError")
    })?;
    let code = detail
        .children()
        .find(|node| node.is_element() && node.tag_name().name() == "Code")?
        .text()?
        .trim()
        .to_owned();
    Some((faultcode, code))
}

/// Returns a SOAP 1.1 envelope holding a `GetEtkRequest` for `ssin`.
pub fn get_etk_envelope(ssin: &str) -> String {
    let body = format!(
        "<etk:GetEtkRequest xmlns:etk=\"{}\"><etk:SearchCriteria><etk:Identifier>\
         <etk:Type>SSIN</etk:Type><etk:Value>{ssin}</etk:Value><etk:ApplicationID/>\
         </etk:Identifier></etk:SearchCriteria></etk:GetEtkRequest>",
        soap::ETK_DEPOT_NS
    );
    soap::envelope(&body)
}

/// Returns the INSZ of the first practice doctor.
pub fn first_doctor_ssin() -> String {
    test_pki().doctors[0].spec.ssin.clone()
}
