//! The `seal` command: seals a file to the holders of some ETKs, as an eHealth sender would.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use der::{Decode, DecodePem};
use x509_cert::Certificate;

use crate::clock::{Clock, SimClock};
use crate::etk::{Etk, parse_etk, parse_etk_with_embedded_signer};

use super::{
    AUTHENTICATION_ALIAS, Corruption, OutputEncoding, SealOptions, SenderCredential, SigningPolicy,
    seal,
};

/// Arguments of `ehealth-sim seal`.
#[derive(Debug, Clone, clap::Args)]
pub struct SealArgs {
    /// ETK of a recipient, binary or base64 as the ETK depot returns it. Repeat for several
    /// recipients. Real senders add their own ETK too.
    #[arg(long = "etk", value_name = "FILE", required = true)]
    pub etks: Vec<PathBuf>,

    /// ETK-RA certificate (PEM or DER) that must have signed the ETKs. Without it, the ETKs are
    /// only checked against the signer certificate embedded in them.
    #[arg(long, value_name = "FILE")]
    pub etk_ra_cert: Option<PathBuf>,

    /// The sender's PKCS#12 keystore.
    #[arg(long, value_name = "FILE")]
    pub sender_keystore: PathBuf,

    /// File containing the keystore password. One trailing newline is ignored.
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,

    /// Keystore alias of the signing key.
    #[arg(long, default_value = AUTHENTICATION_ALIAS)]
    pub alias: String,

    /// Content to seal.
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,

    /// Where to write the sealed message (binary CMS).
    #[arg(long = "out", value_name = "FILE")]
    pub output: PathBuf,

    /// Kind of sealed message to produce.
    #[arg(long, value_enum, default_value_t = SealVariant::EhealthCert)]
    pub variant: SealVariant,

    /// With `--variant not-addressed`: the certificate (PEM or DER) to seal to instead of the
    /// ETKs' holders. Defaults to the sender's own authentication certificate.
    #[arg(long, value_name = "FILE")]
    pub stand_in_cert: Option<PathBuf>,
}

/// The kinds of sealed message `ehealth-sim seal` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SealVariant {
    /// SHA-256 and RSASSA-PSS with signed attributes, BER: what eHealth certificate holders send.
    EhealthCert,
    /// SHA-1 and PKCS#1 v1.5 (`rsaEncryption`), as in messages from about 2014.
    LegacySha1,
    /// SHA-256 and `sha256WithRSAEncryption`, as eID senders sign.
    Eid,
    /// The eHealth policy without signed attributes.
    NoSignedAttributes,
    /// The eHealth policy, DER-encoded.
    Der,
    /// Sealed to another certificate only, so no ETK holder can decrypt it.
    NotAddressed,
    /// The outer signature value has one bit flipped.
    BadOuterSignature,
    /// The inner signature value has one bit flipped.
    BadInnerSignature,
    /// Cut in half.
    Truncated,
}

/// Runs `ehealth-sim seal`: reads the ETKs, the keystore and the content, seals, writes the result.
pub fn run_seal_command(args: &SealArgs) -> anyhow::Result<()> {
    let recipients = args
        .etks
        .iter()
        .map(|path| read_etk(path, args.etk_ra_cert.as_deref()))
        .collect::<anyhow::Result<Vec<Etk>>>()?
        .into_iter()
        .map(|etk| etk.encryption_certificate)
        .collect::<Vec<_>>();

    let sender = read_sender(args)?;
    let content = fs::read(&args.input)
        .with_context(|| format!("failed to read the content file {}", args.input.display()))?;
    let options = options_for(args, &sender)?;

    let sealed = seal(&content, &sender, &recipients, &options, &mut rand::rng())?;
    fs::write(&args.output, &sealed)
        .with_context(|| format!("failed to write {}", args.output.display()))?;

    tracing::info!(
        output = %args.output.display(),
        recipients = recipients.len(),
        variant = ?args.variant,
        bytes = sealed.len(),
        "sealed message written"
    );
    Ok(())
}

fn options_for(args: &SealArgs, sender: &SenderCredential) -> anyhow::Result<SealOptions> {
    let mut options = SealOptions::new(SimClock::real_time().now());
    match args.variant {
        SealVariant::EhealthCert => {}
        SealVariant::LegacySha1 => options.policy = SigningPolicy::LegacySha1,
        SealVariant::Eid => options.policy = SigningPolicy::Eid,
        SealVariant::NoSignedAttributes => options.signed_attributes = false,
        SealVariant::Der => options.encoding = OutputEncoding::Der,
        SealVariant::NotAddressed => {
            let stand_in = match &args.stand_in_cert {
                Some(path) => read_certificate(path)?,
                None => sender.certificate().clone(),
            };
            options.corruption = Some(Corruption::NotAddressed(Box::new(stand_in)));
        }
        SealVariant::BadOuterSignature => options.corruption = Some(Corruption::BadOuterSignature),
        SealVariant::BadInnerSignature => options.corruption = Some(Corruption::BadInnerSignature),
        SealVariant::Truncated => options.corruption = Some(Corruption::Truncated),
    }
    if args.stand_in_cert.is_some() && args.variant != SealVariant::NotAddressed {
        bail!(
            "--stand-in-cert only applies to --variant not-addressed; remove it or change the variant"
        );
    }
    Ok(options)
}

fn read_sender(args: &SealArgs) -> anyhow::Result<SenderCredential> {
    let keystore = fs::read(&args.sender_keystore).with_context(|| {
        format!(
            "failed to read the sender keystore {}",
            args.sender_keystore.display()
        )
    })?;
    let password = fs::read_to_string(&args.password_file).with_context(|| {
        format!(
            "failed to read the password file {}",
            args.password_file.display()
        )
    })?;
    let password = password
        .strip_suffix('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .unwrap_or(&password);

    SenderCredential::from_pkcs12(&keystore, password, &args.alias).with_context(|| {
        format!(
            "failed to load the sender keystore {}",
            args.sender_keystore.display()
        )
    })
}

/// Reads an ETK file, binary or base64, and verifies it.
fn read_etk(path: &Path, etk_ra_cert: Option<&Path>) -> anyhow::Result<Etk> {
    let raw =
        fs::read(path).with_context(|| format!("failed to read the ETK {}", path.display()))?;
    let bytes = if raw.first() == Some(&0x30) {
        raw
    } else {
        let text: Vec<u8> = raw
            .into_iter()
            .filter(|byte| !byte.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(&text)
            .with_context(|| {
                format!(
                    "the ETK {} is neither binary CMS nor base64",
                    path.display()
                )
            })?
    };

    let etk = match etk_ra_cert {
        Some(ra_path) => parse_etk(&bytes, &read_certificate(ra_path)?),
        None => {
            tracing::warn!(
                etk = %path.display(),
                "no ETK-RA certificate given; checking the ETK against its embedded signer only"
            );
            parse_etk_with_embedded_signer(&bytes)
        }
    };
    etk.with_context(|| format!("invalid ETK {}", path.display()))
}

/// Reads a certificate in PEM or DER.
fn read_certificate(path: &Path) -> anyhow::Result<Certificate> {
    let bytes = fs::read(path)
        .with_context(|| format!("failed to read the certificate {}", path.display()))?;
    let certificate = if bytes.starts_with(b"-----BEGIN") {
        Certificate::from_pem(&bytes)
    } else {
        Certificate::from_der(&bytes)
    };
    certificate.with_context(|| format!("{} is not a PEM or DER X.509 certificate", path.display()))
}
