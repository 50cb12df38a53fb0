//! WS-Security envelopes: both request flavours, the server-side checks, wrapping attacks, and
//! xmlsec1 as an independent verifier.

// Helpers outside #[test] functions unwrap too: a failed setup step should fail the test.
#![allow(clippy::unwrap_used)]

mod common;

use practicebox_xmlsec::dsig::{
    self, Algorithms, DigestMethod, DsigError, KeyInfo, ReferenceSpec, SignatureMethod,
    SignatureParent, SignatureRequest,
};
use practicebox_xmlsec::ids::IdError;
use practicebox_xmlsec::wsse::{
    self, EnvelopeOptions, IdGenerator, KeySource, RandomIds, SequentialIds, WsseError,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng as _;
use roxmltree::Document;

use common::{
    FIRST_SIGNATURE_XPATH, MESSAGE_SIGNATURE_XPATH, SOAP_NS, TestIdentity, WSSE_NS, client,
    intruder, sts, unsigned_assertion, xmlsec1_verify,
};

const BODY: &str = "<ehbox:GetMessagesListRequest \
    xmlns:ehbox=\"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3\"><Source>INBOX</Source>\
    </ehbox:GetMessagesListRequest>";

const ASSERTION_ID: &str = "_4f1c2e0b9a7d";

fn created() -> jiff::Timestamp {
    "2026-12-04T10:00:00Z".parse().unwrap()
}

fn options(algorithms: Algorithms) -> EnvelopeOptions {
    EnvelopeOptions {
        algorithms,
        ..EnvelopeOptions::new(created())
    }
}

fn x509_envelope(algorithms: Algorithms) -> String {
    let identity = client();
    wsse::build_x509_envelope(
        BODY,
        &identity.certificate_der,
        &identity.key,
        &options(algorithms),
        &mut SequentialIds::new(),
    )
    .unwrap()
}

fn signed_assertion_for(holder: &TestIdentity) -> String {
    let unsigned = unsigned_assertion(ASSERTION_ID, holder);
    wsse::sign_assertion(
        &unsigned,
        &sts().key,
        &sts().certificate_der,
        Algorithms::SHA256,
    )
    .unwrap()
}

fn signed_assertion() -> String {
    signed_assertion_for(client())
}

fn saml_envelope(algorithms: Algorithms) -> String {
    wsse::build_saml_envelope(
        BODY,
        &signed_assertion(),
        &client().key,
        &options(algorithms),
        &mut SequentialIds::new(),
    )
    .unwrap()
}

/// Cuts the first `<open…</close>` element out of `text` and returns it with the rest.
fn cut(text: &str, open: &str, close: &str) -> (String, String) {
    let start = text.find(open).unwrap();
    let end = text[start..].find(close).unwrap() + start + close.len();
    (
        text[start..end].to_owned(),
        format!("{}{}", &text[..start], &text[end..]),
    )
}

fn verify_text(text: &str) -> Result<(), WsseError> {
    let doc = Document::parse(text).unwrap();
    wsse::verify_envelope(&doc).map(|_| ())
}

#[test]
fn x509_envelope_round_trip() {
    let text = x509_envelope(Algorithms::SHA256);
    let doc = Document::parse(&text).unwrap();
    let envelope = wsse::verify_envelope(&doc).unwrap();

    assert_eq!(envelope.timestamp.created, created());
    assert_eq!(
        envelope.timestamp.expires,
        "2026-12-04T10:01:00Z".parse().unwrap()
    );
    assert!(envelope.body_signed);
    assert!(envelope.timestamp_signed);
    assert!(envelope.token_signed);
    assert_eq!(
        envelope.signature.signature_method,
        SignatureMethod::RsaSha256
    );
    assert_eq!(envelope.signature.references.len(), 3);
    assert_eq!(
        envelope.key_source.certificate_der(),
        client().certificate_der
    );
    assert!(matches!(
        envelope.key_source,
        KeySource::BinarySecurityToken { .. }
    ));
    assert_eq!(
        envelope
            .body
            .first_element_child()
            .unwrap()
            .tag_name()
            .name(),
        "GetMessagesListRequest"
    );
}

#[test]
fn x509_envelope_layout() {
    let text = x509_envelope(Algorithms::SHA256);

    assert!(text.contains("<wsse:Security soap:mustUnderstand=\"1\">"));
    assert!(text.contains(
        "<wsu:Timestamp wsu:Id=\"TS-1\"><wsu:Created>2026-12-04T10:00:00.000Z</wsu:Created>\
         <wsu:Expires>2026-12-04T10:01:00.000Z</wsu:Expires></wsu:Timestamp>"
    ));
    assert!(text.contains("wsu:Id=\"X509-2\">"));
    assert!(text.contains(&format!("ValueType=\"{}\"", wsse::X509V3_VALUE_TYPE)));
    assert!(text.contains(&format!("EncodingType=\"{}\"", wsse::BASE64_ENCODING_TYPE)));
    assert!(text.contains(&format!("<soap:Body wsu:Id=\"Body-3\">{BODY}</soap:Body>")));
    assert!(text.contains("<wsse:SecurityTokenReference><wsse:Reference URI=\"#X509-2\""));
    let body_reference = text.find("URI=\"#Body-3\"").unwrap();
    let timestamp_reference = text.find("URI=\"#TS-1\"").unwrap();
    let token_reference = text.find("URI=\"#X509-2\"><ds:Transforms>").unwrap();
    assert!(body_reference < timestamp_reference);
    assert!(timestamp_reference < token_reference);
}

#[test]
fn x509_envelope_sha1() {
    let text = x509_envelope(Algorithms::SHA1);
    let doc = Document::parse(&text).unwrap();
    let envelope = wsse::verify_envelope(&doc).unwrap();

    assert_eq!(
        envelope.signature.signature_method,
        SignatureMethod::RsaSha1
    );
    for reference in &envelope.signature.references {
        assert_eq!(reference.digest_method, DigestMethod::Sha1);
    }
}

#[test]
fn timestamp_keeps_milliseconds_and_ttl() {
    let options = EnvelopeOptions {
        created: "2026-12-04T23:59:30.123Z".parse().unwrap(),
        time_to_live: jiff::SignedDuration::from_secs(300),
        algorithms: Algorithms::SHA256,
    };
    let identity = client();
    let text = wsse::build_x509_envelope(
        BODY,
        &identity.certificate_der,
        &identity.key,
        &options,
        &mut SequentialIds::new(),
    )
    .unwrap();

    assert!(text.contains("<wsu:Created>2026-12-04T23:59:30.123Z</wsu:Created>"));
    assert!(text.contains("<wsu:Expires>2026-12-05T00:04:30.123Z</wsu:Expires>"));
}

#[test]
fn saml_envelope_round_trip() {
    let assertion = signed_assertion();
    let text = saml_envelope(Algorithms::SHA256);
    let doc = Document::parse(&text).unwrap();
    let envelope = wsse::verify_envelope(&doc).unwrap();

    let KeySource::SamlAssertion(token) = &envelope.key_source else {
        panic!(
            "expected a SAML key source, found {:?}",
            envelope.key_source
        );
    };
    assert_eq!(token.assertion_id, ASSERTION_ID);
    assert_eq!(token.text, assertion);
    assert_eq!(
        token.holder_of_key_certificate_der,
        client().certificate_der
    );
    assert!(envelope.body_signed);
    assert!(envelope.timestamp_signed);
    assert!(!envelope.token_signed);
    assert_eq!(envelope.signature.references.len(), 2);

    let verified =
        wsse::verify_assertion_signature(&doc, token.element, &sts().public_key()).unwrap();
    assert!(verified.covers(token.element));
}

#[test]
fn saml_envelope_layout() {
    let text = saml_envelope(Algorithms::SHA256);

    assert!(
        text.contains("<wsse:Security soap:mustUnderstand=\"1\"><wsu:Timestamp wsu:Id=\"TS-1\">")
    );
    assert!(text.contains(&format!(
        "<wsse:SecurityTokenReference wsse11:TokenType=\"{}\"><wsse:KeyIdentifier ValueType=\"{}\">\
         {ASSERTION_ID}</wsse:KeyIdentifier></wsse:SecurityTokenReference>",
        wsse::SAML_V11_TOKEN_TYPE,
        wsse::SAML_ASSERTION_ID_VALUE_TYPE
    )));
    assert!(text.contains("<soap:Body wsu:Id=\"Body-2\">"));
    assert!(!text.contains("BinarySecurityToken"));
}

#[test]
fn assertion_bytes_survive_verbatim() {
    let assertion = signed_assertion();
    let text = saml_envelope(Algorithms::SHA256);
    let start = text.find("<saml:Assertion").unwrap();

    assert_eq!(&text[start..start + assertion.len()], assertion);
    assert!(assertion.contains("MinorVersion='1'"));
    assert!(assertion.contains("<saml:Conditions  NotBefore"));
    assert_eq!(
        wsse::verify_assertion_text(&assertion, &sts().public_key()).unwrap(),
        ASSERTION_ID
    );
}

#[test]
fn saml_envelope_sha1() {
    let text = saml_envelope(Algorithms::SHA1);
    let doc = Document::parse(&text).unwrap();
    let envelope = wsse::verify_envelope(&doc).unwrap();

    assert_eq!(
        envelope.signature.signature_method,
        SignatureMethod::RsaSha1
    );
}

#[test]
fn envelopes_are_reproducible() {
    assert_eq!(
        x509_envelope(Algorithms::SHA256),
        x509_envelope(Algorithms::SHA256)
    );
    assert_eq!(
        saml_envelope(Algorithms::SHA256),
        saml_envelope(Algorithms::SHA256)
    );
}

#[test]
fn random_ids_follow_the_seed() {
    let draw = |seed| {
        let mut ids = RandomIds::new(ChaCha20Rng::seed_from_u64(seed));
        [ids.next_id("TS"), ids.next_id("Body")]
    };
    let first = draw(7);

    assert_eq!(first, draw(7));
    assert_ne!(first, draw(8));
    assert_ne!(first[0][3..], first[1][5..]);
    assert!(first[0].starts_with("TS-"));
    assert_eq!(first[0].len(), "TS-".len() + 32);
}

#[test]
fn xmlsec1_verifies_x509_envelope() {
    for algorithms in [Algorithms::SHA256, Algorithms::SHA1] {
        let text = x509_envelope(algorithms);
        let outcome = xmlsec1_verify(&text, &client().certificate_pem(), MESSAGE_SIGNATURE_XPATH);

        assert!(
            outcome.success,
            "xmlsec1 rejected {algorithms:?}:\n{}",
            outcome.output
        );
        assert!(
            outcome
                .output
                .contains("SignedInfo References (ok/all): 3/3"),
            "{}",
            outcome.output
        );
    }
}

#[test]
fn xmlsec1_verifies_saml_envelope() {
    let text = saml_envelope(Algorithms::SHA256);
    let outcome = xmlsec1_verify(&text, &client().certificate_pem(), MESSAGE_SIGNATURE_XPATH);

    assert!(
        outcome.success,
        "xmlsec1 rejected the message signature:\n{}",
        outcome.output
    );
    assert!(
        outcome
            .output
            .contains("SignedInfo References (ok/all): 2/2"),
        "{}",
        outcome.output
    );
}

#[test]
fn xmlsec1_verifies_embedded_assertion() {
    // The assertion comes before the message signature, so its signature is the first one.
    let text = saml_envelope(Algorithms::SHA256);
    let outcome = xmlsec1_verify(&text, &sts().certificate_pem(), FIRST_SIGNATURE_XPATH);

    assert!(
        outcome.success,
        "xmlsec1 rejected the assertion signature:\n{}",
        outcome.output
    );
    assert!(
        outcome
            .output
            .contains("SignedInfo References (ok/all): 1/1"),
        "{}",
        outcome.output
    );
}

#[test]
fn xmlsec1_rejects_other_key() {
    let text = saml_envelope(Algorithms::SHA256);
    let outcome = xmlsec1_verify(
        &text,
        &intruder().certificate_pem(),
        MESSAGE_SIGNATURE_XPATH,
    );

    assert!(
        !outcome.success,
        "xmlsec1 accepted a wrong key:\n{}",
        outcome.output
    );
}

#[test]
fn body_moved_to_header_is_rejected() {
    // Signature wrapping: the signed body is parked in the header and a new body takes its
    // place. Its ID still resolves, so only node identity shows the real body is unsigned.
    let text = saml_envelope(Algorithms::SHA256);
    let (body, rest) = cut(&text, "<soap:Body", "</soap:Body>");
    let wrapped = rest
        .replace(
            "</soap:Header>",
            &format!("<Wrapper>{body}</Wrapper></soap:Header>"),
        )
        .replace(
            "</soap:Envelope>",
            "<soap:Body><ehbox:DeleteMessageRequest \
             xmlns:ehbox=\"urn:be:fgov:ehealth:ehbox:consultation:protocol:v3\"/></soap:Body>\
             </soap:Envelope>",
        );
    let doc = Document::parse(&wrapped).unwrap();
    let envelope = wsse::parse_envelope(&doc).unwrap();

    assert!(!envelope.body_signed);
    assert!(envelope.timestamp_signed);
    assert!(matches!(
        verify_text(&wrapped),
        Err(WsseError::UnsignedBody)
    ));
}

#[test]
fn second_body_with_same_id_is_rejected() {
    let text = x509_envelope(Algorithms::SHA256);
    let (body, rest) = cut(&text, "<soap:Body", "</soap:Body>");
    let forged = body.replace("INBOX", "BININBOX");
    let wrapped = rest.replace(
        "</soap:Header>",
        &format!("<Wrapper>{body}</Wrapper></soap:Header>{forged}"),
    );
    let error = verify_text(&wrapped).unwrap_err();

    assert!(matches!(error, WsseError::Id(IdError::Duplicate { id, .. }) if id == "Body-3"));
}

#[test]
fn timestamp_moved_out_is_rejected() {
    let text = x509_envelope(Algorithms::SHA256);
    let (timestamp, rest) = cut(&text, "<wsu:Timestamp", "</wsu:Timestamp>");
    let fresh = "<wsu:Timestamp><wsu:Created>2026-12-04T12:00:00Z</wsu:Created>\
                 <wsu:Expires>2026-12-04T12:01:00Z</wsu:Expires></wsu:Timestamp>";
    let wrapped = rest
        .replace(
            "<wsse:Security soap:mustUnderstand=\"1\">",
            &format!("<wsse:Security soap:mustUnderstand=\"1\">{fresh}"),
        )
        .replace(
            "</soap:Header>",
            &format!("<Wrapper>{timestamp}</Wrapper></soap:Header>"),
        );
    let doc = Document::parse(&wrapped).unwrap();
    let envelope = wsse::parse_envelope(&doc).unwrap();

    assert_eq!(
        envelope.timestamp.created,
        "2026-12-04T12:00:00Z".parse().unwrap()
    );
    assert!(!envelope.timestamp_signed);
    assert!(matches!(
        verify_text(&wrapped),
        Err(WsseError::UnsignedTimestamp)
    ));
}

#[test]
fn tampered_timestamp_is_rejected() {
    let text = saml_envelope(Algorithms::SHA256).replace("10:01:00.000Z", "18:01:00.000Z");
    let error = verify_text(&text).unwrap_err();

    assert!(matches!(&error,
        WsseError::Signature(DsigError::DigestMismatch { uri }) if uri == "#TS-1"));
    assert_eq!(
        error.to_string(),
        "ws-security signature rejected: digest mismatch for reference \"#TS-1\"; the element \
         was changed after signing"
    );
}

#[test]
fn tampered_body_is_rejected() {
    let text = x509_envelope(Algorithms::SHA256).replace("INBOX", "SENTBOX");
    let error = verify_text(&text).unwrap_err();

    assert!(matches!(error,
        WsseError::Signature(DsigError::DigestMismatch { uri }) if uri == "#Body-3"));
}

/// An X.509 envelope whose signature covers `references` and is made with `signer`, while the
/// BinarySecurityToken carries the certificate of `token_owner`.
fn crafted_x509_envelope(
    references: &[&str],
    signer: &TestIdentity,
    token_owner: &TestIdentity,
) -> String {
    let text = x509_envelope(Algorithms::SHA256);
    let (signature, unsigned) = cut(&text, "<ds:Signature", "</ds:Signature>");
    let (key_info, _) = cut(
        &signature,
        "<wsse:SecurityTokenReference",
        "</wsse:SecurityTokenReference>",
    );
    let unsigned = swap_token(&unsigned, token_owner);
    let request = SignatureRequest {
        parent: SignatureParent::Element {
            namespace: WSSE_NS.to_owned(),
            local_name: "Security".to_owned(),
        },
        references: references
            .iter()
            .map(|id| ReferenceSpec::new(*id))
            .collect(),
        algorithms: Algorithms::SHA256,
        signed_info_prefixes: Vec::new(),
        key_info: KeyInfo::Fragment(key_info),
    };
    dsig::sign(&unsigned, &request, &signer.key).unwrap()
}

fn swap_token(text: &str, owner: &TestIdentity) -> String {
    use base64::Engine as _;

    let current = base64::engine::general_purpose::STANDARD.encode(&client().certificate_der);
    let replacement = base64::engine::general_purpose::STANDARD.encode(&owner.certificate_der);
    text.replace(&current, &replacement)
}

#[test]
fn unsigned_timestamp_is_rejected() {
    let text = crafted_x509_envelope(&["Body-3", "X509-2"], client(), client());
    let doc = Document::parse(&text).unwrap();

    assert!(!wsse::parse_envelope(&doc).unwrap().timestamp_signed);
    assert!(matches!(
        verify_text(&text),
        Err(WsseError::UnsignedTimestamp)
    ));
}

#[test]
fn unsigned_body_is_rejected() {
    let text = crafted_x509_envelope(&["TS-1", "X509-2"], client(), client());

    assert!(matches!(verify_text(&text), Err(WsseError::UnsignedBody)));
}

#[test]
fn key_not_matching_token_is_rejected() {
    // Signed by the intruder, while the token it references carries the client's certificate.
    let text = crafted_x509_envelope(&["Body-3", "TS-1", "X509-2"], intruder(), client());
    let error = verify_text(&text).unwrap_err();

    assert!(matches!(
        error,
        WsseError::Signature(DsigError::BadSignatureValue)
    ));
}

#[test]
fn swapped_assertion_key_is_rejected() {
    // The same AssertionID, signed by the STS, but for another holder: the message signature
    // does not verify with that holder's key.
    let text = saml_envelope(Algorithms::SHA256);
    let other = signed_assertion_for(intruder());
    let swapped = text.replace(&signed_assertion(), &other);
    assert_ne!(swapped, text);

    let error = verify_text(&swapped).unwrap_err();
    assert!(matches!(
        error,
        WsseError::Signature(DsigError::BadSignatureValue)
    ));
}

#[test]
fn key_identifier_without_assertion_is_rejected() {
    let text = saml_envelope(Algorithms::SHA256).replace(
        &format!(">{ASSERTION_ID}</wsse:KeyIdentifier>"),
        ">_missing</wsse:KeyIdentifier>",
    );
    let error = verify_text(&text).unwrap_err();

    assert!(matches!(&error, WsseError::AssertionNotInHeader(id) if id == "_missing"));
    assert_eq!(
        error.to_string(),
        "key identifier names assertion \"_missing\", which is not a saml:Assertion in this header"
    );
}

#[test]
fn assertion_outside_header_is_rejected() {
    let text = saml_envelope(Algorithms::SHA256);
    let (assertion, rest) = cut(&text, "<saml:Assertion", "</saml:Assertion>");
    let moved = rest.replace(
        "</soap:Header>",
        &format!("<Wrapper>{assertion}</Wrapper></soap:Header>"),
    );
    let error = verify_text(&moved).unwrap_err();

    assert!(matches!(error, WsseError::AssertionNotInHeader(id) if id == ASSERTION_ID));
}

#[test]
fn missing_security_header_is_rejected() {
    let text = x509_envelope(Algorithms::SHA256);
    let (_, rest) = cut(&text, "<wsse:Security", "</wsse:Security>");
    let error = verify_text(&rest).unwrap_err();

    assert_eq!(
        error.to_string(),
        "missing <wsse:Security> in <soap:Header>"
    );
}

#[test]
fn missing_header_is_rejected() {
    let text = x509_envelope(Algorithms::SHA256);
    let (_, rest) = cut(&text, "<soap:Header>", "</soap:Header>");

    assert!(matches!(
        verify_text(&rest),
        Err(WsseError::MissingElement {
            element: "soap:Header",
            ..
        })
    ));
}

#[test]
fn missing_timestamp_is_rejected() {
    let text = saml_envelope(Algorithms::SHA256);
    let (_, rest) = cut(&text, "<wsu:Timestamp", "</wsu:Timestamp>");

    assert!(matches!(
        verify_text(&rest),
        Err(WsseError::MissingElement {
            element: "wsu:Timestamp",
            ..
        })
    ));
}

#[test]
fn second_security_header_is_rejected() {
    let text = x509_envelope(Algorithms::SHA256)
        .replace("</soap:Header>", "<wsse:Security/></soap:Header>");

    assert!(matches!(
        verify_text(&text),
        Err(WsseError::DuplicateElement {
            element: "wsse:Security",
            ..
        })
    ));
}

#[test]
fn token_outside_header_is_rejected() {
    let text = x509_envelope(Algorithms::SHA256);
    let (token, rest) = cut(
        &text,
        "<wsse:BinarySecurityToken",
        "</wsse:BinarySecurityToken>",
    );
    let moved = rest.replace(
        "</soap:Header>",
        &format!("<Wrapper>{token}</Wrapper></soap:Header>"),
    );

    assert!(matches!(verify_text(&moved), Err(WsseError::TokenNotInHeader(id)) if id == "X509-2"));
}

#[test]
fn not_an_envelope_is_rejected() {
    let error = verify_text(BODY).unwrap_err();

    assert_eq!(
        error.to_string(),
        "document element <GetMessagesListRequest> is not a SOAP 1.1 soap:Envelope"
    );
}

#[test]
fn body_with_undeclared_prefix_is_rejected() {
    let identity = client();
    let error = wsse::build_x509_envelope(
        "<ehbox:Request/>",
        &identity.certificate_der,
        &identity.key,
        &options(Algorithms::SHA256),
        &mut SequentialIds::new(),
    )
    .unwrap_err();

    assert!(matches!(error, WsseError::InvalidBody(_)));
}

#[test]
fn certificate_of_other_key_is_rejected() {
    let error = wsse::build_x509_envelope(
        BODY,
        &intruder().certificate_der,
        &client().key,
        &options(Algorithms::SHA256),
        &mut SequentialIds::new(),
    )
    .unwrap_err();

    assert_eq!(
        error.to_string(),
        "the certificate does not contain the public key of the signing key; pass the matching pair"
    );
}

#[test]
fn assertion_of_other_holder_is_rejected() {
    let error = wsse::build_saml_envelope(
        BODY,
        &signed_assertion_for(intruder()),
        &client().key,
        &options(Algorithms::SHA256),
        &mut SequentialIds::new(),
    )
    .unwrap_err();

    assert!(matches!(error, WsseError::KeyMismatch(_)));
}

#[test]
fn assertion_with_declaration_is_rejected() {
    let assertion = format!("<?xml version=\"1.0\"?>{}", signed_assertion());
    let error = wsse::build_saml_envelope(
        BODY,
        &assertion,
        &client().key,
        &options(Algorithms::SHA256),
        &mut SequentialIds::new(),
    )
    .unwrap_err();

    assert!(matches!(error, WsseError::InvalidAssertion(_)));
}

#[test]
fn assertion_signature_needs_issuer_key() {
    let assertion = signed_assertion();
    let error = wsse::verify_assertion_text(&assertion, &intruder().public_key()).unwrap_err();

    assert!(matches!(
        error,
        WsseError::Signature(DsigError::BadSignatureValue)
    ));
}

#[test]
fn tampered_assertion_is_rejected() {
    let assertion = signed_assertion().replace("79021802145", "79021802146");
    let error = wsse::verify_assertion_text(&assertion, &sts().public_key()).unwrap_err();

    assert!(matches!(&error,
        WsseError::Signature(DsigError::DigestMismatch { uri }) if uri == &format!("#{ASSERTION_ID}")));
}

#[test]
fn unsigned_assertion_is_rejected() {
    let assertion = unsigned_assertion(ASSERTION_ID, client());
    let error = wsse::verify_assertion_text(&assertion, &sts().public_key()).unwrap_err();

    assert!(matches!(error, WsseError::AssertionNotSigned(id) if id == ASSERTION_ID));
}

#[test]
fn assertion_signed_twice_is_rejected() {
    let error = wsse::sign_assertion(
        &signed_assertion(),
        &sts().key,
        &sts().certificate_der,
        Algorithms::SHA256,
    )
    .unwrap_err();

    assert!(matches!(error, WsseError::InvalidAssertion(_)));
}

#[test]
fn assertion_signature_has_sts_certificate() {
    let assertion = signed_assertion();
    let doc = Document::parse(&assertion).unwrap();
    let signature = doc
        .root_element()
        .children()
        .find(|node| node.has_tag_name("Signature"))
        .unwrap();

    assert_eq!(
        dsig::key_info_certificate(signature).unwrap(),
        Some(sts().certificate_der.clone())
    );
    assert!(assertion.contains(dsig::ENVELOPED_SIGNATURE));
    assert!(assertion.contains(SignatureMethod::RSA_SHA256_URI));
    assert!(assertion.contains(DigestMethod::SHA256_URI));
}

#[test]
fn envelope_body_is_the_envelope_child() {
    let text = x509_envelope(Algorithms::SHA256);
    let doc = Document::parse(&text).unwrap();
    let envelope = wsse::verify_envelope(&doc).unwrap();

    assert_eq!(envelope.body.parent(), Some(envelope.envelope));
    assert_eq!(envelope.body.tag_name().namespace(), Some(SOAP_NS));
}
