//! The demo's terminal output: one aligned line per event, the status a display would show, and
//! the closing summary.
//!
//! Every function here builds text; printing is left to the caller.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ehealth_sim::mail::{GeneratedMessage, MessageKind};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::practice::PracticeDoctor;
use super::tracker::{Outcome, Settled};
use crate::ehealth::clock::Clock;
use crate::status::{Led, StatusSnapshot};
use crate::store::{PrincipalId, Role};

/// Width of the doctor column.
const DOCTOR_WIDTH: usize = 22;
/// Width of the kind column.
const KIND_WIDTH: usize = 9;
/// Width of the sender column.
const SENDER_WIDTH: usize = 26;
/// Indent of lines that continue an event line: the time and two spaces.
const INDENT: &str = "          ";

/// Formats instants as local wall-clock times, such as `10:42:07`.
#[derive(Debug, Clone)]
pub struct TimeFormat {
    pub zone: TimeZone,
    pub clock: Arc<dyn Clock>,
}

impl TimeFormat {
    pub fn format(&self, at: Timestamp) -> String {
        at.to_zoned_datetime(self.zone.clone())
            .strftime("%H:%M:%S")
            .to_string()
    }

    /// Returns the clock's current time, formatted.
    pub fn now(&self) -> String {
        self.format(self.clock.now())
    }
}

/// Builds the opening lines: the simulator's address, the share folder and the doctors fetched.
pub fn header(
    simulator_url: &str,
    share: &Path,
    doctors: &[PracticeDoctor],
    interval_secs: u64,
) -> Vec<String> {
    let main: Vec<String> = doctors
        .iter()
        .filter(|doctor| doctor.role == Role::Main)
        .map(PracticeDoctor::display_name)
        .collect();
    let mandators: Vec<String> = doctors
        .iter()
        .filter(|doctor| doctor.role == Role::Mandator)
        .map(PracticeDoctor::display_name)
        .collect();
    let mut practice = format!("{} (main doctor)", main.join(", "));
    if !mandators.is_empty() {
        practice.push_str(&format!(", {} (mandates)", mandators.join(", ")));
    }
    vec![
        "PracticeBox demo: the box fetching a group practice's eHealthBoxes".to_owned(),
        format!("  simulator  {simulator_url} (eHealth platform stand-in, test CA)"),
        format!("  share      {}", share.display()),
        format!("  practice   {practice}"),
        format!("  fetching   every {interval_secs} s per doctor; Ctrl-C stops"),
        String::new(),
    ]
}

/// Announces a wave of mail.
pub fn wave_line(time: &str, number: usize, total: usize, messages: &[GeneratedMessage]) -> String {
    let documents = messages
        .iter()
        .filter(|message| message.kind == MessageKind::Document)
        .count();
    let notices = messages.len() - documents;
    let mut line = format!(
        "{time}  wave {number}/{total}: {} sealed messages sent, {documents} documents",
        messages.len()
    );
    if notices > 0 {
        line.push_str(&format!(
            ", {notices} {}",
            plural(notices, "notice", "notices")
        ));
    }
    line
}

/// Describes what became of one message: one line, and a second for the file or the reason.
pub fn settled_lines(time: &str, doctor: &str, settled: &Settled) -> Vec<String> {
    let plain = &settled.message.planned.plain;
    let sender = truncate(&sender_name(plain), SENDER_WIDTH);
    let (kind, detail) = match &settled.outcome {
        Outcome::OnShare { paths, .. } => {
            let mut detail = format!("-> {}", paths.first().map_or("", String::as_str));
            let annexes = paths.len().saturating_sub(1);
            if annexes > 0 {
                detail.push_str(&format!(
                    " (+{annexes} {})",
                    plural(annexes, "annex", "annexes")
                ));
            }
            (kind_label(plain), detail)
        }
        Outcome::Recorded { .. } => (
            kind_label(plain),
            "recorded; not a document for the medical record software".to_owned(),
        ),
        Outcome::Held { reason } => (
            "HELD".to_owned(),
            format!("stays in the eHealthBox: {reason}"),
        ),
    };
    let doctor = truncate(doctor, DOCTOR_WIDTH);
    let first = format!(
        "{time}  {doctor:<DOCTOR_WIDTH$} {kind:<KIND_WIDTH$} {sender:<SENDER_WIDTH$} {}",
        truncate(&plain.title, 40)
    );
    vec![first, format!("{INDENT}{:DOCTOR_WIDTH$} {detail}", "")]
}

/// Builds the status a display would show: the LED, then one line per doctor.
pub fn status_lines(time: &str, view: &DisplayView) -> Vec<String> {
    let mut lines = vec![format!("{time}  display  LED {}", led_name(view.led))];
    for line in &view.lines {
        lines.push(format!("{INDENT}         {line}"));
    }
    lines
}

/// Returns `snapshot` at `now` as it is between fetch runs.
///
/// NOTE: a fetch run under way turns the LED amber and adds "fetching" to the doctor's line. At
/// the demo's interval of a few seconds that would print every run, so the terminal and the
/// panel show the snapshot as it is between runs.
pub fn settled(snapshot: &StatusSnapshot, now: Timestamp) -> StatusSnapshot {
    let mut settled = snapshot.clone();
    for principal in &mut settled.principals {
        principal.fetching = false;
    }
    settled.refresh(now);
    settled
}

/// The part of a status snapshot the terminal prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayView {
    pub led: Led,
    /// One line per doctor, as `practicebox status` prints them.
    pub lines: Vec<String>,
}

impl DisplayView {
    /// Builds the view of a settled snapshot at `now`.
    pub fn of(settled: &StatusSnapshot, now: Timestamp) -> Self {
        // Before the scheduler reads the store, the snapshot's only line requests a main doctor,
        // which the demo already has.
        let lines = if settled.principals.is_empty() {
            Vec::new()
        } else {
            settled.lines(now)
        };
        Self {
            led: settled.led,
            lines,
        }
    }
}

/// Builds the closing summary: counts per doctor, files on the share, held messages.
pub fn summary(
    doctors: &[PracticeDoctor],
    settled: &[Settled],
    share: &ShareCount,
    sent: usize,
    pending: usize,
) -> Vec<String> {
    let mut counts: BTreeMap<PrincipalId, Counts> = BTreeMap::new();
    let mut held = Vec::new();
    for entry in settled {
        let count = counts.entry(entry.principal).or_default();
        match &entry.outcome {
            Outcome::OnShare { paths, .. } => {
                count.documents += 1;
                count.files += paths.len();
            }
            Outcome::Recorded { .. } => count.recorded += 1,
            Outcome::Held { reason } => {
                count.held += 1;
                held.push((entry.principal, reason.clone()));
            }
        }
    }

    let mut lines = vec![String::new(), format!("Summary: {sent} messages sent")];
    for doctor in doctors {
        let count = counts.get(&doctor.principal).copied().unwrap_or_default();
        lines.push(format!(
            "  {:<DOCTOR_WIDTH$} {:>3} {} ({} files) on the share, {:>2} {} recorded, {} held",
            truncate(&doctor.display_name(), DOCTOR_WIDTH),
            count.documents,
            plural(count.documents, "document", "documents"),
            count.files,
            count.recorded,
            plural(count.recorded, "notice", "notices"),
            count.held,
        ));
    }
    // The share counts files: a document with annexes is several.
    lines.push(format!(
        "  share      {} files of documents and annexes, {} sidecars in {}",
        share.documents,
        share.sidecars,
        share.root.display()
    ));
    for (principal, reason) in held {
        let name = doctors
            .iter()
            .find(|doctor| doctor.principal == principal)
            .map_or_else(
                || format!("principal {principal}"),
                PracticeDoctor::display_name,
            );
        lines.push(format!("  held       {name}: {reason}"));
    }
    if pending > 0 {
        lines.push(format!(
            "  pending    {pending} {} not fetched yet when the demo stopped",
            plural(pending, "message", "messages")
        ));
    }
    lines
}

/// Per-doctor counts of the summary.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    documents: usize,
    files: usize,
    recorded: usize,
    held: usize,
}

/// The files found on the share.
#[derive(Debug, Clone, Default)]
pub struct ShareCount {
    pub root: std::path::PathBuf,
    /// Delivered documents and annexes.
    pub documents: usize,
    /// The `.json` files beside them.
    pub sidecars: usize,
}

impl ShareCount {
    /// Counts the files under `root`, leaving out hidden ones (staging files, the demo marker).
    pub fn of(root: &Path) -> std::io::Result<ShareCount> {
        let mut count = ShareCount {
            root: root.to_owned(),
            ..ShareCount::default()
        };
        let mut folders = vec![root.to_owned()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder)? {
                let entry = entry?;
                let name = entry.file_name();
                if name.to_string_lossy().starts_with('.') {
                    continue;
                }
                if entry.file_type()?.is_dir() {
                    folders.push(entry.path());
                } else if name.to_string_lossy().ends_with(".json") {
                    count.sidecars += 1;
                } else {
                    count.documents += 1;
                }
            }
        }
        Ok(count)
    }
}

fn kind_label(message: &GeneratedMessage) -> String {
    match message.kind {
        MessageKind::Document => message.format.to_string(),
        MessageKind::Acknowledgment => "receipt".to_owned(),
        MessageKind::Error => "error".to_owned(),
        MessageKind::News => "news".to_owned(),
    }
}

fn sender_name(message: &GeneratedMessage) -> String {
    match &message.sender.first_name {
        Some(first_name) => format!("{first_name} {}", message.sender.name),
        None => message.sender.name.clone(),
    }
}

fn led_name(led: Led) -> &'static str {
    match led {
        Led::Off => "off",
        Led::Green => "green",
        Led::AmberBlinking => "amber, blinking",
        Led::Red => "red",
    }
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

/// Cuts `text` to at most `width` characters, marking a cut with `~`.
fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('~');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_marks_cut() {
        assert_eq!(truncate("Labo Sint-Jan", 20), "Labo Sint-Jan");
        assert_eq!(truncate("Algemeen Ziekenhuis", 8), "Algemee~");
        assert_eq!(truncate("", 3), "");
    }

    #[test]
    fn share_count_skips_hidden() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("Vermeiren_Lotte");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("a.lab"), b"x").unwrap();
        std::fs::write(folder.join("a.lab.json"), b"{}").unwrap();
        std::fs::write(folder.join(".staging-1"), b"x").unwrap();
        std::fs::write(root.path().join(".practicebox-demo"), b"x").unwrap();
        let count = ShareCount::of(root.path()).unwrap();
        assert_eq!(count.documents, 1);
        assert_eq!(count.sidecars, 1);
    }

    #[test]
    fn plural_picks_form() {
        assert_eq!(plural(1, "annex", "annexes"), "annex");
        assert_eq!(plural(2, "annex", "annexes"), "annexes");
        assert_eq!(plural(0, "annex", "annexes"), "annexes");
    }
}
