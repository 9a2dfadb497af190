//! `weave info PATH`: what a folder holds.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    path: PathBuf,
    /// List every image with its camera.
    #[arg(long)]
    images: bool,
}

pub fn run(args: Args) -> Result<()> {
    let ds = super::open(&args.path)?;
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
    if args.images {
        for v in &ds.views {
            let k = &v.intrinsics;
            let c = v.pose.map(|p| format!("  centre {:.4} {:.4} {:.4}", p.center.x, p.center.y, p.center.z));
            println!("  {}  {}x{}  f {:.2}{}", v.name, k.width, k.height, k.fx, c.unwrap_or_default());
        }
    }
    Ok(())
}
