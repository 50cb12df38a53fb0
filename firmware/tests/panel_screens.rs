//! Snapshot tests of the panel's screens in Dutch, French and English: status in every LED
//! state, a principal's details, the menu and its pages. The mandate wizard's screens are
//! checked by the wizard's own test, which drives it to each of them.
//!
//! A difference writes `<name>.new.png` beside the reference in `tests/snapshots/panel/`;
//! `UPDATE_FIXTURES=1 cargo test -p practicebox --test panel_screens` accepts the new frames.

#![allow(clippy::unwrap_used, reason = "tests")]

mod panel_support;

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use panel_support::Snapshots;
use practicebox::fetcher::ProblemKind;
use practicebox::mandates::status::{MandateListing, MandateStatus};
use practicebox::panel::Language;
use practicebox::panel::controller::screens;
use practicebox::panel::network::NetworkInfo;
use practicebox::panel::status_screen::StatusScreen;
use practicebox::status::{Attention, Led, StatusEvent, StatusSnapshot};
use practicebox::store::{MandateId, Principal, PrincipalId, Role};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// 11:42 in Brussels (UTC+1 in December).
fn now() -> Timestamp {
    at("2026-12-04T10:42:00Z")
}

const DOCTORS: [(i64, &str, &str); 5] = [
    (1, "Dr Lotte Vermeiren", "Vermeiren"),
    (
        2,
        "Dr Jan-Willem Vandenberghe-Lemaître",
        "Vandenberghe-Lemaître",
    ),
    (3, "Dr Zoë Peeters", "Peeters"),
    (4, "Dr François Dubois", "Dubois"),
    (5, "Dr Anaïs Moreau", "Moreau"),
];

fn names() -> HashMap<PrincipalId, String> {
    DOCTORS
        .iter()
        .map(|(id, _, family)| (PrincipalId(*id), (*family).to_owned()))
        .collect()
}

fn snapshot_with(count: usize) -> StatusSnapshot {
    let zone = TimeZone::get("Europe/Brussels").unwrap();
    let mut snapshot = StatusSnapshot::new(&zone, now());
    for (id, name, _) in DOCTORS.iter().take(count) {
        snapshot.apply(
            &StatusEvent::PrincipalAdded {
                principal: PrincipalId(*id),
                name: (*name).to_owned(),
                interval_secs: 300,
            },
            now(),
        );
    }
    snapshot
}

fn fetched(snapshot: &mut StatusSnapshot, id: i64, new: u32, time: &str) {
    snapshot.apply(
        &StatusEvent::Ok {
            principal: PrincipalId(id),
            new,
            delivered: new,
            held: 0,
            at: at(time),
        },
        now(),
    );
}

fn green() -> StatusSnapshot {
    let mut snapshot = snapshot_with(3);
    fetched(&mut snapshot, 1, 3, "2026-12-04T10:40:00Z");
    fetched(&mut snapshot, 2, 12, "2026-12-04T10:39:00Z");
    fetched(&mut snapshot, 3, 0, "2026-12-04T10:41:00Z");
    snapshot
}

fn amber() -> StatusSnapshot {
    let mut snapshot = green();
    snapshot.apply(
        &StatusEvent::Fetching {
            principal: PrincipalId(1),
        },
        now(),
    );
    snapshot.apply(
        &StatusEvent::AttentionSoon {
            principal: PrincipalId(2),
            what: Attention::MandateEnds,
            date: at("2026-12-20T00:00:00Z"),
        },
        now(),
    );
    snapshot
}

/// Returns the green snapshot after a run of the second doctor that held one message.
fn held() -> StatusSnapshot {
    let mut snapshot = green();
    snapshot.apply(
        &StatusEvent::Ok {
            principal: PrincipalId(2),
            new: 4,
            delivered: 3,
            held: 1,
            at: at("2026-12-04T10:41:00Z"),
        },
        now(),
    );
    snapshot
}

fn red_problem() -> StatusSnapshot {
    let mut snapshot = green();
    snapshot.apply(
        &StatusEvent::Error {
            principal: PrincipalId(2),
            reason: "wrong password for keystore".to_owned(),
            kind: ProblemKind::DoctorAction,
            since: at("2026-12-04T10:30:00Z"),
        },
        now(),
    );
    snapshot
}

fn unreachable() -> StatusSnapshot {
    let mut snapshot = snapshot_with(5);
    for id in 1..=5 {
        fetched(&mut snapshot, id, id as u32, "2026-12-03T16:00:00Z");
        snapshot.apply(
            &StatusEvent::Error {
                principal: PrincipalId(id),
                reason: "getMessagesList failed temporarily: connection refused".to_owned(),
                kind: ProblemKind::Unreachable,
                since: at("2026-12-04T09:30:00Z"),
            },
            now(),
        );
    }
    snapshot
}

fn principal(id: i64, given: &str, family: &str, insz: &str) -> Principal {
    Principal {
        id: PrincipalId(id),
        insz: insz.to_owned(),
        family_name: family.to_owned(),
        given_names: given.to_owned(),
        riziv: "17041217004".to_owned(),
        role: Role::Mandator,
        share_folder: format!("{family}_{given}"),
        move_to_bin: true,
        active: true,
        created_at: at("2026-01-05T09:00:00Z"),
    }
}

fn listings() -> Vec<MandateListing> {
    vec![
        MandateListing {
            mandate: MandateId(1),
            mandator: principal(2, "Jan-Willem", "Vandenberghe-Lemaître", "85073003328"),
            ends_at: at("2027-11-30T10:00:00Z"),
            days_left: 360,
            status: MandateStatus::Active,
        },
        MandateListing {
            mandate: MandateId(2),
            mandator: principal(3, "Zoë", "Peeters", "90010112345"),
            ends_at: at("2026-12-20T00:00:00Z"),
            days_left: 15,
            status: MandateStatus::EndsSoon,
        },
        MandateListing {
            mandate: MandateId(3),
            mandator: principal(4, "François", "Dubois", "70030512345"),
            ends_at: at("2027-06-01T00:00:00Z"),
            days_left: 178,
            status: MandateStatus::Revoked {
                at: at("2026-10-02T08:00:00Z"),
                by: "panel".to_owned(),
            },
        },
    ]
}

fn network() -> NetworkInfo {
    NetworkInfo {
        host: "practicebox".to_owned(),
        addresses: vec!["192.168.1.20".parse().unwrap()],
        shares: vec![
            "\\\\practicebox\\Vermeiren_Lotte".to_owned(),
            "\\\\practicebox\\Peeters_Zoë".to_owned(),
        ],
    }
}

fn status(
    snapshot: &StatusSnapshot,
    page: usize,
    language: Language,
) -> practicebox_hardware::Frame {
    let names = names();
    StatusScreen {
        snapshot,
        names: &names,
        now: now(),
        page,
    }
    .render(language)
}

#[test]
fn status_screens_match_snapshots() {
    let mut snapshots = Snapshots::new();
    let cases = [
        ("status-off", snapshot_with(0), Led::Off),
        ("status-pending", snapshot_with(3), Led::AmberBlinking),
        ("status-green", green(), Led::Green),
        ("status-amber", amber(), Led::AmberBlinking),
        ("status-held", held(), Led::AmberBlinking),
        ("status-red", red_problem(), Led::Red),
        ("status-unreachable", unreachable(), Led::Red),
    ];
    for (name, snapshot, led) in &cases {
        assert_eq!(snapshot.led, *led, "{name}");
        for language in Language::ALL {
            snapshots.check(
                &format!("{name}.{language}"),
                &status(snapshot, 0, language),
            );
        }
    }
    let unreachable = unreachable();
    for language in Language::ALL {
        let second = status(&unreachable, 1, language);
        snapshots.check(&format!("status-unreachable-page2.{language}"), &second);
    }
    snapshots.finish();
}

#[test]
fn status_pages_cycle_through_principals() {
    let snapshot = unreachable();
    let names = names();
    let screen = |page| StatusScreen {
        snapshot: &snapshot,
        names: &names,
        now: now(),
        page,
    };

    assert_eq!(screen(0).pages(), 2);
    assert_ne!(
        screen(0).render(Language::Dutch),
        screen(1).render(Language::Dutch)
    );
    assert_eq!(
        screen(0).render(Language::Dutch),
        screen(2).render(Language::Dutch)
    );
    assert_eq!(
        status(&green(), 0, Language::Dutch),
        status(&green(), 1, Language::Dutch)
    );
}

#[test]
fn menu_screens_match_snapshots() {
    let mut snapshots = Snapshots::new();
    let listings = listings();
    for language in Language::ALL {
        let screens = [
            ("menu", screens::menu(language, 0)),
            ("menu-end", screens::menu(language, 7)),
            ("mandates", screens::mandates(language, &listings)),
            ("mandates-none", screens::mandates(language, &[])),
            (
                "remove-confirm",
                screens::remove_confirm(language, &listings[0]),
            ),
            ("network", screens::network(language, &network())),
            ("leds", screens::leds(language)),
            ("language", screens::language_menu(language)),
            (
                "about",
                screens::about(language, "0.1.0", "pbx-3f2a9c0d4e5b6a7980c1d2e3f4a5b6c7", 3),
            ),
            (
                "detail-problem",
                screens::detail(language, &red_problem(), 1, now()).unwrap(),
            ),
            (
                "detail-ends-soon",
                screens::detail(language, &amber(), 1, now()).unwrap(),
            ),
        ];
        for (name, frame) in &screens {
            snapshots.check(&format!("{name}.{language}"), frame);
        }
    }
    snapshots.finish();
}
