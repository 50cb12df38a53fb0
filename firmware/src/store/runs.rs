//! Fetch runs: one row per pass over a principal's eHealthBox.

use std::fmt;

use jiff::Timestamp;
use rusqlite::Error::FromSqlConversionFailure;
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row, params};

use super::principals::PrincipalId;
use super::time::{self, to_sql};
use super::{Store, StoreError};

/// Row id of a fetch run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The outcome of a fetch run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Still going, or the process stopped before finishing it.
    Running,
    /// Every message listed was handled.
    Ok,
    /// Some messages were held or failed.
    Partial,
    /// The box could not be fetched (network, token, platform error).
    Failed,
    /// Found still running when the service started again.
    Interrupted,
}

impl RunOutcome {
    fn as_sql(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Ok => "ok",
            RunOutcome::Partial => "partial",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
        }
    }

    fn parse(value: &str) -> Option<RunOutcome> {
        match value {
            "running" => Some(RunOutcome::Running),
            "ok" => Some(RunOutcome::Ok),
            "partial" => Some(RunOutcome::Partial),
            "failed" => Some(RunOutcome::Failed),
            "interrupted" => Some(RunOutcome::Interrupted),
            _ => None,
        }
    }
}

/// Message counts of a fetch run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub listed: u32,
    pub new: u32,
    pub delivered: u32,
    pub held: u32,
}

/// A stored fetch run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRun {
    pub id: RunId,
    pub principal: PrincipalId,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub outcome: RunOutcome,
    pub counts: RunCounts,
    pub error: Option<String>,
}

const RUN_COLUMNS: &str = "id, principal_id, started_at, finished_at, outcome, messages_listed, \
     messages_new, messages_delivered, messages_held, error";

impl Store {
    /// Starts a fetch run for `principal`.
    pub fn start_run(
        &mut self,
        principal: PrincipalId,
        now: Timestamp,
    ) -> Result<RunId, StoreError> {
        self.principal(principal)?;
        self.conn.execute(
            "INSERT INTO fetch_runs (principal_id, started_at, outcome) VALUES (?1, ?2, 'running')",
            params![principal.0, to_sql(now)],
        )?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// Finishes a fetch run with its outcome, counts and error text.
    pub fn finish_run(
        &mut self,
        run: RunId,
        outcome: RunOutcome,
        counts: RunCounts,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "UPDATE fetch_runs SET finished_at = ?1, outcome = ?2, messages_listed = ?3, \
             messages_new = ?4, messages_delivered = ?5, messages_held = ?6, error = ?7 \
             WHERE id = ?8",
            params![
                to_sql(now),
                outcome.as_sql(),
                counts.listed,
                counts.new,
                counts.delivered,
                counts.held,
                error,
                run.0
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::UnknownRun(run));
        }
        Ok(())
    }

    /// Marks the runs still `running` as `interrupted`; call once at start-up.
    /// Returns how many there were.
    pub fn close_interrupted_runs(&mut self, now: Timestamp) -> Result<usize, StoreError> {
        let closed = self.conn.execute(
            "UPDATE fetch_runs SET outcome = 'interrupted', finished_at = ?1 \
             WHERE outcome = 'running'",
            [to_sql(now)],
        )?;
        Ok(closed)
    }

    /// Returns the newest run of `principal`.
    pub fn last_run(&self, principal: PrincipalId) -> Result<Option<FetchRun>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM fetch_runs WHERE principal_id = ?1 \
             ORDER BY started_at DESC, id DESC LIMIT 1"
        );
        let run = self
            .conn
            .query_row(&sql, [principal.0], read_run_row)
            .optional()?;
        Ok(run)
    }
}

fn read_run_row(row: &Row<'_>) -> rusqlite::Result<FetchRun> {
    let outcome: String = row.get(4)?;
    let outcome = RunOutcome::parse(&outcome).ok_or_else(|| {
        let reason = format!("unexpected outcome {outcome:?}");
        FromSqlConversionFailure(4, Type::Text, reason.into())
    })?;

    Ok(FetchRun {
        id: RunId(row.get(0)?),
        principal: PrincipalId(row.get(1)?),
        started_at: time::get(row, 2)?,
        finished_at: time::get_opt(row, 3)?,
        outcome,
        counts: RunCounts {
            listed: row.get(5)?,
            new: row.get(6)?,
            delivered: row.get(7)?,
            held: row.get(8)?,
        },
        error: row.get(9)?,
    })
}
