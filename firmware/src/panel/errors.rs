//! The errors of the mandate wizard in plain words, with what to do, in the panel's languages.
//!
//! Each error of the mandate workflow and of the certificate source maps to one [`Text`] and
//! its values. Related errors share a text where the person at the box does the same thing for
//! each (for instance every sign of a forged or damaged eID). The English error with its
//! details goes to the log, where the installer reads it.

use jiff::Timestamp;
use jiff::civil::Date;

use super::certificates::CertificateSourceError;
use super::text::{Language, Text};
use crate::ehealth::keystore::KeystoreError;
use crate::eid::{EidError, TransportError};
use crate::mandates::{MandateError, RuleError};

/// A text with its placeholder values, rendered in any language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub key: Text,
    pub values: Vec<(&'static str, String)>,
}

impl Message {
    /// Creates a message without placeholders.
    pub fn new(key: Text) -> Self {
        Self {
            key,
            values: Vec::new(),
        }
    }

    /// Creates a message with one placeholder value.
    pub fn with(key: Text, name: &'static str, value: impl Into<String>) -> Self {
        Self {
            key,
            values: vec![(name, value.into())],
        }
    }

    /// Returns the text in `language`, placeholders filled.
    pub fn render(&self, language: Language) -> String {
        let values: Vec<(&str, &str)> = self
            .values
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        language.format(self.key, &values)
    }
}

/// Formats a date as the panel shows it: `31/12/2027`.
pub fn format_date(date: Date) -> String {
    date.strftime("%d/%m/%Y").to_string()
}

/// Formats the UTC date of `at` as the panel shows it. Mandate and certificate ends are UTC
/// dates throughout the mandate workflow.
pub fn format_utc_date(at: Timestamp) -> String {
    format_date(crate::mandates::rules::utc_date(at))
}

/// Describes an error of the mandate workflow.
pub fn describe_mandate_error(error: &MandateError) -> Message {
    match error {
        MandateError::Rule(rule) => describe_rule(rule),
        MandateError::Keystore(keystore) => describe_keystore(keystore),
        MandateError::Eid(eid) => describe_eid(eid),
        MandateError::Document(_) => Message::new(Text::ErrorName),
        MandateError::Store(_) | MandateError::Credentials(_) => Message::new(Text::ErrorStorage),
        MandateError::SignatureRejected(_) => Message::new(Text::ErrorSignatureRejected),
        MandateError::NoMandate { .. } => Message::new(Text::RemoveNone),
        MandateError::TrustAnchorsUnreadable { .. }
        | MandateError::TrustAnchorsInvalid { .. }
        | MandateError::BoxIdentity { .. } => Message::new(Text::ErrorBoxSetup),
        MandateError::Cancelled => Message::new(Text::WizardCancelled),
        MandateError::UnexpectedInput { .. }
        | MandateError::StepOrder
        | MandateError::SecretFile { .. }
        | MandateError::Terminal { .. } => Message::new(Text::ErrorStartAgain),
    }
}

fn describe_rule(error: &RuleError) -> Message {
    match error {
        RuleError::InszFormat { value }
        | RuleError::InszBirthDate { value }
        | RuleError::InszCheckDigits { value, .. } => {
            Message::with(Text::ErrorInsz, "value", value.clone())
        }
        RuleError::RizivFormat { .. } => Message::new(Text::ErrorRizivFormat),
        RuleError::RizivCheckDigits { value, .. } => {
            Message::with(Text::ErrorRizivCheckDigits, "value", value.clone())
        }
        RuleError::EmptyName { .. }
        | RuleError::ControlCharacter { .. }
        | RuleError::NameMismatch { .. } => Message::new(Text::ErrorName),
        RuleError::EidInszMismatch { .. } | RuleError::CertificateInszMismatch { .. } => {
            Message::new(Text::ErrorOtherPerson)
        }
        RuleError::CertificateWithoutInsz { .. } => Message::new(Text::ErrorCertificateNotPersonal),
        RuleError::MandatorIsMain { .. } => Message::new(Text::ErrorMandatorIsMain),
        RuleError::NoMainPractitioner => Message::new(Text::ErrorNoMainDoctor),
        RuleError::MainPractitionerExists { name, .. } => {
            Message::with(Text::ErrorMainDoctorExists, "name", name.clone())
        }
        RuleError::AlreadyMandator { .. } => Message::new(Text::ErrorAlreadyMandator),
        RuleError::EndDateInPast { .. } => Message::new(Text::ErrorEndDatePast),
        RuleError::EndDateAfterCertificate {
            certificate_end, ..
        } => Message::with(
            Text::ErrorEndDateAfterCertificate,
            "date",
            format_date(*certificate_end),
        ),
        RuleError::CertificateEndsNow { .. } => Message::new(Text::ErrorCertificateEndsNow),
    }
}

fn describe_keystore(error: &KeystoreError) -> Message {
    match error {
        KeystoreError::Read { .. } => Message::new(Text::ErrorStickUnreadable),
        KeystoreError::NotPkcs12 { file, .. }
        | KeystoreError::NoAuthenticationKey { file, .. }
        | KeystoreError::UnsupportedKey { file, .. } => {
            Message::with(Text::ErrorNotKeystore, "file", file.clone())
        }
        KeystoreError::WrongPassword { .. } => Message::new(Text::ErrorWrongPassword),
        KeystoreError::Damaged { .. }
        | KeystoreError::MissingCertificate { .. }
        | KeystoreError::KeyCertificateMismatch { .. } => Message::new(Text::ErrorKeystoreDamaged),
        KeystoreError::Expired { not_after, .. } => Message::with(
            Text::ErrorCertificateExpired,
            "date",
            format_utc_date(*not_after),
        ),
        KeystoreError::NotYetValid { not_before, .. } => Message::with(
            Text::ErrorCertificateNotYetValid,
            "date",
            format_utc_date(*not_before),
        ),
        KeystoreError::UnknownIssuer { .. } | KeystoreError::InvalidCertificateSignature { .. } => {
            Message::new(Text::ErrorCertificateUntrusted)
        }
    }
}

fn describe_eid(error: &EidError) -> Message {
    match error {
        EidError::Transport(transport) => describe_transport(transport),
        EidError::NotBelgianEid { .. } | EidError::UnsupportedApplet { .. } => {
            Message::new(Text::ErrorNotEid)
        }
        EidError::WrongPin { tries_left } => {
            Message::with(Text::ErrorWrongPin, "tries", tries_left.to_string())
        }
        EidError::PinBlocked => Message::new(Text::ErrorPinBlocked),
        EidError::PinFormat(_) | EidError::PinpadPinLength => Message::new(Text::ErrorPinFormat),
        EidError::IdentitySignatureInvalid(_)
        | EidError::AddressSignatureInvalid(_)
        | EidError::PhotoHashMismatch
        | EidError::RrnCertificateUntrusted(_)
        | EidError::CertificateUntrusted { .. }
        | EidError::Data(_)
        | EidError::Crypto(_)
        | EidError::CardSignatureInvalid(_)
        | EidError::CardNotGenuine { .. } => Message::new(Text::ErrorCardUntrusted),
        EidError::ChipCheckBlocked { .. } => Message::new(Text::ErrorChipCheckBlocked),
        EidError::CertificateMissing { .. } => Message::new(Text::ErrorCardCannotSign),
        EidError::CardExpired { validity_end } => {
            Message::with(Text::ErrorCardExpired, "date", format_date(*validity_end))
        }
        EidError::PinpadTimeout => Message::new(Text::ErrorPinpadTimeout),
        EidError::PinpadCancelled => Message::new(Text::ErrorPinpadCancelled),
        EidError::PinpadUnavailable
        | EidError::SignatureRefused { .. }
        | EidError::FileNotFound { .. }
        | EidError::CardStatus { .. } => Message::new(Text::ErrorCardFailed),
    }
}

fn describe_transport(error: &TransportError) -> Message {
    match error {
        TransportError::ServiceNotRunning => Message::new(Text::ErrorCardService),
        TransportError::NoReader | TransportError::ReaderUnavailable { .. } => {
            Message::new(Text::ErrorNoReader)
        }
        TransportError::NoCard { .. } => Message::new(Text::ErrorNoCard),
        TransportError::CardRemoved => Message::new(Text::ErrorCardRemoved),
        TransportError::Unsupported
        | TransportError::Malformed { .. }
        | TransportError::Pcsc { .. }
        | TransportError::Other(_) => Message::new(Text::ErrorCardFailed),
    }
}

/// Describes an error of the eID reader met while connecting to the card.
pub fn describe_eid_error(error: &EidError) -> Message {
    describe_eid(error)
}

/// Describes an error of the certificate source.
pub fn describe_source_error(error: &CertificateSourceError) -> Message {
    match error {
        CertificateSourceError::NoStick => Message::new(Text::ErrorNoStick),
        CertificateSourceError::NoCertificate => Message::new(Text::ErrorNoCertificate),
        CertificateSourceError::TooManyFiles { .. } => Message::new(Text::ErrorTooManyFiles),
        CertificateSourceError::Unreadable { .. } => Message::new(Text::ErrorStickUnreadable),
        CertificateSourceError::Removed => Message::new(Text::ErrorStickRemoved),
        CertificateSourceError::MountUnavailable { .. } => {
            Message::new(Text::ErrorStickMountUnavailable)
        }
        CertificateSourceError::TooLarge { name, .. } => {
            Message::with(Text::ErrorFileTooLarge, "file", name.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn wrong_pin_names_tries_in_every_language() {
        let message =
            describe_mandate_error(&MandateError::Eid(EidError::WrongPin { tries_left: 2 }));

        assert_eq!(
            message.render(Language::English),
            "Wrong PIN. 2 tries left before the card blocks the PIN."
        );
        assert_eq!(
            message.render(Language::Dutch),
            "Verkeerde pincode. Nog 2 pogingen voor de kaart de pincode blokkeert."
        );
        assert_eq!(
            message.render(Language::French),
            "Code PIN erroné. Encore 2 essais avant que la carte bloque le PIN."
        );
    }

    #[test]
    fn chip_check_blocked_says_what_to_do() {
        let error = MandateError::Eid(EidError::ChipCheckBlocked { sw: 0x6982 });

        let message = describe_mandate_error(&error);

        assert_eq!(message.key, Text::ErrorChipCheckBlocked);
        assert!(
            message
                .render(Language::English)
                .contains("Enter its PIN once"),
            "{}",
            message.render(Language::English)
        );
    }

    #[test]
    fn wrong_password_says_what_to_do() {
        let error = MandateError::Keystore(KeystoreError::WrongPassword {
            file: "a.acc-p12".to_owned(),
        });

        let message = describe_mandate_error(&error);

        assert_eq!(message.key, Text::ErrorWrongPassword);
        assert!(message.render(Language::Dutch).contains("typ het opnieuw"));
    }

    #[test]
    fn end_date_error_shows_certificate_end() {
        let error = MandateError::Rule(RuleError::EndDateAfterCertificate {
            end: date(2028, 1, 1),
            certificate_end: date(2027, 11, 30),
        });

        let text = describe_mandate_error(&error).render(Language::French);

        assert!(text.contains("(30/11/2027)"), "{text}");
    }

    #[test]
    fn missing_card_asks_to_insert_it() {
        let error = EidError::Transport(TransportError::NoCard {
            reader: "VPCD 00 00".to_owned(),
        });

        let message = describe_eid_error(&error);

        assert_eq!(message.key, Text::ErrorNoCard);
    }

    #[test]
    fn large_file_names_the_file() {
        let error = CertificateSourceError::TooLarge {
            name: "photo.p12".to_owned(),
            size: 5_000_000,
            limit: 1_048_576,
        };

        let text = describe_source_error(&error).render(Language::English);

        assert!(text.starts_with("photo.p12 is too large"), "{text}");
    }
}
