//! Triangle meshes as Weave exports them, and the file formats they go out in.

use super::dataset::CameraSpecItem;
use super::{Error, Result, glb, obj, ply};
use glam::Vec3;
use std::path::Path;

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

/// A mesh file format, chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshFormat {
    /// Binary PLY with vertex colours: MeshLab, CloudCompare, the evaluators.
    Ply,
    /// Wavefront OBJ with vertex colours after each position, as MeshLab and Blender read them.
    Obj,
    /// Binary glTF 2.0 with vertex colours, unlit, and the cameras: Blender, game engines, web
    /// viewers.
    Glb,
}

impl MeshFormat {
    /// The extensions understood, for dialogs and messages.
    pub const EXTENSIONS: [&str; 3] = ["ply", "obj", "glb"];

    pub fn of(path: &Path) -> Result<MeshFormat> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("ply") => Ok(MeshFormat::Ply),
            Some("obj") => Ok(MeshFormat::Obj),
            Some("glb") => Ok(MeshFormat::Glb),
            _ => Err(Error::format(
                path,
                format!("unknown mesh format: name the file .{}", MeshFormat::EXTENSIONS.join(", .")),
            )),
        }
    }
}

/// Writes the mesh atomically in the format its extension names, with `cameras` where the
/// format holds cameras (glTF).
pub fn write(path: &Path, mesh: &Mesh, cameras: &[CameraSpecItem]) -> Result<()> {
    match MeshFormat::of(path)? {
        MeshFormat::Ply => ply::write(path, mesh),
        MeshFormat::Obj => obj::write(path, mesh),
        MeshFormat::Glb => glb::write(path, mesh, cameras),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_chooses_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let mesh = Mesh { vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y], colors: vec![], triangles: vec![[0, 1, 2]] };
        for (name, starts) in [("a.ply", &b"ply\n"[..]), ("b.OBJ", b"# written by Weave"), ("c.glb", b"glTF")] {
            let path = dir.path().join(name);
            write(&path, &mesh, &[]).unwrap();
            assert!(std::fs::read(&path).unwrap().starts_with(starts), "{name}");
        }
        let err = write(&dir.path().join("d.stl"), &mesh, &[]).unwrap_err().to_string();
        assert!(err.contains("d.stl") && err.contains(".ply, .obj, .glb"), "{err}");
        assert!(!dir.path().join("d.stl").exists());
        assert!(MeshFormat::of(Path::new("mesh")).is_err());
    }
}
