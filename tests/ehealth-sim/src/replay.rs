//! The replay cache: WS-Security signatures the simulator already accepted, so that a request
//! sent twice is rejected the second time, as a WS-Security receiver does with a message it has
//! seen within the validity of its timestamp.
//!
//! A signature is keyed by the SHA-256 of its decoded `ds:SignatureValue`. The signature covers
//! the `wsu:Timestamp` and the Body, so a client that signs each attempt afresh (a new
//! `wsu:Created` or new IDs) never collides with itself, and a byte-identical resend always does.
//! An entry is kept until the timestamp it came with could no longer pass the
//! [`TimestampPolicy`](crate::security::TimestampPolicy) check, then forgotten.
//!
//! The cache keeps at most [`DEFAULT_CAPACITY`] entries (or the capacity given). When it is full
//! of live entries, the one that would be forgotten first is dropped, and a warning is logged.
//!
//! NOTE: the platform's documentation does not describe replay detection. Rejecting a replay
//! with SOA-01001, its code for a bad WS-Security signature or timestamp, is inferred, and its
//! cache size and eviction are not public.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use sha2::{Digest as _, Sha256};

use crate::wire::Fault;

/// The default number of signatures kept: at the default five-minute timestamp window, enough
/// for more than 150 requests a second.
pub const DEFAULT_CAPACITY: usize = 50_000;

/// How often, in evictions, a full cache logs a warning again.
const EVICTION_LOG_EVERY: u64 = 1_000;

type Key = [u8; 32];

/// A request whose signature the cache saw before.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the request signature was already received at {first_seen} (replay); sign each request \
     anew, with a fresh wsu:Timestamp"
)]
pub struct Replayed {
    /// When the simulator first accepted this signature.
    pub first_seen: Timestamp,
}

impl From<Replayed> for Fault {
    fn from(replayed: Replayed) -> Self {
        Fault::not_authenticated(replayed.to_string())
    }
}

/// The signatures seen, shared by the STS and the eHealthBox services.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    enabled: AtomicBool,
    evictions: AtomicU64,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// Key to (first seen, forget at).
    entries: HashMap<Key, (Timestamp, Timestamp)>,
    /// The same entries ordered by when they may be forgotten.
    by_forget_at: BTreeSet<(Timestamp, Key)>,
}

impl ReplayCache {
    /// Creates an empty, enabled cache that keeps at most `capacity` signatures (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            enabled: AtomicBool::new(true),
            evictions: AtomicU64::new(0),
            state: Mutex::new(CacheState::default()),
        }
    }

    /// Turns the check on or off. While off, signatures are neither checked nor recorded.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
        tracing::info!(enabled, "replay check switched");
    }

    /// Tells whether the check is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Returns the number of signatures kept.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Tells whether no signature is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the signature whose `ds:SignatureValue` text is `signature_value`, to be kept
    /// until `forget_at`, or returns [`Replayed`] when it is already kept. Call it only for
    /// requests whose signature and timestamp verified, so that forged requests cannot fill it.
    pub fn check_and_record(
        &self,
        signature_value: &str,
        forget_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), Replayed> {
        if !self.is_enabled() {
            return Ok(());
        }
        let key = key_of(signature_value);
        let mut state = self.lock();
        state.forget_until(now);
        if let Some((first_seen, _)) = state.entries.get(&key) {
            tracing::info!(%first_seen, "replayed request rejected");
            return Err(Replayed {
                first_seen: *first_seen,
            });
        }
        if state.entries.len() >= self.capacity {
            state.evict_first();
            self.count_eviction();
        }
        state.entries.insert(key, (now, forget_at));
        state.by_forget_at.insert((forget_at, key));
        Ok(())
    }

    fn count_eviction(&self) {
        let evicted = self.evictions.fetch_add(1, Ordering::Relaxed) + 1;
        if evicted % EVICTION_LOG_EVERY == 1 {
            tracing::warn!(
                capacity = self.capacity,
                evicted,
                "the replay cache is full; the oldest signatures are dropped before they expire"
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // A poisoned lock only means a thread panicked while holding it; the cache stays valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl CacheState {
    /// Forgets every entry whose time is up at `now`.
    fn forget_until(&mut self, now: Timestamp) {
        while let Some(&(forget_at, key)) = self.by_forget_at.first() {
            if forget_at > now {
                break;
            }
            self.by_forget_at.pop_first();
            self.entries.remove(&key);
        }
    }

    /// Drops the entry that would be forgotten first.
    fn evict_first(&mut self) {
        if let Some((_, key)) = self.by_forget_at.pop_first() {
            self.entries.remove(&key);
        }
    }
}

/// Hashes the decoded signature value; text that is not base64 is hashed as it is, without
/// whitespace, so it still identifies the signature.
fn key_of(signature_value: &str) -> Key {
    let compact: String = signature_value
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = BASE64
        .decode(compact.as_bytes())
        .unwrap_or_else(|_| compact.into_bytes());
    Sha256::digest(&bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn second_use_is_rejected() {
        let cache = ReplayCache::new(10);
        cache.check_and_record("AAAA", at(60), at(0)).unwrap();

        let replayed = cache.check_and_record("AAAA", at(60), at(5)).unwrap_err();

        assert_eq!(replayed.first_seen, at(0));
        assert!(cache.check_and_record("BBBB", at(60), at(5)).is_ok());
    }

    #[test]
    fn whitespace_does_not_change_the_key() {
        let cache = ReplayCache::new(10);
        cache.check_and_record("AAAA\nBBBB", at(60), at(0)).unwrap();
        assert!(cache.check_and_record(" AAAABBBB ", at(60), at(1)).is_err());
    }

    #[test]
    fn entry_forgotten_after_its_time() {
        let cache = ReplayCache::new(10);
        cache.check_and_record("AAAA", at(60), at(0)).unwrap();

        assert!(cache.check_and_record("AAAA", at(120), at(60)).is_ok());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn full_cache_stays_bounded() {
        let cache = ReplayCache::new(3);
        for (index, value) in ["AAAA", "BBBB", "CCCC", "DDDD"].iter().enumerate() {
            let forget_at = at(100 + index as i64);
            cache.check_and_record(value, forget_at, at(0)).unwrap();
        }

        assert_eq!(cache.len(), 3);
        // The entry due first was dropped; the newer ones are still caught.
        assert!(cache.check_and_record("AAAA", at(200), at(1)).is_ok());
        assert!(cache.check_and_record("DDDD", at(200), at(1)).is_err());
    }

    #[test]
    fn disabled_cache_accepts_and_records_nothing() {
        let cache = ReplayCache::new(10);
        cache.set_enabled(false);
        cache.check_and_record("AAAA", at(60), at(0)).unwrap();
        cache.check_and_record("AAAA", at(60), at(1)).unwrap();
        assert!(cache.is_empty());

        cache.set_enabled(true);
        cache.check_and_record("AAAA", at(60), at(2)).unwrap();
        assert!(cache.check_and_record("AAAA", at(60), at(3)).is_err());
    }

    #[test]
    fn replay_fault_is_soa_01001() {
        let fault = Fault::from(Replayed { first_seen: at(0) });
        assert_eq!(fault.code, "SOA-01001");
        assert!(fault.message.contains("replay"), "{}", fault.message);
    }
}
