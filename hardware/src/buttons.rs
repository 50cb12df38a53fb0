//! The buttons trait, its events, and the debouncer that turns raw edges into events.
//!
//! A press is reported once the line has stayed down for the debounce period. A long press is
//! reported once the button has been held for the long-press duration, and a release once the
//! line has stayed up for the debounce period. The [`Debouncer`] is pure logic on
//! timestamps: the Raspberry Pi driver feeds it kernel edges, and the simulator feeds it a
//! script on simulated time.

use std::fmt;
use std::time::Duration;

use crate::pi::GpioError;

/// One of the four front panel buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Button {
    Up,
    Down,
    Ok,
    Back,
}

impl Button {
    /// Every button, in front panel order.
    pub const ALL: [Button; 4] = [Button::Up, Button::Down, Button::Ok, Button::Back];

    /// Lowercase name used in logs and test output.
    pub fn name(self) -> &'static str {
        match self {
            Button::Up => "up",
            Button::Down => "down",
            Button::Ok => "ok",
            Button::Back => "back",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Button {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The logical level of a button line: pressed or released, whatever the electrical polarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Pressed,
    Released,
}

/// Kind of a button event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonEventKind {
    /// The button went down and stayed down for the debounce period.
    Pressed,
    /// The button has been held for the long-press duration; it is still down.
    LongPressed,
    /// The button went up and stayed up for the debounce period.
    Released,
}

/// A debounced button event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonEvent {
    pub button: Button,
    pub kind: ButtonEventKind,
    /// Time on the driver's clock when the event became certain: the end of the debounce
    /// period for presses and releases, the end of the long-press duration for long presses.
    pub at: Duration,
}

impl fmt::Display for ButtonEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ButtonEventKind::Pressed => "pressed",
            ButtonEventKind::LongPressed => "long-pressed",
            ButtonEventKind::Released => "released",
        };
        write!(
            f,
            "{} {} at {:.3}s",
            self.button,
            kind,
            self.at.as_secs_f64()
        )
    }
}

/// Timing of the button events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonConfig {
    debounce: Duration,
    long_press: Duration,
}

impl ButtonConfig {
    /// Debounce period used by [`ButtonConfig::default`]: long enough for common tactile
    /// switches, whose contacts bounce for a few milliseconds, and short enough to feel instant.
    pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(20);
    /// Long-press duration used by [`ButtonConfig::default`].
    pub const DEFAULT_LONG_PRESS: Duration = Duration::from_secs(1);

    /// Creates a configuration; `long_press` must be longer than `debounce`.
    pub fn new(debounce: Duration, long_press: Duration) -> Result<Self, ButtonsError> {
        if long_press <= debounce {
            return Err(ButtonsError::InvalidConfig {
                detail: format!(
                    "long press {long_press:?} must be longer than the debounce period \
                     {debounce:?}; raise the long press or shorten the debounce"
                ),
            });
        }
        Ok(Self {
            debounce,
            long_press,
        })
    }

    /// How long a line must keep a new level before the change is reported.
    pub fn debounce(&self) -> Duration {
        self.debounce
    }

    /// How long a button must be held before a long press is reported.
    pub fn long_press(&self) -> Duration {
        self.long_press
    }

    /// Returns the same configuration with a zero debounce period, for drivers whose edges are
    /// already debounced (the kernel does it for the GPIO driver).
    pub fn without_debounce(&self) -> Self {
        Self {
            debounce: Duration::ZERO,
            long_press: self.long_press,
        }
    }
}

impl Default for ButtonConfig {
    fn default() -> Self {
        Self {
            debounce: Self::DEFAULT_DEBOUNCE,
            long_press: Self::DEFAULT_LONG_PRESS,
        }
    }
}

/// A source of debounced button events.
///
/// The call blocks, so a tokio service runs it on a dedicated thread (or `spawn_blocking`) and
/// forwards the events through a channel.
pub trait Buttons {
    /// Waits up to `timeout` for the next event; `Ok(None)` means the timeout passed.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<ButtonEvent>, ButtonsError>;
}

/// Errors of the button drivers.
#[derive(Debug, thiserror::Error)]
pub enum ButtonsError {
    /// The timing configuration is inconsistent.
    #[error("invalid button configuration: {detail}")]
    InvalidConfig { detail: String },

    /// The GPIO character device failed.
    #[error(transparent)]
    Gpio(#[from] GpioError),

    /// Every sender of a channel-fed button source was dropped.
    #[error("button event channel closed; keep a sender alive for as long as buttons are read")]
    Disconnected,
}

#[derive(Debug, Clone, Copy)]
struct LineState {
    stable: Level,
    pending: Option<(Level, Duration)>,
    pressed_at: Option<Duration>,
    long_sent: bool,
}

impl LineState {
    fn new(level: Level) -> Self {
        Self {
            stable: level,
            pending: None,
            pressed_at: None,
            long_sent: false,
        }
    }
}

/// Turns raw line edges into debounced press, long-press and release events.
#[derive(Debug, Clone)]
pub struct Debouncer {
    config: ButtonConfig,
    lines: [LineState; 4],
}

enum Step {
    Settle(Duration, Level),
    Long(Duration),
}

impl Debouncer {
    /// Creates a debouncer with every button released.
    pub fn new(config: ButtonConfig) -> Self {
        Self::with_levels(config, [Level::Released; 4])
    }

    /// Creates a debouncer with the given starting levels, in [`Button::ALL`] order.
    ///
    /// A button that is already down at start reports no press and no long press, only its
    /// release: a button held while the service starts is not a gesture.
    pub fn with_levels(config: ButtonConfig, levels: [Level; 4]) -> Self {
        Self {
            config,
            lines: levels.map(LineState::new),
        }
    }

    /// Records a raw edge of `button` to `level` at time `at`, and returns every event that
    /// became certain up to `at`. Edges must come in time order.
    pub fn edge(&mut self, button: Button, level: Level, at: Duration) -> Vec<ButtonEvent> {
        let mut events = self.advance(at);

        let line = &mut self.lines[button.index()];
        if level == line.stable {
            // The line bounced back before the debounce period ended.
            line.pending = None;
        } else {
            line.pending = Some((level, at));
        }

        events.extend(self.advance(at));
        events
    }

    /// Returns every event that became certain up to `now`, in time order.
    pub fn advance(&mut self, now: Duration) -> Vec<ButtonEvent> {
        let mut events = Vec::new();
        for button in Button::ALL {
            self.advance_line(button, now, &mut events);
        }
        events.sort_by_key(|event| event.at);
        events
    }

    /// Returns the earliest time at which [`Debouncer::advance`] would report an event, if any.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.lines
            .iter()
            .filter_map(|line| self.next_step(line))
            .map(|step| match step {
                Step::Settle(at, _) | Step::Long(at) => at,
            })
            .min()
    }

    /// Returns the current debounced level of `button`.
    pub fn level(&self, button: Button) -> Level {
        self.lines[button.index()].stable
    }

    fn advance_line(&mut self, button: Button, now: Duration, events: &mut Vec<ButtonEvent>) {
        loop {
            let line = self.lines[button.index()];
            let Some(step) = self.next_step(&line) else {
                return;
            };

            let line = &mut self.lines[button.index()];
            match step {
                Step::Settle(at, level) if at <= now => {
                    line.stable = level;
                    line.pending = None;
                    let kind = if level == Level::Pressed {
                        line.pressed_at = Some(at);
                        line.long_sent = false;
                        ButtonEventKind::Pressed
                    } else {
                        line.pressed_at = None;
                        ButtonEventKind::Released
                    };
                    events.push(ButtonEvent { button, kind, at });
                }
                Step::Long(at) if at <= now => {
                    line.long_sent = true;
                    events.push(ButtonEvent {
                        button,
                        kind: ButtonEventKind::LongPressed,
                        at,
                    });
                }
                _ => return,
            }
        }
    }

    fn next_step(&self, line: &LineState) -> Option<Step> {
        let settle = line
            .pending
            .map(|(level, since)| (since + self.config.debounce, level));
        let long = match (line.stable, line.pressed_at, line.long_sent) {
            (Level::Pressed, Some(pressed_at), false) => Some(pressed_at + self.config.long_press),
            _ => None,
        };

        match (settle, long) {
            // A button held for exactly the long-press duration counts as a long press.
            (Some((settle_at, _)), Some(long_at)) if long_at <= settle_at => {
                Some(Step::Long(long_at))
            }
            (Some((settle_at, level)), _) => Some(Step::Settle(settle_at, level)),
            (None, Some(long_at)) => Some(Step::Long(long_at)),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    fn event(button: Button, kind: ButtonEventKind, at_ms: u64) -> ButtonEvent {
        ButtonEvent {
            button,
            kind,
            at: ms(at_ms),
        }
    }

    #[test]
    fn config_rejects_long_press_below_debounce() {
        let error = ButtonConfig::new(ms(50), ms(40)).unwrap_err();

        assert_eq!(
            error.to_string(),
            "invalid button configuration: long press 40ms must be longer than the debounce \
             period 50ms; raise the long press or shorten the debounce"
        );
    }

    #[test]
    fn bounces_yield_one_press_and_release() {
        let mut debouncer = Debouncer::new(ButtonConfig::default());
        let mut events = Vec::new();

        for (at, level) in [
            (100, Level::Pressed),
            (102, Level::Released),
            (103, Level::Pressed),
            (300, Level::Released),
            (301, Level::Pressed),
            (302, Level::Released),
        ] {
            events.extend(debouncer.edge(Button::Ok, level, ms(at)));
        }
        events.extend(debouncer.advance(ms(1000)));

        assert_eq!(
            events,
            vec![
                event(Button::Ok, ButtonEventKind::Pressed, 123),
                event(Button::Ok, ButtonEventKind::Released, 322),
            ]
        );
    }

    #[test]
    fn glitch_shorter_than_debounce_is_ignored() {
        let mut debouncer = Debouncer::new(ButtonConfig::default());

        let mut events = debouncer.edge(Button::Up, Level::Pressed, ms(10));
        events.extend(debouncer.edge(Button::Up, Level::Released, ms(25)));
        events.extend(debouncer.advance(ms(500)));

        assert_eq!(events, vec![]);
        assert_eq!(debouncer.level(Button::Up), Level::Released);
    }

    #[test]
    fn held_button_reports_long_press_once() {
        let mut debouncer = Debouncer::new(ButtonConfig::default());

        let mut events = debouncer.edge(Button::Back, Level::Pressed, ms(0));
        events.extend(debouncer.advance(ms(3000)));
        events.extend(debouncer.edge(Button::Back, Level::Released, ms(3000)));
        events.extend(debouncer.advance(ms(4000)));

        assert_eq!(
            events,
            vec![
                event(Button::Back, ButtonEventKind::Pressed, 20),
                event(Button::Back, ButtonEventKind::LongPressed, 1020),
                event(Button::Back, ButtonEventKind::Released, 3020),
            ]
        );
    }

    #[test]
    fn release_before_long_press_cancels_it() {
        let mut debouncer = Debouncer::new(ButtonConfig::default());

        let mut events = debouncer.edge(Button::Down, Level::Pressed, ms(0));
        events.extend(debouncer.edge(Button::Down, Level::Released, ms(990)));
        events.extend(debouncer.advance(ms(5000)));

        let kinds: Vec<_> = events.iter().map(|event| event.kind).collect();
        assert_eq!(
            kinds,
            vec![ButtonEventKind::Pressed, ButtonEventKind::Released]
        );
    }

    #[test]
    fn next_deadline_tracks_debounce_and_long_press() {
        let mut debouncer = Debouncer::new(ButtonConfig::default());
        assert_eq!(debouncer.next_deadline(), None);

        debouncer.edge(Button::Ok, Level::Pressed, ms(100));
        assert_eq!(debouncer.next_deadline(), Some(ms(120)));

        debouncer.advance(ms(120));
        assert_eq!(debouncer.next_deadline(), Some(ms(1120)));
    }

    #[test]
    fn zero_debounce_reports_edges_at_once() {
        let config = ButtonConfig::default().without_debounce();
        let mut debouncer = Debouncer::new(config);

        let events = debouncer.edge(Button::Up, Level::Pressed, ms(7));

        assert_eq!(events, vec![event(Button::Up, ButtonEventKind::Pressed, 7)]);
    }

    #[test]
    fn button_down_at_start_reports_only_release() {
        let levels = [
            Level::Released,
            Level::Released,
            Level::Pressed,
            Level::Released,
        ];
        let mut debouncer = Debouncer::with_levels(ButtonConfig::default(), levels);

        let mut events = debouncer.advance(ms(5000));
        events.extend(debouncer.edge(Button::Ok, Level::Released, ms(5000)));
        events.extend(debouncer.advance(ms(6000)));

        assert_eq!(
            events,
            vec![event(Button::Ok, ButtonEventKind::Released, 5020)]
        );
    }

    #[test]
    fn events_of_two_buttons_come_in_time_order() {
        let mut debouncer = Debouncer::new(ButtonConfig::default());

        debouncer.edge(Button::Back, Level::Pressed, ms(5));
        debouncer.edge(Button::Up, Level::Pressed, ms(10));
        let events = debouncer.advance(ms(100));

        assert_eq!(
            events,
            vec![
                event(Button::Back, ButtonEventKind::Pressed, 25),
                event(Button::Up, ButtonEventKind::Pressed, 30),
            ]
        );
    }

    #[test]
    fn event_display_is_readable() {
        let text = event(Button::Ok, ButtonEventKind::LongPressed, 1250).to_string();

        assert_eq!(text, "ok long-pressed at 1.250s");
    }
}
