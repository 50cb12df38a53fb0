//! A simulated display: a frame in memory, rendered to PNG or ASCII.
//!
//! Renderings show the frame as of the last flush, as the panel would, so a screen that forgot
//! to flush shows up as a wrong picture in a test.

use std::convert::Infallible;

use embedded_graphics::Pixel;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Size};
use embedded_graphics::primitives::Rectangle;

use crate::{Display, DisplayError, Frame, HEIGHT, WIDTH};

/// A display that keeps its frames in memory.
#[derive(Debug, Clone, Default)]
pub struct FrameBuffer {
    frame: Frame,
    shown: Frame,
    flushes: u64,
    display_on: bool,
    last_flush_area: Option<Rectangle>,
}

impl FrameBuffer {
    /// Creates a blank display that is on.
    pub fn new() -> Self {
        Self {
            display_on: true,
            ..Self::default()
        }
    }

    /// Returns the frame as of the last flush, which is what the panel shows.
    pub fn shown(&self) -> &Frame {
        &self.shown
    }

    /// Returns the frame being drawn, not yet flushed.
    pub fn pending(&self) -> &Frame {
        &self.frame
    }

    /// Returns the number of calls to [`Display::flush`].
    pub fn flush_count(&self) -> u64 {
        self.flushes
    }

    /// Returns the area the last flush changed, or `None` when it changed nothing.
    pub fn last_flush_area(&self) -> Option<Rectangle> {
        self.last_flush_area
    }

    /// Returns whether the panel is on.
    pub fn is_display_on(&self) -> bool {
        self.display_on
    }

    /// Renders the shown frame as PNG, `scale` pixels per display pixel; a panel that is off
    /// renders as a blank frame.
    pub fn to_png(&self, scale: u32) -> Result<Vec<u8>, RenderError> {
        render_png(&self.visible(), scale)
    }

    /// Renders the shown frame as text; a panel that is off renders as a blank frame.
    pub fn to_ascii(&self, style: AsciiStyle) -> String {
        render_ascii(&self.visible(), style)
    }

    fn visible(&self) -> Frame {
        if self.display_on {
            self.shown.clone()
        } else {
            Frame::new()
        }
    }
}

impl Display for FrameBuffer {
    fn flush(&mut self) -> Result<(), DisplayError> {
        self.flushes += 1;
        self.last_flush_area = self.frame.changed_area(&self.shown);
        self.shown = self.frame.clone();
        Ok(())
    }

    fn set_display_on(&mut self, on: bool) -> Result<(), DisplayError> {
        self.display_on = on;
        Ok(())
    }
}

impl OriginDimensions for FrameBuffer {
    fn size(&self) -> Size {
        Size::new(WIDTH, HEIGHT)
    }
}

impl DrawTarget for FrameBuffer {
    type Color = BinaryColor;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        self.frame.draw_iter(pixels)
    }

    fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
        self.frame.clear(color)
    }
}

/// Text rendering styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsciiStyle {
    /// One character per pixel: `#` lit, `.` dark; 64 lines of 128 characters.
    Hash,
    /// Unicode half blocks, two pixel rows per character, inside a `+--+` border: 34 lines of
    /// 130 characters, compact enough for a terminal.
    HalfBlocks,
}

/// Errors of the PNG rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The scale factor is outside the supported range.
    #[error("PNG scale {scale} is outside 1..=16; pick a scale in that range")]
    InvalidScale { scale: u32 },

    /// The PNG encoder failed.
    #[error("failed to encode the display PNG: {0}")]
    Encode(#[from] png::EncodingError),
}

/// Colour of a lit pixel: the pale blue-white of common SSD1306 modules.
const LIT: [u8; 3] = [0xB4, 0xE6, 0xFF];
/// Colour of a dark pixel: not quite black, so the pixel grid stays visible.
const DARK: [u8; 3] = [0x12, 0x16, 0x1C];
/// Colour of the gap between pixels at scale 3 and above.
const GAP: [u8; 3] = [0x00, 0x00, 0x00];

/// Renders `frame` as an RGB PNG with `scale` (1 to 16) image pixels per display pixel.
///
/// From scale 3 on, each display pixel leaves a one-pixel black gap on its right and bottom,
/// like the grid of a real OLED.
pub fn render_png(frame: &Frame, scale: u32) -> Result<Vec<u8>, RenderError> {
    if !(1..=16).contains(&scale) {
        return Err(RenderError::InvalidScale { scale });
    }
    let (width, height) = (WIDTH * scale, HEIGHT * scale);
    let gap = scale >= 3;

    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for image_y in 0..height {
        for image_x in 0..width {
            let in_gap = gap && (image_x % scale == scale - 1 || image_y % scale == scale - 1);
            let color = if in_gap {
                GAP
            } else if frame.pixel(image_x / scale, image_y / scale) {
                LIT
            } else {
                DARK
            };
            rgb.extend_from_slice(&color);
        }
    }

    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(png_bytes)
}

/// Renders `frame` as text in `style`, one line per text row, each ending in `\n`.
pub fn render_ascii(frame: &Frame, style: AsciiStyle) -> String {
    match style {
        AsciiStyle::Hash => render_hash(frame),
        AsciiStyle::HalfBlocks => render_half_blocks(frame),
    }
}

fn render_hash(frame: &Frame) -> String {
    let mut text = String::with_capacity(((WIDTH + 1) * HEIGHT) as usize);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            text.push(if frame.pixel(x, y) { '#' } else { '.' });
        }
        text.push('\n');
    }
    text
}

fn render_half_blocks(frame: &Frame) -> String {
    let border = format!("+{}+\n", "-".repeat(WIDTH as usize));
    let mut text = border.clone();
    for row in 0..HEIGHT / 2 {
        text.push('|');
        for x in 0..WIDTH {
            let top = frame.pixel(x, row * 2);
            let bottom = frame.pixel(x, row * 2 + 1);
            text.push(match (top, bottom) {
                (false, false) => ' ',
                (true, false) => '▀',
                (false, true) => '▄',
                (true, true) => '█',
            });
        }
        text.push_str("|\n");
    }
    text.push_str(&border);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::prelude::{Drawable, Point};

    #[test]
    fn flush_copies_frame_and_counts() {
        let mut display = FrameBuffer::new();
        Pixel(Point::new(5, 6), BinaryColor::On)
            .draw(&mut display)
            .unwrap();

        assert_eq!(display.shown().lit_pixels(), 0);
        display.flush().unwrap();

        assert!(display.shown().pixel(5, 6));
        assert_eq!(display.flush_count(), 1);
        assert_eq!(
            display.last_flush_area(),
            Some(Rectangle::new(Point::new(5, 6), Size::new(1, 1)))
        );
    }

    #[test]
    fn display_off_renders_blank() {
        let mut display = FrameBuffer::new();
        display.clear(BinaryColor::On).unwrap();
        display.flush().unwrap();
        display.set_display_on(false).unwrap();

        assert!(!display.to_ascii(AsciiStyle::Hash).contains('#'));
        assert!(!display.is_display_on());
    }

    #[test]
    fn png_rejects_zero_scale() {
        let error = render_png(&Frame::new(), 0).unwrap_err();

        assert_eq!(
            error.to_string(),
            "PNG scale 0 is outside 1..=16; pick a scale in that range"
        );
    }

    #[test]
    fn half_blocks_pair_rows() {
        let mut frame = Frame::new();
        frame.set_pixel(0, 0, true);
        frame.set_pixel(1, 1, true);
        frame.set_pixel(2, 0, true);
        frame.set_pixel(2, 1, true);

        let text = render_ascii(&frame, AsciiStyle::HalfBlocks);
        let first_row = text.lines().nth(1).unwrap();

        assert!(first_row.starts_with("|▀▄█ "), "{first_row}");
        assert_eq!(text.lines().count(), 34);
    }
}
