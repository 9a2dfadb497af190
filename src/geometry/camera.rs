use super::Pose;
use glam::{DVec2, DVec3};
use serde::{Deserialize, Serialize};

/// Lens distortion in the parameterisations COLMAP and transforms.json use.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub enum Distortion {
    #[default]
    None,
    /// Polynomial radial distortion (COLMAP SIMPLE_RADIAL has k2 = 0, RADIAL both).
    Radial { k1: f64, k2: f64 },
    /// OpenCV's radial + tangential model (COLMAP OPENCV, transforms.json k1 k2 p1 p2).
    OpenCv { k1: f64, k2: f64, p1: f64, p2: f64 },
}

impl Distortion {
    /// Normalised-plane coordinates after distortion.
    pub fn apply(&self, p: DVec2) -> DVec2 {
        match *self {
            Distortion::None => p,
            Distortion::Radial { k1, k2 } => {
                let r2 = p.length_squared();
                p * (1.0 + k1 * r2 + k2 * r2 * r2)
            }
            Distortion::OpenCv { k1, k2, p1, p2 } => {
                let (x, y) = (p.x, p.y);
                let r2 = x * x + y * y;
                let radial = 1.0 + k1 * r2 + k2 * r2 * r2;
                DVec2::new(
                    x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x),
                    y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y,
                )
            }
        }
    }

    /// Inverse of [`Distortion::apply`] by fixed-point iteration; the distortions of real
    /// lenses that these models describe are small enough for it to converge.
    pub fn remove(&self, distorted: DVec2) -> DVec2 {
        if *self == Distortion::None {
            return distorted;
        }
        let mut p = distorted;
        for _ in 0..50 {
            let err = self.apply(p) - distorted;
            p -= err;
            if err.length_squared() < 1e-24 {
                break;
            }
        }
        p
    }

    pub fn is_none(&self) -> bool {
        *self == Distortion::None
    }
}

/// Pinhole intrinsics in pixels; pixel (0, 0) covers [0, 1)², so its centre is at 0.5.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    pub width: u32,
    pub height: u32,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    pub distortion: Distortion,
}

impl Intrinsics {
    /// A distortion-free camera with its principal point at the image centre.
    pub fn centered(width: u32, height: u32, focal: f64) -> Self {
        Self {
            width,
            height,
            fx: focal,
            fy: focal,
            cx: width as f64 / 2.0,
            cy: height as f64 / 2.0,
            distortion: Distortion::None,
        }
    }

    /// From a horizontal field of view in radians (transforms.json `camera_angle_x`).
    pub fn from_fov_x(width: u32, height: u32, fov_x: f64) -> Self {
        Self::centered(width, height, 0.5 * width as f64 / (0.5 * fov_x).tan())
    }

    pub fn fov_x(&self) -> f64 {
        2.0 * (0.5 * self.width as f64 / self.fx).atan()
    }

    pub fn fov_y(&self) -> f64 {
        2.0 * (0.5 * self.height as f64 / self.fy).atan()
    }

    /// Pixel coordinates of a point in camera space, or None behind the camera.
    pub fn project(&self, p_cam: DVec3) -> Option<DVec2> {
        if p_cam.z <= 1e-12 {
            return None;
        }
        let n = self.distortion.apply(DVec2::new(p_cam.x / p_cam.z, p_cam.y / p_cam.z));
        Some(DVec2::new(self.fx * n.x + self.cx, self.fy * n.y + self.cy))
    }

    /// Direction (camera space, z = 1) of the ray through a pixel position.
    pub fn unproject(&self, pixel: DVec2) -> DVec3 {
        let d = DVec2::new((pixel.x - self.cx) / self.fx, (pixel.y - self.cy) / self.fy);
        let n = self.distortion.remove(d);
        DVec3::new(n.x, n.y, 1.0)
    }

    /// The same camera for an image resized to `width` × `height`.
    pub fn resized(&self, width: u32, height: u32) -> Self {
        let sx = width as f64 / self.width as f64;
        let sy = height as f64 / self.height as f64;
        Self {
            width,
            height,
            fx: self.fx * sx,
            fy: self.fy * sy,
            cx: self.cx * sx,
            cy: self.cy * sy,
            distortion: self.distortion,
        }
    }

    /// The same camera for the image scaled by `s` (sizes rounded, at least one pixel).
    pub fn scaled(&self, s: f64) -> Self {
        let size = |n: u32| ((n as f64 * s).round() as u32).max(1);
        self.resized(size(self.width), size(self.height))
    }

    /// Whether an image of the given size has this camera's aspect ratio (to one pixel), so
    /// that the intrinsics can be rescaled to it.
    pub fn same_aspect(&self, width: u32, height: u32) -> bool {
        let expected_h = self.height as f64 * width as f64 / self.width as f64;
        (expected_h - height as f64).abs() <= 1.0
    }
}

/// A photograph's camera: its intrinsics and where it stood.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    pub intrinsics: Intrinsics,
    pub pose: Pose,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_unproject_round_trip_with_distortion() {
        let mut k = Intrinsics::centered(640, 480, 500.0);
        k.distortion = Distortion::OpenCv { k1: -0.1, k2: 0.02, p1: 0.001, p2: -0.002 };
        for &(x, y) in &[(10.5, 20.5), (320.0, 240.0), (630.0, 470.0)] {
            let d = k.unproject(DVec2::new(x, y));
            let back = k.project(d * 3.0).unwrap();
            assert!((back - DVec2::new(x, y)).length() < 1e-6, "{back:?} vs {x},{y}");
        }
    }

    #[test]
    fn fov_round_trip_and_resize() {
        let k = Intrinsics::from_fov_x(400, 300, 0.6911112);
        assert!((k.fx - 555.5555).abs() < 1e-2);
        assert!((k.fov_x() - 0.6911112).abs() < 1e-12);
        let half = k.resized(200, 150);
        assert_eq!((half.fx, half.cx, half.cy), (k.fx / 2.0, 100.0, 75.0));
        assert_eq!(k.scaled(0.5), half);
        assert!(k.same_aspect(200, 150));
        assert!(!k.same_aspect(200, 200));
    }

    #[test]
    fn behind_camera_does_not_project() {
        let k = Intrinsics::centered(10, 10, 10.0);
        assert!(k.project(DVec3::new(0.0, 0.0, -1.0)).is_none());
    }
}
