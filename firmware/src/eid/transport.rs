//! The link to the card: [`CardChannel`] exchanges APDUs and reader control codes, and
//! [`CardTransport`] adds the ATR and exclusive access (a PC/SC transaction).
//!
//! The PC/SC implementation lives in [`super::pcsc`]; tests plug in an in-process card emulator
//! or a scripted transport. Transports pass status words through untouched: GET RESPONSE on
//! `61xx` and the Le correction on `6Cxx` are done by the caller, because some readers do them
//! and others do not.

use super::EidError;

/// A response APDU: the data field and the status word `SW1 SW2`.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Data returned by the card, without the status word.
    pub data: Vec<u8>,
    /// Status word, `SW1` in the high byte.
    pub sw: u16,
}

impl Response {
    /// Splits a raw response (data followed by two status bytes).
    pub fn from_bytes(raw: &[u8]) -> Result<Self, TransportError> {
        if raw.len() < 2 {
            return Err(TransportError::Malformed { length: raw.len() });
        }
        let (data, sw) = raw.split_at(raw.len() - 2);
        Ok(Self {
            data: data.to_vec(),
            sw: u16::from_be_bytes([sw[0], sw[1]]),
        })
    }

    /// Returns the first status byte.
    pub fn sw1(&self) -> u8 {
        (self.sw >> 8) as u8
    }

    /// Returns the second status byte.
    pub fn sw2(&self) -> u8 {
        (self.sw & 0xff) as u8
    }
}

impl std::fmt::Debug for Response {
    // Responses never contain the PIN, but they do contain personal data: log lengths only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("data_length", &self.data.len())
            .field("sw", &format_args!("{:04X}", self.sw))
            .finish()
    }
}

/// Failures below the APDU level, mapped from PC/SC or from a test transport.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The PC/SC daemon is not reachable.
    #[error("the PC/SC daemon (pcscd) is not running; start it with `systemctl start pcscd`")]
    ServiceNotRunning,
    /// No reader is connected.
    #[error("no smart card reader is connected; plug in the eID reader")]
    NoReader,
    /// The named reader is not (or no longer) there.
    #[error("reader {reader:?} is not connected; plug it in again")]
    ReaderUnavailable { reader: String },
    /// No card is in the reader.
    #[error("no card in reader {reader:?}; insert the eID card")]
    NoCard { reader: String },
    /// The card was pulled out or reset while we were talking to it.
    #[error("the card was removed or reset during the operation; insert it again and restart")]
    CardRemoved,
    /// The reader or driver does not implement the request (for example SCardControl on vpcd).
    #[error("the reader does not support this request")]
    Unsupported,
    /// The response had fewer than two bytes, so no status word.
    #[error("the card returned a {length}-byte response without a status word")]
    Malformed { length: usize },
    /// Any other PC/SC failure.
    #[error("PC/SC {operation} failed: {source}")]
    Pcsc {
        operation: &'static str,
        #[source]
        source: pcsc::Error,
    },
    /// A failure of a test transport that fits no other variant.
    #[error("card transport failed: {0}")]
    Other(String),
}

/// Exchanges APDUs and reader control codes with one card.
pub trait CardChannel {
    /// Sends one command APDU and returns the response with its status word.
    fn transmit(&mut self, command: &[u8]) -> Result<Response, TransportError>;

    /// Sends a reader control request (`SCardControl`) with an already platform-encoded code.
    fn control(&mut self, code: u32, input: &[u8]) -> Result<Vec<u8>, TransportError>;
}

/// A connected card: a [`CardChannel`] plus the ATR and exclusive access.
pub trait CardTransport: CardChannel {
    /// Returns the card's answer to reset.
    fn atr(&mut self) -> Result<Vec<u8>, TransportError>;

    /// Encodes a PC/SC part 10 control function number (`SCARD_CTL_CODE`) for this platform.
    fn control_code(&self, function: u32) -> u32 {
        scard_ctl_code(function)
    }

    /// Runs `body` with exclusive access to the card, so that no other PC/SC client can send a
    /// command in between (required between VERIFY and the non-repudiation signature).
    fn exclusive(
        &mut self,
        body: &mut dyn FnMut(&mut dyn CardChannel) -> Result<(), EidError>,
    ) -> Result<(), EidError>;
}

/// Encodes a control function number the way pcsc-lite or WinSCard expects (`SCARD_CTL_CODE`).
pub fn scard_ctl_code(function: u32) -> u32 {
    let code = pcsc::ctl_code(function.into());
    // Every part 10 function number (3400 and the reader-reported codes) fits in 32 bits.
    u32::try_from(code).unwrap_or(u32::MAX)
}
