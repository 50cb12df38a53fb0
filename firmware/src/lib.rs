//! PracticeBox service library.
//!
//! # Layout
//! - [`store`]: the SQLite store of principals, mandates, messages, fetch runs and the audit log.
//! - [`demo`]: `practicebox demo`, the box at work against the platform simulator.
//! - [`delivery`]: atomic delivery of messages into the doctors' folders on the SMB share.
//! - [`samba`]: the smb.conf that serves the doctors' folders to the medical software.
//! - [`ehealth`]: the eHealth platform client: STS tokens, eHealthBox, unsealing.
//! - [`fetcher`]: one fetch run for one principal, from eHealthBox INBOX to the share and the bin.
//! - [`scheduler`]: continuous fetching of every active principal, one task each.
//! - [`status`]: status events and the current state snapshot, with the LED rules.
//! - [`config`]: the service configuration file.
//! - [`service`]: `practicebox run` and `status` wired from the configuration.
//! - [`xmlsec`]: XML canonicalisation, XML-DSig and WS-Security (re-exported crate).

pub mod config;
pub mod delivery;
#[cfg(feature = "demo")]
pub mod demo;
pub mod ehealth;
pub mod fetcher;
pub mod samba;
pub mod scheduler;
pub mod service;
pub mod status;
pub mod store;

/// XML canonicalisation, XML-DSig and WS-Security, kept in their own crate so that the platform
/// simulator can share them without depending on the service.
pub use practicebox_xmlsec as xmlsec;
