//! A pinhole camera for drawing: from the orbit (interactive) or from a dataset's camera
//! (screenshots at a photo's viewpoint). The field shaders cast rays from it and the
//! overlays use its projection, so both line up exactly.

use super::Orbit;
use crate::geometry::{Intrinsics, Pose};
use glam::{Mat4, Vec3, Vec4};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewCamera {
    pub eye: Vec3,
    /// Axes in the world, OpenCV style: x right, y down, z forward.
    pub right: Vec3,
    pub down: Vec3,
    pub forward: Vec3,
    /// Focal lengths and principal point, pixels.
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
    pub width: u32,
    pub height: u32,
    pub near: f32,
    pub far: f32,
}

impl ViewCamera {
    pub fn from_orbit(o: &Orbit, width: u32, height: u32) -> ViewCamera {
        let eye = o.eye();
        let forward = (o.target - eye).normalize();
        let right = forward.cross(o.up).normalize();
        let fy = 0.5 * height as f32 / (0.5 * o.fov_y).tan();
        ViewCamera {
            eye,
            right,
            down: forward.cross(right),
            forward,
            fx: fy,
            fy,
            cx: 0.5 * width as f32,
            cy: 0.5 * height as f32,
            width,
            height,
            near: o.distance * 1e-3,
            far: o.distance * 1e3,
        }
    }

    /// A dataset camera; `depth` is the scene's size, which sets the clipping planes.
    pub fn from_pose(pose: &Pose, k: &Intrinsics, depth: f32) -> ViewCamera {
        let axis = |i: usize| pose.rotation.col(i).as_vec3();
        ViewCamera {
            eye: pose.center.as_vec3(),
            right: axis(0),
            down: axis(1),
            forward: axis(2),
            fx: k.fx as f32,
            fy: k.fy as f32,
            cx: k.cx as f32,
            cy: k.cy as f32,
            width: k.width,
            height: k.height,
            near: depth * 1e-3,
            far: depth * 1e3,
        }
    }

    /// The same view at `scale` times the resolution (coarse frames while the camera moves).
    pub fn scaled(&self, scale: f32) -> ViewCamera {
        let width = ((self.width as f32 * scale).round() as u32).max(1);
        let height = ((self.height as f32 * scale).round() as u32).max(1);
        let (sx, sy) = (width as f32 / self.width as f32, height as f32 / self.height as f32);
        ViewCamera { fx: self.fx * sx, fy: self.fy * sy, cx: self.cx * sx, cy: self.cy * sy, width, height, ..*self }
    }

    /// World to clip space, depth in [0, 1] (wgpu's convention).
    pub fn view_proj(&self) -> Mat4 {
        let (w, h) = (self.width as f32, self.height as f32);
        let (n, f) = (self.near, self.far);
        let view = Mat4::from_cols(
            Vec4::new(self.right.x, self.down.x, self.forward.x, 0.0),
            Vec4::new(self.right.y, self.down.y, self.forward.y, 0.0),
            Vec4::new(self.right.z, self.down.z, self.forward.z, 0.0),
            Vec4::new(-self.right.dot(self.eye), -self.down.dot(self.eye), -self.forward.dot(self.eye), 1.0),
        );
        let proj = Mat4::from_cols(
            Vec4::new(2.0 * self.fx / w, 0.0, 0.0, 0.0),
            Vec4::new(0.0, -2.0 * self.fy / h, 0.0, 0.0),
            Vec4::new(2.0 * self.cx / w - 1.0, 1.0 - 2.0 * self.cy / h, f / (f - n), 1.0),
            Vec4::new(0.0, 0.0, -f * n / (f - n), 0.0),
        );
        proj * view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orbit_camera_projects_like_the_orbit() {
        let o =
            Orbit { target: Vec3::new(1.0, 2.0, 3.0), up: Vec3::Z, distance: 5.0, yaw: 0.3, pitch: 0.4, fov_y: 0.8 };
        let cam = ViewCamera::from_orbit(&o, 640, 480);
        let (a, b) = (o.view_proj(640.0 / 480.0), cam.view_proj());
        for p in [Vec3::new(0.5, 1.0, 2.0), Vec3::new(2.0, 2.5, 3.5), o.target] {
            let (pa, pb) = (a.project_point3(p), b.project_point3(p));
            assert!((pa - pb).length() < 1e-4, "{pa:?} vs {pb:?}");
        }
    }

    /// A point seen at pixel (u, v) by the dataset camera projects back to that pixel.
    #[test]
    fn pose_camera_projects_to_its_pixels() {
        let pose = Pose::look_at(glam::DVec3::new(3.0, -2.0, 1.0), glam::DVec3::ZERO, glam::DVec3::Z);
        let mut k = Intrinsics::centered(320, 240, 300.0);
        k.cx = 150.0;
        k.cy = 130.0;
        let cam = ViewCamera::from_pose(&pose, &k, 4.0);
        let (u, v) = (40.0f32, 200.0f32);
        let dir = cam.right * (u - cam.cx) / cam.fx + cam.down * (v - cam.cy) / cam.fy + cam.forward;
        let ndc = cam.view_proj().project_point3(cam.eye + dir * 2.5);
        let (pu, pv) = ((ndc.x + 1.0) * 0.5 * 320.0, (1.0 - ndc.y) * 0.5 * 240.0);
        assert!((pu - u).abs() < 1e-2 && (pv - v).abs() < 1e-2 && (0.0..1.0).contains(&ndc.z), "{pu} {pv}");
    }
}
