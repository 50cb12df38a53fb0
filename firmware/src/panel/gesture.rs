//! Button gestures: a short press or a long press of one button, from debounced events.
//!
//! A short press counts when the button is released, so that holding a button for a long press
//! does not first act as a short press: the panel sees either one short press or one long
//! press per push, never both.

use practicebox_hardware::{Button, ButtonEvent, ButtonEventKind};

/// One push of a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gesture {
    pub button: Button,
    /// Held for the long-press duration.
    pub long: bool,
}

impl Gesture {
    /// A short press of `button`.
    pub fn short(button: Button) -> Self {
        Self {
            button,
            long: false,
        }
    }

    /// A long press of `button`.
    pub fn long(button: Button) -> Self {
        Self { button, long: true }
    }
}

/// Turns debounced button events into gestures.
#[derive(Debug, Clone, Default)]
pub struct GestureTracker {
    /// Per button in [`Button::ALL`] order: pressed, and whether its long press was reported.
    held: [Option<bool>; 4],
}

impl GestureTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the gesture that `event` completes, if any.
    pub fn event(&mut self, event: &ButtonEvent) -> Option<Gesture> {
        let slot = &mut self.held[index(event.button)];
        match event.kind {
            ButtonEventKind::Pressed => {
                *slot = Some(false);
                None
            }
            ButtonEventKind::LongPressed => match slot {
                Some(long_sent) if !*long_sent => {
                    *long_sent = true;
                    Some(Gesture::long(event.button))
                }
                _ => None,
            },
            // A release without a recorded press belongs to a button held since start-up.
            ButtonEventKind::Released => match slot.take() {
                Some(false) => Some(Gesture::short(event.button)),
                _ => None,
            },
        }
    }
}

fn index(button: Button) -> usize {
    Button::ALL
        .iter()
        .position(|candidate| *candidate == button)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn event(button: Button, kind: ButtonEventKind) -> ButtonEvent {
        ButtonEvent {
            button,
            kind,
            at: Duration::ZERO,
        }
    }

    #[test]
    fn press_and_release_is_short() {
        let mut tracker = GestureTracker::new();

        assert_eq!(
            tracker.event(&event(Button::Ok, ButtonEventKind::Pressed)),
            None
        );
        assert_eq!(
            tracker.event(&event(Button::Ok, ButtonEventKind::Released)),
            Some(Gesture::short(Button::Ok))
        );
    }

    #[test]
    fn long_press_gives_no_short_press() {
        let mut tracker = GestureTracker::new();
        tracker.event(&event(Button::Back, ButtonEventKind::Pressed));

        let long = tracker.event(&event(Button::Back, ButtonEventKind::LongPressed));
        let release = tracker.event(&event(Button::Back, ButtonEventKind::Released));

        assert_eq!(long, Some(Gesture::long(Button::Back)));
        assert_eq!(release, None);
    }

    #[test]
    fn release_of_button_held_at_start_is_ignored() {
        let mut tracker = GestureTracker::new();

        assert_eq!(
            tracker.event(&event(Button::Up, ButtonEventKind::Released)),
            None
        );
    }
}
