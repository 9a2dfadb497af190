//! Writing a dataset's cameras in another format (what colmap2nerf-style scripts do).

use super::{Dataset, Error, Result, colmap, transforms};
use crate::geometry::Pose;
use std::path::{Component, Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// COLMAP text model in OUT/sparse/0 (image names relative to the images folder).
    Colmap,
    /// OUT/transforms.json (image paths relative to OUT).
    Transforms,
}

fn posed(ds: &Dataset) -> Result<Vec<(&super::View, Pose)>> {
    ds.views
        .iter()
        .map(|v| v.pose.map(|p| (v, p)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            Error::format(
                &ds.root,
                "has no camera poses to convert (images only: poses must be estimated first)",
            )
        })
}

/// Writes the dataset's cameras into `out`; returns the file or folder written.
pub fn write(ds: &Dataset, format: Format, out: &Path) -> Result<PathBuf> {
    let views = posed(ds)?;
    match format {
        Format::Colmap => {
            let dir = out.join("sparse/0");
            let list: Vec<_> = views
                .iter()
                .map(|(v, p)| (v.name.clone(), v.intrinsics, *p))
                .collect();
            colmap::write_text(&dir, &list)?;
            Ok(dir)
        }
        Format::Transforms => {
            let file = out.join("transforms.json");
            let paths: Vec<String> = views
                .iter()
                .map(|(v, _)| relative_path(out, &v.image))
                .collect();
            let frames: Vec<_> = views
                .iter()
                .zip(&paths)
                .map(|((v, p), f)| transforms::FrameOut {
                    file_path: f,
                    intrinsics: &v.intrinsics,
                    pose: p,
                })
                .collect();
            transforms::write(&file, &frames)?;
            Ok(file)
        }
    }
}

/// `target` relative to the folder `base` (both made absolute first), with forward slashes.
pub fn relative_path(base: &Path, target: &Path) -> String {
    let abs = |p: &Path| {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    };
    let (b, t) = (abs(base), abs(target));
    let common = b
        .components()
        .zip(t.components())
        .take_while(|(x, y)| x == y)
        .count();
    let mut rel: Vec<String> = b
        .components()
        .skip(common)
        .map(|_| "..".to_string())
        .collect();
    rel.extend(
        t.components()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    rel.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(Path::new("/a/b"), Path::new("/a/b/images/x.png")),
            "images/x.png"
        );
        assert_eq!(
            relative_path(Path::new("/a/out"), Path::new("/a/data/images/x.png")),
            "../data/images/x.png"
        );
        assert_eq!(
            relative_path(Path::new("/a/./b/../c"), Path::new("/a/c/x.png")),
            "x.png"
        );
    }
}
