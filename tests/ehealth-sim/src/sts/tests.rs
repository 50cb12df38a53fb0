//! STS tests: WS-Trust requests signed with the test PKI's keys, handled without HTTP.

use std::sync::OnceLock;

use jiff::{SignedDuration, Timestamp};
use practicebox_xmlsec::dsig::Algorithms;
use practicebox_xmlsec::wsse;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::peer::{self, StsReply, TokenRequest};
use crate::pki::cert::{self, CertificateRequest, Usage};
use crate::pki::{Credential, Doctor, KeystoreOptions, TestPki, Variant};

/// Returns the instant every test runs at.
pub(crate) fn now() -> Timestamp {
    "2026-06-01T10:00:00Z".parse().expect("valid instant")
}

pub(crate) struct Fixture {
    pub pki: TestPki,
    /// A PKI with another CA and another STS key.
    pub other: TestPki,
    /// A second, application-specific certificate of the first doctor, from the same CA.
    pub second_credential: Credential,
}

pub(crate) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let options = KeystoreOptions::fast();
        let pki =
            TestPki::generate_with(7, now(), &crate::pki::practice(), &options).expect("test PKI");
        let other = TestPki::generate_with(8, now(), &crate::pki::practice()[..1], &options)
            .expect("other PKI");
        let second_credential = issue_second_credential(&pki);
        Fixture {
            pki,
            other,
            second_credential,
        }
    })
}

fn issue_second_credential(pki: &TestPki) -> Credential {
    let doctor = &pki.doctors[0];
    let ssin = &doctor.spec.ssin;
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let key = cert::generate_key(&mut rng).expect("key");
    let subject = format!(
        "CN=SSIN={ssin} APPTEST,OU=eHealth-platform Belgium,OU=APPTEST,O=Federal Government,C=BE"
    );
    let request = CertificateRequest {
        subject: cert::name(&subject).expect("name"),
        not_before: doctor.authentication.not_before(),
        not_after: doctor.authentication.not_after(),
        usage: Usage::Signing,
    };
    let serial = cert::random_serial(&mut rng).expect("serial");
    let certificate = cert::issue(
        request,
        serial,
        key.as_public_key(),
        Some(&pki.issuing),
        &key,
    )
    .expect("certificate");
    Credential::new(certificate, key).expect("credential")
}

fn doctor(variant: Variant) -> &'static Doctor {
    fixture()
        .pki
        .doctors
        .iter()
        .find(|doctor| doctor.spec.variant == variant)
        .expect("doctor of variant")
}

pub(crate) fn recognised() -> &'static Doctor {
    &fixture().pki.doctors[0]
}

pub(crate) fn not_recognised() -> &'static Doctor {
    fixture()
        .pki
        .doctors
        .iter()
        .find(|doctor| !doctor.spec.recognised_as_doctor)
        .expect("non-doctor")
}

/// Creates a configuration with the first PKI's STS key and CAs, listing every recognised
/// doctor in the directory.
pub(crate) fn config() -> StsConfig {
    let pki = &fixture().pki;
    let mut config = StsConfig::new(
        pki.sts.key().clone(),
        pki.sts.certificate_der().to_vec(),
        vec![
            pki.issuing.certificate_der().to_vec(),
            pki.root.certificate_der().to_vec(),
        ],
    );
    for doctor in pki
        .doctors
        .iter()
        .filter(|doctor| doctor.spec.recognised_as_doctor)
    {
        config.directory.insert(
            doctor.spec.ssin.clone(),
            Person {
                doctor: true,
                nihii11: Some(doctor.spec.nihii11.clone()),
            },
        );
    }
    config
}

fn sts(config: StsConfig) -> Sts {
    Sts::new(config).expect("STS configuration")
}

fn issue_envelope(
    signer: &Credential,
    holder: &Credential,
    request: &TokenRequest,
    created: Timestamp,
    algorithms: Algorithms,
) -> String {
    let body = request.body(holder.certificate_der(), now());
    peer::x509_envelope(&body, signer, created, algorithms).expect("signed envelope")
}

fn direct_envelope(doctor: &Doctor) -> String {
    let credential = &doctor.authentication;
    issue_envelope(
        credential,
        credential,
        &TokenRequest::doctor(&doctor.spec.ssin),
        now(),
        Algorithms::SHA256,
    )
}

fn expect_token(result: Result<SoapReply, Fault>) -> String {
    let reply = result.unwrap_or_else(|fault| {
        panic!(
            "expected a token, got fault {}: {}",
            fault.code, fault.message
        )
    });
    match peer::read_sts_reply(&reply.body).expect("readable reply") {
        StsReply::Token(assertion) => assertion,
        other => panic!("expected a token, got {other:?}"),
    }
}

fn expect_fault(result: Result<SoapReply, Fault>, code: &str, reason: &str) {
    match result {
        Ok(reply) => panic!("expected fault {code}, got reply {}", reply.body),
        Err(fault) => {
            assert_eq!(fault.code, code, "fault message: {}", fault.message);
            assert!(
                fault.message.contains(reason),
                "fault message {:?} lacks {reason:?}",
                fault.message
            );
        }
    }
}

fn attribute(assertion: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(assertion).expect("assertion XML");
    doc.descendants()
        .filter(|node| node.has_tag_name((SAML_NS, "Attribute")))
        .find(|node| node.attribute("AttributeName") == Some(name))
        .and_then(|node| {
            node.descendants()
                .find(|n| n.has_tag_name((SAML_NS, "AttributeValue")))
        })
        .and_then(|value| value.text().map(str::to_owned))
}

fn not_on_or_after(assertion: &str) -> Timestamp {
    let doc = roxmltree::Document::parse(assertion).expect("assertion XML");
    let conditions = doc
        .descendants()
        .find(|node| node.has_tag_name((SAML_NS, "Conditions")))
        .expect("Conditions");
    conditions
        .attribute("NotOnOrAfter")
        .expect("NotOnOrAfter")
        .parse()
        .expect("instant")
}

fn verify_with_xmlsec1(assertion: &str, sts: &Credential) {
    let dir = tempfile::tempdir().expect("temp dir");
    let document = dir.path().join("assertion.xml");
    let certificate = dir.path().join("sts.pem");
    std::fs::write(&document, assertion).expect("write assertion");
    std::fs::write(&certificate, sts.certificate_pem().expect("PEM")).expect("write certificate");

    let output = std::process::Command::new("xmlsec1")
        .arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(&certificate)
        .arg("--id-attr:AssertionID")
        .arg(format!("{SAML_NS}:Assertion"))
        .arg(&document)
        .output()
        .unwrap_or_else(|err| panic!("cannot run xmlsec1 ({err}); install the xmlsec1 package"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "xmlsec1 rejected the assertion: {stderr}"
    );
    assert!(stderr.contains("OK"), "xmlsec1 did not report OK: {stderr}");
}

#[test]
fn direct_issue_gives_signed_assertion() {
    let doctor = recognised();
    let sts = sts(config());
    let assertion = expect_token(sts.handle(&direct_envelope(doctor), Some(ACTION_ISSUE), now()));

    let pki = &fixture().pki;
    let sts_key = practicebox_xmlsec::dsig::certificate_public_key(pki.sts.certificate_der())
        .expect("STS key");
    wsse::verify_assertion_text(&assertion, &sts_key)
        .expect("assertion signature verifies with the STS key");
    verify_with_xmlsec1(&assertion, &pki.sts);

    assert!(assertion.contains(&format!(r#"Issuer="{ISSUER}""#)));
    assert_eq!(
        attribute(&assertion, PERSON_SSIN).as_deref(),
        Some(doctor.spec.ssin.as_str())
    );
    assert_eq!(
        attribute(&assertion, CERTIFICATE_HOLDER_SSIN).as_deref(),
        Some(doctor.spec.ssin.as_str())
    );
    assert_eq!(
        attribute(&assertion, DOCTOR_BOOLEAN).as_deref(),
        Some("true")
    );
    assert_eq!(
        attribute(&assertion, DOCTOR_NIHII11).as_deref(),
        Some(doctor.spec.nihii11.as_str())
    );

    let doc = roxmltree::Document::parse(&assertion).expect("assertion XML");
    let holder =
        wsse::holder_of_key_certificate(doc.root_element()).expect("holder-of-key certificate");
    assert_eq!(holder, doctor.authentication.certificate_der());
    assert_eq!(
        not_on_or_after(&assertion),
        now() + SignedDuration::from_hours(24)
    );
}

#[test]
fn issued_tokens_are_recorded() {
    let doctor = recognised();
    let sts = sts(config());
    let assertion = expect_token(sts.handle(&direct_envelope(doctor), None, now()));

    let issued = sts.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].ssin, doctor.spec.ssin);
    assert_eq!(issued[0].assertion_xml, assertion);
    assert_eq!(issued[0].not_on_or_after, not_on_or_after(&assertion));
}

#[test]
fn rsa_sha1_request_accepted() {
    let doctor = recognised();
    let credential = &doctor.authentication;
    let request = TokenRequest::doctor(&doctor.spec.ssin);
    let envelope = issue_envelope(credential, credential, &request, now(), Algorithms::SHA1);
    assert!(envelope.contains("xmldsig#rsa-sha1"));
    expect_token(sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()));
}

#[test]
fn standard_key_type_accepted() {
    let doctor = recognised();
    let credential = &doctor.authentication;
    let mut request = TokenRequest::doctor(&doctor.spec.ssin);
    request.key_type = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey".to_owned();
    let envelope = issue_envelope(credential, credential, &request, now(), Algorithms::SHA256);
    expect_token(sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()));
}

#[test]
fn unknown_key_type_rejected() {
    let doctor = recognised();
    let credential = &doctor.authentication;
    let mut request = TokenRequest::doctor(&doctor.spec.ssin);
    request.key_type = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/SymmetricKey".to_owned();
    let envelope = issue_envelope(credential, credential, &request, now(), Algorithms::SHA256);
    expect_fault(
        sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()),
        "SOA-03007",
        "wst:KeyType",
    );
}

#[test]
fn tampered_body_rejected() {
    let doctor = recognised();
    let envelope = direct_envelope(doctor).replace(
        DOCTOR_NIHII11,
        "urn:be:fgov:person:ssin:ehealth:1.0:nurse:boolean",
    );
    expect_fault(
        sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()),
        "SOA-01001",
        "digest mismatch",
    );
}

#[test]
fn expired_timestamp_rejected() {
    let doctor = recognised();
    let credential = &doctor.authentication;
    let request = TokenRequest::doctor(&doctor.spec.ssin);
    let created = now() - SignedDuration::from_mins(2);
    let envelope = issue_envelope(
        credential,
        credential,
        &request,
        created,
        Algorithms::SHA256,
    );
    expect_fault(
        sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()),
        "SOA-01001",
        "expired",
    );
}

#[test]
fn future_timestamp_rejected() {
    let doctor = recognised();
    let credential = &doctor.authentication;
    let request = TokenRequest::doctor(&doctor.spec.ssin);
    let created = now() + SignedDuration::from_mins(6);
    let envelope = issue_envelope(
        credential,
        credential,
        &request,
        created,
        Algorithms::SHA256,
    );
    expect_fault(
        sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()),
        "SOA-01001",
        "in the future",
    );
}

#[test]
fn timestamp_within_skew_accepted() {
    let doctor = recognised();
    let credential = &doctor.authentication;
    let request = TokenRequest::doctor(&doctor.spec.ssin);
    let created = now() + SignedDuration::from_mins(4);
    let envelope = issue_envelope(
        credential,
        credential,
        &request,
        created,
        Algorithms::SHA256,
    );
    expect_token(sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()));
}

#[test]
fn expired_certificate_rejected() {
    let envelope = direct_envelope(doctor(Variant::Expired));
    expect_fault(
        sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()),
        "SOA-01001",
        "expired at",
    );
}

#[test]
fn certificate_of_other_ca_rejected() {
    let stranger = &fixture().other.doctors[0];
    let envelope = direct_envelope(stranger);
    expect_fault(
        sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()),
        "SOA-01001",
        "does not verify with the key of",
    );
}

#[test]
fn claimed_ssin_must_match_certificate() {
    let doctor = recognised();
    let credential = &doctor.authentication;
    let request = TokenRequest::doctor(&fixture().pki.doctors[1].spec.ssin);
    let envelope = issue_envelope(credential, credential, &request, now(), Algorithms::SHA256);
    expect_fault(
        sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()),
        "SOA-01001",
        "asserts SSIN",
    );
}

#[test]
fn unknown_person_gets_no_doctor_attributes() {
    let person = not_recognised();
    let assertion =
        expect_token(sts(config()).handle(&direct_envelope(person), Some(ACTION_ISSUE), now()));

    assert_eq!(
        attribute(&assertion, PERSON_SSIN).as_deref(),
        Some(person.spec.ssin.as_str())
    );
    assert_eq!(attribute(&assertion, DOCTOR_BOOLEAN), None);
    assert_eq!(attribute(&assertion, DOCTOR_NIHII11), None);
    assert!(
        !assertion.contains("doctor:boolean"),
        "assertion mentions doctor:boolean: {assertion}"
    );
}

#[test]
fn requested_48_hours_capped_to_24() {
    let doctor = recognised();
    let credential = &doctor.authentication;
    let mut request = TokenRequest::doctor(&doctor.spec.ssin);
    request.lifetime = SignedDuration::from_hours(48);
    let envelope = issue_envelope(credential, credential, &request, now(), Algorithms::SHA256);
    let assertion = expect_token(sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()));
    assert_eq!(
        not_on_or_after(&assertion),
        now() + SignedDuration::from_hours(24)
    );
}

#[test]
fn shorter_request_kept() {
    let doctor = recognised();
    let credential = &doctor.authentication;
    let mut request = TokenRequest::doctor(&doctor.spec.ssin);
    request.lifetime = SignedDuration::from_hours(1);
    let envelope = issue_envelope(credential, credential, &request, now(), Algorithms::SHA256);
    let assertion = expect_token(sts(config()).handle(&envelope, Some(ACTION_ISSUE), now()));
    assert_eq!(
        not_on_or_after(&assertion),
        now() + SignedDuration::from_hours(1)
    );
}

#[test]
fn lifetime_capped_at_certificate_end() {
    let doctor = doctor(Variant::ExpiresSoon);
    let credential = &doctor.authentication;
    let mut request = TokenRequest::doctor(&doctor.spec.ssin);
    request.lifetime = SignedDuration::from_hours(24 * 30);
    let mut config = config();
    config.max_token_lifetime = SignedDuration::from_hours(24 * 60);
    let envelope = issue_envelope(credential, credential, &request, now(), Algorithms::SHA256);
    let assertion = expect_token(sts(config).handle(&envelope, Some(ACTION_ISSUE), now()));
    assert_eq!(not_on_or_after(&assertion), credential.not_after());
}

#[test]
fn forced_lifetime_overrides_request() {
    let mut config = config();
    config.forced_token_lifetime = Some(SignedDuration::from_mins(2));
    let assertion =
        expect_token(sts(config).handle(&direct_envelope(recognised()), Some(ACTION_ISSUE), now()));
    assert_eq!(
        not_on_or_after(&assertion),
        now() + SignedDuration::from_mins(2)
    );
}

#[test]
fn challenge_round_trip_issues_token() {
    let doctor = recognised();
    let holder = &doctor.authentication;
    let signer = &fixture().second_credential;
    let request = TokenRequest::doctor(&doctor.spec.ssin);
    let sts = sts(config());

    let first = sts.handle(
        &issue_envelope(signer, holder, &request, now(), Algorithms::SHA256),
        Some(ACTION_ISSUE),
        now(),
    );
    let reply = first.unwrap_or_else(|fault| {
        panic!("challenge expected, got {}: {}", fault.code, fault.message)
    });
    let StsReply::Challenge { context, challenge } =
        peer::read_sts_reply(&reply.body).expect("reply")
    else {
        panic!("expected a sign challenge, got {}", reply.body);
    };
    assert_eq!(context, request.context);
    assert!(
        sts.issued_tokens().is_empty(),
        "token issued before the challenge was answered"
    );

    let answer = peer::challenge_answer_body(&context, &challenge);
    let envelope =
        peer::x509_envelope(&answer, holder, now(), Algorithms::SHA256).expect("envelope");
    let assertion = expect_token(sts.handle(&envelope, Some(ACTION_CHALLENGE), now()));

    let doc = roxmltree::Document::parse(&assertion).expect("assertion XML");
    let hok =
        wsse::holder_of_key_certificate(doc.root_element()).expect("holder-of-key certificate");
    assert_eq!(hok, holder.certificate_der());
    assert_eq!(
        attribute(&assertion, DOCTOR_BOOLEAN).as_deref(),
        Some("true")
    );
}

#[test]
fn challenge_answer_by_other_key_rejected() {
    let doctor = recognised();
    let holder = &doctor.authentication;
    let signer = &fixture().second_credential;
    let request = TokenRequest::doctor(&doctor.spec.ssin);
    let sts = sts(config());

    let reply = sts
        .handle(
            &issue_envelope(signer, holder, &request, now(), Algorithms::SHA256),
            Some(ACTION_ISSUE),
            now(),
        )
        .unwrap_or_else(|fault| {
            panic!("challenge expected, got {}: {}", fault.code, fault.message)
        });
    let StsReply::Challenge { context, challenge } =
        peer::read_sts_reply(&reply.body).expect("reply")
    else {
        panic!("expected a sign challenge");
    };
    let answer = peer::challenge_answer_body(&context, &challenge);
    let envelope =
        peer::x509_envelope(&answer, signer, now(), Algorithms::SHA256).expect("envelope");
    expect_fault(
        sts.handle(&envelope, Some(ACTION_CHALLENGE), now()),
        "SOA-01001",
        "not by the holder-of-key",
    );
}

#[test]
fn wrong_challenge_text_rejected() {
    let doctor = recognised();
    let holder = &doctor.authentication;
    let signer = &fixture().second_credential;
    let request = TokenRequest::doctor(&doctor.spec.ssin);
    let sts = sts(config());
    sts.handle(
        &issue_envelope(signer, holder, &request, now(), Algorithms::SHA256),
        Some(ACTION_ISSUE),
        now(),
    )
    .unwrap_or_else(|fault| panic!("challenge expected, got {}: {}", fault.code, fault.message));

    let answer = peer::challenge_answer_body(&request.context, "not-the-challenge");
    let envelope =
        peer::x509_envelope(&answer, holder, now(), Algorithms::SHA256).expect("envelope");
    expect_fault(
        sts.handle(&envelope, Some(ACTION_CHALLENGE), now()),
        "SOA-01001",
        "does not repeat the challenge",
    );
}

#[test]
fn unknown_body_element_rejected() {
    let credential = &recognised().authentication;
    let body = r#"<x:Ping xmlns:x="urn:example:ping"/>"#;
    let envelope =
        peer::x509_envelope(body, credential, now(), Algorithms::SHA256).expect("envelope");
    expect_fault(
        sts(config()).handle(&envelope, None, now()),
        "SOA-03005",
        "Ping",
    );
}

#[test]
fn non_soap_request_rejected() {
    expect_fault(
        sts(config()).handle("<hello/>", None, now()),
        "SOA-03002",
        "soap:Envelope",
    );
    expect_fault(
        sts(config()).handle("not xml", None, now()),
        "SOA-03001",
        "not well-formed",
    );
}
