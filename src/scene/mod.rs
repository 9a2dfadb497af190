//! Procedural scenes with exact ground truth (images, cameras, mesh): what the tests and
//! demos use instead of downloaded data.

mod catalog;
mod primitive;
mod render;
mod texture;

pub use catalog::{Entry, SCENES};

use crate::geometry::{Intrinsics, Pose};
use crate::io::{self, colmap, ply, transforms};
use glam::DVec3;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Options {
    pub width: u32,
    pub height: u32,
    /// Training views; `None` takes the scene's default.
    pub views: Option<usize>,
    pub test_views: Option<usize>,
    /// Standard deviation of the rotation noise on the given (written) poses, degrees.
    pub rot_noise_deg: f64,
    /// Standard deviation of the camera-centre noise on the given poses, scene units.
    pub trans_noise: f64,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { width: 320, height: 240, views: None, test_views: None, rot_noise_deg: 0.0, trans_noise: 0.0, seed: 1 }
    }
}

pub fn find(name: &str) -> Option<&'static Entry> {
    SCENES.iter().find(|s| s.name == name)
}

/// What a generated scene folder holds.
pub struct Written {
    pub dir: PathBuf,
    pub views: usize,
    pub test_views: usize,
}

/// Gaussian noise from a seed, so that noisy scenes are reproducible.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gaussian(&mut self) -> f64 {
        let u = self.next_f64().max(1e-300);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.next_f64()).cos()
    }
    fn gaussian3(&mut self, sigma: f64) -> DVec3 {
        DVec3::new(self.gaussian(), self.gaussian(), self.gaussian()) * sigma
    }
}

/// Renders a scene into `out`: `images/`, `test/`, `transforms.json`, `transforms_test.json`,
/// `sparse/0/` (COLMAP text), `ground_truth/transforms.json` (exact poses, even when the
/// given ones are noisy), `gt_mesh.ply`, and `masks/` where the scene has an object (or the
/// photos as RGBA, the object's coverage their alpha, where the scene says so).
/// `progress(done, total)` is called as views finish.
pub fn generate(entry: &Entry, opts: &Options, out: &Path, progress: &dyn Fn(usize, usize)) -> io::Result<Written> {
    if opts.width < 8 || opts.height < 8 {
        return Err(io::Error::format(
            out,
            format!("resolution {}x{} is too small (at least 8x8)", opts.width, opts.height),
        ));
    }
    let n_train = opts.views.unwrap_or(entry.default_views).max(1);
    let n_test = opts.test_views.unwrap_or(entry.default_test_views);
    let world = (entry.world)();
    let k = Intrinsics::from_fov_x(opts.width, opts.height, entry.fov_x_deg.to_radians());
    // Test views are interleaved along the same capture path, never at training positions.
    let all = (entry.rig)(n_train + n_test);
    let stride = if n_test > 0 { (n_train + n_test) as f64 / n_test as f64 } else { f64::INFINITY };
    let is_test = |i: usize| n_test > 0 && ((i as f64 + 0.5) / stride).floor() != ((i as f64 + 1.5) / stride).floor();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, pose) in all.into_iter().enumerate() {
        if is_test(i) && test.len() < n_test { test.push(pose) } else { train.push(pose) }
    }

    let total = train.len() + test.len();
    let mut done = 0;
    let mut render_set = |poses: &[Pose], folder: &str, prefix: &str, masks: bool| -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for (i, pose) in poses.iter().enumerate() {
            let rel = format!("{folder}/{prefix}{i:03}.png");
            if entry.alpha {
                io::images::write_png(&out.join(&rel), &image::DynamicImage::ImageRgba8(world.render_rgba(&k, pose)))?;
            } else {
                let (rgb, mask) = world.render(&k, pose);
                io::images::write_png(&out.join(&rel), &image::DynamicImage::ImageRgb8(rgb))?;
                if masks {
                    io::images::write_png(
                        &out.join(format!("masks/{prefix}{i:03}.png")),
                        &image::DynamicImage::ImageLuma8(mask),
                    )?;
                }
            }
            names.push(rel);
            done += 1;
            progress(done, total);
        }
        Ok(names)
    };
    let train_files = render_set(&train, "images", "", entry.masks)?;
    let test_files = render_set(&test, "test", "test_", false)?;

    let mut rng = Rng(opts.seed);
    let given: Vec<Pose> = train
        .iter()
        .map(|p| p.perturbed(rng.gaussian3(opts.rot_noise_deg.to_radians()), rng.gaussian3(opts.trans_noise)))
        .collect();
    fn frames<'a>(files: &'a [String], k: &'a Intrinsics, poses: &'a [Pose]) -> Vec<transforms::FrameOut<'a>> {
        files.iter().zip(poses).map(|(f, p)| transforms::FrameOut { file_path: f, intrinsics: k, pose: p }).collect()
    }
    let gt_files: Vec<String> = train_files.iter().map(|f| format!("../{f}")).collect();
    transforms::write(&out.join("transforms.json"), &frames(&train_files, &k, &given))?;
    transforms::write(&out.join("transforms_test.json"), &frames(&test_files, &k, &test))?;
    transforms::write(&out.join("ground_truth/transforms.json"), &frames(&gt_files, &k, &train))?;
    let colmap_views: Vec<(String, Intrinsics, Pose)> =
        train_files.iter().zip(&given).map(|(f, p)| (f.trim_start_matches("images/").to_string(), k, *p)).collect();
    colmap::write_text(&out.join("sparse/0"), &colmap_views, &[])?;
    ply::write(&out.join("gt_mesh.ply"), &world.mesh())?;
    Ok(Written { dir: out.to_path_buf(), views: train.len(), test_views: test.len() })
}
