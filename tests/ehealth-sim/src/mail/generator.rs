//! The practice mail mix: which documents a doctor's eHealthBox receives, from whom, and in
//! which shape.
//!
//! Per thousand messages: 330 Medidoc lab results, 200 HealthOne lab results, 120 Medidoc
//! letters, 110 HealthOne radiology reports, 100 KMEHR contact reports, 90 PDF letters, then 25
//! acknowledgements, 10 errors and 15 news messages. [`MailGenerator::generate`] deals these
//! shares exactly (largest remainder) and shuffles them, so even a few hundred messages contain
//! every kind.

use jiff::civil::{Date, DateTime};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::MailError;
use super::annex;
use super::content::{self, Flag, LabReport, LabValue, Letter};
use super::healthone::{self, HealthOneQuirks};
use super::kmehr;
use super::medidoc::{self, MedidocQuirks};
use super::message::{AckType, DocumentFormat, GeneratedMessage, MessageKind, Notice, Part};
use super::pdf;
use super::people::{self, Patient, Recipient};
use super::senders::{self, HOSPITALS, LABS, Practitioner, SPECIALTIES, Sender};
use super::text::{LineEnding, TextEncoding, TextFacts};

/// The date [`generate_practice_mail`] treats as today.
pub const DEFAULT_MAIL_DATE: Date = jiff::civil::date(2024, 3, 15);

/// Share of hostile sender file names among documents and annexes.
const HOSTILE_NAME_SHARE: f64 = 0.04;

/// Patients kept for repeat messages; until the pool is full, half the messages bring a new one.
const PATIENT_POOL_SIZE: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Template {
    MedidocLab,
    HealthOneLab,
    MedidocLetter,
    HealthOneRadiology,
    KmehrContactReport,
    PdfLetter,
    Acknowledgment,
    Error,
    News,
}

/// Share of each template, per thousand messages.
const MIX: [(Template, usize); 9] = [
    (Template::MedidocLab, 330),
    (Template::HealthOneLab, 200),
    (Template::MedidocLetter, 120),
    (Template::HealthOneRadiology, 110),
    (Template::KmehrContactReport, 100),
    (Template::PdfLetter, 90),
    (Template::Acknowledgment, 25),
    (Template::Error, 10),
    (Template::News, 15),
];

/// Generates `count_per_recipient` messages for each recipient, as of [`DEFAULT_MAIL_DATE`].
///
/// Returns the messages grouped by recipient, in the order of `recipients`. Fails when a
/// recipient's INSZ or RIZIV number is malformed.
pub fn generate_practice_mail(
    seed: u64,
    recipients: &[Recipient],
    count_per_recipient: usize,
) -> Result<Vec<GeneratedMessage>, MailError> {
    MailGenerator::new(seed, DEFAULT_MAIL_DATE).generate(recipients, count_per_recipient)
}

/// A deterministic source of practice mail.
#[derive(Debug)]
pub struct MailGenerator {
    rng: ChaCha8Rng,
    today: Date,
    patients: Vec<Patient>,
    specialists: Vec<Practitioner>,
    radiologists: Vec<Practitioner>,
    publication_prefix: String,
    next_publication: u64,
    next_lab_sequence: u32,
}

impl MailGenerator {
    /// Creates a generator whose messages are published in the two weeks before `today`.
    pub fn new(seed: u64, today: Date) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let specialists = SPECIALTIES
            .iter()
            .filter(|specialty| !specialty.is_radiology)
            .map(|specialty| senders::invent_practitioner(&mut rng, specialty))
            .collect();
        let radiology = SPECIALTIES
            .iter()
            .find(|specialty| specialty.is_radiology)
            .unwrap_or(&SPECIALTIES[0]);
        let radiologists = (0..3)
            .map(|_| senders::invent_practitioner(&mut rng, radiology))
            .collect();
        let publication_prefix = (0..4)
            .map(|_| char::from(rng.random_range(b'A'..=b'Z')))
            .collect();
        let next_lab_sequence = rng.random_range(100..60_000);
        Self {
            rng,
            today,
            patients: Vec::new(),
            specialists,
            radiologists,
            publication_prefix,
            next_publication: 1,
            next_lab_sequence,
        }
    }

    /// Generates `count_per_recipient` messages for each recipient, grouped by recipient, in the
    /// mix described in the module documentation.
    pub fn generate(
        &mut self,
        recipients: &[Recipient],
        count_per_recipient: usize,
    ) -> Result<Vec<GeneratedMessage>, MailError> {
        for recipient in recipients {
            recipient.validate()?;
        }
        let deck = self.deal(recipients.len() * count_per_recipient);
        let mut messages = Vec::with_capacity(deck.len());
        for (index, template) in deck.into_iter().enumerate() {
            let recipient = &recipients[index / count_per_recipient];
            messages.push(self.message(template, recipient)?);
        }
        Ok(messages)
    }

    /// Generates one message for `recipient`, its template drawn with the mix's weights.
    pub fn next_message(&mut self, recipient: &Recipient) -> Result<GeneratedMessage, MailError> {
        recipient.validate()?;
        let template = MIX
            .choose_weighted(&mut self.rng, |(_, share)| *share)
            .map(|(t, _)| *t);
        self.message(template.unwrap_or(Template::MedidocLab), recipient)
    }

    /// Deals `count` templates in the mix's proportions (largest remainder), shuffled.
    fn deal(&mut self, count: usize) -> Vec<Template> {
        let mut allocation: Vec<(Template, usize, usize)> = MIX
            .iter()
            .map(|&(template, share)| (template, share * count / 1000, share * count % 1000))
            .collect();
        let dealt: usize = allocation.iter().map(|(_, whole, _)| whole).sum();
        let mut by_remainder: Vec<usize> = (0..allocation.len()).collect();
        by_remainder.sort_by_key(|&index| std::cmp::Reverse(allocation[index].2));
        for &index in by_remainder.iter().take(count - dealt) {
            allocation[index].1 += 1;
        }

        let mut deck: Vec<Template> = allocation
            .iter()
            .flat_map(|&(template, whole, _)| std::iter::repeat_n(template, whole))
            .collect();
        deck.shuffle(&mut self.rng);
        deck
    }

    fn message(
        &mut self,
        template: Template,
        recipient: &Recipient,
    ) -> Result<GeneratedMessage, MailError> {
        match template {
            Template::MedidocLab => self.medidoc_lab(recipient),
            Template::HealthOneLab => self.healthone_lab(recipient),
            Template::MedidocLetter => self.medidoc_letter(recipient),
            Template::HealthOneRadiology => self.healthone_radiology(recipient),
            Template::KmehrContactReport => self.kmehr_contact_report(recipient),
            Template::PdfLetter => self.pdf_letter(recipient),
            Template::Acknowledgment => self.acknowledgment(recipient),
            Template::Error => self.error(recipient),
            Template::News => self.news(recipient),
        }
    }

    fn medidoc_lab(&mut self, recipient: &Recipient) -> Result<GeneratedMessage, MailError> {
        let published = self.published();
        let report = self.lab_report(recipient, published);
        let quirks = MedidocQuirks {
            short_birth_date: self.rng.random_bool(0.08),
            medidoc_patient_number: self.rng.random_bool(0.06),
            line_count_trailer: self.rng.random_bool(0.25),
        };
        let facts = self.legacy_text_facts();
        let bytes = facts.write_lines(&medidoc::lab_report_lines(&report, quirks))?;

        let lab = report.lab;
        let first = &report.requests[0];
        let (title, patient) = match report.requests.len() {
            1 => (
                lab_title(lab.dutch, &first.patient),
                Some(first.patient.clone()),
            ),
            count if lab.dutch => (format!("Labresultaten ({count} patiënten)"), None),
            count => (format!("Résultats de laboratoire ({count} patients)"), None),
        };
        let name = match self.rng.random_range(0..3u8) {
            0 => format!("{}.lab", first.reference),
            1 => format!("{}{}.LAB", lab.medidoc_id, published.strftime("%Y%m%d%H%M")),
            _ => format!("MEDIDOC_{}.txt", first.reference),
        };
        let document = self.part(&title, name, "text/plain", bytes, Some(facts));
        let mut message = self.document_message(
            DocumentFormat::Medidoc,
            title,
            lab.sender(),
            recipient,
            document,
        );
        message.patient = patient;
        message.application_name = "MEDIDOC LIS".to_owned();
        message.important = has_critical_result(&report) && self.rng.random_bool(0.5);
        message.published = published;
        Ok(message)
    }

    fn healthone_lab(&mut self, recipient: &Recipient) -> Result<GeneratedMessage, MailError> {
        let published = self.published();
        let lab = LABS.choose(&mut self.rng).unwrap_or(&LABS[0]);
        let patient = self.patient();
        let request = self.lab_request(lab, patient, published);
        let quirks = self.healthone_quirks();
        let time = if self.rng.random_bool(0.8) {
            format!(
                "{:02}{:02}",
                self.rng.random_range(7..12u8),
                self.rng.random_range(0..60u8)
            )
        } else {
            String::new()
        };
        let facts = self.legacy_text_facts();
        let lines = healthone::lab_lines(lab.name, recipient, &request, &time, quirks);
        let bytes = facts.write_lines(&lines)?;

        let title = lab_title(lab.dutch, &request.patient);
        let name = match self.rng.random_range(0..3u8) {
            0 => format!("{}.txt", request.reference),
            1 => format!("HEALTHONE_{}.lab", request.reference),
            _ => format!("{}.hl1", request.reference),
        };
        let document = self.part(&title, name, "text/plain", bytes, Some(facts));
        let mut message = self.document_message(
            DocumentFormat::HealthOne,
            title,
            lab.sender(),
            recipient,
            document,
        );
        message.patient = Some(request.patient);
        message.application_name = "HEALTHONE LIS".to_owned();
        message.published = published;
        Ok(message)
    }

    fn medidoc_letter(&mut self, recipient: &Recipient) -> Result<GeneratedMessage, MailError> {
        let letter = self.letter(recipient);
        let facts = self.legacy_text_facts();
        let quirks = MedidocQuirks {
            short_birth_date: self.rng.random_bool(0.05),
            medidoc_patient_number: false,
            line_count_trailer: self.rng.random_bool(0.2),
        };
        let bytes = facts.write_lines(&medidoc::letter_lines(&letter, quirks))?;
        let name = format!("{}.txt", letter.reference);
        let document = self.part(&letter.title, name, "text/plain", bytes, Some(facts));
        let sender = self.letter_sender(&letter);
        let mut message = self.document_message(
            DocumentFormat::Medidoc,
            letter.title.clone(),
            sender,
            recipient,
            document,
        );

        if self.rng.random_bool(0.3) {
            let pdf = pdf::text_document(&letter.title, &content::letter_print_lines(&letter));
            let annex = self.part(
                &letter.title,
                format!("{}.pdf", letter.reference),
                "application/pdf",
                pdf,
                None,
            );
            message.annexes.push(annex);
        }
        self.maybe_letter_annexes(&mut message, &letter)?;
        self.finish_letter_message(&mut message, &letter);
        Ok(message)
    }

    fn healthone_radiology(
        &mut self,
        recipient: &Recipient,
    ) -> Result<GeneratedMessage, MailError> {
        let exam_time = self.published();
        let department = HOSPITALS.choose(&mut self.rng).unwrap_or(&HOSPITALS[0]);
        let radiologist = self
            .radiologists
            .choose(&mut self.rng)
            .unwrap_or(&self.radiologists[0])
            .clone();
        let patient = self.patient();
        let report = content::invent_radiology_report(
            &mut self.rng,
            department,
            radiologist,
            recipient.clone(),
            patient,
            exam_time,
        );
        let quirks = self.healthone_quirks();
        let facts = self.legacy_text_facts();
        let bytes = facts.write_lines(&healthone::radiology_lines(&report, quirks))?;

        let title = format!("{} - {}", report.exam, report.patient.last_name);
        let name = format!("{}.txt", report.reference);
        let document = self.part(&title, name, "text/plain", bytes, Some(facts));
        let mut message = self.document_message(
            DocumentFormat::HealthOne,
            title,
            department.sender(),
            recipient,
            document,
        );
        if self.rng.random_bool(0.25) {
            let lines = content::radiology_lines(&report);
            let pdf = pdf::text_document(report.exam, &lines);
            let annex = self.part(
                report.exam,
                format!("{}.pdf", report.reference),
                "application/pdf",
                pdf,
                None,
            );
            message.annexes.push(annex);
        }
        if self.rng.random_bool(0.15) {
            let png = annex::key_image_png(&mut self.rng)?;
            let annex = self.part(
                "Key image",
                format!("{}_key.png", report.reference),
                "image/png",
                png,
                None,
            );
            message.annexes.push(annex);
        }
        message.patient = Some(report.patient);
        message.application_name = "RIS".to_owned();
        message.published = exam_time;
        Ok(message)
    }

    fn kmehr_contact_report(
        &mut self,
        recipient: &Recipient,
    ) -> Result<GeneratedMessage, MailError> {
        let letter = self.letter(recipient);
        let pdf = pdf::text_document(&letter.title, &content::letter_print_lines(&letter));
        let facts = self.kmehr_text_facts();
        let bytes = facts.write_lines(&kmehr::contact_report_lines(&letter, &pdf))?;
        let name = match self.rng.random_range(0..2u8) {
            0 => format!("{}.xml", letter.reference),
            _ => format!(
                "kmehr_{}_{}.xml",
                letter.hospital.nihii8,
                letter.written.strftime("%Y%m%d%H%M%S")
            ),
        };
        let document = self.part(&letter.title, name, "text/xml", bytes, Some(facts));
        let sender = letter.hospital.sender();
        let mut message = self.document_message(
            DocumentFormat::Kmehr,
            letter.title.clone(),
            sender,
            recipient,
            document,
        );
        self.maybe_letter_annexes(&mut message, &letter)?;
        self.finish_letter_message(&mut message, &letter);
        message.application_name = "KMEHR HIS".to_owned();
        Ok(message)
    }

    /// A PDF letter as the main document, with a Medidoc or KMEHR twin of the same letter.
    fn pdf_letter(&mut self, recipient: &Recipient) -> Result<GeneratedMessage, MailError> {
        let letter = self.letter(recipient);
        let pdf = pdf::text_document(&letter.title, &content::letter_print_lines(&letter));
        let document = self.part(
            &letter.title,
            format!("{}.pdf", letter.reference),
            "application/pdf",
            pdf.clone(),
            None,
        );
        let sender = self.letter_sender(&letter);
        let mut message = self.document_message(
            DocumentFormat::Pdf,
            letter.title.clone(),
            sender,
            recipient,
            document,
        );

        let twin = if self.rng.random_bool(0.5) {
            let facts = self.legacy_text_facts();
            let bytes =
                facts.write_lines(&medidoc::letter_lines(&letter, MedidocQuirks::default()))?;
            self.part(
                &letter.title,
                format!("{}.txt", letter.reference),
                "text/plain",
                bytes,
                Some(facts),
            )
        } else {
            let facts = self.kmehr_text_facts();
            let bytes = facts.write_lines(&kmehr::contact_report_lines(&letter, &pdf))?;
            self.part(
                &letter.title,
                format!("{}.xml", letter.reference),
                "text/xml",
                bytes,
                Some(facts),
            )
        };
        message.annexes.push(twin);
        self.maybe_letter_annexes(&mut message, &letter)?;
        self.finish_letter_message(&mut message, &letter);
        Ok(message)
    }

    fn acknowledgment(&mut self, recipient: &Recipient) -> Result<GeneratedMessage, MailError> {
        let published = self.published();
        let ack_type = *[AckType::Published, AckType::Received, AckType::Read]
            .choose(&mut self.rng)
            .unwrap_or(&AckType::Read);
        let message_id: String = (0..13).map(|_| self.alphanumeric()).collect();
        let colleague = self.colleague_ssin();

        let title = format!(
            "Acknowledgment {} for message {message_id}",
            ack_type.as_str()
        );
        let text = format!(
            "Message {message_id} was {} by {colleague} on {}.\n",
            ack_type.as_str().to_lowercase(),
            published.strftime("%Y-%m-%d %H:%M:%S")
        );
        let document = self.plain_part(&title, "acknowledgment.txt", &text);
        let mut message = self.platform_message(
            MessageKind::Acknowledgment,
            title,
            recipient,
            document,
            published,
        );
        message.notice = Some(Notice::Acknowledgment {
            message_id,
            recipient: self.rng.random_bool(0.7).then_some(colleague),
            ack_type,
            date_time: published,
        });
        Ok(message)
    }

    fn error(&mut self, recipient: &Recipient) -> Result<GeneratedMessage, MailError> {
        let published = self.published();
        let failed_publication = format!("P{:012}", self.rng.random_range(0..1_000_000_000_000u64));
        let destination = self.colleague_ssin();
        let (code, text) = match self.rng.random_range(0..3u8) {
            0 => (
                "802",
                format!("Invalid identifier: no eHealthBox found for INSS {destination}."),
            ),
            1 => (
                "803",
                format!("Invalid quality for recipient {destination}."),
            ),
            _ => (
                "801",
                "The message exceeds the maximum authorised size.".to_owned(),
            ),
        };

        let title = format!("Error {code} for publication {failed_publication}");
        let document = self.plain_part(&title, "error.txt", &format!("{text}\n"));
        let mut message =
            self.platform_message(MessageKind::Error, title, recipient, document, published);
        message.notice = Some(Notice::Error {
            code: code.to_owned(),
            messages: vec![text],
            failed_destination: (code != "801").then_some(destination),
            publication_id: failed_publication,
        });
        Ok(message)
    }

    fn news(&mut self, recipient: &Recipient) -> Result<GeneratedMessage, MailError> {
        let published = self.published();
        let day = published
            .date()
            .saturating_add(jiff::Span::new().days(self.rng.random_range(3..20i64)));
        let when = day.strftime("%d/%m/%Y").to_string();
        let (title, text) = if self.rng.random_bool(0.5) {
            (
                format!("Gepland onderhoud eHealth-platform op {when}"),
                format!(
                    "Beste gebruiker,\n\nOp {when} tussen 20:00 en 23:00 is de eHealthBox niet beschikbaar wegens gepland onderhoud.\nBerichten die in die periode verstuurd worden, komen nadien aan.\n\nHet eHealth-platform\n"
                ),
            )
        } else {
            (
                format!("Maintenance planifiée de la plateforme eHealth le {when}"),
                format!(
                    "Cher utilisateur,\n\nLe {when} entre 20h00 et 23h00, l'eHealthBox sera indisponible pour cause de maintenance planifiée.\nLes messages envoyés pendant cette période seront délivrés ensuite.\n\nLa plateforme eHealth\n"
                ),
            )
        };
        let document = self.plain_part(&title, "news.txt", &text);
        Ok(self.platform_message(MessageKind::News, title, recipient, document, published))
    }

    /// Builds an acknowledgement, error or news message from the eHealth platform.
    fn platform_message(
        &mut self,
        kind: MessageKind,
        title: String,
        recipient: &Recipient,
        document: Part,
        published: DateTime,
    ) -> GeneratedMessage {
        let sender = senders::platform_sender();
        let mut message =
            self.document_message(DocumentFormat::Other, title, sender, recipient, document);
        message.kind = kind;
        message.application_name = "EHBOX".to_owned();
        message.important = false;
        message.published = published;
        message
    }

    /// Invents the INSZ of a colleague the doctor wrote to, outside the patient pool.
    fn colleague_ssin(&mut self) -> String {
        people::invent_patient(&mut self.rng, self.today).insz
    }

    fn lab_report(&mut self, recipient: &Recipient, created: DateTime) -> LabReport {
        let lab = LABS.choose(&mut self.rng).unwrap_or(&LABS[0]);
        let count = if self.rng.random_bool(0.15) {
            self.rng.random_range(2..=4)
        } else {
            1
        };
        let requests = (0..count)
            .map(|_| {
                let patient = self.patient();
                self.lab_request(lab, patient, created)
            })
            .collect();
        LabReport {
            lab,
            requester: recipient.clone(),
            created,
            requests,
        }
    }

    fn lab_request(
        &mut self,
        lab: &senders::Lab,
        patient: Patient,
        created: DateTime,
    ) -> content::LabRequest {
        let request_date = created
            .date()
            .saturating_sub(jiff::Span::new().days(self.rng.random_range(0..3i64)));
        self.next_lab_sequence += 1;
        content::invent_lab_request(
            &mut self.rng,
            lab,
            patient,
            request_date,
            self.next_lab_sequence,
        )
    }

    fn letter(&mut self, recipient: &Recipient) -> Letter {
        let author = self
            .specialists
            .choose(&mut self.rng)
            .unwrap_or(&self.specialists[0])
            .clone();
        let dutch_hospitals: Vec<_> = HOSPITALS
            .iter()
            .filter(|hospital| hospital.dutch == author.dutch)
            .collect();
        let hospital = dutch_hospitals
            .choose(&mut self.rng)
            .copied()
            .unwrap_or(&HOSPITALS[0]);
        let patient = self.patient();
        let written = self.published();
        content::invent_letter(
            &mut self.rng,
            author,
            hospital,
            recipient.clone(),
            patient,
            written,
        )
    }

    /// Letters come from the specialist's own box or from the hospital's.
    fn letter_sender(&mut self, letter: &Letter) -> Sender {
        if self.rng.random_bool(0.5) {
            letter.author.sender()
        } else {
            letter.hospital.sender()
        }
    }

    fn maybe_letter_annexes(
        &mut self,
        message: &mut GeneratedMessage,
        letter: &Letter,
    ) -> Result<(), MailError> {
        if self.rng.random_bool(0.12) {
            let pages = self.rng.random_range(1..=2);
            let scan = annex::scanned_pdf(&mut self.rng, "Scan", pages);
            let title = if letter.author.dutch {
                "Gescande bijlage"
            } else {
                "Annexe scannée"
            };
            let annex = self.part(
                title,
                format!("scan_{}.pdf", letter.reference),
                "application/pdf",
                scan,
                None,
            );
            message.annexes.push(annex);
        }
        if letter.author.specialty.qualification == SPECIALTIES[0].qualification
            && self.rng.random_bool(0.4)
        {
            let png = annex::ecg_png(&mut self.rng)?;
            let annex = self.part(
                "ECG",
                format!("ECG_{}.png", letter.reference),
                "image/png",
                png,
                None,
            );
            message.annexes.push(annex);
        }
        Ok(())
    }

    fn finish_letter_message(&mut self, message: &mut GeneratedMessage, letter: &Letter) {
        message.patient = Some(letter.patient.clone());
        message.published = letter.written;
        if message.application_name.is_empty() {
            message.application_name = "EMD SPECIALIST".to_owned();
        }
        if self.rng.random_bool(0.25) {
            message.free_text = Some(letter.summary.clone());
        }
    }

    fn document_message(
        &mut self,
        format: DocumentFormat,
        title: String,
        sender: Sender,
        recipient: &Recipient,
        document: Part,
    ) -> GeneratedMessage {
        let important = self.rng.random_bool(0.03);
        GeneratedMessage {
            kind: MessageKind::Document,
            format,
            title,
            sender,
            recipient_ssin: recipient.ssin.clone(),
            patient: None,
            document,
            annexes: Vec::new(),
            free_text: None,
            publication_id: self.publication_id(),
            application_name: String::new(),
            important,
            published: self.today.at(8, 0, 0, 0),
            notice: None,
        }
    }

    /// Builds a part, replacing its file name by a hostile one now and then.
    fn part(
        &mut self,
        title: &str,
        file_name: String,
        mime_type: &str,
        bytes: Vec<u8>,
        text: Option<TextFacts>,
    ) -> Part {
        let hostile = self.rng.random_bool(HOSTILE_NAME_SHARE);
        let file_name = if hostile {
            self.hostile_file_name()
        } else {
            file_name
        };
        Part {
            title: title.to_owned(),
            file_name,
            mime_type: mime_type.to_owned(),
            bytes,
            text,
            file_name_is_hostile: hostile,
        }
    }

    fn plain_part(&mut self, title: &str, file_name: &str, text: &str) -> Part {
        let facts = TextFacts {
            encoding: TextEncoding::Utf8,
            line_ending: LineEnding::Lf,
        };
        Part {
            title: title.to_owned(),
            file_name: file_name.to_owned(),
            mime_type: "text/plain".to_owned(),
            bytes: text.as_bytes().to_vec(),
            text: Some(facts),
            file_name_is_hostile: false,
        }
    }

    /// Picks a file name that a naive writer would turn into a path traversal, a Windows device
    /// name or an over-long path, or one with accents or without an extension.
    fn hostile_file_name(&mut self) -> String {
        match self.rng.random_range(0..8u8) {
            0 => "..\\..\\evil.txt".to_owned(),
            1 => "CON.txt".to_owned(),
            2 => format!(
                "{}.pdf",
                "verslag_zeer_lange_naam_"
                    .repeat(10)
                    .chars()
                    .take(251)
                    .collect::<String>()
            ),
            3 => "verslag 12/03/2024.pdf".to_owned(),
            4 => "../../etc/passwd".to_owned(),
            5 => "Résultats_Hélène_Çelik.lab".to_owned(),
            6 => "LABRESULTAAT".to_owned(),
            _ => "aux".to_owned(),
        }
    }

    /// Text facts of Medidoc and HealthOne files: mostly legacy code pages and CRLF.
    fn legacy_text_facts(&mut self) -> TextFacts {
        let encoding = match self.rng.random_range(0..100u8) {
            0..30 => TextEncoding::Cp850,
            30..60 => TextEncoding::Windows1252,
            60..85 => TextEncoding::Utf8,
            _ => TextEncoding::Utf8WithBom,
        };
        let line_ending = if self.rng.random_bool(0.8) {
            LineEnding::Crlf
        } else {
            LineEnding::Lf
        };
        TextFacts {
            encoding,
            line_ending,
        }
    }

    /// Text facts of KMEHR files: UTF-8 as the XML declaration states, sometimes with a BOM.
    fn kmehr_text_facts(&mut self) -> TextFacts {
        let encoding = if self.rng.random_bool(0.15) {
            TextEncoding::Utf8WithBom
        } else {
            TextEncoding::Utf8
        };
        let line_ending = if self.rng.random_bool(0.6) {
            LineEnding::Lf
        } else {
            LineEnding::Crlf
        };
        TextFacts {
            encoding,
            line_ending,
        }
    }

    fn healthone_quirks(&mut self) -> HealthOneQuirks {
        HealthOneQuirks {
            insz_in_a2: self.rng.random_bool(0.3),
            no_trailing_backslash: self.rng.random_bool(0.1),
            dutch_female_letter: self.rng.random_bool(0.6),
            end_line: self.rng.random_bool(0.7),
        }
    }

    /// Picks a patient from the pool, or invents a new one (always while the pool fills).
    fn patient(&mut self) -> Patient {
        if self.patients.len() < PATIENT_POOL_SIZE
            && (self.patients.is_empty() || self.rng.random_bool(0.5))
        {
            let patient = people::invent_patient(&mut self.rng, self.today);
            self.patients.push(patient.clone());
            return patient;
        }
        self.patients
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or_else(|| people::invent_patient(&mut self.rng, self.today))
    }

    /// Picks a publication time in the 14 days before today, during working hours.
    fn published(&mut self) -> DateTime {
        let date = self
            .today
            .saturating_sub(jiff::Span::new().days(self.rng.random_range(0..14i64)));
        let hour = self.rng.random_range(6..20i8);
        let minute = self.rng.random_range(0..60i8);
        let second = self.rng.random_range(0..60i8);
        date.at(hour, minute, second, 0)
    }

    /// Returns a fresh 13-character publication id: 4 letters fixed per generator, 9 digits.
    fn publication_id(&mut self) -> String {
        let id = format!("{}{:09}", self.publication_prefix, self.next_publication);
        self.next_publication += 1;
        id
    }

    fn alphanumeric(&mut self) -> char {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        char::from(alphabet[self.rng.random_range(0..alphabet.len())])
    }
}

fn lab_title(dutch: bool, patient: &Patient) -> String {
    let name = format!(
        "{} {}",
        patient.last_name.to_uppercase(),
        patient.first_name
    );
    if dutch {
        format!("Labresultaten {name}")
    } else {
        format!("Résultats de laboratoire {name}")
    }
}

fn has_critical_result(report: &LabReport) -> bool {
    report
        .requests
        .iter()
        .flat_map(|request| &request.sections)
        .flat_map(|section| &section.results)
        .any(|result| {
            matches!(result.value, LabValue::Measured { .. })
                && matches!(result.flag, Flag::VeryHigh | Flag::VeryLow)
        })
}
