//! Invented patients and the recipient doctors: Belgian names with accents, birth dates, addresses
//! and INSZ numbers with valid check digits.
//!
//! An INSZ (rijksregisternummer / numéro de registre national) is 11 digits: the birth date as
//! `YYMMDD`, a 3-digit day serial (odd for men, even for women), and 2 check digits equal to
//! `97 - (N mod 97)`. `N` is the first 9 digits for births before 2000, and the same digits
//! preceded by `2` for births from 2000 on.

use std::fmt;

use jiff::civil::Date;
use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::MailError;

/// A patient's administrative sex, as the INSZ serial encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Female,
    Male,
}

/// A postal address in Belgium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub street: String,
    /// House number, with a box suffix when there is one (`12`, `5 bus 3`).
    pub number: String,
    /// Four-digit Belgian postcode.
    pub postcode: String,
    pub town: String,
}

/// An invented patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    /// INSZ, 11 digits with valid check digits.
    pub insz: String,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
    pub sex: Sex,
    pub address: Address,
}

impl fmt::Display for Patient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.first_name, self.last_name, self.insz)
    }
}

/// A doctor whose eHealthBox receives the generated mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The doctor's INSZ, which is also the id of their personal eHealthBox (`Type=INSS`).
    pub ssin: String,
    /// The doctor's RIZIV/NIHII number, 11 digits; lab files print it as `C/CCCCC/CC/CCC`.
    pub nihii11: String,
    pub first_name: String,
    pub last_name: String,
}

impl Recipient {
    /// Checks that the INSZ and the RIZIV number have the shape documents need.
    pub fn validate(&self) -> Result<(), MailError> {
        if !insz_is_valid(&self.ssin) {
            return Err(MailError::InvalidRecipientSsin {
                ssin: self.ssin.clone(),
            });
        }
        if self.nihii11.len() != 11 || !self.nihii11.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MailError::InvalidRecipientNihii {
                nihii: self.nihii11.clone(),
            });
        }
        Ok(())
    }
}

/// Computes the INSZ check digits of the first 9 digits, for a birth before or from 2000.
pub fn insz_check_digits(first_nine: u64, born_from_2000: bool) -> u64 {
    let number = if born_from_2000 {
        2_000_000_000 + first_nine
    } else {
        first_nine
    };
    97 - number % 97
}

/// Builds the INSZ of a person born on `birth_date` with the given day serial (1 to 998).
pub fn insz_for(birth_date: Date, serial: u16) -> String {
    let year = u64::from(birth_date.year().rem_euclid(100) as u16);
    let month = birth_date.month() as u64;
    let day = birth_date.day() as u64;
    let first_nine = ((year * 100 + month) * 100 + day) * 1000 + u64::from(serial);
    let check = insz_check_digits(first_nine, birth_date.year() >= 2000);
    format!("{first_nine:09}{check:02}")
}

/// Returns whether `insz` is 11 digits whose check digits match either century.
pub fn insz_is_valid(insz: &str) -> bool {
    if insz.len() != 11 || !insz.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(first_nine) = insz[..9].parse::<u64>() else {
        return false;
    };
    let Ok(check) = insz[9..].parse::<u64>() else {
        return false;
    };
    check == insz_check_digits(first_nine, false) || check == insz_check_digits(first_nine, true)
}

/// Invents a patient born between 1930 and the year before `today`.
pub fn invent_patient(rng: &mut ChaCha8Rng, today: Date) -> Patient {
    let sex = if rng.random_bool(0.5) {
        Sex::Female
    } else {
        Sex::Male
    };
    let first_names = match sex {
        Sex::Female => FEMALE_FIRST_NAMES,
        Sex::Male => MALE_FIRST_NAMES,
    };
    let birth_date = random_date(rng, 1930, today.year() - 1);

    // Men get odd serials, women even ones (1..=997 and 2..=998).
    let pair = rng.random_range(0..499u16);
    let serial = match sex {
        Sex::Male => pair * 2 + 1,
        Sex::Female => pair * 2 + 2,
    };

    Patient {
        insz: insz_for(birth_date, serial),
        first_name: pick(rng, first_names).to_owned(),
        last_name: pick(rng, LAST_NAMES).to_owned(),
        birth_date,
        sex,
        address: invent_address(rng),
    }
}

/// Invents an address in a Belgian town, with a street name in the town's language.
pub fn invent_address(rng: &mut ChaCha8Rng) -> Address {
    let town = TOWNS.choose(rng).unwrap_or(&TOWNS[0]);
    let streets = if town.dutch {
        DUTCH_STREETS
    } else {
        FRENCH_STREETS
    };
    let mut number = rng.random_range(1..180u16).to_string();
    if rng.random_bool(0.15) {
        let box_word = if town.dutch { "bus" } else { "bte" };
        number = format!("{number} {box_word} {}", rng.random_range(1..12u8));
    }
    Address {
        street: pick(rng, streets).to_owned(),
        number,
        postcode: town.postcode.to_owned(),
        town: town.name.to_owned(),
    }
}

/// Returns whether a town of the address is in the Dutch-speaking part of the country.
pub fn address_is_dutch(address: &Address) -> bool {
    TOWNS
        .iter()
        .find(|town| town.postcode == address.postcode)
        .is_none_or(|town| town.dutch)
}

/// Picks a uniformly random calendar date in the years `first..=last`.
pub fn random_date(rng: &mut ChaCha8Rng, first: i16, last: i16) -> Date {
    let year = rng.random_range(first..=last);
    let month = rng.random_range(1..=12i8);
    let first_of_month = jiff::civil::date(year, month, 1);
    let day = rng.random_range(1..=first_of_month.days_in_month());
    jiff::civil::date(year, month, day)
}

/// Picks one element of a non-empty constant list.
pub(crate) fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

struct Town {
    name: &'static str,
    postcode: &'static str,
    dutch: bool,
}

const TOWNS: &[Town] = &[
    Town {
        name: "Gent",
        postcode: "9000",
        dutch: true,
    },
    Town {
        name: "Antwerpen",
        postcode: "2000",
        dutch: true,
    },
    Town {
        name: "Kortrijk",
        postcode: "8500",
        dutch: true,
    },
    Town {
        name: "Brugge",
        postcode: "8000",
        dutch: true,
    },
    Town {
        name: "Leuven",
        postcode: "3000",
        dutch: true,
    },
    Town {
        name: "Hasselt",
        postcode: "3500",
        dutch: true,
    },
    Town {
        name: "Aalst",
        postcode: "9300",
        dutch: true,
    },
    Town {
        name: "Sint-Niklaas",
        postcode: "9100",
        dutch: true,
    },
    Town {
        name: "Liège",
        postcode: "4000",
        dutch: false,
    },
    Town {
        name: "Namur",
        postcode: "5000",
        dutch: false,
    },
    Town {
        name: "Mons",
        postcode: "7000",
        dutch: false,
    },
    Town {
        name: "Wavre",
        postcode: "1300",
        dutch: false,
    },
    Town {
        name: "Bruxelles",
        postcode: "1000",
        dutch: false,
    },
    Town {
        name: "Schaerbeek",
        postcode: "1030",
        dutch: false,
    },
    Town {
        name: "Charleroi",
        postcode: "6000",
        dutch: false,
    },
    Town {
        name: "Verviers",
        postcode: "4800",
        dutch: false,
    },
];

const DUTCH_STREETS: &[&str] = &[
    "Kerkstraat",
    "Stationsstraat",
    "Dorpstraat",
    "Molenstraat",
    "Nieuwstraat",
    "Schoolstraat",
    "Kapelstraat",
    "Beukenlaan",
    "Sint-Pietersplein",
    "Zandstraat",
    "Koning Albertlaan",
];

const FRENCH_STREETS: &[&str] = &[
    "Rue de la Gare",
    "Chaussée de Bruxelles",
    "Rue Haute",
    "Avenue Léopold",
    "Rue de l'Église",
    "Place Saint-Lambert",
    "Rue des Écoles",
    "Boulevard d'Avroy",
    "Rue du Château",
    "Avenue de la Forêt",
];

const LAST_NAMES: &[&str] = &[
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "De Smet",
    "Vermeulen",
    "Van den Broeck",
    "D'Hondt",
    "Dubois",
    "Lambert",
    "Dupont",
    "Lefèvre",
    "Lemaître",
    "Gérard",
    "Hébert",
    "Noël",
    "Léonard",
    "Maréchal",
    "Bruyère",
    "Müller",
    "Çelik",
    "Van Der Straeten-Vandenberghe",
];

const FEMALE_FIRST_NAMES: &[&str] = &[
    "Élodie",
    "Hélène",
    "Zoë",
    "Chloë",
    "Anaïs",
    "Inès",
    "Renée",
    "Thérèse",
    "Gaëlle",
    "Maëlle",
    "An",
    "Els",
    "Marie",
    "Léa",
    "Françoise",
    "Ann-Sofie",
];

const MALE_FIRST_NAMES: &[&str] = &[
    "François",
    "Jozef",
    "Noël",
    "Loïc",
    "Mathéo",
    "André",
    "Jérôme",
    "Stéphane",
    "Rémi",
    "Pieter",
    "Wouter",
    "Jan",
    "Björn",
    "Raphaël",
    "Jean-Pierre",
];

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn insz_before_2000() {
        // 930120008 mod 97 = 6, so the check digits are 91.
        assert_eq!(insz_for(jiff::civil::date(1993, 1, 20), 8), "93012000891");
    }

    #[test]
    fn insz_from_2000() {
        // 2120604067 mod 97 = 58, so the check digits are 39.
        assert_eq!(insz_for(jiff::civil::date(2012, 6, 4), 67), "12060406739");
    }

    #[test]
    fn insz_validation() {
        assert!(insz_is_valid("93012000891"));
        assert!(insz_is_valid("12060406739"));
        assert!(!insz_is_valid("93012000892"));
        assert!(!insz_is_valid("9301200081"));
        assert!(!insz_is_valid("9301200081a"));
    }

    #[test]
    fn serial_parity_follows_sex() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..200 {
            let patient = invent_patient(&mut rng, jiff::civil::date(2024, 3, 15));
            let serial: u16 = patient.insz[6..9].parse().unwrap();
            assert_eq!(serial % 2 == 1, patient.sex == Sex::Male, "{patient}");
            assert!(insz_is_valid(&patient.insz), "{patient}");
        }
    }

    #[test]
    fn recipient_with_bad_ssin() {
        let recipient = Recipient {
            ssin: "12345678901".to_owned(),
            nihii11: "12345678004".to_owned(),
            first_name: "Pieter".to_owned(),
            last_name: "Janssens".to_owned(),
        };
        let error = recipient.validate().unwrap_err();
        assert!(error.to_string().contains("12345678901"), "{error}");
    }
}
