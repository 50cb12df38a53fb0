//! The box's eHealth client against the in-process platform simulator over HTTPS: tokens, box
//! info, paging with an index shift, full messages in every binary mode, moves, token renewal
//! and the retry policy per fault.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ehealth_sim::clock::{Clock as _, SimClock};
use ehealth_sim::ehbox::Folder;
use ehealth_sim::knobs::{FaultRule, Injection, Trigger};
use ehealth_sim::pki::{self, Doctor, KeystoreOptions, TestPki};
use ehealth_sim::seed;
use ehealth_sim::server::{RunningSimulator, SimConfig, Simulator};
use ehealth_sim::soap::BinaryMode;
use jiff::{SignedDuration, Timestamp};
use practicebox::ehealth::clock::{Clock, ClockError};
use practicebox::ehealth::ehbox::{EhboxClient, RetryPolicy, Source, Transfer};
use practicebox::ehealth::endpoints::Endpoints;
use practicebox::ehealth::errors::EhealthError;
use practicebox::ehealth::fetch::FetchPass;
use practicebox::ehealth::keystore::EhealthKeystore;
use practicebox::ehealth::sts::{ACTION_CHALLENGE, ACTION_ISSUE, StsClient, TokenCache};
use practicebox::ehealth::transport::{HttpsTransport, SoapReply, SoapTransport, TransportError};
use practicebox::ehealth::unseal::{UnsealPolicy, unseal};
use practicebox::xmlsec::wsse::{self, KeySource};
use zeroize::Zeroizing;

const SEED: u64 = 20_261_204;

fn test_pki() -> TestPki {
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

/// The box's clock in tests: the simulator's clock, always synchronised, optionally behind it.
#[derive(Debug)]
struct SharedClock(Arc<SimClock>, SignedDuration);

impl Clock for SharedClock {
    fn now(&self) -> Timestamp {
        self.0.now() - self.1
    }

    fn check_synchronised(&self) -> Result<(), ClockError> {
        Ok(())
    }
}

/// A running simulator with everything the client needs to reach it.
struct Harness {
    simulator: RunningSimulator,
    endpoints: Endpoints,
    transport: HttpsTransport,
    clock: SharedClock,
    tokens: TokenCache,
    _ca_folder: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Self {
        Self::start_with_clock(Arc::new(SimClock::real_time())).await
    }

    async fn start_with_clock(clock: Arc<SimClock>) -> Self {
        Self::start_with(clock, SignedDuration::ZERO, None).await
    }

    /// Starts a simulator on `clock`, with the box's clock `lag` behind it and every token
    /// living `token_lifetime` when set.
    async fn start_with(
        clock: Arc<SimClock>,
        lag: SignedDuration,
        token_lifetime: Option<SignedDuration>,
    ) -> Self {
        let mut config = SimConfig::loopback(test_pki(), SEED);
        config.forced_token_lifetime = token_lifetime;
        config.http = None;
        config.admin = None;
        config.clock = Arc::clone(&clock);
        let simulator = Simulator::start(config).await.expect("simulator start");

        let ca_folder = tempfile::tempdir().expect("temp folder");
        let ca_file = ca_folder.path().join("ca.pem");
        std::fs::write(&ca_file, &simulator.ca_pem).expect("CA file");
        let base = format!("https://localhost:{}", simulator.addresses.https.port());
        let mut endpoints = Endpoints::simulator(&base, ca_file);
        endpoints
            .resolve
            .insert("localhost".to_owned(), simulator.addresses.https);
        endpoints.validate().expect("valid endpoints");
        let transport = HttpsTransport::new(&endpoints).expect("HTTPS transport");

        Self {
            simulator,
            endpoints,
            transport,
            clock: SharedClock(clock, lag),
            tokens: TokenCache::new(),
            _ca_folder: ca_folder,
        }
    }

    fn doctor(&self, index: usize) -> Doctor {
        self.simulator.pki.doctors[index].clone()
    }

    fn create_box(&self, doctor: &Doctor) {
        let mut platform = self.simulator.platform.lock().expect("platform lock");
        seed::create_doctor_box(&mut platform, doctor, None).expect("doctor box");
    }

    /// Creates the doctor's box and delivers `count` generated sealed messages; returns their ids.
    fn seed(&self, doctor: &Doctor, count: usize) -> Vec<String> {
        self.create_box(doctor);
        let report = self
            .simulator
            .admin()
            .seed_messages(&doctor.spec.ssin, count)
            .expect("seeded messages");
        report.message_ids
    }

    fn client<'a>(&'a self, keystore: &'a EhealthKeystore) -> EhboxClient<'a, HttpsTransport> {
        EhboxClient::new(
            &self.transport,
            &self.endpoints,
            &self.clock,
            &self.tokens,
            keystore,
        )
        .with_retry(fast_retry())
    }

    fn operations(&self, operation: &str) -> usize {
        self.simulator
            .log
            .all()
            .iter()
            .filter(|record| record.operation.as_deref() == Some(operation))
            .count()
    }

    fn fail_next(&self, operation: &str, injection: Injection, count: u32) {
        let rule = FaultRule {
            operation: operation.to_owned(),
            injection,
            trigger: Trigger::NextCalls(count),
        };
        self.simulator
            .knobs
            .add_rule(rule)
            .expect("valid fault rule");
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
    }
}

fn soap_fault(code: &str) -> Injection {
    Injection::SoapFault {
        code: code.to_owned(),
        message: None,
    }
}

fn open_keystore(doctor: &Doctor) -> EhealthKeystore {
    let password = Zeroizing::new(doctor.keystore.password.clone());
    EhealthKeystore::open(
        &doctor.keystore.file_name,
        &doctor.keystore.bytes,
        &password,
    )
    .expect("doctor keystore")
}

#[tokio::test]
async fn token_and_box_info() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(0);
    harness.create_box(&doctor);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);

    let token = client.token().await.expect("token");
    assert_eq!(token.ssin, doctor.spec.ssin);
    assert_eq!(token.doctor, Some(true));
    assert_eq!(token.nihii11.as_deref(), Some(doctor.spec.nihii11.as_str()));
    assert_eq!(token.issuer, "urn:be:fgov:ehealth:sts:1_0");
    assert!(token.lifetime() <= SignedDuration::from_hours(24));
    assert!(token.lifetime() > SignedDuration::from_hours(23));

    let info = client.get_box_info().await.expect("box info");
    assert_eq!(info.box_id.id, doctor.spec.ssin);
    assert_eq!(info.box_id.id_type, "INSS");
    assert_eq!(info.box_id.quality, "DOCTOR");
    assert_eq!(info.messages_in_standby, 0);

    // The cached token served the second call: one STS request in all.
    assert_eq!(harness.simulator.sts.issued_tokens().len(), 1);
    let log = harness.simulator.log.all();
    let sts_request = &log
        .iter()
        .find(|record| record.operation.as_deref() == Some("RequestSecurityToken"))
        .expect("STS request")
        .request;
    assert!(
        sts_request.contains("http://docs.oasis-open.org/ws-sx/wstrust/200512/PublicKey"),
        "{sts_request}"
    );
    let box_request = &log
        .iter()
        .find(|record| record.operation.as_deref() == Some("getBoxInfo"))
        .expect("getBoxInfo request")
        .request;
    assert!(
        box_request.contains("<ehbox:GetBoxInfoRequest xmlns:ehbox="),
        "{box_request}"
    );
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn paging_survives_index_shift() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(1);
    let seeded = harness.seed(&doctor, 250);
    assert_eq!(seeded.len(), 250);
    harness
        .simulator
        .admin()
        .inject_index_shift(&doctor.spec.ssin)
        .expect("index shift");
    let keystore = open_keystore(&doctor);

    let listed = harness
        .client(&keystore)
        .list_all(Source::Inbox)
        .await
        .expect("listing");

    let ids: Vec<&str> = listed
        .iter()
        .map(|message| message.message_id.as_str())
        .collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a message was listed twice");
    let seeded: HashSet<&str> = seeded.iter().map(String::as_str).collect();
    assert!(seeded.is_subset(&unique), "a seeded message was not listed");
    // The shift put one message before the listing's position: it may be seen or not.
    assert!(
        ids.len() == 250 || ids.len() == 251,
        "{} messages",
        ids.len()
    );
    assert_eq!(harness.operations("getMessagesList"), 3);
    let in_box = harness
        .simulator
        .platform
        .lock()
        .unwrap()
        .box_state(&seed::doctor_box(&doctor.spec.ssin))
        .expect("box state")
        .messages
        .len();
    assert_eq!(in_box, 251, "the index shift did not happen");
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn full_message_in_three_binary_modes() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(2);
    let ids = harness.seed(&doctor, 3);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);
    let policy = UnsealPolicy::default();

    let mut contents = Vec::new();
    let modes = [
        (BinaryMode::Inline, Transfer::Inline, false),
        (BinaryMode::SwaRef, Transfer::SwaRef, false),
        (BinaryMode::Mtom, Transfer::Mtom, false),
        (BinaryMode::Inline, Transfer::Inline, true),
        (BinaryMode::Mtom, Transfer::Mtom, true),
    ];
    for (mode, transfer, double_base64) in modes {
        harness.simulator.knobs.set_binary_mode(mode);
        harness.simulator.knobs.set_double_base64(double_base64);
        let message = client
            .get_full_message(&ids[0])
            .await
            .expect("full message");
        assert_eq!(message.message_id, ids[0]);
        assert!(message.is_encrypted);
        assert!(message.content_type.is_for_medical_software());
        assert_eq!(message.document.transfer, transfer, "{mode:?}");
        assert_eq!(
            message.document.content.first(),
            Some(&0x30),
            "{mode:?} double {double_base64}"
        );
        for annex in &message.annexes {
            assert_eq!(annex.transfer, transfer);
            unseal(&annex.content, &keystore, &policy).expect("annex unseals");
        }
        let unsealed =
            unseal(&message.document.content, &keystore, &policy).expect("document unseals");
        assert!(!unsealed.content.is_empty());
        contents.push(unsealed.content);
    }
    assert!(
        contents.windows(2).all(|pair| pair[0] == pair[1]),
        "modes disagree on the content"
    );
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn move_to_bin_and_replay() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(0);
    let ids = harness.seed(&doctor, 3);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);

    let report = client
        .move_messages(Source::Inbox, Source::BinInbox, &ids)
        .await
        .expect("move");
    assert_eq!(report.processed.len(), 3, "{report:?}");
    assert!(report.not_found.is_empty());
    let state = harness
        .simulator
        .platform
        .lock()
        .unwrap()
        .box_state(&seed::doctor_box(&doctor.spec.ssin))
        .expect("box state");
    for id in &ids {
        let entry = state
            .messages
            .iter()
            .find(|entry| &entry.message_id == id)
            .expect("entry");
        assert_eq!(entry.folder, Folder::BinInbox);
    }

    // The same move again, as after a lost reply: already gone counts as done.
    let replay = client
        .move_messages(Source::Inbox, Source::BinInbox, &ids)
        .await
        .expect("replayed move");
    assert!(replay.processed.is_empty(), "{replay:?}");
    let mut not_found = replay.not_found.clone();
    not_found.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(not_found, expected);

    assert!(
        client
            .list_all(Source::Inbox)
            .await
            .expect("inbox")
            .is_empty()
    );
    assert_eq!(
        client.list_all(Source::BinInbox).await.expect("bin").len(),
        3
    );
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn token_refused_mid_run_is_renewed_once() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(1);
    let ids = harness.seed(&doctor, 2);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);

    client
        .get_full_message(&ids[0])
        .await
        .expect("first message");
    assert_eq!(harness.simulator.sts.issued_tokens().len(), 1);

    harness.fail_next("getFullMessage", soap_fault("SOA-01001"), 1);
    let message = client
        .get_full_message(&ids[1])
        .await
        .expect("second message after renewal");
    assert_eq!(message.message_id, ids[1]);
    assert_eq!(harness.simulator.sts.issued_tokens().len(), 2);

    // Refused again right after the renewal: no second renewal, the error surfaces.
    harness.fail_next("getFullMessage", soap_fault("SOA-01001"), 2);
    let error = client
        .get_full_message(&ids[1])
        .await
        .expect_err("refused twice");
    assert!(
        matches!(error, EhealthError::RenewToken { .. }),
        "{error:?}"
    );
    assert_eq!(harness.simulator.sts.issued_tokens().len(), 3);
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn expired_token_mid_run_is_renewed() {
    // The platform's clock runs 10 s ahead of the box's, and tokens live 4 s: the box still
    // trusts its token when the platform already sees it expired.
    let start = Timestamp::now();
    let harness = Harness::start_with(
        Arc::new(SimClock::frozen(start)),
        SignedDuration::from_secs(10),
        Some(SignedDuration::from_secs(4)),
    )
    .await;
    let doctor = harness.doctor(2);
    let ids = harness.seed(&doctor, 2);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);

    client
        .get_full_message(&ids[0])
        .await
        .expect("first message");
    assert_eq!(harness.simulator.sts.issued_tokens().len(), 1);

    harness
        .simulator
        .clock
        .advance(SignedDuration::from_secs(5));
    let message = client
        .get_full_message(&ids[1])
        .await
        .expect("message after renewal");
    assert_eq!(message.message_id, ids[1]);
    assert_eq!(harness.simulator.sts.issued_tokens().len(), 2);

    let faults: Vec<Option<String>> = harness
        .simulator
        .log
        .all()
        .iter()
        .filter(|record| record.operation.as_deref() == Some("getFullMessage"))
        .map(|record| record.fault_code.clone())
        .collect();
    assert_eq!(faults, [None, Some("SOA-01001".to_owned()), None]);
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn token_renewed_past_half_lifetime() {
    let start = Timestamp::now();
    let harness = Harness::start_with_clock(Arc::new(SimClock::frozen(start))).await;
    let doctor = harness.doctor(0);
    harness.create_box(&doctor);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);

    client.get_box_info().await.expect("box info");
    harness
        .simulator
        .clock
        .advance(SignedDuration::from_hours(11));
    client.get_box_info().await.expect("box info after 11 h");
    assert_eq!(harness.simulator.sts.issued_tokens().len(), 1);

    harness
        .simulator
        .clock
        .advance(SignedDuration::from_hours(2));
    client.get_box_info().await.expect("box info after 13 h");
    assert_eq!(harness.simulator.sts.issued_tokens().len(), 2);
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn soa_02001_retried_with_backoff() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(2);
    harness.create_box(&doctor);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);
    client.token().await.expect("token");

    harness.fail_next("getBoxInfo", soap_fault("SOA-02001"), 2);
    let started = Instant::now();
    client.get_box_info().await.expect("box info after retries");
    let elapsed = started.elapsed();
    assert_eq!(harness.operations("getBoxInfo"), 3);
    assert!(
        elapsed >= Duration::from_millis(150),
        "backoff 50 + 100 ms, took {elapsed:?}"
    );

    // More failures than attempts: the last error surfaces as RetryLater.
    harness.fail_next("getBoxInfo", soap_fault("SOA-02002"), 4);
    let error = client.get_box_info().await.expect_err("attempts exhausted");
    assert!(
        matches!(error, EhealthError::RetryLater { .. }),
        "{error:?}"
    );
    assert_eq!(harness.operations("getBoxInfo"), 7);
    harness.simulator.shutdown().await;
}

/// Returns the `ds:SignatureValue` of the message signature (not the one inside the SAML
/// assertion) and the `wsu:Created` of the timestamp of a signed request.
fn signature_and_created(request: &str) -> (String, String) {
    let document = roxmltree::Document::parse(request).expect("request XML");
    let security = document
        .descendants()
        .find(|node| node.tag_name().name() == "Security")
        .expect("wsse:Security header");
    let signature = child_text(child(security, "Signature"), "SignatureValue");
    let created = child_text(child(security, "Timestamp"), "Created");
    (signature, created)
}

fn child<'a, 'input>(
    parent: roxmltree::Node<'a, 'input>,
    name: &str,
) -> roxmltree::Node<'a, 'input> {
    parent
        .children()
        .find(|node| node.tag_name().name() == name)
        .unwrap_or_else(|| panic!("no {name} in {}", parent.tag_name().name()))
}

fn child_text(parent: roxmltree::Node<'_, '_>, name: &str) -> String {
    child(parent, name)
        .text()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn retries_are_signed_anew() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(1);
    harness.create_box(&doctor);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);
    client.token().await.expect("token");

    harness.fail_next("getBoxInfo", Injection::DropConnection, 1);
    harness.fail_next("getBoxInfo", soap_fault("SOA-02001"), 1);
    client.get_box_info().await.expect("box info after retries");

    let attempts: Vec<_> = harness
        .simulator
        .log
        .all()
        .into_iter()
        .filter(|record| record.operation.as_deref() == Some("getBoxInfo"))
        .collect();
    assert_eq!(attempts.len(), 3);
    for attempt in &attempts {
        assert_eq!(
            attempt.soap_action.as_deref(),
            Some("urn:be:fgov:ehealth:ehbox:consultation:protocol:v3:getBoxInfo")
        );
    }
    let signed: Vec<_> = attempts
        .iter()
        .map(|attempt| signature_and_created(&attempt.request))
        .collect();
    let signatures: HashSet<_> = signed.iter().map(|(signature, _)| signature).collect();
    assert_eq!(signatures.len(), 3, "a retry resent an identical signature");
    let created: Vec<Timestamp> = signed
        .iter()
        .map(|(_, created)| created.parse().expect("wsu:Created"))
        .collect();
    assert!(created.is_sorted(), "{created:?}");
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn message_history_uses_its_soap_action() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(0);
    let ids = harness.seed(&doctor, 1);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);

    client
        .get_message_history("INBOX", &ids[0])
        .await
        .expect("history accepted with the strict SOAPAction check");

    let history = harness
        .simulator
        .log
        .all()
        .into_iter()
        .find(|record| record.operation.as_deref() == Some("getMessageHistory"))
        .expect("getMessageHistory request");
    assert_eq!(history.http_status, Some(200), "{:?}", history.response);
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn http_503_and_dropped_connection_retried() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(0);
    harness.create_box(&doctor);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);
    client.token().await.expect("token");

    harness.fail_next("getBoxInfo", Injection::Http503, 1);
    harness.fail_next("getBoxInfo", Injection::DropConnection, 1);
    client.get_box_info().await.expect("box info after retries");
    assert_eq!(harness.operations("getBoxInfo"), 3);
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn soa_01002_is_not_retried() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(0);
    harness.create_box(&doctor);
    let keystore = open_keystore(&doctor);
    let client = harness.client(&keystore);
    client.token().await.expect("token");

    harness.fail_next("getBoxInfo", soap_fault("SOA-01002"), 1);
    let error = client.get_box_info().await.expect_err("not authorised");
    assert!(
        matches!(error, EhealthError::AlertDoctor { .. }),
        "{error:?}"
    );
    assert_eq!(error.platform_code(), Some("SOA-01002"));
    assert_eq!(harness.operations("getBoxInfo"), 1);
    assert_eq!(harness.simulator.sts.issued_tokens().len(), 1);
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn doctor_not_recognised_gets_alert() {
    let harness = Harness::start().await;
    let pki = test_pki();
    let not_doctor = pki
        .doctors
        .iter()
        .find(|doctor| !doctor.spec.recognised_as_doctor)
        .expect("a person not recognised as doctor");
    let keystore = open_keystore(not_doctor);
    let error = harness
        .client(&keystore)
        .token()
        .await
        .expect_err("no doctor quality");
    assert!(
        matches!(error, EhealthError::AlertDoctor { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("as a doctor"), "{error}");
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn expired_certificate_gets_alert_without_sts_call() {
    let harness = Harness::start().await;
    let pki = test_pki();
    let expired = pki
        .doctors
        .iter()
        .find(|doctor| doctor.spec.variant == pki::Variant::Expired)
        .expect("a doctor with an expired certificate");
    let keystore = open_keystore(expired);
    let error = harness
        .client(&keystore)
        .token()
        .await
        .expect_err("expired certificate");
    assert!(
        matches!(error, EhealthError::AlertDoctor { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("expired on"), "{error}");
    assert_eq!(harness.operations("RequestSecurityToken"), 0);
    harness.simulator.shutdown().await;
}

#[tokio::test]
async fn fetch_pass_downloads_unseals_and_moves() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(1);
    let ids = harness.seed(&doctor, 4);
    let keystore = open_keystore(&doctor);
    let pass = FetchPass {
        transport: &harness.transport,
        endpoints: &harness.endpoints,
        clock: &harness.clock,
        tokens: &harness.tokens,
        keystore: &keystore,
        retry: fast_retry(),
    };

    let summary = pass.run(true).await.expect("fetch pass");
    assert_eq!(summary.downloaded.len(), 4);
    let message_lines: Vec<&String> = summary
        .lines
        .iter()
        .filter(|line| ids.iter().any(|id| line.starts_with(id.as_str())))
        .collect();
    assert_eq!(message_lines.len(), 4, "{:#?}", summary.lines);
    for line in &message_lines {
        assert!(line.contains("unsealed"), "{line}");
        assert!(!line.contains("FAILED"), "{line}");
    }
    let moved = summary.moved.expect("move report");
    assert_eq!(moved.processed.len(), 4);
    assert!(
        summary
            .lines
            .last()
            .is_some_and(|line| line.starts_with("moved to BININBOX: 4"))
    );
    harness.simulator.shutdown().await;
}

/// A transport that answers the first Issue request with a sign challenge and, once the client
/// answers it, forwards the saved Issue request to the simulator for a real token.
struct ChallengingTransport<'a> {
    inner: &'a HttpsTransport,
    saved_issue: Mutex<Option<String>>,
    answers: Mutex<Vec<String>>,
}

const CHALLENGE_CONTEXT: &str = "urn:uuid:5d0c7a52-challenge";
const CHALLENGE_TEXT: &str = "c0ffee0123456789";

impl SoapTransport for ChallengingTransport<'_> {
    async fn post(
        &self,
        url: &str,
        action: &str,
        envelope: String,
    ) -> Result<SoapReply, TransportError> {
        if action == ACTION_ISSUE {
            *self.saved_issue.lock().expect("saved issue lock") = Some(envelope);
            let body = format!(
                "<wst:RequestSecurityTokenResponse xmlns:wst=\"http://docs.oasis-open.org/ws-sx/ws-trust/200512\" \
                 Context=\"{CHALLENGE_CONTEXT}\"><wst:SignChallenge><wst:Challenge>{CHALLENGE_TEXT}</wst:Challenge>\
                 </wst:SignChallenge></wst:RequestSecurityTokenResponse>"
            );
            return Ok(SoapReply {
                envelope: ehealth_sim::soap::envelope(&body),
                attachments: Vec::new(),
            });
        }
        if action == ACTION_CHALLENGE {
            self.answers.lock().expect("answers lock").push(envelope);
            let issue = self
                .saved_issue
                .lock()
                .expect("saved issue lock")
                .take()
                .expect("an Issue request before the answer");
            return self.inner.post(url, ACTION_ISSUE, issue).await;
        }
        self.inner.post(url, action, envelope).await
    }
}

#[tokio::test]
async fn sts_challenge_answered_with_holder_key() {
    let harness = Harness::start().await;
    let doctor = harness.doctor(0);
    let keystore = open_keystore(&doctor);
    let transport = ChallengingTransport {
        inner: &harness.transport,
        saved_issue: Mutex::new(None),
        answers: Mutex::new(Vec::new()),
    };

    let sts = StsClient::new(&transport, &harness.endpoints, &harness.clock);
    let token = sts
        .issue(&keystore)
        .await
        .expect("token after the challenge");
    assert_eq!(token.ssin, doctor.spec.ssin);

    let answers = transport.answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 1);
    let document = roxmltree::Document::parse(&answers[0]).expect("answer XML");
    let response = document
        .descendants()
        .find(|node| node.tag_name().name() == "RequestSecurityTokenResponse")
        .expect("RequestSecurityTokenResponse");
    assert_eq!(response.attribute("Context"), Some(CHALLENGE_CONTEXT));
    let challenge = response
        .descendants()
        .find(|node| node.tag_name().name() == "Challenge")
        .and_then(|node| node.text());
    assert_eq!(challenge, Some(CHALLENGE_TEXT));

    let received = wsse::verify_envelope(&document).expect("signed answer");
    let KeySource::BinarySecurityToken { .. } = &received.key_source else {
        panic!("the answer must carry the holder-of-key certificate as a BinarySecurityToken");
    };
    assert_eq!(
        received.key_source.certificate_der(),
        doctor.authentication.certificate_der()
    );
    harness.simulator.shutdown().await;
}

#[test]
fn fetch_command_reads_config_file() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let harness = runtime.block_on(Harness::start());
    let doctor = harness.doctor(2);
    let ids = harness.seed(&doctor, 2);

    let folder = tempfile::tempdir().expect("temp folder");
    let keystore_file = folder.path().join(&doctor.keystore.file_name);
    std::fs::write(&keystore_file, &doctor.keystore.bytes).expect("keystore file");
    let password_file = folder.path().join("keystore.pass");
    std::fs::write(&password_file, format!("{}\n", doctor.keystore.password))
        .expect("password file");
    let ca_file = folder.path().join("ca.pem");
    std::fs::write(&ca_file, &harness.simulator.ca_pem).expect("CA file");
    let https = harness.simulator.addresses.https;
    let config = format!(
        "[ehealth]\npreset = \"simulator\"\nbase_url = \"https://localhost:{port}\"\n\
         ca_file = {ca:?}\nresolve = {{ \"localhost\" = \"{https}\" }}\n\n\
         [doctor]\nkeystore = {keystore:?}\npassword_file = {password:?}\n\n\
         [clock]\ntrust_system_clock = true\n",
        port = https.port(),
        ca = ca_file.display().to_string(),
        keystore = keystore_file.display().to_string(),
        password = password_file.display().to_string(),
    );
    let config_file = folder.path().join("practicebox.toml");
    std::fs::write(&config_file, config).expect("config file");

    let args = practicebox::ehealth::fetch::FetchArgs {
        once: true,
        config: config_file,
        move_to_bin: true,
    };
    practicebox::ehealth::fetch::run_fetch(&args).expect("fetch --once");

    let state = harness
        .simulator
        .platform
        .lock()
        .unwrap()
        .box_state(&seed::doctor_box(&doctor.spec.ssin))
        .expect("box state");
    for id in &ids {
        let entry = state
            .messages
            .iter()
            .find(|entry| &entry.message_id == id)
            .expect("entry");
        assert_eq!(entry.folder, Folder::BinInbox);
        assert!(entry.read, "getFullMessage marks the message read");
    }
    runtime.block_on(harness.simulator.shutdown());
}
