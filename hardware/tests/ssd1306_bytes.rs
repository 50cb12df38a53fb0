//! Byte-exact I2C traffic of the SSD1306 driver, checked with embedded-hal-mock.
//!
//! Every I2C write to the display starts with a control byte: 0x00 for a command, 0x40 for
//! display data. `ssd1306` 0.10 sends each command as its own write and data in writes of at
//! most 16 bytes.

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};
use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use practicebox_hardware::pi::Ssd1306Display;
use practicebox_hardware::sim::RecordingI2c;
use practicebox_hardware::{Display, DisplayError, FRAME_BYTES};
use ssd1306::prelude::{DisplayConfig, DisplayRotation, DisplaySize128x64};
use ssd1306::{I2CDisplayInterface, Ssd1306};

const ADDRESS: u8 = 0x3C;

fn command(bytes: &[u8]) -> Transaction {
    let mut write = vec![0x00];
    write.extend_from_slice(bytes);
    Transaction::write(ADDRESS, write)
}

fn data(bytes: &[u8]) -> Vec<Transaction> {
    bytes
        .chunks(16)
        .map(|chunk| {
            let mut write = vec![0x40];
            write.extend_from_slice(chunk);
            Transaction::write(ADDRESS, write)
        })
        .collect()
}

/// Returns the init sequence for a 128x64 panel, unrotated, in horizontal addressing mode.
fn init_sequence() -> Vec<Transaction> {
    vec![
        command(&[0xAE]),       // display off
        command(&[0xD5, 0x80]), // clock divide 1, oscillator frequency 8
        command(&[0xA8, 0x3F]), // multiplex ratio 64
        command(&[0xD3, 0x00]), // display offset 0
        command(&[0x40]),       // start line 0
        command(&[0x8D, 0x14]), // charge pump on
        command(&[0x20, 0x00]), // horizontal addressing mode
        command(&[0xDA, 0x12]), // COM pins: alternative configuration, no left/right remap
        command(&[0xA1]),       // segment remap: column 127 is SEG0
        command(&[0xC8]),       // COM scan direction reversed
        command(&[0xD9, 0x21]), // pre-charge: phase 1 one clock, phase 2 two clocks
        command(&[0x81, 0x5F]), // contrast 0x5F
        command(&[0xDB, 0x40]), // VCOMH deselect level (the crate's "auto")
        command(&[0xA4]),       // display follows RAM
        command(&[0xA6]),       // not inverted
        command(&[0x2E]),       // scrolling off
        command(&[0xAF]),       // display on
    ]
}

/// Returns the init sequence followed by the blank frame that clears the power-up noise.
fn startup() -> Vec<Transaction> {
    let mut expected = init_sequence();
    expected.push(command(&[0x21, 0, 127]));
    expected.push(command(&[0x22, 0, 7]));
    expected.extend(data(&[0; FRAME_BYTES]));
    expected
}

fn open(expected: &[Transaction]) -> (Ssd1306Display<Mock>, Mock) {
    let mock = Mock::new(expected);
    let display = Ssd1306Display::new(mock.clone(), "mock", ADDRESS).expect("display init");
    (display, mock)
}

fn draw_square(display: &mut impl DrawTarget<Color = BinaryColor>, color: BinaryColor) {
    let _ = Rectangle::new(Point::new(10, 10), Size::new(3, 3))
        .into_styled(PrimitiveStyle::with_fill(color))
        .draw(display);
}

#[test]
fn startup_sends_init_and_blank_frame() {
    let (display, mut mock) = open(&startup());

    assert_eq!(display.flush_count(), 0);
    mock.done();
}

#[test]
fn small_drawing_sends_its_area() {
    let mut expected = startup();
    // Pixels (10..=12, 10..=12) are bits 2 to 4 of page 1 in columns 10 to 12.
    expected.push(command(&[0x21, 10, 12]));
    expected.push(command(&[0x22, 1, 1]));
    expected.extend(data(&[0x1C, 0x1C, 0x1C]));
    let (mut display, mut mock) = open(&expected);

    draw_square(&mut display, BinaryColor::On);
    display.flush().unwrap();

    assert_eq!(
        display.last_flush_area(),
        Some(Rectangle::new(Point::new(10, 10), Size::new(3, 3)))
    );
    mock.done();
}

#[test]
fn area_across_pages_sends_both() {
    let mut expected = startup();
    // Rows 6..=9 are bits 6-7 of page 0 and bits 0-1 of page 1.
    expected.push(command(&[0x21, 100, 103]));
    expected.push(command(&[0x22, 0, 1]));
    expected.extend(data(&[0xC0; 4]));
    expected.extend(data(&[0x03; 4]));
    let (mut display, mut mock) = open(&expected);

    Rectangle::new(Point::new(100, 6), Size::new(4, 4))
        .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
        .draw(&mut display)
        .unwrap();
    display.flush().unwrap();

    mock.done();
}

#[test]
fn long_row_splits_into_16_byte_writes() {
    let mut expected = startup();
    expected.push(command(&[0x21, 0, 39]));
    expected.push(command(&[0x22, 0, 0]));
    expected.push(Transaction::write(
        ADDRESS,
        [vec![0x40], vec![0x01; 16]].concat(),
    ));
    expected.push(Transaction::write(
        ADDRESS,
        [vec![0x40], vec![0x01; 16]].concat(),
    ));
    expected.push(Transaction::write(
        ADDRESS,
        [vec![0x40], vec![0x01; 8]].concat(),
    ));
    let (mut display, mut mock) = open(&expected);

    Line::new(Point::new(0, 0), Point::new(39, 0))
        .into_styled(PrimitiveStyle::with_stroke(BinaryColor::On, 1))
        .draw(&mut display)
        .unwrap();
    display.flush().unwrap();

    mock.done();
}

#[test]
fn identical_redraw_sends_nothing() {
    let mut expected = startup();
    expected.push(command(&[0x21, 10, 12]));
    expected.push(command(&[0x22, 1, 1]));
    expected.extend(data(&[0x1C, 0x1C, 0x1C]));
    let (mut display, mut mock) = open(&expected);
    draw_square(&mut display, BinaryColor::On);
    display.flush().unwrap();

    display.clear(BinaryColor::Off).unwrap();
    draw_square(&mut display, BinaryColor::On);
    display.flush().unwrap();

    assert_eq!(display.flush_count(), 2);
    assert_eq!(display.last_flush_area(), None);
    mock.done();
}

#[test]
fn erase_sends_zeros_for_area() {
    let mut expected = startup();
    expected.push(command(&[0x21, 10, 12]));
    expected.push(command(&[0x22, 1, 1]));
    expected.extend(data(&[0x1C, 0x1C, 0x1C]));
    expected.push(command(&[0x21, 10, 12]));
    expected.push(command(&[0x22, 1, 1]));
    expected.extend(data(&[0x00, 0x00, 0x00]));
    let (mut display, mut mock) = open(&expected);
    draw_square(&mut display, BinaryColor::On);
    display.flush().unwrap();

    display.clear(BinaryColor::Off).unwrap();
    display.flush().unwrap();

    mock.done();
}

#[test]
fn display_off_sends_command() {
    let mut expected = startup();
    expected.push(command(&[0xAE]));
    expected.push(command(&[0xAF]));
    let (mut display, mut mock) = open(&expected);

    display.set_display_on(false).unwrap();
    display.set_display_on(true).unwrap();

    mock.done();
}

#[test]
fn missing_display_reports_no_acknowledge() {
    let expected =
        [command(&[0xAE]).with_error(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))];
    let mut mock = Mock::new(&expected);

    let error = Ssd1306Display::new(mock.clone(), "/dev/i2c-1", ADDRESS).unwrap_err();

    assert!(
        matches!(error, DisplayError::NoAcknowledge { address: 0x3C, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("0x3c on /dev/i2c-1"), "{error}");
    mock.done();
}

#[test]
fn other_bus_error_keeps_detail() {
    let mut expected = startup();
    expected.push(command(&[0x21, 10, 12]).with_error(ErrorKind::ArbitrationLoss));
    let (mut display, mut mock) = open(&expected);
    draw_square(&mut display, BinaryColor::On);

    let error = display.flush().unwrap_err();

    assert!(matches!(error, DisplayError::Write { .. }), "{error:?}");
    assert!(error.to_string().contains("ArbitrationLoss"), "{error}");
    mock.done();
}

#[test]
fn failed_flush_is_retried_whole() {
    let mut expected = startup();
    expected.push(command(&[0x21, 10, 12]).with_error(ErrorKind::Bus));
    expected.push(command(&[0x21, 10, 12]));
    expected.push(command(&[0x22, 1, 1]));
    expected.extend(data(&[0x1C, 0x1C, 0x1C]));
    let (mut display, mut mock) = open(&expected);
    draw_square(&mut display, BinaryColor::On);

    assert!(display.flush().is_err());
    display.flush().unwrap();

    mock.done();
}

/// The `ssd1306` crate on its own resends every pixel drawn since the last flush, changed or
/// not. This is why the driver diffs frames before handing pixels to it.
#[test]
fn crate_alone_resends_unchanged_pixels() {
    let bus = RecordingI2c::new();
    let interface = I2CDisplayInterface::new_custom_address(bus.clone(), ADDRESS);
    let mut raw = Ssd1306::new(interface, DisplaySize128x64, DisplayRotation::Rotate0)
        .into_buffered_graphics_mode();
    raw.init().unwrap();
    raw.flush().unwrap();
    draw_square(&mut raw, BinaryColor::On);
    raw.flush().unwrap();
    bus.take_writes();

    raw.clear(BinaryColor::Off).unwrap();
    draw_square(&mut raw, BinaryColor::On);
    raw.flush().unwrap();

    let data_bytes: usize = bus
        .take_writes()
        .iter()
        .filter(|write| write.bytes[0] == 0x40)
        .map(|write| write.bytes.len() - 1)
        .sum();
    assert_eq!(data_bytes, FRAME_BYTES);
}
