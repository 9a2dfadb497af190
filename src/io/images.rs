//! Image files: which files are images, their sizes, and decoding with clear errors.

use super::{Error, Result};
use image::{GrayImage, RgbImage};
use std::path::{Path, PathBuf};

/// File extensions decoded by the `image` crate features this build enables.
pub const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp"];

pub fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Image files directly inside `dir`, sorted by name (hidden files skipped).
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if !hidden && path.is_file() && is_image(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Width and height from the file header, without decoding pixels.
pub fn dimensions(path: &Path) -> Result<(u32, u32)> {
    image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?
        .into_dimensions()
        .map_err(|e| Error::Image { path: path.to_path_buf(), reason: e.to_string() })
}

/// Decodes the whole image, failing on truncated or corrupt files rather than returning a
/// partly grey picture.
fn decode(path: &Path) -> Result<image::DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    check_not_truncated(path, &bytes)?;
    image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?
        .decode()
        .map_err(|e| Error::Image { path: path.to_path_buf(), reason: e.to_string() })
}

/// Decodes the whole image to 8-bit RGB (alpha, if any, is dropped).
pub fn decode_rgb(path: &Path) -> Result<RgbImage> {
    Ok(decode(path)?.into_rgb8())
}

/// Decodes a photo as training sees it, to 8-bit RGB: alpha, if any, composited on white (the
/// known background that photos with alpha train against), and that alpha, their mask. The
/// trainer's targets and the renders' scores both come from here. Composite before resizing:
/// resized first, transparent pixels' black bleeds into the object's edge.
pub fn decode_photo(path: &Path) -> Result<(RgbImage, Option<GrayImage>)> {
    let img = decode(path)?;
    if !img.color().has_alpha() {
        return Ok((img.into_rgb8(), None));
    }
    let rgba = img.into_rgba8();
    let on_white = RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y);
        let a = p[3] as f32 / 255.0;
        image::Rgb(std::array::from_fn(|c| ((p[c] as f32 / 255.0 * a + 1.0 - a) * 255.0).round() as u8))
    });
    let alpha = GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| image::Luma([rgba.get_pixel(x, y)[3]]));
    Ok((on_white, Some(alpha)))
}

/// Writes an image as PNG, atomically (a full disk leaves the old file, or none).
pub fn write_png(path: &Path, img: &image::DynamicImage) -> Result<()> {
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| Error::format(path, e.to_string()))?;
    super::atomic::write_bytes(path, &bytes)
}

/// sRGB transfer function (IEC 61966-2-1), for writing linear colour to disk.
pub fn linear_to_srgb(c: f64) -> u8 {
    let c = c.clamp(0.0, 1.0);
    let s = if c <= 0.003_130_8 { 12.92 * c } else { 1.055 * c.powf(1.0 / 2.4) - 0.055 };
    (s * 255.0).round() as u8
}

/// Inverse of [`linear_to_srgb`], for decoded 8-bit values.
pub fn srgb_to_linear(v: u8) -> f64 {
    let s = v as f64 / 255.0;
    if s <= 0.040_45 { s / 12.92 } else { ((s + 0.055) / 1.055).powf(2.4) }
}

/// JPEG decoders fill a cut-off scan with grey instead of failing, so a JPEG must end with
/// its end-of-image marker (trailing padding bytes allowed).
fn check_not_truncated(path: &Path, bytes: &[u8]) -> Result<()> {
    let is_jpeg = bytes.starts_with(&[0xFF, 0xD8]);
    if !is_jpeg {
        return Ok(());
    }
    let end = bytes.iter().rposition(|&b| b != 0x00).unwrap_or(0);
    if end >= 1 && bytes[end - 1] == 0xFF && bytes[end] == 0xD9 {
        Ok(())
    } else {
        Err(Error::Image { path: path.to_path_buf(), reason: "truncated JPEG (no end-of-image marker)".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_jpeg(path: &Path) {
        let img = RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 8, y as u8 * 10, 128]));
        img.save(path).unwrap();
    }

    #[test]
    fn photos_with_alpha_decode_as_training_sees_them_on_white() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let img =
            image::RgbaImage::from_fn(2, 1, |x, _| image::Rgba(if x == 0 { [0, 0, 0, 0] } else { [255, 0, 0, 128] }));
        img.save(&path).unwrap();
        let (photo, alpha) = decode_photo(&path).unwrap();
        assert_eq!(photo.get_pixel(0, 0).0, [255, 255, 255], "a transparent pixel shows the white background");
        assert_eq!(photo.get_pixel(1, 0).0, [255, 127, 127], "half-covered red is pink");
        assert_eq!(alpha.expect("the alpha channel").as_raw(), &vec![0, 128]);
        assert_eq!(decode_rgb(&path).unwrap().get_pixel(0, 0).0, [0, 0, 0], "decode_rgb drops alpha");
    }

    #[test]
    fn srgb_round_trip() {
        for v in 0..=255u8 {
            assert_eq!(linear_to_srgb(srgb_to_linear(v)), v);
        }
        assert_eq!(linear_to_srgb(0.5), 188);
    }

    #[test]
    fn lists_only_images_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.JPG", "a.png", "notes.txt", ".hidden.png"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let names: Vec<_> =
            list(dir.path()).unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.png", "b.JPG"]);
    }

    #[test]
    fn truncated_and_corrupt_jpegs_are_rejected_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.jpg");
        write_jpeg(&good);
        assert_eq!(decode_rgb(&good).unwrap().dimensions(), (32, 24));
        assert_eq!(dimensions(&good).unwrap(), (32, 24));

        let bytes = std::fs::read(&good).unwrap();
        let cut = dir.path().join("cut.jpg");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let msg = decode_rgb(&cut).unwrap_err().to_string();
        assert!(msg.contains("cut.jpg") && msg.contains("truncated"), "{msg}");

        let junk = dir.path().join("junk.jpg");
        std::fs::write(&junk, b"definitely not an image").unwrap();
        assert!(decode_rgb(&junk).unwrap_err().to_string().contains("junk.jpg"));
    }
}
