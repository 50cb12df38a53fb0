//! The lifecycle job: definitive removal of expired, read messages in a bin, and of messages
//! published more than one year ago.

use jiff::ToSpan;

use super::*;

const DAY: i64 = 24 * 60 * 60;

/// Delivers one letter to doctor A expiring ten days after the start; returns its MessageId.
fn seed_expiring(platform: &mut Platform) -> String {
    let mut message = letter(&doctor_box(DOCTOR_A), b"expires soon");
    let start_date = start().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    message.expiration_date = Some(start_date.saturating_add(10.days()));
    platform
        .deliver_message(message, start())
        .expect("delivery")
        .message_id
}

fn read_and_bin(platform: &mut Platform, message_id: &str) {
    let options = ConsultationOptions::default();
    let caller = doctor(DOCTOR_A);
    let read = consultation_request(
        "GetFullMessageRequest",
        &format!("<Source>INBOX</Source><MessageId>{message_id}</MessageId>"),
    );
    consult(platform, &caller, &read, later(60), &options).expect("read");
    bin(platform, message_id);
}

fn bin(platform: &mut Platform, message_id: &str) {
    let request = ids_request(
        "MoveMessageRequest",
        "<Source>INBOX</Source><Destination>BININBOX</Destination>",
        &[message_id],
    );
    consult(
        platform,
        &doctor(DOCTOR_A),
        &request,
        later(120),
        &ConsultationOptions::default(),
    )
    .expect("move");
}

fn stored_ids(platform: &Platform) -> Vec<String> {
    let state = platform.box_state(&doctor_box(DOCTOR_A)).expect("box");
    state.messages.into_iter().map(|m| m.message_id).collect()
}

#[test]
fn expired_read_binned_message_removed() {
    let mut platform = platform();
    let id = seed_expiring(&mut platform);
    read_and_bin(&mut platform, &id);

    assert!(platform.run_lifecycle(later(9 * DAY)).is_empty());
    assert_eq!(stored_ids(&platform), vec![id.clone()]);

    let removed = platform.run_lifecycle(later(10 * DAY));
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].message_id, id);
    assert_eq!(removed[0].folder, Folder::BinInbox);
    assert!(stored_ids(&platform).is_empty());
}

#[test]
fn unread_binned_message_kept_until_a_year() {
    let mut platform = platform();
    let id = seed_expiring(&mut platform);
    bin(&mut platform, &id);

    assert!(platform.run_lifecycle(later(30 * DAY)).is_empty());

    let removed = platform.run_lifecycle(later(366 * DAY));
    assert_eq!(removed.len(), 1);
    assert!(stored_ids(&platform).is_empty());
}

#[test]
fn read_expired_message_in_inbox_kept() {
    let mut platform = platform();
    let id = seed_expiring(&mut platform);
    let read = consultation_request(
        "GetFullMessageRequest",
        &format!("<Source>INBOX</Source><MessageId>{id}</MessageId>"),
    );
    consult(
        &mut platform,
        &doctor(DOCTOR_A),
        &read,
        later(60),
        &ConsultationOptions::default(),
    )
    .expect("read");

    assert!(platform.run_lifecycle(later(30 * DAY)).is_empty());
    assert_eq!(stored_ids(&platform), vec![id]);
}

#[test]
fn year_old_unread_inbox_message_removed() {
    let mut platform = platform();
    let ids = seed_letters(&mut platform, &doctor_box(DOCTOR_A), 1);

    assert!(platform.run_lifecycle(later(364 * DAY)).is_empty());
    let removed = platform.run_lifecycle(later(365 * DAY + DAY));

    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].message_id, ids[0]);
    assert_eq!(removed[0].folder, Folder::Inbox);
}

#[test]
fn lifecycle_drains_stand_by() {
    let mut platform = platform();
    let key = doctor_box(DOCTOR_A);
    platform.set_max_size(&key, 12).expect("box exists");
    let old = platform
        .deliver_message(letter(&key, b"old message!"), start())
        .expect("delivery");
    let waiting = platform
        .deliver_message(letter(&key, b"new message!"), later(364 * DAY))
        .expect("delivery");
    assert_eq!(waiting.placements[0].1, Placement::Held);

    platform.run_lifecycle(later(366 * DAY));

    let state = platform.box_state(&key).expect("box");
    assert!(state.standby.is_empty());
    let ids: Vec<&str> = state
        .messages
        .iter()
        .map(|m| m.message_id.as_str())
        .collect();
    assert_eq!(ids, vec![waiting.message_id.as_str()]);
    assert_ne!(old.message_id, waiting.message_id);
}
