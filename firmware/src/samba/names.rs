//! Names that end up in smb.conf: SMB share names and Unix account names.
//!
//! A share name is what the EMD types after `\\practicebox\`. Windows' rules for share names
//! (those of its `NetShareAdd` API) limit them to 80 UTF-16 code units and forbid
//! `\ / [ ] : | < > + = ; , ? * "` in them. Samba also treats `%` as the start of a substitution
//! and reserves the section names `global`, `homes`, `printers`, `print$` and `IPC$`. Share names
//! compare case-insensitively on the wire.
//!
//! A share name is also a path component on the client. Windows path handling drops trailing
//! dots, so `\\practicebox\dr.` would reach `dr`, and it treats DOS device names such as `CON`,
//! `NUL`, `COM1` and `CONIN$` (the list of [`crate::delivery::names`]) specially. Share names that
//! end with a dot or are device names are therefore rejected too.

use std::fmt;

use super::config::ConfigError;
use crate::delivery::names::is_dos_device_name;

/// Maximum length of a share name, in UTF-16 code units, as Windows clients accept it.
pub const MAX_SHARE_NAME_UTF16: usize = 80;

/// Characters that Windows rejects in a share name, plus `%`, which starts a Samba substitution.
const FORBIDDEN_SHARE_CHARS: &[char] = &[
    '\\', '/', '[', ']', ':', '|', '<', '>', '+', '=', ';', ',', '?', '*', '"', '%',
];

/// Section names that smb.conf gives a special meaning, compared case-insensitively.
const RESERVED_SHARE_NAMES: &[&str] = &["global", "homes", "printers", "print$", "ipc$"];

/// Maximum length of a Unix user or group name (the `useradd` limit on Debian).
const MAX_ACCOUNT_NAME: usize = 32;

/// A validated SMB share name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShareName(String);

impl ShareName {
    /// Checks `name` and keeps it unchanged.
    ///
    /// Rejects empty names, names longer than 80 UTF-16 code units, forbidden or control
    /// characters, leading or trailing whitespace, a trailing `$` (which hides the share from
    /// browsing) or `.`, the reserved section names and DOS device names.
    pub fn new(name: &str) -> Result<Self, ConfigError> {
        if name.is_empty() {
            return Err(ConfigError::EmptyShareName);
        }
        if let Some(bad) = name.chars().find(|c| is_forbidden_share_char(*c)) {
            return Err(ConfigError::ShareNameCharacter {
                name: name.to_owned(),
                character: bad,
            });
        }
        if name.trim() != name {
            return Err(ConfigError::ShareNameWhitespace {
                name: name.to_owned(),
            });
        }
        if name.ends_with('$') {
            return Err(ConfigError::ShareNameHidden {
                name: name.to_owned(),
            });
        }
        if name.ends_with('.') {
            return Err(ConfigError::ShareNameTrailingDot {
                name: name.to_owned(),
            });
        }
        let length = name.encode_utf16().count();
        if length > MAX_SHARE_NAME_UTF16 {
            return Err(ConfigError::ShareNameTooLong {
                name: name.to_owned(),
                length,
            });
        }
        if is_reserved_share_name(name) {
            return Err(ConfigError::ShareNameReserved {
                name: name.to_owned(),
            });
        }
        if is_dos_device_name(name) {
            return Err(ConfigError::ShareNameDevice {
                name: name.to_owned(),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// Derives a share name from a doctor's folder name.
    ///
    /// Forbidden and control characters become `_`, surrounding whitespace and trailing `$` and
    /// `.` are removed, and the result is cut to 80 UTF-16 code units. A folder whose name is
    /// empty, reserved or a DOS device name after that needs an explicit share name, so it is an
    /// error.
    pub fn from_folder_name(folder: &str) -> Result<Self, ConfigError> {
        let replaced: String = folder
            .chars()
            .map(|c| if is_forbidden_share_char(c) { '_' } else { c })
            .collect();
        let trimmed = trim_share_name_end(replaced.trim_start());
        let cut = trim_share_name_end(truncate_utf16(trimmed, MAX_SHARE_NAME_UTF16));

        if cut.is_empty() || is_reserved_share_name(cut) || is_dos_device_name(cut) {
            return Err(ConfigError::UnderivableShareName {
                folder: folder.to_owned(),
            });
        }
        Self::new(cut)
    }

    /// Returns the name as it appears in smb.conf and in `\\host\name`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the key under which two share names collide (SMB compares them case-insensitively).
    pub(crate) fn collision_key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for ShareName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated Unix account name (user or group), as `useradd` accepts it on Debian.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountName(String);

impl AccountName {
    /// Checks `name`: 1 to 32 characters, a lowercase letter or `_` first, then lowercase
    /// letters, digits, `_` or `-`.
    pub fn new(name: &str) -> Result<Self, ConfigError> {
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));

        if !first_ok || !rest_ok || name.len() > MAX_ACCOUNT_NAME {
            return Err(ConfigError::InvalidAccountName {
                name: name.to_owned(),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// Returns the name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Removes the trailing whitespace, `$` and `.` that [`ShareName::new`] rejects.
fn trim_share_name_end(name: &str) -> &str {
    name.trim_end_matches(|c: char| c.is_whitespace() || c == '$' || c == '.')
}

fn is_forbidden_share_char(c: char) -> bool {
    c.is_control() || FORBIDDEN_SHARE_CHARS.contains(&c)
}

fn is_reserved_share_name(name: &str) -> bool {
    RESERVED_SHARE_NAMES
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// Returns the longest prefix of `text` that fits in `max` UTF-16 code units.
fn truncate_utf16(text: &str, max: usize) -> &str {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &text[..index];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_name_accepts_accents_and_spaces() {
        let name = ShareName::new("Dr Müller-Émile").expect("valid name");
        assert_eq!(name.as_str(), "Dr Müller-Émile");
    }

    #[test]
    fn share_name_rejects_each_forbidden_character() {
        for c in FORBIDDEN_SHARE_CHARS {
            let name = format!("dr{c}x");
            let error = ShareName::new(&name).expect_err("forbidden character");
            assert_eq!(
                error,
                ConfigError::ShareNameCharacter {
                    name,
                    character: *c
                }
            );
        }
    }

    #[test]
    fn share_name_rejects_control_character() {
        let error = ShareName::new("dr\nx").expect_err("newline");
        assert!(matches!(
            error,
            ConfigError::ShareNameCharacter {
                character: '\n',
                ..
            }
        ));
    }

    #[test]
    fn share_name_rejects_reserved_names() {
        for name in ["global", "GLOBAL", "homes", "Printers", "IPC$", "print$"] {
            let error = ShareName::new(name).expect_err(name);
            // `IPC$` and `print$` fail on the trailing `$` first; both are rejections.
            assert!(
                matches!(
                    error,
                    ConfigError::ShareNameReserved { .. } | ConfigError::ShareNameHidden { .. }
                ),
                "{name}: {error:?}"
            );
        }
    }

    #[test]
    fn share_name_rejects_empty_hidden_and_padded() {
        assert_eq!(ShareName::new(""), Err(ConfigError::EmptyShareName));
        assert!(matches!(
            ShareName::new("dr$"),
            Err(ConfigError::ShareNameHidden { .. })
        ));
        assert!(matches!(
            ShareName::new(" dr"),
            Err(ConfigError::ShareNameWhitespace { .. })
        ));
    }

    #[test]
    fn share_name_length_counts_utf16_units() {
        let at_limit = "é".repeat(80);
        assert!(ShareName::new(&at_limit).is_ok());

        let over = "a".repeat(81);
        assert_eq!(
            ShareName::new(&over),
            Err(ConfigError::ShareNameTooLong {
                name: over.clone(),
                length: 81
            })
        );

        // U+1F600 takes two UTF-16 units, so 41 of them are 82 units.
        let astral = "\u{1F600}".repeat(41);
        assert!(matches!(
            ShareName::new(&astral),
            Err(ConfigError::ShareNameTooLong { length: 82, .. })
        ));
    }

    #[test]
    fn derived_name_replaces_forbidden_characters() {
        let name = ShareName::from_folder_name("Dr. Peeters: huisarts/RIZIV*1").expect("derived");
        assert_eq!(name.as_str(), "Dr. Peeters_ huisarts_RIZIV_1");
    }

    #[test]
    fn derived_name_trims_dollar_and_whitespace() {
        let name = ShareName::from_folder_name("  janssens $$ ").expect("derived");
        assert_eq!(name.as_str(), "janssens");
    }

    #[test]
    fn derived_name_is_cut_to_limit() {
        let folder = format!("{}\u{1F600}", "d".repeat(79));
        let name = ShareName::from_folder_name(&folder).expect("derived");
        assert_eq!(name.as_str(), "d".repeat(79));
    }

    #[test]
    fn derived_name_rejects_reserved_and_empty() {
        for folder in ["homes", "Global", "$$", "   ", ""] {
            assert_eq!(
                ShareName::from_folder_name(folder),
                Err(ConfigError::UnderivableShareName {
                    folder: folder.to_owned()
                }),
                "{folder:?}"
            );
        }
    }

    #[test]
    fn share_name_rejects_device_names() {
        for name in [
            "CON",
            "nul",
            "Com1",
            "LPT\u{b9}",
            "com\u{b3}.x",
            "conin$.x",
            "aux.docs",
        ] {
            let error = ShareName::new(name).expect_err(name);
            assert_eq!(
                error,
                ConfigError::ShareNameDevice {
                    name: name.to_owned()
                },
                "{name:?}"
            );
        }
        assert!(ShareName::new("Console").is_ok());
        assert!(ShareName::new("COM10").is_ok());
    }

    #[test]
    fn share_name_rejects_trailing_dot() {
        assert_eq!(
            ShareName::new("dr."),
            Err(ConfigError::ShareNameTrailingDot {
                name: "dr.".to_owned()
            })
        );
        assert!(ShareName::new("dr. Peeters").is_ok());
    }

    #[test]
    fn derived_name_drops_trailing_dots() {
        let name = ShareName::from_folder_name("Peeters Jan. . ").expect("derived");
        assert_eq!(name.as_str(), "Peeters Jan");
    }

    #[test]
    fn derived_name_rejects_device_names() {
        for folder in ["CON", "conin$.pdf", "LPT\u{b2}.", "nul "] {
            assert_eq!(
                ShareName::from_folder_name(folder),
                Err(ConfigError::UnderivableShareName {
                    folder: folder.to_owned()
                }),
                "{folder:?}"
            );
        }
    }

    #[test]
    fn account_name_rules() {
        assert!(AccountName::new("pbx-emd").is_ok());
        assert!(AccountName::new("_emd2").is_ok());
        for bad in ["", "Emd", "1emd", "emd user", "emd;x", &"a".repeat(33)] {
            assert_eq!(
                AccountName::new(bad),
                Err(ConfigError::InvalidAccountName {
                    name: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
    }
}
