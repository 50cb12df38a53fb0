//! The mandate list, and the warnings shown before a mandate or an eHealth certificate ends.

use std::fmt;

use jiff::Timestamp;

use super::rules::{days_left, utc_date};
use crate::credentials::CredentialVault;
use crate::store::{Mandate, MandateId, Principal, Role, Store, StoreError};

/// Days before an end at which the box starts warning.
pub const WARNING_DAYS: i64 = 30;

/// The state of a mandate at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MandateStatus {
    /// In force, more than [`WARNING_DAYS`] left.
    Active,
    /// In force, ending within [`WARNING_DAYS`].
    EndsSoon,
    NotStarted,
    Ended,
    Revoked {
        at: Timestamp,
        by: String,
    },
}

impl fmt::Display for MandateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MandateStatus::Active => f.write_str("active"),
            MandateStatus::EndsSoon => f.write_str("active, ends soon"),
            MandateStatus::NotStarted => f.write_str("not started"),
            MandateStatus::Ended => f.write_str("ended"),
            MandateStatus::Revoked { at, by } => {
                write!(f, "removed {} by {by}", at.strftime("%Y-%m-%d %H:%M UTC"))
            }
        }
    }
}

/// One line of `practicebox mandate list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateListing {
    pub mandate: MandateId,
    pub mandator: Principal,
    pub ends_at: Timestamp,
    /// Whole days until `ends_at`, negative once passed.
    pub days_left: i64,
    pub status: MandateStatus,
}

impl fmt::Display for MandateListing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mandate {}: {} {} (INSZ {}), until {}, {} days left, {}",
            self.mandate,
            self.mandator.given_names,
            self.mandator.family_name,
            self.mandator.insz,
            utc_date(self.ends_at),
            self.days_left.max(0),
            self.status
        )
    }
}

/// Returns the status of `mandate` at `now`.
pub fn mandate_status(mandate: &Mandate, now: Timestamp) -> MandateStatus {
    if let (Some(at), Some(by)) = (mandate.revoked_at, &mandate.revoked_by) {
        return MandateStatus::Revoked { at, by: by.clone() };
    }
    if now < mandate.starts_at {
        return MandateStatus::NotStarted;
    }
    if now >= mandate.ends_at {
        return MandateStatus::Ended;
    }
    if days_left(now, mandate.ends_at) < WARNING_DAYS {
        return MandateStatus::EndsSoon;
    }
    MandateStatus::Active
}

/// Lists every mandate, revoked and ended ones included, oldest first.
pub fn list_mandates(store: &Store, now: Timestamp) -> Result<Vec<MandateListing>, StoreError> {
    let mut listings = Vec::new();
    for mandator in store.principals()? {
        if mandator.role != Role::Mandator {
            continue;
        }
        for mandate in store.mandates_of(mandator.id)? {
            listings.push(MandateListing {
                mandate: mandate.id,
                mandator: mandator.clone(),
                ends_at: mandate.ends_at,
                days_left: days_left(now, mandate.ends_at),
                status: mandate_status(&mandate, now),
            });
        }
    }
    listings.sort_by_key(|listing| listing.mandate);
    Ok(listings)
}

/// The kind of end a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    Mandate,
    Certificate,
}

/// An end within [`WARNING_DAYS`] for a principal whose box is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryWarning {
    pub kind: WarningKind,
    pub insz: String,
    pub name: String,
    pub ends_at: Timestamp,
    pub days_left: i64,
}

impl fmt::Display for ExpiryWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, fix) = match self.kind {
            WarningKind::Mandate => ("the mandate of", "grant a new mandate to keep fetching"),
            WarningKind::Certificate => (
                "the eHealth certificate of",
                "renew it and load the new keystore",
            ),
        };
        write!(
            f,
            "{what} {} (INSZ {}) ends on {}, in {} days; {fix}",
            self.name,
            self.insz,
            utc_date(self.ends_at),
            self.days_left
        )
    }
}

/// Lists the mandates and certificates of the fetched principals that end within
/// [`WARNING_DAYS`] of `now`. Certificate ends come from the credential records' clear headers,
/// so no key is needed.
pub fn expiry_warnings(
    store: &Store,
    vault: &CredentialVault,
    now: Timestamp,
) -> Result<Vec<ExpiryWarning>, StoreError> {
    let mut warnings = Vec::new();
    for principal in store.active_principals(now)? {
        let name = format!("{} {}", principal.given_names, principal.family_name);
        let warn = |kind, ends_at| ExpiryWarning {
            kind,
            insz: principal.insz.clone(),
            name: name.clone(),
            ends_at,
            days_left: days_left(now, ends_at),
        };

        let mandate_end = store
            .mandates_of(principal.id)?
            .iter()
            .filter(|mandate| mandate.is_valid_at(now))
            .map(|mandate| mandate.ends_at)
            .max();
        if let Some(end) = mandate_end
            && days_left(now, end) < WARNING_DAYS
        {
            warnings.push(warn(WarningKind::Mandate, end));
        }

        match vault.summary(principal.id) {
            Ok(Some(summary)) if days_left(now, summary.certificate_not_after) < WARNING_DAYS => {
                warnings.push(warn(
                    WarningKind::Certificate,
                    summary.certificate_not_after,
                ));
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(principal = principal.id.0, %error, "credential header unreadable");
            }
        }
    }
    Ok(warnings)
}
