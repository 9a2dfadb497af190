//! `weave convert PATH --to colmap|transforms --out DIR`.

use crate::io::convert;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    path: PathBuf,
    #[arg(long, value_enum)]
    to: convert::Format,
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let ds = super::open(&args.path)?;
    let written = convert::write(&ds, args.to, &args.out)?;
    println!("wrote {} cameras to {}", ds.views.len(), written.display());
    if args.to == convert::Format::Colmap {
        println!("image names are relative to {}", ds.images_dir.display());
    }
    Ok(())
}
