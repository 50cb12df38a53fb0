//! The LED rules on the three LEDs: the status snapshot's [`Led`] decides, one LED at a time.
//!
//! The rules themselves are in the snapshot module ([`crate::status::snapshot`]). Green: every
//! box was fetched within its interval. Amber blinking: a fetch runs, a box waits for its first
//! fetch, a message of a box's last run was held, or a mandate or certificate ends within 30
//! days. Red: a box cannot be fetched. The panel only lights the matching LED and turns the two
//! others off.

use practicebox_hardware::{BlinkPattern, Led as LedColour, LedState, Leds, LedsError};

use crate::status::Led;

/// Returns the state of each LED, in [`LedColour::ALL`] order, for the snapshot's `led`.
pub fn led_states(led: Led) -> [(LedColour, LedState); 3] {
    let lit = match led {
        Led::Off => None,
        Led::Green => Some((LedColour::Green, LedState::On)),
        Led::AmberBlinking => Some((LedColour::Amber, LedState::Blink(BlinkPattern::SLOW))),
        Led::Red => Some((LedColour::Red, LedState::On)),
    };
    LedColour::ALL.map(|colour| match lit {
        Some((lit_colour, state)) if lit_colour == colour => (colour, state),
        _ => (colour, LedState::Off),
    })
}

/// Sets the three LEDs for `led`.
pub fn show_led(leds: &mut dyn Leds, led: Led) -> Result<(), LedsError> {
    for (colour, state) in led_states(led) {
        leds.set(colour, state)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(led: Led) -> Vec<(LedColour, LedState)> {
        led_states(led)
            .into_iter()
            .filter(|(_, state)| *state != LedState::Off)
            .collect()
    }

    #[test]
    fn one_led_per_state() {
        assert_eq!(lit(Led::Green), [(LedColour::Green, LedState::On)]);
        assert_eq!(
            lit(Led::AmberBlinking),
            [(LedColour::Amber, LedState::Blink(BlinkPattern::SLOW))]
        );
        assert_eq!(lit(Led::Red), [(LedColour::Red, LedState::On)]);
        assert_eq!(lit(Led::Off), []);
    }
}
