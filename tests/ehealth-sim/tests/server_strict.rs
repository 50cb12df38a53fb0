//! The simulator's strict transport checks over real HTTP and HTTPS: the SOAPAction against the
//! Body's operation, replayed signatures, timeouts for slow or stalled clients, and the byte
//! budget of the request log.

mod support;

use std::time::{Duration, Instant};

use ehealth_sim::admin::client::AdminClient;
use ehealth_sim::clock::Clock;
use ehealth_sim::peer::{Peer, PeerError, STS_PATH, TokenRequest, saml_envelope, x509_envelope};
use ehealth_sim::pki::Doctor;
use ehealth_sim::server::{ConnectionTimeouts, RunningSimulator, SimConfig, Simulator};
use ehealth_sim::soap::{CONSULTATION_NS, Service};
use ehealth_sim::sts;
use practicebox_xmlsec::dsig::Algorithms;
use support::{
    SEED, fault_codes, first_doctor_ssin, get_etk_envelope, https_client, post, post_with_action,
    start, test_pki,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOX_INFO_ACTION: &str = "urn:be:fgov:ehealth:ehbox:consultation:protocol:v3:getBoxInfo";

fn peer(simulator: &RunningSimulator) -> Peer {
    let url = format!("https://127.0.0.1:{}", simulator.addresses.https.port());
    Peer::new(&url, &[simulator.pki.root.certificate_der()]).expect("peer client")
}

fn recognised_doctor(simulator: &RunningSimulator) -> &Doctor {
    simulator
        .pki
        .doctors
        .iter()
        .find(|doctor| doctor.spec.recognised_as_doctor)
        .expect("a recognised doctor in the test PKI")
}

fn box_info_request() -> String {
    format!("<cons:GetBoxInfoRequest xmlns:cons=\"{CONSULTATION_NS}\"/>")
}

/// Returns the code and message of the platform fault a peer call ended with.
fn expect_fault(result: Result<String, PeerError>) -> (String, String) {
    match result {
        Err(PeerError::Fault { code, message }) => (code, message),
        Err(other) => panic!("expected a platform fault, got {other}"),
        Ok(reply) => panic!("expected a platform fault, got {reply}"),
    }
}

#[tokio::test]
async fn wrong_soap_action_is_soa_03004() {
    let simulator = start().await;
    let client = https_client(&simulator);
    let envelope = get_etk_envelope(&first_doctor_ssin());
    let wrong = [
        Some("\"GetEtk\""),
        Some("\"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3:getBoxInfo\""),
        None,
    ];

    for action in wrong {
        let reply = post_with_action(
            &client,
            &simulator,
            Service::EtkDepot,
            action,
            "text/xml",
            envelope.clone(),
        )
        .await
        .expect("HTTPS exchange");
        assert_eq!(reply.status, 500, "{action:?}");
        let (faultcode, code) = fault_codes(&reply.text()).expect("SOAP fault");
        assert_eq!(code, "SOA-03004", "{action:?}");
        assert_eq!(faultcode, "soap:Client", "{action:?}");
    }
    let log = simulator.log.all();
    assert!(
        log.iter()
            .all(|record| record.operation.as_deref() == Some("GetEtk"))
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn soap_action_check_can_be_relaxed() {
    let simulator = start().await;
    let client = https_client(&simulator);
    simulator.knobs.set_soap_action_check(false);

    let reply = post_with_action(
        &client,
        &simulator,
        Service::EtkDepot,
        Some("\"GetEtk\""),
        "text/xml",
        get_etk_envelope(&first_doctor_ssin()),
    )
    .await
    .expect("HTTPS exchange");

    assert_eq!(reply.status, 200, "{}", reply.text());
    simulator.shutdown().await;
}

#[tokio::test]
async fn checks_set_through_admin_api() {
    let simulator = start().await;
    let admin =
        AdminClient::new(simulator.addresses.admin.expect("admin listener")).expect("client");

    let knobs = admin
        .put(
            "/knobs/checks",
            &serde_json::json!({ "soap_action": false, "replay": false }),
        )
        .await
        .expect("PUT /knobs/checks");

    assert_eq!(knobs["soap_action_check"], false);
    assert_eq!(knobs["replay_check"], false);
    assert!(!simulator.knobs.soap_action_check());
    assert!(!simulator.replay.is_enabled());

    let knobs = admin
        .put("/knobs/checks", &serde_json::json!({ "replay": true }))
        .await
        .expect("PUT /knobs/checks");
    assert_eq!(knobs["soap_action_check"], false);
    assert_eq!(knobs["replay_check"], true);
    simulator.shutdown().await;
}

#[tokio::test]
async fn replayed_token_request_is_rejected() {
    let simulator = start().await;
    let doctor = recognised_doctor(&simulator);
    let credential = &doctor.authentication;
    let now = simulator.clock.now();
    let body = TokenRequest::doctor(&doctor.spec.ssin).body(credential.certificate_der(), now);
    let envelope = x509_envelope(&body, credential, now, Algorithms::SHA256).expect("envelope");
    let peer = peer(&simulator);

    peer.post(STS_PATH, sts::ACTION_ISSUE, envelope.clone())
        .await
        .expect("the first request gets a token");
    let (code, message) = expect_fault(peer.post(STS_PATH, sts::ACTION_ISSUE, envelope).await);

    assert_eq!(code, "SOA-01001", "{message}");
    assert!(message.contains("already received"), "{message}");
    assert!(message.contains("replay"), "{message}");
    simulator.shutdown().await;
}

#[tokio::test]
async fn replayed_consultation_request_is_rejected() {
    let simulator = start().await;
    let doctor = recognised_doctor(&simulator);
    let credential = &doctor.authentication;
    let now = simulator.clock.now();
    let peer = peer(&simulator);
    let assertion = peer
        .request_token(
            credential,
            credential,
            &TokenRequest::doctor(&doctor.spec.ssin),
            now,
        )
        .await
        .expect("STS token");
    let envelope =
        saml_envelope(&box_info_request(), &assertion, credential, now).expect("envelope");
    let consultation = Service::Consultation.path();

    peer.post(consultation, BOX_INFO_ACTION, envelope.clone())
        .await
        .expect("the first request is served");
    let (code, message) = expect_fault(
        peer.post(consultation, BOX_INFO_ACTION, envelope.clone())
            .await,
    );
    assert_eq!(code, "SOA-01001", "{message}");
    assert!(message.contains("replay"), "{message}");

    let resigned = saml_envelope(
        &box_info_request(),
        &assertion,
        credential,
        now + jiff::SignedDuration::from_secs(1),
    )
    .expect("envelope");
    peer.post(consultation, BOX_INFO_ACTION, resigned)
        .await
        .expect("a request signed anew is served");

    simulator.replay.set_enabled(false);
    peer.post(consultation, BOX_INFO_ACTION, envelope)
        .await
        .expect("with the check off, a resend is served");
    simulator.shutdown().await;
}

#[tokio::test]
async fn peer_calls_at_same_instant_are_distinct() {
    let simulator = start().await;
    let doctor = recognised_doctor(&simulator);
    let credential = &doctor.authentication;
    let now = simulator.clock.now();
    let request = TokenRequest::doctor(&doctor.spec.ssin);

    for attempt in 0..2 {
        peer(&simulator)
            .request_token(credential, credential, &request, now)
            .await
            .unwrap_or_else(|error| panic!("token request {attempt}: {error}"));
    }
    simulator.shutdown().await;
}

/// Starts a simulator whose SOAP listeners give up on a client after 300 ms.
async fn start_impatient() -> RunningSimulator {
    let mut config = SimConfig::loopback(test_pki(), SEED);
    let short = Duration::from_millis(300);
    config.timeouts = ConnectionTimeouts {
        tls_handshake: short,
        request_header: short,
        request_body: short,
    };
    Simulator::start(config).await.expect("simulator start")
}

/// Reads until the server closes the connection (or resets it) and returns what it sent and
/// how long that took. Panics after 10 seconds.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("the server kept a stalled connection open for 10 seconds");
        match read {
            Ok(0) | Err(_) => return (received, started.elapsed()),
            Ok(count) => received.extend_from_slice(&buffer[..count]),
        }
    }
}

/// Opens a plain TCP connection to the simulator's HTTP listener.
async fn connect_http(simulator: &RunningSimulator) -> TcpStream {
    let http = simulator.addresses.http.expect("HTTP listener");
    TcpStream::connect(http).await.expect("connect")
}

/// Checks that the server closed the connection only after its 300 ms timeout (with 50 ms of
/// clock slack), not at once.
fn assert_closed_by_timeout(waited: Duration) {
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
}

fn assert_nothing_received(received: &[u8]) {
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(received));
}

#[tokio::test]
async fn silent_connection_is_closed() {
    let simulator = start_impatient().await;
    let mut stream = connect_http(&simulator).await;

    let (received, waited) = read_until_closed(&mut stream).await;

    assert_nothing_received(&received);
    assert_closed_by_timeout(waited);
    simulator.shutdown().await;
}

#[tokio::test]
async fn idle_kept_alive_connection_is_closed() {
    let simulator = start_impatient().await;
    let mut stream = connect_http(&simulator).await;

    stream
        .write_all(b"GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("request");
    let (received, waited) = read_until_closed(&mut stream).await;

    let response = String::from_utf8_lossy(&received);
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert_closed_by_timeout(waited);
    simulator.shutdown().await;
}

#[tokio::test]
async fn slow_headers_close_connection() {
    let simulator = start_impatient().await;
    let mut stream = connect_http(&simulator).await;

    stream
        .write_all(b"POST /EtkDepot/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: te")
        .await
        .expect("partial headers");
    let (received, waited) = read_until_closed(&mut stream).await;

    assert_nothing_received(&received);
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
    assert!(simulator.log.all().is_empty());
    simulator.shutdown().await;
}

#[tokio::test]
async fn slow_body_gets_408() {
    let simulator = start_impatient().await;
    let mut stream = connect_http(&simulator).await;

    stream
        .write_all(
            b"POST /EtkDepot/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n\
              SOAPAction: \"\"\r\nContent-Length: 1000\r\n\r\n<soap:Envelope",
        )
        .await
        .expect("headers and the start of the body");
    let (received, waited) = read_until_closed(&mut stream).await;

    let response = String::from_utf8_lossy(&received);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    assert_closed_by_timeout(waited);
    simulator.shutdown().await;
}

#[tokio::test]
async fn silent_tls_client_is_closed() {
    let simulator = start_impatient().await;
    let mut stream = TcpStream::connect(simulator.addresses.https)
        .await
        .expect("connect");

    let (received, waited) = read_until_closed(&mut stream).await;

    assert_nothing_received(&received);
    assert_closed_by_timeout(waited);
    simulator.shutdown().await;
}

#[tokio::test]
async fn prompt_client_is_served_by_impatient_simulator() {
    let simulator = start_impatient().await;
    let client = https_client(&simulator);

    let reply = post(
        &client,
        &simulator,
        Service::EtkDepot,
        "text/xml",
        get_etk_envelope(&first_doctor_ssin()),
    )
    .await
    .expect("HTTPS exchange");

    assert_eq!(reply.status, 200, "{}", reply.text());
    simulator.shutdown().await;
}

#[tokio::test]
async fn request_log_stays_within_byte_budget() {
    let mut config = SimConfig::loopback(test_pki(), SEED);
    config.request_log_bytes = 16 * 1024;
    let simulator = Simulator::start(config).await.expect("simulator start");
    let client = https_client(&simulator);

    for _ in 0..20 {
        let reply = post(
            &client,
            &simulator,
            Service::EtkDepot,
            "text/xml",
            get_etk_envelope(&first_doctor_ssin()),
        )
        .await
        .expect("HTTPS exchange");
        assert_eq!(reply.status, 200);
    }

    let kept = simulator.log.all();
    assert!(
        simulator.log.bytes() <= 16 * 1024,
        "{} bytes",
        simulator.log.bytes()
    );
    assert!(!kept.is_empty());
    assert!(kept.len() < 20, "{} records kept", kept.len());
    assert_eq!(kept.last().map(|record| record.sequence), Some(20));
    simulator.shutdown().await;
}
