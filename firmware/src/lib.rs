//! PracticeBox service library.
//!
//! # Layout
//! - [`ehealth`]: the box's client of the eHealth platform: keystores, unsealing, STS tokens,
//!   eHealthBox consultation and the `fetch --once` command.
//! - [`store`]: the SQLite store of principals, mandates, messages, fetch runs and the audit log.
//! - [`delivery`]: atomic delivery of messages into the doctors' folders on the SMB share.
//! - [`samba`]: the smb.conf that serves the doctors' folders to the medical software.
//! - [`eid`]: the Belgian eID card over PC/SC.
//! - [`mandates`]: colleagues' mandates and the main practitioner's setup, with signed evidence.
//! - [`credentials`]: doctors' keystores and passwords, encrypted at rest.
//! - [`xmlsec`]: XML canonicalisation, XML-DSig and WS-Security (re-exported crate).

pub mod credentials;
pub mod delivery;
pub mod ehealth;
pub mod eid;
pub mod mandates;
pub mod samba;
pub mod store;

/// XML canonicalisation, XML-DSig and WS-Security, kept in their own crate so that the platform
/// simulator can share them without depending on the service.
pub use practicebox_xmlsec as xmlsec;
