//! sendMessage: validation, delivery, PublicationId rules, acknowledgments and ERROR messages.

use sha2::{Digest as _, Sha256};

use super::*;
use crate::ehbox::xml::encode_base64;
use crate::wire::Attachment;

/// How a test request states the document digest.
#[derive(Clone, Copy)]
enum DigestChoice {
    Correct,
    Wrong,
    Absent,
}

/// A `SendMessageRequest` under construction, with doctor B as the only recipient by default.
struct SendRequest {
    publication_id: String,
    recipients: Vec<String>,
    content_type: &'static str,
    content: Vec<u8>,
    digest: DigestChoice,
    receipts: Receipts,
    annexes: String,
    /// Replaces the inline document content element when set.
    binary_content: Option<String>,
}

impl SendRequest {
    fn new(publication_id: &str) -> Self {
        Self {
            publication_id: publication_id.to_owned(),
            recipients: vec![recipient(DOCTOR_B, "INSS", "DOCTOR")],
            content_type: "DOCUMENT",
            content: b"document body".to_vec(),
            digest: DigestChoice::Correct,
            receipts: Receipts::default(),
            annexes: String::new(),
            binary_content: None,
        }
    }

    fn xml(&self) -> String {
        let digest = match self.digest {
            DigestChoice::Correct => format!("<Digest>{}</Digest>", sha256_base64(&self.content)),
            DigestChoice::Wrong => format!("<Digest>{}</Digest>", sha256_base64(b"other bytes")),
            DigestChoice::Absent => String::new(),
        };
        let content = self.binary_content.clone().unwrap_or_else(|| {
            format!(
                "<EncryptableTextContent>{}</EncryptableTextContent>",
                encode_base64(&self.content)
            )
        });
        let receipts = format!(
            "<PublicationReceipt>{}</PublicationReceipt><ReceivedReceipt>{}</ReceivedReceipt><ReadReceipt>{}</ReadReceipt>",
            self.receipts.publication, self.receipts.received, self.receipts.read
        );
        format!(
            r#"<pub:SendMessageRequest xmlns:pub="{PUBLICATION_NS}" PublicationId="{}">{}<ContentContext><Content><Document><Title>Discharge letter</Title>{content}<DownloadFileName>letter.txt</DownloadFileName><MimeType>text/plain</MimeType>{digest}</Document>{}</Content><ContentSpecification><ApplicationName>SIM</ApplicationName><ContentType>{}</ContentType><IsImportant>false</IsImportant><IsEncrypted>false</IsEncrypted>{receipts}</ContentSpecification></ContentContext></pub:SendMessageRequest>"#,
            self.publication_id,
            self.recipients.concat(),
            self.annexes,
            self.content_type,
        )
    }
}

fn recipient(id: &str, id_type: &str, quality: &str) -> String {
    format!(
        "<DestinationContext><Id>{id}</Id><Type>{id_type}</Type><Quality>{quality}</Quality></DestinationContext>"
    )
}

fn sha256_base64(bytes: &[u8]) -> String {
    encode_base64(&Sha256::digest(bytes))
}

fn send(
    platform: &mut Platform,
    caller: &Caller,
    request: &str,
    attachments: &[Attachment],
    now: Timestamp,
    options: &PublicationOptions,
) -> Result<SoapReply, Fault> {
    let document = XmlDocument::parse(request).expect("test request is well-formed XML");
    handle_publication(
        platform,
        caller,
        document.root_element(),
        attachments,
        now,
        options,
    )
}

fn send_default(
    platform: &mut Platform,
    request: &SendRequest,
    now: Timestamp,
) -> Result<SoapReply, Fault> {
    send(
        platform,
        &doctor(DOCTOR_A),
        &request.xml(),
        &[],
        now,
        &PublicationOptions::default(),
    )
}

fn messages_in(platform: &Platform, key: &BoxKey, folder: Folder) -> Vec<EntryState> {
    let state = platform.box_state(key).expect("box");
    state
        .messages
        .into_iter()
        .filter(|m| m.folder == folder)
        .collect()
}

#[test]
fn send_delivers_to_inbox_and_sentbox() {
    let mut platform = platform();

    let reply =
        send_default(&mut platform, &SendRequest::new("pub-1"), later(0)).expect("accepted");

    assert_eq!(text(&reply.body, "Code"), "100");
    assert_unqualified(&reply.body, PUBLICATION_NS, false);
    let document = XmlDocument::parse(&reply.body).expect("xml");
    assert_eq!(
        document.root_element().attribute("SentPublicationId"),
        Some("pub-1")
    );

    let received = messages_in(&platform, &doctor_box(DOCTOR_B), Folder::Inbox);
    let sent = messages_in(&platform, &doctor_box(DOCTOR_A), Folder::Sentbox);
    assert_eq!(received.len(), 1);
    assert_eq!(sent.len(), 1);
    assert_eq!(received[0].message_id, sent[0].message_id);
    assert_eq!(received[0].sender, doctor_box(DOCTOR_A));
    let stored = platform
        .find_message(&doctor_box(DOCTOR_B), &received[0].message_id)
        .expect("message");
    assert_eq!(stored.content.document.content, b"document body");
    assert_eq!(stored.content.sender.name, "Peeters");
}

#[test]
fn digest_mismatch_rejected_with_816() {
    let mut platform = platform();
    let mut request = SendRequest::new("pub-1");
    request.digest = DigestChoice::Wrong;

    let result = send_default(&mut platform, &request, later(0));

    assert_eq!(fault_code(result), "816");
    assert!(messages_in(&platform, &doctor_box(DOCTOR_B), Folder::Inbox).is_empty());
}

#[test]
fn annex_digest_checked() {
    let mut platform = platform();
    let mut request = SendRequest::new("pub-1");
    request.annexes = format!(
        "<Annex><EncryptableTitle>{}</EncryptableTitle><EncryptableTextContent>{}</EncryptableTextContent><DownloadFileName>a.pdf</DownloadFileName><MimeType>application/pdf</MimeType><Digest>{}</Digest></Annex>",
        encode_base64(b"annex"),
        encode_base64(b"annex bytes"),
        sha256_base64(b"different annex bytes"),
    );

    let result = send_default(&mut platform, &request, later(0));

    assert_eq!(fault_code(result), "816");
}

#[test]
fn absent_digest_accepted() {
    let mut platform = platform();
    let mut request = SendRequest::new("pub-1");
    request.digest = DigestChoice::Absent;

    send_default(&mut platform, &request, later(0)).expect("accepted");

    assert_eq!(
        messages_in(&platform, &doctor_box(DOCTOR_B), Folder::Inbox).len(),
        1
    );
}

#[test]
fn document_publication_id_not_reusable() {
    let mut platform = platform();
    send_default(&mut platform, &SendRequest::new("pub-1"), later(0)).expect("first");

    let second = send_default(&mut platform, &SendRequest::new("pub-1"), later(10));

    assert_eq!(fault_code(second), "815");
    assert_eq!(
        messages_in(&platform, &doctor_box(DOCTOR_B), Folder::Inbox).len(),
        1
    );
}

#[test]
fn news_replaces_earlier_news() {
    let mut platform = platform();
    let mut first = SendRequest::new("news-1");
    first.content_type = "NEWS";
    first.content = b"opening hours v1".to_vec();
    send_default(&mut platform, &first, later(0)).expect("first news");
    let mut second = SendRequest::new("news-1");
    second.content_type = "NEWS";
    second.content = b"opening hours v2".to_vec();

    send_default(&mut platform, &second, later(10)).expect("replacing news");

    let inbox = messages_in(&platform, &doctor_box(DOCTOR_B), Folder::Inbox);
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].content_type, ContentType::News);
    let stored = platform
        .find_message(&doctor_box(DOCTOR_B), &inbox[0].message_id)
        .expect("message");
    assert_eq!(stored.content.document.content, b"opening hours v2");
    assert_eq!(
        messages_in(&platform, &doctor_box(DOCTOR_A), Folder::Sentbox).len(),
        1
    );

    let mut document = SendRequest::new("news-1");
    document.content_type = "DOCUMENT";
    assert_eq!(
        fault_code(send_default(&mut platform, &document, later(20))),
        "815"
    );
}

#[test]
fn unknown_recipient_gets_error_message() {
    let mut platform = platform();
    let unknown = "62030312345";
    let mut request = SendRequest::new("pub-1");
    request
        .recipients
        .push(recipient(unknown, "INSS", "DOCTOR"));
    let options = PublicationOptions::default();

    let reply = send(
        &mut platform,
        &doctor(DOCTOR_A),
        &request.xml(),
        &[],
        later(0),
        &options,
    )
    .expect("accepted");

    assert_eq!(text(&reply.body, "Code"), "100");
    assert_eq!(
        messages_in(&platform, &doctor_box(DOCTOR_B), Folder::Inbox).len(),
        1
    );
    let errors = messages_in(&platform, &doctor_box(DOCTOR_A), Folder::Inbox);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].content_type, ContentType::Error);

    let full = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &consultation_request(
            "GetFullMessageRequest",
            &format!(
                "<Source>INBOX</Source><MessageId>{}</MessageId>",
                errors[0].message_id
            ),
        ),
        later(5),
        &ConsultationOptions::default(),
    )
    .expect("error message");
    let document = XmlDocument::parse(&full.body).expect("xml");
    let error = document
        .descendants()
        .find(|n| n.tag_name().name() == "Error")
        .expect("Error element");
    assert_eq!(error.attribute("PublicationId"), Some("pub-1"));
    let error_xml = &full.body[error.range()];
    assert_eq!(text(error_xml, "Code"), "820");
    assert_eq!(text(error_xml, "Id"), unknown);
    assert_unqualified(&full.body, CONSULTATION_NS, true);
}

#[test]
fn receipts_produce_acknowledgments_and_history() {
    let mut platform = platform();
    let mut request = SendRequest::new("pub-1");
    request.receipts = Receipts {
        publication: true,
        received: true,
        read: false,
    };

    send_default(&mut platform, &request, later(0)).expect("accepted");

    let sent = messages_in(&platform, &doctor_box(DOCTOR_A), Folder::Sentbox);
    let acks = messages_in(&platform, &doctor_box(DOCTOR_A), Folder::Inbox);
    assert_eq!(acks.len(), 2);
    let mut kinds: Vec<AckType> = acks
        .iter()
        .map(|a| {
            let stored = platform
                .find_message(&doctor_box(DOCTOR_A), &a.message_id)
                .expect("ack");
            stored
                .content
                .acknowledgment
                .as_ref()
                .expect("acknowledgment content")
                .ack_type
        })
        .collect();
    kinds.sort_by_key(|k| k.wire_name());
    assert_eq!(kinds, vec![AckType::Published, AckType::Received]);

    let history = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &consultation_request(
            "GetHistoryRequest",
            &format!(
                "<Source>HISTORY</Source><MessageId>{}</MessageId>",
                sent[0].message_id
            ),
        ),
        later(5),
        &ConsultationOptions::default(),
    )
    .expect("history");
    let ids = texts(&history.body, "MessageId");
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], sent[0].message_id);
    assert_unqualified(&history.body, CONSULTATION_NS, false);
}

#[test]
fn delayed_delivery_arrives_when_due() {
    let mut platform = platform();
    let options = PublicationOptions {
        delivery_delay: SignedDuration::from_secs(60),
        ..PublicationOptions::default()
    };

    send(
        &mut platform,
        &doctor(DOCTOR_A),
        &SendRequest::new("pub-1").xml(),
        &[],
        later(0),
        &options,
    )
    .expect("accepted");
    assert!(messages_in(&platform, &doctor_box(DOCTOR_B), Folder::Inbox).is_empty());
    assert_eq!(
        messages_in(&platform, &doctor_box(DOCTOR_A), Folder::Sentbox).len(),
        1
    );

    let early = consult(
        &mut platform,
        &doctor(DOCTOR_B),
        &list_request("INBOX", 1, 100),
        later(59),
        &ConsultationOptions::default(),
    )
    .expect("list");
    assert!(listed_ids(&early).is_empty());
    let due = consult(
        &mut platform,
        &doctor(DOCTOR_B),
        &list_request("INBOX", 1, 100),
        later(60),
        &ConsultationOptions::default(),
    )
    .expect("list");
    assert_eq!(listed_ids(&due).len(), 1);
}

#[test]
fn invalid_recipients_get_80x_codes() {
    let cases = [
        (recipient(DOCTOR_B, "SSN", "DOCTOR"), "804"),
        (recipient("1234", "INSS", "DOCTOR"), "802"),
        (recipient(DOCTOR_B, "INSS", "WIZARD"), "803"),
        (
            "<DestinationContext><Id>71000436</Id><Type>NIHII</Type><SubType>CASTLE</SubType><Quality>HOSPITAL</Quality></DestinationContext>".to_owned(),
            "805",
        ),
    ];
    for (destination, expected) in cases {
        let mut platform = platform();
        let mut request = SendRequest::new("pub-1");
        request.recipients = vec![destination.clone()];

        let result = send_default(&mut platform, &request, later(0));

        assert_eq!(fault_code(result), expected, "{destination}");
    }
}

#[test]
fn forbidden_quality_gets_814() {
    let mut platform = platform();
    let options = PublicationOptions {
        forbidden_destination_qualities: vec!["DOCTOR".to_owned()],
        ..PublicationOptions::default()
    };

    let result = send(
        &mut platform,
        &doctor(DOCTOR_A),
        &SendRequest::new("pub-1").xml(),
        &[],
        later(0),
        &options,
    );

    assert_eq!(fault_code(result), "814");
}

#[test]
fn oversized_message_gets_801() {
    let mut platform = platform();
    let options = PublicationOptions {
        max_message_size: 8,
        ..PublicationOptions::default()
    };

    let result = send(
        &mut platform,
        &doctor(DOCTOR_A),
        &SendRequest::new("pub-1").xml(),
        &[],
        later(0),
        &options,
    );

    assert_eq!(fault_code(result), "801");
}

#[test]
fn business_error_as_status_response() {
    let mut platform = platform();
    let options = PublicationOptions {
        max_message_size: 8,
        business_errors: BusinessErrorStyle::Status,
        ..PublicationOptions::default()
    };

    let reply = send(
        &mut platform,
        &doctor(DOCTOR_A),
        &SendRequest::new("pub-1").xml(),
        &[],
        later(0),
        &options,
    )
    .expect("status response");

    assert_eq!(text(&reply.body, "Code"), "801");
    assert_unqualified(&reply.body, PUBLICATION_NS, false);
}

#[test]
fn swaref_and_mtom_content_resolved() {
    let bytes = b"binary document".to_vec();
    let part = Attachment {
        content_id: "doc-1@client".to_owned(),
        content_type: "application/octet-stream".to_owned(),
        bytes: bytes.clone(),
    };
    let forms = [
        "<EncryptableBinaryContent>cid:doc-1@client</EncryptableBinaryContent>".to_owned(),
        format!(
            r#"<EncryptableBinaryContent><xop:Include xmlns:xop="{XOP_NS}" href="cid:doc-1@client"/></EncryptableBinaryContent>"#
        ),
    ];
    for form in forms {
        let mut platform = platform();
        let mut request = SendRequest::new("pub-1");
        request.content = bytes.clone();
        request.binary_content = Some(form.clone());

        send(
            &mut platform,
            &doctor(DOCTOR_A),
            &request.xml(),
            std::slice::from_ref(&part),
            later(0),
            &PublicationOptions::default(),
        )
        .expect("accepted");

        let inbox = messages_in(&platform, &doctor_box(DOCTOR_B), Folder::Inbox);
        let stored = platform
            .find_message(&doctor_box(DOCTOR_B), &inbox[0].message_id)
            .expect("message");
        assert_eq!(stored.content.document.content, bytes, "{form}");
    }
}

#[test]
fn missing_mime_part_rejected() {
    let mut platform = platform();
    let mut request = SendRequest::new("pub-1");
    request.binary_content =
        Some("<EncryptableBinaryContent>cid:absent</EncryptableBinaryContent>".to_owned());

    let result = send_default(&mut platform, &request, later(0));

    assert_eq!(fault_code(result), "SOA-03006");
}

#[test]
fn sender_without_doctor_attribute_gets_soa_01002() {
    let mut platform = platform();
    let options = PublicationOptions::default();

    let result = send(
        &mut platform,
        &not_a_doctor(NOT_A_DOCTOR),
        &SendRequest::new("pub-1").xml(),
        &[],
        later(0),
        &options,
    );

    assert_eq!(fault_code(result), "SOA-01002");
}

#[test]
fn long_publication_id_rejected() {
    let mut platform = platform();

    let result = send_default(&mut platform, &SendRequest::new("publication-14"), later(0));

    assert_eq!(fault_code(result), "SOA-03006");
}

#[test]
fn send_from_granted_box_names_person() {
    let mut platform = platform();
    platform
        .create_box(
            hospital_box(),
            BoxSettings {
                name: Some("AZ Simulatie".to_owned()),
                ..BoxSettings::default()
            },
        )
        .expect("new box");
    platform
        .grant_access(DOCTOR_A, hospital_box())
        .expect("box exists");
    let request = SendRequest::new("pub-1").xml().replacen(
        "<DestinationContext>",
        "<BoxId><Id>71000436</Id><Type>NIHII</Type><SubType>HOSPITAL</SubType><Quality>HOSPITAL</Quality></BoxId><DestinationContext>",
        1,
    );

    send(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        &[],
        later(0),
        &PublicationOptions::default(),
    )
    .expect("accepted");

    let inbox = messages_in(&platform, &doctor_box(DOCTOR_B), Folder::Inbox);
    let stored = platform
        .find_message(&doctor_box(DOCTOR_B), &inbox[0].message_id)
        .expect("message");
    assert_eq!(stored.content.sender.key, hospital_box());
    assert_eq!(stored.content.sender.name, "AZ Simulatie");
    assert_eq!(
        stored.content.sender.person_in_organisation.as_deref(),
        Some(DOCTOR_A)
    );
    assert_eq!(
        messages_in(&platform, &hospital_box(), Folder::Sentbox).len(),
        1
    );
}
