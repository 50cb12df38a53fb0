//! getFullMessage: binary modes, the double base64 quirk, read marking and READ acknowledgments.

use super::*;
use crate::ehbox::xml::decode_base64;

const DOCUMENT_BYTES: &[u8] = b"\x30\x82\x01\x00 sealed-looking document bytes";
const ANNEX_BYTES: &[u8] = b"%PDF-1.7 annex";

/// Creates a message to doctor A with an annex, free text and a patient INSZ.
fn rich_message() -> NewMessage {
    let mut message = letter(&doctor_box(DOCTOR_A), DOCUMENT_BYTES);
    message.publication_id = Some("pub-0001".to_owned());
    message.annexes.push(Annex {
        title: b"scan".to_vec(),
        content: ANNEX_BYTES.to_vec(),
        download_file_name: "scan.pdf".to_owned(),
        mime_type: "application/pdf".to_owned(),
    });
    message.free_information = Some(FreeInformation::FreeText(b"free text".to_vec()));
    message.patient_inss = Some(b"85073003328".to_vec());
    message.custom_meta.push(MetaEntry {
        key: "lab".to_owned(),
        value: "LIS-X".to_owned(),
    });
    message
}

fn full_request(source: &str, message_id: &str) -> String {
    consultation_request(
        "GetFullMessageRequest",
        &format!("<Source>{source}</Source><MessageId>{message_id}</MessageId>"),
    )
}

fn options(binary_mode: BinaryMode, double_base64: bool) -> ConsultationOptions {
    ConsultationOptions {
        binary_mode,
        double_base64,
        ..ConsultationOptions::default()
    }
}

fn fetch(binary_mode: BinaryMode, double_base64: bool) -> (String, SoapReply) {
    let mut platform = platform();
    let report = platform
        .deliver_message(rich_message(), later(0))
        .expect("delivery");
    let reply = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &full_request("INBOX", &report.message_id),
        later(10),
        &options(binary_mode, double_base64),
    )
    .expect("full message");
    (report.message_id, reply)
}

#[test]
fn inline_mode_sends_base64_text() {
    let (message_id, reply) = fetch(BinaryMode::Inline, false);

    let contents = texts(&reply.body, "EncryptableTextContent");
    assert_eq!(contents.len(), 2);
    assert_eq!(decode_base64(&contents[0]).expect("base64"), DOCUMENT_BYTES);
    assert_eq!(decode_base64(&contents[1]).expect("base64"), ANNEX_BYTES);
    assert!(reply.attachments.is_empty());
    assert!(texts(&reply.body, "EncryptableBinaryContent").is_empty());

    let document = XmlDocument::parse(&reply.body).expect("xml");
    let message = document
        .root_element()
        .children()
        .find(|n| n.tag_name().name() == "Message")
        .expect("Message after Status");
    assert_eq!(message.attribute("MessageId"), Some(message_id.as_str()));
    assert_eq!(text(&reply.body, "PublicationId"), "pub-0001");
    assert_eq!(
        decode_base64(&text(&reply.body, "EncryptableTitle")).expect("base64"),
        b"scan"
    );
    assert_eq!(
        decode_base64(&text(&reply.body, "EncryptableFreeText")).expect("base64"),
        b"free text"
    );
    assert_eq!(
        decode_base64(&text(&reply.body, "EncryptableINSSPatient")).expect("base64"),
        b"85073003328"
    );
    assert_eq!(text(&reply.body, "Key"), "lab");
    assert_eq!(text(&reply.body, "Size"), rich_message().size().to_string());
    assert_unqualified(&reply.body, CONSULTATION_NS, false);
}

#[test]
fn swaref_mode_refers_to_attachments() {
    let (_, reply) = fetch(BinaryMode::SwaRef, false);

    let references = texts(&reply.body, "EncryptableBinaryContent");
    assert_eq!(references.len(), 2);
    assert_eq!(reply.attachments.len(), 2);
    for (reference, expected) in references.iter().zip([DOCUMENT_BYTES, ANNEX_BYTES]) {
        let content_id = reference.strip_prefix("cid:").expect("cid: reference");
        let part = reply
            .attachments
            .iter()
            .find(|a| a.content_id == content_id)
            .expect("part");
        assert_eq!(part.bytes, expected);
    }
    assert!(texts(&reply.body, "EncryptableTextContent").is_empty());
    assert_unqualified(&reply.body, CONSULTATION_NS, false);
}

#[test]
fn mtom_mode_uses_xop_include() {
    let (_, reply) = fetch(BinaryMode::Mtom, false);

    let document = XmlDocument::parse(&reply.body).expect("xml");
    let includes: Vec<&str> = document
        .descendants()
        .filter(|n| n.tag_name().name() == "Include" && n.tag_name().namespace() == Some(XOP_NS))
        .map(|n| n.attribute("href").unwrap_or(""))
        .collect();
    assert_eq!(includes.len(), 2);
    for (href, expected) in includes.iter().zip([DOCUMENT_BYTES, ANNEX_BYTES]) {
        let content_id = href.strip_prefix("cid:").expect("cid: reference");
        let part = reply
            .attachments
            .iter()
            .find(|a| a.content_id == content_id)
            .expect("part");
        assert_eq!(part.bytes, expected);
    }
    assert_unqualified(&reply.body, CONSULTATION_NS, true);
}

#[test]
fn double_base64_inline_decodes_twice() {
    let (_, reply) = fetch(BinaryMode::Inline, true);

    let once = decode_base64(&texts(&reply.body, "EncryptableTextContent")[0]).expect("base64");
    assert_ne!(once, DOCUMENT_BYTES);
    let twice = decode_base64(std::str::from_utf8(&once).expect("base64 text")).expect("base64");
    assert_eq!(twice, DOCUMENT_BYTES);
}

#[test]
fn double_base64_attachment_is_base64_text() {
    let (_, reply) = fetch(BinaryMode::SwaRef, true);

    let part = &reply.attachments[0];
    let decoded =
        decode_base64(std::str::from_utf8(&part.bytes).expect("base64 text")).expect("base64");
    assert_eq!(decoded, DOCUMENT_BYTES);
}

#[test]
fn read_acknowledgment_sent_once() {
    let mut platform = platform();
    let mut message = letter(&doctor_box(DOCTOR_A), b"please confirm");
    message.sender = Sender {
        key: doctor_box(DOCTOR_B),
        name: "Dubois".to_owned(),
        first_name: Some("Marie".to_owned()),
        person_in_organisation: None,
    };
    message.receipts = Receipts {
        publication: false,
        received: false,
        read: true,
    };
    let report = platform
        .deliver_message(message, later(0))
        .expect("delivery");
    let options = options(BinaryMode::Inline, false);

    for second in [10, 20] {
        consult(
            &mut platform,
            &doctor(DOCTOR_A),
            &full_request("INBOX", &report.message_id),
            later(second),
            &options,
        )
        .expect("full message");
    }

    let state = platform.box_state(&doctor_box(DOCTOR_A)).expect("box");
    assert!(state.messages[0].read);
    let sender_state = platform.box_state(&doctor_box(DOCTOR_B)).expect("box");
    let acks: Vec<&EntryState> = sender_state
        .messages
        .iter()
        .filter(|m| m.content_type == ContentType::Acknowledgment)
        .collect();
    assert_eq!(acks.len(), 1);

    let ack = consult(
        &mut platform,
        &doctor(DOCTOR_B),
        &full_request("INBOX", &acks[0].message_id),
        later(30),
        &options,
    )
    .expect("ack message");
    assert_eq!(text(&ack.body, "AckType"), "READ");
    assert_eq!(
        texts(&ack.body, "MessageId"),
        vec![report.message_id.clone()]
    );
    assert_eq!(text(&ack.body, "ContentType"), "ACKNOWLEDGMENT");
    assert_eq!(text(&ack.body, "DateTime"), later(10).to_string());
    assert_unqualified(&ack.body, CONSULTATION_NS, false);
}

#[test]
fn no_read_acknowledgment_unless_requested() {
    let mut platform = platform();
    let mut message = letter(&doctor_box(DOCTOR_A), b"no receipt");
    message.sender.key = doctor_box(DOCTOR_B);
    let report = platform
        .deliver_message(message, later(0))
        .expect("delivery");

    consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &full_request("INBOX", &report.message_id),
        later(10),
        &ConsultationOptions::default(),
    )
    .expect("full message");

    assert!(
        platform
            .box_state(&doctor_box(DOCTOR_B))
            .expect("box")
            .messages
            .is_empty()
    );
}

#[test]
fn bin_source_rejected_by_schema() {
    let mut platform = platform();
    let ids = seed_letters(&mut platform, &doctor_box(DOCTOR_A), 1);

    let result = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &full_request("BININBOX", &ids[0]),
        later(10),
        &ConsultationOptions::default(),
    );

    assert_eq!(fault_code(result), "SOA-03006");
}

#[test]
fn unknown_message_not_found() {
    let mut platform = platform();
    seed_letters(&mut platform, &doctor_box(DOCTOR_A), 1);

    let result = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &full_request("INBOX", "ABCDEFGHIJKLM"),
        later(10),
        &ConsultationOptions::default(),
    );

    assert_eq!(fault_code(result), "811");
}

#[test]
fn malformed_message_id_rejected() {
    let mut platform = platform();

    let result = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &full_request("INBOX", "short"),
        later(10),
        &ConsultationOptions::default(),
    );

    assert_eq!(fault_code(result), "SOA-03006");
}
