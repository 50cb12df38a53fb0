//! No eID PIN in the logs or in errors. This is a test binary of its own because tracing
//! caches, per callsite, whether any subscriber wants its events. When another test thread
//! registers a callsite while this test installs its subscriber, the callsite can stay cached
//! as disabled, and its events go missing from the capture.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::{Arc, Mutex};

use practicebox::eid::{MessageDigest, PinEntry};
use virtual_eid::{Applet, CardProfile, VirtualCard};

mod in_process_eid;
use in_process_eid::{anchors, now, open, pin};

/// Collects every formatted log line.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn pin_never_in_logs_or_errors() {
    const CARD_PIN: &str = "97531864";
    const WRONG_PIN: &str = "86420135";
    const LONG_PIN: &str = "9753186420135";
    let mut profile = CardProfile::new(Applet::V1_8);
    profile.pin = pin(CARD_PIN);
    let card = virtual_eid::shared(VirtualCard::new(&profile).unwrap());
    let anchors = anchors(&card);

    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let mut texts = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let mut eid = open(&card);
        eid.read_citizen(&anchors, now()).unwrap();
        let wrong = eid.verify_pin(&pin(WRONG_PIN)).unwrap_err();
        texts.push(format!("{wrong} {wrong:?}"));
        let long = eid.verify_pin(&pin(LONG_PIN)).unwrap_err();
        texts.push(format!("{long} {long:?}"));
        let typed = pin(CARD_PIN);
        texts.push(format!("{:?}", PinEntry::Typed(&typed)));
        eid.sign_non_repudiation(&MessageDigest::sha384(b"mandate"), PinEntry::Typed(&typed))
            .unwrap();
        texts.push(format!("{eid:?} {profile:?}"));
    });

    let captured = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        captured.contains("card exchange"),
        "trace output was not captured"
    );
    assert!(captured.contains("wrong eID PIN"));
    let all = format!("{captured}\n{}", texts.join("\n"));
    // The digits, and the format-2 PIN blocks that carry them in hex.
    for secret in [CARD_PIN, WRONG_PIN, LONG_PIN, "2897531864", "2886420135"] {
        assert!(!all.contains(secret), "{secret} found in:\n{all}");
    }
}
