//! Seeding a practice: doctors' boxes filled with realistic, sealed mail.
//!
//! For each recipient the mail generator writes plaintext messages (lab results, letters, KMEHR,
//! acknowledgments, errors, news). Every `Encryptable` field of a DOCUMENT is sealed separately to
//! the recipient's encryption certificate, taken from the ETK the depot publishes, as a real sender
//! does after `GetEtk`. Messages are then delivered straight into the INBOX through the platform's
//! seeding API, oldest first, so listings come out newest first as on the real platform.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng as _;
use x509_cert::Certificate;

use crate::ehbox::{
    self, Acknowledgment, Annex, BoxKey, BoxSettings, ContentType, Destination, Document,
    ErrorContent, FreeInformation, NewMessage, Platform, PlatformError, User,
};
use crate::etk::{self, EtkError};
use crate::etk_depot::EtkDepot;
use crate::mail::{self, GeneratedMessage, MailError, MessageKind, Notice, Recipient};
use crate::pki::{Doctor, TestPki, Variant};
use crate::seal::{self, SealError, SealOptions, SenderCredential};

/// The quality of a doctor's personal box.
pub const DOCTOR_QUALITY: &str = "DOCTOR";

/// Messages generated per practice doctor by [`seed_practice`]: three doctors get 210 in all.
pub const MESSAGES_PER_DOCTOR: usize = 70;

/// Errors of seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("INSZ {0} is not a doctor of the test PKI; use one listed by `ehealth-sim pki`")]
    UnknownDoctor(String),
    #[error("no ETK is published for INSZ {0}")]
    NoEtk(String),
    #[error("the ETK of INSZ {ssin} is invalid: {source}")]
    InvalidEtk { ssin: String, source: EtkError },
    #[error("the test PKI has no doctor other than INSZ {0} to sign sealed messages with")]
    NoSigner(String),
    #[error("preparing the sender credential of INSZ {ssin} failed: {source}")]
    Signer { ssin: String, source: SealError },
    #[error("generating mail failed: {0}")]
    Mail(#[from] MailError),
    #[error("sealing message {publication_id} failed: {source}")]
    Seal {
        publication_id: String,
        source: SealError,
    },
    #[error("delivering a message failed: {0}")]
    Platform(#[from] PlatformError),
}

/// What was seeded, for the admin API and the `serve --practice` summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SeedReport {
    /// Each box touched with the number of messages delivered to it.
    pub boxes: Vec<(BoxKey, usize)>,
    pub message_ids: Vec<String>,
}

/// Returns the practice doctors of the PKI: recognised doctors with normal certificates.
pub fn practice_doctors(pki: &TestPki) -> Vec<&Doctor> {
    pki.doctors
        .iter()
        .filter(|doctor| doctor.spec.recognised_as_doctor && doctor.spec.variant == Variant::Normal)
        .collect()
}

/// Returns the key of a doctor's personal box.
pub fn doctor_box(ssin: &str) -> BoxKey {
    BoxKey::person(ssin, DOCTOR_QUALITY)
}

/// Creates the personal box of a PKI doctor, if it does not exist yet.
pub fn create_doctor_box(
    platform: &mut Platform,
    doctor: &Doctor,
    max_size: Option<u64>,
) -> Result<BoxKey, PlatformError> {
    let key = doctor_box(&doctor.spec.ssin);
    if platform.box_state(&key).is_some() {
        return Ok(key);
    }
    let owner = User {
        inss: doctor.spec.ssin.clone(),
        first_name: doctor.spec.first_name.clone(),
        last_name: doctor.spec.last_name.clone(),
    };
    // `None` takes the platform's default MaxSize.
    let settings = BoxSettings {
        max_size,
        owner: Some(owner),
        name: None,
    };
    platform.create_box(key.clone(), settings)?;
    Ok(key)
}

/// Creates a box for every recognised doctor of the PKI and fills the practice doctors' boxes
/// with [`MESSAGES_PER_DOCTOR`] generated, sealed messages each.
pub fn seed_practice(
    pki: &TestPki,
    depot: &EtkDepot,
    platform: &mut Platform,
    seed: u64,
    now: Timestamp,
) -> Result<SeedReport, SeedError> {
    for doctor in pki
        .doctors
        .iter()
        .filter(|doctor| doctor.spec.recognised_as_doctor)
    {
        create_doctor_box(platform, doctor, None)?;
    }
    let ssins: Vec<String> = practice_doctors(pki)
        .iter()
        .map(|doctor| doctor.spec.ssin.clone())
        .collect();
    let messages = generate_messages(pki, depot, &ssins, MESSAGES_PER_DOCTOR, seed, now)?;
    deliver(platform, messages, now)
}

/// Generates `count` sealed messages for each doctor in `ssins`, in publication order.
pub fn generate_messages(
    pki: &TestPki,
    depot: &EtkDepot,
    ssins: &[String],
    count: usize,
    seed: u64,
    now: Timestamp,
) -> Result<Vec<NewMessage>, SeedError> {
    let mut recipients = Vec::new();
    for ssin in ssins {
        let doctor = pki
            .doctor(ssin)
            .ok_or_else(|| SeedError::UnknownDoctor(ssin.clone()))?;
        recipients.push(Recipient {
            ssin: doctor.spec.ssin.clone(),
            nihii11: doctor.spec.nihii11.clone(),
            first_name: doctor.spec.first_name.clone(),
            last_name: doctor.spec.last_name.clone(),
        });
    }
    let mut generated = mail::generate_practice_mail(seed, &recipients, count)?;
    generated.sort_by_key(|message| message.published);

    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x5ea1_5eed);
    let mut sealer = Sealer::new(pki, depot, now);
    generated
        .iter()
        .map(|message| sealer.new_message(message, &mut rng))
        .collect()
}

/// Delivers messages into their recipients' INBOX, in order.
pub fn deliver(
    platform: &mut Platform,
    messages: Vec<NewMessage>,
    now: Timestamp,
) -> Result<SeedReport, SeedError> {
    let mut report = SeedReport::default();
    for message in messages {
        let delivered = platform.deliver_message(message, now)?;
        for (key, _) in &delivered.placements {
            match report.boxes.iter_mut().find(|(seen, _)| seen == key) {
                Some((_, count)) => *count += 1,
                None => report.boxes.push((key.clone(), 1)),
            }
        }
        report.message_ids.push(delivered.message_id);
    }
    tracing::info!(
        messages = report.message_ids.len(),
        boxes = report.boxes.len(),
        "boxes seeded"
    );
    Ok(report)
}

/// Seals the fields of generated messages, caching each recipient's encryption certificate.
struct Sealer<'a> {
    pki: &'a TestPki,
    depot: &'a EtkDepot,
    now: Timestamp,
    recipients: Vec<(String, Certificate)>,
    signers: Vec<(String, SenderCredential)>,
}

impl<'a> Sealer<'a> {
    fn new(pki: &'a TestPki, depot: &'a EtkDepot, now: Timestamp) -> Self {
        Self {
            pki,
            depot,
            now,
            recipients: Vec::new(),
            signers: Vec::new(),
        }
    }

    fn new_message(
        &mut self,
        generated: &GeneratedMessage,
        rng: &mut ChaCha20Rng,
    ) -> Result<NewMessage, SeedError> {
        let sealed = generated.kind == MessageKind::Document;
        let recipient = if sealed {
            Some(self.recipient_certificate(&generated.recipient_ssin)?)
        } else {
            None
        };
        let signer = if sealed {
            Some(self.signer_for(&generated.recipient_ssin)?)
        } else {
            None
        };
        let publication_id = generated.publication_id.clone();

        let mut protect = |bytes: &[u8]| -> Result<Vec<u8>, SeedError> {
            let (Some(recipient), Some(signer)) = (&recipient, &signer) else {
                return Ok(bytes.to_vec());
            };
            let options = SealOptions::new(self.now);
            seal::seal(
                bytes,
                signer,
                std::slice::from_ref(recipient),
                &options,
                rng,
            )
            .map_err(|source| SeedError::Seal {
                publication_id: publication_id.clone(),
                source,
            })
        };

        let document = Document {
            title: generated.title.clone(),
            content: protect(&generated.document.bytes)?,
            download_file_name: generated.document.file_name.clone(),
            mime_type: generated.document.mime_type.clone(),
        };
        let mut annexes = Vec::new();
        for part in &generated.annexes {
            annexes.push(Annex {
                title: protect(part.title.as_bytes())?,
                content: protect(&part.bytes)?,
                download_file_name: part.file_name.clone(),
                mime_type: part.mime_type.clone(),
            });
        }
        let free_information = match &generated.free_text {
            Some(text) => Some(FreeInformation::FreeText(protect(text.as_bytes())?)),
            None => None,
        };
        let patient_inss = match &generated.patient {
            Some(patient) => Some(protect(patient.insz.as_bytes())?),
            None => None,
        };

        let recipient_key = doctor_box(&generated.recipient_ssin);
        let mut message = NewMessage::document(
            sender_of(generated),
            vec![self.destination(&recipient_key)],
            document,
        );
        message.publication_id = Some(generated.publication_id.clone());
        message.content_type = content_type_of(generated.kind);
        message.annexes = annexes;
        message.free_information = free_information;
        message.patient_inss = patient_inss;
        message.application_name = Some(generated.application_name.clone());
        message.is_important = generated.important;
        message.is_encrypted = sealed;
        apply_notice(&mut message, generated.notice.as_ref(), &recipient_key);
        Ok(message)
    }

    fn destination(&self, key: &BoxKey) -> Destination {
        let user = self.pki.doctor(&key.id).map(|doctor| User {
            inss: doctor.spec.ssin.clone(),
            first_name: doctor.spec.first_name.clone(),
            last_name: doctor.spec.last_name.clone(),
        });
        Destination {
            key: key.clone(),
            user,
            mandate: None,
        }
    }

    /// Returns the encryption certificate in the ETK the depot publishes for `ssin`.
    fn recipient_certificate(&mut self, ssin: &str) -> Result<Certificate, SeedError> {
        if let Some((_, certificate)) = self.recipients.iter().find(|(known, _)| known == ssin) {
            return Ok(certificate.clone());
        }
        let token = self
            .depot
            .etk_of_ssin(ssin)
            .ok_or_else(|| SeedError::NoEtk(ssin.to_owned()))?;
        let parsed = etk::parse_etk(token, self.pki.etk_ra.certificate()).map_err(|source| {
            SeedError::InvalidEtk {
                ssin: ssin.to_owned(),
                source,
            }
        })?;
        self.recipients
            .push((ssin.to_owned(), parsed.encryption_certificate.clone()));
        Ok(parsed.encryption_certificate)
    }

    /// Picks the credential that signs messages to `recipient_ssin`: another practice doctor.
    // TODO: senders in the generated mail are mostly hospitals and labs, but the test PKI issues no
    // organisation certificates, so a colleague's eHealth certificate signs in their place. A
    // client that checks the signer against the declared Sender will see the mismatch.
    fn signer_for(&mut self, recipient_ssin: &str) -> Result<SenderCredential, SeedError> {
        let doctors = practice_doctors(self.pki);
        let signer = doctors
            .iter()
            .find(|doctor| doctor.spec.ssin != recipient_ssin)
            .ok_or_else(|| SeedError::NoSigner(recipient_ssin.to_owned()))?;
        let ssin = signer.spec.ssin.clone();
        if let Some((_, credential)) = self.signers.iter().find(|(known, _)| *known == ssin) {
            return Ok(credential.clone());
        }
        let credential =
            sender_credential(self.pki, signer).map_err(|source| SeedError::Signer {
                ssin: ssin.clone(),
                source,
            })?;
        self.signers.push((ssin, credential.clone()));
        Ok(credential)
    }
}

/// Builds the sealing credential of a doctor: the authentication key with its CA chain.
pub fn sender_credential(pki: &TestPki, doctor: &Doctor) -> Result<SenderCredential, SealError> {
    let chain = pki
        .ca_chain()
        .iter()
        .map(|ca| ca.certificate().clone())
        .collect();
    SenderCredential::new(
        doctor.authentication.key().clone(),
        doctor.authentication.certificate().clone(),
        chain,
    )
}

fn sender_of(generated: &GeneratedMessage) -> ehbox::Sender {
    let sender = &generated.sender;
    let key = BoxKey {
        id: sender.id.clone(),
        id_type: sender.id_type.as_str().to_owned(),
        sub_type: sender.sub_type.clone(),
        quality: sender.quality.clone(),
    };
    ehbox::Sender {
        key,
        name: sender.name.clone(),
        first_name: sender.first_name.clone(),
        person_in_organisation: None,
    }
}

fn content_type_of(kind: MessageKind) -> ContentType {
    match kind {
        MessageKind::Document => ContentType::Document,
        MessageKind::Acknowledgment => ContentType::Acknowledgment,
        MessageKind::Error => ContentType::Error,
        MessageKind::News => ContentType::News,
    }
}

fn apply_notice(message: &mut NewMessage, notice: Option<&Notice>, recipient: &BoxKey) {
    match notice {
        Some(Notice::Acknowledgment {
            message_id,
            recipient: acknowledged,
            ack_type,
            date_time,
        }) => {
            message.acknowledgment = Some(Acknowledgment {
                message_id: message_id.clone(),
                recipient: acknowledged
                    .as_ref()
                    .map(|ssin| Destination::to_box(doctor_box(ssin))),
                ack_type: ack_type_of(*ack_type),
                date_time: brussels_instant(*date_time),
            });
        }
        Some(Notice::Error {
            code,
            messages,
            failed_destination,
            publication_id,
        }) => {
            message.error = Some(ErrorContent {
                code: code.clone(),
                messages: messages.clone(),
                failures: failed_destination.iter().cloned().collect(),
                destinations: vec![Destination::to_box(recipient.clone())],
                publication_id: Some(publication_id.clone()),
            });
        }
        None => {}
    }
}

fn ack_type_of(ack_type: mail::AckType) -> ehbox::AckType {
    match ack_type {
        mail::AckType::Published => ehbox::AckType::Published,
        mail::AckType::Received => ehbox::AckType::Received,
        mail::AckType::Read => ehbox::AckType::Read,
    }
}

/// Converts a local Belgian time of the generator to an instant.
fn brussels_instant(local: DateTime) -> Timestamp {
    let zone = TimeZone::get("Europe/Brussels").unwrap_or(TimeZone::UTC);
    zone.to_ambiguous_timestamp(local)
        .compatible()
        .map_or(Timestamp::UNIX_EPOCH, |instant| instant)
}
