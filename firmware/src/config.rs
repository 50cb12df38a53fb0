//! The service configuration file (TOML) of `practicebox run`, `status` and `config check`.
//!
//! ```toml
//! data_dir = "/var/lib/practicebox"          # store, status file, held messages
//! share_root = "/srv/practicebox"            # the folder Samba shares, one folder per doctor
//! fetch_interval = "5m"                      # between two runs of a box, jittered by 20 %
//! time_zone = "Europe/Brussels"              # for file names, "new today" and the status lines
//! routing_profile = "/etc/practicebox/profile.toml"   # the built-in profile when absent
//!
//! [ehealth]                                  # endpoints: preset, URLs, TLS trust file
//! preset = "acceptance"
//! ca_file = "/etc/practicebox/ehealth-ca.pem"
//!
//! [clock]
//! trust_system_clock = false                 # wait for systemd-timesyncd before any call
//!
//! [samba]                                    # optional: without it the service writes no shares
//! fragment = "/var/lib/practicebox/samba/shares.conf"  # default: <data_dir>/samba/shares.conf
//! practice_user = "pbx-emd"                  # the only account on the shares (required)
//! force_user = "practicebox"                 # smbd's account for file access (optional)
//! force_group = "practicebox"                # smbd's group for file access (optional)
//! all_doctors_share = "practicebox"          # one more share over share_root (optional)
//! access = "read_write"                      # or "read_only", for every share
//! reload_command = ["smbcontrol", "smbd", "reload-config"]  # the default; [] runs none
//!
//! [[principal]]                              # TODO: temporary, see below
//! insz = "78031414230"
//! family_name = "Vermeiren"
//! given_names = "Lotte"
//! riziv = "17041234004"
//! keystore = "/var/lib/practicebox/keys/SSIN=78031414230 20260101-100000.acc-p12"
//! password_file = "/var/lib/practicebox/keys/78031414230.pass"
//! ```
//!
//! The `[samba]` table makes the service write one share per doctor folder to `fragment`
//! (see [`crate::samba::sync`]). `reload_command` runs after each change, without a shell. It
//! needs root, because `smbcontrol` refuses other users, so on the box it is `[]` and a root unit
//! installs and reloads the fragment (see [`crate::samba::install`]).
//!
//! TODO: the `[[principal]]` tables carry the doctors and their keystore files until the
//! mandate work stores principals and their credentials through the box's own set-up; then
//! they go away. `run` adds a listed principal to the store when it is missing there.
//!
//! Errors name the file and the line: `practicebox.toml:7: invalid fetch_interval ...`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Deserialize;
use toml::Spanned;

use crate::delivery::RoutingProfile;
use crate::delivery::names::doctor_folder_name;
use crate::ehealth::clock::DEFAULT_SYNC_FLAG;
use crate::ehealth::endpoints::{Endpoints, EndpointsConfig};
use crate::fetcher::credentials::KeystoreFiles;
use crate::samba::ShareSettings;
use crate::store::{NewPrincipal, Role, validate_insz};
use samba_table::SambaTable;

mod samba_table;

/// The default `fetch_interval`.
pub const DEFAULT_FETCH_INTERVAL: &str = "5m";
/// The shortest `fetch_interval` accepted; shorter ones only load the platform.
pub const MIN_FETCH_INTERVAL: Duration = Duration::from_secs(1);
/// The longest `fetch_interval` accepted.
pub const MAX_FETCH_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// One problem in a configuration file, at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is about the whole file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Spanned<PathBuf>,
    share_root: Spanned<PathBuf>,
    fetch_interval: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    routing_profile: Option<Spanned<PathBuf>>,
    status_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    ehealth: Option<Spanned<EndpointsConfig>>,
    #[serde(default)]
    clock: ClockConfig,
    #[serde(default)]
    principal: Vec<Spanned<PrincipalConfig>>,
    samba: Option<Spanned<SambaTable>>,
}

/// The `[clock]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    /// Trust the system time without waiting for NTP (boards with an RTC, development).
    #[serde(default)]
    pub trust_system_clock: bool,
    /// The flag file systemd-timesyncd creates once synchronised.
    pub sync_flag: Option<PathBuf>,
}

/// A `[[principal]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalConfig {
    pub insz: String,
    pub family_name: String,
    pub given_names: String,
    pub riziv: String,
    /// `main` (the box's doctor, the default) or `mandator` (fetched while a mandate is valid).
    #[serde(default)]
    pub role: RoleConfig,
    pub keystore: PathBuf,
    pub password_file: PathBuf,
    /// Move delivered messages to the eHealthBox bin.
    #[serde(default = "default_true")]
    pub move_to_bin: bool,
}

/// The role of a configured principal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleConfig {
    #[default]
    Main,
    Mandator,
}

fn default_true() -> bool {
    true
}

/// A checked configuration, with every value resolved.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub file: PathBuf,
    pub data_dir: PathBuf,
    pub share_root: PathBuf,
    pub fetch_interval: Duration,
    pub time_zone: TimeZone,
    pub routing_profile: RoutingProfile,
    pub status_file: PathBuf,
    pub endpoints: Endpoints,
    pub clock: ClockConfig,
    pub principals: Vec<PrincipalConfig>,
    /// The shares the service writes for Samba; `None` without a `[samba]` table.
    pub samba: Option<ShareSettings>,
}

impl ServiceConfig {
    /// Reads and checks the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            problems: vec![ConfigProblem {
                file: path.to_owned(),
                line: 0,
                message: format!("cannot read the configuration: {error}"),
            }],
        })?;
        Self::parse(&text, path)
    }

    /// Checks the configuration text; `path` names it in problems and does not need to exist.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError {
            problems: vec![ConfigProblem {
                file: path.to_owned(),
                line: error.span().map_or(0, |span| line_of(text, &span)),
                message: error.message().trim().to_owned(),
            }],
        })?;
        let mut check = Checker {
            text,
            file: path,
            problems: Vec::new(),
        };
        let config = check.resolve(raw);
        match config {
            Some(config) if check.problems.is_empty() => Ok(config),
            _ => Err(ConfigError {
                problems: check.problems,
            }),
        }
    }

    /// The SQLite store in the data directory.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("practicebox.sqlite")
    }

    /// Where the raw envelopes of held messages go.
    pub fn held_dir(&self) -> PathBuf {
        self.data_dir.join("held")
    }

    /// The NTP flag file the clock waits for.
    pub fn sync_flag(&self) -> PathBuf {
        self.clock
            .sync_flag
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SYNC_FLAG))
    }

    /// The keystore files of the configured principals, by INSZ.
    pub fn keystore_files(&self) -> HashMap<String, KeystoreFiles> {
        self.principals
            .iter()
            .map(|principal| {
                let files = KeystoreFiles {
                    keystore: principal.keystore.clone(),
                    password_file: principal.password_file.clone(),
                };
                (principal.insz.clone(), files)
            })
            .collect()
    }
}

impl PrincipalConfig {
    /// The principal to add to the store.
    pub fn new_principal(&self) -> NewPrincipal {
        NewPrincipal {
            insz: self.insz.clone(),
            family_name: self.family_name.clone(),
            given_names: self.given_names.clone(),
            riziv: self.riziv.clone(),
            role: match self.role {
                RoleConfig::Main => Role::Main,
                RoleConfig::Mandator => Role::Mandator,
            },
            share_folder: doctor_folder_name(&self.family_name, &self.given_names, &self.riziv),
            move_to_bin: self.move_to_bin,
        }
    }
}

struct Checker<'a> {
    text: &'a str,
    file: &'a Path,
    problems: Vec<ConfigProblem>,
}

impl Checker<'_> {
    fn problem(&mut self, span: &Range<usize>, message: String) {
        self.problems.push(ConfigProblem {
            file: self.file.to_owned(),
            line: line_of(self.text, span),
            message,
        });
    }

    fn resolve(&mut self, raw: RawConfig) -> Option<ServiceConfig> {
        let data_dir = self.absolute("data_dir", &raw.data_dir);
        let share_root = self.absolute("share_root", &raw.share_root);
        let fetch_interval = self.interval(raw.fetch_interval.as_ref());
        let time_zone = self.time_zone(raw.time_zone.as_ref());
        let routing_profile = self.routing_profile(raw.routing_profile.as_ref());
        let status_file = match &raw.status_file {
            Some(file) => self.absolute("status_file", file),
            None => data_dir.as_ref().map(|dir| dir.join("status.json")),
        };
        let endpoints = self.endpoints(raw.ehealth.as_ref());
        self.principals(&raw.principal);
        let samba = match &raw.samba {
            Some(table) => self
                .samba(table, data_dir.as_deref(), share_root.as_deref())
                .map(Some),
            None => Some(None),
        };

        Some(ServiceConfig {
            file: self.file.to_owned(),
            data_dir: data_dir?,
            share_root: share_root?,
            fetch_interval: fetch_interval?,
            time_zone: time_zone?,
            routing_profile: routing_profile?,
            status_file: status_file?,
            endpoints: endpoints?,
            clock: raw.clock,
            principals: raw.principal.into_iter().map(Spanned::into_inner).collect(),
            samba: samba?,
        })
    }

    fn absolute(&mut self, key: &str, value: &Spanned<PathBuf>) -> Option<PathBuf> {
        let path = value.get_ref();
        if path.is_absolute() {
            return Some(path.clone());
        }
        self.problem(
            &value.span(),
            format!(
                "{key} {:?} is not an absolute path; write the full path, such as /var/lib/practicebox",
                path.display().to_string()
            ),
        );
        None
    }

    fn interval(&mut self, value: Option<&Spanned<String>>) -> Option<Duration> {
        let Some(value) = value else {
            return Some(parse_interval(DEFAULT_FETCH_INTERVAL).unwrap_or_default());
        };
        match parse_interval(value.get_ref()) {
            Some(interval) if (MIN_FETCH_INTERVAL..=MAX_FETCH_INTERVAL).contains(&interval) => {
                Some(interval)
            }
            _ => {
                self.problem(
                    &value.span(),
                    format!(
                        "invalid fetch_interval {:?}; write a duration from 1s to 24h, such as \"5m\"",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn time_zone(&mut self, value: Option<&Spanned<String>>) -> Option<TimeZone> {
        let name = value.map_or("Europe/Brussels", |value| value.get_ref().as_str());
        match TimeZone::get(name) {
            Ok(zone) => Some(zone),
            Err(error) => {
                let span = value.map_or(0..0, Spanned::span);
                self.problem(
                    &span,
                    format!(
                        "unknown time_zone {name:?} ({error}); use an IANA name such as \"Europe/Brussels\""
                    ),
                );
                None
            }
        }
    }

    fn routing_profile(&mut self, value: Option<&Spanned<PathBuf>>) -> Option<RoutingProfile> {
        let Some(value) = value else {
            return Some(RoutingProfile::builtin());
        };
        match RoutingProfile::load(value.get_ref()) {
            Ok(profile) => Some(profile),
            Err(error) => {
                self.problem(&value.span(), format!("invalid routing_profile: {error}"));
                None
            }
        }
    }

    fn endpoints(&mut self, value: Option<&Spanned<EndpointsConfig>>) -> Option<Endpoints> {
        let default = EndpointsConfig::default();
        let config = value.map_or(&default, Spanned::get_ref);
        match config.resolve() {
            Ok(endpoints) => Some(endpoints),
            Err(error) => {
                let span = value.map_or(0..0, Spanned::span);
                self.problem(&span, format!("invalid [ehealth] table: {error}"));
                None
            }
        }
    }

    fn principals(&mut self, principals: &[Spanned<PrincipalConfig>]) {
        let mut seen = HashSet::new();
        let mut mains = 0;
        for entry in principals {
            let span = entry.span();
            let principal = entry.get_ref();
            if let Err(error) = validate_insz(&principal.insz) {
                self.problem(&span, format!("in [[principal]]: {error}"));
            }
            if principal.riziv.len() != 11 || !principal.riziv.bytes().all(|b| b.is_ascii_digit()) {
                self.problem(
                    &span,
                    format!(
                        "invalid riziv {:?} in [[principal]]; write the 11 digits without separators, such as \"17041234004\"",
                        principal.riziv
                    ),
                );
            }
            if !seen.insert(principal.insz.clone()) {
                self.problem(
                    &span,
                    format!("principal {} is listed twice", principal.insz),
                );
            }
            if principal.role == RoleConfig::Main {
                mains += 1;
                if mains > 1 {
                    self.problem(&span, "a second main principal; a box has one main doctor, list colleagues with role = \"mandator\"".to_owned());
                }
            }
            for (key, path) in [
                ("keystore", &principal.keystore),
                ("password_file", &principal.password_file),
            ] {
                if !path.is_file() {
                    self.problem(
                        &span,
                        format!(
                            "{key} {} of principal {} is not a readable file; check the path",
                            path.display(),
                            principal.insz
                        ),
                    );
                }
            }
        }
    }
}

/// Parses `30s`, `5m`, `1h`, `1h 30m` and the other friendly forms that jiff parses.
pub fn parse_interval(text: &str) -> Option<Duration> {
    let signed: jiff::SignedDuration = text.trim().parse().ok()?;
    Duration::try_from(signed).ok()
}

/// The 1-based line of the start of `span`.
fn line_of(text: &str, span: &Range<usize>) -> usize {
    let end = span.start.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn valid_text(dir: &Path) -> String {
        let keystore = write(dir, "doctor.acc-p12", "not read by the check");
        let password = write(dir, "doctor.pass", "secret\n");
        format!(
            "data_dir = \"{dir}/data\"\nshare_root = \"{dir}/share\"\nfetch_interval = \"2m\"\n\n\
             [ehealth]\npreset = \"acceptance\"\n\n\
             [[principal]]\ninsz = \"78031414230\"\nfamily_name = \"Vermeiren\"\n\
             given_names = \"Lotte\"\nriziv = \"17041234004\"\nkeystore = \"{}\"\n\
             password_file = \"{}\"\n",
            keystore.display(),
            password.display(),
            dir = dir.display()
        )
    }

    #[test]
    fn valid_file_resolves() {
        let dir = tempfile::tempdir().unwrap();
        let config = ServiceConfig::parse(&valid_text(dir.path()), Path::new("box.toml")).unwrap();
        assert_eq!(config.fetch_interval, Duration::from_secs(120));
        assert_eq!(config.status_file, dir.path().join("data/status.json"));
        assert_eq!(config.time_zone.iana_name(), Some("Europe/Brussels"));
        assert_eq!(config.principals.len(), 1);
        assert!(config.principals[0].move_to_bin);
        let folder = config.principals[0].new_principal().share_folder;
        assert_eq!(folder, "Vermeiren_Lotte_1-70412-34-004");
    }

    #[test]
    fn default_interval_is_five_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let text = valid_text(dir.path()).replace("fetch_interval = \"2m\"\n", "");
        let config = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap();
        assert_eq!(config.fetch_interval, Duration::from_secs(300));
    }

    #[test]
    fn syntax_error_names_the_line() {
        let error = ServiceConfig::parse(
            "data_dir = \"/a\"\nshare_root = /b\n",
            Path::new("box.toml"),
        )
        .unwrap_err();
        assert_eq!(error.problems.len(), 1);
        assert!(error.to_string().starts_with("box.toml:2: "), "{error}");
    }

    #[test]
    fn unknown_key_names_the_line() {
        let text = "data_dir = \"/a\"\nshare_root = \"/b\"\nfetch_intervall = \"5m\"\n";
        let error = ServiceConfig::parse(text, Path::new("box.toml")).unwrap_err();
        assert!(error.to_string().starts_with("box.toml:3: "), "{error}");
        assert!(error.to_string().contains("fetch_intervall"), "{error}");
    }

    #[test]
    fn every_invalid_value_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = valid_text(dir.path())
            .replace("fetch_interval = \"2m\"", "fetch_interval = \"often\"")
            .replace("riziv = \"17041234004\"", "riziv = \"1-70412-34-004\"")
            .replace(
                &format!("share_root = \"{}/share\"", dir.path().display()),
                "share_root = \"share\"",
            );
        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();
        let lines: Vec<String> = error.problems.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("box.toml:2: share_root \"share\" is not an absolute path"));
        assert!(lines[1].starts_with("box.toml:3: invalid fetch_interval \"often\""));
        assert!(lines[2].starts_with("box.toml:8: invalid riziv \"1-70412-34-004\""));
    }

    #[test]
    fn missing_keystore_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let text = valid_text(dir.path());
        std::fs::remove_file(dir.path().join("doctor.pass")).unwrap();
        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();
        assert!(error.to_string().contains("password_file"), "{error}");
        assert!(
            error.to_string().contains("is not a readable file"),
            "{error}"
        );
    }

    #[test]
    fn simulator_preset_without_ca_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let text = valid_text(dir.path()).replace(
            "preset = \"acceptance\"",
            "preset = \"simulator\"\nbase_url = \"https://localhost:8443\"",
        );
        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("box.toml:5: invalid [ehealth] table"),
            "{error}"
        );
    }

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_interval("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_interval("1h 30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_interval("-5m"), None);
        assert_eq!(parse_interval("soon"), None);
    }
}
