//! Surfaces out of the field: the zero level set on a grid (marching tetrahedra), small
//! floating pieces removed, surface no camera saw dropped where it is guesswork, vertex
//! colours from the radiance field as the cameras saw them.

mod components;
pub mod raster;
mod tetra;
mod visibility;

pub use components::keep_large_components;
pub use tetra::{extract, from_values};

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

/// Points queried from the backend at a time (a few million: the device's buffers for them
/// stay small).
const QUERY_CHUNK: usize = 1 << 22;

/// The trained surface's zero level set in the normalised frame, at `resolution` cells across,
/// without pieces smaller than 2 % of the largest.
pub fn surface(q: &Queries<'_>, resolution: usize) -> Mesh {
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
            let x = tetra::corner(resolution, start);
            if inside(x) {
                ids.push(start);
                points.push(x);
            }
            start += 1;
        }
        for (i, v) in ids.into_iter().zip(q.sdf(&points)) {
            values[i] = v;
        }
    }
    keep_large_components(&from_values(resolution, &values), 0.02)
}

/// The trained surface in the normalised frame the `cameras` are given in, with vertex colours
/// as the camera that saw each vertex most head-on saw it (head-on where none did); with
/// `drop_unseen`, without the surface no camera saw.
pub fn colored(q: &Queries<'_>, cameras: &[Camera], resolution: usize, drop_unseen: bool) -> Mesh {
    let mut mesh = surface(q, resolution);
    let sight = visibility::sightlines(&mesh, cameras, SEEN_TOLERANCE_CELLS * 2.0 / resolution as f64);
    let mut colors = Vec::with_capacity(mesh.vertices.len());
    for (vs, ss) in mesh.vertices.chunks(QUERY_CHUNK).zip(sight.chunks(QUERY_CHUNK)) {
        let points: Vec<[f32; 3]> = vs.iter().map(|v| v.to_array()).collect();
        let looks: Vec<[f32; 3]> = ss.iter().map(|s| s.unwrap_or(Vec3::ZERO).to_array()).collect();
        colors.extend(q.colors(&points, &looks).into_iter().map(rgb_bytes));
    }
    mesh.colors = colors;
    if !cameras.is_empty() && drop_unseen {
        mesh = mesh.subset(|_, tri| tri.iter().any(|&v| sight[v as usize].is_some()));
        mesh = keep_large_components(&mesh, 0.02);
    }
    mesh
}
