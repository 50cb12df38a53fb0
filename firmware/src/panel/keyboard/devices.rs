//! Finding keyboards among the evdev nodes, opening them, and noticing the ones plugged in or
//! pulled out since the last look.
//!
//! A node is a keyboard when its `key` capabilities in sysfs include key codes 1 to 31, as in
//! udev's `input_id` test for `ID_INPUT_KEYBOARD`: Esc, the digits row, Q to P, Enter, A and S.
//! Mice, power buttons and the media-key interface of a keyboard lack them.
//!
//! Each node is judged once, by its name and inode. devtmpfs gives the node of a new device a
//! new inode even when it reuses a name such as `event3`. So a node that failed is not retried,
//! and a new device at an old name is still found.
//!
//! Permissions: read access to `/dev/input/event*`. udev's default rules give these nodes to
//! group `input` with mode 0660, so the service user joins that group, and a unit with
//! `DevicePolicy=closed` needs `DeviceAllow=char-input r`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use input_linux::EvdevHandle;
use nix::fcntl::OFlag;

/// The folder of the evdev nodes on Linux.
pub const INPUT_DEVICES: &str = "/dev/input";
/// The sysfs folder with one `eventN` entry per evdev node.
pub const SYSFS_INPUT: &str = "/sys/class/input";

/// Key codes 1 (`KEY_ESC`) to 31 (`KEY_S`), which every full keyboard has.
const KEYBOARD_KEYS_MASK: u64 = 0xFFFF_FFFE;

/// Errors of the keyboard devices.
#[derive(Debug, thiserror::Error)]
pub enum KeyboardError {
    /// The folder of the evdev nodes does not exist.
    #[error(
        "input device folder {path} not found; plug in a USB keyboard, and if one is plugged \
         in, check that the kernel has evdev (CONFIG_INPUT_EVDEV) and that the unit does not \
         set PrivateDevices="
    )]
    InputFolderNotFound { path: PathBuf },

    /// A node or the folder exists but this user may not open it.
    #[error(
        "permission denied opening {path}; add the service user to group input, which udev \
         gives /dev/input/event* to, and allow the nodes in the unit with DeviceAllow=char-input r"
    )]
    PermissionDenied { path: PathBuf },

    /// `EVIOCGRAB` failed, so typed keys would also reach the console.
    #[error(
        "cannot grab keyboard {path} for exclusive reading: {source}; stop the other program \
         that grabbed it (a desktop session, or a second practicebox)"
    )]
    Grab { path: PathBuf, source: io::Error },

    /// Listing the folder or opening a node failed for another reason.
    #[error("failed to open {path}: {source}")]
    Open { path: PathBuf, source: io::Error },

    /// Reading an open keyboard failed; an unplugged keyboard fails with `ENODEV`.
    #[error("failed to read keyboard {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
}

impl KeyboardError {
    fn open(path: &Path, source: io::Error) -> Self {
        let path = path.to_owned();
        match source.kind() {
            io::ErrorKind::PermissionDenied => KeyboardError::PermissionDenied { path },
            _ => KeyboardError::Open { path, source },
        }
    }
}

/// The folders the scanner reads: the real ones on the box, temporary ones in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFolders {
    /// The folder of the `eventN` nodes.
    pub devices: PathBuf,
    /// The sysfs folder whose `eventN/device/capabilities/key` files list each node's keys.
    pub sysfs: PathBuf,
}

impl InputFolders {
    /// Returns `/dev/input` and `/sys/class/input`.
    pub fn system() -> Self {
        Self {
            devices: PathBuf::from(INPUT_DEVICES),
            sysfs: PathBuf::from(SYSFS_INPUT),
        }
    }
}

/// The access mode of an opened keyboard node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Grab the device (`EVIOCGRAB`), so that no other reader, the console included, receives
    /// the typed password. The kernel releases the grab when the node is closed.
    Exclusive,
    /// Read without grabbing: for the files and pipes that stand in for devices in tests,
    /// which reject the ioctl.
    Shared,
}

/// Returns whether the text of a sysfs `capabilities/key` file lists key codes 1 to 31.
///
/// The file contains the key bitmap as hexadecimal words, most significant first, each as wide
/// as the kernel's `long`. Codes below 32 sit in the last word whatever that width is, which a
/// 32-bit program on a 64-bit kernel cannot know.
pub fn is_keyboard(capabilities: &str) -> bool {
    let Some(last) = capabilities.split_whitespace().last() else {
        return false;
    };
    let Ok(bits) = u64::from_str_radix(last, 16) else {
        return false;
    };
    bits & KEYBOARD_KEYS_MASK == KEYBOARD_KEYS_MASK
}

/// A node's identity: a new device at a reused name has another inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NodeIdentity {
    inode: u64,
}

/// The scanner's verdict on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeState {
    /// Open; the keyboard was handed to the caller.
    Keyboard,
    /// Not a keyboard (a mouse, a power button, a keyboard's media keys).
    Other,
    /// Opening or reading it failed; it is retried only once its inode changes.
    Failed,
}

/// A keyboard node that the scanner opened.
#[derive(Debug)]
pub struct OpenedKeyboard {
    pub name: String,
    pub path: PathBuf,
    pub fd: OwnedFd,
}

/// The changes found by one scan.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Keyboards found and opened.
    pub opened: Vec<OpenedKeyboard>,
    /// Names of nodes gone since the last scan; the caller closes those it holds.
    pub removed: Vec<String>,
    /// Nodes and folders that failed, each reported once until it changes.
    pub problems: Vec<KeyboardError>,
    /// Names of nodes that are not keyboards, each reported once.
    pub ignored: Vec<String>,
}

/// The hot-plug scanner: lists the evdev nodes and judges the ones it has not seen.
#[derive(Debug)]
pub struct Scanner {
    folders: InputFolders,
    access: Access,
    nodes: BTreeMap<String, (NodeIdentity, NodeState)>,
    /// The kind of the last error on the folder itself, so that it is reported once.
    folder_error: Option<io::ErrorKind>,
}

impl Scanner {
    /// Creates a scanner that has seen no node yet.
    pub fn new(folders: InputFolders, access: Access) -> Self {
        Self {
            folders,
            access,
            nodes: BTreeMap::new(),
            folder_error: None,
        }
    }

    /// Marks an open keyboard whose read failed, so that it is not opened again until its
    /// node changes.
    pub fn mark_failed(&mut self, name: &str) {
        if let Some((_, state)) = self.nodes.get_mut(name) {
            *state = NodeState::Failed;
        }
    }

    /// Lists the folder, opens the new keyboards and reports the nodes gone.
    pub fn scan(&mut self) -> ScanReport {
        let mut report = ScanReport::default();
        let present = match self.list_nodes() {
            Ok(present) => {
                self.folder_error = None;
                present
            }
            Err(error) => {
                if self.folder_error != Some(error.kind()) {
                    self.folder_error = Some(error.kind());
                    report.problems.push(self.folder_problem(error));
                }
                BTreeMap::new()
            }
        };

        self.forget_gone(&present, &mut report);
        for (name, identity) in present {
            if self.nodes.contains_key(&name) {
                continue;
            }
            if let Some(state) = self.judge(&name, &mut report) {
                self.nodes.insert(name, (identity, state));
            }
        }
        report
    }

    fn folder_problem(&self, error: io::Error) -> KeyboardError {
        let path = self.folders.devices.clone();
        match error.kind() {
            io::ErrorKind::NotFound => KeyboardError::InputFolderNotFound { path },
            _ => KeyboardError::open(&path, error),
        }
    }

    /// Returns the `eventN` nodes in the folder with their identity.
    fn list_nodes(&self) -> io::Result<BTreeMap<String, NodeIdentity>> {
        let mut nodes = BTreeMap::new();
        for entry in std::fs::read_dir(&self.folders.devices)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !is_event_node_name(&name) {
                continue;
            }
            // A node removed since the listing is simply left out.
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let identity = NodeIdentity {
                inode: metadata.ino(),
            };
            nodes.insert(name, identity);
        }
        Ok(nodes)
    }

    /// Drops the nodes that are gone or were replaced, reporting the names.
    fn forget_gone(&mut self, present: &BTreeMap<String, NodeIdentity>, report: &mut ScanReport) {
        let gone: Vec<String> = self
            .nodes
            .iter()
            .filter(|(name, (identity, _))| present.get(*name) != Some(identity))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            self.nodes.remove(&name);
            report.removed.push(name);
        }
    }

    /// Decides about a new node and opens it if it is a keyboard. Returns `None` when the
    /// node or its sysfs entry vanished meanwhile or is not there yet, so the next scan looks
    /// again.
    fn judge(&self, name: &str, report: &mut ScanReport) -> Option<NodeState> {
        let capabilities_file = self
            .folders
            .sysfs
            .join(name)
            .join("device/capabilities/key");
        let capabilities = std::fs::read_to_string(&capabilities_file).ok()?;
        if !is_keyboard(&capabilities) {
            report.ignored.push(name.to_owned());
            return Some(NodeState::Other);
        }

        let path = self.folders.devices.join(name);
        match open_keyboard(&path, self.access) {
            Ok(fd) => {
                report.opened.push(OpenedKeyboard {
                    name: name.to_owned(),
                    path,
                    fd,
                });
                Some(NodeState::Keyboard)
            }
            Err(KeyboardError::Open { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                None
            }
            Err(error) => {
                report.problems.push(error);
                Some(NodeState::Failed)
            }
        }
    }
}

/// Returns whether `name` is an evdev node name such as `event12`.
fn is_event_node_name(name: &str) -> bool {
    name.strip_prefix("event")
        .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

/// Opens `path` for non-blocking reading and grabs it unless `access` is shared.
pub fn open_keyboard(path: &Path, access: Access) -> Result<OwnedFd, KeyboardError> {
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|error| KeyboardError::open(path, error))?;
    if access == Access::Exclusive {
        EvdevHandle::new(file.as_raw_fd())
            .grab(true)
            .map_err(|source| KeyboardError::Grab {
                path: path.to_owned(),
                source,
            })?;
    }
    Ok(OwnedFd::from(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `key` capabilities of a USB keyboard (64-bit kernel), as sysfs prints them.
    const KEYBOARD_KEYS: &str = "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe";
    /// A keyboard's second interface, with media keys only: no key code below 64.
    const MEDIA_KEYS: &str = "1 0 0 0 0 7c0000000000000 e0b0ffdf01cfffff 1000000000000 0";
    /// A mouse: buttons only.
    const MOUSE_KEYS: &str = "1f0000 0 0 0 0";
    /// The same keyboard on a 32-bit kernel, with 32-bit words.
    const KEYBOARD_KEYS_32: &str = "10000 7 ff9f207a c14057ff febeffdf ffefffff ffffffff fffffffe";

    #[test]
    fn capabilities_recognise_keyboards() {
        assert!(is_keyboard(KEYBOARD_KEYS));
        assert!(is_keyboard(KEYBOARD_KEYS_32));
        assert!(is_keyboard(&format!("{KEYBOARD_KEYS}\n")));
    }

    #[test]
    fn capabilities_reject_other_devices() {
        assert!(!is_keyboard(MEDIA_KEYS), "no key code below 32");
        assert!(!is_keyboard(MOUSE_KEYS));
        assert!(!is_keyboard("0"));
        assert!(!is_keyboard(""));
        assert!(!is_keyboard("not hexadecimal"));

        assert!(is_keyboard("0 fffffffe"), "codes 1 to 31");
        for code in [1, 2, 16, 28, 31] {
            let text = format!("0 {:x}", 0xFFFF_FFFE_u64 & !(1 << code));
            assert!(!is_keyboard(&text), "without key {code}");
        }
    }

    #[test]
    fn event_node_names() {
        assert!(is_event_node_name("event0"));
        assert!(is_event_node_name("event12"));
        assert!(!is_event_node_name("event"));
        assert!(!is_event_node_name("mouse0"));
        assert!(!is_event_node_name("by-id"));
        assert!(!is_event_node_name("event1x"));
    }

    /// A temporary `/dev/input` and `/sys/class/input`.
    struct FakeInput {
        _root: tempfile::TempDir,
        folders: InputFolders,
    }

    impl FakeInput {
        fn new() -> Self {
            let root = tempfile::tempdir().unwrap();
            let folders = InputFolders {
                devices: root.path().join("dev/input"),
                sysfs: root.path().join("sys/class/input"),
            };
            std::fs::create_dir_all(&folders.devices).unwrap();
            std::fs::create_dir_all(&folders.sysfs).unwrap();
            Self {
                _root: root,
                folders,
            }
        }

        fn plug(&self, name: &str, capabilities: &str) {
            let device = self.folders.sysfs.join(name).join("device/capabilities");
            std::fs::create_dir_all(&device).unwrap();
            std::fs::write(device.join("key"), format!("{capabilities}\n")).unwrap();
            std::fs::write(self.folders.devices.join(name), b"").unwrap();
        }

        fn unplug(&self, name: &str) {
            std::fs::remove_file(self.folders.devices.join(name)).unwrap();
            std::fs::remove_dir_all(self.folders.sysfs.join(name)).unwrap();
        }

        fn scanner(&self) -> Scanner {
            Scanner::new(self.folders.clone(), Access::Shared)
        }
    }

    fn opened_names(report: &ScanReport) -> Vec<&str> {
        report
            .opened
            .iter()
            .map(|keyboard| keyboard.name.as_str())
            .collect()
    }

    #[test]
    fn scan_opens_keyboards_only() {
        let input = FakeInput::new();
        input.plug("event0", KEYBOARD_KEYS);
        input.plug("event1", MOUSE_KEYS);
        input.plug("event2", MEDIA_KEYS);
        std::fs::write(input.folders.devices.join("mouse0"), b"").unwrap();
        let mut scanner = input.scanner();

        let report = scanner.scan();
        assert_eq!(opened_names(&report), ["event0"]);
        assert_eq!(report.ignored, ["event1", "event2"]);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.opened[0].path, input.folders.devices.join("event0"));

        let again = scanner.scan();
        assert!(
            again.opened.is_empty(),
            "an open keyboard is not opened twice"
        );
        assert!(again.ignored.is_empty(), "other devices are reported once");
        assert!(again.removed.is_empty());
    }

    #[test]
    fn scan_follows_plug_and_unplug() {
        let input = FakeInput::new();
        let mut scanner = input.scanner();
        assert!(scanner.scan().opened.is_empty());

        input.plug("event3", KEYBOARD_KEYS);
        assert_eq!(opened_names(&scanner.scan()), ["event3"]);

        input.unplug("event3");
        let report = scanner.scan();
        assert_eq!(report.removed, ["event3"]);
        assert!(report.problems.is_empty(), "{:?}", report.problems);

        input.plug("event3", KEYBOARD_KEYS);
        assert_eq!(
            opened_names(&scanner.scan()),
            ["event3"],
            "plugged in again"
        );
    }

    #[test]
    fn replaced_node_at_same_name_is_judged_again() {
        let input = FakeInput::new();
        input.plug("event4", MOUSE_KEYS);
        let mut scanner = input.scanner();
        assert_eq!(scanner.scan().ignored, ["event4"]);

        // A keyboard takes the mouse's name between two scans; the old file is kept open so
        // that the new one cannot reuse its inode.
        let old = File::open(input.folders.devices.join("event4")).unwrap();
        input.unplug("event4");
        input.plug("event4", KEYBOARD_KEYS);
        let report = scanner.scan();
        drop(old);
        assert_eq!(report.removed, ["event4"]);
        assert_eq!(opened_names(&report), ["event4"]);
    }

    #[test]
    fn node_without_sysfs_entry_is_retried() {
        let input = FakeInput::new();
        std::fs::write(input.folders.devices.join("event5"), b"").unwrap();
        let mut scanner = input.scanner();
        let report = scanner.scan();
        assert!(report.opened.is_empty());
        assert!(report.ignored.is_empty());

        input.plug("event5", KEYBOARD_KEYS);
        assert_eq!(opened_names(&scanner.scan()), ["event5"]);
    }

    #[test]
    fn failed_keyboard_is_not_reopened() {
        let input = FakeInput::new();
        input.plug("event6", KEYBOARD_KEYS);
        let mut scanner = input.scanner();
        assert_eq!(opened_names(&scanner.scan()), ["event6"]);

        scanner.mark_failed("event6");
        let report = scanner.scan();
        assert!(report.opened.is_empty());
        assert!(report.removed.is_empty());
    }

    #[test]
    fn grab_failure_reported_once() {
        let input = FakeInput::new();
        input.plug("event7", KEYBOARD_KEYS);
        // A plain file rejects EVIOCGRAB with ENOTTY, as a node held by another grab rejects
        // it with EBUSY.
        let mut scanner = Scanner::new(input.folders.clone(), Access::Exclusive);

        let report = scanner.scan();
        assert!(report.opened.is_empty());
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        let message = report.problems[0].to_string();
        assert!(message.starts_with("cannot grab keyboard "), "{message}");
        assert!(message.contains("event7"), "{message}");

        let again = scanner.scan();
        assert!(again.problems.is_empty(), "{:?}", again.problems);
    }

    #[test]
    fn missing_folder_reported_once() {
        let input = FakeInput::new();
        input.plug("event0", KEYBOARD_KEYS);
        let mut scanner = input.scanner();
        assert_eq!(opened_names(&scanner.scan()), ["event0"]);

        std::fs::remove_dir_all(&input.folders.devices).unwrap();
        let report = scanner.scan();
        assert_eq!(report.removed, ["event0"]);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(matches!(
            report.problems[0],
            KeyboardError::InputFolderNotFound { .. }
        ));
        assert!(scanner.scan().problems.is_empty(), "no repeat");

        std::fs::create_dir_all(&input.folders.devices).unwrap();
        input.plug("event0", KEYBOARD_KEYS);
        let report = scanner.scan();
        assert_eq!(opened_names(&report), ["event0"]);
        std::fs::remove_dir_all(&input.folders.devices).unwrap();
        assert_eq!(scanner.scan().problems.len(), 1, "missing again");
    }

    #[test]
    fn missing_folder_error_names_path_and_fix() {
        let error = KeyboardError::InputFolderNotFound {
            path: PathBuf::from("/dev/input"),
        };
        let text = error.to_string();
        assert!(
            text.starts_with("input device folder /dev/input not found;"),
            "{text}"
        );
        assert!(text.contains("PrivateDevices="), "{text}");
    }

    #[test]
    fn permission_error_names_node_and_group() {
        let error = KeyboardError::open(
            Path::new("/dev/input/event3"),
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        let text = error.to_string();
        assert!(
            text.starts_with("permission denied opening /dev/input/event3;"),
            "{text}"
        );
        assert!(text.contains("group input"), "{text}");
        assert!(text.contains("DeviceAllow=char-input r"), "{text}");
    }

    #[test]
    fn open_error_of_missing_node() {
        let error = open_keyboard(Path::new("/nonexistent/event9"), Access::Shared).unwrap_err();
        assert!(
            matches!(&error, KeyboardError::Open { source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("failed to open /nonexistent/event9: ")
        );
    }
}
