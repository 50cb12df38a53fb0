//! Annexes that travel with documents: scanned pages (image-only PDFs) and small photos (PNG).
//!
//! The pixels are drawn from the generator's random source, so the same seed gives the same bytes.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::MailError;
use super::pdf::{self, GrayImage};

/// Draws a grayscale page that looks like a scanned typed letter: off-white paper with noise, a
/// letterhead block, and dark bars where lines of text would be.
pub(crate) fn scanned_page(rng: &mut ChaCha8Rng, width: u32, height: u32) -> GrayImage {
    let mut pixels: Vec<u8> = (0..width * height)
        .map(|_| rng.random_range(228..=255u8))
        .collect();
    let mut paint = |x0: u32, y0: u32, w: u32, h: u32, shade: u8| {
        for y in y0..(y0 + h).min(height) {
            for x in x0..(x0 + w).min(width) {
                pixels[(y * width + x) as usize] = shade;
            }
        }
    };

    paint(width / 12, height / 20, width / 3, height / 30, 40);
    let mut y = height / 6;
    while y < height * 9 / 10 {
        let length = rng.random_range(width / 3..width * 5 / 6);
        let shade = rng.random_range(20..90u8);
        paint(width / 12, y, length, 3, shade);
        y += rng.random_range(9..16u32);
        if rng.random_bool(0.12) {
            y += 14;
        }
    }
    GrayImage {
        width,
        height,
        pixels,
    }
}

/// Writes a scanned-looking PDF of `pages` pages.
pub(crate) fn scanned_pdf(rng: &mut ChaCha8Rng, title: &str, pages: usize) -> Vec<u8> {
    let images: Vec<GrayImage> = (0..pages).map(|_| scanned_page(rng, 212, 300)).collect();
    pdf::scanned_document(title, &images)
}

/// Draws a small RGB image of an ECG strip (pink grid, dark trace) and encodes it as PNG.
pub(crate) fn ecg_png(rng: &mut ChaCha8Rng) -> Result<Vec<u8>, MailError> {
    let (width, height) = (160u32, 60u32);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    let mut set = |x: u32, y: u32, color: [u8; 3]| {
        let at = ((y * width + x) * 3) as usize;
        rgb[at..at + 3].copy_from_slice(&color);
    };

    for y in 0..height {
        for x in 0..width {
            if x % 8 == 0 || y % 8 == 0 {
                set(x, y, [244, 190, 200]);
            }
        }
    }
    let beat = rng.random_range(34..48u32);
    let baseline = height / 2 + 6;
    for x in 0..width {
        let phase = x % beat;
        let y = match phase {
            0..=2 => baseline - 2,
            5 => baseline - 24,
            6 => baseline + 8,
            12..=15 => baseline - 4,
            _ => baseline,
        };
        set(x, y.min(height - 1), [30, 30, 30]);
    }

    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(MailError::Image)?;
    writer.write_image_data(&rgb).map_err(MailError::Image)?;
    writer.finish().map_err(MailError::Image)?;
    Ok(bytes)
}

/// Draws a small grayscale "key image" of an examination (a bright oval on a dark field, with
/// noise) and encodes it as PNG.
pub(crate) fn key_image_png(rng: &mut ChaCha8Rng) -> Result<Vec<u8>, MailError> {
    let (width, height) = (96u32, 96u32);
    let (center_x, center_y) = (f64::from(width) / 2.0, f64::from(height) / 2.0);
    let radius_x = rng.random_range(24.0..40.0);
    let radius_y = rng.random_range(24.0..40.0);
    let mut gray = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            let dx = (f64::from(x) - center_x) / radius_x;
            let dy = (f64::from(y) - center_y) / radius_y;
            let inside = (1.0 - (dx * dx + dy * dy)).max(0.0);
            let noise = rng.random_range(0..24u8);
            gray.push((inside * 200.0) as u8 + noise);
        }
    }

    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(MailError::Image)?;
    writer.write_image_data(&gray).map_err(MailError::Image)?;
    writer.finish().map_err(MailError::Image)?;
    Ok(bytes)
}
