//! Fewer triangles for the same surface: meshoptimizer's edge collapses, each chosen by the
//! quadric error it adds, stop at a distance bound from the extracted surface or at a triangle
//! budget. Marching cubes spends triangles evenly over the grid; flat and gently curved parts
//! need far fewer than creases.

use crate::geometry::Mesh;
use meshopt::SimplifyOptions;
use std::collections::HashMap;

/// The fewest triangles a budget may ask for: below it a closed object is no longer its shape.
pub const MIN_TRIANGLES: usize = 100;

/// How far the simplified surface may stray from the extracted one, in grid cells (as
/// meshoptimizer's quadrics estimate the distance): well under marching cubes' own error, so
/// that simplification costs no accuracy.
pub const ERROR_CELLS: f32 = 0.2;

/// What bounds the simplification.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// At most this distance from the input surface (in its units).
    Error(f32),
    /// As near this many triangles as the surface's topology allows (never below it).
    Triangles(usize),
}

/// `mesh` with fewer triangles and only the vertices they use (colours kept per vertex); it
/// never gains triangles.
pub fn simplify(mesh: &Mesh, budget: Budget) -> Mesh {
    if mesh.triangles.is_empty() {
        return mesh.clone();
    }
    let indices: Vec<u32> = mesh.triangles.iter().flatten().copied().collect();
    let positions: Vec<[f32; 3]> = mesh.vertices.iter().map(|v| v.to_array()).collect();
    let kept = match budget {
        Budget::Error(e) => meshopt::simplify_decoder(&indices, &positions, 0, e, SimplifyOptions::ErrorAbsolute, None),
        // An error bound of the whole mesh's size: only the budget stops it.
        Budget::Triangles(n) => {
            meshopt::simplify_decoder(&indices, &positions, 3 * n, 1.0, SimplifyOptions::None, None)
        }
    };
    let triangles: Vec<[u32; 3]> = kept.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect();
    // Collapses can fold a thin part flat into two triangles on the same three vertices, whose
    // edges then border four triangles: the pair encloses nothing and goes.
    let mut uses: HashMap<[u32; 3], u32> = HashMap::new();
    let corners = |t: &[u32; 3]| {
        let mut c = *t;
        c.sort_unstable();
        c
    };
    for t in &triangles {
        *uses.entry(corners(t)).or_default() += 1;
    }
    Mesh { triangles, ..mesh.clone() }.subset(|_, t| uses[&corners(t)] == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec3;

    fn sphere(res: usize, r: f32) -> Mesh {
        super::super::extract(res, &|x, _| Vec3::from(x).length() - r)
    }

    /// Largest distance of `mesh`'s vertices and triangle centres from the sphere of radius r.
    fn off_sphere(mesh: &Mesh, r: f32) -> f32 {
        let centres = mesh.triangles.iter().map(|t| t.iter().map(|&i| mesh.vertices[i as usize]).sum::<Vec3>() / 3.0);
        mesh.vertices.iter().copied().chain(centres).map(|p| (p.length() - r).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn an_error_bound_keeps_the_surface_within_it() {
        let r = 0.6;
        let res = 64;
        let mesh = sphere(res, r);
        let cell = 2.0 / res as f32;
        let out = simplify(&mesh, Budget::Error(ERROR_CELLS * cell));
        assert!(out.triangles.len() * 2 < mesh.triangles.len(), "{} of {}", out.triangles.len(), mesh.triangles.len());
        // meshoptimizer's error is its quadrics' estimate of the distance, not a strict bound,
        // and a triangle's centre sags inwards by its chord's depth: half a cell at most.
        assert!(off_sphere(&out, r) < 0.5 * cell, "{} vs cell {cell}", off_sphere(&out, r));
        let area = |m: &Mesh| m.area();
        assert!((area(&out) - area(&mesh)).abs() / area(&mesh) < 0.01);
        assert_eq!(out.vertices.len(), out.triangles.iter().flatten().collect::<std::collections::HashSet<_>>().len());
    }

    #[test]
    fn a_budget_is_met_and_colours_follow_their_vertices() {
        let mut mesh = sphere(48, 0.5);
        mesh.colors = mesh.vertices.iter().map(|v| [(v.x > 0.0) as u8 * 255, 0, 0]).collect();
        let out = simplify(&mesh, Budget::Triangles(2000));
        assert!((1000..=2000).contains(&out.triangles.len()), "{}", out.triangles.len());
        assert_eq!(out.colors.len(), out.vertices.len());
        for (v, c) in out.vertices.iter().zip(&out.colors) {
            assert_eq!(c[0] == 255, v.x > 0.0);
        }
        // Still a closed ball: the volume shrinks only by the coarser chords.
        let volume = out.volume();
        let ball = 4.0 / 3.0 * std::f32::consts::PI * 0.125;
        assert!(volume > 0.97 * ball && volume < 1.001 * ball, "{volume} vs {ball}");
        assert!(simplify(&Mesh::default(), Budget::Triangles(MIN_TRIANGLES)).triangles.is_empty());
    }

    #[test]
    fn a_part_folded_flat_is_removed() {
        let mut mesh = sphere(16, 0.5);
        let n = mesh.triangles.len();
        let base = mesh.vertices.len() as u32;
        mesh.vertices.extend([Vec3::new(2.0, 0.0, 0.0), Vec3::new(2.0, 1.0, 0.0), Vec3::new(2.0, 0.0, 1.0)]);
        mesh.triangles.extend([[base, base + 1, base + 2], [base, base + 2, base + 1]]);
        let out = simplify(&mesh, Budget::Error(0.0));
        assert!(out.triangles.len() <= n && out.vertices.iter().all(|v| v.x < 1.0), "{}", out.triangles.len());
    }
}
