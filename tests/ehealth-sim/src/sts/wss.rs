//! The STS side of WS-Security: verifying the X.509-signed request and signing the assertion.

use jiff::Timestamp;
use practicebox::xmlsec::dsig::{
    self, Algorithms, KeyInfo, ReferenceSpec, SignatureParent, SignatureRequest,
};
use practicebox::xmlsec::ns;
use roxmltree::Node;

use super::StsError;
use super::request::{self, StsRequest};
use crate::security::{self, SecurityHeader, SoapParts, TimestampPolicy};

const X509_V3_VALUE_TYPE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";

/// A request whose X.509 WS-Security signature verified.
#[derive(Debug)]
pub(crate) struct VerifiedStsRequest {
    /// DER of the certificate in the BinarySecurityToken, whose key signed the request.
    pub signer_der: Vec<u8>,
    pub request: StsRequest,
}

/// Checks the WS-Security header of an STS request and reads its body.
///
/// The signature must be made by the key of the header's BinarySecurityToken, referenced from
/// KeyInfo, and cover the Body, the Timestamp and, when `require_signed_token`, the token itself.
pub(crate) fn verify_x509_request(
    envelope: &str,
    policy: &TimestampPolicy,
    require_signed_token: bool,
    now: Timestamp,
) -> Result<VerifiedStsRequest, StsError> {
    let doc = security::parse_document(envelope).map_err(StsError::Malformed)?;
    let soap = SoapParts::find(&doc).map_err(classify_structure)?;
    let header = SecurityHeader::find(soap.security).map_err(StsError::Security)?;
    let token = header.binary_security_token.ok_or_else(|| {
        StsError::Security(
            "wsse:Security has no wsse:BinarySecurityToken with the signing certificate".to_owned(),
        )
    })?;
    check_token_reference(header.signature, token)?;

    let signer_der = read_binary_security_token(token)?;
    let key = dsig::certificate_public_key(&signer_der)
        .map_err(|err| StsError::Security(format!("BinarySecurityToken: {err}")))?;
    let verified = dsig::verify(&doc, header.signature, &key)
        .map_err(|err| StsError::Security(format!("request signature is invalid: {err}")))?;

    let mut required = vec![
        (soap.body, "SOAP Body"),
        (header.timestamp, "wsu:Timestamp"),
    ];
    if require_signed_token {
        required.push((token, "wsse:BinarySecurityToken"));
    }
    for (element, what) in required {
        if !verified.covers(element) {
            return Err(StsError::Security(format!(
                "request signature does not cover the {what}"
            )));
        }
    }
    policy
        .check_element(header.timestamp, now)
        .map_err(|err| StsError::Security(err.to_string()))?;

    let request = request::parse_body_element(soap.operation)?;
    Ok(VerifiedStsRequest {
        signer_der,
        request,
    })
}

/// Maps envelope structure problems: a missing Body or an empty one is SOA-03003, a wrong root
/// SOA-03002, a missing security header an authentication failure.
fn classify_structure(reason: String) -> StsError {
    if reason.contains("Envelope") && reason.starts_with("root element") {
        StsError::NotSoap(reason)
    } else if reason.contains("Body") {
        StsError::NoBody
    } else {
        StsError::Security(reason)
    }
}

fn read_binary_security_token(token: Node) -> Result<Vec<u8>, StsError> {
    let value_type = token.attribute("ValueType").unwrap_or_default();
    if value_type != X509_V3_VALUE_TYPE {
        return Err(StsError::Security(format!(
            "BinarySecurityToken ValueType {value_type:?} is not {X509_V3_VALUE_TYPE}"
        )));
    }
    request::decode_base64("wsse:BinarySecurityToken", &security::element_text(token))
}

/// Checks that the signature's KeyInfo references the BinarySecurityToken of the header.
fn check_token_reference(signature: Node, token: Node) -> Result<(), StsError> {
    let uri = signature
        .children()
        .filter(|node| node.has_tag_name((ns::DS, "KeyInfo")))
        .flat_map(|key_info| key_info.children())
        .filter(|node| node.has_tag_name((ns::WSSE, "SecurityTokenReference")))
        .flat_map(|reference| reference.children())
        .find(|node| node.has_tag_name((ns::WSSE, "Reference")))
        .and_then(|reference| reference.attribute("URI"));
    let Some(uri) = uri else {
        return Err(StsError::Security(
            "request signature has no KeyInfo/wsse:SecurityTokenReference/wsse:Reference to the BinarySecurityToken".to_owned(),
        ));
    };
    let token_id = token.attribute((ns::WSU, "Id")).unwrap_or_default();
    if uri.strip_prefix('#') != Some(token_id) || token_id.is_empty() {
        return Err(StsError::Security(format!(
            "request signature's KeyInfo references {uri:?}, not the BinarySecurityToken (wsu:Id {token_id:?})"
        )));
    }
    Ok(())
}

/// Signs the assertion with an enveloped signature (exc-c14n, rsa-sha256, sha256) whose KeyInfo
/// carries the STS certificate.
pub(crate) fn sign_assertion(
    unsigned: &str,
    assertion_id: &str,
    key: &rsa::PrivateKey,
    certificate_der: &[u8],
) -> Result<String, StsError> {
    let request = SignatureRequest {
        parent: SignatureParent::Id(assertion_id.to_owned()),
        references: vec![ReferenceSpec::enveloped(assertion_id)],
        algorithms: Algorithms::SHA256,
        signed_info_prefixes: Vec::new(),
        key_info: KeyInfo::X509Certificate(certificate_der.to_vec()),
    };
    dsig::sign(unsigned, &request, key).map_err(|err| StsError::Signing(err.to_string()))
}
