//! The `practicebox` command line: parses arguments and calls the library.

use clap::{Parser, Subcommand};
use practicebox::ehealth::unseal::command::{UnsealArgs, run_unseal};
use practicebox::mandates::command::{MandateCommand, SetupArgs, run_mandate, run_setup};

#[derive(Debug, Parser)]
#[command(
    name = "practicebox",
    version,
    about = "PracticeBox eHealthBox appliance"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open a sealed eHealth message with the doctor's keystore and write its content
    Unseal(UnsealArgs),
    /// Set up the box's main practitioner with the eHealth certificate and the eID
    Setup(SetupArgs),
    /// Add, list, remove or verify colleagues' mandates
    #[command(subcommand)]
    Mandate(MandateCommand),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Unseal(args) => run_unseal(&args),
        Command::Setup(args) => run_setup(&args),
        Command::Mandate(command) => run_mandate(&command),
    }
}
