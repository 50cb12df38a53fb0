//! Invented senders of practice mail: clinical labs, hospitals, radiology departments, specialists
//! in private practice, and the eHealth platform itself for acknowledgements, errors and news.
//!
//! Every name and number here is invented. Organisations carry an 8-digit RIZIV/NIHII number,
//! practitioners an 11-digit one (`1` + 5 digits + 2 check digits + 3-digit qualification code)
//! and an INSZ.

use std::fmt;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::people::{self, Address, invent_address, pick};

/// The `Type` of a sender identifier on the eHealthBox wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdType {
    /// RIZIV/NIHII number: 8 digits for organisations, 11 for practitioners.
    Nihii,
    /// INSZ of a person (the eHealthBox calls it INSS).
    Inss,
    /// Crossroads Bank for Enterprises number, 10 digits.
    Cbe,
}

impl IdType {
    /// Returns the value of the `Type` element.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nihii => "NIHII",
            Self::Inss => "INSS",
            Self::Cbe => "CBE",
        }
    }
}

impl fmt::Display for IdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sender of a message as the eHealthBox shows it (`SenderType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The identifier: NIHII, INSZ or CBE number, digits only.
    pub id: String,
    pub id_type: IdType,
    /// `SubType` for organisations (`HOSPITAL`, `LABO`); absent for persons.
    pub sub_type: Option<String>,
    /// `Quality`: `DOCTOR`, `HOSPITAL`, `LABO`, `INSTITUTION`.
    pub quality: String,
    /// `Name`: an organisation's name, or a person's last name.
    pub name: String,
    /// `FirstName`, for persons only.
    pub first_name: Option<String>,
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.first_name {
            Some(first_name) => write!(f, "{first_name} {}", self.name)?,
            None => f.write_str(&self.name)?,
        }
        write!(f, " ({} {} {})", self.id_type, self.id, self.quality)
    }
}

/// How a lab writes the Medidoc result flag (low, normal, high).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagStyle {
    /// `LL`, `L`, `N`, `H`, `HH`.
    Letters,
    /// `--`, `-`, `=` (or blank), `+`, `++`.
    Symbols,
    /// `1` to `5`.
    Digits,
}

/// A clinical laboratory.
#[derive(Debug, Clone)]
pub(crate) struct Lab {
    pub name: &'static str,
    /// The 4-character Medidoc lab id: province letter, first two postcode digits, sequence.
    pub medidoc_id: &'static str,
    pub nihii8: &'static str,
    pub street: &'static str,
    pub postcode: &'static str,
    pub town: &'static str,
    pub phone: &'static str,
    pub dutch: bool,
    pub flag_style: FlagStyle,
}

impl Lab {
    /// Returns the eHealthBox identity of the lab.
    pub fn sender(&self) -> Sender {
        organisation_sender(self.nihii8, "LABO", self.name)
    }
}

/// A hospital, or the radiology department of one.
#[derive(Debug, Clone)]
pub(crate) struct Hospital {
    pub name: &'static str,
    pub nihii8: &'static str,
    pub street: &'static str,
    pub postcode: &'static str,
    pub town: &'static str,
    pub dutch: bool,
}

impl Hospital {
    /// Returns the eHealthBox identity of the hospital.
    pub fn sender(&self) -> Sender {
        organisation_sender(self.nihii8, "HOSPITAL", self.name)
    }
}

/// A specialist or radiologist who writes letters and reports.
#[derive(Debug, Clone)]
pub(crate) struct Practitioner {
    pub first_name: String,
    pub last_name: String,
    pub ssin: String,
    pub nihii11: String,
    pub specialty: &'static Specialty,
    pub address: Address,
    pub phone: String,
    pub dutch: bool,
}

impl Practitioner {
    /// Returns the eHealthBox identity of the practitioner's personal box.
    pub fn sender(&self) -> Sender {
        Sender {
            id: self.ssin.clone(),
            id_type: IdType::Inss,
            sub_type: None,
            quality: "DOCTOR".to_owned(),
            name: self.last_name.clone(),
            first_name: Some(self.first_name.clone()),
        }
    }

    /// Returns the specialty in the practitioner's language.
    pub fn specialty_name(&self) -> &'static str {
        if self.dutch {
            self.specialty.dutch
        } else {
            self.specialty.french
        }
    }
}

/// A medical specialty with its names and an illustrative RIZIV qualification code.
#[derive(Debug)]
pub(crate) struct Specialty {
    pub dutch: &'static str,
    pub french: &'static str,
    /// NOTE: the 3-digit RIZIV qualification codes here are illustrative, not checked against the
    /// RIZIV nomenclature.
    pub qualification: &'static str,
    pub is_radiology: bool,
}

pub(crate) static SPECIALTIES: &[Specialty] = &[
    Specialty {
        dutch: "cardiologie",
        french: "cardiologie",
        qualification: "680",
        is_radiology: false,
    },
    Specialty {
        dutch: "gastro-enterologie",
        french: "gastro-entérologie",
        qualification: "690",
        is_radiology: false,
    },
    Specialty {
        dutch: "dermatologie",
        french: "dermatologie",
        qualification: "550",
        is_radiology: false,
    },
    Specialty {
        dutch: "neurologie",
        french: "neurologie",
        qualification: "370",
        is_radiology: false,
    },
    Specialty {
        dutch: "orthopedie",
        french: "orthopédie",
        qualification: "480",
        is_radiology: false,
    },
    Specialty {
        dutch: "pneumologie",
        french: "pneumologie",
        qualification: "650",
        is_radiology: false,
    },
    Specialty {
        dutch: "radiologie",
        french: "radiologie",
        qualification: "960",
        is_radiology: true,
    },
];

pub(crate) static LABS: &[Lab] = &[
    Lab {
        name: "Labo Proefheide",
        medidoc_id: "W851",
        nihii8: "89100413",
        street: "Proefstraat 12",
        postcode: "8500",
        town: "Kortrijk",
        phone: "Tel. 056 00 00 00",
        dutch: true,
        flag_style: FlagStyle::Letters,
    },
    Lab {
        name: "Labo Klaverveld",
        medidoc_id: "O902",
        nihii8: "89200825",
        street: "Klaverveldlaan 7",
        postcode: "9000",
        town: "Gent",
        phone: "Tel. 09 000 00 01",
        dutch: true,
        flag_style: FlagStyle::Symbols,
    },
    Lab {
        name: "Labo Zandduin Klinische Biologie",
        medidoc_id: "A201",
        nihii8: "89300162",
        street: "Duinenweg 3",
        postcode: "2000",
        town: "Antwerpen",
        phone: "Tel. 03 000 00 02",
        dutch: true,
        flag_style: FlagStyle::Digits,
    },
    Lab {
        name: "Laboratoire du Val d'Essai",
        medidoc_id: "B131",
        nihii8: "89400574",
        street: "Rue de l'Essai 41",
        postcode: "1300",
        town: "Wavre",
        phone: "Tél. 010 00 00 03",
        dutch: false,
        flag_style: FlagStyle::Letters,
    },
    Lab {
        name: "Labo Hasselt-Proef",
        medidoc_id: "L352",
        nihii8: "89500986",
        street: "Proefplein 1",
        postcode: "3500",
        town: "Hasselt",
        phone: "Tel. 011 00 00 04",
        dutch: true,
        flag_style: FlagStyle::Symbols,
    },
];

pub(crate) static HOSPITALS: &[Hospital] = &[
    Hospital {
        name: "AZ Proefziekenhuis",
        nihii8: "71099999",
        street: "Ziekenhuislaan 1",
        postcode: "9000",
        town: "Gent",
        dutch: true,
    },
    Hospital {
        name: "UZ Voorbeeld",
        nihii8: "71088801",
        street: "Herestraat 900",
        postcode: "3000",
        town: "Leuven",
        dutch: true,
    },
    Hospital {
        name: "Clinique Saint-Exemple",
        nihii8: "71077702",
        street: "Avenue de l'Hôpital 10",
        postcode: "4000",
        town: "Liège",
        dutch: false,
    },
    Hospital {
        name: "Centre Hospitalier du Bois-Témoin",
        nihii8: "71066603",
        street: "Chaussée de Namur 200",
        postcode: "5000",
        town: "Namur",
        dutch: false,
    },
];

/// Returns the identity the eHealth platform uses for acknowledgements, errors and news.
///
/// NOTE: the real platform's sender identity for these messages is not documented in public
/// material; this CBE number is invented (with a valid `97 - N mod 97` check).
pub fn platform_sender() -> Sender {
    Sender {
        id: "0800000075".to_owned(),
        id_type: IdType::Cbe,
        sub_type: None,
        quality: "INSTITUTION".to_owned(),
        name: "eHealth-platform".to_owned(),
        first_name: None,
    }
}

/// Invents a practitioner of the given specialty.
pub(crate) fn invent_practitioner(
    rng: &mut ChaCha8Rng,
    specialty: &'static Specialty,
) -> Practitioner {
    let patient_like = people::invent_patient(rng, jiff::civil::date(1990, 1, 1));
    let address = invent_address(rng);
    let dutch = people::address_is_dutch(&address);
    Practitioner {
        first_name: patient_like.first_name,
        last_name: patient_like.last_name,
        ssin: patient_like.insz,
        nihii11: invent_nihii11(rng, specialty.qualification),
        specialty,
        phone: invent_phone(rng),
        address,
        dutch,
    }
}

/// Invents an 11-digit practitioner RIZIV/NIHII number ending in `qualification`.
///
/// NOTE: the 2 check digits follow the rule usually described for practitioner numbers,
/// `97 - (first 6 digits mod 97)`; it was not checked against RIZIV's own specification.
pub(crate) fn invent_nihii11(rng: &mut ChaCha8Rng, qualification: &str) -> String {
    let base = 100_000 + rng.random_range(0..100_000u32);
    let check = 97 - base % 97;
    format!("{base:06}{check:02}{qualification}")
}

/// Formats an 11-digit RIZIV number as Medidoc prints it: `C/CCCCC/CC/CCC`.
pub(crate) fn riziv_dashed(nihii11: &str) -> String {
    if nihii11.len() != 11 || !nihii11.is_ascii() {
        return nihii11.to_owned();
    }
    format!(
        "{}/{}/{}/{}",
        &nihii11[..1],
        &nihii11[1..6],
        &nihii11[6..8],
        &nihii11[8..]
    )
}

/// Picks the salutation of a letter to a colleague.
pub(crate) fn pick_greeting(rng: &mut ChaCha8Rng, dutch: bool) -> &'static str {
    if dutch {
        pick(
            rng,
            &["Geachte collega,", "Beste collega,", "Waarde confrater,"],
        )
    } else {
        pick(
            rng,
            &["Cher confrère,", "Chère consoeur,", "Chère collègue,"],
        )
    }
}

fn invent_phone(rng: &mut ChaCha8Rng) -> String {
    let zone = rng.random_range(2..10u8);
    let subscriber = rng.random_range(0..1_000_000u32);
    format!(
        "0{zone} {:03} {:02} {:02}",
        subscriber / 10_000,
        subscriber / 100 % 100,
        subscriber % 100
    )
}

fn organisation_sender(nihii8: &str, kind: &str, name: &str) -> Sender {
    Sender {
        id: nihii8.to_owned(),
        id_type: IdType::Nihii,
        sub_type: Some(kind.to_owned()),
        quality: kind.to_owned(),
        name: name.to_owned(),
        first_name: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn riziv_dashed_layout() {
        assert_eq!(riziv_dashed("12345678004"), "1/23456/78/004");
    }

    #[test]
    fn platform_cbe_check_digits() {
        let first_eight: u32 = platform_sender().id[..8].parse().unwrap();
        let check: u32 = platform_sender().id[8..].parse().unwrap();
        assert_eq!(check, 97 - first_eight % 97);
    }
}
