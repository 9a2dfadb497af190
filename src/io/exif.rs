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
    let exif = exif::Reader::new().read_from_container(&mut std::io::BufReader::new(file)).ok()?;
    let num = |tag| {
        exif.get_field(tag, exif::In::PRIMARY).and_then(|f| match &f.value {
            exif::Value::Rational(v) => v.first().map(|r| r.to_f64()),
            _ => f.value.get_uint(0).map(f64::from),
        })
    };
    if let Some(mm) = num(exif::Tag::FocalLengthIn35mmFilm).filter(|&f| f > 0.0) {
        let diag = (width as f64).hypot(height as f64);
        return Some((mm * diag / FULL_FRAME_DIAGONAL_MM, FocalSource::Equivalent35mm { mm }));
    }
    let mm = num(exif::Tag::FocalLength).filter(|&f| f > 0.0)?;
    let per_unit = num(exif::Tag::FocalPlaneXResolution).filter(|&r| r > 0.0)?;
    let unit_mm = match num(exif::Tag::FocalPlaneResolutionUnit).unwrap_or(2.0) as u32 {
        3 => 10.0,
        4 => 1.0,
        _ => 25.4,
    };
    // The resolution refers to the sensor's full width; scale to this (maybe resized) image.
    let exif_width = num(exif::Tag::PixelXDimension).filter(|&w| w > 0.0).unwrap_or(width as f64);
    let px = mm * per_unit / unit_mm * width as f64 / exif_width;
    Some((px, FocalSource::FocalPlane { mm }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use exif::{Field, In, Rational, Tag, Value};

    /// A JPEG carrying the given EXIF fields in an APP1 segment, as cameras write them.
    fn jpeg_with_exif(path: &Path, fields: &[Field]) {
        let mut writer = exif::experimental::Writer::new();
        for f in fields {
            writer.push_field(f);
        }
        let mut tiff = std::io::Cursor::new(Vec::new());
        writer.write(&mut tiff, false).unwrap();
        let mut jpeg = Vec::new();
        image::RgbImage::new(64, 48).write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
        let payload = [b"Exif\0\0".as_slice(), tiff.get_ref()].concat();
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend(((payload.len() + 2) as u16).to_be_bytes());
        out.extend(payload);
        out.extend(&jpeg[2..]);
        std::fs::write(path, out).unwrap();
    }

    #[test]
    fn focal_from_35mm_equivalent_and_from_focal_plane() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jpg");
        jpeg_with_exif(
            &a,
            &[Field { tag: Tag::FocalLengthIn35mmFilm, ifd_num: In::PRIMARY, value: Value::Short(vec![35]) }],
        );
        let (f, src) = focal_px(&a, 800, 600).unwrap();
        assert_eq!(src, FocalSource::Equivalent35mm { mm: 35.0 });
        assert!((f - 35.0 * 1000.0 / FULL_FRAME_DIAGONAL_MM).abs() < 1e-6, "{f}");
        // The decoded image is still readable with the EXIF segment in front.
        assert_eq!(crate::io::images::decode_rgb(&a).unwrap().dimensions(), (64, 48));

        let b = dir.path().join("b.jpg");
        let r = |n, d| Value::Rational(vec![Rational { num: n, denom: d }]);
        jpeg_with_exif(
            &b,
            &[
                Field { tag: Tag::FocalLength, ifd_num: In::PRIMARY, value: r(50, 1) },
                // 4000 px across a 20 mm sensor: 200 px per mm.
                Field { tag: Tag::FocalPlaneXResolution, ifd_num: In::PRIMARY, value: r(200, 1) },
                Field { tag: Tag::FocalPlaneResolutionUnit, ifd_num: In::PRIMARY, value: Value::Short(vec![4]) },
                Field { tag: Tag::PixelXDimension, ifd_num: In::PRIMARY, value: Value::Long(vec![4000]) },
            ],
        );
        // Resized to 1000 px wide: 50 mm × 200 px/mm ÷ 4.
        let (f, src) = focal_px(&b, 1000, 750).unwrap();
        assert_eq!(src, FocalSource::FocalPlane { mm: 50.0 });
        assert!((f - 2500.0).abs() < 1e-6, "{f}");

        let c = dir.path().join("c.jpg");
        jpeg_with_exif(
            &c,
            &[Field { tag: Tag::Make, ifd_num: In::PRIMARY, value: Value::Ascii(vec![b"Weave".to_vec()]) }],
        );
        assert!(focal_px(&c, 800, 600).is_none());
    }
}
