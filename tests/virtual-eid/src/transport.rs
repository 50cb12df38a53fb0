//! An in-process [`CardTransport`] over a [`VirtualCard`], for fast tests without pcscd. It can
//! also play a pinpad reader: it then offers `FEATURE_VERIFY_PIN_DIRECT` and handles the
//! VERIFY_PIN_DIRECT control request with a PIN typed "on the pinpad".

use practicebox::eid::pin::{FEATURE_VERIFY_PIN_DIRECT, GET_FEATURE_REQUEST_FUNCTION};
use practicebox::eid::transport::scard_ctl_code;
use practicebox::eid::{CardChannel, CardTransport, EidError, Response, TransportError};
use zeroize::Zeroizing;

use crate::card::Reply;
use crate::vpcd::SharedCard;

/// Control code the simulated pinpad reports for VERIFY_PIN_DIRECT (libccid style).
const PINPAD_VERIFY_CODE: u32 = 0x4233_0006;

/// What the simulated pinpad does when asked for the PIN.
#[derive(Clone)]
pub enum PinpadInput {
    /// The holder types these digits and presses OK.
    Digits(Zeroizing<String>),
    /// The holder types nothing until the reader times out (`6400`).
    Timeout,
    /// The holder presses Cancel (`6401`).
    Cancel,
}

impl std::fmt::Debug for PinpadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Digits(_) => f.write_str("Digits(<PIN>)"),
            Self::Timeout => f.write_str("Timeout"),
            Self::Cancel => f.write_str("Cancel"),
        }
    }
}

/// A virtual card in a virtual reader, in the same process.
#[derive(Debug, Clone)]
pub struct InProcessTransport {
    card: SharedCard,
    pinpad: Option<PinpadInput>,
    /// Every command sent, with PIN blocks replaced by `**`, for tests that check the order.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl InProcessTransport {
    /// Creates a reader without pinpad.
    pub fn new(card: SharedCard) -> Self {
        Self {
            card,
            pinpad: None,
            log: Default::default(),
        }
    }

    /// Creates a pinpad reader on which the holder will react with `input`.
    pub fn with_pinpad(card: SharedCard, input: PinpadInput) -> Self {
        Self {
            card,
            pinpad: Some(input),
            log: Default::default(),
        }
    }

    /// Returns the instruction bytes of every command sent so far.
    pub fn instructions(&self) -> Vec<u8> {
        let log = self
            .log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        log.iter()
            .filter_map(|command| command.get(1).copied())
            .collect()
    }

    fn send(&mut self, command: &[u8]) -> Result<Response, TransportError> {
        let mut logged = command.to_vec();
        if command.get(1) == Some(&0x20) {
            logged.truncate(4);
        }
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(logged);
        let reply = self
            .card
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .process(command);
        match reply {
            Reply::Response(bytes) => Response::from_bytes(&bytes),
            Reply::Removed => Err(TransportError::CardRemoved),
        }
    }

    fn pinpad_verify(&mut self, structure: &[u8]) -> Result<Vec<u8>, TransportError> {
        let input = self.pinpad.clone().ok_or(TransportError::Unsupported)?;
        let digits = match input {
            PinpadInput::Timeout => return Ok(vec![0x64, 0x00]),
            PinpadInput::Cancel => return Ok(vec![0x64, 0x01]),
            PinpadInput::Digits(digits) => digits,
        };
        // The APDU template follows the 19-byte header. The reader writes the length nibble and
        // the BCD digits into the PIN block, as bmFormatString 0x89 and bmPINLengthFormat 0x04
        // request.
        let Some(template) = structure.get(19..) else {
            return Ok(vec![0x6B, 0x80]);
        };
        if template.len() != 13 || digits.len() > 12 || digits.len() < 4 {
            return Ok(vec![0x64, 0x03]);
        }
        let mut command = Zeroizing::new(template.to_vec());
        command[5] = 0x20 | digits.len() as u8;
        for (index, digit) in digits.bytes().enumerate() {
            let byte = &mut command[6 + index / 2];
            let nibble = digit - b'0';
            *byte = if index % 2 == 0 {
                (nibble << 4) | (*byte & 0x0F)
            } else {
                (*byte & 0xF0) | nibble
            };
        }
        let response = self.send(&command)?;
        Ok(response.sw.to_be_bytes().to_vec())
    }
}

impl CardChannel for InProcessTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Response, TransportError> {
        self.send(command)
    }

    fn control(&mut self, code: u32, input: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.pinpad.is_none() {
            // Like vpcd: no SCardControl at all.
            return Err(TransportError::Unsupported);
        }
        if code == scard_ctl_code(GET_FEATURE_REQUEST_FUNCTION) {
            let mut features = vec![FEATURE_VERIFY_PIN_DIRECT, 0x04];
            features.extend_from_slice(&PINPAD_VERIFY_CODE.to_be_bytes());
            return Ok(features);
        }
        if code == PINPAD_VERIFY_CODE {
            return self.pinpad_verify(input);
        }
        Err(TransportError::Unsupported)
    }
}

impl CardTransport for InProcessTransport {
    fn atr(&mut self) -> Result<Vec<u8>, TransportError> {
        let card = self
            .card
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if card.is_removed() {
            return Err(TransportError::CardRemoved);
        }
        Ok(card.atr())
    }

    fn exclusive(
        &mut self,
        body: &mut dyn FnMut(&mut dyn CardChannel) -> Result<(), EidError>,
    ) -> Result<(), EidError> {
        body(self)
    }
}
