//! `weave render CHECKPOINT --cameras FILE --out DIR`: renders at given cameras.

use crate::train::{checkpoint, outputs};
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    checkpoint: PathBuf,
    #[arg(long)]
    cameras: PathBuf,
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let t = checkpoint::load(&args.checkpoint, Vec::new())?;
    let cams = crate::io::dataset::read_cameras(&args.cameras)?;
    let bar = super::bar(cams.len() as u64, "rendering [{bar:30}] {pos}/{len} views, ETA {eta}");
    for c in &cams {
        outputs::render_png(&t, &c.intrinsics, &c.pose, &args.out, &c.name)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("rendered {} views into {}", cams.len(), args.out.display());
    Ok(())
}
