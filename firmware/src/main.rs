//! The `practicebox` command line: parses arguments and calls the library.

use clap::{Parser, Subcommand};
use practicebox::ehealth::unseal::command::{UnsealArgs, run_unseal};

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Unseal(args) => run_unseal(&args),
    }
}
