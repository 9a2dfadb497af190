//! A photo folder as Weave sees it: which images, their intrinsics, and poses if given.
//!
//! Detection order: `transforms.json`, then a COLMAP model (see `colmap::MODEL_DIRS`), then
//! bare images (in `images/` or the folder itself) with intrinsics from EXIF or a guess.

use super::exif::{self, FocalSource};
use super::transforms::CameraSpec;
use super::{Error, Result, colmap, images, paths, transforms};
use crate::geometry::{Intrinsics, Pose};
use rayon::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};

/// COLMAP's default focal length for cameras it knows nothing about, in image widths.
pub const GUESSED_FOCAL_FACTOR: f64 = 1.2;

#[derive(Clone, Debug, PartialEq)]
pub enum PoseSource {
    Transforms(PathBuf),
    Colmap(PathBuf),
    /// Bare images: their poses come from structure from motion (`crate::sfm`).
    None,
}

impl fmt::Display for PoseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoseSource::Transforms(p) => write!(f, "transforms.json ({})", p.display()),
            PoseSource::Colmap(p) => write!(f, "COLMAP model ({})", p.display()),
            PoseSource::None => write!(f, "none (images only: `weave sfm` finds them)"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IntrinsicsSource {
    /// Given by the camera file (COLMAP cameras or transforms.json).
    PoseFile,
    Exif(FocalSource),
    /// Nothing said: focal length guessed as `GUESSED_FOCAL_FACTOR` × the longer side.
    Guess,
}

impl fmt::Display for IntrinsicsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntrinsicsSource::PoseFile => write!(f, "camera file"),
            IntrinsicsSource::Exif(FocalSource::Equivalent35mm { mm }) => {
                write!(f, "EXIF (35 mm equivalent focal length {mm} mm)")
            }
            IntrinsicsSource::Exif(FocalSource::FocalPlane { mm }) => {
                write!(f, "EXIF ({mm} mm and sensor resolution)")
            }
            IntrinsicsSource::Guess => write!(f, "GUESS (no EXIF focal length: {GUESSED_FOCAL_FACTOR} × longer side)"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct View {
    /// Path of the image relative to the images folder (COLMAP's image name).
    pub name: String,
    pub image: PathBuf,
    pub mask: Option<PathBuf>,
    pub intrinsics: Intrinsics,
    pub intrinsics_source: IntrinsicsSource,
    pub pose: Option<Pose>,
    /// Nearest and farthest scene depth in this view, when the input says (LLFF's bounds).
    pub depth_range: Option<(f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct Dataset {
    pub root: PathBuf,
    /// Folder that image names are relative to.
    pub images_dir: PathBuf,
    pub pose_source: PoseSource,
    pub views: Vec<View>,
    /// Held-out views (`transforms_test.json`), when the folder has them.
    pub test_views: Vec<View>,
    /// Problems that did not stop loading (skipped images, rescaled intrinsics, …).
    pub warnings: Vec<String>,
    /// The COLMAP model's sparse points, when the poses come from one that has them.
    pub points: Vec<colmap::Point>,
}

/// A view before its image has been checked.
struct Candidate {
    name: String,
    image: PathBuf,
    mask: Option<PathBuf>,
    camera: Option<Intrinsics>,
    spec: Option<CameraSpec>,
    pose: Option<Pose>,
    depth_range: Option<(f64, f64)>,
}

impl Dataset {
    pub fn open(path: &Path) -> Result<Dataset> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let path = &paths::normalize(path);
        let (root, transforms_file) = if meta.is_file() {
            if path.extension().is_some_and(|e| e == "json") {
                (path.parent().unwrap_or(Path::new(".")).to_path_buf(), Some(path.to_path_buf()))
            } else {
                return Err(Error::format(path, "not a folder (open the folder that holds the photos)"));
            }
        } else {
            (path.to_path_buf(), Some(path.join("transforms.json")).filter(|p| p.is_file()))
        };
        if std::fs::read_dir(&root).map_err(|e| Error::io(&root, e))?.next().is_none() {
            return Err(Error::EmptyFolder(root));
        }
        let images_dir = if root.join("images").is_dir() { root.join("images") } else { root.clone() };
        let mut warnings = Vec::new();
        let (pose_source, candidates, test) = if let Some(tf) = transforms_file {
            let frames = from_transforms(&tf, &root, &images_dir, &mut warnings)?;
            if frames.is_empty() && warnings.is_empty() {
                return Err(Error::format(&tf, "has no frames"));
            }
            let test_file = root.join("transforms_test.json");
            let test = if test_file.is_file() && tf != test_file {
                from_transforms(&test_file, &root, &images_dir, &mut warnings)?
            } else {
                Vec::new()
            };
            (PoseSource::Transforms(tf), frames, test)
        } else if let Some(model_dir) = colmap::find_model(&root) {
            let frames = from_colmap(&model_dir, &images_dir, &mut warnings)?;
            (PoseSource::Colmap(model_dir), frames, Vec::new())
        } else {
            (PoseSource::None, from_folder(&images_dir)?, Vec::new())
        };
        let views = check_images(candidates, &mut warnings);
        let test_views = check_images(test, &mut warnings);
        if views.is_empty() {
            let reason = warnings.first().cloned().unwrap_or_else(|| "every image failed".into());
            return Err(Error::NoUsableImages { path: root, reason });
        }
        if pose_source == PoseSource::None {
            warn_mixed_sizes(&views, &mut warnings);
        }
        let points = match &pose_source {
            PoseSource::Colmap(dir) => colmap::read_points(dir).unwrap_or_else(|e| {
                warnings.push(format!("{e}: sparse points not shown"));
                Vec::new()
            }),
            _ => Vec::new(),
        };
        Ok(Dataset { root, images_dir, pose_source, views, test_views, warnings, points })
    }

    pub fn has_poses(&self) -> bool {
        self.views.iter().all(|v| v.pose.is_some())
    }

    /// Moves every `every`-th view (the first, then every `every`-th after it, in the
    /// folder's order: LLFF's convention with 8) out of training into the test views, for a
    /// held-out PSNR on folders without a test split.
    pub fn hold_out(&mut self, every: usize) -> Result<()> {
        if every < 2 {
            let why = format!("--holdout {every}: hold out every n-th photo with n of at least 2");
            return Err(Error::format(&self.root, why));
        }
        if !self.test_views.is_empty() {
            let why = format!(
                "already has {} test views (transforms_test.json); --holdout is for folders without",
                self.test_views.len()
            );
            return Err(Error::format(&self.root, why));
        }
        let (test, train): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.views).into_iter().enumerate().partition(|(i, _)| i % every == 0);
        self.views = train.into_iter().map(|(_, v)| v).collect();
        self.test_views = test.into_iter().map(|(_, v)| v).collect();
        Ok(())
    }
}

fn masks_for(root: &Path, image: &Path) -> Option<PathBuf> {
    let stem = image.file_stem()?;
    let mask = root.join("masks").join(stem).with_extension("png");
    mask.is_file().then_some(mask)
}

/// An image path from a transforms.json, which may omit the extension (NeRF-synthetic style).
fn resolve_image(root: &Path, file_path: &str) -> PathBuf {
    let p = paths::normalize(&root.join(file_path));
    if p.is_file() || p.extension().is_some_and(|e| images::is_image(Path::new(&format!("x.{}", e.to_string_lossy()))))
    {
        return p;
    }
    images::EXTENSIONS.iter().map(|e| PathBuf::from(format!("{}.{e}", p.display()))).find(|c| c.is_file()).unwrap_or(p)
}

fn name_in(images_dir: &Path, image: &Path) -> String {
    let rel = image.strip_prefix(images_dir).unwrap_or(image);
    let rel = rel.strip_prefix(".").unwrap_or(rel);
    rel.to_string_lossy().replace('\\', "/")
}

fn from_transforms(file: &Path, root: &Path, images_dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<Candidate>> {
    let frames = transforms::read(file)?;
    Ok(frames
        .into_iter()
        .filter_map(|f| {
            let image = resolve_image(root, &f.file_path);
            if !image.is_file() {
                warnings.push(format!(
                    "{}: names image {}, which is missing: skipped",
                    file.display(),
                    image.display()
                ));
                return None;
            }
            let mask = f
                .mask_path
                .as_deref()
                .map(|m| root.join(m))
                .filter(|m| m.is_file())
                .or_else(|| masks_for(root, &image));
            Some(Candidate {
                name: name_in(images_dir, &image),
                image,
                mask,
                camera: None,
                spec: Some(f.camera),
                pose: Some(f.pose),
                depth_range: f.depth_range,
            })
        })
        .collect())
}

fn from_colmap(model_dir: &Path, images_dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<Candidate>> {
    let model = colmap::read(model_dir)?;
    if model.images.is_empty() {
        return Err(Error::format(model_dir, "the COLMAP model has no images"));
    }
    let root = images_dir.parent().filter(|_| images_dir.ends_with("images")).unwrap_or(images_dir);
    let mut out: Vec<Candidate> = model
        .images
        .into_iter()
        .filter_map(|img| {
            let image = images_dir.join(&img.name);
            if !image.is_file() {
                warnings.push(format!(
                    "{}: names image {}, which is missing: skipped",
                    model_dir.display(),
                    image.display()
                ));
                return None;
            }
            let mask = masks_for(root, &image);
            Some(Candidate {
                name: img.name,
                image,
                mask,
                camera: Some(model.cameras[&img.camera_id]),
                spec: None,
                pose: Some(img.pose),
                depth_range: None,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn from_folder(images_dir: &Path) -> Result<Vec<Candidate>> {
    let files = images::list(images_dir)?;
    if files.is_empty() {
        return Err(Error::NoImages { path: images_dir.to_path_buf(), exts: images::EXTENSIONS.join(", ") });
    }
    let root = images_dir.parent().filter(|_| images_dir.ends_with("images")).unwrap_or(images_dir);
    Ok(files
        .into_iter()
        .map(|image| Candidate {
            name: name_in(images_dir, &image),
            mask: masks_for(root, &image),
            image,
            camera: None,
            spec: None,
            pose: None,
            depth_range: None,
        })
        .collect())
}

/// Decodes every image (in parallel) so that corrupt files are found now, not mid-training;
/// reconciles the camera's size with the image's.
fn check_images(candidates: Vec<Candidate>, warnings: &mut Vec<String>) -> Vec<View> {
    let checked: Vec<std::result::Result<View, String>> = candidates.into_par_iter().map(check_one).collect();
    let mut views = Vec::new();
    for c in checked {
        match c {
            Ok(v) => views.push(v),
            Err(w) => warnings.push(w),
        }
    }
    views
}

fn check_one(c: Candidate) -> std::result::Result<View, String> {
    let skip = |why: String| format!("{}: {why}: skipped", c.image.display());
    let img = images::decode_rgb(&c.image).map_err(|e| format!("{e}: skipped"))?;
    let (w, h) = img.dimensions();
    let (intrinsics, source) = match (&c.camera, &c.spec) {
        (Some(k), _) => (*k, IntrinsicsSource::PoseFile),
        (None, Some(spec)) => (spec.resolve(w, h).map_err(skip)?, IntrinsicsSource::PoseFile),
        (None, None) => match exif::focal_px(&c.image, w, h) {
            Some((f, src)) => (Intrinsics::centered(w, h, f), IntrinsicsSource::Exif(src)),
            None => (Intrinsics::centered(w, h, GUESSED_FOCAL_FACTOR * w.max(h) as f64), IntrinsicsSource::Guess),
        },
    };
    let intrinsics = if (intrinsics.width, intrinsics.height) == (w, h) {
        intrinsics
    } else if intrinsics.same_aspect(w, h) {
        // A uniformly downscaled copy of the calibrated image: scale the camera with it.
        intrinsics.resized(w, h)
    } else {
        return Err(skip(format!(
            "image is {w}x{h} but its camera is {}x{} (different aspect ratio)",
            intrinsics.width, intrinsics.height
        )));
    };
    Ok(View {
        name: c.name,
        image: c.image,
        mask: c.mask,
        intrinsics,
        intrinsics_source: source,
        pose: c.pose,
        depth_range: c.depth_range,
    })
}

fn warn_mixed_sizes(views: &[View], warnings: &mut Vec<String>) {
    let size = |v: &View| (v.intrinsics.width, v.intrinsics.height);
    let mut sizes: Vec<(u32, u32)> = views.iter().map(size).collect();
    sizes.sort();
    let common = sizes[sizes.len() / 2];
    for v in views.iter().filter(|v| size(v) != common) {
        let (w, h) = size(v);
        warnings.push(format!(
            "{}: image is {w}x{h} while most are {}x{}: it keeps its own intrinsics",
            v.image.display(),
            common.0,
            common.1
        ));
    }
}

/// A camera to render from: its image name (for naming the output), intrinsics and pose.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraSpecItem {
    pub name: String,
    pub intrinsics: Intrinsics,
    pub pose: Pose,
}

/// The cameras of a transforms.json file or a COLMAP model folder, without needing their
/// images (novel views have none); sizes missing from a transforms.json are read from the
/// image headers when the images exist.
pub fn read_cameras(path: &Path) -> Result<Vec<CameraSpecItem>> {
    let path = &paths::normalize(path);
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() && !path.join("transforms.json").is_file() {
        let dir = colmap::find_model(path)
            .ok_or_else(|| Error::format(path, "holds neither a transforms.json nor a COLMAP model"))?;
        let model = colmap::read(&dir)?;
        return Ok(model
            .images
            .iter()
            .map(|i| CameraSpecItem { name: i.name.clone(), intrinsics: model.cameras[&i.camera_id], pose: i.pose })
            .collect());
    }
    let file = if meta.is_dir() { path.join("transforms.json") } else { path.clone() };
    let root = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    transforms::read(&file)?
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let image = resolve_image(&root, &f.file_path);
            let (w, h) = match (f.camera.w, f.camera.h) {
                (Some(w), Some(h)) => (w, h),
                _ => images::dimensions(&image).map_err(|_| {
                    Error::format(
                        &file,
                        format!("frame {i}: no image size (w, h) and its image {} cannot be read", image.display()),
                    )
                })?,
            };
            let intrinsics = f.camera.resolve(w, h).map_err(|why| Error::format(&file, format!("frame {i}: {why}")))?;
            let name = image.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| format!("{i:04}"));
            Ok(CameraSpecItem { name, intrinsics, pose: f.pose })
        })
        .collect()
}
