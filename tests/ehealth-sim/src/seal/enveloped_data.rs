//! CMS EnvelopedData: AES-128-CBC content encryption and one RSA PKCS#1 v1.5 key transport
//! recipient per encryption certificate.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeEncrypt, KeyIvInit};
use cms::content_info::CmsVersion;
use cms::enveloped_data::{
    KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo, RecipientInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Encode};
use rand::CryptoRng;
use rsa::Pkcs1v15Encrypt;
use rsa::pkcs8::DecodePublicKey;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use crate::ber::Node;

use super::SealError;
use super::signed_data::{ID_DATA, ID_ENVELOPED_DATA, RSA_ENCRYPTION, issuer_and_serial, oid_node};

pub(crate) const ID_AES128_CBC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");

const AES_BLOCK_LEN: usize = 16;

type Aes128CbcEncryptor = cbc::Encryptor<aes::Aes128>;

/// The encrypted content and the encoded parts of an EnvelopedData around it.
#[derive(Debug)]
pub(crate) struct EnvelopedParts {
    ciphertext: Vec<u8>,
    recipient_infos: Vec<u8>,
    content_encryption_algorithm: Vec<u8>,
}

impl EnvelopedParts {
    /// Encrypts `plaintext` in place under a fresh AES-128 key and wraps that key for every
    /// recipient certificate.
    ///
    /// `plaintext` is consumed and becomes the ciphertext, so a large message is not copied. Its
    /// spare capacity should hold one more AES block for the padding.
    pub(crate) fn encrypt<R: CryptoRng + ?Sized>(
        mut plaintext: Vec<u8>,
        recipients: &[&Certificate],
        rng: &mut R,
    ) -> Result<Self, SealError> {
        let mut key = [0u8; 16];
        let mut iv = [0u8; AES_BLOCK_LEN];
        rng.fill_bytes(&mut key);
        rng.fill_bytes(&mut iv);

        let recipient_infos = recipients
            .iter()
            .map(|certificate| key_trans_recipient(certificate, &key, rng))
            .collect::<Result<Vec<_>, _>>()?;
        let recipient_infos = RecipientInfos(SetOfVec::try_from(recipient_infos)?).to_der()?;

        let content_encryption_algorithm = AlgorithmIdentifierOwned {
            oid: ID_AES128_CBC,
            parameters: Some(Any::encode_from(&OctetString::new(iv)?)?),
        }
        .to_der()?;

        let message_len = plaintext.len();
        let padded_len = (message_len / AES_BLOCK_LEN + 1) * AES_BLOCK_LEN;
        plaintext.resize(padded_len, 0);
        Aes128CbcEncryptor::new(&key.into(), &iv.into())
            .encrypt_padded::<Pkcs7>(&mut plaintext, message_len)
            .map_err(|_| SealError::Encoding("AES padding buffer too small".to_owned()))?;

        Ok(Self {
            ciphertext: plaintext,
            recipient_infos,
            content_encryption_algorithm,
        })
    }

    /// Frames the parts into a ContentInfo EnvelopedData. With `chunk_size`, the constructed
    /// values get indefinite lengths and the encrypted content is split into segments, as
    /// BouncyCastle's streaming generator writes it. Without, the result is DER.
    pub(crate) fn content_info(&self, chunk_size: Option<usize>) -> Node<'_> {
        let ber = chunk_size.is_some();
        let encrypted_content_info = Node::constructed(
            0x30,
            ber,
            vec![
                oid_node(ID_DATA),
                Node::encoded(self.content_encryption_algorithm.as_slice()),
                Node::Octets {
                    identifier: 0x80,
                    value: &self.ciphertext,
                    chunk_size,
                },
            ],
        );
        let enveloped_data = Node::constructed(
            0x30,
            ber,
            vec![
                Node::encoded(&[0x02, 0x01, 0x00][..]),
                Node::encoded(self.recipient_infos.as_slice()),
                encrypted_content_info,
            ],
        );
        Node::constructed(
            0x30,
            ber,
            vec![
                oid_node(ID_ENVELOPED_DATA),
                Node::constructed(0xA0, ber, vec![enveloped_data]),
            ],
        )
    }
}

/// A KeyTransRecipientInfo v0: the content-encryption key under the certificate's RSA key, with
/// PKCS#1 v1.5 padding, identified by the certificate's issuer and serial number.
fn key_trans_recipient<R: CryptoRng + ?Sized>(
    certificate: &Certificate,
    content_key: &[u8],
    rng: &mut R,
) -> Result<RecipientInfo, SealError> {
    let tbs = certificate.tbs_certificate();
    let spki = tbs.subject_public_key_info();
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(SealError::UnsupportedRecipientKey {
            subject: tbs.subject().to_string(),
            algorithm: spki.algorithm.oid.to_string(),
        });
    }
    let public_key = rsa::PublicKey::from_public_key_der(&spki.to_der()?).map_err(|source| {
        SealError::InvalidRecipientKey {
            subject: tbs.subject().to_string(),
            reason: source.to_string(),
        }
    })?;
    let encrypted_key = public_key
        .encrypt(rng, Pkcs1v15Encrypt, content_key)
        .map_err(|source| SealError::InvalidRecipientKey {
            subject: tbs.subject().to_string(),
            reason: source.to_string(),
        })?;

    Ok(RecipientInfo::Ktri(KeyTransRecipientInfo {
        version: CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(issuer_and_serial(certificate)),
        key_enc_alg: AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        enc_key: OctetString::new(encrypted_key)?,
    }))
}
