//! The consumer of status events: keeps the [`StatusSnapshot`] up to date, logs each change,
//! publishes the snapshot on a watch channel and writes it atomically to a JSON file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::StatusEvent;
use super::snapshot::{Led, StatusSnapshot};
use crate::delivery::atomic;
use crate::ehealth::clock::Clock;
use crate::scheduler::shutdown::Shutdown;

/// How often the LED is derived again without an event (a box becomes overdue by itself).
pub const REFRESH_EVERY: Duration = Duration::from_secs(60);

/// Errors of reading and writing the status file.
#[derive(Debug, thiserror::Error)]
pub enum StatusFileError {
    #[error(
        "cannot read the status file {path}: {source}; check that `practicebox run` runs with \
         the same configuration"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the status file {path} is not a status snapshot: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write the status file {path}: {detail}")]
    Write { path: PathBuf, detail: String },
}

/// The outputs of the consumer task.
#[derive(Debug)]
pub struct StatusOutputs {
    /// The JSON file rewritten on every change, if any.
    pub file: Option<PathBuf>,
    /// Receives every new snapshot.
    pub publish: watch::Sender<StatusSnapshot>,
}

/// Folds events into the snapshot until `shutdown` turns on or the channel closes.
pub async fn run(
    mut events: broadcast::Receiver<StatusEvent>,
    mut snapshot: StatusSnapshot,
    clock: Arc<dyn Clock>,
    outputs: StatusOutputs,
    shutdown: Shutdown,
) {
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    publish(&snapshot, &outputs);
    loop {
        let before = snapshot.clone();
        tokio::select! {
            biased;
            () = shutdown.triggered() => break,
            received = events.recv() => match received {
                Ok(event) => {
                    log_event(&event, &before);
                    snapshot.apply(&event, clock.now());
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "status consumer fell behind; some events were skipped");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = refresh.tick() => snapshot.refresh(clock.now()),
        }
        log_derived_changes(&before, &snapshot);
        if snapshot_changed(&before, &snapshot) {
            publish(&snapshot, &outputs);
        }
    }
    tracing::info!("status consumer stopped");
}

/// Tells whether anything but the update time changed.
fn snapshot_changed(before: &StatusSnapshot, after: &StatusSnapshot) -> bool {
    before.principals != after.principals
        || before.led != after.led
        || before.unreachable_since != after.unreachable_since
        || before.shares_problem != after.shares_problem
}

fn publish(snapshot: &StatusSnapshot, outputs: &StatusOutputs) {
    outputs.publish.send_replace(snapshot.clone());
    if let Some(path) = &outputs.file
        && let Err(error) = write_snapshot(path, snapshot)
    {
        tracing::error!(%error, "cannot write the status file");
    }
}

fn log_event(event: &StatusEvent, before: &StatusSnapshot) {
    let Some(principal) = event.principal() else {
        log_box_event(event, before);
        return;
    };
    let previous = before
        .principals
        .iter()
        .find(|status| status.principal == principal);
    match event {
        StatusEvent::PrincipalAdded {
            name,
            interval_secs,
            ..
        } => {
            tracing::info!(%principal, name, interval_secs, "fetching of a principal started");
        }
        StatusEvent::PrincipalRemoved { .. } => {
            tracing::info!(%principal, "fetching of a principal stopped");
        }
        StatusEvent::Fetching { .. } => tracing::debug!(%principal, "fetching"),
        StatusEvent::Ok {
            new,
            delivered,
            held,
            ..
        } => {
            if previous.is_some_and(|status| status.problem.is_some()) {
                tracing::info!(%principal, "principal fetched again; problem cleared");
            }
            tracing::info!(%principal, new, delivered, held, "principal fetched");
        }
        StatusEvent::Error {
            reason,
            kind,
            since,
            ..
        } => {
            let same = previous
                .and_then(|status| status.problem.as_ref())
                .is_some_and(|problem| problem.reason == *reason);
            if same {
                tracing::debug!(%principal, reason, "principal still failing");
            } else {
                tracing::warn!(%principal, ?kind, %since, reason, "principal cannot be fetched");
            }
        }
        StatusEvent::AttentionSoon { what, date, .. } => {
            tracing::info!(%principal, ?what, %date, "attention needed soon");
        }
        StatusEvent::SharesProblem { .. } | StatusEvent::SharesOk => {}
    }
}

/// Logs the events about the whole box rather than one principal.
fn log_box_event(event: &StatusEvent, before: &StatusSnapshot) {
    match event {
        StatusEvent::SharesProblem { reason, since } => {
            let same = before
                .shares_problem
                .as_ref()
                .is_some_and(|problem| problem.reason == *reason);
            if same {
                tracing::debug!(reason, "Samba shares still lagging");
            } else {
                tracing::warn!(%since, reason, "Samba shares lag behind the principals");
            }
        }
        StatusEvent::SharesOk if before.shares_problem.is_some() => {
            tracing::info!("Samba shares match the principals again; problem cleared");
        }
        _ => {}
    }
}

fn log_derived_changes(before: &StatusSnapshot, after: &StatusSnapshot) {
    if before.led != after.led {
        tracing::info!(from = ?before.led, to = ?after.led, "LED state changed");
    }
    match (before.unreachable_since, after.unreachable_since) {
        (None, Some(since)) => tracing::error!(%since, "eHealth platform unreachable"),
        (Some(_), None) => tracing::info!("eHealth platform reachable again"),
        _ => {}
    }
    if after.led == Led::Red && before.led != Led::Red {
        tracing::warn!("a box cannot be fetched");
    }
}

/// Writes the snapshot as JSON, atomically: readers see the old or the new file, never a mix.
pub fn write_snapshot(path: &Path, snapshot: &StatusSnapshot) -> Result<(), StatusFileError> {
    let write_error = |detail: String| StatusFileError::Write {
        path: path.to_owned(),
        detail,
    };
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| write_error("the path has no file name".to_owned()))?;
    let mut json = serde_json::to_vec_pretty(snapshot).map_err(|e| write_error(e.to_string()))?;
    json.push(b'\n');
    atomic::stage(dir, &json)
        .and_then(|staged| staged.replace(name))
        .map_err(|error| write_error(error.to_string()))
}

/// Reads a snapshot written by [`write_snapshot`].
pub fn read_snapshot(path: &Path) -> Result<StatusSnapshot, StatusFileError> {
    let bytes = std::fs::read(path).map_err(|source| StatusFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| StatusFileError::Parse {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ehealth::clock::ManualClock;
    use crate::scheduler::shutdown::ShutdownTrigger;
    use crate::status::StatusSender;
    use crate::store::PrincipalId;
    use jiff::tz::TimeZone;

    #[tokio::test]
    async fn consumer_writes_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("status.json");
        let now: jiff::Timestamp = "2026-03-10T08:00:00Z".parse().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
        let sender = StatusSender::new();
        let (publish, mut published) = watch::channel(StatusSnapshot::new(&TimeZone::UTC, now));
        let trigger = ShutdownTrigger::new();
        let outputs = StatusOutputs {
            file: Some(file.clone()),
            publish,
        };
        let task = tokio::spawn(run(
            sender.subscribe(),
            StatusSnapshot::new(&TimeZone::UTC, now),
            clock,
            outputs,
            trigger.signal(),
        ));

        sender.send(StatusEvent::PrincipalAdded {
            principal: PrincipalId(1),
            name: "Dr Lotte Vermeiren".to_owned(),
            interval_secs: 300,
        });
        sender.send(StatusEvent::Ok {
            principal: PrincipalId(1),
            new: 4,
            delivered: 4,
            held: 0,
            at: now,
        });
        published
            .wait_for(|snapshot| snapshot.led == Led::Green)
            .await
            .unwrap();

        let written = read_snapshot(&file).unwrap();
        assert_eq!(written.led, Led::Green);
        assert_eq!(written.principals[0].new_today, 4);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["status.json"]);

        trigger.trigger();
        task.await.unwrap();
    }

    #[test]
    fn read_snapshot_names_a_missing_file() {
        let error = read_snapshot(Path::new("/nonexistent/status.json")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/status.json"));
    }
}
