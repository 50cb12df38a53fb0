//! The `run`, `status` and `config check` subcommands: arguments, logging set-up, signals.
//! `run` tells systemd when it starts to stop (see [`super::notify`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::ServiceConfig;
use crate::scheduler::shutdown::ShutdownTrigger;

/// Arguments of `practicebox run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Service configuration file (TOML)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// Arguments of `practicebox status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Service configuration file (TOML)
    #[arg(long, value_name = "FILE")]
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
    restart_with_malloc_tunables();
    let runtime = service_runtime().context("cannot start the tokio runtime")?;
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

/// The tokio worker threads of the service. Its work waits on the network and the disk, and
/// the CPU-heavy steps (unsealing, file writes, store commits) run on the blocking pool.
pub const WORKER_THREADS: usize = 2;

/// The maximum number of threads in the blocking pool. Each principal's run has at most one blocking step at
/// a time, so this bounds how many principals unseal, write or commit at once. glibc gives each
/// thread that allocates while others do an arena of its own and keeps it after the thread
/// ends, so fewer threads also means less memory kept after a busy fetch.
pub const MAX_BLOCKING_THREADS: usize = 6;

/// How long an idle thread of the blocking pool is kept.
pub const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Builds the runtime of `practicebox run`: [`WORKER_THREADS`] workers and at most
/// [`MAX_BLOCKING_THREADS`] blocking threads, whatever the number of CPUs.
pub fn service_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_keep_alive(BLOCKING_KEEP_ALIVE)
        .enable_all()
        .build()
}

/// The glibc malloc settings of the service (glibc 2.26 and later; other C libraries ignore
/// them):
/// - `arena_max=2`: at most 2 malloc arenas instead of 8 per CPU. glibc keeps an arena's freed
///   memory mapped, so each extra arena adds to the memory of the idle service.
/// - `mmap_threshold=131072`: blocks of 128 KiB and more (message bodies, unsealed documents)
///   come from `mmap` and go back to the system when freed. A fixed threshold also turns off
///   glibc's raising of it after large blocks are freed, which would move them into the arenas.
/// - `trim_threshold=131072`: free memory above 128 KiB at the top of an arena is returned.
const MALLOC_TUNABLES: &str = "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072";

/// Set in the environment of the restarted service, so that it does not restart again.
const MALLOC_TUNED_ENV: &str = "PRACTICEBOX_MALLOC_TUNED";

/// Replaces this process with the same program and arguments, with [`MALLOC_TUNABLES`] in
/// `GLIBC_TUNABLES`: glibc reads its tunables only when a program starts, and setting them from
/// the program needs no `unsafe` call to `mallopt`. Tunables already in the environment come
/// after ours, so they win. Does nothing after the restart; when the restart fails, logs it and
/// returns, and the service runs with glibc's defaults.
fn restart_with_malloc_tunables() {
    use std::os::unix::process::CommandExt as _;

    if std::env::var_os(MALLOC_TUNED_ENV).is_some() {
        return;
    }
    let tunables = match std::env::var("GLIBC_TUNABLES") {
        Ok(existing) if !existing.is_empty() => format!("{MALLOC_TUNABLES}:{existing}"),
        _ => MALLOC_TUNABLES.to_owned(),
    };
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => {
            tracing::warn!(%error, "cannot find this program to restart it with malloc settings");
            return;
        }
    };
    let error = std::process::Command::new(&program)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", tunables)
        .env(MALLOC_TUNED_ENV, "1")
        .exec();
    tracing::warn!(program = %program.display(), %error, "cannot restart with malloc settings; running with glibc's defaults");
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
            let shares = match &config.samba {
                Some(samba) => format!("Samba shares to {}", samba.fragment.display()),
                None => "no Samba shares".to_owned(),
            };
            println!(
                "{}: ok ({} principal(s), fetch every {:?}, {shares})",
                file.display(),
                config.principals.len(),
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
