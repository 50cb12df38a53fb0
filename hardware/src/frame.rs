//! The 128x64 monochrome frame, stored the way the SSD1306 stores its display RAM.
//!
//! The panel's RAM is 8 pages of 128 columns. Each byte is one column of 8 pixels of one page,
//! with the least significant bit at the top. [`Frame`] keeps the same 1024-byte layout, so the
//! simulator and the driver share one type and a frame's bytes are exactly what a full update
//! sends over I2C.

use std::convert::Infallible;
use std::fmt;

use embedded_graphics::Pixel;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Point, Size};
use embedded_graphics::primitives::Rectangle;

/// Display width in pixels.
pub const WIDTH: u32 = 128;
/// Display height in pixels.
pub const HEIGHT: u32 = 64;
/// Number of 8-pixel pages.
pub const PAGES: u32 = HEIGHT / 8;
/// Size of one frame in bytes.
pub const FRAME_BYTES: usize = (WIDTH * PAGES) as usize;

/// One 128x64 frame in SSD1306 page layout.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: [u8; FRAME_BYTES],
}

impl Frame {
    /// Creates a frame with every pixel off.
    pub fn new() -> Self {
        Self {
            bytes: [0; FRAME_BYTES],
        }
    }

    /// Creates a frame from bytes in SSD1306 page layout.
    pub fn from_bytes(bytes: [u8; FRAME_BYTES]) -> Self {
        Self { bytes }
    }

    /// Returns the frame's bytes in SSD1306 page layout: byte `page * 128 + x`, bit `y % 8`.
    pub fn as_bytes(&self) -> &[u8; FRAME_BYTES] {
        &self.bytes
    }

    /// Returns whether the pixel at (`x`, `y`) is on; pixels outside the frame are off.
    pub fn pixel(&self, x: u32, y: u32) -> bool {
        match Self::index(x, y) {
            Some((index, bit)) => self.bytes[index] & bit != 0,
            None => false,
        }
    }

    /// Sets the pixel at (`x`, `y`); pixels outside the frame are ignored.
    pub fn set_pixel(&mut self, x: u32, y: u32, on: bool) {
        if let Some((index, bit)) = Self::index(x, y) {
            if on {
                self.bytes[index] |= bit;
            } else {
                self.bytes[index] &= !bit;
            }
        }
    }

    /// Returns the smallest rectangle that contains every pixel that differs from `other`, or
    /// `None` when the frames are equal.
    pub fn changed_area(&self, other: &Frame) -> Option<Rectangle> {
        let mut min = (u32::MAX, u32::MAX);
        let mut max = (0, 0);

        for (index, (a, b)) in self.bytes.iter().zip(other.bytes.iter()).enumerate() {
            let diff = a ^ b;
            if diff == 0 {
                continue;
            }
            let x = index as u32 % WIDTH;
            let page = index as u32 / WIDTH;
            let top = page * 8 + diff.trailing_zeros();
            let bottom = page * 8 + 7 - diff.leading_zeros();
            min = (min.0.min(x), min.1.min(top));
            max = (max.0.max(x), max.1.max(bottom));
        }

        if min.0 == u32::MAX {
            return None;
        }
        Some(Rectangle::with_corners(
            Point::new(min.0 as i32, min.1 as i32),
            Point::new(max.0 as i32, max.1 as i32),
        ))
    }

    /// Counts the pixels that are on.
    pub fn lit_pixels(&self) -> u32 {
        self.bytes.iter().map(|byte| byte.count_ones()).sum()
    }

    fn index(x: u32, y: u32) -> Option<(usize, u8)> {
        if x >= WIDTH || y >= HEIGHT {
            return None;
        }
        let index = (y / 8 * WIDTH + x) as usize;
        Some((index, 1 << (y % 8)))
    }
}

impl Default for Frame {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("lit_pixels", &self.lit_pixels())
            .finish()
    }
}

impl OriginDimensions for Frame {
    fn size(&self) -> Size {
        Size::new(WIDTH, HEIGHT)
    }
}

impl DrawTarget for Frame {
    type Color = BinaryColor;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(point, color) in pixels {
            if point.x >= 0 && point.y >= 0 {
                self.set_pixel(point.x as u32, point.y as u32, color.is_on());
            }
        }
        Ok(())
    }

    fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
        let fill = if color.is_on() { 0xFF } else { 0x00 };
        self.bytes.fill(fill);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_uses_page_layout() {
        let mut frame = Frame::new();
        frame.set_pixel(3, 10, true);

        assert_eq!(frame.as_bytes()[128 + 3], 0b0000_0100);
        assert!(frame.pixel(3, 10));
        assert!(!frame.pixel(3, 11));
    }

    #[test]
    fn pixel_outside_frame_is_ignored() {
        let mut frame = Frame::new();
        frame.set_pixel(128, 0, true);
        frame.set_pixel(0, 64, true);

        assert_eq!(frame.lit_pixels(), 0);
        assert!(!frame.pixel(500, 500));
    }

    #[test]
    fn changed_area_is_pixel_exact() {
        let before = Frame::new();
        let mut after = Frame::new();
        after.set_pixel(10, 5, true);
        after.set_pixel(20, 17, true);

        let area = after.changed_area(&before);

        assert_eq!(
            area,
            Some(Rectangle::with_corners(
                Point::new(10, 5),
                Point::new(20, 17)
            ))
        );
    }

    #[test]
    fn changed_area_of_equal_frames_is_none() {
        let mut frame = Frame::new();
        frame.set_pixel(1, 1, true);

        assert_eq!(frame.changed_area(&frame.clone()), None);
    }

    #[test]
    fn clear_fills_every_pixel() {
        let mut frame = Frame::new();
        frame.clear(BinaryColor::On).unwrap();

        assert_eq!(frame.lit_pixels(), WIDTH * HEIGHT);
    }
}
