//! Delivery of message documents to the SMB share, one folder per doctor.
//!
//! For each part of a message (main document first, then the annexes), this
//! module detects the format ([`detect`]), looks up its route in the practice's
//! [`RoutingProfile`], builds a safe name ([`names`]) and writes the bytes
//! exactly as received, atomically ([`atomic`]). The share layout is
//!
//! ```text
//! <share root>/<doctor folder>/<route folder>/<DATE>_<SENDER>_<INSZ>_<MESSAGEID>_<INDEX>.<ext>
//! <share root>/<doctor folder>/<route folder>/<same name>.<ext>.json   (sidecar)
//! ```
//!
//! The sidecar is one JSON file per document, named after the document plus
//! `.json`, holding what the name cannot: the sender's original file name and
//! MIME type, the title, sender, patient, MessageId and detected format. It is
//! written after the document, so a document may briefly appear without it.
//!
//! # Nothing lost, nothing twice
//!
//! A document's name depends only on the message (date, sender, patient,
//! MessageId, part index). A delivery repeated after a crash therefore arrives
//! at the same name, finds an identical file and reports it as already present
//! instead of writing a copy. A different file under that name (a name collision) gets
//! `-2`, `-3`, ... Errors that mean "try later" (share full, share not writable,
//! share missing, a folder on the share replaced by a symbolic link or a file)
//! come back as [`DeliveryError`] variants for which
//! [`DeliveryError::is_retryable`] is true: the caller then holds the message,
//! which stays in the eHealthBox inbox.
//!
//! Delivery never follows a symbolic link below the share root: see
//! [`atomic`] for how folders are opened.
//!
//! NOTE: if the medical record software imports and removes a file after it was
//! written but before the store recorded the delivery, a delivery repeated after
//! a crash writes it again. The fetcher records deliveries in batches, so that
//! window lasts from the file's rename until its batch is committed (at most
//! about a second, see [`crate::fetcher`]).
//!
//! This module does not touch the store; the caller records the returned
//! [`FileRecord`]s with [`crate::store::Store::mark_delivered`].

pub mod atomic;
pub mod detect;
pub mod names;
pub mod profile;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use nix::errno::Errno;
use serde::Serialize;

use crate::store::{FileRecord, MessageKind, validate_insz};
use atomic::{Folder, Placement};
use detect::{Detection, Format};
use names::{DocumentName, MAX_NAME_BYTES, is_safe_name, plain_extension};
pub use profile::{ProfileError, Route, RoutingProfile};

/// Version of the sidecar JSON layout.
const SIDECAR_VERSION: u32 = 1;

/// Errors of delivery.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(
        "the share is full: {operation} {path} failed: {source}; free space on the data \
         partition, the message stays in the eHealthBox until then"
    )]
    ShareFull {
        operation: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "the share is not writable: {operation} {path} failed: {source}; check the folder's \
         owner and mode, and that the data partition is mounted read-write"
    )]
    ShareUnwritable {
        operation: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "the share root {root} is missing or not a folder; check that the data partition is mounted"
    )]
    ShareMissing { root: PathBuf },
    #[error(
        "the share folder {path} is a symbolic link, which delivery never follows; replace it \
         with a real folder (or remove it), and the held messages are delivered on the next run"
    )]
    SymlinkedFolder { path: PathBuf },
    #[error(
        "{path} on the share is not a folder; move it away so that delivery can create the \
         folder there, and the held messages are delivered on the next run"
    )]
    NotAFolder { path: PathBuf },
    #[error("{operation} {path} failed: {source}")]
    Io {
        operation: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "doctor folder name {name:?} is not a safe file name; build it with \
         delivery::names::doctor_folder_name"
    )]
    UnsafeFolder { name: String },
    #[error("message {message_id:?} has no document to deliver")]
    NoParts { message_id: String },
    #[error(
        "no free name for {name:?} in {dir}: {tried} numbered names hold other files; move old \
         files out of that folder"
    )]
    NamesExhausted {
        dir: PathBuf,
        name: String,
        tried: u32,
    },
    #[error("cannot encode the sidecar for {path}: {source}")]
    Sidecar {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl DeliveryError {
    /// Classifies an I/O error: full and unwritable shares get their own variants.
    pub(crate) fn from_io(
        operation: &'static str,
        path: &Path,
        source: io::Error,
    ) -> DeliveryError {
        let path = path.to_owned();
        match Errno::from_raw(source.raw_os_error().unwrap_or(0)) {
            Errno::ENOSPC | Errno::EDQUOT => DeliveryError::ShareFull {
                operation,
                path,
                source,
            },
            Errno::EACCES | Errno::EPERM | Errno::EROFS => DeliveryError::ShareUnwritable {
                operation,
                path,
                source,
            },
            _ => DeliveryError::Io {
                operation,
                path,
                source,
            },
        }
    }

    /// Tells whether the same delivery may succeed later without a person acting
    /// on the message itself (space freed, share remounted, a link on the share
    /// replaced by a folder, transient I/O error).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DeliveryError::ShareFull { .. }
                | DeliveryError::ShareUnwritable { .. }
                | DeliveryError::ShareMissing { .. }
                | DeliveryError::SymlinkedFolder { .. }
                | DeliveryError::NotAFolder { .. }
                | DeliveryError::Io { .. }
        )
    }
}

/// One document of a message: the main document or an annex.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    /// The file name the sender gave; only used in the sidecar and for the
    /// extension of routes that keep it.
    pub original_name: Option<&'a str>,
    pub mime_type: Option<&'a str>,
    /// The bytes exactly as received.
    pub bytes: &'a [u8],
}

/// A message to deliver: its facts and its parts, main document first.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub message_id: &'a str,
    pub kind: MessageKind,
    pub sender_id: Option<&'a str>,
    pub sender_name: Option<&'a str>,
    pub title: Option<&'a str>,
    /// The patient INSZ from the message envelope, if any.
    pub patient_insz: Option<&'a str>,
    pub published_at: Option<Timestamp>,
    pub parts: Vec<Part<'a>>,
}

/// One delivered part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredFile {
    pub record: FileRecord,
    pub format: Format,
    /// True when an identical file was already there from an earlier attempt.
    pub already_present: bool,
}

/// The per-document sidecar, serialised as JSON.
#[derive(Debug, Serialize)]
struct Sidecar<'a> {
    sidecar_version: u32,
    file_name: &'a str,
    message_id: &'a str,
    part_index: u32,
    part_count: usize,
    kind: &'a str,
    sender_id: Option<&'a str>,
    sender_name: Option<&'a str>,
    title: Option<&'a str>,
    patient_insz: Option<&'a str>,
    published_at: Option<String>,
    original_file_name: Option<&'a str>,
    mime_type: Option<&'a str>,
    detected_format: &'a str,
    sha256: &'a str,
    size_bytes: u64,
}

/// The share: its root folder, routing profile and the time zone of file-name dates.
#[derive(Debug, Clone)]
pub struct Share {
    root: PathBuf,
    profile: RoutingProfile,
    time_zone: TimeZone,
}

impl Share {
    pub fn new(root: PathBuf, profile: RoutingProfile, time_zone: TimeZone) -> Share {
        Share {
            root,
            profile,
            time_zone,
        }
    }

    /// Returns the share root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes staging files left by a crash; call once at start-up.
    pub fn cleanup_staging(&self) -> Result<usize, DeliveryError> {
        self.check_root()?;
        atomic::cleanup_staging(&self.root)
    }

    /// Delivers every part of `message` into `doctor_folder` and returns one
    /// record per part, in part order. Safe to repeat: parts already on the
    /// share are recognised and not written twice. On return every file is
    /// durable under its final name.
    pub fn deliver(
        &self,
        doctor_folder: &str,
        message: &Outgoing<'_>,
    ) -> Result<Vec<DeliveredFile>, DeliveryError> {
        let mut folders = UnsyncedFolders::default();
        let delivered = self.deliver_unsynced(doctor_folder, message, &mut folders)?;
        folders.sync()?;
        Ok(delivered)
    }

    /// Does what [`Share::deliver`] does, except that the folders the files were placed in are
    /// added to `folders` instead of being fsynced. The files' bytes are durable on return;
    /// their names only after [`UnsyncedFolders::sync`]. On an error, `folders` still lists the
    /// folders of the parts placed before it.
    pub fn deliver_unsynced(
        &self,
        doctor_folder: &str,
        message: &Outgoing<'_>,
        folders: &mut UnsyncedFolders,
    ) -> Result<Vec<DeliveredFile>, DeliveryError> {
        if !is_safe_name(doctor_folder, MAX_NAME_BYTES) {
            return Err(DeliveryError::UnsafeFolder {
                name: doctor_folder.to_owned(),
            });
        }
        if message.parts.is_empty() {
            return Err(DeliveryError::NoParts {
                message_id: message.message_id.to_owned(),
            });
        }
        self.check_root()?;

        let mut delivered = Vec::with_capacity(message.parts.len());
        for (index, part) in message.parts.iter().enumerate() {
            let part_index = u32::try_from(index + 1).unwrap_or(u32::MAX);
            delivered.push(self.deliver_part(doctor_folder, message, part, part_index, folders)?);
        }
        tracing::info!(
            message_id = message.message_id,
            doctor_folder,
            parts = delivered.len(),
            "message delivered to the share"
        );
        Ok(delivered)
    }

    fn check_root(&self) -> Result<(), DeliveryError> {
        if !self.root.is_dir() {
            return Err(DeliveryError::ShareMissing {
                root: self.root.clone(),
            });
        }
        Ok(())
    }

    fn deliver_part(
        &self,
        doctor_folder: &str,
        message: &Outgoing<'_>,
        part: &Part<'_>,
        part_index: u32,
        folders: &mut UnsyncedFolders,
    ) -> Result<DeliveredFile, DeliveryError> {
        let detection = detect::detect(part.bytes);
        let route = self.profile.route(detection.format);
        let mut components = vec![doctor_folder];
        components.extend(route.folder.iter().map(String::as_str));
        let dir = atomic::ensure_dirs(&self.root, &components)?;
        folders.add(dir.path());

        let name = self.document_name(message, part, part_index, &detection, route);
        let staged = atomic::stage_in(&dir, part.bytes)?;
        let sha256 = staged.sha256_hex();
        let size_bytes = staged.size();
        let placement = staged.place_unsynced(&name)?;
        let final_name = placement.name().to_owned();

        if self.profile.sidecars {
            let sidecar = Sidecar {
                sidecar_version: SIDECAR_VERSION,
                file_name: &final_name,
                message_id: message.message_id,
                part_index,
                part_count: message.parts.len(),
                kind: message.kind.as_str(),
                sender_id: message.sender_id,
                sender_name: message.sender_name,
                title: message.title,
                patient_insz: message.patient_insz,
                published_at: message.published_at.map(|ts| ts.to_string()),
                original_file_name: part.original_name,
                mime_type: part.mime_type,
                detected_format: detection.format.name(),
                sha256: &sha256,
                size_bytes,
            };
            write_sidecar(&dir, &final_name, &sidecar)?;
        }

        components.push(&final_name);
        Ok(DeliveredFile {
            record: FileRecord {
                part_index,
                path: components.join("/"),
                sha256,
                size_bytes,
            },
            format: detection.format,
            already_present: matches!(placement, Placement::AlreadyPresent(_)),
        })
    }

    fn document_name(
        &self,
        message: &Outgoing<'_>,
        part: &Part<'_>,
        part_index: u32,
        detection: &Detection,
        route: &Route,
    ) -> String {
        let sender_extension = part
            .original_name
            .filter(|_| route.keep_sender_extension)
            .and_then(plain_extension);
        let extension = sender_extension.as_deref().unwrap_or(&route.extension);
        let patient_insz = message
            .patient_insz
            .filter(|insz| validate_insz(insz).is_ok())
            .or(detection.patient_insz.as_deref());

        DocumentName {
            published_at: message.published_at,
            sender: message.sender_name.or(message.sender_id),
            patient_insz,
            message_id: message.message_id,
            part_index,
            extension,
        }
        .build(&self.time_zone)
    }
}

/// Writes the sidecar of `document_name` atomically, replacing an older one.
fn write_sidecar(
    dir: &Folder,
    document_name: &str,
    sidecar: &Sidecar<'_>,
) -> Result<(), DeliveryError> {
    let name = format!("{document_name}.json");
    let mut json = serde_json::to_vec_pretty(sidecar).map_err(|source| DeliveryError::Sidecar {
        path: dir.path().join(&name),
        source,
    })?;
    json.push(b'\n');

    atomic::stage_in(dir, &json)?.replace_unsynced(&name)
}

/// Folders that received new file names since their last `fsync`. Until they are fsynced, a
/// power cut may undo those names (never the bytes of a file under its final name).
///
/// NOTE: the folders are fsynced by path, after the fact. If someone replaced one with a
/// symbolic link meanwhile, the link's target gets the `fsync`; that writes nothing, but the
/// names placed in the moved folder may not survive a power cut.
#[derive(Debug, Default)]
pub struct UnsyncedFolders(BTreeSet<PathBuf>);

impl UnsyncedFolders {
    fn add(&mut self, dir: &Path) {
        if !self.0.contains(dir) {
            self.0.insert(dir.to_owned());
        }
    }

    /// Adds every folder of `other`.
    pub fn append(&mut self, other: &mut UnsyncedFolders) {
        self.0.append(&mut other.0);
    }

    /// Tells whether no folder waits for an `fsync`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Fsyncs every folder, so that the names placed in them survive a power cut. A folder that
    /// fails stays listed.
    pub fn sync(&mut self) -> Result<(), DeliveryError> {
        while let Some(dir) = self.0.first() {
            atomic::fsync_dir(dir)?;
            self.0.pop_first();
        }
        Ok(())
    }
}
