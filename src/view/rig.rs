//! What the viewport draws for a set of cameras: frusta, photo quads, a grid, and where to
//! look from at first.

use super::orbit::Orbit;
use crate::geometry::{Intrinsics, Pose, rig};
use glam::{DVec2, DVec3};

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LineVertex {
    pub pos: [f32; 3],
    pub color: [f32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PhotoVertex {
    pub pos: [f32; 3],
    pub uv: [f32; 2],
    pub opacity: f32,
}

/// One camera as the viewport draws it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CameraGlyph {
    pub pose: Pose,
    pub intrinsics: Intrinsics,
    /// Posed by Weave's own pose stage, not by COLMAP or the folder's camera files.
    pub found: bool,
}

pub const FRUSTUM_COLOR: [f32; 4] = [0.95, 0.55, 0.1, 1.0];
pub const SELECTED_COLOR: [f32; 4] = [0.2, 0.9, 1.0, 1.0];
/// Cameras Weave's own pose stage posed.
pub const FOUND_COLOR: [f32; 4] = [0.75, 0.45, 1.0, 1.0];
const GRID_COLOR: [f32; 4] = [0.2, 0.21, 0.24, 1.0];

/// Where the cameras are and how big to draw them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Framing {
    /// Average image-up direction of the cameras.
    pub up: DVec3,
    /// The point the cameras look at (or a point ahead of them when their axes do not meet).
    pub target: DVec3,
    /// Distance from the target to the farthest camera.
    pub radius: f64,
    /// Depth at which frusta are drawn.
    pub frustum_depth: f64,
}

impl Framing {
    pub fn of(cameras: &[CameraGlyph]) -> Option<Framing> {
        let first = cameras.first()?;
        let poses: Vec<Pose> = cameras.iter().map(|c| c.pose).collect();
        let up = cameras.iter().map(|c| -c.pose.rotation.y_axis).sum::<DVec3>().try_normalize().unwrap_or(DVec3::Z);
        let mean_dir =
            cameras.iter().map(|c| c.pose.forward()).sum::<DVec3>().try_normalize().unwrap_or(first.pose.forward());
        let scale = rig::spread(&poses).max(1e-3);
        let target = rig::look_at_point(&poses).unwrap_or(rig::centroid(&poses) + mean_dir * 2.0 * scale);
        let radius = cameras.iter().map(|c| (c.pose.center - target).length()).fold(0.0, f64::max).max(1e-3);
        let mut to_target: Vec<f64> = cameras.iter().map(|c| (c.pose.center - target).length()).collect();
        let mut nearest: Vec<f64> = cameras
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                cameras
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, o)| (o.pose.center - c.pose.center).length())
                    .reduce(f64::min)
            })
            .collect();
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let by_target = 0.1 * median(&mut to_target).unwrap_or(radius);
        let frustum_depth = median(&mut nearest).map_or(by_target, |nn| by_target.min(0.8 * nn)).max(1e-4 * radius);
        Some(Framing { up, target, radius, frustum_depth })
    }

    /// A view from behind and above the cameras that shows them all.
    pub fn orbit(&self, aspect: f32) -> Orbit {
        let fov_y: f32 = 0.8;
        let fit = if aspect < 1.0 { fov_y * aspect } else { fov_y };
        Orbit {
            target: self.target.as_vec3(),
            up: self.up.as_vec3(),
            distance: (self.radius * 1.15 / (fit as f64 / 2.0).sin()) as f32,
            yaw: -0.6,
            pitch: 0.5,
            fov_y,
        }
    }
}

/// The four image-plane corners of a camera at `depth`, in world space, clockwise from top-left.
pub fn frustum_corners(c: &CameraGlyph, depth: f64) -> [DVec3; 4] {
    let k = &c.intrinsics;
    let (w, h) = (k.width as f64, k.height as f64);
    [DVec2::ZERO, DVec2::new(w, 0.0), DVec2::new(w, h), DVec2::new(0.0, h)]
        .map(|px| c.pose.to_world(k.unproject(px) * depth))
}

/// Faint frusta: where the cameras started, when training refines them.
pub const INITIAL_COLOR: [f32; 4] = [0.45, 0.47, 0.52, 1.0];
const BOUNDS_COLOR: [f32; 4] = [0.35, 0.55, 0.75, 1.0];

/// Green (lowest error) through yellow to red (highest), for frusta by photometric error.
pub fn error_color(error: f32, lo: f32, hi: f32) -> [f32; 4] {
    let t = ((error - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0);
    let (g, r) = if t < 0.5 { (0.85, 0.3 + 1.2 * t) } else { (0.85 - 1.3 * (t - 0.5), 0.9) };
    [r, g, 0.2, 1.0]
}

/// Line segments of every frustum (apex to corners, image rectangle, an "up" tick), in each
/// camera's colour, the selected one highlighted.
pub fn frustum_lines(
    cameras: &[CameraGlyph],
    depth: f64,
    colors: &[[f32; 4]],
    selected: Option<usize>,
) -> Vec<LineVertex> {
    let mut out = Vec::with_capacity(cameras.len() * 24);
    for (i, c) in cameras.iter().enumerate() {
        let color = if Some(i) == selected { SELECTED_COLOR } else { colors.get(i).copied().unwrap_or(FRUSTUM_COLOR) };
        let corners = frustum_corners(c, depth);
        let mut seg = |a: DVec3, b: DVec3| {
            out.push(LineVertex { pos: a.as_vec3().to_array(), color });
            out.push(LineVertex { pos: b.as_vec3().to_array(), color });
        };
        for j in 0..4 {
            seg(c.pose.center, corners[j]);
            seg(corners[j], corners[(j + 1) % 4]);
        }
        // A small triangle above the top edge shows which way is up in the photo.
        let (tl, tr) = (corners[0], corners[1]);
        let apex = (tl + tr) / 2.0 - c.pose.rotation.y_axis * (tr - tl).length() * 0.15;
        let (l, r) = (tl.lerp(tr, 0.35), tl.lerp(tr, 0.65));
        seg(l, apex);
        seg(apex, r);
    }
    out
}

/// The scene bounds (the unit sphere of the normalised frame) as three great circles.
pub fn bounds_lines(center: DVec3, radius: f64) -> Vec<LineVertex> {
    const N: usize = 96;
    let mut out = Vec::with_capacity(3 * N * 2);
    for axis in 0..3 {
        let point = |k: usize| {
            let a = k as f64 / N as f64 * std::f64::consts::TAU;
            let (s, c) = a.sin_cos();
            let mut v = [0.0; 3];
            v[(axis + 1) % 3] = c;
            v[(axis + 2) % 3] = s;
            (center + DVec3::from(v) * radius).as_vec3().to_array()
        };
        for k in 0..N {
            out.push(LineVertex { pos: point(k), color: BOUNDS_COLOR });
            out.push(LineVertex { pos: point(k + 1), color: BOUNDS_COLOR });
        }
    }
    out
}

/// Photo quads on the image planes (slightly in front of the frustum's rectangle);
/// `cells[i]` is camera i's (u0, v0, u1, v1) in the atlas, or None while it is not loaded.
pub fn photo_quads(cameras: &[CameraGlyph], depth: f64, cells: &[Option<[f32; 4]>], opacity: f32) -> Vec<PhotoVertex> {
    let mut out = Vec::new();
    for (c, cell) in cameras.iter().zip(cells) {
        let Some([u0, v0, u1, v1]) = *cell else {
            continue;
        };
        let p = frustum_corners(c, depth * 0.995).map(|p| p.as_vec3().to_array());
        let uv = [[u0, v0], [u1, v0], [u1, v1], [u0, v1]];
        for i in [0, 1, 2, 0, 2, 3] {
            out.push(PhotoVertex { pos: p[i], uv: uv[i], opacity });
        }
    }
    out
}

/// A square grid on the plane through `framing.target` ⟂ `up`, a little larger than the rig.
pub fn grid_lines(framing: &Framing) -> Vec<LineVertex> {
    let up = framing.up.as_vec3();
    let e1 = up.any_orthonormal_vector();
    let e2 = up.cross(e1);
    let step = 10f32.powf((framing.radius as f32 / 5.0).log10().round());
    let half = (framing.radius as f32 * 1.2 / step).ceil() as i32;
    let centre = framing.target.as_vec3();
    let mut out = Vec::new();
    for i in -half..=half {
        let o = i as f32 * step;
        let ext = half as f32 * step;
        for (a, b) in [(e1 * o - e2 * ext, e1 * o + e2 * ext), (e2 * o - e1 * ext, e2 * o + e1 * ext)] {
            out.push(LineVertex { pos: (centre + a).to_array(), color: GRID_COLOR });
            out.push(LineVertex { pos: (centre + b).to_array(), color: GRID_COLOR });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(n: usize, radius: f64) -> Vec<CameraGlyph> {
        (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                let eye = DVec3::new(radius * a.cos(), radius * a.sin(), 1.0);
                CameraGlyph {
                    pose: Pose::look_at(eye, DVec3::new(0.0, 0.0, 0.2), DVec3::Z),
                    intrinsics: Intrinsics::centered(64, 48, 60.0),
                    found: false,
                }
            })
            .collect()
    }

    #[test]
    fn framing_finds_the_looked_at_point_and_up() {
        let f = Framing::of(&ring(12, 3.0)).unwrap();
        assert!((f.target - DVec3::new(0.0, 0.0, 0.2)).length() < 1e-6, "{:?}", f.target);
        assert!(f.up.dot(DVec3::Z) > 0.9);
        assert!(f.frustum_depth > 0.0 && f.frustum_depth < f.radius);
    }

    #[test]
    fn parallel_cameras_get_a_target_ahead() {
        let cams: Vec<CameraGlyph> = (0..5)
            .map(|i| CameraGlyph {
                pose: Pose::look_at(
                    DVec3::new(i as f64 * 0.1, 0.0, 0.0),
                    DVec3::new(i as f64 * 0.1, 1.0, 0.0),
                    DVec3::Z,
                ),
                intrinsics: Intrinsics::centered(64, 48, 60.0),
                found: false,
            })
            .collect();
        let f = Framing::of(&cams).unwrap();
        assert!(f.target.y > 0.0 && f.target.y.is_finite());
    }

    #[test]
    fn frustum_corners_project_to_image_corners() {
        let c = ring(3, 2.0)[1];
        let corners = frustum_corners(&c, 0.5);
        let px = c.intrinsics.project(c.pose.to_camera(corners[2])).unwrap();
        assert!((px - DVec2::new(64.0, 48.0)).length() < 1e-9);
        assert_eq!(frustum_lines(&[c], 0.5, &[], None).len(), 2 * 10);
        assert_eq!(photo_quads(&[c, c], 0.5, &[Some([0.0, 0.0, 1.0, 1.0]), None], 1.0).len(), 6);
    }
}
