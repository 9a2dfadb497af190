//! `weave scene NAME --out DIR`: a procedural scene with exact ground truth.

use crate::scene;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
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

pub fn run(args: Args) -> Result<()> {
    // clap asks for a name and a folder unless --list.
    let (false, Some(name), Some(out)) = (args.list, &args.name, &args.out) else {
        for s in scene::SCENES {
            println!("{:<8} {} ({} views + {} test)", s.name, s.summary, s.default_views, s.default_test_views);
        }
        return Ok(());
    };
    let Some(entry) = scene::find(name) else {
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
    let bar = super::bar(0, "{msg} [{bar:30}] {pos}/{len} views, ETA {eta}");
    bar.set_message(format!("rendering {name}"));
    let written = scene::generate(entry, &opts, out, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .with_context(|| format!("writing scene {name}"))?;
    bar.finish_and_clear();
    let (views, tests, dir) = (written.views, written.test_views, written.dir.display());
    println!("wrote {name} ({views} views, {tests} test views, gt_mesh.ply) to {dir}");
    Ok(())
}
