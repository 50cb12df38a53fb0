//! The front panel: screens on the 128x64 display, the LED rules, the menu and the mandate
//! wizard, in Dutch, French and English.
//!
//! The [`Panel`] controller is a state machine fed with button presses, typed keys, status
//! snapshots and clock ticks. It draws each screen into a frame and leaves slow wizard steps to
//! its caller. The [`PanelRunner`] copies frames to any
//! [`Display`](practicebox_hardware::Display), sets the LEDs and runs those slow steps. The
//! service runs it on the board's devices, the demo on the simulated ones.
//!
//! # Layout
//! - [`text`]: the message catalogue, one table per language.
//! - [`render`]: the ISO-8859-1 font, the screen grid, wrapping; [`pages`]: shared layouts.
//! - [`status_screen`]: the default screen and a principal's details; [`leds`]: the LEDs.
//! - [`controller`]: the state machine and the menu screens.
//! - [`wizard`]: the mandate workflow driven with the buttons, with [`entry`] (character and
//!   date pickers) and [`errors`] (every workflow error in plain words).
//! - [`certificates`]: the [`CertificateSource`] trait, and a folder used in place of the USB
//!   stick in tests and the demo.
//! - [`stick_certificates`]: the stick on the box, mounted through the helper.
//! - [`eid_reader`]: opening the eID. [`keys`]: keyboard input, and [`keyboard`]: the USB
//!   keyboards that type it.
//! - [`gesture`]: short and long presses from button events.
//! - [`settings`]: the language, kept in the state folder; [`network`]: addresses and shares.
//! - [`runner`]: the loop over the devices; [`service`]: the panel in `practicebox run`.

pub mod certificates;
pub mod controller;
pub mod eid_reader;
pub mod entry;
pub mod errors;
pub mod gesture;
pub mod keyboard;
pub mod keys;
pub mod leds;
pub mod network;
pub mod pages;
pub mod render;
pub mod runner;
pub mod service;
pub mod settings;
pub mod status_screen;
pub mod stick_certificates;
pub mod text;
pub mod wizard;

pub use certificates::{
    CertificateSource, CertificateSourceError, FolderCertificates, FoundCertificate,
};
pub use controller::{Panel, PanelContext, PanelInput};
pub use eid_reader::{EidConnector, PcscConnector};
pub use keys::{KeyEvent, KeyInput};
pub use runner::PanelRunner;
pub use stick_certificates::StickCertificates;
pub use text::Language;
