//! The status screen, shown by default: the LED and its meaning with the clock, one row per
//! principal, and whether the eHealth platform responds. It also draws the detail page of one
//! principal.
//!
//! A principal's row contains the name (9 characters), the messages new today, the time of the
//! last fetch (the date when it was not today, `--:--` before the first) and a mark: `»` while
//! fetching, `!` when a message of the last run was held or a mandate or certificate ends within
//! 30 days. A principal with a problem
//! shows `!` and one word for the kind of problem instead. More principals than fit are shown
//! page by page; the controller turns the pages.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use practicebox_hardware::Frame;

use super::errors::format_date;
use super::pages::text_page;
use super::render::{Canvas, HINT_TOP, ROW_HEIGHT, body_row_top, truncate, wrap};
use super::text::{COLUMNS, Language, Text};
use crate::fetcher::ProblemKind;
use crate::status::{ATTENTION_WINDOW, Led, PrincipalStatus, StatusSnapshot};
use crate::store::PrincipalId;

/// Characters of a name in a principal's row.
const NAME_WIDTH: usize = 9;

/// Inputs of the status screen at one instant.
#[derive(Debug, Clone, Copy)]
pub struct StatusScreen<'a> {
    pub snapshot: &'a StatusSnapshot,
    /// Short names (family names) per principal; others show the snapshot's name.
    pub names: &'a HashMap<PrincipalId, String>,
    pub now: Timestamp,
    /// The page of principals to show, counted from 0 and wrapping around.
    pub page: usize,
}

impl StatusScreen<'_> {
    /// Returns how many pages the principals take.
    pub fn pages(&self) -> usize {
        self.snapshot
            .principals
            .len()
            .div_ceil(self.rows_per_page())
            .max(1)
    }

    /// Draws the screen in `language`.
    pub fn render(&self, language: Language) -> Frame {
        let mut canvas = Canvas::new();
        let zone = zone(self.snapshot);
        let clock = self
            .now
            .to_zoned_datetime(zone.clone())
            .strftime("%H:%M")
            .to_string();
        let meaning = language.text(led_meaning(self.snapshot, self.now));
        canvas.title_with_right(meaning, &clock);

        if self.snapshot.principals.is_empty() {
            let rows = wrap(language.text(Text::StatusNoPrincipal), COLUMNS);
            canvas.body(&rows);
        } else {
            self.draw_principals(&mut canvas, language, &zone);
        }
        self.draw_footer(&mut canvas, language, &zone);
        canvas.into_frame()
    }

    fn draw_principals(&self, canvas: &mut Canvas, language: Language, zone: &TimeZone) {
        let per_page = self.rows_per_page();
        let page = self.page % self.pages();
        let shown = self
            .snapshot
            .principals
            .iter()
            .skip(page * per_page)
            .take(per_page);
        for (row, status) in shown.enumerate() {
            let name = short_name(self.names, status);
            let text = principal_row(language, status, &name, self.now, zone);
            canvas.text(0, body_row_top(row), &text);
        }
    }

    fn draw_footer(&self, canvas: &mut Canvas, language: Language, zone: &TimeZone) {
        let rows = self.footer_rows(language, zone);
        let top = HINT_TOP - ROW_HEIGHT * (rows.len() as i32 - 1);
        canvas.separator(top - 2);
        for (index, row) in rows.iter().enumerate() {
            canvas.text(0, top + ROW_HEIGHT * index as i32, row);
        }
        let pages = self.pages();
        let last = rows.last().map_or(0, |row| row.chars().count());
        if pages > 1 {
            let indicator = format!("{}/{pages}", self.page % pages + 1);
            if last + 1 + indicator.len() <= COLUMNS {
                canvas.text_right(HINT_TOP, &indicator);
            }
        }
    }

    fn footer_rows(&self, language: Language, zone: &TimeZone) -> Vec<String> {
        let text = match self.snapshot.unreachable_since {
            Some(since) => {
                let time = local_time(since, zone, self.now);
                language.format(Text::StatusEhealthUnreachable, &[("time", &time)])
            }
            None if self.any_fetched() => language.text(Text::StatusEhealthReachable).to_owned(),
            None => language.text(Text::StatusEhealthUnknown).to_owned(),
        };
        wrap(&text, COLUMNS)
    }

    fn any_fetched(&self) -> bool {
        self.snapshot
            .principals
            .iter()
            .any(|status| status.last_success.is_some())
    }

    /// Four rows of principals fit above a one-row footer, three above a two-row one.
    fn rows_per_page(&self) -> usize {
        if self.snapshot.unreachable_since.is_some() {
            3
        } else {
            4
        }
    }
}

/// Returns the text that names the LED state and its reason, for the status header.
pub fn led_meaning(snapshot: &StatusSnapshot, now: Timestamp) -> Text {
    match snapshot.led {
        Led::Off => Text::StatusOff,
        Led::Green => Text::StatusAllFetched,
        Led::Red => Text::StatusProblem,
        Led::AmberBlinking => {
            if snapshot.principals.iter().any(|status| status.fetching) {
                Text::StatusFetching
            } else if snapshot.principals.iter().any(|status| status.held > 0) {
                Text::StatusHeld
            } else if snapshot
                .principals
                .iter()
                .any(|status| ends_soon(status, now))
            {
                Text::StatusEndsSoon
            } else {
                Text::StatusPending
            }
        }
    }
}

/// Returns the short name of `status`: from `names`, else the snapshot's name.
pub fn short_name(names: &HashMap<PrincipalId, String>, status: &PrincipalStatus) -> String {
    names
        .get(&status.principal)
        .cloned()
        .unwrap_or_else(|| status.name.clone())
}

/// Builds one principal's row of the status screen.
fn principal_row(
    language: Language,
    status: &PrincipalStatus,
    name: &str,
    now: Timestamp,
    zone: &TimeZone,
) -> String {
    let name = truncate(name, NAME_WIDTH);
    if let Some(problem) = &status.problem {
        let word = language.text(problem_word(problem.kind));
        return format!("{name:<NAME_WIDTH$} ! {word}");
    }
    let time = match status.last_success {
        Some(at) => local_time(at, zone, now),
        None => "--:--".to_owned(),
    };
    let mark = if status.fetching {
        '»'
    } else if status.held > 0 || ends_soon(status, now) {
        '!'
    } else {
        ' '
    };
    let new_today = new_today(status, now, zone);
    format!("{name:<NAME_WIDTH$} {new_today:>3} {time:>5} {mark}")
        .trim_end()
        .to_owned()
}

/// Returns the messages new today: the snapshot's count if it is of today's local date.
fn new_today(status: &PrincipalStatus, now: Timestamp, zone: &TimeZone) -> u32 {
    let today = now.to_zoned_datetime(zone.clone()).date();
    if status.new_today_date == Some(today) {
        status.new_today
    } else {
        0
    }
}

/// `10:30` today, `03/12` on another day.
fn local_time(at: Timestamp, zone: &TimeZone, now: Timestamp) -> String {
    let zoned = at.to_zoned_datetime(zone.clone());
    if zoned.date() == now.to_zoned_datetime(zone.clone()).date() {
        zoned.strftime("%H:%M").to_string()
    } else {
        zoned.strftime("%d/%m").to_string()
    }
}

fn ends_soon(status: &PrincipalStatus, now: Timestamp) -> bool {
    let window = SignedDuration::try_from(ATTENTION_WINDOW).unwrap_or(SignedDuration::MAX);
    status
        .attention
        .values()
        .any(|date| date.duration_since(now) <= window)
}

fn problem_word(kind: ProblemKind) -> Text {
    match kind {
        ProblemKind::Unreachable => Text::ProblemWordUnreachable,
        ProblemKind::Authentication => Text::ProblemWordAuthentication,
        ProblemKind::DoctorAction => Text::ProblemWordDoctorAction,
        ProblemKind::PlatformBug => Text::ProblemWordPlatform,
        ProblemKind::Share => Text::ProblemWordShare,
        ProblemKind::Clock => Text::ProblemWordClock,
        ProblemKind::Internal => Text::ProblemWordInternal,
    }
}

fn problem_sentence(kind: ProblemKind) -> Text {
    match kind {
        ProblemKind::Unreachable => Text::ProblemUnreachable,
        ProblemKind::Authentication => Text::ProblemAuthentication,
        ProblemKind::DoctorAction => Text::ProblemDoctorAction,
        ProblemKind::PlatformBug => Text::ProblemPlatform,
        ProblemKind::Share => Text::ProblemShare,
        ProblemKind::Clock => Text::ProblemClock,
        ProblemKind::Internal => Text::ProblemInternal,
    }
}

fn zone(snapshot: &StatusSnapshot) -> TimeZone {
    TimeZone::get(&snapshot.time_zone).unwrap_or(TimeZone::UTC)
}

/// Builds the rows of a principal's detail page: new today, last fetch, held messages, ends
/// within 30 days, and the problem with what to do.
pub fn detail_rows(
    language: Language,
    snapshot: &StatusSnapshot,
    status: &PrincipalStatus,
    now: Timestamp,
) -> Vec<String> {
    let zone = zone(snapshot);
    let mut rows = Vec::new();
    let count = new_today(status, now, &zone).to_string();
    rows.push(language.format(Text::DetailNewToday, &[("count", &count)]));
    if status.fetching {
        rows.push(language.text(Text::DetailFetching).to_owned());
    }
    match status.last_success {
        Some(at) => {
            let time = local_time(at, &zone, now);
            rows.push(language.format(Text::DetailLastFetch, &[("time", &time)]));
        }
        None => rows.push(language.text(Text::DetailNotFetched).to_owned()),
    }
    if status.held > 0 {
        let held = status.held.to_string();
        rows.push(language.format(Text::DetailHeld, &[("count", &held)]));
    }
    for (what, date) in &status.attention {
        if date.duration_since(now) > SignedDuration::try_from(ATTENTION_WINDOW).unwrap_or_default()
        {
            continue;
        }
        let key = if what == "certificate" {
            Text::DetailCertificateEnds
        } else {
            Text::DetailMandateEnds
        };
        let day = format_date(date.to_zoned_datetime(zone.clone()).date());
        rows.extend(wrap(&language.format(key, &[("date", &day)]), COLUMNS));
    }
    match &status.problem {
        Some(problem) => rows.extend(wrap(language.text(problem_sentence(problem.kind)), COLUMNS)),
        None if !status.fetching && status.last_success.is_some() => {
            rows.push(language.text(Text::DetailAllFine).to_owned());
        }
        None => {}
    }
    rows
}

/// Draws the detail page of `status` from row `first`.
pub fn render_detail(
    language: Language,
    snapshot: &StatusSnapshot,
    status: &PrincipalStatus,
    name: &str,
    now: Timestamp,
    first: usize,
) -> Frame {
    let rows = detail_rows(language, snapshot, status, now);
    text_page(
        &truncate(name, COLUMNS),
        &rows,
        first,
        language.text(Text::HintBack),
    )
}
