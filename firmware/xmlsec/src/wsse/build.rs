//! Construction of signed WS-Security request envelopes.

use roxmltree::Document;

use super::{
    BASE64_ENCODING_TYPE, IdGenerator, SAML_ASSERTION_ID_VALUE_TYPE, SAML_V11_TOKEN_TYPE,
    WsseError, X509V3_VALUE_TYPE, assertion,
};
use crate::dsig::{self, Algorithms, KeyInfo, ReferenceSpec, SignatureParent, SignatureRequest};
use crate::{ns, xml};

/// Time and algorithm parameters of a new envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeOptions {
    /// `wsu:Created` of the timestamp, usually the current time.
    pub created: jiff::Timestamp,
    /// `wsu:Expires` minus `wsu:Created`.
    pub time_to_live: jiff::SignedDuration,
    /// Signature and digest algorithms.
    pub algorithms: Algorithms,
}

impl EnvelopeOptions {
    /// Time to live of a request timestamp unless the caller sets another.
    pub const DEFAULT_TIME_TO_LIVE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

    /// Options for a request created at `created`: 60 s time to live, rsa-sha256 and sha256.
    pub fn new(created: jiff::Timestamp) -> Self {
        Self {
            created,
            time_to_live: Self::DEFAULT_TIME_TO_LIVE,
            algorithms: Algorithms::default(),
        }
    }
}

/// Builds the envelope of an STS request: `body_xml` in the Body, the certificate as a
/// BinarySecurityToken, and a signature made with `key` over Body, Timestamp and token.
///
/// `certificate_der` must be the certificate of `key`. `body_xml` must be one element that
/// declares every namespace prefix it uses.
pub fn build_x509_envelope(
    body_xml: &str,
    certificate_der: &[u8],
    key: &rsa::PrivateKey,
    options: &EnvelopeOptions,
    ids: &mut dyn IdGenerator,
) -> Result<String, WsseError> {
    check_body(body_xml)?;
    check_certificate_matches(certificate_der, key, "certificate")?;
    let timestamp_id = ids.next_id("TS");
    let token_id = ids.next_id("X509");
    let body_id = ids.next_id("Body");

    let token = format!(
        "<wsse:BinarySecurityToken EncodingType=\"{BASE64_ENCODING_TYPE}\" \
         ValueType=\"{X509V3_VALUE_TYPE}\" wsu:Id=\"{}\">{}</wsse:BinarySecurityToken>",
        xml::escape(&token_id),
        xml::encode_base64(certificate_der)
    );
    let header = format!("{}{token}", timestamp_xml(&timestamp_id, options)?);
    let unsigned = envelope_xml(&header, &body_id, body_xml);

    let key_info = format!(
        "<wsse:SecurityTokenReference><wsse:Reference URI=\"#{}\" ValueType=\"{X509V3_VALUE_TYPE}\"/>\
         </wsse:SecurityTokenReference>",
        xml::escape(&token_id)
    );
    let references = [body_id, timestamp_id, token_id];
    sign_envelope(&unsigned, &references, key_info, options, key)
}

/// Builds the envelope of an eHealthBox request: `body_xml` in the Body, the holder-of-key
/// assertion `assertion_xml` copied unchanged into the Security header, and a signature made
/// with the holder-of-key `key` over Body and Timestamp.
///
/// `assertion_xml` must be the `saml:Assertion` element alone, declaring its own namespaces, as
/// the STS returned it. Its holder-of-key certificate must be the certificate of `key`.
pub fn build_saml_envelope(
    body_xml: &str,
    assertion_xml: &str,
    key: &rsa::PrivateKey,
    options: &EnvelopeOptions,
    ids: &mut dyn IdGenerator,
) -> Result<String, WsseError> {
    check_body(body_xml)?;
    let assertion_id = check_assertion(assertion_xml, key)?;
    let timestamp_id = ids.next_id("TS");
    let body_id = ids.next_id("Body");

    let header = format!("{}{assertion_xml}", timestamp_xml(&timestamp_id, options)?);
    let unsigned = envelope_xml(&header, &body_id, body_xml);

    let key_info = format!(
        "<wsse:SecurityTokenReference wsse11:TokenType=\"{SAML_V11_TOKEN_TYPE}\">\
         <wsse:KeyIdentifier ValueType=\"{SAML_ASSERTION_ID_VALUE_TYPE}\">{}</wsse:KeyIdentifier>\
         </wsse:SecurityTokenReference>",
        xml::escape(&assertion_id)
    );
    let references = [body_id, timestamp_id];
    sign_envelope(&unsigned, &references, key_info, options, key)
}

fn sign_envelope(
    unsigned: &str,
    reference_ids: &[String],
    key_info: String,
    options: &EnvelopeOptions,
    key: &rsa::PrivateKey,
) -> Result<String, WsseError> {
    let request = SignatureRequest {
        parent: SignatureParent::Element {
            namespace: ns::WSSE.to_owned(),
            local_name: "Security".to_owned(),
        },
        references: reference_ids.iter().map(ReferenceSpec::new).collect(),
        algorithms: options.algorithms,
        signed_info_prefixes: Vec::new(),
        key_info: KeyInfo::Fragment(key_info),
    };
    Ok(dsig::sign(unsigned, &request, key)?)
}

fn envelope_xml(security_content: &str, body_id: &str, body_xml: &str) -> String {
    format!(
        "<soap:Envelope xmlns:soap=\"{}\" xmlns:wsse=\"{}\" xmlns:wsse11=\"{}\" xmlns:wsu=\"{}\">\
         <soap:Header><wsse:Security soap:mustUnderstand=\"1\">{security_content}</wsse:Security>\
         </soap:Header><soap:Body wsu:Id=\"{}\">{body_xml}</soap:Body></soap:Envelope>",
        ns::SOAP,
        ns::WSSE,
        ns::WSSE11,
        ns::WSU,
        xml::escape(body_id),
    )
}

fn timestamp_xml(id: &str, options: &EnvelopeOptions) -> Result<String, WsseError> {
    let expires = options
        .created
        .checked_add(options.time_to_live)
        .map_err(|_| WsseError::TimeOutOfRange {
            created: options.created,
            time_to_live: options.time_to_live,
        })?;
    Ok(format!(
        "<wsu:Timestamp wsu:Id=\"{}\"><wsu:Created>{}</wsu:Created><wsu:Expires>{}</wsu:Expires>\
         </wsu:Timestamp>",
        xml::escape(id),
        format_time(options.created),
        format_time(expires)
    ))
}

/// Formats an xs:dateTime in UTC with milliseconds, as WS-Security implementations write it.
fn format_time(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Checks that `body_xml` is one self-contained element.
fn check_body(body_xml: &str) -> Result<(), WsseError> {
    if body_xml.trim_start().starts_with("<?") {
        return Err(WsseError::InvalidBody(
            "it starts with an xml declaration".to_owned(),
        ));
    }
    Document::parse(body_xml).map_err(|error| WsseError::InvalidBody(error.to_string()))?;
    Ok(())
}

/// Checks `assertion_xml` and returns its AssertionID.
fn check_assertion(assertion_xml: &str, key: &rsa::PrivateKey) -> Result<String, WsseError> {
    if !assertion_xml.starts_with('<') || assertion_xml.starts_with("<?") {
        return Err(WsseError::InvalidAssertion(
            "the text must start with the saml:Assertion start tag, without xml declaration or \
             whitespace"
                .to_owned(),
        ));
    }
    let doc = Document::parse(assertion_xml)
        .map_err(|error| WsseError::InvalidAssertion(error.to_string()))?;
    let assertion = doc.root_element();
    let assertion_id = assertion::assertion_id(assertion)?.to_owned();

    let certificate = assertion::holder_of_key_certificate(assertion)?;
    check_certificate_matches(
        &certificate,
        key,
        "holder-of-key certificate of the assertion",
    )?;
    Ok(assertion_id)
}

fn check_certificate_matches(
    certificate_der: &[u8],
    key: &rsa::PrivateKey,
    what: &'static str,
) -> Result<(), WsseError> {
    let public_key =
        dsig::certificate_public_key(certificate_der).map_err(WsseError::Certificate)?;
    if &public_key != key.as_public_key() {
        return Err(WsseError::KeyMismatch(what));
    }
    Ok(())
}
