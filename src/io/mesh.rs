//! The file formats meshes go out in, chosen by the file's extension.

use super::dataset::CameraSpecItem;
use super::{Error, Result, glb, obj, ply};
use crate::geometry::Mesh;
use std::path::Path;

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
    use glam::Vec3;

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
