//! The eHealthBox platform state: boxes, folders, quotas, stand-by queues, access rights,
//! delayed deliveries, acknowledgments and the lifecycle job.
//!
//! [`Platform`] holds no clock and no transport. Every operation that depends on time takes `now`
//! from the caller, so tests move time by passing a later value.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use super::model::{
    AckType, Acknowledgment, BoxKey, ContentType, Destination, Document, Folder, Message,
    NewMessage, Sender, User,
};
use crate::caller::Caller;

/// Characters of generated MessageIds. The schema allows `[a-zA-Z0-9]{13}`, but the simulator
/// uses upper case and digits only.
const MESSAGE_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const MESSAGE_ID_LENGTH: usize = 13;

/// Errors of the admin side of the platform (seeding boxes and messages).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlatformError {
    #[error("box {0} already exists; reuse it or create a box with another key")]
    BoxAlreadyExists(BoxKey),
    #[error("box {0} not found; create it first with Platform::create_box")]
    UnknownBox(BoxKey),
    #[error("message has no destination; add at least one DestinationContext")]
    NoDestination,
}

/// Settings that apply to the whole simulated platform.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// Seed of the RNG that generates MessageIds, so runs are reproducible.
    pub seed: u64,
    /// `MaxSize` in bytes of boxes created without an explicit size.
    // NOTE: the real quota is not public; 100 MB is a guess.
    pub default_max_size: u64,
    /// Days from publication to `ExpirationDate` when the sender sets none.
    // NOTE: the real default validity is not public; 365 days is a guess.
    pub message_validity_days: i64,
    /// Whether a doctor's personal box is created on its first use. The real platform gives every
    /// doctor a box; tests that need "unknown box" behaviour turn this off.
    pub auto_create_personal_boxes: bool,
    /// The sender of the acknowledgment and error messages that the platform itself generates.
    // NOTE: which identity the real platform puts there is not public.
    pub platform_sender: Sender,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        Self {
            seed: 0x00e4_ea17_b0c5,
            default_max_size: 100 * 1024 * 1024,
            message_validity_days: 365,
            auto_create_personal_boxes: true,
            platform_sender: Sender {
                key: BoxKey::organisation("0809394427", "CBE", "EHEALTH", "INSTITUTION"),
                name: "eHealth platform".to_owned(),
                first_name: None,
                person_in_organisation: None,
            },
        }
    }
}

/// Settings of one box at creation.
#[derive(Debug, Clone, Default)]
pub struct BoxSettings {
    /// `MaxSize` in bytes, or `None` for [`PlatformConfig::default_max_size`].
    pub max_size: Option<u64>,
    /// The person the box belongs to, shown as `User` in `Destination` elements.
    pub owner: Option<User>,
    /// The name shown as `Sender/Name` when this box sends; defaults to the owner's name.
    pub name: Option<String>,
}

/// Whether a message entered its folder or waits in the stand-by queue of a full box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Placement {
    Stored,
    Held,
}

/// The result of delivering one message with [`Platform::deliver_message`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub message_id: String,
    /// Each destination box and whether the message entered its INBOX or waits in stand-by.
    pub placements: Vec<(BoxKey, Placement)>,
}

/// A snapshot of one box for tests and the admin interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoxState {
    pub key: BoxKey,
    pub owner: Option<User>,
    pub max_size: u64,
    pub current_size: u64,
    /// MessageIds waiting in the stand-by queue, oldest first.
    pub standby: Vec<String>,
    /// Messages in every folder, newest first.
    pub messages: Vec<EntryState>,
}

/// One message as seen in a [`BoxState`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryState {
    pub message_id: String,
    pub folder: Folder,
    pub read: bool,
    pub content_type: ContentType,
    pub publication_id: Option<String>,
    pub size: u64,
    pub sender: BoxKey,
}

/// A message that the lifecycle job removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedMessage {
    pub box_key: BoxKey,
    pub folder: Folder,
    pub message_id: String,
}

/// A message stored in one folder of one box.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) message: Arc<Message>,
    pub(crate) folder: Folder,
    pub(crate) read: bool,
    /// Arrival order in the box; a higher number is newer. Moving keeps it.
    pub(crate) sequence: u64,
}

#[derive(Debug)]
pub(crate) struct EhealthBox {
    pub(crate) key: BoxKey,
    pub(crate) owner: Option<User>,
    pub(crate) name: Option<String>,
    pub(crate) max_size: u64,
    pub(crate) entries: Vec<Entry>,
    standby: VecDeque<(Folder, Arc<Message>)>,
}

impl EhealthBox {
    pub(crate) fn current_size(&self) -> u64 {
        self.entries.iter().map(|entry| entry.message.size()).sum()
    }

    pub(crate) fn standby_count(&self) -> usize {
        self.standby.len()
    }

    /// Returns the entries of `folder`, newest first.
    pub(crate) fn folder_newest_first(&self, folder: Folder) -> Vec<&Entry> {
        let mut entries: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|entry| entry.folder == folder)
            .collect();
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.sequence));
        entries
    }

    /// Returns the destination element that describes this box.
    pub(crate) fn as_destination(&self) -> Destination {
        Destination {
            key: self.key.clone(),
            user: self.owner.clone(),
            mandate: None,
        }
    }

    /// Returns the sender element for messages this box sends.
    pub(crate) fn as_sender(&self) -> Sender {
        let name = match (&self.name, &self.owner) {
            (Some(name), _) => name.clone(),
            (None, Some(owner)) => owner.last_name.clone(),
            (None, None) => self.key.id.clone(),
        };
        let first_name = match (&self.name, &self.owner) {
            (None, Some(owner)) => Some(owner.first_name.clone()),
            _ => None,
        };
        Sender {
            key: self.key.clone(),
            name,
            first_name,
            person_in_organisation: None,
        }
    }
}

/// A publication whose delivery to the recipients' INBOX waits for `due`.
#[derive(Debug)]
struct PendingDelivery {
    due: Timestamp,
    message: Arc<Message>,
    recipients: Vec<BoxKey>,
}

/// The record that makes a DOCUMENT PublicationId single-use per sender and lets NEWS replace.
#[derive(Debug, Clone)]
pub(crate) struct PublicationRecord {
    pub(crate) content_type: ContentType,
    pub(crate) message_id: String,
}

/// The whole simulated eHealthBox platform. One instance per simulator; share it behind a mutex.
#[derive(Debug)]
pub struct Platform {
    config: PlatformConfig,
    rng: ChaCha20Rng,
    boxes: BTreeMap<BoxKey, EhealthBox>,
    /// Principal INSZ to the extra boxes the principal may open with `BoxId`.
    access: HashMap<String, BTreeSet<BoxKey>>,
    issued_message_ids: HashSet<String>,
    next_sequence: u64,
    publications: HashMap<(BoxKey, String), PublicationRecord>,
    pending: Vec<PendingDelivery>,
    injections: HashMap<BoxKey, VecDeque<NewMessage>>,
}

impl Platform {
    /// Creates an empty platform.
    pub fn new(config: PlatformConfig) -> Self {
        Self {
            rng: ChaCha20Rng::seed_from_u64(config.seed),
            config,
            boxes: BTreeMap::new(),
            access: HashMap::new(),
            issued_message_ids: HashSet::new(),
            next_sequence: 0,
            publications: HashMap::new(),
            pending: Vec::new(),
            injections: HashMap::new(),
        }
    }

    pub fn config(&self) -> &PlatformConfig {
        &self.config
    }

    /// Creates an empty box.
    pub fn create_box(&mut self, key: BoxKey, settings: BoxSettings) -> Result<(), PlatformError> {
        if self.boxes.contains_key(&key) {
            return Err(PlatformError::BoxAlreadyExists(key));
        }
        let ehealth_box = EhealthBox {
            key: key.clone(),
            owner: settings.owner,
            name: settings.name,
            max_size: settings.max_size.unwrap_or(self.config.default_max_size),
            entries: Vec::new(),
            standby: VecDeque::new(),
        };
        tracing::info!(box_key = %key, max_size = ehealth_box.max_size, "eHealthBox created");
        self.boxes.insert(key, ehealth_box);
        Ok(())
    }

    /// Changes the `MaxSize` of a box; a larger quota admits waiting stand-by messages.
    pub fn set_max_size(&mut self, key: &BoxKey, max_size: u64) -> Result<(), PlatformError> {
        let ehealth_box = self
            .box_mut(key)
            .ok_or_else(|| PlatformError::UnknownBox(key.clone()))?;
        ehealth_box.max_size = max_size;
        Ok(())
    }

    /// Lets the principal with INSZ `ssin` open box `key` with an explicit `BoxId`.
    pub fn grant_access(&mut self, ssin: &str, key: BoxKey) -> Result<(), PlatformError> {
        if !self.boxes.contains_key(&key) {
            return Err(PlatformError::UnknownBox(key));
        }
        tracing::info!(ssin, box_key = %key, "box access granted");
        self.access.entry(ssin.to_owned()).or_default().insert(key);
        Ok(())
    }

    /// Withdraws an access granted with [`Platform::grant_access`]. Returns whether it existed.
    pub fn revoke_access(&mut self, ssin: &str, key: &BoxKey) -> bool {
        self.access
            .get_mut(ssin)
            .is_some_and(|boxes| boxes.remove(key))
    }

    /// Delivers a message straight into the INBOX of each destination, as seeding does.
    ///
    /// Every destination box must exist. No SENTBOX copy is made and no PUBLISHED acknowledgment
    /// is sent; a RECEIVED acknowledgment goes to the sender's box if requested and that box
    /// exists.
    pub fn deliver_message(
        &mut self,
        message: NewMessage,
        now: Timestamp,
    ) -> Result<DeliveryReport, PlatformError> {
        if message.destinations.is_empty() {
            return Err(PlatformError::NoDestination);
        }
        if let Some(unknown) = message
            .destinations
            .iter()
            .find(|d| !self.boxes.contains_key(&d.key))
        {
            return Err(PlatformError::UnknownBox(unknown.key.clone()));
        }

        let recipients: Vec<BoxKey> = message.destinations.iter().map(|d| d.key.clone()).collect();
        let message = self.accept(message, now);
        let placements = recipients
            .into_iter()
            .map(|key| {
                let placement = self.place_in_inbox(&key, Arc::clone(&message), now);
                (key, placement)
            })
            .collect();
        Ok(DeliveryReport {
            message_id: message.message_id.clone(),
            placements,
        })
    }

    /// Queues `message` for delivery into `key`'s INBOX right after the next getMessagesList page
    /// served for that box. The following page then finds every index shifted by one.
    pub fn inject_after_next_list_page(
        &mut self,
        key: BoxKey,
        message: NewMessage,
    ) -> Result<(), PlatformError> {
        if !self.boxes.contains_key(&key) {
            return Err(PlatformError::UnknownBox(key));
        }
        self.injections.entry(key).or_default().push_back(message);
        Ok(())
    }

    /// Returns a snapshot of one box, or `None` if it does not exist.
    pub fn box_state(&self, key: &BoxKey) -> Option<BoxState> {
        let ehealth_box = self.boxes.get(key)?;
        let mut entries: Vec<&Entry> = ehealth_box.entries.iter().collect();
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.sequence));
        let messages = entries
            .into_iter()
            .map(|entry| EntryState {
                message_id: entry.message.message_id.clone(),
                folder: entry.folder,
                read: entry.read,
                content_type: entry.message.content.content_type,
                publication_id: entry.message.content.publication_id.clone(),
                size: entry.message.size(),
                sender: entry.message.content.sender.key.clone(),
            })
            .collect();
        Some(BoxState {
            key: key.clone(),
            owner: ehealth_box.owner.clone(),
            max_size: ehealth_box.max_size,
            current_size: ehealth_box.current_size(),
            standby: ehealth_box
                .standby
                .iter()
                .map(|(_, m)| m.message_id.clone())
                .collect(),
            messages,
        })
    }

    /// Returns the keys of every box, in key order.
    pub fn box_keys(&self) -> Vec<BoxKey> {
        self.boxes.keys().cloned().collect()
    }

    /// Returns a stored message of a box by MessageId, from any folder.
    pub fn find_message(&self, key: &BoxKey, message_id: &str) -> Option<Arc<Message>> {
        let ehealth_box = self.boxes.get(key)?;
        let entry = ehealth_box
            .entries
            .iter()
            .find(|e| e.message.message_id == message_id)?;
        Some(Arc::clone(&entry.message))
    }

    /// Delivers every delayed publication whose time has come.
    pub fn deliver_due(&mut self, now: Timestamp) {
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.due <= now);
        self.pending = waiting;

        for delivery in due {
            for key in delivery.recipients {
                self.place_in_inbox(&key, Arc::clone(&delivery.message), now);
            }
        }
    }

    /// Runs the lifecycle job at `now`: removes for good every message that is expired, read and
    /// in a bin, and every message published more than one year ago wherever it is.
    pub fn run_lifecycle(&mut self, now: Timestamp) -> Vec<RemovedMessage> {
        let today = utc_date(now);
        let mut removed = Vec::new();
        let keys = self.box_keys();

        for key in &keys {
            let Some(ehealth_box) = self.boxes.get_mut(key) else {
                continue;
            };
            ehealth_box.entries.retain(|entry| {
                let expired_in_bin =
                    entry.message.expiration_date <= today && entry.read && entry.folder.is_bin();
                let too_old =
                    utc_date(entry.message.published_at).saturating_add(1.year()) <= today;
                if expired_in_bin || too_old {
                    removed.push(RemovedMessage {
                        box_key: key.clone(),
                        folder: entry.folder,
                        message_id: entry.message.message_id.clone(),
                    });
                }
                !(expired_in_bin || too_old)
            });
        }

        let touched: BTreeSet<BoxKey> = removed.iter().map(|r| r.box_key.clone()).collect();
        for key in &touched {
            self.drain_standby(key, now);
        }
        if !removed.is_empty() {
            tracing::info!(count = removed.len(), "lifecycle job removed messages");
        }
        removed
    }

    // ----- used by the operation handlers -----

    pub(crate) fn box_ref(&self, key: &BoxKey) -> Option<&EhealthBox> {
        self.boxes.get(key)
    }

    pub(crate) fn box_mut(&mut self, key: &BoxKey) -> Option<&mut EhealthBox> {
        self.boxes.get_mut(key)
    }

    /// Returns whether `ssin` was granted access to `key` through the access table.
    pub(crate) fn has_granted_access(&self, ssin: &str, key: &BoxKey) -> bool {
        self.access
            .get(ssin)
            .is_some_and(|boxes| boxes.contains(key))
    }

    /// Returns the boxes granted to `ssin` through the access table.
    pub(crate) fn granted_boxes(&self, ssin: &str) -> Vec<BoxKey> {
        self.access
            .get(ssin)
            .map(|boxes| boxes.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Returns the caller's personal box, creating it when the configuration allows.
    /// `None` means the caller has no certified quality, or the box does not exist.
    pub(crate) fn personal_box(&mut self, caller: &Caller) -> Option<BoxKey> {
        let key = BoxKey::person(caller.ssin.clone(), caller.personal_quality()?);
        if !self.boxes.contains_key(&key) && self.config.auto_create_personal_boxes {
            // The key is new, so creation cannot fail.
            let _ = self.create_box(key.clone(), BoxSettings::default());
        }
        self.boxes.contains_key(&key).then_some(key)
    }

    /// Gives a sender's message a fresh MessageId and the platform's dates.
    pub(crate) fn accept(&mut self, content: NewMessage, now: Timestamp) -> Arc<Message> {
        let message_id = self.new_message_id();
        let expiration_date = content.expiration_date.unwrap_or_else(|| {
            utc_date(now).saturating_add(self.config.message_validity_days.days())
        });
        Arc::new(Message {
            message_id,
            published_at: now,
            expiration_date,
            content,
        })
    }

    /// Queues a message for its recipients' INBOX at `due`, or delivers it now if `due` is past.
    pub(crate) fn schedule_inbox_delivery(
        &mut self,
        message: Arc<Message>,
        recipients: Vec<BoxKey>,
        due: Timestamp,
        now: Timestamp,
    ) {
        if due <= now {
            for key in recipients {
                self.place_in_inbox(&key, Arc::clone(&message), now);
            }
        } else {
            self.pending.push(PendingDelivery {
                due,
                message,
                recipients,
            });
        }
    }

    /// Stores a message in a recipient's INBOX (or its stand-by queue) and sends the RECEIVED
    /// acknowledgment once it is in the INBOX.
    pub(crate) fn place_in_inbox(
        &mut self,
        key: &BoxKey,
        message: Arc<Message>,
        now: Timestamp,
    ) -> Placement {
        let placement = self.place(key, Folder::Inbox, Arc::clone(&message));
        if placement == Placement::Stored {
            self.after_inbox_arrival(key, &message, now);
        }
        placement
    }

    /// Stores a message in a folder, or in the stand-by queue when the box is full or already
    /// has messages waiting (so that arrival order is kept).
    pub(crate) fn place(
        &mut self,
        key: &BoxKey,
        folder: Folder,
        message: Arc<Message>,
    ) -> Placement {
        let sequence = self.next_sequence;
        let Some(ehealth_box) = self.boxes.get_mut(key) else {
            tracing::warn!(box_key = %key, "message for a box that does not exist dropped");
            return Placement::Held;
        };

        let fits = ehealth_box.current_size() + message.size() <= ehealth_box.max_size;
        if ehealth_box.standby.is_empty() && fits {
            ehealth_box.entries.push(Entry {
                message,
                folder,
                read: false,
                sequence,
            });
            self.next_sequence += 1;
            Placement::Stored
        } else {
            tracing::info!(box_key = %key, message_id = %message.message_id, "box full, message held in stand-by");
            ehealth_box.standby.push_back((folder, message));
            Placement::Held
        }
    }

    /// Moves stand-by messages into their folders, in arrival order, while they fit.
    pub(crate) fn drain_standby(&mut self, key: &BoxKey, now: Timestamp) {
        loop {
            let Some(ehealth_box) = self.boxes.get_mut(key) else {
                return;
            };
            let Some((_, head)) = ehealth_box.standby.front() else {
                return;
            };
            if ehealth_box.current_size() + head.size() > ehealth_box.max_size {
                return;
            }

            let Some((folder, message)) = ehealth_box.standby.pop_front() else {
                return;
            };
            let sequence = self.next_sequence;
            self.next_sequence += 1;
            ehealth_box.entries.push(Entry {
                message: Arc::clone(&message),
                folder,
                read: false,
                sequence,
            });
            if folder == Folder::Inbox {
                self.after_inbox_arrival(key, &message, now);
            }
        }
    }

    /// Removes a message from every folder, stand-by queue and pending delivery, as replacing a
    /// NEWS message does.
    pub(crate) fn remove_everywhere(&mut self, message_id: &str, now: Timestamp) {
        let keys = self.box_keys();
        for key in &keys {
            let Some(ehealth_box) = self.boxes.get_mut(key) else {
                continue;
            };
            ehealth_box
                .entries
                .retain(|e| e.message.message_id != message_id);
            ehealth_box
                .standby
                .retain(|(_, m)| m.message_id != message_id);
            self.drain_standby(key, now);
        }
        self.pending.retain(|p| p.message.message_id != message_id);
    }

    pub(crate) fn publication(
        &self,
        sender: &BoxKey,
        publication_id: &str,
    ) -> Option<&PublicationRecord> {
        self.publications
            .get(&(sender.clone(), publication_id.to_owned()))
    }

    pub(crate) fn record_publication(
        &mut self,
        sender: &BoxKey,
        publication_id: &str,
        record: PublicationRecord,
    ) {
        self.publications
            .insert((sender.clone(), publication_id.to_owned()), record);
    }

    /// Takes the messages queued by [`Platform::inject_after_next_list_page`] for `key`.
    pub(crate) fn take_injections(&mut self, key: &BoxKey) -> Vec<NewMessage> {
        self.injections
            .remove(key)
            .map(Vec::from)
            .unwrap_or_default()
    }

    /// Sends an acknowledgment message to the box of the sender of `about`, if that box exists.
    pub(crate) fn send_acknowledgment(
        &mut self,
        about: &Message,
        ack_type: AckType,
        recipient: Option<Destination>,
        now: Timestamp,
    ) {
        let sender_box = about.content.sender.key.clone();
        if !self.boxes.contains_key(&sender_box) {
            tracing::debug!(box_key = %sender_box, "acknowledgment for a sender without a box dropped");
            return;
        }

        let title = format!("{} acknowledgment", ack_type.wire_name());
        let text = format!(
            "{} acknowledgment of message {}",
            ack_type.wire_name(),
            about.message_id
        );
        let mut ack = NewMessage::document(
            self.config.platform_sender.clone(),
            vec![Destination::to_box(sender_box.clone())],
            Document {
                title,
                content: text.into_bytes(),
                download_file_name: "acknowledgment.txt".to_owned(),
                mime_type: "text/plain".to_owned(),
            },
        );
        ack.content_type = ContentType::Acknowledgment;
        ack.publication_id = about.content.publication_id.clone();
        ack.acknowledgment = Some(Acknowledgment {
            message_id: about.message_id.clone(),
            recipient,
            ack_type,
            date_time: now,
        });

        let ack = self.accept(ack, now);
        self.place(&sender_box, Folder::Inbox, ack);
    }

    fn after_inbox_arrival(&mut self, key: &BoxKey, message: &Message, now: Timestamp) {
        if message.content.receipts.received
            && message.content.content_type != ContentType::Acknowledgment
        {
            let recipient = self.boxes.get(key).map(EhealthBox::as_destination);
            self.send_acknowledgment(message, AckType::Received, recipient, now);
        }
    }

    fn new_message_id(&mut self) -> String {
        loop {
            let id: String = (0..MESSAGE_ID_LENGTH)
                .map(|_| {
                    let index = self.rng.random_range(0..MESSAGE_ID_ALPHABET.len());
                    char::from(MESSAGE_ID_ALPHABET[index])
                })
                .collect();
            if self.issued_message_ids.insert(id.clone()) {
                return id;
            }
        }
    }
}

/// Returns the calendar date of `instant` in UTC.
// NOTE: the real platform probably dates messages in Europe/Brussels time; UTC keeps the simulator
// independent of the host's time zone database.
pub(crate) fn utc_date(instant: Timestamp) -> Date {
    instant.to_zoned_datetime(TimeZone::UTC).date()
}
