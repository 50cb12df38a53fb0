//! What is on a virtual card: the citizen ([`CardProfile`]) and the file system built from it
//! ([`CardImage`]): certificates, identity and address files in the real TLV layout, signed by
//! the test RRN key, and the photo.

use std::collections::BTreeMap;

use practicebox::eid::Insz;
use practicebox::eid::identity::{address_tag, tag};
use practicebox::eid::tlv::encode_field;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};
use signature::hazmat::PrehashSigner;
use spki::EncodePublicKey;
use zeroize::Zeroizing;

use crate::EmulatorError;
use crate::pki::{self, CardPki, CertificateHolder, TestKey};

/// The applet generation to emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Applet {
    /// Applet 1.7: RSA-2048 keys, SHA-1 photo hash.
    V1_7,
    /// Applet 1.8: ECDSA P-384 keys, SHA-384 hashes, basic key file 4040.
    V1_8,
}

impl Applet {
    /// Returns `1.7` or `1.8`.
    pub fn label(self) -> &'static str {
        match self {
            Self::V1_7 => "1.7",
            Self::V1_8 => "1.8",
        }
    }

    /// Returns the applet version byte of GET CARD DATA.
    pub fn version_byte(self) -> u8 {
        match self {
            Self::V1_7 => 0x17,
            Self::V1_8 => 0x18,
        }
    }
}

impl std::str::FromStr for Applet {
    type Err = EmulatorError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "1.7" => Ok(Self::V1_7),
            "1.8" => Ok(Self::V1_8),
            other => Err(EmulatorError::Config(format!(
                "applet {other:?} is not supported; use 1.7 or 1.8"
            ))),
        }
    }
}

/// The citizen and card settings of a virtual eID.
#[derive(Clone)]
pub struct CardProfile {
    /// Applet generation.
    pub applet: Applet,
    /// Seed of every key; the same seed gives the same certificates.
    pub seed: u64,
    /// National register number (INSZ), 11 digits with valid check digits.
    pub ssin: String,
    /// Surname.
    pub name: String,
    /// First two given names.
    pub first_names: String,
    /// Card PIN, 4 to 12 digits.
    pub pin: Zeroizing<String>,
    /// Street and number.
    pub street_and_number: String,
    /// Postal code.
    pub postal_code: String,
    /// Municipality of the address, also the issuing municipality and birth place.
    pub municipality: String,
    /// INTERNAL AUTHENTICATE calls since the last successful VERIFY, so that tests can start
    /// near the limit of [`crate::card::INTERNAL_AUTHENTICATE_LIMIT`] calls.
    pub internal_authentications: u32,
    /// Status word of INTERNAL AUTHENTICATE once the limit is reached.
    /// NOTE: the Belpic documentation states the limit but not this status word. The default,
    /// `6982` (security status not satisfied), is the ISO 7816-4 word for "verify the PIN first";
    /// a real card may return `6983` or `6985` instead.
    pub internal_authenticate_blocked_sw: u16,
}

impl std::fmt::Debug for CardProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardProfile")
            .field("applet", &self.applet)
            .field("seed", &self.seed)
            .field("ssin", &self.ssin)
            .field("name", &self.name)
            .field("pin", &"<PIN>")
            .finish_non_exhaustive()
    }
}

/// Default INSZ of the virtual citizen: born 30 July 1985, sequence 033 (male).
pub const DEFAULT_SSIN: &str = "85073003328";
/// Default PIN of the virtual card.
pub const DEFAULT_PIN: &str = "1234";

impl CardProfile {
    /// Returns a citizen with the default name, INSZ and PIN on the given applet.
    pub fn new(applet: Applet) -> Self {
        Self {
            applet,
            seed: 1,
            ssin: DEFAULT_SSIN.to_owned(),
            name: "Vandenberghe-Lemaître".to_owned(),
            first_names: "Jan-Willem Alexandre".to_owned(),
            pin: Zeroizing::new(DEFAULT_PIN.to_owned()),
            street_and_number: "Bondgenotenlaan 100 bus 3".to_owned(),
            postal_code: "3000".to_owned(),
            municipality: "Leuven".to_owned(),
            internal_authentications: 0,
            internal_authenticate_blocked_sw: 0x6982,
        }
    }

    fn validate(&self) -> Result<(), EmulatorError> {
        Insz::parse(&self.ssin).map_err(|error| EmulatorError::Config(error.to_string()))?;
        let pin_ok =
            (4..=12).contains(&self.pin.len()) && self.pin.bytes().all(|b| b.is_ascii_digit());
        if !pin_ok {
            return Err(EmulatorError::Config(
                "the card PIN must be 4 to 12 digits".to_owned(),
            ));
        }
        Ok(())
    }

    fn holder(&self) -> CertificateHolder {
        CertificateHolder {
            ssin: self.ssin.clone(),
            name: self.name.clone(),
            first_names: self.first_names.clone(),
        }
    }
}

/// Zero bytes appended to every certificate file.
fn certificate_padding(applet: Applet) -> usize {
    match applet {
        Applet::V1_7 => 50,
        Applet::V1_8 => 1100,
    }
}

/// Size of the zero-padded ECDSA signature files 4032 and 4034: the longest DER P-384
/// signature (104 bytes).
const EC_SIGNATURE_FILE_LENGTH: usize = 104;
/// Size of the zero-padded address file.
const ADDRESS_FILE_LENGTH: usize = 117;

/// The file system of a virtual card and the keys behind it.
#[derive(Debug, Clone)]
pub struct CardImage {
    /// Transparent files by absolute path without the MF, for example `[0xDF01, 0x4031]`.
    pub files: BTreeMap<[u16; 2], Vec<u8>>,
    /// Applet generation.
    pub applet: Applet,
    /// 16-byte chip serial number.
    pub chip_serial: [u8; 16],
    /// The PKI of this card.
    pub pki: std::sync::Arc<CardPki>,
}

impl CardImage {
    /// Builds the files for `profile`.
    pub fn build(profile: &CardProfile) -> Result<Self, EmulatorError> {
        profile.validate()?;
        let pki = pki::card_pki(profile.applet, profile.seed, &profile.holder())?;
        let applet = profile.applet;
        let chip_serial = chip_serial(profile);

        let photo = photo(profile);
        let basic_key_file = basic_key_file(&pki)?;
        let identity = identity_file(profile, &chip_serial, &photo, basic_key_file.as_deref());
        let identity_signature = rrn_sign(&pki.rrn.key, &identity)?;
        let address = address_file(profile);
        let mut signed_address = strip_trailing_zeros(&address).to_vec();
        signed_address.extend_from_slice(&identity_signature);
        let address_signature = rrn_sign(&pki.rrn.key, &signed_address)?;

        let padded = |der: &[u8]| {
            let mut file = der.to_vec();
            file.resize(der.len() + certificate_padding(applet), 0);
            file
        };
        let mut files = BTreeMap::new();
        files.insert([0xDF01, 0x4031], identity);
        files.insert([0xDF01, 0x4032], identity_signature);
        files.insert([0xDF01, 0x4033], address);
        files.insert([0xDF01, 0x4034], address_signature);
        files.insert([0xDF01, 0x4035], photo);
        if let Some(basic_key_file) = basic_key_file {
            files.insert([0xDF01, 0x4040], basic_key_file);
        }
        files.insert([0xDF00, 0x5038], padded(&pki.authentication.der));
        files.insert([0xDF00, 0x5039], padded(&pki.non_repudiation.der));
        files.insert([0xDF00, 0x503A], padded(&pki.citizen_ca.der));
        files.insert([0xDF00, 0x503B], padded(&pki.root.der));
        files.insert([0xDF00, 0x503C], padded(&pki.rrn.der));
        Ok(Self {
            files,
            applet,
            chip_serial,
            pki,
        })
    }
}

fn chip_serial(profile: &CardProfile) -> [u8; 16] {
    let digest = Sha256::digest(format!("chip {} {}", profile.seed, profile.ssin));
    let mut serial = [0u8; 16];
    serial.copy_from_slice(&digest[..16]);
    // The first two bytes name the card maker and chip maker on real cards; 0x5445 is "TE".
    serial[..2].copy_from_slice(b"TE");
    serial
}

/// Builds a deterministic stand-in for the JPEG photo: SOI and EOI markers around seeded bytes.
// NOTE: the bytes between the markers are not a decodable image; the client only hashes them.
fn photo(profile: &CardProfile) -> Vec<u8> {
    let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0];
    let mut block = Sha256::digest(format!("photo {} {}", profile.seed, profile.ssin)).to_vec();
    while photo.len() < 3000 {
        photo.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    photo.extend_from_slice(&[0xFF, 0xD9]);
    photo
}

/// Encodes the 1.8 basic public key as DER SubjectPublicKeyInfo (file 4040).
fn basic_key_file(pki: &CardPki) -> Result<Option<Vec<u8>>, EmulatorError> {
    match &pki.basic_key {
        Some(TestKey::P384(key)) => key
            .verifying_key()
            .to_public_key_der()
            .map(|document| Some(document.as_bytes().to_vec()))
            .map_err(|error| EmulatorError::Pki(error.to_string())),
        _ => Ok(None),
    }
}

fn identity_file(
    profile: &CardProfile,
    chip_serial: &[u8; 16],
    photo: &[u8],
    basic_key_file: Option<&[u8]>,
) -> Vec<u8> {
    let ssin = profile.ssin.as_bytes();
    let sequence = (u32::from(ssin[6] - b'0') * 100)
        + (u32::from(ssin[7] - b'0') * 10)
        + u32::from(ssin[8] - b'0');
    let sex: &[u8] = if sequence % 2 == 1 { b"M" } else { b"V" };
    let photo_hash = match profile.applet {
        Applet::V1_7 => Sha1::digest(photo).to_vec(),
        Applet::V1_8 => Sha384::digest(photo).to_vec(),
    };

    let mut file = Vec::new();
    encode_field(&mut file, tag::FILE_VERSION, &[0x00, 0x01]);
    encode_field(&mut file, tag::CARD_NUMBER, b"592000123456");
    encode_field(&mut file, tag::CHIP_NUMBER, chip_serial);
    encode_field(&mut file, tag::VALIDITY_BEGIN, b"01.01.2024");
    encode_field(&mut file, tag::VALIDITY_END, b"01.01.2034");
    encode_field(
        &mut file,
        tag::DELIVERY_MUNICIPALITY,
        profile.municipality.as_bytes(),
    );
    encode_field(&mut file, tag::NATIONAL_NUMBER, ssin);
    encode_field(&mut file, tag::NAME, profile.name.as_bytes());
    encode_field(&mut file, tag::FIRST_NAMES, profile.first_names.as_bytes());
    encode_field(&mut file, tag::THIRD_INITIAL, b"");
    encode_field(&mut file, tag::NATIONALITY, "Belg".as_bytes());
    encode_field(&mut file, tag::BIRTH_PLACE, profile.municipality.as_bytes());
    encode_field(
        &mut file,
        tag::BIRTH_DATE,
        birth_date_text(&profile.ssin).as_bytes(),
    );
    encode_field(&mut file, tag::SEX, sex);
    encode_field(&mut file, tag::NOBLE_CONDITION, b"");
    encode_field(&mut file, tag::DOCUMENT_TYPE, b"1");
    encode_field(&mut file, tag::SPECIAL_STATUS, b"0");
    encode_field(&mut file, tag::PHOTO_HASH, &photo_hash);
    if let Some(basic_key_file) = basic_key_file {
        encode_field(
            &mut file,
            tag::BASIC_KEY_HASH,
            &Sha384::digest(basic_key_file),
        );
    }
    file
}

/// Formats the Dutch birth date text (`30 JUL 1985`) of an INSZ. People born in 2000 or later
/// have check digits computed with a leading 2.
fn birth_date_text(ssin: &str) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAAR", "APR", "MEI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEC",
    ];
    let year: u64 = ssin[0..2].parse().unwrap_or(0);
    let month: usize = ssin[2..4].parse().unwrap_or(1);
    let day = &ssin[4..6];
    let first_nine: u64 = ssin[..9].parse().unwrap_or(0);
    let check: u64 = ssin[9..].parse().unwrap_or(0);
    let century = if Insz::check_digits(first_nine, true) == check {
        2000
    } else {
        1900
    };
    let month = MONTHS.get(month.wrapping_sub(1)).copied().unwrap_or("   ");
    format!("{day} {month} {}", century + year)
}

fn address_file(profile: &CardProfile) -> Vec<u8> {
    let mut file = Vec::new();
    encode_field(&mut file, tag::FILE_VERSION, &[0x00, 0x01]);
    encode_field(
        &mut file,
        address_tag::STREET_AND_NUMBER,
        profile.street_and_number.as_bytes(),
    );
    encode_field(
        &mut file,
        address_tag::POSTAL_CODE,
        profile.postal_code.as_bytes(),
    );
    encode_field(
        &mut file,
        address_tag::MUNICIPALITY,
        profile.municipality.as_bytes(),
    );
    if file.len() < ADDRESS_FILE_LENGTH {
        file.resize(ADDRESS_FILE_LENGTH, 0);
    }
    file
}

fn strip_trailing_zeros(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|byte| *byte != 0)
        .map_or(0, |last| last + 1);
    &bytes[..end]
}

/// Signs as the National Register: RSA PKCS#1 v1.5 SHA-256, or DER ECDSA P-384 SHA-384
/// zero-padded to a fixed length.
fn rrn_sign(key: &TestKey, data: &[u8]) -> Result<Vec<u8>, EmulatorError> {
    match key {
        TestKey::Rsa(key) => key
            .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data))
            .map_err(|error| EmulatorError::Pki(format!("RRN signature failed: {error}"))),
        TestKey::P384(key) => {
            let signature: p384::ecdsa::DerSignature = key
                .sign_prehash(&Sha384::digest(data))
                .map_err(|error| EmulatorError::Pki(format!("RRN signature failed: {error}")))?;
            let mut file = signature.as_bytes().to_vec();
            file.resize(EC_SIGNATURE_FILE_LENGTH, 0);
            Ok(file)
        }
    }
}
