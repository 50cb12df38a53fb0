//! Consultation operations other than getFullMessage: lists, paging, access, move, delete, quota.

use std::collections::HashMap;

use super::*;
use crate::wire::FaultKind;

#[test]
fn paging_250_messages_newest_first() {
    let mut platform = platform();
    let seeded = seed_letters(&mut platform, &doctor_box(DOCTOR_A), 250);
    let caller = doctor(DOCTOR_A);
    let options = ConsultationOptions::default();

    let mut listed = Vec::new();
    for (start, end, expected) in [(1, 100, 100), (101, 200, 100), (201, 300, 50)] {
        let reply = consult(
            &mut platform,
            &caller,
            &list_request("INBOX", start, end),
            later(300),
            &options,
        )
        .expect("list page");
        let page = listed_ids(&reply);
        assert_eq!(page.len(), expected, "page {start}..{end}");
        listed.extend(page);
    }
    let newest_first: Vec<String> = seeded.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);

    let past_end = consult(
        &mut platform,
        &caller,
        &list_request("INBOX", 301, 400),
        later(300),
        &options,
    )
    .expect("page past the end");
    assert!(listed_ids(&past_end).is_empty());
    assert_eq!(text(&past_end.body, "Code"), "100");
}

#[test]
fn list_defaults_to_inbox_first_hundred() {
    let mut platform = platform();
    seed_letters(&mut platform, &doctor_box(DOCTOR_A), 120);
    let request = consultation_request("GetMessagesListRequest", "");

    let reply = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        later(200),
        &ConsultationOptions::default(),
    )
    .expect("list");

    assert_eq!(listed_ids(&reply).len(), 100);
    assert_eq!(text(&reply.body, "Source"), "INBOX");
}

#[test]
fn index_shift_repeats_one_message() {
    let mut platform = platform();
    let key = doctor_box(DOCTOR_A);
    seed_letters(&mut platform, &key, 250);
    platform
        .inject_after_next_list_page(key.clone(), letter(&key, b"arrived between pages"))
        .expect("box exists");
    let caller = doctor(DOCTOR_A);
    let options = ConsultationOptions::default();

    let mut counts: HashMap<String, usize> = HashMap::new();
    for (start, end) in [(1, 100), (101, 200), (201, 300)] {
        let reply = consult(
            &mut platform,
            &caller,
            &list_request("INBOX", start, end),
            later(400),
            &options,
        )
        .expect("list page");
        for id in listed_ids(&reply) {
            *counts.entry(id).or_default() += 1;
        }
    }

    let duplicates: Vec<&String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(duplicates.len(), 1, "duplicates: {duplicates:?}");
    assert_eq!(counts.len(), 250);
    let state = platform.box_state(&key).expect("box");
    assert_eq!(state.messages.len(), 251);
}

#[test]
fn page_over_hundred_rejected() {
    let mut platform = platform();
    seed_letters(&mut platform, &doctor_box(DOCTOR_A), 5);
    let caller = doctor(DOCTOR_A);
    let options = ConsultationOptions::default();

    let too_many = consult(
        &mut platform,
        &caller,
        &list_request("INBOX", 1, 101),
        later(10),
        &options,
    );
    assert_eq!(fault_code(too_many), "812");

    let reversed = consult(
        &mut platform,
        &caller,
        &list_request("INBOX", 10, 5),
        later(10),
        &options,
    );
    assert_eq!(fault_code(reversed), "812");

    let zero = consult(
        &mut platform,
        &caller,
        &list_request("INBOX", 0, 5),
        later(10),
        &options,
    );
    assert_eq!(fault_code(zero), "SOA-03006");
}

#[test]
fn page_error_as_status_response() {
    let mut platform = platform();
    let options = ConsultationOptions {
        business_errors: BusinessErrorStyle::Status,
        codes: ConsultationCodes {
            invalid_index_range: "899".to_owned(),
            ..ConsultationCodes::default()
        },
        ..ConsultationOptions::default()
    };

    let reply = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &list_request("INBOX", 1, 150),
        later(0),
        &options,
    )
    .expect("status-style error");

    assert_eq!(text(&reply.body, "Code"), "899");
    assert!(listed_ids(&reply).is_empty());
    assert_unqualified(&reply.body, CONSULTATION_NS, false);
}

#[test]
fn qualified_children_parsed_leniently() {
    let mut platform = platform();
    seed_letters(&mut platform, &doctor_box(DOCTOR_A), 3);
    let request = format!(
        r#"<c:GetMessagesListRequest xmlns:c="{CONSULTATION_NS}"><c:Source>INBOX</c:Source><c:StartIndex>2</c:StartIndex><c:EndIndex>3</c:EndIndex></c:GetMessagesListRequest>"#
    );

    let reply = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        later(10),
        &ConsultationOptions::default(),
    )
    .expect("list");

    assert_eq!(listed_ids(&reply).len(), 2);
}

#[test]
fn foreign_box_id_gets_810() {
    let mut platform = platform();
    platform
        .create_box(hospital_box(), BoxSettings::default())
        .expect("new box");
    let box_id = "<BoxId><Id>71000436</Id><Type>NIHII</Type><SubType>HOSPITAL</SubType><Quality>HOSPITAL</Quality></BoxId>";
    let request = consultation_request("GetBoxInfoRequest", box_id);
    let caller = doctor(DOCTOR_A);
    let options = ConsultationOptions::default();

    let without_access = consult(&mut platform, &caller, &request, later(0), &options);
    let fault = without_access.expect_err("no access yet");
    assert_eq!(fault.code, "810");
    assert_eq!(fault.kind, FaultKind::Business);

    platform
        .grant_access(DOCTOR_A, hospital_box())
        .expect("box exists");
    let granted =
        consult(&mut platform, &caller, &request, later(0), &options).expect("access granted");
    assert_eq!(text(&granted.body, "Id"), "71000436");

    let colleague =
        format!("<BoxId><Id>{DOCTOR_B}</Id><Type>INSS</Type><Quality>DOCTOR</Quality></BoxId>");
    let other = consult(
        &mut platform,
        &caller,
        &consultation_request("GetBoxInfoRequest", &colleague),
        later(0),
        &options,
    );
    assert_eq!(fault_code(other), "810");
}

#[test]
fn missing_doctor_attribute_gets_soa_01002() {
    let mut platform = platform();
    let caller = not_a_doctor(NOT_A_DOCTOR);
    let options = ConsultationOptions::default();

    let personal = consult(
        &mut platform,
        &caller,
        &consultation_request("GetBoxInfoRequest", ""),
        later(0),
        &options,
    );
    let fault = personal.expect_err("no personal box without the doctor attribute");
    assert_eq!(fault.code, "SOA-01002");

    let own_doctor_box =
        format!("<BoxId><Id>{NOT_A_DOCTOR}</Id><Type>INSS</Type><Quality>DOCTOR</Quality></BoxId>");
    let explicit = consult(
        &mut platform,
        &caller,
        &consultation_request("GetBoxInfoRequest", &own_doctor_box),
        later(0),
        &options,
    );
    assert_eq!(fault_code(explicit), "810");
}

#[test]
fn box_info_reports_quota_and_identity() {
    let mut platform = platform();
    seed_letters(&mut platform, &doctor_box(DOCTOR_A), 2);

    let reply = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &consultation_request("GetBoxInfoRequest", ""),
        later(5),
        &ConsultationOptions::default(),
    )
    .expect("box info");

    assert_eq!(text(&reply.body, "Id"), DOCTOR_A);
    assert_eq!(text(&reply.body, "Type"), "INSS");
    assert_eq!(text(&reply.body, "Quality"), "DOCTOR");
    assert_eq!(text(&reply.body, "NbrMessagesInStandBy"), "0");
    assert_eq!(
        text(&reply.body, "CurrentSize"),
        (b"letter 0".len() * 2).to_string()
    );
    assert_eq!(
        text(&reply.body, "MaxSize"),
        (100 * 1024 * 1024).to_string()
    );
    assert_unqualified(&reply.body, CONSULTATION_NS, false);
}

#[test]
fn all_ehboxes_list_names_each_destination() {
    let mut platform = platform();
    platform
        .create_box(hospital_box(), BoxSettings::default())
        .expect("new box");
    platform
        .grant_access(DOCTOR_A, hospital_box())
        .expect("box exists");
    let personal = seed_letters(&mut platform, &doctor_box(DOCTOR_A), 2);
    let report = platform
        .deliver_message(letter(&hospital_box(), b"to the hospital"), later(50))
        .expect("delivery");
    let request =
        consultation_request("GetAllEhboxesMessagesListRequest", "<Source>INBOX</Source>");

    let reply = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        later(60),
        &ConsultationOptions::default(),
    )
    .expect("all boxes list");

    let ids = listed_ids(&reply);
    assert_eq!(
        ids,
        vec![report.message_id, personal[1].clone(), personal[0].clone()]
    );
    let document = XmlDocument::parse(&reply.body).expect("xml");
    let destinations: Vec<String> = document
        .descendants()
        .filter(|n| n.tag_name().name() == "Destination")
        .map(|d| {
            d.children()
                .find(|c| c.tag_name().name() == "Id")
                .and_then(|n| n.text())
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(destinations, vec!["71000436", DOCTOR_A, DOCTOR_A]);
    assert_unqualified(&reply.body, CONSULTATION_NS, false);
}

#[test]
fn move_with_partial_failure() {
    let mut platform = platform();
    let key = doctor_box(DOCTOR_A);
    let ids = seed_letters(&mut platform, &key, 3);
    let unknown = "ZZZZZZZZZZZZZ";
    let request = ids_request(
        "MoveMessageRequest",
        "<Source>INBOX</Source><Destination>BININBOX</Destination>",
        &[&ids[0], &ids[1], unknown],
    );

    let fault = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        later(10),
        &ConsultationOptions::default(),
    )
    .expect_err("one id is unknown");

    assert_eq!(fault.code, "811");
    assert!(fault.message.contains(unknown), "{}", fault.message);
    assert!(!fault.message.contains(&ids[0]), "{}", fault.message);
    let state = platform.box_state(&key).expect("box");
    let folder_of = |id: &str| {
        state
            .messages
            .iter()
            .find(|m| m.message_id == id)
            .map(|m| m.folder)
    };
    assert_eq!(folder_of(&ids[0]), Some(Folder::BinInbox));
    assert_eq!(folder_of(&ids[1]), Some(Folder::BinInbox));
    assert_eq!(folder_of(&ids[2]), Some(Folder::Inbox));
}

#[test]
fn move_partial_failure_as_status() {
    let mut platform = platform();
    let ids = seed_letters(&mut platform, &doctor_box(DOCTOR_A), 2);
    let options = ConsultationOptions {
        partial_failure: PartialFailureStyle::StatusWithProcessedIds,
        ..ConsultationOptions::default()
    };
    let request = ids_request(
        "MoveMessageRequest",
        "<Source>INBOX</Source><Destination>BININBOX</Destination>",
        &[&ids[0], "UNKNOWN000001"],
    );

    let reply = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        later(10),
        &options,
    )
    .expect("status reply");

    assert_eq!(text(&reply.body, "Code"), "811");
    assert!(text(&reply.body, "Message").contains("UNKNOWN000001"));
    assert_eq!(texts(&reply.body, "MessageId"), vec![ids[0].clone()]);
    assert_unqualified(&reply.body, CONSULTATION_NS, false);
}

#[test]
fn move_between_unpaired_folders_rejected() {
    let mut platform = platform();
    let ids = seed_letters(&mut platform, &doctor_box(DOCTOR_A), 1);
    let request = ids_request(
        "MoveMessageRequest",
        "<Source>INBOX</Source><Destination>SENTBOX</Destination>",
        &[&ids[0]],
    );

    let result = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        later(10),
        &ConsultationOptions::default(),
    );

    assert_eq!(fault_code(result), "813");
}

#[test]
fn move_and_delete_accept_at_most_100_ids() {
    let mut platform = platform();
    let ids: Vec<String> = (0..101).map(|i| format!("A{i:012}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let request = ids_request("DeleteMessageRequest", "<Source>INBOX</Source>", &refs);

    let result = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        later(0),
        &ConsultationOptions::default(),
    );

    assert_eq!(fault_code(result), "SOA-03006");
}

#[test]
fn delete_with_partial_failure() {
    let mut platform = platform();
    let key = doctor_box(DOCTOR_A);
    let ids = seed_letters(&mut platform, &key, 3);
    let options = ConsultationOptions {
        partial_failure: PartialFailureStyle::SilentSuccess,
        ..ConsultationOptions::default()
    };
    let request = ids_request(
        "DeleteMessageRequest",
        "<Source>INBOX</Source>",
        &[&ids[1], "NOSUCHMESSAGE"],
    );

    let reply = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        later(10),
        &options,
    )
    .expect("delete");

    assert_eq!(text(&reply.body, "Code"), "100");
    assert_eq!(texts(&reply.body, "MessageId"), vec![ids[1].clone()]);
    let state = platform.box_state(&key).expect("box");
    let remaining: Vec<&str> = state
        .messages
        .iter()
        .map(|m| m.message_id.as_str())
        .collect();
    assert_eq!(remaining, vec![ids[2].as_str(), ids[0].as_str()]);
    assert_unqualified(&reply.body, CONSULTATION_NS, false);
}

#[test]
fn full_box_holds_then_delete_drains() {
    let mut platform = platform();
    let key = hospital_box();
    platform
        .create_box(
            key.clone(),
            BoxSettings {
                max_size: Some(300),
                ..BoxSettings::default()
            },
        )
        .expect("new box");
    platform
        .grant_access(DOCTOR_A, key.clone())
        .expect("box exists");
    let payload = [b'x'; 100];
    let mut ids = Vec::new();
    for i in 0..4 {
        let report = platform
            .deliver_message(letter(&key, &payload), later(i))
            .expect("delivery");
        ids.push(report.message_id);
    }
    assert_eq!(
        platform.box_state(&key).expect("box").standby,
        vec![ids[3].clone()]
    );

    let box_id = "<BoxId><Id>71000436</Id><Type>NIHII</Type><SubType>HOSPITAL</SubType><Quality>HOSPITAL</Quality></BoxId>";
    let caller = doctor(DOCTOR_A);
    let options = ConsultationOptions::default();
    let info = consult(
        &mut platform,
        &caller,
        &consultation_request("GetBoxInfoRequest", box_id),
        later(10),
        &options,
    )
    .expect("box info");
    assert_eq!(text(&info.body, "NbrMessagesInStandBy"), "1");
    assert_eq!(text(&info.body, "CurrentSize"), "300");

    let to_bin = ids_request(
        "MoveMessageRequest",
        &format!("{box_id}<Source>INBOX</Source><Destination>BININBOX</Destination>"),
        &[&ids[0]],
    );
    consult(&mut platform, &caller, &to_bin, later(11), &options).expect("move");
    assert_eq!(
        platform.box_state(&key).expect("box").standby.len(),
        1,
        "moving must not free space"
    );

    let delete = ids_request(
        "DeleteMessageRequest",
        &format!("{box_id}<Source>BININBOX</Source>"),
        &[&ids[0]],
    );
    consult(&mut platform, &caller, &delete, later(12), &options).expect("delete");

    let state = platform.box_state(&key).expect("box");
    assert!(state.standby.is_empty());
    assert_eq!(state.current_size, 300);
    let newest = &state.messages[0];
    assert_eq!(newest.message_id, ids[3]);
    assert_eq!(newest.folder, Folder::Inbox);
}

#[test]
fn unknown_operation_rejected() {
    let mut platform = platform();
    let request = consultation_request("InsertOoORequest", "");

    let result = consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &request,
        later(0),
        &ConsultationOptions::default(),
    );

    assert_eq!(fault_code(result), "SOA-03006");
}

#[test]
fn platform_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Platform>();
}

#[test]
fn message_ids_are_unique_alphanumeric() {
    let mut platform = platform();
    let ids = seed_letters(&mut platform, &doctor_box(DOCTOR_A), 500);

    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 500);
    for id in &ids {
        assert_eq!(id.len(), 13, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    }
}
