//! Surfaces out of the field: the zero level set on a grid (marching tetrahedra), small
//! floating pieces removed, vertex colours from the radiance field.

mod components;
mod tetra;

pub use components::keep_large_components;
pub use tetra::{extract, from_values};

use crate::compute::cpu::sh;
use crate::field::{ColorEval, Field, Params, SurfaceSample};
use crate::io::ply::Mesh;
use crate::train::Trainer;
use rayon::prelude::*;

/// The trained surface in the input's frame, with vertex colours seen head-on.
pub fn from_trainer(t: &Trainer, resolution: usize) -> Mesh {
    let active = t.active_levels();
    let (field, params) = (&t.field, &t.params);
    // Outside the unit sphere nothing was observed: treat it as empty space for objects and
    // as solid for rooms, so that no surface is made up there.
    let outside = field.cfg.orientation;
    let inside = |x: [f32; 3]| x[0] * x[0] + x[1] * x[1] + x[2] * x[2] <= 1.0;
    let sdf =
        |x: [f32; 3], e: &mut crate::field::SdfEval| if inside(x) { field.sdf(params, x, active, e) } else { outside };
    let mut mesh = match gpu_values(t, resolution) {
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
    mesh = keep_large_components(&mesh, 0.02);
    mesh.colors = vertex_colors(field, params, &mesh, active, t.render_settings().fd_h);
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

fn vertex_colors(field: &Field, p: &Params, mesh: &Mesh, active: usize, h: f32) -> Vec<[u8; 3]> {
    mesh.vertices
        .par_iter()
        .map_init(
            || (SurfaceSample::default(), ColorEval::default()),
            |(s, c), v| {
                field.surface(p, v.to_array(), h, active, s);
                let n = glam::Vec3::from(s.grad).normalize_or_zero();
                let mut dir = [0.0; sh::COEFFS];
                sh::encode((-n).to_array(), &mut dir);
                field.color(p, s.grad, &dir, &s.feat, c);
                c.rgb.map(|x| (x.clamp(0.0, 1.0) * 255.0).round() as u8)
            },
        )
        .collect()
}
