//! COLMAP sparse models: cameras, images and points, read and written as text and binary.
//!
//! COLMAP stores world-to-camera poses in OpenCV axes; `geometry::Pose` converts them.

use super::{Error, Result, atomic};
use crate::geometry::{Distortion, Intrinsics, Pose};
use glam::DVec3;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where COLMAP models usually sit inside a dataset folder, in the order they are tried.
pub const MODEL_DIRS: &[&str] = &["sparse/0", "sparse", "colmap/sparse/0", "sparse_gt", "."];

#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub id: u32,
    pub camera_id: u32,
    /// Path relative to the images folder, as COLMAP stores it.
    pub name: String,
    pub pose: Pose,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub cameras: BTreeMap<u32, Intrinsics>,
    pub images: Vec<Image>,
}

/// A point of the sparse reconstruction, with its colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub position: DVec3,
    pub rgb: [u8; 3],
}

/// The model's sparse points (points3D.bin, else points3D.txt); none when neither exists.
pub fn read_points(dir: &Path) -> Result<Vec<Point>> {
    let (bin, txt) = (dir.join("points3D.bin"), dir.join("points3D.txt"));
    if bin.is_file() {
        let mut r = Bin::open(&bin)?;
        let n = r.count(43)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            r.u64()?;
            let position = DVec3::new(r.f64()?, r.f64()?, r.f64()?);
            let rgb: [u8; 3] = r.take()?;
            r.f64()?;
            let track = r.count(8)?;
            r.pos += track * 8;
            out.push(Point { position, rgb });
        }
        Ok(out)
    } else if txt.is_file() {
        let mut out = Vec::new();
        for (line, text) in data_lines(&txt)? {
            if text.is_empty() {
                continue;
            }
            let tok: Vec<&str> = text.split_whitespace().collect();
            if tok.len() < 8 {
                return Err(Error::parse(&txt, line, "expected POINT3D_ID X Y Z R G B ERROR TRACK[]"));
            }
            let f = |i: usize| parse_num::<f64>(&txt, line, tok[i], "coordinate");
            let c = |i: usize| parse_num::<u8>(&txt, line, tok[i], "colour");
            out.push(Point { position: DVec3::new(f(1)?, f(2)?, f(3)?), rgb: [c(4)?, c(5)?, c(6)?] });
        }
        Ok(out)
    } else {
        Ok(Vec::new())
    }
}

/// The first folder under `root` that holds a COLMAP model.
pub fn find_model(root: &Path) -> Option<PathBuf> {
    MODEL_DIRS.iter().map(|d| root.join(d)).find(|dir| is_model(dir))
}

/// Whether `dir` holds a COLMAP model, binary or text.
pub fn is_model(dir: &Path) -> bool {
    (dir.join("cameras.bin").is_file() && dir.join("images.bin").is_file())
        || (dir.join("cameras.txt").is_file() && dir.join("images.txt").is_file())
}

/// Reads a model folder; binary wins when both exist, as in COLMAP.
pub fn read(dir: &Path) -> Result<Model> {
    let model = if dir.join("cameras.bin").is_file() && dir.join("images.bin").is_file() {
        Model {
            cameras: read_cameras_bin(&dir.join("cameras.bin"))?,
            images: read_images_bin(&dir.join("images.bin"))?,
        }
    } else {
        Model {
            cameras: read_cameras_txt(&dir.join("cameras.txt"))?,
            images: read_images_txt(&dir.join("images.txt"))?,
        }
    };
    for img in &model.images {
        if !model.cameras.contains_key(&img.camera_id) {
            return Err(Error::format(
                dir,
                format!("image {} uses camera {}, which the model does not define", img.name, img.camera_id),
            ));
        }
    }
    Ok(model)
}

/// Number of parameters of each COLMAP camera model id, and its name.
const MODELS: &[(&str, usize)] = &[
    ("SIMPLE_PINHOLE", 3),
    ("PINHOLE", 4),
    ("SIMPLE_RADIAL", 4),
    ("RADIAL", 5),
    ("OPENCV", 8),
    ("OPENCV_FISHEYE", 8),
    ("FULL_OPENCV", 12),
    ("FOV", 5),
    ("SIMPLE_RADIAL_FISHEYE", 4),
    ("RADIAL_FISHEYE", 5),
    ("THIN_PRISM_FISHEYE", 12),
];

fn intrinsics(model: &str, width: u32, height: u32, p: &[f64]) -> std::result::Result<Intrinsics, String> {
    let expected = MODELS.iter().find(|(name, _)| *name == model).map(|m| m.1);
    match expected {
        None => return Err(format!("unknown camera model {model}")),
        Some(n) if n != p.len() => {
            return Err(format!("camera model {model} needs {n} parameters, found {}", p.len()));
        }
        _ => {}
    }
    let (fx, fy, cx, cy, distortion) = match model {
        "SIMPLE_PINHOLE" => (p[0], p[0], p[1], p[2], Distortion::None),
        "PINHOLE" => (p[0], p[1], p[2], p[3], Distortion::None),
        "SIMPLE_RADIAL" => (p[0], p[0], p[1], p[2], Distortion::Radial { k1: p[3], k2: 0.0 }),
        "RADIAL" => (p[0], p[0], p[1], p[2], Distortion::Radial { k1: p[3], k2: p[4] }),
        "OPENCV" => (p[0], p[1], p[2], p[3], Distortion::OpenCv { k1: p[4], k2: p[5], p1: p[6], p2: p[7] }),
        other => {
            return Err(format!("camera model {other} is not supported (use a pinhole, radial or OPENCV model)"));
        }
    };
    if !(fx > 0.0 && fy > 0.0 && width > 0 && height > 0) {
        return Err(format!("camera has a non-positive size or focal length ({width}x{height}, f={fx},{fy})"));
    }
    Ok(Intrinsics { width, height, fx, fy, cx, cy, distortion })
}

/// COLMAP's model name and parameters for intrinsics.
fn model_params(k: &Intrinsics) -> (&'static str, Vec<f64>) {
    match k.distortion {
        Distortion::None => ("PINHOLE", vec![k.fx, k.fy, k.cx, k.cy]),
        Distortion::Radial { k1, k2: 0.0 } if k.fx == k.fy => ("SIMPLE_RADIAL", vec![k.fx, k.cx, k.cy, k1]),
        Distortion::Radial { k1, k2 } if k.fx == k.fy => ("RADIAL", vec![k.fx, k.cx, k.cy, k1, k2]),
        Distortion::Radial { k1, k2 } => ("OPENCV", vec![k.fx, k.fy, k.cx, k.cy, k1, k2, 0.0, 0.0]),
        Distortion::OpenCv { k1, k2, p1, p2 } => ("OPENCV", vec![k.fx, k.fy, k.cx, k.cy, k1, k2, p1, p2]),
    }
}

/// Lines that carry data, with their 1-based line numbers.
fn data_lines(path: &Path) -> Result<Vec<(usize, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .filter(|(_, l)| !l.starts_with('#'))
        .collect())
}

fn parse_num<T: std::str::FromStr>(path: &Path, line: usize, tok: &str, what: &str) -> Result<T> {
    tok.parse().map_err(|_| Error::parse(path, line, format!("{what} is not a number: {tok:?}")))
}

fn read_cameras_txt(path: &Path) -> Result<BTreeMap<u32, Intrinsics>> {
    let mut cameras = BTreeMap::new();
    for (line, text) in data_lines(path)? {
        if text.is_empty() {
            continue;
        }
        let tok: Vec<&str> = text.split_whitespace().collect();
        if tok.len() < 5 {
            return Err(Error::parse(path, line, "expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS..."));
        }
        let id = parse_num(path, line, tok[0], "camera id")?;
        let width = parse_num(path, line, tok[2], "width")?;
        let height = parse_num(path, line, tok[3], "height")?;
        let params =
            tok[4..].iter().map(|t| parse_num(path, line, t, "camera parameter")).collect::<Result<Vec<f64>>>()?;
        let k = intrinsics(tok[1], width, height, &params).map_err(|r| Error::parse(path, line, r))?;
        cameras.insert(id, k);
    }
    Ok(cameras)
}

fn read_images_txt(path: &Path) -> Result<Vec<Image>> {
    let lines = data_lines(path)?;
    let mut images = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (line, text) = &lines[i];
        i += 1;
        if text.is_empty() {
            continue;
        }
        let tok: Vec<&str> = text.split_whitespace().collect();
        if tok.len() < 10 {
            return Err(Error::parse(path, *line, "expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME"));
        }
        let nums = tok[1..8].iter().map(|t| parse_num(path, *line, t, "pose value")).collect::<Result<Vec<f64>>>()?;
        images.push(Image {
            id: parse_num(path, *line, tok[0], "image id")?,
            camera_id: parse_num(path, *line, tok[8], "camera id")?,
            name: tok[9..].join(" "),
            pose: pose_from(path, *line, &nums)?,
        });
        // Each image line is followed by its 2D points line, which may be empty.
        i += 1;
    }
    Ok(images)
}

fn pose_from(path: &Path, line: usize, n: &[f64]) -> Result<Pose> {
    let qnorm = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2] + n[3] * n[3]).sqrt();
    if qnorm.is_nan() || qnorm <= 1e-6 || n.iter().any(|v| !v.is_finite()) {
        return Err(Error::parse(path, line, "pose has a zero quaternion or a non-finite value"));
    }
    Ok(Pose::from_colmap([n[0], n[1], n[2], n[3]], DVec3::new(n[4], n[5], n[6])))
}

/// A little-endian reader over a binary model file that names the file when it runs short.
struct Bin<'a> {
    path: &'a Path,
    data: Vec<u8>,
    pos: usize,
}

impl<'a> Bin<'a> {
    fn open(path: &'a Path) -> Result<Self> {
        Ok(Self { path, data: std::fs::read(path).map_err(|e| Error::io(path, e))?, pos: 0 })
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.data.get(self.pos..self.pos + N).ok_or_else(|| {
            Error::format(self.path, format!("file ends early (at byte {} of {})", self.pos, self.data.len()))
        })?;
        self.pos += N;
        Ok(bytes.try_into().expect("slice has N bytes"))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    /// A count that must fit in what is left of the file, so corrupt counts fail cleanly.
    fn count(&mut self, item_bytes: usize) -> Result<usize> {
        let n = self.u64()?;
        let left = (self.data.len() - self.pos) as u64;
        if n.saturating_mul(item_bytes as u64) > left {
            return Err(Error::format(self.path, format!("corrupt: claims {n} entries but holds {left} bytes")));
        }
        Ok(n as usize)
    }
    fn string(&mut self) -> Result<String> {
        let rest = &self.data[self.pos..];
        let end =
            rest.iter().position(|&b| b == 0).ok_or_else(|| Error::format(self.path, "unterminated image name"))?;
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }
}

fn read_cameras_bin(path: &Path) -> Result<BTreeMap<u32, Intrinsics>> {
    let mut r = Bin::open(path)?;
    let n = r.count(24)?;
    let mut cameras = BTreeMap::new();
    for i in 0..n {
        let id = r.u32()?;
        let model_id = r.u32()? as usize;
        let (name, n_params) = *MODELS
            .get(model_id)
            .ok_or_else(|| Error::format(path, format!("camera {id}: unknown model id {model_id}")))?;
        let (w, h) = (r.u64()?, r.u64()?);
        let params = (0..n_params).map(|_| r.f64()).collect::<Result<Vec<_>>>()?;
        let k = intrinsics(name, w as u32, h as u32, &params)
            .map_err(|m| Error::format(path, format!("camera {i} (id {id}): {m}")))?;
        cameras.insert(id, k);
    }
    Ok(cameras)
}

fn read_images_bin(path: &Path) -> Result<Vec<Image>> {
    let mut r = Bin::open(path)?;
    let n = r.count(64)?;
    let mut images = Vec::with_capacity(n);
    for i in 0..n {
        let id = r.u32()?;
        let nums = (0..7).map(|_| r.f64()).collect::<Result<Vec<_>>>()?;
        let camera_id = r.u32()?;
        let name = r.string()?;
        let points = r.count(24)?;
        r.pos += points * 24;
        let pose =
            pose_from(path, i + 1, &nums).map_err(|_| Error::format(path, format!("image {name}: invalid pose")))?;
        images.push(Image { id, camera_id, name, pose });
    }
    Ok(images)
}

/// One camera per distinct set of intrinsics, and each view's camera (0-based).
fn distinct_cameras(views: &[(String, Intrinsics, Pose)]) -> (Vec<Intrinsics>, Vec<usize>) {
    let mut cameras: Vec<Intrinsics> = Vec::new();
    let of_view = views
        .iter()
        .map(|(_, k, _)| match cameras.iter().position(|c| c == k) {
            Some(c) => c,
            None => {
                cameras.push(*k);
                cameras.len() - 1
            }
        })
        .collect();
    (cameras, of_view)
}

/// Writes `cameras.txt`, `images.txt` and `points3D.txt` into `dir`, one camera per distinct
/// set of intrinsics. Points carry no tracks (nothing observed them as features).
pub fn write_text(dir: &Path, views: &[(String, Intrinsics, Pose)], points: &[Point]) -> Result<()> {
    let (cameras, of_view) = distinct_cameras(views);
    let mut images = String::from(
        "# Image list with two lines of data per image:\n\
         #   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n\
         #   POINTS2D[] as (X, Y, POINT3D_ID)\n",
    );
    for (i, ((name, _, pose), cam)) in views.iter().zip(&of_view).enumerate() {
        let (q, t) = pose.to_colmap();
        let _ = writeln!(
            images,
            "{} {:.17} {:.17} {:.17} {:.17} {:.17} {:.17} {:.17} {} {}\n",
            i + 1,
            q[0],
            q[1],
            q[2],
            q[3],
            t.x,
            t.y,
            t.z,
            cam + 1,
            name
        );
    }
    let mut cams = String::from(
        "# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n",
    );
    for (i, k) in cameras.iter().enumerate() {
        let (model, params) = model_params(k);
        let params: Vec<String> = params.iter().map(|p| format!("{p:.17}")).collect();
        let _ = writeln!(cams, "{} {model} {} {} {}", i + 1, k.width, k.height, params.join(" "));
    }
    let mut pts = String::from(
        "# 3D point list with one line of data per point:\n#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[]\n",
    );
    for (i, p) in points.iter().enumerate() {
        let (x, [r, g, b]) = (p.position, p.rgb);
        let _ = writeln!(pts, "{} {:.9} {:.9} {:.9} {r} {g} {b} 0", i + 1, x.x, x.y, x.z);
    }
    atomic::write_bytes(&dir.join("cameras.txt"), cams.as_bytes())?;
    atomic::write_bytes(&dir.join("images.txt"), images.as_bytes())?;
    atomic::write_bytes(&dir.join("points3D.txt"), pts.as_bytes())
}

/// Writes the same model as [`write_text`] in COLMAP's binary format (`cameras.bin`,
/// `images.bin`, `points3D.bin`), which COLMAP and its Python bindings read fastest.
pub fn write_binary(dir: &Path, views: &[(String, Intrinsics, Pose)], points: &[Point]) -> Result<()> {
    let (cameras, of_view) = distinct_cameras(views);
    let mut cams = (cameras.len() as u64).to_le_bytes().to_vec();
    for (i, k) in cameras.iter().enumerate() {
        let (model, params) = model_params(k);
        let model_id = MODELS.iter().position(|m| m.0 == model).expect("written models are known") as i32;
        cams.extend((i as u32 + 1).to_le_bytes());
        cams.extend(model_id.to_le_bytes());
        cams.extend((k.width as u64).to_le_bytes());
        cams.extend((k.height as u64).to_le_bytes());
        params.iter().for_each(|p| cams.extend(p.to_le_bytes()));
    }
    let mut imgs = (views.len() as u64).to_le_bytes().to_vec();
    for (i, ((name, _, pose), cam)) in views.iter().zip(&of_view).enumerate() {
        let (q, t) = pose.to_colmap();
        imgs.extend((i as u32 + 1).to_le_bytes());
        q.iter().chain(&[t.x, t.y, t.z]).for_each(|x| imgs.extend(x.to_le_bytes()));
        imgs.extend((*cam as u32 + 1).to_le_bytes());
        imgs.extend(name.as_bytes());
        imgs.push(0);
        imgs.extend(0u64.to_le_bytes());
    }
    let mut pts = (points.len() as u64).to_le_bytes().to_vec();
    for (i, p) in points.iter().enumerate() {
        pts.extend((i as u64 + 1).to_le_bytes());
        p.position.to_array().iter().for_each(|x| pts.extend(x.to_le_bytes()));
        pts.extend(p.rgb);
        pts.extend(0f64.to_le_bytes());
        pts.extend(0u64.to_le_bytes());
    }
    atomic::write_bytes(&dir.join("cameras.bin"), &cams)?;
    atomic::write_bytes(&dir.join("images.bin"), &imgs)?;
    atomic::write_bytes(&dir.join("points3D.bin"), &pts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_points_read_from_text_and_binary() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_points(dir.path()).unwrap().is_empty());
        std::fs::write(dir.path().join("points3D.txt"), "# header\n7 1.5 -2 3 255 128 0 0.4 1 2 3 4\n").unwrap();
        let p = read_points(dir.path()).unwrap();
        assert_eq!(p, vec![Point { position: DVec3::new(1.5, -2.0, 3.0), rgb: [255, 128, 0] }]);
        std::fs::write(dir.path().join("points3D.txt"), "7 1.5 x 3 255 128 0 0.4\n").unwrap();
        let msg = read_points(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("points3D.txt:1"), "{msg}");

        let mut bin = 1u64.to_le_bytes().to_vec();
        bin.extend(9u64.to_le_bytes());
        for v in [0.5f64, 1.0, -1.0] {
            bin.extend(v.to_le_bytes());
        }
        bin.extend([10u8, 20, 30]);
        bin.extend(0.1f64.to_le_bytes());
        bin.extend(1u64.to_le_bytes());
        bin.extend([0u8; 8]);
        std::fs::write(dir.path().join("points3D.bin"), &bin).unwrap();
        let p = read_points(dir.path()).unwrap();
        assert_eq!(p, vec![Point { position: DVec3::new(0.5, 1.0, -1.0), rgb: [10, 20, 30] }]);
        std::fs::write(dir.path().join("points3D.bin"), &bin[..30]).unwrap();
        assert!(read_points(dir.path()).is_err());
    }

    fn views() -> Vec<(String, Intrinsics, Pose)> {
        let mut k2 = Intrinsics::centered(640, 480, 500.0);
        k2.distortion = Distortion::Radial { k1: 0.02, k2: 0.0 };
        vec![
            (
                "a.png".into(),
                Intrinsics::centered(640, 480, 520.0),
                Pose::look_at(DVec3::new(3.0, 0.0, 1.0), DVec3::ZERO, DVec3::Z),
            ),
            ("sub/b.png".into(), k2, Pose::look_at(DVec3::new(0.0, -3.0, 1.0), DVec3::ZERO, DVec3::Z)),
        ]
    }

    #[test]
    fn text_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let v = views();
        write_text(dir.path(), &v, &[]).unwrap();
        assert_eq!(find_model(dir.path()).unwrap(), dir.path().join("."));
        let m = read(dir.path()).unwrap();
        assert_eq!(m.images.len(), 2);
        for ((name, k, pose), img) in v.iter().zip(&m.images) {
            assert_eq!(&img.name, name);
            assert_eq!(&m.cameras[&img.camera_id], k);
            assert!(img.pose.rotation_angle_to(pose) < 1e-12 && (img.pose.center - pose.center).length() < 1e-12);
        }
    }

    fn push_bin_model(v: &[(String, Intrinsics, Pose)]) -> (Vec<u8>, Vec<u8>) {
        let mut cams = (v.len() as u64).to_le_bytes().to_vec();
        let mut imgs = (v.len() as u64).to_le_bytes().to_vec();
        for (i, (name, k, pose)) in v.iter().enumerate() {
            let (model, params) = model_params(k);
            let model_id = MODELS.iter().position(|m| m.0 == model).unwrap() as u32;
            cams.extend((i as u32 + 1).to_le_bytes());
            cams.extend(model_id.to_le_bytes());
            cams.extend((k.width as u64).to_le_bytes());
            cams.extend((k.height as u64).to_le_bytes());
            params.iter().for_each(|p| cams.extend(p.to_le_bytes()));
            let (q, t) = pose.to_colmap();
            imgs.extend((i as u32 + 1).to_le_bytes());
            q.iter().chain(&[t.x, t.y, t.z]).for_each(|x| imgs.extend(x.to_le_bytes()));
            imgs.extend((i as u32 + 1).to_le_bytes());
            imgs.extend(name.as_bytes());
            imgs.push(0);
            imgs.extend(1u64.to_le_bytes());
            imgs.extend(1.5f64.to_le_bytes());
            imgs.extend(2.5f64.to_le_bytes());
            imgs.extend((-1i64).to_le_bytes());
        }
        (cams, imgs)
    }

    #[test]
    fn binary_matches_text() {
        let dir = tempfile::tempdir().unwrap();
        let v = views();
        write_text(dir.path(), &v, &[]).unwrap();
        let text = read(dir.path()).unwrap();
        let (cams, imgs) = push_bin_model(&v);
        std::fs::write(dir.path().join("cameras.bin"), &cams).unwrap();
        std::fs::write(dir.path().join("images.bin"), &imgs).unwrap();
        let bin = read(dir.path()).unwrap();
        assert_eq!(bin.images.len(), text.images.len());
        for (a, b) in bin.images.iter().zip(&text.images) {
            assert_eq!(a.name, b.name);
            assert_eq!(bin.cameras[&a.camera_id], text.cameras[&b.camera_id]);
            assert!(a.pose.rotation_angle_to(&b.pose) < 1e-12);
        }
        // A truncated binary model names the file instead of panicking.
        std::fs::write(dir.path().join("images.bin"), &imgs[..imgs.len() - 30]).unwrap();
        let msg = read(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("images.bin"), "{msg}");
    }

    /// What Weave writes in binary, COLMAP's layout, reads back as the text it writes.
    #[test]
    fn binary_writer_round_trip() {
        let (text_dir, bin_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let v = views();
        let points = vec![Point { position: DVec3::new(0.25, -1.0, 2.0), rgb: [1, 2, 3] }; 3];
        write_text(text_dir.path(), &v, &points).unwrap();
        write_binary(bin_dir.path(), &v, &points).unwrap();
        assert_eq!(read(text_dir.path()).unwrap(), read(bin_dir.path()).unwrap());
        assert_eq!(read_points(bin_dir.path()).unwrap(), points);
        let text_points = read_points(text_dir.path()).unwrap();
        assert_eq!(text_points.len(), 3);
        assert!((text_points[0].position - points[0].position).length() < 1e-9);
    }

    #[test]
    fn malformed_text_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cameras.txt"), "# c\n1 PINHOLE 640 480 500 500 320\n").unwrap();
        std::fs::write(dir.path().join("images.txt"), "").unwrap();
        let msg = read(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("cameras.txt:2") && msg.contains("4 parameters"), "{msg}");
        std::fs::write(dir.path().join("cameras.txt"), "1 PINHOLE 640 480 500 500 320 240\n").unwrap();
        std::fs::write(dir.path().join("images.txt"), "1 1 0 0 0 0 0 x 1 a.png\n\n").unwrap();
        let msg = read(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("images.txt:1") && msg.contains("\"x\""), "{msg}");
        std::fs::write(dir.path().join("images.txt"), "1 1 0 0 0 0 0 0 7 a.png\n\n").unwrap();
        assert!(read(dir.path()).unwrap_err().to_string().contains("camera 7"));
    }
}
