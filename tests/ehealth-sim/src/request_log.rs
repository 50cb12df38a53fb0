//! The in-memory log of every request the simulator served, for tests that assert what a client
//! sent (its XML and WS-Security) and how the simulator answered.
//!
//! The log keeps the newest entries within two bounds and drops the oldest: a number of entries
//! and a byte budget, the sum of the [`RequestRecord::size`] of the entries kept. A record larger
//! than the whole budget is kept with its request and response text cut short (and
//! [`RequestRecord::truncated`] set), so one huge request cannot empty the log or exhaust memory.

use std::collections::VecDeque;
use std::sync::Mutex;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The default number of entries kept.
pub const DEFAULT_CAPACITY: usize = 2_000;

/// The default byte budget: room for the default number of typical signed requests (a few KB
/// each) and a handful of messages of several MB.
pub const DEFAULT_BYTE_BUDGET: usize = 64 * 1024 * 1024;

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
    /// Whether `request` or `response` was cut to fit the log's byte budget.
    #[serde(default)]
    pub truncated: bool,
}

impl RequestRecord {
    /// Returns the bytes this record counts against the byte budget: its text fields. The
    /// fixed-size fields are left out.
    pub fn size(&self) -> usize {
        let optional = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        self.path.len()
            + self.request.len()
            + optional(&self.response)
            + optional(&self.operation)
            + optional(&self.soap_action)
            + optional(&self.caller_ssin)
            + optional(&self.fault_code)
    }

    /// Cuts `request`, then `response`, so that the record's size is at most `budget`.
    fn truncate_to(&mut self, budget: usize) {
        let mut excess = self.size().saturating_sub(budget);
        if excess == 0 {
            return;
        }
        self.truncated = true;
        excess = cut_end(&mut self.request, excess);
        if let Some(response) = &mut self.response {
            cut_end(response, excess);
        }
    }
}

/// Removes at least `excess` bytes from the end of `text` (at a character boundary), or all of
/// it; returns the bytes still to remove elsewhere.
fn cut_end(text: &mut String, excess: usize) -> usize {
    if excess >= text.len() {
        let left = excess - text.len();
        text.clear();
        return left;
    }
    let mut end = text.len() - excess;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    0
}

/// A bounded, thread-safe request log.
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    byte_budget: usize,
    state: Mutex<LogState>,
}

#[derive(Debug, Default)]
struct LogState {
    next_sequence: u64,
    records: VecDeque<RequestRecord>,
    /// The sum of the sizes of `records`.
    bytes: usize,
}

impl RequestLog {
    /// Creates an empty log that keeps at most `capacity` entries (at least one) and the
    /// default byte budget.
    pub fn new(capacity: usize) -> Self {
        Self::with_byte_budget(capacity, DEFAULT_BYTE_BUDGET)
    }

    /// Creates an empty log that keeps at most `capacity` entries (at least one) whose sizes add
    /// up to at most `byte_budget` bytes (at least 1 KiB).
    pub fn with_byte_budget(capacity: usize, byte_budget: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            byte_budget: byte_budget.max(1024),
            state: Mutex::new(LogState::default()),
        }
    }

    /// Appends a record, assigning its sequence number, and returns that number.
    pub fn push(&self, mut record: RequestRecord) -> u64 {
        record.truncate_to(self.byte_budget);
        let size = record.size();

        let mut state = self.lock();
        state.next_sequence += 1;
        record.sequence = state.next_sequence;
        while state.records.len() >= self.capacity || state.bytes + size > self.byte_budget {
            let Some(oldest) = state.records.pop_front() else {
                break;
            };
            state.bytes -= oldest.size();
        }
        state.bytes += size;
        state.records.push_back(record);
        state.next_sequence
    }

    /// Returns the bytes the kept records count against the budget.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
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
        let mut state = self.lock();
        state.records.clear();
        state.bytes = 0;
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
            truncated: false,
        }
    }

    fn sized(path: &str, request_bytes: usize) -> RequestRecord {
        RequestRecord {
            request: "x".repeat(request_bytes),
            ..record(path)
        }
    }

    #[test]
    fn log_drops_oldest_beyond_byte_budget() {
        let log = RequestLog::with_byte_budget(100, 4096);
        for path in ["/a", "/b", "/c"] {
            log.push(sized(path, 1500));
        }

        let kept: Vec<_> = log.all().into_iter().map(|record| record.path).collect();
        assert_eq!(kept, ["/b", "/c"]);
        assert!(log.bytes() <= 4096, "{} bytes", log.bytes());
        assert_eq!(log.bytes(), 2 * (1500 + 2));
    }

    #[test]
    fn oversized_record_is_truncated() {
        let log = RequestLog::with_byte_budget(100, 4096);
        log.push(sized("/a", 100));
        let mut huge = sized("/big", 10_000);
        huge.response = Some("é".repeat(5_000));

        log.push(huge);

        let kept = log.all();
        assert_eq!(kept.len(), 1, "the small record made room");
        assert!(kept[0].truncated);
        assert!(kept[0].size() <= 4096, "{} bytes", kept[0].size());
        assert_eq!(kept[0].request, "");
        assert!(kept[0].response.as_ref().unwrap().starts_with('é'));
        assert!(log.bytes() <= 4096);
    }

    #[test]
    fn clear_resets_byte_count() {
        let log = RequestLog::with_byte_budget(10, 4096);
        log.push(sized("/a", 1000));
        log.clear();
        assert_eq!(log.bytes(), 0);
        assert_eq!(log.push(sized("/b", 10)), 2);
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
