//! Endpoint configuration of the eHealth services: URLs, TLS trust anchors, timeouts,
//! the STS designators and the platform codes whose values are not public.
//!
//! The configuration (TOML, [`EndpointsConfig`]) names a preset and may override any part of
//! it. [`Preset::Acceptance`] and [`Preset::Production`] carry the platform's public URLs and
//! trust the system's web roots; [`Preset::Simulator`] builds every URL from one base URL (the
//! platform simulator on loopback) and trusts the CA in `ca_file`.
//!
//! ```toml
//! preset = "simulator"
//! base_url = "https://localhost:8443"
//! ca_file = "/etc/practicebox/sim-ca.pem"
//! resolve = { "localhost" = "127.0.0.1:8443" }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The requested (value-less) STS claims of a doctor: recognised doctor, and the RIZIV number.
pub const DOCTOR_DESIGNATORS: [&str; 2] = [
    "urn:be:fgov:person:ssin:doctor:boolean",
    "urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11",
];

/// The Issuer of the assertions of the eHealth STS.
pub const EHEALTH_STS_ISSUER: &str = "urn:be:fgov:ehealth:sts:1_0";

const ACCEPTANCE_BASE: &str = "https://services-acpt.ehealth.fgov.be";
const PRODUCTION_BASE: &str = "https://services.ehealth.fgov.be";

/// Service paths, the same on acceptance and production.
const STS_PATH: &str = "/IAM/SecurityTokenService/v1";
const CONSULTATION_PATH: &str = "/ehBoxConsultation/v3";
const PUBLICATION_PATH: &str = "/ehBoxPublication/v3";
const ETK_DEPOT_PATH: &str = "/EtkDepot/v1";

/// A bad endpoint configuration.
#[derive(Debug, thiserror::Error)]
pub enum EndpointsError {
    #[error("cannot read endpoint configuration: {0}; check the TOML syntax and field names")]
    Toml(#[from] toml::de::Error),
    #[error("the simulator preset needs `base_url`, e.g. base_url = \"https://localhost:8443\"")]
    MissingBaseUrl,
    #[error(
        "invalid {field} URL {url:?}: {reason}; use https://HOST[:PORT]/PATH (plain http only on loopback)"
    )]
    InvalidUrl {
        field: &'static str,
        url: String,
        reason: &'static str,
    },
    #[error("the simulator preset needs `ca_file`, the PEM file of the simulator's test CA")]
    MissingCaFile,
    #[error("invalid timeout {field} = {value} s; give a number of seconds from 1 to 600")]
    InvalidTimeout { field: &'static str, value: u64 },
    #[error("invalid designator {0:?}; give an attribute URN such as {first}", first = DOCTOR_DESIGNATORS[0])]
    InvalidDesignator(String),
}

/// Named sets of endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The eHealth acceptance environment (ACPT), with test certificates.
    Acceptance,
    /// Returns the endpoints of the eHealth production environment.
    Production,
    /// The platform simulator, at `base_url`.
    Simulator,
}

/// The TLS trust anchors of the platform's HTTPS servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustAnchors {
    /// The system's roots (rustls platform verifier), as for the real platform.
    System,
    /// Only the CA certificates in this PEM file, as for the simulator.
    PemFile(PathBuf),
}

/// Request timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// The whole request, from sending to the last byte of the response.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(15),
            // A full message may be 10 MB, on a slow practice uplink.
            request: Duration::from_secs(120),
        }
    }
}

/// Business codes of eHealthBox consultation that the client acts on.
///
/// Only 810 is documented; the consultation-specific codes are not public, so they are
/// configurable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusinessCodes {
    /// The box (or an explicit BoxId) is not accessible with this token.
    pub box_not_accessible: Vec<String>,
    /// A MessageId is not in the requested folder.
    // NOTE: 811 is a guess; the real code is not public.
    pub message_not_found: Vec<String>,
}

impl Default for BusinessCodes {
    fn default() -> Self {
        Self {
            box_not_accessible: vec!["810".to_owned()],
            message_not_found: vec!["811".to_owned()],
        }
    }
}

/// The resolved endpoints the client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub sts: String,
    pub consultation: String,
    pub publication: String,
    pub etk_depot: String,
    pub trust: TrustAnchors,
    /// Fixed addresses for host names, as `curl --resolve` does (for the simulator's
    /// `localhost` certificate).
    pub resolve: BTreeMap<String, SocketAddr>,
    pub timeouts: Timeouts,
    /// The requested STS claims, in request order.
    pub designators: Vec<String>,
    /// The expected Issuer of STS assertions.
    pub sts_issuer: String,
    pub codes: BusinessCodes,
}

impl Endpoints {
    /// Returns the endpoints of the eHealth acceptance environment.
    pub fn acceptance() -> Self {
        Self::from_base(ACCEPTANCE_BASE, TrustAnchors::System)
    }

    /// Returns the endpoints of the eHealth production environment.
    pub fn production() -> Self {
        Self::from_base(PRODUCTION_BASE, TrustAnchors::System)
    }

    /// Returns the endpoints of the platform simulator at `base_url` (for example `https://localhost:8443` or with a
    /// path prefix), trusting the CA certificates in `ca_file`.
    pub fn simulator(base_url: &str, ca_file: impl Into<PathBuf>) -> Self {
        Self::from_base(
            base_url.trim_end_matches('/'),
            TrustAnchors::PemFile(ca_file.into()),
        )
    }

    fn from_base(base: &str, trust: TrustAnchors) -> Self {
        Self {
            sts: format!("{base}{STS_PATH}"),
            consultation: format!("{base}{CONSULTATION_PATH}"),
            publication: format!("{base}{PUBLICATION_PATH}"),
            etk_depot: format!("{base}{ETK_DEPOT_PATH}"),
            trust,
            resolve: BTreeMap::new(),
            timeouts: Timeouts::default(),
            designators: DOCTOR_DESIGNATORS.map(str::to_owned).to_vec(),
            sts_issuer: EHEALTH_STS_ISSUER.to_owned(),
            codes: BusinessCodes::default(),
        }
    }

    /// Checks every URL: https, or plain http to a loopback host.
    pub fn validate(&self) -> Result<(), EndpointsError> {
        check_url("sts", &self.sts)?;
        check_url("consultation", &self.consultation)?;
        check_url("publication", &self.publication)?;
        check_url("etk_depot", &self.etk_depot)?;
        for designator in &self.designators {
            if !designator.starts_with("urn:") || designator.contains(char::is_whitespace) {
                return Err(EndpointsError::InvalidDesignator(designator.clone()));
            }
        }
        Ok(())
    }
}

/// The endpoint part of the box configuration, as written in TOML.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointsConfig {
    /// `acceptance`, `production` or `simulator`; acceptance when absent.
    pub preset: Option<Preset>,
    /// Base URL of the simulator preset.
    pub base_url: Option<String>,
    pub sts_url: Option<String>,
    pub consultation_url: Option<String>,
    pub publication_url: Option<String>,
    pub etk_depot_url: Option<String>,
    /// PEM file of the CAs to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Host name to `IP:PORT` overrides.
    #[serde(default)]
    pub resolve: BTreeMap<String, SocketAddr>,
    /// Connection timeout in seconds.
    pub connect_timeout_secs: Option<u64>,
    /// Whole-request timeout in seconds.
    pub request_timeout_secs: Option<u64>,
    /// Requested STS claims; the doctor set when absent.
    pub designators: Option<Vec<String>>,
    /// Expected Issuer of STS assertions.
    pub sts_issuer: Option<String>,
    #[serde(default)]
    pub codes: BusinessCodes,
}

impl EndpointsConfig {
    /// Parses the TOML text of an endpoint configuration.
    pub fn from_toml(text: &str) -> Result<Self, EndpointsError> {
        Ok(toml::from_str(text)?)
    }

    /// Applies the preset and the overrides, and validates the result.
    pub fn resolve(&self) -> Result<Endpoints, EndpointsError> {
        let mut endpoints = self.preset_endpoints()?;
        override_with(&mut endpoints.sts, &self.sts_url);
        override_with(&mut endpoints.consultation, &self.consultation_url);
        override_with(&mut endpoints.publication, &self.publication_url);
        override_with(&mut endpoints.etk_depot, &self.etk_depot_url);
        if let Some(ca_file) = &self.ca_file {
            endpoints.trust = TrustAnchors::PemFile(ca_file.clone());
        }
        endpoints.resolve = self.resolve.clone();
        if let Some(seconds) = self.connect_timeout_secs {
            endpoints.timeouts.connect = timeout("connect_timeout_secs", seconds)?;
        }
        if let Some(seconds) = self.request_timeout_secs {
            endpoints.timeouts.request = timeout("request_timeout_secs", seconds)?;
        }
        if let Some(designators) = &self.designators {
            endpoints.designators = designators.clone();
        }
        override_with(&mut endpoints.sts_issuer, &self.sts_issuer);
        endpoints.codes = self.codes.clone();
        endpoints.validate()?;
        Ok(endpoints)
    }

    fn preset_endpoints(&self) -> Result<Endpoints, EndpointsError> {
        match self.preset.unwrap_or(Preset::Acceptance) {
            Preset::Acceptance => Ok(Endpoints::acceptance()),
            Preset::Production => Ok(Endpoints::production()),
            Preset::Simulator => {
                let base = self
                    .base_url
                    .as_deref()
                    .ok_or(EndpointsError::MissingBaseUrl)?;
                let ca_file = self.ca_file.clone().ok_or(EndpointsError::MissingCaFile)?;
                check_url("base_url", base)?;
                Ok(Endpoints::simulator(base, ca_file))
            }
        }
    }
}

fn override_with(target: &mut String, value: &Option<String>) {
    if let Some(value) = value {
        target.clone_from(value);
    }
}

fn timeout(field: &'static str, seconds: u64) -> Result<Duration, EndpointsError> {
    if !(1..=600).contains(&seconds) {
        return Err(EndpointsError::InvalidTimeout {
            field,
            value: seconds,
        });
    }
    Ok(Duration::from_secs(seconds))
}

/// Accepts `https://HOST...`, and `http://` only to `localhost` or a 127.x address.
fn check_url(field: &'static str, url: &str) -> Result<(), EndpointsError> {
    let invalid = |reason| EndpointsError::InvalidUrl {
        field,
        url: url.to_owned(),
        reason,
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host_of(authority);
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(invalid("plain http to a host that is not loopback")),
        _ => Err(invalid("the scheme is not https")),
    }
}

fn host_of(authority: &str) -> &str {
    let without_user = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(bracketed) = without_user.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or("");
    }
    without_user.split(':').next().unwrap_or("")
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptance_preset_urls() {
        let endpoints = EndpointsConfig::default().resolve().unwrap();
        assert_eq!(
            endpoints.sts,
            "https://services-acpt.ehealth.fgov.be/IAM/SecurityTokenService/v1"
        );
        assert_eq!(
            endpoints.consultation,
            "https://services-acpt.ehealth.fgov.be/ehBoxConsultation/v3"
        );
        assert_eq!(endpoints.trust, TrustAnchors::System);
        assert_eq!(endpoints.designators, DOCTOR_DESIGNATORS.to_vec());
    }

    #[test]
    fn production_preset_urls() {
        let config = EndpointsConfig::from_toml("preset = \"production\"").unwrap();
        let endpoints = config.resolve().unwrap();
        assert_eq!(
            endpoints.publication,
            "https://services.ehealth.fgov.be/ehBoxPublication/v3"
        );
        assert_eq!(
            endpoints.etk_depot,
            "https://services.ehealth.fgov.be/EtkDepot/v1"
        );
    }

    #[test]
    fn simulator_preset_from_toml() {
        let config = EndpointsConfig::from_toml(
            r#"
            preset = "simulator"
            base_url = "https://localhost:8443/sim/"
            ca_file = "/tmp/ca.pem"
            resolve = { "localhost" = "127.0.0.1:8443" }
            request_timeout_secs = 30
            designators = ["urn:be:fgov:person:ssin:doctor:boolean"]
            "#,
        )
        .unwrap();
        let endpoints = config.resolve().unwrap();
        assert_eq!(
            endpoints.sts,
            "https://localhost:8443/sim/IAM/SecurityTokenService/v1"
        );
        assert_eq!(
            endpoints.trust,
            TrustAnchors::PemFile(PathBuf::from("/tmp/ca.pem"))
        );
        assert_eq!(
            endpoints.resolve["localhost"],
            "127.0.0.1:8443".parse().unwrap()
        );
        assert_eq!(endpoints.timeouts.request, Duration::from_secs(30));
        assert_eq!(endpoints.designators.len(), 1);
    }

    #[test]
    fn simulator_without_base_url_is_rejected() {
        let config = EndpointsConfig::from_toml("preset = \"simulator\"").unwrap();
        let error = config.resolve().unwrap_err();
        assert!(matches!(error, EndpointsError::MissingBaseUrl), "{error}");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let mut config = EndpointsConfig {
            sts_url: Some("http://127.0.0.1:8080/IAM/SecurityTokenService/v1".to_owned()),
            ..EndpointsConfig::default()
        };
        assert!(config.resolve().is_ok());

        config.sts_url = Some("http://sts.example.org/v1".to_owned());
        let error = config.resolve().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid sts URL \"http://sts.example.org/v1\": plain http to a host that is not \
             loopback; use https://HOST[:PORT]/PATH (plain http only on loopback)"
        );
    }

    #[test]
    fn unknown_field_is_rejected() {
        let error = EndpointsConfig::from_toml("sts = \"https://x\"").unwrap_err();
        assert!(error.to_string().contains("unknown field"), "{error}");
    }

    #[test]
    fn timeout_out_of_range_is_rejected() {
        let config = EndpointsConfig {
            connect_timeout_secs: Some(0),
            ..EndpointsConfig::default()
        };
        let error = config.resolve().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid timeout connect_timeout_secs = 0 s; give a number of seconds from 1 to 600"
        );
    }
}
