//! Closing a mesh's holes: each loop of border edges gets a cap fanned from its centre. Where
//! the surface no camera saw was cut off (the underside of an object on a table), the rim that
//! is left is where the seen surface ends, and the cap across it is the tightest closure it
//! allows: flat for a flat rim.

use crate::geometry::Mesh;
use glam::Vec3;
use std::collections::HashMap;

/// `mesh` with every hole capped; a cap's centre vertex takes the mean colour of its rim.
pub fn close(mesh: &Mesh) -> Mesh {
    let mut twins: HashMap<(u32, u32), u32> = HashMap::new();
    for t in &mesh.triangles {
        for k in 0..3 {
            *twins.entry((t[k], t[(k + 1) % 3])).or_default() += 1;
        }
    }
    // Border edges, as their triangle runs them, by the vertex each starts at.
    let mut next: HashMap<u32, Vec<u32>> = HashMap::new();
    for &(a, b) in twins.keys() {
        if !twins.contains_key(&(b, a)) {
            next.entry(a).or_default().push(b);
        }
    }
    // In one order whatever the map's, so that a rim pinched through a vertex closes alike
    // every time.
    next.values_mut().for_each(|ends| ends.sort_unstable());
    let mut out = mesh.clone();
    let colored = mesh.colors.len() == mesh.vertices.len();
    let mut starts: Vec<u32> = next.keys().copied().collect();
    starts.sort_unstable();
    for start in starts {
        let Some(ring) = walk(&mut next, start, mesh.triangles.len()) else { continue };
        if ring.len() == 3 {
            out.triangles.push([ring[2], ring[1], ring[0]]);
            continue;
        }
        let centre = ring.iter().map(|&v| mesh.vertices[v as usize]).sum::<Vec3>() / ring.len() as f32;
        let c = out.vertices.len() as u32;
        out.vertices.push(centre);
        if colored {
            let sum = ring.iter().fold([0u32; 3], |s, &v| {
                let col = mesh.colors[v as usize];
                [s[0] + col[0] as u32, s[1] + col[1] as u32, s[2] + col[2] as u32]
            });
            out.colors.push(sum.map(|x| (x / ring.len() as u32) as u8));
        }
        // Reversed, so each border edge meets its twin and the cap faces the same way.
        for i in 0..ring.len() {
            out.triangles.push([c, ring[(i + 1) % ring.len()], ring[i]]);
        }
    }
    out
}

/// The loop of border edges from `start`, taking the edges it uses; None when it does not
/// come back (a border that pinches through one vertex more than once may not).
fn walk(next: &mut HashMap<u32, Vec<u32>>, start: u32, limit: usize) -> Option<Vec<u32>> {
    let mut ring = vec![start];
    let mut v = start;
    loop {
        let b = next.get_mut(&v)?.pop()?;
        if b == start {
            return (ring.len() >= 3).then_some(ring);
        }
        ring.push(b);
        v = b;
        if ring.len() > limit {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cube's five faces (no bottom), two triangles each, facing out.
    fn open_box() -> Mesh {
        let v = |x: f32, y: f32, z: f32| Vec3::new(x, y, z);
        let vertices = vec![
            v(0., 0., 0.),
            v(1., 0., 0.),
            v(1., 1., 0.),
            v(0., 1., 0.),
            v(0., 0., 1.),
            v(1., 0., 1.),
            v(1., 1., 1.),
            v(0., 1., 1.),
        ];
        let quads = [[4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]];
        let triangles = quads.iter().flat_map(|q| [[q[0], q[1], q[2]], [q[0], q[2], q[3]]]).collect();
        Mesh { vertices, colors: vec![[10, 20, 30]; 8], triangles }
    }

    #[test]
    fn a_missing_face_is_capped_flat_and_the_box_closes() {
        let closed = close(&open_box());
        assert_eq!(closed.triangles.len(), 10 + 4);
        let centre = *closed.vertices.last().unwrap();
        assert_eq!(centre, Vec3::new(0.5, 0.5, 0.0));
        assert_eq!(closed.colors.last(), Some(&[10, 20, 30]));
        assert!((closed.volume() - 1.0).abs() < 1e-6, "volume {}", closed.volume());
        // Closed: every directed edge has its twin, so closing again adds nothing.
        assert_eq!(close(&closed).triangles.len(), closed.triangles.len());
    }

    #[test]
    fn a_triangular_hole_gets_one_triangle() {
        let mut tetra = Mesh {
            vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y, Vec3::Z],
            colors: Vec::new(),
            triangles: vec![[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]],
        };
        let whole = tetra.volume();
        tetra.triangles.remove(0);
        let closed = close(&tetra);
        assert_eq!((closed.vertices.len(), closed.triangles.len()), (4, 4));
        assert!((closed.volume() - whole).abs() < 1e-7);
    }
}
