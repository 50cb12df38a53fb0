//! PracticeBox service library.

pub mod ehealth;
pub mod xmlsec;
