//! Password and PIN files: one secret on one line, read the same way by every command and by the
//! service.
//!
//! # Format
//!
//! - UTF-8 text. A leading UTF-8 byte-order mark is removed, because Windows Notepad (before
//!   Windows 10 version 1903) writes one when it saves as UTF-8, and no password starts with an
//!   invisible U+FEFF. A UTF-16 file (Notepad's "Unicode") is rejected with a hint to save it as
//!   UTF-8.
//! - One trailing line break (`\n` or `\r\n`) is removed. Any other line break is an error,
//!   since a password or PIN never spans two lines: the old "first line only" reading turned
//!   such files into a "wrong password".
//! - Spaces are kept, leading and trailing ones too, because they may be part of the password.
//! - What is left must not be empty.
//!
//! Each rule has its own [`SecretFileError`], so an empty file, a UTF-16 file and a file with
//! two lines are not reported as a wrong password.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// The largest secret file read, in bytes. Real password files are a few dozen bytes.
pub const MAX_SECRET_FILE_BYTES: u64 = 4096;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const UTF16_LE_BOM: &[u8] = b"\xFF\xFE";
const UTF16_BE_BOM: &[u8] = b"\xFE\xFF";

/// The kind of secret in a file, which the error messages name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The password of an eHealth keystore.
    Password,
    /// The PIN of an eID card.
    Pin,
}

impl SecretKind {
    fn noun(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::Pin => "PIN",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} file", self.noun())
    }
}

/// A failure to read or parse a secret file. No variant contains any byte of the file.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("cannot read {kind} {path}: {source}; check the path and that this user may read it")]
    Read {
        kind: SecretKind,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "{kind} {path} is empty; write the {secret} on its first line",
        secret = kind.noun()
    )]
    Empty { kind: SecretKind, path: PathBuf },
    #[error("{kind} {path} is UTF-16 text (Notepad's \"Unicode\"); save it again as UTF-8")]
    Utf16 { kind: SecretKind, path: PathBuf },
    #[error("{kind} {path} is not UTF-8 text; save it again as UTF-8")]
    NotUtf8 { kind: SecretKind, path: PathBuf },
    #[error(
        "{kind} {path} has more than one line; write only the {secret}, on one line",
        secret = kind.noun()
    )]
    MultipleLines { kind: SecretKind, path: PathBuf },
    #[error(
        "{kind} {path} is larger than {MAX_SECRET_FILE_BYTES} bytes; write only the {secret}, on \
         one line",
        secret = kind.noun()
    )]
    TooLarge { kind: SecretKind, path: PathBuf },
}

/// Reads the secret in `path` by the rules in the module docs.
pub fn read_secret_file(
    path: &Path,
    kind: SecretKind,
) -> Result<Zeroizing<String>, SecretFileError> {
    let bytes = read_bounded(path).map_err(|source| SecretFileError::Read {
        kind,
        path: path.to_owned(),
        source,
    })?;
    parse_secret(&bytes, kind, path)
}

/// Reads at most one byte more than [`MAX_SECRET_FILE_BYTES`], into a buffer wiped on drop.
fn read_bounded(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    let file = File::open(path)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(128));
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Applies the format rules to the bytes of a secret file.
pub fn parse_secret(
    bytes: &[u8],
    kind: SecretKind,
    path: &Path,
) -> Result<Zeroizing<String>, SecretFileError> {
    let path = || path.to_owned();
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(SecretFileError::TooLarge { kind, path: path() });
    }
    if bytes.starts_with(UTF16_LE_BOM) || bytes.starts_with(UTF16_BE_BOM) {
        return Err(SecretFileError::Utf16 { kind, path: path() });
    }

    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let bytes = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes);
    let text =
        std::str::from_utf8(bytes).map_err(|_| SecretFileError::NotUtf8 { kind, path: path() })?;

    if text.contains(['\n', '\r']) {
        return Err(SecretFileError::MultipleLines { kind, path: path() });
    }
    if text.is_empty() {
        return Err(SecretFileError::Empty { kind, path: path() });
    }
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Zeroizing<String>, SecretFileError> {
        parse_secret(bytes, SecretKind::Password, Path::new("/keys/doctor.pass"))
    }

    #[test]
    fn one_trailing_line_break_is_dropped() {
        for bytes in [&b"s3cret"[..], b"s3cret\n", b"s3cret\r\n"] {
            assert_eq!(parse(bytes).unwrap().as_str(), "s3cret", "{bytes:?}");
        }
    }

    #[test]
    fn spaces_are_kept() {
        assert_eq!(parse(b" pass word \n").unwrap().as_str(), " pass word ");
    }

    #[test]
    fn utf8_bom_is_removed() {
        let text = parse(b"\xEF\xBB\xBFs3cret\r\n").unwrap();
        assert_eq!(text.as_str(), "s3cret");
    }

    #[test]
    fn accented_password_is_kept() {
        assert_eq!(parse("één€\n".as_bytes()).unwrap().as_str(), "één€");
    }

    #[test]
    fn empty_file_is_named_empty() {
        for bytes in [&b""[..], b"\n", b"\r\n", b"\xEF\xBB\xBF", b"\xEF\xBB\xBF\n"] {
            let error = parse(bytes).unwrap_err();
            assert!(
                matches!(error, SecretFileError::Empty { .. }),
                "{bytes:?}: {error:?}"
            );
        }
        let message = parse(b"").unwrap_err().to_string();
        assert_eq!(
            message,
            "password file /keys/doctor.pass is empty; write the password on its first line"
        );
    }

    #[test]
    fn second_line_is_rejected() {
        for bytes in [&b"one\ntwo\n"[..], b"one\n\n", b"one\r", b"one\rtwo"] {
            let error = parse(bytes).unwrap_err();
            assert!(
                matches!(error, SecretFileError::MultipleLines { .. }),
                "{bytes:?}: {error:?}"
            );
        }
    }

    #[test]
    fn utf16_file_is_rejected() {
        let utf16: Vec<u8> = [0xFF, 0xFE, b'p', 0, b'w', 0].to_vec();
        let error = parse(&utf16).unwrap_err();
        assert!(matches!(error, SecretFileError::Utf16 { .. }), "{error:?}");
        assert!(error.to_string().contains("save it again as UTF-8"));
    }

    #[test]
    fn latin1_file_is_not_utf8() {
        let error = parse(b"caf\xE9\n").unwrap_err();
        assert!(
            matches!(error, SecretFileError::NotUtf8 { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn oversized_file_is_rejected() {
        let bytes = vec![b'a'; MAX_SECRET_FILE_BYTES as usize + 1];
        let error = parse(&bytes).unwrap_err();
        assert!(
            matches!(error, SecretFileError::TooLarge { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn pin_errors_name_the_pin() {
        let error = parse_secret(b"", SecretKind::Pin, Path::new("pin.txt")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "PIN file pin.txt is empty; write the PIN on its first line"
        );
    }

    #[test]
    fn errors_never_quote_the_file() {
        let error = parse(b"hunter2\nsecond\n").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let error =
            read_secret_file(Path::new("/nonexistent/pbx.pass"), SecretKind::Password).unwrap_err();
        assert!(matches!(error, SecretFileError::Read { .. }), "{error:?}");
        assert!(
            error.to_string().contains("/nonexistent/pbx.pass"),
            "{error}"
        );
    }
}
