//! PracticeBox service library.
