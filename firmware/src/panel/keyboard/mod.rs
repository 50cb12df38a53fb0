//! USB keyboards on the box: a [`KeyInput`] over the Linux evdev nodes of every keyboard
//! plugged in, typing with the layout of `[panel] keyboard_layout`.
//!
//! [`EvdevKeys`] lists `/dev/input` every [`SCAN_INTERVAL`], so keyboards plugged in later are
//! picked up and unplugged ones dropped. Each problem is logged once, until its node or folder
//! changes. Keys are read with `poll(2)` over all open keyboards, and each keyboard keeps its
//! own Shift, AltGr and CapsLock state.
//!
//! # Layout
//! - [`devices`]: telling keyboards from other input devices, opening and grabbing them.
//! - [`record`]: `struct input_event` records from any file descriptor.
//! - [`layout`]: key codes to characters in the `be`, `fr` and `us` layouts.

pub mod devices;
pub mod layout;
pub mod record;

use std::collections::VecDeque;
use std::os::fd::{AsFd as _, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

pub use devices::{Access, InputFolders, KeyboardError};
pub use layout::KeyboardLayout;

use self::devices::{ScanReport, Scanner};
use self::layout::Typist;
use self::record::{EV_KEY, EV_SYN, ReadOutcome, RecordReader, SYN_DROPPED};
use super::controller::PanelInput;
use super::keys::{KeyEvent, KeyInput, KeyInputError};

/// How often the folder of input nodes is listed for keyboards plugged in.
// NOTE: until the scan after a keyboard is plugged in grabs it, up to this long, its keys also
// reach the console.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(1);

/// How long the keyboard thread waits for a key before it checks for the stop.
const KEY_POLL: Duration = Duration::from_millis(500);

/// One open keyboard.
struct Keyboard {
    name: String,
    path: PathBuf,
    reader: RecordReader,
    typist: Typist,
}

/// Keys typed on the USB keyboards, read from their evdev nodes.
pub struct EvdevKeys {
    layout: KeyboardLayout,
    /// `None` for a single descriptor without hot-plug.
    scanner: Option<Scanner>,
    keyboards: Vec<Keyboard>,
    typed: VecDeque<KeyEvent>,
    /// When the next scan is due; `None` until the first one.
    next_scan: Option<Instant>,
}

impl std::fmt::Debug for EvdevKeys {
    // Leaves out the keys typed but not yet read, and the dead key waiting.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvdevKeys")
            .field("layout", &self.layout)
            .field("keyboards", &self.keyboards())
            .finish_non_exhaustive()
    }
}

impl EvdevKeys {
    /// Reads every keyboard under `/dev/input`, grabbed so that the console receives no key.
    pub fn system(layout: KeyboardLayout) -> Self {
        Self::watch(InputFolders::system(), Access::Exclusive, layout)
    }

    /// Reads every keyboard in `folders`, which the first call to
    /// [`next_key`](KeyInput::next_key) lists.
    pub fn watch(folders: InputFolders, access: Access, layout: KeyboardLayout) -> Self {
        Self {
            layout,
            scanner: Some(Scanner::new(folders, access)),
            keyboards: Vec::new(),
            typed: VecDeque::new(),
            next_scan: None,
        }
    }

    /// Reads records from one descriptor, without hot-plug: a pipe or a file of records, or a
    /// node opened elsewhere. `name` stands for it in logs.
    pub fn from_fd(name: &str, fd: OwnedFd, layout: KeyboardLayout) -> Self {
        let mut keys = Self {
            layout,
            scanner: None,
            keyboards: Vec::new(),
            typed: VecDeque::new(),
            next_scan: None,
        };
        keys.add(name.to_owned(), PathBuf::from(name), fd);
        keys
    }

    /// Returns the paths of the open keyboards.
    pub fn keyboards(&self) -> Vec<&Path> {
        self.keyboards
            .iter()
            .map(|keyboard| keyboard.path.as_path())
            .collect()
    }

    fn add(&mut self, name: String, path: PathBuf, fd: OwnedFd) {
        self.keyboards.push(Keyboard {
            name,
            path,
            reader: RecordReader::new(fd),
            typist: Typist::new(self.layout),
        });
    }

    /// Lists the input folder when a scan is due, and logs what changed.
    fn scan_if_due(&mut self, now: Instant) {
        if self.next_scan.is_some_and(|due| now < due) {
            return;
        }
        let Some(scanner) = &mut self.scanner else {
            return;
        };
        let report = scanner.scan();
        self.next_scan = Some(now + SCAN_INTERVAL);
        self.apply(report);
    }

    fn apply(&mut self, report: ScanReport) {
        for name in report.removed {
            if let Some(index) = self.keyboards.iter().position(|k| k.name == name) {
                let keyboard = self.keyboards.remove(index);
                tracing::info!(path = %keyboard.path.display(), "keyboard unplugged");
            }
        }
        for name in report.ignored {
            tracing::debug!(node = %name, "input device ignored: not a keyboard");
        }
        for error in report.problems {
            tracing::warn!(%error, "keyboard not usable");
        }
        for opened in report.opened {
            tracing::info!(path = %opened.path.display(), layout = self.layout.name(), "keyboard opened");
            self.add(opened.name, opened.path, opened.fd);
        }
    }

    /// Waits up to `wait` for records and turns them into keys. Without a keyboard it only
    /// sleeps.
    fn read_keyboards(&mut self, wait: Duration) {
        if self.keyboards.is_empty() {
            std::thread::sleep(wait);
            return;
        }

        let ready = match self.poll(wait) {
            Ok(ready) => ready,
            Err(Errno::EINTR) => return,
            Err(errno) => {
                tracing::error!(error = %errno, "waiting for keyboard input failed");
                std::thread::sleep(wait);
                return;
            }
        };

        let mut closed = Vec::new();
        for index in ready {
            if !self.read_keyboard(index) {
                closed.push(index);
            }
        }
        for index in closed.into_iter().rev() {
            let keyboard = self.keyboards.remove(index);
            if let Some(scanner) = &mut self.scanner {
                scanner.mark_failed(&keyboard.name);
            }
        }
    }

    /// Returns the indices of the keyboards that have records, an error or an end to read.
    fn poll(&self, wait: Duration) -> Result<Vec<usize>, Errno> {
        let mut fds: Vec<PollFd<'_>> = self
            .keyboards
            .iter()
            .map(|keyboard| PollFd::new(keyboard.reader.as_fd(), PollFlags::POLLIN))
            .collect();
        let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
        nix::poll::poll(&mut fds, timeout)?;
        let ready = fds
            .iter()
            .enumerate()
            .filter(|(_, fd)| fd.revents().is_some_and(|events| !events.is_empty()))
            .map(|(index, _)| index)
            .collect();
        Ok(ready)
    }

    /// Reads one keyboard; returns `false` when it is gone and must be closed.
    fn read_keyboard(&mut self, index: usize) -> bool {
        let keyboard = &mut self.keyboards[index];
        match keyboard.reader.read() {
            Ok(ReadOutcome::Records(records)) => {
                for record in &records {
                    match (record.kind, record.code) {
                        (EV_KEY, _) => {
                            keyboard
                                .typist
                                .key(record.code, record.value, &mut self.typed);
                        }
                        (EV_SYN, SYN_DROPPED) => {
                            tracing::warn!(
                                path = %keyboard.path.display(),
                                "keyboard records were dropped; releasing the held modifiers"
                            );
                            keyboard.typist.release_all();
                        }
                        _ => {}
                    }
                }
                true
            }
            Ok(ReadOutcome::End) => {
                tracing::info!(path = %keyboard.path.display(), "keyboard input ended");
                false
            }
            Err(source) if source.raw_os_error() == Some(Errno::ENODEV as i32) => {
                tracing::info!(path = %keyboard.path.display(), "keyboard unplugged");
                false
            }
            Err(source) => {
                let error = KeyboardError::Read {
                    path: keyboard.path.clone(),
                    source,
                };
                tracing::warn!(%error, "keyboard closed");
                false
            }
        }
    }
}

impl KeyInput for EvdevKeys {
    fn next_key(&mut self, timeout: Duration) -> Result<Option<KeyEvent>, KeyInputError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(key) = self.typed.pop_front() {
                return Ok(Some(key));
            }
            let now = Instant::now();
            self.scan_if_due(now);
            if now >= deadline {
                return Ok(None);
            }

            let mut wait = deadline - now;
            if let Some(due) = self.next_scan {
                wait = wait.min(due.saturating_duration_since(now));
            }
            self.read_keyboards(wait);
        }
    }
}

/// Starts a thread that sends the keys typed on `keys` to the panel until `stop` is set. The
/// thread ends, with a log line, if the source fails.
pub fn spawn_reader(
    mut keys: impl KeyInput + Send + 'static,
    inputs: Sender<PanelInput>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("panel-keyboard".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match keys.next_key(KEY_POLL) {
                    Ok(Some(key)) => {
                        if inputs.send(PanelInput::Key(key)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(%error, "reading the keyboard failed; typing is off");
                        return;
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::Write as _;

    use input_linux::Key;

    use super::record::InputRecord;
    use super::*;

    const SHORT: Duration = Duration::from_millis(50);

    /// Press and release of `key`, each followed by a sync record as the kernel sends them.
    fn tap(key: Key) -> Vec<InputRecord> {
        let sync = InputRecord {
            kind: 0,
            code: 0,
            value: 0,
        };
        let record = |value| InputRecord {
            kind: EV_KEY,
            code: key as u16,
            value,
        };
        vec![record(1), sync, record(0), sync]
    }

    fn hold(key: Key, value: i32) -> InputRecord {
        InputRecord {
            kind: EV_KEY,
            code: key as u16,
            value,
        }
    }

    fn bytes(records: &[InputRecord]) -> Vec<u8> {
        records
            .iter()
            .flat_map(|record| record.to_bytes())
            .collect()
    }

    fn read_all(keys: &mut EvdevKeys) -> Vec<KeyEvent> {
        let mut typed = Vec::new();
        while let Some(key) = keys.next_key(SHORT).unwrap() {
            typed.push(key);
        }
        typed
    }

    #[test]
    fn dropped_records_release_shift() {
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        let mut writer = File::from(write_end);
        let mut keys = EvdevKeys::from_fd("pipe", read_end, KeyboardLayout::Us);

        // Shift's release is among the records the kernel dropped.
        let mut records = vec![hold(Key::LeftShift, 1)];
        records.extend(tap(Key::A));
        records.push(InputRecord {
            kind: EV_SYN,
            code: SYN_DROPPED,
            value: 0,
        });
        records.extend(tap(Key::A));
        writer.write_all(&bytes(&records)).unwrap();

        let expected = [KeyEvent::Char('A'), KeyEvent::Char('a')];
        assert_eq!(read_all(&mut keys), expected);
    }

    #[test]
    fn pipe_keys_typed_in_order() {
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        let mut writer = File::from(write_end);
        let mut keys = EvdevKeys::from_fd("pipe", read_end, KeyboardLayout::Be);

        let mut records = vec![hold(Key::LeftShift, 1)];
        records.extend(tap(Key::Q));
        records.push(hold(Key::LeftShift, 0));
        records.extend(tap(Key::Num2));
        // A scan code record (EV_MSC) as keyboards send before each key.
        records.push(InputRecord {
            kind: 0x04,
            code: 0x04,
            value: 0x70028,
        });
        records.extend(tap(Key::Enter));
        writer.write_all(&bytes(&records)).unwrap();

        let expected = [KeyEvent::Char('A'), KeyEvent::Char('é'), KeyEvent::Enter];
        assert_eq!(read_all(&mut keys), expected);
        assert_eq!(keys.keyboards(), [Path::new("pipe")], "still open");

        drop(writer);
        assert_eq!(keys.next_key(SHORT).unwrap(), None);
        assert!(keys.keyboards().is_empty(), "closed at the end of the pipe");
    }

    #[test]
    fn pipe_key_waits_for_writer() {
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        let mut keys = EvdevKeys::from_fd("pipe", read_end, KeyboardLayout::Us);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            File::from(write_end)
                .write_all(&bytes(&tap(Key::Esc)))
                .unwrap();
        });

        let key = keys.next_key(Duration::from_secs(5)).unwrap();
        assert_eq!(key, Some(KeyEvent::Escape));
        writer.join().unwrap();
    }

    #[test]
    fn timeout_without_keyboard() {
        let root = tempfile::tempdir().unwrap();
        let folders = InputFolders {
            devices: root.path().join("missing"),
            sysfs: root.path().join("sys"),
        };
        let mut keys = EvdevKeys::watch(folders, Access::Shared, KeyboardLayout::Be);
        let started = Instant::now();
        assert_eq!(keys.next_key(SHORT).unwrap(), None);
        assert!(started.elapsed() >= SHORT);
        assert!(keys.keyboards().is_empty());
    }

    #[test]
    fn watched_folder_keyboard_typed_and_dropped() {
        let root = tempfile::tempdir().unwrap();
        let folders = InputFolders {
            devices: root.path().join("dev/input"),
            sysfs: root.path().join("sys/class/input"),
        };
        let capabilities = folders.sysfs.join("event2/device/capabilities");
        std::fs::create_dir_all(&capabilities).unwrap();
        std::fs::create_dir_all(&folders.devices).unwrap();
        std::fs::write(capabilities.join("key"), "fffffffffffffffe\n").unwrap();
        let mut records = tap(Key::A);
        records.extend(tap(Key::Backspace));
        std::fs::write(folders.devices.join("event2"), bytes(&records)).unwrap();

        let mut keys = EvdevKeys::watch(folders.clone(), Access::Shared, KeyboardLayout::Fr);
        assert_eq!(
            read_all(&mut keys),
            [KeyEvent::Char('q'), KeyEvent::Backspace]
        );

        // The file ended, which closes it, and the next scan does not open it again.
        keys.next_scan = None;
        assert_eq!(keys.next_key(SHORT).unwrap(), None);
        assert!(keys.keyboards().is_empty());
    }

    #[test]
    fn debug_hides_waiting_keys() {
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        let mut keys = EvdevKeys::from_fd("pipe", read_end, KeyboardLayout::Us);
        let mut records = tap(Key::S);
        records.extend(tap(Key::E));
        File::from(write_end).write_all(&bytes(&records)).unwrap();
        assert_eq!(keys.next_key(SHORT).unwrap(), Some(KeyEvent::Char('s')));

        let text = format!("{keys:?}");
        assert_eq!(text, "EvdevKeys { layout: Us, keyboards: [\"pipe\"], .. }");
    }

    #[test]
    fn reader_thread_forwards_keys_until_stopped() {
        let (keys, sender) = super::super::keys::ChannelKeys::new();
        let (inputs, received) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = spawn_reader(keys, inputs, Arc::clone(&stop)).unwrap();

        sender.send(KeyEvent::Char('x')).unwrap();
        let input = received.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(matches!(input, PanelInput::Key(KeyEvent::Char('x'))));

        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        drop(sender);
    }
}
