//! The admin API over HTTP, and the practice seeding that `ehealth-sim serve --practice` runs.

mod support;

use ehealth_sim::admin::client::{AdminClient, ClientError};
use ehealth_sim::admin::{BoxSummary, MoveClock, SendGenerated, SetBinary};
use ehealth_sim::seed::{self, doctor_box};
use ehealth_sim::soap::{BinaryMode, Service};
use jiff::Timestamp;
use support::{get_etk_envelope, https_client, post, start, test_pki};

fn summaries(value: serde_json::Value) -> Vec<BoxSummary> {
    serde_json::from_value(value).expect("box summaries")
}

#[tokio::test]
async fn practice_has_three_doctors_and_mail() {
    let simulator = start().await;
    let admin = simulator.admin_state();
    let report = tokio::task::spawn_blocking(move || admin.seed_practice())
        .await
        .expect("seeding task")
        .expect("practice seeded");
    assert!(
        report.message_ids.len() >= 200,
        "{} messages",
        report.message_ids.len()
    );

    let client =
        AdminClient::new(simulator.addresses.admin.expect("admin listener")).expect("client");
    let boxes = summaries(client.get("/boxes").await.expect("GET /boxes"));
    let pki = test_pki();
    let practice: Vec<_> = seed::practice_doctors(&pki)
        .iter()
        .map(|doctor| doctor.spec.ssin.clone())
        .collect();
    assert_eq!(practice.len(), 3);
    let filled: Vec<&BoxSummary> = boxes
        .iter()
        .filter(|summary| summary.messages > 0)
        .collect();
    assert_eq!(filled.len(), 3, "{filled:?}");
    for summary in &filled {
        assert!(
            practice.contains(&summary.key.id),
            "{} is not a practice doctor",
            summary.key
        );
        assert_eq!(summary.key.id_type, "INSS");
        assert_eq!(summary.key.quality, "DOCTOR");
        assert!(summary.inbox >= 60, "{summary:?}");
    }
    let total: usize = filled.iter().map(|summary| summary.messages).sum();
    assert!(total >= 200, "{total} messages");

    let ssin = &practice[0];
    let state = client
        .get(&format!("/boxes/INSS/{ssin}/DOCTOR"))
        .await
        .expect("GET box");
    let messages = state["messages"].as_array().expect("messages");
    assert!(messages.len() >= 60, "{} messages", messages.len());
    let document = messages
        .iter()
        .find(|entry| entry["content_type"] == "Document")
        .and_then(|entry| entry["message_id"].as_str())
        .expect("a DOCUMENT message");
    let message = {
        let platform = simulator.platform.lock().expect("platform lock");
        platform
            .find_message(&doctor_box(ssin), document)
            .expect("stored message")
    };
    assert!(message.content.is_encrypted);
    assert_eq!(
        message.content.document.content.first(),
        Some(&0x30),
        "sealed content is CMS"
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn admin_sends_and_reports_errors() {
    let simulator = start().await;
    let client =
        AdminClient::new(simulator.addresses.admin.expect("admin listener")).expect("client");
    let ssin = support::first_doctor_ssin();

    client
        .post("/send", &SendGenerated { to: ssin.clone() })
        .await
        .expect("POST /send");
    let boxes = summaries(client.get("/boxes").await.expect("GET /boxes"));
    let inbox = boxes
        .iter()
        .find(|summary| summary.key.id == ssin)
        .expect("doctor box");
    assert_eq!(inbox.inbox, 1);

    let error = client
        .get("/boxes/INSS/00010100132/DOCTOR")
        .await
        .expect_err("unknown box");
    let ClientError::Rejected {
        status, message, ..
    } = error
    else {
        panic!("unexpected {error}")
    };
    assert_eq!(status, 404);
    assert!(
        message.contains("INSS 00010100132 (DOCTOR) not found"),
        "{message}"
    );

    let error = client
        .post(
            "/send",
            &SendGenerated {
                to: "12345678901".into(),
            },
        )
        .await
        .expect_err("unknown doctor");
    assert!(error.to_string().contains("12345678901"), "{error}");
    simulator.shutdown().await;
}

#[tokio::test]
async fn admin_moves_clock_and_sets_knobs() {
    let simulator = start().await;
    let client =
        AdminClient::new(simulator.addresses.admin.expect("admin listener")).expect("client");

    let frozen = "2026-03-01T08:00:00Z";
    let moved = client
        .post(
            "/clock",
            &MoveClock {
                advance_seconds: Some(90),
                freeze_at: Some(frozen.into()),
            },
        )
        .await
        .expect("POST /clock");
    let expected: Timestamp = "2026-03-01T08:01:30Z".parse().expect("timestamp");
    assert_eq!(
        moved["now"]
            .as_str()
            .and_then(|now| now.parse::<Timestamp>().ok()),
        Some(expected)
    );

    client
        .put(
            "/knobs/binary",
            &SetBinary {
                mode: Some(BinaryMode::SwaRef),
                double_base64: Some(true),
            },
        )
        .await
        .expect("PUT /knobs/binary");
    assert_eq!(simulator.knobs.binary_mode(), BinaryMode::SwaRef);
    assert!(simulator.knobs.double_base64());

    let rule = serde_json::json!({
        "operation": "GetEtk",
        "injection": { "kind": "soap-fault", "code": "SOA-00001" },
        "trigger": { "next-calls": 1 }
    });
    client
        .post("/knobs/faults", &rule)
        .await
        .expect("POST /knobs/faults");
    let https = https_client(&simulator);
    let reply = post(
        &https,
        &simulator,
        Service::EtkDepot,
        "text/xml",
        get_etk_envelope("00010100132"),
    )
    .await
    .expect("HTTPS exchange");
    assert_eq!(
        support::fault_codes(&reply.text())
            .map(|codes| codes.1)
            .as_deref(),
        Some("SOA-00001")
    );

    let log = client
        .get("/requests?after=0&limit=10")
        .await
        .expect("GET /requests");
    let records = log.as_array().expect("a list of records");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["fault_code"], "SOA-00001");
    assert_eq!(records[0]["operation"], "GetEtk");
    assert_eq!(records[0]["received_at"], "2026-03-01T08:01:30Z");

    let bad = serde_json::json!({ "operation": "*", "injection": { "kind": "http500" }, "trigger": { "rate": 2.0 } });
    let error = client
        .post("/knobs/faults", &bad)
        .await
        .expect_err("rate above 1");
    assert!(
        error.to_string().contains("invalid fault rate 2"),
        "{error}"
    );
    simulator.shutdown().await;
}
