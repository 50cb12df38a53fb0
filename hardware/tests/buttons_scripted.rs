//! Debounce and long press on scripted button edges, on simulated time.

use std::time::Duration;

use practicebox_hardware::sim::{ChannelButtons, ScriptStep, ScriptedButtons};
use practicebox_hardware::{
    Button, ButtonConfig, ButtonEvent, ButtonEventKind, Buttons, ButtonsError, Clock, ManualClock,
};

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn kinds(events: &[ButtonEvent]) -> Vec<(Button, ButtonEventKind, u64)> {
    events
        .iter()
        .map(|event| (event.button, event.kind, event.at.as_millis() as u64))
        .collect()
}

/// Returns a press with contact bounce on both edges, as a cheap tactile switch produces.
fn bouncy_click(button: Button, hold: Duration) -> Vec<ScriptStep> {
    vec![
        ScriptStep::press(ms(0), button),
        ScriptStep::release(ms(1), button),
        ScriptStep::press(ms(2), button),
        ScriptStep::release(ms(1), button),
        ScriptStep::press(ms(1), button),
        ScriptStep::release(hold, button),
        ScriptStep::press(ms(2), button),
        ScriptStep::release(ms(1), button),
    ]
}

#[test]
fn bouncy_click_is_one_press() {
    let clock = ManualClock::new();
    let script = bouncy_click(Button::Ok, ms(150));
    let mut buttons = ScriptedButtons::new(ButtonConfig::default(), clock.clone(), script);

    let events = buttons.drain();

    // The last press edge is at 5 ms, the last release edge at 158 ms; both settle 20 ms later.
    assert_eq!(
        kinds(&events),
        vec![
            (Button::Ok, ButtonEventKind::Pressed, 25),
            (Button::Ok, ButtonEventKind::Released, 178),
        ]
    );
}

#[test]
fn held_button_long_presses_after_one_second() {
    let clock = ManualClock::new();
    let script = vec![
        ScriptStep::press(ms(100), Button::Back),
        ScriptStep::release(ms(2500), Button::Back),
    ];
    let mut buttons = ScriptedButtons::new(ButtonConfig::default(), clock.clone(), script);

    let events = buttons.drain();

    assert_eq!(
        kinds(&events),
        vec![
            (Button::Back, ButtonEventKind::Pressed, 120),
            (Button::Back, ButtonEventKind::LongPressed, 1120),
            (Button::Back, ButtonEventKind::Released, 2620),
        ]
    );
}

#[test]
fn long_press_duration_is_configurable() {
    let clock = ManualClock::new();
    let config = ButtonConfig::new(ms(10), ms(3000)).unwrap();
    let script = vec![
        ScriptStep::press(ms(0), Button::Up),
        ScriptStep::release(ms(2000), Button::Up),
    ];
    let mut buttons = ScriptedButtons::new(config, clock, script);

    let events = buttons.drain();

    assert_eq!(
        kinds(&events),
        vec![
            (Button::Up, ButtonEventKind::Pressed, 10),
            (Button::Up, ButtonEventKind::Released, 2010),
        ]
    );
}

#[test]
fn timeout_without_event_advances_clock() {
    let clock = ManualClock::new();
    let script = vec![ScriptStep::press(ms(500), Button::Down)];
    let mut buttons = ScriptedButtons::new(ButtonConfig::default(), clock.clone(), script);

    let first = buttons.next_event(ms(100)).unwrap();
    assert_eq!(first, None);
    assert_eq!(clock.now(), ms(100));

    let second = buttons.next_event(ms(1000)).unwrap().unwrap();
    assert_eq!(second.kind, ButtonEventKind::Pressed);
    assert_eq!(second.at, ms(520));
    assert_eq!(clock.now(), ms(520));
}

#[test]
fn two_buttons_interleave_in_time_order() {
    let clock = ManualClock::new();
    let script = vec![
        ScriptStep::press(ms(0), Button::Up),
        ScriptStep::press(ms(5), Button::Ok),
        ScriptStep::release(ms(100), Button::Up),
        ScriptStep::release(ms(100), Button::Ok),
    ];
    let mut buttons = ScriptedButtons::new(ButtonConfig::default(), clock, script);

    let events = buttons.drain();

    assert_eq!(
        kinds(&events),
        vec![
            (Button::Up, ButtonEventKind::Pressed, 20),
            (Button::Ok, ButtonEventKind::Pressed, 25),
            (Button::Up, ButtonEventKind::Released, 125),
            (Button::Ok, ButtonEventKind::Released, 225),
        ]
    );
}

#[test]
fn script_starts_at_current_clock_time() {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(10));
    let script = vec![ScriptStep::press(ms(30), Button::Ok)];
    let mut buttons = ScriptedButtons::new(ButtonConfig::default(), clock, script);

    let event = buttons.next_event(Duration::from_secs(1)).unwrap().unwrap();

    assert_eq!(event.at, ms(10_050));
}

#[test]
fn channel_buttons_deliver_and_time_out() {
    let (mut buttons, sender) = ChannelButtons::new();
    let event = ButtonEvent {
        button: Button::Ok,
        kind: ButtonEventKind::Pressed,
        at: ms(1),
    };
    sender.send(event).unwrap();

    assert_eq!(buttons.next_event(ms(10)).unwrap(), Some(event));
    assert_eq!(buttons.next_event(ms(10)).unwrap(), None);

    drop(sender);
    let error = buttons.next_event(ms(10)).unwrap_err();
    assert!(matches!(error, ButtonsError::Disconnected), "{error:?}");
}
