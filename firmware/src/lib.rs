//! PracticeBox service library.

pub mod eid;
pub mod xmlsec;
