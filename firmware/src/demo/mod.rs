//! `practicebox demo`: the box at work on realistic mail, on one machine.
//!
//! The demo starts the eHealth platform simulator in-process on 127.0.0.1 and sets up a group
//! practice: a main doctor and two colleagues who granted a mandate. It sends sealed mail into
//! their eHealthBoxes in waves and runs the box's own scheduler and fetcher against them, which
//! deliver into a share folder. It prints what happens as it happens: per doctor what arrived and
//! where it went, held messages with the reason, and the status screen with the LED state.
//!
//! # Layout
//! - [`practice`]: the simulator, the doctors' keystores and the store; shared with the
//!   end-to-end test and the throughput benchmark.
//! - [`mail`]: sealed mail with its plaintext, and its delivery in waves.
//! - [`fetching`]: the scheduler, fetcher and status consumer wired for a practice.
//! - [`tracker`]: what became of each message sent, read from the store.
//! - [`view`]: the terminal lines.
//! - [`screen`]: the panel's status screen on the simulated display and LEDs.
//! - [`run`]: the command itself.

pub mod fetching;
pub mod mail;
pub mod practice;
pub mod run;
pub mod screen;
pub mod tracker;
pub mod view;

pub use run::{DemoArgs, run_demo};
