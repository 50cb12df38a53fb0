//! The `practicebox unseal` command: opens a sealed message file with the doctor's keystore,
//! writes the payload and prints who sent it and how both signatures verified.

use std::path::{Path, PathBuf};

use anyhow::Context;
use zeroize::Zeroizing;

use super::{SignerRelation, UnsealPolicy, Unsealed, field::decode_sealed_field, unseal};
use crate::ehealth::keystore::EhealthKeystore;

/// Tag octet of an ASN.1 SEQUENCE: binary sealed messages start with it, base64 text never.
const SEQUENCE_TAG: u8 = 0x30;

/// Arguments of `practicebox unseal`.
#[derive(Debug, clap::Args)]
pub struct UnsealArgs {
    /// eHealth keystore (.p12 or .acc-p12) holding the encryption keys
    #[arg(long, value_name = "FILE")]
    pub keystore: PathBuf,
    /// File whose first line is the keystore password
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,
    /// Sealed message: binary (DER or BER), or the base64 text of an eHealthBox field
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// File to write the unsealed content to
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
}

/// Runs `practicebox unseal` and prints the sender and signature report on stdout.
pub fn run_unseal(args: &UnsealArgs) -> anyhow::Result<()> {
    let password = read_password(&args.password_file)?;
    let keystore = EhealthKeystore::open_file(&args.keystore, &password)?;
    drop(password);

    let raw = std::fs::read(&args.input).with_context(|| {
        format!(
            "cannot read sealed message '{}'; check the path",
            args.input.display()
        )
    })?;
    let blob = if raw.first() == Some(&SEQUENCE_TAG) {
        raw
    } else {
        decode_sealed_field(&raw)
            .with_context(|| format!("cannot decode sealed message '{}'", args.input.display()))?
    };

    let unsealed = unseal(&blob, &keystore, &UnsealPolicy::default())
        .with_context(|| format!("cannot unseal '{}'", args.input.display()))?;
    std::fs::write(&args.output, &unsealed.content).with_context(|| {
        format!(
            "cannot write the content to '{}'; check that its folder exists and is writable",
            args.output.display()
        )
    })?;

    print!("{}", report(&unsealed, &args.output));
    Ok(())
}

/// Reads the password from the first line of `path`, without its line ending.
fn read_password(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let mut password = Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read password file '{}'; check the path and that it is UTF-8 text",
            path.display()
        )
    })?);
    if let Some(end) = password.find(['\n', '\r']) {
        password.truncate(end);
    }
    Ok(password)
}

/// Describes an unsealed message: sender, SSIN, both signatures and where the content went.
pub fn report(unsealed: &Unsealed, output: &Path) -> String {
    let sender = &unsealed.sender;
    let ssin = sender.ssin.as_deref().unwrap_or("none in the certificate");
    let mut text = format!(
        "sender: {}\nsender SSIN: {ssin}\nouter signature: {}\ninner signature: {}\n",
        sender.subject, unsealed.outer_signature, unsealed.inner_signature
    );
    if let SignerRelation::Other(other) = &unsealed.inner_signature.signer {
        text.push_str(&format!(
            "warning: the inner signer '{}' is not the sender\n",
            other.subject
        ));
    }
    text.push_str(&format!(
        "decrypted with encryption key serial {}\ncontent: {} bytes written to {}\n",
        unsealed.recipient_serial,
        unsealed.content.len(),
        output.display()
    ));
    text
}
