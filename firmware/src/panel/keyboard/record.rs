//! `struct input_event` records of the Linux evdev interface, read from any file descriptor: a
//! device node on the box, a pipe or a file of recorded events in tests.
//!
//! The record is a `struct timeval` of two `unsigned long`s, then `__u16 type`, `__u16 code`
//! and `__s32 value`, in the target's byte order (`linux/input.h`). That is 24 bytes on aarch64
//! and x86_64 and 16 bytes on 32-bit targets, with or without 64-bit `time_t`.

use std::ffi::c_ulong;
use std::fs::File;
use std::io::{self, Read as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Bytes of one record on this target.
pub const RECORD_SIZE: usize = 2 * size_of::<c_ulong>() + 8;

/// The `type` of key records (`EV_KEY` in `linux/input-event-codes.h`).
pub const EV_KEY: u16 = 0x01;

/// The `type` of synchronisation records (`EV_SYN`).
pub const EV_SYN: u16 = 0x00;

/// The `code` of the `EV_SYN` record that the kernel sends when its buffer for this reader
/// overflowed and records were lost (`SYN_DROPPED`).
pub const SYN_DROPPED: u16 = 0x03;

/// The maximum number of records read by one `read` call.
const RECORDS_PER_READ: usize = 64;

/// One input event, without its time stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRecord {
    pub kind: u16,
    pub code: u16,
    pub value: i32,
}

impl InputRecord {
    /// Decodes one record in the native layout.
    pub fn from_bytes(bytes: &[u8; RECORD_SIZE]) -> Self {
        let fields = &bytes[RECORD_SIZE - 8..];
        Self {
            kind: u16::from_ne_bytes([fields[0], fields[1]]),
            code: u16::from_ne_bytes([fields[2], fields[3]]),
            value: i32::from_ne_bytes([fields[4], fields[5], fields[6], fields[7]]),
        }
    }

    /// Encodes the record in the native layout with a zero time stamp. Tests write such bytes
    /// in place of a keyboard.
    pub fn to_bytes(self) -> [u8; RECORD_SIZE] {
        let mut bytes = [0; RECORD_SIZE];
        let fields = &mut bytes[RECORD_SIZE - 8..];
        fields[0..2].copy_from_slice(&self.kind.to_ne_bytes());
        fields[2..4].copy_from_slice(&self.code.to_ne_bytes());
        fields[4..8].copy_from_slice(&self.value.to_ne_bytes());
        bytes
    }
}

/// The result of one read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Zero or more whole records; a partial one waits in the reader for its rest.
    Records(Vec<InputRecord>),
    /// The writer of a pipe closed it, or a file ended. A device node never ends this way: an
    /// unplugged keyboard fails its read with `ENODEV` instead.
    End,
}

/// Reads records from a file descriptor.
#[derive(Debug)]
pub struct RecordReader {
    file: File,
    partial: Vec<u8>,
}

impl RecordReader {
    /// Reads from `fd`: an evdev node, a pipe or a file.
    pub fn new(fd: OwnedFd) -> Self {
        Self {
            file: File::from(fd),
            partial: Vec::with_capacity(RECORD_SIZE),
        }
    }

    /// Makes one `read` call, which does not block once `poll` reported the descriptor
    /// readable, or when it is non-blocking. A non-blocking descriptor with nothing to read
    /// returns no records.
    pub fn read(&mut self) -> io::Result<ReadOutcome> {
        let mut buffer = [0; RECORD_SIZE * RECORDS_PER_READ];
        let length = match self.file.read(&mut buffer) {
            Ok(0) => return Ok(ReadOutcome::End),
            Ok(length) => length,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                return Ok(ReadOutcome::Records(Vec::new()));
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                return Ok(ReadOutcome::Records(Vec::new()));
            }
            Err(error) => return Err(error),
        };

        self.partial.extend_from_slice(&buffer[..length]);
        let whole = self.partial.len() / RECORD_SIZE * RECORD_SIZE;
        let records = self.partial[..whole]
            .chunks_exact(RECORD_SIZE)
            .filter_map(|chunk| <&[u8; RECORD_SIZE]>::try_from(chunk).ok())
            .map(InputRecord::from_bytes)
            .collect();
        self.partial.drain(..whole);
        Ok(ReadOutcome::Records(records))
    }
}

impl AsFd for RecordReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn record(code: u16, value: i32) -> InputRecord {
        InputRecord {
            kind: EV_KEY,
            code,
            value,
        }
    }

    #[test]
    fn record_size_matches_target() {
        #[cfg(target_pointer_width = "64")]
        assert_eq!(RECORD_SIZE, 24);
        #[cfg(target_pointer_width = "32")]
        assert_eq!(RECORD_SIZE, 16);
    }

    #[test]
    fn record_round_trips() {
        let original = InputRecord {
            kind: EV_KEY,
            code: 0x1e,
            value: -2,
        };
        assert_eq!(InputRecord::from_bytes(&original.to_bytes()), original);
    }

    #[test]
    fn fields_sit_after_time_stamp() {
        let mut bytes = [0xAB; RECORD_SIZE];
        bytes[RECORD_SIZE - 8..].copy_from_slice(&record(30, 1).to_bytes()[RECORD_SIZE - 8..]);
        assert_eq!(InputRecord::from_bytes(&bytes), record(30, 1));
    }

    #[test]
    fn pipe_records_arrive_across_partial_writes() {
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        let mut writer = File::from(write_end);
        let mut reader = RecordReader::new(read_end);

        let bytes: Vec<u8> = [record(30, 1), record(30, 0)]
            .iter()
            .flat_map(|record| record.to_bytes())
            .collect();
        let split = RECORD_SIZE + 5;
        writer.write_all(&bytes[..split]).unwrap();
        assert_eq!(
            reader.read().unwrap(),
            ReadOutcome::Records(vec![record(30, 1)])
        );

        writer.write_all(&bytes[split..]).unwrap();
        assert_eq!(
            reader.read().unwrap(),
            ReadOutcome::Records(vec![record(30, 0)])
        );

        drop(writer);
        assert_eq!(reader.read().unwrap(), ReadOutcome::End);
    }

    #[test]
    fn file_of_records_reads_to_end() {
        let mut file = tempfile::tempfile().unwrap();
        for code in [16, 17, 18] {
            file.write_all(&record(code, 1).to_bytes()).unwrap();
        }
        std::io::Seek::rewind(&mut file).unwrap();

        let mut reader = RecordReader::new(OwnedFd::from(file));
        let expected = vec![record(16, 1), record(17, 1), record(18, 1)];
        assert_eq!(reader.read().unwrap(), ReadOutcome::Records(expected));
        assert_eq!(reader.read().unwrap(), ReadOutcome::End);
    }
}
