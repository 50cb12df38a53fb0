//! The append-only, hash-chained audit log.
//!
//! Each row stores `hash = SHA-256(prev_hash || canonical row)`. `prev_hash` is
//! the previous row's hash, or 32 zero bytes for the first row. The canonical
//! row is every other column, each as an 8-byte big-endian length followed by
//! its UTF-8 bytes, in the order seq, at, actor, action, principal (decimal, or
//! empty), detail. The length prefixes make the encoding
//! unambiguous, so no two different rows hash the same content.
//!
//! Triggers reject UPDATE and DELETE through SQL. An edit made below SQL, on the
//! file itself, breaks the chain at the edited row; deleting rows from the
//! middle breaks it at the next row, and deleting the newest rows leaves
//! `sqlite_sequence` ahead of the last row. Both are reported by
//! [`Store::verify_audit_chain`].
//!
//! NOTE: someone who rewrites the file can still rebuild a consistent chain
//! after removing rows, because the hashes carry no secret. Comparing with a
//! head hash kept elsewhere (see [`Store::audit_head`]) detects that.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::principals::PrincipalId;
use super::time::{self, to_sql};
use super::{Store, StoreError};

/// The `prev_hash` of the first row.
const GENESIS_HASH: [u8; 32] = [0; 32];

/// An event to append to the audit log.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// The origin of the event: `fetcher`, `delivery`, `panel`, a principal's INSZ, ...
    pub actor: &'a str,
    /// A dotted event name, such as `mandate.revoked`.
    pub action: &'a str,
    pub principal: Option<PrincipalId>,
    /// Event details; stored as compact JSON with sorted keys.
    pub detail: serde_json::Value,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub principal: Option<PrincipalId>,
    /// The JSON text exactly as stored and hashed.
    pub detail: String,
    /// Hex SHA-256 of the previous entry.
    pub prev_hash: String,
    /// Hex SHA-256 of this entry.
    pub hash: String,
}

/// The result of [`Store::verify_audit_chain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerification {
    /// Every row links to the previous one and matches its content.
    Intact {
        rows: u64,
        /// The newest row's sequence number and hash, if there is one.
        head: Option<(i64, String)>,
    },
    /// The chain is broken at row `seq`.
    Broken { seq: i64, problem: String },
}

/// Appends `event` inside the caller's transaction, so the audit row commits
/// together with the change it records.
pub(crate) fn append_in(
    tx: &Transaction<'_>,
    event: &AuditEvent<'_>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let prev_hash = last_hash(tx)?.unwrap_or_else(|| hex(&GENESIS_HASH));
    let seq = next_seq(tx)?;
    let at = to_sql(now);
    let principal = event.principal.map(|id| id.0);
    let detail = event.detail.to_string();

    let hash = row_hash(
        &prev_hash,
        seq,
        &at,
        event.actor,
        event.action,
        principal,
        &detail,
    )?;
    tx.execute(
        "INSERT INTO audit_log (seq, at, actor, action, principal_id, detail, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            seq,
            at,
            event.actor,
            event.action,
            principal,
            detail,
            prev_hash,
            hash
        ],
    )?;
    Ok(seq)
}

fn last_hash(tx: &Transaction<'_>) -> Result<Option<String>, StoreError> {
    let hash = tx
        .query_row(
            "SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(hash)
}

/// Returns the next sequence number, past every number ever used, deleted rows included.
fn next_seq(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    let used: i64 = tx.query_row(
        "SELECT max(coalesce((SELECT max(seq) FROM audit_log), 0),
                    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'), 0))",
        [],
        |row| row.get(0),
    )?;
    Ok(used + 1)
}

/// Computes the hex hash of one row from its predecessor's hex hash and its content.
fn row_hash(
    prev_hash: &str,
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    principal: Option<i64>,
    detail: &str,
) -> Result<String, StoreError> {
    let prev = unhex(prev_hash).ok_or_else(|| StoreError::CorruptValue {
        column: "audit_log.prev_hash",
        value: prev_hash.to_owned(),
        reason: "expected 64 hex digits".to_owned(),
    })?;

    let principal = principal.map(|id| id.to_string()).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(prev);
    for field in [&seq.to_string(), at, actor, action, &principal, detail] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// An audit row as stored, before the timestamp is parsed.
struct RawEntry {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    principal: Option<i64>,
    detail: String,
    prev_hash: String,
    hash: String,
}

fn read_raw_entry(row: &Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok(RawEntry {
        seq: row.get(0)?,
        at: row.get(1)?,
        actor: row.get(2)?,
        action: row.get(3)?,
        principal: row.get(4)?,
        detail: row.get(5)?,
        prev_hash: row.get(6)?,
        hash: row.get(7)?,
    })
}

impl RawEntry {
    fn parse(self) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry {
            seq: self.seq,
            at: time::from_sql("audit_log.at", &self.at)?,
            actor: self.actor,
            action: self.action,
            principal: self.principal.map(PrincipalId),
            detail: self.detail,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

impl Store {
    /// Appends one event to the audit log in its own transaction.
    pub fn append_audit(
        &mut self,
        event: &AuditEvent<'_>,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = append_in(&tx, event, now)?;
        tx.commit()?;
        Ok(seq)
    }

    /// Lists the audit entries, oldest first.
    pub fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError> {
        self.raw_audit_entries()?
            .into_iter()
            .map(RawEntry::parse)
            .collect()
    }

    fn raw_audit_entries(&self) -> Result<Vec<RawEntry>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT seq, at, actor, action, principal_id, detail, prev_hash, hash \
             FROM audit_log ORDER BY seq",
        )?;
        let rows = statement.query_map([], read_raw_entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns the newest entry's sequence number and hash, to be kept outside the
    /// store (in the journal, for instance) as an anchor against truncation.
    pub fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let head = self
            .conn
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        Ok(head)
    }

    /// Recomputes the hash chain and reports the first row where it breaks.
    pub fn verify_audit_chain(&self) -> Result<AuditVerification, StoreError> {
        let mut prev_hash = hex(&GENESIS_HASH);
        let mut expected_seq = 1;
        let mut rows = 0;

        for entry in self.raw_audit_entries()? {
            if let Some(problem) = check_entry(&entry, &prev_hash, expected_seq)? {
                return Ok(AuditVerification::Broken {
                    seq: entry.seq,
                    problem,
                });
            }
            prev_hash = entry.hash;
            expected_seq = entry.seq + 1;
            rows += 1;
        }

        if let Some(problem) = self.check_tail(expected_seq - 1)? {
            return Ok(AuditVerification::Broken {
                seq: expected_seq,
                problem,
            });
        }
        let head = self.audit_head()?;
        Ok(AuditVerification::Intact { rows, head })
    }

    /// Compares the last row with the highest sequence number SQLite ever handed out.
    fn check_tail(&self, last_seq: i64) -> Result<Option<String>, StoreError> {
        let issued: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        match issued {
            Some(issued) if issued > last_seq => Ok(Some(format!(
                "rows {} to {issued} were deleted: the log ends at row {last_seq}",
                last_seq + 1
            ))),
            _ => Ok(None),
        }
    }
}

/// Checks one entry against its predecessor; returns the problem, if any.
fn check_entry(
    entry: &RawEntry,
    prev_hash: &str,
    expected_seq: i64,
) -> Result<Option<String>, StoreError> {
    if entry.seq != expected_seq {
        return Ok(Some(format!(
            "expected row {expected_seq} next, found row {}: rows were deleted",
            entry.seq
        )));
    }
    if entry.prev_hash != prev_hash {
        return Ok(Some(
            "prev_hash does not match the previous row's hash".to_owned(),
        ));
    }

    let recomputed = row_hash(
        prev_hash,
        entry.seq,
        &entry.at,
        &entry.actor,
        &entry.action,
        entry.principal,
        &entry.detail,
    )?;
    if recomputed != entry.hash {
        return Ok(Some(
            "the row's content does not match its hash: the row was edited".to_owned(),
        ));
    }
    Ok(None)
}
