//! The panel's own settings, kept in a small TOML file in the state folder:
//! `language = "nl"`. The file is written atomically, so a power cut leaves the old or the new
//! settings, never half a file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::text::Language;

/// The file name of the settings in the state folder.
pub const SETTINGS_FILE: &str = "panel.toml";

/// The settings that a person changes at the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelSettings {
    #[serde(default)]
    pub language: Language,
}

/// A settings file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the panel settings {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid panel settings {path}: {detail}; fix the file or remove it to reset")]
    Invalid { path: PathBuf, detail: String },
    #[error("cannot write the panel settings {path}: {source}; check that the folder is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PanelSettings {
    /// Reads the settings at `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|error| SettingsError::Invalid {
            path: path.to_owned(),
            detail: error.message().to_owned(),
        })
    }

    /// Writes the settings to `path`: a temporary file beside it, synced, then renamed over it.
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let write_error = |source| SettingsError::Write {
            path: path.to_owned(),
            source,
        };
        let text = format!("language = \"{}\"\n", self.language.code());
        let temporary = path.with_extension("toml.tmp");
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temporary)
            .map_err(write_error)?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(write_error)?;
        fs::rename(&temporary, path).map_err(write_error)?;
        if let Some(folder) = path.parent() {
            File::open(folder)
                .and_then(|folder| folder.sync_all())
                .map_err(write_error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults() {
        let folder = tempfile::tempdir().unwrap();

        let settings = PanelSettings::load(&folder.path().join(SETTINGS_FILE)).unwrap();

        assert_eq!(settings, PanelSettings::default());
    }

    #[test]
    fn saved_language_is_loaded() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join(SETTINGS_FILE);
        let settings = PanelSettings {
            language: Language::French,
        };

        settings.save(&path).unwrap();

        assert_eq!(fs::read_to_string(&path).unwrap(), "language = \"fr\"\n");
        assert_eq!(PanelSettings::load(&path).unwrap(), settings);
        assert!(!path.with_extension("toml.tmp").exists());
    }

    #[test]
    fn unknown_language_is_rejected() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join(SETTINGS_FILE);
        fs::write(&path, "language = \"de\"\n").unwrap();

        let error = PanelSettings::load(&path).unwrap_err();

        let text = error.to_string();
        assert!(text.starts_with("invalid panel settings"), "{text}");
        assert!(text.contains("remove it to reset"), "{text}");
    }
}
