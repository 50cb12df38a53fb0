//! The practice's incoming mail: realistic sealed messages from the simulator's mail generator,
//! kept beside their plaintext so that what reaches the share can be compared byte for byte.
//!
//! Messages are generated and sealed up front, then delivered into the doctors' INBOX in waves,
//! as labs and hospitals send during a working day. One extra document is sealed to a doctor
//! outside the practice and delivered to a practice doctor. The box cannot open it, so it keeps
//! the message in the INBOX as held.

use std::collections::HashMap;

use ehealth_sim::clock::Clock as _;
use ehealth_sim::ehbox::{Destination, NewMessage, User};
use ehealth_sim::mail::{self, GeneratedMessage, MailError, MessageKind, Recipient};
use ehealth_sim::pki::Doctor;
use ehealth_sim::seed::{self, SeedError};
use ehealth_sim::server::RunningSimulator;

/// Errors of generating and delivering mail.
#[derive(Debug, thiserror::Error)]
pub enum MailPlanError {
    #[error("generating sealed mail failed: {0}")]
    Seed(#[from] SeedError),
    #[error("generating plaintext mail failed: {0}")]
    Mail(#[from] MailError),
    #[error(
        "sealed message {publication_id:?} has no plaintext twin; the mail generator is not \
         deterministic for this seed"
    )]
    NoPlaintext { publication_id: String },
    #[error("the mail generator produced no document for INSZ {ssin}; use another seed")]
    NoDocument { ssin: String },
}

/// One message to deliver: the sealed form the platform stores and the plaintext it came from.
#[derive(Debug, Clone)]
pub struct PlannedMessage {
    pub sealed: NewMessage,
    pub plain: GeneratedMessage,
    /// The INSZ of the doctor whose INBOX receives it.
    pub recipient: String,
    /// Sealed to someone else than the recipient, so the recipient's box cannot open it.
    pub misaddressed: bool,
}

impl PlannedMessage {
    pub fn kind(&self) -> MessageKind {
        self.plain.kind
    }
}

/// A message delivered into a doctor's INBOX, with the MessageId the platform gave it.
#[derive(Debug, Clone)]
pub struct DeliveredMessage {
    pub message_id: String,
    pub planned: PlannedMessage,
}

/// Generates `per_doctor` sealed messages for each doctor, in publication order, in the mix of
/// the mail generator (lab results, letters, KMEHR, PDF, annexes, acknowledgements, errors,
/// news).
pub fn generate(
    simulator: &RunningSimulator,
    doctors: &[&Doctor],
    per_doctor: usize,
    seed: u64,
) -> Result<Vec<PlannedMessage>, MailPlanError> {
    let ssins: Vec<String> = doctors
        .iter()
        .map(|doctor| doctor.spec.ssin.clone())
        .collect();
    let now = simulator.clock.now();
    let depot = &simulator.admin().etk_depot;
    let sealed = seed::generate_messages(&simulator.pki, depot, &ssins, per_doctor, seed, now)?;

    // The simulator seals what this same call generates: same seed, recipients and count.
    let recipients: Vec<Recipient> = doctors.iter().map(|doctor| recipient(doctor)).collect();
    let mut plain: HashMap<String, GeneratedMessage> =
        mail::generate_practice_mail(seed, &recipients, per_doctor)?
            .into_iter()
            .map(|message| (message.publication_id.clone(), message))
            .collect();

    sealed
        .into_iter()
        .map(|sealed| {
            let publication_id = sealed.publication_id.clone().unwrap_or_default();
            let plain = plain
                .remove(&publication_id)
                .ok_or(MailPlanError::NoPlaintext { publication_id })?;
            Ok(PlannedMessage {
                recipient: plain.recipient_ssin.clone(),
                sealed,
                plain,
                misaddressed: false,
            })
        })
        .collect()
}

/// Generates a document sealed to `sealed_for` and addressed to `delivered_to`'s box, as when a
/// sender picks the wrong doctor's encryption key.
pub fn misaddressed(
    simulator: &RunningSimulator,
    sealed_for: &Doctor,
    delivered_to: &Doctor,
    seed: u64,
) -> Result<PlannedMessage, MailPlanError> {
    let mut candidates = generate(simulator, &[sealed_for], 4, seed)?;
    let index = candidates
        .iter()
        .position(|candidate| candidate.kind() == MessageKind::Document)
        .ok_or_else(|| MailPlanError::NoDocument {
            ssin: sealed_for.spec.ssin.clone(),
        })?;
    let mut planned = candidates.swap_remove(index);

    let spec = &delivered_to.spec;
    planned.sealed.destinations = vec![Destination {
        key: seed::doctor_box(&spec.ssin),
        user: Some(User {
            inss: spec.ssin.clone(),
            first_name: spec.first_name.clone(),
            last_name: spec.last_name.clone(),
        }),
        mandate: None,
    }];
    planned.recipient = spec.ssin.clone();
    planned.misaddressed = true;
    Ok(planned)
}

/// Splits messages into `waves` groups of about equal size. Documents keep their publication
/// order; acknowledgements, errors and news are spread over the waves, so that most waves show
/// one.
pub fn plan_waves(messages: Vec<PlannedMessage>, waves: usize) -> Vec<Vec<PlannedMessage>> {
    let waves = waves.max(1);
    let (documents, notices): (Vec<_>, Vec<_>) = messages
        .into_iter()
        .partition(|message| message.kind() == MessageKind::Document);

    let mut plan: Vec<Vec<PlannedMessage>> = vec![Vec::new(); waves];
    let per_wave = documents.len().div_ceil(waves).max(1);
    for (index, message) in documents.into_iter().enumerate() {
        plan[(index / per_wave).min(waves - 1)].push(message);
    }
    for (index, message) in notices.into_iter().enumerate() {
        plan[index % waves].push(message);
    }
    plan
}

/// Picks from `pool` the first `documents_per_doctor` documents of each recipient, and up to
/// `notices` acknowledgements, errors and news, taking those three kinds in turn. The picked
/// messages keep their order in `pool`.
pub fn pick(
    pool: Vec<PlannedMessage>,
    documents_per_doctor: usize,
    notices: usize,
) -> Vec<PlannedMessage> {
    let mut documents: HashMap<String, usize> = HashMap::new();
    let mut keep = vec![false; pool.len()];
    for (index, message) in pool.iter().enumerate() {
        if message.kind() != MessageKind::Document {
            continue;
        }
        let count = documents.entry(message.recipient.clone()).or_default();
        if *count < documents_per_doctor {
            *count += 1;
            keep[index] = true;
        }
    }

    let kinds = [
        MessageKind::Acknowledgment,
        MessageKind::Error,
        MessageKind::News,
    ];
    let mut picked_notices = 0;
    let mut turn = 0;
    let mut kinds_left = kinds.len();
    while picked_notices < notices && kinds_left > 0 {
        let kind = kinds[turn % kinds.len()];
        turn += 1;
        let next = pool
            .iter()
            .enumerate()
            .position(|(index, message)| !keep[index] && message.kind() == kind);
        match next {
            Some(index) => {
                keep[index] = true;
                picked_notices += 1;
                kinds_left = kinds.len();
            }
            None => kinds_left -= 1,
        }
    }

    pool.into_iter()
        .zip(keep)
        .filter_map(|(message, keep)| keep.then_some(message))
        .collect()
}

/// Delivers messages straight into their recipients' INBOX, in order.
pub fn deliver(
    simulator: &RunningSimulator,
    messages: Vec<PlannedMessage>,
) -> Result<Vec<DeliveredMessage>, MailPlanError> {
    let now = simulator.clock.now();
    let sealed: Vec<NewMessage> = messages
        .iter()
        .map(|message| message.sealed.clone())
        .collect();
    let report = {
        // A poisoned lock means a request handler panicked; the platform state is still whole.
        let mut platform = simulator
            .platform
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seed::deliver(&mut platform, sealed, now)?
    };
    Ok(report
        .message_ids
        .into_iter()
        .zip(messages)
        .map(|(message_id, planned)| DeliveredMessage {
            message_id,
            planned,
        })
        .collect())
}

fn recipient(doctor: &Doctor) -> Recipient {
    Recipient {
        ssin: doctor.spec.ssin.clone(),
        nihii11: doctor.spec.nihii11.clone(),
        first_name: doctor.spec.first_name.clone(),
        last_name: doctor.spec.last_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ehealth_sim::mail::DocumentFormat;

    fn planned(kind: MessageKind, title: &str) -> PlannedMessage {
        let spec = &ehealth_sim::pki::practice()[0];
        let recipient = Recipient {
            ssin: spec.ssin.clone(),
            nihii11: spec.nihii11.clone(),
            first_name: spec.first_name.clone(),
            last_name: spec.last_name.clone(),
        };
        let generated = mail::generate_practice_mail(7, &[recipient], 1).expect("generated mail");
        let mut plain = generated[0].clone();
        plain.kind = kind;
        plain.format = DocumentFormat::Other;
        plain.title = title.to_owned();
        let sealed = NewMessage::document(
            ehealth_sim::ehbox::Sender {
                key: seed::doctor_box(&spec.ssin),
                name: "Lab".to_owned(),
                first_name: None,
                person_in_organisation: None,
            },
            Vec::new(),
            ehealth_sim::ehbox::Document {
                title: title.to_owned(),
                content: Vec::new(),
                download_file_name: "a.txt".to_owned(),
                mime_type: "text/plain".to_owned(),
            },
        );
        PlannedMessage {
            sealed,
            plain,
            recipient: spec.ssin.clone(),
            misaddressed: false,
        }
    }

    fn titles(wave: &[PlannedMessage]) -> Vec<&str> {
        wave.iter()
            .map(|message| message.plain.title.as_str())
            .collect()
    }

    #[test]
    fn waves_keep_document_order() {
        let messages = (0..7)
            .map(|i| planned(MessageKind::Document, &format!("d{i}")))
            .collect();
        let plan = plan_waves(messages, 3);
        assert_eq!(titles(&plan[0]), ["d0", "d1", "d2"]);
        assert_eq!(titles(&plan[1]), ["d3", "d4", "d5"]);
        assert_eq!(titles(&plan[2]), ["d6"]);
    }

    #[test]
    fn waves_spread_notices() {
        let mut messages: Vec<PlannedMessage> = (0..4)
            .map(|i| planned(MessageKind::Document, &format!("d{i}")))
            .collect();
        messages.insert(1, planned(MessageKind::News, "n0"));
        messages.push(planned(MessageKind::Acknowledgment, "a0"));
        let plan = plan_waves(messages, 2);
        assert_eq!(titles(&plan[0]), ["d0", "d1", "n0"]);
        assert_eq!(titles(&plan[1]), ["d2", "d3", "a0"]);
    }

    #[test]
    fn pick_takes_notice_kinds_in_turn() {
        let pool = vec![
            planned(MessageKind::Document, "d0"),
            planned(MessageKind::Acknowledgment, "a0"),
            planned(MessageKind::Acknowledgment, "a1"),
            planned(MessageKind::Document, "d1"),
            planned(MessageKind::News, "n0"),
            planned(MessageKind::Document, "d2"),
            planned(MessageKind::Acknowledgment, "a2"),
        ];
        let picked = pick(pool, 2, 3);
        assert_eq!(titles(&picked), ["d0", "a0", "a1", "d1", "n0"]);
    }

    #[test]
    fn pick_stops_when_pool_runs_out() {
        let pool = vec![
            planned(MessageKind::Document, "d0"),
            planned(MessageKind::Error, "e0"),
        ];
        let picked = pick(pool, 5, 4);
        assert_eq!(titles(&picked), ["d0", "e0"]);
    }

    #[test]
    fn zero_waves_means_one() {
        let plan = plan_waves(vec![planned(MessageKind::Document, "d0")], 0);
        assert_eq!(plan.len(), 1);
        assert_eq!(titles(&plan[0]), ["d0"]);
    }
}
