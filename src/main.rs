//! The `weave` command: the app by default, and everything it does as scriptable commands.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use weave::compute::Backend;
use weave::geometry::rig::Layout;
use weave::io::{Dataset, PoseSource, convert};
use weave::mesh::Unseen;
use weave::scene;
use weave::sfm::{self, Matcher};
use weave::train::{Preset, TrainConfig, Trainer, checkpoint, outputs};
use weave::view::{FieldStyle, Gpu, ViewCamera, ViewMode};

/// Weave: photos in; cameras, a neural surface, a mesh and poses out.
///
/// With no command, opens the Weave window: on PATH if given, else on the bundled default scene.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Photo folder to open in the window (images, images + COLMAP model, or transforms.json).
    path: Option<PathBuf>,
    /// Save a screenshot of the window to this PNG once the folder has loaded, then exit.
    #[arg(long, value_name = "OUT.png")]
    screenshot: Option<PathBuf>,
    /// With --screenshot: one screenshot per view mode (OUT-cameras.png, OUT-sdf.png, …).
    #[arg(long, requires = "screenshot")]
    all_modes: bool,
    /// Start training in the window for this many steps once the folder has loaded (fast preset).
    #[arg(long, value_name = "STEPS")]
    train: Option<u32>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print what a folder holds: images, sizes, where intrinsics and poses come from.
    Info {
        path: PathBuf,
        /// List every image with its camera.
        #[arg(long)]
        images: bool,
    },
    /// Write a folder's cameras in another format (COLMAP text model or transforms.json).
    Convert {
        path: PathBuf,
        #[arg(long, value_enum)]
        to: convert::Format,
        #[arg(long)]
        out: PathBuf,
    },
    /// Find the camera poses of a folder of bare photos with COLMAP (structure from motion),
    /// into PATH/colmap/sparse/0, where Weave then finds them.
    Sfm {
        /// Folder of photos (in images/ or the folder itself).
        path: PathBuf,
        /// How photos are paired for matching.
        #[arg(long, value_enum, default_value_t = Matcher::Auto)]
        matcher: Matcher,
    },
    /// Write a procedural scene with exact ground truth (images, cameras, mesh).
    Scene(SceneArgs),
    /// Train a neural surface on a folder with known poses; writes mesh, poses, renders, metrics.
    Train(TrainArgs),
    /// Extract the mesh of a checkpoint, e.g. at another resolution or in another format.
    Export {
        checkpoint: PathBuf,
        /// The mesh file; its extension chooses the format: .ply (binary, vertex colours),
        /// .obj (vertex colours after each position) or .glb (binary glTF, vertex colours, unlit).
        #[arg(long, value_name = "OUT.ply|obj|glb")]
        mesh: PathBuf,
        /// Marching resolution (cells per side of the normalised cube).
        #[arg(long, default_value_t = 256)]
        resolution: usize,
        /// Surface no training camera saw: keep or drop (default: as training chose, which
        /// drops it for forward-facing captures and rooms and keeps objects closed).
        #[arg(long, value_enum)]
        unseen: Option<Unseen>,
    },
    /// What this machine offers for training: the CUDA driver, devices, NVRTC, and the
    /// backend Weave would choose.
    Doctor {
        /// Also compile every CUDA kernel with NVRTC (works without a GPU).
        #[arg(long)]
        compile_kernels: bool,
        /// With --compile-kernels: each kernel's registers, stack, spills and shared memory
        /// (ptxas -v; slower).
        #[arg(long, requires = "compile_kernels")]
        resources: bool,
        /// Architecture to compile for (default: the first device's, else sm_90).
        #[arg(long, value_name = "sm_XY")]
        arch: Option<String>,
        /// Run every kernel on the GPU against the CPU backend and report the differences.
        #[arg(long)]
        parity: bool,
    },
    /// Measure speed: `weave bench train` times training steps on a fixed procedural scene;
    /// `weave bench view` times a frame of each view mode.
    Bench {
        #[arg(value_enum)]
        what: BenchTarget,
        #[arg(long, default_value_t = 1024)]
        rays: usize,
        #[arg(long, default_value_t = 20)]
        steps: u32,
        /// Steps before timing starts (the occupancy grid settles on the surface).
        #[arg(long, default_value_t = 150)]
        warmup: u32,
        /// Train: the backend to time (auto: CUDA when usable, and the CPU otherwise).
        #[arg(long, value_enum, default_value_t = Backend::Cpu)]
        backend: Backend,
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
    },
    /// Draw one frame of a checkpoint's field through the viewer's shaders, offscreen, to a PNG.
    View(ViewArgs),
    /// Render the cameras of a transforms.json or COLMAP model from a checkpoint to PNGs.
    Render {
        checkpoint: PathBuf,
        #[arg(long)]
        cameras: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Photo folder: with poses (COLMAP model or transforms.json), or bare photos, whose poses
    /// COLMAP finds first (as `weave sfm`).
    path: PathBuf,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = Preset::Fast)]
    preset: Preset,
    /// Training steps (default: the preset's).
    #[arg(long)]
    iterations: Option<u32>,
    /// Rays per step (default: the preset's).
    #[arg(long)]
    rays: Option<usize>,
    /// Scale of the photos' resolution used for training, e.g. 0.5 (default: 1, or what
    /// brings the longest side down to 1600 px).
    #[arg(long)]
    scale: Option<f64>,
    /// Capture layout (default: detected from the cameras).
    #[arg(long, value_enum)]
    layout: Option<Layout>,
    /// Marching resolution of the exported mesh (default: the preset's).
    #[arg(long)]
    mesh_resolution: Option<usize>,
    /// Optimise every camera's pose along with the surface (for poses that are close but not
    /// exact, e.g. from a phone's AR session or a rough COLMAP run).
    #[arg(long)]
    refine_poses: bool,
    /// Compute backend: CUDA when a usable GPU is found, else the CPU.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    /// Continue from this checkpoint (its settings are kept; --iterations may extend them).
    #[arg(long, value_name = "CHECKPOINT")]
    resume: Option<PathBuf>,
    /// Hold every N-th photo out of training and report its PSNR (LLFF's convention: 8), for
    /// folders without a test split.
    #[arg(long, value_name = "N")]
    holdout: Option<usize>,
    /// Surface no training camera saw, in the mesh: keep or drop (default: dropped for
    /// forward-facing captures and rooms, kept for objects, which stay closed).
    #[arg(long, value_enum)]
    unseen: Option<Unseen>,
    /// Keep the whole photo even when it shows a plain black or white backdrop (by default
    /// the backdrop the border reaches is masked as empty).
    #[arg(long)]
    no_auto_masks: bool,
    /// The background field beyond the scene's bounds: on or off (default: off for rooms,
    /// whose walls lie inside the bounds; on otherwise). Off, the scene itself must explain
    /// every pixel.
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    background: Option<bool>,
    /// Depth maps from multi-view stereo (PatchMatch) as a prior on the surface: on or off
    /// (default: on for rooms, whose flat walls photometric training alone leaves a fog).
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    stereo: Option<bool>,
    /// Rounds of stereo with the prior (HelixSurf's loop): 1 matches the photos before
    /// training only; each further round, evenly spaced, matches them again starting from the
    /// surface trained so far.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=8))]
    stereo_rounds: Option<u32>,
    /// Degree of the view direction's spherical harmonics in the surface colour, 1 to 4
    /// (instant-ngp's count; 1: colour independent of the view). Default: 1 for rooms, 4
    /// otherwise.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4))]
    view_degree: Option<u32>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BenchTarget {
    /// Training steps: on the CPU backend one thread and all threads, or on CUDA.
    Train,
    /// Frames of each view mode through the viewer's shaders on the wgpu adapter.
    View,
}

#[derive(clap::Args)]
struct ViewArgs {
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

#[derive(clap::Args)]
struct SceneArgs {
    /// Scene name (see --list).
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// List the available scenes.
    #[arg(long)]
    list: bool,
    /// Output folder.
    #[arg(long, required_unless_present = "list")]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 320)]
    width: u32,
    #[arg(long, default_value_t = 240)]
    height: u32,
    /// Training views (default: the scene's own).
    #[arg(long)]
    views: Option<usize>,
    /// Held-out test views, written to test/ and transforms_test.json.
    #[arg(long)]
    test_views: Option<usize>,
    /// Noise on the given poses: rotation standard deviation in degrees.
    #[arg(long, default_value_t = 0.0)]
    rot_noise: f64,
    /// Noise on the given poses: camera-centre standard deviation in scene units.
    #[arg(long, default_value_t = 0.0)]
    trans_noise: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => weave::app::run(
            cli.path.or_else(default_scene),
            weave::app::Script { screenshot: cli.screenshot, all_modes: cli.all_modes, train_steps: cli.train },
        ),
        Some(Command::Info { path, images }) => info(&path, images),
        Some(Command::Convert { path, to, out }) => convert_cmd(&path, to, &out),
        Some(Command::Sfm { path, matcher }) => sfm_cmd(&path, matcher),
        Some(Command::Scene(args)) => scene_cmd(args),
        Some(Command::Train(args)) => train_cmd(args),
        Some(Command::Export { checkpoint: ckpt, mesh, resolution, unseen }) => {
            export_cmd(&ckpt, &mesh, resolution, unseen)
        }
        Some(Command::Render { checkpoint: ckpt, cameras, out }) => render_cmd(&ckpt, &cameras, &out),
        Some(Command::View(args)) => view_cmd(args),
        Some(Command::Bench { what: BenchTarget::Train, rays, steps, warmup, backend, .. }) => {
            bench_cmd(rays, steps, warmup, backend)
        }
        Some(Command::Doctor { compile_kernels, resources, arch, parity }) => {
            doctor_cmd(compile_kernels, resources, arch, parity)
        }
        Some(Command::Bench { what: BenchTarget::View, checkpoint, width, height, frames, .. }) => {
            bench_view_cmd(checkpoint, width, height, frames)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The small scene committed under `scenes/`, found next to the sources or the binary.
fn default_scene() -> Option<PathBuf> {
    let beside_exe = std::env::current_exe().ok().and_then(|e| e.parent().map(|p| p.join("scenes/object")));
    [Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenes/object")), beside_exe]
        .into_iter()
        .flatten()
        .find(|p| p.is_dir())
}

fn open(path: &std::path::Path) -> Result<Dataset> {
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

fn sfm_cmd(path: &std::path::Path, matcher: Matcher) -> Result<()> {
    let ds = open(path)?;
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
    find_poses(&ds, matcher).map(|_| ())
}

/// Finds the poses of a folder of bare photos with COLMAP, with a bar per stage; returns the
/// folder opened again, now with them.
fn find_poses(ds: &Dataset, matcher: Matcher) -> Result<Dataset> {
    let colmap = sfm::Colmap::find()?;
    println!("{} ({}), {} photos", colmap.version, colmap.exe.display(), ds.views.len());
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:20} [{bar:30}] {pos}/{len}, ETA {eta}").expect("valid template"),
    );
    let stage = std::cell::Cell::new(None);
    let report = sfm::estimate(
        &colmap,
        ds,
        matcher,
        &|s, done, total| {
            if stage.replace(Some(s)) != Some(s) {
                bar.reset();
                bar.set_message(s.label());
                bar.set_length(total as u64);
            }
            bar.set_position(done as u64);
        },
        ctrl_c()?,
    );
    bar.finish_and_clear();
    let report = report?;
    println!("{}", report.summary());
    let posed = open(&ds.root)?;
    if !posed.has_poses() {
        bail!("{}: COLMAP's model gives no usable poses", ds.root.display());
    }
    Ok(posed)
}

fn info(path: &std::path::Path, list_images: bool) -> Result<()> {
    let ds = open(path)?;
    println!("folder:      {}", ds.root.display());
    println!("poses:       {}", ds.pose_source);
    println!("images:      {} in {}", ds.views.len(), ds.images_dir.display());
    let mut sizes: Vec<(u32, u32)> = ds.views.iter().map(|v| (v.intrinsics.width, v.intrinsics.height)).collect();
    sizes.sort();
    sizes.dedup();
    let sizes: Vec<String> = sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect();
    println!("sizes:       {}", sizes.join(", "));
    let mut sources: Vec<String> = ds.views.iter().map(|v| v.intrinsics_source.to_string()).collect();
    sources.dedup();
    println!("intrinsics:  {}", sources.join("; "));
    let k = &ds.views[0].intrinsics;
    let shared = ds.views.iter().all(|v| v.intrinsics == *k);
    println!(
        "camera:      fx {:.2}  fy {:.2}  cx {:.2}  cy {:.2}  {:?}{}",
        k.fx,
        k.fy,
        k.cx,
        k.cy,
        k.distortion,
        if shared { "" } else { "  (first image; cameras differ per image)" }
    );
    let masks = ds.views.iter().filter(|v| v.mask.is_some()).count();
    if masks > 0 {
        println!("masks:       {masks}");
    }
    if !ds.test_views.is_empty() {
        println!("test views:  {} (transforms_test.json)", ds.test_views.len());
    }
    if list_images {
        for v in &ds.views {
            let k = &v.intrinsics;
            let c = v.pose.map(|p| format!("  centre {:.4} {:.4} {:.4}", p.center.x, p.center.y, p.center.z));
            println!("  {}  {}x{}  f {:.2}{}", v.name, k.width, k.height, k.fx, c.unwrap_or_default());
        }
    }
    Ok(())
}

fn convert_cmd(path: &std::path::Path, to: convert::Format, out: &std::path::Path) -> Result<()> {
    let ds = open(path)?;
    let written = convert::write(&ds, to, out)?;
    println!("wrote {} cameras to {}", ds.views.len(), written.display());
    if to == convert::Format::Colmap {
        println!("image names are relative to {}", ds.images_dir.display());
    }
    Ok(())
}

fn scene_cmd(args: SceneArgs) -> Result<()> {
    if args.list {
        for s in scene::SCENES {
            println!("{:<8} {} ({} views + {} test)", s.name, s.summary, s.default_views, s.default_test_views);
        }
        return Ok(());
    }
    let name = args.name.expect("clap requires a name without --list");
    let out = args.out.expect("clap requires --out without --list");
    let Some(entry) = scene::find(&name) else {
        let names: Vec<_> = scene::SCENES.iter().map(|s| s.name).collect();
        bail!("unknown scene {name:?}: choose one of {}", names.join(", "));
    };
    let opts = scene::Options {
        width: args.width,
        height: args.height,
        views: args.views,
        test_views: args.test_views,
        rot_noise_deg: args.rot_noise,
        trans_noise: args.trans_noise,
        seed: args.seed,
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} views, ETA {eta}").expect("valid template"),
    );
    bar.set_message(format!("rendering {name}"));
    let written = scene::generate(entry, &opts, &out, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .with_context(|| format!("writing scene {name}"))?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({} views, {} test views, gt_mesh.ply) to {}",
        name,
        written.views,
        written.test_views,
        written.dir.display()
    );
    Ok(())
}

fn train_cmd(args: TrainArgs) -> Result<()> {
    let mut ds = open(&args.path)?;
    if !ds.has_poses() {
        println!("{}: no camera poses; finding them with COLMAP first (`weave sfm` does only that)", ds.root.display());
        ds = find_poses(&ds, Matcher::Auto)?;
    }
    // A resumed run holds out what its checkpoint held out.
    let probe = args.resume.as_ref().map(|ckpt| checkpoint::load(ckpt, Vec::new())).transpose()?;
    let holdout = probe.as_ref().map_or(args.holdout, |p| p.cfg.holdout);
    if let Some(every) = holdout {
        ds.hold_out(every).map_err(anyhow::Error::msg)?;
    }
    if ds.views.len() < 3 {
        bail!("{}: only {} usable images; training needs at least 3", ds.root.display(), ds.views.len());
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut trainer = match (&args.resume, probe) {
        (Some(ckpt), Some(probe)) => {
            // The checkpoint's settings (image scale among them) decide how the photos load.
            let views = weave::train::data::load(&ds.views, probe.cfg.image_scale)?;
            let mut t = checkpoint::load(ckpt, views)?;
            t.cfg.iterations = args.iterations.unwrap_or(t.cfg.iterations);
            t.cfg.unseen = args.unseen.or(t.cfg.unseen);
            println!("resuming from {} at step {}", ckpt.display(), t.step);
            t
        }
        _ => {
            let mut cfg = TrainConfig::preset(args.preset);
            cfg.iterations = args.iterations.unwrap_or(cfg.iterations);
            cfg.rays = args.rays.unwrap_or(cfg.rays);
            cfg.image_scale = args.scale.unwrap_or_else(|| {
                let (scale, note) = weave::train::data::auto_scale(&ds.views);
                if let Some(note) = note {
                    println!("note: {note} (--scale 1 trains them whole)");
                }
                scale
            });
            cfg.layout = args.layout;
            cfg.mesh_resolution = args.mesh_resolution.unwrap_or(cfg.mesh_resolution);
            cfg.refine_poses = args.refine_poses;
            cfg.holdout = args.holdout;
            cfg.auto_masks = !args.no_auto_masks;
            cfg.unseen = args.unseen;
            cfg.background = args.background;
            cfg.depth_prior = args.stereo;
            cfg.stereo_rounds = args.stereo_rounds.unwrap_or(cfg.stereo_rounds);
            cfg.view_degree = args.view_degree;
            let views = weave::train::data::load(&ds.views, cfg.image_scale)?;
            // A bar for multi-view stereo, shown once it starts (rooms; --stereo on).
            let bar = std::sync::OnceLock::new();
            let total = views.len() as u64;
            let progress = |done| {
                bar.get_or_init(|| {
                    ProgressBar::new(total).with_style(
                        ProgressStyle::with_template("multi-view stereo {bar:30} {pos}/{len} photos, ETA {eta}")
                            .expect("valid template"),
                    )
                })
                .set_position(done as u64);
            };
            let t = Trainer::with_progress(cfg, views, &progress, ctrl_c()?);
            if let Some(b) = bar.get() {
                b.finish_and_clear();
            }
            let Some(t) = t else {
                println!("stopped during multi-view stereo, before training: nothing written");
                return Ok(());
            };
            t
        }
    };
    if args.backend != Backend::Cpu
        && let Some(d) = weave::compute::cuda::first_start()
    {
        eprintln!("Compiling the CUDA kernels for {} ({}): the first start only, then cached.", d.name, d.arch());
    }
    let (backend, note) = trainer.choose_backend(args.backend).context("--backend cuda")?;
    if let Some(note) = note {
        eprintln!("note: {note}; training on the CPU");
    }
    if let Some(note) = trainer.backdrop_note() {
        println!("{note} --no-auto-masks keeps them whole.");
    }
    // The prior's depths as points, rewritten after each round of stereo.
    let write_stereo = |t: &Trainer| -> anyhow::Result<Option<String>> {
        let Some(stats) = &t.depth_prior else { return Ok(None) };
        let cloud = weave::train::depth_prior::point_cloud(&t.views, &t.norm);
        let path = args.out.join("stereo.ply");
        weave::io::ply::write(&path, &cloud).with_context(|| format!("writing {}", path.display()))?;
        Ok(Some(format!("{} Its points: {}.", stats.note(), path.display())))
    };
    if let Some(note) = write_stereo(&trainer)? {
        println!("{note} --stereo off trains without it.");
    }
    println!(
        "training on {} views ({backend}; {:?} layout, {} rays/step, {} steps)",
        trainer.views.len(),
        trainer.layout,
        trainer.cfg.rays,
        trainer.cfg.iterations,
    );
    let stop = ctrl_c()?;
    let bar = ProgressBar::new(trainer.cfg.iterations as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]").expect("valid template"),
    );
    let (started, first_step) = (std::time::Instant::now(), trainer.step);
    let mut metrics = outputs::Metrics {
        layout: format!("{:?}", trainer.layout),
        rays_per_step: trainer.cfg.rays,
        ..Default::default()
    };
    while trainer.step < trainer.cfg.iterations {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            say(&bar, "stopping: writing what has been trained so far");
            metrics.stopped_early = true;
            break;
        }
        if trainer.stereo_round_due() {
            let (round, total) = (trainer.stereo_rounds_done() + 1, trainer.views.len());
            bar.set_message(format!("multi-view stereo, round {round}"));
            let done = trainer.stereo_round(
                &|done| bar.set_message(format!("multi-view stereo, round {round}: {done}/{total} photos")),
                stop,
            );
            match done {
                Ok(Some(_)) => say(&bar, &write_stereo(&trainer)?.unwrap_or_default()),
                // Cancelled: the loop stops next.
                Ok(None) => {}
                Err(r) => say(&bar, &format!("warning: {}", r.why)),
            }
            continue;
        }
        match trainer.step() {
            Ok(s) => {
                bar.set_position(s.step as u64);
                let status = || {
                    format!(
                        "loss {:.4}  psnr {:.2}  s {:.0}  {:.0} samples/ray",
                        s.loss, s.psnr, s.inv_s, s.samples_per_ray
                    )
                };
                if s.step % 10 == 0 {
                    bar.set_message(status());
                }
                // Without a terminal (a log file, CI) the bar is hidden: a line every 5 %.
                if bar.is_hidden() && s.step % (trainer.cfg.iterations / 20).max(1) == 0 {
                    let secs = started.elapsed().as_secs_f64();
                    let eta = secs / (s.step - first_step).max(1) as f64 * (trainer.cfg.iterations - s.step) as f64;
                    println!("step {}/{}  {}  {secs:.0} s, ETA {eta:.0} s", s.step, trainer.cfg.iterations, status());
                }
                metrics.final_loss = s.loss;
                metrics.train_psnr = s.psnr;
            }
            Err(r) => {
                metrics.rollbacks += 1;
                say(&bar, &format!("warning: {}", r.why));
            }
        }
    }
    bar.finish_and_clear();
    metrics.iterations = trainer.step;
    metrics.seconds = started.elapsed().as_secs_f64();
    println!("trained {} steps in {:.1} s; writing outputs", trainer.step, metrics.seconds);
    if let Err(e) = trainer.sync() {
        eprintln!("warning: {}", trainer.abandon_cuda(&e).why);
    }
    checkpoint::save(&trainer, &args.out.join("checkpoint.weave"))?;
    if let Some(note) = outputs::write_all(&trainer, &ds, &args.out, &mut metrics)? {
        eprintln!("warning: {note}");
    }
    println!(
        "mesh {} triangles; held-out PSNR {}; wrote {}",
        metrics.mesh_triangles,
        metrics.test_psnr.map_or("n/a".into(), |p| format!("{p:.2} dB")),
        args.out.display()
    );
    Ok(())
}

/// A line above the progress bar, or on its own when the bar is hidden (no terminal), where
/// indicatif would drop it.
fn say(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() { println!("{line}") } else { bar.println(line) }
}

fn export_cmd(
    ckpt: &std::path::Path,
    mesh_path: &std::path::Path,
    resolution: usize,
    unseen: Option<Unseen>,
) -> Result<()> {
    if !(16..=2048).contains(&resolution) {
        bail!("--resolution {resolution} is out of range (16 to 2048)");
    }
    weave::io::mesh::MeshFormat::of(mesh_path)?;
    let t = checkpoint::load(ckpt, Vec::new())?;
    let mesh = outputs::write_mesh(&t, mesh_path, resolution, unseen)?;
    if let Some(note) = &mesh.note {
        eprintln!("warning: {note}");
    }
    println!("wrote {} ({} vertices, {} triangles)", mesh_path.display(), mesh.vertices, mesh.triangles);
    Ok(())
}

fn render_cmd(ckpt: &std::path::Path, cameras: &std::path::Path, out: &std::path::Path) -> Result<()> {
    let t = checkpoint::load(ckpt, Vec::new())?;
    let cams = weave::io::dataset::read_cameras(cameras)?;
    let bar = ProgressBar::new(cams.len() as u64).with_style(
        ProgressStyle::with_template("rendering [{bar:30}] {pos}/{len} views, ETA {eta}").expect("valid template"),
    );
    for c in &cams {
        outputs::render_png(&t, &c.intrinsics, &c.pose, out, &c.name)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("rendered {} views into {}", cams.len(), out.display());
    Ok(())
}

fn bench_cmd(rays: usize, steps: u32, warmup: u32, backend: Backend) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("weave-bench-{}", std::process::id()));
    let opts = scene::Options { width: 160, height: 120, views: Some(24), test_views: Some(0), ..Default::default() };
    scene::generate(scene::find("object").expect("object scene exists"), &opts, &dir, &|_, _| {})?;
    let ds = Dataset::open(&dir)?;
    println!(
        "bench train: procedural object, 24 views at 160x120, {rays} rays/step, {warmup} warm-up + {steps} timed steps"
    );
    let all = rayon::current_num_threads();
    let cuda = match backend {
        Backend::Cpu => false,
        Backend::Cuda => true,
        Backend::Auto => weave::compute::cuda::available().is_ok(),
    };
    if cuda {
        let r = weave::train::bench::run(&ds, rays, warmup, steps, all, true);
        let _ = std::fs::remove_dir_all(&dir);
        let r = r?;
        println!(
            "  CUDA ({}): {:8.2} ms/step ({:.2} in the batch kernels)  {:10.0} rays/s  {:12.0} samples/s",
            weave::compute::cuda::available().map(|d| d.name).unwrap_or_default(),
            r.ms_per_step,
            r.kernel_ms_per_step,
            r.rays_per_s,
            r.samples_per_s
        );
        return Ok(());
    }
    let mut results = Vec::new();
    for threads in if all > 1 { vec![1, all] } else { vec![1] } {
        let r = weave::train::bench::run(&ds, rays, warmup, steps, threads, false)?;
        println!(
            "  {} thread(s): {:8.1} ms/step  {:10.0} rays/s  {:12.0} samples/s",
            r.threads, r.ms_per_step, r.rays_per_s, r.samples_per_s
        );
        results.push(r);
    }
    if let [one, many] = results[..] {
        println!("  speed-up {} threads over 1: {:.2}x", many.threads, one.ms_per_step / many.ms_per_step);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn doctor_cmd(compile_kernels: bool, resources: bool, arch: Option<String>, parity: bool) -> Result<()> {
    use weave::compute::cuda;
    println!("CPU: {} threads", rayon::current_num_threads());
    match cuda::driver_version() {
        Ok(v) => println!("CUDA driver: CUDA {}.{}", v / 1000, (v % 1000) / 10),
        Err(e) => println!("CUDA driver: {e}"),
    }
    let devices = cuda::devices().unwrap_or_default();
    for d in &devices {
        println!("  device {}: {} ({}, {:.1} GiB)", d.ordinal, d.name, d.arch(), d.memory as f64 / (1u64 << 30) as f64);
    }
    match cuda::nvrtc_version() {
        Some((a, b)) => println!("NVRTC: {a}.{b}"),
        None => println!("NVRTC: {}", cuda::CudaError::NoNvrtc),
    }
    if let Ok(flags) = std::env::var(cuda::kernels::FLAGS_VAR) {
        println!("NVRTC options from {}: {flags}", cuda::kernels::FLAGS_VAR);
    }
    match cuda::available() {
        Ok(d) => println!("backend: CUDA on {} (device {})", d.name, d.ordinal),
        Err(e) => println!("backend: CPU ({e})"),
    }
    if compile_kernels {
        let arch = arch.or_else(|| devices.first().map(|d| d.arch())).unwrap_or_else(|| cuda::DEFAULT_ARCH.into());
        let mut failed = 0;
        for (unit, kernels) in cuda::kernels::UNITS {
            let started = std::time::Instant::now();
            match cuda::kernels::compile(unit, &arch, false) {
                Ok(ptx) => println!(
                    "  {unit} for {arch}: ok in {:.1} s ({} KiB of PTX; {})",
                    started.elapsed().as_secs_f64(),
                    ptx.len() / 1024,
                    kernels.join(", ")
                ),
                Err(e) => {
                    failed += 1;
                    println!("  {e}");
                }
            }
            if resources {
                match cuda::kernels::resources(unit, &arch) {
                    Ok(kernels) => {
                        for k in kernels {
                            println!(
                                "    {:<20} {:>3} registers, {:>4} B stack ({} B spilled, {} B reloaded), {} B shared",
                                k.kernel, k.registers, k.stack_bytes, k.spill_stores, k.spill_loads, k.shared_bytes
                            );
                        }
                    }
                    Err(e) => println!("    {e}"),
                }
            }
        }
        if failed > 0 {
            bail!("{failed} kernel unit(s) failed to compile");
        }
    }
    if parity {
        let gpu = cuda::gpu::Gpu::open().context("--parity needs a usable CUDA device")?;
        println!("parity on {}: worst relative difference to the CPU backend", gpu.info.name);
        let diffs = cuda::parity::on_gpu(&gpu)?;
        for d in &diffs {
            println!(
                "  {:<20} {:10.3e}  (bound {:.1e}) {}",
                d.what,
                d.worst,
                d.bound,
                if d.ok() { "ok" } else { "FAIL" }
            );
        }
        let failed = diffs.iter().filter(|d| !d.ok()).count();
        if failed > 0 {
            bail!("{failed} parity check(s) beyond their bounds");
        }
    }
    Ok(())
}

/// A checkpoint path, or a training output folder's checkpoint.
fn checkpoint_path(path: &std::path::Path) -> Result<PathBuf> {
    let inside = path.join("checkpoint.weave");
    if path.is_dir() {
        if inside.is_file() {
            return Ok(inside);
        }
        bail!("{} holds no checkpoint.weave: train first (`weave train PHOTOS --out DIR`)", path.display());
    }
    Ok(path.to_path_buf())
}

/// A view of the whole region the field covers, from above one side.
fn overview_camera(t: &Trainer, width: u32, height: u32) -> ViewCamera {
    let center = glam::DVec3::from(t.norm.center).as_vec3();
    let orbit =
        weave::view::Orbit { target: center, up: glam::Vec3::Z, distance: 1.0, yaw: 0.0, pitch: 0.0, fov_y: 0.7 };
    let eye = center + glam::Vec3::new(1.0, -1.2, 0.8).normalize() * (2.6 * t.norm.scale) as f32;
    ViewCamera::from_orbit(&orbit.looking(eye, center, 0.7), width, height)
}

fn view_cmd(args: ViewArgs) -> Result<()> {
    let t = checkpoint::load(&checkpoint_path(&args.path)?, Vec::new())?;
    let depth = (3.0 * t.norm.scale) as f32;
    let (cam, glyphs) = match &args.camera {
        Some(file) => {
            let cams = weave::io::dataset::read_cameras(file)?;
            let stem = |n: &str| std::path::Path::new(n).file_stem().map(|s| s.to_string_lossy().into_owned());
            let chosen = match &args.frame {
                Some(f) => cams
                    .iter()
                    .find(|c| c.name == *f || stem(&c.name) == stem(f))
                    .with_context(|| format!("{} has no frame named {f:?}", file.display()))?,
                None => cams.first().with_context(|| format!("{} lists no cameras", file.display()))?,
            };
            let glyphs =
                cams.iter().map(|c| weave::view::CameraGlyph { pose: c.pose, intrinsics: c.intrinsics }).collect();
            (ViewCamera::from_pose(&chosen.pose, &chosen.intrinsics, depth), glyphs)
        }
        None => (overview_camera(&t, args.width, args.height), Vec::new()),
    };
    let style = FieldStyle {
        mode: args.mode,
        color: args.color,
        slice_axis: ["x", "y", "z"].iter().position(|a| *a == args.slice_axis).unwrap_or(2),
        slice_offset: args.slice_offset,
    };
    let gpu = Gpu::headless().map_err(anyhow::Error::msg)?;
    let img = weave::view::offscreen::render(&gpu, &t, &cam, &style, args.overlays.then_some(glyphs))
        .map_err(anyhow::Error::msg)?;
    let rgb = image::DynamicImage::ImageRgba8(img).to_rgb8();
    weave::io::images::write_png(&args.screenshot, &image::DynamicImage::ImageRgb8(rgb))?;
    println!("wrote {} ({}x{}, {:?}, on {})", args.screenshot.display(), cam.width, cam.height, args.mode, gpu.adapter);
    Ok(())
}

fn bench_view_cmd(ckpt: Option<PathBuf>, width: u32, height: u32, frames: u32) -> Result<()> {
    let t = match ckpt {
        Some(p) => checkpoint::load(&checkpoint_path(&p)?, Vec::new())?,
        None => {
            println!("training the procedural object briefly (pass --checkpoint to draw another field)");
            let dir = std::env::temp_dir().join(format!("weave-bench-view-{}", std::process::id()));
            let opts =
                scene::Options { width: 160, height: 120, views: Some(24), test_views: Some(0), ..Default::default() };
            scene::generate(scene::find("object").expect("object scene exists"), &opts, &dir, &|_, _| {})?;
            let ds = Dataset::open(&dir)?;
            let mut cfg = TrainConfig::preset(Preset::Fast);
            cfg.rays = 512;
            let mut t = Trainer::new(cfg, weave::train::data::load(&ds.views, 1.0)?);
            for _ in 0..200 {
                let _ = t.step();
            }
            let _ = std::fs::remove_dir_all(&dir);
            t
        }
    };
    let gpu = Gpu::headless().map_err(anyhow::Error::msg)?;
    let cam = overview_camera(&t, width, height);
    println!("bench view: {width}x{height}, {frames} frames per mode, on {}", gpu.adapter);
    let report = |mode: ViewMode, ms: f64, steps: Option<weave::view::MarchSteps>| {
        let steps = steps.map_or(String::new(), |s| format!("  {:6.1} steps/pixel (max {})", s.mean, s.max));
        println!("  {:<11} {:9.1} ms/frame  {:7.2} frames/s{steps}", mode.label(), ms, 1e3 / ms);
    };
    weave::view::offscreen::bench(&gpu, &t, &cam, frames.max(1), &report).map_err(anyhow::Error::msg)
}
