//! The device side of the USB stick. File system detection runs on real images made with the
//! Debian tools (dosfstools, exfatprogs, ntfs-3g, e2fsprogs, fdisk). The stick tracker runs on
//! a sysfs tree laid out like a Raspberry Pi's, and the netlink socket on real kernel uevents.
//! The image tests need those packages (`.ci/install-deps`); the socket tests need root.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use practicebox::stick::probe::{Filesystem, PROBE_LEN, PartitionTable, Probe, probe};
use practicebox::stick::uevent::{UeventAction, parse_uevent};
use practicebox::stick::{BlockKind, StickEvent, StickTracker, StickWatcher, UeventSocket};
use tempfile::TempDir;

/// Runs a tool and fails the test with its output when it fails or is missing.
fn run(program: &str, args: &[&str], stdin: Option<&str>) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("{program} failed to start: {error}; run .ci/install-deps as root")
        });
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Creates an empty image of `mebibytes` in `folder`.
fn blank_image(folder: &TempDir, name: &str, mebibytes: u64) -> PathBuf {
    let path = folder.path().join(name);
    File::create(&path)
        .unwrap()
        .set_len(mebibytes * 1024 * 1024)
        .unwrap();
    path
}

/// Formats a blank image with `program` (the image path goes last) and returns its path.
fn formatted_image(folder: &TempDir, mebibytes: u64, program: &str, args: &[&str]) -> PathBuf {
    let path = blank_image(folder, &format!("{program}.img"), mebibytes);
    let mut all_args = args.to_vec();
    all_args.push(path.to_str().unwrap());
    run(program, &all_args, None);
    path
}

/// Probes the image's bytes from `offset`, as the helper reads a device.
fn probe_at(path: &Path, offset: u64) -> Probe {
    let mut file = File::open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    let mut bytes = Vec::new();
    file.take(PROBE_LEN as u64).read_to_end(&mut bytes).unwrap();
    probe(&bytes)
}

#[test]
fn probe_real_fat_images() {
    let folder = tempfile::tempdir().unwrap();
    let cases = [
        (4, "12", Filesystem::Fat12),
        (16, "16", Filesystem::Fat16),
        (40, "32", Filesystem::Fat32),
    ];
    for (mebibytes, bits, expected) in cases {
        let path = blank_image(&folder, &format!("fat{bits}.img"), mebibytes);
        run("mkfs.vfat", &["-F", bits, path.to_str().unwrap()], None);
        assert_eq!(probe_at(&path, 0), Probe::Filesystem(expected), "FAT{bits}");
    }
}

#[test]
fn probe_real_exfat_image() {
    let folder = tempfile::tempdir().unwrap();
    let path = formatted_image(&folder, 8, "mkfs.exfat", &[]);
    assert_eq!(probe_at(&path, 0), Probe::Filesystem(Filesystem::ExFat));
}

#[test]
fn probe_real_ntfs_image() {
    let folder = tempfile::tempdir().unwrap();
    // -F: format a file, -f: skip zeroing, -q: quiet.
    let path = formatted_image(&folder, 8, "mkntfs", &["-q", "-F", "-f"]);
    assert_eq!(probe_at(&path, 0), Probe::Filesystem(Filesystem::Ntfs));
}

#[test]
fn probe_real_ext_images() {
    let folder = tempfile::tempdir().unwrap();
    let cases = [
        ("mkfs.ext2", Filesystem::Ext2),
        ("mkfs.ext3", Filesystem::Ext3),
        ("mkfs.ext4", Filesystem::Ext4),
    ];
    for (program, expected) in cases {
        let path = formatted_image(&folder, 8, program, &["-q", "-F"]);
        assert_eq!(probe_at(&path, 0), Probe::Filesystem(expected), "{program}");
    }
}

#[test]
fn probe_real_mbr_stick() {
    // The layout of a stick as shops sell it: an MBR, one FAT32 partition at 1 MiB.
    let folder = tempfile::tempdir().unwrap();
    let path = blank_image(&folder, "stick.img", 64);
    let image = path.to_str().unwrap();
    run(
        "sfdisk",
        &["-q", image],
        Some("label: dos\nstart=2048, type=c\n"),
    );
    run(
        "mkfs.vfat",
        &["-F", "32", "--offset=2048", image, "64512"],
        None,
    );

    assert_eq!(
        probe_at(&path, 0),
        Probe::PartitionTable(PartitionTable::Mbr)
    );
    assert_eq!(
        probe_at(&path, 1024 * 1024),
        Probe::Filesystem(Filesystem::Fat32)
    );
}

#[test]
fn probe_real_gpt_disk() {
    let folder = tempfile::tempdir().unwrap();
    let path = blank_image(&folder, "gpt.img", 8);
    run(
        "sfdisk",
        &["-q", path.to_str().unwrap()],
        Some("label: gpt\nstart=2048\n"),
    );
    assert_eq!(
        probe_at(&path, 0),
        Probe::PartitionTable(PartitionTable::Gpt)
    );
}

#[test]
fn probe_blank_and_random_devices() {
    let folder = tempfile::tempdir().unwrap();
    let blank = blank_image(&folder, "blank.img", 1);
    assert_eq!(probe_at(&blank, 0), Probe::Unknown);

    // Bytes with no structure, as on a stick that was overwritten with noise.
    let noise: Vec<u8> = (0..PROBE_LEN as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    assert_eq!(probe(&noise), Probe::Unknown);
}

/// A sysfs tree like a Raspberry Pi 4's: the SD card, and a USB stick `sda` with `sda1`.
struct FakeSysfs {
    root: TempDir,
}

const USB_HOST: &str = "devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/\
                        0000:01:00.0/usb2/2-2/2-2:1.0/host0/target0:0:0/0:0:0:0";
const SD_CARD: &str = "devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc0/mmc0:5048";

impl FakeSysfs {
    fn new() -> Self {
        let sysfs = Self {
            root: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(sysfs.root.path().join("class/block")).unwrap();
        sysfs.add_disk(SD_CARD, "mmcblk0", &["mmcblk0p1", "mmcblk0p2"]);
        sysfs
    }

    fn path(&self) -> &Path {
        self.root.path()
    }

    /// Adds a disk below `parent` and its partitions, with the class links sysfs has.
    fn add_disk(&self, parent: &str, disk: &str, partitions: &[&str]) {
        let disk_folder = format!("{parent}/block/{disk}");
        fs::create_dir_all(self.path().join(&disk_folder)).unwrap();
        self.link(disk, &disk_folder);
        for partition in partitions {
            let folder = format!("{disk_folder}/{partition}");
            fs::create_dir_all(self.path().join(&folder)).unwrap();
            fs::write(self.path().join(&folder).join("partition"), "1\n").unwrap();
            self.link(partition, &folder);
        }
    }

    fn link(&self, name: &str, folder: &str) {
        symlink(
            format!("../../{folder}"),
            self.path().join("class/block").join(name),
        )
        .unwrap();
    }

    fn remove(&self, names: &[&str]) {
        for name in names {
            fs::remove_file(self.path().join("class/block").join(name)).unwrap();
        }
    }
}

fn block_datagram(action: &str, devpath: &str, devtype: &str, devname: &str) -> Vec<u8> {
    format!(
        "{action}@{devpath}\0ACTION={action}\0DEVPATH={devpath}\0SUBSYSTEM=block\0MAJOR=8\0\
         MINOR=0\0DEVNAME={devname}\0DEVTYPE={devtype}\0DISKSEQ=9\0SEQNUM=2210\0"
    )
    .into_bytes()
}

fn inserted_name(event: Option<StickEvent>) -> String {
    match event {
        Some(StickEvent::Inserted(device)) => device.name,
        other => panic!("expected an insertion, got {other:?}"),
    }
}

fn removed_name(event: Option<StickEvent>) -> String {
    match event {
        Some(StickEvent::Removed(device)) => device.name,
        other => panic!("expected a removal, got {other:?}"),
    }
}

#[test]
fn tracker_reports_partition_not_its_disk() {
    let sysfs = FakeSysfs::new();
    sysfs.add_disk(USB_HOST, "sda", &["sda1"]);
    let mut tracker = StickTracker::new(sysfs.path());
    let disk = format!("/{USB_HOST}/block/sda");
    let partition = format!("{disk}/sda1");

    assert!(
        tracker
            .handle_datagram(&block_datagram("add", &disk, "disk", "sda"))
            .is_none()
    );
    let event = tracker.handle_datagram(&block_datagram("add", &partition, "partition", "sda1"));
    let Some(StickEvent::Inserted(device)) = event else {
        panic!("expected an insertion, got {event:?}");
    };
    assert_eq!(device.name, "sda1");
    assert_eq!(device.kind, BlockKind::Partition);
    assert_eq!(device.devpath, partition);

    // The same event again (a rescan raced with it) is not a second stick.
    assert!(
        tracker
            .handle_datagram(&block_datagram("add", &partition, "partition", "sda1"))
            .is_none()
    );
    let event = tracker.handle_datagram(&block_datagram("remove", &partition, "partition", "sda1"));
    assert_eq!(removed_name(event), "sda1");
    assert!(
        tracker
            .handle_datagram(&block_datagram("remove", &disk, "disk", "sda"))
            .is_none()
    );
}

#[test]
fn tracker_reports_superfloppy_disk() {
    let sysfs = FakeSysfs::new();
    sysfs.add_disk(USB_HOST, "sdb", &[]);
    let mut tracker = StickTracker::new(sysfs.path());
    let disk = format!("/{USB_HOST}/block/sdb");
    let event = tracker.handle_datagram(&block_datagram("add", &disk, "disk", "sdb"));
    assert_eq!(inserted_name(event), "sdb");
}

#[test]
fn tracker_ignores_sd_card_and_garbage() {
    let sysfs = FakeSysfs::new();
    let mut tracker = StickTracker::new(sysfs.path());
    let card = format!("/{SD_CARD}/block/mmcblk0/mmcblk0p1");
    assert!(
        tracker
            .handle_datagram(&block_datagram("add", &card, "partition", "mmcblk0p1"))
            .is_none()
    );
    assert!(tracker.handle_datagram(b"\xff\xfe not a uevent").is_none());
    assert!(
        tracker
            .handle_datagram(b"libudev\0\xfe\xed\xca\xfe")
            .is_none()
    );
}

#[test]
fn tracker_rescan_reports_present_and_gone() {
    let sysfs = FakeSysfs::new();
    sysfs.add_disk(USB_HOST, "sda", &["sda1", "sda2"]);
    let mut tracker = StickTracker::new(sysfs.path());

    let names: Vec<String> = tracker
        .rescan()
        .unwrap()
        .into_iter()
        .map(|event| inserted_name(Some(event)))
        .collect();
    assert_eq!(names, ["sda1", "sda2"]);
    assert!(tracker.rescan().unwrap().is_empty());

    sysfs.remove(&["sda2"]);
    let events = tracker.rescan().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(removed_name(events.into_iter().next()), "sda2");
}

/// Returns a loop device of this machine, to make the kernel send a real uevent about it.
fn some_loop_device() -> String {
    let mut names: Vec<String> = fs::read_dir("/sys/class/block")
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("loop"))
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .expect("no loop device in /sys/class/block; load the loop module (modprobe loop)")
}

/// Asks the kernel to send a `change` uevent for `device` (needs root).
fn trigger_change(device: &str) {
    fs::write(format!("/sys/class/block/{device}/uevent"), "change").unwrap_or_else(|error| {
        panic!("writing /sys/class/block/{device}/uevent failed: {error}; this test needs root")
    });
}

#[tokio::test]
async fn socket_receives_kernel_uevent() {
    let device = some_loop_device();
    let mut socket = UeventSocket::open().expect("netlink uevent socket");
    trigger_change(&device);

    let uevent = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let datagram = socket.receive().await.expect("receive");
            let uevent = parse_uevent(datagram).expect("kernel datagram parses");
            if uevent.devname() == Some(device.as_str()) {
                return uevent;
            }
        }
    })
    .await
    .expect("no uevent for the loop device within 5 s");

    assert_eq!(uevent.action, UeventAction::Change);
    assert_eq!(uevent.subsystem(), Some("block"));
    assert_eq!(uevent.devtype(), Some("disk"));
    assert_eq!(uevent.devpath, format!("/devices/virtual/block/{device}"));
    assert!(uevent.seqnum().unwrap().is_some());
}

#[tokio::test]
async fn watcher_ignores_loop_device_uevent() {
    let device = some_loop_device();
    let mut watcher = StickWatcher::open().expect("stick watcher");
    trigger_change(&device);
    // The machine has no USB stick, so nothing, not even the loop device's event, is reported.
    let event = tokio::time::timeout(Duration::from_secs(1), watcher.next_event()).await;
    assert!(event.is_err(), "unexpected event {event:?}");
}
