//! PracticeBox front panel devices.
#![forbid(unsafe_code)]
