//! Every pin, bus and address of the PracticeBox front panel on a Raspberry Pi 4.
//!
//! Pin numbers are given twice. BCM numbers are the GPIO line offsets on `/dev/gpiochip0`, the
//! BCM2711's own controller (`pinctrl-bcm2711`). Physical numbers count the pins of the 40-pin
//! header: pin 1 has the square pad, at the end away from the USB ports, and odd pins form
//! the inner row.
//!
//! | signal | BCM | physical | part |
//! |---|---|---|---|
//! | display VCC | — | 1 (3.3 V) | SSD1306 module VCC |
//! | display SDA | GPIO2 | 3 | SSD1306 SDA (I2C1) |
//! | display SCL | GPIO3 | 5 | SSD1306 SCL (I2C1) |
//! | display GND | — | 9 | SSD1306 GND |
//! | green LED | GPIO17 | 11 | anode through 270 Ω |
//! | amber LED | GPIO27 | 13 | anode through 270 Ω |
//! | red LED | GPIO22 | 15 | anode through 270 Ω |
//! | LED return | — | 25 (GND) | the three cathodes |
//! | up button | GPIO5 | 29 | to ground when pressed |
//! | down button | GPIO6 | 31 | to ground when pressed |
//! | OK button | GPIO13 | 33 | to ground when pressed |
//! | back button | GPIO26 | 37 | to ground when pressed |
//! | button return | — | 39 (GND) | the other contact of every button |
//!
//! Pins left free on purpose: GPIO0/1 (HAT ID EEPROM), GPIO4 (often a 1-Wire bus), GPIO7–11
//! (SPI0), GPIO14/15 (the serial console), GPIO18–21 (PCM audio).
//!
//! Quirks:
//! - The LEDs sit on GPIO17/27/22, which the BCM2711 pulls down at reset, so they stay dark
//!   while the box boots and until the service requests the lines.
//! - GPIO2/3 carry fixed 1.8 kΩ pull-ups to 3.3 V on the Pi itself. Power the display from
//!   3.3 V (pin 1), never 5 V: many SSD1306 modules pull SDA and SCL up to their own VCC.
//! - The buttons use the SoC's internal pull-ups (roughly 50 kΩ), so they read high when open
//!   and low when pressed (active low). Long wires to a front panel may need an external
//!   10 kΩ pull-up; the kernel's debounce filter hides the remaining contact bounce.

use crate::{Button, Led};

/// The I2C bus of the display: I2C1 on GPIO2/3, which the kernel exposes as `/dev/i2c-1`.
pub const I2C_BUS: &str = "/dev/i2c-1";

/// The display's 7-bit I2C address. Modules with the address jumper moved use 0x3D.
pub const OLED_ADDRESS: u8 = 0x3C;

/// The GPIO character device of the BCM2711's own 58 lines on a Raspberry Pi 4.
pub const GPIO_CHIP: &str = "/dev/gpiochip0";

/// Consumer label the drivers give their GPIO line requests, shown by `gpioinfo`.
pub const GPIO_CONSUMER: &str = "practicebox";

/// A header pin: its BCM GPIO number and its physical pin number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// BCM GPIO number, the line offset on [`GPIO_CHIP`].
    pub bcm: u32,
    /// Physical pin number on the 40-pin header.
    pub physical: u8,
}

/// I2C1 SDA: BCM GPIO2, physical pin 3.
pub const I2C_SDA: Pin = Pin {
    bcm: 2,
    physical: 3,
};
/// I2C1 SCL: BCM GPIO3, physical pin 5.
pub const I2C_SCL: Pin = Pin {
    bcm: 3,
    physical: 5,
};
/// Display supply: 3.3 V on physical pin 1.
pub const OLED_VCC_PHYSICAL: u8 = 1;
/// Display ground: physical pin 9.
pub const OLED_GND_PHYSICAL: u8 = 9;

/// Up button: BCM GPIO5, physical pin 29.
pub const BUTTON_UP: Pin = Pin {
    bcm: 5,
    physical: 29,
};
/// Down button: BCM GPIO6, physical pin 31.
pub const BUTTON_DOWN: Pin = Pin {
    bcm: 6,
    physical: 31,
};
/// OK button: BCM GPIO13, physical pin 33.
pub const BUTTON_OK: Pin = Pin {
    bcm: 13,
    physical: 33,
};
/// Back button: BCM GPIO26, physical pin 37.
pub const BUTTON_BACK: Pin = Pin {
    bcm: 26,
    physical: 37,
};
/// Common return of the four buttons: ground on physical pin 39.
pub const BUTTON_GND_PHYSICAL: u8 = 39;

/// Green LED anode (through its resistor): BCM GPIO17, physical pin 11.
pub const LED_GREEN: Pin = Pin {
    bcm: 17,
    physical: 11,
};
/// Amber LED anode (through its resistor): BCM GPIO27, physical pin 13.
pub const LED_AMBER: Pin = Pin {
    bcm: 27,
    physical: 13,
};
/// Red LED anode (through its resistor): BCM GPIO22, physical pin 15.
pub const LED_RED: Pin = Pin {
    bcm: 22,
    physical: 15,
};
/// Common return of the three LED cathodes: ground on physical pin 25.
pub const LED_GND_PHYSICAL: u8 = 25;

/// Returns the pin of `button`.
pub const fn button_pin(button: Button) -> Pin {
    match button {
        Button::Up => BUTTON_UP,
        Button::Down => BUTTON_DOWN,
        Button::Ok => BUTTON_OK,
        Button::Back => BUTTON_BACK,
    }
}

/// Returns the pin of `led`.
pub const fn led_pin(led: Led) -> Pin {
    match led {
        Led::Green => LED_GREEN,
        Led::Amber => LED_AMBER,
        Led::Red => LED_RED,
    }
}

/// Function of a physical pin of the Raspberry Pi 40-pin header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderPin {
    Power3v3,
    Power5v,
    Ground,
    Gpio(u32),
}

/// The Raspberry Pi 40-pin header (models B+ to 5), indexed by physical pin number minus one.
pub const HEADER: [HeaderPin; 40] = {
    use HeaderPin::{Gpio as P, Ground as G, Power3v3 as V3, Power5v as V5};
    [
        V3,
        V5,
        P(2),
        V5,
        P(3),
        G,
        P(4),
        P(14),
        G,
        P(15), // 1-10
        P(17),
        P(18),
        P(27),
        G,
        P(22),
        P(23),
        V3,
        P(24),
        P(10),
        G, // 11-20
        P(9),
        P(25),
        P(11),
        P(8),
        G,
        P(7),
        P(0),
        P(1),
        P(5),
        G, // 21-30
        P(6),
        P(12),
        P(13),
        G,
        P(19),
        P(16),
        P(26),
        P(20),
        G,
        P(21), // 31-40
    ]
};

/// Returns what physical pin `physical` (1 to 40) carries.
pub fn header_pin(physical: u8) -> Option<HeaderPin> {
    let index = usize::from(physical).checked_sub(1)?;
    HEADER.get(index).copied()
}

/// One row of the wiring table: a signal, its header pin, and the part it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wire {
    pub signal: &'static str,
    /// BCM GPIO number, or `None` for power and ground.
    pub bcm: Option<u32>,
    pub physical: u8,
    pub part: &'static str,
}

/// Every wire between the header and the front panel parts.
pub const WIRES: [Wire; 13] = [
    power_wire("display VCC", OLED_VCC_PHYSICAL, "SSD1306 VCC"),
    gpio_wire("display SDA", I2C_SDA, "SSD1306 SDA"),
    gpio_wire("display SCL", I2C_SCL, "SSD1306 SCL"),
    power_wire("display GND", OLED_GND_PHYSICAL, "SSD1306 GND"),
    gpio_wire("green LED", LED_GREEN, "270 Ω to green LED anode"),
    gpio_wire("amber LED", LED_AMBER, "270 Ω to amber LED anode"),
    gpio_wire("red LED", LED_RED, "270 Ω to red LED anode"),
    power_wire("LED return", LED_GND_PHYSICAL, "LED cathodes"),
    gpio_wire("up button", BUTTON_UP, "button up"),
    gpio_wire("down button", BUTTON_DOWN, "button down"),
    gpio_wire("OK button", BUTTON_OK, "button OK"),
    gpio_wire("back button", BUTTON_BACK, "button back"),
    power_wire(
        "button return",
        BUTTON_GND_PHYSICAL,
        "buttons' other contact",
    ),
];

const fn gpio_wire(signal: &'static str, pin: Pin, part: &'static str) -> Wire {
    Wire {
        signal,
        bcm: Some(pin.bcm),
        physical: pin.physical,
        part,
    }
}

const fn power_wire(signal: &'static str, physical: u8, part: &'static str) -> Wire {
    Wire {
        signal,
        bcm: None,
        physical,
        part,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpio_wires_match_header() {
        for wire in WIRES {
            let Some(bcm) = wire.bcm else { continue };
            assert_eq!(
                header_pin(wire.physical),
                Some(HeaderPin::Gpio(bcm)),
                "{}: BCM {bcm} is not on physical pin {}",
                wire.signal,
                wire.physical
            );
        }
    }

    #[test]
    fn power_wires_match_header() {
        assert_eq!(header_pin(OLED_VCC_PHYSICAL), Some(HeaderPin::Power3v3));
        assert_eq!(header_pin(OLED_GND_PHYSICAL), Some(HeaderPin::Ground));
        assert_eq!(header_pin(LED_GND_PHYSICAL), Some(HeaderPin::Ground));
        assert_eq!(header_pin(BUTTON_GND_PHYSICAL), Some(HeaderPin::Ground));
    }

    #[test]
    fn no_physical_pin_used_twice() {
        let mut used: Vec<u8> = WIRES.iter().map(|wire| wire.physical).collect();
        used.sort_unstable();
        used.dedup();

        assert_eq!(used.len(), WIRES.len());
    }

    #[test]
    fn reserved_gpios_stay_free() {
        let reserved = [0, 1, 4, 7, 8, 9, 10, 11, 14, 15, 18, 19, 20, 21];
        for wire in WIRES {
            let Some(bcm) = wire.bcm else { continue };
            if bcm == I2C_SDA.bcm || bcm == I2C_SCL.bcm {
                continue;
            }
            assert!(!reserved.contains(&bcm), "{} uses GPIO{bcm}", wire.signal);
        }
    }

    #[test]
    fn header_has_every_gpio_once() {
        let mut gpios: Vec<u32> = HEADER
            .iter()
            .filter_map(|pin| match pin {
                HeaderPin::Gpio(bcm) => Some(*bcm),
                _ => None,
            })
            .collect();
        gpios.sort_unstable();

        assert_eq!(gpios, (0..=27).collect::<Vec<_>>());
    }

    #[test]
    fn header_pin_out_of_range_is_none() {
        assert_eq!(header_pin(0), None);
        assert_eq!(header_pin(41), None);
    }
}
