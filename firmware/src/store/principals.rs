//! Principals (the doctors whose eHealthBox is fetched) and the mandates that allow it.
//!
//! A principal is keyed on the INSZ, because a RIZIV number changes when a
//! trainee becomes a care provider. The box has one `main` principal. Every
//! other principal is a `mandator`, fetched only while a mandate granted to the
//! main principal is valid and not revoked.

use std::fmt;

use jiff::Timestamp;
use rusqlite::Error::FromSqlConversionFailure;
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde_json::json;

use super::audit::{self, AuditEvent};
use super::time::{self, to_sql};
use super::{Store, StoreError};

/// Row id of a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrincipalId(pub i64);

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Row id of a mandate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MandateId(pub i64);

impl fmt::Display for MandateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The role of a principal on this box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The box's own doctor.
    Main,
    /// A colleague who granted the main doctor a mandate.
    Mandator,
}

impl Role {
    fn as_sql(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::Mandator => "mandator",
        }
    }

    fn from_sql(value: &str) -> Result<Role, StoreError> {
        match value {
            "main" => Ok(Role::Main),
            "mandator" => Ok(Role::Mandator),
            other => Err(StoreError::CorruptValue {
                column: "principals.role",
                value: other.to_owned(),
                reason: "expected main or mandator".to_owned(),
            }),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_sql())
    }
}

/// A principal to add.
#[derive(Debug, Clone)]
pub struct NewPrincipal {
    pub insz: String,
    pub family_name: String,
    pub given_names: String,
    /// RIZIV number, 11 digits without separators.
    pub riziv: String,
    pub role: Role,
    /// Folder of this doctor on the share, relative to the share root.
    pub share_folder: String,
    /// Whether delivered messages are moved to the eHealthBox bin (BININBOX).
    pub move_to_bin: bool,
}

/// The details of a principal that can change over time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalDetails {
    pub family_name: String,
    pub given_names: String,
    /// RIZIV number, 11 digits without separators; a trainee's number changes once qualified.
    pub riziv: String,
}

/// A stored principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: PrincipalId,
    pub insz: String,
    pub family_name: String,
    pub given_names: String,
    pub riziv: String,
    pub role: Role,
    pub share_folder: String,
    pub move_to_bin: bool,
    pub active: bool,
    pub created_at: Timestamp,
}

/// The signed evidence of a mandate, as captured from the mandator's eID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MandateEvidence {
    /// The exact bytes the mandator signed.
    pub signed_bytes: Vec<u8>,
    /// The eID non-repudiation signature over `signed_bytes`.
    pub signature: Vec<u8>,
    /// The eID signing certificate (DER).
    pub signing_cert: Vec<u8>,
    /// The eID identity file.
    pub identity_file: Vec<u8>,
    /// The national register (RRN) signature over the identity file.
    pub identity_rrn_signature: Vec<u8>,
    /// Fingerprint of the eHealth certificate the mandate covers.
    pub cert_fingerprint: String,
}

/// A mandate to add: `mandator` allows `grantee` to fetch the mandator's box.
#[derive(Debug, Clone)]
pub struct NewMandate {
    pub mandator: PrincipalId,
    pub grantee: PrincipalId,
    pub starts_at: Timestamp,
    /// End of validity, exclusive.
    pub ends_at: Timestamp,
    pub evidence: Option<MandateEvidence>,
}

/// A stored mandate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mandate {
    pub id: MandateId,
    pub mandator: PrincipalId,
    pub grantee: PrincipalId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    pub evidence: Option<MandateEvidence>,
    pub created_at: Timestamp,
}

impl Mandate {
    /// Tells whether the mandate allows fetching at `now`: started, not ended, never revoked.
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.starts_at <= now && now < self.ends_at
    }
}

/// Checks the form and the check digits of an INSZ (Belgian national number), with the rule
/// of [`Insz::parse`](crate::eid::Insz::parse).
pub fn validate_insz(value: &str) -> Result<(), StoreError> {
    let invalid = |reason| StoreError::InvalidInsz {
        value: value.to_owned(),
        reason,
    };
    match crate::eid::Insz::parse(value) {
        Ok(_) => Ok(()),
        Err(crate::eid::InszError::Format { .. }) => {
            Err(invalid("expected 11 digits without separators"))
        }
        Err(crate::eid::InszError::CheckDigits { .. }) => {
            Err(invalid("the check digits do not match; retype the number"))
        }
    }
}

fn validate_riziv(value: &str) -> Result<(), StoreError> {
    if value.len() != 11 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StoreError::InvalidRiziv {
            value: value.to_owned(),
        });
    }
    Ok(())
}

const PRINCIPAL_COLUMNS: &str = "id, insz, family_name, given_names, riziv, role, share_folder, \
     move_to_bin, active, created_at";

const MANDATE_COLUMNS: &str = "id, mandator_id, grantee_id, starts_at, ends_at, revoked_at, \
     revoked_by, signed_bytes, signature, signing_cert, identity_file, identity_rrn_signature, \
     cert_fingerprint, created_at";

impl Store {
    /// Adds a principal and writes an audit entry.
    pub fn add_principal(
        &mut self,
        new: &NewPrincipal,
        actor: &str,
        now: Timestamp,
    ) -> Result<PrincipalId, StoreError> {
        validate_insz(&new.insz)?;
        validate_riziv(&new.riziv)?;
        if new.role == Role::Main
            && let Some(existing) = self.main_principal()?
        {
            return Err(StoreError::MainPrincipalExists {
                existing: existing.id,
            });
        }

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO principals (insz, family_name, given_names, riziv, role, share_folder, \
             move_to_bin, active, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
            params![
                new.insz,
                new.family_name,
                new.given_names,
                new.riziv,
                new.role.as_sql(),
                new.share_folder,
                new.move_to_bin,
                to_sql(now),
            ],
        )?;
        let id = PrincipalId(tx.last_insert_rowid());

        let event = AuditEvent {
            actor,
            action: "principal.added",
            principal: Some(id),
            detail: json!({
                "insz": new.insz,
                "family_name": new.family_name,
                "given_names": new.given_names,
                "riziv": new.riziv,
                "role": new.role.as_sql(),
                "share_folder": new.share_folder,
                "move_to_bin": new.move_to_bin,
            }),
        };
        audit::append_in(&tx, &event, now)?;
        tx.commit()?;
        Ok(id)
    }

    /// Reads one principal.
    pub fn principal(&self, id: PrincipalId) -> Result<Principal, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE id = ?1");
        let row = self
            .conn
            .query_row(&sql, [id.0], read_principal_row)
            .optional()?;
        row.ok_or(StoreError::UnknownPrincipal(id))
    }

    /// Finds the principal with this INSZ.
    pub fn principal_by_insz(&self, insz: &str) -> Result<Option<Principal>, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE insz = ?1");
        let row = self
            .conn
            .query_row(&sql, [insz], read_principal_row)
            .optional()?;
        Ok(row)
    }

    /// Lists every principal, active or not, in insertion order.
    pub fn principals(&self) -> Result<Vec<Principal>, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals ORDER BY id");
        self.query_principals(&sql, [])
    }

    /// Returns the main principal, if one was set up.
    pub fn main_principal(&self) -> Result<Option<Principal>, StoreError> {
        let sql = format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE role = 'main'");
        let row = self
            .conn
            .query_row(&sql, [], read_principal_row)
            .optional()?;
        Ok(row)
    }

    /// Lists the principals whose eHealthBox may be fetched at `now`.
    ///
    /// That is every active main principal, and every active mandator with a
    /// mandate to an active main principal such that `starts_at <= now < ends_at`
    /// and that was never revoked. A revoked mandate stays out even if the clock
    /// is later set back before the revocation time.
    pub fn active_principals(&self, now: Timestamp) -> Result<Vec<Principal>, StoreError> {
        let columns = PRINCIPAL_COLUMNS
            .split(", ")
            .map(|column| format!("p.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM principals p
             WHERE p.active = 1 AND (
                 p.role = 'main'
                 OR (p.role = 'mandator' AND EXISTS (
                     SELECT 1 FROM mandates m JOIN principals g ON g.id = m.grantee_id
                     WHERE m.mandator_id = p.id
                       AND g.role = 'main' AND g.active = 1
                       AND m.revoked_at IS NULL
                       AND m.starts_at <= ?1 AND ?1 < m.ends_at))
             )
             ORDER BY p.id"
        );
        self.query_principals(&sql, [to_sql(now)])
    }

    /// Sets whether a principal is fetched at all, and writes an audit entry.
    pub fn set_principal_active(
        &mut self,
        id: PrincipalId,
        active: bool,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.update_principal_flag(id, "active", active, actor, now)
    }

    /// Sets the move-to-bin policy of a principal, and writes an audit entry.
    pub fn set_move_to_bin(
        &mut self,
        id: PrincipalId,
        move_to_bin: bool,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.update_principal_flag(id, "move_to_bin", move_to_bin, actor, now)
    }

    /// Changes the names and RIZIV number of a principal, keeping the previous ones in its
    /// history until `now`, and writes an audit entry with both. Returns false, and writes
    /// nothing, when `details` are the stored ones.
    pub fn update_principal_details(
        &mut self,
        id: PrincipalId,
        details: &PrincipalDetails,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        validate_riziv(&details.riziv)?;
        let current = self.principal(id)?;
        let previous = PrincipalDetails {
            family_name: current.family_name,
            given_names: current.given_names,
            riziv: current.riziv,
        };
        if &previous == details {
            return Ok(false);
        }

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO principal_history (principal_id, family_name, given_names, riziv, \
             valid_until) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id.0,
                previous.family_name,
                previous.given_names,
                previous.riziv,
                to_sql(now)
            ],
        )?;
        tx.execute(
            "UPDATE principals SET family_name = ?1, given_names = ?2, riziv = ?3 WHERE id = ?4",
            params![
                details.family_name,
                details.given_names,
                details.riziv,
                id.0
            ],
        )?;
        let event = AuditEvent {
            actor,
            action: "principal.details_changed",
            principal: Some(id),
            detail: json!({
                "from": {
                    "family_name": previous.family_name,
                    "given_names": previous.given_names,
                    "riziv": previous.riziv,
                },
                "to": {
                    "family_name": details.family_name,
                    "given_names": details.given_names,
                    "riziv": details.riziv,
                },
            }),
        };
        audit::append_in(&tx, &event, now)?;
        tx.commit()?;
        Ok(true)
    }

    /// Reads a principal with the names and RIZIV number it had at `at`: from the history when
    /// they changed after `at`, else the current ones.
    pub fn principal_as_of(&self, id: PrincipalId, at: Timestamp) -> Result<Principal, StoreError> {
        let mut principal = self.principal(id)?;
        let earlier = self
            .conn
            .query_row(
                "SELECT family_name, given_names, riziv FROM principal_history \
                 WHERE principal_id = ?1 AND valid_until > ?2 ORDER BY valid_until LIMIT 1",
                params![id.0, to_sql(at)],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        if let Some((family_name, given_names, riziv)) = earlier {
            principal.family_name = family_name;
            principal.given_names = given_names;
            principal.riziv = riziv;
        }
        Ok(principal)
    }

    fn update_principal_flag(
        &mut self,
        id: PrincipalId,
        column: &'static str,
        value: bool,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let sql = format!("UPDATE principals SET {column} = ?1 WHERE id = ?2");
        if tx.execute(&sql, params![value, id.0])? == 0 {
            return Err(StoreError::UnknownPrincipal(id));
        }

        let event = AuditEvent {
            actor,
            action: "principal.changed",
            principal: Some(id),
            detail: json!({ column: value }),
        };
        audit::append_in(&tx, &event, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Adds a mandate from a mandator to the main principal, and writes an audit entry.
    pub fn add_mandate(
        &mut self,
        new: &NewMandate,
        actor: &str,
        now: Timestamp,
    ) -> Result<MandateId, StoreError> {
        self.check_mandate(new)?;

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let evidence = new.evidence.as_ref();
        tx.execute(
            "INSERT INTO mandates (mandator_id, grantee_id, starts_at, ends_at, signed_bytes, \
             signature, signing_cert, identity_file, identity_rrn_signature, cert_fingerprint, \
             created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                new.mandator.0,
                new.grantee.0,
                to_sql(new.starts_at),
                to_sql(new.ends_at),
                evidence.map(|e| &e.signed_bytes),
                evidence.map(|e| &e.signature),
                evidence.map(|e| &e.signing_cert),
                evidence.map(|e| &e.identity_file),
                evidence.map(|e| &e.identity_rrn_signature),
                evidence.map(|e| &e.cert_fingerprint),
                to_sql(now),
            ],
        )?;
        let id = MandateId(tx.last_insert_rowid());

        let event = AuditEvent {
            actor,
            action: "mandate.added",
            principal: Some(new.mandator),
            detail: json!({
                "mandate": id.0,
                "grantee": new.grantee.0,
                "starts_at": to_sql(new.starts_at),
                "ends_at": to_sql(new.ends_at),
                "cert_fingerprint": evidence.map(|e| &e.cert_fingerprint),
            }),
        };
        audit::append_in(&tx, &event, now)?;
        tx.commit()?;
        Ok(id)
    }

    fn check_mandate(&self, new: &NewMandate) -> Result<(), StoreError> {
        if new.ends_at <= new.starts_at {
            return Err(StoreError::InvalidMandatePeriod {
                start: to_sql(new.starts_at),
                end: to_sql(new.ends_at),
            });
        }

        let mandator = self.principal(new.mandator)?;
        if mandator.role != Role::Mandator {
            return Err(StoreError::WrongRole {
                principal: mandator.id,
                role: mandator.role,
                expected: Role::Mandator,
            });
        }
        let grantee = self.principal(new.grantee)?;
        if grantee.role != Role::Main {
            return Err(StoreError::WrongRole {
                principal: grantee.id,
                role: grantee.role,
                expected: Role::Main,
            });
        }
        Ok(())
    }

    /// Revokes a mandate and writes an audit entry.
    ///
    /// Revoking an already revoked mandate changes nothing and keeps the first
    /// revocation's time and author.
    pub fn revoke_mandate(
        &mut self,
        id: MandateId,
        revoked_by: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mandate = self.mandate(id)?;
        if mandate.revoked_at.is_some() {
            return Ok(());
        }

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE mandates SET revoked_at = ?1, revoked_by = ?2 \
             WHERE id = ?3 AND revoked_at IS NULL",
            params![to_sql(now), revoked_by, id.0],
        )?;

        let event = AuditEvent {
            actor: revoked_by,
            action: "mandate.revoked",
            principal: Some(mandate.mandator),
            detail: json!({ "mandate": id.0 }),
        };
        audit::append_in(&tx, &event, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Reads one mandate.
    pub fn mandate(&self, id: MandateId) -> Result<Mandate, StoreError> {
        let sql = format!("SELECT {MANDATE_COLUMNS} FROM mandates WHERE id = ?1");
        let row = self
            .conn
            .query_row(&sql, [id.0], read_mandate_row)
            .optional()?;
        row.ok_or(StoreError::UnknownMandate(id))
    }

    /// Lists the mandates granted by `mandator`, oldest first.
    pub fn mandates_of(&self, mandator: PrincipalId) -> Result<Vec<Mandate>, StoreError> {
        let sql =
            format!("SELECT {MANDATE_COLUMNS} FROM mandates WHERE mandator_id = ?1 ORDER BY id");
        let mut statement = self.conn.prepare(&sql)?;
        let rows = statement.query_map([mandator.0], read_mandate_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn query_principals(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Principal>, StoreError> {
        let mut statement = self.conn.prepare(sql)?;
        let rows = statement.query_map(params, read_principal_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn read_principal_row(row: &Row<'_>) -> rusqlite::Result<Principal> {
    Ok(Principal {
        id: PrincipalId(row.get(0)?),
        insz: row.get(1)?,
        family_name: row.get(2)?,
        given_names: row.get(3)?,
        riziv: row.get(4)?,
        role: Role::from_sql(&row.get::<_, String>(5)?)
            .map_err(|err| FromSqlConversionFailure(5, Type::Text, Box::new(err)))?,
        share_folder: row.get(6)?,
        move_to_bin: row.get(7)?,
        active: row.get(8)?,
        created_at: time::get(row, 9)?,
    })
}

fn read_mandate_row(row: &Row<'_>) -> rusqlite::Result<Mandate> {
    let signed_bytes: Option<Vec<u8>> = row.get(7)?;
    let evidence = match signed_bytes {
        None => None,
        Some(signed_bytes) => Some(MandateEvidence {
            signed_bytes,
            signature: row.get::<_, Option<Vec<u8>>>(8)?.unwrap_or_default(),
            signing_cert: row.get::<_, Option<Vec<u8>>>(9)?.unwrap_or_default(),
            identity_file: row.get::<_, Option<Vec<u8>>>(10)?.unwrap_or_default(),
            identity_rrn_signature: row.get::<_, Option<Vec<u8>>>(11)?.unwrap_or_default(),
            cert_fingerprint: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
        }),
    };

    Ok(Mandate {
        id: MandateId(row.get(0)?),
        mandator: PrincipalId(row.get(1)?),
        grantee: PrincipalId(row.get(2)?),
        starts_at: time::get(row, 3)?,
        ends_at: time::get(row, 4)?,
        revoked_at: time::get_opt(row, 5)?,
        revoked_by: row.get(6)?,
        evidence,
        created_at: time::get(row, 13)?,
    })
}
