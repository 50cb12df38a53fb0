//! What became of each message the demo sent, as the box's store records it.
//!
//! The demo records every MessageId it delivered into the simulator. After each fetch run of a
//! doctor it reads those messages back from the store: delivered to the share (with the file
//! paths), recorded without a file (acknowledgements, errors, news), or held with a reason.

use std::collections::HashMap;

use super::mail::DeliveredMessage;
use super::practice::PracticeDoctor;
use crate::store::{DeliveryState, PrincipalId, Store, StoreError};

/// The outcome of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The parts are on the share, at these paths relative to the share root (main document
    /// first). `in_bin` is true once the message has left the INBOX for BININBOX.
    OnShare { paths: Vec<String>, in_bin: bool },
    /// Recorded without a file: an acknowledgement, an error or news for the sender's eyes only.
    Recorded { in_bin: bool },
    /// Not delivered; the message stays in the INBOX.
    Held { reason: String },
}

/// One message whose outcome is known.
#[derive(Debug, Clone)]
pub struct Settled {
    pub principal: PrincipalId,
    pub message: DeliveredMessage,
    pub outcome: Outcome,
}

/// The messages sent and what became of them.
#[derive(Debug, Default)]
pub struct Tracker {
    principals: HashMap<String, PrincipalId>,
    pending: HashMap<PrincipalId, Vec<DeliveredMessage>>,
    settled: Vec<Settled>,
    sent: usize,
}

impl Tracker {
    /// Creates a tracker for the practice's doctors.
    pub fn new(doctors: &[PracticeDoctor]) -> Self {
        Self {
            principals: doctors
                .iter()
                .map(|doctor| (doctor.ssin().to_owned(), doctor.principal))
                .collect(),
            ..Self::default()
        }
    }

    /// Adds messages just delivered into the doctors' INBOX. Messages to someone outside the
    /// practice are not tracked.
    pub fn sent(&mut self, messages: Vec<DeliveredMessage>) {
        for message in messages {
            let Some(principal) = self.principals.get(&message.planned.recipient) else {
                continue;
            };
            self.sent += 1;
            self.pending.entry(*principal).or_default().push(message);
        }
    }

    /// Reads the pending messages of `principal` from the store and returns those whose outcome
    /// is now known. A held message is settled once, with the reason it was held for.
    pub fn settle(
        &mut self,
        store: &Store,
        principal: PrincipalId,
    ) -> Result<Vec<Settled>, StoreError> {
        let Some(pending) = self.pending.remove(&principal) else {
            return Ok(Vec::new());
        };
        let mut still_pending = Vec::new();
        let mut settled = Vec::new();
        for message in pending {
            match outcome(store, principal, &message.message_id)? {
                Some(outcome) => settled.push(Settled {
                    principal,
                    message,
                    outcome,
                }),
                None => still_pending.push(message),
            }
        }
        if !still_pending.is_empty() {
            self.pending.insert(principal, still_pending);
        }
        self.settled.extend(settled.iter().cloned());
        Ok(settled)
    }

    /// Returns every message settled so far, in the order they settled.
    pub fn settled(&self) -> &[Settled] {
        &self.settled
    }

    /// Returns how many messages were sent to practice doctors.
    pub fn sent_count(&self) -> usize {
        self.sent
    }

    /// Returns how many messages have no known outcome yet.
    pub fn pending_count(&self) -> usize {
        self.pending.values().map(Vec::len).sum()
    }

    /// Returns the principals with messages not settled yet.
    pub fn pending_principals(&self) -> Vec<PrincipalId> {
        self.pending.keys().copied().collect()
    }
}

/// Reads the outcome of one message, or `None` while it is not fetched or not done.
fn outcome(
    store: &Store,
    principal: PrincipalId,
    message_id: &str,
) -> Result<Option<Outcome>, StoreError> {
    let Some(record) = store.message(principal, message_id)? else {
        return Ok(None);
    };
    let in_bin = record.state == DeliveryState::MovedToBin;
    let outcome = match record.state {
        DeliveryState::Fetched => return Ok(None),
        DeliveryState::Held => Outcome::Held {
            reason: record
                .held_reason
                .unwrap_or_else(|| "no reason recorded".to_owned()),
        },
        DeliveryState::Delivered | DeliveryState::MovedToBin if record.files.is_empty() => {
            Outcome::Recorded { in_bin }
        }
        DeliveryState::Delivered | DeliveryState::MovedToBin => {
            let mut files = record.files;
            files.sort_by_key(|file| file.part_index);
            Outcome::OnShare {
                paths: files.into_iter().map(|file| file.path).collect(),
                in_bin,
            }
        }
    };
    Ok(Some(outcome))
}
