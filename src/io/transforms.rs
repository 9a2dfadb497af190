//! transforms.json as instant-ngp and nerfstudio write it: camera-to-world matrices in OpenGL
//! camera axes, intrinsics at the top level or per frame (per frame wins).

use super::{Error, Result, atomic};
use crate::geometry::{Distortion, Intrinsics, Pose};
use glam::{DMat4, DVec4};
use serde_json::{Map, Value, json};
use std::path::Path;

/// Intrinsics fields as the file gives them; any may be missing until merged and resolved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CameraSpec {
    pub fl_x: Option<f64>,
    pub fl_y: Option<f64>,
    pub cx: Option<f64>,
    pub cy: Option<f64>,
    pub w: Option<u32>,
    pub h: Option<u32>,
    pub angle_x: Option<f64>,
    pub angle_y: Option<f64>,
    pub k1: Option<f64>,
    pub k2: Option<f64>,
    pub p1: Option<f64>,
    pub p2: Option<f64>,
}

impl CameraSpec {
    fn from_json(obj: &Map<String, Value>) -> Self {
        let f = |k: &str| obj.get(k).and_then(Value::as_f64);
        let u = |k: &str| obj.get(k).and_then(Value::as_f64).map(|v| v.round() as u32);
        Self {
            fl_x: f("fl_x"),
            fl_y: f("fl_y"),
            cx: f("cx"),
            cy: f("cy"),
            w: u("w"),
            h: u("h"),
            angle_x: f("camera_angle_x"),
            angle_y: f("camera_angle_y"),
            k1: f("k1"),
            k2: f("k2"),
            p1: f("p1"),
            p2: f("p2"),
        }
    }

    /// Fields of `self`, falling back to `base` where missing.
    fn over(&self, base: &CameraSpec) -> CameraSpec {
        macro_rules! pick { ($($f:ident),*) => { CameraSpec { $($f: self.$f.or(base.$f)),* } } }
        pick!(fl_x, fl_y, cx, cy, w, h, angle_x, angle_y, k1, k2, p1, p2)
    }

    /// Full intrinsics for an image whose decoded size is `width` × `height`.
    pub fn resolve(&self, width: u32, height: u32) -> std::result::Result<Intrinsics, String> {
        let (w, h) = (self.w.unwrap_or(width), self.h.unwrap_or(height));
        let fx = self
            .fl_x
            .or_else(|| self.angle_x.map(|a| 0.5 * w as f64 / (0.5 * a).tan()))
            .or(self.fl_y)
            .ok_or("no focal length (fl_x or camera_angle_x)")?;
        let fy = self.fl_y.or_else(|| self.angle_y.map(|a| 0.5 * h as f64 / (0.5 * a).tan())).unwrap_or(fx);
        let (k1, k2, p1, p2) =
            (self.k1.unwrap_or(0.0), self.k2.unwrap_or(0.0), self.p1.unwrap_or(0.0), self.p2.unwrap_or(0.0));
        let distortion = if p1 != 0.0 || p2 != 0.0 {
            Distortion::OpenCv { k1, k2, p1, p2 }
        } else if k1 != 0.0 || k2 != 0.0 {
            Distortion::Radial { k1, k2 }
        } else {
            Distortion::None
        };
        if !(fx > 0.0 && fy > 0.0 && fx.is_finite() && fy.is_finite()) {
            return Err(format!("focal length must be positive, got {fx}, {fy}"));
        }
        Ok(Intrinsics {
            width: w,
            height: h,
            fx,
            fy,
            cx: self.cx.unwrap_or(w as f64 / 2.0),
            cy: self.cy.unwrap_or(h as f64 / 2.0),
            distortion,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// As written in the file, relative to the file's folder; may lack an extension.
    pub file_path: String,
    pub mask_path: Option<String>,
    pub pose: Pose,
    pub camera: CameraSpec,
    /// Depth range of the scene in this view ("near"/"far", as LLFF's bounds), when given.
    pub depth_range: Option<(f64, f64)>,
}

pub fn read(path: &Path) -> Result<Vec<Frame>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let root: Value =
        serde_json::from_str(&text).map_err(|e| Error::parse(path, e.line(), format!("malformed JSON: {e}")))?;
    let top = root.as_object().ok_or_else(|| Error::format(path, "expected a JSON object at the top level"))?;
    let base = CameraSpec::from_json(top);
    let frames =
        top.get("frames").and_then(Value::as_array).ok_or_else(|| Error::format(path, "missing \"frames\" array"))?;
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let bad = |why: &str| Error::format(path, format!("frame {i}: {why}"));
            let obj = f.as_object().ok_or_else(|| bad("not an object"))?;
            let file_path = obj.get("file_path").and_then(Value::as_str).ok_or_else(|| bad("missing \"file_path\""))?;
            let m = obj.get("transform_matrix").ok_or_else(|| bad("missing \"transform_matrix\""))?;
            let pose = parse_matrix(m).map_err(|why| bad(&format!("transform_matrix {why}")))?;
            let bound = |k: &str| obj.get(k).or_else(|| top.get(k)).and_then(Value::as_f64);
            let depth_range = match (bound("near"), bound("far")) {
                (Some(n), Some(f)) if n > 0.0 && f > n => Some((n, f)),
                _ => None,
            };
            Ok(Frame {
                file_path: file_path.to_string(),
                mask_path: obj.get("mask_path").and_then(Value::as_str).map(str::to_string),
                pose,
                camera: CameraSpec::from_json(obj).over(&base),
                depth_range,
            })
        })
        .collect()
}

fn parse_matrix(v: &Value) -> std::result::Result<Pose, String> {
    let rows = v.as_array().ok_or("is not an array")?;
    if rows.len() != 3 && rows.len() != 4 {
        return Err(format!("has {} rows, expected 3 or 4", rows.len()));
    }
    let mut m = [[0.0f64; 4]; 4];
    m[3][3] = 1.0;
    for (r, row) in rows.iter().enumerate() {
        let row = row.as_array().filter(|a| a.len() == 4).ok_or("rows must hold 4 numbers")?;
        for (c, x) in row.iter().enumerate() {
            m[r][c] = x.as_f64().filter(|x| x.is_finite()).ok_or("holds a non-number")?;
        }
    }
    let cols = |c: usize| DVec4::new(m[0][c], m[1][c], m[2][c], m[3][c]);
    let mat = DMat4::from_cols(cols(0), cols(1), cols(2), cols(3));
    let det = glam::DMat3::from_mat4(mat).determinant();
    if det.is_nan() || det.abs() <= 1e-9 {
        return Err("has a singular rotation".into());
    }
    Ok(Pose::from_opengl_c2w(mat))
}

/// One frame to write: its image path relative to the file's folder, camera and pose.
pub struct FrameOut<'a> {
    pub file_path: &'a str,
    pub intrinsics: &'a Intrinsics,
    pub pose: &'a Pose,
}

fn intrinsics_json(k: &Intrinsics) -> Map<String, Value> {
    let (k1, k2, p1, p2) = match k.distortion {
        Distortion::None => (0.0, 0.0, 0.0, 0.0),
        Distortion::Radial { k1, k2 } => (k1, k2, 0.0, 0.0),
        Distortion::OpenCv { k1, k2, p1, p2 } => (k1, k2, p1, p2),
    };
    let v = json!({
        "fl_x": k.fx, "fl_y": k.fy, "cx": k.cx, "cy": k.cy, "w": k.width, "h": k.height,
        "k1": k1, "k2": k2, "p1": p1, "p2": p2,
        "camera_angle_x": k.fov_x(), "camera_angle_y": k.fov_y(),
    });
    v.as_object().cloned().expect("object literal")
}

/// Writes a transforms.json: shared intrinsics at the top level when all frames agree,
/// otherwise per frame.
pub fn write(path: &Path, frames: &[FrameOut<'_>]) -> Result<()> {
    let shared = frames.first().map(|f| f.intrinsics).filter(|k| frames.iter().all(|f| f.intrinsics == *k));
    let mut top = Map::new();
    top.insert("camera_model".into(), json!("OPENCV"));
    if let Some(k) = shared {
        top.extend(intrinsics_json(k));
    }
    let out: Vec<Value> = frames
        .iter()
        .map(|f| {
            let m = f.pose.to_opengl_c2w();
            let rows: Vec<Vec<f64>> = (0..4).map(|r| (0..4).map(|c| m.col(c)[r]).collect()).collect();
            let mut obj = Map::new();
            obj.insert("file_path".into(), json!(f.file_path));
            obj.insert("transform_matrix".into(), json!(rows));
            if shared.is_none() {
                obj.extend(intrinsics_json(f.intrinsics));
            }
            Value::Object(obj)
        })
        .collect();
    top.insert("frames".into(), Value::Array(out));
    let text = serde_json::to_string_pretty(&Value::Object(top)).expect("JSON values serialise");
    atomic::write_bytes(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::DVec3;

    #[test]
    fn round_trip_shared_and_per_frame_intrinsics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("transforms.json");
        let k1 = Intrinsics::centered(400, 300, 350.0);
        let mut k2 = Intrinsics::centered(400, 300, 360.0);
        k2.distortion = Distortion::OpenCv { k1: 0.1, k2: 0.0, p1: 0.01, p2: 0.0 };
        let p1 = Pose::look_at(DVec3::new(2.0, 1.0, 0.5), DVec3::ZERO, DVec3::Z);
        let p2 = Pose::look_at(DVec3::new(-2.0, 1.0, 0.5), DVec3::ZERO, DVec3::Z);
        for ks in [[&k1, &k1], [&k1, &k2]] {
            let frames = [
                FrameOut { file_path: "images/a.png", intrinsics: ks[0], pose: &p1 },
                FrameOut { file_path: "images/b.png", intrinsics: ks[1], pose: &p2 },
            ];
            write(&path, &frames).unwrap();
            let back = read(&path).unwrap();
            for (f, b) in frames.iter().zip(&back) {
                assert_eq!(b.file_path, f.file_path);
                assert_eq!(&b.camera.resolve(1, 1).unwrap(), f.intrinsics);
                assert!(b.pose.rotation_angle_to(f.pose) < 1e-12 && (b.pose.center - f.pose.center).length() < 1e-12);
            }
        }
    }

    #[test]
    fn camera_angle_x_and_image_size_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let m = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 4], [0, 0, 0, 1]];
        std::fs::write(
            &path,
            json!({"camera_angle_x": 0.6911112, "frames": [{"file_path": "./train/r_0", "transform_matrix": m}]})
                .to_string(),
        )
        .unwrap();
        let f = &read(&path).unwrap()[0];
        let k = f.camera.resolve(400, 400).unwrap();
        assert!((k.fx - 555.5555).abs() < 1e-2 && k.fy == k.fx && k.cx == 200.0);
        // Identity OpenGL camera looks down -z: OpenCV forward is -z.
        assert!((f.pose.forward() - DVec3::new(0.0, 0.0, -1.0)).length() < 1e-12);
    }

    #[test]
    fn malformed_json_names_file_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("transforms.json");
        std::fs::write(&path, "{\"frames\": [ {\"file_path\": \"a.png\", ").unwrap();
        let msg = read(&path).unwrap_err().to_string();
        assert!(msg.contains("transforms.json") && msg.contains("malformed JSON"), "{msg}");
        std::fs::write(&path, r#"{"frames": [{"file_path": "a.png", "transform_matrix": [[1,0,0],[0,1,0]]}]}"#)
            .unwrap();
        let msg = read(&path).unwrap_err().to_string();
        assert!(msg.contains("frame 0") && msg.contains("transform_matrix"), "{msg}");
        std::fs::write(&path, r#"{"fl_x": 100, "frames": []}"#).unwrap();
        assert!(read(&path).unwrap().is_empty());
    }

    #[test]
    fn depth_bounds_are_read_per_frame_or_from_the_top() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("transforms.json");
        let m = "[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]";
        std::fs::write(
            &path,
            format!(
                r#"{{"fl_x": 100, "near": 2.0, "far": 9.0, "frames": [
                    {{"file_path": "a.png", "transform_matrix": {m}, "near": 17.5, "far": 78.0}},
                    {{"file_path": "b.png", "transform_matrix": {m}}},
                    {{"file_path": "c.png", "transform_matrix": {m}, "near": 5.0, "far": 1.0}}]}}"#
            ),
        )
        .unwrap();
        let f = read(&path).unwrap();
        assert_eq!(f[0].depth_range, Some((17.5, 78.0)));
        assert_eq!(f[1].depth_range, Some((2.0, 9.0)));
        // Far before near is no range at all.
        assert_eq!(f[2].depth_range, None);
    }
}
