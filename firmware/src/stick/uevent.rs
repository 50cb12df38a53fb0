//! Kernel uevents: parsing the datagrams of a `NETLINK_KOBJECT_UEVENT` socket, and picking out
//! the block devices of USB mass storage.
//!
//! A kernel uevent datagram is `ACTION@DEVPATH`, a NUL byte, then `KEY=VALUE` fields each ended
//! by a NUL byte:
//!
//! ```text
//! add@/devices/.../usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1\0ACTION=add\0
//! DEVPATH=/devices/.../block/sda/sda1\0SUBSYSTEM=block\0MAJOR=8\0MINOR=1\0DEVNAME=sda1\0
//! DEVTYPE=partition\0DISKSEQ=9\0PARTN=1\0SEQNUM=2211\0
//! ```
//!
//! udev re-broadcasts its own processed events on another multicast group with a binary header
//! starting `libudev\0`. Those carry `ID_BUS` and `ID_FS_TYPE`, but the box listens to the
//! kernel group only, so that it does not depend on udevd. The parser rejects udev's format.
//!
//! A device counts as a USB stick when it is an `sd*` disk or partition (the SCSI disk driver
//! that usb-storage and UAS devices appear through) and its sysfs path runs through a USB bus
//! (`/usbN/`). That keeps out the box's own SD card (`mmcblk0`), loop, RAM and virtio disks,
//! and SATA disks on other boards.

use std::collections::BTreeMap;
use std::fmt;

/// A parse failure; the datagram is ignored and logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UeventError {
    #[error("empty uevent datagram")]
    Empty,
    #[error("uevent datagram in udev's format (libudev header), not the kernel's")]
    FromUdev,
    #[error("uevent header {header:?} is not ACTION@DEVPATH")]
    InvalidHeader { header: String },
    #[error("uevent field {field:?} is not KEY=VALUE")]
    InvalidField { field: String },
    #[error("uevent field {index} is not UTF-8")]
    NotUtf8 { index: usize },
    #[error("uevent field {key}={value:?} contradicts the header value {header:?}")]
    HeaderMismatch {
        key: &'static str,
        value: String,
        header: String,
    },
    #[error("uevent SEQNUM={value:?} is not a number")]
    InvalidSeqnum { value: String },
}

/// The kobject action of a uevent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UeventAction {
    Add,
    Remove,
    Change,
    Move,
    Online,
    Offline,
    Bind,
    Unbind,
    /// An action this code does not know, kept so that a newer kernel's events still parse.
    Other(String),
}

impl UeventAction {
    fn parse(text: &str) -> Self {
        match text {
            "add" => Self::Add,
            "remove" => Self::Remove,
            "change" => Self::Change,
            "move" => Self::Move,
            "online" => Self::Online,
            "offline" => Self::Offline,
            "bind" => Self::Bind,
            "unbind" => Self::Unbind,
            other => Self::Other(other.to_owned()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Change => "change",
            Self::Move => "move",
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Bind => "bind",
            Self::Unbind => "unbind",
            Self::Other(text) => text,
        }
    }
}

impl fmt::Display for UeventAction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One parsed kernel uevent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uevent {
    pub action: UeventAction,
    /// The sysfs path below `/sys`, for example `/devices/.../block/sda/sda1`.
    pub devpath: String,
    /// Every `KEY=VALUE` field, `ACTION` and `DEVPATH` included.
    pub fields: BTreeMap<String, String>,
}

impl Uevent {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    pub fn subsystem(&self) -> Option<&str> {
        self.field("SUBSYSTEM")
    }

    pub fn devtype(&self) -> Option<&str> {
        self.field("DEVTYPE")
    }

    /// Returns the device node name below `/dev`, for example `sda1`.
    pub fn devname(&self) -> Option<&str> {
        self.field("DEVNAME")
    }

    /// Returns the device's major and minor numbers, from the `MAJOR` and `MINOR` fields.
    pub fn device_numbers(&self) -> Option<DeviceNumbers> {
        Some(DeviceNumbers {
            major: self.field("MAJOR")?.parse().ok()?,
            minor: self.field("MINOR")?.parse().ok()?,
        })
    }

    /// Returns the kernel's event sequence number, which increases by one for each event.
    pub fn seqnum(&self) -> Result<Option<u64>, UeventError> {
        let Some(value) = self.field("SEQNUM") else {
            return Ok(None);
        };
        value
            .parse()
            .map(Some)
            .map_err(|_| UeventError::InvalidSeqnum {
                value: value.to_owned(),
            })
    }
}

/// The major and minor numbers of a device node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceNumbers {
    pub major: u64,
    pub minor: u64,
}

/// Parses one kernel uevent datagram, as received from the netlink socket.
pub fn parse_uevent(datagram: &[u8]) -> Result<Uevent, UeventError> {
    if datagram.is_empty() {
        return Err(UeventError::Empty);
    }
    if datagram.starts_with(b"libudev\0") {
        return Err(UeventError::FromUdev);
    }

    let mut parts = datagram.split(|&byte| byte == 0);
    let header = utf8_field(parts.next().unwrap_or_default(), 0)?;
    let Some((action, devpath)) = header.split_once('@') else {
        return Err(UeventError::InvalidHeader {
            header: header.to_owned(),
        });
    };
    if action.is_empty() || !devpath.starts_with('/') {
        return Err(UeventError::InvalidHeader {
            header: header.to_owned(),
        });
    }

    let mut fields = BTreeMap::new();
    for (index, part) in parts.enumerate() {
        // The datagram ends with a NUL byte, which leaves one empty part after it.
        if part.is_empty() {
            continue;
        }
        let field = utf8_field(part, index + 1)?;
        let Some((key, value)) = field.split_once('=') else {
            return Err(UeventError::InvalidField {
                field: field.to_owned(),
            });
        };
        if key.is_empty() {
            return Err(UeventError::InvalidField {
                field: field.to_owned(),
            });
        }
        fields.insert(key.to_owned(), value.to_owned());
    }

    check_header_field(&fields, "ACTION", action)?;
    check_header_field(&fields, "DEVPATH", devpath)?;
    Ok(Uevent {
        action: UeventAction::parse(action),
        devpath: devpath.to_owned(),
        fields,
    })
}

fn utf8_field(bytes: &[u8], index: usize) -> Result<&str, UeventError> {
    std::str::from_utf8(bytes).map_err(|_| UeventError::NotUtf8 { index })
}

fn check_header_field(
    fields: &BTreeMap<String, String>,
    key: &'static str,
    header_value: &str,
) -> Result<(), UeventError> {
    match fields.get(key) {
        Some(value) if value != header_value => Err(UeventError::HeaderMismatch {
            key,
            value: value.clone(),
            header: header_value.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Whether a block device is a whole disk or one of its partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Disk,
    Partition,
}

/// A USB mass storage disk or partition, named as the kernel names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDevice {
    /// The kernel name, also the node name below `/dev`: `sda`, `sdb1`.
    pub name: String,
    pub kind: BlockKind,
    /// The sysfs path below `/sys`.
    pub devpath: String,
}

/// A USB mass storage device that appeared or went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickUevent {
    Added(BlockDevice),
    Removed(BlockDevice),
}

/// Picks the add and remove events of USB mass storage disks and partitions; every other
/// uevent returns `None`.
///
/// NOTE: a USB card reader reports a card inserted into an already plugged reader as a
/// `change` of the disk (`DISK_MEDIA_CHANGE=1`), followed by `add` events for the card's
/// partitions. A card formatted without a partition table therefore shows up only as that
/// `change`, which this function ignores.
pub fn classify_stick_uevent(uevent: &Uevent) -> Option<StickUevent> {
    let added = match uevent.action {
        UeventAction::Add => true,
        UeventAction::Remove => false,
        _ => return None,
    };
    if uevent.subsystem() != Some("block") {
        return None;
    }
    let kind = match uevent.devtype()? {
        "disk" => BlockKind::Disk,
        "partition" => BlockKind::Partition,
        _ => return None,
    };
    let name = uevent.devname()?;
    if !is_stick_device_name(name) || !is_usb_devpath(&uevent.devpath) {
        return None;
    }

    let device = BlockDevice {
        name: name.to_owned(),
        kind,
        devpath: uevent.devpath.clone(),
    };
    Some(if added {
        StickUevent::Added(device)
    } else {
        StickUevent::Removed(device)
    })
}

/// Returns whether `name` is a SCSI disk or partition name: `sd`, one or more lowercase letters, then
/// optional digits (`sda`, `sdab`, `sdb12`). Also the check that keeps a name safe to join to
/// `/dev` and to a mount folder.
pub fn is_stick_device_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("sd") else {
        return false;
    };
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    let digits = &rest[letters..];
    letters >= 1 && name.len() <= 16 && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// Returns whether a sysfs path runs through a USB bus: one of its components is `usb` followed by the
/// bus number (`/usb1/`, `/usb2/`). Platform devices such as `fe980000.usb` do not count.
pub fn is_usb_devpath(devpath: &str) -> bool {
    devpath.split('/').any(|component| {
        component
            .strip_prefix("usb")
            .is_some_and(|bus| !bus.is_empty() && bus.bytes().all(|byte| byte.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sysfs path of a USB stick on the Raspberry Pi 4's VL805 USB 3 controller.
    const PI_USB_DISK: &str = "/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/\
                               0000:01:00.0/usb2/2-2/2-2:1.0/host0/target0:0:0/0:0:0:0/block/sda";
    /// The Raspberry Pi 4's own SD card.
    const PI_SD_CARD: &str =
        "/devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc0/mmc0:5048/block/mmcblk0";

    /// Builds a kernel datagram with the header and `ACTION`/`DEVPATH` fields first, as the
    /// kernel sends them.
    fn datagram(action: &str, devpath: &str, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut bytes =
            format!("{action}@{devpath}\0ACTION={action}\0DEVPATH={devpath}\0").into_bytes();
        for (key, value) in fields {
            bytes.extend_from_slice(format!("{key}={value}\0").as_bytes());
        }
        bytes
    }

    fn block(action: &str, devpath: &str, devtype: &str, devname: &str) -> Vec<u8> {
        datagram(
            action,
            devpath,
            &[
                ("SUBSYSTEM", "block"),
                ("MAJOR", "8"),
                ("MINOR", "1"),
                ("DEVNAME", devname),
                ("DEVTYPE", devtype),
                ("SEQNUM", "2211"),
            ],
        )
    }

    fn classify(bytes: &[u8]) -> Option<StickUevent> {
        classify_stick_uevent(&parse_uevent(bytes).expect("datagram parses"))
    }

    #[test]
    fn parse_partition_add() {
        let devpath = format!("{PI_USB_DISK}/sda1");
        let uevent = parse_uevent(&block("add", &devpath, "partition", "sda1")).unwrap();
        assert_eq!(uevent.action, UeventAction::Add);
        assert_eq!(uevent.devpath, devpath);
        assert_eq!(uevent.subsystem(), Some("block"));
        assert_eq!(uevent.devtype(), Some("partition"));
        assert_eq!(uevent.devname(), Some("sda1"));
        assert_eq!(uevent.seqnum(), Ok(Some(2211)));
        assert_eq!(uevent.field("MAJOR"), Some("8"));
        assert_eq!(
            uevent.device_numbers(),
            Some(DeviceNumbers { major: 8, minor: 1 })
        );
    }

    #[test]
    fn parse_rejects_udev_format() {
        let mut bytes = b"libudev\0\xfe\xed\xca\xfe".to_vec();
        bytes.extend_from_slice(b"ACTION=add\0ID_FS_TYPE=vfat\0");
        assert_eq!(parse_uevent(&bytes), Err(UeventError::FromUdev));
    }

    #[test]
    fn parse_rejects_empty_datagram() {
        assert_eq!(parse_uevent(b""), Err(UeventError::Empty));
    }

    #[test]
    fn parse_rejects_header_without_at() {
        let error = parse_uevent(b"add /devices/x\0ACTION=add\0").unwrap_err();
        assert!(
            matches!(error, UeventError::InvalidHeader { .. }),
            "{error}"
        );
    }

    #[test]
    fn parse_rejects_relative_devpath() {
        let error = parse_uevent(b"add@devices/x\0").unwrap_err();
        assert!(
            matches!(error, UeventError::InvalidHeader { .. }),
            "{error}"
        );
    }

    #[test]
    fn parse_rejects_field_without_equals() {
        let error = parse_uevent(b"add@/devices/x\0ACTION=add\0GARBAGE\0").unwrap_err();
        assert_eq!(
            error,
            UeventError::InvalidField {
                field: "GARBAGE".to_owned()
            }
        );
    }

    #[test]
    fn parse_rejects_non_utf8_field() {
        let error = parse_uevent(b"add@/devices/x\0ACTION=add\0NAME=\xff\0").unwrap_err();
        assert_eq!(error, UeventError::NotUtf8 { index: 2 });
    }

    #[test]
    fn parse_rejects_action_mismatch() {
        let error = parse_uevent(b"add@/devices/x\0ACTION=remove\0").unwrap_err();
        assert!(matches!(
            error,
            UeventError::HeaderMismatch { key: "ACTION", .. }
        ));
    }

    #[test]
    fn parse_rejects_devpath_mismatch() {
        let error = parse_uevent(b"add@/devices/x\0DEVPATH=/devices/y\0").unwrap_err();
        assert!(matches!(
            error,
            UeventError::HeaderMismatch { key: "DEVPATH", .. }
        ));
    }

    #[test]
    fn parse_keeps_unknown_action() {
        let uevent = parse_uevent(b"frobnicate@/devices/x\0").unwrap();
        assert_eq!(uevent.action, UeventAction::Other("frobnicate".to_owned()));
    }

    #[test]
    fn parse_value_with_equals_sign() {
        let uevent = parse_uevent(b"change@/devices/x\0MODALIAS=usb:v1D6Bp0003=x\0").unwrap();
        assert_eq!(uevent.field("MODALIAS"), Some("usb:v1D6Bp0003=x"));
    }

    #[test]
    fn seqnum_not_a_number() {
        let uevent = parse_uevent(b"add@/devices/x\0SEQNUM=12a\0").unwrap();
        assert!(matches!(
            uevent.seqnum(),
            Err(UeventError::InvalidSeqnum { .. })
        ));
    }

    #[test]
    fn classify_usb_partition_add_and_remove() {
        let devpath = format!("{PI_USB_DISK}/sda1");
        let device = BlockDevice {
            name: "sda1".to_owned(),
            kind: BlockKind::Partition,
            devpath: devpath.clone(),
        };
        assert_eq!(
            classify(&block("add", &devpath, "partition", "sda1")),
            Some(StickUevent::Added(device.clone()))
        );
        assert_eq!(
            classify(&block("remove", &devpath, "partition", "sda1")),
            Some(StickUevent::Removed(device))
        );
    }

    #[test]
    fn classify_usb_whole_disk() {
        let event = classify(&block("add", PI_USB_DISK, "disk", "sda"));
        let Some(StickUevent::Added(device)) = event else {
            panic!("expected an added disk, got {event:?}");
        };
        assert_eq!(device.kind, BlockKind::Disk);
        assert_eq!(device.name, "sda");
    }

    #[test]
    fn classify_ignores_change() {
        assert_eq!(classify(&block("change", PI_USB_DISK, "disk", "sda")), None);
    }

    #[test]
    fn classify_ignores_sd_card() {
        let partition = format!("{PI_SD_CARD}/mmcblk0p2");
        assert_eq!(classify(&block("add", PI_SD_CARD, "disk", "mmcblk0")), None);
        assert_eq!(
            classify(&block("add", &partition, "partition", "mmcblk0p2")),
            None
        );
    }

    #[test]
    fn classify_ignores_loop_and_virtio() {
        let loop_device = block("add", "/devices/virtual/block/loop0", "disk", "loop0");
        let virtio = block(
            "add",
            "/devices/pci0000:00/0000:00:02.0/virtio1/block/vda",
            "disk",
            "vda",
        );
        assert_eq!(classify(&loop_device), None);
        assert_eq!(classify(&virtio), None);
    }

    #[test]
    fn classify_ignores_sata_disk() {
        let sata = "/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda";
        assert_eq!(classify(&block("add", sata, "disk", "sda")), None);
    }

    #[test]
    fn classify_ignores_usb_interface_events() {
        // The USB interface itself appears first, in the usb subsystem.
        let interface = datagram(
            "add",
            "/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb2/2-2/2-2:1.0",
            &[
                ("SUBSYSTEM", "usb"),
                ("DEVTYPE", "usb_interface"),
                ("INTERFACE", "8/6/80"),
            ],
        );
        assert_eq!(classify(&interface), None);
    }

    #[test]
    fn classify_ignores_usb_cd_drive() {
        let devpath =
            "/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/host6/target6:0:0/6:0:0:0/block/sr0";
        assert_eq!(classify(&block("add", devpath, "disk", "sr0")), None);
    }

    #[test]
    fn classify_ignores_event_without_devname() {
        let bytes = datagram(
            "add",
            PI_USB_DISK,
            &[("SUBSYSTEM", "block"), ("DEVTYPE", "disk")],
        );
        assert_eq!(classify(&bytes), None);
    }

    #[test]
    fn usb_devpath_components() {
        assert!(is_usb_devpath(
            "/devices/pci0000:00/0000:00:14.0/usb1/1-1/x"
        ));
        assert!(is_usb_devpath(
            "/devices/platform/soc/fe980000.usb/usb3/3-1/x"
        ));
        assert!(!is_usb_devpath("/devices/platform/soc/fe980000.usb/x"));
        assert!(!is_usb_devpath("/devices/platform/usb/x"));
        assert!(!is_usb_devpath("/devices/usbx1/x"));
    }

    #[test]
    fn stick_device_names() {
        for name in ["sda", "sdb1", "sdab", "sdz15"] {
            assert!(is_stick_device_name(name), "{name}");
        }
        for name in [
            "", "sd", "sd1", "sda1b", "sdA", "mmcblk0", "loop0", "sda/../x", "sda 1",
        ] {
            assert!(!is_stick_device_name(name), "{name}");
        }
    }
}
