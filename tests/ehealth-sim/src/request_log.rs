//! The in-memory log of every request the simulator served, for tests that assert what a client
//! sent (its XML and WS-Security) and how the simulator answered.
//!
//! The log keeps the newest entries up to a fixed capacity and drops the oldest.

use std::collections::VecDeque;
use std::sync::Mutex;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The default number of entries kept.
pub const DEFAULT_CAPACITY: usize = 2_000;

/// One served request and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Sequence number, from 1, never reused in a run.
    pub sequence: u64,
    pub received_at: Timestamp,
    /// The HTTP path, with the prefix.
    pub path: String,
    /// The operation name as in the WSDL, when the request was SOAP naming a known operation.
    pub operation: Option<String>,
    /// The SOAPAction header as sent.
    pub soap_action: Option<String>,
    /// The INSZ of the authenticated caller (or of the STS requester), when known.
    pub caller_ssin: Option<String>,
    /// The HTTP status sent, or `None` when the connection was dropped on purpose.
    pub http_status: Option<u16>,
    /// The platform fault code sent, if any.
    pub fault_code: Option<String>,
    /// Whether the outcome was injected by a knob rather than produced by the platform.
    pub injected: bool,
    /// The request body as received (lossy UTF-8).
    pub request: String,
    /// The SOAP envelope sent back (without binary MIME parts), when there was one.
    pub response: Option<String>,
}

/// A bounded, thread-safe request log.
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    state: Mutex<LogState>,
}

#[derive(Debug, Default)]
struct LogState {
    next_sequence: u64,
    records: VecDeque<RequestRecord>,
}

impl RequestLog {
    /// Creates an empty log that keeps at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(LogState::default()),
        }
    }

    /// Appends a record, assigning its sequence number, and returns that number.
    pub fn push(&self, mut record: RequestRecord) -> u64 {
        let mut state = self.lock();
        state.next_sequence += 1;
        record.sequence = state.next_sequence;
        if state.records.len() == self.capacity {
            state.records.pop_front();
        }
        state.records.push_back(record);
        state.next_sequence
    }

    /// Returns the records with a sequence number above `after`, oldest first, at most `limit`.
    pub fn since(&self, after: u64, limit: usize) -> Vec<RequestRecord> {
        self.lock()
            .records
            .iter()
            .filter(|record| record.sequence > after)
            .take(limit)
            .cloned()
            .collect()
    }

    /// Returns every record kept, oldest first.
    pub fn all(&self) -> Vec<RequestRecord> {
        self.lock().records.iter().cloned().collect()
    }

    /// Forgets every record (sequence numbers keep counting).
    pub fn clear(&self) {
        self.lock().records.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        // A poisoned lock only means a thread panicked while holding it; the log stays valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for RequestLog {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str) -> RequestRecord {
        RequestRecord {
            sequence: 0,
            received_at: Timestamp::UNIX_EPOCH,
            path: path.to_owned(),
            operation: None,
            soap_action: None,
            caller_ssin: None,
            http_status: Some(200),
            fault_code: None,
            injected: false,
            request: String::new(),
            response: None,
        }
    }

    #[test]
    fn log_drops_oldest_beyond_capacity() {
        let log = RequestLog::new(2);
        log.push(record("/a"));
        log.push(record("/b"));
        assert_eq!(log.push(record("/c")), 3);

        let kept: Vec<_> = log.all().into_iter().map(|record| record.path).collect();
        assert_eq!(kept, ["/b", "/c"]);
    }

    #[test]
    fn since_filters_by_sequence() {
        let log = RequestLog::new(10);
        for path in ["/a", "/b", "/c"] {
            log.push(record(path));
        }
        let newer: Vec<_> = log
            .since(1, 1)
            .into_iter()
            .map(|record| record.path)
            .collect();
        assert_eq!(newer, ["/b"]);
    }
}
