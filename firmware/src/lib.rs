//! PracticeBox service library.

pub mod samba;
pub mod xmlsec;
