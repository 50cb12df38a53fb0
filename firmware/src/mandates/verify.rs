//! Verification of stored mandates: the evidence of each one, and the audit chain.
//!
//! Every check runs on its own, so a report names each check that fails for each mandate:
//! - `document`: the signed bytes equal the document rebuilt from the row, the two principals
//!   and this box's identity;
//! - `signature`: the eID signature verifies over the signed bytes with the stored signing
//!   certificate;
//! - `certificate chain`: the signing certificate chains through the stored citizen CA to a
//!   configured Belgian root, valid when the mandate was created;
//! - `signer`: the signing certificate's serialNumber is the mandator's INSZ;
//! - `identity signature`: the identity file carries a valid RRN signature, and the RRN
//!   certificate is issued by a configured root;
//! - `identity INSZ`: the national number in the identity file is the mandator's INSZ.

use std::fmt;

use der::asn1::ObjectIdentifier;
use sha2::{Digest, Sha256};

use super::MandateSettings;
use super::document::{self, MandateFields, Person};
use super::signer::EidCertificates;
use crate::eid::Identity;
use crate::eid::crypto::{self, HashAlgorithm, PublicKey};
use crate::store::{AuditVerification, Mandate, MandateId, Principal, Store, StoreError};

/// X.520 serialNumber, where the Belgian eID certificates carry the INSZ.
const SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");

/// One verification check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Evidence,
    Document,
    Signature,
    CertificateChain,
    Signer,
    IdentitySignature,
    IdentityInsz,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::Evidence => "evidence",
            Check::Document => "document",
            Check::Signature => "signature",
            Check::CertificateChain => "certificate chain",
            Check::Signer => "signer",
            Check::IdentitySignature => "identity signature",
            Check::IdentityInsz => "identity INSZ",
        })
    }
}

/// A check that failed for one mandate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub mandate: MandateId,
    pub mandator_insz: String,
    pub check: Check,
    pub problem: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mandate {} (INSZ {}): {} check failed: {}",
            self.mandate, self.mandator_insz, self.check, self.problem
        )
    }
}

/// The result of verifying every stored mandate and the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationReport {
    pub mandates_checked: usize,
    pub findings: Vec<Finding>,
    pub audit: AuditVerification,
}

impl VerificationReport {
    /// Tells whether every mandate and the audit chain verified.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty() && matches!(self.audit, AuditVerification::Intact { .. })
    }
}

/// Verifies every stored mandate, revoked ones included, and the audit chain. Each mandate is
/// checked against the names and RIZIV numbers its principals had when it was stored.
pub fn verify_all(
    store: &Store,
    settings: &MandateSettings,
) -> Result<VerificationReport, StoreError> {
    let principals = store.principals()?;
    let mut findings = Vec::new();
    let mut mandates_checked = 0;

    for mandator in &principals {
        for mandate in store.mandates_of(mandator.id)? {
            mandates_checked += 1;
            let at = mandate.created_at;
            let grantee = match store.principal_as_of(mandate.grantee, at) {
                Ok(grantee) => grantee,
                Err(StoreError::UnknownPrincipal(id)) => {
                    findings.push(Finding {
                        mandate: mandate.id,
                        mandator_insz: mandator.insz.clone(),
                        check: Check::Document,
                        problem: format!("the grantee, principal {id}, is not stored"),
                    });
                    continue;
                }
                Err(error) => return Err(error),
            };
            let mandator_then = store.principal_as_of(mandator.id, at)?;
            findings.extend(verify_mandate(&mandate, &mandator_then, &grantee, settings));
        }
    }

    let audit = store.verify_audit_chain()?;
    Ok(VerificationReport {
        mandates_checked,
        findings,
        audit,
    })
}

/// Builds the document fields of a stored mandate.
pub fn stored_fields(
    mandate: &Mandate,
    mandator: &Principal,
    grantee: &Principal,
    box_id: &str,
) -> MandateFields {
    let person = |p: &Principal| Person {
        family_name: p.family_name.clone(),
        given_names: p.given_names.clone(),
        insz: p.insz.clone(),
    };
    MandateFields {
        mandator: person(mandator),
        mandator_riziv: mandator.riziv.clone(),
        grantee: person(grantee),
        box_id: box_id.to_owned(),
        certificate_sha256: mandate
            .evidence
            .as_ref()
            .map(|evidence| evidence.cert_fingerprint.clone())
            .unwrap_or_default(),
        starts_at: mandate.starts_at,
        ends_at: mandate.ends_at,
    }
}

/// Runs every check on one mandate and returns the failures.
pub fn verify_mandate(
    mandate: &Mandate,
    mandator: &Principal,
    grantee: &Principal,
    settings: &MandateSettings,
) -> Vec<Finding> {
    let finding = |check, problem: String| Finding {
        mandate: mandate.id,
        mandator_insz: mandator.insz.clone(),
        check,
        problem,
    };
    let Some(evidence) = &mandate.evidence else {
        return vec![finding(
            Check::Evidence,
            "the mandate has no signed evidence".into(),
        )];
    };
    let certificates = match EidCertificates::from_bundle(&evidence.signing_cert) {
        Ok(certificates) => certificates,
        Err(error) => return vec![finding(Check::Evidence, error.to_string())],
    };

    let fields = stored_fields(mandate, mandator, grantee, &settings.box_id);
    let at = mandate.created_at;
    let results = [
        (
            Check::Document,
            check_document(&evidence.signed_bytes, &fields),
        ),
        (
            Check::Signature,
            check_signature(&certificates, &evidence.signed_bytes, &evidence.signature),
        ),
        (
            Check::CertificateChain,
            check_chain(&certificates, settings, at),
        ),
        (Check::Signer, check_signer(&certificates, &mandator.insz)),
        (
            Check::IdentitySignature,
            check_identity_signature(
                &certificates,
                &evidence.identity_file,
                &evidence.identity_rrn_signature,
                settings,
                at,
            ),
        ),
        (
            Check::IdentityInsz,
            check_identity_insz(&evidence.identity_file, &mandator.insz),
        ),
    ];
    results
        .into_iter()
        .filter_map(|(check, result)| result.err().map(|problem| finding(check, problem)))
        .collect()
}

/// Compares the signed bytes with the document rebuilt from the stored fields.
pub fn check_document(signed: &[u8], fields: &MandateFields) -> Result<(), String> {
    let rebuilt = document::encode(fields).map_err(|error| error.to_string())?;
    if rebuilt == signed {
        return Ok(());
    }

    let found = document::parse_fields(signed).map_err(|error| error.to_string())?;
    let expected = document::parse_fields(&rebuilt).map_err(|error| error.to_string())?;
    match document::first_difference(&expected, &found) {
        Some((field, stored, signed_value)) => Err(format!(
            "field {field} is {signed_value:?} in the signed document but {stored:?} in the store"
        )),
        None => Err("the signed text differs from the canonical text of its fields".into()),
    }
}

fn check_signature(
    certificates: &EidCertificates,
    signed: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let certificate = crypto::parse_certificate(&certificates.signing, "non-repudiation")
        .map_err(|error| error.to_string())?;
    let digest = Sha256::digest(signed);
    crypto::verify_card_signature(&certificate, &digest, HashAlgorithm::Sha256, signature)
        .map_err(|error| error.to_string())
}

fn check_chain(
    certificates: &EidCertificates,
    settings: &MandateSettings,
    at: jiff::Timestamp,
) -> Result<(), String> {
    let leaf = crypto::parse_certificate(&certificates.signing, "non-repudiation")
        .map_err(|error| error.to_string())?;
    let ca = crypto::parse_certificate(&certificates.citizen_ca, "citizen CA")
        .map_err(|error| error.to_string())?;
    crypto::verify_chain(&leaf, "non-repudiation", &ca, &settings.eid_anchors, at)
        .map_err(|error| error.to_string())
}

fn check_signer(certificates: &EidCertificates, insz: &str) -> Result<(), String> {
    let leaf = crypto::parse_certificate(&certificates.signing, "non-repudiation")
        .map_err(|error| error.to_string())?;
    let serial = leaf
        .tbs_certificate()
        .subject()
        .iter()
        .find(|attribute| attribute.oid == SERIAL_NUMBER)
        .map(|attribute| String::from_utf8_lossy(attribute.value.value()).into_owned());
    match serial {
        Some(serial) if serial == insz => Ok(()),
        Some(serial) => Err(format!(
            "the signing certificate belongs to INSZ {serial}, not to the mandator"
        )),
        None => Err("the signing certificate has no serialNumber (INSZ)".into()),
    }
}

fn check_identity_signature(
    certificates: &EidCertificates,
    identity_file: &[u8],
    signature: &[u8],
    settings: &MandateSettings,
    at: jiff::Timestamp,
) -> Result<(), String> {
    let rrn =
        crypto::parse_certificate(&certificates.rrn, "RRN").map_err(|error| error.to_string())?;
    crypto::verify_issued_by_root(&rrn, "RRN", &settings.eid_anchors, at)
        .map_err(|error| error.to_string())?;
    let key = PublicKey::of(&rrn, "RRN").map_err(|error| error.to_string())?;
    crypto::verify_rrn_signature(&key, identity_file, signature, "identity file")
        .map_err(|error| error.to_string())
}

fn check_identity_insz(identity_file: &[u8], insz: &str) -> Result<(), String> {
    let identity = Identity::parse(identity_file).map_err(|error| error.to_string())?;
    if identity.insz.as_str() == insz {
        Ok(())
    } else {
        Err(format!(
            "the identity file's national number is {}, not the mandator's",
            identity.insz
        ))
    }
}
