//! An I2C bus that records every write, and an estimate of the time those writes take on the
//! wire.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, Operation};

/// One write transfer: the 7-bit address and the bytes after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I2cWrite {
    pub address: u8,
    pub bytes: Vec<u8>,
}

impl I2cWrite {
    /// Bit times this transfer occupies on the bus: a start condition (counted as one bit
    /// time), the address byte and every data byte with their acknowledge bits (9 bit times
    /// each), and a stop condition (one bit time).
    pub fn wire_bits(&self) -> u64 {
        1 + 9 + 9 * self.bytes.len() as u64 + 1
    }
}

/// Estimates the wire time of `writes` at `bus_hz` (SCL frequency).
///
/// This is a lower bound: it leaves out the bus-free time between transfers, clock stretching
/// and the time the kernel driver needs to start each transfer, which only a measurement on
/// the board shows.
pub fn wire_time(writes: &[I2cWrite], bus_hz: u32) -> Duration {
    let bits: u64 = writes.iter().map(I2cWrite::wire_bits).sum();
    Duration::from_nanos(bits * 1_000_000_000 / u64::from(bus_hz))
}

/// An I2C bus that accepts every write and records it; reads return zeros.
///
/// Clones share one record.
#[derive(Debug, Clone, Default)]
pub struct RecordingI2c {
    writes: Arc<Mutex<Vec<I2cWrite>>>,
}

impl RecordingI2c {
    /// Creates a bus with an empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns every write so far, oldest first.
    pub fn writes(&self) -> Vec<I2cWrite> {
        self.lock().clone()
    }

    /// Removes and returns every write so far.
    pub fn take_writes(&self) -> Vec<I2cWrite> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<I2cWrite>> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ErrorType for RecordingI2c {
    type Error = ErrorKind;
}

impl I2c for RecordingI2c {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        for operation in operations {
            match operation {
                Operation::Write(bytes) => self.lock().push(I2cWrite {
                    address,
                    bytes: bytes.to_vec(),
                }),
                Operation::Read(buffer) => buffer.fill(0),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_data_write_has_expected_bits() {
        let write = I2cWrite {
            address: 0x3C,
            bytes: vec![0x40; 17],
        };

        assert_eq!(write.wire_bits(), 1 + 9 + 17 * 9 + 1);
    }

    #[test]
    fn wire_time_scales_with_clock() {
        let writes = vec![I2cWrite {
            address: 0x3C,
            bytes: vec![0; 9],
        }];

        // 1 + 9 + 81 + 1 = 92 bit times.
        assert_eq!(wire_time(&writes, 100_000), Duration::from_micros(920));
        assert_eq!(wire_time(&writes, 400_000), Duration::from_micros(230));
    }

    #[test]
    fn recording_bus_keeps_writes() {
        let mut bus = RecordingI2c::new();
        let handle = bus.clone();

        bus.write(0x3C, &[0x00, 0xAF]).unwrap();

        assert_eq!(
            handle.take_writes(),
            vec![I2cWrite {
                address: 0x3C,
                bytes: vec![0x00, 0xAF]
            }]
        );
        assert!(handle.writes().is_empty());
    }
}
