//! The `practicebox unseal` command: opens a sealed message file with the doctor's keystore,
//! writes the payload and prints who sent it and how both signatures verified.
//!
//! The output file is never replaced unless `--force` is given, and it appears whole or not at
//! all: the content goes to a hidden staging file in the same folder, which is fsynced and then
//! renamed to the output name. Without `--force` that rename fails if the name is taken, even
//! by a file created while the command ran.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{SignerRelation, UnsealPolicy, Unsealed, field::decode_sealed_field, unseal};
use crate::credentials::secret_file::{SecretKind, read_secret_file};
use crate::delivery::atomic::rename_noreplace;
use crate::ehealth::keystore::EhealthKeystore;

/// Mode of the output file: the content is decrypted medical data.
const OUTPUT_MODE: u32 = 0o600;

/// Tag octet of an ASN.1 SEQUENCE: binary sealed messages start with it, base64 text never.
const SEQUENCE_TAG: u8 = 0x30;

/// Arguments of `practicebox unseal`.
#[derive(Debug, clap::Args)]
pub struct UnsealArgs {
    /// eHealth keystore (.p12 or .acc-p12) holding the encryption keys
    #[arg(long, value_name = "FILE")]
    pub keystore: PathBuf,
    /// File holding the keystore password on one line (UTF-8, one trailing line break allowed)
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,
    /// Sealed message: binary (DER or BER), or the base64 text of an eHealthBox field
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// File to write the unsealed content to (mode 0600); it must not exist unless --force
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// Replace OUT if it exists
    #[arg(long)]
    pub force: bool,
}

/// Runs `practicebox unseal` and prints the sender and signature report on stdout.
pub fn run_unseal(args: &UnsealArgs) -> anyhow::Result<()> {
    // Checked first to fail before the slow work. `write_output` checks again, atomically.
    if !args.force && fs::symlink_metadata(&args.output).is_ok() {
        return Err(output_exists(&args.output));
    }
    let password = read_secret_file(&args.password_file, SecretKind::Password)?;
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
    write_output(&args.output, &unsealed.content, args.force)?;

    print!("{}", report(&unsealed, &args.output));
    Ok(())
}

fn output_exists(output: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "output file '{}' already exists; pass --force to replace it, or give another OUT name",
        output.display()
    )
}

/// Writes `content` to `output` through a staging file in the same folder, so that `output`
/// never contains part of the content. Without `force`, an existing `output` is left alone.
fn write_output(output: &Path, content: &[u8], force: bool) -> anyhow::Result<()> {
    let write_error = || {
        format!(
            "cannot write the content to '{}'; check that its folder exists and is writable",
            output.display()
        )
    };
    let folder = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if output.file_name().is_none() {
        anyhow::bail!("OUT '{}' names no file; give a file name", output.display());
    }

    let staging = Staging::create(folder).with_context(write_error)?;
    staging.write(content).with_context(write_error)?;
    let placed = if force {
        fs::rename(&staging.path, output)
    } else {
        rename_noreplace(&staging.path, output)
    };
    match placed {
        Ok(()) => staging.placed(),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            return Err(output_exists(output));
        }
        Err(error) => return Err(error).with_context(write_error),
    }
    File::open(folder)
        .and_then(|handle| handle.sync_all())
        .with_context(write_error)
}

/// A hidden staging file, removed on drop unless it was renamed into place.
#[derive(Debug)]
struct Staging {
    path: PathBuf,
    file: Option<File>,
}

impl Staging {
    /// Creates `.pbx-unseal-<pid>-<n>` in `folder`, with the first `n` no other file has.
    fn create(folder: &Path) -> io::Result<Self> {
        let mut attempt = 0;
        loop {
            let path = folder.join(format!(".pbx-unseal-{}-{attempt}", std::process::id()));
            let opened = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(OUTPUT_MODE)
                .open(&path);
            match opened {
                Ok(file) => {
                    return Ok(Self {
                        path,
                        file: Some(file),
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn write(&self, content: &[u8]) -> io::Result<()> {
        let mut file = self.file.as_ref().ok_or(io::ErrorKind::NotFound)?;
        file.write_all(content)?;
        file.sync_all()
    }

    fn placed(mut self) {
        self.file = None;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Best effort: the command already reports the error that got us here.
            let _ = fs::remove_file(&self.path);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn staging_files(folder: &Path) -> Vec<String> {
        fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".pbx-unseal-"))
            .collect()
    }

    #[test]
    fn write_output_keeps_file_created_meanwhile() {
        let folder = tempfile::tempdir().unwrap();
        let output = folder.path().join("out.bin");
        fs::write(&output, b"appeared after the first check").unwrap();

        let error = write_output(&output, b"unsealed", false).unwrap_err();

        assert!(error.to_string().contains("already exists"), "{error}");
        assert_eq!(
            fs::read(&output).unwrap(),
            b"appeared after the first check"
        );
        assert_eq!(staging_files(folder.path()), Vec::<String>::new());
    }

    #[test]
    fn write_output_missing_folder_leaves_nothing() {
        let folder = tempfile::tempdir().unwrap();
        let output = folder.path().join("absent").join("out.bin");

        let error = write_output(&output, b"unsealed", false).unwrap_err();

        assert!(
            error.to_string().contains("cannot write the content"),
            "{error}"
        );
        assert!(!output.exists());
    }

    #[test]
    fn write_output_force_replaces_symlink_not_target() {
        let folder = tempfile::tempdir().unwrap();
        let target = folder.path().join("target.txt");
        fs::write(&target, b"kept").unwrap();
        let output = folder.path().join("out.bin");
        std::os::unix::fs::symlink(&target, &output).unwrap();

        write_output(&output, b"unsealed", true).unwrap();

        assert_eq!(fs::read(&target).unwrap(), b"kept");
        assert!(fs::symlink_metadata(&output).unwrap().is_file());
        assert_eq!(fs::read(&output).unwrap(), b"unsealed");
        assert_eq!(staging_files(folder.path()), Vec::<String>::new());
    }
}
