//! PracticeBox service library.

pub mod ehealth;
