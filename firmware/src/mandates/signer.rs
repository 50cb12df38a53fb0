//! The eID operations a mandate needs, behind [`MandateSigner`], and the eID evidence kept with
//! a mandate.
//!
//! [`EidCard`] implements the trait over any [`CardTransport`]: pcscd on the box, the virtual
//! card in tests.

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::eid::{
    CardTransport, EidCard, EidError, Identity, MessageDigest, PinEntry, TrustAnchors, crypto,
};

/// The eID holder's identity and certificates, verified against the configured Belgian roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EidHolder {
    pub identity: Identity,
    /// The identity file as read from the card.
    pub identity_file: Vec<u8>,
    /// The National Register's signature over `identity_file`, as stored on the card.
    pub identity_signature: Vec<u8>,
    /// The eID certificates, DER: non-repudiation, citizen CA and RRN.
    pub certificates: EidCertificates,
}

/// The eID certificates kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EidCertificates {
    /// The non-repudiation (signature) certificate.
    pub signing: Vec<u8>,
    /// The citizen CA that issued `signing`.
    pub citizen_ca: Vec<u8>,
    /// The National Register certificate that signs the identity file.
    pub rrn: Vec<u8>,
}

/// An evidence bundle that does not hold three DER certificates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored eID certificates are not three DER certificates ({reason})")]
pub struct BundleError {
    reason: &'static str,
}

impl EidCertificates {
    /// Encodes the three certificates as they are stored: concatenated DER, in the order
    /// signing, citizen CA, RRN. Each DER certificate carries its own length.
    pub fn to_bundle(&self) -> Vec<u8> {
        [self.signing.as_slice(), &self.citizen_ca, &self.rrn].concat()
    }

    /// Splits a stored bundle back into its three certificates.
    pub fn from_bundle(bundle: &[u8]) -> Result<Self, BundleError> {
        let mut rest = bundle;
        let mut parts = Vec::new();
        while !rest.is_empty() {
            let length = crypto::der_length(rest).ok_or(BundleError {
                reason: "a certificate's DER header is invalid",
            })?;
            parts.push(rest[..length].to_vec());
            rest = &rest[length..];
        }
        let [signing, citizen_ca, rrn] =
            <[Vec<u8>; 3]>::try_from(parts).map_err(|_| BundleError {
                reason: "expected exactly three",
            })?;
        Ok(Self {
            signing,
            citizen_ca,
            rrn,
        })
    }
}

/// The eID operations of a mandate and of a setup.
pub trait MandateSigner {
    /// Reads and verifies the identity file, its RRN signature and the signing certificate's
    /// chain, all against `anchors` at `now`.
    fn read_holder(
        &mut self,
        anchors: &TrustAnchors,
        now: Timestamp,
    ) -> Result<EidHolder, EidError>;

    /// Returns the PIN tries left, when the card reports them without using a try.
    fn pin_tries_left(&mut self) -> Result<Option<u8>, EidError>;

    /// Returns whether the reader offers secure PIN entry on its own pinpad.
    fn has_pinpad(&self) -> bool;

    /// Verifies the PIN, typed on the box or on the reader's pinpad, to prove that the holder
    /// is present.
    fn verify_pin(&mut self, pin: PinEntry<'_>) -> Result<(), EidError>;

    /// Signs the SHA-256 of `document` with the non-repudiation key, verifying the PIN directly
    /// before. Returns the signature in X.509 form: PKCS#1 v1.5 for RSA, DER for ECDSA.
    fn sign_document(&mut self, document: &[u8], pin: PinEntry<'_>) -> Result<Vec<u8>, EidError>;
}

impl<T: CardTransport> MandateSigner for EidCard<T> {
    fn read_holder(
        &mut self,
        anchors: &TrustAnchors,
        now: Timestamp,
    ) -> Result<EidHolder, EidError> {
        let citizen = self.read_citizen(anchors, now)?;
        let certificates = self.read_certificates()?;
        certificates.verify(anchors, now)?;
        let signing = certificates
            .non_repudiation
            .ok_or_else(|| EidError::CertificateMissing {
                role: "non-repudiation",
                file: crate::eid::EidFile::NonRepudiationCertificate.path_text(),
            })?;

        Ok(EidHolder {
            identity: citizen.identity,
            identity_file: citizen.identity_file,
            identity_signature: citizen.identity_signature,
            certificates: EidCertificates {
                signing,
                citizen_ca: certificates.citizen_ca,
                rrn: citizen.rrn_certificate,
            },
        })
    }

    fn pin_tries_left(&mut self) -> Result<Option<u8>, EidError> {
        EidCard::pin_tries_left(self)
    }

    fn has_pinpad(&self) -> bool {
        EidCard::has_pinpad(self)
    }

    fn verify_pin(&mut self, pin: PinEntry<'_>) -> Result<(), EidError> {
        match pin {
            PinEntry::Typed(pin) => EidCard::verify_pin(self, pin),
            PinEntry::Pinpad(language) => self.verify_pin_on_pinpad(language),
        }
    }

    fn sign_document(&mut self, document: &[u8], pin: PinEntry<'_>) -> Result<Vec<u8>, EidError> {
        let digest = MessageDigest::Sha256(Sha256::digest(document).into());
        let signature = self.sign_non_repudiation(&digest, pin)?;
        Ok(signature.value)
    }
}
