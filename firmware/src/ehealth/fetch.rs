//! `practicebox fetch --once`: one pass over a doctor's eHealthBox, for checking a set-up.
//!
//! It loads the keystore and its password file named in the configuration, gets a token,
//! lists INBOX, downloads each full message, unseals the sealed fields and prints one line per
//! message. It stores nothing, and moves the downloaded messages to BININBOX only when asked.
//!
//! ```toml
//! [ehealth]
//! preset = "simulator"
//! base_url = "https://localhost:8443"
//! ca_file = "/etc/practicebox/sim-ca.pem"
//!
//! [doctor]
//! keystore = "/var/lib/practicebox/SSIN=78031414266 20261204-100000.acc-p12"
//! password_file = "/var/lib/practicebox/keystore.pass"
//!
//! [clock]
//! trust_system_clock = false
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::clock::{Clock, DEFAULT_SYNC_FLAG, SystemClock};
use super::ehbox::model::FreeInformation;
use super::ehbox::{
    BatchReport, BoxInfo, EhboxClient, FullMessage, MessageSummary, RetryPolicy, Source,
};
use super::endpoints::{Endpoints, EndpointsConfig};
use super::keystore::EhealthKeystore;
use super::sts::TokenCache;
use super::transport::{HttpsTransport, SoapTransport};
use super::unseal::{UnsealPolicy, unseal};
use crate::credentials::secret_file::{SecretKind, read_secret_file};

/// Arguments of `practicebox fetch`.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Make one pass and exit (the only mode of this command for now)
    #[arg(long)]
    pub once: bool,
    /// Configuration file (TOML) with the [ehealth], [doctor] and [clock] tables
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Move each downloaded message from INBOX to BININBOX
    #[arg(long)]
    pub move_to_bin: bool,
}

/// The configuration file of `fetch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchConfig {
    #[serde(default)]
    pub ehealth: EndpointsConfig,
    pub doctor: DoctorConfig,
    #[serde(default)]
    pub clock: ClockConfig,
}

/// The doctor whose box is fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorConfig {
    /// The eHealth keystore (.p12 or .acc-p12).
    pub keystore: PathBuf,
    /// A file holding the keystore password on one line (see
    /// [`crate::credentials::secret_file`]).
    pub password_file: PathBuf,
}

/// When the system clock counts as trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// The flag file that NTP synchronisation creates.
    pub sync_flag: PathBuf,
    /// Trust the system clock without the flag (a board with an RTC, a development machine).
    pub trust_system_clock: bool,
}

impl Default for ClockConfig {
    fn default() -> Self {
        Self {
            sync_flag: PathBuf::from(DEFAULT_SYNC_FLAG),
            trust_system_clock: false,
        }
    }
}

impl FetchConfig {
    /// Reads and parses the configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read configuration '{}'; check the path",
                path.display()
            )
        })?;
        toml::from_str(&text).with_context(|| {
            format!(
                "invalid configuration '{}'; check the TOML syntax and the field names",
                path.display()
            )
        })
    }
}

/// Result of one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchSummary {
    pub box_info: Option<BoxInfo>,
    /// Every listed message, in listing order.
    pub listed: Vec<MessageSummary>,
    /// The messages downloaded in full.
    pub downloaded: Vec<FullMessage>,
    /// One report line per message.
    pub lines: Vec<String>,
    pub moved: Option<BatchReport>,
}

/// Runs `practicebox fetch` on a new tokio runtime and prints the report on stdout.
pub fn run_fetch(args: &FetchArgs) -> anyhow::Result<()> {
    if !args.once {
        anyhow::bail!("fetch makes one pass only; add --once");
    }
    let config = FetchConfig::load(&args.config)?;
    let endpoints = config
        .ehealth
        .resolve()
        .context("invalid [ehealth] table")?;
    let keystore = open_keystore(&config.doctor)?;
    let clock = SystemClock::new(&config.clock.sync_flag, config.clock.trust_system_clock);
    let transport = HttpsTransport::new(&endpoints)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let tokens = TokenCache::new();
    let pass = FetchPass {
        transport: &transport,
        endpoints: &endpoints,
        clock: &clock,
        tokens: &tokens,
        keystore: &keystore,
        retry: RetryPolicy::default(),
    };
    let summary = runtime.block_on(pass.run(args.move_to_bin))?;
    for line in &summary.lines {
        println!("{line}");
    }
    Ok(())
}

/// Opens the doctor's keystore with the password file of the configuration.
pub fn open_keystore(doctor: &DoctorConfig) -> anyhow::Result<EhealthKeystore> {
    let password = read_secret_file(&doctor.password_file, SecretKind::Password)?;
    Ok(EhealthKeystore::open_file(&doctor.keystore, &password)?)
}

/// One pass over a doctor's INBOX.
#[derive(Debug)]
pub struct FetchPass<'a, T> {
    pub transport: &'a T,
    pub endpoints: &'a Endpoints,
    pub clock: &'a dyn Clock,
    pub tokens: &'a TokenCache,
    pub keystore: &'a EhealthKeystore,
    pub retry: RetryPolicy,
}

impl<T: SoapTransport> FetchPass<'_, T> {
    /// Lists INBOX, downloads every message and, with `move_to_bin`, moves them to BININBOX.
    pub async fn run(&self, move_to_bin: bool) -> anyhow::Result<FetchSummary> {
        let client = EhboxClient::new(
            self.transport,
            self.endpoints,
            self.clock,
            self.tokens,
            self.keystore,
        )
        .with_retry(self.retry);
        let mut summary = FetchSummary::default();

        let token = client.token().await?;
        summary.lines.push(format!(
            "token {} for SSIN {} valid until {} (doctor: {}, RIZIV: {})",
            token.assertion_id,
            token.ssin,
            token.not_on_or_after,
            token
                .doctor
                .map_or("not certified".to_owned(), |doctor| doctor.to_string()),
            token.nihii11.as_deref().unwrap_or("none"),
        ));
        let info = client.get_box_info().await?;
        summary.lines.push(format!(
            "box {} {} {}: {} of {} bytes used, {} in stand-by",
            info.box_id.id_type,
            info.box_id.id,
            info.box_id.quality,
            info.current_size,
            info.max_size,
            info.messages_in_standby
        ));
        summary.box_info = Some(info);

        summary.listed = client.list_all(Source::Inbox).await?;
        summary
            .lines
            .push(format!("INBOX: {} messages", summary.listed.len()));
        for listed in &summary.listed {
            let message = client.get_full_message(&listed.message_id).await?;
            summary.lines.push(self.describe(listed, &message));
            summary.downloaded.push(message);
        }

        if move_to_bin && !summary.downloaded.is_empty() {
            let ids: Vec<String> = summary
                .downloaded
                .iter()
                .map(|message| message.message_id.clone())
                .collect();
            let report = client
                .move_messages(Source::Inbox, Source::BinInbox, &ids)
                .await?;
            summary.lines.push(format!(
                "moved to BININBOX: {} (already gone: {})",
                report.processed.len(),
                report.not_found.len()
            ));
            summary.moved = Some(report);
        }
        Ok(summary)
    }

    /// Formats one line: MessageId, kind, sender, title, sizes, unseal status.
    fn describe(&self, listed: &MessageSummary, message: &FullMessage) -> String {
        let title = listed
            .title
            .clone()
            .unwrap_or_else(|| String::from_utf8_lossy(&message.document.title).into_owned());
        let annex_bytes: usize = message
            .annexes
            .iter()
            .map(|annex| annex.content.len())
            .sum();
        let mut line = format!(
            "{}  {}  {}  \"{}\"  document {} B ({}), {} annexes {} B  ",
            message.message_id,
            message.content_type,
            message.sender.display_name(),
            title,
            message.document.content.len(),
            message.document.transfer,
            message.annexes.len(),
            annex_bytes,
        );
        if let Some(ack) = &message.acknowledgment {
            let _ = write!(line, "{} of {}  ", ack.ack_type, ack.message_id);
        }
        if let Some(error) = &message.error {
            let _ = write!(line, "error {}  ", error.code);
        }
        line.push_str(&self.unseal_status(message));
        line
    }

    fn unseal_status(&self, message: &FullMessage) -> String {
        if !message.is_encrypted {
            return "not sealed".to_owned();
        }
        let mut fields: Vec<(&str, &[u8])> = vec![("document", &message.document.content)];
        for annex in &message.annexes {
            fields.push(("annex", &annex.content));
            if !annex.title.is_empty() {
                fields.push(("annex title", &annex.title));
            }
        }
        if let Some(FreeInformation::Text(text)) = &message.free_information {
            fields.push(("free text", text));
        }
        if let Some(inss) = &message.patient_inss {
            fields.push(("patient INSS", inss));
        }

        let policy = UnsealPolicy::default();
        let mut failures = Vec::new();
        for (name, blob) in &fields {
            if blob.is_empty() {
                continue;
            }
            if let Err(error) = unseal(blob, self.keystore, &policy) {
                failures.push(format!("{name}: {error}"));
            }
        }
        if failures.is_empty() {
            format!("unsealed {} fields", fields.len())
        } else {
            format!("UNSEAL FAILED ({})", failures.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_with_defaults() {
        let config: FetchConfig = toml::from_str(
            r#"
            [ehealth]
            preset = "production"
            [doctor]
            keystore = "/data/doctor.p12"
            password_file = "/data/doctor.pass"
            "#,
        )
        .unwrap();
        assert_eq!(config.clock, ClockConfig::default());
        assert_eq!(config.doctor.keystore, PathBuf::from("/data/doctor.p12"));
        assert!(
            config
                .ehealth
                .resolve()
                .unwrap()
                .sts
                .starts_with("https://services.")
        );
    }

    #[test]
    fn config_without_doctor_is_rejected() {
        let error = toml::from_str::<FetchConfig>("[ehealth]\n").unwrap_err();
        assert!(error.to_string().contains("doctor"), "{error}");
    }

    #[test]
    fn password_file_rules_apply() {
        let folder = tempfile::tempdir().unwrap();
        let doctor = DoctorConfig {
            keystore: folder.path().join("doctor.p12"),
            password_file: folder.path().join("pass"),
        };
        std::fs::write(&doctor.password_file, "").unwrap();

        let error = open_keystore(&doctor).unwrap_err();

        assert!(error.to_string().contains("is empty"), "{error}");
    }
}
