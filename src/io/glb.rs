//! Triangle meshes as binary glTF 2.0 (`.glb`): one file that Blender, game engines and web
//! viewers open. Vertex colours (COLOR_0, linear as glTF defines them) under an unlit
//! material: they are the photos' colours with the lighting already in them, so a viewer's
//! own lights would shade it twice. Positions stay in the input's frame, as in the other
//! formats; glTF's "y up" is only a convention for viewers. The training cameras come along as
//! camera nodes, so the photos' viewpoints can be looked through beside the mesh.

use super::dataset::CameraSpecItem;
use super::images::srgb_to_linear;
use super::{Result, atomic};
use crate::geometry::Mesh;
use serde_json::{Value, json};
use std::path::Path;

const MAGIC: &[u8; 4] = b"glTF";
const CHUNK_JSON: &[u8; 4] = b"JSON";
const CHUNK_BIN: &[u8; 4] = b"BIN\0";
// Accessor component types and buffer-view targets, as glTF numbers them.
const FLOAT: u32 = 5126;
const UNSIGNED_INT: u32 = 5125;
const ARRAY_BUFFER: u32 = 34962;
const ELEMENT_ARRAY_BUFFER: u32 = 34963;

/// Writes the mesh, and `cameras` as glTF camera nodes (Blender imports them as cameras).
pub fn write(path: &Path, mesh: &Mesh, cameras: &[CameraSpecItem]) -> Result<()> {
    let (doc, bin) = document(mesh, cameras);
    let mut json = serde_json::to_vec(&doc).expect("a glTF document is plain JSON");
    // Chunks start on 4-byte boundaries: JSON is padded with spaces, the binary with zeros.
    json.resize(json.len().next_multiple_of(4), b' ');
    let bin_padded = bin.len().next_multiple_of(4);
    let total = 12 + 8 + json.len() + if bin.is_empty() { 0 } else { 8 + bin_padded };
    let len = |n: usize| u32::try_from(n).map(u32::to_le_bytes);
    let (total, json_len, bin_len) = match (len(total), len(json.len()), len(bin_padded)) {
        (Ok(t), Ok(j), Ok(b)) => (t, j, b),
        _ => return Err(super::Error::format(path, "the mesh is too large for a .glb (4 GiB): write .ply")),
    };
    atomic::write_file(path, |w| {
        w.write_all(MAGIC)?;
        w.write_all(&2u32.to_le_bytes())?;
        w.write_all(&total)?;
        w.write_all(&json_len)?;
        w.write_all(CHUNK_JSON)?;
        w.write_all(&json)?;
        if !bin.is_empty() {
            w.write_all(&bin_len)?;
            w.write_all(CHUNK_BIN)?;
            w.write_all(&bin)?;
            w.write_all(&vec![0; bin_padded - bin.len()])?;
        }
        Ok(())
    })
}

/// The glTF document and its binary buffer (positions, colours, then triangle indices), with
/// the cameras as camera nodes after the surface's.
fn document(mesh: &Mesh, cameras: &[CameraSpecItem]) -> (Value, Vec<u8>) {
    let asset = json!({ "version": "2.0", "generator": concat!("Weave ", env!("CARGO_PKG_VERSION")) });
    let mut doc = json!({ "asset": asset });
    let mut nodes = Vec::new();
    let mut bin = Vec::new();
    // glTF has no empty accessors: an empty mesh is left out.
    if !mesh.triangles.is_empty() {
        surface(mesh, &mut doc, &mut bin);
        nodes.push(json!({ "mesh": 0, "name": "surface" }));
    }
    if !cameras.is_empty() {
        // A near plane well inside the scene, in the input's units.
        let centre = cameras.iter().map(|c| c.pose.center).sum::<glam::DVec3>() / cameras.len() as f64;
        let extent = cameras.iter().map(|c| (c.pose.center - centre).length()).fold(0.0, f64::max);
        let znear = 1e-3 * if extent > 0.0 { extent } else { 1.0 };
        doc["cameras"] = cameras
            .iter()
            .map(|c| {
                let k = &c.intrinsics;
                json!({ "type": "perspective", "name": c.name, "perspective": {
                    "aspectRatio": k.width as f64 / k.height as f64,
                    "yfov": k.fov_y(),
                    "znear": znear,
                } })
            })
            .collect();
        // glTF cameras look down -z with +y up: OpenGL's axes, as transforms.json has them.
        nodes.extend(
            cameras
                .iter()
                .enumerate()
                .map(|(i, c)| json!({ "camera": i, "name": c.name, "matrix": c.pose.to_opengl_c2w().to_cols_array() })),
        );
    }
    if !nodes.is_empty() {
        doc["scene"] = json!(0);
        doc["scenes"] = json!([{ "nodes": (0..nodes.len()).collect::<Vec<_>>() }]);
        doc["nodes"] = json!(nodes);
    }
    (doc, bin)
}

/// The mesh's entries of the document (mesh 0, its accessors, buffer views and material),
/// with its data appended to `bin`.
fn surface(mesh: &Mesh, doc: &mut Value, bin: &mut Vec<u8>) {
    let mut views = Vec::new();
    let mut view = |bin: &mut Vec<u8>, bytes: &[u8], target: u32| {
        views.push(json!({ "buffer": 0, "byteOffset": bin.len(), "byteLength": bytes.len(), "target": target }));
        bin.extend_from_slice(bytes);
        views.len() - 1
    };
    let floats = |v: &mut dyn Iterator<Item = f32>| v.flat_map(f32::to_le_bytes).collect::<Vec<u8>>();

    let (mut lo, mut hi) = (mesh.vertices[0], mesh.vertices[0]);
    for v in &mesh.vertices {
        (lo, hi) = (lo.min(*v), hi.max(*v));
    }
    let n = mesh.vertices.len();
    let positions = view(bin, &floats(&mut mesh.vertices.iter().flat_map(|v| v.to_array())), ARRAY_BUFFER);
    let mut accessors = vec![json!({
        "bufferView": positions, "componentType": FLOAT, "count": n, "type": "VEC3",
        "min": lo.to_array(), "max": hi.to_array(),
    })];
    let normals = view(bin, &floats(&mut mesh.vertex_normals().iter().flat_map(|v| v.to_array())), ARRAY_BUFFER);
    accessors.push(json!({ "bufferView": normals, "componentType": FLOAT, "count": n, "type": "VEC3" }));
    let mut attributes = json!({ "POSITION": 0, "NORMAL": 1 });
    let colored = mesh.colors.len() == n;
    if colored {
        let linear = &mut mesh.colors.iter().flatten().map(|&c| srgb_to_linear(c) as f32);
        let colors = view(bin, &floats(linear), ARRAY_BUFFER);
        accessors.push(json!({ "bufferView": colors, "componentType": FLOAT, "count": n, "type": "VEC3" }));
        attributes["COLOR_0"] = json!(accessors.len() - 1);
    }
    let indices: Vec<u8> = mesh.triangles.iter().flatten().flat_map(|i| i.to_le_bytes()).collect();
    let indices = view(bin, &indices, ELEMENT_ARRAY_BUFFER);
    accessors.push(json!({
        "bufferView": indices, "componentType": UNSIGNED_INT, "count": 3 * mesh.triangles.len(), "type": "SCALAR",
    }));

    // Open surfaces (a room, a relief) are seen from both sides; metallic 0 for viewers that
    // do not know the unlit extension (glTF's default material is fully metallic).
    let mut material = json!({
        "pbrMetallicRoughness": { "metallicFactor": 0.0, "roughnessFactor": 1.0 },
        "doubleSided": true,
    });
    if colored {
        material["extensions"] = json!({ "KHR_materials_unlit": {} });
        doc["extensionsUsed"] = json!(["KHR_materials_unlit"]);
    }
    doc["meshes"] = json!([{ "name": "surface", "primitives": [{
        "attributes": attributes, "indices": accessors.len() - 1, "material": 0, "mode": 4,
    }] }]);
    doc["materials"] = json!([material]);
    doc["buffers"] = json!([{ "byteLength": bin.len() }]);
    doc["bufferViews"] = json!(views);
    doc["accessors"] = json!(accessors);
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec3;

    fn read(path: &Path) -> (gltf::Document, Vec<gltf::buffer::Data>) {
        let (doc, buffers, _) = gltf::import(path).unwrap();
        (doc, buffers)
    }

    #[test]
    fn a_reader_gets_back_the_positions_colours_and_triangles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.glb");
        let mesh = Mesh {
            vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y, Vec3::new(1.0, 1.0, -0.5)],
            colors: vec![[255, 0, 0], [0, 128, 0], [0, 0, 255], [10, 20, 30]],
            triangles: vec![[0, 1, 2], [2, 1, 3]],
        };
        write(&path, &mesh, &[]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, bytes.len());

        let (doc, buffers) = read(&path);
        let prim = doc.meshes().next().unwrap().primitives().next().unwrap();
        let r = prim.reader(|b| Some(&buffers[b.index()]));
        let positions: Vec<Vec3> = r.read_positions().unwrap().map(Vec3::from).collect();
        assert_eq!(positions, mesh.vertices);
        let normals: Vec<Vec3> = r.read_normals().unwrap().map(Vec3::from).collect();
        assert_eq!(normals, mesh.vertex_normals());
        let colors: Vec<[f32; 3]> = r.read_colors(0).unwrap().into_rgb_f32().collect();
        for (c, want) in colors.iter().zip(&mesh.colors) {
            for k in 0..3 {
                assert!((c[k] as f64 - srgb_to_linear(want[k])).abs() < 1e-6, "{c:?} vs {want:?}");
            }
        }
        assert!(colors[1][1] < 0.25, "glTF colours are linear: sRGB 128 is about 0.22");
        let indices: Vec<u32> = r.read_indices().unwrap().into_u32().collect();
        assert_eq!(indices, [0, 1, 2, 2, 1, 3]);
        assert_eq!(prim.bounding_box().min, [0.0, 0.0, -0.5]);
        assert_eq!(prim.bounding_box().max, [1.0, 1.0, 0.0]);
        assert!(prim.material().unlit() && prim.material().double_sided());
    }

    /// The cameras come along as glTF camera nodes: looking down their node's -z, with the
    /// photo's field of view and aspect.
    #[test]
    fn cameras_become_camera_nodes_that_look_where_the_photos_did() {
        use crate::geometry::{Intrinsics, Pose};
        use glam::DVec3;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.glb");
        let mesh = Mesh { vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y], colors: vec![], triangles: vec![[0, 1, 2]] };
        let camera = |name: &str, eye: DVec3| CameraSpecItem {
            name: name.into(),
            intrinsics: Intrinsics::centered(400, 300, 250.0),
            pose: Pose::look_at(eye, DVec3::ZERO, DVec3::Z),
        };
        let cameras = [camera("a.png", DVec3::new(3.0, 0.0, 1.0)), camera("b.png", DVec3::new(0.0, -4.0, 2.0))];
        write(&path, &mesh, &cameras).unwrap();
        let (doc, _) = read(&path);
        let nodes: Vec<_> = doc.scenes().next().unwrap().nodes().collect();
        assert_eq!(nodes.len(), 3);
        assert!(nodes[0].mesh().is_some());
        for (node, cam) in nodes[1..].iter().zip(&cameras) {
            let camera = node.camera().unwrap_or_else(|| panic!("node {:?} is no camera", node.name()));
            let gltf::camera::Projection::Perspective(p) = camera.projection() else {
                panic!("camera {:?} is not perspective", node.name());
            };
            assert_eq!(node.name(), Some(cam.name.as_str()));
            assert!((p.yfov() as f64 - 2.0 * (150.0f64 / 250.0).atan()).abs() < 1e-6);
            assert!((p.aspect_ratio().unwrap() - 4.0 / 3.0).abs() < 1e-6);
            let m = glam::Mat4::from_cols_array_2d(&node.transform().matrix());
            let eye = m.transform_point3(Vec3::ZERO);
            let ahead = m.transform_vector3(Vec3::NEG_Z);
            assert!((eye - cam.pose.center.as_vec3()).length() < 1e-5);
            assert!((ahead - cam.pose.forward().as_vec3()).length() < 1e-5, "{ahead} vs {}", cam.pose.forward());
            assert!(ahead.dot(-eye.normalize()) > 0.999, "a camera looks at the origin");
        }

        // An empty mesh still carries the cameras.
        write(&path, &Mesh::default(), &cameras).unwrap();
        let (doc, buffers) = read(&path);
        assert_eq!((doc.meshes().count(), doc.cameras().count(), buffers.len()), (0, 2, 0));
        assert_eq!(doc.scenes().next().unwrap().nodes().count(), 2);
    }

    #[test]
    fn uncoloured_and_empty_meshes_are_valid_files() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.glb");
        let mesh = Mesh { vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Z], colors: vec![], triangles: vec![[0, 1, 2]] };
        write(&plain, &mesh, &[]).unwrap();
        let (doc, _) = read(&plain);
        let prim = doc.meshes().next().unwrap().primitives().next().unwrap();
        assert!(prim.get(&gltf::Semantic::Colors(0)).is_none() && !prim.material().unlit());
        assert_eq!(prim.material().pbr_metallic_roughness().metallic_factor(), 0.0);

        let empty = dir.path().join("empty.glb");
        write(&empty, &Mesh::default(), &[]).unwrap();
        let (doc, buffers) = read(&empty);
        assert_eq!((doc.meshes().count(), doc.scenes().count(), buffers.len()), (0, 0, 0));
    }
}
