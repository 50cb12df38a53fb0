//! Throughput and footprint of the service: 20 doctors with 100 sealed messages each in their
//! eHealthBox, each platform call served after 20 ms of simulated latency.
//!
//! The benchmark process runs the platform simulator and starts the `practicebox` binary of this
//! build as the service (`practicebox run --config FILE`), so that the service's CPU time and
//! memory are those of the real program, measured apart from the simulator's. The service reports
//! that it is ready through `NOTIFY_SOCKET`, as it does to systemd. The benchmark reports:
//! - messages per second, from the service being ready until every message is in BININBOX;
//! - CPU seconds per 1,000 messages (`/proc/PID/stat` of the service over that span);
//! - the lower bound on the run time that the latency and the concurrency allow;
//! - VmRSS of the idle service, 20 principals, after the run has settled (`/proc/PID/status`).
//!
//! Run it with `cargo bench -p practicebox --bench fetch` (release profile). It prints figures;
//! it checks no threshold.

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use ehealth_sim::ehbox::Folder;
use ehealth_sim::pki::KeystoreOptions;
use ehealth_sim::seed;
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, SysconfVar, sysconf};
use practicebox::demo::mail;
use practicebox::demo::practice::{CA_FILE, Practice, PracticeConfig};
use practicebox::store::Role;

const DOCTORS: usize = 20;
const MESSAGES_PER_DOCTOR: usize = 100;
const LATENCY: Duration = Duration::from_millis(20);
const SEED: u64 = 2_024;
/// How long the service idles after the run before its memory is read.
const SETTLE: Duration = Duration::from_secs(15);
/// How long the run may take before the benchmark gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);
/// How long the service may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The service program of this build.
const SERVICE_PROGRAM: &str = env!("CARGO_BIN_EXE_practicebox");

fn main() -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run_benchmark())
}

/// CPU time and memory of a process.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu: Duration,
    rss_kib: u64,
    peak_rss_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    threads: u64,
}

impl Usage {
    /// Reads the CPU time of this process (the simulator).
    fn of_self() -> Result<Usage> {
        let usage = getrusage(UsageWho::RUSAGE_SELF)?;
        let micros = |time: nix::sys::time::TimeVal| {
            Duration::from_secs(time.tv_sec() as u64) + Duration::from_micros(time.tv_usec() as u64)
        };
        Ok(Usage {
            cpu: micros(usage.user_time()) + micros(usage.system_time()),
            ..Usage::default()
        })
    }

    /// Reads the CPU time and memory of process `pid` from `/proc`.
    fn of_process(pid: u32) -> Result<Usage> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // The fields after the command name, which is in parentheses and may contain spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("invalid /proc/PID/stat")?
            .1
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        let per_second = sysconf(SysconfVar::CLK_TCK)?.context("no CLK_TCK")? as u64;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        Ok(Usage {
            cpu: Duration::from_secs_f64(ticks as f64 / per_second as f64),
            rss_kib: status_field(&status, "VmRSS:")?,
            peak_rss_kib: status_field(&status, "VmHWM:")?,
            anon_kib: status_field(&status, "RssAnon:")?,
            file_kib: status_field(&status, "RssFile:")?,
            threads: status_field(&status, "Threads:")?,
        })
    }
}

/// Reads a number field of `/proc/PID/status`, in kB for the memory fields.
fn status_field(status: &str, name: &str) -> Result<u64> {
    let line = status
        .lines()
        .find(|line| line.starts_with(name))
        .with_context(|| format!("no {name} in /proc/PID/status"))?;
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
    let simulator_before = Usage::of_self()?;
    let service = Service::start(&config, &data.path().join("notify.sock"))?;
    let ready = service.measure()?;
    let started = Instant::now();

    let calls = wait_until_binned(&practice, total, started).await?;
    let elapsed = started.elapsed();
    let done = service.measure()?;
    let simulator_after = Usage::of_self()?;

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

/// Writes the service configuration for the practice: its store, keystores and the simulator.
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

    let mut principals = Vec::new();
    for doctor in &practice.doctors {
        let spec = &doctor.doctor.spec;
        let mut principal = toml::Table::new();
        principal.insert("insz".into(), spec.ssin.clone().into());
        principal.insert("family_name".into(), spec.last_name.clone().into());
        principal.insert("given_names".into(), spec.first_name.clone().into());
        principal.insert("riziv".into(), spec.nihii11.clone().into());
        let role = if doctor.role == Role::Main {
            "main"
        } else {
            "mandator"
        };
        principal.insert("role".into(), role.into());
        principal.insert("keystore".into(), path(&doctor.credentials.keystore));
        principal.insert(
            "password_file".into(),
            path(&doctor.credentials.password_file),
        );
        principals.push(toml::Value::Table(principal));
    }
    config.insert("principal".into(), principals.into());

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

/// The service: the `practicebox` program, started with `run`.
struct Service {
    child: Child,
}

impl Service {
    /// Starts the service and waits until it sends `READY=1` to `notify_socket`.
    fn start(config: &Path, notify_socket: &Path) -> Result<Service> {
        let socket = UnixDatagram::bind(notify_socket)
            .with_context(|| format!("binding {}", notify_socket.display()))?;
        socket.set_read_timeout(Some(READY_TIMEOUT))?;
        let child = Command::new(SERVICE_PROGRAM)
            .arg("run")
            .arg("--config")
            .arg(config)
            .env("NOTIFY_SOCKET", notify_socket)
            .env("RUST_LOG", "error")
            .spawn()
            .with_context(|| format!("starting {SERVICE_PROGRAM}"))?;
        let service = Service { child };

        let mut buffer = [0u8; 512];
        loop {
            let length = socket
                .recv(&mut buffer)
                .context("the service did not send READY=1 in time")?;
            let message = String::from_utf8_lossy(&buffer[..length]);
            if message.lines().any(|line| line == "READY=1") {
                return Ok(service);
            }
        }
    }

    fn measure(&self) -> Result<Usage> {
        Usage::of_process(self.child.id())
    }

    /// Stops the service with SIGTERM, as systemd does, and checks that it exits cleanly.
    fn stop(mut self) -> Result<()> {
        let pid = i32::try_from(self.child.id())?;
        kill(Pid::from_raw(pid), Signal::SIGTERM)?;
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
            "idle service VmRSS     {} KiB after {} s (RssAnon {} KiB, RssFile {} KiB, \
             peak VmHWM {} KiB, {} threads)",
            self.idle.rss_kib,
            SETTLE.as_secs(),
            self.idle.anon_kib,
            self.idle.file_kib,
            self.idle.peak_rss_kib,
            self.idle.threads
        );
    }
}
