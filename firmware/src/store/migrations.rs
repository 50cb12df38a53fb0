//! Numbered, forward-only schema migrations.
//!
//! Migration `n` (1-based) is `MIGRATIONS[n - 1]`. Each runs in its own
//! transaction together with the insert of its number into `schema_version`, so
//! a crash leaves the file at the previous version or the next, never between.
//! Published migrations are never edited: a change to the schema is a new entry.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Version 1: the doctors whose box is fetched, and the mandates that allow it.
const V1_PRINCIPALS_AND_MANDATES: &str = "
CREATE TABLE principals (
    id            INTEGER PRIMARY KEY,
    insz          TEXT NOT NULL UNIQUE CHECK (length(insz) = 11 AND insz NOT GLOB '*[^0-9]*'),
    family_name   TEXT NOT NULL,
    given_names   TEXT NOT NULL,
    riziv         TEXT NOT NULL CHECK (length(riziv) = 11 AND riziv NOT GLOB '*[^0-9]*'),
    role          TEXT NOT NULL CHECK (role IN ('main', 'mandator')),
    share_folder  TEXT NOT NULL UNIQUE,
    move_to_bin   INTEGER NOT NULL DEFAULT 1 CHECK (move_to_bin IN (0, 1)),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX principals_one_main ON principals (role) WHERE role = 'main';

CREATE TABLE mandates (
    id                      INTEGER PRIMARY KEY,
    mandator_id             INTEGER NOT NULL REFERENCES principals (id),
    grantee_id              INTEGER NOT NULL REFERENCES principals (id),
    starts_at               TEXT NOT NULL,
    ends_at                 TEXT NOT NULL,
    revoked_at              TEXT,
    revoked_by              TEXT,
    signed_bytes            BLOB,
    signature               BLOB,
    signing_cert            BLOB,
    identity_file           BLOB,
    identity_rrn_signature  BLOB,
    cert_fingerprint        TEXT,
    created_at              TEXT NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX mandates_by_mandator ON mandates (mandator_id);
";

/// Version 2: messages, their delivered files, and fetch runs.
const V2_MESSAGES_AND_RUNS: &str = "
CREATE TABLE messages (
    id                   INTEGER PRIMARY KEY,
    principal_id         INTEGER NOT NULL REFERENCES principals (id),
    message_id           TEXT NOT NULL,
    kind                 TEXT NOT NULL
                         CHECK (kind IN ('document', 'news', 'acknowledgment', 'error')),
    sender_id            TEXT,
    sender_name          TEXT,
    patient_insz         TEXT,
    title                TEXT,
    published_at         TEXT,
    size_bytes           INTEGER NOT NULL CHECK (size_bytes >= 0),
    annex_count          INTEGER NOT NULL CHECK (annex_count >= 0),
    state                TEXT NOT NULL
                         CHECK (state IN ('fetched', 'delivered', 'moved_to_bin', 'held')),
    held_reason          TEXT,
    retry_at             TEXT,
    not_addressed_to_us  INTEGER NOT NULL DEFAULT 0 CHECK (not_addressed_to_us IN (0, 1)),
    bad_signature        INTEGER NOT NULL DEFAULT 0 CHECK (bad_signature IN (0, 1)),
    unsealed_ok          INTEGER NOT NULL DEFAULT 0 CHECK (unsealed_ok IN (0, 1)),
    error                TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    fetched_at           TEXT NOT NULL,
    delivered_at         TEXT,
    moved_at             TEXT,
    updated_at           TEXT NOT NULL,
    UNIQUE (principal_id, message_id),
    CHECK ((state = 'held') = (held_reason IS NOT NULL))
);
CREATE INDEX messages_by_state ON messages (state);

CREATE TABLE delivered_files (
    message_row  INTEGER NOT NULL REFERENCES messages (id),
    part_index   INTEGER NOT NULL CHECK (part_index >= 1),
    path         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    PRIMARY KEY (message_row, part_index)
);

CREATE TABLE fetch_runs (
    id                  INTEGER PRIMARY KEY,
    principal_id        INTEGER NOT NULL REFERENCES principals (id),
    started_at          TEXT NOT NULL,
    finished_at         TEXT,
    outcome             TEXT NOT NULL
                        CHECK (outcome IN ('running', 'ok', 'partial', 'failed', 'interrupted')),
    messages_listed     INTEGER NOT NULL DEFAULT 0,
    messages_new        INTEGER NOT NULL DEFAULT 0,
    messages_delivered  INTEGER NOT NULL DEFAULT 0,
    messages_held       INTEGER NOT NULL DEFAULT 0,
    error               TEXT
);
CREATE INDEX fetch_runs_by_principal ON fetch_runs (principal_id, started_at);
";

/// Version 3: the append-only, hash-chained audit log.
const V3_AUDIT_LOG: &str = "
CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    principal_id  INTEGER REFERENCES principals (id),
    detail        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE rejected');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE rejected');
END;
";

/// Version 4: the names and RIZIV numbers a principal had before a change, each with the end of
/// its period, so that a mandate signed under earlier details still verifies.
const V4_PRINCIPAL_HISTORY: &str = "
CREATE TABLE principal_history (
    id            INTEGER PRIMARY KEY,
    principal_id  INTEGER NOT NULL REFERENCES principals (id),
    family_name   TEXT NOT NULL,
    given_names   TEXT NOT NULL,
    riziv         TEXT NOT NULL,
    valid_until   TEXT NOT NULL
);
CREATE INDEX principal_history_by_principal ON principal_history (principal_id, valid_until);
";

const MIGRATIONS: &[&str] = &[
    V1_PRINCIPALS_AND_MANDATES,
    V2_MESSAGES_AND_RUNS,
    V3_AUDIT_LOG,
    V4_PRINCIPAL_HISTORY,
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the file up to `target`, applying each missing migration in order.
pub(crate) fn migrate(conn: &mut Connection, path: &Path, target: u32) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")?;

    let found = current_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }

    for version in (found + 1)..=target {
        apply(conn, version)?;
        tracing::info!(version, "store schema migrated");
    }
    Ok(())
}

/// Applies migration `version` and records it, in one transaction.
fn apply(conn: &mut Connection, version: u32) -> Result<(), StoreError> {
    let wrap = |source| StoreError::Migration { version, source };
    let sql = MIGRATIONS[(version - 1) as usize];

    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(wrap)?;
    tx.execute_batch(sql).map_err(wrap)?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [version],
    )
    .map_err(wrap)?;
    tx.commit().map_err(wrap)
}

/// Reads the highest applied migration, 0 for an empty file.
pub(crate) fn current_version(conn: &Connection) -> Result<u32, StoreError> {
    let version: Option<u32> =
        conn.query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get(0)
        })?;
    Ok(version.unwrap_or(0))
}
