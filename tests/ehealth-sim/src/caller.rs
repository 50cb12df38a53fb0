//! The authenticated caller of an eHealthBox or publication operation.
//!
//! The transport layer builds a [`Caller`] only after it has verified the SAML assertion (signed by
//! the STS key, within its validity) and that the request is signed by the assertion's
//! holder-of-key. Operation handlers trust it and decide access from its attributes.

/// Identity and certified attributes taken from a verified SAML 1.1 assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The holder's INSZ (called SSIN in eHealth attributes), 11 digits.
    pub ssin: String,
    /// `urn:be:fgov:person:ssin:doctor:boolean` was granted as `true`.
    pub is_doctor: bool,
    /// `urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11`, when granted.
    pub nihii11: Option<String>,
    /// The `AssertionID` of the token, for the request log.
    pub assertion_id: String,
}

impl Caller {
    /// Returns the quality of the personal eHealthBox this caller may open, if any.
    pub fn personal_quality(&self) -> Option<&'static str> {
        self.is_doctor.then_some("DOCTOR")
    }
}
