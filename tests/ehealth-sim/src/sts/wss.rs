//! The STS side of WS-Security: checking the X.509-signed request and signing the assertion.

use jiff::Timestamp;
use practicebox_xmlsec::dsig::Algorithms;
use practicebox_xmlsec::wsse::{self, KeySource, WsseError};
use roxmltree::Document;

use super::StsError;
use super::request::{self, StsRequest};
use crate::security::{self, TimestampPolicy};

/// A request whose X.509 WS-Security signature verified.
#[derive(Debug)]
pub(crate) struct VerifiedStsRequest {
    /// DER of the certificate in the BinarySecurityToken, whose key signed the request.
    pub signer_der: Vec<u8>,
    pub request: StsRequest,
    /// The text of the `ds:SignatureValue`, the key of the replay cache.
    pub signature_value: String,
    /// When the request's timestamp stops passing the policy.
    pub replay_window_end: Timestamp,
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
    let doc = Document::parse(envelope).map_err(|err| StsError::Malformed(err.to_string()))?;
    let received = wsse::parse_envelope(&doc).map_err(from_wsse)?;
    let KeySource::BinarySecurityToken {
        certificate_der, ..
    } = &received.key_source
    else {
        return Err(StsError::Security(
            "request is signed with a SAML assertion; STS requests must be signed with the X.509 \
             certificate of a wsse:BinarySecurityToken"
                .to_owned(),
        ));
    };

    let unsigned = [
        (received.body_signed, "SOAP Body"),
        (received.timestamp_signed, "wsu:Timestamp"),
        (
            received.token_signed || !require_signed_token,
            "wsse:BinarySecurityToken",
        ),
    ];
    if let Some((_, part)) = unsigned.iter().find(|(signed, _)| !signed) {
        return Err(StsError::Security(format!(
            "request signature does not cover the {part}"
        )));
    }
    policy
        .check(received.timestamp.created, received.timestamp.expires, now)
        .map_err(|err| StsError::Security(err.to_string()))?;

    let operation = security::body_element(received.body).map_err(|_| StsError::NoBody)?;
    let request = request::parse_body_element(operation)?;
    let timestamp = &received.timestamp;
    Ok(VerifiedStsRequest {
        signer_der: certificate_der.clone(),
        request,
        signature_value: security::signature_value(received.signature.signature),
        replay_window_end: policy.replay_window_end(timestamp.created, timestamp.expires),
    })
}

/// Maps an envelope problem to its fault: a wrong root is SOA-03002, a missing Body SOA-03003,
/// anything about the security header or the signature an authentication failure.
fn from_wsse(err: WsseError) -> StsError {
    match err {
        WsseError::Xml(err) => StsError::Malformed(err.to_string()),
        WsseError::NotSoapEnvelope(_) => StsError::NotSoap(err.to_string()),
        WsseError::MissingElement {
            element: "soap:Body",
            ..
        } => StsError::NoBody,
        other => StsError::Security(other.to_string()),
    }
}

/// Signs the assertion with an enveloped signature (exc-c14n, rsa-sha256, sha256) whose KeyInfo
/// carries the STS certificate.
pub(crate) fn sign_assertion(
    unsigned: &str,
    key: &rsa::PrivateKey,
    certificate_der: &[u8],
) -> Result<String, StsError> {
    wsse::sign_assertion(unsigned, key, certificate_der, Algorithms::SHA256)
        .map_err(|err| StsError::Signing(err.to_string()))
}
