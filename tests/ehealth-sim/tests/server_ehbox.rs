//! End-to-end eHealthBox sessions over real HTTPS: a token from the STS, then signed consultation
//! calls, with every rejection the platform makes and the three binary encodings.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ehealth_sim::ehbox::{BoxKey, Destination, Document, NewMessage, Sender};
use ehealth_sim::peer::{Peer, PeerError, TokenRequest, saml_envelope};
use ehealth_sim::pki::{self, Credential, KeystoreOptions, TestPki, Variant};
use ehealth_sim::seed::doctor_box;
use ehealth_sim::send::{Outgoing, send_message};
use ehealth_sim::server::{RunningSimulator, SimConfig, Simulator};
use ehealth_sim::soap::{self, BinaryMode, CONSULTATION_NS, Service};
use jiff::{SignedDuration, Timestamp};
use support::{Reply, fault_codes, https_client, post, start, test_pki};

/// Returns a peer client of the simulator's HTTPS listener, trusting only the test root CA.
fn peer(simulator: &RunningSimulator) -> Peer {
    let url = format!("https://127.0.0.1:{}", simulator.addresses.https.port());
    Peer::new(&url, &[simulator.pki.root.certificate_der()]).expect("peer client")
}

async fn token(
    simulator: &RunningSimulator,
    credential: &Credential,
    ssin: &str,
) -> Result<String, PeerError> {
    let request = TokenRequest::doctor(ssin);
    peer(simulator)
        .request_token(credential, credential, &request, Timestamp::now())
        .await
}

/// Sends a consultation request signed with the holder-of-key `credential` at `signed_at`.
async fn consult(
    simulator: &RunningSimulator,
    body: &str,
    assertion: &str,
    credential: &Credential,
    signed_at: Timestamp,
) -> Reply {
    let envelope = saml_envelope(body, assertion, credential, signed_at).expect("signed envelope");
    let client = https_client(simulator);
    post(
        &client,
        simulator,
        Service::Consultation,
        "text/xml; charset=UTF-8",
        envelope,
    )
    .await
    .expect("HTTPS exchange")
}

fn box_info_request() -> String {
    format!("<cons:GetBoxInfoRequest xmlns:cons=\"{CONSULTATION_NS}\"/>")
}

fn list_request(start: usize, end: usize) -> String {
    format!(
        "<cons:GetMessagesListRequest xmlns:cons=\"{CONSULTATION_NS}\"><Source>INBOX</Source>\
         <StartIndex>{start}</StartIndex><EndIndex>{end}</EndIndex></cons:GetMessagesListRequest>"
    )
}

fn full_message_request(message_id: &str) -> String {
    format!(
        "<cons:GetFullMessageRequest xmlns:cons=\"{CONSULTATION_NS}\"><Source>INBOX</Source>\
         <MessageId>{message_id}</MessageId></cons:GetFullMessageRequest>"
    )
}

/// Returns the text of every element called `name`, in document order.
fn texts(xml: &str, name: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(xml).expect("well-formed reply");
    document
        .descendants()
        .filter(|node| node.is_element() && node.tag_name().name() == name)
        .map(|node| node.text().unwrap_or_default().trim().to_owned())
        .collect()
}

fn message_ids(reply: &Reply) -> Vec<String> {
    texts(&reply.envelope(), "MessageId")
}

/// Delivers `count` plain documents to the box of `ssin`, oldest first; returns their ids.
fn deliver_documents(simulator: &RunningSimulator, ssin: &str, count: usize) -> Vec<String> {
    let sender = Sender {
        key: BoxKey::organisation("71000436", "NIHII", "HOSPITAL", "HOSPITAL"),
        name: "AZ Test".to_owned(),
        first_name: None,
        person_in_organisation: None,
    };
    let mut platform = simulator.platform.lock().expect("platform lock");
    (0..count)
        .map(|index| {
            let document = Document {
                title: format!("Report {index}"),
                content: format!("report number {index}").into_bytes(),
                download_file_name: format!("report-{index}.txt"),
                mime_type: "text/plain".to_owned(),
            };
            let destination = Destination::to_box(doctor_box(ssin));
            let message = NewMessage::document(sender.clone(), vec![destination], document);
            platform
                .deliver_message(message, Timestamp::now())
                .expect("delivery")
                .message_id
        })
        .collect()
}

fn practice_doctor(index: usize) -> (String, Credential) {
    let doctor = &test_pki().doctors[index];
    (doctor.spec.ssin.clone(), doctor.authentication.clone())
}

#[tokio::test]
async fn signed_session_reads_messages() {
    let simulator = start().await;
    let (ssin, credential) = practice_doctor(0);
    let admin = simulator.admin_state();
    let seed_ssin = ssin.clone();
    tokio::task::spawn_blocking(move || admin.seed_messages(&seed_ssin, 3))
        .await
        .expect("seeding task")
        .expect("messages seeded");

    let assertion = token(&simulator, &credential, &ssin)
        .await
        .expect("STS token");
    let tokens = simulator.sts.issued_tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].ssin, ssin);

    let reply = consult(
        &simulator,
        &box_info_request(),
        &assertion,
        &credential,
        Timestamp::now(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        texts(&reply.text(), "Id").contains(&ssin),
        "{}",
        reply.text()
    );

    let reply = consult(
        &simulator,
        &list_request(1, 100),
        &assertion,
        &credential,
        Timestamp::now(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let ids = message_ids(&reply);
    assert_eq!(ids.len(), 3, "{}", reply.text());

    let stored = {
        let platform = simulator.platform.lock().expect("platform lock");
        platform
            .find_message(&doctor_box(&ssin), &ids[0])
            .expect("stored message")
    };
    let sealed = stored.content.document.content.clone();
    for mode in [BinaryMode::Inline, BinaryMode::SwaRef, BinaryMode::Mtom] {
        simulator.knobs.set_binary_mode(mode);
        let reply = consult(
            &simulator,
            &full_message_request(&ids[0]),
            &assertion,
            &credential,
            Timestamp::now(),
        )
        .await;
        assert_eq!(reply.status, 200, "{mode:?}: {}", reply.text());
        assert_eq!(document_bytes(&reply, mode), sealed, "{mode:?}");
    }

    let log = simulator.log.all();
    assert!(
        log.iter()
            .filter(|record| record.operation.as_deref() == Some("getFullMessage"))
            .count()
            == 3
    );
    assert!(
        log.iter()
            .all(|record| record.caller_ssin.as_deref() == Some(ssin.as_str()))
    );
    simulator.shutdown().await;
}

/// Extracts the main document's bytes from a getFullMessage reply in `mode`.
fn document_bytes(reply: &Reply, mode: BinaryMode) -> Vec<u8> {
    match mode {
        BinaryMode::Inline => {
            assert!(
                reply.content_type.starts_with("text/xml"),
                "{}",
                reply.content_type
            );
            let text = texts(&reply.text(), "EncryptableTextContent");
            BASE64.decode(&text[0]).expect("base64 content")
        }
        BinaryMode::SwaRef | BinaryMode::Mtom => {
            let multipart =
                soap::parse_multipart(&reply.content_type, &reply.body).expect("MIME reply");
            let root = String::from_utf8(multipart.root.clone()).expect("UTF-8 envelope");
            let content_id = if mode == BinaryMode::SwaRef {
                assert!(
                    reply.content_type.contains("type=\"text/xml\""),
                    "{}",
                    reply.content_type
                );
                texts(&root, "EncryptableBinaryContent")[0]
                    .trim_start_matches("cid:")
                    .to_owned()
            } else {
                assert!(
                    reply.content_type.contains("type=\"application/xop+xml\""),
                    "{}",
                    reply.content_type
                );
                assert!(
                    multipart
                        .root_content_type
                        .starts_with("application/xop+xml")
                );
                include_href(&root).trim_start_matches("cid:").to_owned()
            };
            let part = multipart
                .parts
                .iter()
                .find(|part| part.content_id == content_id)
                .expect("referenced part");
            part.bytes.clone()
        }
    }
}

fn include_href(envelope: &str) -> String {
    let document = roxmltree::Document::parse(envelope).expect("well-formed envelope");
    let include = document
        .descendants()
        .find(|node| node.has_tag_name((soap::XOP_NS, "Include")))
        .expect("xop:Include");
    include.attribute("href").expect("href").to_owned()
}

#[tokio::test]
async fn tampered_requests_get_soa_01001() {
    let simulator = start().await;
    let (ssin, credential) = practice_doctor(0);
    let assertion = token(&simulator, &credential, &ssin)
        .await
        .expect("STS token");
    let client = https_client(&simulator);
    let now = Timestamp::now();

    let envelope =
        saml_envelope(&list_request(1, 10), &assertion, &credential, now).expect("signed envelope");
    let tampered = envelope.replace("<EndIndex>10</EndIndex>", "<EndIndex>11</EndIndex>");
    assert_ne!(tampered, envelope);
    let reply = post(
        &client,
        &simulator,
        Service::Consultation,
        "text/xml",
        tampered,
    )
    .await
    .expect("exchange");
    assert_rejected(
        &reply,
        "soap:Server",
        "SOA-01001",
        "request signature is invalid",
    );

    let minutes = |count: i64| SignedDuration::from_mins(count);
    let cases = [
        (now - minutes(10), "wsu:Timestamp expired"),
        (now + minutes(6), "is in the future"),
    ];
    for (signed_at, reason) in cases {
        let reply = consult(
            &simulator,
            &box_info_request(),
            &assertion,
            &credential,
            signed_at,
        )
        .await;
        assert_rejected(&reply, "soap:Server", "SOA-01001", reason);
    }
    simulator.shutdown().await;
}

/// Checks that `reply` is a platform fault with these codes whose message contains `reason`.
fn assert_rejected(reply: &Reply, faultcode: &str, code: &str, reason: &str) {
    assert_eq!(reply.status, 500, "{}", reply.text());
    let (actual_faultcode, actual_code) = fault_codes(&reply.text()).expect("platform fault");
    assert_eq!(actual_code, code, "{}", reply.text());
    assert_eq!(actual_faultcode, faultcode);
    let faultstring = texts(&reply.text(), "faultstring").concat();
    assert!(
        faultstring.contains(reason),
        "{faultstring:?} lacks {reason:?}"
    );
}

/// Returns the code and message of the platform fault a peer call ended with.
fn expect_fault(result: Result<String, PeerError>) -> (String, String) {
    match result {
        Err(PeerError::Fault { code, message }) => (code, message),
        other => panic!("expected a platform fault, got {other:?}"),
    }
}

#[tokio::test]
async fn foreign_assertion_and_doctor_rejected() {
    let simulator = start().await;
    let foreign_pki = TestPki::generate_with(
        9,
        Timestamp::now(),
        &pki::practice()[..1],
        &KeystoreOptions::fast(),
    )
    .expect("second PKI");
    let foreign = Simulator::start(SimConfig::loopback(foreign_pki.clone(), 9))
        .await
        .expect("second simulator");
    let foreign_doctor = &foreign_pki.doctors[0];
    let ssin = foreign_doctor.spec.ssin.clone();

    // A token from another STS, with another key, presented to this platform.
    let assertion = token(&foreign, &foreign_doctor.authentication, &ssin)
        .await
        .expect("foreign token");
    let reply = consult(
        &simulator,
        &box_info_request(),
        &assertion,
        &foreign_doctor.authentication,
        Timestamp::now(),
    )
    .await;
    assert_rejected(
        &reply,
        "soap:Server",
        "SOA-01001",
        "SAML assertion signature is invalid",
    );

    // A doctor whose certificate this platform's CAs did not issue.
    let (code, message) =
        expect_fault(token(&simulator, &foreign_doctor.authentication, &ssin).await);
    assert_eq!(code, "SOA-01001");
    assert!(message.contains("certificate rejected"), "{message}");
    foreign.shutdown().await;

    // A doctor whose certificate has expired.
    let expired = test_pki()
        .doctors
        .iter()
        .find(|doctor| doctor.spec.variant == Variant::Expired)
        .cloned()
        .expect("expired doctor");
    let (code, message) =
        expect_fault(token(&simulator, &expired.authentication, &expired.spec.ssin).await);
    assert_eq!(code, "SOA-01001");
    assert!(message.contains("expired"), "{message}");

    let record = simulator
        .log
        .all()
        .into_iter()
        .last()
        .expect("logged STS call");
    assert_eq!(record.operation.as_deref(), Some("RequestSecurityToken"));
    assert_eq!(record.fault_code.as_deref(), Some("SOA-01001"));
    simulator.shutdown().await;
}

#[tokio::test]
async fn person_without_doctor_quality_is_soa_01002() {
    let simulator = start().await;
    let person = test_pki()
        .doctors
        .iter()
        .find(|doctor| !doctor.spec.recognised_as_doctor)
        .cloned()
        .expect("non-doctor");
    let assertion = token(&simulator, &person.authentication, &person.spec.ssin)
        .await
        .expect("token without doctor quality");
    let reply = consult(
        &simulator,
        &box_info_request(),
        &assertion,
        &person.authentication,
        Timestamp::now(),
    )
    .await;
    assert_rejected(&reply, "soap:Server", "SOA-01002", "grants no quality");
    simulator.shutdown().await;
}

#[tokio::test]
async fn paging_250_messages_newest_first() {
    let simulator = start().await;
    let (ssin, credential) = practice_doctor(1);
    let delivered = deliver_documents(&simulator, &ssin, 250);
    let newest_first: Vec<String> = delivered.iter().rev().cloned().collect();
    let assertion = token(&simulator, &credential, &ssin)
        .await
        .expect("STS token");

    let mut pages = Vec::new();
    for (start, end) in [(1, 100), (101, 200), (201, 300)] {
        let reply = consult(
            &simulator,
            &list_request(start, end),
            &assertion,
            &credential,
            Timestamp::now(),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        pages.push(message_ids(&reply));
    }
    assert_eq!(pages[0].len(), 100);
    assert_eq!(pages[1].len(), 100);
    assert_eq!(pages[2].len(), 50);
    assert_eq!(pages.concat(), newest_first);
    simulator.shutdown().await;
}

#[tokio::test]
async fn index_shift_repeats_a_message() {
    let simulator = start().await;
    let (ssin, credential) = practice_doctor(2);
    deliver_documents(&simulator, &ssin, 150);
    let admin = simulator.admin_state();
    let shift_ssin = ssin.clone();
    tokio::task::spawn_blocking(move || admin.inject_index_shift(&shift_ssin))
        .await
        .expect("injection task")
        .expect("index shift armed");
    let assertion = token(&simulator, &credential, &ssin)
        .await
        .expect("STS token");

    let first = consult(
        &simulator,
        &list_request(1, 100),
        &assertion,
        &credential,
        Timestamp::now(),
    )
    .await;
    let second = consult(
        &simulator,
        &list_request(101, 200),
        &assertion,
        &credential,
        Timestamp::now(),
    )
    .await;
    let first = message_ids(&first);
    let second = message_ids(&second);
    assert_eq!(first.len(), 100);
    assert_eq!(second.len(), 51, "151 messages after the injection");
    assert_eq!(
        second[0], first[99],
        "the last message of page 1 comes again on page 2"
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn injected_soa_02001_reaches_peer() {
    let simulator = start().await;
    let (ssin, credential) = practice_doctor(0);
    let assertion = token(&simulator, &credential, &ssin)
        .await
        .expect("STS token");
    let rule = ehealth_sim::knobs::FaultRule {
        operation: "getBoxInfo".to_owned(),
        injection: ehealth_sim::knobs::Injection::SoapFault {
            code: "SOA-02001".to_owned(),
            message: None,
        },
        trigger: ehealth_sim::knobs::Trigger::NextCalls(1),
    };
    simulator.knobs.add_rule(rule).expect("valid rule");

    let reply = consult(
        &simulator,
        &box_info_request(),
        &assertion,
        &credential,
        Timestamp::now(),
    )
    .await;
    assert_rejected(&reply, "soap:Server", "SOA-02001", "Service not available");
    let reply = consult(
        &simulator,
        &box_info_request(),
        &assertion,
        &credential,
        Timestamp::now(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    simulator.shutdown().await;
}

#[tokio::test]
async fn forced_token_lifetime_applies() {
    let mut config = SimConfig::loopback(test_pki(), support::SEED);
    config.forced_token_lifetime = Some(SignedDuration::from_mins(2));
    let simulator = Simulator::start(config).await.expect("simulator start");
    let (ssin, credential) = practice_doctor(0);
    token(&simulator, &credential, &ssin)
        .await
        .expect("STS token");

    let issued = simulator.sts.issued_tokens();
    let lifetime = issued[0]
        .not_on_or_after
        .duration_since(issued[0].issued_at);
    assert_eq!(lifetime, SignedDuration::from_mins(2));
    simulator.shutdown().await;
}

#[tokio::test]
async fn publication_delivers_sealed_message() {
    let simulator = start().await;
    let (from, _) = practice_doctor(0);
    let (to, _) = practice_doctor(1);
    let outgoing = Outgoing {
        from: from.clone(),
        to: to.clone(),
        title: "Discharge letter".to_owned(),
        file_name: "letter.txt".to_owned(),
        mime_type: "text/plain".to_owned(),
        content: b"Patient discharged in good health.".to_vec(),
        encrypt: true,
        publication_id: "PUB0000000001".to_owned(),
    };

    let reply = send_message(
        &peer(&simulator),
        &simulator.pki,
        &outgoing,
        Timestamp::now(),
    )
    .await
    .expect("sendMessage accepted");
    assert_eq!(texts(&reply, "Code"), ["100"], "{reply}");

    let inbox = {
        let mut platform = simulator.platform.lock().expect("platform lock");
        platform.deliver_due(Timestamp::now());
        platform.box_state(&doctor_box(&to)).expect("recipient box")
    };
    assert_eq!(inbox.messages.len(), 1);
    let message = {
        let platform = simulator.platform.lock().expect("platform lock");
        platform
            .find_message(&doctor_box(&to), &inbox.messages[0].message_id)
            .expect("stored message")
    };
    assert!(message.content.is_encrypted);
    assert_eq!(message.content.sender.key.id, from);
    assert_eq!(message.content.document.content.first(), Some(&0x30));
    let plaintext = b"Patient discharged";
    assert!(
        !message
            .content
            .document
            .content
            .windows(plaintext.len())
            .any(|window| window == plaintext)
    );

    let operations: Vec<_> = simulator
        .log
        .all()
        .into_iter()
        .filter_map(|record| record.operation)
        .collect();
    assert_eq!(
        operations,
        ["RequestSecurityToken", "GetEtk", "GetEtk", "sendMessage"]
    );
    simulator.shutdown().await;
}
