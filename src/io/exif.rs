//! Focal length from EXIF, for image folders that come without a camera model.

use std::path::Path;

/// Diagonal of a 36 × 24 mm frame, the reference of "35 mm equivalent" focal lengths.
const FULL_FRAME_DIAGONAL_MM: f64 = 43.266_615;

/// Where a focal length in pixels came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FocalSource {
    /// `FocalLengthIn35mmFilm`, scaled by the image diagonal.
    Equivalent35mm { mm: f64 },
    /// `FocalLength` with the sensor's `FocalPlaneXResolution`.
    FocalPlane { mm: f64 },
}

/// Focal length in pixels for an image of `width` × `height` pixels, if its EXIF says.
pub fn focal_px(path: &Path, width: u32, height: u32) -> Option<(f64, FocalSource)> {
    let file = std::fs::File::open(path).ok()?;
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::BufReader::new(file))
        .ok()?;
    let num = |tag| {
        exif.get_field(tag, exif::In::PRIMARY)
            .and_then(|f| match &f.value {
                exif::Value::Rational(v) => v.first().map(|r| r.to_f64()),
                _ => f.value.get_uint(0).map(f64::from),
            })
    };
    if let Some(mm) = num(exif::Tag::FocalLengthIn35mmFilm).filter(|&f| f > 0.0) {
        let diag = (width as f64).hypot(height as f64);
        return Some((
            mm * diag / FULL_FRAME_DIAGONAL_MM,
            FocalSource::Equivalent35mm { mm },
        ));
    }
    let mm = num(exif::Tag::FocalLength).filter(|&f| f > 0.0)?;
    let per_unit = num(exif::Tag::FocalPlaneXResolution).filter(|&r| r > 0.0)?;
    let unit_mm = match num(exif::Tag::FocalPlaneResolutionUnit).unwrap_or(2.0) as u32 {
        3 => 10.0,
        4 => 1.0,
        _ => 25.4,
    };
    // The resolution refers to the sensor's full width; scale to this (maybe resized) image.
    let exif_width = num(exif::Tag::PixelXDimension)
        .filter(|&w| w > 0.0)
        .unwrap_or(width as f64);
    let px = mm * per_unit / unit_mm * width as f64 / exif_width;
    Some((px, FocalSource::FocalPlane { mm }))
}
