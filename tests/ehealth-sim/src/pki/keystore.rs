//! Writes PKCS#12 keystores in the legacy layout of the real eHealth keystores.
//!
//! The layout:
//! - one `pkcs8ShroudedKeyBag` per key, encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC, in a
//!   plain `data` safe;
//! - all certificate bags in one `encryptedData` safe, encrypted with pbeWithSHAAnd40BitRC2-CBC;
//! - an HMAC-SHA1 MAC over both safes.
//!
//! Each key bag and the certificate bag of its certificate carry `friendlyName` (the alias, as a
//! BMPString) and `localKeyID` (ASCII `Time <epoch-ms>`). CA certificate bags carry their subject
//! as `friendlyName`.
//!
//! p12-keystore 0.4.1 can write 3DES and RC2-40 files: `openssl pkcs12 -info -legacy` (OpenSSL
//! 3.0.19) shows that its `PbeWithShaAnd40BitRc4Cbc` variant writes pbeWithSHA1And40BitRC2-CBC.
//! But its writer applies one algorithm to both key and certificate bags and draws salts from the
//! thread RNG. So this module assembles the file from the `pkcs12` and `cms` types itself, with
//! salts from the caller's RNG, which makes the bytes reproducible from the seed.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::encrypted_data::EncryptedData;
use cms::enveloped_data::EncryptedContentInfo;
use der::asn1::{BmpString, Null, OctetString, SetOfVec};
use der::oid::ObjectIdentifier;
use der::{Any, Encode};
use hmac::{Hmac, KeyInit, Mac};
use pkcs12::kdf::{Pkcs12KeyType, derive_key_utf8};
use pkcs12::pbe_params::{EncryptedPrivateKeyInfo, Pkcs12PbeParams};
use pkcs12::{CertBag, DigestInfo, MacData, Pfx, SafeBag};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::Rng;
use sha1::Sha1;
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const PBE_SHA1_3DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
const PBE_SHA1_RC2_40: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6");
const SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
const CERT_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
const X509_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
const FRIENDLY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.20");
const LOCAL_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");

/// Salt length of the PBE and MAC parameters, as in the real keystores (SHA-1 output size).
const SALT_LEN: usize = 20;

/// Iteration counts of a written keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeystoreOptions {
    /// PBE iterations of each key bag (3DES).
    pub key_iterations: u32,
    /// PBE iterations of the certificate safe (RC2-40).
    pub cert_iterations: u32,
    /// Iterations of the HMAC-SHA1 key derivation.
    pub mac_iterations: u32,
}

impl Default for KeystoreOptions {
    /// Returns the counts observed in real eHealth keystores: 50 000 for the PBEs and 100 000
    /// for the MAC.
    fn default() -> Self {
        Self {
            key_iterations: 50_000,
            cert_iterations: 50_000,
            mac_iterations: 100_000,
        }
    }
}

impl KeystoreOptions {
    /// Returns low counts that keep tests fast. The file layout and algorithms stay the same.
    pub fn fast() -> Self {
        Self {
            key_iterations: 64,
            cert_iterations: 64,
            mac_iterations: 64,
        }
    }
}

/// Errors while writing a keystore.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("invalid PKCS#12 iteration count {count}: expected 1 to {max}", max = i32::MAX)]
    Iterations { count: u32 },

    #[error("PKCS#12 encoding failed: {0}")]
    Encoding(#[from] der::Error),

    #[error("PKCS#12 key derivation or cipher setup failed")]
    Crypto,
}

/// A private key entry: the key, its certificate and the bag attributes that tie them together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyEntry<'a> {
    pub alias: &'a str,
    pub local_key_id: &'a [u8],
    pub key_pkcs8_der: &'a [u8],
    pub certificate_der: &'a [u8],
}

/// A certificate stored without a key (the CA chain).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainCertificate<'a> {
    pub friendly_name: &'a str,
    pub certificate_der: &'a [u8],
}

/// Writes a PFX with the given key entries and CA certificates, protected by `password`.
pub(crate) fn write_pkcs12(
    entries: &[KeyEntry<'_>],
    chain: &[ChainCertificate<'_>],
    password: &str,
    options: &KeystoreOptions,
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, KeystoreError> {
    let key_iterations = iterations(options.key_iterations)?;
    let cert_iterations = iterations(options.cert_iterations)?;
    let mac_iterations = iterations(options.mac_iterations)?;

    let mut key_bags = Vec::new();
    for entry in entries {
        key_bags.push(key_bag(entry, password, key_iterations, rng)?);
    }
    let mut cert_bags = Vec::new();
    for entry in entries {
        let attributes = bag_attributes(entry.alias, Some(entry.local_key_id))?;
        cert_bags.push(cert_bag(entry.certificate_der, attributes)?);
    }
    for certificate in chain {
        let attributes = bag_attributes(certificate.friendly_name, None)?;
        cert_bags.push(cert_bag(certificate.certificate_der, attributes)?);
    }

    let key_safe = ContentInfo {
        content_type: ID_DATA,
        content: Any::encode_from(&OctetString::new(key_bags.to_der()?)?)?,
    };
    let cert_safe = encrypted_safe(&cert_bags, password, cert_iterations, rng)?;
    let authenticated_safe = vec![key_safe, cert_safe].to_der()?;

    let mac_data = mac(&authenticated_safe, password, mac_iterations, rng)?;
    let pfx = Pfx {
        version: pkcs12::pfx::Version::V3,
        auth_safe: ContentInfo {
            content_type: ID_DATA,
            content: Any::encode_from(&OctetString::new(authenticated_safe)?)?,
        },
        mac_data: Some(mac_data),
    };
    Ok(pfx.to_der()?)
}

fn iterations(count: u32) -> Result<i32, KeystoreError> {
    match i32::try_from(count) {
        Ok(value) if value > 0 => Ok(value),
        _ => Err(KeystoreError::Iterations { count }),
    }
}

fn key_bag(
    entry: &KeyEntry<'_>,
    password: &str,
    iterations: i32,
    rng: &mut ChaCha20Rng,
) -> Result<SafeBag, KeystoreError> {
    let (algorithm, ciphertext) = pbe_encrypt(
        PBE_SHA1_3DES,
        entry.key_pkcs8_der,
        password,
        iterations,
        rng,
    )?;
    let shrouded = EncryptedPrivateKeyInfo {
        encryption_algorithm: algorithm,
        encrypted_data: OctetString::new(ciphertext)?,
    };
    Ok(SafeBag {
        bag_id: SHROUDED_KEY_BAG,
        bag_value: shrouded.to_der()?,
        bag_attributes: Some(bag_attributes(entry.alias, Some(entry.local_key_id))?),
    })
}

fn cert_bag(
    certificate_der: &[u8],
    attributes: SetOfVec<Attribute>,
) -> Result<SafeBag, KeystoreError> {
    let bag = CertBag {
        cert_id: X509_CERTIFICATE,
        cert_value: OctetString::new(certificate_der)?,
    };
    Ok(SafeBag {
        bag_id: CERT_BAG,
        bag_value: bag.to_der()?,
        bag_attributes: Some(attributes),
    })
}

fn bag_attributes(
    friendly_name: &str,
    local_key_id: Option<&[u8]>,
) -> Result<SetOfVec<Attribute>, KeystoreError> {
    let mut attributes = SetOfVec::new();
    let name = BmpString::from_utf8(friendly_name)?;
    attributes.insert(Attribute {
        oid: FRIENDLY_NAME,
        values: SetOfVec::try_from(vec![Any::encode_from(&name)?])?,
    })?;
    if let Some(local_key_id) = local_key_id {
        let id = OctetString::new(local_key_id)?;
        attributes.insert(Attribute {
            oid: LOCAL_KEY_ID,
            values: SetOfVec::try_from(vec![Any::encode_from(&id)?])?,
        })?;
    }
    Ok(attributes)
}

fn encrypted_safe(
    bags: &[SafeBag],
    password: &str,
    iterations: i32,
    rng: &mut ChaCha20Rng,
) -> Result<ContentInfo, KeystoreError> {
    let plaintext = bags.to_vec().to_der()?;
    let (algorithm, ciphertext) =
        pbe_encrypt(PBE_SHA1_RC2_40, &plaintext, password, iterations, rng)?;
    let encrypted = EncryptedData {
        version: CmsVersion::V0,
        enc_content_info: EncryptedContentInfo {
            content_type: ID_DATA,
            content_enc_alg: algorithm,
            encrypted_content: Some(OctetString::new(ciphertext)?),
        },
        unprotected_attrs: None,
    };
    Ok(ContentInfo {
        content_type: ID_ENCRYPTED_DATA,
        content: Any::encode_from(&encrypted)?,
    })
}

/// Encrypts with a PKCS#12 PBE scheme (RFC 7292 appendix B key and IV derivation with SHA-1).
fn pbe_encrypt(
    scheme: ObjectIdentifier,
    plaintext: &[u8],
    password: &str,
    iterations: i32,
    rng: &mut ChaCha20Rng,
) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), KeystoreError> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);

    let key_len = if scheme == PBE_SHA1_3DES { 24 } else { 5 };
    let key = derive(
        password,
        &salt,
        Pkcs12KeyType::EncryptionKey,
        iterations,
        key_len,
    )?;
    let iv = derive(password, &salt, Pkcs12KeyType::Iv, iterations, 8)?;
    let ciphertext = if scheme == PBE_SHA1_3DES {
        cbc::Encryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(|_| KeystoreError::Crypto)?
            .encrypt_padded_vec::<Pkcs7>(plaintext)
    } else {
        // A 5-byte key gives RC2 an effective key length of 40 bits.
        cbc::Encryptor::<rc2::Rc2>::new_from_slices(&key, &iv)
            .map_err(|_| KeystoreError::Crypto)?
            .encrypt_padded_vec::<Pkcs7>(plaintext)
    };

    let parameters = Pkcs12PbeParams {
        salt: OctetString::new(salt.to_vec())?,
        iterations,
    };
    let algorithm = AlgorithmIdentifierOwned {
        oid: scheme,
        parameters: Some(Any::encode_from(&parameters)?),
    };
    Ok((algorithm, ciphertext))
}

fn mac(
    data: &[u8],
    password: &str,
    iterations: i32,
    rng: &mut ChaCha20Rng,
) -> Result<MacData, KeystoreError> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);

    let key = derive(password, &salt, Pkcs12KeyType::Mac, iterations, 20)?;
    let mut hmac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(&key).map_err(|_| KeystoreError::Crypto)?;
    hmac.update(data);
    let digest = hmac.finalize().into_bytes();

    Ok(MacData {
        mac: DigestInfo {
            algorithm: AlgorithmIdentifierOwned {
                oid: ID_SHA1,
                parameters: Some(Any::encode_from(&Null)?),
            },
            digest: OctetString::new(digest.to_vec())?,
        },
        mac_salt: OctetString::new(salt.to_vec())?,
        iterations,
    })
}

fn derive(
    password: &str,
    salt: &[u8],
    purpose: Pkcs12KeyType,
    iterations: i32,
    len: usize,
) -> Result<Vec<u8>, KeystoreError> {
    Ok(derive_key_utf8::<Sha1>(
        password, salt, purpose, iterations, len,
    )?)
}
