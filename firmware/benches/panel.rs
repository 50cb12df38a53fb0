//! Benchmark: what the panel's screen changes cost on the I2C bus, and the CPU time of drawing a
//! screen and flushing it.
//!
//! Run with `cargo bench -p practicebox --bench panel`. Each step draws one of the panel's
//! screens (Dutch texts), copies it to the real SSD1306 driver over an in-memory bus that
//! records every write, and flushes. The driver sends only the changed area, so each row of
//! the table is the traffic of one screen change. Wire times are estimates from the recorded
//! bytes (see `practicebox_hardware::sim::wire_time`). The CPU time is the median of many
//! full redraws: render the screen, copy its 8192 pixels, flush every changed pixel.
//!
//! The output is a Markdown section for BENCHMARKS.md.

#![allow(clippy::unwrap_used, reason = "benchmark tool")]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use embedded_graphics::prelude::DrawTarget;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use practicebox::fetcher::ProblemKind;
use practicebox::panel::Language;
use practicebox::panel::controller::screens;
use practicebox::panel::entry::{EntryKind, TextEntry};
use practicebox::panel::gesture::Gesture;
use practicebox::panel::render::Canvas;
use practicebox::panel::runner::pixels;
use practicebox::panel::status_screen::StatusScreen;
use practicebox::status::{StatusEvent, StatusSnapshot};
use practicebox::store::PrincipalId;
use practicebox_hardware::pi::Ssd1306Display;
use practicebox_hardware::sim::{I2cWrite, RecordingI2c, wire_time};
use practicebox_hardware::{Button, Display, Frame, board};

const STANDARD_MODE_HZ: u32 = 100_000;
const FAST_MODE_HZ: u32 = 400_000;
const REDRAWS: usize = 2001;
const LANGUAGE: Language = Language::Dutch;

fn main() {
    let bus = RecordingI2c::new();
    let mut display = Ssd1306Display::new(bus.clone(), "recording", board::OLED_ADDRESS).unwrap();
    bus.take_writes();

    let at = |text: &str| -> Timestamp { text.parse().unwrap() };
    let minute = at("2026-12-04T10:42:00Z");
    let next_minute = at("2026-12-04T10:43:00Z");
    let names = names();
    let green = green(minute);
    let unreachable = unreachable(minute);
    let status = |snapshot: &StatusSnapshot, now: Timestamp, page: usize| {
        StatusScreen {
            snapshot,
            names: &names,
            now,
            page,
        }
        .render(LANGUAGE)
    };
    let mut entry = TextEntry::new(EntryKind::Password);
    let picker_before = picker(&entry);
    entry.gesture(Gesture::short(Button::Up));
    let picker_after = picker(&entry);

    let steps: Vec<(&str, Frame)> = vec![
        (
            "status screen on a blank display",
            status(&green, minute, 0),
        ),
        (
            "status, clock to the next minute",
            status(&green, next_minute, 0),
        ),
        ("status to menu", screens::menu(LANGUAGE, 0)),
        ("menu, selection one down", screens::menu(LANGUAGE, 1)),
        ("menu to LED meanings", screens::leds(LANGUAGE)),
        (
            "LED meanings to status, eHealth unreachable",
            status(&unreachable, minute, 0),
        ),
        (
            "status, page 1 to page 2 of 5 doctors",
            status(&unreachable, minute, 1),
        ),
        ("status to password picker", picker_before),
        ("password picker, next character (up)", picker_after),
    ];

    println!("## Front panel: screen changes of the panel on the I2C bus\n");
    println!(
        "| screen change | transfers | bytes after the address | display data bytes | wire time at 100 kHz | wire time at 400 kHz |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, frame) in &steps {
        display.draw_iter(pixels(frame)).unwrap();
        display.flush().unwrap();
        report(name, &bus.take_writes());
    }

    let reference = wire_time(
        &[I2cWrite {
            address: board::OLED_ADDRESS,
            bytes: vec![0; practicebox_hardware::FRAME_BYTES],
        }],
        FAST_MODE_HZ,
    );
    println!(
        "\nReference: 1024 bytes in one transfer at 400 kHz take {:.2} ms.",
        millis(reference)
    );

    let cpu = redraw_median(&mut display, &bus, &green, &unreachable, &names, minute);
    println!(
        "\nCPU: render a status screen, copy it and flush it against the recording bus \
         (alternating two screens, so each flush sends a changed area): median {:.1} us over \
         {REDRAWS} redraws.",
        cpu.as_secs_f64() * 1e6
    );
}

/// Returns the median time of rendering one of two status screens and flushing it.
fn redraw_median(
    display: &mut Ssd1306Display<RecordingI2c>,
    bus: &RecordingI2c,
    green: &StatusSnapshot,
    unreachable: &StatusSnapshot,
    names: &HashMap<PrincipalId, String>,
    now: Timestamp,
) -> Duration {
    let mut times = Vec::with_capacity(REDRAWS);
    for index in 0..REDRAWS {
        let snapshot = if index % 2 == 0 { green } else { unreachable };
        let started = Instant::now();
        let frame = StatusScreen {
            snapshot,
            names,
            now,
            page: 0,
        }
        .render(LANGUAGE);
        display.draw_iter(pixels(&frame)).unwrap();
        display.flush().unwrap();
        times.push(started.elapsed());
        black_box(bus.take_writes());
    }
    times.sort();
    times[REDRAWS / 2]
}

fn report(name: &str, writes: &[I2cWrite]) {
    let payload: usize = writes.iter().map(|write| write.bytes.len()).sum();
    let data: usize = writes
        .iter()
        .filter(|write| write.bytes.first() == Some(&0x40))
        .map(|write| write.bytes.len() - 1)
        .sum();
    println!(
        "| {name} | {} | {payload} | {data} | {:.2} ms | {:.2} ms |",
        writes.len(),
        millis(wire_time(writes, STANDARD_MODE_HZ)),
        millis(wire_time(writes, FAST_MODE_HZ)),
    );
}

fn picker(entry: &TextEntry) -> Frame {
    let mut canvas = Canvas::new();
    canvas.title(LANGUAGE.text(practicebox::panel::text::Text::WizardPasswordTitle));
    entry.draw(&mut canvas);
    canvas.hint(LANGUAGE.text(practicebox::panel::text::Text::HintPicker));
    canvas.into_frame()
}

fn names() -> HashMap<PrincipalId, String> {
    [
        "Vermeiren",
        "Vandenberghe-Lemaître",
        "Peeters",
        "Dubois",
        "Moreau",
    ]
    .iter()
    .enumerate()
    .map(|(index, name)| (PrincipalId(index as i64 + 1), (*name).to_owned()))
    .collect()
}

fn added(count: i64, now: Timestamp) -> StatusSnapshot {
    let mut snapshot = StatusSnapshot::new(&TimeZone::get("Europe/Brussels").unwrap(), now);
    for id in 1..=count {
        let event = StatusEvent::PrincipalAdded {
            principal: PrincipalId(id),
            name: format!("principal {id}"),
            interval_secs: 300,
        };
        snapshot.apply(&event, now);
    }
    snapshot
}

fn green(now: Timestamp) -> StatusSnapshot {
    let mut snapshot = added(3, now);
    for id in 1..=3 {
        let event = StatusEvent::Ok {
            principal: PrincipalId(id),
            new: id as u32 * 4,
            delivered: id as u32 * 4,
            held: 0,
            at: now,
        };
        snapshot.apply(&event, now);
    }
    snapshot
}

fn unreachable(now: Timestamp) -> StatusSnapshot {
    let mut snapshot = added(5, now);
    for id in 1..=5 {
        let event = StatusEvent::Error {
            principal: PrincipalId(id),
            reason: "connection refused".to_owned(),
            kind: ProblemKind::Unreachable,
            since: now,
        };
        snapshot.apply(&event, now);
    }
    snapshot
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
