//! Opening the EnvelopedData: choosing our encryption key among the recipients, decrypting
//! the content-encryption key (RSA PKCS#1 v1.5 or RSAES-OAEP) and the content (AES-CBC).

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use cms::enveloped_data::{KeyTransRecipientInfo, RecipientIdentifier};
use der::{Decode, Encode, asn1::ObjectIdentifier};
use rsa::{Pkcs1v15Encrypt, oaep::Oaep, pkcs1::RsaOaepParams};
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use super::{Layer, RecipientId, UnsealError, cms::Recipient};
use crate::ehealth::{
    certificate::{StoredCertificate, decimal_serial, hex},
    keystore::{EhealthKeystore, EncryptionKey},
    signature::DigestAlgorithm,
};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSAES_OAEP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.7");
const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const AES128_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
const AES192_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.22");
const AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");

const AES_BLOCK_SIZE: usize = 16;

/// Returns the first key transport recipient that one of the keystore's encryption keys
/// matches, by issuer and serial number or by subject key identifier.
pub(super) fn select_recipient<'r, 'k>(
    recipients: &'r [Recipient],
    keystore: &'k EhealthKeystore,
) -> Result<(&'r KeyTransRecipientInfo, &'k EncryptionKey), UnsealError> {
    for recipient in recipients {
        let Recipient::KeyTransport(info) = recipient else {
            continue;
        };
        let matching_key = keystore
            .encryption_keys()
            .iter()
            .find(|key| recipient_matches(&info.rid, key.certificate()));
        if let Some(key) = matching_key {
            return Ok((info, key));
        }
    }

    Err(UnsealError::NotAddressedToKeystore {
        keystore: keystore.file().to_owned(),
        recipients: recipients.iter().map(recipient_id).collect(),
        keystore_serials: keystore
            .encryption_keys()
            .iter()
            .map(|key| key.certificate().decimal_serial())
            .collect(),
    })
}

fn recipient_matches(identifier: &RecipientIdentifier, certificate: &StoredCertificate) -> bool {
    let tbs = certificate.parsed().tbs_certificate();
    match identifier {
        RecipientIdentifier::IssuerAndSerialNumber(id) => {
            id.issuer == *tbs.issuer() && id.serial_number == *tbs.serial_number()
        }
        RecipientIdentifier::SubjectKeyIdentifier(id) => {
            id.0.as_bytes() == certificate.subject_key_identifier().as_slice()
        }
    }
}

fn recipient_id(recipient: &Recipient) -> RecipientId {
    match recipient {
        Recipient::KeyTransport(info) => match &info.rid {
            RecipientIdentifier::IssuerAndSerialNumber(id) => RecipientId::IssuerAndSerial {
                issuer: id.issuer.to_string(),
                serial: decimal_serial(&id.serial_number),
            },
            RecipientIdentifier::SubjectKeyIdentifier(id) => {
                RecipientId::SubjectKeyIdentifier(hex(id.0.as_bytes()))
            }
        },
        Recipient::Other(kind) => RecipientId::Other(kind),
    }
}

/// Decrypts the content-encryption key with our RSA key.
pub(super) fn decrypt_content_key(
    recipient: &KeyTransRecipientInfo,
    key: &EncryptionKey,
) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    let encrypted = recipient.enc_key.as_bytes();
    let algorithm = &recipient.key_enc_alg;
    let result = match algorithm.oid {
        // NOTE: rsa 0.10 uses implicit rejection: a wrong key or bad padding yields a
        // pseudo-random key instead of an error, which the AES padding check then catches.
        RSA_ENCRYPTION => key.key().decrypt(Pkcs1v15Encrypt, encrypted),
        RSAES_OAEP => decrypt_oaep(key.key(), algorithm, encrypted)?,
        oid => {
            return Err(UnsealError::UnsupportedAlgorithm {
                layer: Layer::Envelope,
                purpose: "key transport",
                oid,
            });
        }
    };
    result.map(Zeroizing::new).map_err(|error| {
        decryption_failed(key, format!("the content key cannot be decrypted: {error}"))
    })
}

fn decrypt_oaep(
    key: &rsa::PrivateKey,
    algorithm: &AlgorithmIdentifierOwned,
    encrypted: &[u8],
) -> Result<rsa::errors::Result<Vec<u8>>, UnsealError> {
    let malformed = |detail: String| UnsealError::Malformed {
        layer: Layer::Envelope,
        detail: format!("invalid RSAES-OAEP parameters: {detail}"),
    };
    let encoded = match &algorithm.parameters {
        Some(parameters) => parameters.to_der().map_err(|e| malformed(e.to_string()))?,
        // Absent parameters mean all defaults: SHA-1, MGF1 with SHA-1, empty label.
        None => vec![0x30, 0x00],
    };
    let parameters =
        RsaOaepParams::<der::Any>::from_der(&encoded).map_err(|e| malformed(e.to_string()))?;

    let unsupported = |oid| UnsealError::UnsupportedAlgorithm {
        layer: Layer::Envelope,
        purpose: "RSAES-OAEP hash",
        oid,
    };
    let digest = DigestAlgorithm::from_oid(parameters.hash.oid)
        .ok_or_else(|| unsupported(parameters.hash.oid))?;
    if parameters.mask_gen.oid != MGF1 {
        return Err(UnsealError::UnsupportedAlgorithm {
            layer: Layer::Envelope,
            purpose: "RSAES-OAEP mask generation",
            oid: parameters.mask_gen.oid,
        });
    }
    let mask_oid = parameters
        .mask_gen
        .parameters
        .as_ref()
        .map(|hash| hash.oid)
        .ok_or_else(|| malformed("the MGF1 hash is missing".to_owned()))?;
    let mask_digest = DigestAlgorithm::from_oid(mask_oid).ok_or_else(|| unsupported(mask_oid))?;
    let label = match parameters.p_source.parameters {
        Some(label) => label
            .decode_as::<der::asn1::OctetString>()
            .map_err(|e| malformed(e.to_string()))?
            .as_bytes()
            .to_vec(),
        None => Vec::new(),
    };

    Ok(match (digest, mask_digest) {
        (DigestAlgorithm::Sha1, DigestAlgorithm::Sha1) => {
            key.decrypt(Oaep::<Sha1>::new_with_label(label), encrypted)
        }
        (DigestAlgorithm::Sha256, DigestAlgorithm::Sha256) => {
            key.decrypt(Oaep::<Sha256>::new_with_label(label), encrypted)
        }
        (DigestAlgorithm::Sha256, DigestAlgorithm::Sha1) => key.decrypt(
            Oaep::<Sha256, Sha1>::new_with_mgf_hash_and_label(label),
            encrypted,
        ),
        (DigestAlgorithm::Sha384, DigestAlgorithm::Sha384) => {
            key.decrypt(Oaep::<Sha384>::new_with_label(label), encrypted)
        }
        (DigestAlgorithm::Sha512, DigestAlgorithm::Sha512) => {
            key.decrypt(Oaep::<Sha512>::new_with_label(label), encrypted)
        }
        _ => return Err(unsupported(mask_oid)),
    })
}

/// Decrypts `buffer` in place with AES-CBC and removes the PKCS#7 padding.
pub(super) fn decrypt_content(
    algorithm: &AlgorithmIdentifierOwned,
    content_key: &[u8],
    key: &EncryptionKey,
    buffer: &mut Vec<u8>,
) -> Result<(), UnsealError> {
    let key_length = match algorithm.oid {
        AES128_CBC => 16,
        AES192_CBC => 24,
        AES256_CBC => 32,
        oid => {
            return Err(UnsealError::UnsupportedAlgorithm {
                layer: Layer::Envelope,
                purpose: "content encryption",
                oid,
            });
        }
    };
    let iv = read_iv(algorithm)?;
    if content_key.len() != key_length {
        return Err(decryption_failed(
            key,
            format!(
                "the decrypted content key has {} bytes instead of {key_length}",
                content_key.len()
            ),
        ));
    }
    if buffer.is_empty() || !buffer.len().is_multiple_of(AES_BLOCK_SIZE) {
        return Err(UnsealError::Malformed {
            layer: Layer::Envelope,
            detail: format!(
                "the encrypted content has {} bytes, not a whole number of AES blocks",
                buffer.len()
            ),
        });
    }

    let plaintext_length = match key_length {
        16 => cbc_decrypt::<Aes128>(content_key, &iv, buffer),
        24 => cbc_decrypt::<Aes192>(content_key, &iv, buffer),
        _ => cbc_decrypt::<Aes256>(content_key, &iv, buffer),
    }
    .ok_or_else(|| {
        decryption_failed(
            key,
            "the padding of the decrypted content is invalid".to_owned(),
        )
    })?;
    buffer.truncate(plaintext_length);
    Ok(())
}

/// Decrypts in place and returns the length without padding, or `None` for bad padding.
fn cbc_decrypt<C>(content_key: &[u8], iv: &[u8], buffer: &mut [u8]) -> Option<usize>
where
    cbc::Decryptor<C>: KeyIvInit + BlockModeDecrypt,
    C: cbc::cipher::BlockCipherDecrypt,
{
    let decryptor = cbc::Decryptor::<C>::new_from_slices(content_key, iv).ok()?;
    decryptor
        .decrypt_padded::<Pkcs7>(buffer)
        .ok()
        .map(<[u8]>::len)
}

fn read_iv(algorithm: &AlgorithmIdentifierOwned) -> Result<Vec<u8>, UnsealError> {
    let iv = algorithm
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.decode_as::<der::asn1::OctetString>().ok())
        .map(|iv| iv.as_bytes().to_vec());
    match iv {
        Some(iv) if iv.len() == AES_BLOCK_SIZE => Ok(iv),
        _ => Err(UnsealError::Malformed {
            layer: Layer::Envelope,
            detail: "the AES-CBC parameters do not hold a 16-byte IV".to_owned(),
        }),
    }
}

fn decryption_failed(key: &EncryptionKey, detail: String) -> UnsealError {
    UnsealError::DecryptionFailed {
        alias: key.alias().to_owned(),
        detail,
    }
}
