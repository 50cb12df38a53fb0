//! The service configuration file (TOML): the one source of the box's paths for
//! `practicebox run`, `status`, `config check`, `setup` and `mandate`.
//!
//! ```toml
//! data_dir = "/var/lib/practicebox"          # store, credential vault, box identity, status
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
//! [mandates]                                 # what `setup`, `mandate` and the panel check
//! ehealth_ca = "/etc/practicebox/ehealth-ca.pem"   # CAs of doctors' eHealth certificates
//! eid_roots = "/usr/share/practicebox/eid-roots.pem"  # Belgian eID roots, shipped
//! riziv_check = "strict"                     # or "format_only": 11 digits, no check digits
//!
//! [panel]                                    # the display, buttons and LEDs on the box
//! enabled = true                             # off by default, for machines without them
//! reader = ""                                # card reader name prefix; "" takes the first reader
//! keyboard_layout = "be"                     # of USB keyboards: "be" (default), "fr" or "us"
//! ```
//!
//! The doctors are not listed here. `practicebox setup` and `practicebox mandate add` store them
//! in the store, and their keystores and passwords encrypted in the credential vault, both under
//! `data_dir`. The service reads them from there. A configuration that still has the
//! `[[principal]]` tables of earlier versions is rejected with the command to use instead: a
//! second source of doctors would keep passwords in clear files and could disagree with the
//! signed mandates.
//!
//! The panel's mandate wizard checks against the same `[mandates]` trust anchors and RIZIV rule
//! as the commands. The `[panel]` keys `ehealth_ca`, `eid_roots` and `riziv_format_only` of
//! earlier versions are rejected with the `[mandates]` key to use instead. Its `stick_folder`
//! key is rejected too: on the box the panel finds the USB stick through the kernel's uevents
//! and has the mount helper mount it under `/run/practicebox-stick/<device>` for the wizard
//! only (see [`crate::stick`]), so no fixed folder exists. The demo and the tests read
//! keystores from a plain folder that they pass in code.
//!
//! `share_root` must lie outside `data_dir` and must not contain it, because the shares would
//! otherwise give the EMD the store, the credential vault and the held messages.
//!
//! The `[samba]` table makes the service write one share per doctor folder to `fragment`
//! (see [`crate::samba::sync`]). `reload_command` runs after each change, without a shell. It
//! needs root, because `smbcontrol` refuses other users, so on the box it is `[]` and a root unit
//! installs and reloads the fragment (see [`crate::samba::install`]).
//!
//! Errors name the file and the line: `practicebox.toml:7: invalid fetch_interval ...`.

use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Deserialize;
use toml::Spanned;

use crate::credentials::VAULT_FOLDER;
use crate::delivery::RoutingProfile;
use crate::ehealth::clock::DEFAULT_SYNC_FLAG;
use crate::ehealth::endpoints::{Endpoints, EndpointsConfig};
use crate::mandates::RizivCheck;
use crate::panel::keyboard::KeyboardLayout;
use crate::samba::ShareSettings;
use samba_table::SambaTable;

mod samba_table;

/// The configuration file that every command reads when `--config` is not given: the file the
/// package installs and the systemd unit passes to `practicebox run`.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/practicebox/config.toml";

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
    samba: Option<Spanned<SambaTable>>,
    mandates: Option<Spanned<RawMandates>>,
    /// Read only to reject it with a clear message.
    principal: Option<Spanned<toml::Value>>,
    #[serde(default)]
    panel: RawPanel,
}

/// The `[panel]` table as written, with the keys of earlier versions read only to reject them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPanel {
    enabled: Option<bool>,
    i2c_bus: Option<PathBuf>,
    gpio_chip: Option<PathBuf>,
    reader: Option<String>,
    keyboard_layout: Option<KeyboardLayout>,
    stick_folder: Option<Spanned<toml::Value>>,
    ehealth_ca: Option<Spanned<toml::Value>>,
    eid_roots: Option<Spanned<toml::Value>>,
    riziv_format_only: Option<Spanned<toml::Value>>,
}

/// The `[mandates]` table as written, with the span of each path for its problems.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMandates {
    ehealth_ca: Option<Spanned<PathBuf>>,
    eid_roots: Option<Spanned<PathBuf>>,
    #[serde(default)]
    riziv_check: RizivCheck,
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

/// The `[panel]` table: the front panel's devices and card reader. Its mandate wizard checks
/// against [`MandateConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelConfig {
    /// Run the display, buttons and LEDs.
    pub enabled: bool,
    /// The I2C bus of the display.
    pub i2c_bus: PathBuf,
    /// The GPIO chip of the buttons and LEDs.
    pub gpio_chip: PathBuf,
    /// Use the first card reader whose name starts with this text (any reader when empty).
    pub reader: String,
    /// The layout of USB keyboards: Belgian AZERTY (`be`), French AZERTY (`fr`) or US QWERTY
    /// (`us`).
    pub keyboard_layout: KeyboardLayout,
}

impl Default for PanelConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            i2c_bus: PathBuf::from(practicebox_hardware::board::I2C_BUS),
            gpio_chip: PathBuf::from(practicebox_hardware::board::GPIO_CHIP),
            reader: String::new(),
            keyboard_layout: KeyboardLayout::default(),
        }
    }
}

/// The `[mandates]` table: what `practicebox setup`, `practicebox mandate` and the panel's
/// mandate wizard check against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateConfig {
    /// PEM file of the eHealth CA certificates that doctors' certificates must chain to.
    pub ehealth_ca: PathBuf,
    /// PEM file of the Belgian eID root certificates.
    pub eid_roots: PathBuf,
    /// The check of RIZIV numbers: check digits (`strict`) or 11 digits only (`format_only`).
    pub riziv_check: RizivCheck,
}

impl Default for MandateConfig {
    fn default() -> Self {
        Self {
            ehealth_ca: default_ehealth_ca(),
            eid_roots: default_eid_roots(),
            riziv_check: RizivCheck::default(),
        }
    }
}

fn default_ehealth_ca() -> PathBuf {
    PathBuf::from("/etc/practicebox/ehealth-ca.pem")
}

/// The Belgian eID roots that the package installs (Belgium Root CA3, CA4 and CA6).
pub const SHIPPED_EID_ROOTS: &str = "/usr/share/practicebox/eid-roots.pem";

fn default_eid_roots() -> PathBuf {
    PathBuf::from(SHIPPED_EID_ROOTS)
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
    /// The shares the service writes for Samba; `None` without a `[samba]` table.
    pub samba: Option<ShareSettings>,
    pub mandates: MandateConfig,
    pub panel: PanelConfig,
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

    /// Returns the folder of the encrypted credential vault, in the data directory.
    pub fn vault_dir(&self) -> PathBuf {
        self.data_dir.join(VAULT_FOLDER)
    }

    /// Returns the file with this box's identity, written into every mandate document.
    pub fn box_id_file(&self) -> PathBuf {
        self.data_dir.join("box-id")
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
        let share_root = match (self.absolute("share_root", &raw.share_root), &data_dir) {
            (Some(root), Some(data_dir)) => {
                self.share_root_apart(root, &raw.share_root.span(), data_dir)
            }
            (root, _) => root,
        };
        let fetch_interval = self.interval(raw.fetch_interval.as_ref());
        let time_zone = self.time_zone(raw.time_zone.as_ref());
        let routing_profile = self.routing_profile(raw.routing_profile.as_ref());
        let status_file = match &raw.status_file {
            Some(file) => self.absolute("status_file", file),
            None => data_dir.as_ref().map(|dir| dir.join("status.json")),
        };
        let endpoints = self.endpoints(raw.ehealth.as_ref());
        let samba = match &raw.samba {
            Some(table) => self
                .samba(table, data_dir.as_deref(), share_root.as_deref())
                .map(Some),
            None => Some(None),
        };
        let mandates = self.mandates(raw.mandates);
        let panel = self.panel(raw.panel);
        if let Some(principal) = &raw.principal {
            self.problem(
                &principal.span(),
                "[[principal]] tables are no longer read; remove them, and set the doctors up \
                 with `practicebox setup` and `practicebox mandate add`, which store them \
                 encrypted under data_dir"
                    .to_owned(),
            );
        }

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
            samba: samba?,
            mandates: mandates?,
            panel,
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

    /// Rejects a `share_root` that is `data_dir`, lies inside it or contains it, because the
    /// share would give the EMD the store, the credential vault and the held messages.
    // NOTE: the paths are compared as written, after removing `.` and `..`, so a symbolic link
    // that leads from one folder into the other is not detected.
    fn share_root_apart(
        &mut self,
        share_root: PathBuf,
        span: &Range<usize>,
        data_dir: &Path,
    ) -> Option<PathBuf> {
        let root = normalise(&share_root);
        let data = normalise(data_dir);
        let relation = if root == data {
            "is the same folder as"
        } else if root.starts_with(&data) {
            "is inside"
        } else if data.starts_with(&root) {
            "contains"
        } else {
            return Some(share_root);
        };
        let example = Path::new("/srv/practicebox");
        let fix = if example.starts_with(&data) || data.starts_with(example) {
            "set share_root to a folder outside data_dir".to_owned()
        } else {
            format!(
                "set share_root to a folder outside data_dir, such as {}",
                example.display()
            )
        };
        self.problem(
            span,
            format!(
                "share_root {} {relation} data_dir {}, so the share would give the EMD the \
                 store, the credential vault and the held messages; {fix}",
                share_root.display(),
                data_dir.display()
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

    fn mandates(&mut self, value: Option<Spanned<RawMandates>>) -> Option<MandateConfig> {
        let Some(value) = value else {
            return Some(MandateConfig::default());
        };
        let raw = value.into_inner();
        let ehealth_ca = self.trust_anchor_path("ehealth_ca", raw.ehealth_ca, default_ehealth_ca());
        let eid_roots = self.trust_anchor_path("eid_roots", raw.eid_roots, default_eid_roots());
        Some(MandateConfig {
            ehealth_ca: ehealth_ca?,
            eid_roots: eid_roots?,
            riziv_check: raw.riziv_check,
        })
    }

    /// Checks a trust anchor path of `[mandates]`, reporting a relative one on its own line.
    fn trust_anchor_path(
        &mut self,
        key: &str,
        value: Option<Spanned<PathBuf>>,
        default: PathBuf,
    ) -> Option<PathBuf> {
        let Some(value) = value else {
            return Some(default);
        };
        if value.get_ref().is_absolute() {
            return Some(value.into_inner());
        }
        self.problem(
            &value.span(),
            format!(
                "{key} {:?} in [mandates] is not an absolute path; write the full path, such as {}",
                value.get_ref().display().to_string(),
                default.display()
            ),
        );
        None
    }

    /// Resolves `[panel]`, reporting each key of earlier versions with the key to use instead.
    fn panel(&mut self, raw: RawPanel) -> PanelConfig {
        let removed = [
            (
                raw.ehealth_ca,
                "ehealth_ca in [panel] is no longer read; the panel checks against ehealth_ca in \
                 [mandates]: move the line there, or remove it when both name the same file",
            ),
            (
                raw.eid_roots,
                "eid_roots in [panel] is no longer read; the panel checks against eid_roots in \
                 [mandates], which defaults to the shipped /usr/share/practicebox/eid-roots.pem: \
                 move the line there, or remove it",
            ),
            (
                raw.riziv_format_only,
                "riziv_format_only in [panel] is no longer read; write riziv_check = \
                 \"format_only\" in [mandates] instead, or remove the line for the strict check",
            ),
            (
                raw.stick_folder,
                "stick_folder in [panel] is no longer read; the box mounts the USB stick itself \
                 under /run/practicebox-stick while the wizard reads it: remove the line",
            ),
        ];
        for (value, message) in removed {
            if let Some(value) = value {
                self.problem(&value.span(), message.to_owned());
            }
        }

        let default = PanelConfig::default();
        PanelConfig {
            enabled: raw.enabled.unwrap_or(default.enabled),
            i2c_bus: raw.i2c_bus.unwrap_or(default.i2c_bus),
            gpio_chip: raw.gpio_chip.unwrap_or(default.gpio_chip),
            reader: raw.reader.unwrap_or(default.reader),
            keyboard_layout: raw.keyboard_layout.unwrap_or(default.keyboard_layout),
        }
    }
}

/// Parses `30s`, `5m`, `1h`, `1h 30m` and the other friendly forms that jiff parses.
pub fn parse_interval(text: &str) -> Option<Duration> {
    let signed: jiff::SignedDuration = text.trim().parse().ok()?;
    Duration::try_from(signed).ok()
}

/// Removes `.` and `..` components and trailing slashes from an absolute `path` without
/// reading the file system. A `..` at the root stays at the root.
pub(crate) fn normalise(path: &Path) -> PathBuf {
    let mut normalised = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normalised.pop();
            }
            other => normalised.push(other),
        }
    }
    normalised
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

    fn valid_text(dir: &Path) -> String {
        format!(
            "data_dir = \"{dir}/data\"\nshare_root = \"{dir}/share\"\nfetch_interval = \"2m\"\n\n\
             [ehealth]\npreset = \"acceptance\"\n\n\
             [mandates]\neid_roots = \"{dir}/eid-roots.pem\"\nriziv_check = \"format_only\"\n",
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
        assert_eq!(
            config.store_path(),
            dir.path().join("data/practicebox.sqlite")
        );
        assert_eq!(config.vault_dir(), dir.path().join("data/credentials"));
        assert_eq!(config.box_id_file(), dir.path().join("data/box-id"));
        assert_eq!(config.mandates.eid_roots, dir.path().join("eid-roots.pem"));
        assert_eq!(
            config.mandates.ehealth_ca,
            Path::new("/etc/practicebox/ehealth-ca.pem"),
            "the default"
        );
        assert_eq!(config.mandates.riziv_check, RizivCheck::FormatOnly);
    }

    #[test]
    fn mandates_table_is_optional() {
        let dir = tempfile::tempdir().unwrap();
        let text = valid_text(dir.path());
        let text = &text[..text.find("[mandates]").unwrap()];
        let config = ServiceConfig::parse(text, Path::new("box.toml")).unwrap();
        assert_eq!(config.mandates, MandateConfig::default());
        assert_eq!(config.mandates.riziv_check, RizivCheck::Strict);
    }

    #[test]
    fn principal_tables_rejected_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}\n[[principal]]\ninsz = \"78031414230\"\n",
            valid_text(dir.path())
        );
        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        let message = error.to_string();
        assert!(
            message.starts_with("box.toml:12: [[principal]] tables are no longer read"),
            "{message}"
        );
        assert!(message.contains("practicebox mandate add"), "{message}");
    }

    #[test]
    fn relative_trust_anchor_path_reported() {
        let dir = tempfile::tempdir().unwrap();
        let text = valid_text(dir.path()).replace(
            &format!("eid_roots = \"{}/eid-roots.pem\"", dir.path().display()),
            "eid_roots = \"eid-roots.pem\"",
        );
        let text = text.replace(
            "[mandates]\n",
            "[mandates]\nriziv_check = \"strict\"\nehealth_ca = \"ca.pem\"\n",
        );
        let text = text.replace("riziv_check = \"format_only\"\n", "");

        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();

        let lines: Vec<String> = error.problems.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "box.toml:10: ehealth_ca \"ca.pem\" in [mandates] is not an absolute path"
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with("such as /etc/practicebox/ehealth-ca.pem"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with(
                "box.toml:11: eid_roots \"eid-roots.pem\" in [mandates] is not an absolute path"
            ),
            "{}",
            lines[1]
        );
    }

    /// Parses a configuration with data_dir /var/lib/practicebox, the given share_root and
    /// `extra` appended, and returns its problems.
    fn share_root_problems(share_root: &str, extra: &str) -> Vec<String> {
        let text =
            format!("data_dir = \"/var/lib/practicebox\"\nshare_root = \"{share_root}\"\n{extra}");
        match ServiceConfig::parse(&text, Path::new("box.toml")) {
            Ok(_) => panic!("share_root {share_root:?} accepted"),
            Err(error) => error.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn share_root_overlapping_data_dir_rejected() {
        let cases = [
            ("/var/lib/practicebox", "is the same folder as"),
            ("/var/lib/practicebox/", "is the same folder as"),
            ("/var/lib/./practicebox", "is the same folder as"),
            ("/var/lib/other/../practicebox", "is the same folder as"),
            ("/var/lib/practicebox/shares", "is inside"),
            ("/var/lib", "contains"),
            ("/", "contains"),
        ];
        for (share_root, relation) in cases {
            for extra in ["", "\n[samba]\npractice_user = \"pbx-emd\"\n"] {
                let lines = share_root_problems(share_root, extra);
                assert_eq!(lines.len(), 1, "{share_root} with {extra:?}: {lines:?}");
                let expected = format!(
                    "box.toml:2: share_root {share_root} {relation} data_dir /var/lib/practicebox"
                );
                assert!(lines[0].starts_with(&expected), "{}", lines[0]);
                assert!(lines[0].contains("the credential vault"), "{}", lines[0]);
                assert!(
                    lines[0].ends_with(
                        "set share_root to a folder outside data_dir, such as /srv/practicebox"
                    ),
                    "{}",
                    lines[0]
                );
            }
        }
    }

    #[test]
    fn share_root_beside_data_dir_accepted() {
        for share_root in [
            "/var/lib/practicebox-shares",
            "/var/lib/practice",
            "/srv/practicebox",
        ] {
            let text = format!(
                "data_dir = \"/var/lib/practicebox\"\nshare_root = \"{share_root}\"\n\n\
                 [samba]\npractice_user = \"pbx-emd\"\n"
            );
            let config = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap();
            assert_eq!(config.share_root, Path::new(share_root));
        }
    }

    #[test]
    fn share_root_example_left_out_when_it_overlaps() {
        let text = "data_dir = \"/srv/practicebox/data\"\nshare_root = \"/srv\"\n";
        let error = ServiceConfig::parse(text, Path::new("box.toml")).unwrap_err();
        let message = error.to_string();
        assert!(
            message.ends_with("set share_root to a folder outside data_dir"),
            "{message}"
        );
    }

    #[test]
    fn normalise_removes_dots() {
        assert_eq!(normalise(Path::new("/a/./b/../c/")), Path::new("/a/c"));
        assert_eq!(normalise(Path::new("/../a")), Path::new("/a"));
        assert_eq!(normalise(Path::new("/")), Path::new("/"));
    }

    #[test]
    fn panel_is_off_unless_enabled() {
        let dir = tempfile::tempdir().unwrap();
        let text = valid_text(dir.path());
        let config = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap();
        assert!(!config.panel.enabled);

        let text = format!("{text}\n[panel]\nenabled = true\nreader = \"ACS\"\n");
        let config = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap();
        assert!(config.panel.enabled);
        assert_eq!(config.panel.reader, "ACS");
        assert_eq!(config.panel.i2c_bus, PathBuf::from("/dev/i2c-1"));
    }

    #[test]
    fn panel_trust_anchor_keys_name_mandates_key() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}\n[panel]\nenabled = true\nehealth_ca = \"/etc/ca.pem\"\n\
             eid_roots = \"/etc/roots.pem\"\nriziv_format_only = true\n\
             stick_folder = \"/run/practicebox/stick\"\n",
            valid_text(dir.path())
        );

        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();

        let lines: Vec<String> = error.problems.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(
            lines[0].starts_with("box.toml:14: ehealth_ca in [panel] is no longer read"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("ehealth_ca in [mandates]"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("box.toml:15: eid_roots in [panel]"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("eid_roots in [mandates]"), "{}", lines[1]);
        assert!(
            lines[2].starts_with("box.toml:16: riziv_format_only in [panel]"),
            "{}",
            lines[2]
        );
        assert!(
            lines[2].contains("riziv_check = \"format_only\" in [mandates]"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("box.toml:17: stick_folder in [panel]"),
            "{}",
            lines[3]
        );
    }

    #[test]
    fn unknown_panel_key_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{}\n[panel]\nenable = true\n", valid_text(dir.path()));

        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();

        assert!(error.to_string().starts_with("box.toml:13: "), "{error}");
        assert!(error.to_string().contains("enable"), "{error}");
    }

    #[test]
    fn keyboard_layout_defaults_to_belgian() {
        let dir = tempfile::tempdir().unwrap();
        let text = valid_text(dir.path());
        let config = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap();
        assert_eq!(config.panel.keyboard_layout, KeyboardLayout::Be);

        let text = format!("{text}\n[panel]\nkeyboard_layout = \"us\"\n");
        let config = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap();
        assert_eq!(config.panel.keyboard_layout, KeyboardLayout::Us);
    }

    #[test]
    fn unknown_keyboard_layout_names_line_and_choices() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}\n[panel]\nenabled = true\nkeyboard_layout = \"de\"\n",
            valid_text(dir.path())
        );
        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("box.toml:14: "), "{message}");
        assert!(
            message.contains("unknown keyboard_layout \"de\""),
            "{message}"
        );
        assert!(message.contains("\"be\" (Belgian AZERTY)"), "{message}");
        assert!(message.contains("\"fr\" (French AZERTY)"), "{message}");
        assert!(message.contains("\"us\" (US QWERTY)"), "{message}");
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
            .replace(
                &format!("share_root = \"{}/share\"", dir.path().display()),
                "share_root = \"share\"",
            );
        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();
        let lines: Vec<String> = error.problems.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("box.toml:2: share_root \"share\" is not an absolute path"));
        assert!(lines[1].starts_with("box.toml:3: invalid fetch_interval \"often\""));
    }

    #[test]
    fn unknown_riziv_check_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = valid_text(dir.path()).replace("\"format_only\"", "\"lenient\"");
        let error = ServiceConfig::parse(&text, Path::new("box.toml")).unwrap_err();
        assert!(error.to_string().starts_with("box.toml:"), "{error}");
        assert!(error.to_string().contains("lenient"), "{error}");
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
