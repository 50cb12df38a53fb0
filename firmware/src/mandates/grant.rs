//! The steps that check a mandate or a setup, and the ones that store it.
//!
//! The checking steps ([`open_keystore`], [`check_applicant`], [`check_holder`],
//! [`prepare_mandate`]) only read. The storing steps ([`commit_mandate`], [`commit_setup`],
//! [`remove_mandate`]) run after every check passed and verify the signed evidence once more
//! before the first write.

use jiff::Timestamp;
use rand::CryptoRng;
use serde_json::json;
use zeroize::Zeroizing;

use super::document::{self, MandateFields, Person};
use super::rules::{self, RuleError};
use super::signer::EidHolder;
use super::verify;
use super::{MandateError, MandateSettings};
use crate::credentials::{CredentialSummary, CredentialVault};
use crate::delivery::names::doctor_folder_name;
use crate::ehealth::keystore::{CertificateFacts, EhealthKeystore};
use crate::store::{
    AuditEvent, Mandate, MandateEvidence, MandateId, NewMandate, NewPrincipal, Principal,
    PrincipalDetails, PrincipalId, Role, Store,
};

/// The purpose of a workflow: a mandate or the main practitioner's setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A colleague grants the main practitioner a mandate.
    Mandate,
    /// The box's own doctor is set up as main practitioner.
    Setup,
}

/// A keystore that opened with its password and passed validation.
pub struct CheckedKeystore {
    pub file: String,
    pub bytes: Zeroizing<Vec<u8>>,
    pub password: Zeroizing<String>,
    pub facts: CertificateFacts,
}

impl std::fmt::Debug for CheckedKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedKeystore")
            .field("file", &self.file)
            .field("facts", &self.facts)
            .finish_non_exhaustive()
    }
}

/// The details the doctor types: as on the eID, and the RIZIV number.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypedDetails {
    pub family_name: String,
    pub first_name: String,
    pub insz: String,
    pub riziv: String,
}

/// The doctor being set up or granting a mandate, after the typed details passed the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    pub typed: TypedDetails,
    /// The principal already stored with this INSZ, for a repeated mandate.
    pub existing: Option<Principal>,
    /// The main practitioner, who receives a mandate.
    pub main: Option<Principal>,
}

/// A mandate ready to be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedMandate {
    pub fields: MandateFields,
    /// The exact bytes to sign.
    pub document: Vec<u8>,
}

/// Opens the keystore with the password and validates its certificates at `now`.
pub fn open_keystore(
    file: &str,
    bytes: Zeroizing<Vec<u8>>,
    password: Zeroizing<String>,
    settings: &MandateSettings,
    now: Timestamp,
) -> Result<CheckedKeystore, MandateError> {
    let keystore = EhealthKeystore::open(file, &bytes, &password)?;
    keystore.validate(now, &settings.ehealth_anchors)?;
    let facts = keystore.facts(now);
    Ok(CheckedKeystore {
        file: file.to_owned(),
        bytes,
        password,
        facts,
    })
}

/// Checks the typed details against the rules, the certificate and the stored principals.
pub fn check_applicant(
    typed: &TypedDetails,
    keystore: &CheckedKeystore,
    purpose: Purpose,
    store: &Store,
    settings: &MandateSettings,
) -> Result<Applicant, MandateError> {
    let typed = TypedDetails {
        family_name: rules::clean_name("family name", &typed.family_name)?,
        first_name: rules::clean_name("first name", &typed.first_name)?,
        insz: typed.insz.trim().to_owned(),
        riziv: typed.riziv.trim().to_owned(),
    };
    rules::check_insz(&typed.insz)?;
    rules::check_riziv(&typed.riziv, settings.riziv_check)?;
    rules::check_same_person(
        &typed.insz,
        keystore.facts.ssin.as_deref(),
        &keystore.facts.subject,
        None,
    )?;

    let main = store.main_principal()?;
    let existing = store.principal_by_insz(&typed.insz)?;
    match purpose {
        Purpose::Mandate => check_mandator(&typed, main.as_ref())?,
        Purpose::Setup => check_new_main(&typed, main.as_ref(), existing.as_ref())?,
    }
    Ok(Applicant {
        typed,
        existing,
        main,
    })
}

/// Checks a mandator. A RIZIV number or name that differs from an earlier mandate's is
/// accepted: the new mandate's signed text carries it, and [`commit_mandate`] stores it.
fn check_mandator(typed: &TypedDetails, main: Option<&Principal>) -> Result<(), RuleError> {
    let main = main.ok_or(RuleError::NoMainPractitioner)?;
    if main.insz == typed.insz {
        return Err(RuleError::MandatorIsMain {
            insz: typed.insz.clone(),
        });
    }
    Ok(())
}

fn check_new_main(
    typed: &TypedDetails,
    main: Option<&Principal>,
    existing: Option<&Principal>,
) -> Result<(), RuleError> {
    if let Some(main) = main {
        return Err(RuleError::MainPractitionerExists {
            insz: main.insz.clone(),
            name: format!("{} {}", main.given_names, main.family_name),
        });
    }
    if existing.is_some() {
        return Err(RuleError::AlreadyMandator {
            insz: typed.insz.clone(),
        });
    }
    Ok(())
}

/// Checks the eID holder against the typed details and the certificate.
pub fn check_holder(
    applicant: &Applicant,
    keystore: &CheckedKeystore,
    holder: &EidHolder,
) -> Result<(), RuleError> {
    let identity = &holder.identity;
    rules::check_same_person(
        &applicant.typed.insz,
        keystore.facts.ssin.as_deref(),
        &keystore.facts.subject,
        Some(identity.insz.as_str()),
    )?;
    rules::check_name("family name", &applicant.typed.family_name, &identity.name)?;
    rules::check_given_names(&applicant.typed.first_name, &identity.first_names)
}

/// Returns the holder's family name and given names as the box stores them: from the eID,
/// trimmed, in NFC.
pub fn eid_names(holder: &EidHolder) -> (String, String) {
    use unicode_normalization::UnicodeNormalization;
    (
        holder.identity.name.trim().nfc().collect(),
        holder.identity.first_names.trim().nfc().collect(),
    )
}

/// Builds the mandate document that the holder will sign.
pub fn prepare_mandate(
    applicant: &Applicant,
    keystore: &CheckedKeystore,
    holder: &EidHolder,
    settings: &MandateSettings,
    now: Timestamp,
    ends_at: Timestamp,
) -> Result<PreparedMandate, MandateError> {
    let main = applicant
        .main
        .as_ref()
        .ok_or(RuleError::NoMainPractitioner)?;
    let (family_name, given_names) = eid_names(holder);
    let fields = MandateFields {
        mandator: Person {
            family_name,
            given_names,
            insz: applicant.typed.insz.clone(),
        },
        mandator_riziv: applicant.typed.riziv.clone(),
        grantee: Person {
            family_name: main.family_name.clone(),
            given_names: main.given_names.clone(),
            insz: main.insz.clone(),
        },
        box_id: settings.box_id.clone(),
        certificate_sha256: keystore.facts.sha256_fingerprint.clone(),
        starts_at: rules::whole_seconds(now),
        ends_at,
    };
    let document = document::encode(&fields)?;
    Ok(PreparedMandate { fields, document })
}

/// The store, vault, clock and RNG that the storing steps use.
pub struct StoreContext<'a, R> {
    pub store: &'a mut Store,
    pub vault: &'a CredentialVault,
    pub settings: &'a MandateSettings,
    pub rng: &'a mut R,
    pub now: Timestamp,
    /// Who does it, for the audit log.
    pub actor: &'a str,
}

impl<R> std::fmt::Debug for StoreContext<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreContext")
            .field("now", &self.now)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// Verifies the signed evidence, then stores the mandator, the credentials and the mandate,
/// and revokes the mandator's earlier mandates, which the new one replaces.
pub fn commit_mandate<R: CryptoRng>(
    context: &mut StoreContext<'_, R>,
    applicant: &Applicant,
    keystore: &CheckedKeystore,
    holder: &EidHolder,
    prepared: &PreparedMandate,
    signature: Vec<u8>,
) -> Result<MandateId, MandateError> {
    let main = applicant
        .main
        .clone()
        .ok_or(RuleError::NoMainPractitioner)?;
    let evidence = MandateEvidence {
        signed_bytes: prepared.document.clone(),
        signature,
        signing_cert: holder.certificates.to_bundle(),
        identity_file: holder.identity_file.clone(),
        identity_rrn_signature: holder.identity_signature.clone(),
        cert_fingerprint: keystore.facts.sha256_fingerprint.clone(),
    };
    check_new_evidence(context, applicant, &main, prepared, &evidence)?;

    let mandator = match &applicant.existing {
        Some(existing) => {
            update_details(context, existing, applicant, holder)?;
            existing.id
        }
        None => add_principal(context, applicant, holder, Role::Mandator)?,
    };
    store_credentials(context, mandator, keystore)?;

    let earlier: Vec<MandateId> = context
        .store
        .mandates_of(mandator)?
        .into_iter()
        .filter(|mandate| mandate.revoked_at.is_none())
        .map(|mandate| mandate.id)
        .collect();
    let id = context.store.add_mandate(
        &NewMandate {
            mandator,
            grantee: main.id,
            starts_at: prepared.fields.starts_at,
            ends_at: prepared.fields.ends_at,
            evidence: Some(evidence),
        },
        context.actor,
        context.now,
    )?;
    for old in earlier {
        let by = format!("{} (replaced by mandate {id})", context.actor);
        context.store.revoke_mandate(old, &by, context.now)?;
    }
    tracing::info!(mandate = id.0, mandator = mandator.0, "mandate granted");
    Ok(id)
}

/// Runs the checks of `mandate verify` on evidence that is not stored yet.
fn check_new_evidence<R>(
    context: &StoreContext<'_, R>,
    applicant: &Applicant,
    main: &Principal,
    prepared: &PreparedMandate,
    evidence: &MandateEvidence,
) -> Result<(), MandateError> {
    let mandator = Principal {
        id: PrincipalId(0),
        insz: prepared.fields.mandator.insz.clone(),
        family_name: prepared.fields.mandator.family_name.clone(),
        given_names: prepared.fields.mandator.given_names.clone(),
        riziv: applicant.typed.riziv.clone(),
        role: Role::Mandator,
        share_folder: String::new(),
        move_to_bin: true,
        active: true,
        created_at: context.now,
    };
    let mandate = Mandate {
        id: MandateId(0),
        mandator: mandator.id,
        grantee: main.id,
        starts_at: prepared.fields.starts_at,
        ends_at: prepared.fields.ends_at,
        revoked_at: None,
        revoked_by: None,
        evidence: Some(evidence.clone()),
        created_at: context.now,
    };
    match verify::verify_mandate(&mandate, &mandator, main, context.settings)
        .into_iter()
        .next()
    {
        Some(finding) => Err(MandateError::SignatureRejected(finding)),
        None => Ok(()),
    }
}

fn add_principal<R>(
    context: &mut StoreContext<'_, R>,
    applicant: &Applicant,
    holder: &EidHolder,
    role: Role,
) -> Result<PrincipalId, MandateError> {
    let (family_name, given_names) = eid_names(holder);
    let share_folder = unique_folder(context.store, &family_name, &given_names, applicant)?;
    let id = context.store.add_principal(
        &NewPrincipal {
            insz: applicant.typed.insz.clone(),
            family_name,
            given_names,
            riziv: applicant.typed.riziv.clone(),
            role,
            share_folder,
            move_to_bin: true,
        },
        context.actor,
        context.now,
    )?;
    Ok(id)
}

/// Stores the names on the eID and the typed RIZIV number for a mandator seen before, when they
/// changed (a new name, a trainee's new number). The earlier ones stay in the principal's
/// history, so that earlier mandates still verify. The share folder keeps its name, because the
/// medical record software imports from it.
fn update_details<R>(
    context: &mut StoreContext<'_, R>,
    existing: &Principal,
    applicant: &Applicant,
    holder: &EidHolder,
) -> Result<(), MandateError> {
    let (family_name, given_names) = eid_names(holder);
    let details = PrincipalDetails {
        family_name,
        given_names,
        riziv: applicant.typed.riziv.clone(),
    };
    let changed = context.store.update_principal_details(
        existing.id,
        &details,
        context.actor,
        context.now,
    )?;
    if changed {
        tracing::info!(
            principal = existing.id.0,
            "mandator's name or RIZIV number updated"
        );
    }
    Ok(())
}

fn unique_folder(
    store: &Store,
    family_name: &str,
    given_names: &str,
    applicant: &Applicant,
) -> Result<String, MandateError> {
    let folder = doctor_folder_name(family_name, given_names, &applicant.typed.riziv);
    let taken = store
        .principals()?
        .iter()
        .any(|principal| principal.share_folder == folder);
    if taken {
        return Ok(format!("{folder}-{}", applicant.typed.insz));
    }
    Ok(folder)
}

fn store_credentials<R: CryptoRng>(
    context: &mut StoreContext<'_, R>,
    principal: PrincipalId,
    keystore: &CheckedKeystore,
) -> Result<(), MandateError> {
    let summary = CredentialSummary {
        principal: principal.0,
        keystore_file: keystore.file.clone(),
        certificate_sha256: keystore.facts.sha256_fingerprint.clone(),
        certificate_not_after: keystore.facts.not_after,
    };
    // NOTE: when this write fails for a new mandator, the principal row stays, without a
    // mandate; it is not fetched, and a new attempt reuses it.
    context
        .vault
        .store(&summary, &keystore.bytes, &keystore.password, context.rng)?;
    Ok(())
}

/// Stores the main practitioner, the credentials, and an audit row of the eID check.
pub fn commit_setup<R: CryptoRng>(
    context: &mut StoreContext<'_, R>,
    applicant: &Applicant,
    keystore: &CheckedKeystore,
    holder: &EidHolder,
) -> Result<PrincipalId, MandateError> {
    let id = add_principal(context, applicant, holder, Role::Main)?;
    store_credentials(context, id, keystore)?;

    let event = AuditEvent {
        actor: context.actor,
        action: "principal.setup",
        principal: Some(id),
        detail: json!({
            "eid_card_number": holder.identity.card_number,
            "eid_insz": holder.identity.insz.as_str(),
            "certificate_sha256": keystore.facts.sha256_fingerprint,
            "certificate_not_after": keystore.facts.not_after.to_string(),
        }),
    };
    context.store.append_audit(&event, context.now)?;
    tracing::info!(principal = id.0, "main practitioner set up");
    Ok(id)
}

/// Revokes every mandate of the mandator with this INSZ that is not revoked yet, and wipes the
/// stored credentials. The evidence and the audit rows stay.
pub fn remove_mandate(
    store: &mut Store,
    vault: &CredentialVault,
    insz: &str,
    removed_by: &str,
    now: Timestamp,
) -> Result<Vec<MandateId>, MandateError> {
    let no_mandate = || MandateError::NoMandate {
        insz: insz.to_owned(),
    };
    let principal = store.principal_by_insz(insz)?.ok_or_else(no_mandate)?;
    if principal.role != Role::Mandator {
        return Err(no_mandate());
    }

    let open: Vec<MandateId> = store
        .mandates_of(principal.id)?
        .into_iter()
        .filter(|mandate| mandate.revoked_at.is_none())
        .map(|mandate| mandate.id)
        .collect();
    let had_credentials = vault.record_path(principal.id).exists();
    if open.is_empty() && !had_credentials {
        return Err(no_mandate());
    }

    for id in &open {
        store.revoke_mandate(*id, removed_by, now)?;
    }
    vault.remove(principal.id)?;
    tracing::info!(
        principal = principal.id.0,
        mandates = open.len(),
        "mandate removed"
    );
    Ok(open)
}
