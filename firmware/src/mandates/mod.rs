//! Mandates: a colleague (the mandator) lets this box fetch the colleague's personal eHealthBox
//! until an end date, and the box's own doctor (the main practitioner) is set up.
//!
//! A mandate is evidence. The mandator brings a copy of the eHealth keystore and its password,
//! types name, INSZ and RIZIV number, and confirms with the eID and its PIN: the eID's
//! non-repudiation key signs a bilingual mandate document. The box stores the exact signed
//! bytes, the signature, the eID certificates, the identity file with its National Register
//! signature and the certificate fingerprint, and can verify all of it again later.
//!
//! # Layout
//! - [`rules`]: the checks on typed values, certificates and dates, each with its own error.
//! - [`document`]: the mandate document and its canonical encoding.
//! - [`signer`]: the [`MandateSigner`] trait that the eID implements, and the eID evidence.
//! - [`grant`]: storing a verified mandate or main practitioner, removing a mandate.
//! - [`verify`]: verifying every stored mandate and the audit chain.
//! - [`status`]: the mandate list and the warnings before a mandate or certificate ends.
//! - [`workflow`]: the UI-neutral state machine that the terminal and the front panel drive.
//! - [`command`]: the `practicebox setup` and `practicebox mandate` subcommands.
//!
//! Credentials at rest live in [`crate::credentials`]. The fetcher picks up mandators through
//! [`crate::store::Store::active_principals`], which leaves out ended and revoked mandates.

pub mod command;
pub mod document;
pub mod grant;
pub mod rules;
pub mod signer;
pub mod status;
pub mod verify;
pub mod workflow;

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::CryptoRng;

use crate::credentials::CredentialError;
use crate::credentials::secret_file::SecretFileError;
use crate::ehealth::certificate::StoredCertificate;
use crate::ehealth::keystore::KeystoreError;
use crate::eid::{EidError, TrustAnchors};
use crate::store::StoreError;

pub use document::{DocumentError, MandateFields};
pub use grant::{Purpose, TypedDetails};
pub use rules::{RizivCheck, RuleError};
pub use signer::{EidCertificates, EidHolder, MandateSigner};
pub use verify::{Check, Finding, VerificationReport};
pub use workflow::{Input, InputKind, Screen, Step, Workflow};

/// Everything a mandate or a setup checks against, fixed by the box's configuration.
#[derive(Debug, Clone)]
pub struct MandateSettings {
    /// The eHealth CA certificates that doctors' eHealth certificates must chain to.
    pub ehealth_anchors: Vec<StoredCertificate>,
    /// The Belgian eID roots that the eID certificates must chain to.
    pub eid_anchors: TrustAnchors,
    pub riziv_check: RizivCheck,
    /// This box's identity, written into every mandate document.
    pub box_id: String,
}

/// A trust anchor file named in the `[mandates]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorFile {
    /// `ehealth_ca`: the CAs of doctors' eHealth certificates.
    EhealthCa,
    /// `eid_roots`: the Belgian eID roots.
    EidRoots,
}

impl AnchorFile {
    /// Returns the key in `[mandates]` that names the file.
    pub fn key(self) -> &'static str {
        match self {
            Self::EhealthCa => "ehealth_ca",
            Self::EidRoots => "eid_roots",
        }
    }

    /// Returns a description of the certificates that the file must contain.
    pub fn contents(self) -> &'static str {
        match self {
            Self::EhealthCa => {
                "the CA certificates of the eHealth platform that issue doctors' eHealth \
                 certificates"
            }
            Self::EidRoots => "the Belgian eID root certificates",
        }
    }
}

/// A mandate or setup that failed. Every message names the value and the fix; none contains a
/// password or a PIN.
#[derive(Debug, thiserror::Error)]
pub enum MandateError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error(transparent)]
    Eid(#[from] EidError),
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("cannot store the mandate: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(
        "the signature made by the eID does not verify ({0}); nothing was stored, try again \
         with the same card"
    )]
    SignatureRejected(Finding),
    #[error("no mandate of INSZ {insz} is in force; `practicebox mandate list` shows the mandates")]
    NoMandate { insz: String },
    #[error(
        "cannot read the trust anchor file {path} ({key} in [mandates]): {reason}; install a \
         PEM file there with {contents}, or set {key} to the file that contains them",
        key = .file.key(),
        contents = .file.contents()
    )]
    TrustAnchorsUnreadable {
        file: AnchorFile,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "the trust anchor file {path} ({key} in [mandates]) is invalid: {reason}; it must \
         contain PEM CERTIFICATE blocks (-----BEGIN CERTIFICATE-----) of {contents}",
        key = .file.key(),
        contents = .file.contents()
    )]
    TrustAnchorsInvalid {
        file: AnchorFile,
        path: PathBuf,
        reason: String,
    },
    #[error("the {step} step does not take {input}; give the input the screen asks for")]
    UnexpectedInput { step: String, input: String },
    #[error("a step was skipped; start the mandate again")]
    StepOrder,
    #[error("cancelled; nothing was stored")]
    Cancelled,
    #[error(transparent)]
    SecretFile(#[from] SecretFileError),
    #[error(
        "cannot read from the terminal: {source}; run the command in an interactive terminal or pass the file options"
    )]
    Terminal { source: io::Error },
    #[error("cannot read or create the box identity {path}: {source}")]
    BoxIdentity { path: PathBuf, source: io::Error },
}

/// Reads the box identity from `path`, creating it on first use as `pbx-` and 32 random hex
/// digits.
pub fn load_or_create_box_id<R: CryptoRng>(
    path: &Path,
    rng: &mut R,
) -> Result<String, MandateError> {
    let io_error = |source| MandateError::BoxIdentity {
        path: path.to_owned(),
        source,
    };
    if let Ok(text) = fs::read_to_string(path) {
        let id = text.trim();
        if !id.is_empty() {
            return Ok(id.to_owned());
        }
    }

    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let id = format!("pbx-{}", crate::ehealth::certificate::hex(&bytes));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(io_error)?;
    file.write_all(format!("{id}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error)?;
    Ok(id)
}

/// Reads eHealth CA certificates from a PEM file.
pub fn load_ehealth_anchors(path: &Path) -> Result<Vec<StoredCertificate>, MandateError> {
    let pem = read_anchor_file(AnchorFile::EhealthCa, path)?;
    let invalid = |reason: String| MandateError::TrustAnchorsInvalid {
        file: AnchorFile::EhealthCa,
        path: path.to_owned(),
        reason,
    };
    let certificates =
        x509_cert::Certificate::load_pem_chain(&pem).map_err(|error| invalid(error.to_string()))?;
    if certificates.is_empty() {
        return Err(invalid("no CERTIFICATE block".into()));
    }
    certificates
        .into_iter()
        .map(|certificate| {
            StoredCertificate::from_parsed(certificate).map_err(|error| invalid(error.to_string()))
        })
        .collect()
}

/// Reads the Belgian eID roots from a PEM file.
pub fn load_eid_anchors(path: &Path) -> Result<TrustAnchors, MandateError> {
    let pem = read_anchor_file(AnchorFile::EidRoots, path)?;
    let invalid = |reason: String| MandateError::TrustAnchorsInvalid {
        file: AnchorFile::EidRoots,
        path: path.to_owned(),
        reason,
    };
    let anchors = TrustAnchors::from_pem(&pem).map_err(|error| invalid(error.to_string()))?;
    if anchors.is_empty() {
        return Err(invalid("no CERTIFICATE block".into()));
    }
    Ok(anchors)
}

fn read_anchor_file(file: AnchorFile, path: &Path) -> Result<Vec<u8>, MandateError> {
    fs::read(path).map_err(|error| MandateError::TrustAnchorsUnreadable {
        file,
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn missing_anchor_files_name_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.pem");

        let message = load_ehealth_anchors(&path).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "cannot read the trust anchor file {} (ehealth_ca in [mandates]): ",
                path.display()
            )),
            "{message}"
        );
        assert!(
            message.contains(
                "install a PEM file there with the CA certificates of the eHealth platform that \
                 issue doctors' eHealth certificates, or set ehealth_ca to the file"
            ),
            "{message}"
        );

        let message = load_eid_anchors(&path).unwrap_err().to_string();
        assert!(message.contains("(eid_roots in [mandates])"), "{message}");
        assert!(
            message.contains("with the Belgian eID root certificates, or set eid_roots"),
            "{message}"
        );
    }

    #[test]
    fn garbage_anchor_files_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("empty.pem", ""),
            ("text.pem", "these are not certificates\n"),
            (
                "broken.pem",
                "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
            ),
        ];
        for (name, text) in cases {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();

            let error = load_ehealth_anchors(&path).unwrap_err();
            assert!(
                matches!(error, MandateError::TrustAnchorsInvalid { .. }),
                "{name}: {error}"
            );
            let message = error.to_string();
            assert!(
                message.starts_with(&format!(
                    "the trust anchor file {} (ehealth_ca in [mandates]) is invalid: ",
                    path.display()
                )),
                "{message}"
            );
            assert!(
                message.contains("it must contain PEM CERTIFICATE blocks"),
                "{message}"
            );
            assert!(!message.contains("install"), "{message}");

            let error = load_eid_anchors(&path).unwrap_err();
            assert!(
                matches!(error, MandateError::TrustAnchorsInvalid { .. }),
                "{name}: {error}"
            );
            assert!(
                error
                    .to_string()
                    .ends_with("PEM CERTIFICATE blocks (-----BEGIN CERTIFICATE-----) of the Belgian eID root certificates"),
                "{error}"
            );
        }
    }
}
