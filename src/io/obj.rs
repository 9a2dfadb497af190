//! Triangle meshes as Wavefront OBJ, which every 3D tool reads. Vertex colours follow each
//! position (`v x y z r g b`, sRGB in 0..1), the extension MeshLab writes and Blender reads;
//! readers that do not know it take the positions. Vertex normals (`vn`) for smooth shading.

use super::{Result, atomic};
use crate::geometry::Mesh;
use std::path::Path;

pub fn write(path: &Path, mesh: &Mesh) -> Result<()> {
    atomic::write_file(path, |w| {
        writeln!(w, "# written by Weave: {} vertices, {} triangles", mesh.vertices.len(), mesh.triangles.len())?;
        for (i, v) in mesh.vertices.iter().enumerate() {
            write!(w, "v {} {} {}", v.x, v.y, v.z)?;
            if let Some(c) = mesh.colors.get(i) {
                let [r, g, b] = c.map(|u| u as f32 / 255.0);
                write!(w, " {r:.4} {g:.4} {b:.4}")?;
            }
            writeln!(w)?;
        }
        for n in mesh.vertex_normals() {
            writeln!(w, "vn {} {} {}", n.x, n.y, n.z)?;
        }
        // OBJ counts from 1; a vertex's normal has its index.
        for t in &mesh.triangles {
            let [a, b, c] = t.map(|i| i + 1);
            writeln!(w, "f {a}//{a} {b}//{b} {c}//{c}")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec3;

    #[test]
    fn a_reader_gets_back_the_positions_colours_and_triangles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.obj");
        let mesh = Mesh {
            vertices: vec![Vec3::ZERO, Vec3::new(1.25, -3.0e-7, 2.0), Vec3::Y, Vec3::new(0.1, 0.2, 0.3)],
            colors: vec![[255, 0, 0], [0, 128, 0], [0, 0, 255], [10, 20, 30]],
            triangles: vec![[0, 1, 2], [2, 1, 3]],
        };
        write(&path, &mesh).unwrap();
        let (models, _) = tobj::load_obj(&path, &tobj::GPU_LOAD_OPTIONS).unwrap();
        let m = &models[0].mesh;
        let positions: Vec<Vec3> = m.positions.chunks(3).map(Vec3::from_slice).collect();
        assert_eq!(positions, mesh.vertices, "positions round-trip exactly");
        assert_eq!(m.indices, [0, 1, 2, 2, 1, 3]);
        let colors: Vec<[u8; 3]> =
            m.vertex_color.chunks(3).map(|c| [0, 1, 2].map(|k| (c[k] * 255.0).round() as u8)).collect();
        assert_eq!(colors, mesh.colors);
        let normals: Vec<Vec3> = m.normals.chunks(3).map(Vec3::from_slice).collect();
        assert_eq!(normals, mesh.vertex_normals());
    }
}
