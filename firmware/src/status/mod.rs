//! Status of the service: the events the scheduler sends, and the current state built from them.
//!
//! The scheduler publishes a [`StatusEvent`] on a tokio broadcast channel for every state change:
//! a principal added or removed, a fetch started, a fetch that succeeded or failed, something that
//! ends soon. The service adds the state of the Samba shares. The consumer task ([`task::run`])
//! folds the events into a [`StatusSnapshot`]. The snapshot has per principal the name, new
//! today, last successful fetch and current problem, and for the box the platform's
//! reachability, a shares problem and the LED state. The task logs each change and writes the
//! snapshot as JSON for `practicebox status` and the panel.
//!
//! # Layout
//! - [`snapshot`]: the snapshot, the LED rules and the one-line summaries.
//! - [`task`]: the consumer task and the atomic JSON file.

pub mod snapshot;
pub mod task;

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::fetcher::ProblemKind;
use crate::store::PrincipalId;
pub use snapshot::{Led, PrincipalStatus, StatusSnapshot};

/// Events kept for a slow consumer before it starts missing some.
pub const CHANNEL_CAPACITY: usize = 256;

/// The kind of end that needs attention soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attention {
    /// The principal's eHealth certificate expires.
    Certificate,
    /// The mandate that lets the box fetch the principal's eHealthBox ends.
    MandateEnds,
}

/// A state change, as the scheduler reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StatusEvent {
    /// The scheduler started fetching a principal's eHealthBox.
    PrincipalAdded {
        #[serde(with = "principal_id")]
        principal: PrincipalId,
        name: String,
        /// The fetch interval, in seconds.
        interval_secs: u64,
    },
    /// The scheduler stopped fetching a principal (mandate ended or revoked, principal removed).
    PrincipalRemoved {
        #[serde(with = "principal_id")]
        principal: PrincipalId,
    },
    Fetching {
        #[serde(with = "principal_id")]
        principal: PrincipalId,
    },
    Ok {
        #[serde(with = "principal_id")]
        principal: PrincipalId,
        new: u32,
        delivered: u32,
        held: u32,
        at: Timestamp,
    },
    Error {
        #[serde(with = "principal_id")]
        principal: PrincipalId,
        /// The error in plain words, with what to do.
        reason: String,
        kind: ProblemKind,
        /// When the current run of failures began.
        since: Timestamp,
    },
    AttentionSoon {
        #[serde(with = "principal_id")]
        principal: PrincipalId,
        what: Attention,
        date: Timestamp,
    },
    /// The Samba shares lag behind the principals: the fragment could not be written, a
    /// doctor's folder could not be shared, or smbd could not be reloaded. Fetching goes on.
    SharesProblem {
        /// The problem in plain words, with what to do.
        reason: String,
        /// When the shares began to lag.
        since: Timestamp,
    },
    /// The Samba shares match the principals again.
    SharesOk,
}

impl StatusEvent {
    /// Returns the principal the event is about, or `None` for an event about the whole box.
    pub fn principal(&self) -> Option<PrincipalId> {
        match self {
            Self::PrincipalAdded { principal, .. }
            | Self::PrincipalRemoved { principal }
            | Self::Fetching { principal }
            | Self::Ok { principal, .. }
            | Self::Error { principal, .. }
            | Self::AttentionSoon { principal, .. } => Some(*principal),
            Self::SharesProblem { .. } | Self::SharesOk => None,
        }
    }
}

/// The sending side of the status channel. Sending does not block, and with no subscribed
/// consumer the event is dropped.
#[derive(Debug, Clone)]
pub struct StatusSender {
    sender: broadcast::Sender<StatusEvent>,
}

impl StatusSender {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self { sender }
    }

    /// Publishes an event to every current subscriber.
    pub fn send(&self, event: StatusEvent) {
        // An error only means that no receiver is subscribed right now.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StatusEvent> {
        self.sender.subscribe()
    }
}

impl Default for StatusSender {
    fn default() -> Self {
        Self::new()
    }
}

/// Serialises a [`PrincipalId`] as its row number.
pub(crate) mod principal_id {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::store::PrincipalId;

    pub fn serialize<S: Serializer>(id: &PrincipalId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(id.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<PrincipalId, D::Error> {
        i64::deserialize(deserializer).map(PrincipalId)
    }
}

/// How far ahead an ending certificate or mandate turns the LED amber.
pub const ATTENTION_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);
