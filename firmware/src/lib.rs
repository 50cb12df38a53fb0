//! PracticeBox service library.
//!
//! # Layout
//! - [`store`]: the SQLite store of principals, mandates, messages, fetch runs and the audit log.
//! - [`demo`]: `practicebox demo`, the box at work against the platform simulator.
//! - [`delivery`]: atomic delivery of messages into the doctors' folders on the SMB share.
//! - [`samba`]: the smb.conf that serves the doctors' folders to the medical software.
//! - [`xmlsec`]: XML canonicalisation, XML-DSig and WS-Security (re-exported crate).

#[cfg(feature = "demo")]
pub mod demo;
pub mod delivery;
pub mod ehealth;
pub mod samba;
pub mod store;

/// XML canonicalisation, XML-DSig and WS-Security, kept in their own crate so that the platform
/// simulator can share them without depending on the service.
pub use practicebox_xmlsec as xmlsec;
