//! [`EidCard`]: what the appliance does with a Belgian eID. Opening checks the ATR, selects the
//! Belpic applet, reads the applet version with GET CARD DATA and queries the reader for a pinpad;
//! then it reads and verifies the citizen data, verifies the PIN and signs with the
//! non-repudiation key.
//!
//! On applet 1.8, reading the citizen data also proves that the chip is genuine. The identity
//! file, which the National Register signs, contains the SHA-384 of the card's basic public key
//! (file 4040). The card signs a fresh random challenge with the matching private key, which
//! never leaves the chip, so a copy of the files on another chip fails. Applet 1.7 cards do not
//! store that public key, so they cannot be checked this way.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use sha1::Sha1;
use sha2::{Digest, Sha384};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::EidError;
use super::apdu::{self, SW_OK};
use super::crypto::{self, HashAlgorithm, PublicKey, TrustAnchors};
use super::identity::{Address, AppletVersion, CardData, Identity};
use super::pin::{self, PinpadLanguage};
use super::transport::{CardChannel, CardTransport, TransportError};

/// Bytes asked for per READ BINARY. Staying below 256 keeps older readers working; a shorter
/// answer marks the end of the file.
const READ_CHUNK: usize = 252;

/// Key reference of the non-repudiation ("signature") key.
const NON_REPUDIATION_KEY: u8 = 0x83;

/// Key reference of the basic (card authentication) key of applet 1.8.
const BASIC_KEY: u8 = 0x81;

/// Algorithm reference of ECDSA over a SHA-384 digest, for INTERNAL AUTHENTICATE.
const ECDSA_SHA384: u8 = 0x02;

/// Bytes of the challenge the basic key signs: the size of a SHA-384 digest.
const CHALLENGE_LEN: usize = 48;

/// ATR of applet 1.8 cards.
const ATR_V1_8: [u8; 20] = [
    0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x04, 0x01, 0x20, 0x12, 0x0F,
    0xFF, 0x82, 0x90, 0x00,
];

/// A transparent file of the card, by absolute path from the MF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EidFile {
    /// 3F00/DF01/4031, identity (TLV).
    Identity,
    /// 3F00/DF01/4032, RRN signature over the identity file.
    IdentitySignature,
    /// 3F00/DF01/4033, address (TLV, zero-padded).
    Address,
    /// 3F00/DF01/4034, RRN signature over the address and the identity signature.
    AddressSignature,
    /// 3F00/DF01/4035, photo (JPEG).
    Photo,
    /// 3F00/DF01/4040, basic public key (DER SubjectPublicKeyInfo, P-384); applet 1.8 only.
    BasicPublicKey,
    /// 3F00/DF00/5038, citizen authentication certificate.
    AuthenticationCertificate,
    /// 3F00/DF00/5039, citizen non-repudiation certificate.
    NonRepudiationCertificate,
    /// 3F00/DF00/503A, citizen CA certificate.
    CitizenCaCertificate,
    /// 3F00/DF00/503B, Belgium root CA certificate (never trusted, because the card itself stores it).
    RootCertificate,
    /// 3F00/DF00/503C, National Register (RRN) certificate.
    RrnCertificate,
}

impl EidFile {
    /// Returns the absolute path, MF included.
    pub fn path(self) -> [u8; 6] {
        let (df, ef): (u16, u16) = match self {
            Self::Identity => (0xDF01, 0x4031),
            Self::IdentitySignature => (0xDF01, 0x4032),
            Self::Address => (0xDF01, 0x4033),
            Self::AddressSignature => (0xDF01, 0x4034),
            Self::Photo => (0xDF01, 0x4035),
            Self::BasicPublicKey => (0xDF01, 0x4040),
            Self::AuthenticationCertificate => (0xDF00, 0x5038),
            Self::NonRepudiationCertificate => (0xDF00, 0x5039),
            Self::CitizenCaCertificate => (0xDF00, 0x503A),
            Self::RootCertificate => (0xDF00, 0x503B),
            Self::RrnCertificate => (0xDF00, 0x503C),
        };
        let [df_high, df_low] = df.to_be_bytes();
        let [ef_high, ef_low] = ef.to_be_bytes();
        [0x3F, 0x00, df_high, df_low, ef_high, ef_low]
    }

    /// Returns the path as text, for example `3F00/DF01/4031`.
    pub fn path_text(self) -> String {
        path_text(&self.path())
    }
}

fn path_text(path: &[u8]) -> String {
    path.chunks(2).map(apdu::hex).collect::<Vec<_>>().join("/")
}

/// A hash to sign, computed off-card over the mandate document.
#[derive(Clone, PartialEq, Eq)]
pub enum MessageDigest {
    /// SHA-256.
    Sha256([u8; 32]),
    /// SHA-384 (the natural match for the P-384 key of applet 1.8).
    Sha384([u8; 48]),
}

impl MessageDigest {
    /// Hashes `document` with SHA-384.
    pub fn sha384(document: &[u8]) -> Self {
        Self::Sha384(Sha384::digest(document).into())
    }

    /// Hashes `document` with SHA-256.
    pub fn sha256(document: &[u8]) -> Self {
        Self::Sha256(sha2::Sha256::digest(document).into())
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Sha256(hash) => hash,
            Self::Sha384(hash) => hash,
        }
    }

    fn algorithm(&self) -> HashAlgorithm {
        match self {
            Self::Sha256(_) => HashAlgorithm::Sha256,
            Self::Sha384(_) => HashAlgorithm::Sha384,
        }
    }
}

impl std::fmt::Debug for MessageDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Sha256(_) => "Sha256",
            Self::Sha384(_) => "Sha384",
        };
        f.debug_tuple(name).field(&apdu::hex(self.bytes())).finish()
    }
}

/// The way the holder enters the PIN for a signature.
#[derive(Clone, Copy)]
pub enum PinEntry<'a> {
    /// Typed on the box.
    Typed(&'a Zeroizing<String>),
    /// Typed on the reader's pinpad, shown in the given language; it never reaches the box.
    Pinpad(PinpadLanguage),
}

impl std::fmt::Debug for PinEntry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Typed(_) => f.write_str("Typed(<PIN>)"),
            Self::Pinpad(language) => f.debug_tuple("Pinpad").field(language).finish(),
        }
    }
}

/// The signature scheme of a [`NonRepudiationSignature`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 over a SHA-256 DigestInfo (applet 1.7).
    RsaPkcs1Sha256,
    /// RSA PKCS#1 v1.5 over a SHA-384 DigestInfo (applet 1.7).
    RsaPkcs1Sha384,
    /// ECDSA P-384 over a SHA-256 hash (applet 1.8).
    EcdsaP384Sha256,
    /// ECDSA P-384 over a SHA-384 hash (applet 1.8).
    EcdsaP384Sha384,
}

/// A signature made with the card's non-repudiation key and verified with its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonRepudiationSignature {
    /// Signature scheme.
    pub algorithm: SignatureAlgorithm,
    /// The signature in the form X.509 and CMS use: the PKCS#1 v1.5 signature, or a DER
    /// `ECDSA-Sig-Value`.
    pub value: Vec<u8>,
    /// The signature as the card returned it; raw `r || s` (96 bytes) on applet 1.8, which is
    /// what JWS ES384 and XML-DSig 1.1 use.
    pub raw: Vec<u8>,
    /// DER of the non-repudiation certificate that verifies it.
    pub certificate: Vec<u8>,
}

/// Identity and address, verified against the National Register's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenData {
    /// Parsed identity.
    pub identity: Identity,
    /// Parsed address.
    pub address: Address,
    /// The identity file as read, the signed bytes.
    pub identity_file: Vec<u8>,
    /// RRN signature over `identity_file`, as stored (DER ECDSA is zero-padded).
    pub identity_signature: Vec<u8>,
    /// The address file as read, zero padding included.
    pub address_file: Vec<u8>,
    /// RRN signature over the address and the identity signature.
    pub address_signature: Vec<u8>,
    /// DER of the RRN certificate.
    pub rrn_certificate: Vec<u8>,
}

/// The citizen's certificates, each cut to its DER length. Empty files are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenCertificates {
    /// Authentication certificate (key 82).
    pub authentication: Option<Vec<u8>>,
    /// Non-repudiation certificate (key 83).
    pub non_repudiation: Option<Vec<u8>>,
    /// Citizen CA that issued both.
    pub citizen_ca: Vec<u8>,
    /// The root as stored on the card; informative only.
    pub root: Vec<u8>,
}

impl CitizenCertificates {
    /// Verifies that the non-repudiation certificate (and the authentication certificate, when
    /// present) chains through the citizen CA to one of `anchors`, valid at `now`.
    pub fn verify(&self, anchors: &TrustAnchors, now: Timestamp) -> Result<(), EidError> {
        let ca = crypto::parse_certificate(&self.citizen_ca, "citizen CA")?;
        let leaves = [
            ("non-repudiation", &self.non_repudiation),
            ("authentication", &self.authentication),
        ];
        for (what, der) in leaves {
            let Some(der) = der else { continue };
            let leaf = crypto::parse_certificate(der, what)?;
            crypto::verify_chain(&leaf, what, &ca, anchors, now)
                .map_err(|source| EidError::CertificateUntrusted { role: what, source })?;
        }
        Ok(())
    }
}

/// An opened Belgian eID card.
pub struct EidCard<T> {
    transport: T,
    atr: Vec<u8>,
    applet: AppletVersion,
    card_data: CardData,
    pinpad_code: Option<u32>,
}

impl<T> std::fmt::Debug for EidCard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EidCard")
            .field("atr", &apdu::hex(&self.atr))
            .field("applet", &self.applet)
            .field("pinpad", &self.pinpad_code.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: CardTransport> EidCard<T> {
    /// Checks that the card is a Belgian eID, selects the applet, reads its version and looks
    /// for a pinpad.
    pub fn open(mut transport: T) -> Result<Self, EidError> {
        let atr = transport.atr()?;
        let known_atr = is_belgian_atr(&atr);
        if !known_atr {
            tracing::debug!(atr = %apdu::hex(&atr), "unknown ATR, trying the Belpic applet");
        }

        let mut opened = None;
        transport.exclusive(&mut |channel| {
            select_applet(channel, &atr, known_atr)?;
            opened = Some(read_card_data(channel)?);
            Ok(())
        })?;
        let Some((applet, card_data)) = opened else {
            return Err(EidError::CardStatus {
                command: "GET CARD DATA",
                sw: 0,
            });
        };
        let pinpad_code = discover_pinpad(&mut transport);
        tracing::info!(
            applet = %applet,
            pinpad = pinpad_code.is_some(),
            "Belgian eID card opened"
        );
        Ok(Self {
            transport,
            atr,
            applet,
            card_data,
            pinpad_code,
        })
    }

    /// Returns the applet version.
    pub fn applet_version(&self) -> AppletVersion {
        self.applet
    }

    /// Returns the GET CARD DATA response read when the card was opened.
    pub fn card_data(&self) -> &CardData {
        &self.card_data
    }

    /// Returns the ATR.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// Returns true when the reader offers secure PIN entry (`FEATURE_VERIFY_PIN_DIRECT`).
    pub fn has_pinpad(&self) -> bool {
        self.pinpad_code.is_some()
    }

    /// Gives the transport back, for example to disconnect.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Reads a whole transparent file.
    pub fn read_file(&mut self, file: EidFile) -> Result<Vec<u8>, EidError> {
        let mut content = Vec::new();
        self.transport.exclusive(&mut |channel| {
            content = read_file(channel, &file.path())?;
            Ok(())
        })?;
        Ok(content)
    }

    /// Reads identity, address, photo and their RRN signatures; verifies that the RRN
    /// certificate is issued by one of `anchors`, the two signatures, the photo hash, on applet
    /// 1.8 that the chip is genuine, and that the card is still valid at `now`.
    pub fn read_citizen(
        &mut self,
        anchors: &TrustAnchors,
        now: Timestamp,
    ) -> Result<CitizenData, EidError> {
        let mut files = Vec::new();
        self.transport.exclusive(&mut |channel| {
            files.clear();
            for file in [
                EidFile::Identity,
                EidFile::IdentitySignature,
                EidFile::Address,
                EidFile::AddressSignature,
                EidFile::Photo,
                EidFile::RrnCertificate,
            ] {
                files.push(read_file(channel, &file.path())?);
            }
            Ok(())
        })?;
        let [
            identity_file,
            identity_signature,
            address_file,
            address_signature,
            photo,
            rrn_file,
        ] = <[Vec<u8>; 6]>::try_from(files).map_err(|_| EidError::CardStatus {
            command: "READ BINARY",
            sw: 0,
        })?;

        let rrn = crypto::parse_certificate(&rrn_file, "RRN")?;
        crypto::verify_issued_by_root(&rrn, "RRN", anchors, now)
            .map_err(EidError::RrnCertificateUntrusted)?;
        let rrn_key = PublicKey::of(&rrn, "RRN")?;
        verify_citizen_signatures(
            &rrn_key,
            &identity_file,
            &identity_signature,
            &address_file,
            &address_signature,
        )?;

        let identity = Identity::parse(&identity_file)?;
        let address = Address::parse(&address_file)?;
        check_photo(&identity, &photo)?;
        if self.applet == AppletVersion::V1_8 {
            self.prove_genuine(&identity)?;
        }
        let today = TimeZone::UTC.to_datetime(now).date();
        if identity.validity_end < today {
            return Err(EidError::CardExpired {
                validity_end: identity.validity_end,
            });
        }

        tracing::info!(document_type = %identity.document_type, "eID identity read and verified");
        Ok(CitizenData {
            identity,
            address,
            identity_file,
            identity_signature,
            address_file,
            address_signature,
            rrn_certificate: rrn_file[..crypto::der_length(&rrn_file).unwrap_or(0)].to_vec(),
        })
    }

    /// Proves that the chip contains the basic private key whose public key (file 4040) has the
    /// SHA-384 in the signed identity file: the card signs a random challenge with it.
    fn prove_genuine(&mut self, identity: &Identity) -> Result<(), EidError> {
        let not_genuine = |reason: String| EidError::CardNotGenuine { reason };
        let expected_hash = identity.basic_key_hash.as_deref().ok_or_else(|| {
            not_genuine("the signed identity file has no hash of the basic key".to_owned())
        })?;
        let mut challenge = [0u8; CHALLENGE_LEN];
        rand::fill(&mut challenge);

        let mut key_file = Vec::new();
        let mut raw = Vec::new();
        self.transport.exclusive(&mut |channel| {
            key_file = read_file(channel, &EidFile::BasicPublicKey.path())?;
            raw = internal_authenticate(channel, &challenge)?;
            Ok(())
        })?;
        if Sha384::digest(&key_file).as_slice() != expected_hash {
            return Err(not_genuine(format!(
                "the basic key in file {} differs from the one the National Register signed",
                EidFile::BasicPublicKey.path_text()
            )));
        }
        crypto::verify_basic_key_signature(&key_file, &challenge, &raw).map_err(|error| {
            not_genuine(match error {
                crypto::CryptoError::BadSignature { .. } => format!(
                    "its signature over a random challenge does not verify with the basic key in \
                     file {}",
                    EidFile::BasicPublicKey.path_text()
                ),
                other => other.to_string(),
            })
        })?;
        tracing::info!("eID chip proven genuine with its basic key");
        Ok(())
    }

    /// Reads the citizen certificates. Use [`CitizenCertificates::verify`] to check them.
    pub fn read_certificates(&mut self) -> Result<CitizenCertificates, EidError> {
        let authentication = trimmed(self.read_file(EidFile::AuthenticationCertificate)?);
        let non_repudiation = trimmed(self.read_file(EidFile::NonRepudiationCertificate)?);
        let citizen_ca = self.required_certificate(EidFile::CitizenCaCertificate, "citizen CA")?;
        let root = self.required_certificate(EidFile::RootCertificate, "root")?;
        Ok(CitizenCertificates {
            authentication,
            non_repudiation,
            citizen_ca,
            root,
        })
    }

    fn required_certificate(
        &mut self,
        file: EidFile,
        what: &'static str,
    ) -> Result<Vec<u8>, EidError> {
        trimmed(self.read_file(file)?).ok_or_else(|| EidError::CertificateMissing {
            role: what,
            file: file.path_text(),
        })
    }

    /// Verifies the PIN typed on the box. A wrong PIN reports the tries left and is not retried.
    pub fn verify_pin(&mut self, pin: &Zeroizing<String>) -> Result<(), EidError> {
        let block = pin::pin_block(pin)?;
        self.transport
            .exclusive(&mut |channel| verify_pin_block(channel, &block))
    }

    /// Verifies the PIN on the reader's pinpad.
    pub fn verify_pin_on_pinpad(&mut self, language: PinpadLanguage) -> Result<(), EidError> {
        let code = self.pinpad_code.ok_or(EidError::PinpadUnavailable)?;
        self.transport
            .exclusive(&mut |channel| verify_pin_pinpad(channel, code, language))
    }

    /// Returns the PIN tries left, without using one: GET CARD DATA on applet 1.8, an empty
    /// VERIFY on 1.7. `None` when the card does not report it.
    pub fn pin_tries_left(&mut self) -> Result<Option<u8>, EidError> {
        let applet = self.applet;
        let mut tries = None;
        self.transport.exclusive(&mut |channel| {
            tries = match applet {
                AppletVersion::V1_8 => read_card_data(channel)?.1.pin_tries_left,
                AppletVersion::V1_7 => empty_verify(channel)?,
            };
            Ok(())
        })?;
        Ok(tries)
    }

    /// Signs `digest` with the non-repudiation key: in one transaction MSE SET, VERIFY (the
    /// command directly before the signature, as that key requires), PSO: COMPUTE DIGITAL
    /// SIGNATURE and LOG OFF. The signature is verified with the card's non-repudiation
    /// certificate before it is returned.
    pub fn sign_non_repudiation(
        &mut self,
        digest: &MessageDigest,
        pin: PinEntry<'_>,
    ) -> Result<NonRepudiationSignature, EidError> {
        // Check the PIN before any command, so a malformed PIN never reaches the card.
        let block = match pin {
            PinEntry::Typed(pin) => Some(pin::pin_block(pin)?),
            PinEntry::Pinpad(_) => {
                self.pinpad_code.ok_or(EidError::PinpadUnavailable)?;
                None
            }
        };
        let certificate_der = trimmed(self.read_file(EidFile::NonRepudiationCertificate)?)
            .ok_or_else(|| EidError::CertificateMissing {
                role: "non-repudiation",
                file: EidFile::NonRepudiationCertificate.path_text(),
            })?;
        let certificate = crypto::parse_certificate(&certificate_der, "non-repudiation")?;

        let (algorithm_reference, input, algorithm) = signature_input(self.applet, digest);
        let pinpad_code = self.pinpad_code;
        let mut raw = Vec::new();
        self.transport.exclusive(&mut |channel| {
            select_path(channel, &[0x3F, 0x00, 0xDF, 0x00])?;
            expect_ok(
                channel,
                &apdu::mse_set_signature(algorithm_reference, NON_REPUDIATION_KEY),
            )?;
            match (&block, pin) {
                (Some(block), _) => verify_pin_block(channel, block)?,
                (None, PinEntry::Pinpad(language)) => {
                    let code = pinpad_code.ok_or(EidError::PinpadUnavailable)?;
                    verify_pin_pinpad(channel, code, language)?;
                }
                (None, PinEntry::Typed(_)) => return Err(EidError::PinpadUnavailable),
            }
            raw = compute_signature(channel, &input)?;
            log_off(channel);
            Ok(())
        })?;

        finish_signature(algorithm, raw, digest, &certificate, certificate_der)
    }
}

fn signature_input(
    applet: AppletVersion,
    digest: &MessageDigest,
) -> (u8, Vec<u8>, SignatureAlgorithm) {
    match (applet, digest) {
        // Algorithm 08: the card builds the SHA-256 DigestInfo itself.
        (AppletVersion::V1_7, MessageDigest::Sha256(hash)) => {
            (0x08, hash.to_vec(), SignatureAlgorithm::RsaPkcs1Sha256)
        }
        // Algorithm 01: the card only pads, so we send the complete DigestInfo.
        (AppletVersion::V1_7, MessageDigest::Sha384(hash)) => {
            let mut digest_info = crypto::SHA384_DIGEST_INFO_PREFIX.to_vec();
            digest_info.extend_from_slice(hash);
            (0x01, digest_info, SignatureAlgorithm::RsaPkcs1Sha384)
        }
        (AppletVersion::V1_8, MessageDigest::Sha256(hash)) => {
            (0x01, hash.to_vec(), SignatureAlgorithm::EcdsaP384Sha256)
        }
        (AppletVersion::V1_8, MessageDigest::Sha384(hash)) => {
            (0x02, hash.to_vec(), SignatureAlgorithm::EcdsaP384Sha384)
        }
    }
}

fn finish_signature(
    algorithm: SignatureAlgorithm,
    raw: Vec<u8>,
    digest: &MessageDigest,
    certificate: &Certificate,
    certificate_der: Vec<u8>,
) -> Result<NonRepudiationSignature, EidError> {
    let value = match algorithm {
        SignatureAlgorithm::EcdsaP384Sha256 | SignatureAlgorithm::EcdsaP384Sha384 => {
            crypto::ecdsa_raw_to_der(&raw).map_err(EidError::CardSignatureInvalid)?
        }
        SignatureAlgorithm::RsaPkcs1Sha256 | SignatureAlgorithm::RsaPkcs1Sha384 => raw.clone(),
    };
    crypto::verify_card_signature(certificate, digest.bytes(), digest.algorithm(), &value)
        .map_err(EidError::CardSignatureInvalid)?;
    tracing::info!(
        ?algorithm,
        "mandate digest signed with the non-repudiation key"
    );
    Ok(NonRepudiationSignature {
        algorithm,
        value,
        raw,
        certificate: certificate_der,
    })
}

/// Returns true for the ATRs of Belgian eID cards: the applet 1.8 ATR, the 1.0 to 1.7 family
/// `3B 98 ?? 40 ?? ?? ?? ?? 01 01 AD 13 1?`, and the test card `3B 98 95 40 FF D0 00 48 01 01
/// AD 13 21`.
pub fn is_belgian_atr(atr: &[u8]) -> bool {
    if atr == ATR_V1_8 {
        return true;
    }
    let [
        0x3B,
        0x98,
        _,
        0x40,
        _,
        _,
        _,
        _,
        0x01,
        0x01,
        0xAD,
        0x13,
        last,
    ] = *atr
    else {
        return false;
    };
    last & 0xF0 == 0x10 || last == 0x21
}

fn select_applet(
    channel: &mut dyn CardChannel,
    atr: &[u8],
    known_atr: bool,
) -> Result<(), EidError> {
    let response = apdu::exchange(channel, &apdu::select_aid(&apdu::BELPIC_APPLET_AID))?;
    if response.sw == SW_OK {
        return Ok(());
    }
    let reason = if known_atr {
        format!(
            "the Belpic applet cannot be selected, status {:04X}",
            response.sw
        )
    } else {
        format!(
            "unknown ATR and the Belpic applet cannot be selected, status {:04X}",
            response.sw
        )
    };
    Err(EidError::NotBelgianEid {
        atr: apdu::hex(atr),
        reason,
    })
}

fn read_card_data(channel: &mut dyn CardChannel) -> Result<(AppletVersion, CardData), EidError> {
    let card_data = CardData::parse(&expect_ok(channel, &apdu::get_card_data(false))?)?;
    match card_data.applet_version_byte {
        0x17 => Ok((AppletVersion::V1_7, card_data)),
        version if version >= 0x18 => {
            // Applet 1.8 adds the PIN try counter when asked with P2 = 01.
            let extended = CardData::parse(&expect_ok(channel, &apdu::get_card_data(true))?)?;
            Ok((AppletVersion::V1_8, extended))
        }
        version => Err(EidError::UnsupportedApplet { version }),
    }
}

fn discover_pinpad<T: CardTransport>(transport: &mut T) -> Option<u32> {
    let code = transport.control_code(pin::GET_FEATURE_REQUEST_FUNCTION);
    match transport.control(code, &[]) {
        Ok(features) => match pin::verify_pin_direct_code(&features) {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "ignoring the reader's feature list; no pinpad");
                None
            }
        },
        Err(TransportError::Unsupported) => None,
        Err(error) => {
            tracing::warn!(%error, "reader features unavailable; no pinpad");
            None
        }
    }
}

/// Sends a command that must succeed and returns its data.
fn expect_ok(channel: &mut dyn CardChannel, command: &[u8]) -> Result<Vec<u8>, EidError> {
    let response = apdu::exchange(channel, command)?;
    if response.sw != SW_OK {
        return Err(EidError::CardStatus {
            command: apdu::command_name(command),
            sw: response.sw,
        });
    }
    Ok(response.data)
}

/// Selects a file by absolute path. When the card rejects path selection (`6A82`/`6A86`/`6D00`)
/// the applet is re-selected, which also repairs a selection left by another application, and
/// the path is walked one file identifier at a time.
fn select_path(channel: &mut dyn CardChannel, path: &[u8]) -> Result<(), EidError> {
    let response = apdu::exchange(channel, &apdu::select_path(path))?;
    if response.sw == SW_OK {
        return Ok(());
    }
    if !matches!(
        response.sw,
        apdu::SW_NOT_FOUND | apdu::SW_WRONG_P1P2 | apdu::SW_INS_NOT_SUPPORTED
    ) {
        return Err(EidError::CardStatus {
            command: "SELECT",
            sw: response.sw,
        });
    }

    tracing::debug!(sw = %format_args!("{:04X}", response.sw), "path select failed, walking the path");
    expect_ok(channel, &apdu::select_aid(&apdu::BELPIC_APPLET_AID))?;
    for fid in path.chunks(2) {
        let command = [0x00, 0xA4, 0x02, 0x0C, 0x02, fid[0], fid[1]];
        let response = apdu::exchange(channel, &command)?;
        if response.sw != SW_OK {
            return Err(EidError::FileNotFound {
                path: path_text(path),
                sw: response.sw,
            });
        }
    }
    Ok(())
}

/// Reads a transparent file in chunks until a short chunk or end of file. A premature end right
/// after a full chunk (some readers glitch mid-file) is retried once after re-selecting.
fn read_file(channel: &mut dyn CardChannel, path: &[u8]) -> Result<Vec<u8>, EidError> {
    select_path(channel, path)?;
    let mut content = Vec::new();
    let mut previous_full = false;
    let mut retried_at = None;

    loop {
        let offset = u16::try_from(content.len()).map_err(|_| EidError::CardStatus {
            command: "READ BINARY",
            sw: apdu::SW_WRONG_OFFSET,
        })?;
        let response = apdu::exchange(channel, &apdu::read_binary(offset, READ_CHUNK))?;
        let premature_end = match response.sw {
            SW_OK if response.data.len() == READ_CHUNK => {
                content.extend_from_slice(&response.data);
                previous_full = true;
                continue;
            }
            SW_OK if !response.data.is_empty() => {
                content.extend_from_slice(&response.data);
                return Ok(content);
            }
            SW_OK | apdu::SW_WRONG_OFFSET | apdu::SW_NO_CURRENT_EF => true,
            sw => {
                return Err(EidError::CardStatus {
                    command: "READ BINARY",
                    sw,
                });
            }
        };

        if premature_end && previous_full && retried_at != Some(content.len()) {
            tracing::debug!(offset, "end of file right after a full chunk, re-reading");
            retried_at = Some(content.len());
            select_path(channel, path)?;
            continue;
        }
        if response.sw == apdu::SW_NO_CURRENT_EF {
            return Err(EidError::CardStatus {
                command: "READ BINARY",
                sw: response.sw,
            });
        }
        return Ok(content);
    }
}

/// Cuts a certificate file to its DER length; `None` for an empty (all-zero) file.
fn trimmed(file: Vec<u8>) -> Option<Vec<u8>> {
    let length = crypto::der_length(&file)?;
    Some(file[..length].to_vec())
}

fn verify_citizen_signatures(
    rrn_key: &PublicKey,
    identity_file: &[u8],
    identity_signature: &[u8],
    address_file: &[u8],
    address_signature: &[u8],
) -> Result<(), EidError> {
    crypto::verify_rrn_signature(rrn_key, identity_file, identity_signature, "identity")
        .map_err(EidError::IdentitySignatureInvalid)?;

    // The address signature covers the address without its zero padding, then the whole
    // identity signature file.
    let end = address_file
        .iter()
        .rposition(|byte| *byte != 0)
        .map_or(0, |last| last + 1);
    let mut signed = address_file[..end].to_vec();
    signed.extend_from_slice(identity_signature);
    crypto::verify_rrn_signature(rrn_key, &signed, address_signature, "address")
        .map_err(EidError::AddressSignatureInvalid)
}

fn check_photo(identity: &Identity, photo: &[u8]) -> Result<(), EidError> {
    let matches = match identity.photo_hash.len() {
        20 => Sha1::digest(photo).as_slice() == identity.photo_hash.as_slice(),
        48 => Sha384::digest(photo).as_slice() == identity.photo_hash.as_slice(),
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(EidError::PhotoHashMismatch)
    }
}

fn verify_pin_block(channel: &mut dyn CardChannel, block: &[u8; 8]) -> Result<(), EidError> {
    let command = apdu::verify(block);
    // Sent directly, not through `exchange`: the command contains the PIN and VERIFY never
    // answers 61xx or 6Cxx.
    let response = channel.transmit(&command)?;
    pin_status(response.sw)
}

fn verify_pin_pinpad(
    channel: &mut dyn CardChannel,
    code: u32,
    language: PinpadLanguage,
) -> Result<(), EidError> {
    tracing::info!("waiting for the PIN on the reader's pinpad");
    let output = channel.control(code, &pin::pin_verify_structure(language))?;
    let [sw1, sw2] = *output.as_slice() else {
        return Err(EidError::CardStatus {
            command: "VERIFY",
            sw: 0,
        });
    };
    match u16::from_be_bytes([sw1, sw2]) {
        0x6400 => Err(EidError::PinpadTimeout),
        0x6401 => Err(EidError::PinpadCancelled),
        0x6403 => Err(EidError::PinpadPinLength),
        sw => pin_status(sw),
    }
}

fn pin_status(sw: u16) -> Result<(), EidError> {
    match sw {
        SW_OK => {
            tracing::info!("eID PIN verified");
            Ok(())
        }
        sw if sw & 0xFFF0 == 0x63C0 && sw != 0x63C0 => {
            let tries_left = (sw & 0x000F) as u8;
            tracing::warn!(tries_left, "wrong eID PIN");
            Err(EidError::WrongPin { tries_left })
        }
        // 63C0 is the response to the wrong PIN that used the last try, 6983 to every VERIFY after it.
        0x63C0 | apdu::SW_PIN_BLOCKED => {
            tracing::warn!("eID PIN is blocked");
            Err(EidError::PinBlocked)
        }
        sw => Err(EidError::CardStatus {
            command: "VERIFY",
            sw,
        }),
    }
}

/// Sends VERIFY without data, which on applets 1.7 and 1.8 reports the tries left without
/// using one.
fn empty_verify(channel: &mut dyn CardChannel) -> Result<Option<u8>, EidError> {
    let response = channel.transmit(&[0x00, 0x20, 0x00, 0x01])?;
    match response.sw {
        sw if sw & 0xFFF0 == 0x63C0 => Ok(Some((sw & 0x000F) as u8)),
        apdu::SW_PIN_BLOCKED => Ok(Some(0)),
        // Already verified in this session: the counter is full.
        SW_OK => Ok(Some(3)),
        _ => Ok(None),
    }
}

fn compute_signature(channel: &mut dyn CardChannel, input: &[u8]) -> Result<Vec<u8>, EidError> {
    let response = apdu::exchange(channel, &apdu::compute_digital_signature(input))?;
    match response.sw {
        SW_OK if !response.data.is_empty() => Ok(response.data),
        apdu::SW_SECURITY_STATUS | apdu::SW_CONDITIONS => {
            Err(EidError::SignatureRefused { sw: response.sw })
        }
        sw => Err(EidError::CardStatus {
            command: "PSO: COMPUTE DIGITAL SIGNATURE",
            sw,
        }),
    }
}

/// Has the basic key sign `challenge`. Returns the raw `r || s` signature.
fn internal_authenticate(
    channel: &mut dyn CardChannel,
    challenge: &[u8],
) -> Result<Vec<u8>, EidError> {
    let command = apdu::internal_authenticate(ECDSA_SHA384, BASIC_KEY, challenge);
    let response = apdu::exchange(channel, &command)?;
    match response.sw {
        SW_OK if !response.data.is_empty() => Ok(response.data),
        // NOTE: the Belpic documentation states the limit of 5000 calls until the next
        // successful VERIFY, but not the status word of a card past it. These are the ISO
        // 7816-4 words for "security status not satisfied", "authentication method blocked"
        // and "conditions of use not satisfied". In both cases the card is not used.
        sw @ (0x6982 | 0x6983 | 0x6985) => Err(EidError::ChipCheckBlocked { sw }),
        sw => Err(EidError::CardNotGenuine {
            reason: format!("the card rejected INTERNAL AUTHENTICATE with status {sw:04X}"),
        }),
    }
}

fn log_off(channel: &mut dyn CardChannel) {
    // The non-repudiation PIN state is already consumed; LOG OFF also drops any other state.
    match apdu::exchange(channel, &apdu::log_off()) {
        Ok(response) if response.sw == SW_OK => {}
        Ok(response) => {
            tracing::debug!(sw = %format_args!("{:04X}", response.sw), "LOG OFF rejected")
        }
        Err(error) => tracing::debug!(%error, "LOG OFF failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn belgian_atrs_are_recognised() {
        assert!(is_belgian_atr(&ATR_V1_8));
        assert!(is_belgian_atr(&[
            0x3B, 0x98, 0x13, 0x40, 0x0A, 0xA5, 0x03, 0x01, 0x01, 0x01, 0xAD, 0x13, 0x11
        ]));
        assert!(is_belgian_atr(&[
            0x3B, 0x98, 0x95, 0x40, 0xFF, 0xD0, 0x00, 0x48, 0x01, 0x01, 0xAD, 0x13, 0x21
        ]));
        assert!(!is_belgian_atr(&[0x3B, 0x8F, 0x80, 0x01, 0x80]));
    }

    #[test]
    fn file_paths_include_mf() {
        assert_eq!(
            EidFile::Identity.path(),
            [0x3F, 0x00, 0xDF, 0x01, 0x40, 0x31]
        );
        assert_eq!(EidFile::RrnCertificate.path_text(), "3F00/DF00/503C");
    }

    #[test]
    fn signature_input_per_applet() {
        let sha256 = MessageDigest::Sha256([7; 32]);
        let sha384 = MessageDigest::Sha384([9; 48]);
        let (algorithm, input, _) = signature_input(AppletVersion::V1_7, &sha256);
        assert_eq!((algorithm, input.len()), (0x08, 32));
        let (algorithm, input, _) = signature_input(AppletVersion::V1_7, &sha384);
        assert_eq!((algorithm, input.len()), (0x01, 19 + 48));
        let (algorithm, input, _) = signature_input(AppletVersion::V1_8, &sha384);
        assert_eq!((algorithm, input.len()), (0x02, 48));
        let (algorithm, input, _) = signature_input(AppletVersion::V1_8, &sha256);
        assert_eq!((algorithm, input.len()), (0x01, 32));
    }

    #[test]
    fn pin_status_maps_tries_and_block() {
        assert!(matches!(
            pin_status(0x63C2),
            Err(EidError::WrongPin { tries_left: 2 })
        ));
        assert!(matches!(pin_status(0x6983), Err(EidError::PinBlocked)));
        assert!(matches!(pin_status(0x63C0), Err(EidError::PinBlocked)));
        assert!(pin_status(0x9000).is_ok());
    }
}
