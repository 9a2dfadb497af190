//! Triangle meshes and point clouds as binary little-endian PLY, the format MeshLab, Blender
//! and the evaluators read.

use super::{Result, atomic};
use crate::geometry::Mesh;
use std::path::Path;

pub fn write(path: &Path, mesh: &Mesh) -> Result<()> {
    let with_colors = !mesh.colors.is_empty();
    let normals = mesh.vertex_normals();
    atomic::write_file(path, |w| {
        writeln!(w, "ply\nformat binary_little_endian 1.0\ncomment written by Weave")?;
        writeln!(w, "element vertex {}\nproperty float x\nproperty float y\nproperty float z", mesh.vertices.len())?;
        writeln!(w, "property float nx\nproperty float ny\nproperty float nz")?;
        if with_colors {
            writeln!(w, "property uchar red\nproperty uchar green\nproperty uchar blue")?;
        }
        writeln!(w, "element face {}\nproperty list uchar int vertex_indices\nend_header", mesh.triangles.len())?;
        for (i, v) in mesh.vertices.iter().enumerate() {
            for c in v.to_array().into_iter().chain(normals[i].to_array()) {
                w.write_all(&c.to_le_bytes())?;
            }
            if with_colors {
                w.write_all(&mesh.colors[i])?;
            }
        }
        for t in &mesh.triangles {
            w.write_all(&[3])?;
            for i in t {
                w.write_all(&(*i as i32).to_le_bytes())?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec3;

    #[test]
    fn writes_header_and_payload_of_exact_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.ply");
        let mesh = Mesh {
            vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y],
            colors: vec![[255, 0, 0]; 3],
            triangles: vec![[0, 1, 2]],
        };
        assert!((mesh.area() - 0.5).abs() < 1e-6);
        write(&path, &mesh).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header_end = bytes.windows(11).position(|w| w == b"end_header\n").unwrap() + 11;
        let header = std::str::from_utf8(&bytes[..header_end]).unwrap();
        assert!(
            header.contains("element vertex 3")
                && header.contains("property uchar red")
                && header.contains("property float nz")
        );
        assert_eq!(bytes.len() - header_end, 3 * (12 + 12 + 3) + (1 + 12));
    }
}
