//! Drawing on the 128x64 frame: the ISO-8859-1 font, the screen layout, and text wrapping.
//!
//! The panel draws with embedded-graphics' ISO-8859-1 6x10 font, because its ASCII fonts have no
//! accented letters (é, è, ë, ç, à) and Dutch and French texts need them. A character outside
//! ISO-8859-1 is drawn as `?` by the font.
//!
//! Every screen has the same grid: a title bar (rows 0 to 9, drawn inverted), four body rows,
//! and a hint row at the bottom. Screens draw into a [`Frame`], which the controller then copies
//! to the display.

use embedded_graphics::mono_font::iso_8859_1::FONT_6X10;
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};
use practicebox_hardware::{Frame, HEIGHT, WIDTH};

use super::text::COLUMNS;

/// The panel's font.
pub const FONT: &MonoFont<'static> = &FONT_6X10;
/// Height of a text row in pixels.
pub const ROW_HEIGHT: i32 = 10;
/// Width of a character in pixels.
pub const CHAR_WIDTH: i32 = 6;
/// Left margin: 128 pixels hold 21 characters of 6 pixels and 2 pixels to spare.
const LEFT: i32 = 1;
/// Top of the first body row, below the title bar and a 2-pixel gap.
pub const BODY_TOP: i32 = 12;
/// Body rows between the title bar and the hint row.
pub const BODY_ROWS: usize = 4;
/// Top of the hint row, the last 10 pixel rows.
pub const HINT_TOP: i32 = HEIGHT as i32 - ROW_HEIGHT;

/// A frame being drawn.
#[derive(Debug, Clone, Default)]
pub struct Canvas {
    frame: Frame,
}

impl Canvas {
    /// Creates a blank canvas.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the drawn frame.
    pub fn into_frame(self) -> Frame {
        self.frame
    }

    /// Draws `text` from `column` on the row whose top is `top`, cut at the right edge.
    pub fn text(&mut self, column: usize, top: i32, text: &str) {
        self.draw_text(column, top, text, BinaryColor::On);
    }

    /// Draws `text` so that its last character ends at the right edge.
    pub fn text_right(&mut self, top: i32, text: &str) {
        let width = text.chars().count().min(COLUMNS);
        self.text(COLUMNS - width, top, text);
    }

    /// Draws an inverted bar over the whole row at `top`, with `text` on it.
    pub fn inverted_row(&mut self, top: i32, text: &str) {
        self.fill_row(top);
        self.draw_text(0, top, text, BinaryColor::Off);
    }

    /// Draws `text` from `column` on the row at `top` inverted: dark characters on a lit bar
    /// that covers only the text.
    pub fn inverted_text(&mut self, column: usize, top: i32, text: &str) {
        let width = text.chars().count().min(COLUMNS.saturating_sub(column));
        let left = LEFT + CHAR_WIDTH * column as i32;
        let bar = Size::new((CHAR_WIDTH * width as i32) as u32, ROW_HEIGHT as u32);
        let _ = Rectangle::new(Point::new(left, top), bar)
            .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
            .draw(&mut self.frame);
        self.draw_text(column, top, text, BinaryColor::Off);
    }

    /// Draws the title bar with `title`.
    pub fn title(&mut self, title: &str) {
        self.inverted_row(0, title);
    }

    /// Draws the title bar with `left` and `right` text, `right` at the right edge.
    pub fn title_with_right(&mut self, left: &str, right: &str) {
        self.fill_row(0);
        let right_width = right.chars().count();
        let left_room = COLUMNS.saturating_sub(right_width + 1);
        self.draw_text(0, 0, &truncate(left, left_room), BinaryColor::Off);
        self.draw_text(COLUMNS - right_width, 0, right, BinaryColor::Off);
    }

    /// Draws `rows` on the body rows, starting at the first.
    pub fn body(&mut self, rows: &[String]) {
        for (index, row) in rows.iter().take(BODY_ROWS).enumerate() {
            self.text(0, body_row_top(index), row);
        }
    }

    /// Draws the hint row.
    pub fn hint(&mut self, hint: &str) {
        self.text(0, HINT_TOP, hint);
    }

    /// Draws a horizontal line across the display at pixel row `y`.
    pub fn separator(&mut self, y: i32) {
        let _ = Line::new(Point::new(0, y), Point::new(WIDTH as i32 - 1, y))
            .into_styled(PrimitiveStyle::with_stroke(BinaryColor::On, 1))
            .draw(&mut self.frame);
    }

    /// Draws a scroll bar on the rightmost pixel column of the body rows: its length is the
    /// visible share of `total` rows, its position `first`.
    pub fn scroll_bar(&mut self, first: usize, visible: usize, total: usize) {
        if total <= visible {
            return;
        }
        let track = BODY_ROWS as i32 * ROW_HEIGHT;
        let length = (track * visible as i32 / total as i32).max(2);
        let top = BODY_TOP + (track - length) * first as i32 / (total - visible) as i32;
        let _ = Rectangle::new(
            Point::new(WIDTH as i32 - 1, top),
            Size::new(1, length as u32),
        )
        .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
        .draw(&mut self.frame);
    }

    /// Draws a filled circle of `diameter` pixels with its top left corner at (`x`, `y`), or
    /// only its outline when `filled` is false.
    pub fn dot(&mut self, x: i32, y: i32, diameter: u32, filled: bool) {
        let style = if filled {
            PrimitiveStyle::with_fill(BinaryColor::On)
        } else {
            PrimitiveStyle::with_stroke(BinaryColor::On, 1)
        };
        let _ = embedded_graphics::primitives::Circle::new(Point::new(x, y), diameter)
            .into_styled(style)
            .draw(&mut self.frame);
    }

    fn fill_row(&mut self, top: i32) {
        let _ = Rectangle::new(Point::new(0, top), Size::new(WIDTH, ROW_HEIGHT as u32))
            .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
            .draw(&mut self.frame);
    }

    fn draw_text(&mut self, column: usize, top: i32, text: &str, color: BinaryColor) {
        let room = COLUMNS.saturating_sub(column);
        let shown: String = text.chars().take(room).collect();
        let origin = Point::new(LEFT + CHAR_WIDTH * column as i32, top);
        let style = MonoTextStyle::new(FONT, color);
        // Drawing on a `Frame` cannot fail: its error type is `Infallible`.
        let _ = Text::with_baseline(&shown, origin, style, Baseline::Top).draw(&mut self.frame);
    }
}

/// Returns the top pixel row of body row `index` (0-based).
pub fn body_row_top(index: usize) -> i32 {
    BODY_TOP + ROW_HEIGHT * index as i32
}

/// Wraps `text` into rows of at most `columns` characters, breaking at spaces (U+0020 only, so
/// a no-break space keeps its neighbours together). A word longer than a row is split. Line
/// breaks in `text` start a new row; an empty line stays empty.
pub fn wrap(text: &str, columns: usize) -> Vec<String> {
    let mut rows = Vec::new();
    for line in text.split('\n') {
        wrap_line(line, columns, &mut rows);
    }
    rows
}

fn wrap_line(line: &str, columns: usize, rows: &mut Vec<String>) {
    let mut row = String::new();
    let mut row_width = 0;
    for word in line.split(' ').filter(|word| !word.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        let separator = usize::from(row_width > 0);
        if row_width + separator + word.len() <= columns {
            if separator == 1 {
                row.push(' ');
            }
            row.extend(word.iter());
            row_width += separator + word.len();
            continue;
        }
        if row_width > 0 {
            rows.push(std::mem::take(&mut row));
        }
        while word.len() > columns {
            let rest = word.split_off(columns);
            rows.push(word.iter().collect());
            word = rest;
        }
        row.extend(word.iter());
        row_width = word.len();
    }
    rows.push(row);
}

/// Cuts `text` to at most `columns` characters, marking a cut with `~`.
pub fn truncate(text: &str, columns: usize) -> String {
    if text.chars().count() <= columns {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(columns.saturating_sub(1)).collect();
    cut.push('~');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glyph(character: char) -> Frame {
        let mut canvas = Canvas::new();
        canvas.text(0, 0, &character.to_string());
        canvas.into_frame()
    }

    #[test]
    fn accented_letters_differ_from_plain_ones() {
        for (accented, plain) in [('é', 'e'), ('è', 'e'), ('ë', 'e'), ('ç', 'c'), ('à', 'a')] {
            let accented_frame = glyph(accented);
            let plain_frame = glyph(plain);

            assert!(accented_frame.lit_pixels() > 0, "{accented} draws nothing");
            assert_ne!(
                accented_frame, plain_frame,
                "{accented} draws the same pixels as {plain}"
            );
            assert_ne!(
                accented_frame,
                glyph('?'),
                "{accented} draws as the ? fallback"
            );
        }
    }

    #[test]
    fn wrap_breaks_at_spaces() {
        let rows = wrap("Insert the eID in the reader, then press OK.", 21);

        assert_eq!(rows, ["Insert the eID in the", "reader, then press", "OK."]);
    }

    #[test]
    fn wrap_splits_long_words() {
        let rows = wrap("fingerprint 0123456789abcdef0123456789", 10);

        assert_eq!(
            rows,
            ["fingerprin", "t", "0123456789", "abcdef0123", "456789"]
        );
    }

    #[test]
    fn wrap_keeps_no_break_space() {
        let rows = wrap("Le médecin doit agir\u{a0}: le certificat", 21);

        assert_eq!(rows, ["Le médecin doit", "agir\u{a0}: le certificat"]);
    }

    #[test]
    fn wrap_keeps_empty_lines() {
        assert_eq!(wrap("NL\n\nFR", 21), ["NL", "", "FR"]);
    }

    #[test]
    fn truncate_marks_cut() {
        assert_eq!(truncate("Vandenberghe", 8), "Vandenb~");
        assert_eq!(truncate("Peeters", 8), "Peeters");
    }

    #[test]
    fn text_is_cut_at_right_edge() {
        let mut canvas = Canvas::new();
        canvas.text(20, 0, "WW");
        let frame = canvas.into_frame();

        // The one character that fits ends at pixel column 126.
        let lit_after_edge = (127..128).any(|x| (0..10).any(|y| frame.pixel(x, y)));
        assert!(!lit_after_edge);
        assert!(frame.lit_pixels() > 0);
    }
}
