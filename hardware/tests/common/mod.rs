//! Fixture helpers shared by the integration tests.
//!
//! Fixtures live in `tests/fixtures`. A test compares its output with the committed file.
//! With `UPDATE_FIXTURES=1` in the environment it rewrites the file instead, which is how a
//! deliberate change of a rendering is recorded.

use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Returns the path of fixture `name`.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Returns whether the run rewrites fixtures instead of comparing with them.
pub fn updating() -> bool {
    std::env::var_os("UPDATE_FIXTURES").is_some_and(|value| value == "1")
}

/// Compares `actual` text with the file at `path`, or rewrites the file when updating.
pub fn check_text(path: &Path, actual: &str) {
    if updating() {
        std::fs::write(path, actual).expect("fixture written");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|error| {
        panic!(
            "fixture {} unreadable ({error}); run with UPDATE_FIXTURES=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "output differs from {}; rerun with UPDATE_FIXTURES=1 if the change is deliberate\n\
         expected:\n{expected}\nactual:\n{actual}",
        path.display()
    );
}

/// Compares the pixels of `actual` PNG bytes with the PNG at `path`, or rewrites the file.
///
/// Pixels are compared, not bytes, so a newer PNG encoder that compresses differently does
/// not break the test.
pub fn check_png(path: &Path, actual: &[u8]) {
    if updating() {
        std::fs::write(path, actual).expect("fixture written");
        return;
    }
    let expected = std::fs::read(path).unwrap_or_else(|error| {
        panic!(
            "fixture {} unreadable ({error}); run with UPDATE_FIXTURES=1 to create it",
            path.display()
        )
    });
    let (expected_size, expected_pixels) = decode_png(&expected);
    let (actual_size, actual_pixels) = decode_png(actual);

    assert_eq!(
        actual_size,
        expected_size,
        "image size differs from {}",
        path.display()
    );
    let differing = expected_pixels
        .iter()
        .zip(&actual_pixels)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        differing,
        0,
        "{differing} bytes differ from {}; rerun with UPDATE_FIXTURES=1 if the change is deliberate",
        path.display()
    );
}

/// Decodes PNG bytes into ((width, height), RGB bytes).
pub fn decode_png(bytes: &[u8]) -> ((u32, u32), Vec<u8>) {
    let mut reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .expect("PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("PNG size fits memory")];
    let info = reader.next_frame(&mut pixels).expect("PNG frame");
    pixels.truncate(info.buffer_size());
    assert_eq!(info.color_type, png::ColorType::Rgb);
    ((info.width, info.height), pixels)
}
