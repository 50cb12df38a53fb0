//! Token check tests: eHealthBox envelopes built with the test PKI's keys and STS tokens.

use jiff::{SignedDuration, Timestamp};
use practicebox_xmlsec::dsig::{
    self, Algorithms, KeyInfo, ReferenceSpec, SignatureParent, SignatureRequest,
};

use super::*;
use crate::peer::{self, StsReply, TokenRequest};
use crate::pki::{Credential, Doctor};
use crate::sts::tests::{config, fixture, not_recognised, now, recognised};
use crate::sts::{Sts, StsConfig};

const BODY: &str =
    r#"<cons:GetBoxInfoRequest xmlns:cons="urn:be:fgov:ehealth:ehbox:consultation:protocol:v3"/>"#;

fn authenticator() -> Authenticator {
    Authenticator::new(
        fixture().pki.sts.certificate_der(),
        TimestampPolicy::default(),
    )
    .expect("STS certificate")
}

fn token_from(config: StsConfig, doctor: &Doctor) -> String {
    let sts = Sts::new(config).expect("STS configuration");
    let credential = &doctor.authentication;
    let body = TokenRequest::doctor(&doctor.spec.ssin).body(credential.certificate_der(), now());
    let envelope =
        peer::x509_envelope(&body, credential, now(), Algorithms::SHA256).expect("envelope");
    let reply = sts
        .handle(&envelope, None, now())
        .unwrap_or_else(|fault| panic!("token expected, got {}: {}", fault.code, fault.message));
    match peer::read_sts_reply(&reply.body).expect("reply") {
        StsReply::Token(assertion) => assertion,
        other => panic!("token expected, got {other:?}"),
    }
}

fn token(doctor: &Doctor) -> String {
    token_from(config(), doctor)
}

fn request(assertion: &str, holder: &Credential, created: Timestamp) -> String {
    peer::saml_envelope(BODY, assertion, holder, created).expect("signed envelope")
}

fn expect_rejected(result: Result<AuthenticatedRequest, Fault>, reason: &str) {
    match result {
        Ok(request) => panic!("expected SOA-01001, got caller {:?}", request.caller),
        Err(fault) => {
            assert_eq!(fault.code, "SOA-01001", "fault message: {}", fault.message);
            assert!(
                fault.message.contains(reason),
                "fault message {:?} lacks {reason:?}",
                fault.message
            );
        }
    }
}

fn assertion_id(assertion: &str) -> String {
    let doc = roxmltree::Document::parse(assertion).expect("assertion XML");
    doc.root_element()
        .attribute("AssertionID")
        .expect("AssertionID")
        .to_owned()
}

#[test]
fn valid_request_gives_caller() {
    let doctor = recognised();
    let assertion = token(doctor);
    let envelope = request(&assertion, &doctor.authentication, now());

    let authenticated = authenticator()
        .authenticate(&envelope, now())
        .unwrap_or_else(|fault| panic!("{}", fault.message));
    assert_eq!(authenticated.caller.ssin, doctor.spec.ssin);
    assert!(authenticated.caller.is_doctor);
    assert_eq!(
        authenticated.caller.nihii11.as_deref(),
        Some(doctor.spec.nihii11.as_str())
    );
    assert_eq!(authenticated.caller.assertion_id, assertion_id(&assertion));
    assert_eq!(authenticated.operation, "GetBoxInfoRequest");
    assert_eq!(&envelope[authenticated.body_range.clone()], BODY);
    assert_eq!(
        authenticated.holder_of_key_der,
        doctor.authentication.certificate_der()
    );
}

#[test]
fn non_doctor_caller_has_no_quality() {
    let person = not_recognised();
    let envelope = request(&token(person), &person.authentication, now());
    let authenticated = authenticator()
        .authenticate(&envelope, now())
        .unwrap_or_else(|fault| panic!("{}", fault.message));
    assert_eq!(authenticated.caller.ssin, person.spec.ssin);
    assert!(!authenticated.caller.is_doctor);
    assert_eq!(authenticated.caller.personal_quality(), None);
}

#[test]
fn assertion_signed_by_other_key_rejected() {
    let doctor = recognised();
    let other = &fixture().other;
    let mut forged = config();
    forged.signing_key = other.sts.key().clone();
    forged.certificate_der = other.sts.certificate_der().to_vec();
    let assertion = token_from(forged, doctor);
    let envelope = request(&assertion, &doctor.authentication, now());
    expect_rejected(
        authenticator().authenticate(&envelope, now()),
        "SAML assertion signature is invalid",
    );
}

#[test]
fn expired_assertion_rejected() {
    let doctor = recognised();
    let mut short = config();
    short.forced_token_lifetime = Some(SignedDuration::from_mins(2));
    let assertion = token_from(short, doctor);
    let later = now() + SignedDuration::from_mins(10);
    let envelope = request(&assertion, &doctor.authentication, later);
    expect_rejected(
        authenticator().authenticate(&envelope, later),
        "SAML assertion expired",
    );
}

#[test]
fn assertion_valid_until_its_end() {
    let doctor = recognised();
    let mut short = config();
    short.forced_token_lifetime = Some(SignedDuration::from_mins(2));
    let assertion = token_from(short, doctor);
    let almost = now() + SignedDuration::from_secs(119);
    let envelope = request(&assertion, &doctor.authentication, almost);
    assert!(authenticator().authenticate(&envelope, almost).is_ok());
}

#[test]
fn request_signed_by_other_key_rejected() {
    let holder = recognised();
    let intruder = &fixture().pki.doctors[1];
    let holder_assertion = token(holder);
    let intruder_assertion = token(intruder);

    // The intruder signs with its own key, then puts the holder's assertion in the header and
    // names it in KeyInfo. KeyInfo is not covered by the signature, so the digests still match.
    let envelope = request(&intruder_assertion, &intruder.authentication, now())
        .replace(&intruder_assertion, &holder_assertion)
        .replace(
            &assertion_id(&intruder_assertion),
            &assertion_id(&holder_assertion),
        );
    assert!(envelope.contains(&holder_assertion));
    expect_rejected(
        authenticator().authenticate(&envelope, now()),
        "holder-of-key certificate",
    );
}

#[test]
fn unsigned_timestamp_rejected() {
    let doctor = recognised();
    let assertion = token(doctor);
    let envelope = envelope_signing_body_only(&assertion, &doctor.authentication);
    expect_rejected(
        authenticator().authenticate(&envelope, now()),
        "wsu:Timestamp of the Security header is not signed",
    );
}

#[test]
fn stale_timestamp_rejected() {
    let doctor = recognised();
    let assertion = token(doctor);
    let envelope = request(
        &assertion,
        &doctor.authentication,
        now() - SignedDuration::from_mins(2),
    );
    expect_rejected(
        authenticator().authenticate(&envelope, now()),
        "wsu:Timestamp expired",
    );
}

#[test]
fn tampered_body_rejected() {
    let doctor = recognised();
    let assertion = token(doctor);
    let envelope = request(&assertion, &doctor.authentication, now())
        .replace("<cons:GetBoxInfoRequest xmlns:cons=\"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3\"/>", "<cons:GetBoxInfoRequest xmlns:cons=\"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3\"><BoxId/></cons:GetBoxInfoRequest>");
    expect_rejected(
        authenticator().authenticate(&envelope, now()),
        "digest mismatch",
    );
}

#[test]
fn timestamp_policy_boundaries() {
    let policy = TimestampPolicy::default();
    let created = now();
    let expires = now() + SignedDuration::from_secs(60);
    assert_eq!(policy.check(created, expires, now()), Ok(()));
    assert!(matches!(
        policy.check(expires, created, now()),
        Err(TimestampError::ExpiresNotAfterCreated { .. })
    ));
    assert!(matches!(
        policy.check(created, expires, expires),
        Err(TimestampError::Expired { .. })
    ));

    let ahead = now() + SignedDuration::from_secs(301);
    let ahead_expires = ahead + SignedDuration::from_secs(60);
    assert!(matches!(
        policy.check(ahead, ahead_expires, now()),
        Err(TimestampError::InFuture { .. })
    ));

    let long_lived = now() + SignedDuration::from_hours(1);
    let late = now() + SignedDuration::from_mins(6);
    assert!(matches!(
        policy.check(created, long_lived, late),
        Err(TimestampError::TooOld { .. })
    ));
}

/// Builds an eHealthBox envelope whose signature covers the Body but not the Timestamp.
fn envelope_signing_body_only(assertion: &str, holder: &Credential) -> String {
    let created = crate::sts::format_instant(now());
    let expires = crate::sts::format_instant(now() + SignedDuration::from_secs(60));
    let unsigned = format!(
        r#"<soap:Envelope xmlns:soap="{soap}" xmlns:wsse="{wsse}" xmlns:wsu="{wsu}"><soap:Header><wsse:Security soap:mustUnderstand="1"><wsu:Timestamp wsu:Id="TS-1"><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>{assertion}</wsse:Security></soap:Header><soap:Body wsu:Id="Body-1">{BODY}</soap:Body></soap:Envelope>"#,
        soap = ns::SOAP,
        wsse = ns::WSSE,
        wsu = ns::WSU,
    );
    let key_info = format!(
        r#"<wsse:SecurityTokenReference><wsse:KeyIdentifier ValueType="{}">{}</wsse:KeyIdentifier></wsse:SecurityTokenReference>"#,
        wsse::SAML_ASSERTION_ID_VALUE_TYPE,
        assertion_id(assertion)
    );
    let request = SignatureRequest {
        parent: SignatureParent::Element {
            namespace: ns::WSSE.to_owned(),
            local_name: "Security".to_owned(),
        },
        references: vec![ReferenceSpec::new("Body-1")],
        algorithms: Algorithms::SHA256,
        signed_info_prefixes: Vec::new(),
        key_info: KeyInfo::Fragment(key_info),
    };
    dsig::sign(&unsigned, &request, holder.key()).expect("signed envelope")
}

#[test]
fn replayed_request_rejected() {
    let doctor = recognised();
    let assertion = token(doctor);
    let envelope = request(&assertion, &doctor.authentication, now());
    let checks = authenticator();
    checks
        .authenticate(&envelope, now())
        .unwrap_or_else(|fault| panic!("{}", fault.message));

    let later = now() + SignedDuration::from_secs(5);
    expect_rejected(checks.authenticate(&envelope, later), "already received");

    let fresh = request(&assertion, &doctor.authentication, later);
    assert!(checks.authenticate(&fresh, later).is_ok());
}

#[test]
fn replay_check_can_be_relaxed() {
    let doctor = recognised();
    let envelope = request(&token(doctor), &doctor.authentication, now());
    let replay = std::sync::Arc::new(ReplayCache::default());
    replay.set_enabled(false);
    let checks = authenticator().with_replay_cache(replay);

    assert!(checks.authenticate(&envelope, now()).is_ok());
    assert!(checks.authenticate(&envelope, now()).is_ok());
}

#[test]
fn rejected_request_is_not_recorded() {
    let doctor = recognised();
    let envelope = request(&token(doctor), &doctor.authentication, now());
    let checks = authenticator();
    let too_late = now() + SignedDuration::from_mins(10);

    assert!(checks.authenticate(&envelope, too_late).is_err());
    assert!(checks.authenticate(&envelope, now()).is_ok());
}

#[test]
fn replay_window_ends_when_timestamp_fails() {
    let policy = TimestampPolicy::default();
    let created = now();
    let short = policy.replay_window_end(created, created + SignedDuration::from_secs(60));
    assert_eq!(short, created + SignedDuration::from_secs(60));
    assert!(
        policy
            .check(created, created + SignedDuration::from_secs(60), short)
            .is_err()
    );

    let long = policy.replay_window_end(created, created + SignedDuration::from_hours(1));
    assert!(long > created + policy.max_age);
    assert!(
        policy
            .check(created, created + SignedDuration::from_hours(1), long)
            .is_err()
    );
    assert!(
        policy
            .check(
                created,
                created + SignedDuration::from_hours(1),
                created + policy.max_age
            )
            .is_ok()
    );
}
