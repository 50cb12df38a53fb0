//! XML-DSig signing and verification, against xmlsec1 in both directions.

// Helpers outside #[test] functions unwrap too: a failed setup step should fail the test.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use practicebox_xmlsec::dsig::{
    self, Algorithms, DigestMethod, DsigError, KeyInfo, ReferenceSpec, SignatureMethod,
    SignatureParent, SignatureRequest,
};
use practicebox_xmlsec::ids::IdError;
use roxmltree::{Document, Node};

use common::{FIRST_SIGNATURE_XPATH, SOAP_NS, WSSE_NS, client, intruder, xmlsec1_verify};

const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dsig")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn fixture_key() -> rsa::PublicKey {
    use der::DecodePem as _;
    use der::Encode as _;

    let certificate = x509_cert::Certificate::from_pem(fixture("cert.pem")).unwrap();
    dsig::certificate_public_key(&certificate.to_der().unwrap()).unwrap()
}

fn find_signature<'a, 'input>(doc: &'a Document<'input>) -> Node<'a, 'input> {
    doc.descendants()
        .find(|node| node.tag_name().namespace() == Some(DS_NS) && node.has_tag_name("Signature"))
        .expect("document has a ds:Signature")
}

fn element<'a, 'input>(doc: &'a Document<'input>, namespace: &str, name: &str) -> Node<'a, 'input> {
    doc.descendants()
        .find(|node| node.tag_name().namespace() == Some(namespace) && node.has_tag_name(name))
        .unwrap()
}

fn verify_text(text: &str, key: &rsa::PublicKey) -> Result<Vec<String>, DsigError> {
    let doc = Document::parse(text).unwrap();
    let verified = dsig::verify(&doc, find_signature(&doc), key)?;
    Ok(verified
        .references
        .iter()
        .map(|reference| reference.uri.clone())
        .collect())
}

/// The xmlsec1 sample without its signature, so that we can sign the same content.
fn unsigned_envelope() -> String {
    let template = fixture("tmpl.xml");
    let start = template.find("<ds:Signature").unwrap();
    let end = template.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    format!("{}{}", &template[..start], &template[end..])
}

fn envelope_request(algorithms: Algorithms) -> SignatureRequest {
    SignatureRequest {
        parent: SignatureParent::Element {
            namespace: WSSE_NS.to_owned(),
            local_name: "Security".to_owned(),
        },
        references: vec![
            ReferenceSpec::new("TS-1").with_prefix_list(&["wsse", "soapenv"]),
            ReferenceSpec::new("id-body"),
        ],
        algorithms,
        signed_info_prefixes: vec!["soapenv".to_owned()],
        key_info: KeyInfo::None,
    }
}

#[test]
fn xmlsec1_sample_verifies() {
    let text = fixture("signed-by-xmlsec1.xml");
    let doc = Document::parse(&text).unwrap();
    let verified = dsig::verify(&doc, find_signature(&doc), &fixture_key()).unwrap();

    let timestamp = element(&doc, common::WSU_NS, "Timestamp");
    let body = element(&doc, SOAP_NS, "Body");
    assert_eq!(verified.signature_method, SignatureMethod::RsaSha256);
    assert_eq!(verified.references.len(), 2);
    assert_eq!(verified.references[0].element, timestamp);
    assert_eq!(verified.references[0].digest_method, DigestMethod::Sha256);
    assert_eq!(
        verified.references[0].inclusive_prefixes,
        ["wsse", "soapenv"]
    );
    assert_eq!(verified.references[1].element, body);
    assert_eq!(verified.references[1].digest_method, DigestMethod::Sha1);
    assert!(verified.covers(body));
    assert!(verified.covers(timestamp));
    assert!(!verified.covers(doc.root_element()));
}

#[test]
fn tampered_body_is_rejected() {
    let text = fixture("signed-by-xmlsec1.xml").replace("INBOX", "OUTBOX");
    let error = verify_text(&text, &fixture_key()).unwrap_err();

    assert!(matches!(&error, DsigError::DigestMismatch { uri } if uri == "#id-body"));
    assert_eq!(
        error.to_string(),
        "digest mismatch for reference \"#id-body\"; the element was changed after signing"
    );
}

#[test]
fn tampered_timestamp_is_rejected() {
    let text = fixture("signed-by-xmlsec1.xml").replace("10:05:00.000Z", "11:05:00.000Z");
    let error = verify_text(&text, &fixture_key()).unwrap_err();

    assert!(matches!(&error, DsigError::DigestMismatch { uri } if uri == "#TS-1"));
}

#[test]
fn tampered_signed_info_is_rejected() {
    // Dropping the PrefixList of SignedInfo changes its canonical form but no digest.
    let text = fixture("signed-by-xmlsec1.xml").replacen(
        "<ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" \
         PrefixList=\"soapenv\"/></ds:CanonicalizationMethod>",
        "</ds:CanonicalizationMethod>",
        1,
    );
    assert_ne!(text, fixture("signed-by-xmlsec1.xml"));

    assert!(matches!(
        verify_text(&text, &fixture_key()),
        Err(DsigError::BadSignatureValue)
    ));
}

#[test]
fn other_key_is_rejected() {
    let text = fixture("signed-by-xmlsec1.xml");

    assert!(matches!(
        verify_text(&text, &intruder().public_key()),
        Err(DsigError::BadSignatureValue)
    ));
}

#[test]
fn sign_verify_round_trip_sha256() {
    let signed = dsig::sign(
        &unsigned_envelope(),
        &envelope_request(Algorithms::SHA256),
        &client().key,
    )
    .unwrap();
    let doc = Document::parse(&signed).unwrap();
    let verified = dsig::verify(&doc, find_signature(&doc), &client().public_key()).unwrap();

    assert_eq!(verified.signature_method, SignatureMethod::RsaSha256);
    assert!(
        verified
            .references
            .iter()
            .all(|r| r.digest_method == DigestMethod::Sha256)
    );
    assert!(verified.covers(element(&doc, SOAP_NS, "Body")));
    assert!(signed.contains(&format!(
        "<ds:DigestMethod Algorithm=\"{}\"/>",
        DigestMethod::SHA256_URI
    )));
}

#[test]
fn sign_verify_round_trip_sha1() {
    let signed = dsig::sign(
        &unsigned_envelope(),
        &envelope_request(Algorithms::SHA1),
        &client().key,
    )
    .unwrap();
    let doc = Document::parse(&signed).unwrap();
    let verified = dsig::verify(&doc, find_signature(&doc), &client().public_key()).unwrap();

    assert_eq!(verified.signature_method, SignatureMethod::RsaSha1);
    assert!(
        verified
            .references
            .iter()
            .all(|r| r.digest_method == DigestMethod::Sha1)
    );
    assert!(signed.contains(SignatureMethod::RSA_SHA1_URI));
}

#[test]
fn signing_keeps_other_bytes() {
    let unsigned = unsigned_envelope();
    let signed = dsig::sign(
        &unsigned,
        &envelope_request(Algorithms::SHA256),
        &client().key,
    )
    .unwrap();
    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();

    assert_eq!(format!("{}{}", &signed[..start], &signed[end..]), unsigned);
}

#[test]
fn xmlsec1_verifies_our_signature() {
    for algorithms in [Algorithms::SHA256, Algorithms::SHA1] {
        let signed = dsig::sign(
            &unsigned_envelope(),
            &envelope_request(algorithms),
            &client().key,
        )
        .unwrap();
        let outcome = xmlsec1_verify(&signed, &client().certificate_pem(), FIRST_SIGNATURE_XPATH);

        assert!(
            outcome.success,
            "xmlsec1 rejected {algorithms:?}:\n{}",
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
}

#[test]
fn xmlsec1_rejects_tampered_signature() {
    let signed = dsig::sign(
        &unsigned_envelope(),
        &envelope_request(Algorithms::SHA256),
        &client().key,
    )
    .unwrap()
    .replace("INBOX", "OUTBOX");
    let outcome = xmlsec1_verify(&signed, &client().certificate_pem(), FIRST_SIGNATURE_XPATH);

    assert!(
        !outcome.success,
        "xmlsec1 accepted a tampered body:\n{}",
        outcome.output
    );
}

const ASSERTION: &str = "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" \
    MajorVersion=\"1\" MinorVersion=\"1\" AssertionID=\"_a1\" Issuer=\"urn:be:fgov:ehealth:sts:1_0\" \
    IssueInstant=\"2026-12-04T10:00:00Z\"><saml:Conditions NotBefore=\"2026-12-04T10:00:00Z\" \
    NotOnOrAfter=\"2026-12-05T10:00:00Z\"/></saml:Assertion>";

fn enveloped_request(key_info: KeyInfo) -> SignatureRequest {
    SignatureRequest {
        parent: SignatureParent::Id("_a1".to_owned()),
        references: vec![ReferenceSpec::enveloped("_a1")],
        algorithms: Algorithms::SHA256,
        signed_info_prefixes: Vec::new(),
        key_info,
    }
}

#[test]
fn enveloped_signature_round_trip() {
    let key_info = KeyInfo::X509Certificate(common::sts().certificate_der.clone());
    let signed = dsig::sign(ASSERTION, &enveloped_request(key_info), &common::sts().key).unwrap();
    let doc = Document::parse(&signed).unwrap();
    let signature = find_signature(&doc);
    let verified = dsig::verify(&doc, signature, &common::sts().public_key()).unwrap();

    assert_eq!(signature.parent(), Some(doc.root_element()));
    assert!(verified.covers(doc.root_element()));
    assert!(verified.references[0].enveloped);
    assert_eq!(
        dsig::key_info_certificate(signature).unwrap(),
        Some(common::sts().certificate_der.clone())
    );
    assert!(signed.contains(dsig::ENVELOPED_SIGNATURE));
}

#[test]
fn xmlsec1_verifies_enveloped_signature() {
    let key_info = KeyInfo::X509Certificate(common::sts().certificate_der.clone());
    let signed = dsig::sign(ASSERTION, &enveloped_request(key_info), &common::sts().key).unwrap();
    let outcome = xmlsec1_verify(
        &signed,
        &common::sts().certificate_pem(),
        FIRST_SIGNATURE_XPATH,
    );

    assert!(
        outcome.success,
        "xmlsec1 rejected the enveloped signature:\n{}",
        outcome.output
    );
}

#[test]
fn tampered_enveloped_content_is_rejected() {
    let signed = dsig::sign(
        ASSERTION,
        &enveloped_request(KeyInfo::None),
        &common::sts().key,
    )
    .unwrap()
    .replace("2026-12-05T10:00:00Z", "2027-12-05T10:00:00Z");

    assert!(matches!(
        verify_text(&signed, &common::sts().public_key()),
        Err(DsigError::DigestMismatch { .. })
    ));
}

#[test]
fn reference_around_signature_needs_enveloped() {
    let mut request = enveloped_request(KeyInfo::None);
    request.references = vec![ReferenceSpec::new("_a1")];
    let error = dsig::sign(ASSERTION, &request, &common::sts().key).unwrap_err();

    assert!(matches!(&error, DsigError::ReferenceContainsSignature(id) if id == "_a1"));
}

#[test]
fn signing_missing_id_is_rejected() {
    let mut request = envelope_request(Algorithms::SHA256);
    request.references.push(ReferenceSpec::new("nowhere"));
    let error = dsig::sign(&unsigned_envelope(), &request, &client().key).unwrap_err();

    assert!(matches!(error, DsigError::Id(IdError::NotFound(id)) if id == "nowhere"));
}

#[test]
fn verifying_missing_id_is_rejected() {
    let text = fixture("signed-by-xmlsec1.xml").replace("wsu:Id=\"id-body\"", "wsu:Id=\"other\"");
    let error = verify_text(&text, &fixture_key()).unwrap_err();

    assert!(matches!(error, DsigError::Id(IdError::NotFound(id)) if id == "id-body"));
}

#[test]
fn duplicate_id_is_rejected() {
    // A copy of the signed body under a second element: whichever the verifier picked, the
    // document is ambiguous.
    let text = fixture("signed-by-xmlsec1.xml").replace(
        "</soapenv:Header>",
        "<Wrapper><soapenv:Body wsu:Id=\"id-body\"/></Wrapper></soapenv:Header>",
    );
    let error = verify_text(&text, &fixture_key()).unwrap_err();

    assert!(matches!(error, DsigError::Id(IdError::Duplicate { id, .. }) if id == "id-body"));
}

#[test]
fn unsupported_signature_method_is_named() {
    let uri = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
    let text = fixture("signed-by-xmlsec1.xml").replace(SignatureMethod::RSA_SHA256_URI, uri);
    let error = verify_text(&text, &fixture_key()).unwrap_err();

    assert_eq!(
        error.to_string(),
        format!(
            "unsupported signature method algorithm \"{uri}\"; supported: rsa-sha1, rsa-sha256"
        )
    );
}

#[test]
fn unsupported_digest_method_is_named() {
    let uri = "http://www.w3.org/2001/04/xmlenc#sha512";
    let text = fixture("signed-by-xmlsec1.xml").replace(DigestMethod::SHA256_URI, uri);
    let error = verify_text(&text, &fixture_key()).unwrap_err();

    assert!(matches!(error, DsigError::UnsupportedAlgorithm { uri: found, .. } if found == uri));
}

#[test]
fn inclusive_c14n_transform_is_rejected() {
    let inclusive = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
    let text = fixture("signed-by-xmlsec1.xml").replace(
        "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        &format!("<ds:Transforms><ds:Transform Algorithm=\"{inclusive}\"/>"),
    );
    let error = verify_text(&text, &fixture_key()).unwrap_err();

    assert!(
        matches!(&error, DsigError::UnsupportedTransforms { uri, found }
        if uri == "#id-body" && found == &[inclusive.to_owned()])
    );
}

#[test]
fn inclusive_canonicalization_method_is_rejected() {
    let text = fixture("signed-by-xmlsec1.xml").replacen(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">",
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\">",
        1,
    );
    let error = verify_text(&text, &fixture_key()).unwrap_err();

    assert_eq!(
        error.to_string(),
        "unsupported canonicalization method algorithm \"http://www.w3.org/2006/12/xml-c14n11\"; \
         supported: http://www.w3.org/2001/10/xml-exc-c14n#"
    );
}

#[test]
fn external_reference_is_rejected() {
    let text = fixture("signed-by-xmlsec1.xml")
        .replace("URI=\"#id-body\"", "URI=\"http://example.invalid/\"");
    let error = verify_text(&text, &fixture_key()).unwrap_err();

    assert!(
        matches!(error, DsigError::UnsupportedReferenceUri(uri) if uri == "http://example.invalid/")
    );
}
