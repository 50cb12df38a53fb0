//! `virtual-eid`: runs a virtual Belgian eID card in the vpcd virtual reader of a running pcscd,
//! or writes its TEST root certificate for the box's eID trust configuration.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use virtual_eid::{Applet, CardProfile, VirtualCard, VpcdConnection};
use zeroize::Zeroizing;

/// A virtual Belgian eID card for the vpcd reader (vsmartcard) of pcscd.
///
/// Start pcscd with the vpcd driver first (see `start-pcscd-vpcd`); vpcd is the server and the
/// card connects to it on 127.0.0.1. Every certificate is a TEST certificate generated from the
/// seed, so the same options always give the same card.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// vpcd port on 127.0.0.1 (35963 is slot 0, "Virtual PCD 00 00").
    #[arg(long, default_value_t = virtual_eid::pcscd::DEFAULT_VPCD_PORT)]
    port: u16,
    /// Applet generation: 1.7 (RSA-2048) or 1.8 (ECDSA P-384).
    #[arg(long, default_value = "1.8")]
    applet: Applet,
    /// The citizen's national register number (INSZ), 11 digits with valid check digits.
    #[arg(long, default_value = virtual_eid::DEFAULT_SSIN)]
    citizen_ssin: String,
    /// The citizen's surname.
    #[arg(long, default_value = "Vandenberghe-Lemaître")]
    name: String,
    /// The citizen's first two given names.
    #[arg(long, default_value = "Jan-Willem Alexandre")]
    first_names: String,
    /// Card PIN, 4 to 12 digits (a test PIN: command lines are visible to other users).
    #[arg(long, env = "VIRTUAL_EID_PIN", default_value = virtual_eid::DEFAULT_PIN, hide_env_values = true)]
    pin: String,
    /// Seed of every key and certificate.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Emulate a card that is not a Belgian eID (other ATR, no Belpic applet).
    #[arg(long)]
    not_an_eid: bool,
    /// Join this network namespace before connecting, for example /proc/PID/ns/net of the test
    /// pcscd that `start-pcscd-vpcd` printed.
    #[arg(long)]
    netns: Option<PathBuf>,
    /// Write the TEST root certificate (PEM) for this applet and seed to FILE and exit.
    #[arg(long, value_name = "FILE")]
    write_root: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let profile = profile(&args);

    if let Some(path) = &args.write_root {
        let card = VirtualCard::new(&profile)?;
        let root = card
            .image()
            .context("the card has no PKI")?
            .pki
            .root
            .pem()?;
        std::fs::write(path, root).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
        return Ok(());
    }

    let card = if args.not_an_eid {
        VirtualCard::not_an_eid()
    } else {
        VirtualCard::new(&profile)?
    };
    if let Some(netns) = &args.netns {
        join_namespace(netns)?;
    }
    let connection =
        VpcdConnection::connect(args.port, virtual_eid::shared(card)).with_context(|| {
            format!(
                "cannot connect to vpcd on 127.0.0.1:{}; start pcscd with the vpcd driver first",
                args.port
            )
        })?;
    tracing::info!(
        port = args.port,
        applet = args.applet.label(),
        "virtual eID inserted"
    );
    connection.wait()?;
    tracing::info!("vpcd closed the connection");
    Ok(())
}

fn profile(args: &Args) -> CardProfile {
    let mut profile = CardProfile::new(args.applet);
    profile.seed = args.seed;
    profile.ssin = args.citizen_ssin.clone();
    profile.name = args.name.clone();
    profile.first_names = args.first_names.clone();
    profile.pin = Zeroizing::new(args.pin.clone());
    profile
}

fn join_namespace(path: &PathBuf) -> anyhow::Result<()> {
    let namespace = File::open(path)
        .with_context(|| format!("cannot open network namespace {}", path.display()))?;
    rustix::thread::move_into_link_name_space(
        namespace.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .with_context(|| {
        format!(
            "cannot join network namespace {} (needs root)",
            path.display()
        )
    })?;
    Ok(())
}
