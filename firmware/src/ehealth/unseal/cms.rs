//! Reading the CMS layers of a sealed message (RFC 5652) from BER: a ContentInfo holding
//! SignedData or EnvelopedData.
//!
//! The large strings (eContent, encryptedContent) are borrowed from the input when they are
//! sent in one piece, and their position in the input is kept so the caller can reuse its
//! buffer. Small elements are decoded with the `cms` and `x509-cert` types.

use std::{borrow::Cow, ops::Range};

use cms::{cert::IssuerAndSerialNumber, enveloped_data::KeyTransRecipientInfo};
use der::{Decode, asn1::ObjectIdentifier};
use spki::AlgorithmIdentifierOwned;

use crate::ehealth::{
    ber::{BerError, Tag, Tlv},
    certificate::{self, StoredCertificate},
};

pub(super) const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
const ATTRIBUTE_CONTENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ATTRIBUTE_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ATTRIBUTE_SIGNING_TIME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

/// The parts of a SignedData that unsealing uses.
#[derive(Debug)]
pub(super) struct SignedLayer<'a> {
    /// eContentType.
    pub content_type: ObjectIdentifier,
    /// eContent, borrowed from the input unless it was sent in chunks.
    pub content: Cow<'a, [u8]>,
    /// Position of `content` in the input, when it is borrowed.
    pub content_range: Option<Range<usize>>,
    pub certificates: Vec<StoredCertificate>,
    pub signers: Vec<SignerInfo>,
}

/// One signer info.
#[derive(Debug)]
pub(super) struct SignerInfo {
    pub signer: SignerId,
    pub digest_algorithm: AlgorithmIdentifierOwned,
    pub signed_attributes: Option<SignedAttributes>,
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub signature: Vec<u8>,
}

/// Signer identifier: the certificate's issuer and serial number, or its subject key
/// identifier.
#[derive(Debug)]
pub(super) enum SignerId {
    IssuerAndSerialNumber(IssuerAndSerialNumber),
    SubjectKeyIdentifier(Vec<u8>),
}

impl SignerId {
    pub(super) fn matches(&self, certificate: &StoredCertificate) -> bool {
        match self {
            Self::IssuerAndSerialNumber(id) => {
                let tbs = certificate.parsed().tbs_certificate();
                id.issuer == *tbs.issuer() && id.serial_number == *tbs.serial_number()
            }
            Self::SubjectKeyIdentifier(id) => *id == certificate.subject_key_identifier(),
        }
    }
}

impl std::fmt::Display for SignerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::IssuerAndSerialNumber(id) => write!(
                f,
                "serial {} issued by '{}'",
                certificate::decimal_serial(&id.serial_number),
                id.issuer
            ),
            Self::SubjectKeyIdentifier(id) => {
                write!(f, "subject key identifier {}", certificate::hex(id))
            }
        }
    }
}

/// The signed attributes of a signer info.
#[derive(Debug)]
pub(super) struct SignedAttributes {
    /// The DER encoding with the SET OF tag, which is what the signature covers.
    pub der: Vec<u8>,
    pub content_type: Option<ObjectIdentifier>,
    pub message_digest: Option<Vec<u8>>,
    pub signing_time: Option<jiff::Timestamp>,
}

/// The parts of an EnvelopedData that unsealing uses.
#[derive(Debug)]
pub(super) struct EnvelopedLayer<'a> {
    pub recipients: Vec<Recipient>,
    pub content_algorithm: AlgorithmIdentifierOwned,
    pub encrypted_content: Cow<'a, [u8]>,
    /// Position of `encrypted_content` in the input, when it is borrowed.
    pub encrypted_range: Option<Range<usize>>,
}

/// One recipient info: key transport is what eHealth uses; the other kinds are only named.
#[derive(Debug)]
pub(super) enum Recipient {
    KeyTransport(Box<KeyTransRecipientInfo>),
    Other(&'static str),
}

/// Reads a ContentInfo holding SignedData.
pub(super) fn read_signed_data(encoded: &[u8]) -> Result<SignedLayer<'_>, BerError> {
    let signed_data = read_content_info(encoded, ID_SIGNED_DATA, "SignedData")?
        .expect(Tag::SEQUENCE, "a SignedData SEQUENCE")?;
    let mut fields = signed_data.children();
    fields
        .required("the SignedData version")?
        .expect(Tag::INTEGER, "the SignedData version")?;
    fields
        .required("the digest algorithms")?
        .expect(Tag::SET, "the digest algorithms SET")?;

    let encapsulated = fields
        .required("the encapsulated content")?
        .expect(Tag::SEQUENCE, "an EncapsulatedContentInfo SEQUENCE")?;
    let (content_type, content, content_range) = read_encapsulated_content(encapsulated)?;

    let certificates = match fields.optional(Tag::context(0, true))? {
        Some(set) => read_certificates(set)?,
        None => Vec::new(),
    };
    // Revocation information is not used.
    fields.optional(Tag::context(1, true))?;

    let signer_set = fields
        .required("the signer infos")?
        .expect(Tag::SET, "the signer infos SET")?;
    let signers = signer_set
        .children()
        .map(|signer| signer.and_then(read_signer_info))
        .collect::<Result<Vec<_>, _>>()?;
    if signers.is_empty() {
        return Err(BerError::Invalid("the SignedData has no signer".to_owned()));
    }

    Ok(SignedLayer {
        content_type,
        content,
        content_range,
        certificates,
        signers,
    })
}

/// Reads a ContentInfo holding EnvelopedData.
pub(super) fn read_enveloped_data(encoded: &[u8]) -> Result<EnvelopedLayer<'_>, BerError> {
    let enveloped = read_content_info(encoded, ID_ENVELOPED_DATA, "EnvelopedData")?
        .expect(Tag::SEQUENCE, "an EnvelopedData SEQUENCE")?;
    let mut fields = enveloped.children();
    fields
        .required("the EnvelopedData version")?
        .expect(Tag::INTEGER, "the EnvelopedData version")?;
    // Originator information (certificates and CRLs of the sender) is not used.
    fields.optional(Tag::context(0, true))?;

    let recipient_set = fields
        .required("the recipient infos")?
        .expect(Tag::SET, "the recipient infos SET")?;
    let recipients = recipient_set
        .children()
        .map(|recipient| recipient.and_then(read_recipient))
        .collect::<Result<Vec<_>, _>>()?;

    let content_info = fields
        .required("the encrypted content info")?
        .expect(Tag::SEQUENCE, "an EncryptedContentInfo SEQUENCE")?;
    let mut content_fields = content_info.children();
    content_fields
        .required("the encrypted content type")?
        .expect(Tag::OID, "the encrypted content type")?;
    let content_algorithm: AlgorithmIdentifierOwned = content_fields
        .required("the content encryption algorithm")?
        .decode()?;
    let encrypted = content_fields
        .optional(Tag::context(0, false))?
        .ok_or_else(|| {
            BerError::Invalid("the encrypted content is missing (detached content)".to_owned())
        })?;

    Ok(EnvelopedLayer {
        recipients,
        content_algorithm,
        encrypted_content: encrypted.octet_string()?,
        encrypted_range: primitive_range(&encrypted),
    })
}

/// Reads `ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }` and returns the
/// content after checking its type.
fn read_content_info<'a>(
    encoded: &'a [u8],
    expected: ObjectIdentifier,
    name: &'static str,
) -> Result<Tlv<'a>, BerError> {
    // Report data that is not CMS at all as such, rather than as a length that overruns.
    match encoded.first() {
        Some(0x30) => {}
        Some(first) => {
            return Err(BerError::Invalid(format!(
                "expected a ContentInfo holding {name}, found data starting with byte 0x{first:02x}"
            )));
        }
        None => return Err(BerError::Invalid(format!("expected {name}, found no data"))),
    }
    let info = Tlv::parse_exact(encoded)?.expect(Tag::SEQUENCE, "a ContentInfo SEQUENCE")?;
    let mut fields = info.children();
    let content_type = read_oid(fields.required("the content type")?)?;
    if content_type != expected {
        return Err(BerError::Invalid(format!(
            "expected {name} (content type {expected}), found content type {content_type}"
        )));
    }
    let explicit = fields
        .required("the content")?
        .expect(Tag::context(0, true), "the [0] content")?;
    explicit.children().required(name)
}

fn read_oid(tlv: Tlv<'_>) -> Result<ObjectIdentifier, BerError> {
    let tlv = tlv.expect(Tag::OID, "an OBJECT IDENTIFIER")?;
    ObjectIdentifier::from_bytes(tlv.contents())
        .map_err(|error| BerError::Invalid(format!("invalid OBJECT IDENTIFIER: {error}")))
}

/// Returns the position of a primitive string's contents in the input, or `None` for a
/// chunked string.
fn primitive_range(tlv: &Tlv<'_>) -> Option<Range<usize>> {
    (!tlv.tag().is_constructed()).then(|| tlv.contents_range())
}

type EncapsulatedContent<'a> = (ObjectIdentifier, Cow<'a, [u8]>, Option<Range<usize>>);

fn read_encapsulated_content(encapsulated: Tlv<'_>) -> Result<EncapsulatedContent<'_>, BerError> {
    let mut fields = encapsulated.children();
    let content_type = read_oid(fields.required("the eContentType")?)?;
    let explicit = fields.optional(Tag::context(0, true))?.ok_or_else(|| {
        BerError::Invalid(
            "the SignedData has no encapsulated content (a detached signature)".to_owned(),
        )
    })?;
    let string = explicit
        .children()
        .required("the eContent OCTET STRING")?
        .expect(Tag::OCTET_STRING, "the eContent OCTET STRING")?;
    Ok((
        content_type,
        string.octet_string()?,
        primitive_range(&string),
    ))
}

/// Reads the certificates of a CertificateSet; other certificate formats are skipped.
fn read_certificates(set: Tlv<'_>) -> Result<Vec<StoredCertificate>, BerError> {
    let mut certificates = Vec::new();
    for choice in set.children() {
        let choice = choice?;
        if choice.tag() != Tag::SEQUENCE {
            continue;
        }
        let stored = match StoredCertificate::from_der(choice.raw()) {
            Ok(stored) => stored,
            Err(_) => StoredCertificate::from_der(&choice.to_der()?).map_err(|error| {
                BerError::Invalid(format!("an embedded certificate is invalid: {error}"))
            })?,
        };
        certificates.push(stored);
    }
    Ok(certificates)
}

fn read_signer_info(signer: Tlv<'_>) -> Result<SignerInfo, BerError> {
    let signer = signer.expect(Tag::SEQUENCE, "a SignerInfo SEQUENCE")?;
    let mut fields = signer.children();
    fields
        .required("the SignerInfo version")?
        .expect(Tag::INTEGER, "the SignerInfo version")?;

    let identifier = fields.required("the signer identifier")?;
    let signer_id = if identifier.tag() == Tag::SEQUENCE {
        SignerId::IssuerAndSerialNumber(identifier.decode()?)
    } else {
        let identifier = identifier.expect(Tag::context(0, false), "the signer identifier")?;
        SignerId::SubjectKeyIdentifier(identifier.octet_string()?.into_owned())
    };

    let digest_algorithm = fields.required("the digest algorithm")?.decode()?;
    let signed_attributes = fields
        .optional(Tag::context(0, true))?
        .map(read_signed_attributes)
        .transpose()?;
    let signature_algorithm = fields.required("the signature algorithm")?.decode()?;
    let signature = fields
        .required("the signature")?
        .expect(Tag::OCTET_STRING, "the signature OCTET STRING")?
        .octet_string()?
        .into_owned();

    Ok(SignerInfo {
        signer: signer_id,
        digest_algorithm,
        signed_attributes,
        signature_algorithm,
        signature,
    })
}

/// Reads the signed attributes and their DER encoding as a SET OF, which the signature covers.
fn read_signed_attributes(attributes: Tlv<'_>) -> Result<SignedAttributes, BerError> {
    let mut der = attributes.to_der()?;
    // [0] IMPLICIT constructed becomes the universal SET tag.
    der[0] = 0x31;

    let mut signed = SignedAttributes {
        der,
        content_type: None,
        message_digest: None,
        signing_time: None,
    };
    for attribute in attributes.children() {
        let attribute = attribute?.expect(Tag::SEQUENCE, "an Attribute SEQUENCE")?;
        let mut fields = attribute.children();
        let attribute_type = read_oid(fields.required("the attribute type")?)?;
        let values = fields
            .required("the attribute values")?
            .expect(Tag::SET, "the attribute values SET")?;
        let mut values = values.children();
        let value = values.required("an attribute value")?;
        if values.next().is_some() {
            return Err(BerError::Invalid(format!(
                "signed attribute {attribute_type} has more than one value"
            )));
        }
        read_signed_attribute(&mut signed, attribute_type, value)?;
    }
    Ok(signed)
}

fn read_signed_attribute(
    signed: &mut SignedAttributes,
    attribute_type: ObjectIdentifier,
    value: Tlv<'_>,
) -> Result<(), BerError> {
    match attribute_type {
        ATTRIBUTE_CONTENT_TYPE => {
            set_once(&mut signed.content_type, read_oid(value)?, attribute_type)
        }
        ATTRIBUTE_MESSAGE_DIGEST => {
            let digest = value
                .expect(Tag::OCTET_STRING, "the messageDigest OCTET STRING")?
                .octet_string()?
                .into_owned();
            set_once(&mut signed.message_digest, digest, attribute_type)
        }
        ATTRIBUTE_SIGNING_TIME => {
            let time = x509_cert::time::Time::from_der(&value.to_der()?)
                .map_err(|error| BerError::Invalid(format!("invalid signingTime: {error}")))?;
            set_once(
                &mut signed.signing_time,
                certificate::timestamp(&time),
                attribute_type,
            )
        }
        _ => Ok(()),
    }
}

/// Stores an attribute value, rejecting a second occurrence of the attribute.
fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    attribute_type: ObjectIdentifier,
) -> Result<(), BerError> {
    if slot.replace(value).is_some() {
        return Err(BerError::Invalid(format!(
            "signed attribute {attribute_type} appears twice"
        )));
    }
    Ok(())
}

fn read_recipient(recipient: Tlv<'_>) -> Result<Recipient, BerError> {
    let tag = recipient.tag();
    if tag == Tag::SEQUENCE {
        return Ok(Recipient::KeyTransport(Box::new(recipient.decode()?)));
    }
    let kind = if tag.same_type(Tag::context(1, true)) {
        "a key agreement recipient"
    } else if tag.same_type(Tag::context(2, true)) {
        "a key-encryption-key recipient"
    } else if tag.same_type(Tag::context(3, true)) {
        "a password recipient"
    } else {
        "another kind of recipient"
    };
    Ok(Recipient::Other(kind))
}
