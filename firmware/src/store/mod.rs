//! The SQLite store: principals, mandates, messages, fetch runs and the audit log.
//!
//! The store owns the durable state that decides whether a message may leave the
//! eHealthBox inbox. It does not hold message bytes: until a message is marked
//! delivered, the eHealthBox itself is the buffer, and after a crash the fetcher
//! gets the message again by its MessageId.
//!
//! # Message life cycle
//!
//! Every message is keyed by (principal, MessageId) and moves through
//! `fetched -> delivered -> moved_to_bin`, or to `held` with a reason when it
//! cannot be delivered. Each transition commits in its own transaction, or together
//! with other messages' transitions through the batch methods. Repeating a
//! transition that already happened is a no-op, so the fetcher can replay every
//! step after a power cut. A message is only allowed into `moved_to_bin` from
//! `delivered`, so the store itself refuses to let undelivered mail leave the
//! inbox.
//!
//! # Durability
//!
//! [`Store::open`] sets WAL mode, `synchronous=FULL` (a committed transaction
//! survives a power cut), foreign keys and a busy timeout, then applies the
//! numbered, forward-only migrations recorded in the `schema_version` table.
//!
//! # Concurrency
//!
//! There is one writer: a single [`Store`] owns the one read-write connection.
//! Its methods are synchronous and block on disk I/O (each commit fsyncs). To
//! share it, wrap it in a [`StoreHandle`], a cheap clonable `Arc<Mutex<Store>>`.
//! From tokio, run the call on the blocking pool:
//!
//! ```ignore
//! let handle = store_handle.clone();
//! tokio::task::spawn_blocking(move || handle.with(|store| store.pending_move())).await??;
//! ```
//!
//! Other processes (the `status` command, for instance) may open the same file
//! to read: WAL lets readers run beside the writer, and the busy timeout covers
//! the short checkpoint locks.
//!
//! # Time
//!
//! Every method that stamps a row takes `now` from the caller's clock. Stored
//! timestamps are UTC text of fixed width (`2024-03-15T09:30:00.000Z`), so SQL
//! comparisons on them are chronological.

mod audit;
mod messages;
mod migrations;
mod principals;
mod runs;
mod time;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

pub use audit::{AuditEntry, AuditEvent, AuditVerification};
pub use messages::{
    DeliveryState, FetchedMessage, FileRecord, MessageFlags, MessageKind, MessageOutcome,
    MessageRecord, Outcome, Recorded,
};
pub use migrations::SCHEMA_VERSION;
pub use principals::{
    Mandate, MandateEvidence, MandateId, NewMandate, NewPrincipal, Principal, PrincipalId, Role,
    validate_insz,
};
pub use runs::{FetchRun, RunCounts, RunId, RunOutcome};

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the store at {path}: {source}; check that the folder exists and is writable"
    )]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the store at {path} has schema version {found}, newer than version {supported} of this \
         build; install a PracticeBox release that knows this schema"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("migration to schema version {version} failed: {source}")]
    Migration {
        version: u32,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("invalid INSZ {value:?}: {reason}")]
    InvalidInsz { value: String, reason: &'static str },
    #[error("invalid RIZIV number {value:?}: expected 11 digits, such as 12345678001")]
    InvalidRiziv { value: String },
    #[error("principal {0} not found")]
    UnknownPrincipal(PrincipalId),
    #[error("a main principal already exists (principal {existing}); a box has one main doctor")]
    MainPrincipalExists { existing: PrincipalId },
    #[error("mandate {0} not found")]
    UnknownMandate(MandateId),
    #[error("invalid mandate period: end {end} is not after start {start}")]
    InvalidMandatePeriod { start: String, end: String },
    #[error("principal {principal} has role {role}, but a mandate needs {expected} here")]
    WrongRole {
        principal: PrincipalId,
        role: Role,
        expected: Role,
    },
    #[error(
        "message {message_id:?} of principal {principal} not found; record it as fetched first"
    )]
    UnknownMessage {
        principal: PrincipalId,
        message_id: String,
    },
    #[error("message {message_id:?} of principal {principal} is {from} and cannot become {to}")]
    InvalidTransition {
        principal: PrincipalId,
        message_id: String,
        from: DeliveryState,
        to: DeliveryState,
    },
    #[error(
        "message {message_id:?} of principal {principal} is already delivered as {recorded:?}, \
         not as {given:?}; check the share for a second copy"
    )]
    DeliveredElsewhere {
        principal: PrincipalId,
        message_id: String,
        recorded: Vec<String>,
        given: Vec<String>,
    },
    #[error("fetch run {0} not found")]
    UnknownRun(RunId),
    #[error("stored value {value:?} in column {column} is invalid: {reason}")]
    CorruptValue {
        column: &'static str,
        value: String,
        reason: String,
    },
}

/// The store: one read-write SQLite connection.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it to [`SCHEMA_VERSION`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        configure(&conn).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;

        migrations::migrate(&mut conn, path, SCHEMA_VERSION)?;
        tracing::info!(path = %path.display(), version = SCHEMA_VERSION, "store opened");
        Ok(Store {
            conn,
            path: path.to_owned(),
        })
    }

    /// Returns the path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        migrations::current_version(&self.conn)
    }

    /// Wraps the store in a clonable handle for use from several tasks.
    pub fn into_handle(self) -> StoreHandle {
        StoreHandle(Arc::new(Mutex::new(self)))
    }
}

/// Applies the per-connection settings: WAL, full sync, foreign keys, busy timeout.
fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // An in-memory database reports "memory". A file always accepts WAL.
        tracing::warn!(mode, "store is not in WAL mode");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(())
}

/// A cheap clonable handle to the one [`Store`].
///
/// Calls are serialised by a mutex. Each store method commits or rolls back its
/// own transaction before returning, so a panic inside [`StoreHandle::with`] leaves
/// no half-written state, and the handle keeps working after one.
#[derive(Debug, Clone)]
pub struct StoreHandle(Arc<Mutex<Store>>);

impl StoreHandle {
    /// Runs `f` with exclusive access to the store. Blocks: call it from
    /// `spawn_blocking` inside tokio.
    pub fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let mut store = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut store)
    }
}
