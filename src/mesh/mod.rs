//! Surfaces out of the field: the zero level set on a grid (marching tetrahedra), small
//! floating pieces removed, surface no camera saw dropped where it is guesswork, vertex
//! colours from the radiance field as the cameras saw them.

mod components;
pub mod raster;
mod tetra;
mod visibility;

pub use components::keep_large_components;
pub use tetra::{extract, from_values};

use crate::compute::cpu::sh;
use crate::field::{ColorEval, Field, Params, SurfaceSample};
use crate::geometry::rig::Layout;
use crate::geometry::{Camera, Pose};
use crate::io::mesh::Mesh;
use crate::train::Trainer;
use crate::train::render::rgb_bytes;
use glam::Vec3;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// What becomes of surface that no training camera saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Unseen {
    /// Keep it: a closed surface (the underside of an object is a plausible guess).
    Keep,
    /// Drop it: only surface some photo showed (the back and sides of a forward-facing
    /// capture's relief are made up).
    Drop,
}

impl Unseen {
    /// Objects stay closed; forward-facing captures and rooms keep what the cameras saw.
    pub fn for_layout(layout: Layout) -> Unseen {
        match layout {
            Layout::Object => Unseen::Keep,
            Layout::Room | Layout::Forward => Unseen::Drop,
        }
    }
}

/// Extraction cells a vertex may lie behind the surface a camera sees and still count as seen.
const SEEN_TOLERANCE_CELLS: f64 = 2.0;

/// The trained surface's zero level set in the normalised frame, at `resolution` cells across,
/// without pieces smaller than 2 % of the largest.
pub fn surface(t: &Trainer, resolution: usize) -> Mesh {
    let active = t.active_levels();
    let (field, params) = (&t.field, &t.params);
    // Outside the unit sphere nothing was observed: treat it as empty space for objects and
    // as solid for rooms, so that no surface is made up there.
    let outside = field.cfg.orientation;
    let inside = |x: [f32; 3]| x[0] * x[0] + x[1] * x[1] + x[2] * x[2] <= 1.0;
    let sdf =
        |x: [f32; 3], e: &mut crate::field::SdfEval| if inside(x) { field.sdf(params, x, active, e) } else { outside };
    let mesh = match gpu_values(t, resolution) {
        Some(mut values) => {
            for (i, v) in values.iter_mut().enumerate() {
                if !inside(tetra::corner(resolution, i)) {
                    *v = outside;
                }
            }
            from_values(resolution, &values)
        }
        None => extract(resolution, &sdf),
    };
    keep_large_components(&mesh, 0.02)
}

/// The trained surface in the input's frame, with vertex colours as the camera that saw each
/// vertex most head-on saw it (head-on where none did). `unseen`: None follows the layout.
pub fn from_trainer(t: &Trainer, resolution: usize, unseen: Option<Unseen>) -> Mesh {
    let active = t.active_levels();
    let (field, params) = (&t.field, &t.params);
    let mut mesh = surface(t, resolution);
    // The cameras in the normalised frame the mesh is still in.
    let cameras: Vec<Camera> = t
        .cameras()
        .iter()
        .map(|c| Camera {
            intrinsics: c.intrinsics,
            pose: Pose::new(c.pose.rotation, t.norm.to_normalized(c.pose.center).map(f64::from).into()),
        })
        .collect();
    let sight = visibility::sightlines(&mesh, &cameras, SEEN_TOLERANCE_CELLS * 2.0 / resolution as f64);
    mesh.colors = gpu_colors(t, &mesh, &sight)
        .unwrap_or_else(|| vertex_colors(field, params, &mesh, &sight, active, t.render_settings().fd_h));
    if !cameras.is_empty() && unseen.unwrap_or(Unseen::for_layout(t.layout)) == Unseen::Drop {
        mesh = mesh.subset(|_, tri| tri.iter().any(|&v| sight[v as usize].is_some()));
        mesh = keep_large_components(&mesh, 0.02);
    }
    for v in &mut mesh.vertices {
        *v = t.norm.to_world(v.to_array()).as_vec3();
    }
    mesh
}

/// The SDF at every grid corner from the CUDA device, when training runs there (a few
/// million points at a time).
fn gpu_values(t: &Trainer, resolution: usize) -> Option<Vec<f32>> {
    t.cuda_device()?;
    let corners = (resolution + 1).pow(3);
    let mut values = Vec::with_capacity(corners);
    for start in (0..corners).step_by(1 << 22) {
        let points: Vec<f32> =
            (start..(start + (1 << 22)).min(corners)).flat_map(|i| tetra::corner(resolution, i)).collect();
        values.extend(t.sdf_cuda(&points)?);
    }
    Some(values)
}

/// `vertex_colors` on the CUDA device, when training runs there (a million vertices at a time).
fn gpu_colors(t: &Trainer, mesh: &Mesh, sight: &[Option<Vec3>]) -> Option<Vec<[u8; 3]>> {
    t.cuda_device()?;
    let mut colors = Vec::with_capacity(mesh.vertices.len());
    for (vs, ss) in mesh.vertices.chunks(1 << 20).zip(sight.chunks(1 << 20)) {
        let points: Vec<f32> = vs.iter().flat_map(|v| v.to_array()).collect();
        let looks: Vec<f32> = ss.iter().flat_map(|s| s.unwrap_or(Vec3::ZERO).to_array()).collect();
        let rgb = t.colors_cuda(&points, &looks)?;
        colors.extend(rgb.chunks_exact(3).map(|c| rgb_bytes([c[0], c[1], c[2]])));
    }
    Some(colors)
}

/// The radiance field's colour at each vertex, looking along its sightline (head-on without one).
fn vertex_colors(
    field: &Field,
    p: &Params,
    mesh: &Mesh,
    sight: &[Option<Vec3>],
    active: usize,
    h: f32,
) -> Vec<[u8; 3]> {
    mesh.vertices
        .par_iter()
        .zip(sight.par_iter())
        .map_init(
            || (SurfaceSample::default(), ColorEval::default()),
            |(s, c), (v, sight)| {
                field.surface(p, v.to_array(), h, active, s);
                let look = sight.unwrap_or_else(|| -Vec3::from(s.grad).normalize_or_zero());
                let mut dir = [0.0; sh::COEFFS];
                sh::encode(look.to_array(), &mut dir);
                field.color(p, s.grad, &dir, &s.feat, c);
                rgb_bytes(c.rgb)
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FieldConfig;
    use crate::geometry::Intrinsics;
    use crate::train::{Preset, TrainConfig, data::Normalization};
    use glam::DVec3;

    /// The untrained field (a sphere) of a forward-facing capture, seen from cameras on one
    /// side: its mesh keeps the side they saw, in the input frame, unless asked to keep all.
    #[test]
    fn forward_captures_drop_what_no_camera_saw() {
        let mut cfg = TrainConfig::preset(Preset::Fast);
        cfg.grid = FieldConfig::tiny().grid;
        cfg.hidden = FieldConfig::tiny().hidden;
        let field = Field::new(FieldConfig::tiny());
        let params = field.init_params(3);
        let norm = Normalization { center: [1.0, 2.0, 3.0], scale: 0.5 };
        let center = DVec3::new(1.0, 2.0, 3.0);
        let mut t = Trainer::from_state(cfg, Layout::Forward, norm, field, params, None, None, 0, Vec::new());
        t.recorded_cameras = [-0.2, 0.0, 0.2]
            .iter()
            .map(|&x| Camera {
                intrinsics: Intrinsics::centered(120, 90, 100.0),
                pose: Pose::look_at(center + DVec3::new(x, 0.0, -1.5), center, DVec3::Y),
            })
            .collect();
        let all = from_trainer(&t, 48, Some(Unseen::Keep));
        let seen = from_trainer(&t, 48, None);
        assert!(
            seen.triangles.len() < all.triangles.len() * 6 / 10,
            "{} of {}",
            seen.triangles.len(),
            all.triangles.len()
        );
        assert!(
            seen.triangles.len() > all.triangles.len() * 3 / 10,
            "{} of {}",
            seen.triangles.len(),
            all.triangles.len()
        );
        // Every kept vertex lies on the cameras' side of the sphere (radius 0.25 here).
        let far = seen.vertices.iter().map(|v| v.z - 3.0).fold(f32::MIN, f32::max);
        assert!(far < 0.1, "a kept vertex lies {far} behind the sphere's centre");
        assert_eq!(seen.colors.len(), seen.vertices.len());
        // An empty mesh is explained to the user; a mesh with surface needs no note.
        assert!(crate::train::outputs::empty_mesh_note(&t, seen.triangles.len()).is_none());
        assert!(crate::train::outputs::empty_mesh_note(&t, 0).is_some_and(|n| n.contains("sharpness")));
    }
}
