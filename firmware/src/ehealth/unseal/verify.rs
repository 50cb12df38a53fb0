//! Verifying the signer infos of the outer and inner SignedData of a sealed message.
//!
//! With signed attributes, the messageDigest attribute must equal the content's digest, and
//! the signature covers the DER SET OF the attributes. Without them, the signature covers the
//! content's digest. The content is hashed once per digest algorithm.

use der::asn1::ObjectIdentifier;

use super::{
    Layer, SenderCertificate, SignatureStatus, SignerRelation, UnsealError, UnsealPolicy,
    cms::{SignedLayer, SignerInfo},
};
use crate::ehealth::{
    certificate::StoredCertificate,
    signature::{self, DigestAlgorithm, SignatureError},
};

/// Digests of one content, computed on first use per algorithm.
#[derive(Debug, Default)]
struct DigestCache {
    digests: Vec<(DigestAlgorithm, Vec<u8>)>,
}

impl DigestCache {
    fn digest(&mut self, algorithm: DigestAlgorithm, content: &[u8]) -> &[u8] {
        let index = match self
            .digests
            .iter()
            .position(|(known, _)| *known == algorithm)
        {
            Some(index) => index,
            None => {
                self.digests.push((algorithm, algorithm.digest(content)));
                self.digests.len() - 1
            }
        };
        &self.digests[index].1
    }
}

/// Verifies every signer of the outer SignedData with the certificates it embeds and returns
/// the first signer's certificate (the sender) with its status.
pub(super) fn verify_outer(
    layer: &SignedLayer<'_>,
    policy: &UnsealPolicy,
) -> Result<(StoredCertificate, SignatureStatus), UnsealError> {
    let mut cache = DigestCache::default();
    let mut first = None;
    for signer in &layer.signers {
        let certificate = layer
            .certificates
            .iter()
            .find(|certificate| signer.signer.matches(certificate))
            .ok_or_else(|| UnsealError::SignerCertificateMissing {
                layer: Layer::Outer,
                signer: signer.signer.to_string(),
            })?;
        let status = verify_signer(
            layer,
            signer,
            certificate,
            SignerRelation::Sender,
            policy,
            Layer::Outer,
            &mut cache,
        )?;
        first.get_or_insert((certificate.clone(), status));
    }
    // `read_signed_data` rejects a SignedData without signers.
    first.ok_or_else(|| UnsealError::Malformed {
        layer: Layer::Outer,
        detail: "the SignedData has no signer".to_owned(),
    })
}

/// Verifies every signer of the inner SignedData, expecting the sender's certificate. Another
/// certificate embedded in the inner layer is accepted only if the policy allows it, and is
/// then named in the status.
pub(super) fn verify_inner(
    layer: &SignedLayer<'_>,
    sender: &StoredCertificate,
    policy: &UnsealPolicy,
) -> Result<SignatureStatus, UnsealError> {
    let mut cache = DigestCache::default();
    let mut first = None;
    for signer in &layer.signers {
        let (certificate, relation) = inner_signer_certificate(layer, signer, sender, policy)?;
        let status = verify_signer(
            layer,
            signer,
            certificate,
            relation,
            policy,
            Layer::Inner,
            &mut cache,
        )?;
        first.get_or_insert(status);
    }
    first.ok_or_else(|| UnsealError::Malformed {
        layer: Layer::Inner,
        detail: "the SignedData has no signer".to_owned(),
    })
}

fn inner_signer_certificate<'c>(
    layer: &'c SignedLayer<'_>,
    signer: &SignerInfo,
    sender: &'c StoredCertificate,
    policy: &UnsealPolicy,
) -> Result<(&'c StoredCertificate, SignerRelation), UnsealError> {
    if signer.signer.matches(sender) {
        return Ok((sender, SignerRelation::Sender));
    }
    let Some(other) = layer
        .certificates
        .iter()
        .find(|certificate| signer.signer.matches(certificate))
    else {
        return Err(UnsealError::SignerCertificateMissing {
            layer: Layer::Inner,
            signer: format!("{}, which is not the sender's certificate", signer.signer),
        });
    };
    if !policy.allow_different_inner_signer {
        return Err(UnsealError::InnerSignerMismatch {
            sender: sender.subject(),
            inner_signer: other.subject(),
        });
    }
    Ok((other, SignerRelation::Other(SenderCertificate::from(other))))
}

fn verify_signer(
    signed: &SignedLayer<'_>,
    signer: &SignerInfo,
    certificate: &StoredCertificate,
    relation: SignerRelation,
    policy: &UnsealPolicy,
    layer: Layer,
    cache: &mut DigestCache,
) -> Result<SignatureStatus, UnsealError> {
    let bad_signature = |reason: String| UnsealError::BadSignature {
        layer,
        signer: certificate.subject(),
        reason,
    };
    let algorithm =
        signature::cms_signature_algorithm(&signer.digest_algorithm, &signer.signature_algorithm)
            .map_err(|error| signature_error(layer, certificate, error))?;
    let digest_algorithm = algorithm.digest();
    if digest_algorithm == DigestAlgorithm::Sha1 && !policy.allow_sha1 {
        return Err(UnsealError::Sha1Rejected { layer });
    }

    let content_digest = cache.digest(digest_algorithm, &signed.content);
    let signed_digest = match &signer.signed_attributes {
        None => content_digest.to_vec(),
        Some(attributes) => {
            match &attributes.message_digest {
                None => {
                    return Err(bad_signature(
                        "the signed attributes have no messageDigest".to_owned(),
                    ));
                }
                Some(digest) if digest.as_slice() != content_digest => {
                    return Err(bad_signature(
                        "the messageDigest attribute does not match the content".to_owned(),
                    ));
                }
                Some(_) => {}
            }
            check_content_type(attributes.content_type, signed.content_type)
                .map_err(bad_signature)?;
            digest_algorithm.digest(&attributes.der)
        }
    };

    let key_info = certificate
        .parsed()
        .tbs_certificate()
        .subject_public_key_info();
    signature::verify_digest(key_info, algorithm, &signed_digest, &signer.signature)
        .map_err(|error| signature_error(layer, certificate, error))?;

    Ok(SignatureStatus {
        algorithm,
        signed_attributes: signer.signed_attributes.is_some(),
        signing_time: signer
            .signed_attributes
            .as_ref()
            .and_then(|attributes| attributes.signing_time),
        signer: relation,
    })
}

/// The contentType attribute, when present, must name the eContentType.
// NOTE: RFC 5652 requires contentType whenever signed attributes are present; a missing one
// is accepted because the messageDigest check already binds the content.
fn check_content_type(
    attribute: Option<ObjectIdentifier>,
    content_type: ObjectIdentifier,
) -> Result<(), String> {
    match attribute {
        Some(attribute) if attribute != content_type => Err(format!(
            "the contentType attribute {attribute} differs from the eContentType {content_type}"
        )),
        _ => Ok(()),
    }
}

fn signature_error(
    layer: Layer,
    certificate: &StoredCertificate,
    error: SignatureError,
) -> UnsealError {
    match error {
        SignatureError::UnsupportedAlgorithm { purpose, oid } => {
            UnsealError::UnsupportedAlgorithm {
                layer,
                purpose,
                oid,
            }
        }
        SignatureError::InvalidPssParameters(_) | SignatureError::DigestConflict { .. } => {
            UnsealError::Malformed {
                layer,
                detail: error.to_string(),
            }
        }
        SignatureError::InvalidPublicKey(_) | SignatureError::Mismatch => {
            UnsealError::BadSignature {
                layer,
                signer: certificate.subject(),
                reason: error.to_string(),
            }
        }
    }
}
