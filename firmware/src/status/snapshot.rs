//! The current state of the service, built from status events, and the LED rules.
//!
//! LED rules, first match wins:
//! 1. red: a box cannot be fetched (its last run failed), or the platform is unreachable;
//! 2. amber blinking: a fetch is under way, a message of a box's last run was held (it could not
//!    be opened or delivered, so it waits in the eHealthBox), something ends within 30 days, a
//!    box has not been fetched within its interval yet (just started, or overdue), or the Samba
//!    shares lag behind the principals;
//! 3. green: every box was fetched within its interval;
//! 4. off: no box to fetch.
//!
//! "Within its interval" allows the scheduler's jitter and the length of a run: the last success
//! must be at most [`GRACE_FACTOR`] intervals old.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{ATTENTION_WINDOW, Attention, StatusEvent};
use crate::fetcher::ProblemKind;
use crate::store::PrincipalId;

/// How many intervals may pass since the last success before a box counts as overdue.
pub const GRACE_FACTOR: f64 = 1.5;

/// The state of the three LEDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Led {
    Off,
    Green,
    AmberBlinking,
    Red,
}

/// A failure that keeps a box from being fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentProblem {
    pub kind: ProblemKind,
    pub reason: String,
    pub since: Timestamp,
}

/// A problem of the Samba shares, such as a failed reload of smbd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharesProblem {
    pub reason: String,
    pub since: Timestamp,
}

/// The state of one principal's eHealthBox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalStatus {
    #[serde(with = "super::principal_id")]
    pub principal: PrincipalId,
    pub name: String,
    pub interval_secs: u64,
    pub fetching: bool,
    /// Messages new on `new_today_date` (local date).
    pub new_today: u32,
    pub new_today_date: Option<Date>,
    /// Messages held in the last run.
    pub held: u32,
    pub last_success: Option<Timestamp>,
    pub problem: Option<CurrentProblem>,
    /// The ends that need attention soon, with their dates.
    pub attention: BTreeMap<String, Timestamp>,
}

/// The state of the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    pub updated_at: Timestamp,
    /// The IANA name of the time zone the lines are written in.
    pub time_zone: String,
    pub principals: Vec<PrincipalStatus>,
    /// When every box began failing because the platform cannot be reached. `None` while the
    /// platform responds.
    pub unreachable_since: Option<Timestamp>,
    /// The reason the Samba shares lag behind the principals, when they do.
    #[serde(default)]
    pub shares_problem: Option<SharesProblem>,
    pub led: Led,
}

impl StatusSnapshot {
    pub fn new(time_zone: &TimeZone, now: Timestamp) -> Self {
        Self {
            updated_at: now,
            time_zone: time_zone.iana_name().unwrap_or("UTC").to_owned(),
            principals: Vec::new(),
            unreachable_since: None,
            shares_problem: None,
            led: Led::Off,
        }
    }

    /// Applies one event and derives the platform state and the LED again.
    pub fn apply(&mut self, event: &StatusEvent, now: Timestamp) {
        let zone = self.zone();
        match event {
            StatusEvent::PrincipalAdded {
                principal,
                name,
                interval_secs,
            } => {
                let status = self.entry(*principal);
                status.name.clone_from(name);
                status.interval_secs = *interval_secs;
            }
            StatusEvent::PrincipalRemoved { principal } => {
                self.principals
                    .retain(|status| status.principal != *principal);
            }
            StatusEvent::Fetching { principal } => self.entry(*principal).fetching = true,
            StatusEvent::Ok {
                principal,
                new,
                held,
                at,
                ..
            } => {
                let status = self.entry(*principal);
                let day = at.to_zoned_datetime(zone).date();
                if status.new_today_date != Some(day) {
                    status.new_today = 0;
                    status.new_today_date = Some(day);
                }
                status.new_today += new;
                status.held = *held;
                status.fetching = false;
                status.last_success = Some(*at);
                status.problem = None;
            }
            StatusEvent::Error {
                principal,
                reason,
                kind,
                since,
            } => {
                let status = self.entry(*principal);
                status.fetching = false;
                status.problem = Some(CurrentProblem {
                    kind: *kind,
                    reason: reason.clone(),
                    since: *since,
                });
            }
            StatusEvent::AttentionSoon {
                principal,
                what,
                date,
            } => {
                self.entry(*principal)
                    .attention
                    .insert(attention_name(*what).to_owned(), *date);
            }
            StatusEvent::SharesProblem { reason, since } => {
                self.shares_problem = Some(SharesProblem {
                    reason: reason.clone(),
                    since: *since,
                });
            }
            StatusEvent::SharesOk => self.shares_problem = None,
        }
        self.refresh(now);
    }

    /// Derives the platform state and the LED for `now`.
    pub fn refresh(&mut self, now: Timestamp) {
        self.updated_at = now;
        self.unreachable_since = unreachable_since(&self.principals);
        self.led = derive_led(self, now);
    }

    /// Returns one line per principal: who, new today, last fetch, problem.
    pub fn lines(&self, now: Timestamp) -> Vec<String> {
        let zone = self.zone();
        let mut lines: Vec<String> = self
            .principals
            .iter()
            .map(|status| principal_line(status, self, &zone, now))
            .collect();
        if lines.is_empty() {
            lines.push("no eHealthBox to fetch: add the main doctor first".to_owned());
        }
        if let Some(problem) = &self.shares_problem {
            let today = now.to_zoned_datetime(zone.clone()).date();
            lines.push(format!(
                "Samba shares: problem since {}: {}",
                local_time(problem.since, &zone, today),
                problem.reason
            ));
        }
        lines
    }

    fn zone(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }

    fn entry(&mut self, principal: PrincipalId) -> &mut PrincipalStatus {
        let index = match self
            .principals
            .iter()
            .position(|status| status.principal == principal)
        {
            Some(index) => index,
            None => {
                self.principals.push(PrincipalStatus {
                    principal,
                    name: format!("principal {principal}"),
                    interval_secs: 300,
                    fetching: false,
                    new_today: 0,
                    new_today_date: None,
                    held: 0,
                    last_success: None,
                    problem: None,
                    attention: BTreeMap::new(),
                });
                self.principals.sort_by_key(|status| status.principal);
                self.principals
                    .iter()
                    .position(|status| status.principal == principal)
                    .unwrap_or(0)
            }
        };
        &mut self.principals[index]
    }
}

fn attention_name(what: Attention) -> &'static str {
    match what {
        Attention::Certificate => "certificate",
        Attention::MandateEnds => "mandate",
    }
}

/// The platform counts as unreachable when every box fails with a transport or temporary
/// platform error. It is unreachable since the latest start of those failures, because that is
/// when the last box gave up.
fn unreachable_since(principals: &[PrincipalStatus]) -> Option<Timestamp> {
    if principals.is_empty() {
        return None;
    }
    let mut latest = None;
    for status in principals {
        let problem = status.problem.as_ref()?;
        if problem.kind != ProblemKind::Unreachable {
            return None;
        }
        latest = latest.max(Some(problem.since));
    }
    latest
}

/// Applies the LED rules of the module documentation.
pub fn derive_led(snapshot: &StatusSnapshot, now: Timestamp) -> Led {
    let principals = &snapshot.principals;
    if principals.is_empty() {
        return Led::Off;
    }
    if snapshot.unreachable_since.is_some() || principals.iter().any(|s| s.problem.is_some()) {
        return Led::Red;
    }
    let window = SignedDuration::try_from(ATTENTION_WINDOW).unwrap_or(SignedDuration::MAX);
    let attention_soon = principals
        .iter()
        .flat_map(|status| status.attention.values())
        .any(|date| date.duration_since(now) <= window);
    let overdue = principals
        .iter()
        .any(|status| !fetched_in_time(status, now));
    let fetching = principals.iter().any(|status| status.fetching);
    let held = principals.iter().any(|status| status.held > 0);
    if attention_soon || overdue || fetching || held || snapshot.shares_problem.is_some() {
        return Led::AmberBlinking;
    }
    Led::Green
}

fn fetched_in_time(status: &PrincipalStatus, now: Timestamp) -> bool {
    let Some(last) = status.last_success else {
        return false;
    };
    let allowed = status.interval_secs as f64 * GRACE_FACTOR;
    now.duration_since(last).as_secs_f64() <= allowed
}

fn principal_line(
    status: &PrincipalStatus,
    snapshot: &StatusSnapshot,
    zone: &TimeZone,
    now: Timestamp,
) -> String {
    let today = now.to_zoned_datetime(zone.clone()).date();
    let new_today = if status.new_today_date == Some(today) {
        status.new_today
    } else {
        0
    };
    let last = match status.last_success {
        Some(at) => format!("last fetch {}", local_time(at, zone, today)),
        None => "not fetched yet".to_owned(),
    };
    let state = line_state(status, snapshot, zone, today, now);
    format!("{}: {new_today} new today, {last}, {state}", status.name)
}

fn line_state(
    status: &PrincipalStatus,
    snapshot: &StatusSnapshot,
    zone: &TimeZone,
    today: Date,
    now: Timestamp,
) -> String {
    if let Some(since) = snapshot.unreachable_since {
        return format!(
            "eHealth unreachable since {}",
            local_time(since, zone, today)
        );
    }
    if let Some(problem) = &status.problem {
        return format!("problem: {}", problem.reason);
    }
    let mut notes = BTreeSet::new();
    if status.fetching {
        notes.insert("fetching".to_owned());
    }
    if status.held > 0 {
        notes.insert(format!("{} held", status.held));
    }
    let window = SignedDuration::try_from(ATTENTION_WINDOW).unwrap_or(SignedDuration::MAX);
    for (what, date) in &status.attention {
        if date.duration_since(now) <= window {
            let day = date.to_zoned_datetime(zone.clone()).date();
            notes.insert(format!("{what} ends {day}"));
        }
    }
    if notes.is_empty() {
        "ok".to_owned()
    } else {
        notes.into_iter().collect::<Vec<_>>().join(", ")
    }
}

/// `10:30` today, `2024-05-02 10:30` on another day.
fn local_time(at: Timestamp, zone: &TimeZone, today: Date) -> String {
    let zoned = at.to_zoned_datetime(zone.clone());
    if zoned.date() == today {
        zoned.strftime("%H:%M").to_string()
    } else {
        zoned.strftime("%Y-%m-%d %H:%M").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PrincipalId = PrincipalId(1);
    const B: PrincipalId = PrincipalId(2);

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn snapshot_with_two() -> StatusSnapshot {
        let zone = TimeZone::get("Europe/Brussels").unwrap();
        let now = at("2026-03-10T08:00:00Z");
        let mut snapshot = StatusSnapshot::new(&zone, now);
        for (principal, name) in [(A, "Dr Lotte Vermeiren"), (B, "Dr Bram Van Damme")] {
            let added = StatusEvent::PrincipalAdded {
                principal,
                name: name.to_owned(),
                interval_secs: 300,
            };
            snapshot.apply(&added, now);
        }
        snapshot
    }

    fn ok(principal: PrincipalId, new: u32, time: &str) -> StatusEvent {
        StatusEvent::Ok {
            principal,
            new,
            delivered: new,
            held: 0,
            at: at(time),
        }
    }

    fn unreachable(principal: PrincipalId, since: &str) -> StatusEvent {
        StatusEvent::Error {
            principal,
            reason: "getMessagesList failed temporarily: connection refused".to_owned(),
            kind: ProblemKind::Unreachable,
            since: at(since),
        }
    }

    #[test]
    fn led_off_without_principals() {
        let snapshot = StatusSnapshot::new(&TimeZone::UTC, at("2026-03-10T08:00:00Z"));
        assert_eq!(snapshot.led, Led::Off);
    }

    #[test]
    fn led_amber_before_first_fetch() {
        let snapshot = snapshot_with_two();
        assert_eq!(snapshot.led, Led::AmberBlinking);
    }

    #[test]
    fn led_green_when_all_fetched_in_time() {
        let mut snapshot = snapshot_with_two();
        snapshot.apply(
            &ok(A, 2, "2026-03-10T08:01:00Z"),
            at("2026-03-10T08:01:00Z"),
        );
        snapshot.apply(
            &ok(B, 0, "2026-03-10T08:02:00Z"),
            at("2026-03-10T08:02:00Z"),
        );
        assert_eq!(snapshot.led, Led::Green);

        // Overdue: more than 1.5 intervals since A's last success.
        snapshot.refresh(at("2026-03-10T08:09:00Z"));
        assert_eq!(snapshot.led, Led::AmberBlinking);
    }

    #[test]
    fn led_amber_while_message_held() {
        let mut snapshot = snapshot_with_two();
        snapshot.apply(
            &ok(A, 2, "2026-03-10T08:01:00Z"),
            at("2026-03-10T08:01:00Z"),
        );
        let held = StatusEvent::Ok {
            principal: B,
            new: 1,
            delivered: 0,
            held: 1,
            at: at("2026-03-10T08:02:00Z"),
        };
        snapshot.apply(&held, at("2026-03-10T08:02:00Z"));
        assert_eq!(snapshot.led, Led::AmberBlinking);

        // The next run delivers it.
        snapshot.apply(
            &ok(B, 0, "2026-03-10T08:06:00Z"),
            at("2026-03-10T08:06:00Z"),
        );
        assert_eq!(snapshot.led, Led::Green);
    }

    #[test]
    fn led_amber_while_fetching() {
        let mut snapshot = snapshot_with_two();
        snapshot.apply(
            &ok(A, 0, "2026-03-10T08:01:00Z"),
            at("2026-03-10T08:01:00Z"),
        );
        snapshot.apply(
            &ok(B, 0, "2026-03-10T08:01:00Z"),
            at("2026-03-10T08:01:00Z"),
        );
        snapshot.apply(
            &StatusEvent::Fetching { principal: A },
            at("2026-03-10T08:02:00Z"),
        );
        assert_eq!(snapshot.led, Led::AmberBlinking);
    }

    #[test]
    fn led_amber_when_mandate_ends_within_30_days() {
        let mut snapshot = snapshot_with_two();
        let now = at("2026-03-10T08:01:00Z");
        snapshot.apply(&ok(A, 0, "2026-03-10T08:01:00Z"), now);
        snapshot.apply(&ok(B, 0, "2026-03-10T08:01:00Z"), now);
        let far = StatusEvent::AttentionSoon {
            principal: B,
            what: Attention::MandateEnds,
            date: at("2026-05-01T00:00:00Z"),
        };
        snapshot.apply(&far, now);
        assert_eq!(snapshot.led, Led::Green);

        let soon = StatusEvent::AttentionSoon {
            principal: B,
            what: Attention::MandateEnds,
            date: at("2026-04-01T00:00:00Z"),
        };
        snapshot.apply(&soon, now);
        assert_eq!(snapshot.led, Led::AmberBlinking);
        assert!(snapshot.lines(now)[1].contains("mandate ends 2026-04-01"));
    }

    #[test]
    fn led_red_when_one_box_fails() {
        let mut snapshot = snapshot_with_two();
        let now = at("2026-03-10T08:01:00Z");
        snapshot.apply(&ok(A, 0, "2026-03-10T08:01:00Z"), now);
        let refused = StatusEvent::Error {
            principal: B,
            reason: "wrong password for keystore".to_owned(),
            kind: ProblemKind::DoctorAction,
            since: now,
        };
        snapshot.apply(&refused, now);
        assert_eq!(snapshot.led, Led::Red);
        assert_eq!(snapshot.unreachable_since, None);
        assert!(snapshot.lines(now)[1].ends_with("problem: wrong password for keystore"));

        snapshot.apply(
            &ok(B, 0, "2026-03-10T08:02:00Z"),
            at("2026-03-10T08:02:00Z"),
        );
        assert_eq!(snapshot.led, Led::Green);
    }

    #[test]
    fn platform_unreachable_when_every_box_fails() {
        let mut snapshot = snapshot_with_two();
        let now = at("2026-03-10T09:40:00Z");
        snapshot.apply(&unreachable(A, "2026-03-10T09:25:00Z"), now);
        assert_eq!(snapshot.unreachable_since, None);

        snapshot.apply(&unreachable(B, "2026-03-10T09:30:00Z"), now);
        assert_eq!(snapshot.unreachable_since, Some(at("2026-03-10T09:30:00Z")));
        assert_eq!(snapshot.led, Led::Red);
        // 09:30 UTC is 10:30 in Brussels in March.
        assert!(snapshot.lines(now)[0].ends_with("eHealth unreachable since 10:30"));
    }

    #[test]
    fn new_today_resets_at_local_midnight() {
        let mut snapshot = snapshot_with_two();
        snapshot.apply(
            &ok(A, 3, "2026-03-10T20:00:00Z"),
            at("2026-03-10T20:00:00Z"),
        );
        assert_eq!(snapshot.principals[0].new_today, 3);

        // 23:30 UTC is already 11 March in Brussels (UTC+1 in winter).
        snapshot.apply(
            &ok(A, 2, "2026-03-10T23:30:00Z"),
            at("2026-03-10T23:30:00Z"),
        );
        assert_eq!(snapshot.principals[0].new_today, 2);

        snapshot.apply(
            &ok(A, 1, "2026-03-10T23:40:00Z"),
            at("2026-03-10T23:40:00Z"),
        );
        assert_eq!(snapshot.principals[0].new_today, 3);
        let line = &snapshot.lines(at("2026-03-10T23:41:00Z"))[0];
        assert_eq!(
            line,
            "Dr Lotte Vermeiren: 3 new today, last fetch 00:40, ok"
        );
    }

    #[test]
    fn removed_principal_leaves_the_snapshot() {
        let mut snapshot = snapshot_with_two();
        let now = at("2026-03-10T08:00:00Z");
        snapshot.apply(&StatusEvent::PrincipalRemoved { principal: B }, now);
        assert_eq!(snapshot.principals.len(), 1);
        assert_eq!(snapshot.principals[0].principal, A);
    }

    #[test]
    fn snapshot_round_trips_as_json() {
        let mut snapshot = snapshot_with_two();
        snapshot.apply(
            &unreachable(A, "2026-03-10T09:25:00Z"),
            at("2026-03-10T09:26:00Z"),
        );
        let json = serde_json::to_string(&snapshot).unwrap();
        let back: StatusSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snapshot);
        assert!(json.contains("\"led\":\"red\""));
    }

    fn fetched_both(snapshot: &mut StatusSnapshot) {
        snapshot.apply(
            &ok(A, 0, "2026-03-10T08:01:00Z"),
            at("2026-03-10T08:01:00Z"),
        );
        snapshot.apply(
            &ok(B, 0, "2026-03-10T08:01:00Z"),
            at("2026-03-10T08:01:00Z"),
        );
    }

    #[test]
    fn shares_problem_turns_led_amber() {
        let mut snapshot = snapshot_with_two();
        fetched_both(&mut snapshot);
        assert_eq!(snapshot.led, Led::Green);

        let problem = StatusEvent::SharesProblem {
            reason: "the Samba reload command failed".to_owned(),
            since: at("2026-03-10T08:02:00Z"),
        };
        snapshot.apply(&problem, at("2026-03-10T08:02:00Z"));
        assert_eq!(snapshot.led, Led::AmberBlinking);
        let reason = snapshot.shares_problem.as_ref().map(|p| p.reason.as_str());
        assert_eq!(reason, Some("the Samba reload command failed"));

        snapshot.apply(&StatusEvent::SharesOk, at("2026-03-10T08:03:00Z"));
        assert_eq!(snapshot.shares_problem, None);
        assert_eq!(snapshot.led, Led::Green);
    }

    #[test]
    fn shares_problem_gets_its_own_line() {
        let mut snapshot = snapshot_with_two();
        fetched_both(&mut snapshot);
        let problem = StatusEvent::SharesProblem {
            reason: "the Samba reload command failed".to_owned(),
            since: at("2026-03-10T08:02:00Z"),
        };
        snapshot.apply(&problem, at("2026-03-10T08:02:00Z"));

        let lines = snapshot.lines(at("2026-03-10T08:03:00Z"));

        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            lines[2],
            "Samba shares: problem since 09:02: the Samba reload command failed"
        );
        assert!(lines[0].ends_with(", ok"), "{lines:?}");
    }

    #[test]
    fn snapshot_without_shares_problem_field_reads() {
        let snapshot = snapshot_with_two();
        let mut json: serde_json::Value = serde_json::to_value(&snapshot).unwrap();
        json.as_object_mut().unwrap().remove("shares_problem");
        let back: StatusSnapshot = serde_json::from_value(json).unwrap();
        assert_eq!(back, snapshot);
    }
}
