//! Triangle meshes: what surface extraction makes, scenes are made of and exports write.

use glam::Vec3;

#[derive(Clone, Debug, Default)]
pub struct Mesh {
    pub vertices: Vec<Vec3>,
    /// One sRGB colour per vertex, or empty.
    pub colors: Vec<[u8; 3]>,
    pub triangles: Vec<[u32; 3]>,
}

impl Mesh {
    /// Appends another mesh, renumbering its triangles.
    pub fn append(&mut self, other: &Mesh) {
        let base = self.vertices.len() as u32;
        self.vertices.extend_from_slice(&other.vertices);
        self.colors.extend_from_slice(&other.colors);
        self.triangles.extend(other.triangles.iter().map(|t| t.map(|i| i + base)));
    }

    /// The triangles that `keep` accepts, with the vertices (and colours) they use.
    pub fn subset(&self, keep: impl Fn(usize, &[u32; 3]) -> bool) -> Mesh {
        let mut remap = vec![u32::MAX; self.vertices.len()];
        let mut out = Mesh::default();
        for (i, t) in self.triangles.iter().enumerate() {
            if !keep(i, t) {
                continue;
            }
            let nt = t.map(|v| {
                if remap[v as usize] == u32::MAX {
                    remap[v as usize] = out.vertices.len() as u32;
                    out.vertices.push(self.vertices[v as usize]);
                    if let Some(c) = self.colors.get(v as usize) {
                        out.colors.push(*c);
                    }
                }
                remap[v as usize]
            });
            out.triangles.push(nt);
        }
        out
    }

    /// Area-weighted vertex normals, facing where the triangles face (+Z for a vertex no
    /// triangle with area uses).
    pub fn vertex_normals(&self) -> Vec<Vec3> {
        let mut normals = vec![Vec3::ZERO; self.vertices.len()];
        for t in &self.triangles {
            let [a, b, c] = t.map(|i| self.vertices[i as usize]);
            let n = (b - a).cross(c - a);
            for &i in t {
                normals[i as usize] += n;
            }
        }
        normals.iter().map(|n| n.normalize_or(Vec3::Z)).collect()
    }

    /// The volume a closed mesh encloses, positive when its triangles face outwards.
    pub fn volume(&self) -> f32 {
        let tet = |t: &[u32; 3]| {
            let [a, b, c] = t.map(|i| self.vertices[i as usize]);
            a.dot(b.cross(c)) / 6.0
        };
        self.triangles.iter().map(tet).sum()
    }

    pub fn area(&self) -> f32 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| self.vertices[i as usize]);
                0.5 * (b - a).cross(c - a).length()
            })
            .sum()
    }
}
