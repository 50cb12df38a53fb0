//! Reading facts out of X.509 certificates: the INSZ (SSIN) and holder name in an eHealth
//! subject DN, decimal serial numbers, fingerprints, subject key identifiers and validity times.

use der::{Decode, Encode, Tag, Tagged, asn1::ObjectIdentifier};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::{Certificate, name::Name, serial_number::SerialNumber, time::Time};

const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

/// The prefix of the INSZ (SSIN) in the CN and OU of a person's eHealth certificate.
const SSIN_PREFIX: &str = "SSIN=";
const SSIN_DIGITS: usize = 11;
/// The OU that eHealth puts in every certificate it issues.
const EHEALTH_PLATFORM_OU: &str = "eHealth-platform";

/// A certificate kept both parsed and as the DER bytes it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    der: Vec<u8>,
    parsed: Certificate,
}

impl StoredCertificate {
    /// Parses a DER-encoded certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, der::Error> {
        let parsed = Certificate::from_der(der)?;
        Ok(Self {
            der: der.to_vec(),
            parsed,
        })
    }

    /// Wraps a parsed certificate, encoding it to DER.
    pub fn from_parsed(parsed: Certificate) -> Result<Self, der::Error> {
        let der = parsed.to_der()?;
        Ok(Self { der, parsed })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn parsed(&self) -> &Certificate {
        &self.parsed
    }

    /// The subject DN in RFC 4514 order (`CN=...,OU=...,C=BE`).
    pub fn subject(&self) -> String {
        self.parsed.tbs_certificate().subject().to_string()
    }

    /// The issuer DN in RFC 4514 order.
    pub fn issuer(&self) -> String {
        self.parsed.tbs_certificate().issuer().to_string()
    }

    /// The serial number in decimal, the form eHealth uses for encryption-key aliases.
    pub fn decimal_serial(&self) -> String {
        decimal_serial(self.parsed.tbs_certificate().serial_number())
    }

    /// The INSZ (SSIN) in the subject's CN or OU, if any.
    pub fn ssin(&self) -> Option<String> {
        ssin_from_name(self.parsed.tbs_certificate().subject())
    }

    pub fn not_before(&self) -> jiff::Timestamp {
        timestamp(&self.parsed.tbs_certificate().validity().not_before)
    }

    pub fn not_after(&self) -> jiff::Timestamp {
        timestamp(&self.parsed.tbs_certificate().validity().not_after)
    }

    /// The SHA-256 hash of the DER encoding, in lowercase hexadecimal.
    pub fn sha256_fingerprint(&self) -> String {
        hex(&Sha256::digest(&self.der))
    }

    /// The subjectKeyIdentifier extension, or when the certificate has none, the SHA-1 hash of
    /// the subject public key (the RFC 5280 method 1 that CMS senders use too).
    pub fn subject_key_identifier(&self) -> Vec<u8> {
        let tbs = self.parsed.tbs_certificate();
        let from_extension = tbs.extensions().and_then(|extensions| {
            extensions
                .iter()
                .find(|extension| extension.extn_id == SUBJECT_KEY_IDENTIFIER)
                .and_then(|extension| {
                    der::asn1::OctetString::from_der(extension.extn_value.as_bytes()).ok()
                })
        });
        match from_extension {
            Some(identifier) => identifier.as_bytes().to_vec(),
            None => {
                let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
                Sha1::digest(key).to_vec()
            }
        }
    }
}

/// Converts a big-endian unsigned serial number to decimal.
pub fn decimal_serial(serial: &SerialNumber) -> String {
    decimal_from_be_bytes(serial.as_bytes())
}

fn decimal_from_be_bytes(bytes: &[u8]) -> String {
    let mut number: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut digits = Vec::new();
    while !number.is_empty() {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 10) as u8;
            remainder = value % 10;
        }
        digits.push(b'0' + remainder as u8);
        let leading_zeros = number.iter().take_while(|b| **b == 0).count();
        number.drain(..leading_zeros);
    }
    if digits.is_empty() {
        return "0".to_owned();
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// Finds the INSZ (SSIN) in the CN, then in the OUs, matching `SSIN=` followed by 11 digits.
pub fn ssin_from_name(name: &Name) -> Option<String> {
    attribute_values(name, COMMON_NAME)
        .into_iter()
        .chain(attribute_values(name, ORGANIZATIONAL_UNIT))
        .find_map(|value| ssin_in(&value))
}

fn ssin_in(value: &str) -> Option<String> {
    let mut rest = value;
    while let Some(start) = rest.find(SSIN_PREFIX) {
        let after = &rest[start + SSIN_PREFIX.len()..];
        let digits: String = after
            .chars()
            .take_while(char::is_ascii_digit)
            .take(SSIN_DIGITS)
            .collect();
        if digits.len() == SSIN_DIGITS {
            return Some(digits);
        }
        rest = after;
    }
    None
}

/// Returns the holder's name: the first OU that is neither `SSIN=...` nor the eHealth platform's.
// NOTE: application certificates add an OU with the application id; which of the two OUs
// comes first in those certificates is not known, so this picks the first in encoding order.
pub fn holder_name(name: &Name) -> Option<String> {
    attribute_values(name, ORGANIZATIONAL_UNIT)
        .into_iter()
        .find(|value| !value.starts_with(SSIN_PREFIX) && !value.contains(EHEALTH_PLATFORM_OU))
}

/// The string values of every attribute of type `oid`, in encoding order.
fn attribute_values(name: &Name, oid: ObjectIdentifier) -> Vec<String> {
    name.iter()
        .filter(|attribute| attribute.oid == oid)
        .filter_map(|attribute| directory_string(&attribute.value))
        .collect()
}

fn directory_string(value: &der::Any) -> Option<String> {
    match value.tag() {
        Tag::Ia5String | Tag::VisibleString => {
            Some(String::from_utf8_lossy(value.value()).into_owned())
        }
        _ => x509_cert::ext::pkix::name::DirectoryString::try_from(value)
            .ok()
            .map(|string| string.value().into_owned()),
    }
}

/// Converts an X.509 time to a timestamp.
pub fn timestamp(time: &Time) -> jiff::Timestamp {
    let duration = time.to_unix_duration();
    let seconds = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::MAX)
}

/// Lowercase hexadecimal without separators.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimal_serial_of_large_number() {
        // The expected value was computed with Python's int.from_bytes(bytes, "big").
        let bytes = [
            0x0e, 0x5c, 0x3b, 0x3a, 0x2b, 0x65, 0x4e, 0x45, 0x8d, 0x66, 0x4f, 0x65, 0x3d, 0x66,
            0x2e, 0x90,
        ];
        assert_eq!(
            decimal_from_be_bytes(&bytes),
            "19088084522804394196063536742897430160"
        );
    }

    #[test]
    fn decimal_serial_small_and_zero() {
        assert_eq!(decimal_from_be_bytes(&[0x01, 0x00]), "256");
        assert_eq!(decimal_from_be_bytes(&[0x00]), "0");
        assert_eq!(decimal_from_be_bytes(&[]), "0");
    }

    #[test]
    fn ssin_and_name_from_ehealth_dn() {
        let name = Name::from_str(
            "CN=SSIN=79102520991,OU=eHealth-platform Belgium,OU=JAN PEETERS,OU=SSIN=79102520991,O=Federal Government,C=BE",
        )
        .unwrap();
        assert_eq!(ssin_from_name(&name).as_deref(), Some("79102520991"));
        assert_eq!(holder_name(&name).as_deref(), Some("JAN PEETERS"));
    }

    #[test]
    fn ssin_needs_eleven_digits() {
        assert_eq!(ssin_in("SSIN=1234567890"), None);
        assert_eq!(ssin_in("SSIN=123456789012").as_deref(), Some("12345678901"));
        assert_eq!(
            ssin_in("x SSIN=12 SSIN=79102520991").as_deref(),
            Some("79102520991")
        );
    }

    #[test]
    fn organisation_dn_has_no_ssin() {
        let name =
            Name::from_str("CN=NIHII-HOSPITAL=71000436,OU=eHealth-platform Belgium,C=BE").unwrap();
        assert_eq!(ssin_from_name(&name), None);
    }
}
