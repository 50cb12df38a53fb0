//! The fetch pipeline against the in-process platform simulator: documents to the share exactly
//! once and then to the bin, notices recorded but not written, a full share, a message sealed for
//! someone else, and a refused download.

#![allow(clippy::unwrap_used)]

mod practice;

use std::fs;
use std::path::PathBuf;

use ehealth_sim::ehbox::Folder;
use ehealth_sim::knobs::{FaultRule, Injection, Trigger};
use nix::mount::{MsFlags, mount, umount};
use practice::{Practice, share_index, visible_documents};
use practicebox::fetcher::{FetchError, fetch_principal};
use practicebox::store::{DeliveryState, MessageKind, Store};

/// Opens a store in the practice folder and adds the doctor.
fn store(
    practice: &Practice,
) -> (
    practicebox::store::StoreHandle,
    practicebox::store::Principal,
) {
    let path = practice.dir.path().join("practicebox.sqlite");
    let principal = practice.add_principal(&path);
    let store = Store::open(&path).expect("store").into_handle();
    (store, principal)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_delivered_once_then_moved() {
    let practice = Practice::start().await;
    let seeded = practice.seed(30, 1);
    let (store, principal) = store(&practice);
    let share_root = practice.dir.path().join("share");
    fs::create_dir(&share_root).unwrap();
    let ctx = practice.context(store.clone(), &share_root);

    let report = fetch_principal(&ctx, &principal, practice.now())
        .await
        .expect("fetch run");

    let documents: Vec<_> = seeded.iter().filter(|m| m.is_document()).collect();
    let notices = seeded.len() - documents.len();
    assert!(
        notices > 0,
        "the generator made no notices; pick another seed"
    );
    assert_eq!(report.listed, 30);
    assert_eq!(report.new, 30);
    assert_eq!(report.delivered as usize, documents.len());
    assert_eq!(report.recorded_without_file as usize, notices);
    assert_eq!(report.held, 0);
    assert_eq!(report.moved, 30);

    let index = share_index(&share_root);
    let expected_parts: usize = documents.iter().map(|m| m.parts().len()).sum();
    assert_eq!(index.len(), expected_parts, "one file per document part");
    for message in &documents {
        for (part, bytes) in message.parts().iter().enumerate() {
            let key = (message.message_id.clone(), u32::try_from(part + 1).unwrap());
            let path = index
                .get(&key)
                .unwrap_or_else(|| panic!("{key:?} not on the share"));
            assert_eq!(
                &fs::read(share_root.join(path)).unwrap(),
                bytes,
                "{key:?} bytes"
            );
        }
    }
    for message in seeded.iter().filter(|m| !m.is_document()) {
        assert!(
            !index.keys().any(|(id, _)| *id == message.message_id),
            "{} is a notice but reached the share",
            message.message_id
        );
        let record = store
            .with(|s| s.message(principal.id, &message.message_id))
            .unwrap()
            .expect("notice recorded");
        assert_ne!(record.kind, MessageKind::Document);
        assert!(record.files.is_empty());
    }

    assert!(practice.folder(Folder::Inbox).is_empty(), "INBOX emptied");
    assert_eq!(practice.folder(Folder::BinInbox).len(), 30);
    for message in &seeded {
        let record = store
            .with(|s| s.message(principal.id, &message.message_id))
            .unwrap()
            .unwrap();
        assert_eq!(
            record.state,
            DeliveryState::MovedToBin,
            "{}",
            message.message_id
        );
    }

    // A second run finds nothing new and writes nothing.
    let before = practice::all_files(&share_root);
    let again = fetch_principal(&ctx, &principal, practice.now())
        .await
        .expect("second run");
    assert_eq!(
        (again.listed, again.new, again.delivered, again.moved),
        (0, 0, 0, 0)
    );
    assert_eq!(practice::all_files(&share_root), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bin_policy_off_keeps_messages_in_inbox() {
    let practice = Practice::start().await;
    practice.seed(5, 2);
    let (store, mut principal) = store(&practice);
    let now = practice.now();
    store
        .with(|s| s.set_move_to_bin(principal.id, false, "test", now))
        .unwrap();
    principal.move_to_bin = false;
    let share_root = practice.dir.path().join("share");
    fs::create_dir(&share_root).unwrap();
    let ctx = practice.context(store, &share_root);

    let report = fetch_principal(&ctx, &principal, now).await.unwrap();
    assert_eq!(report.moved, 0);
    assert_eq!(practice.folder(Folder::Inbox).len(), 5);

    let again = fetch_principal(&ctx, &principal, now).await.unwrap();
    assert_eq!((again.listed, again.new, again.delivered), (5, 0, 0));
}

/// A small tmpfs, unmounted on drop. Mounting needs root (CAP_SYS_ADMIN).
struct Tmpfs {
    mount_point: PathBuf,
}

impl Tmpfs {
    fn mount(mount_point: PathBuf, size: &str) -> Self {
        fs::create_dir(&mount_point).unwrap();
        let options = format!("size={size},mode=0755");
        mount(
            Some("tmpfs"),
            &mount_point,
            Some("tmpfs"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .unwrap_or_else(|error| {
            panic!(
                "cannot mount a tmpfs at {}: {error}; this test needs root (CAP_SYS_ADMIN)",
                mount_point.display()
            )
        });
        Self { mount_point }
    }

    /// Fills the filesystem with one file; returns its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.mount_point.join("filler");
        let mut file = fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Err(error) = umount(&self.mount_point) {
            eprintln!("cannot unmount {}: {error}", self.mount_point.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_share_holds_without_moving() {
    let practice = Practice::start().await;
    let seeded = practice.seed(12, 3);
    let (store, principal) = store(&practice);
    let share = Tmpfs::mount(practice.dir.path().join("share"), "4m");
    let filler = share.fill();
    let ctx = practice.context(store.clone(), &share.mount_point);

    let error = fetch_principal(&ctx, &principal, practice.now())
        .await
        .expect_err("the share is full");
    assert!(matches!(error, FetchError::Share(_)), "{error}");
    assert!(error.to_string().contains("the share is full"), "{error}");

    let documents: Vec<_> = seeded.iter().filter(|m| m.is_document()).collect();
    let held: Vec<_> = documents
        .iter()
        .filter_map(|m| {
            store
                .with(|s| s.message(principal.id, &m.message_id))
                .unwrap()
        })
        .filter(|record| record.state == DeliveryState::Held)
        .collect();
    assert_eq!(
        held.len(),
        1,
        "delivery stops at the first full-share failure"
    );
    assert!(
        held[0]
            .held_reason
            .as_deref()
            .unwrap()
            .contains("the share is full")
    );
    for message in &documents {
        assert!(
            practice.folder(Folder::Inbox).contains(&message.message_id),
            "{} left INBOX undelivered",
            message.message_id
        );
    }
    assert_eq!(
        visible_documents(&share.mount_point),
        [PathBuf::from("filler")]
    );

    // Space returns: the next run delivers everything and moves it.
    fs::remove_file(filler).unwrap();
    let report = fetch_principal(&ctx, &principal, practice.now())
        .await
        .expect("fetch after space returned");
    assert_eq!(report.held, 0);
    assert!(practice.folder(Folder::Inbox).is_empty());
    let expected_parts: usize = documents.iter().map(|m| m.parts().len()).sum();
    assert_eq!(share_index(&share.mount_point).len(), expected_parts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_for_someone_else_is_held_and_kept() {
    let practice = Practice::start().await;
    practice.seed(3, 4);
    let foreign = practice.seed_for_someone_else();
    let (store, principal) = store(&practice);
    let share_root = practice.dir.path().join("share");
    fs::create_dir(&share_root).unwrap();
    let ctx = practice.context(store.clone(), &share_root);

    let report = fetch_principal(&ctx, &principal, practice.now())
        .await
        .expect("fetch run");
    assert_eq!(report.held, 1);

    let record = store
        .with(|s| s.message(principal.id, &foreign))
        .unwrap()
        .expect("recorded");
    assert_eq!(record.state, DeliveryState::Held);
    assert!(record.flags.not_addressed_to_us);
    assert!(!record.flags.unsealed_ok);
    assert!(record.retry_at.is_none(), "waits for a person");
    let reason = record.held_reason.unwrap();
    assert!(
        reason.contains("not addressed to any encryption key"),
        "{reason}"
    );

    assert_eq!(
        practice.folder(Folder::Inbox),
        std::slice::from_ref(&foreign),
        "still in the eHealthBox"
    );
    assert!(
        !share_index(&share_root)
            .keys()
            .any(|(id, _)| *id == foreign)
    );
    let raw = practice
        .dir
        .path()
        .join("held")
        .join(practice.insz())
        .join(format!("{foreign}.xml"));
    assert!(
        fs::read_to_string(&raw).unwrap().contains(&foreign),
        "raw envelope kept"
    );

    // Later runs leave it alone and count it as held.
    let again = fetch_principal(&ctx, &principal, practice.now())
        .await
        .unwrap();
    assert_eq!((again.new, again.held, again.delivered), (0, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_download_holds_one_message() {
    let practice = Practice::start().await;
    let seeded = practice.seed(4, 5);
    let (store, principal) = store(&practice);
    let share_root = practice.dir.path().join("share");
    fs::create_dir(&share_root).unwrap();
    let ctx = practice.context(store.clone(), &share_root);
    // The first getFullMessage is refused as a request the platform cannot read.
    practice
        .simulator
        .knobs
        .add_rule(FaultRule {
            operation: "getFullMessage".to_owned(),
            injection: Injection::SoapFault {
                code: "SOA-03004".to_owned(),
                message: Some("Body is missing".to_owned()),
            },
            trigger: Trigger::NextCalls(1),
        })
        .unwrap();

    let report = fetch_principal(&ctx, &principal, practice.now())
        .await
        .expect("fetch run");
    assert_eq!(report.held, 1);
    assert_eq!(
        report.delivered + report.recorded_without_file,
        3,
        "the others go on"
    );

    // The oldest message is downloaded first, so it is the one held.
    let oldest = &seeded[0].message_id;
    let record = store
        .with(|s| s.message(principal.id, oldest))
        .unwrap()
        .unwrap();
    assert_eq!(record.state, DeliveryState::Held);
    assert!(record.retry_at.is_some(), "downloaded again later");
    assert_eq!(practice.folder(Folder::Inbox), std::slice::from_ref(oldest));
}
