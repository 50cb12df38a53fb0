//! Benchmark: unsealing a 10 MB sealed message, ours against `openssl cms`.
//!
//! Run with `cargo bench -p practicebox --bench unseal`. It seals a 10 MB content with
//! `openssl cms` (sign, encrypt with AES-128, sign) as DER and as streamed BER, then reports
//! medians of several runs:
//! - `unseal` called in-process, keystore already open;
//! - a child process that opens the keystore, reads the message, unseals it and writes the
//!   content (what `practicebox unseal` does), with its peak resident memory (VmHWM);
//! - the OpenSSL pipeline on the same message: `cms -verify` (outer), `cms -decrypt`,
//!   `cms -verify` (inner), with `-noverify` because we do not check chains either, and the
//!   largest peak resident memory of the three processes (from `/usr/bin/time -f %M`).
//!
//! The output is a Markdown section for BENCHMARKS.md.

#![allow(clippy::unwrap_used, reason = "benchmark tool")]

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use practicebox::ehealth::{
    keystore::EhealthKeystore,
    unseal::{UnsealPolicy, unseal},
};
use support::{EncryptOptions, PASSWORD, SignOptions, Workspace, sample_content};
use zeroize::Zeroizing;

const CONTENT_SIZE: usize = 10 * 1024 * 1024;
const IN_PROCESS_RUNS: usize = 9;
const PROCESS_RUNS: usize = 5;

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.first().map(String::as_str) == Some("child") {
        run_child(&arguments[1..]);
        return;
    }

    let workspace = Workspace::new();
    workspace.write("doctor.p12", &workspace.doctor_keystore(true));
    workspace.write("password.txt", PASSWORD.as_bytes());
    let content = sample_content(CONTENT_SIZE);

    let mut report = String::from("## Unsealing a 10 MB sealed message\n\n");
    report.push_str(&machine_description());
    report.push_str(
        "\nCommand: `cargo bench -p practicebox --bench unseal` (release profile: fat LTO, \
         codegen-units 1).\n\n",
    );
    report.push_str(
        "| message | blob size | our `unseal` in-process (median) | our process: open keystore, unseal, write (median) | our peak memory (VmHWM) | OpenSSL verify + decrypt + verify (median) | OpenSSL peak memory (largest of the 3) |\n\
         |---|---|---|---|---|---|---|\n",
    );

    let variants = [
        (
            "DER, RSASSA-PSS SHA-256",
            SignOptions::default(),
            EncryptOptions::default(),
        ),
        (
            "streamed BER, RSA PKCS#1 v1.5 SHA-256",
            SignOptions {
                stream: true,
                pss: false,
                ..SignOptions::default()
            },
            EncryptOptions {
                stream: true,
                ..EncryptOptions::default()
            },
        ),
    ];
    for (name, sign, encrypt) in variants {
        let blob = workspace.seal(&content, &sign, &encrypt);
        workspace.write("bench.der", &blob);
        let row = measure(&workspace, name, &blob, &content);
        println!("{row}");
        report.push_str(&row);
        report.push('\n');
    }

    println!("\n{report}");
}

/// Measures one sealed message and returns its table row.
fn measure(workspace: &Workspace, name: &str, blob: &[u8], content: &[u8]) -> String {
    let password = Zeroizing::new(PASSWORD.to_owned());
    let keystore = EhealthKeystore::open_file(&workspace.path("doctor.p12"), &password).unwrap();
    let policy = UnsealPolicy::default();

    let mut in_process = Vec::new();
    for _ in 0..IN_PROCESS_RUNS {
        let start = Instant::now();
        let unsealed = unseal(blob, &keystore, &policy).unwrap();
        in_process.push(start.elapsed());
        assert!(unsealed.content == content, "unsealed content differs");
    }

    let mut process_times = Vec::new();
    let mut peak_kib = 0;
    for _ in 0..PROCESS_RUNS {
        let (elapsed, hwm) = run_our_process(workspace);
        process_times.push(elapsed);
        peak_kib = peak_kib.max(hwm);
    }
    assert!(
        workspace.read("ours.bin") == content,
        "child output differs"
    );

    let mut openssl_times = Vec::new();
    let mut openssl_peak_kib = None;
    for _ in 0..PROCESS_RUNS {
        let (elapsed, peak) = run_openssl_pipeline(workspace);
        openssl_times.push(elapsed);
        openssl_peak_kib = peak.max(openssl_peak_kib);
    }
    assert!(
        workspace.read("openssl.bin") == content,
        "OpenSSL output differs"
    );

    let mebibytes = |kib: u64| kib as f64 / 1024.0;
    let blob_mib = blob.len() as f64 / (1024.0 * 1024.0);
    let openssl_memory = match openssl_peak_kib {
        Some(kib) => format!("{:.1} MiB", mebibytes(kib)),
        None => "not measured (/usr/bin/time missing)".to_owned(),
    };
    format!(
        "| {name} | {blob_mib:.2} MiB | {} | {} | {:.1} MiB ({:.1} × blob) | {} | {openssl_memory} |",
        milliseconds(median(&mut in_process)),
        milliseconds(median(&mut process_times)),
        mebibytes(peak_kib),
        mebibytes(peak_kib) / blob_mib,
        milliseconds(median(&mut openssl_times)),
    )
}

/// Runs this binary as a child that does what `practicebox unseal` does; returns the wall
/// time and the child's VmHWM in KiB.
fn run_our_process(workspace: &Workspace) -> (Duration, u64) {
    let start = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .arg("child")
        .arg(workspace.path("doctor.p12"))
        .arg(workspace.path("password.txt"))
        .arg(workspace.path("bench.der"))
        .arg(workspace.path("ours.bin"))
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hwm = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (elapsed, hwm)
}

/// Opens the keystore, reads and unseals the message, writes the content and prints this
/// process's VmHWM in KiB (child mode).
fn run_child(arguments: &[String]) {
    let [keystore, password, input, output] = arguments else {
        panic!("usage: unseal child KEYSTORE PASSWORD_FILE IN OUT");
    };
    let password = Zeroizing::new(std::fs::read_to_string(password).unwrap());
    let keystore = EhealthKeystore::open_file(Path::new(keystore), &password).unwrap();
    let blob = std::fs::read(input).unwrap();
    let unsealed = unseal(&blob, &keystore, &UnsealPolicy::default()).unwrap();
    std::fs::write(output, &unsealed.content).unwrap();
    println!("{}", vm_hwm_kib());
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Runs verify (outer), decrypt and verify (inner) with `openssl cms`. Returns the wall time
/// of the three commands and, when `/usr/bin/time` exists, their largest maximum resident set
/// size in KiB.
fn run_openssl_pipeline(workspace: &Workspace) -> (Duration, Option<u64>) {
    let steps: [&[&str]; 3] = [
        &[
            "cms",
            "-verify",
            "-binary",
            "-noverify",
            "-inform",
            "DER",
            "-in",
            "bench.der",
            "-out",
            "openssl-envelope.der",
        ],
        &[
            "cms",
            "-decrypt",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "openssl-envelope.der",
            "-recip",
            "enc.pem",
            "-inkey",
            "enc.key",
            "-out",
            "openssl-inner.der",
        ],
        &[
            "cms",
            "-verify",
            "-binary",
            "-noverify",
            "-inform",
            "DER",
            "-in",
            "openssl-inner.der",
            "-out",
            "openssl.bin",
        ],
    ];
    let time_available = Path::new("/usr/bin/time").exists();
    let mut peak = None;
    let start = Instant::now();
    for step in steps {
        let mut command = if time_available {
            let mut command = Command::new("/usr/bin/time");
            command.args(["-f", "%M", "-o", "time.txt", "openssl"]);
            command
        } else {
            Command::new("openssl")
        };
        let output = command
            .args(step)
            .current_dir(workspace.path(""))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "openssl {} failed: {}",
            step.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        if time_available {
            let kib: u64 = String::from_utf8(workspace.read("time.txt"))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            peak = Some(peak.unwrap_or(0).max(kib));
        }
    }
    (start.elapsed(), peak)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// CPU model and count from `lscpu`, and the OpenSSL version.
fn machine_description() -> String {
    let lscpu = Command::new("lscpu")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    let field = |name: &str| {
        lscpu
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let openssl = Command::new("openssl")
        .arg("version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "Machine: {} ({} CPUs, {}), {openssl}, content {CONTENT_SIZE} bytes, {IN_PROCESS_RUNS} in-process runs and {PROCESS_RUNS} process runs each.\n",
        field("Model name:"),
        field("CPU(s):"),
        field("Architecture:"),
    )
}
