//! Password files of the service configuration: the rules of `credentials::secret_file` reach
//! the fetcher's keystores, so an empty file or a byte-order mark is not a "wrong password".

use practicebox::fetcher::credentials::{CredentialError, read_password};

const INSZ: &str = "78031414266";

#[test]
fn byte_order_mark_is_removed() {
    let folder = tempfile::tempdir().expect("temp folder");
    let path = folder.path().join("doctor.pass");
    std::fs::write(&path, b"\xEF\xBB\xBFs3cret\r\n").expect("password file");

    let password = read_password(INSZ, &path).expect("password");

    assert_eq!(password.as_str(), "s3cret");
}

#[test]
fn empty_file_names_file_and_principal() {
    let folder = tempfile::tempdir().expect("temp folder");
    let path = folder.path().join("doctor.pass");
    std::fs::write(&path, b"").expect("password file");

    let error = read_password(INSZ, &path).expect_err("empty file");

    assert!(
        matches!(error, CredentialError::PasswordFile { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(INSZ), "{message}");
    assert!(message.contains("doctor.pass is empty"), "{message}");
}
