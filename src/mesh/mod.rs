//! Surfaces out of the field: the zero level set on a grid (marching cubes) within the
//! photos' visual hull where they have masks, small floating pieces removed, surface no camera
//! saw dropped where it is guesswork, vertex colours from the radiance field as the cameras saw
//! them, then simplified to what the shape needs.

pub mod bench;
mod components;
mod cubes;
mod holes;
mod hull;
pub mod raster;
mod simplify;
mod visibility;

pub use components::keep_large_components;
pub use cubes::{corner, extract, from_values};
pub use hull::Silhouette;
pub use simplify::{Budget, ERROR_CELLS, MIN_TRIANGLES, simplify};

use crate::backend::Queries;
use crate::geometry::rig::Layout;
use crate::geometry::{Camera, Mesh};
use crate::render::rgb_bytes;
use glam::Vec3;
use serde::{Deserialize, Serialize};

/// What becomes of surface that no training camera saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Unseen {
    /// Keep it: a closed surface (the underside of an object is a plausible guess).
    Keep,
    /// Drop it: only surface some photo showed (the back and sides of a forward-facing
    /// capture's relief are made up).
    Drop,
    /// Drop it and cap the holes it leaves: the tightest closed surface the photos allow (an
    /// object on a table or a turntable closes flat underneath instead of bulging).
    Close,
}

impl Unseen {
    /// Objects stay closed; forward-facing captures and rooms keep what the cameras saw.
    pub fn for_layout(layout: Layout) -> Unseen {
        match layout {
            Layout::Object => Unseen::Close,
            Layout::Room | Layout::Forward => Unseen::Drop,
        }
    }
}

/// Extraction cells a vertex may lie behind the surface a camera sees and still count as seen.
const SEEN_TOLERANCE_CELLS: f64 = 2.0;

/// Points queried from the backend at a time (a few million: the device's buffers for them
/// stay small).
const QUERY_CHUNK: usize = 1 << 22;

/// The trained surface's zero level set in the normalised frame, at `resolution` cells across,
/// within the visual hull of the `photos` (cameras in that frame), without pieces smaller than
/// 2 % of the largest.
pub fn surface(q: &Queries<'_>, photos: &[(Camera, &Silhouette)], resolution: usize) -> Mesh {
    // Outside the unit sphere nothing was observed: treat it as empty space for objects and
    // as solid for rooms, so that no surface is made up there.
    let outside = q.model.field.cfg.orientation;
    let inside = |x: [f32; 3]| x[0] * x[0] + x[1] * x[1] + x[2] * x[2] <= 1.0;
    let corners = (resolution + 1).pow(3);
    let mut values = vec![outside; corners];
    let mut start = 0;
    while start < corners {
        // The next chunk of corners inside the sphere, queried together.
        let mut ids = Vec::with_capacity(QUERY_CHUNK);
        let mut points = Vec::with_capacity(QUERY_CHUNK);
        while start < corners && points.len() < QUERY_CHUNK {
            let x = corner(resolution, start);
            if inside(x) {
                ids.push(start);
                points.push(x);
            }
            start += 1;
        }
        let mut sdf = q.sdf(&points);
        hull::carve(&points, &mut sdf, photos, 2.0 / resolution as f32);
        for (i, v) in ids.into_iter().zip(sdf) {
            values[i] = v;
        }
    }
    keep_large_components(&from_values(resolution, &values), 0.02)
}

/// A triangle budget as the command line gives it: a count of at least [`MIN_TRIANGLES`].
pub fn parse_triangles(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a triangle count"))?;
    if n < MIN_TRIANGLES {
        return Err(format!("{n} triangles cannot hold a surface: ask for at least {MIN_TRIANGLES}"));
    }
    Ok(n)
}

/// The trained surface in the normalised frame the `cameras` are given in, within the visual
/// hull of the `photos`, with vertex colours as the camera that saw each vertex most head-on
/// saw it (head-on where none did); what no camera saw kept, dropped or closed (`unseen`);
/// simplified within a fraction of a cell of the extracted surface and then, when it has more,
/// to `triangles`.
pub fn colored(
    q: &Queries<'_>,
    cameras: &[Camera],
    photos: &[(Camera, &Silhouette)],
    resolution: usize,
    triangles: Option<usize>,
    unseen: Unseen,
) -> Mesh {
    let mut mesh = surface(q, photos, resolution);
    let sight = visibility::sightlines(&mesh, cameras, SEEN_TOLERANCE_CELLS * 2.0 / resolution as f64);
    let mut colors = Vec::with_capacity(mesh.vertices.len());
    for (vs, ss) in mesh.vertices.chunks(QUERY_CHUNK).zip(sight.chunks(QUERY_CHUNK)) {
        let points: Vec<[f32; 3]> = vs.iter().map(|v| v.to_array()).collect();
        let looks: Vec<[f32; 3]> = ss.iter().map(|s| s.unwrap_or(Vec3::ZERO).to_array()).collect();
        colors.extend(q.colors(&points, &looks).into_iter().map(rgb_bytes));
    }
    mesh.colors = colors;
    if !cameras.is_empty() && unseen != Unseen::Keep {
        mesh = mesh.subset(|_, tri| tri.iter().any(|&v| sight[v as usize].is_some()));
        mesh = keep_large_components(&mesh, 0.02);
        if unseen == Unseen::Close {
            mesh = holes::close(&mesh);
        }
    }
    // Last, so that what is dropped is cut at full resolution; the vertices keep their colours.
    let cell = 2.0 / resolution as f32;
    mesh = simplify(&mesh, Budget::Error(ERROR_CELLS * cell));
    if let Some(n) = triangles
        && mesh.triangles.len() > n
    {
        mesh = simplify(&mesh, Budget::Triangles(n));
    }
    mesh
}
