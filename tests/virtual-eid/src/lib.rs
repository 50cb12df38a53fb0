//! A virtual Belgian eID card for tests: the Belpic applets 1.7 (RSA-2048) and 1.8 (ECDSA P-384)
//! with a deterministic TEST PKI, the citizen's identity and address signed by a TEST National
//! Register key, a PIN with three tries, and the APDUs the appliance uses.
//!
//! The card reaches the appliance's PC/SC code in two ways:
//! - [`vpcd`]: as the card in vsmartcard's vpcd virtual reader, behind the real pcscd
//!   ([`pcscd`] starts and stops that pcscd for tests);
//! - [`transport`]: in-process, as a `CardTransport` for fast tests.
//!
//! Knobs: [`card::Removal`] pulls the card out in the middle of an operation, and
//! [`VirtualCard::not_an_eid`] is a card with another ATR and no Belpic applet.
//!
//! Not emulated: the PKCS#15 directory files (ODF, TokenInfo, AODF, PrKDF, CDF), EF(DIR),
//! INTERNAL AUTHENTICATE on applet 1.7, GET CHALLENGE, CHANGE REFERENCE DATA and the photo as a
//! decodable JPEG.

pub mod card;
pub mod pcscd;
pub mod pki;
pub mod profile;
pub mod transport;
pub mod vpcd;

pub use card::{Removal, Reply, VirtualCard};
pub use profile::{Applet, CardProfile, DEFAULT_PIN, DEFAULT_SSIN};
pub use transport::{InProcessTransport, PinpadInput};
pub use vpcd::{SharedCard, VpcdConnection};

/// A virtual card that cannot be built or configured.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Bad settings.
    #[error("invalid virtual card settings: {0}")]
    Config(String),
    /// Key or certificate generation failed.
    #[error("test PKI generation failed: {0}")]
    Pki(String),
}

/// Wraps a card for sharing between a transport and the test.
pub fn shared(card: VirtualCard) -> SharedCard {
    std::sync::Arc::new(std::sync::Mutex::new(card))
}
