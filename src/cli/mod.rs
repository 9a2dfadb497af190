//! The `weave` command line: the window by default, and everything it does as commands, one
//! file each, each a short function over library calls.

mod bench;
mod convert;
mod doctor;
mod export;
mod info;
mod poses;
mod render;
mod scene;
mod sfm;
mod train;
mod view;
mod window;

use crate::io::Dataset;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Weave: photos in; cameras, a neural surface, a mesh and poses out.
///
/// With no command, opens the Weave window: on PATH if given, else on the bundled default scene.
#[derive(Parser)]
#[command(name = "weave", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    window: window::Args,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print what a folder holds: images, sizes, where intrinsics and poses come from.
    Info(info::Args),
    /// Write a folder's cameras in another format (COLMAP text model or transforms.json).
    Convert(convert::Args),
    /// Find the camera poses of a folder of bare photos with COLMAP (structure from motion),
    /// into PATH/colmap/sparse/0, where Weave then finds them.
    Sfm(sfm::Args),
    /// Find the camera poses of a folder's photos from the images alone: COLMAP's when it
    /// poses them all, else Weave's own from a capture prior; writes a COLMAP model and a
    /// transforms.json.
    Poses(poses::Args),
    /// Write a procedural scene with exact ground truth (images, cameras, mesh).
    Scene(scene::Args),
    /// Train a neural surface on a folder; writes mesh, poses, renders, metrics.
    Train(train::Args),
    /// Extract the mesh of a checkpoint, e.g. at another resolution or in another format.
    Export(export::Args),
    /// What this machine offers for training: the CUDA driver, devices, NVRTC, and the
    /// backend Weave would choose.
    Doctor(doctor::Args),
    /// Measure speed: `weave bench train` times training steps on a fixed procedural scene;
    /// `weave bench view` times a frame of each view mode; `weave bench mesh` times surface
    /// extraction.
    Bench(bench::Args),
    /// Draw one frame of a checkpoint's field through the viewer's shaders, offscreen, to a PNG.
    View(view::Args),
    /// Render the cameras of a transforms.json or COLMAP model from a checkpoint to PNGs.
    Render(render::Args),
}

/// Runs the command line of this process; errors are printed with their causes.
pub fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let result = match Cli::parse().command_or_window() {
        Ok(cmd) => run(cmd),
        Err(args) => window::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Cli {
    fn command_or_window(self) -> Result<Command, window::Args> {
        self.command.ok_or(self.window)
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Info(a) => info::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Sfm(a) => sfm::run(a),
        Command::Poses(a) => poses::run(a),
        Command::Scene(a) => scene::run(a),
        Command::Train(a) => train::run(a),
        Command::Export(a) => export::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Bench(a) => bench::run(a),
        Command::View(a) => view::run(a),
        Command::Render(a) => render::run(a),
    }
}

/// Opens a folder, printing what it skipped.
fn open(path: &Path) -> Result<Dataset> {
    let ds = Dataset::open(path)?;
    for w in &ds.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ds)
}

/// Ctrl-C's flag: set once it is pressed (the handler is installed on first use).
fn ctrl_c() -> Result<&'static AtomicBool> {
    static STOP: AtomicBool = AtomicBool::new(false);
    static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)).map_err(|e| e.to_string()))
        .clone()
        .map_err(anyhow::Error::msg)
        .context("installing the Ctrl-C handler")?;
    Ok(&STOP)
}

/// A progress bar of `len` steps drawn by indicatif's `template`.
fn bar(len: u64, template: &str) -> ProgressBar {
    ProgressBar::new(len).with_style(ProgressStyle::with_template(template).expect("valid template"))
}

/// A line above the progress bar, or on its own when the bar is hidden (no terminal), where
/// indicatif would drop it.
fn say(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() { println!("{line}") } else { bar.println(line) }
}

/// A checkpoint path, or a training output folder's checkpoint.
fn checkpoint_path(path: &Path) -> Result<PathBuf> {
    let inside = path.join("checkpoint.weave");
    if path.is_dir() {
        if inside.is_file() {
            return Ok(inside);
        }
        anyhow::bail!("{} holds no checkpoint.weave: train first (`weave train PHOTOS --out DIR`)", path.display());
    }
    Ok(path.to_path_buf())
}

/// The procedural object at 160 × 120, 24 views, written to a temporary folder that is
/// removed when the returned guard drops: what benchmarks run on.
fn bench_scene() -> Result<(tempfile::TempDir, Dataset)> {
    let dir = tempfile::Builder::new().prefix("weave-bench-").tempdir().context("creating a temporary folder")?;
    let opts =
        crate::scene::Options { width: 160, height: 120, views: Some(24), test_views: Some(0), ..Default::default() };
    crate::scene::generate(crate::scene::find("object").expect("object scene exists"), &opts, dir.path(), &|_, _| {})?;
    let ds = Dataset::open(dir.path())?;
    Ok((dir, ds))
}
