//! What a training run leaves in its output folder: mesh, poses, test renders, metrics.

use super::Trainer;
use super::trainer::psnr;
use crate::geometry::{Camera, Intrinsics, Mesh, Pose};
use crate::io::dataset::CameraSpecItem;
use crate::io::mesh::MeshFormat;
use crate::io::{self, Dataset, View, atomic, colmap, transforms};
use crate::mesh::{Silhouette, Unseen};
use serde::Serialize;
use std::path::Path;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Metrics {
    pub iterations: u32,
    pub seconds: f64,
    pub final_loss: f32,
    pub train_psnr: f32,
    /// Mean PSNR over held-out views (None without `transforms_test.json`).
    pub test_psnr: Option<f64>,
    pub test_views: usize,
    pub layout: String,
    pub rays_per_step: usize,
    pub mesh_vertices: usize,
    pub mesh_triangles: usize,
    /// NeuS's learned sharpness 1/s at the end: hundreds once a surface has formed, tens or
    /// less while the field is still a fog.
    pub sharpness: f32,
    pub rollbacks: u32,
    pub stopped_early: bool,
}

impl Metrics {
    /// What is known of a run before it trains.
    pub fn of(t: &Trainer) -> Metrics {
        Metrics {
            iterations: t.step,
            layout: format!("{:?}", t.layout),
            rays_per_step: t.cfg.rays,
            ..Default::default()
        }
    }
}

/// The file in the output folder holding the stereo prior's depths as points.
pub const STEREO_POINTS: &str = "stereo.ply";

/// The stereo prior's depths as a point cloud (PLY), when training has one.
pub fn write_stereo_points(t: &Trainer, path: &Path) -> io::Result<()> {
    if t.depth_prior.is_some() {
        io::ply::write(path, &super::depth_prior::point_cloud(&t.views, &t.norm))?;
    }
    Ok(())
}

/// Renders one camera into `dir`, as a PNG named like the image `name`; returns the image.
pub fn render_png(t: &Trainer, k: &Intrinsics, pose: &Pose, dir: &Path, name: &str) -> io::Result<image::RgbImage> {
    let img = t.render(k, pose);
    let png = Path::new(name).with_extension("png");
    let file = dir.join(png.file_name().unwrap_or(png.as_os_str()));
    io::images::write_png(&file, &image::DynamicImage::ImageRgb8(img.clone()))?;
    Ok(img)
}

/// Renders the views at their cameras (scaled like the training images) into `dir`, named
/// as their photos; returns the mean PSNR against the photos.
pub fn render_views(t: &Trainer, views: &[View], dir: &Path, compare: bool) -> io::Result<Option<f64>> {
    let mut scores = Vec::new();
    for v in views {
        let pose = v.pose.ok_or_else(|| io::Error::format(&v.image, "has no pose to render from"))?;
        let k = v.intrinsics.scaled(t.cfg.image_scale);
        let img = render_png(t, &k, &pose, dir, &v.name)?;
        if compare {
            let (gt, _) = io::images::decode_photo(&v.image)?;
            let gt = image::imageops::resize(&gt, k.width, k.height, image::imageops::FilterType::Triangle);
            scores.push(psnr(&img, &gt));
        }
    }
    Ok((!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64))
}

/// The trained surface in the input's frame, with vertex colours as the cameras saw it;
/// `unseen`: what becomes of surface no camera saw (None follows the layout).
pub fn mesh(t: &Trainer, resolution: usize, triangles: Option<usize>, unseen: Option<Unseen>) -> Mesh {
    // The cameras in the normalised frame the mesh is extracted in.
    let cameras: Vec<Camera> = t
        .cameras()
        .iter()
        .map(|c| Camera {
            intrinsics: c.intrinsics,
            pose: Pose::new(c.pose.rotation, t.norm.to_normalized(c.pose.center).map(f64::from).into()),
        })
        .collect();
    let unseen = unseen.unwrap_or(Unseen::for_layout(t.layout));
    let silhouettes = t.silhouettes();
    let hull: Vec<(Camera, &Silhouette)> =
        cameras.iter().zip(&silhouettes).filter_map(|(c, s)| Some((*c, s.as_ref()?))).collect();
    let mut mesh = crate::mesh::colored(&t.queries(), &cameras, &hull, resolution, triangles, unseen);
    for v in &mut mesh.vertices {
        *v = t.norm.to_world(v.to_array()).as_vec3();
    }
    mesh
}

/// A mesh as written: its size, and why it is empty when it is (then no file was written).
pub struct WrittenMesh {
    pub vertices: usize,
    pub triangles: usize,
    pub note: Option<String>,
}

/// Extracts the mesh at `resolution` cells per side with at most `triangles` (what it keeps of
/// unseen surface: `unseen`, else as training chose) and writes it in the format the path's
/// extension names (.ply, .obj, .glb, which also holds the training cameras), checked before
/// the mesh is extracted.
pub fn write_mesh(
    t: &Trainer,
    path: &Path,
    resolution: usize,
    triangles: Option<usize>,
    unseen: Option<Unseen>,
) -> io::Result<WrittenMesh> {
    MeshFormat::of(path)?;
    let mesh = mesh(t, resolution, triangles, unseen.or(t.cfg.unseen));
    if mesh.triangles.is_empty() {
        return Ok(WrittenMesh { vertices: 0, triangles: 0, note: empty_mesh_note(t, 0) });
    }
    let cameras: Vec<_> = t
        .views
        .iter()
        .zip(t.cameras())
        .map(|(v, c)| CameraSpecItem { name: v.name.clone(), intrinsics: c.intrinsics, pose: c.pose })
        .collect();
    io::mesh::write(path, &mesh, &cameras)?;
    Ok(WrittenMesh { vertices: mesh.vertices.len(), triangles: mesh.triangles.len(), note: None })
}

/// Every posed view of `ds` with its camera: training views with their refined poses and
/// focal lengths, any other posed view with its own.
pub fn posed_views<'a>(t: &Trainer, ds: &'a Dataset) -> Vec<(&'a View, Intrinsics, Pose)> {
    let refined: std::collections::HashMap<&str, (Pose, f64)> =
        t.views.iter().map(|v| v.name.as_str()).zip(t.refined_poses().into_iter().zip(t.focal_scales())).collect();
    ds.views
        .iter()
        .filter_map(|v| match refined.get(v.name.as_str()) {
            Some(&(pose, s)) => Some((v, crate::render::poses::with_focal_scale(&v.intrinsics, s), pose)),
            None => v.pose.map(|p| (v, v.intrinsics, p)),
        })
        .collect()
}

/// Writes the cameras ([`posed_views`]) as a transforms.json (when `path` ends in .json) or
/// else as a COLMAP text model in the folder `path`.
pub fn write_poses(t: &Trainer, ds: &Dataset, path: &Path) -> io::Result<()> {
    let posed = posed_views(t, ds);
    if path.extension().is_some_and(|e| e == "json") {
        let dir = path.parent().unwrap_or(Path::new("."));
        let paths: Vec<String> = posed.iter().map(|(v, _, _)| io::paths::relative_path(dir, &v.image)).collect();
        let frames: Vec<_> = posed
            .iter()
            .zip(&paths)
            .map(|((_, k, p), f)| transforms::FrameOut { file_path: f, intrinsics: k, pose: p })
            .collect();
        transforms::write(path, &frames)
    } else {
        let list: Vec<_> = posed.iter().map(|(v, k, p)| (v.name.clone(), *k, *p)).collect();
        colmap::write_text(path, &list, &[])
    }
}

/// Why a mesh came out empty, for the user.
fn empty_mesh_note(t: &Trainer, triangles: usize) -> Option<String> {
    (triangles == 0).then(|| {
        format!(
            "no mesh written, as it would be empty: the field explained the photos as a fog without \
             forming a surface (learned sharpness {:.0}; surfaces form at hundreds). Large untextured \
             areas, such as a room's walls, cause this; renders and poses are still usable",
            crate::field::Field::inv_s(&t.params)
        )
    })
}

/// Everything a run leaves in `out`: its checkpoint and [`write_all`]'s files.
pub fn write_results(t: &Trainer, ds: &Dataset, out: &Path, metrics: &mut Metrics) -> io::Result<Option<String>> {
    super::checkpoint::save(t, &out.join("checkpoint.weave"))?;
    write_all(t, ds, out, metrics)
}

/// Writes the mesh, the poses (transforms.json and COLMAP text), the stereo prior's points and
/// the test renders; returns the mesh's note (`WrittenMesh::note`).
pub fn write_all(t: &Trainer, ds: &Dataset, out: &Path, metrics: &mut Metrics) -> io::Result<Option<String>> {
    let mesh = write_mesh(t, &out.join("mesh.ply"), t.cfg.mesh_resolution, t.cfg.triangles, None)?;
    (metrics.mesh_vertices, metrics.mesh_triangles) = (mesh.vertices, mesh.triangles);
    metrics.sharpness = crate::field::Field::inv_s(&t.params);
    write_poses(t, ds, &out.join("transforms.json"))?;
    write_poses(t, ds, &out.join("colmap"))?;
    write_stereo_points(t, &out.join(STEREO_POINTS))?;
    if !ds.test_views.is_empty() {
        metrics.test_psnr = render_views(t, &ds.test_views, &out.join("test"), true)?;
        metrics.test_views = ds.test_views.len();
    }
    let json = serde_json::to_string_pretty(metrics).expect("metrics serialise");
    atomic::write_bytes(&out.join("metrics.json"), json.as_bytes())?;
    Ok(mesh.note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{Field, FieldConfig};
    use crate::geometry::rig::Layout;
    use crate::render::views::Normalization;
    use crate::train::{Preset, TrainConfig};
    use glam::DVec3;

    /// The untrained field (a sphere) of a forward-facing capture, seen from cameras on one
    /// side: its mesh keeps the side they saw, in the input frame, unless asked to keep all.
    #[test]
    fn forward_captures_drop_what_no_camera_saw() {
        let mut cfg = TrainConfig::preset(Preset::Fast);
        cfg.grid = FieldConfig::tiny().grid;
        cfg.hidden = FieldConfig::tiny().hidden;
        let field = Field::new(FieldConfig::tiny());
        let params = field.init_params(3);
        let norm = Normalization { center: [1.0, 2.0, 3.0], scale: 0.5 };
        let center = DVec3::new(1.0, 2.0, 3.0);
        let mut t = Trainer::from_state(cfg, Layout::Forward, norm, field, params, None, None, 0, Vec::new());
        t.recorded_cameras = [-0.2, 0.0, 0.2]
            .iter()
            .map(|&x| Camera {
                intrinsics: Intrinsics::centered(120, 90, 100.0),
                pose: Pose::look_at(center + DVec3::new(x, 0.0, -1.5), center, DVec3::Y),
            })
            .collect();
        let all = mesh(&t, 48, None, Some(Unseen::Keep));
        let seen = mesh(&t, 48, None, None);
        let kept = seen.area() / all.area();
        assert!(kept > 0.3 && kept < 0.6, "{kept} of the area kept");
        // Every kept vertex lies on the cameras' side of the sphere (radius 0.25 here).
        let far = seen.vertices.iter().map(|v| v.z - 3.0).fold(f32::MIN, f32::max);
        assert!(far < 0.1, "a kept vertex lies {far} behind the sphere's centre");
        assert_eq!(seen.colors.len(), seen.vertices.len());
        // An empty mesh is explained to the user; a mesh with surface needs no note.
        assert!(empty_mesh_note(&t, seen.triangles.len()).is_none());
        assert!(empty_mesh_note(&t, 0).is_some_and(|n| n.contains("sharpness")));
    }
}
