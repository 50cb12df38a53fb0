//! The Belgian eID card (Belpic applets 1.7 and 1.8) over PC/SC: identity and address with their
//! National Register (RRN) signatures, the citizen certificates, PIN verification, and signatures
//! with the non-repudiation key for mandates.
//!
//! Layout:
//! - [`transport`]: the [`CardTransport`] trait (APDU in, response and status word out);
//!   [`reader`] implements it over pcscd, tests plug in the virtual card.
//! - [`apdu`]: command builders and the `61xx`/`6Cxx` handling shared by all commands.
//! - [`card`]: [`EidCard`], the operations the appliance performs.
//! - [`identity`] and [`tlv`]: the identity and address files; [`pin`]: PIN blocks and pinpads;
//!   [`crypto`]: RRN signatures, certificate chains and the card's signatures.
//!
//! Every EF the appliance reads is readable without PIN. The PIN is only ever held in
//! [`zeroize::Zeroizing`] buffers, is never logged and never appears in an error. A wrong PIN is
//! never retried automatically, because each try burns one of three. Trust comes from the
//! [`TrustAnchors`] the caller configures, never from the root certificate stored on the card.

pub mod apdu;
pub mod card;
pub mod crypto;
pub mod identity;
pub mod pin;
pub mod reader;
pub mod tlv;
pub mod transport;

pub use card::{
    CitizenCertificates, CitizenData, EidCard, EidFile, MessageDigest, NonRepudiationSignature,
    PinEntry, SignatureAlgorithm,
};
pub use crypto::{CryptoError, TrustAnchors};
pub use identity::{Address, AppletVersion, CardData, DataError, Identity, Insz, InszError};
pub use pin::{PinFormatError, PinpadLanguage};
pub use reader::{PcscContext, PcscTransport};
pub use transport::{CardChannel, CardTransport, Response, TransportError};

/// Everything that can go wrong with the eID card. No variant contains the PIN.
#[derive(Debug, thiserror::Error)]
pub enum EidError {
    /// PC/SC or the card link failed: pcscd not running, no reader, no card, card removed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The card is not a Belgian eID.
    #[error(
        "the card in the reader is not a Belgian eID ({reason}; ATR {atr}); insert a Belgian eID card"
    )]
    NotBelgianEid { atr: String, reason: String },
    /// The applet version is neither 1.7 nor 1.8.
    #[error("eID applet version {version:#04x} is not supported; only applets 1.7 and 1.8 are")]
    UnsupportedApplet { version: u8 },
    /// The PIN was wrong; the card counts down.
    #[error("wrong PIN; {tries_left} tries left before the card blocks the PIN")]
    WrongPin { tries_left: u8 },
    /// The PIN is blocked; only the municipality can unblock it.
    #[error(
        "the eID PIN is blocked after 3 wrong tries; the card holder must have it unblocked at the municipality"
    )]
    PinBlocked,
    /// The typed PIN cannot be a Belgian eID PIN; nothing was sent to the card.
    #[error(transparent)]
    PinFormat(#[from] PinFormatError),
    /// The reader has no pinpad but pinpad entry was requested.
    #[error(
        "the reader has no pinpad (no FEATURE_VERIFY_PIN_DIRECT); type the PIN on the box instead"
    )]
    PinpadUnavailable,
    /// The pinpad timed out waiting for the PIN.
    #[error("nobody typed the PIN on the reader's pinpad in time; try again")]
    PinpadTimeout,
    /// The holder cancelled on the pinpad.
    #[error("PIN entry was cancelled on the reader's pinpad")]
    PinpadCancelled,
    /// The pinpad rejected the PIN length.
    #[error("the PIN typed on the pinpad has a wrong length; a Belgian eID PIN has 4 to 12 digits")]
    PinpadPinLength,
    /// The identity file's RRN signature does not verify.
    #[error(
        "the identity data on the card is not signed by the National Register: {0}; the card may be forged or damaged"
    )]
    IdentitySignatureInvalid(#[source] crypto::CryptoError),
    /// The address file's RRN signature does not verify.
    #[error(
        "the address data on the card is not signed by the National Register: {0}; the card may be forged or damaged"
    )]
    AddressSignatureInvalid(#[source] crypto::CryptoError),
    /// The photo does not match the hash in the signed identity file.
    #[error(
        "the photo on the card does not match the hash in the signed identity file; the card may be forged or damaged"
    )]
    PhotoHashMismatch,
    /// The RRN certificate does not chain to a configured root.
    #[error("the National Register (RRN) certificate on the card is not trusted: {0}")]
    RrnCertificateUntrusted(#[source] crypto::CryptoError),
    /// A citizen certificate does not chain to a configured root.
    #[error("the {role} certificate on the card is not trusted: {source}")]
    CertificateUntrusted {
        role: &'static str,
        #[source]
        source: crypto::CryptoError,
    },
    /// A certificate file is empty (all zeros), as on some Kids-ID cards.
    #[error("the card has no {role} certificate (file {file} is empty); this card cannot sign")]
    CertificateMissing { role: &'static str, file: String },
    /// An applet 1.8 card did not prove that its chip contains the basic key that the National
    /// Register signed.
    #[error(
        "the eID is not proven genuine ({reason}); it may be a copy of another card, so it is \
         not used: ask the holder for the card the municipality issued"
    )]
    CardNotGenuine { reason: String },
    /// An applet 1.8 card rejected INTERNAL AUTHENTICATE with a status word that means "verify
    /// the PIN first": it allows 5000 of these calls between two successful PIN entries.
    #[error(
        "the eID blocked its chip check (status {sw:04X}) because it was used 5000 times since \
         the PIN was last entered; the holder must enter the PIN once, for example by signing \
         in with the eID on a computer with the eID software, then insert the card again"
    )]
    ChipCheckBlocked { sw: u16 },
    /// The card's validity has ended.
    #[error("the eID card expired on {validity_end}; the holder needs a new card")]
    CardExpired { validity_end: jiff::civil::Date },
    /// A file on the card has unexpected content.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A certificate or key on the card could not be used.
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    /// The signature returned by the card does not verify with its own certificate.
    #[error("the card's signature does not verify with its non-repudiation certificate: {0}")]
    CardSignatureInvalid(#[source] crypto::CryptoError),
    /// The card refused to sign because the PIN was not verified directly before.
    #[error(
        "the card refused the signature (status {sw:04X}): the PIN must be verified directly before each non-repudiation signature"
    )]
    SignatureRefused { sw: u16 },
    /// A file is not on the card.
    #[error("file {path} is not on the card (status {sw:04X})")]
    FileNotFound { path: String, sw: u16 },
    /// Any other unexpected status word.
    #[error("the card rejected {command} with status {sw:04X}")]
    CardStatus { command: &'static str, sw: u16 },
}

impl EidError {
    /// Returns true when the card was pulled out or reset during the operation.
    pub fn is_card_removed(&self) -> bool {
        matches!(self, Self::Transport(TransportError::CardRemoved))
    }
}
