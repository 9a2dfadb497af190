//! `weave poses PATH --out DIR`: the pose stage alone. COLMAP's poses when it poses every
//! photo; otherwise Weave's own, from a capture prior and the scene codebook (`posefree`).
//! Written as a COLMAP model (text and binary, with sparse points) and a transforms.json.

use crate::backend::Choice;
use crate::geometry::{Intrinsics, Pose};
use crate::io::{self, Dataset, colmap};
use crate::sfm::Matcher;
use crate::train::posefree::{self, PoseSettings, Posed, Progress};
use crate::train::{Preset, TrainConfig, Trainer};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Longest side, in pixels, photos have in Weave's pose stage unless `--scale` says: the
/// codebook's descriptors and a coarse field need no more.
const POSE_SIDE: u32 = 160;

/// Most sparse points written: a sample of the surface found.
const MAX_POINTS: usize = 20_000;

#[derive(clap::Args)]
pub struct Args {
    /// Folder of photos (in images/ or the folder itself). Poses it already has are not used:
    /// they are found from the images alone.
    path: PathBuf,
    /// Output folder: sparse/0 (COLMAP text and binary) and transforms.json.
    #[arg(long)]
    out: PathBuf,
    /// Do not try COLMAP first: Weave's own pose stage only.
    #[arg(long)]
    no_colmap: bool,
    #[command(flatten)]
    settings: PoseSettings,
    /// Scale of the photos in Weave's pose stage (default: the longest side at 160 px).
    #[arg(long)]
    scale: Option<f64>,
    /// Rays per training step in Weave's pose stage.
    #[arg(long, default_value_t = 1024)]
    rays: usize,
    /// Compute backend for Weave's pose stage.
    #[arg(long, value_enum, default_value_t = Choice::Auto)]
    backend: Choice,
}

pub fn run(args: Args) -> Result<()> {
    let mut ds = super::open(&args.path)?;
    if ds.has_poses() {
        println!(
            "{}: its own poses ({}) are not used; finding them from the images",
            ds.root.display(),
            ds.pose_source
        );
    }
    ds.views.iter_mut().for_each(|v| v.pose = None);
    if ds.views.len() < 3 {
        bail!("{}: only {} usable images; posing needs at least 3", ds.root.display(), ds.views.len());
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    if !args.no_colmap
        && let Some((cams, points)) = colmap_poses(&ds)
    {
        if cams.len() == ds.views.len() {
            return write(&args.out, &ds, &cams, &points);
        }
        return recover_and_write(&args, &ds, &cams);
    }
    let found = weave_poses(&args, &ds)?;
    let t = &found.trainer;
    let posed: Vec<NamedCamera> =
        crate::train::outputs::posed_views(t, &ds).into_iter().map(|(v, k, p)| (v.name.clone(), k, p)).collect();
    write(&args.out, &ds, &posed, &surface_points(t))
}

/// A photo's name and camera.
type NamedCamera = (String, Intrinsics, Pose);

/// The poses and sparse points COLMAP found, when it is installed and poses at least three
/// photos; what it said otherwise. Read from the model it wrote, not the folder, whose own
/// camera files would win when it opens.
fn colmap_poses(ds: &Dataset) -> Option<(Vec<NamedCamera>, Vec<colmap::Point>)> {
    let found = super::sfm::run_colmap(ds, Matcher::Auto)
        .and_then(|report| Ok((io::dataset::read_cameras(&report.model)?, colmap::read_points(&report.model)?)));
    match found {
        Ok((cams, points)) if cams.len() >= 3 => {
            Some((cams.into_iter().map(|c| (c.name, c.intrinsics, c.pose)).collect(), points))
        }
        Ok((cams, _)) => {
            println!("COLMAP posed {} of {} photos: Weave's own pose stage takes over", cams.len(), ds.views.len());
            None
        }
        Err(e) => {
            println!("{e:#}\nWeave's own pose stage takes over");
            None
        }
    }
}

/// The training Weave's pose stage does on `ds`'s photos.
fn pose_config(args: &Args, ds: &Dataset) -> TrainConfig {
    let longest = ds.views.iter().map(|v| v.intrinsics.width.max(v.intrinsics.height)).max().unwrap_or(1);
    let mut cfg = TrainConfig::preset(Preset::Fast);
    cfg.image_scale = args.scale.unwrap_or((POSE_SIDE as f64 / longest as f64).min(1.0));
    cfg.rays = args.rays;
    cfg
}

fn weave_poses(args: &Args, ds: &Dataset) -> Result<Posed> {
    find(ds, &pose_config(args, ds), &args.settings, args.backend)
}

/// COLMAP posed some photos (`cams`): the others are recovered against a field trained on
/// those, and all are written, COLMAP's poses as it found them.
fn recover_and_write(args: &Args, ds: &Dataset, cams: &[NamedCamera]) -> Result<()> {
    let cfg = pose_config(args, ds);
    let mut posed = ds.clone();
    posed.views = cams
        .iter()
        .filter_map(|(name, k, p)| {
            ds.views.iter().find(|v| v.name == *name).map(|v| io::View { intrinsics: *k, pose: Some(*p), ..v.clone() })
        })
        .collect();
    let views = crate::render::views::load(&posed.views, cfg.image_scale)?;
    let mut t = Trainer::new(cfg, views);
    recover(&mut t, ds, &mut posed, &args.settings, args.backend)?;
    let cams: Vec<NamedCamera> =
        crate::train::outputs::posed_views(&t, &posed).into_iter().map(|(v, k, p)| (v.name.clone(), k, p)).collect();
    write(&args.out, ds, &cams, &surface_points(&t))
}

/// The photos of `bare` that `posed` (the same folder with the poses structure from motion
/// found) lacks, posed against the field `t` trains on `posed`'s (`posefree::recover`), on
/// `backend`, with a progress bar. Those posed join `t`'s views and `posed`'s; the others are
/// named.
pub fn recover(
    t: &mut Trainer,
    bare: &Dataset,
    posed: &mut Dataset,
    settings: &PoseSettings,
    backend: Choice,
) -> Result<()> {
    let known: std::collections::HashSet<&str> = posed.views.iter().map(|v| v.name.as_str()).collect();
    // A photo left out takes the camera COLMAP found for photos of its size.
    let left: Vec<io::View> = bare
        .views
        .iter()
        .filter(|v| !known.contains(v.name.as_str()))
        .map(|v| {
            let size = |k: &Intrinsics| (k.width, k.height);
            let same = posed.views.iter().find(|p| size(&p.intrinsics) == size(&v.intrinsics));
            io::View {
                intrinsics: same.map_or(v.intrinsics, |p| p.intrinsics),
                pose: Some(Pose::IDENTITY),
                ..v.clone()
            }
        })
        .collect();
    if left.is_empty() {
        return Ok(());
    }
    let views = crate::render::views::load(&left, t.cfg.image_scale)?;
    let _ = t.choose_backend(backend);
    let bar = super::bar(0, "{msg:28} {bar:30} {pos}/{len} steps [{elapsed} < {eta}]");
    bar.set_message(format!("posing {} photos COLMAP left out", left.len()));
    let found = posefree::recover(t, views, settings, &|p| show(&bar, p), super::ctrl_c()?);
    bar.finish_and_clear();
    let found = found.context("stopped while posing the photos COLMAP left out: nothing written")?;
    println!("{}", found.summary());
    posed
        .views
        .extend(left.into_iter().filter(|v| found.posed.contains(&v.name)).map(|v| io::View { pose: None, ..v }));
    Ok(())
}

/// Weave's own pose stage on every photo of `ds` (poses it has are ignored), training with
/// `cfg` on `backend`, with a progress bar; Err when stopped.
pub fn find(ds: &Dataset, cfg: &TrainConfig, settings: &PoseSettings, backend: Choice) -> Result<Posed> {
    let placeholders: Vec<io::View> =
        ds.views.iter().cloned().map(|v| io::View { pose: Some(Pose::IDENTITY), ..v }).collect();
    let views = crate::render::views::load(&placeholders, cfg.image_scale)?;
    let bar = super::bar(0, "{msg:28} {bar:30} {pos}/{len} steps [{elapsed} < {eta}]");
    bar.set_message("posing from the prior");
    let found = posefree::bootstrap(cfg, views, settings, backend, &|p| show(&bar, p), super::ctrl_c()?);
    bar.finish_and_clear();
    let found = found.context("stopped during the pose stage: nothing written")?;
    println!("{}", found.summary());
    Ok(found)
}

/// The pose stage's progress on `bar`.
fn show(bar: &indicatif::ProgressBar, p: Progress) {
    match p {
        Progress::Start { start, starts } => bar.set_message(format!("first guess {start}/{starts}")),
        Progress::Step { step, total } => {
            bar.set_length(total as u64);
            bar.set_position(step as u64)
        }
        Progress::Round { round, rounds, reestimated } => {
            bar.set_message(format!("round {}/{rounds}", round + 1));
            super::say(bar, &format!("round {round}: {reestimated} poses re-estimated through the scene codebook"));
        }
        Progress::Poses(_) => {}
    }
}

/// A sample of the surface found, as sparse points in the input frame.
fn surface_points(t: &Trainer) -> Vec<colmap::Point> {
    let mesh = crate::train::outputs::mesh(t, 96, None, None);
    let step = mesh.vertices.len().div_ceil(MAX_POINTS).max(1);
    (0..mesh.vertices.len())
        .step_by(step)
        .map(|i| colmap::Point {
            position: mesh.vertices[i].as_dvec3(),
            rgb: mesh.colors.get(i).copied().unwrap_or([128; 3]),
        })
        .collect()
}

fn write(out: &Path, ds: &Dataset, posed: &[NamedCamera], points: &[colmap::Point]) -> Result<()> {
    let model = out.join("sparse/0");
    std::fs::create_dir_all(&model).with_context(|| format!("creating {}", model.display()))?;
    colmap::write_text(&model, posed, points)?;
    colmap::write_binary(&model, posed, points)?;
    let paths: Vec<String> =
        posed.iter().map(|(name, _, _)| io::paths::relative_path(out, &ds.images_dir.join(name))).collect();
    let frames: Vec<_> = posed
        .iter()
        .zip(&paths)
        .map(|((_, k, p), f)| io::transforms::FrameOut { file_path: f, intrinsics: k, pose: p })
        .collect();
    io::transforms::write(&out.join("transforms.json"), &frames)?;
    println!(
        "{} poses, {} sparse points: {} and {}",
        posed.len(),
        points.len(),
        model.display(),
        out.join("transforms.json").display()
    );
    Ok(())
}
