//! File system detection from the first bytes of a block device.
//!
//! Kernel uevents carry no `ID_FS_TYPE` (udev adds it after running blkid), so the mount helper
//! reads the first [`PROBE_LEN`] bytes of the device and looks for the superblocks and boot
//! sectors itself. The result also separates a whole disk with a partition table (its partitions
//! are mounted one by one) from a disk formatted without one. It names common file systems that
//! the box does not mount, so that the doctor gets a useful message.
//!
//! Sources of the on-disk layouts: Microsoft's FAT specification (BPB fields and the cluster
//! counts 4085 and 65525 that separate FAT12, FAT16 and FAT32), Microsoft's exFAT and NTFS
//! boot sector layouts (OEM name at byte 3), the ext2/3/4 superblock at byte 1024 (magic 0xEF53
//! at byte 56 of it), the ISO 9660 volume descriptor at 32 KiB and the UEFI GPT header at LBA 1.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Bytes read from the start of a device: the btrfs superblock at 64 KiB is the furthest
/// structure looked at.
pub const PROBE_LEN: usize = 0x11000;

/// A file system the box mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filesystem {
    Fat12,
    Fat16,
    Fat32,
    ExFat,
    Ntfs,
    Ext2,
    Ext3,
    Ext4,
}

impl Filesystem {
    /// Returns the file system type passed to mount(2). ext2 and ext3 go through the ext4 driver,
    /// which Debian's kernel also registers for them; NTFS goes through the in-kernel ntfs3.
    pub fn kernel_type(self) -> &'static str {
        match self {
            Self::Fat12 | Self::Fat16 | Self::Fat32 => "vfat",
            Self::ExFat => "exfat",
            Self::Ntfs => "ntfs3",
            Self::Ext2 | Self::Ext3 | Self::Ext4 => "ext4",
        }
    }

    /// Returns the file system's common name, as computers show it (`FAT32`, `exFAT`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Fat12 => "FAT12",
            Self::Fat16 => "FAT16",
            Self::Fat32 => "FAT32",
            Self::ExFat => "exFAT",
            Self::Ntfs => "NTFS",
            Self::Ext2 => "ext2",
            Self::Ext3 => "ext3",
            Self::Ext4 => "ext4",
        }
    }
}

impl fmt::Display for Filesystem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A format recognised on the device that the box does not mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsupportedFormat {
    Iso9660,
    Luks,
    Xfs,
    Btrfs,
    HfsPlus,
    Apfs,
    F2fs,
    Squashfs,
    Swap,
}

impl UnsupportedFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Iso9660 => "ISO 9660 (CD image)",
            Self::Luks => "LUKS (encrypted)",
            Self::Xfs => "XFS",
            Self::Btrfs => "Btrfs",
            Self::HfsPlus => "HFS+ (Mac)",
            Self::Apfs => "APFS (Mac)",
            Self::F2fs => "F2FS",
            Self::Squashfs => "SquashFS",
            Self::Swap => "Linux swap",
        }
    }
}

impl fmt::Display for UnsupportedFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A partition table found at the start of a whole disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionTable {
    Mbr,
    Gpt,
}

/// The content found in the first bytes of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Filesystem(Filesystem),
    Unsupported(UnsupportedFormat),
    PartitionTable(PartitionTable),
    /// Nothing recognised: blank, damaged, or a format not listed here.
    Unknown,
}

/// Identifies the content of a device from its first bytes (up to [`PROBE_LEN`]; a shorter
/// slice is fine for small devices, and structures beyond its end count as absent).
pub fn probe(bytes: &[u8]) -> Probe {
    // An ISO 9660 image written to a stick often carries a boot sector and an MBR as well
    // ("hybrid" images), so the volume descriptor decides first.
    if bytes_at(bytes, 0x8001, 5) == Some(b"CD001") {
        return Probe::Unsupported(UnsupportedFormat::Iso9660);
    }
    if let Some(format) = probe_magic_formats(bytes) {
        return Probe::Unsupported(format);
    }
    if let Some(filesystem) = probe_boot_sector(bytes) {
        return Probe::Filesystem(filesystem);
    }
    if let Some(filesystem) = probe_ext(bytes) {
        return Probe::Filesystem(filesystem);
    }
    if let Some(format) = probe_late_magic_formats(bytes) {
        return Probe::Unsupported(format);
    }
    if let Some(table) = probe_partition_table(bytes) {
        return Probe::PartitionTable(table);
    }
    Probe::Unknown
}

/// Formats with a magic number in the first sector.
fn probe_magic_formats(bytes: &[u8]) -> Option<UnsupportedFormat> {
    let start = bytes_at(bytes, 0, 8)?;
    if start.starts_with(b"LUKS\xba\xbe") {
        return Some(UnsupportedFormat::Luks);
    }
    if start.starts_with(b"XFSB") {
        return Some(UnsupportedFormat::Xfs);
    }
    if start.starts_with(b"hsqs") {
        return Some(UnsupportedFormat::Squashfs);
    }
    if bytes_at(bytes, 32, 4) == Some(b"NXSB") {
        return Some(UnsupportedFormat::Apfs);
    }
    None
}

/// Formats whose magic lies past the ext superblock.
fn probe_late_magic_formats(bytes: &[u8]) -> Option<UnsupportedFormat> {
    let hfs_signature = bytes_at(bytes, 0x400, 2);
    if hfs_signature == Some(b"H+") || hfs_signature == Some(b"HX") {
        return Some(UnsupportedFormat::HfsPlus);
    }
    if read_u32_le(bytes, 0x400) == Some(0xF2F5_2010) {
        return Some(UnsupportedFormat::F2fs);
    }
    // The swap signature sits at the end of the first page; 4 KiB pages on arm64 and x86_64.
    if bytes_at(bytes, 4096 - 10, 10) == Some(b"SWAPSPACE2") {
        return Some(UnsupportedFormat::Swap);
    }
    if bytes_at(bytes, 0x10040, 8) == Some(b"_BHRfS_M") {
        return Some(UnsupportedFormat::Btrfs);
    }
    None
}

/// File systems that start with a boot sector: NTFS, exFAT and the FAT family.
fn probe_boot_sector(bytes: &[u8]) -> Option<Filesystem> {
    let oem_name = bytes_at(bytes, 3, 8)?;
    if oem_name == b"NTFS    " {
        return Some(Filesystem::Ntfs);
    }
    if oem_name == b"EXFAT   " {
        return Some(Filesystem::ExFat);
    }
    probe_fat(bytes)
}

/// Parses the FAT BIOS parameter block: checks that each field is in range, then counts the
/// data clusters, which alone decide between FAT12, FAT16 and FAT32.
fn probe_fat(bytes: &[u8]) -> Option<Filesystem> {
    let jump = bytes_at(bytes, 0, 3)?;
    let jump_ok = (jump[0] == 0xEB && jump[2] == 0x90) || jump[0] == 0xE9;
    if !jump_ok || bytes_at(bytes, 510, 2) != Some(&[0x55, 0xAA]) {
        return None;
    }

    let bytes_per_sector = u32::from(read_u16_le(bytes, 11)?);
    let sectors_per_cluster = u32::from(*bytes.get(13)?);
    let reserved_sectors = u32::from(read_u16_le(bytes, 14)?);
    let fat_count = u32::from(*bytes.get(16)?);
    let root_entries = u32::from(read_u16_le(bytes, 17)?);
    let media = *bytes.get(21)?;
    let valid_ranges = matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        && sectors_per_cluster.is_power_of_two()
        && sectors_per_cluster <= 128
        && reserved_sectors >= 1
        && matches!(fat_count, 1 | 2)
        && (media == 0xF0 || media >= 0xF8);
    if !valid_ranges {
        return None;
    }

    let fat_sectors = match read_u16_le(bytes, 22)? {
        0 => read_u32_le(bytes, 36)?,
        small => u32::from(small),
    };
    let total_sectors = match read_u16_le(bytes, 19)? {
        0 => read_u32_le(bytes, 32)?,
        small => u32::from(small),
    };
    let root_dir_sectors = (root_entries * 32).div_ceil(bytes_per_sector);
    let metadata_sectors = u64::from(reserved_sectors)
        + u64::from(fat_count) * u64::from(fat_sectors)
        + u64::from(root_dir_sectors);
    let data_sectors = u64::from(total_sectors).checked_sub(metadata_sectors)?;
    let clusters = data_sectors / u64::from(sectors_per_cluster);
    if fat_sectors == 0 || clusters == 0 {
        return None;
    }

    Some(match clusters {
        0..4085 => Filesystem::Fat12,
        4085..65525 => Filesystem::Fat16,
        _ => Filesystem::Fat32,
    })
}

/// Parses the ext2/3/4 superblock at byte 1024. The version is read from the feature flags the way
/// blkid does: a journal makes ext3, any feature beyond ext3's set makes ext4.
fn probe_ext(bytes: &[u8]) -> Option<Filesystem> {
    const SUPERBLOCK: usize = 1024;
    const COMPAT_HAS_JOURNAL: u32 = 0x4;
    // filetype, recover, journal device, meta_bg: the incompatible features ext3 supports.
    const INCOMPAT_EXT3: u32 = 0x1F;
    // sparse_super, large_file, btree_dir: the read-only features ext3 supports.
    const RO_COMPAT_EXT3: u32 = 0x7;

    if read_u16_le(bytes, SUPERBLOCK + 0x38)? != 0xEF53 {
        return None;
    }
    let compat = read_u32_le(bytes, SUPERBLOCK + 0x5C)?;
    let incompat = read_u32_le(bytes, SUPERBLOCK + 0x60)?;
    let ro_compat = read_u32_le(bytes, SUPERBLOCK + 0x64)?;
    if incompat & !INCOMPAT_EXT3 != 0 || ro_compat & !RO_COMPAT_EXT3 != 0 {
        Some(Filesystem::Ext4)
    } else if compat & COMPAT_HAS_JOURNAL != 0 {
        Some(Filesystem::Ext3)
    } else {
        Some(Filesystem::Ext2)
    }
}

/// Detects a GPT header at LBA 1 (512- or 4096-byte sectors), or an MBR with at least one valid
/// entry. Called only after the boot sector checks, so a FAT boot sector is not taken for an
/// MBR.
fn probe_partition_table(bytes: &[u8]) -> Option<PartitionTable> {
    if bytes_at(bytes, 512, 8) == Some(b"EFI PART") || bytes_at(bytes, 4096, 8) == Some(b"EFI PART")
    {
        return Some(PartitionTable::Gpt);
    }
    if bytes_at(bytes, 510, 2) != Some(&[0x55, 0xAA]) {
        return None;
    }
    let entries = bytes_at(bytes, 446, 64)?;
    let mut any_partition = false;
    for entry in entries.chunks_exact(16) {
        let boot_flag = entry[0];
        let partition_type = entry[4];
        if boot_flag != 0x00 && boot_flag != 0x80 {
            return None;
        }
        any_partition |= partition_type != 0;
    }
    any_partition.then_some(PartitionTable::Mbr)
}

fn bytes_at(bytes: &[u8], offset: usize, len: usize) -> Option<&[u8]> {
    bytes.get(offset..offset.checked_add(len)?)
}

fn read_u16_le(bytes: &[u8], offset: usize) -> Option<u16> {
    let field = bytes_at(bytes, offset, 2)?;
    Some(u16::from_le_bytes([field[0], field[1]]))
}

fn read_u32_le(bytes: &[u8], offset: usize) -> Option<u32> {
    let field = bytes_at(bytes, offset, 4)?;
    Some(u32::from_le_bytes([field[0], field[1], field[2], field[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroed() -> Vec<u8> {
        vec![0; PROBE_LEN]
    }

    #[test]
    fn probe_empty_device_is_unknown() {
        assert_eq!(probe(&zeroed()), Probe::Unknown);
        assert_eq!(probe(&[]), Probe::Unknown);
    }

    #[test]
    fn probe_luks_header() {
        let mut bytes = zeroed();
        bytes[..6].copy_from_slice(b"LUKS\xba\xbe");
        assert_eq!(probe(&bytes), Probe::Unsupported(UnsupportedFormat::Luks));
    }

    #[test]
    fn probe_hybrid_iso_wins_over_mbr() {
        let mut bytes = zeroed();
        bytes[446 + 4] = 0x17;
        bytes[510] = 0x55;
        bytes[511] = 0xAA;
        bytes[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(
            probe(&bytes),
            Probe::Unsupported(UnsupportedFormat::Iso9660)
        );
    }

    #[test]
    fn probe_mbr_with_one_partition() {
        let mut bytes = zeroed();
        bytes[446 + 4] = 0x0C;
        bytes[510] = 0x55;
        bytes[511] = 0xAA;
        assert_eq!(probe(&bytes), Probe::PartitionTable(PartitionTable::Mbr));
    }

    #[test]
    fn probe_mbr_with_bad_boot_flag_is_unknown() {
        let mut bytes = zeroed();
        bytes[446] = 0x12;
        bytes[446 + 4] = 0x0C;
        bytes[510] = 0x55;
        bytes[511] = 0xAA;
        assert_eq!(probe(&bytes), Probe::Unknown);
    }

    #[test]
    fn probe_gpt_header() {
        let mut bytes = zeroed();
        bytes[512..520].copy_from_slice(b"EFI PART");
        assert_eq!(probe(&bytes), Probe::PartitionTable(PartitionTable::Gpt));
    }

    #[test]
    fn probe_btrfs_superblock() {
        let mut bytes = zeroed();
        bytes[0x10040..0x10048].copy_from_slice(b"_BHRfS_M");
        assert_eq!(probe(&bytes), Probe::Unsupported(UnsupportedFormat::Btrfs));
    }

    #[test]
    fn probe_truncated_read_misses_btrfs() {
        let mut bytes = zeroed();
        bytes[0x10040..0x10048].copy_from_slice(b"_BHRfS_M");
        assert_eq!(probe(&bytes[..0x10000]), Probe::Unknown);
    }

    #[test]
    fn probe_fat_boot_sector_without_signature() {
        // A FAT-like BPB without 0x55AA at 510 is not taken for FAT.
        let mut bytes = zeroed();
        bytes[..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
        bytes[11..13].copy_from_slice(&512u16.to_le_bytes());
        bytes[13] = 4;
        bytes[14] = 1;
        bytes[16] = 2;
        bytes[21] = 0xF8;
        assert_eq!(probe(&bytes), Probe::Unknown);
    }

    #[test]
    fn filesystem_kernel_types() {
        assert_eq!(Filesystem::Fat32.kernel_type(), "vfat");
        assert_eq!(Filesystem::ExFat.kernel_type(), "exfat");
        assert_eq!(Filesystem::Ntfs.kernel_type(), "ntfs3");
        assert_eq!(Filesystem::Ext3.kernel_type(), "ext4");
    }
}
