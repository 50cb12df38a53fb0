//! `practicebox samba install`: the root side of the share fragment (see [`super::install`]).

use std::path::PathBuf;

use anyhow::Context as _;

use super::install::install_fragment;
use crate::config::ServiceConfig;

/// Subcommands of `practicebox samba`.
#[derive(Debug, clap::Subcommand)]
pub enum SambaCommand {
    /// Check the shares the service wrote and install them as a file that smb.conf includes
    Install {
        /// Service configuration file (TOML), whose `[samba]` table names the service's fragment
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The file to write, which smb.conf includes
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// Runs a `practicebox samba` subcommand.
pub fn run_samba(command: &SambaCommand) -> anyhow::Result<()> {
    let SambaCommand::Install { config, output } = command;
    let config = ServiceConfig::load(config)?;
    let settings = config.samba.as_ref().with_context(|| {
        format!(
            "{} has no [samba] table, so the service writes no shares; add one",
            config.file.display()
        )
    })?;
    let (shares, changed) =
        install_fragment(settings, &config.share_root, output).with_context(|| {
            format!(
                "the shares in {} were not installed; {} is unchanged",
                settings.fragment.display(),
                output.display()
            )
        })?;

    let names: Vec<&str> = shares.iter().map(|name| name.as_str()).collect();
    let state = if changed { "installed" } else { "unchanged" };
    println!(
        "{}: {state}, {} share(s): {}",
        output.display(),
        names.len(),
        names.join(", ")
    );
    Ok(())
}
