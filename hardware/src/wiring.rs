//! The wiring diagram of the front panel, drawn from the constants in the
//! [`board`](mod@crate::board) module.
//!
//! The README shows `docs/wiring.png`. A test redraws it and compares it with the committed
//! file, so the picture cannot drift from the pins the drivers use. Run the test with
//! `UPDATE_FIXTURES=1` to rewrite the file after a deliberate change.

use std::convert::Infallible;

use embedded_graphics::Pixel;
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_7X13_BOLD};
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::{DrawTarget, Drawable, OriginDimensions, Point, Primitive, Size};
use embedded_graphics::primitives::{
    Circle, Line, PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, Triangle,
};
use embedded_graphics::text::Text;

use crate::board::{self, HEADER, HeaderPin, Pin};
use crate::sim::RenderError;
use crate::{Button, Led};

/// Diagram width in pixels.
pub const DIAGRAM_WIDTH: u32 = 660;
/// Diagram height in pixels.
pub const DIAGRAM_HEIGHT: u32 = 470;

const BACKGROUND: Rgb888 = Rgb888::new(0xFA, 0xFA, 0xF5);
const INK: Rgb888 = Rgb888::new(0x20, 0x20, 0x20);
const WIRE: Rgb888 = Rgb888::new(0x30, 0x50, 0x90);
const GROUND: Rgb888 = Rgb888::new(0x10, 0x10, 0x10);
const POWER_3V3: Rgb888 = Rgb888::new(0xE0, 0x80, 0x10);
const POWER_5V: Rgb888 = Rgb888::new(0xD0, 0x20, 0x20);
const UNUSED: Rgb888 = Rgb888::new(0xC8, 0xC8, 0xC8);
const USED_GPIO: Rgb888 = Rgb888::new(0x20, 0x90, 0x40);
const BOARD: Rgb888 = Rgb888::new(0x1E, 0x6B, 0x3A);

/// X of the odd (inner) header column; the even column is 20 pixels to the right.
const HEADER_X: i32 = 560;
const HEADER_TOP: i32 = 40;
const ROW: i32 = 20;
/// X of the shared ground return of the LEDs and of the buttons.
const GROUND_BUS_X: i32 = 250;

/// An RGB image in memory that embedded-graphics can draw on.
#[derive(Debug, Clone)]
pub struct RgbCanvas {
    size: Size,
    pixels: Vec<Rgb888>,
}

impl RgbCanvas {
    /// Creates a canvas filled with `background`.
    pub fn new(size: Size, background: Rgb888) -> Self {
        Self {
            size,
            pixels: vec![background; (size.width * size.height) as usize],
        }
    }

    /// Encodes the canvas as an RGB PNG.
    pub fn to_png(&self) -> Result<Vec<u8>, RenderError> {
        let rgb: Vec<u8> = self
            .pixels
            .iter()
            .flat_map(|color| [color.r(), color.g(), color.b()])
            .collect();
        let mut png_bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut png_bytes, self.size.width, self.size.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
        writer.finish()?;
        Ok(png_bytes)
    }
}

impl OriginDimensions for RgbCanvas {
    fn size(&self) -> Size {
        self.size
    }
}

impl DrawTarget for RgbCanvas {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let (width, height) = (self.size.width as i32, self.size.height as i32);
        for Pixel(point, color) in pixels {
            if (0..width).contains(&point.x) && (0..height).contains(&point.y) {
                self.pixels[(point.y * width + point.x) as usize] = color;
            }
        }
        Ok(())
    }
}

/// Draws the wiring diagram and returns it as PNG bytes.
pub fn wiring_diagram_png() -> Result<Vec<u8>, RenderError> {
    let mut canvas = RgbCanvas::new(Size::new(DIAGRAM_WIDTH, DIAGRAM_HEIGHT), BACKGROUND);
    draw_wiring_diagram(&mut canvas);
    canvas.to_png()
}

/// Draws the wiring diagram on `canvas`, which should be [`DIAGRAM_WIDTH`] x
/// [`DIAGRAM_HEIGHT`].
pub fn draw_wiring_diagram(canvas: &mut RgbCanvas) {
    text(
        canvas,
        "PracticeBox front panel on the Raspberry Pi 40-pin header",
        10,
        16,
        true,
    );
    draw_header(canvas);
    draw_display(canvas);
    draw_leds(canvas);
    draw_buttons(canvas);
    text(
        canvas,
        "LEDs: 270R series resistors, active high. Buttons: internal pull-ups, active low.",
        10,
        455,
        false,
    );
}

fn draw_header(canvas: &mut RgbCanvas) {
    let outline = Rectangle::new(
        Point::new(HEADER_X - 14, HEADER_TOP - 14),
        Size::new(48, (20 * ROW + 8) as u32),
    );
    draw(
        canvas,
        outline.into_styled(PrimitiveStyle::with_stroke(BOARD, 2)),
    );

    let used: Vec<u8> = board::WIRES.iter().map(|wire| wire.physical).collect();
    for (index, pin) in HEADER.iter().enumerate() {
        let physical = index as u8 + 1;
        let color = match pin {
            HeaderPin::Power3v3 => POWER_3V3,
            HeaderPin::Power5v => POWER_5V,
            HeaderPin::Ground => GROUND,
            HeaderPin::Gpio(_) if used.contains(&physical) => USED_GPIO,
            HeaderPin::Gpio(_) => UNUSED,
        };
        let center = pin_point(physical);
        let dot = Circle::with_center(center, 11).into_styled(PrimitiveStyle::with_fill(color));
        draw(canvas, dot);
        if physical.is_multiple_of(2) {
            text(
                canvas,
                &physical.to_string(),
                center.x + 12,
                center.y + 4,
                false,
            );
        }
    }
    text(canvas, "1", HEADER_X - 5, HEADER_TOP - 17, false);
}

fn draw_display(canvas: &mut RgbCanvas) {
    let rows = [
        (board::OLED_VCC_PHYSICAL, "VCC", "3V3 p1".to_owned()),
        (board::I2C_SDA.physical, "SDA", pin_label(board::I2C_SDA)),
        (board::I2C_SCL.physical, "SCL", pin_label(board::I2C_SCL)),
        (
            board::OLED_GND_PHYSICAL,
            "GND",
            format!("GND p{}", board::OLED_GND_PHYSICAL),
        ),
    ];
    let top = pin_point(board::OLED_VCC_PHYSICAL).y - 14;
    let bottom = pin_point(board::OLED_GND_PHYSICAL).y + 14;
    let module = Rectangle::with_corners(Point::new(40, top), Point::new(230, bottom));
    let style = PrimitiveStyleBuilder::new()
        .stroke_color(INK)
        .stroke_width(2)
        .fill_color(Rgb888::new(0x10, 0x18, 0x30))
        .build();
    draw(canvas, module.into_styled(style));
    let title = MonoTextStyle::new(&FONT_6X10, Rgb888::new(0xB4, 0xE6, 0xFF));
    draw(
        canvas,
        Text::new("SSD1306 OLED", Point::new(52, top + 24), title),
    );
    draw(
        canvas,
        Text::new("128x64, I2C 0x3C", Point::new(52, top + 38), title),
    );
    draw(
        canvas,
        Text::new("/dev/i2c-1", Point::new(52, top + 52), title),
    );

    for (physical, terminal, label) in rows {
        let pin = pin_point(physical);
        draw(
            canvas,
            Text::new(terminal, Point::new(200, pin.y + 4), title),
        );
        wire(canvas, Point::new(230, pin.y), pin, wire_color(physical));
        text(canvas, &label, 470, pin.y - 3, false);
    }
}

fn draw_leds(canvas: &mut RgbCanvas) {
    for led in Led::ALL {
        let pin = board::led_pin(led);
        let anchor = pin_point(pin.physical);
        let y = anchor.y;

        wire(canvas, Point::new(440, y), anchor, WIRE);
        let resistor = Rectangle::new(Point::new(400, y - 5), Size::new(40, 10));
        draw(
            canvas,
            resistor.into_styled(PrimitiveStyle::with_stroke(INK, 2)),
        );
        wire(canvas, Point::new(330, y), Point::new(400, y), WIRE);

        // The LED points from anode (right) to cathode (left), the way current flows.
        let body = Triangle::new(
            Point::new(330, y - 8),
            Point::new(330, y + 8),
            Point::new(314, y),
        );
        draw(
            canvas,
            body.into_styled(PrimitiveStyle::with_fill(led_color(led))),
        );
        let bar = Line::new(Point::new(313, y - 8), Point::new(313, y + 8));
        draw(canvas, bar.into_styled(PrimitiveStyle::with_stroke(INK, 2)));
        wire(
            canvas,
            Point::new(GROUND_BUS_X, y),
            Point::new(312, y),
            GROUND,
        );

        text(canvas, "270R", 406, y - 8, false);
        text(canvas, led.name(), 340, y - 8, false);
        text(canvas, &pin_label(pin), 470, y - 3, false);
    }
    let first = pin_point(board::LED_GREEN.physical).y;
    ground_return(canvas, first, board::LED_GND_PHYSICAL, "LED return");
}

fn draw_buttons(canvas: &mut RgbCanvas) {
    for button in Button::ALL {
        let pin = board::button_pin(button);
        let anchor = pin_point(pin.physical);
        let y = anchor.y;

        wire(canvas, Point::new(360, y), anchor, WIRE);
        // A normally open push button: two contacts and a raised bar above them.
        for x in [330, 360] {
            let contact = Circle::with_center(Point::new(x, y), 6);
            draw(
                canvas,
                contact.into_styled(PrimitiveStyle::with_stroke(INK, 2)),
            );
        }
        let bar = Line::new(Point::new(326, y - 8), Point::new(364, y - 8));
        draw(canvas, bar.into_styled(PrimitiveStyle::with_stroke(INK, 2)));
        let stem = Line::new(Point::new(345, y - 8), Point::new(345, y - 13));
        draw(
            canvas,
            stem.into_styled(PrimitiveStyle::with_stroke(INK, 2)),
        );
        wire(
            canvas,
            Point::new(GROUND_BUS_X, y),
            Point::new(327, y),
            GROUND,
        );

        text(canvas, button.name(), 372, y - 4, false);
        text(canvas, &pin_label(pin), 470, y - 3, false);
    }
    let first = pin_point(board::BUTTON_UP.physical).y;
    ground_return(canvas, first, board::BUTTON_GND_PHYSICAL, "button return");
}

/// Draws a ground bus from `top` down to the row of `physical`, then along it to the pin.
fn ground_return(canvas: &mut RgbCanvas, top: i32, physical: u8, name: &str) {
    let pin = pin_point(physical);
    wire(
        canvas,
        Point::new(GROUND_BUS_X, top),
        Point::new(GROUND_BUS_X, pin.y),
        GROUND,
    );
    wire(canvas, Point::new(GROUND_BUS_X, pin.y), pin, GROUND);
    text(canvas, name, GROUND_BUS_X + 6, pin.y - 3, false);
    text(canvas, &format!("GND p{physical}"), 470, pin.y - 3, false);
}

fn pin_point(physical: u8) -> Point {
    let index = i32::from(physical) - 1;
    let column = index % 2;
    let row = index / 2;
    Point::new(HEADER_X + column * 20, HEADER_TOP + row * ROW)
}

fn pin_label(pin: Pin) -> String {
    format!("GPIO{} p{}", pin.bcm, pin.physical)
}

fn wire_color(physical: u8) -> Rgb888 {
    match board::header_pin(physical) {
        Some(HeaderPin::Power3v3) => POWER_3V3,
        Some(HeaderPin::Ground) => GROUND,
        _ => WIRE,
    }
}

fn led_color(led: Led) -> Rgb888 {
    match led {
        Led::Green => Rgb888::new(0x20, 0xC0, 0x40),
        Led::Amber => Rgb888::new(0xF0, 0xA0, 0x10),
        Led::Red => Rgb888::new(0xE0, 0x20, 0x20),
    }
}

fn wire(canvas: &mut RgbCanvas, from: Point, to: Point, color: Rgb888) {
    let line = Line::new(from, to).into_styled(PrimitiveStyle::with_stroke(color, 2));
    draw(canvas, line);
}

fn text(canvas: &mut RgbCanvas, content: &str, x: i32, y: i32, bold: bool) {
    let font = if bold { &FONT_7X13_BOLD } else { &FONT_6X10 };
    draw(
        canvas,
        Text::new(content, Point::new(x, y), MonoTextStyle::new(font, INK)),
    );
}

fn draw(canvas: &mut RgbCanvas, drawable: impl Drawable<Color = Rgb888>) {
    // `RgbCanvas::Error` is `Infallible`, so this pattern is irrefutable.
    let Ok(_) = drawable.draw(canvas);
}
