//! The box end to end. The platform simulator serves a practice of three doctors with 300
//! sealed messages of every kind. The real scheduler and fetcher deliver them, and a real smbd
//! serves the share, read back with smbclient as the medical record software would.
//!
//! Needs root and the samba, samba-common-bin and smbclient packages, like the other smbd tests.

#[path = "support/samba.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use ehealth_sim::ehbox::Folder;
use ehealth_sim::mail::{DocumentFormat, MessageKind};
use ehealth_sim::pki::KeystoreOptions;
use ehealth_sim::seed;
use practicebox::demo::fetching::{FetchSettings, Fetching};
use practicebox::demo::mail::{self, DeliveredMessage};
use practicebox::demo::practice::{Practice, PracticeConfig, PracticeDoctor};
use practicebox::samba::DoctorShare;
use practicebox::status::StatusSender;
use practicebox::store::{DeliveryState, MessageRecord, StoreHandle};
use support::{SmbServer, TEST_PRACTICE_USER};

const SEED: u64 = 4_242;
const MESSAGES_PER_DOCTOR: usize = 100;
const PASSWORD: &str = "emd-reads-7";

/// How long the box may take to fetch everything, on a slow test machine with a debug build.
const FETCH_TIMEOUT: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn practice_mail_reaches_share_once() -> Result<()> {
    let data = tempfile::tempdir()?;
    let share_root = tempfile::tempdir()?;
    let practice = Practice::start(&PracticeConfig {
        seed: SEED,
        doctors: 3,
        data_dir: data.path().to_owned(),
        keystore_options: KeystoreOptions::fast(),
    })
    .await?;

    let doctors: Vec<_> = practice.doctors.iter().map(|d| &d.doctor).collect();
    let planned = mail::generate(&practice.simulator, &doctors, MESSAGES_PER_DOCTOR, SEED)?;
    check_mix(&planned)?;
    let misaddressed = mail::misaddressed(
        &practice.simulator,
        &practice.outsider,
        &practice.doctors[1].doctor,
        SEED + 1,
    )?;
    let mut delivered = mail::deliver(&practice.simulator, planned)?;
    let held = mail::deliver(&practice.simulator, vec![misaddressed])?.remove(0);
    ensure!(
        delivered.len() == 300,
        "{} messages delivered",
        delivered.len()
    );

    let settings = FetchSettings::new(
        &practice,
        share_root.path().to_owned(),
        Duration::from_secs(1),
    );
    let fetching = Fetching::start(&practice, &settings, StatusSender::new())?;
    let records = wait_until_done(&practice, &delivered, &held).await;
    fetching.stop().await;
    let records = records?;

    check_held(&practice, &held, &records)?;
    delivered.push(held.clone());
    check_bins(&practice, &delivered)?;
    let expected = check_share_files(share_root.path(), &delivered, &records)?;
    check_over_smb(share_root.path(), &practice.doctors, &expected)?;
    practice.shutdown().await;
    Ok(())
}

/// Checks that the generated mail contains every kind the box must handle.
fn check_mix(planned: &[mail::PlannedMessage]) -> Result<()> {
    let count = |wanted: &dyn Fn(&mail::PlannedMessage) -> bool| {
        planned.iter().filter(|message| wanted(message)).count()
    };
    let document_of = |format| move |m: &mail::PlannedMessage| m.plain.format == format;
    ensure!(planned.len() == 300, "{} messages generated", planned.len());
    for format in [
        DocumentFormat::Medidoc,
        DocumentFormat::HealthOne,
        DocumentFormat::Kmehr,
        DocumentFormat::Pdf,
    ] {
        ensure!(count(&document_of(format)) > 0, "no {format} document");
    }
    for kind in [
        MessageKind::Acknowledgment,
        MessageKind::Error,
        MessageKind::News,
    ] {
        ensure!(count(&|m| m.kind() == kind) > 0, "no {kind} message");
    }
    ensure!(
        count(&|m| !m.plain.annexes.is_empty()) > 0,
        "no message with annexes"
    );
    Ok(())
}

/// Waits until every message is moved to the bin and the misaddressed one is held, and returns
/// the store's records by MessageId.
async fn wait_until_done(
    practice: &Practice,
    delivered: &[DeliveredMessage],
    held: &DeliveredMessage,
) -> Result<HashMap<String, MessageRecord>> {
    let started = Instant::now();
    loop {
        let records = read_records(practice, delivered.iter().chain([held]))?;
        let moved = delivered
            .iter()
            .filter(|message| {
                records
                    .get(&message.message_id)
                    .is_some_and(|record| record.state == DeliveryState::MovedToBin)
            })
            .count();
        let held_done = records
            .get(&held.message_id)
            .is_some_and(|record| record.state == DeliveryState::Held);
        if moved == delivered.len() && held_done {
            return Ok(records);
        }
        if started.elapsed() > FETCH_TIMEOUT {
            bail!(
                "after {FETCH_TIMEOUT:?}, {moved} of {} messages are in the bin and the \
                 misaddressed message is {}",
                delivered.len(),
                if held_done { "held" } else { "not held" }
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn read_records<'a>(
    practice: &Practice,
    messages: impl Iterator<Item = &'a DeliveredMessage>,
) -> Result<HashMap<String, MessageRecord>> {
    let store: &StoreHandle = &practice.store;
    let mut records = HashMap::new();
    for message in messages {
        let principal = recipient(practice, message)?.principal;
        let record = store.with(|store| store.message(principal, &message.message_id))?;
        if let Some(record) = record {
            records.insert(message.message_id.clone(), record);
        }
    }
    Ok(records)
}

fn recipient<'a>(practice: &'a Practice, message: &DeliveredMessage) -> Result<&'a PracticeDoctor> {
    practice
        .doctor(&message.planned.recipient)
        .with_context(|| format!("no practice doctor {}", message.planned.recipient))
}

/// Checks that the message sealed for another doctor is held, with a reason, and has no file.
fn check_held(
    practice: &Practice,
    held: &DeliveredMessage,
    records: &HashMap<String, MessageRecord>,
) -> Result<()> {
    let record = &records[&held.message_id];
    let reason = record.held_reason.as_deref().unwrap_or_default();
    ensure!(
        reason.contains("not addressed"),
        "held for {reason:?}, not for the encryption key"
    );
    ensure!(
        record.files.is_empty(),
        "held message has files {:?}",
        record.files
    );
    let doctor = recipient(practice, held)?;
    ensure!(
        doctor.principal == record.principal,
        "held under another principal"
    );
    Ok(())
}

/// Checks that every delivered message is in BININBOX exactly once, and that only the held
/// one stays in INBOX.
fn check_bins(practice: &Practice, delivered: &[DeliveredMessage]) -> Result<()> {
    let platform = practice
        .simulator
        .platform
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut folders: HashMap<String, Vec<Folder>> = HashMap::new();
    for doctor in &practice.doctors {
        let state = platform
            .box_state(&seed::doctor_box(doctor.ssin()))
            .context("practice doctor without a box")?;
        for entry in state.messages {
            folders
                .entry(entry.message_id)
                .or_default()
                .push(entry.folder);
        }
    }
    for message in delivered {
        let found = folders
            .get(&message.message_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let expected = if message.planned.misaddressed {
            Folder::Inbox
        } else {
            Folder::BinInbox
        };
        ensure!(
            found == [expected],
            "message {} ({}) is in {found:?}, expected only {expected:?}",
            message.message_id,
            message.planned.plain.describe()
        );
    }
    Ok(())
}

/// One file the share must hold: its path below the share root and the plaintext it carries.
struct ExpectedFile {
    path: String,
    bytes: Vec<u8>,
}

/// Checks that the share contains exactly the documents and annexes, each with its sidecar, and
/// nothing of acknowledgements, errors and news. Returns each file with the plaintext that was
/// sealed.
fn check_share_files(
    root: &Path,
    delivered: &[DeliveredMessage],
    records: &HashMap<String, MessageRecord>,
) -> Result<Vec<ExpectedFile>> {
    let mut expected = Vec::new();
    for message in delivered.iter().filter(|m| !m.planned.misaddressed) {
        let record = &records[&message.message_id];
        let plain = &message.planned.plain;
        let parts: Vec<&[u8]> = plain.parts().map(|part| part.bytes.as_slice()).collect();
        if plain.kind != MessageKind::Document {
            ensure!(
                record.files.is_empty(),
                "{} message {} has files {:?}",
                plain.kind,
                message.message_id,
                record.files
            );
            continue;
        }
        ensure!(
            record.files.len() == parts.len(),
            "message {} has {} files for {} parts",
            message.message_id,
            record.files.len(),
            parts.len()
        );
        for file in &record.files {
            let index = file.part_index as usize - 1;
            expected.push(ExpectedFile {
                path: file.path.clone(),
                bytes: parts[index].to_vec(),
            });
        }
    }

    let on_disk = list_files(root)?;
    let mut wanted = BTreeSet::new();
    for file in &expected {
        wanted.insert(file.path.clone());
        wanted.insert(format!("{}.json", file.path));
    }
    let extra: Vec<_> = on_disk.difference(&wanted).collect();
    let missing: Vec<_> = wanted.difference(&on_disk).collect();
    ensure!(extra.is_empty(), "unexpected files on the share: {extra:?}");
    ensure!(
        missing.is_empty(),
        "files missing on the share: {missing:?}"
    );
    Ok(expected)
}

/// Lists every file below `root` that is not hidden, relative to `root`, with `/` separators.
fn list_files(root: &Path) -> Result<BTreeSet<String>> {
    let mut files = BTreeSet::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                folders.push(entry.path());
                continue;
            }
            let relative = entry.path().strip_prefix(root)?.to_owned();
            files.insert(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(files)
}

/// Serves each doctor's folder with smbd and reads every document back with smbclient.
fn check_over_smb(
    root: &Path,
    doctors: &[PracticeDoctor],
    expected: &[ExpectedFile],
) -> Result<()> {
    let shares = doctors
        .iter()
        .map(|doctor| DoctorShare::for_folder(root.join(&doctor.share_folder)))
        .collect::<Result<Vec<_>, _>>()?;
    let server = SmbServer::start(root, shares.clone(), TEST_PRACTICE_USER, PASSWORD)?;
    let client = server.client(TEST_PRACTICE_USER, PASSWORD)?;
    let downloads = tempfile::tempdir()?;

    let mut by_share: BTreeMap<String, Vec<(usize, &ExpectedFile)>> = BTreeMap::new();
    for (index, file) in expected.iter().enumerate() {
        let (folder, _) = file
            .path
            .split_once('/')
            .with_context(|| format!("{} is not inside a doctor folder", file.path))?;
        let share = doctors
            .iter()
            .zip(&shares)
            .find(|(doctor, _)| doctor.share_folder == folder)
            .map(|(_, share)| share.name.to_string())
            .with_context(|| format!("no share for folder {folder}"))?;
        by_share.entry(share).or_default().push((index, file));
    }

    let mut compared = 0;
    for (share, files) in &by_share {
        let mut commands = Vec::new();
        for (index, file) in files {
            let (_, inside) = file.path.split_once('/').unwrap_or_default();
            let local = downloads.path().join(format!("file-{index}"));
            ensure!(
                !inside.contains(['"', ';']),
                "{inside:?} cannot be quoted for smbclient"
            );
            commands.push(format!(
                "get \"{}\" \"{}\"",
                inside.replace('/', "\\"),
                local.display()
            ));
        }
        let output = client.run(share, &commands.join("; "))?;
        ensure!(output.success, "smbclient on {share} failed: {output:?}");
        for (index, file) in files {
            let local = downloads.path().join(format!("file-{index}"));
            let bytes = std::fs::read(&local)
                .with_context(|| format!("{} was not downloaded from {share}", file.path))?;
            ensure!(
                bytes == file.bytes,
                "{} read over SMB differs from the plaintext ({} bytes, expected {})",
                file.path,
                bytes.len(),
                file.bytes.len()
            );
            compared += 1;
        }
    }
    ensure!(
        compared == expected.len(),
        "compared {compared} of {} files",
        expected.len()
    );
    Ok(())
}
