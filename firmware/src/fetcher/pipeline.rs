//! The delivery pipeline of one fetch run: downloads ahead of delivery, outcomes recorded in
//! batches.
//!
//! Two futures of the run's task work side by side. The downloader calls `getFullMessage` for
//! one message at a time, oldest first, and hands each reply over a channel that buffers at most
//! [`PREFETCH`] of them. The deliverer takes them in order, unseals each, writes its files to the
//! share (each file fsynced and renamed into place) and adds its outcome to the open batch. So
//! the platform's latency overlaps with the local work, while the principal still has at most
//! one call in flight.
//!
//! A batch is committed (`Run::commit`) when it contains [`BATCH_MAX`] messages, when its first
//! message has waited [`BATCH_MAX_AGE`], when the downloads end, and before the run returns an
//! error. The commit first fsyncs every folder that received a file in the
//! batch, then records every outcome of the batch in one store transaction. A row therefore says
//! `delivered` only after the files it lists are durable under their final names.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::open::{self, OpenedMessage};
use super::{FetchError, Run, RunReport, log_notice};
use crate::delivery::{DeliveryError, Outgoing, Part, UnsyncedFolders};
use crate::ehealth::ehbox::{EhboxClient, FullMessage, MessageSummary};
use crate::ehealth::errors::EhealthError;
use crate::ehealth::keystore::EhealthKeystore;
use crate::ehealth::transport::SoapTransport;
use crate::store::{FetchedMessage, FileRecord, MessageKind, MessageOutcome, Outcome};

/// How many downloaded messages may wait for delivery, per principal. With the one being
/// downloaded and the one being delivered, a run keeps at most `PREFETCH + 2` messages in memory.
pub const PREFETCH: usize = 2;

/// The maximum number of messages that one store commit records.
pub const BATCH_MAX: usize = 32;

/// How long the first message of a batch may wait for its commit. The commit starts when the
/// message handled or awaited at that moment is done, so the wait can exceed this by the
/// handling of one message.
pub const BATCH_MAX_AGE: Duration = Duration::from_millis(250);

/// A listed message to deliver.
#[derive(Debug, Clone, Copy)]
pub(super) struct Queued<'a> {
    pub summary: &'a MessageSummary,
    /// Not in the store before this run.
    pub new: bool,
}

/// A downloaded message, or the error of its download.
struct Downloaded<'a> {
    queued: Queued<'a>,
    reply: Result<FullMessage, EhealthError>,
}

/// The outcomes handled since the last commit, and the folders their files went to.
#[derive(Debug, Default)]
struct Batch {
    entries: Vec<(MessageOutcome, bool)>,
    folders: UnsyncedFolders,
    /// When the first entry was added.
    opened: Option<Instant>,
}

impl Batch {
    fn push(&mut self, outcome: MessageOutcome, new: bool) {
        self.opened.get_or_insert_with(Instant::now);
        self.entries.push((outcome, new));
    }

    fn deadline(&self) -> Option<Instant> {
        self.opened.map(|opened| opened + BATCH_MAX_AGE)
    }

    /// Tells whether the batch is full or old enough to be committed.
    fn is_due(&self) -> bool {
        self.entries.len() >= BATCH_MAX
            || self
                .deadline()
                .is_some_and(|deadline| deadline <= Instant::now())
    }
}

/// The end of a queue's delivery.
enum Ended {
    /// Every downloaded message was handled.
    Done,
    /// The share failed: the run stops delivering.
    ShareFailed(DeliveryError),
    /// A download failed in a way that ends the run.
    Platform(EhealthError),
}

impl<T: SoapTransport> Run<'_, T> {
    /// Downloads and delivers `queue` in order. Returns the share error that stopped delivery,
    /// if one did.
    pub(super) async fn deliver_queue<U: SoapTransport>(
        &self,
        client: &EhboxClient<'_, U>,
        keystore: &Arc<EhealthKeystore>,
        queue: &[Queued<'_>],
        report: &mut RunReport,
    ) -> Result<Option<DeliveryError>, FetchError> {
        let (sender, receiver) = mpsc::channel(PREFETCH);
        let mut download = pin!(self.download(client, queue, sender));
        let mut deliver = pin!(self.deliver_downloaded(keystore, receiver, queue.len(), report));
        let mut downloading = true;
        // The deliverer ends after the last download, or earlier on a stop or a failure; a
        // download still under way then is dropped.
        let ended = loop {
            tokio::select! {
                () = &mut download, if downloading => downloading = false,
                ended = &mut deliver => break ended?,
            }
        };
        match ended {
            Ended::Done => Ok(None),
            Ended::ShareFailed(error) => Ok(Some(error)),
            Ended::Platform(error) => Err(error.into()),
        }
    }

    /// Calls `getFullMessage` for each queued message in turn, until the queue is done, a stop
    /// is requested, a download fails for good or the deliverer stops listening.
    async fn download<'q, U: SoapTransport>(
        &self,
        client: &EhboxClient<'_, U>,
        queue: &[Queued<'q>],
        sender: mpsc::Sender<Downloaded<'q>>,
    ) {
        for queued in queue {
            if self.stop.is_triggered() {
                return;
            }
            let reply = client.get_full_message(&queued.summary.message_id).await;
            let fatal = matches!(&reply, Err(error) if !is_message_fault(error));
            let downloaded = Downloaded {
                queued: *queued,
                reply,
            };
            if sender.send(downloaded).await.is_err() || fatal {
                return;
            }
        }
    }

    /// Delivers the downloaded messages in order and commits them in batches. Sets
    /// `report.stopped` when a stop request ends delivery before the `queued` messages are done.
    async fn deliver_downloaded(
        &self,
        keystore: &Arc<EhealthKeystore>,
        mut receiver: mpsc::Receiver<Downloaded<'_>>,
        queued: usize,
        report: &mut RunReport,
    ) -> Result<Ended, FetchError> {
        let mut batch = Batch::default();
        let mut handled = 0;
        loop {
            let next = match batch.deadline() {
                None => receiver.recv().await,
                Some(deadline) => match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(next) => next,
                    Err(_elapsed) => {
                        if let Some(error) = self.commit(&mut batch, report).await? {
                            return Ok(Ended::ShareFailed(error));
                        }
                        continue;
                    }
                },
            };
            let Some(downloaded) = next else { break };
            if self.stop.is_triggered() {
                break;
            }
            handled += 1;

            let failure = match self.handle(keystore, downloaded, &mut batch).await {
                Ok(failure) => failure,
                Err(error) => {
                    // Outcomes handled before the error are still true: keep them.
                    self.commit(&mut batch, report).await?;
                    return Err(error);
                }
            };
            if let Some(ended) = failure {
                let share_error = self.commit(&mut batch, report).await?;
                return Ok(share_error.map_or(ended, Ended::ShareFailed));
            }
            if batch.is_due()
                && let Some(error) = self.commit(&mut batch, report).await?
            {
                return Ok(Ended::ShareFailed(error));
            }
        }
        report.stopped = handled < queued && self.stop.is_triggered();
        Ok(match self.commit(&mut batch, report).await? {
            Some(error) => Ended::ShareFailed(error),
            None => Ended::Done,
        })
    }

    /// Unseals and delivers one downloaded message and adds its outcome to `batch`. Returns how
    /// the run ends when this message ends it.
    async fn handle(
        &self,
        keystore: &Arc<EhealthKeystore>,
        downloaded: Downloaded<'_>,
        batch: &mut Batch,
    ) -> Result<Option<Ended>, FetchError> {
        let Downloaded { queued, reply } = downloaded;
        let summary = queued.summary;
        let full = match reply {
            Ok(full) => full,
            Err(error) if is_message_fault(&error) => {
                let retry_at = self.later(self.ctx.options.download_retry_after);
                let reason = format!("cannot download the message: {error}");
                let outcome = self.held(self.summary_facts(summary), reason, Some(retry_at));
                batch.push(outcome, queued.new);
                return Ok(None);
            }
            Err(error) => return Ok(Some(Ended::Platform(error))),
        };

        let (full, opened) = self.open(keystore, full).await?;
        let fetched = self.fetched_message(summary, &full, &opened);
        if let Some(problem) = &opened.problem {
            self.keep_raw(&full).await;
            let retry_at = problem
                .retry
                .then(|| self.later(self.ctx.options.download_retry_after));
            let outcome = self.held(fetched, problem.reason.clone(), retry_at);
            batch.push(outcome, queued.new);
            return Ok(None);
        }
        if fetched.kind != MessageKind::Document {
            log_notice(self.principal.id, &full);
            let outcome = MessageOutcome {
                message: fetched,
                outcome: Outcome::Delivered(Vec::new()),
            };
            batch.push(outcome, queued.new);
            return Ok(None);
        }

        let (result, mut folders) = self.deliver(summary, &full, opened).await?;
        batch.folders.append(&mut folders);
        match result {
            Ok(files) => {
                let outcome = MessageOutcome {
                    message: fetched,
                    outcome: Outcome::Delivered(files),
                };
                batch.push(outcome, queued.new);
                Ok(None)
            }
            Err(error) if error.is_retryable() => {
                let retry_at = self.later(self.ctx.options.share_retry_after);
                let outcome = self.held(fetched, error.to_string(), Some(retry_at));
                batch.push(outcome, queued.new);
                Ok(Some(Ended::ShareFailed(error)))
            }
            Err(error) => {
                let outcome = self.held(fetched, error.to_string(), None);
                batch.push(outcome, queued.new);
                Ok(None)
            }
        }
    }

    /// Builds the outcome of a held message and logs it.
    fn held(
        &self,
        message: FetchedMessage,
        reason: String,
        retry_at: Option<jiff::Timestamp>,
    ) -> MessageOutcome {
        tracing::warn!(
            principal = %self.principal.id, message_id = message.message_id, reason, ?retry_at,
            "message held"
        );
        MessageOutcome {
            message,
            outcome: Outcome::Held { reason, retry_at },
        }
    }

    /// Unseals every sealed field on the blocking pool; returns the message with the result.
    async fn open(
        &self,
        keystore: &Arc<EhealthKeystore>,
        full: FullMessage,
    ) -> Result<(FullMessage, OpenedMessage), FetchError> {
        let keystore = Arc::clone(keystore);
        let policy = self.ctx.options.unseal.clone();
        tokio::task::spawn_blocking(move || {
            let opened = open::open_message(&full, &keystore, &policy);
            (full, opened)
        })
        .await
        .map_err(|error| FetchError::Task(error.to_string()))
    }

    /// Writes the parts to the doctor's folder without fsyncing the folders, which are
    /// returned. The outer error is the task's, the inner the share's.
    async fn deliver(
        &self,
        summary: &MessageSummary,
        full: &FullMessage,
        opened: OpenedMessage,
    ) -> Result<(Result<Vec<FileRecord>, DeliveryError>, UnsyncedFolders), FetchError> {
        let share = Arc::clone(&self.ctx.share);
        let folder = self.principal.share_folder.clone();
        let message_id = full.message_id.clone();
        let sender_id = full.sender.id.clone();
        let sender_name = full.sender.display_name();
        let title = opened.parts.first().and_then(|part| part.title.clone());
        let published_at = self.summary_facts(summary).published_at;

        let task = move || {
            let parts = opened
                .parts
                .iter()
                .map(|part| Part {
                    original_name: part.file_name.as_deref(),
                    mime_type: part.mime_type.as_deref(),
                    bytes: &part.bytes,
                })
                .collect();
            let outgoing = Outgoing {
                message_id: &message_id,
                kind: opened.kind,
                sender_id: Some(&sender_id),
                sender_name: Some(&sender_name),
                title: title.as_deref(),
                patient_insz: opened.patient_insz.as_deref(),
                published_at,
                parts,
            };
            let mut folders = UnsyncedFolders::default();
            let result = share
                .deliver_unsynced(&folder, &outgoing, &mut folders)
                .map(|files| files.into_iter().map(|file| file.record).collect());
            (result, folders)
        };
        tokio::task::spawn_blocking(task)
            .await
            .map_err(|error| FetchError::Task(error.to_string()))
    }

    /// Makes the batch's files durable under their names, then records its outcomes in one
    /// transaction and counts them in `report`. When the folders cannot be fsynced, the batch's
    /// deliveries are recorded as held instead and the share error is returned.
    async fn commit(
        &self,
        batch: &mut Batch,
        report: &mut RunReport,
    ) -> Result<Option<DeliveryError>, FetchError> {
        let Batch {
            entries,
            mut folders,
            ..
        } = std::mem::take(batch);
        if entries.is_empty() && folders.is_empty() {
            return Ok(None);
        }
        let store = self.ctx.store.clone();
        let now = self.ctx.clock.now();
        let retry_at = self.later(self.ctx.options.share_retry_after);
        let task = move || {
            let (mut outcomes, new): (Vec<MessageOutcome>, Vec<bool>) = entries.into_iter().unzip();
            // The folder fsyncs run outside the store's lock, so other principals can commit.
            let synced = folders.sync();
            if let Err(error) = &synced {
                hold_unsynced(&mut outcomes, &error.to_string(), retry_at);
            }
            store.with(|store| store.record_outcomes(&outcomes, now))?;
            Ok::<_, crate::store::StoreError>((outcomes, new, synced.err()))
        };
        let (outcomes, new, share_error) = tokio::task::spawn_blocking(task)
            .await
            .map_err(|error| FetchError::Task(error.to_string()))??;
        count_outcomes(&outcomes, &new, report);
        if let Some(error) = &share_error {
            tracing::warn!(principal = %self.principal.id, %error, "share folders not synced; deliveries held");
        }
        Ok(share_error)
    }
}

/// Turns every delivery with files into a hold: their folders could not be fsynced, so the
/// files may not survive a power cut.
fn hold_unsynced(outcomes: &mut [MessageOutcome], reason: &str, retry_at: jiff::Timestamp) {
    for entry in outcomes {
        if matches!(&entry.outcome, Outcome::Delivered(files) if !files.is_empty()) {
            entry.outcome = Outcome::Held {
                reason: reason.to_owned(),
                retry_at: Some(retry_at),
            };
        }
    }
}

/// Adds committed outcomes to the run's counts.
fn count_outcomes(outcomes: &[MessageOutcome], new: &[bool], report: &mut RunReport) {
    for (entry, new) in outcomes.iter().zip(new) {
        if *new {
            report.new += 1;
        }
        match &entry.outcome {
            Outcome::Delivered(_) if entry.message.kind == MessageKind::Document => {
                report.delivered += 1;
            }
            Outcome::Delivered(_) => report.recorded_without_file += 1,
            Outcome::Held { .. } => report.held += 1,
        }
    }
}

/// Tells whether a download error concerns that one message (held, the others go on) rather
/// than the platform or the connection (the run ends).
fn is_message_fault(error: &EhealthError) -> bool {
    matches!(
        error,
        EhealthError::MalformedReply { .. } | EhealthError::BugInRequest { .. }
    )
}
