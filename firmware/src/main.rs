//! The `practicebox` command line: parses arguments and calls the library.

use clap::{Parser, Subcommand};
use practicebox::ehealth::fetch::{FetchArgs, run_fetch};
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
    /// Fetch a doctor's eHealthBox INBOX once and print one line per message
    Fetch(FetchArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Unseal(args) => run_unseal(&args),
        Command::Fetch(args) => run_fetch(&args),
    }
}
