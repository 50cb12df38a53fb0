//! The two doctors of the mandate tests and their eID cards: the main practitioner, set up on
//! the box, and the colleague (the mandator) who grants the mandate. Their eHealth PKI is made
//! on a fixed date, so screens and documents that show certificate dates do not change.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, reason = "test fixtures fail loudly")]

use std::path::Path;

use ehealth_sim::pki::{DoctorSpec, KeystoreOptions, TestPki};
use jiff::Timestamp;
use virtual_eid::{Applet, CardProfile, SharedCard, VirtualCard};
use zeroize::Zeroizing;

pub const MAIN_SSIN: &str = "78031414230";
pub const MAIN_RIZIV: &str = "17139009004";
/// The main practitioner's name and first names, as on the eID.
pub const MAIN_NAME: (&str, &str) = ("Vermeiren", "Lotte Maria");
/// The colleague has the virtual card's default INSZ and names.
pub const MANDATOR_SSIN: &str = virtual_eid::DEFAULT_SSIN;
pub const MANDATOR_RIZIV: &str = "17041217004";
pub const MANDATOR_NAME: (&str, &str) = ("Vandenberghe-Lemaître", "Jan-Willem Alexandre");
/// PINs that appear nowhere else in the test data (the card number contains 1234).
pub const MAIN_PIN: &str = "802613";
pub const MANDATOR_PIN: &str = "739184";

/// The seed of the eHealth test PKI.
pub const PKI_SEED: u64 = 11;

/// Returns the fixed time at which the PKI is made and the tests run.
pub fn now() -> Timestamp {
    "2026-12-04T12:00:00Z".parse().unwrap()
}

/// Generates the eHealth test PKI of the main practitioner, the colleague and `others`, at
/// [`now`].
pub fn generate_pki(others: &[DoctorSpec]) -> TestPki {
    let mut doctors = vec![
        DoctorSpec::new("Lotte", "Vermeiren", MAIN_SSIN, MAIN_RIZIV),
        DoctorSpec::new(
            MANDATOR_NAME.1,
            MANDATOR_NAME.0,
            MANDATOR_SSIN,
            MANDATOR_RIZIV,
        ),
    ];
    doctors.extend_from_slice(others);
    TestPki::generate_with(PKI_SEED, now(), &doctors, &KeystoreOptions::fast()).unwrap()
}

/// Returns a virtual eID of the doctor with this INSZ, names and PIN. The default card seed gives
/// every card of one applet the same test root.
pub fn card(applet: Applet, ssin: &str, name: (&str, &str), pin: &str) -> SharedCard {
    let mut profile = CardProfile::new(applet);
    profile.ssin = ssin.to_owned();
    profile.name = name.0.to_owned();
    profile.first_names = name.1.to_owned();
    profile.pin = Zeroizing::new(pin.to_owned());
    virtual_eid::shared(VirtualCard::new(&profile).unwrap())
}

/// Returns the main practitioner's applet 1.8 eID.
pub fn main_card() -> SharedCard {
    card(Applet::V1_8, MAIN_SSIN, MAIN_NAME, MAIN_PIN)
}

/// Returns the colleague's applet 1.8 eID.
pub fn mandator_card() -> SharedCard {
    card(Applet::V1_8, MANDATOR_SSIN, MANDATOR_NAME, MANDATOR_PIN)
}

/// Writes the box's trust anchors into `dir`: `ehealth-ca.pem`, the root of `pki`, and
/// `eid-roots.pem`, the test root of `card`.
pub fn write_trust_anchors(dir: &Path, pki: &TestPki, card: &SharedCard) {
    std::fs::write(
        dir.join("ehealth-ca.pem"),
        pki.root.certificate_pem().unwrap(),
    )
    .unwrap();
    let eid_root = card
        .lock()
        .unwrap()
        .image()
        .unwrap()
        .pki
        .root
        .pem()
        .unwrap();
    std::fs::write(dir.join("eid-roots.pem"), eid_root).unwrap();
}

/// Returns the position of `ssin`'s keystore in the wizard's list, which is sorted by file name.
pub fn keystore_index(pki: &TestPki, ssin: &str) -> usize {
    let mut names: Vec<&str> = pki
        .doctors
        .iter()
        .map(|doctor| doctor.keystore.file_name.as_str())
        .collect();
    names.sort();
    let name = &pki.doctor(ssin).unwrap().keystore.file_name;
    names
        .iter()
        .position(|candidate| candidate == name)
        .unwrap()
}
