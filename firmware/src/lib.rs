//! PracticeBox service library.

/// XML canonicalisation, XML-DSig and WS-Security, kept in their own crate so that the platform
/// simulator can share them without depending on the service.
pub use practicebox_xmlsec as xmlsec;
