//! PracticeBox service library.

pub mod delivery;
pub mod store;
pub mod xmlsec;
