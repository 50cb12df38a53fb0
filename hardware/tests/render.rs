//! PNG and ASCII renderings of a known screen, and the wiring diagram, against committed
//! fixtures.

mod common;

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Circle, Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::Text;
use practicebox_hardware::sim::{AsciiStyle, FrameBuffer};
use practicebox_hardware::wiring::{DIAGRAM_HEIGHT, DIAGRAM_WIDTH, wiring_diagram_png};
use practicebox_hardware::{Display, HEIGHT, WIDTH};

use common::{check_png, check_text, decode_png, fixture_path};

/// Draws a screen with text, a border, a filled circle and a diagonal line.
fn draw_known_screen(display: &mut FrameBuffer) {
    let text_style = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
    let stroke = PrimitiveStyle::with_stroke(BinaryColor::On, 1);

    Rectangle::new(Point::zero(), Size::new(WIDTH, HEIGHT))
        .into_styled(stroke)
        .draw(display)
        .expect("drawing in memory");
    Text::new("PracticeBox", Point::new(4, 12), text_style)
        .draw(display)
        .expect("drawing in memory");
    Text::new("Dr Peeters: 3 new", Point::new(4, 26), text_style)
        .draw(display)
        .expect("drawing in memory");
    Circle::new(Point::new(100, 34), 20)
        .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
        .draw(display)
        .expect("drawing in memory");
    Line::new(Point::new(4, 60), Point::new(90, 34))
        .into_styled(stroke)
        .draw(display)
        .expect("drawing in memory");
}

fn known_screen() -> FrameBuffer {
    let mut display = FrameBuffer::new();
    draw_known_screen(&mut display);
    display.flush().expect("simulated flush");
    display
}

#[test]
fn png_matches_fixture() {
    let display = known_screen();

    let png = display.to_png(4).unwrap();

    let ((width, height), _) = decode_png(&png);
    assert_eq!((width, height), (512, 256));
    check_png(&fixture_path("screen-4x.png"), &png);
}

#[test]
fn hash_ascii_matches_fixture() {
    let display = known_screen();

    let text = display.to_ascii(AsciiStyle::Hash);

    assert_eq!(text.lines().count(), 64);
    check_text(&fixture_path("screen-hash.txt"), &text);
}

#[test]
fn half_block_ascii_matches_fixture() {
    let display = known_screen();

    let text = display.to_ascii(AsciiStyle::HalfBlocks);

    assert_eq!(text.lines().count(), 34);
    check_text(&fixture_path("screen-blocks.txt"), &text);
}

#[test]
fn unflushed_drawing_is_not_rendered() {
    let mut display = FrameBuffer::new();
    draw_known_screen(&mut display);

    let text = display.to_ascii(AsciiStyle::Hash);

    assert!(!text.contains('#'));
    assert_eq!(display.flush_count(), 0);
}

#[test]
fn redraw_of_same_screen_changes_nothing() {
    let mut display = known_screen();
    display.clear(BinaryColor::Off).unwrap();
    draw_known_screen(&mut display);

    display.flush().unwrap();

    assert_eq!(display.flush_count(), 2);
    assert_eq!(display.last_flush_area(), None);
}

#[test]
fn wiring_diagram_matches_committed_picture() {
    let png = wiring_diagram_png().unwrap();

    let ((width, height), _) = decode_png(&png);
    assert_eq!((width, height), (DIAGRAM_WIDTH, DIAGRAM_HEIGHT));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/wiring.png");
    check_png(&path, &png);
}
