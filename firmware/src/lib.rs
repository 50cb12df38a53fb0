//! PracticeBox service library.

pub mod xmlsec;
