//! The `practicebox setup` and `practicebox mandate add|list|remove|verify` subcommands.
//!
//! The terminal drives the [`Workflow`]: values come from the options, the password and the PIN
//! from a prompt without echo (or from `--password-file` and `--pin-file`), and the eID from
//! pcscd. The inputs that need no eID are checked before the command asks for the card. The
//! first failed step ends the command with its error; nothing is stored then.

use std::fs;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use jiff::Timestamp;
use jiff::civil::Date;
use rand::CryptoRng;
use zeroize::Zeroizing;

use super::grant::{self, Purpose, TypedDetails};
use super::rules::{self, RuleError};
use super::signer::MandateSigner;
use super::status::{self, MandateStatus};
use super::verify::{self, VerificationReport};
use super::workflow::{Environment, Input, InputKind, Outcome, Screen, Workflow};
use super::{MandateError, MandateSettings};
use crate::config::{DEFAULT_CONFIG_FILE, ServiceConfig};
use crate::credentials::CredentialVault;
use crate::credentials::secret_file::{SecretKind, read_secret_file};
use crate::eid::{EidCard, PcscContext};
use crate::store::{AuditVerification, Store};

/// Who the audit log names for actions taken on the terminal.
const TERMINAL_ACTOR: &str = "terminal";

/// The box a command works on.
#[derive(Debug, Clone, clap::Args)]
pub struct BoxOptions {
    /// Service configuration file (TOML): the command uses the store, the credential vault and
    /// the box identity under its data_dir, and the trust anchors of its [mandates] table
    #[arg(
        long,
        value_name = "FILE",
        env = "PRACTICEBOX_CONFIG",
        default_value = DEFAULT_CONFIG_FILE
    )]
    pub config: PathBuf,
}

impl BoxOptions {
    /// Loads the service configuration and checks that this process may write the box's files.
    pub fn load(&self) -> anyhow::Result<ServiceConfig> {
        let config = ServiceConfig::load(&self.config)?;
        check_data_dir_owner(&config.data_dir, nix::unistd::geteuid().as_raw())?;
        Ok(config)
    }
}

/// Checks that the data folder exists and belongs to `uid`. The service opens the store and the
/// vault key as the folder's owner, and both are private to their creator, so files written by
/// another user (root, typically) would stop the service from reading them.
pub fn check_data_dir_owner(data_dir: &Path, uid: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let metadata = fs::metadata(data_dir).with_context(|| {
        format!(
            "cannot read the data folder {}; start the service once so that it creates the \
             folder, or check data_dir in the configuration",
            data_dir.display()
        )
    })?;
    let owner = metadata.uid();
    if owner != uid {
        anyhow::bail!(
            "the data folder {} belongs to uid {owner}, but this command runs as uid {uid}, and \
             the service could not read the files it would create; run the command as the \
             folder's owner, such as `runuser -u practicebox -- practicebox ...`",
            data_dir.display()
        );
    }
    Ok(())
}

/// Opens the store of the box.
pub fn open_store(config: &ServiceConfig) -> anyhow::Result<Store> {
    Ok(Store::open(&config.store_path())?)
}

/// Opens the credential vault of the box.
pub fn open_vault(config: &ServiceConfig) -> anyhow::Result<CredentialVault> {
    Ok(CredentialVault::open(&config.vault_dir())?)
}

/// Loads the trust anchors and the box identity, creating the identity on first use.
pub fn settings<R: CryptoRng>(
    config: &ServiceConfig,
    rng: &mut R,
) -> Result<MandateSettings, MandateError> {
    Ok(MandateSettings {
        ehealth_anchors: super::load_ehealth_anchors(&config.mandates.ehealth_ca)?,
        eid_anchors: super::load_eid_anchors(&config.mandates.eid_roots)?,
        riziv_check: config.mandates.riziv_check,
        box_id: super::load_or_create_box_id(&config.box_id_file(), rng)?,
    })
}

/// The doctor's certificate, details and eID.
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorOptions {
    /// The doctor's eHealth keystore (.p12 or .acc-p12).
    #[arg(long)]
    pub certificate: PathBuf,
    /// Read the keystore password from this file (one line, UTF-8) instead of prompting (for tests).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Read the eID PIN from this file (one line) instead of prompting (for tests).
    #[arg(long)]
    pub pin_file: Option<PathBuf>,
    /// Family name, as on the eID.
    #[arg(long)]
    pub name: String,
    /// First name, as on the eID.
    #[arg(long)]
    pub first_name: String,
    /// INSZ (national number), 11 digits.
    #[arg(long)]
    pub insz: String,
    /// RIZIV number, 11 digits.
    #[arg(long)]
    pub riziv: String,
    /// Use the first card reader whose name starts with this text (any reader when empty).
    #[arg(long, default_value = "")]
    pub reader: String,
    /// Seconds to wait for the eID in the reader.
    #[arg(long, default_value_t = 60)]
    pub card_timeout: u64,
    /// Do not ask for confirmation before signing.
    #[arg(long)]
    pub yes: bool,
}

impl DoctorOptions {
    fn typed(&self) -> TypedDetails {
        TypedDetails {
            family_name: self.name.clone(),
            first_name: self.first_name.clone(),
            insz: self.insz.clone(),
            riziv: self.riziv.clone(),
        }
    }
}

/// `practicebox setup`.
#[derive(Debug, Clone, clap::Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub box_options: BoxOptions,
    #[command(flatten)]
    pub doctor: DoctorOptions,
}

/// `practicebox mandate add`.
#[derive(Debug, Clone, clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub box_options: BoxOptions,
    #[command(flatten)]
    pub doctor: DoctorOptions,
    /// Last day of the mandate (YYYY-MM-DD, UTC); by default the certificate's end.
    #[arg(long)]
    pub end_date: Option<Date>,
}

/// `practicebox mandate remove`.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub box_options: BoxOptions,
    /// INSZ of the doctor whose mandate ends.
    pub insz: String,
    /// Who removes the mandate, for the audit log.
    #[arg(long, default_value = TERMINAL_ACTOR)]
    pub by: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

/// `practicebox mandate ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum MandateCommand {
    /// Let a colleague's eHealthBox be fetched by this box, signed with the colleague's eID
    Add(AddArgs),
    /// List the mandates: who, until when, days left, status
    List(BoxOptions),
    /// End a mandate now and wipe the colleague's certificate copy
    Remove(RemoveArgs),
    /// Verify the signed evidence of every mandate and the audit chain
    Verify(BoxOptions),
}

/// Asks the person at the terminal.
pub trait Prompter {
    /// Shows a screen.
    fn show(&mut self, screen: &Screen);
    /// Reads a secret without echo.
    fn secret(&mut self, label: &str) -> io::Result<Zeroizing<String>>;
    /// Asks a yes/no question; no is the default.
    fn confirm(&mut self, question: &str) -> io::Result<bool>;
}

/// The real terminal: screens on stderr, secrets without echo.
#[derive(Debug, Default)]
pub struct Terminal;

impl Prompter for Terminal {
    fn show(&mut self, screen: &Screen) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "== {}", screen.title);
        for line in &screen.lines {
            let _ = writeln!(err, "{line}");
        }
    }

    fn secret(&mut self, label: &str) -> io::Result<Zeroizing<String>> {
        rpassword::prompt_password(label).map(Zeroizing::new)
    }

    fn confirm(&mut self, question: &str) -> io::Result<bool> {
        eprint!("{question} [y/N] ");
        io::stderr().flush()?;
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "ja" | "oui"))
    }
}

/// The values the terminal gives the workflow.
#[derive(Debug)]
pub struct Answers<'a> {
    pub doctor: &'a DoctorOptions,
    pub end_date: Option<Date>,
}

/// Drives a workflow from the terminal until it ends, and returns what it stored.
pub fn drive<R: CryptoRng>(
    purpose: Purpose,
    answers: &Answers<'_>,
    env: &mut Environment<'_, R>,
    prompter: &mut dyn Prompter,
) -> Result<Outcome, MandateError> {
    let mut workflow = Workflow::new(purpose);
    let mut screen = workflow.screen();
    loop {
        prompter.show(&screen);
        let input = match answer(&screen, answers, prompter)? {
            Some(input) => input,
            None => break,
        };
        screen = workflow.submit(input, env);
        if let Some(error) = workflow.take_error() {
            return Err(error);
        }
    }
    workflow.outcome().ok_or(MandateError::Cancelled)
}

fn answer(
    screen: &Screen,
    answers: &Answers<'_>,
    prompter: &mut dyn Prompter,
) -> Result<Option<Input>, MandateError> {
    let doctor = answers.doctor;
    let input = match screen.input {
        InputKind::CertificateFile => read_certificate(&doctor.certificate)?,
        InputKind::Password => Input::Password(read_secret(
            doctor.password_file.as_deref(),
            SecretKind::Password,
            "Certificate password: ",
            prompter,
        )?),
        InputKind::Details => Input::Details(doctor.typed()),
        InputKind::CardReady => Input::CardReady,
        InputKind::EndDate { .. } => Input::EndDate(answers.end_date),
        InputKind::Confirm => {
            let yes = doctor.yes || prompter.confirm("Go on?").map_err(terminal_error)?;
            Input::Confirm(yes)
        }
        InputKind::Pin { .. } => Input::Pin(read_secret(
            doctor.pin_file.as_deref(),
            SecretKind::Pin,
            "eID PIN: ",
            prompter,
        )?),
        InputKind::Continue => Input::Continue,
        InputKind::Nothing => return Ok(None),
    };
    Ok(Some(input))
}

fn read_certificate(path: &Path) -> Result<Input, MandateError> {
    let bytes = fs::read(path).map_err(|source| crate::ehealth::keystore::KeystoreError::Read {
        file: path.display().to_string(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(Input::CertificateFile {
        name,
        bytes: Zeroizing::new(bytes),
    })
}

/// Reads a secret from a file (one line, see [`crate::credentials::secret_file`]) or from the
/// prompt.
fn read_secret(
    file: Option<&Path>,
    kind: SecretKind,
    label: &str,
    prompter: &mut dyn Prompter,
) -> Result<Zeroizing<String>, MandateError> {
    match file {
        Some(path) => Ok(read_secret_file(path, kind)?),
        None => prompter.secret(label).map_err(terminal_error),
    }
}

fn terminal_error(source: io::Error) -> MandateError {
    MandateError::Terminal { source }
}

/// Connects to the eID in the first matching reader through pcscd.
fn connect_eid(doctor: &DoctorOptions) -> anyhow::Result<EidCard<crate::eid::PcscTransport>> {
    let context = PcscContext::establish()?;
    let timeout = Duration::from_secs(doctor.card_timeout);
    eprintln!("Insert the doctor's eID in the reader.");
    let reader = context.wait_for_card(&doctor.reader, timeout)?;
    let transport = context.connect(&reader)?;
    Ok(EidCard::open(transport)?)
}

/// Runs a setup or a mandate with an eID and a clock given by the caller.
#[allow(clippy::too_many_arguments, reason = "the world the command runs in")]
pub fn run_workflow<R: CryptoRng>(
    purpose: Purpose,
    config: &ServiceConfig,
    answers: &Answers<'_>,
    signer: &mut dyn MandateSigner,
    prompter: &mut dyn Prompter,
    rng: &mut R,
    now: Timestamp,
) -> anyhow::Result<Outcome> {
    let settings = settings(config, rng)?;
    let mut store = open_store(config)?;
    let vault = open_vault(config)?;
    let mut env = Environment {
        store: &mut store,
        vault: &vault,
        signer,
        settings: &settings,
        rng,
        now,
        actor: TERMINAL_ACTOR,
    };
    Ok(drive(purpose, answers, &mut env, prompter)?)
}

/// Checks every input that needs no eID, with the errors of the workflow's own steps: the trust
/// anchor files, the keystore file, the secret files, the names, the INSZ and RIZIV numbers, and
/// that the end date is not in the past. Reads files only and writes nothing.
pub fn check_before_card(
    config: &ServiceConfig,
    answers: &Answers<'_>,
    now: Timestamp,
) -> Result<(), MandateError> {
    let doctor = answers.doctor;
    super::load_ehealth_anchors(&config.mandates.ehealth_ca)?;
    super::load_eid_anchors(&config.mandates.eid_roots)?;
    read_certificate(&doctor.certificate)?;
    for (file, kind) in [
        (&doctor.password_file, SecretKind::Password),
        (&doctor.pin_file, SecretKind::Pin),
    ] {
        if let Some(path) = file {
            read_secret_file(path, kind)?;
        }
    }

    rules::clean_name("family name", &doctor.name)?;
    rules::clean_name("first name", &doctor.first_name)?;
    rules::check_insz(doctor.insz.trim())?;
    rules::check_riziv(doctor.riziv.trim(), config.mandates.riziv_check)?;
    if let Some(end) = answers.end_date {
        let today = rules::utc_date(now);
        if end < today {
            return Err(RuleError::EndDateInPast { end, today }.into());
        }
    }
    Ok(())
}

/// Runs a setup or a mandate: checks the inputs with [`check_before_card`], and only then
/// calls `connect` for the eID and drives the workflow with it.
pub fn run_with_card<S: MandateSigner, R: CryptoRng>(
    purpose: Purpose,
    config: &ServiceConfig,
    answers: &Answers<'_>,
    connect: impl FnOnce() -> anyhow::Result<S>,
    prompter: &mut dyn Prompter,
    rng: &mut R,
    now: Timestamp,
) -> anyhow::Result<Outcome> {
    check_before_card(config, answers, now)?;
    let mut card = connect()?;
    run_workflow(purpose, config, answers, &mut card, prompter, rng, now)
}

/// `practicebox setup`.
pub fn run_setup(args: &SetupArgs) -> anyhow::Result<()> {
    let config = args.box_options.load()?;
    let answers = Answers {
        doctor: &args.doctor,
        end_date: None,
    };
    run_with_card(
        Purpose::Setup,
        &config,
        &answers,
        || connect_eid(&args.doctor),
        &mut Terminal,
        &mut rand::rng(),
        Timestamp::now(),
    )?;
    Ok(())
}

/// `practicebox mandate ...`.
pub fn run_mandate(command: &MandateCommand) -> anyhow::Result<()> {
    let now = Timestamp::now();
    match command {
        MandateCommand::Add(args) => {
            let config = args.box_options.load()?;
            let answers = Answers {
                doctor: &args.doctor,
                end_date: args.end_date,
            };
            run_with_card(
                Purpose::Mandate,
                &config,
                &answers,
                || connect_eid(&args.doctor),
                &mut Terminal,
                &mut rand::rng(),
                now,
            )?;
            Ok(())
        }
        MandateCommand::List(options) => {
            let text = list_text(&options.load()?, now)?;
            print!("{text}");
            Ok(())
        }
        MandateCommand::Remove(args) => {
            let config = args.box_options.load()?;
            remove(&config, args, &mut Terminal, now)
        }
        MandateCommand::Verify(options) => {
            let report = verify_report(&options.load()?, &mut rand::rng())?;
            print!("{}", report_text(&report));
            if !report.is_intact() {
                anyhow::bail!(
                    "verification failed: {} mandate checks failed{}",
                    report.findings.len(),
                    match report.audit {
                        AuditVerification::Intact { .. } => "",
                        AuditVerification::Broken { .. } => ", and the audit chain is broken",
                    }
                );
            }
            Ok(())
        }
    }
}

/// Returns the text of `mandate list`, with the warnings after the list.
pub fn list_text(config: &ServiceConfig, now: Timestamp) -> anyhow::Result<String> {
    let store = open_store(config)?;
    let vault = open_vault(config)?;
    let listings = status::list_mandates(&store, now)?;
    let mut text = String::new();
    if listings.is_empty() {
        text.push_str("no mandates\n");
    }
    for listing in &listings {
        text.push_str(&format!("{listing}\n"));
    }
    for warning in status::expiry_warnings(&store, &vault, now)? {
        text.push_str(&format!("warning: {warning}\n"));
    }
    Ok(text)
}

/// Runs `mandate remove`: confirms unless `--yes` is given, then revokes and wipes.
pub fn remove(
    config: &ServiceConfig,
    args: &RemoveArgs,
    prompter: &mut dyn Prompter,
    now: Timestamp,
) -> anyhow::Result<()> {
    let mut store = open_store(config)?;
    let vault = open_vault(config)?;
    let in_force = status::list_mandates(&store, now)?
        .into_iter()
        .filter(|listing| listing.mandator.insz == args.insz)
        .filter(|listing| !matches!(listing.status, MandateStatus::Revoked { .. }))
        .collect::<Vec<_>>();
    if let Some(listing) = in_force.last()
        && !args.yes
    {
        let question = format!("Remove {listing}?");
        if !prompter
            .confirm(&question)
            .context("cannot read the confirmation from the terminal")?
        {
            anyhow::bail!("not removed: the removal was not confirmed");
        }
    }

    let removed = grant::remove_mandate(&mut store, &vault, &args.insz, &args.by, now)?;
    let ids: Vec<String> = removed.iter().map(ToString::to_string).collect();
    println!(
        "removed mandate {} of INSZ {}; its certificate copy is wiped",
        ids.join(", "),
        args.insz
    );
    Ok(())
}

/// Verifies every mandate and the audit chain.
pub fn verify_report<R: CryptoRng>(
    config: &ServiceConfig,
    rng: &mut R,
) -> anyhow::Result<VerificationReport> {
    let settings = settings(config, rng)?;
    let store = open_store(config)?;
    Ok(verify::verify_all(&store, &settings)?)
}

/// Formats a verification report, one line per finding.
pub fn report_text(report: &VerificationReport) -> String {
    let mut text = format!("{} mandates checked\n", report.mandates_checked);
    for finding in &report.findings {
        text.push_str(&format!("TAMPERED: {finding}\n"));
    }
    match &report.audit {
        AuditVerification::Intact { rows, .. } => {
            text.push_str(&format!("audit log intact ({rows} rows)\n"));
        }
        AuditVerification::Broken { seq, problem } => {
            text.push_str(&format!("TAMPERED: audit log row {seq}: {problem}\n"));
        }
    }
    if report.is_intact() {
        text.push_str("every mandate verified\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    #[test]
    fn data_dir_of_another_user_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let owner = fs::metadata(dir.path()).unwrap().uid();
        check_data_dir_owner(dir.path(), owner).unwrap();

        let other = owner + 1;
        let message = check_data_dir_owner(dir.path(), other)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!(
                "belongs to uid {owner}, but this command runs as uid {other}"
            )),
            "{message}"
        );
        assert!(message.contains("runuser -u practicebox"), "{message}");
    }

    #[test]
    fn missing_data_dir_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("data");
        let message = format!("{:#}", check_data_dir_owner(&missing, 0).unwrap_err());
        assert!(
            message.starts_with("cannot read the data folder"),
            "{message}"
        );
        assert!(!missing.exists(), "not created");
    }
}
