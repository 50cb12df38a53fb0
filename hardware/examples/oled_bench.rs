//! Measures what a display update costs: bytes on the I2C bus, the estimated wire time at
//! 100 kHz and 400 kHz, and the CPU time of drawing and flushing against a recording bus.
//!
//! Run: `cargo run --release -p practicebox-hardware --example oled_bench`

use std::hint::black_box;
use std::time::{Duration, Instant};

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::text::Text;
use practicebox_hardware::pi::Ssd1306Display;
use practicebox_hardware::sim::{I2cWrite, RecordingI2c, wire_time};
use practicebox_hardware::{Display, FRAME_BYTES, HEIGHT, WIDTH};

const ITERATIONS: u32 = 2000;
const STANDARD_MODE_HZ: u32 = 100_000;
const FAST_MODE_HZ: u32 = 400_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bus = RecordingI2c::new();
    let mut display = Ssd1306Display::new(bus.clone(), "recording", 0x3C)?;
    let startup = bus.take_writes();
    report("startup (init sequence + blank frame)", &startup);

    // Alternating two complementary checkerboards changes every pixel, so each flush is a full
    // 1 KB frame.
    draw_checkerboard(&mut display, false);
    display.flush()?;
    let full = bus.take_writes();
    report("full frame update", &full);

    draw_clock(&mut display, "12:34")?;
    display.flush()?;
    bus.take_writes();
    draw_clock(&mut display, "12:35")?;
    display.flush()?;
    let minute = bus.take_writes();
    report("clock minute change (one 6x10 glyph)", &minute);

    let reference = wire_time(
        &[I2cWrite {
            address: 0x3C,
            bytes: vec![0; FRAME_BYTES],
        }],
        FAST_MODE_HZ,
    );
    println!(
        "reference: 1024 bytes in one transfer at 400 kHz: {:.2} ms",
        millis(reference)
    );

    let started = Instant::now();
    for iteration in 0..ITERATIONS {
        draw_checkerboard(&mut display, iteration % 2 == 0);
        display.flush()?;
        black_box(bus.take_writes());
    }
    let per_frame = started.elapsed() / ITERATIONS;
    println!(
        "CPU: full redraw + flush against the recording bus: {:.1} us per frame ({ITERATIONS} frames)",
        per_frame.as_secs_f64() * 1e6
    );
    Ok(())
}

fn report(name: &str, writes: &[I2cWrite]) {
    let transfers = writes.len();
    let payload: usize = writes.iter().map(|write| write.bytes.len()).sum();
    let data: usize = writes
        .iter()
        .filter(|write| write.bytes.first() == Some(&0x40))
        .map(|write| write.bytes.len() - 1)
        .sum();
    println!(
        "{name}: {transfers} transfers, {payload} bytes after the address ({data} display data \
         bytes), wire time {:.2} ms at 100 kHz, {:.2} ms at 400 kHz",
        millis(wire_time(writes, STANDARD_MODE_HZ)),
        millis(wire_time(writes, FAST_MODE_HZ)),
    );
}

fn draw_checkerboard(display: &mut impl DrawTarget<Color = BinaryColor>, inverted: bool) {
    let pixels = (0..HEIGHT).flat_map(|y| {
        (0..WIDTH).map(move |x| {
            let on = ((x + y) % 2 == 0) != inverted;
            Pixel(Point::new(x as i32, y as i32), BinaryColor::from(on))
        })
    });
    let _ = display.draw_iter(pixels);
}

fn draw_clock(
    display: &mut Ssd1306Display<RecordingI2c>,
    time: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    display.clear(BinaryColor::Off)?;
    let style = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
    Text::new(time, Point::new(90, 10), style).draw(display)?;
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
