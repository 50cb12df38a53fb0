//! The SAML 1.1 assertion: the STS's enveloped signature over it and its holder-of-key
//! certificate.

use roxmltree::{Document, Node};

use super::{HOLDER_OF_KEY, WsseError};
use crate::dsig::{
    self, Algorithms, KeyInfo, ReferenceSpec, SignatureParent, SignatureRequest, VerifiedSignature,
};
use crate::{ns, xml};

/// Signs the SAML assertion `assertion_xml` as the STS does: an enveloped `ds:Signature` as its
/// last child, with one reference to `#<AssertionID>` (enveloped-signature and exclusive C14N
/// transforms) and the signer's certificate in `ds:KeyInfo/ds:X509Data`.
///
/// `certificate_der` must be the certificate of `key`. An assertion that already has a
/// signature is rejected.
pub fn sign_assertion(
    assertion_xml: &str,
    key: &rsa::PrivateKey,
    certificate_der: &[u8],
    algorithms: Algorithms,
) -> Result<String, WsseError> {
    let doc = Document::parse(assertion_xml)
        .map_err(|error| WsseError::InvalidAssertion(error.to_string()))?;
    let assertion = doc.root_element();
    let assertion_id = assertion_id(assertion)?;
    if xml::children_named(assertion, ns::DS, "Signature")
        .next()
        .is_some()
    {
        return Err(WsseError::InvalidAssertion(format!(
            "assertion {assertion_id:?} is already signed"
        )));
    }
    let public_key =
        dsig::certificate_public_key(certificate_der).map_err(WsseError::Certificate)?;
    if &public_key != key.as_public_key() {
        return Err(WsseError::KeyMismatch("STS certificate"));
    }

    let request = SignatureRequest {
        parent: SignatureParent::Id(assertion_id.to_owned()),
        references: vec![ReferenceSpec::enveloped(assertion_id)],
        algorithms,
        signed_info_prefixes: Vec::new(),
        key_info: KeyInfo::X509Certificate(certificate_der.to_vec()),
    };
    Ok(dsig::sign(assertion_xml, &request, key)?)
}

/// Verifies the enveloped signature of `assertion` with the issuer's public key, and checks
/// that it has exactly one reference and that the reference covers the assertion itself.
///
/// Whether the issuer is trusted, and the validity period in `saml:Conditions`, are the
/// caller's decisions.
pub fn verify_assertion_signature<'a, 'input>(
    doc: &'a Document<'input>,
    assertion: Node<'a, 'input>,
    issuer_key: &rsa::PublicKey,
) -> Result<VerifiedSignature<'a, 'input>, WsseError> {
    let assertion_id = assertion_id(assertion)?;
    let signature = single_signature(assertion, assertion_id)?;
    let verified = dsig::verify(doc, signature, issuer_key)?;

    let covers_only_assertion = matches!(
        verified.references.as_slice(),
        [reference] if reference.element == assertion && reference.enveloped
    );
    if !covers_only_assertion {
        return Err(WsseError::AssertionNotSigned(assertion_id.to_owned()));
    }
    Ok(verified)
}

/// Parses `assertion_xml` on its own, verifies its signature with `issuer_key` as
/// [`verify_assertion_signature`] does, and returns its AssertionID.
pub fn verify_assertion_text(
    assertion_xml: &str,
    issuer_key: &rsa::PublicKey,
) -> Result<String, WsseError> {
    let doc = Document::parse(assertion_xml)
        .map_err(|error| WsseError::InvalidAssertion(error.to_string()))?;
    let assertion = doc.root_element();
    verify_assertion_signature(&doc, assertion, issuer_key)?;
    Ok(assertion_id(assertion)?.to_owned())
}

/// Returns the DER holder-of-key certificate of `assertion`: the
/// `ds:KeyInfo/ds:X509Data/ds:X509Certificate` of its `saml:SubjectConfirmation` elements whose
/// ConfirmationMethod is holder-of-key. Every such confirmation must name the same certificate.
pub fn holder_of_key_certificate(assertion: Node<'_, '_>) -> Result<Vec<u8>, WsseError> {
    let assertion_id = assertion_id(assertion)?;
    let mut found: Option<Vec<u8>> = None;

    let confirmations = assertion
        .descendants()
        .filter(|node| xml::has_name(*node, ns::SAML, "SubjectConfirmation"))
        .filter(|node| is_holder_of_key(*node));
    for confirmation in confirmations {
        let Some(certificate) = dsig::key_info_certificate(confirmation)? else {
            continue;
        };
        match &found {
            Some(previous) if *previous != certificate => {
                return Err(WsseError::ConflictingHolderOfKeyCertificates(
                    assertion_id.to_owned(),
                ));
            }
            _ => found = Some(certificate),
        }
    }

    found.ok_or_else(|| WsseError::MissingHolderOfKeyCertificate(assertion_id.to_owned()))
}

/// Returns the AssertionID of a `saml:Assertion` element.
pub(super) fn assertion_id<'a>(assertion: Node<'a, '_>) -> Result<&'a str, WsseError> {
    if !xml::has_name(assertion, ns::SAML, "Assertion") {
        return Err(WsseError::InvalidAssertion(format!(
            "<{}> is not a SAML 1.1 saml:Assertion",
            assertion.tag_name().name()
        )));
    }
    assertion
        .attribute("AssertionID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            WsseError::InvalidAssertion("the AssertionID attribute is missing".to_owned())
        })
}

fn is_holder_of_key(confirmation: Node<'_, '_>) -> bool {
    xml::children_named(confirmation, ns::SAML, "ConfirmationMethod")
        .any(|method| xml::text(method).trim() == HOLDER_OF_KEY)
}

fn single_signature<'a, 'input>(
    assertion: Node<'a, 'input>,
    assertion_id: &str,
) -> Result<Node<'a, 'input>, WsseError> {
    let mut signatures = xml::children_named(assertion, ns::DS, "Signature");
    match (signatures.next(), signatures.next()) {
        (Some(signature), None) => Ok(signature),
        (None, _) => Err(WsseError::AssertionNotSigned(assertion_id.to_owned())),
        (Some(_), Some(_)) => Err(WsseError::DuplicateElement {
            element: "ds:Signature",
            parent: "saml:Assertion",
        }),
    }
}
