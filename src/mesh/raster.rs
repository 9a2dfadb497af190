//! A mesh as one camera sees it: per pixel, the depth (camera z) of the nearest surface and the
//! triangle it lies on (a z-buffer, drawn on the CPU).

use crate::geometry::Camera;
use crate::geometry::Mesh;
use glam::Vec3;

/// Barycentric slack of the coverage test: a little overlap, so that no pixel centre on a shared
/// edge falls between its two triangles by rounding.
const COVER_SLACK: f64 = 1e-9;

/// No triangle covers the pixel.
pub const NONE: u32 = u32::MAX;

pub struct SurfaceImage {
    pub width: usize,
    pub height: usize,
    /// Infinite where no triangle covers the pixel.
    pub depth: Vec<f32>,
    /// The nearest triangle's index, [`NONE`] where none covers the pixel.
    pub triangle: Vec<u32>,
}

/// The mesh drawn at the camera's resolution (lens distortion included).
pub fn draw(mesh: &Mesh, camera: &Camera) -> SurfaceImage {
    let (w, h) = (camera.intrinsics.width as usize, camera.intrinsics.height as usize);
    let mut depth = vec![f32::INFINITY; w * h];
    let mut triangle = vec![NONE; w * h];
    let projected: Vec<Option<[f64; 3]>> = mesh.vertices.iter().map(|v| project(camera, *v)).collect();
    for (ti, t) in mesh.triangles.iter().enumerate() {
        let [Some(a), Some(b), Some(c)] = t.map(|i| projected[i as usize]) else { continue };
        let area = edge(a, b, c);
        if area.abs() < 1e-12 {
            continue;
        }
        let lo = |i: usize| a[i].min(b[i]).min(c[i]).floor().max(0.0) as usize;
        let hi = |i: usize, n: usize| (a[i].max(b[i]).max(c[i]).ceil().max(0.0) as usize).min(n);
        for y in lo(1)..hi(1, h) {
            for x in lo(0)..hi(0, w) {
                let p = [x as f64 + 0.5, y as f64 + 0.5, 0.0];
                let (wa, wb) = (edge(b, c, p) / area, edge(c, a, p) / area);
                let wc = 1.0 - wa - wb;
                if wa < -COVER_SLACK || wb < -COVER_SLACK || wc < -COVER_SLACK {
                    continue;
                }
                // Depth is linear in the image in 1/z, not in z.
                let z = (1.0 / (wa / a[2] + wb / b[2] + wc / c[2])) as f32;
                let i = y * w + x;
                if z < depth[i] {
                    depth[i] = z;
                    triangle[i] = ti as u32;
                }
            }
        }
    }
    SurfaceImage { width: w, height: h, depth, triangle }
}

/// The unit normal of a triangle, facing where its winding faces.
pub fn triangle_normal(mesh: &Mesh, triangle: u32) -> Vec3 {
    let [a, b, c] = mesh.triangles[triangle as usize].map(|i| mesh.vertices[i as usize]);
    (b - a).cross(c - a).normalize_or_zero()
}

/// Pixel position and depth of a point in front of the camera.
pub fn project(camera: &Camera, v: Vec3) -> Option<[f64; 3]> {
    let p = camera.pose.to_camera(v.as_dvec3());
    camera.intrinsics.project(p).map(|px| [px.x, px.y, p.z])
}

/// Twice the signed area of the image triangle (a, b, p).
fn edge(a: [f64; 3], b: [f64; 3], p: [f64; 3]) -> f64 {
    (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Intrinsics, Pose};
    use glam::DVec3;

    /// A square facing a camera head-on at distance 2, and a smaller one at 1.5 in front of
    /// part of it: the nearer covers the farther, depths are exact, and the normals face the
    /// way their windings say.
    #[test]
    fn the_nearest_triangle_wins_each_pixel() {
        let quad = |z: f32, half: f32, first: u32| {
            let v = [[-half, -half], [half, -half], [half, half], [-half, half]].map(|[x, y]| Vec3::new(x, y, z));
            (v, [[first, first + 1, first + 2], [first, first + 2, first + 3]])
        };
        let (far, far_t) = quad(2.0, 1.0, 0);
        let (near, near_t) = quad(1.5, 0.2, 4);
        let mesh = Mesh {
            vertices: far.into_iter().chain(near).collect(),
            triangles: far_t.into_iter().chain(near_t).collect(),
            ..Default::default()
        };
        let camera = Camera {
            intrinsics: Intrinsics::centered(64, 48, 40.0),
            pose: Pose::look_at(DVec3::ZERO, DVec3::Z, DVec3::NEG_Y),
        };
        let img = draw(&mesh, &camera);
        let at = |x: usize, y: usize| (img.depth[y * 64 + x], img.triangle[y * 64 + x]);
        let (d, t) = at(32, 24);
        assert!((d - 1.5).abs() < 1e-5 && t >= 2, "centre: depth {d}, triangle {t}");
        let (d, t) = at(15, 8);
        assert!((d - 2.0).abs() < 1e-5 && t < 2, "corner: depth {d}, triangle {t}");
        // Beyond the far square's edge (x = ±1 at z = 2 is 20 pixels off centre) nothing.
        assert_eq!(at(32, 1), (f32::INFINITY, NONE));
        let mut wide = camera;
        wide.intrinsics = Intrinsics::centered(64, 48, 10.0);
        let img = draw(&mesh, &wide);
        assert_eq!((img.depth[0], img.triangle[0]), (f32::INFINITY, NONE));
        assert!(triangle_normal(&mesh, 0).abs_diff_eq(Vec3::Z, 1e-6));
    }
}
