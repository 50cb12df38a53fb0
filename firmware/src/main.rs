//! The `practicebox` command line: parses arguments and calls the library.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
#[cfg(feature = "demo")]
use practicebox::demo::{DemoArgs, run_demo};
use practicebox::ehealth::fetch::{FetchArgs, run_fetch};
use practicebox::ehealth::unseal::command::{UnsealArgs, run_unseal};
use practicebox::mandates::command::{MandateCommand, SetupArgs, run_mandate, run_setup};
use practicebox::samba::command::{SambaCommand, run_samba};
use practicebox::service::command::{
    ConfigCommand, RunArgs, StatusArgs, check_config, print_status, run_service,
};
use practicebox::stick::command::{StickCommand, run_stick};

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
    /// Run the box against a simulated eHealth platform, with a practice and realistic mail
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
    /// Fetch every doctor's eHealthBox continuously and deliver to the share
    Run(RunArgs),
    /// Print one status line per doctor
    Status(StatusArgs),
    /// Check the service configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Open a sealed eHealth message with the doctor's keystore and write its content
    Unseal(UnsealArgs),
    /// Fetch a doctor's eHealthBox INBOX once and print one line per message
    Fetch(FetchArgs),
    /// Set up the box's main practitioner with the eHealth certificate and the eID
    Setup(SetupArgs),
    /// Add, list, remove or verify colleagues' mandates
    #[command(subcommand)]
    Mandate(MandateCommand),
    /// Install the Samba shares that the service wrote (run as root on the box)
    #[command(subcommand)]
    Samba(SambaCommand),
    /// List the eHealth keystores on the USB sticks in the box (run as the service account)
    #[command(subcommand)]
    Stick(StickCommand),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // The demo prints its own lines, so its log shows errors only unless RUST_LOG sets a level.
    let default_level = match &cli.command {
        #[cfg(feature = "demo")]
        Command::Demo(_) => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Colours only on a terminal: the journal and the logs of scripted commands get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo(args) => run_demo(&args).map(|()| ExitCode::SUCCESS),
        Command::Run(args) => run_service(&args).map(|()| ExitCode::SUCCESS),
        Command::Status(args) => print_status(&args).map(|()| ExitCode::SUCCESS),
        Command::Config(command) => Ok(check_config(&command)),
        Command::Unseal(args) => run_unseal(&args).map(|()| ExitCode::SUCCESS),
        Command::Fetch(args) => run_fetch(&args).map(|()| ExitCode::SUCCESS),
        Command::Setup(args) => run_setup(&args).map(|()| ExitCode::SUCCESS),
        Command::Mandate(command) => run_mandate(&command).map(|()| ExitCode::SUCCESS),
        Command::Samba(command) => run_samba(&command).map(|()| ExitCode::SUCCESS),
        Command::Stick(command) => run_stick(&command).map(|()| ExitCode::SUCCESS),
    }
}
