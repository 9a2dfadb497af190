//! The `weave` command: the app by default, and everything it does as scriptable commands.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use weave::io::{Dataset, convert};
use weave::scene;

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
    /// Write a procedural scene with exact ground truth (images, cameras, mesh).
    Scene(SceneArgs),
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
        None => weave::app::run(cli.path.or_else(default_scene), cli.screenshot),
        Some(Command::Info { path, images }) => info(&path, images),
        Some(Command::Convert { path, to, out }) => convert_cmd(&path, to, &out),
        Some(Command::Scene(args)) => scene_cmd(args),
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
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|p| p.join("scenes/object")));
    [
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenes/object")),
        beside_exe,
    ]
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

fn info(path: &std::path::Path, list_images: bool) -> Result<()> {
    let ds = open(path)?;
    println!("folder:      {}", ds.root.display());
    println!("poses:       {}", ds.pose_source);
    println!(
        "images:      {} in {}",
        ds.views.len(),
        ds.images_dir.display()
    );
    let mut sizes: Vec<(u32, u32)> = ds
        .views
        .iter()
        .map(|v| (v.intrinsics.width, v.intrinsics.height))
        .collect();
    sizes.sort();
    sizes.dedup();
    let sizes: Vec<String> = sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect();
    println!("sizes:       {}", sizes.join(", "));
    let mut sources: Vec<String> = ds
        .views
        .iter()
        .map(|v| v.intrinsics_source.to_string())
        .collect();
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
        if shared {
            ""
        } else {
            "  (first image; cameras differ per image)"
        }
    );
    let masks = ds.views.iter().filter(|v| v.mask.is_some()).count();
    if masks > 0 {
        println!("masks:       {masks}");
    }
    if !ds.test_views.is_empty() {
        println!(
            "test views:  {} (transforms_test.json)",
            ds.test_views.len()
        );
    }
    if list_images {
        for v in &ds.views {
            let k = &v.intrinsics;
            let c = v.pose.map(|p| {
                format!(
                    "  centre {:.4} {:.4} {:.4}",
                    p.center.x, p.center.y, p.center.z
                )
            });
            println!(
                "  {}  {}x{}  f {:.2}{}",
                v.name,
                k.width,
                k.height,
                k.fx,
                c.unwrap_or_default()
            );
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
            println!(
                "{:<8} {} ({} views + {} test)",
                s.name, s.summary, s.default_views, s.default_test_views
            );
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
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} views, ETA {eta}")
            .expect("valid template"),
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
