//! The simulator's transport over real HTTPS: SOAP checks, the ETK depot, fault injection,
//! loopback-only binding and shutdown.

mod support;

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ehealth_sim::etk;
use ehealth_sim::knobs::{FaultRule, Injection, Trigger};
use ehealth_sim::server::{ServerError, SimConfig, Simulator};
use ehealth_sim::soap::{ETK_DEPOT_NS, Service};
use support::{
    SEED, fault_codes, first_doctor_ssin, get_etk_envelope, https_client, post, post_with_action,
    start, test_pki,
};

fn etk_of(envelope: &str) -> Option<Vec<u8>> {
    let document = roxmltree::Document::parse(envelope).ok()?;
    let text = document
        .descendants()
        .find(|node| node.has_tag_name((ETK_DEPOT_NS, "ETK")))?
        .text()?;
    BASE64.decode(text.trim()).ok()
}

#[tokio::test]
async fn non_soap_post_is_soa_03002() {
    let simulator = start().await;
    let client = https_client(&simulator);

    let reply = post(
        &client,
        &simulator,
        Service::Consultation,
        "application/json",
        "{}".into(),
    )
    .await
    .expect("HTTPS exchange");
    assert_eq!(reply.status, 500);
    assert!(
        reply.content_type.starts_with("text/xml"),
        "{}",
        reply.content_type
    );
    let (faultcode, code) = fault_codes(&reply.text()).expect("SOAP fault");
    assert_eq!(code, "SOA-03002");
    assert_eq!(faultcode, "soap:Client");

    let reply = post(
        &client,
        &simulator,
        Service::Sts,
        "text/xml",
        "not xml at all".into(),
    )
    .await
    .expect("HTTPS exchange");
    assert_eq!(
        fault_codes(&reply.text()).map(|codes| codes.1).as_deref(),
        Some("SOA-03002")
    );

    let log = simulator.log.all();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].fault_code.as_deref(), Some("SOA-03002"));
    assert_eq!(log[0].request, "{}");
    simulator.shutdown().await;
}

#[tokio::test]
async fn etk_depot_serves_doctor_etk() {
    let simulator = start().await;
    let client = https_client(&simulator);
    let ssin = first_doctor_ssin();

    let reply = post(
        &client,
        &simulator,
        Service::EtkDepot,
        "text/xml; charset=UTF-8",
        get_etk_envelope(&ssin),
    )
    .await
    .expect("HTTPS exchange");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let token = etk_of(&reply.text()).expect("etk:ETK in the reply");

    let pki = test_pki();
    let parsed = etk::parse_etk(&token, pki.etk_ra.certificate()).expect("valid ETK");
    let doctor = pki.doctor(&ssin).expect("practice doctor");
    assert_eq!(
        &parsed.encryption_certificate,
        doctor.current_encryption().certificate()
    );

    let reply = post(
        &client,
        &simulator,
        Service::EtkDepot,
        "text/xml",
        get_etk_envelope("00010100132"),
    )
    .await
    .expect("HTTPS exchange");
    assert_eq!(reply.status, 200);
    assert!(etk_of(&reply.text()).is_none());
    assert!(reply.text().contains("<etk:Error>"), "{}", reply.text());
    simulator.shutdown().await;
}

#[tokio::test]
async fn injected_faults_reach_client() {
    let simulator = start().await;
    let client = https_client(&simulator);
    let envelope = get_etk_envelope(&first_doctor_ssin());
    let rule = |injection| FaultRule {
        operation: "GetEtk".to_owned(),
        injection,
        trigger: Trigger::NextCalls(1),
    };
    simulator
        .knobs
        .add_rule(rule(Injection::Http503))
        .expect("valid rule");
    simulator
        .knobs
        .add_rule(rule(Injection::DropConnection))
        .expect("valid rule");
    let soa_02001 = Injection::SoapFault {
        code: "SOA-02001".to_owned(),
        message: None,
    };
    simulator
        .knobs
        .add_rule(rule(soa_02001))
        .expect("valid rule");

    let reply = post(
        &client,
        &simulator,
        Service::EtkDepot,
        "text/xml",
        envelope.clone(),
    )
    .await
    .expect("503 reply");
    assert_eq!(reply.status, 503);
    assert!(reply.body.is_empty());

    let error = post(
        &client,
        &simulator,
        Service::EtkDepot,
        "text/xml",
        envelope.clone(),
    )
    .await
    .expect_err("connection closed without a response");
    assert!(!error.is_status(), "{error}");

    let reply = post(
        &client,
        &simulator,
        Service::EtkDepot,
        "text/xml",
        envelope.clone(),
    )
    .await
    .expect("fault");
    assert_eq!(reply.status, 500);
    let (faultcode, code) = fault_codes(&reply.text()).expect("SOAP fault");
    assert_eq!(code, "SOA-02001");
    assert_eq!(faultcode, "soap:Server");
    assert!(
        reply.text().contains("<Retry>true</Retry>"),
        "{}",
        reply.text()
    );

    let reply = post(&client, &simulator, Service::EtkDepot, "text/xml", envelope)
        .await
        .expect("normal reply");
    assert_eq!(reply.status, 200);

    let log = simulator.log.all();
    let statuses: Vec<_> = log.iter().map(|record| record.http_status).collect();
    assert_eq!(statuses, [Some(503), None, Some(500), Some(200)]);
    assert!(log[..3].iter().all(|record| record.injected));
    simulator.shutdown().await;
}

#[tokio::test]
async fn rate_faults_follow_seed() {
    let simulator = start().await;
    let client = https_client(&simulator);
    let rule = FaultRule {
        operation: "*".to_owned(),
        injection: Injection::Http500,
        trigger: Trigger::Rate(0.5),
    };
    simulator.knobs.add_rule(rule).expect("valid rule");

    let mut statuses = Vec::new();
    for _ in 0..20 {
        let envelope = get_etk_envelope(&first_doctor_ssin());
        let reply = post(&client, &simulator, Service::EtkDepot, "text/xml", envelope)
            .await
            .expect("reply");
        statuses.push(reply.status);
    }
    simulator.shutdown().await;

    let expected = {
        let knobs = ehealth_sim::knobs::Knobs::new(SEED);
        let rule = FaultRule {
            operation: "*".to_owned(),
            injection: Injection::Http500,
            trigger: Trigger::Rate(0.5),
        };
        knobs.add_rule(rule).expect("valid rule");
        (0..20)
            .map(|_| {
                if knobs.plan_call("GetEtk").injection.is_some() {
                    500
                } else {
                    200
                }
            })
            .collect::<Vec<u16>>()
    };
    assert_eq!(statuses, expected);
    assert!(
        statuses.contains(&500) && statuses.contains(&200),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn non_loopback_bind_is_rejected() {
    let mut config = SimConfig::loopback(test_pki(), SEED);
    config.https = SocketAddr::from(([0, 0, 0, 0], 0));
    let error = Simulator::start(config)
        .await
        .expect_err("wildcard address");
    assert!(matches!(error, ServerError::NotLoopback { .. }), "{error}");
    assert!(error.to_string().contains("0.0.0.0:0"), "{error}");
    assert!(error.to_string().contains("loopback"), "{error}");

    let mut config = SimConfig::loopback(test_pki(), SEED);
    config.admin = Some(SocketAddr::from(([192, 168, 1, 10], 8080)));
    let error = Simulator::start(config).await.expect_err("LAN address");
    assert!(
        error
            .to_string()
            .contains("invalid admin address 192.168.1.10:8080"),
        "{error}"
    );
}

#[tokio::test]
async fn unknown_path_and_get_are_rejected() {
    let simulator = start().await;
    let client = https_client(&simulator);
    let base = format!("https://localhost:{}", simulator.addresses.https.port());

    let response = client
        .post(format!("{base}/nothing/here"))
        .send()
        .await
        .expect("reply");
    assert_eq!(response.status().as_u16(), 404);
    let response = client
        .get(simulator.addresses.https_url(Service::Consultation))
        .send()
        .await
        .expect("reply");
    assert_eq!(response.status().as_u16(), 405);
    simulator.shutdown().await;
}

#[tokio::test]
async fn plain_http_listener_serves_soap() {
    let simulator = start().await;
    let url = simulator
        .addresses
        .http_url(Service::EtkDepot)
        .expect("HTTP listener");
    let response = support::http_client()
        .post(url)
        .header("Content-Type", "text/xml")
        .header("SOAPAction", "\"\"")
        .body(get_etk_envelope(&first_doctor_ssin()))
        .send()
        .await
        .expect("HTTP exchange");
    assert_eq!(response.status().as_u16(), 200);
    simulator.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_listeners() {
    let simulator = start().await;
    let https = simulator.addresses.https;
    simulator.shutdown().await;
    let connected = tokio::net::TcpStream::connect(https).await;
    assert!(
        connected.is_err(),
        "the HTTPS port still accepts connections"
    );
}

#[tokio::test]
async fn saml_p_request_is_not_supported() {
    let simulator = start().await;
    let client = https_client(&simulator);
    let body = "<samlp:Request xmlns:samlp=\"urn:oasis:names:tc:SAML:1.0:protocol\" MajorVersion=\"1\" \
                MinorVersion=\"1\" RequestID=\"request-1\"/>";
    let envelope = ehealth_sim::soap::envelope(body);

    let action = format!("\"{}\"", ehealth_sim::sts::ACTION_ISSUE);
    let reply = post_with_action(
        &client,
        &simulator,
        Service::Saml11,
        Some(&action),
        "text/xml",
        envelope,
    )
    .await
    .expect("HTTPS exchange");
    assert_eq!(reply.status, 500);
    let (faultcode, code) = fault_codes(&reply.text()).expect("SOAP fault");
    assert_eq!(code, "SOA-03005");
    assert_eq!(faultcode, "soap:Client");
    assert!(
        reply.text().contains("not supported by the simulator"),
        "{}",
        reply.text()
    );
    simulator.shutdown().await;
}
