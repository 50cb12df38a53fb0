//! The simulator's strict transport checks over real HTTPS: the SOAPAction against the Body's
//! operation and replayed signatures.

mod support;

use ehealth_sim::admin::client::AdminClient;
use ehealth_sim::clock::Clock;
use ehealth_sim::peer::{Peer, PeerError, STS_PATH, TokenRequest, saml_envelope, x509_envelope};
use ehealth_sim::pki::Doctor;
use ehealth_sim::server::RunningSimulator;
use ehealth_sim::soap::{CONSULTATION_NS, Service};
use ehealth_sim::sts;
use practicebox_xmlsec::dsig::Algorithms;
use support::{
    fault_codes, first_doctor_ssin, get_etk_envelope, https_client, post_with_action, start,
};

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
