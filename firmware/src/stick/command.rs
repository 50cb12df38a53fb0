//! `practicebox stick list`: the IT person's check of a USB stick at the box. Mounts every USB
//! stick present through the mount helper, as the panel's wizard does, prints the eHealth
//! keystores it would offer and the files it would skip, and unmounts again.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use super::client::StickMounter;
use super::folder::{CertificateKind, Discovery};
use super::helper::HELPER_SOCKET;
use super::uevent::BlockDevice;
use super::watcher::{StickEvent, StickTracker};

/// Subcommands of `practicebox stick`.
#[derive(Debug, clap::Subcommand)]
pub enum StickCommand {
    /// Mount each USB stick present, list its eHealth keystores, and unmount it (run as the
    /// service account on the box)
    List {
        /// The mount helper's socket
        #[arg(long, value_name = "FILE", default_value = HELPER_SOCKET)]
        socket: PathBuf,
        /// The mount point of sysfs, searched for USB disks and partitions
        #[arg(long, value_name = "DIR", default_value = "/sys")]
        sysfs: PathBuf,
    },
}

/// Runs a `practicebox stick` subcommand. Fails when no stick is present or none could be
/// searched, so that scripts see the failure in the exit code.
pub fn run_stick(command: &StickCommand) -> anyhow::Result<()> {
    let StickCommand::List { socket, sysfs } = command;
    let devices = present_sticks(sysfs)?;
    if devices.is_empty() {
        anyhow::bail!(
            "no USB stick found in {}; insert the stick with the eHealth certificate and run \
             the command again",
            sysfs.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime for the stick check")?;
    let mounter = StickMounter::new(socket);
    let mut searched = 0;
    for device in &devices {
        match runtime.block_on(list_device(&mounter, device)) {
            Ok(report) => {
                searched += 1;
                print!("{report}");
            }
            Err(error) => println!("{}: {}", device.name, error_chain(&error)),
        }
    }
    if searched == 0 {
        anyhow::bail!(
            "none of the {} USB stick(s) could be searched",
            devices.len()
        );
    }
    Ok(())
}

/// Joins an error and its causes with ": ", leaving out a cause whose text the message before
/// it already contains (the stick errors quote their operating system error).
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

fn present_sticks(sysfs: &std::path::Path) -> anyhow::Result<Vec<BlockDevice>> {
    let events = StickTracker::new(sysfs)
        .rescan()
        .with_context(|| format!("cannot scan {} for USB sticks", sysfs.display()))?;
    Ok(events
        .into_iter()
        .filter_map(|event| match event {
            StickEvent::Inserted(device) => Some(device),
            _ => None,
        })
        .collect())
}

/// Mounts one stick, searches it and unmounts it, then returns the lines to print.
async fn list_device(mounter: &StickMounter, device: &BlockDevice) -> anyhow::Result<String> {
    let stick = mounter.mount(device).await?;
    let filesystem = stick.filesystem();
    let discovery = stick.discover();
    // Unmount before reporting, so that a failed search leaves nothing mounted either.
    stick
        .release()
        .await
        .with_context(|| format!("{} was searched but not unmounted", device.name))?;
    let discovery = discovery?;
    Ok(format_discovery(
        &device.name,
        &filesystem.to_string(),
        &discovery,
    ))
}

fn format_discovery(device: &str, filesystem: &str, discovery: &Discovery) -> String {
    let mut report = format!(
        "{device} ({filesystem}): {} eHealth keystore(s)\n",
        discovery.certificates.len()
    );
    for certificate in &discovery.certificates {
        let environment = match certificate.kind {
            CertificateKind::P12 => "production",
            CertificateKind::AccP12 => "acceptance",
        };
        let _ = writeln!(
            report,
            "  {}  {} bytes  {environment}",
            certificate.display_name, certificate.size
        );
    }
    for skipped in &discovery.skipped {
        let _ = writeln!(report, "  skipped: {skipped}");
    }
    report
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::stick::folder::{SkipReason, SkippedFile, StickCertificate};

    #[test]
    fn discovery_lists_keystores_and_skipped_files() {
        let discovery = Discovery {
            certificates: vec![StickCertificate {
                relative_path: PathBuf::from("eHealth/dr-peeters.acc-p12"),
                display_name: "eHealth/dr-peeters.acc-p12".into(),
                kind: CertificateKind::AccP12,
                size: 4321,
                modified: None,
            }],
            skipped: vec![SkippedFile {
                display_name: "old.p12".into(),
                reason: SkipReason::Empty,
            }],
        };
        let report = format_discovery("sda1", "vfat", &discovery);
        assert_eq!(
            report,
            "sda1 (vfat): 1 eHealth keystore(s)\n  eHealth/dr-peeters.acc-p12  4321 bytes  \
             acceptance\n  skipped: old.p12 (empty)\n"
        );
    }

    #[test]
    fn error_chain_quotes_each_cause_once() {
        let source = std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = anyhow::Error::from(crate::stick::StickError::HelperUnavailable {
            socket: PathBuf::from("/run/practicebox-stick/helper.sock"),
            source,
        })
        .context("sda was searched but not unmounted");
        let text = error_chain(&error);
        assert!(
            text.starts_with("sda was searched but not unmounted: cannot reach the stick mount"),
            "{text}"
        );
        assert_eq!(text.matches("entity not found").count(), 1, "{text}");
    }

    #[test]
    fn list_without_stick_fails() {
        let sysfs = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(sysfs.path().join("class/block")).unwrap();
        let command = StickCommand::List {
            socket: Path::new("/nonexistent/helper.sock").to_owned(),
            sysfs: sysfs.path().to_owned(),
        };
        let error = run_stick(&command).unwrap_err().to_string();
        assert!(error.starts_with("no USB stick found in "), "{error}");
    }
}
