//! Writing a dataset's cameras in another format (what colmap2nerf-style scripts do).

use super::paths::relative_path;
use super::{Dataset, Error, Result, colmap, transforms};
use crate::geometry::Pose;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// COLMAP text model in OUT/sparse/0 (image names relative to the images folder).
    Colmap,
    /// OUT/transforms.json (image paths relative to OUT).
    Transforms,
}

fn posed(ds: &Dataset) -> Result<Vec<(&super::View, Pose)>> {
    ds.views.iter().map(|v| v.pose.map(|p| (v, p))).collect::<Option<Vec<_>>>().ok_or_else(|| {
        Error::format(&ds.root, "has no camera poses to convert (images only: `weave sfm` finds them first)")
    })
}

/// Writes the dataset's cameras into `out`; returns the file or folder written.
pub fn write(ds: &Dataset, format: Format, out: &Path) -> Result<PathBuf> {
    let views = posed(ds)?;
    match format {
        Format::Colmap => {
            let dir = out.join("sparse/0");
            let list: Vec<_> = views.iter().map(|(v, p)| (v.name.clone(), v.intrinsics, *p)).collect();
            colmap::write_text(&dir, &list, &[])?;
            Ok(dir)
        }
        Format::Transforms => {
            let file = out.join("transforms.json");
            let paths: Vec<String> = views.iter().map(|(v, _)| relative_path(out, &v.image)).collect();
            let frames: Vec<_> = views
                .iter()
                .zip(&paths)
                .map(|((v, p), f)| transforms::FrameOut { file_path: f, intrinsics: &v.intrinsics, pose: p })
                .collect();
            transforms::write(&file, &frames)?;
            Ok(file)
        }
    }
}
