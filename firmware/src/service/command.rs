//! The `run`, `status` and `config check` subcommands: arguments, logging set-up, signals.
//! `run` tells systemd when it starts to stop (see [`super::notify`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::{DEFAULT_CONFIG_FILE, ServiceConfig};
use crate::scheduler::shutdown::ShutdownTrigger;

/// Arguments of `practicebox run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Service configuration file (TOML)
    #[arg(long, value_name = "FILE", env = "PRACTICEBOX_CONFIG", default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
}

/// Arguments of `practicebox status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Service configuration file (TOML)
    #[arg(long, value_name = "FILE", env = "PRACTICEBOX_CONFIG", default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
}

/// Subcommands of `practicebox config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check a service configuration file and list every problem with its line
    Check {
        /// Service configuration file (TOML)
        file: PathBuf,
    },
}

/// `practicebox run`: runs the service until SIGTERM or SIGINT.
pub fn run_service(args: &RunArgs) -> anyhow::Result<()> {
    let config = ServiceConfig::load(&args.config)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    runtime.block_on(async {
        let trigger = ShutdownTrigger::new();
        let service = super::run(&config, trigger.signal());
        tokio::pin!(service);
        tokio::select! {
            result = &mut service => return result,
            signal = stop_signal() => {
                let name = signal?;
                tracing::info!(signal = name, "stop requested; finishing the current steps");
                if let Ok(notifier) = super::notify::Notifier::from_environment() {
                    notifier.stopping();
                }
            }
        }
        trigger.trigger();
        service.await
    })
}

/// `practicebox status`: prints one line per principal.
pub fn print_status(args: &StatusArgs) -> anyhow::Result<()> {
    let config = ServiceConfig::load(&args.config)?;
    for line in super::status_lines(&config)? {
        println!("{line}");
    }
    Ok(())
}

/// `practicebox config check FILE`: prints every problem as `FILE:LINE: message`.
pub fn check_config(command: &ConfigCommand) -> ExitCode {
    let ConfigCommand::Check { file } = command;
    match ServiceConfig::load(file) {
        Ok(config) => {
            println!(
                "{}: ok (data in {}, share {}, fetch every {:?})",
                file.display(),
                config.data_dir.display(),
                config.share_root.display(),
                config.fetch_interval
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            for problem in &error.problems {
                eprintln!("{problem}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Waits for SIGTERM (systemd) or SIGINT (Ctrl-C) and returns its name.
async fn stop_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::select! {
        _ = terminate.recv() => Ok("SIGTERM"),
        _ = interrupt.recv() => Ok("SIGINT"),
    }
}
