//! PC/SC access through pcscd: establish a context, find the eID reader by name, wait for a
//! card, connect with T=0 or T=1 (Belgian cards only offer T=0, so asking for T=1 alone fails),
//! and run transactions.
//!
//! PC/SC error codes become [`TransportError`] variants here, so callers can tell "pcscd is not
//! running" from "no reader", "no card" and "card removed".

use std::ffi::CString;
use std::time::{Duration, Instant};

use super::EidError;
use super::transport::{CardChannel, CardTransport, Response, TransportError};

/// A PC/SC context: the connection to pcscd.
pub struct PcscContext {
    context: pcsc::Context,
}

impl std::fmt::Debug for PcscContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscContext").finish_non_exhaustive()
    }
}

impl PcscContext {
    /// Connects to pcscd.
    pub fn establish() -> Result<Self, TransportError> {
        let context = pcsc::Context::establish(pcsc::Scope::User)
            .map_err(|error| map_error("SCardEstablishContext", error))?;
        Ok(Self { context })
    }

    /// Lists the names of the connected readers.
    pub fn readers(&self) -> Result<Vec<String>, TransportError> {
        let names = self
            .context
            .list_readers_owned()
            .map_err(|error| map_error("SCardListReaders", error))?;
        Ok(names
            .into_iter()
            .map(|name| name.to_string_lossy().into_owned())
            .collect())
    }

    /// Waits until a card is present in the first reader whose name starts with `reader_prefix`
    /// (any reader when empty) and returns that reader's name. Select readers by name, never by
    /// index: another reader may be plugged in.
    pub fn wait_for_card(
        &self,
        reader_prefix: &str,
        timeout: Duration,
    ) -> Result<String, TransportError> {
        let readers = self.readers()?;
        let reader = readers
            .into_iter()
            .find(|name| name.starts_with(reader_prefix))
            .ok_or_else(|| TransportError::ReaderUnavailable {
                reader: reader_prefix.to_owned(),
            })?;
        let name = CString::new(reader.clone()).map_err(|_| TransportError::ReaderUnavailable {
            reader: reader.clone(),
        })?;

        let deadline = Instant::now() + timeout;
        let mut states = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.context.get_status_change(remaining, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => return Err(TransportError::NoCard { reader }),
                Err(error) => return Err(map_error("SCardGetStatusChange", error)),
            }
            let state = states[0].event_state();
            if state.intersects(pcsc::State::UNKNOWN | pcsc::State::UNAVAILABLE) {
                return Err(TransportError::ReaderUnavailable { reader });
            }
            if state.contains(pcsc::State::PRESENT) && !state.contains(pcsc::State::MUTE) {
                return Ok(reader);
            }
            if remaining.is_zero() {
                return Err(TransportError::NoCard { reader });
            }
            states[0].sync_current_state();
        }
    }

    /// Connects to the card in `reader` in shared mode.
    pub fn connect(&self, reader: &str) -> Result<PcscTransport, TransportError> {
        let name = CString::new(reader).map_err(|_| TransportError::ReaderUnavailable {
            reader: reader.to_owned(),
        })?;
        let card = self
            .context
            .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .map_err(|error| match error {
                pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard => TransportError::NoCard {
                    reader: reader.to_owned(),
                },
                other => map_error("SCardConnect", other),
            })?;
        tracing::debug!(reader, "connected to card");
        Ok(PcscTransport {
            card,
            reader: reader.to_owned(),
        })
    }
}

/// A card connected through pcscd.
pub struct PcscTransport {
    card: pcsc::Card,
    reader: String,
}

impl std::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscTransport")
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

impl PcscTransport {
    /// Returns the reader name.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// Disconnects and resets the card, which clears its PIN state.
    pub fn disconnect(self) -> Result<(), TransportError> {
        self.card
            .disconnect(pcsc::Disposition::ResetCard)
            .map_err(|(_, error)| map_error("SCardDisconnect", error))
    }
}

impl CardChannel for PcscTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Response, TransportError> {
        transmit_on(&self.card, command)
    }

    fn control(&mut self, code: u32, input: &[u8]) -> Result<Vec<u8>, TransportError> {
        control_on(&self.card, code, input)
    }
}

impl CardTransport for PcscTransport {
    fn atr(&mut self) -> Result<Vec<u8>, TransportError> {
        // vpcd and some drivers do not implement SCARD_ATTR_ATR_STRING; SCardStatus always works.
        let status = self
            .card
            .status2_owned()
            .map_err(|error| map_card_error("SCardStatus", error))?;
        Ok(status.atr().to_vec())
    }

    fn exclusive(
        &mut self,
        body: &mut dyn FnMut(&mut dyn CardChannel) -> Result<(), EidError>,
    ) -> Result<(), EidError> {
        let transaction = self
            .card
            .transaction()
            .map_err(|error| map_card_error("SCardBeginTransaction", error))?;
        let mut channel = BorrowedCard(&transaction);
        let result = body(&mut channel);
        let ended = transaction
            .end(pcsc::Disposition::LeaveCard)
            .map_err(|(_, error)| map_card_error("SCardEndTransaction", error));
        // The body's error explains more than a failed end (usually the same removed card).
        result?;
        ended?;
        Ok(())
    }
}

/// A card borrowed from an open transaction.
struct BorrowedCard<'a>(&'a pcsc::Card);

impl CardChannel for BorrowedCard<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Response, TransportError> {
        transmit_on(self.0, command)
    }

    fn control(&mut self, code: u32, input: &[u8]) -> Result<Vec<u8>, TransportError> {
        control_on(self.0, code, input)
    }
}

fn transmit_on(card: &pcsc::Card, command: &[u8]) -> Result<Response, TransportError> {
    let mut buffer = zeroize::Zeroizing::new([0u8; pcsc::MAX_BUFFER_SIZE]);
    match card.transmit(command, &mut buffer[..]) {
        Ok(raw) if raw.len() < 2 => Err(after_short_response(card, raw.len())),
        Ok(raw) => Response::from_bytes(raw),
        Err(error) => Err(after_failure(card, "SCardTransmit", error)),
    }
}

/// How long to watch the reader after a response without status word: pcscd notices a pulled
/// card at its next presence poll, about every 400 ms for vpcd and serial readers.
const REMOVAL_GRACE: Duration = Duration::from_millis(1500);

/// Maps a response without status word. pcscd returns one when the card vanishes in the middle
/// of the exchange (verified with vpcd), so watch the card status for a moment before calling
/// the response malformed.
fn after_short_response(card: &pcsc::Card, length: usize) -> TransportError {
    let deadline = Instant::now() + REMOVAL_GRACE;
    loop {
        let present = match card.status2_owned() {
            Ok(status) => status.status().contains(pcsc::Status::PRESENT),
            Err(error) => !matches!(
                map_card_error("SCardStatus", error),
                TransportError::CardRemoved
            ),
        };
        if !present {
            return TransportError::CardRemoved;
        }
        if Instant::now() >= deadline {
            return TransportError::Malformed { length };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn control_on(card: &pcsc::Card, code: u32, input: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE];
    match card.control(code.into(), input, &mut buffer) {
        Ok(output) => Ok(output.to_vec()),
        Err(pcsc::Error::UnsupportedFeature | pcsc::Error::InvalidParameter) => {
            Err(TransportError::Unsupported)
        }
        Err(error) => Err(after_failure(card, "SCardControl", error)),
    }
}

/// Maps a failed exchange. A card pulled mid-command may surface as a communication error, so
/// when the error itself does not show that the card is gone, the card status decides.
fn after_failure(card: &pcsc::Card, operation: &'static str, error: pcsc::Error) -> TransportError {
    let mapped = map_card_error(operation, error);
    if !matches!(mapped, TransportError::Pcsc { .. }) {
        return mapped;
    }
    match card.status2_owned() {
        Err(status_error) => match map_card_error("SCardStatus", status_error) {
            TransportError::CardRemoved => TransportError::CardRemoved,
            _ => mapped,
        },
        Ok(status) if !status.status().contains(pcsc::Status::PRESENT) => {
            TransportError::CardRemoved
        }
        Ok(_) => mapped,
    }
}

/// Maps errors of calls on a connected card: "no card" there means it was removed.
fn map_card_error(operation: &'static str, error: pcsc::Error) -> TransportError {
    match error {
        pcsc::Error::RemovedCard | pcsc::Error::ResetCard | pcsc::Error::NoSmartcard => {
            TransportError::CardRemoved
        }
        other => map_error(operation, other),
    }
}

fn map_error(operation: &'static str, error: pcsc::Error) -> TransportError {
    match error {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => TransportError::ServiceNotRunning,
        pcsc::Error::NoReadersAvailable => TransportError::NoReader,
        pcsc::Error::RemovedCard | pcsc::Error::ResetCard => TransportError::CardRemoved,
        pcsc::Error::UnsupportedFeature => TransportError::Unsupported,
        source => TransportError::Pcsc { operation, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcsc_errors_map_to_distinct_variants() {
        assert!(matches!(
            map_error("SCardEstablishContext", pcsc::Error::NoService),
            TransportError::ServiceNotRunning
        ));
        assert!(matches!(
            map_error("SCardListReaders", pcsc::Error::NoReadersAvailable),
            TransportError::NoReader
        ));
        assert!(matches!(
            map_card_error("SCardTransmit", pcsc::Error::NoSmartcard),
            TransportError::CardRemoved
        ));
        assert!(matches!(
            map_card_error("SCardTransmit", pcsc::Error::ResetCard),
            TransportError::CardRemoved
        ));
        assert!(matches!(
            map_error("SCardControl", pcsc::Error::UnsupportedFeature),
            TransportError::Unsupported
        ));
        let other = map_error("SCardTransmit", pcsc::Error::CommError);
        assert!(matches!(
            other,
            TransportError::Pcsc {
                operation: "SCardTransmit",
                ..
            }
        ));
    }

    #[test]
    fn no_reader_message_names_the_fix() {
        assert_eq!(
            TransportError::NoReader.to_string(),
            "no smart card reader is connected; plug in the eID reader"
        );
    }
}
