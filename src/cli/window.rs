//! `weave [PATH]`: the window, on a folder or the bundled default scene.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
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
}

pub fn run(args: Args) -> Result<()> {
    let script = crate::app::Script { screenshot: args.screenshot, all_modes: args.all_modes, train_steps: args.train };
    crate::app::run(args.path.or_else(default_scene), script)
}

/// The small scene committed under `scenes/`, found next to the sources or the binary.
fn default_scene() -> Option<PathBuf> {
    let beside_exe = std::env::current_exe().ok().and_then(|e| e.parent().map(|p| p.join("scenes/object")));
    [Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenes/object")), beside_exe]
        .into_iter()
        .flatten()
        .find(|p| p.is_dir())
}
