//! The `practicebox unseal` command, run in-process on files made with `openssl`.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use std::os::unix::fs::PermissionsExt;

use base64::Engine;
use practicebox::ehealth::unseal::command::{UnsealArgs, run_unseal};
use support::{
    ENCRYPTION_SERIAL, EncryptOptions, PASSWORD, SENDER_SSIN, SignOptions, Workspace,
    sample_content,
};

fn arguments(workspace: &Workspace, input: &str) -> UnsealArgs {
    UnsealArgs {
        keystore: workspace.path("doctor.p12"),
        password_file: workspace.path("password.txt"),
        input: workspace.path(input),
        output: workspace.path("out.bin"),
        force: false,
    }
}

fn prepare(workspace: &Workspace, password_line: &str) -> Vec<u8> {
    workspace.write("doctor.p12", &workspace.doctor_keystore(true));
    workspace.write("password.txt", password_line.as_bytes());
    let content = sample_content(12_345);
    let blob = workspace.seal(
        &content,
        &SignOptions::default(),
        &EncryptOptions::default(),
    );
    workspace.write("message.der", &blob);
    content
}

#[test]
fn writes_content_of_binary_message() {
    let workspace = Workspace::new();
    let content = prepare(&workspace, &format!("{PASSWORD}\n"));

    run_unseal(&arguments(&workspace, "message.der")).unwrap();

    assert_eq!(workspace.read("out.bin"), content);
}

#[test]
fn accepts_double_base64_field() {
    let workspace = Workspace::new();
    let content = prepare(&workspace, &format!("{PASSWORD}\r\n"));
    let engine = base64::engine::general_purpose::STANDARD;
    let twice = engine.encode(engine.encode(workspace.read("message.der")));
    workspace.write("message.b64", twice.as_bytes());

    run_unseal(&arguments(&workspace, "message.b64")).unwrap();

    assert_eq!(workspace.read("out.bin"), content);
}

#[test]
fn report_names_sender_and_signatures() {
    let workspace = Workspace::new();
    prepare(&workspace, PASSWORD);
    let password = zeroize::Zeroizing::new(PASSWORD.to_owned());
    let keystore = practicebox::ehealth::keystore::EhealthKeystore::open_file(
        &workspace.path("doctor.p12"),
        &password,
    )
    .unwrap();
    let unsealed = practicebox::ehealth::unseal::unseal(
        &workspace.read("message.der"),
        &keystore,
        &Default::default(),
    )
    .unwrap();

    let report =
        practicebox::ehealth::unseal::command::report(&unsealed, &workspace.path("out.bin"));

    assert!(
        report.contains(&format!("sender: CN=SSIN={SENDER_SSIN},")),
        "{report}"
    );
    assert!(
        report.contains(&format!("sender SSIN: {SENDER_SSIN}")),
        "{report}"
    );
    assert!(
        report.contains("outer signature: valid, RSASSA-PSS with SHA-256, salt 32 bytes"),
        "{report}"
    );
    assert!(report.contains("inner signature: valid,"), "{report}");
    assert!(
        report.contains(&format!("serial {ENCRYPTION_SERIAL}")),
        "{report}"
    );
    assert!(report.contains("12345 bytes written"), "{report}");
}

#[test]
fn wrong_password_fails_clearly() {
    let workspace = Workspace::new();
    prepare(&workspace, "not-the-password\n");

    let error = run_unseal(&arguments(&workspace, "message.der")).unwrap_err();

    let message = format!("{error:#}");
    assert!(message.contains("wrong password for keystore"), "{message}");
    assert!(message.contains("doctor.p12"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
    assert!(!workspace.path("out.bin").exists());
}

#[test]
fn tampered_message_fails_clearly() {
    let workspace = Workspace::new();
    prepare(&workspace, PASSWORD);
    let mut blob = workspace.read("message.der");
    let last = blob.len() - 1;
    blob[last] ^= 0x01;
    workspace.write("message.der", &blob);

    let error = run_unseal(&arguments(&workspace, "message.der")).unwrap_err();

    let message = format!("{error:#}");
    assert!(message.contains("cannot unseal"), "{message}");
    assert!(message.contains("message.der"), "{message}");
    assert!(message.contains("outer SignedData signature"), "{message}");
    assert!(!workspace.path("out.bin").exists());
}

#[test]
fn missing_input_is_named() {
    let workspace = Workspace::new();
    prepare(&workspace, PASSWORD);

    let error = run_unseal(&arguments(&workspace, "absent.der")).unwrap_err();

    let message = format!("{error:#}");
    assert!(message.contains("cannot read sealed message"), "{message}");
    assert!(message.contains("absent.der"), "{message}");
}

#[test]
fn existing_output_is_kept() {
    let workspace = Workspace::new();
    prepare(&workspace, PASSWORD);
    workspace.write("out.bin", b"the EMD's own file");

    let error = run_unseal(&arguments(&workspace, "message.der")).unwrap_err();

    let message = format!("{error:#}");
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("out.bin"), "{message}");
    assert!(message.contains("--force"), "{message}");
    assert_eq!(workspace.read("out.bin"), b"the EMD's own file");
}

#[test]
fn force_replaces_output() {
    let workspace = Workspace::new();
    let content = prepare(&workspace, PASSWORD);
    workspace.write("out.bin", b"older content");
    let mut args = arguments(&workspace, "message.der");
    args.force = true;

    run_unseal(&args).unwrap();

    assert_eq!(workspace.read("out.bin"), content);
}

#[test]
fn output_is_private_and_staging_gone() {
    let workspace = Workspace::new();
    prepare(&workspace, PASSWORD);

    run_unseal(&arguments(&workspace, "message.der")).unwrap();

    let mode = std::fs::metadata(workspace.path("out.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let leftovers: Vec<_> = std::fs::read_dir(workspace.path("."))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".pbx-unseal-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn password_file_with_bom_opens() {
    let workspace = Workspace::new();
    let content = prepare(&workspace, &format!("\u{FEFF}{PASSWORD}\r\n"));

    run_unseal(&arguments(&workspace, "message.der")).unwrap();

    assert_eq!(workspace.read("out.bin"), content);
}

#[test]
fn empty_password_file_is_named() {
    let workspace = Workspace::new();
    prepare(&workspace, "");

    let error = run_unseal(&arguments(&workspace, "message.der")).unwrap_err();

    let message = format!("{error:#}");
    assert!(message.contains("password.txt is empty"), "{message}");
    assert!(!message.contains("wrong password"), "{message}");
    assert!(!workspace.path("out.bin").exists());
}
