//! XML security for the eHealth platform: exclusive canonicalisation ([`c14n`]), XML-DSig with
//! RSA ([`dsig`]) and WS-Security SOAP 1.1 envelopes signed with an X.509 token or a SAML 1.1
//! holder-of-key assertion ([`wsse`]).
//!
//! Both the appliance's eHealth client and the platform simulator use this crate, so it signs
//! and verifies. Documents are read with roxmltree and written as strings with escaping. The
//! crate does no I/O and never reads the clock: times and ID sources come from the caller.
//!
//! Verification is strict by design. IDs must be unique in the whole document, and every
//! algorithm outside the small supported set is rejected by URI. Verified references are
//! returned as tree nodes, so that callers check *which* element was signed and not only its ID:
//! that is the defence against signature wrapping.
#![forbid(unsafe_code)]

pub mod c14n;
pub mod dsig;
pub mod ids;
pub mod wsse;
mod xml;

/// Namespace URIs used by WS-Security, XML-DSig and SAML 1.1.
pub mod ns {
    /// SOAP 1.1 envelope.
    pub const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    /// WS-Security 1.0 extensions (`wsse`).
    pub const WSSE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    /// WS-Security 1.1 extensions (`wsse11`).
    pub const WSSE11: &str = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd";
    /// WS-Security utility (`wsu`).
    pub const WSU: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    /// XML-DSig (`ds`).
    pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
    /// Exclusive canonicalisation, the namespace of `InclusiveNamespaces` (`ec`).
    pub const EC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    /// SAML 1.0 and 1.1 assertions (`saml`); SAML 1.1 keeps the 1.0 namespace.
    pub const SAML: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
}
