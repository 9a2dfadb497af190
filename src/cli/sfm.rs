//! `weave sfm PATH`: camera poses of bare photos, by COLMAP.

use crate::io::{Dataset, PoseSource};
use crate::sfm::{self, Matcher};
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Folder of photos (in images/ or the folder itself).
    path: PathBuf,
    /// How photos are paired for matching.
    #[arg(long, value_enum, default_value_t = Matcher::Auto)]
    matcher: Matcher,
}

pub fn run(args: Args) -> Result<()> {
    let ds = super::open(&args.path)?;
    // A model of Weave's own (an earlier `weave sfm`) is replaced; other camera files win over
    // it when the folder opens, so a new one would go unused.
    let ours = ds.root.join(sfm::WORK_DIR).join("sparse/0");
    match &ds.pose_source {
        PoseSource::None => {}
        PoseSource::Colmap(dir) if *dir == ours => {}
        other => bail!(
            "{}: already has camera poses ({other}), which Weave reads before a model `weave sfm` writes; \
             move them aside to find the poses again",
            ds.root.display()
        ),
    }
    find_poses(&ds, args.matcher).map(|_| ())
}

/// Finds the poses of a folder of bare photos with COLMAP, with a bar per stage; returns the
/// folder opened again, now with them.
pub fn find_poses(ds: &Dataset, matcher: Matcher) -> Result<Dataset> {
    run_colmap(ds, matcher)?;
    let posed = super::open(&ds.root)?;
    if !posed.has_poses() {
        bail!("{}: COLMAP's model gives no usable poses", ds.root.display());
    }
    Ok(posed)
}

/// Runs COLMAP on the folder's photos with a bar per stage and says what it found.
pub fn run_colmap(ds: &Dataset, matcher: Matcher) -> Result<sfm::Report> {
    let colmap = sfm::Colmap::find()?;
    println!("{} ({}), {} photos", colmap.version, colmap.exe.display(), ds.views.len());
    let bar = super::bar(0, "{msg:20} [{bar:30}] {pos}/{len}, ETA {eta}");
    let stage = std::cell::Cell::new(None);
    let progress = |s: sfm::Stage, done: usize, total: usize| {
        if stage.replace(Some(s)) != Some(s) {
            bar.reset();
            bar.set_message(s.label());
            bar.set_length(total as u64);
        }
        bar.set_position(done as u64);
    };
    let report = sfm::estimate(&colmap, ds, matcher, &progress, super::ctrl_c()?);
    bar.finish_and_clear();
    let report = report?;
    println!("{}", report.summary());
    Ok(report)
}
