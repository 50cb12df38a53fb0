//! Keyboard layouts: the character that each key types with Shift, AltGr and CapsLock, and the
//! dead keys of the AZERTY layouts.
//!
//! The tables follow the `basic` variants of the `be`, `fr` and `us` symbols of
//! xkeyboard-config (xkb-data 2.35), levels one to three, so a key types what it types on a Linux
//! desktop with the same layout. Characters outside ISO-8859-1, which the panel font cannot draw
//! (such as €, œ and the bullet), are left out, and the Shift+AltGr level is not mapped.
//!
//! Dead keys: `^` and `¨` on AZERTY, and on `be` AltGr+ù (acute), AltGr+µ (grave) and AltGr+=
//! (tilde) type nothing at first. The next key combines with the accent (`^` then `e` types
//! `ê`), the space bar or the same dead key types the accent alone, and any other character
//! types the accent followed by that character. Backspace cancels a waiting accent.

use std::collections::VecDeque;

use input_linux::Key;
use serde::{Deserialize, Deserializer};

use crate::panel::keys::KeyEvent;

/// The keyboard layout of the `[panel] keyboard_layout` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyboardLayout {
    /// Belgian AZERTY, the keyboard of most Belgian practices.
    #[default]
    Be,
    /// French AZERTY.
    Fr,
    /// US QWERTY.
    Us,
}

impl KeyboardLayout {
    /// Every layout, in the order of the configuration documentation.
    pub const ALL: [KeyboardLayout; 3] =
        [KeyboardLayout::Be, KeyboardLayout::Fr, KeyboardLayout::Us];

    /// Returns the name used in the configuration file.
    pub fn name(self) -> &'static str {
        match self {
            KeyboardLayout::Be => "be",
            KeyboardLayout::Fr => "fr",
            KeyboardLayout::Us => "us",
        }
    }

    /// Returns the layout named `name` in the configuration file.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|layout| layout.name() == name)
    }

    fn levels(self, key: Key) -> Option<KeyLevels> {
        if let Some(levels) = shared_levels(key) {
            return Some(levels);
        }
        match self {
            KeyboardLayout::Be => belgian_levels(key),
            KeyboardLayout::Fr => french_levels(key),
            KeyboardLayout::Us => us_levels(key),
        }
    }
}

impl<'de> Deserialize<'de> for KeyboardLayout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown keyboard_layout {name:?}; use \"be\" (Belgian AZERTY), \"fr\" (French \
                 AZERTY) or \"us\" (US QWERTY)"
            ))
        })
    }
}

/// An accent that a dead key puts on the next character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accent {
    Circumflex,
    Diaeresis,
    Grave,
    Tilde,
    Acute,
}

impl Accent {
    /// Returns the accent as a character of its own, typed by the dead key and the space bar.
    fn spacing(self) -> char {
        match self {
            Accent::Circumflex => '^',
            Accent::Diaeresis => '¨',
            Accent::Grave => '`',
            Accent::Tilde => '~',
            Accent::Acute => '´',
        }
    }

    /// Returns `base` with this accent, for the ISO-8859-1 letters that have it.
    fn compose(self, base: char) -> Option<char> {
        let (bases, composed) = match self {
            Accent::Circumflex => ("aeiouAEIOU", "âêîôûÂÊÎÔÛ"),
            Accent::Diaeresis => ("aeiouyAEIOU", "äëïöüÿÄËÏÖÜ"),
            Accent::Grave => ("aeiouAEIOU", "àèìòùÀÈÌÒÙ"),
            Accent::Tilde => ("anoANO", "ãñõÃÑÕ"),
            Accent::Acute => ("aeiouyAEIOUY", "áéíóúýÁÉÍÓÚÝ"),
        };
        let index = bases.chars().position(|candidate| candidate == base)?;
        composed.chars().nth(index)
    }
}

/// A character or a dead key: the output of a key at one level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symbol {
    Char(char),
    Dead(Accent),
}

/// The symbols of one key without modifier, with Shift and with AltGr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyLevels {
    plain: Symbol,
    shift: Symbol,
    altgr: Option<Symbol>,
}

impl KeyLevels {
    /// Returns whether CapsLock swaps the two levels: only for letters, as in xkb, so the
    /// AZERTY digits row still needs Shift with CapsLock on.
    fn is_letter(&self) -> bool {
        let (Symbol::Char(plain), Symbol::Char(shift)) = (self.plain, self.shift) else {
            return false;
        };
        plain.is_lowercase() && plain.to_uppercase().eq(std::iter::once(shift))
    }
}

const fn two(plain: char, shift: char) -> KeyLevels {
    KeyLevels {
        plain: Symbol::Char(plain),
        shift: Symbol::Char(shift),
        altgr: None,
    }
}

const fn three(plain: char, shift: char, altgr: char) -> KeyLevels {
    KeyLevels {
        plain: Symbol::Char(plain),
        shift: Symbol::Char(shift),
        altgr: Some(Symbol::Char(altgr)),
    }
}

const fn dead_altgr(plain: char, shift: char, accent: Accent) -> KeyLevels {
    KeyLevels {
        plain: Symbol::Char(plain),
        shift: Symbol::Char(shift),
        altgr: Some(Symbol::Dead(accent)),
    }
}

/// Returns the levels of a letter key: lowercase, and uppercase with Shift.
fn letter(plain: char) -> KeyLevels {
    two(plain, plain.to_ascii_uppercase())
}

/// Returns the levels of the space bar and the numeric keypad, the same in every layout. The
/// keypad types digits whatever the NumLock state, because the panel has no use for its arrows.
fn shared_levels(key: Key) -> Option<KeyLevels> {
    let character = match key {
        Key::Space => ' ',
        Key::Kp0 => '0',
        Key::Kp1 => '1',
        Key::Kp2 => '2',
        Key::Kp3 => '3',
        Key::Kp4 => '4',
        Key::Kp5 => '5',
        Key::Kp6 => '6',
        Key::Kp7 => '7',
        Key::Kp8 => '8',
        Key::Kp9 => '9',
        Key::KpDot => '.',
        Key::KpPlus => '+',
        Key::KpMinus => '-',
        Key::KpAsterisk => '*',
        Key::KpSlash => '/',
        _ => return None,
    };
    Some(two(character, character))
}

/// Returns the letter of the keys that AZERTY and QWERTY keyboards share.
fn common_letter(key: Key) -> Option<char> {
    let character = match key {
        Key::E => 'e',
        Key::R => 'r',
        Key::T => 't',
        Key::Y => 'y',
        Key::U => 'u',
        Key::I => 'i',
        Key::O => 'o',
        Key::P => 'p',
        Key::S => 's',
        Key::D => 'd',
        Key::F => 'f',
        Key::G => 'g',
        Key::H => 'h',
        Key::J => 'j',
        Key::K => 'k',
        Key::L => 'l',
        Key::X => 'x',
        Key::C => 'c',
        Key::V => 'v',
        Key::B => 'b',
        Key::N => 'n',
        _ => return None,
    };
    Some(character)
}

/// Belgian AZERTY. Key names are those of the US keyboard, so `Key::Q` is the key that types
/// `a` here.
fn belgian_levels(key: Key) -> Option<KeyLevels> {
    let levels = match key {
        Key::Grave => three('²', '³', '¬'),
        Key::Num1 => three('&', '1', '|'),
        Key::Num2 => three('é', '2', '@'),
        Key::Num3 => three('"', '3', '#'),
        Key::Num4 => three('\'', '4', '¼'),
        Key::Num5 => three('(', '5', '½'),
        Key::Num6 => three('§', '6', '^'),
        Key::Num7 => three('è', '7', '{'),
        Key::Num8 => three('!', '8', '['),
        Key::Num9 => three('ç', '9', '{'),
        Key::Num0 => three('à', '0', '}'),
        Key::Minus => three(')', '°', '\\'),
        Key::Equal => two('-', '_'),
        Key::Q => three('a', 'A', '@'),
        Key::W => letter('z'),
        Key::LeftBrace => KeyLevels {
            plain: Symbol::Dead(Accent::Circumflex),
            shift: Symbol::Dead(Accent::Diaeresis),
            altgr: Some(Symbol::Char('[')),
        },
        Key::RightBrace => three('$', '*', ']'),
        Key::A => three('q', 'Q', 'æ'),
        Key::Semicolon => KeyLevels {
            altgr: Some(Symbol::Dead(Accent::Acute)),
            ..letter('m')
        },
        Key::Apostrophe => dead_altgr('ù', '%', Accent::Acute),
        Key::Backslash => dead_altgr('µ', '£', Accent::Grave),
        Key::Z => three('w', 'W', '«'),
        Key::M => two(',', '?'),
        Key::Comma => two(';', '.'),
        Key::Dot => three(':', '/', '·'),
        Key::Slash => dead_altgr('=', '+', Accent::Tilde),
        Key::NonUsBackslashAndPipe => three('<', '>', '\\'),
        _ => letter(common_letter(key)?),
    };
    Some(levels)
}

/// French AZERTY; `Key::Q` is the key that types `a` here.
fn french_levels(key: Key) -> Option<KeyLevels> {
    let levels = match key {
        Key::Grave => three('²', '~', '¬'),
        Key::Num1 => three('&', '1', '¹'),
        Key::Num2 => three('é', '2', '~'),
        Key::Num3 => three('"', '3', '#'),
        Key::Num4 => three('\'', '4', '{'),
        Key::Num5 => three('(', '5', '['),
        Key::Num6 => three('-', '6', '|'),
        Key::Num7 => three('è', '7', '`'),
        Key::Num8 => three('_', '8', '\\'),
        Key::Num9 => three('ç', '9', '^'),
        Key::Num0 => three('à', '0', '@'),
        Key::Minus => three(')', '°', ']'),
        Key::Equal => three('=', '+', '}'),
        Key::Q => three('a', 'A', 'æ'),
        Key::W => three('z', 'Z', '«'),
        Key::LeftBrace => KeyLevels {
            plain: Symbol::Dead(Accent::Circumflex),
            shift: Symbol::Dead(Accent::Diaeresis),
            altgr: Some(Symbol::Dead(Accent::Diaeresis)),
        },
        Key::RightBrace => three('$', '£', '¤'),
        Key::A => three('q', 'Q', '@'),
        Key::Semicolon => three('m', 'M', 'µ'),
        Key::Apostrophe => dead_altgr('ù', '%', Accent::Circumflex),
        Key::Backslash => dead_altgr('*', 'µ', Accent::Grave),
        Key::Z => letter('w'),
        Key::M => dead_altgr(',', '?', Accent::Acute),
        Key::Comma => two(';', '.'),
        Key::Dot => three(':', '/', '·'),
        Key::Slash => two('!', '§'),
        Key::NonUsBackslashAndPipe => three('<', '>', '|'),
        _ => letter(common_letter(key)?),
    };
    Some(levels)
}

/// US QWERTY. Its right Alt key is a plain Alt key, so no key has an AltGr character.
fn us_levels(key: Key) -> Option<KeyLevels> {
    let levels = match key {
        Key::Grave => two('`', '~'),
        Key::Num1 => two('1', '!'),
        Key::Num2 => two('2', '@'),
        Key::Num3 => two('3', '#'),
        Key::Num4 => two('4', '$'),
        Key::Num5 => two('5', '%'),
        Key::Num6 => two('6', '^'),
        Key::Num7 => two('7', '&'),
        Key::Num8 => two('8', '*'),
        Key::Num9 => two('9', '('),
        Key::Num0 => two('0', ')'),
        Key::Minus => two('-', '_'),
        Key::Equal => two('=', '+'),
        Key::Q => letter('q'),
        Key::W => letter('w'),
        Key::LeftBrace => two('[', '{'),
        Key::RightBrace => two(']', '}'),
        Key::Backslash => two('\\', '|'),
        Key::A => letter('a'),
        Key::Semicolon => two(';', ':'),
        Key::Apostrophe => two('\'', '"'),
        Key::Z => letter('z'),
        Key::M => letter('m'),
        Key::Comma => two(',', '<'),
        Key::Dot => two('.', '>'),
        Key::Slash => two('/', '?'),
        Key::NonUsBackslashAndPipe => two('<', '>'),
        _ => letter(common_letter(key)?),
    };
    Some(levels)
}

/// The state of one keyboard: held modifiers, CapsLock and a waiting dead key. It turns key
/// records into [`KeyEvent`]s. It has no `Debug`, which would show the waiting dead key.
pub(super) struct Typist {
    layout: KeyboardLayout,
    left_shift: bool,
    right_shift: bool,
    altgr: bool,
    /// Ctrl or the left Alt key: while one is held, character keys type nothing.
    left_control: bool,
    right_control: bool,
    left_alt: bool,
    // NOTE: CapsLock starts off whatever the keyboard's LED shows, and the LED does not follow
    // it while the device is grabbed.
    caps_lock: bool,
    dead_key: Option<Accent>,
}

/// The value of an `EV_KEY` record.
const RELEASE: i32 = 0;
const PRESS: i32 = 1;
const AUTOREPEAT: i32 = 2;

impl Typist {
    pub(super) fn new(layout: KeyboardLayout) -> Self {
        Self {
            layout,
            left_shift: false,
            right_shift: false,
            altgr: false,
            left_control: false,
            right_control: false,
            left_alt: false,
            caps_lock: false,
            dead_key: None,
        }
    }

    /// Takes one `EV_KEY` record (`value` 0 release, 1 press, 2 autorepeat) and appends the
    /// keys it types to `typed`.
    pub(super) fn key(&mut self, code: u16, value: i32, typed: &mut VecDeque<KeyEvent>) {
        let Ok(key) = Key::from_code(code) else {
            return;
        };
        if self.modifier(key, value) {
            return;
        }
        if value != PRESS && value != AUTOREPEAT {
            return;
        }

        match key {
            Key::Enter | Key::KpEnter => {
                self.dead_key = None;
                typed.push_back(KeyEvent::Enter);
            }
            Key::Esc => {
                self.dead_key = None;
                typed.push_back(KeyEvent::Escape);
            }
            Key::Backspace => {
                if self.dead_key.take().is_none() {
                    typed.push_back(KeyEvent::Backspace);
                }
            }
            _ => {
                if let Some(symbol) = self.symbol(key) {
                    self.type_symbol(symbol, typed);
                }
            }
        }
    }

    /// Forgets the held modifiers and a pending dead key, after the kernel dropped records: a
    /// lost release would otherwise leave Shift or AltGr held. CapsLock keeps its state, since
    /// it toggles on presses only.
    pub(super) fn release_all(&mut self) {
        self.left_shift = false;
        self.right_shift = false;
        self.altgr = false;
        self.left_control = false;
        self.right_control = false;
        self.left_alt = false;
        self.dead_key = None;
    }

    /// Updates the modifier state; returns whether `key` is a modifier.
    fn modifier(&mut self, key: Key, value: i32) -> bool {
        let is_down = match key {
            Key::LeftShift => &mut self.left_shift,
            Key::RightShift => &mut self.right_shift,
            Key::RightAlt => &mut self.altgr,
            Key::LeftCtrl => &mut self.left_control,
            Key::RightCtrl => &mut self.right_control,
            Key::LeftAlt => &mut self.left_alt,
            Key::CapsLock => {
                if value == PRESS {
                    self.caps_lock = !self.caps_lock;
                }
                return true;
            }
            _ => return false,
        };
        match value {
            PRESS => *is_down = true,
            RELEASE => *is_down = false,
            _ => {}
        }
        true
    }

    /// Returns what `key` types with the modifiers held now.
    fn symbol(&self, key: Key) -> Option<Symbol> {
        if self.left_control || self.right_control || self.left_alt {
            return None;
        }
        let levels = self.layout.levels(key)?;
        let shift = self.left_shift || self.right_shift;
        if self.altgr {
            // The Shift+AltGr level is not mapped.
            return if shift { None } else { levels.altgr };
        }
        let shifted = shift != (self.caps_lock && levels.is_letter());
        Some(if shifted { levels.shift } else { levels.plain })
    }

    fn type_symbol(&mut self, symbol: Symbol, typed: &mut VecDeque<KeyEvent>) {
        let Some(accent) = self.dead_key.take() else {
            match symbol {
                Symbol::Char(character) => typed.push_back(KeyEvent::Char(character)),
                Symbol::Dead(accent) => self.dead_key = Some(accent),
            }
            return;
        };

        match symbol {
            Symbol::Dead(next) if next == accent => {
                typed.push_back(KeyEvent::Char(accent.spacing()));
            }
            Symbol::Dead(next) => {
                typed.push_back(KeyEvent::Char(accent.spacing()));
                self.dead_key = Some(next);
            }
            Symbol::Char(' ') => typed.push_back(KeyEvent::Char(accent.spacing())),
            Symbol::Char(character) => match accent.compose(character) {
                Some(composed) => typed.push_back(KeyEvent::Char(composed)),
                None => {
                    typed.push_back(KeyEvent::Char(accent.spacing()));
                    typed.push_back(KeyEvent::Char(character));
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Presses `modifiers`, presses and releases `key`, releases `modifiers`; returns the keys
    /// typed.
    fn type_key(typist: &mut Typist, modifiers: &[Key], key: Key) -> Vec<KeyEvent> {
        let mut typed = VecDeque::new();
        for modifier in modifiers {
            typist.key(*modifier as u16, PRESS, &mut typed);
        }
        typist.key(key as u16, PRESS, &mut typed);
        typist.key(key as u16, RELEASE, &mut typed);
        for modifier in modifiers {
            typist.key(*modifier as u16, RELEASE, &mut typed);
        }
        typed.into()
    }

    /// Types `key` on a fresh keyboard; `?` in the result stands for a key that is no character.
    fn chars(layout: KeyboardLayout, modifiers: &[Key], key: Key) -> String {
        let mut typist = Typist::new(layout);
        type_key(&mut typist, modifiers, key)
            .into_iter()
            .map(|event| match event {
                KeyEvent::Char(character) => character,
                _ => '?',
            })
            .collect()
    }

    /// Returns every character reachable with one key, Shift or AltGr, and a dead key
    /// followed by the space bar.
    fn reachable(layout: KeyboardLayout) -> BTreeSet<char> {
        let mut found = BTreeSet::new();
        for code in 0..=255 {
            let Ok(key) = Key::from_code(code) else {
                continue;
            };
            for modifiers in [&[][..], &[Key::LeftShift], &[Key::RightAlt]] {
                let mut typist = Typist::new(layout);
                let mut typed = type_key(&mut typist, modifiers, key);
                typed.extend(type_key(&mut typist, &[], Key::Space));
                for event in typed {
                    if let KeyEvent::Char(character) = event {
                        found.insert(character);
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_printable_ascii_reachable() {
        for layout in KeyboardLayout::ALL {
            let found = reachable(layout);
            let missing: String = (' '..='~').filter(|c| !found.contains(c)).collect();
            assert_eq!(missing, "", "layout {}", layout.name());
        }
    }

    #[test]
    fn every_character_fits_the_panel_font() {
        for layout in KeyboardLayout::ALL {
            for character in reachable(layout) {
                assert!(
                    u32::from(character) <= 0xFF,
                    "layout {} types {character:?}",
                    layout.name()
                );
            }
        }
    }

    #[test]
    fn azerty_digits_need_shift() {
        let digit_keys = [
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
            Key::Num7,
            Key::Num8,
            Key::Num9,
            Key::Num0,
        ];
        for layout in [KeyboardLayout::Be, KeyboardLayout::Fr] {
            for (key, digit) in digit_keys.into_iter().zip("1234567890".chars()) {
                let name = layout.name();
                let plain = chars(layout, &[], key);
                assert_ne!(plain, digit.to_string(), "{name} {key:?} without Shift");
                let shifted = chars(layout, &[Key::LeftShift], key);
                assert_eq!(shifted, digit.to_string(), "{name} {key:?} with Shift");
                let caps = chars(layout, &[Key::CapsLock], key);
                assert_eq!(caps, plain, "{name} {key:?} with CapsLock");
            }
        }
        assert_eq!(chars(KeyboardLayout::Be, &[], Key::Num2), "é");
        assert_eq!(chars(KeyboardLayout::Fr, &[], Key::Num6), "-");
        assert_eq!(chars(KeyboardLayout::Us, &[], Key::Num2), "2");
    }

    #[test]
    fn belgian_altgr_characters() {
        let be = KeyboardLayout::Be;
        assert_eq!(chars(be, &[Key::RightAlt], Key::Num1), "|");
        assert_eq!(chars(be, &[Key::RightAlt], Key::Num2), "@");
        assert_eq!(chars(be, &[Key::RightAlt], Key::Num3), "#");
        assert_eq!(chars(be, &[Key::RightAlt], Key::Num6), "^");
        assert_eq!(chars(be, &[Key::RightAlt], Key::Num9), "{");
        assert_eq!(chars(be, &[Key::RightAlt], Key::Num0), "}");
        assert_eq!(chars(be, &[Key::RightAlt], Key::LeftBrace), "[");
        assert_eq!(chars(be, &[Key::RightAlt], Key::RightBrace), "]");
        assert_eq!(
            chars(be, &[Key::RightAlt], Key::NonUsBackslashAndPipe),
            "\\"
        );
        assert_eq!(chars(be, &[Key::RightAlt, Key::LeftShift], Key::Num2), "");
    }

    #[test]
    fn azerty_letters_swap_places() {
        for layout in [KeyboardLayout::Be, KeyboardLayout::Fr] {
            assert_eq!(chars(layout, &[], Key::Q), "a");
            assert_eq!(chars(layout, &[], Key::W), "z");
            assert_eq!(chars(layout, &[], Key::A), "q");
            assert_eq!(chars(layout, &[], Key::Z), "w");
            assert_eq!(chars(layout, &[], Key::Semicolon), "m");
            assert_eq!(chars(layout, &[], Key::M), ",");
        }
        assert_eq!(chars(KeyboardLayout::Us, &[], Key::Q), "q");
    }

    #[test]
    fn us_right_alt_types_nothing() {
        assert_eq!(chars(KeyboardLayout::Us, &[Key::RightAlt], Key::Num2), "");
        assert_eq!(chars(KeyboardLayout::Us, &[Key::RightAlt], Key::Q), "");
    }

    #[test]
    fn control_and_alt_suppress_characters() {
        assert_eq!(chars(KeyboardLayout::Be, &[Key::LeftCtrl], Key::C), "");
        assert_eq!(chars(KeyboardLayout::Be, &[Key::RightCtrl], Key::C), "");
        assert_eq!(chars(KeyboardLayout::Be, &[Key::LeftAlt], Key::C), "");
        assert_eq!(chars(KeyboardLayout::Be, &[Key::LeftCtrl], Key::Enter), "?");
    }

    #[test]
    fn caps_lock_toggles_on_press_only() {
        let mut typist = Typist::new(KeyboardLayout::Be);
        let mut typed = VecDeque::new();
        let caps = Key::CapsLock as u16;
        typist.key(caps, PRESS, &mut typed);
        typist.key(caps, AUTOREPEAT, &mut typed);
        typist.key(caps, RELEASE, &mut typed);
        assert_eq!(type_key(&mut typist, &[], Key::Q), [KeyEvent::Char('A')]);
        assert_eq!(
            type_key(&mut typist, &[Key::LeftShift], Key::Q),
            [KeyEvent::Char('a')],
            "Shift undoes CapsLock on letters"
        );
        assert_eq!(
            type_key(&mut typist, &[], Key::Num2),
            [KeyEvent::Char('é')],
            "CapsLock leaves the digits row alone"
        );

        typist.key(caps, PRESS, &mut typed);
        typist.key(caps, RELEASE, &mut typed);
        assert_eq!(type_key(&mut typist, &[], Key::Q), [KeyEvent::Char('a')]);
        assert!(typed.is_empty(), "{typed:?}");
    }

    #[test]
    fn autorepeat_types_again_release_does_not() {
        let mut typist = Typist::new(KeyboardLayout::Us);
        let mut typed = VecDeque::new();
        let code = Key::B as u16;
        typist.key(code, PRESS, &mut typed);
        typist.key(code, AUTOREPEAT, &mut typed);
        typist.key(code, AUTOREPEAT, &mut typed);
        typist.key(code, RELEASE, &mut typed);
        assert_eq!(typed, [KeyEvent::Char('b'); 3]);
    }

    #[test]
    fn shift_release_ends_uppercase() {
        let mut typist = Typist::new(KeyboardLayout::Us);
        let mut typed = VecDeque::new();
        typist.key(Key::RightShift as u16, PRESS, &mut typed);
        typist.key(Key::A as u16, PRESS, &mut typed);
        typist.key(Key::RightShift as u16, AUTOREPEAT, &mut typed);
        typist.key(Key::A as u16, PRESS, &mut typed);
        typist.key(Key::RightShift as u16, RELEASE, &mut typed);
        typist.key(Key::A as u16, PRESS, &mut typed);
        let expected = [
            KeyEvent::Char('A'),
            KeyEvent::Char('A'),
            KeyEvent::Char('a'),
        ];
        assert_eq!(typed, expected);
    }

    #[test]
    fn action_keys() {
        let mut typist = Typist::new(KeyboardLayout::Be);
        assert_eq!(type_key(&mut typist, &[], Key::Enter), [KeyEvent::Enter]);
        assert_eq!(type_key(&mut typist, &[], Key::KpEnter), [KeyEvent::Enter]);
        assert_eq!(type_key(&mut typist, &[], Key::Esc), [KeyEvent::Escape]);
        assert_eq!(
            type_key(&mut typist, &[], Key::Backspace),
            [KeyEvent::Backspace]
        );
        assert_eq!(type_key(&mut typist, &[], Key::Tab), []);
        assert_eq!(type_key(&mut typist, &[], Key::F1), []);
    }

    #[test]
    fn dead_keys_compose() {
        let mut typist = Typist::new(KeyboardLayout::Be);
        assert_eq!(type_key(&mut typist, &[], Key::LeftBrace), []);
        assert_eq!(type_key(&mut typist, &[], Key::E), [KeyEvent::Char('ê')]);

        type_key(&mut typist, &[Key::LeftShift], Key::LeftBrace);
        let typed = type_key(&mut typist, &[Key::LeftShift], Key::U);
        assert_eq!(typed, [KeyEvent::Char('Ü')]);

        type_key(&mut typist, &[], Key::LeftBrace);
        let typed = type_key(&mut typist, &[], Key::LeftBrace);
        assert_eq!(typed, [KeyEvent::Char('^')], "the dead key twice");

        type_key(&mut typist, &[Key::RightAlt], Key::Slash);
        let typed = type_key(&mut typist, &[], Key::N);
        assert_eq!(typed, [KeyEvent::Char('ñ')]);
    }

    #[test]
    fn dead_key_before_other_character() {
        let mut typist = Typist::new(KeyboardLayout::Fr);
        type_key(&mut typist, &[], Key::LeftBrace);
        let typed = type_key(&mut typist, &[], Key::X);
        assert_eq!(typed, [KeyEvent::Char('^'), KeyEvent::Char('x')]);

        type_key(&mut typist, &[], Key::LeftBrace);
        let typed = type_key(&mut typist, &[Key::LeftShift], Key::LeftBrace);
        assert_eq!(
            typed,
            [KeyEvent::Char('^')],
            "another dead key types the first accent"
        );
        let typed = type_key(&mut typist, &[], Key::Space);
        assert_eq!(typed, [KeyEvent::Char('¨')], "and waits in its place");
    }

    #[test]
    fn backspace_cancels_dead_key() {
        let mut typist = Typist::new(KeyboardLayout::Be);
        type_key(&mut typist, &[], Key::LeftBrace);
        assert_eq!(type_key(&mut typist, &[], Key::Backspace), []);
        assert_eq!(type_key(&mut typist, &[], Key::E), [KeyEvent::Char('e')]);
    }

    #[test]
    fn layout_names_parse() {
        #[derive(Deserialize)]
        struct Setting {
            layout: KeyboardLayout,
        }
        for layout in KeyboardLayout::ALL {
            let text = format!("layout = \"{}\"", layout.name());
            let parsed: Setting = toml::from_str(&text).unwrap();
            assert_eq!(parsed.layout, layout);
        }
        assert_eq!(KeyboardLayout::default(), KeyboardLayout::Be);

        let error = toml::from_str::<Setting>("layout = \"BE\"").err().unwrap();
        let message = error.message();
        assert!(
            message.starts_with("unknown keyboard_layout \"BE\"; use \"be\""),
            "{message}"
        );
    }
}
