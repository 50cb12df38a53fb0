//! PracticeBox service library.
//!
//! # Layout
//! - [`ehealth`]: the box's client of the eHealth platform: keystores, unsealing, STS tokens,
//!   eHealthBox consultation and the `fetch --once` command.
//! - [`store`]: the SQLite store of principals, mandates, messages, fetch runs and the audit log.
//! - [`demo`]: `practicebox demo`, the box at work against the platform simulator.
//! - [`delivery`]: atomic delivery of messages into the doctors' folders on the SMB share.
//! - [`fetcher`]: one fetch run for one principal, from eHealthBox INBOX to the share and the bin.
//! - [`scheduler`]: continuous fetching of every active principal, one task each.
//! - [`status`]: status events and the current state snapshot, with the LED rules.
//! - [`config`]: the service configuration file.
//! - [`service`]: `practicebox run` and `status` wired from the configuration.
//! - [`samba`]: the smb.conf that serves the doctors' folders to the medical software.
//! - [`eid`]: the Belgian eID card over PC/SC.
//! - [`mandates`]: colleagues' mandates and the main practitioner's setup, with signed evidence.
//! - [`credentials`]: doctors' keystores and passwords, encrypted at rest.
//! - [`stick`]: the USB certificate stick: uevents, the read-only mount, certificate search.
//! - [`xmlsec`]: XML canonicalisation, XML-DSig and WS-Security (re-exported crate).

pub mod config;
pub mod credentials;
pub mod delivery;
#[cfg(feature = "demo")]
pub mod demo;
pub mod ehealth;
pub mod eid;
pub mod fetcher;
pub mod mandates;
pub mod samba;
pub mod scheduler;
pub mod service;
pub mod status;
pub mod stick;
pub mod store;

/// XML canonicalisation, XML-DSig and WS-Security, kept in their own crate so that the platform
/// simulator can share them without depending on the service.
pub use practicebox_xmlsec as xmlsec;
