//! Which cameras saw which part of a surface: each camera's depth image of the mesh and, per
//! vertex, the camera that saw it most head-on. Vertex colours are looked up along that
//! camera's line of sight, a direction the radiance field was trained on, and surface that no
//! camera saw (the back and sides of a forward-facing capture) can be dropped.

use super::raster;
use crate::geometry::Camera;
use crate::geometry::Mesh;
use glam::Vec3;
use rayon::prelude::*;

/// Depth images are drawn at most this many pixels wide or high.
const MAX_SIDE: f64 = 512.0;

/// How many pixels' footprint at a vertex's depth it may lie behind the depth image and
/// still count as seen: surface seen at a slant spans that much depth within a pixel.
const FOOTPRINT_PIXELS: f64 = 1.5;

/// Per vertex, the unit direction along which the camera that saw it most head-on looked at
/// it; None where no camera saw it (outside every view, or hidden behind other surface).
/// `tolerance`: how far behind the nearest surface a vertex still counts as seen, in the
/// mesh's units (a couple of extraction cells).
pub fn sightlines(mesh: &Mesh, cameras: &[Camera], tolerance: f64) -> Vec<Option<Vec3>> {
    let normals = mesh.vertex_normals();
    let depths: Vec<DepthImage> = cameras.par_iter().map(|c| DepthImage::draw(mesh, c)).collect();
    mesh.vertices
        .par_iter()
        .zip(normals.par_iter())
        .map(|(v, n)| {
            let mut best: Option<(f32, Vec3)> = None;
            for d in &depths {
                if let Some(dir) = d.sight(*v, tolerance) {
                    let facing = -n.dot(dir);
                    if best.is_none_or(|(f, _)| facing > f) {
                        best = Some((facing, dir));
                    }
                }
            }
            best.map(|(_, dir)| dir)
        })
        .collect()
}

/// The depth (camera z) of the nearest surface at each pixel of a camera, downscaled to at
/// most [`MAX_SIDE`]; infinite where the mesh does not cover the pixel.
struct DepthImage {
    camera: Camera,
    depth: Vec<f32>,
}

impl DepthImage {
    fn draw(mesh: &Mesh, camera: &Camera) -> DepthImage {
        let k = &camera.intrinsics;
        let camera =
            Camera { intrinsics: k.scaled((MAX_SIDE / k.width.max(k.height) as f64).min(1.0)), pose: camera.pose };
        DepthImage { camera, depth: raster::draw(mesh, &camera).depth }
    }

    /// The direction from this camera to `v` when the camera sees it.
    fn sight(&self, v: Vec3, tolerance: f64) -> Option<Vec3> {
        let [x, y, z] = raster::project(&self.camera, v)?;
        let k = &self.camera.intrinsics;
        if x < 0.0 || y < 0.0 || x >= k.width as f64 || y >= k.height as f64 {
            return None;
        }
        let nearest = self.depth[y as usize * k.width as usize + x as usize] as f64;
        let slack = tolerance + FOOTPRINT_PIXELS * z / k.fx.min(k.fy);
        (z <= nearest + slack).then(|| (v.as_dvec3() - self.camera.pose.center).normalize().as_vec3())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Intrinsics, Pose};
    use glam::DVec3;

    fn sphere(center: Vec3, radius: f32) -> Mesh {
        super::super::extract(48, &|x, _| (Vec3::from(x) - center).length() - radius)
    }

    fn camera_at(eye: DVec3, target: DVec3) -> Camera {
        Camera { intrinsics: Intrinsics::centered(160, 120, 140.0), pose: Pose::look_at(eye, target, DVec3::Y) }
    }

    /// A sphere seen from one side: the side facing the cameras is seen, the far side is not.
    #[test]
    fn the_far_side_of_a_sphere_is_unseen() {
        let mesh = sphere(Vec3::ZERO, 0.5);
        let cams: Vec<Camera> =
            [-0.3, 0.0, 0.3].iter().map(|&x| camera_at(DVec3::new(x, 0.0, -3.0), DVec3::ZERO)).collect();
        let sight = sightlines(&mesh, &cams, 2.0 * 2.0 / 48.0);
        let (mut front, mut back) = ((0, 0), (0, 0));
        for (v, s) in mesh.vertices.iter().zip(&sight) {
            if v.z < -0.2 {
                front = (front.0 + s.is_some() as usize, front.1 + 1);
            } else if v.z > 0.1 {
                back = (back.0 + s.is_some() as usize, back.1 + 1);
            }
        }
        assert_eq!(front.0, front.1, "every vertex facing the cameras is seen");
        assert_eq!(back.0, 0, "no vertex of the far side is seen ({} of {})", back.0, back.1);
        // A seen vertex's sightline runs from a camera to it.
        let (v, s) = mesh.vertices.iter().zip(&sight).find(|(v, _)| v.z < -0.45).unwrap();
        let from = cams.iter().any(|c| (v.as_dvec3() - c.pose.center).normalize().as_vec3().dot(s.unwrap()) > 0.9999);
        assert!(from, "{s:?} is not the direction from a camera to {v}");
    }

    /// A small sphere hidden behind a big one is unseen, although it lies inside the view.
    #[test]
    fn occluded_surface_is_unseen_and_the_most_head_on_camera_is_chosen() {
        let mut mesh = sphere(Vec3::ZERO, 0.5);
        mesh.append(&sphere(Vec3::new(0.0, 0.0, 0.8), 0.12));
        let straight = camera_at(DVec3::new(0.0, 0.0, -3.0), DVec3::ZERO);
        let slanted = camera_at(DVec3::new(-1.2, 0.0, -2.7), DVec3::ZERO);
        let sight = sightlines(&mesh, &[straight, slanted], 2.0 * 2.0 / 48.0);
        let hidden = mesh.vertices.iter().zip(&sight).filter(|(v, _)| v.z > 0.6);
        assert!(hidden.clone().count() > 0 && hidden.clone().all(|(_, s)| s.is_none()));
        // At the pole facing the straight camera, that camera is the more head-on one.
        let (v, s) = mesh.vertices.iter().zip(&sight).min_by(|a, b| a.0.z.total_cmp(&b.0.z)).unwrap();
        let to_v = (v.as_dvec3() - straight.pose.center).normalize().as_vec3();
        assert!(to_v.dot(s.unwrap()) > 0.9999, "{s:?} is not the straight camera's sightline {to_v}");
    }

    #[test]
    fn normals_face_outwards() {
        let mesh = sphere(Vec3::new(0.1, 0.0, 0.0), 0.5);
        let normals = mesh.vertex_normals();
        let worst = mesh
            .vertices
            .iter()
            .zip(&normals)
            .map(|(v, n)| (*v - Vec3::new(0.1, 0.0, 0.0)).normalize().dot(*n))
            .fold(1.0f32, f32::min);
        assert!(worst > 0.95, "{worst}");
    }
}
