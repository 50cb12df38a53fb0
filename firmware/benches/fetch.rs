//! Throughput and footprint of the service: 20 doctors with 100 sealed messages each in their
//! eHealthBox, each platform call served after 20 ms of simulated latency.
//!
//! The benchmark process runs the platform simulator and starts itself a second time as the
//! service (`service::run` from a configuration file, as `practicebox run` does), so that the
//! service's CPU time and memory are measured apart from the simulator's. It reports:
//! - messages per second, from the service being ready until every message is in BININBOX;
//! - CPU seconds per 1,000 messages (`getrusage` of the service process over that span);
//! - the lower bound on the run time that the latency and the concurrency allow;
//! - VmRSS of the idle service, 20 principals, after the run has settled.
//!
//! Run it with `cargo bench -p practicebox --bench fetch` (release profile). It prints figures;
//! it checks no threshold.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use ehealth_sim::ehbox::Folder;
use ehealth_sim::pki::KeystoreOptions;
use ehealth_sim::seed;
use nix::sys::resource::{UsageWho, getrusage};
use practicebox::config::ServiceConfig;
use practicebox::demo::mail;
use practicebox::demo::practice::{CA_FILE, Practice, PracticeConfig};
use practicebox::scheduler::shutdown::ShutdownTrigger;

const DOCTORS: usize = 20;
const MESSAGES_PER_DOCTOR: usize = 100;
const LATENCY: Duration = Duration::from_millis(20);
const SEED: u64 = 2_024;
/// How long the service idles after the run before its memory is read.
const SETTLE: Duration = Duration::from_secs(15);
/// How long the run may take before the benchmark gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);
/// The argument that starts this program as the service.
const SERVICE_ARG: &str = "--service-config";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(position) = args.iter().position(|arg| arg == SERVICE_ARG) {
        let config = args
            .get(position + 1)
            .context("missing configuration path")?;
        return run_service(Path::new(config));
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run_benchmark())
}

/// Runs `service::run` and serves the `measure` and `stop` commands read from stdin.
fn run_service(config: &Path) -> Result<()> {
    let config = ServiceConfig::load(config)?;
    // The same runtime as `practicebox run`.
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let trigger = ShutdownTrigger::new();
        let signal = trigger.signal();
        let service = tokio::spawn(async move { practicebox::service::run(&config, signal).await });
        println!("ready {}", Usage::read()?.line());

        // Standard input blocks, so a thread reads it and hands each line over.
        let (sender, mut commands) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        while let Some(command) = commands.recv().await {
            if command != "measure" {
                break;
            }
            println!("usage {}", Usage::read()?.line());
        }
        trigger.trigger();
        service.await??;
        Ok(())
    })
}

/// CPU time and memory of this process.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu: Duration,
    rss_kib: u64,
    peak_rss_kib: u64,
}

impl Usage {
    fn read() -> Result<Usage> {
        let usage = getrusage(UsageWho::RUSAGE_SELF)?;
        let micros = |time: nix::sys::time::TimeVal| {
            Duration::from_secs(time.tv_sec() as u64) + Duration::from_micros(time.tv_usec() as u64)
        };
        let status = std::fs::read_to_string("/proc/self/status")?;
        Ok(Usage {
            cpu: micros(usage.user_time()) + micros(usage.system_time()),
            rss_kib: status_field(&status, "VmRSS:")?,
            peak_rss_kib: status_field(&status, "VmHWM:")?,
        })
    }

    fn line(&self) -> String {
        format!(
            "{} {} {}",
            self.cpu.as_micros(),
            self.rss_kib,
            self.peak_rss_kib
        )
    }

    fn parse(line: &str) -> Result<Usage> {
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .with_context(|| format!("invalid usage line {line:?}"))?;
        ensure!(fields.len() == 3, "invalid usage line {line:?}");
        Ok(Usage {
            cpu: Duration::from_micros(fields[0]),
            rss_kib: fields[1],
            peak_rss_kib: fields[2],
        })
    }
}

/// Reads a `kB` field of `/proc/self/status`.
fn status_field(status: &str, name: &str) -> Result<u64> {
    let line = status
        .lines()
        .find(|line| line.starts_with(name))
        .with_context(|| format!("no {name} in /proc/self/status"))?;
    let value = line[name.len()..].trim().trim_end_matches("kB").trim();
    Ok(value.parse()?)
}

/// Runs the benchmark: simulator, mail, service process, measurements.
async fn run_benchmark() -> Result<()> {
    let data = tempfile::tempdir()?;
    let share = tempfile::tempdir()?;
    println!(
        "setting up {DOCTORS} doctors and {} sealed messages ...",
        DOCTORS * MESSAGES_PER_DOCTOR
    );
    let practice = Practice::start(&PracticeConfig {
        seed: SEED,
        doctors: DOCTORS,
        data_dir: data.path().to_owned(),
        keystore_options: KeystoreOptions::fast(),
    })
    .await?;
    let doctors: Vec<_> = practice
        .doctors
        .iter()
        .map(|doctor| &doctor.doctor)
        .collect();
    let planned = mail::generate(&practice.simulator, &doctors, MESSAGES_PER_DOCTOR, SEED)?;
    let total = planned.len();
    mail::deliver(&practice.simulator, planned)?;
    practice.simulator.knobs.set_latency("*", LATENCY);

    let config = write_service_config(&practice, share.path())?;
    let simulator_before = Usage::read()?;
    let mut service = Service::start(&config)?;
    let ready = service.ready()?;
    let started = Instant::now();

    let calls = wait_until_binned(&practice, total, started).await?;
    let elapsed = started.elapsed();
    let done = service.measure()?;
    let simulator_after = Usage::read()?;

    tokio::time::sleep(SETTLE).await;
    let idle = service.measure()?;
    service.stop()?;

    let report = Report {
        messages: total,
        elapsed,
        service_cpu: done.cpu.saturating_sub(ready.cpu),
        simulator_cpu: simulator_after.cpu.saturating_sub(simulator_before.cpu),
        calls,
        idle,
    };
    report.print();
    practice.shutdown().await;
    Ok(())
}

/// Writes the service configuration for the practice: its data folder, which contains the
/// store and the credential vault, and the simulator.
fn write_service_config(practice: &Practice, share: &Path) -> Result<PathBuf> {
    let mut config = toml::Table::new();
    let path = |value: &Path| toml::Value::String(value.display().to_string());
    config.insert("data_dir".into(), path(&practice.data_dir));
    config.insert("share_root".into(), path(share));
    config.insert("fetch_interval".into(), "5m".into());

    let mut ehealth = toml::Table::new();
    ehealth.insert("preset".into(), "simulator".into());
    let port = practice.simulator.addresses.https.port();
    ehealth.insert(
        "base_url".into(),
        format!("https://localhost:{port}").into(),
    );
    ehealth.insert("ca_file".into(), path(&practice.data_dir.join(CA_FILE)));
    let mut resolve = toml::Table::new();
    resolve.insert(
        "localhost".into(),
        practice.simulator.addresses.https.to_string().into(),
    );
    ehealth.insert("resolve".into(), resolve.into());
    config.insert("ehealth".into(), ehealth.into());

    let mut clock = toml::Table::new();
    clock.insert("trust_system_clock".into(), true.into());
    config.insert("clock".into(), clock.into());

    let file = practice.data_dir.join("practicebox.toml");
    std::fs::write(&file, toml::to_string(&config)?)?;
    Ok(file)
}

/// Waits until `total` messages are in the practice's BININBOX folders; returns the platform
/// calls served meanwhile, by operation.
async fn wait_until_binned(
    practice: &Practice,
    total: usize,
    started: Instant,
) -> Result<BTreeMap<String, usize>> {
    let mut calls = BTreeMap::new();
    let mut last_sequence = 0;
    loop {
        for record in practice.simulator.log.since(last_sequence, usize::MAX) {
            last_sequence = record.sequence;
            let operation = record.operation.unwrap_or_else(|| record.path.clone());
            *calls.entry(operation).or_default() += 1;
        }
        let binned = binned_messages(practice);
        if binned == total {
            return Ok(calls);
        }
        if started.elapsed() > RUN_TIMEOUT {
            bail!("after {RUN_TIMEOUT:?} only {binned} of {total} messages are in BININBOX");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn binned_messages(practice: &Practice) -> usize {
    let platform = practice
        .simulator
        .platform
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    practice
        .doctors
        .iter()
        .filter_map(|doctor| platform.box_state(&seed::doctor_box(doctor.ssin())))
        .map(|state| {
            state
                .messages
                .iter()
                .filter(|entry| entry.folder == Folder::BinInbox)
                .count()
        })
        .sum()
}

/// The service, started as a second process of this program.
struct Service {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Service {
    fn start(config: &Path) -> Result<Service> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(SERVICE_ARG)
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the service process")?;
        let input = child.stdin.take().context("service without stdin")?;
        let output = BufReader::new(child.stdout.take().context("service without stdout")?);
        Ok(Service {
            child,
            input,
            output,
        })
    }

    fn ready(&mut self) -> Result<Usage> {
        Usage::parse(&self.read_line("ready")?)
    }

    fn measure(&mut self) -> Result<Usage> {
        writeln!(self.input, "measure")?;
        Usage::parse(&self.read_line("usage")?)
    }

    fn read_line(&mut self, prefix: &str) -> Result<String> {
        let mut line = String::new();
        self.output.read_line(&mut line)?;
        ensure!(
            line.starts_with(prefix),
            "the service wrote {line:?}, expected a {prefix} line"
        );
        Ok(line)
    }

    fn stop(mut self) -> Result<()> {
        writeln!(self.input, "stop")?;
        let status = self.child.wait()?;
        ensure!(status.success(), "the service ended with {status}");
        Ok(())
    }
}

/// The figures of one run.
struct Report {
    messages: usize,
    elapsed: Duration,
    service_cpu: Duration,
    simulator_cpu: Duration,
    calls: BTreeMap<String, usize>,
    idle: Usage,
}

impl Report {
    fn print(&self) {
        let calls: usize = self.calls.values().sum();
        let per_message = calls as f64 / self.messages as f64;
        // Each doctor's calls are sequential and the doctors run side by side, so with the calls
        // spread evenly the run cannot be shorter than this.
        let bound = LATENCY.mul_f64(calls as f64 / DOCTORS as f64);
        let thousands = self.messages as f64 / 1000.0;
        println!();
        println!("messages               {}", self.messages);
        println!("run time               {:.2} s", self.elapsed.as_secs_f64());
        println!(
            "messages per second    {:.1}",
            self.messages as f64 / self.elapsed.as_secs_f64()
        );
        println!(
            "service CPU            {:.2} s, {:.2} s per 1,000 messages",
            self.service_cpu.as_secs_f64(),
            self.service_cpu.as_secs_f64() / thousands
        );
        println!(
            "simulator CPU          {:.2} s (same machine, other process)",
            self.simulator_cpu.as_secs_f64()
        );
        println!("platform calls         {calls} ({per_message:.3} per message)");
        for (operation, count) in &self.calls {
            println!("  {operation:<22} {count}");
        }
        println!(
            "latency bound          {:.2} s ({calls} calls x {} ms / {DOCTORS} doctors), {:.1} messages per second",
            bound.as_secs_f64(),
            LATENCY.as_millis(),
            self.messages as f64 / bound.as_secs_f64()
        );
        println!(
            "idle service VmRSS     {} KiB after {} s (peak VmHWM {} KiB)",
            self.idle.rss_kib,
            SETTLE.as_secs(),
            self.idle.peak_rss_kib
        );
    }
}
