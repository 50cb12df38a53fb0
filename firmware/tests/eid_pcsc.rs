//! The eID client's real PC/SC path: pcscd with the vpcd virtual reader (started by
//! `tests/virtual-eid/start-pcscd-vpcd`, as root, in a loopback-only network namespace), and the
//! virtual card connected to vpcd. Each test runs in a child process with a pcscd of its own (see
//! `support/pcscd.rs`). Nothing is skipped: when pcscd cannot start, the test fails with the
//! script's reason and fix.

// Test helpers panic on setup failures, like the tests themselves.
#![allow(clippy::unwrap_used)]

#[path = "support/pcscd.rs"]
mod pcscd_support;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use pcscd_support::{CARD_WAIT, in_private_pcscd, without_pcscd};
use practicebox::eid::{
    AppletVersion, EidCard, EidError, MessageDigest, PcscContext, PcscTransport, PinEntry,
    SignatureAlgorithm, TransportError, TrustAnchors,
};
use virtual_eid::pcscd::{PcscdVpcd, VPCD_READER_PREFIX};
use virtual_eid::{Applet, CardProfile, Removal, SharedCard, VirtualCard, VpcdConnection};
use zeroize::Zeroizing;

fn now() -> Timestamp {
    "2026-12-04T12:00:00Z".parse().unwrap()
}

fn pin(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.to_owned())
}

fn eid_card(applet: Applet) -> SharedCard {
    virtual_eid::shared(VirtualCard::new(&CardProfile::new(applet)).unwrap())
}

fn anchors(card: &SharedCard) -> TrustAnchors {
    let card = card.lock().unwrap();
    let root = card.image().unwrap().pki.root.der.clone();
    TrustAnchors::from_der([root.as_slice()]).unwrap()
}

/// Inserts `card` and connects to it through pcscd.
fn connect(pcscd: &PcscdVpcd, card: &SharedCard) -> (VpcdConnection, PcscTransport) {
    let inserted = pcscd.insert(Arc::clone(card)).unwrap();
    let context = PcscContext::establish().unwrap();
    let reader = context
        .wait_for_card(VPCD_READER_PREFIX, CARD_WAIT)
        .unwrap();
    let transport = context.connect(&reader).unwrap();
    (inserted, transport)
}

fn identity_pin_and_signature(
    pcscd: &PcscdVpcd,
    applet: Applet,
    expected: AppletVersion,
    algorithm: SignatureAlgorithm,
) {
    let card = eid_card(applet);
    let (_inserted, transport) = connect(pcscd, &card);
    let mut eid = EidCard::open(transport).unwrap();
    assert_eq!(eid.applet_version(), expected);
    assert!(
        !eid.has_pinpad(),
        "vpcd answers no SCardControl, so no pinpad"
    );

    let citizen = eid.read_citizen(&anchors(&card), now()).unwrap();
    assert_eq!(citizen.identity.insz.as_str(), virtual_eid::DEFAULT_SSIN);
    assert_eq!(citizen.identity.name, "Vandenberghe-Lemaître");
    assert_eq!(citizen.identity.first_names, "Jan-Willem Alexandre");
    let certificates = eid.read_certificates().unwrap();
    certificates.verify(&anchors(&card), now()).unwrap();

    let error = eid.verify_pin(&pin("0000")).unwrap_err();
    assert!(
        matches!(error, EidError::WrongPin { tries_left: 2 }),
        "{error:?}"
    );

    let digest = match applet {
        Applet::V1_7 => MessageDigest::sha256(b"mandate over PC/SC"),
        Applet::V1_8 => MessageDigest::sha384(b"mandate over PC/SC"),
    };
    let signature = eid
        .sign_non_repudiation(&digest, PinEntry::Typed(&pin(virtual_eid::DEFAULT_PIN)))
        .unwrap();
    assert_eq!(signature.algorithm, algorithm);
    assert_eq!(
        Some(&signature.certificate),
        certificates.non_repudiation.as_ref()
    );
    assert_eq!(card.lock().unwrap().tries_left(), 3);
    eid.into_transport().disconnect().unwrap();
}

#[test]
fn pcsc_v17_identity_pin_and_signature() {
    in_private_pcscd("pcsc_v17_identity_pin_and_signature", |pcscd| {
        identity_pin_and_signature(
            &pcscd,
            Applet::V1_7,
            AppletVersion::V1_7,
            SignatureAlgorithm::RsaPkcs1Sha256,
        );
    });
}

#[test]
fn pcsc_v18_identity_pin_and_signature() {
    in_private_pcscd("pcsc_v18_identity_pin_and_signature", |pcscd| {
        identity_pin_and_signature(
            &pcscd,
            Applet::V1_8,
            AppletVersion::V1_8,
            SignatureAlgorithm::EcdsaP384Sha384,
        );
    });
}

#[test]
fn pcsc_third_wrong_pin_blocks() {
    in_private_pcscd("pcsc_third_wrong_pin_blocks", |pcscd| {
        let card = eid_card(Applet::V1_8);
        let (_inserted, transport) = connect(&pcscd, &card);
        let mut eid = EidCard::open(transport).unwrap();

        let first = eid.verify_pin(&pin("1111")).unwrap_err();
        assert!(
            matches!(first, EidError::WrongPin { tries_left: 2 }),
            "{first:?}"
        );
        let second = eid.verify_pin(&pin("2222")).unwrap_err();
        assert!(
            matches!(second, EidError::WrongPin { tries_left: 1 }),
            "{second:?}"
        );
        let third = eid.verify_pin(&pin("3333")).unwrap_err();
        assert!(matches!(third, EidError::PinBlocked), "{third:?}");
        assert_eq!(eid.pin_tries_left().unwrap(), Some(0));

        let error = eid
            .sign_non_repudiation(
                &MessageDigest::sha384(b"mandate"),
                PinEntry::Typed(&pin(virtual_eid::DEFAULT_PIN)),
            )
            .unwrap_err();
        assert!(matches!(error, EidError::PinBlocked), "{error:?}");
    });
}

#[test]
fn pcsc_card_removed_during_signing() {
    in_private_pcscd("pcsc_card_removed_during_signing", |pcscd| {
        let card = eid_card(Applet::V1_7);
        let (_inserted, transport) = connect(&pcscd, &card);
        let mut eid = EidCard::open(transport).unwrap();
        card.lock().unwrap().remove_on(Removal::OnInstruction(0x2A));

        let error = eid
            .sign_non_repudiation(
                &MessageDigest::sha256(b"mandate"),
                PinEntry::Typed(&pin(virtual_eid::DEFAULT_PIN)),
            )
            .unwrap_err();
        assert!(error.is_card_removed(), "{error:?}");
    });
}

#[test]
fn pcsc_card_not_an_eid() {
    in_private_pcscd("pcsc_card_not_an_eid", |pcscd| {
        let card = virtual_eid::shared(VirtualCard::not_an_eid());
        let (_inserted, transport) = connect(&pcscd, &card);
        let error = EidCard::open(transport).unwrap_err();
        assert!(matches!(error, EidError::NotBelgianEid { .. }), "{error:?}");
    });
}

#[test]
fn pcsc_no_card_in_reader() {
    in_private_pcscd("pcsc_no_card_in_reader", |pcscd| {
        let context = PcscContext::establish().unwrap();
        let readers = context.readers().unwrap();
        assert!(
            readers
                .iter()
                .any(|name| name.starts_with(VPCD_READER_PREFIX)),
            "{readers:?}"
        );
        let error = context
            .wait_for_card(VPCD_READER_PREFIX, Duration::from_millis(800))
            .unwrap_err();
        assert!(matches!(error, TransportError::NoCard { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "no card in reader \"Virtual PCD 00 00\"; insert the eID card"
        );

        let error = context
            .wait_for_card("Some Other Reader", CARD_WAIT)
            .unwrap_err();
        assert!(
            matches!(error, TransportError::ReaderUnavailable { .. }),
            "{error:?}"
        );
        drop(pcscd);
    });
}

#[test]
fn pcscd_not_running() {
    without_pcscd("pcscd_not_running", || {
        let error = PcscContext::establish().unwrap_err();
        assert!(
            matches!(error, TransportError::ServiceNotRunning),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the PC/SC daemon (pcscd) is not running; start it with `systemctl start pcscd`"
        );
    });
}
