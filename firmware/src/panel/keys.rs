//! Keyboard input for the panel: a USB keyboard lets a doctor type a password instead of
//! picking characters with the buttons.
//!
//! [`KeyInput`] is the source the panel reads, like [`Buttons`](practicebox_hardware::Buttons)
//! for the buttons. On the box it is [`EvdevKeys`](super::keyboard::EvdevKeys), over the USB
//! keyboards. [`ChannelKeys`] takes keys from a channel, for tests.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// A key typed on the keyboard, after the layout turned it into a character.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KeyEvent {
    Char(char),
    Backspace,
    Enter,
    Escape,
}

impl std::fmt::Debug for KeyEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // A typed character may be part of a password.
            KeyEvent::Char(_) => f.write_str("Char(<hidden>)"),
            KeyEvent::Backspace => f.write_str("Backspace"),
            KeyEvent::Enter => f.write_str("Enter"),
            KeyEvent::Escape => f.write_str("Escape"),
        }
    }
}

/// Errors of a keyboard source.
#[derive(Debug, thiserror::Error)]
pub enum KeyInputError {
    #[error("keyboard event channel closed; keep a sender alive for as long as keys are read")]
    Disconnected,
}

/// A source of typed keys. The call blocks, so the panel reads it on its own thread.
pub trait KeyInput {
    /// Waits up to `timeout` for the next key; `Ok(None)` means the timeout passed.
    fn next_key(&mut self, timeout: Duration) -> Result<Option<KeyEvent>, KeyInputError>;
}

/// Keys fed through a channel.
#[derive(Debug)]
pub struct ChannelKeys {
    keys: Receiver<KeyEvent>,
}

impl ChannelKeys {
    /// Creates the source and the sender that feeds it.
    pub fn new() -> (Self, Sender<KeyEvent>) {
        let (sender, keys) = mpsc::channel();
        (Self { keys }, sender)
    }
}

impl KeyInput for ChannelKeys {
    fn next_key(&mut self, timeout: Duration) -> Result<Option<KeyEvent>, KeyInputError> {
        match self.keys.recv_timeout(timeout) {
            Ok(key) => Ok(Some(key)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(KeyInputError::Disconnected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_keys_arrive_in_order() {
        let (mut keys, sender) = ChannelKeys::new();
        sender.send(KeyEvent::Char('a')).unwrap();
        sender.send(KeyEvent::Enter).unwrap();

        let timeout = Duration::from_millis(10);
        assert_eq!(keys.next_key(timeout).unwrap(), Some(KeyEvent::Char('a')));
        assert_eq!(keys.next_key(timeout).unwrap(), Some(KeyEvent::Enter));
        assert_eq!(keys.next_key(timeout).unwrap(), None);
    }

    #[test]
    fn typed_character_is_hidden_in_debug() {
        assert_eq!(format!("{:?}", KeyEvent::Char('s')), "Char(<hidden>)");
    }
}
