//! `weave bench train|view|mesh`: speed of a training step, of a frame of each view mode, and
//! of surface extraction.

use crate::backend::Choice;
use crate::train::{Preset, TrainConfig, Trainer, bench, checkpoint};
use crate::view::{Gpu, MarchSteps, ViewMode};
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    what: Target,
    #[arg(long, default_value_t = 1024)]
    rays: usize,
    #[arg(long, default_value_t = 20)]
    steps: u32,
    /// Steps before timing starts (the occupancy grid settles on the surface).
    #[arg(long, default_value_t = 150)]
    warmup: u32,
    /// Train: the backend to time (auto: CUDA when usable, and the CPU otherwise).
    #[arg(long, value_enum, default_value_t = Choice::Cpu)]
    backend: Choice,
    /// View: the field to draw (default: a short training run on the procedural object).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// View: frame size.
    #[arg(long, default_value_t = 1280)]
    width: u32,
    #[arg(long, default_value_t = 720)]
    height: u32,
    /// View: timed frames per mode.
    #[arg(long, default_value_t = 3)]
    frames: u32,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Target {
    /// Training steps: on the CPU backend one thread and all threads, or on CUDA.
    Train,
    /// Frames of each view mode through the viewer's shaders on the wgpu adapter.
    View,
    /// Marching cubes and simplification at 256³ and 512³ cells on an analytic field, beside
    /// scikit-image's marching cubes on the same grid when python3 has it.
    Mesh,
}

pub fn run(args: Args) -> Result<()> {
    match args.what {
        Target::Train => train(&args),
        Target::View => view(&args),
        Target::Mesh => mesh(),
    }
}

fn train(args: &Args) -> Result<()> {
    let (_dir, ds) = super::bench_scene()?;
    let (rays, warmup, steps) = (args.rays, args.warmup, args.steps);
    println!(
        "bench train: procedural object, 24 views at 160x120, {rays} rays/step, {warmup} warm-up + {steps} timed steps"
    );
    let all = rayon::current_num_threads();
    let cuda = match args.backend {
        Choice::Cpu => false,
        Choice::Cuda => true,
        Choice::Auto => crate::backend::cuda::available().is_ok(),
    };
    if cuda {
        let r = bench::run(&ds, rays, warmup, steps, all, Choice::Cuda)?;
        println!(
            "  CUDA ({}): {:8.2} ms/step ({:.2} in the batch kernels)  {:10.0} rays/s  {:12.0} samples/s",
            crate::backend::cuda::available().map(|d| d.name).unwrap_or_default(),
            r.ms_per_step,
            r.kernel_ms_per_step,
            r.rays_per_s,
            r.samples_per_s
        );
        return Ok(());
    }
    let mut results = Vec::new();
    for threads in if all > 1 { vec![1, all] } else { vec![1] } {
        let r = bench::run(&ds, rays, warmup, steps, threads, Choice::Cpu)?;
        println!(
            "  {} thread(s): {:8.1} ms/step  {:10.0} rays/s  {:12.0} samples/s",
            r.threads, r.ms_per_step, r.rays_per_s, r.samples_per_s
        );
        results.push(r);
    }
    if let [one, many] = results[..] {
        println!("  speed-up {} threads over 1: {:.2}x", many.threads, one.ms_per_step / many.ms_per_step);
    }
    Ok(())
}

fn view(args: &Args) -> Result<()> {
    let t = match &args.checkpoint {
        Some(p) => checkpoint::load(&super::checkpoint_path(p)?, Vec::new())?,
        None => {
            println!("training the procedural object briefly (pass --checkpoint to draw another field)");
            let (_dir, ds) = super::bench_scene()?;
            let mut cfg = TrainConfig::preset(Preset::Fast);
            cfg.rays = 512;
            let mut t = Trainer::new(cfg, crate::render::views::load(&ds.views, 1.0)?);
            for _ in 0..200 {
                let _ = t.step();
            }
            t
        }
    };
    let gpu = Gpu::headless()?;
    let cam = super::view::overview_camera(&t, args.width, args.height);
    println!("bench view: {}x{}, {} frames per mode, on {}", args.width, args.height, args.frames, gpu.adapter);
    let report = |mode: ViewMode, ms: f64, steps: Option<MarchSteps>| {
        let steps = steps.map_or(String::new(), |s| format!("  {:6.1} steps/pixel (max {})", s.mean, s.max));
        println!("  {:<11} {:9.1} ms/frame  {:7.2} frames/s{steps}", mode.label(), ms, 1e3 / ms);
    };
    Ok(crate::view::offscreen::bench(&gpu, &t, &cam, args.frames.max(1), &report)?)
}

fn mesh() -> Result<()> {
    println!("bench mesh: a bumpy ball through a ring, {} threads", rayon::current_num_threads());
    let scratch = tempfile::Builder::new().prefix("weave-bench-").tempdir()?;
    for cells in [256, 512] {
        let t = crate::mesh::bench::run(cells, scratch.path())?;
        println!(
            "  {cells}³: marching cubes {:6.2} s ({} triangles), simplified in {:6.2} s to {} triangles",
            t.marching_s, t.triangles, t.simplify_s, t.simplified
        );
        match t.skimage {
            Ok((s, faces)) => println!(
                "        scikit-image marching_cubes {s:6.2} s ({faces} triangles): Weave takes {:.2}x its time",
                t.marching_s / s
            ),
            Err(why) => println!("        scikit-image not run: {why}"),
        }
    }
    Ok(())
}
