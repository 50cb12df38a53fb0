//! The errors of the stick module, worded for the doctor at the box and the technician
//! reading the journal: each names what failed and what to do.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::folder::SkippedFile;

/// A failure of the stick watcher, the mount or the certificate search.
#[derive(Debug, thiserror::Error)]
pub enum StickError {
    #[error(
        "no .p12 or .acc-p12 certificate file on the USB stick (searched its top folder and {max_depth} folder levels below){}; copy the doctor's eHealth certificate onto the stick",
        skipped_summary(skipped)
    )]
    NoCertificate {
        max_depth: usize,
        skipped: Vec<SkippedFile>,
    },
    #[error(
        "the USB stick holds more than {limit} certificate files; keep only the doctor's own certificates on it"
    )]
    TooManyCertificates { limit: usize },
    #[error(
        "the USB stick holds more than {limit} files and folders in its top {max_depth} folder levels; copy the certificate onto a stick with fewer files"
    )]
    TooManyEntries { limit: usize, max_depth: usize },
    #[error(
        "{path} on the USB stick has {size} bytes, more than the {limit} bytes allowed for a certificate; choose the .p12 or .acc-p12 file that eHealth issued"
    )]
    FileTooLarge { path: String, size: u64, limit: u64 },
    #[error(
        "{path} on the USB stick is no longer a regular file; take the stick out and insert it again"
    )]
    NotRegularFile { path: String },
    #[error("the USB stick was removed; insert it again")]
    Removed,
    #[error(
        "reading {path} on the USB stick failed: {source}; the stick may have been pulled or be damaged: insert it again, or copy the certificate onto another stick"
    )]
    ReadFailed { path: String, source: io::Error },
    #[error(transparent)]
    Mount(#[from] MountFailure),
    #[error(
        "cannot reach the stick mount helper at {socket}: {source}; check that practicebox-stick.socket is running (systemctl status practicebox-stick.socket)"
    )]
    HelperUnavailable { socket: PathBuf, source: io::Error },
    #[error(
        "the stick mount helper sent an invalid reply ({detail}); see its log with journalctl -u 'practicebox-stick@*'"
    )]
    HelperReply { detail: String },
    #[error(
        "the stick mount helper did not reply within {seconds} s; see its log with journalctl -u 'practicebox-stick@*'"
    )]
    HelperTimedOut { seconds: u64 },
    #[error(
        "listening to kernel uevents failed: {source}; the service needs AF_NETLINK in RestrictAddressFamilies="
    )]
    Uevents { source: io::Error },
}

/// Renders up to three skipped files for [`StickError::NoCertificate`].
fn skipped_summary(skipped: &[SkippedFile]) -> String {
    const LISTED: usize = 3;
    if skipped.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = skipped
        .iter()
        .take(LISTED)
        .map(ToString::to_string)
        .collect();
    let more = skipped.len().saturating_sub(LISTED);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("; skipped {}{tail}", listed.join(", "))
}

/// A mount request that the privileged helper rejected or could not carry out. It crosses
/// the helper's socket as JSON, so it holds only plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MountFailure {
    #[error("the mount request {request:?} is invalid; send {{\"mount\":{{\"device\":\"sda1\"}}}}")]
    InvalidRequest { request: String },
    #[error("{device} is not a USB storage device; only USB sticks are mounted")]
    NotUsbStorage { device: String },
    #[error("the USB stick {device} is gone (removed before it was mounted); insert it again")]
    DeviceMissing { device: String },
    #[error(
        "the USB stick {device} is mounted for another request already; release that one first"
    )]
    Busy { device: String },
    #[error(
        "{device} has a {table} partition table; mount its partitions ({device}1, ...) instead"
    )]
    PartitionTable { device: String, table: String },
    #[error(
        "no file system found on the USB stick {device}; format it as FAT32 on a computer and copy the certificate onto it again"
    )]
    NoFilesystem { device: String },
    #[error(
        "the USB stick {device} has a {format} file system, which the box does not read; use a stick formatted as FAT32, exFAT, NTFS or ext4"
    )]
    UnsupportedFilesystem { device: String, format: String },
    #[error(
        "reading the start of the USB stick {device} failed: {error}; the stick may be damaged: try another stick"
    )]
    ProbeFailed { device: String, error: String },
    #[error(
        "the kernel has no {kernel_type} driver for the {filesystem} file system of the USB stick {device}; reformat the stick as FAT32"
    )]
    NoKernelDriver {
        device: String,
        filesystem: String,
        kernel_type: String,
    },
    #[error(
        "mounting the {filesystem} file system of the USB stick {device} failed: {}; the file system may be damaged: check it on a computer",
        io::Error::from_raw_os_error(*errno)
    )]
    MountFailed {
        device: String,
        filesystem: String,
        errno: i32,
    },
    #[error("the mount helper cannot prepare {path}: {error}; {fix}")]
    MountFolder {
        path: PathBuf,
        error: String,
        fix: String,
    },
}
