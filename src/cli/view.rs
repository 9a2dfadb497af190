//! `weave view CHECKPOINT --screenshot OUT.png`: one frame of the viewer, offscreen.

use crate::train::{Trainer, checkpoint};
use crate::view::{CameraGlyph, FieldStyle, Gpu, ViewCamera, ViewMode};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// A checkpoint, or a `weave train` output folder holding checkpoint.weave.
    path: PathBuf,
    #[arg(long, value_enum, default_value_t = ViewMode::Sdf)]
    mode: ViewMode,
    /// Cameras (transforms.json or a COLMAP model) to view from; the first unless --frame.
    #[arg(long)]
    camera: Option<PathBuf>,
    /// Which of --camera's frames (image name, with or without extension).
    #[arg(long, requires = "camera")]
    frame: Option<String>,
    #[arg(long, value_name = "OUT.png")]
    screenshot: PathBuf,
    /// Draw the cameras of --camera and the scene bounds over the view.
    #[arg(long)]
    overlays: bool,
    /// Colour the shaded SDF with the radiance field.
    #[arg(long)]
    color: bool,
    /// Slice plane: the axis it is perpendicular to (normalised frame) and its offset.
    #[arg(long, default_value = "z", value_parser = ["x", "y", "z"])]
    slice_axis: String,
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    slice_offset: f32,
    /// Frame size without --camera.
    #[arg(long, default_value_t = 960)]
    width: u32,
    #[arg(long, default_value_t = 720)]
    height: u32,
}

pub fn run(args: Args) -> Result<()> {
    let t = checkpoint::load(&super::checkpoint_path(&args.path)?, Vec::new())?;
    let (cam, glyphs) = match &args.camera {
        Some(file) => from_camera(&t, file, args.frame.as_deref())?,
        None => (overview_camera(&t, args.width, args.height), Vec::new()),
    };
    let style = FieldStyle {
        mode: args.mode,
        color: args.color,
        slice_axis: ["x", "y", "z"].iter().position(|a| *a == args.slice_axis).unwrap_or(2),
        slice_offset: args.slice_offset,
    };
    let gpu = Gpu::headless()?;
    let img = crate::view::offscreen::render(&gpu, &t, &cam, &style, args.overlays.then_some(glyphs))?;
    let rgb = image::DynamicImage::ImageRgba8(img).to_rgb8();
    crate::io::images::write_png(&args.screenshot, &image::DynamicImage::ImageRgb8(rgb))?;
    let (shot, w, h) = (args.screenshot.display(), cam.width, cam.height);
    println!("wrote {shot} ({w}x{h}, {:?}, on {})", args.mode, gpu.adapter);
    Ok(())
}

/// The view from a camera of `file` (the first, or the one named `frame`), and all of its
/// cameras to draw.
fn from_camera(t: &Trainer, file: &Path, frame: Option<&str>) -> Result<(ViewCamera, Vec<CameraGlyph>)> {
    let cams = crate::io::dataset::read_cameras(file)?;
    let stem = |n: &str| Path::new(n).file_stem().map(|s| s.to_string_lossy().into_owned());
    let chosen = match frame {
        Some(f) => cams
            .iter()
            .find(|c| c.name == *f || stem(&c.name) == stem(f))
            .with_context(|| format!("{} has no frame named {f:?}", file.display()))?,
        None => cams.first().with_context(|| format!("{} lists no cameras", file.display()))?,
    };
    let glyphs = cams.iter().map(|c| CameraGlyph { pose: c.pose, intrinsics: c.intrinsics, found: false }).collect();
    let depth = (3.0 * t.norm.scale) as f32;
    Ok((ViewCamera::from_pose(&chosen.pose, &chosen.intrinsics, depth), glyphs))
}

/// A view of the whole region the field covers, from above one side.
pub fn overview_camera(t: &Trainer, width: u32, height: u32) -> ViewCamera {
    let center = glam::DVec3::from(t.norm.center).as_vec3();
    let orbit =
        crate::view::Orbit { target: center, up: glam::Vec3::Z, distance: 1.0, yaw: 0.0, pitch: 0.0, fov_y: 0.7 };
    let eye = center + glam::Vec3::new(1.0, -1.2, 0.8).normalize() * (2.6 * t.norm.scale) as f32;
    ViewCamera::from_orbit(&orbit.looking(eye, center, 0.7), width, height)
}
