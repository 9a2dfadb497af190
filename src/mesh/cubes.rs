//! Marching cubes: each grid cube's crossing of the level set comes from a case table over
//! its 256 sign patterns, with vertices on the zero crossing of each cut edge (linear in the
//! corner values), welded between cubes. The table is built at first use from one rule rather
//! than typed in: on every cube face the cut edges are joined so that the face's inside corners
//! stay apart (two diagonal inside corners are cut off one by one). Both cubes sharing a face
//! see the same four corners and so join them alike, which keeps the mesh watertight; the joins
//! chain into loops round the cube, and each loop is fanned into triangles from a corner whose
//! chords stay off the cube's faces (else from its centre), so that no edge borders more than
//! two triangles.

use crate::field::SdfEval;
use crate::geometry::Mesh;
use glam::Vec3;
use rayon::prelude::*;
use std::sync::LazyLock;

/// The twelve cube edges as corner pairs, corners by bits (x, y, z): four along each axis.
const EDGES: [[usize; 2]; 12] =
    [[0, 1], [2, 3], [4, 5], [6, 7], [0, 2], [1, 3], [4, 6], [5, 7], [0, 4], [1, 5], [2, 6], [3, 7]];

/// The six faces, each as its corners in order round it.
const FACES: [[usize; 4]; 6] = [[0, 2, 6, 4], [1, 3, 7, 5], [0, 1, 5, 4], [2, 3, 7, 6], [0, 1, 3, 2], [4, 5, 7, 6]];

/// The loops of every sign pattern, bit c set where corner c is inside.
static CASES: LazyLock<Vec<Vec<Polygon>>> = LazyLock::new(|| (0..256).map(case_polygons).collect());

/// One loop of cut edges round a cube, anticlockwise seen from outside the solid, and how it is
/// cut into triangles.
struct Polygon {
    ring: Vec<u8>,
    fan: Fan,
}

enum Fan {
    /// From this ring position: none of its chords joins two edges of one cube face.
    From(usize),
    /// From a vertex of the cube's own at the ring's centre. A chord within a face could be
    /// drawn by the neighbour across it too, and the edge would then border four triangles.
    Centre,
}

/// Whether two cube edges lie on one face.
fn share_a_face(a: usize, b: usize) -> bool {
    FACES.iter().any(|f| [a, b].iter().all(|&e| EDGES[e].iter().all(|c| f.contains(c))))
}

fn unit_corner(c: usize) -> Vec3 {
    Vec3::new((c & 1) as f32, ((c >> 1) & 1) as f32, ((c >> 2) & 1) as f32)
}

fn edge_between(a: usize, b: usize) -> usize {
    EDGES.iter().position(|e| *e == [a.min(b), a.max(b)]).expect("face corners are neighbours")
}

fn edge_middle(e: usize) -> Vec3 {
    (unit_corner(EDGES[e][0]) + unit_corner(EDGES[e][1])) * 0.5
}

/// One case: the joins on each face, directed so that the loops they chain into run
/// anticlockwise seen from outside the solid.
fn case_polygons(case: usize) -> Vec<Polygon> {
    let inside = |c: usize| (case >> c) & 1 == 1;
    let mut next = [usize::MAX; 12];
    for face in FACES {
        let outward = face.iter().map(|&c| unit_corner(c)).sum::<Vec3>() / 4.0 - Vec3::splat(0.5);
        let side = |k: usize| edge_between(face[k], face[(k + 1) % 4]);
        let cut: Vec<usize> = (0..4).filter(|&k| inside(face[k]) != inside(face[(k + 1) % 4])).collect();
        // (edge, edge, an inside corner on the inside of the join)
        let joins: Vec<(usize, usize, usize)> = match cut.len() {
            2 => {
                let corner = *face.iter().find(|&&c| inside(c)).expect("a cut face has an inside corner");
                vec![(side(cut[0]), side(cut[1]), corner)]
            }
            4 => (0..4).filter(|&k| inside(face[k])).map(|k| (side((k + 3) % 4), side(k), face[k])).collect(),
            _ => Vec::new(),
        };
        for (a, b, corner) in joins {
            let (pa, pb) = (edge_middle(a), edge_middle(b));
            let towards_inside = unit_corner(corner) - (pa + pb) * 0.5;
            let (from, to) = if (pb - pa).cross(outward).dot(towards_inside) > 0.0 { (a, b) } else { (b, a) };
            next[from] = to;
        }
    }
    let mut polygons = Vec::new();
    let mut done = [false; 12];
    for start in 0..12 {
        if next[start] == usize::MAX || done[start] {
            continue;
        }
        let mut ring = vec![start];
        done[start] = true;
        let mut e = next[start];
        while e != start {
            ring.push(e);
            done[e] = true;
            e = next[e];
        }
        let m = ring.len();
        let clean = |s: usize| (2..m - 1).all(|j| !share_a_face(ring[s], ring[(s + j) % m]));
        let fan = (0..m).find(|&s| clean(s)).map_or(Fan::Centre, Fan::From);
        polygons.push(Polygon { ring: ring.into_iter().map(|e| e as u8).collect(), fan });
    }
    polygons
}

/// The zero level set of `sdf` over [-1, 1]³ sampled at `res`³ cells; triangles face
/// increasing SDF (outwards for a solid with negative inside).
pub fn extract(res: usize, sdf: &(dyn Fn([f32; 3], &mut SdfEval) -> f32 + Sync)) -> Mesh {
    let n = res + 1;
    let values: Vec<f32> =
        (0..n * n * n).into_par_iter().map_init(SdfEval::default, |e, idx| sdf(corner(res, idx), e)).collect();
    from_values(res, &values)
}

/// Corner `i` of the `res`³-cell grid over [-1, 1]³ ((res + 1)³ corners, x fastest).
pub fn corner(res: usize, i: usize) -> [f32; 3] {
    let n = res + 1;
    let pos = |i: usize| -1.0 + 2.0 * i as f32 / res as f32;
    [pos(i % n), pos((i / n) % n), pos(i / (n * n))]
}

/// As [`extract`], from the SDF already sampled at every corner (`corner`).
pub fn from_values(res: usize, values: &[f32]) -> Mesh {
    let n = res + 1;
    let at = |i: usize| Vec3::from(corner(res, i));
    let edges = (n * n * n * 3) as u64;
    let on_edge = |key: u64| {
        let a = (key / 3) as usize;
        let b = a + [1, n, n * n][(key % 3) as usize];
        let (va, vb) = (values[a], values[b]);
        at(a).lerp(at(b), (va / (va - vb)).clamp(0.0, 1.0))
    };
    // Triangles as vertex keys, per z-slab in parallel, with the loop centres they make.
    let slabs: Vec<Slab> = (0..res)
        .into_par_iter()
        .map(|z| {
            let (mut tris, mut centres) = (Vec::new(), Vec::new());
            let cases = &*CASES;
            let inside = |i: usize| (values[i] < 0.0) as usize;
            // Per x along the row, the signs of its four corners across y and z (bits y + 2z),
            // so that each corner is read once per row and most cubes, wholly in or out, cost
            // two lookups.
            let mut column = vec![0usize; n];
            let spread = |m: usize| (m & 1) | (m & 2) << 1 | (m & 4) << 2 | (m & 8) << 3;
            for y in 0..res {
                for (x, signs) in column.iter_mut().enumerate() {
                    let i = x + n * (y + n * z);
                    *signs = inside(i) | inside(i + n) << 1 | inside(i + n * n) << 2 | inside(i + n + n * n) << 3;
                }
                for x in 0..res {
                    let case = spread(column[x]) | spread(column[x + 1]) << 1;
                    if case == 0 || case == 255 {
                        continue;
                    }
                    let ids: [usize; 8] =
                        std::array::from_fn(|c| (x + (c & 1)) + n * ((y + ((c >> 1) & 1)) + n * (z + (c >> 2))));
                    let key = |e: u8| {
                        let [a, b] = EDGES[e as usize];
                        (ids[a] * 3 + (a ^ b).trailing_zeros() as usize) as u64
                    };
                    for (k, poly) in cases[case].iter().enumerate() {
                        let (r, m) = (&poly.ring, poly.ring.len());
                        match poly.fan {
                            Fan::From(s) => {
                                tris.extend((1..m - 1).map(|j| [r[s], r[(s + j) % m], r[(s + j + 1) % m]].map(key)))
                            }
                            Fan::Centre => {
                                // Past every edge's key: the cube's first corner and the loop.
                                let c = edges + (ids[0] * 4 + k) as u64;
                                centres.push((c, r.iter().map(|&e| on_edge(key(e))).sum::<Vec3>() / m as f32));
                                tris.extend((0..m).map(|j| [c, key(r[j]), key(r[(j + 1) % m])]));
                            }
                        }
                    }
                }
            }
            (tris, centres)
        })
        .collect();
    let keys: Vec<u64> = slabs.iter().flat_map(|(t, _)| t.iter().flatten().copied()).collect();
    let mut centres: Vec<(u64, Vec3)> = slabs.into_iter().flat_map(|(_, c)| c).collect();
    centres.sort_unstable_by_key(|c| c.0);
    // Welded by sorting the corners' keys: each vertex once, in grid order whatever the threads did.
    let mut order: Vec<(u64, u32)> = keys.par_iter().enumerate().map(|(slot, &k)| (k, slot as u32)).collect();
    order.par_sort_unstable();
    let (mut index, mut unique) = (vec![0u32; keys.len()], Vec::new());
    for &(k, slot) in &order {
        if unique.last() != Some(&k) {
            unique.push(k);
        }
        index[slot as usize] = (unique.len() - 1) as u32;
    }
    let vertices = unique
        .par_iter()
        .map(|&k| if k < edges { on_edge(k) } else { centres[centres.partition_point(|c| c.0 < k)].1 })
        .collect();
    let triangles = index.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect();
    Mesh { vertices, colors: Vec::new(), triangles }
}

/// A z-slab's triangles, their vertices by key (a grid edge's first corner and axis, or past
/// all of those, a loop's centre), and the loop centres they use, with their positions.
type Slab = (Vec<[u64; 3]>, Vec<(u64, Vec3)>);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every directed edge once, and its reverse once: closed and consistently oriented.
    fn assert_closed_and_oriented(mesh: &Mesh) {
        let mut directed: std::collections::HashMap<(u32, u32), u32> = Default::default();
        for t in &mesh.triangles {
            for k in 0..3 {
                *directed.entry((t[k], t[(k + 1) % 3])).or_default() += 1;
            }
        }
        for (&(a, b), &count) in &directed {
            assert_eq!(count, 1, "edge {a}-{b} used {count} times one way");
            assert_eq!(directed.get(&(b, a)), Some(&1), "edge {a}-{b} has no twin");
        }
    }

    #[test]
    fn every_case_closes_its_loops() {
        // A lone cube per case, padded by outside corners: each must give a closed surface
        // whose volume has the sign of the solid (positive when faces point outwards).
        for case in 1..255usize {
            let mut values = vec![1.0f32; 4 * 4 * 4];
            for c in 0..8 {
                if (case >> c) & 1 == 1 {
                    values[(1 + (c & 1)) + 4 * ((1 + ((c >> 1) & 1)) + 4 * (1 + (c >> 2)))] = -1.0;
                }
            }
            let mesh = from_values(3, &values);
            assert!(!mesh.triangles.is_empty(), "case {case:08b} gave nothing");
            assert_closed_and_oriented(&mesh);
            assert!(mesh.volume() > 0.0, "case {case:08b} faces inwards");
        }
    }

    #[test]
    fn noise_gives_a_closed_oriented_surface() {
        // Random signs inside, outside at the border: every ambiguous face turns up.
        let res = 12;
        let n = res + 1;
        let mut state = 0x2545f491u32;
        let values: Vec<f32> = (0..n * n * n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let (x, y, z) = (i % n, (i / n) % n, i / (n * n));
                let border = [x, y, z].iter().any(|&c| c == 0 || c == res);
                if border { 1.0 } else { (state % 1000) as f32 / 500.0 - 1.0 }
            })
            .collect();
        let mesh = from_values(res, &values);
        assert!(mesh.triangles.len() > 500);
        assert_closed_and_oriented(&mesh);
    }

    #[test]
    fn sphere_has_the_right_area_and_faces_out() {
        let r = 0.6f32;
        let mesh = extract(48, &|x, _| Vec3::from(x).length() - r);
        let area = mesh.area();
        let expect = 4.0 * std::f32::consts::PI * r * r;
        assert!((area - expect).abs() / expect < 0.03, "area {area} vs {expect}");
        for v in &mesh.vertices {
            assert!((v.length() - r).abs() < 0.01);
        }
        let ball = 4.0 / 3.0 * std::f32::consts::PI * r.powi(3);
        let vol = mesh.volume();
        assert!((vol - ball).abs() / ball < 0.03, "volume {vol} vs {ball}");
        assert_closed_and_oriented(&mesh);
        // About three triangles per cell face of smooth surface (two per cube cut, about one and
        // a half cubes cut per cell face of area); loop centres would add more.
        let cell_faces = mesh.area() / (2.0 / 48.0f32).powi(2);
        assert!((mesh.triangles.len() as f32) < 3.2 * cell_faces, "{} triangles", mesh.triangles.len());
        assert_eq!(mesh.vertices.len(), mesh.triangles.len() / 2 + 2, "a sphere's Euler characteristic");
    }
}
