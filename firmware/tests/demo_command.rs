//! The `practicebox demo` command line, run as a user runs it: the checks that must fail before
//! the demo touches the folders of an earlier run.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::Path;
use std::process::Command;

use practicebox::demo::practice::DEMO_MARKER;

/// Writes the folders an earlier demo run leaves: marked, with a document in the share.
fn earlier_demo(root: &Path) {
    for folder in ["practicebox-demo/data", "practicebox-demo/share"] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        std::fs::write(root.join(folder).join(DEMO_MARKER), "earlier run\n").unwrap();
    }
    std::fs::write(root.join("practicebox-demo/share/result.pdf"), "%PDF-1.7\n").unwrap();
}

#[test]
fn frames_file_rejected_before_cleanup() {
    let root = tempfile::tempdir().unwrap();
    earlier_demo(root.path());
    std::fs::write(root.path().join("frames"), "not a folder\n").unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_practicebox"))
        .args(["demo", "--frames", "frames", "--duration", "1"])
        .current_dir(root.path())
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("--frames frames is not a folder"),
        "{stderr}"
    );
    assert!(
        root.path()
            .join("practicebox-demo/share/result.pdf")
            .exists(),
        "the earlier demo's share was emptied"
    );
}
