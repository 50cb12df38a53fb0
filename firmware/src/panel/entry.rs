//! Entering values with four buttons or a keyboard: a character picker for passwords, digits
//! and PINs, and a date picker for the end of a mandate.
//!
//! The character picker shows the character under the cursor and its neighbours. Up and down
//! move through the characters (a long press jumps to the next group: lower case, upper case,
//! digits, symbols), OK adds the character, Back removes the last one, a long OK finishes. A
//! keyboard types into the same entry. Passwords and PINs show one dot per character; only the
//! character under the cursor, which is not part of the value yet, is shown as itself.

use jiff::ToSpan;
use jiff::civil::Date;
use practicebox_hardware::Button;
use zeroize::Zeroizing;

use super::gesture::Gesture;
use super::keys::KeyEvent;
use super::render::{Canvas, body_row_top};
use super::text::COLUMNS;

/// The request of an entry after a button press or a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryAction {
    /// Stay on the entry.
    Continue,
    /// The value is complete.
    Done,
    /// Leave the entry without a value.
    Cancel,
}

/// The kind of value a [`TextEntry`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A keystore password: printable ASCII without the space from the picker, anything
    /// printable from a keyboard.
    Password,
    /// An eID PIN: 4 to 12 digits.
    Pin,
    /// A RIZIV number: 11 digits.
    Riziv,
}

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const SYMBOLS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

impl EntryKind {
    fn groups(self) -> &'static [&'static str] {
        match self {
            EntryKind::Password => &[LOWER, UPPER, DIGITS, SYMBOLS],
            EntryKind::Pin | EntryKind::Riziv => &[DIGITS],
        }
    }

    fn max_length(self) -> usize {
        match self {
            EntryKind::Password => 128,
            EntryKind::Pin => crate::eid::pin::PIN_MAX_DIGITS,
            EntryKind::Riziv => 11,
        }
    }

    fn masked(self) -> bool {
        matches!(self, EntryKind::Password | EntryKind::Pin)
    }

    fn accepts_typed(self, character: char) -> bool {
        match self {
            EntryKind::Password => !character.is_control(),
            EntryKind::Pin | EntryKind::Riziv => character.is_ascii_digit(),
        }
    }
}

/// A value being entered with the character picker or a keyboard.
pub struct TextEntry {
    kind: EntryKind,
    characters: Vec<char>,
    value: Zeroizing<String>,
    cursor: usize,
}

impl std::fmt::Debug for TextEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEntry")
            .field("kind", &self.kind)
            .field("length", &self.value.chars().count())
            .finish_non_exhaustive()
    }
}

impl TextEntry {
    /// Creates an empty entry with the cursor on the first character.
    pub fn new(kind: EntryKind) -> Self {
        Self {
            kind,
            characters: kind.groups().concat().chars().collect(),
            value: Zeroizing::new(String::new()),
            cursor: 0,
        }
    }

    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// Returns the character under the cursor.
    pub fn candidate(&self) -> char {
        self.characters[self.cursor]
    }

    /// Returns the number of characters entered.
    pub fn len(&self) -> usize {
        self.value.chars().count()
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Takes the value out, leaving the entry empty.
    pub fn take(&mut self) -> Zeroizing<String> {
        std::mem::replace(&mut self.value, Zeroizing::new(String::new()))
    }

    /// Applies a button press.
    pub fn gesture(&mut self, gesture: Gesture) -> EntryAction {
        match (gesture.button, gesture.long) {
            (Button::Up, false) => self.move_cursor(1),
            (Button::Down, false) => self.move_cursor(-1),
            (Button::Up, true) => self.jump_group(true),
            (Button::Down, true) => self.jump_group(false),
            (Button::Ok, false) => self.push(self.candidate()),
            (Button::Ok, true) => return EntryAction::Done,
            (Button::Back, false) => {
                if self.value.pop().is_none() {
                    return EntryAction::Cancel;
                }
            }
            (Button::Back, true) => return EntryAction::Cancel,
        }
        EntryAction::Continue
    }

    /// Applies a typed key.
    pub fn key(&mut self, key: KeyEvent) -> EntryAction {
        match key {
            KeyEvent::Char(character) if self.kind.accepts_typed(character) => {
                self.push(character);
            }
            KeyEvent::Char(_) => {}
            KeyEvent::Backspace => {
                self.value.pop();
            }
            KeyEvent::Enter => return EntryAction::Done,
            KeyEvent::Escape => return EntryAction::Cancel,
        }
        EntryAction::Continue
    }

    /// Draws the value on body row 2 and the picker strip on body row 3.
    pub fn draw(&self, canvas: &mut Canvas) {
        self.draw_value(canvas, body_row_top(2));
        self.draw_strip(canvas, body_row_top(3));
    }

    fn push(&mut self, character: char) {
        if self.len() < self.kind.max_length() {
            self.value.push(character);
        }
    }

    fn move_cursor(&mut self, step: isize) {
        let count = self.characters.len() as isize;
        self.cursor = (self.cursor as isize + step).rem_euclid(count) as usize;
    }

    fn jump_group(&mut self, forward: bool) {
        let starts = self.group_starts();
        let current = starts
            .iter()
            .rposition(|start| *start <= self.cursor)
            .unwrap_or(0);
        let next = if forward {
            (current + 1) % starts.len()
        } else {
            (current + starts.len() - 1) % starts.len()
        };
        self.cursor = starts[next];
    }

    fn group_starts(&self) -> Vec<usize> {
        let mut starts = Vec::new();
        let mut start = 0;
        for group in self.kind.groups() {
            starts.push(start);
            start += group.chars().count();
        }
        starts
    }

    /// Draws the entered value, then the candidate inverted. Long values show their end.
    fn draw_value(&self, canvas: &mut Canvas, top: i32) {
        let room = COLUMNS - 1;
        let length = self.len();
        let skipped = length.saturating_sub(room);
        let shown = length - skipped;
        if self.kind.masked() {
            for column in 0..shown {
                canvas.dot(2 + 6 * column as i32, top + 3, 4, true);
            }
        } else {
            let visible: String = self.value.chars().skip(skipped).collect();
            canvas.text(0, top, &visible);
        }
        canvas.inverted_text(shown, top, &self.candidate().to_string());
    }

    /// Draws the characters around the cursor, every other column, the candidate in the
    /// middle and inverted.
    fn draw_strip(&self, canvas: &mut Canvas, top: i32) {
        let count = self.characters.len() as isize;
        let middle = COLUMNS / 2;
        for slot in -5isize..=5 {
            let index = (self.cursor as isize + slot).rem_euclid(count) as usize;
            let column = (middle as isize + 2 * slot) as usize;
            let character = self.characters[index].to_string();
            if slot == 0 {
                canvas.inverted_text(column, top, &character);
            } else {
                canvas.text(column, top, &character);
            }
        }
    }
}

/// The field of a date that the buttons change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    Year,
    Month,
    Day,
}

/// A date chosen between `earliest` and `latest` with the buttons: year, then month, then day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePicker {
    date: Date,
    earliest: Date,
    latest: Date,
    field: DateField,
}

impl DatePicker {
    /// Creates a picker at `latest`, the default, that can go back to `earliest`.
    pub fn new(earliest: Date, latest: Date) -> Self {
        Self {
            date: latest,
            earliest: earliest.min(latest),
            latest,
            field: DateField::Year,
        }
    }

    pub fn date(&self) -> Date {
        self.date
    }

    pub fn field(&self) -> DateField {
        self.field
    }

    /// Applies a button press: up and down change the field, OK goes to the next field or
    /// finishes after the day, back goes to the previous field or cancels from the year.
    pub fn gesture(&mut self, gesture: Gesture) -> EntryAction {
        match gesture.button {
            Button::Up => self.step(1),
            Button::Down => self.step(-1),
            Button::Ok => {
                self.field = match self.field {
                    DateField::Year => DateField::Month,
                    DateField::Month => DateField::Day,
                    DateField::Day => return EntryAction::Done,
                };
            }
            Button::Back => {
                self.field = match self.field {
                    DateField::Year => return EntryAction::Cancel,
                    DateField::Month => DateField::Year,
                    DateField::Day => DateField::Month,
                };
            }
        }
        EntryAction::Continue
    }

    /// Moves the current field by `step`, keeping the date between the limits. Changing the
    /// year or month keeps the day where the month has it, else the month's last day.
    fn step(&mut self, step: i64) {
        let span = match self.field {
            DateField::Year => step.years(),
            DateField::Month => step.months(),
            DateField::Day => step.days(),
        };
        if let Ok(moved) = self.date.checked_add(span) {
            self.date = moved.clamp(self.earliest, self.latest);
        }
    }

    /// Draws the date as DD/MM/YYYY on the row at `top`, the current field inverted.
    pub fn draw(&self, canvas: &mut Canvas, top: i32) {
        let start = (COLUMNS - 10) / 2;
        let day = format!("{:02}", self.date.day());
        let month = format!("{:02}", self.date.month());
        let year = format!("{:04}", self.date.year());
        let parts = [
            (DateField::Day, 0, day),
            (DateField::Month, 3, month),
            (DateField::Year, 6, year),
        ];
        for (field, offset, text) in parts {
            if field == self.field {
                canvas.inverted_text(start + offset, top, &text);
            } else {
                canvas.text(start + offset, top, &text);
            }
        }
        canvas.text(start + 2, top, "/");
        canvas.text(start + 5, top, "/");
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn press(button: Button) -> Gesture {
        Gesture::short(button)
    }

    #[test]
    fn picker_builds_digits() {
        let mut entry = TextEntry::new(EntryKind::Riziv);
        for _ in 0..3 {
            entry.gesture(press(Button::Up));
        }
        entry.gesture(press(Button::Ok));
        entry.gesture(press(Button::Down));
        entry.gesture(press(Button::Ok));

        assert_eq!(entry.take().as_str(), "32");
    }

    #[test]
    fn picker_wraps_around() {
        let mut entry = TextEntry::new(EntryKind::Pin);
        entry.gesture(press(Button::Down));

        assert_eq!(entry.candidate(), '9');
    }

    #[test]
    fn long_press_jumps_between_groups() {
        let mut entry = TextEntry::new(EntryKind::Password);
        entry.gesture(press(Button::Up));
        entry.gesture(Gesture::long(Button::Up));
        assert_eq!(entry.candidate(), 'A');

        entry.gesture(Gesture::long(Button::Up));
        entry.gesture(Gesture::long(Button::Up));
        assert_eq!(entry.candidate(), '!');

        entry.gesture(Gesture::long(Button::Up));
        assert_eq!(entry.candidate(), 'a');

        entry.gesture(Gesture::long(Button::Down));
        assert_eq!(entry.candidate(), '!');
    }

    #[test]
    fn back_deletes_then_cancels() {
        let mut entry = TextEntry::new(EntryKind::Pin);
        entry.gesture(press(Button::Ok));

        assert_eq!(entry.gesture(press(Button::Back)), EntryAction::Continue);
        assert!(entry.is_empty());
        assert_eq!(entry.gesture(press(Button::Back)), EntryAction::Cancel);
    }

    #[test]
    fn long_ok_finishes() {
        let mut entry = TextEntry::new(EntryKind::Pin);

        assert_eq!(entry.gesture(Gesture::long(Button::Ok)), EntryAction::Done);
    }

    #[test]
    fn keyboard_types_into_entry() {
        let mut entry = TextEntry::new(EntryKind::Password);
        for character in "Pa ss".chars() {
            entry.key(KeyEvent::Char(character));
        }
        entry.key(KeyEvent::Backspace);

        assert_eq!(entry.key(KeyEvent::Enter), EntryAction::Done);
        assert_eq!(entry.take().as_str(), "Pa s");
    }

    #[test]
    fn digit_entry_ignores_letters() {
        let mut entry = TextEntry::new(EntryKind::Pin);
        entry.key(KeyEvent::Char('x'));
        entry.key(KeyEvent::Char('7'));

        assert_eq!(entry.take().as_str(), "7");
    }

    #[test]
    fn entry_stops_at_max_length() {
        let mut entry = TextEntry::new(EntryKind::Riziv);
        for _ in 0..15 {
            entry.key(KeyEvent::Char('1'));
        }

        assert_eq!(entry.len(), 11);
    }

    #[test]
    fn masked_entry_draws_no_glyph_of_value() {
        let mut entry = TextEntry::new(EntryKind::Pin);
        entry.key(KeyEvent::Char('8'));
        let mut masked = Canvas::new();
        entry.draw_value(&mut masked, 0);

        let mut plain = TextEntry::new(EntryKind::Riziv);
        plain.key(KeyEvent::Char('8'));
        let mut shown = Canvas::new();
        plain.draw_value(&mut shown, 0);

        assert_ne!(masked.into_frame(), shown.into_frame());
    }

    #[test]
    fn debug_hides_value() {
        let mut entry = TextEntry::new(EntryKind::Password);
        entry.key(KeyEvent::Char('q'));

        assert_eq!(
            format!("{entry:?}"),
            "TextEntry { kind: Password, length: 1, .. }"
        );
    }

    #[test]
    fn date_picker_starts_at_latest_and_clamps() {
        let mut picker = DatePicker::new(date(2026, 12, 4), date(2027, 11, 30));

        picker.gesture(press(Button::Up));
        assert_eq!(picker.date(), date(2027, 11, 30));

        picker.gesture(press(Button::Down));
        assert_eq!(picker.date(), date(2026, 12, 4));
    }

    #[test]
    fn date_picker_walks_fields() {
        let mut picker = DatePicker::new(date(2026, 1, 1), date(2027, 3, 31));
        picker.gesture(press(Button::Ok));
        picker.gesture(press(Button::Down));
        assert_eq!(picker.date(), date(2027, 2, 28));

        picker.gesture(press(Button::Ok));
        picker.gesture(press(Button::Down));
        assert_eq!(picker.date(), date(2027, 2, 27));
        assert_eq!(picker.field(), DateField::Day);

        assert_eq!(picker.gesture(press(Button::Ok)), EntryAction::Done);
    }

    #[test]
    fn date_picker_back_from_year_cancels() {
        let mut picker = DatePicker::new(date(2026, 1, 1), date(2027, 3, 31));
        picker.gesture(press(Button::Ok));

        assert_eq!(picker.gesture(press(Button::Back)), EntryAction::Continue);
        assert_eq!(picker.field(), DateField::Year);
        assert_eq!(picker.gesture(press(Button::Back)), EntryAction::Cancel);
    }
}
