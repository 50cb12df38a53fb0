//! The LED timeline: recorded changes, blink levels over time, and the one-line rendering.

use std::time::Duration;

use practicebox_hardware::sim::{LedChange, LedTimeline};
use practicebox_hardware::{BlinkPattern, Led, LedState, Leds, ManualClock};

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

#[test]
fn records_changes_with_time() {
    let clock = ManualClock::new();
    let mut leds = LedTimeline::new(clock.clone());

    leds.set(Led::Green, LedState::On).unwrap();
    clock.advance(ms(1500));
    leds.set(Led::Amber, LedState::Blink(BlinkPattern::SLOW))
        .unwrap();

    assert_eq!(
        leds.changes(),
        vec![
            LedChange {
                at: ms(0),
                led: Led::Green,
                state: LedState::On
            },
            LedChange {
                at: ms(1500),
                led: Led::Amber,
                state: LedState::Blink(BlinkPattern::SLOW)
            },
        ]
    );
    assert_eq!(leds.changes()[1].to_string(), "1.500s amber blink");
}

#[test]
fn renders_one_line_summary() {
    let clock = ManualClock::new();
    let mut leds = LedTimeline::new(clock);

    assert_eq!(leds.render_line(), "[G off] [A off] [R off]");

    leds.set(Led::Green, LedState::On).unwrap();
    leds.set(Led::Amber, LedState::Blink(BlinkPattern::FAST))
        .unwrap();

    assert_eq!(leds.render_line(), "[G on] [A blink] [R off]");
}

#[test]
fn blink_level_follows_pattern() {
    let clock = ManualClock::new();
    let mut leds = LedTimeline::new(clock.clone());
    clock.advance(ms(100));
    let pattern = BlinkPattern::new(ms(400), 25).unwrap();

    leds.set(Led::Red, LedState::Blink(pattern)).unwrap();
    clock.advance(ms(2000));
    leds.set(Led::Red, LedState::Off).unwrap();

    assert!(!leds.is_lit_at(Led::Red, ms(50)));
    assert!(leds.is_lit_at(Led::Red, ms(100)));
    assert!(leds.is_lit_at(Led::Red, ms(199)));
    assert!(!leds.is_lit_at(Led::Red, ms(200)));
    assert!(leds.is_lit_at(Led::Red, ms(500)));
    assert!(!leds.is_lit_at(Led::Red, ms(2100)));
}

#[test]
fn clones_share_record() {
    let clock = ManualClock::new();
    let observer = LedTimeline::new(clock);
    let mut owned = observer.clone();

    owned.all_off().unwrap();
    owned.set(Led::Red, LedState::On).unwrap();

    assert_eq!(observer.changes().len(), 4);
    assert_eq!(observer.state(Led::Red), LedState::On);
}
