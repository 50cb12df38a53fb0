//! Fixtures of the tests that drive the eID client against the virtual card in process.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, reason = "test fixtures fail loudly")]

use std::sync::Arc;

use jiff::Timestamp;
use practicebox::eid::{EidCard, TrustAnchors};
use virtual_eid::{Applet, CardProfile, InProcessTransport, SharedCard, VirtualCard};
use zeroize::Zeroizing;

pub fn now() -> Timestamp {
    "2026-12-04T12:00:00Z".parse().unwrap()
}

pub fn pin(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.to_owned())
}

pub fn card(applet: Applet) -> SharedCard {
    virtual_eid::shared(VirtualCard::new(&CardProfile::new(applet)).unwrap())
}

pub fn anchors(card: &SharedCard) -> TrustAnchors {
    let card = card.lock().unwrap();
    let root = card.image().unwrap().pki.root.der.clone();
    TrustAnchors::from_der([root.as_slice()]).unwrap()
}

pub fn open(card: &SharedCard) -> EidCard<InProcessTransport> {
    EidCard::open(InProcessTransport::new(Arc::clone(card))).unwrap()
}
