//! How the wizard reaches the eID: an [`EidConnector`] opens the card in the reader when the
//! doctor presses OK after inserting it. [`PcscConnector`] goes through pcscd on the box; tests pass a
//! closure that opens the virtual card.

use std::time::Duration;

use crate::eid::{EidCard, EidError, PcscContext};
use crate::mandates::MandateSigner;

/// An eID opened for the mandate workflow.
pub type Signer = Box<dyn MandateSigner + Send>;

/// Opens the eID in the reader.
pub trait EidConnector {
    /// Connects to the card in the reader; fails with a "no card" error when there is none.
    fn connect(&mut self) -> Result<Signer, EidError>;
}

impl<F> EidConnector for F
where
    F: FnMut() -> Result<Signer, EidError>,
{
    fn connect(&mut self) -> Result<Signer, EidError> {
        self()
    }
}

/// The eID through pcscd, in the first reader whose name starts with a prefix.
#[derive(Debug, Clone)]
pub struct PcscConnector {
    reader_prefix: String,
    card_wait: Duration,
}

impl PcscConnector {
    /// How long [`PcscConnector::new`] waits for a card, for a doctor who presses OK while
    /// still inserting it.
    pub const CARD_WAIT: Duration = Duration::from_secs(3);

    /// Creates a connector for the first reader whose name starts with `reader_prefix` (any
    /// reader when empty).
    pub fn new(reader_prefix: impl Into<String>) -> Self {
        Self {
            reader_prefix: reader_prefix.into(),
            card_wait: Self::CARD_WAIT,
        }
    }

    /// Returns the connector with another wait for the card.
    pub fn with_card_wait(self, card_wait: Duration) -> Self {
        Self { card_wait, ..self }
    }
}

impl EidConnector for PcscConnector {
    fn connect(&mut self) -> Result<Signer, EidError> {
        let context = PcscContext::establish()?;
        let reader = context.wait_for_card(&self.reader_prefix, self.card_wait)?;
        let transport = context.connect(&reader)?;
        Ok(Box::new(EidCard::open(transport)?))
    }
}
