//! `ehealth-sim`: the eHealth platform simulator's command line.
//!
//! It parses arguments and wires the library together: `pki` writes a test PKI, `serve` runs the
//! simulator, `seal` seals a file to ETKs, `send` publishes a message as a test doctor, `admin`
//! drives a running simulator. Logs go to stderr
//! (`RUST_LOG` sets the filter); command output goes to stdout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use ehealth_sim::admin::client::AdminClient;
use ehealth_sim::admin::{
    CreateBox, IndexShift, MoveClock, SeedMessages, SendGenerated, SetBinary, SetLatency,
    SetTokenLifetime,
};
use ehealth_sim::clock::SimClock;
use ehealth_sim::knobs::{FaultRule, Injection, Trigger};
use ehealth_sim::peer::Peer;
use ehealth_sim::pki::{self, TestPki};
use ehealth_sim::request_log;
use ehealth_sim::seal::{SealArgs, run_seal_command};
use ehealth_sim::seed;
use ehealth_sim::send::{Outgoing, send_message};
use ehealth_sim::server::state_dir::{StatePki, load_or_create_pki};
use ehealth_sim::server::{ConnectionTimeouts, SimConfig, Simulator};
use ehealth_sim::soap::{BinaryMode, Service};
use jiff::{SignedDuration, Timestamp};

/// A strict stand-in of the eHealth platform (STS, eHealthBox v3, ETK depot) on loopback.
#[derive(Debug, Parser)]
#[command(name = "ehealth-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the test PKI (CAs, STS, ETK-RA, TLS server, the practice doctors' keystores) into
    /// a folder, with a manifest.json listing every file.
    Pki(PkiArgs),
    /// Run the simulator: HTTPS (and optionally HTTP and the admin API) on loopback addresses.
    Serve(ServeArgs),
    /// Seal a file to the holders of ETKs, as an eHealth sender does.
    Seal(SealArgs),
    /// Send one message through the publication service as a test doctor: token from the STS,
    /// recipient ETK from the ETK depot, content sealed, signed sendMessage.
    Send(SendArgs),
    /// Drive a running simulator through its admin API.
    Admin(AdminArgs),
}

#[derive(Debug, Args)]
struct SendArgs {
    /// State folder of the running simulator (`serve --state`), for the doctors' credentials.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Base URL of the simulator, loopback only, with the path prefix if any.
    #[arg(long, default_value = "https://localhost:8443")]
    url: String,
    /// INSZ of the sending doctor; the first practice doctor other than the recipient by default.
    #[arg(long)]
    from: Option<String>,
    /// INSZ of the recipient doctor.
    #[arg(long)]
    to: String,
    /// File to send as the main document.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Document title; the file name by default.
    #[arg(long)]
    title: Option<String>,
    /// MIME type of the document.
    #[arg(long, default_value = "text/plain")]
    mime_type: String,
    /// Send the content in clear instead of sealing it to the recipient.
    #[arg(long)]
    plain: bool,
}

#[derive(Debug, Args)]
struct PkiArgs {
    /// Folder to write the PKI into; created if missing, existing files are replaced.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Seed of every key, serial number and password; the same seed gives the same PKI files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// State folder; the PKI is created in DIR/pki on the first start and reused afterwards.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// HTTPS listener address, loopback only (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Plain HTTP listener address, loopback only; no HTTP listener when absent.
    #[arg(long, value_name = "ADDR")]
    listen_http: Option<SocketAddr>,
    /// Admin API listener address, loopback only; no admin API when absent.
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
    /// Seed of the PKI (on first start), the fault injection and the generated mail.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Path prefix before every service path, such as `/sim`.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Fill the practice doctors' boxes with generated, sealed mail at start.
    #[arg(long)]
    practice: bool,
    /// Give every STS token exactly this lifetime in seconds, to test token expiry.
    #[arg(long, value_name = "SECONDS")]
    token_lifetime: Option<u64>,
}

#[derive(Debug, Args)]
struct AdminArgs {
    /// Address of the simulator's admin API (`serve --admin`).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8444",
        env = "EHEALTH_SIM_ADMIN"
    )]
    admin: SocketAddr,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Show the listener addresses, the seed, the clock and the test doctors.
    Status,
    /// List every eHealthBox with its size and message counts.
    Boxes,
    /// Create the personal eHealthBox (Type INSS, Quality DOCTOR) of a test doctor.
    CreateBox {
        /// The doctor's INSZ.
        #[arg(long)]
        ssin: String,
        /// MaxSize in bytes; the platform default when absent.
        #[arg(long)]
        max_size: Option<u64>,
    },
    /// Show one doctor's eHealthBox with every message.
    ShowBox {
        /// The doctor's INSZ.
        #[arg(long)]
        ssin: String,
    },
    /// Deliver generated, sealed messages into a doctor's INBOX.
    Seed {
        /// The doctor's INSZ.
        #[arg(long)]
        ssin: String,
        /// Number of messages.
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
    /// Deliver one generated, sealed message to a doctor.
    Send {
        /// The recipient doctor's INSZ.
        #[arg(long)]
        to: String,
    },
    /// Show the knobs (fault rules, latency, binary mode).
    Knobs,
    /// Add a fault injection rule.
    Fault(FaultArgs),
    /// Remove every fault injection rule.
    ClearFaults,
    /// Set the latency of an operation (`*` for all) in milliseconds; 0 removes it.
    Latency {
        #[arg(long, default_value = "*")]
        operation: String,
        #[arg(long)]
        millis: u64,
    },
    /// Set how getFullMessage sends binary content.
    Binary {
        #[arg(long, value_enum)]
        mode: Option<BinaryModeArg>,
        /// Base64-encode content once more, as some senders do.
        #[arg(long)]
        double_base64: Option<bool>,
    },
    /// Force the lifetime of new STS tokens in seconds; without --seconds, back to normal.
    TokenLifetime {
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Make a generated message arrive right after the next getMessagesList page of a box.
    IndexShift {
        /// The doctor's INSZ.
        #[arg(long)]
        ssin: String,
    },
    /// Show the clock, or move it.
    Clock {
        /// Seconds to move the clock by (negative moves it back).
        #[arg(long, allow_hyphen_values = true)]
        advance: Option<i64>,
        /// Freeze the clock at an RFC 3339 time, or at `now`.
        #[arg(long)]
        freeze_at: Option<String>,
    },
    /// List the tokens the STS issued.
    Tokens,
    /// Show the request log.
    Requests {
        /// Show records after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Debug, Args)]
struct FaultArgs {
    /// Operation name as in the WSDL (getMessagesList, sendMessage, RequestSecurityToken, GetEtk),
    /// or `*` for every operation.
    #[arg(long, default_value = "*")]
    operation: String,
    /// What goes wrong.
    #[arg(long, value_enum)]
    kind: FaultKindArg,
    /// The platform code of a SOAP fault, such as SOA-02001.
    #[arg(long, required_if_eq("kind", "soap-fault"))]
    code: Option<String>,
    /// The delay of a slow response, in milliseconds.
    #[arg(long, required_if_eq("kind", "delay"))]
    millis: Option<u64>,
    /// Fire on each of the next N matching calls.
    #[arg(long, conflicts_with = "rate")]
    next: Option<u32>,
    /// Fire on each matching call with this probability (0.0 to 1.0).
    #[arg(long)]
    rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FaultKindArg {
    SoapFault,
    Http500,
    Http503,
    Drop,
    Delay,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BinaryModeArg {
    Inline,
    Swaref,
    Mtom,
}

fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Pki(args) => write_pki(&args),
        Command::Seal(args) => run_seal_command(&args),
        Command::Serve(args) => runtime()?.block_on(serve(args)),
        Command::Send(args) => runtime()?.block_on(send(args)),
        Command::Admin(args) => runtime()?.block_on(admin(args)),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the tokio runtime failed")
}

fn write_pki(args: &PkiArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {} failed", args.out.display()))?;
    let pki = TestPki::generate(args.seed, Timestamp::now(), &pki::practice())?;
    let manifest = pki.write_to(&args.out)?;
    println!("test PKI written to {}", args.out.display());
    println!(
        "TLS trust anchor: {}",
        args.out.join(&manifest.tls_ca).display()
    );
    for doctor in &manifest.doctors {
        println!(
            "doctor {} {} INSZ {}: {} (password in {})",
            doctor.first_name,
            doctor.last_name,
            doctor.ssin,
            args.out.join(&doctor.keystore).display(),
            args.out.join(&doctor.password_file).display()
        );
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let state = load_or_create_pki(&args.state, args.seed, Timestamp::now())
        .with_context(|| format!("preparing the PKI in {} failed", args.state.display()))?;
    let config = SimConfig {
        https: args.listen,
        http: args.listen_http,
        admin: args.admin,
        path_prefix: args.prefix.clone(),
        seed: args.seed,
        pki: state.pki.clone(),
        clock: Arc::new(SimClock::real_time()),
        request_log_capacity: request_log::DEFAULT_CAPACITY,
        request_log_bytes: request_log::DEFAULT_BYTE_BUDGET,
        timeouts: ConnectionTimeouts::default(),
        forced_token_lifetime: args.token_lifetime.map(lifetime_seconds).transpose()?,
    };
    let simulator = Simulator::start(config).await?;
    if args.practice {
        let admin = simulator.admin_state();
        let report = tokio::task::spawn_blocking(move || admin.seed_practice()).await??;
        println!(
            "practice seeded: {} messages in {} boxes",
            report.message_ids.len(),
            report.boxes.len()
        );
    }
    print_addresses(&simulator.addresses, &state);

    wait_for_stop_signal().await?;
    simulator.shutdown().await;
    Ok(())
}

fn lifetime_seconds(seconds: u64) -> anyhow::Result<SignedDuration> {
    match i64::try_from(seconds) {
        Ok(seconds) if seconds > 0 => Ok(SignedDuration::from_secs(seconds)),
        _ => bail!(
            "invalid --token-lifetime {seconds}; give a number of seconds from 1 to {}",
            i64::MAX
        ),
    }
}

fn print_addresses(addresses: &ehealth_sim::server::Addresses, state: &StatePki) {
    for service in Service::ALL {
        println!(
            "{:<14} {}",
            format!("{service:?}"),
            addresses.https_url(service)
        );
    }
    if let Some(http) = addresses.http {
        println!("plain HTTP     http://{http}{}", addresses.prefix);
    }
    if let Some(admin) = addresses.admin_url() {
        println!("admin API      {admin}{}", ehealth_sim::admin::ADMIN_PREFIX);
    }
    println!(
        "TLS trust anchor: {}",
        state.dir.join(&state.manifest.tls_ca).display()
    );
    for doctor in &state.manifest.doctors {
        println!(
            "doctor {} {} INSZ {}: {} (password in {})",
            doctor.first_name,
            doctor.last_name,
            doctor.ssin,
            state.dir.join(&doctor.keystore).display(),
            state.dir.join(&doctor.password_file).display()
        );
    }
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler failed")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C failed")?,
        _ = terminate.recv() => {}
    }
    tracing::info!("stop signal received");
    Ok(())
}

async fn send(args: SendArgs) -> anyhow::Result<()> {
    let pki_dir = args.state.join(ehealth_sim::server::state_dir::PKI_DIR);
    let pki = TestPki::load_from(&pki_dir).with_context(|| {
        format!(
            "loading the PKI of {} failed; start `serve --state` first",
            args.state.display()
        )
    })?;
    let from = match args.from {
        Some(from) => from,
        None => seed::practice_doctors(&pki)
            .iter()
            .map(|doctor| doctor.spec.ssin.clone())
            .find(|ssin| *ssin != args.to)
            .context("the PKI has no practice doctor to send from; give --from")?,
    };
    let content = std::fs::read(&args.file)
        .with_context(|| format!("reading {} failed", args.file.display()))?;
    let file_name = args
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let now = Timestamp::now();
    let outgoing = Outgoing {
        from,
        to: args.to,
        title: args.title.unwrap_or_else(|| file_name.clone()),
        file_name,
        mime_type: args.mime_type,
        content,
        encrypt: !args.plain,
        publication_id: format!("S{}", now.as_millisecond() % 1_000_000_000_000),
    };

    let peer = Peer::new(&args.url, &[pki.root.certificate_der()])?;
    let reply = send_message(&peer, &pki, &outgoing, now).await?;
    println!("{reply}");
    Ok(())
}

async fn admin(args: AdminArgs) -> anyhow::Result<()> {
    let client = AdminClient::new(args.admin)?;
    let box_path = |ssin: &str| format!("/boxes/INSS/{ssin}/DOCTOR");
    let value = match args.command {
        AdminCommand::Status => client.get("/status").await?,
        AdminCommand::Boxes => client.get("/boxes").await?,
        AdminCommand::CreateBox { ssin, max_size } => {
            client.post("/boxes", &CreateBox { ssin, max_size }).await?
        }
        AdminCommand::ShowBox { ssin } => client.get(&box_path(&ssin)).await?,
        AdminCommand::Seed { ssin, count } => {
            client
                .post(
                    &format!("{}/messages", box_path(&ssin)),
                    &SeedMessages { count },
                )
                .await?
        }
        AdminCommand::Send { to } => client.post("/send", &SendGenerated { to }).await?,
        AdminCommand::Knobs => client.get("/knobs").await?,
        AdminCommand::Fault(fault) => client.post("/knobs/faults", &fault_rule(fault)?).await?,
        AdminCommand::ClearFaults => client.delete("/knobs/faults").await?,
        AdminCommand::Latency { operation, millis } => {
            client
                .put("/knobs/latency", &SetLatency { operation, millis })
                .await?
        }
        AdminCommand::Binary {
            mode,
            double_base64,
        } => {
            let mode = mode.map(|mode| match mode {
                BinaryModeArg::Inline => BinaryMode::Inline,
                BinaryModeArg::Swaref => BinaryMode::SwaRef,
                BinaryModeArg::Mtom => BinaryMode::Mtom,
            });
            client
                .put(
                    "/knobs/binary",
                    &SetBinary {
                        mode,
                        double_base64,
                    },
                )
                .await?
        }
        AdminCommand::TokenLifetime { seconds } => {
            client
                .put("/knobs/token-lifetime", &SetTokenLifetime { seconds })
                .await?
        }
        AdminCommand::IndexShift { ssin } => {
            client
                .post("/knobs/index-shift", &IndexShift { ssin })
                .await?
        }
        AdminCommand::Clock { advance, freeze_at } => {
            if advance.is_none() && freeze_at.is_none() {
                client.get("/clock").await?
            } else {
                client
                    .post(
                        "/clock",
                        &MoveClock {
                            advance_seconds: advance,
                            freeze_at,
                        },
                    )
                    .await?
            }
        }
        AdminCommand::Tokens => client.get("/tokens").await?,
        AdminCommand::Requests { after, limit } => {
            client
                .get(&format!("/requests?after={after}&limit={limit}"))
                .await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

fn fault_rule(args: FaultArgs) -> anyhow::Result<FaultRule> {
    let injection = match args.kind {
        FaultKindArg::SoapFault => Injection::SoapFault {
            code: args.code.unwrap_or_default(),
            message: None,
        },
        FaultKindArg::Http500 => Injection::Http500,
        FaultKindArg::Http503 => Injection::Http503,
        FaultKindArg::Drop => Injection::DropConnection,
        FaultKindArg::Delay => Injection::Delay {
            millis: args.millis.unwrap_or_default(),
        },
    };
    let trigger = match (args.next, args.rate) {
        (Some(count), None) => Trigger::NextCalls(count),
        (None, Some(rate)) => Trigger::Rate(rate),
        (None, None) => Trigger::NextCalls(1),
        (Some(_), Some(_)) => bail!("give either --next or --rate, not both"),
    };
    Ok(FaultRule {
        operation: args.operation,
        injection,
        trigger,
    })
}
