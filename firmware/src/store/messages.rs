//! Messages and their delivery state, keyed by (principal, MessageId).
//!
//! The table lists the transitions each method allows. Any other transition is
//! [`StoreError::InvalidTransition`]. A transition to the state a message is
//! already in changes nothing, so every step can be repeated after a crash:
//!
//! | method                        | from                     | to             |
//! |-------------------------------|--------------------------|----------------|
//! | [`Store::record_fetched`]     | (absent)                 | `fetched`      |
//! | [`Store::mark_delivered`]     | `fetched`, `held`        | `delivered`    |
//! | [`Store::mark_moved_to_bin`]  | `delivered`              | `moved_to_bin` |
//! | [`Store::hold`]               | `fetched`, `held`        | `held`         |
//!
//! [`Store::record_outcomes`] and [`Store::mark_all_moved_to_bin`] make the same transitions
//! for several messages in one transaction, so that one commit covers a batch.

use std::fmt;

use jiff::Timestamp;
use rusqlite::Error::FromSqlConversionFailure;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde_json::json;

use super::audit::{self, AuditEvent};
use super::principals::PrincipalId;
use super::time::{self, to_sql};
use super::{Store, StoreError};

/// The kind of an eHealthBox message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Document,
    News,
    Acknowledgment,
    Error,
}

impl MessageKind {
    /// Returns the lower-case name used in the store and in sidecars.
    pub fn as_str(self) -> &'static str {
        self.as_sql()
    }

    fn as_sql(self) -> &'static str {
        match self {
            MessageKind::Document => "document",
            MessageKind::News => "news",
            MessageKind::Acknowledgment => "acknowledgment",
            MessageKind::Error => "error",
        }
    }

    fn parse(value: &str) -> Option<MessageKind> {
        match value {
            "document" => Some(MessageKind::Document),
            "news" => Some(MessageKind::News),
            "acknowledgment" => Some(MessageKind::Acknowledgment),
            "error" => Some(MessageKind::Error),
            _ => None,
        }
    }
}

/// The delivery state of a message, between the eHealthBox and the share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Recorded; files not yet durable on the share.
    Fetched,
    /// Files durable on the share; the message may leave the inbox.
    Delivered,
    /// Moved to the eHealthBox bin (BININBOX).
    MovedToBin,
    /// Not delivered, with a reason; retried at `retry_at` if one is set.
    Held,
}

impl DeliveryState {
    fn as_sql(self) -> &'static str {
        match self {
            DeliveryState::Fetched => "fetched",
            DeliveryState::Delivered => "delivered",
            DeliveryState::MovedToBin => "moved_to_bin",
            DeliveryState::Held => "held",
        }
    }

    fn parse(value: &str) -> Option<DeliveryState> {
        match value {
            "fetched" => Some(DeliveryState::Fetched),
            "delivered" => Some(DeliveryState::Delivered),
            "moved_to_bin" => Some(DeliveryState::MovedToBin),
            "held" => Some(DeliveryState::Held),
            _ => None,
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_sql())
    }
}

/// Facts about a message that the fetcher found while unsealing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageFlags {
    /// The message lists recipients, and none of them is the principal.
    pub not_addressed_to_us: bool,
    /// The sender's signature did not verify.
    pub bad_signature: bool,
    /// The sealed content was unsealed successfully.
    pub unsealed_ok: bool,
}

/// A message as fetched from an eHealthBox, without its bytes.
#[derive(Debug, Clone)]
pub struct FetchedMessage {
    pub principal: PrincipalId,
    pub message_id: String,
    pub kind: MessageKind,
    pub sender_id: Option<String>,
    pub sender_name: Option<String>,
    pub patient_insz: Option<String>,
    pub title: Option<String>,
    pub published_at: Option<Timestamp>,
    /// Bytes of the main document and every annex together.
    pub size_bytes: u64,
    pub annex_count: u32,
    pub flags: MessageFlags,
}

/// One file written to the share for a message part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// 1 for the main document, 2 and up for the annexes.
    pub part_index: u32,
    /// Path relative to the share root, with `/` separators.
    pub path: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub size_bytes: u64,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub principal: PrincipalId,
    pub message_id: String,
    pub kind: MessageKind,
    pub sender_id: Option<String>,
    pub sender_name: Option<String>,
    pub patient_insz: Option<String>,
    pub title: Option<String>,
    pub published_at: Option<Timestamp>,
    pub size_bytes: u64,
    pub annex_count: u32,
    pub state: DeliveryState,
    pub held_reason: Option<String>,
    pub retry_at: Option<Timestamp>,
    pub flags: MessageFlags,
    /// The last delivery error, kept after a later success for the record.
    pub error: Option<String>,
    /// Failed delivery attempts.
    pub attempts: u32,
    pub files: Vec<FileRecord>,
    pub fetched_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub moved_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// The result of handling a fetched message, for [`Store::record_outcomes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every part is durable on the share (no part for a message without a document).
    Delivered(Vec<FileRecord>),
    /// Not delivered: the message stays in the eHealthBox inbox.
    Held {
        reason: String,
        retry_at: Option<Timestamp>,
    },
}

/// A fetched message and the result of handling it.
#[derive(Debug, Clone)]
pub struct MessageOutcome {
    pub message: FetchedMessage,
    pub outcome: Outcome,
}

/// The outcome of [`Store::record_fetched`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The message is new.
    New,
    /// The message was recorded before and is now in this state.
    AlreadyKnown(DeliveryState),
}

const MESSAGE_COLUMNS: &str = "id, principal_id, message_id, kind, sender_id, sender_name, \
     patient_insz, title, published_at, size_bytes, annex_count, state, held_reason, retry_at, \
     not_addressed_to_us, bad_signature, unsealed_ok, error, attempts, fetched_at, delivered_at, \
     moved_at, updated_at";

/// A message record together with its row id.
struct StoredMessage {
    row_id: i64,
    record: MessageRecord,
}

impl Store {
    /// Records a fetched message. A message recorded before is left as it is.
    pub fn record_fetched(
        &mut self,
        message: &FetchedMessage,
        now: Timestamp,
    ) -> Result<Recorded, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded = record_fetched_in(&tx, message, now)?;
        tx.commit()?;
        Ok(recorded)
    }

    /// Records that every part of a message is durable on the share.
    ///
    /// Repeating the call with the same files changes nothing. Different files
    /// for a message already delivered are rejected, because that means a second
    /// copy on the share. An empty list records a message that has no document
    /// to write.
    pub fn mark_delivered(
        &mut self,
        principal: PrincipalId,
        message_id: &str,
        files: &[FileRecord],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        mark_delivered_in(&tx, principal, message_id, files, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Records that a delivered message was moved to the eHealthBox bin.
    pub fn mark_moved_to_bin(
        &mut self,
        principal: PrincipalId,
        message_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.mark_all_moved_to_bin(principal, &[message_id], now)
    }

    /// Records that several delivered messages were moved to the eHealthBox bin, in one
    /// transaction: either every one is recorded or, on an error, none.
    pub fn mark_all_moved_to_bin<S: AsRef<str>>(
        &mut self,
        principal: PrincipalId,
        message_ids: &[S],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for message_id in message_ids {
            mark_moved_in(&tx, principal, message_id.as_ref(), now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Holds an undelivered message: it stays in the eHealthBox inbox.
    ///
    /// With `retry_at`, [`Store::pending_delivery`] offers it again from that
    /// time on; without, it waits for a person. Each call counts one failed
    /// attempt and replaces the reason.
    pub fn hold(
        &mut self,
        principal: PrincipalId,
        message_id: &str,
        reason: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        hold_in(&tx, principal, message_id, reason, retry_at, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Records several fetched messages and the result of handling each, in one transaction.
    ///
    /// For each entry this is [`Store::record_fetched`] followed by [`Store::mark_delivered`] or
    /// [`Store::hold`], with the same rules and audit entries. One commit (one `fsync` of the
    /// log) covers them all, so the caller must have made every delivered file durable before
    /// the call. On an error nothing of the batch is recorded.
    pub fn record_outcomes(
        &mut self,
        outcomes: &[MessageOutcome],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for entry in outcomes {
            let message = &entry.message;
            record_fetched_in(&tx, message, now)?;
            match &entry.outcome {
                Outcome::Delivered(files) => {
                    mark_delivered_in(&tx, message.principal, &message.message_id, files, now)?;
                }
                Outcome::Held { reason, retry_at } => {
                    hold_in(
                        &tx,
                        message.principal,
                        &message.message_id,
                        reason,
                        *retry_at,
                        now,
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Reads one message.
    pub fn message(
        &self,
        principal: PrincipalId,
        message_id: &str,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let row = find(&self.conn, principal, message_id)?;
        Ok(row.map(|row| row.record))
    }

    /// Lists the messages to deliver now: every `fetched` one, and every `held`
    /// one whose `retry_at` has come. Oldest first.
    pub fn pending_delivery(&self, now: Timestamp) -> Result<Vec<MessageRecord>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE state = 'fetched' OR (state = 'held' AND retry_at IS NOT NULL AND retry_at <= ?1) \
             ORDER BY fetched_at, id"
        );
        self.query_messages(&sql, [to_sql(now)])
    }

    /// Lists the delivered messages to move to the bin: those of principals whose
    /// move-to-bin policy is on. Oldest first.
    pub fn pending_move(&self) -> Result<Vec<MessageRecord>, StoreError> {
        let columns = MESSAGE_COLUMNS
            .split(", ")
            .map(|column| format!("m.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM messages m JOIN principals p ON p.id = m.principal_id \
             WHERE m.state = 'delivered' AND p.move_to_bin = 1 \
             ORDER BY m.delivered_at, m.id"
        );
        self.query_messages(&sql, [])
    }

    /// Lists the MessageIds of `principal`'s messages in state `delivered` (not yet moved to the
    /// bin), oldest delivery first. Unlike [`Store::pending_move`], ignores the move-to-bin policy.
    pub fn delivered_message_ids(&self, principal: PrincipalId) -> Result<Vec<String>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT message_id FROM messages WHERE principal_id = ?1 AND state = 'delivered' \
             ORDER BY delivered_at, id",
        )?;
        let ids = statement
            .query_map([principal.0], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    fn query_messages(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let mut statement = self.conn.prepare(sql)?;
        let rows = statement
            .query_map(params, read_message_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|row| Ok(with_files(&self.conn, row)?.record))
            .collect()
    }
}

/// Makes the transition of [`Store::record_fetched`] inside the caller's transaction.
fn record_fetched_in(
    tx: &Transaction<'_>,
    message: &FetchedMessage,
    now: Timestamp,
) -> Result<Recorded, StoreError> {
    let principal_known = tx
        .prepare_cached("SELECT 1 FROM principals WHERE id = ?1")?
        .exists([message.principal.0])?;
    if !principal_known {
        return Err(StoreError::UnknownPrincipal(message.principal));
    }
    if let Some(existing) = find(tx, message.principal, &message.message_id)? {
        return Ok(Recorded::AlreadyKnown(existing.record.state));
    }

    insert(tx, message, now)?;
    let event = AuditEvent {
        actor: "fetcher",
        action: "message.fetched",
        principal: Some(message.principal),
        detail: json!({
            "message_id": message.message_id,
            "kind": message.kind.as_sql(),
            "sender_id": message.sender_id,
            "size_bytes": message.size_bytes,
        }),
    };
    audit::append_in(tx, &event, now)?;
    Ok(Recorded::New)
}

/// Makes the transition of [`Store::mark_delivered`] inside the caller's transaction.
fn mark_delivered_in(
    tx: &Transaction<'_>,
    principal: PrincipalId,
    message_id: &str,
    files: &[FileRecord],
    now: Timestamp,
) -> Result<(), StoreError> {
    let row = require(tx, principal, message_id)?;
    match row.record.state {
        DeliveryState::Fetched | DeliveryState::Held => {}
        DeliveryState::Delivered | DeliveryState::MovedToBin => {
            return check_same_files(&row.record, files);
        }
    }

    tx.prepare_cached(
        "UPDATE messages SET state = 'delivered', held_reason = NULL, retry_at = NULL, \
         delivered_at = ?1, updated_at = ?1 WHERE id = ?2",
    )?
    .execute(params![to_sql(now), row.row_id])?;
    insert_files(tx, row.row_id, files)?;

    let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
    let event = AuditEvent {
        actor: "delivery",
        action: "message.delivered",
        principal: Some(principal),
        detail: json!({ "message_id": message_id, "paths": paths }),
    };
    audit::append_in(tx, &event, now)?;
    Ok(())
}

/// Makes the transition of [`Store::mark_moved_to_bin`] inside the caller's transaction.
fn mark_moved_in(
    tx: &Transaction<'_>,
    principal: PrincipalId,
    message_id: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let row = require(tx, principal, message_id)?;
    match row.record.state {
        DeliveryState::Delivered => {}
        DeliveryState::MovedToBin => return Ok(()),
        from @ (DeliveryState::Fetched | DeliveryState::Held) => {
            return Err(invalid(
                principal,
                message_id,
                from,
                DeliveryState::MovedToBin,
            ));
        }
    }

    tx.prepare_cached(
        "UPDATE messages SET state = 'moved_to_bin', moved_at = ?1, updated_at = ?1 \
         WHERE id = ?2",
    )?
    .execute(params![to_sql(now), row.row_id])?;
    let event = AuditEvent {
        actor: "fetcher",
        action: "message.moved_to_bin",
        principal: Some(principal),
        detail: json!({ "message_id": message_id }),
    };
    audit::append_in(tx, &event, now)?;
    Ok(())
}

/// Makes the transition of [`Store::hold`] inside the caller's transaction.
fn hold_in(
    tx: &Transaction<'_>,
    principal: PrincipalId,
    message_id: &str,
    reason: &str,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let row = require(tx, principal, message_id)?;
    if let from @ (DeliveryState::Delivered | DeliveryState::MovedToBin) = row.record.state {
        return Err(invalid(principal, message_id, from, DeliveryState::Held));
    }

    tx.prepare_cached(
        "UPDATE messages SET state = 'held', held_reason = ?1, error = ?1, retry_at = ?2, \
         attempts = attempts + 1, updated_at = ?3 WHERE id = ?4",
    )?
    .execute(params![
        reason,
        retry_at.map(to_sql),
        to_sql(now),
        row.row_id
    ])?;
    let event = AuditEvent {
        actor: "delivery",
        action: "message.held",
        principal: Some(principal),
        detail: json!({
            "message_id": message_id,
            "reason": reason,
            "retry_at": retry_at.map(to_sql),
        }),
    };
    audit::append_in(tx, &event, now)?;
    Ok(())
}

fn insert(
    tx: &Transaction<'_>,
    message: &FetchedMessage,
    now: Timestamp,
) -> Result<(), StoreError> {
    let now = to_sql(now);
    tx.prepare_cached(
        "INSERT INTO messages (principal_id, message_id, kind, sender_id, sender_name, \
         patient_insz, title, published_at, size_bytes, annex_count, state, \
         not_addressed_to_us, bad_signature, unsealed_ok, fetched_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'fetched', ?11, ?12, ?13, ?14, ?14)",
    )?
    .execute(params![
        message.principal.0,
        message.message_id,
        message.kind.as_sql(),
        message.sender_id,
        message.sender_name,
        message.patient_insz,
        message.title,
        message.published_at.map(to_sql),
        sql_size(message.size_bytes),
        message.annex_count,
        message.flags.not_addressed_to_us,
        message.flags.bad_signature,
        message.flags.unsealed_ok,
        now,
    ])?;
    Ok(())
}

fn insert_files(tx: &Transaction<'_>, row_id: i64, files: &[FileRecord]) -> Result<(), StoreError> {
    let mut statement = tx.prepare_cached(
        "INSERT INTO delivered_files (message_row, part_index, path, sha256, size_bytes) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for file in files {
        statement.execute(params![
            row_id,
            file.part_index,
            file.path,
            file.sha256,
            sql_size(file.size_bytes)
        ])?;
    }
    Ok(())
}

/// Accepts a repeated `mark_delivered` only with the files recorded the first time.
fn check_same_files(record: &MessageRecord, files: &[FileRecord]) -> Result<(), StoreError> {
    let mut given = files.to_vec();
    given.sort_by_key(|file| file.part_index);
    if given == record.files {
        return Ok(());
    }
    Err(StoreError::DeliveredElsewhere {
        principal: record.principal,
        message_id: record.message_id.clone(),
        recorded: record.files.iter().map(|file| file.path.clone()).collect(),
        given: given.into_iter().map(|file| file.path).collect(),
    })
}

fn invalid(
    principal: PrincipalId,
    message_id: &str,
    from: DeliveryState,
    to: DeliveryState,
) -> StoreError {
    StoreError::InvalidTransition {
        principal,
        message_id: message_id.to_owned(),
        from,
        to,
    }
}

fn find(
    conn: &Connection,
    principal: PrincipalId,
    message_id: &str,
) -> Result<Option<StoredMessage>, StoreError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE principal_id = ?1 AND message_id = ?2"
    );
    let row = conn
        .prepare_cached(&sql)?
        .query_row(params![principal.0, message_id], read_message_row)
        .optional()?;
    row.map(|row| with_files(conn, row)).transpose()
}

fn require(
    conn: &Connection,
    principal: PrincipalId,
    message_id: &str,
) -> Result<StoredMessage, StoreError> {
    find(conn, principal, message_id)?.ok_or_else(|| StoreError::UnknownMessage {
        principal,
        message_id: message_id.to_owned(),
    })
}

fn with_files(conn: &Connection, mut row: StoredMessage) -> Result<StoredMessage, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT part_index, path, sha256, size_bytes FROM delivered_files \
         WHERE message_row = ?1 ORDER BY part_index",
    )?;
    let files = statement.query_map([row.row_id], |file| {
        Ok(FileRecord {
            part_index: file.get(0)?,
            path: file.get(1)?,
            sha256: file.get(2)?,
            size_bytes: get_size(file, 3)?,
        })
    })?;
    row.record.files = files.collect::<Result<_, _>>()?;
    Ok(row)
}

fn read_message_row(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let record = MessageRecord {
        principal: PrincipalId(row.get(1)?),
        message_id: row.get(2)?,
        kind: parse_column(row, 3, MessageKind::parse)?,
        sender_id: row.get(4)?,
        sender_name: row.get(5)?,
        patient_insz: row.get(6)?,
        title: row.get(7)?,
        published_at: time::get_opt(row, 8)?,
        size_bytes: get_size(row, 9)?,
        annex_count: row.get(10)?,
        state: parse_column(row, 11, DeliveryState::parse)?,
        held_reason: row.get(12)?,
        retry_at: time::get_opt(row, 13)?,
        flags: MessageFlags {
            not_addressed_to_us: row.get(14)?,
            bad_signature: row.get(15)?,
            unsealed_ok: row.get(16)?,
        },
        error: row.get(17)?,
        attempts: row.get(18)?,
        files: Vec::new(),
        fetched_at: time::get(row, 19)?,
        delivered_at: time::get_opt(row, 20)?,
        moved_at: time::get_opt(row, 21)?,
        updated_at: time::get(row, 22)?,
    };
    Ok(StoredMessage {
        row_id: row.get(0)?,
        record,
    })
}

/// Reads a text column through `parse`, failing on a value the schema's CHECK should exclude.
fn parse_column<T>(
    row: &Row<'_>,
    index: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| {
        let reason = format!("unexpected value {text:?}");
        FromSqlConversionFailure(index, Type::Text, reason.into())
    })
}

/// Converts a byte count for SQLite, whose integers are signed 64-bit.
fn sql_size(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn get_size(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    let size: i64 = row.get(index)?;
    u64::try_from(size).map_err(|err| FromSqlConversionFailure(index, Type::Integer, err.into()))
}
