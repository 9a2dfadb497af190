//! `weave export CHECKPOINT --mesh OUT`: the mesh of a checkpoint, again.

use crate::mesh::Unseen;
use crate::train::{checkpoint, outputs};
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    checkpoint: PathBuf,
    /// The mesh file; its extension chooses the format: .ply (binary, vertex colours),
    /// .obj (vertex colours after each position) or .glb (binary glTF, vertex colours, unlit).
    #[arg(long, value_name = "OUT.ply|obj|glb")]
    mesh: PathBuf,
    /// Marching resolution (cells per side of the normalised cube).
    #[arg(long, default_value_t = 256)]
    resolution: usize,
    /// Most triangles (at least 100; default: as training chose, else as many as keep the mesh
    /// within a fifth of a marching cell of the surface).
    #[arg(long, value_name = "N", value_parser = crate::mesh::parse_triangles)]
    triangles: Option<usize>,
    /// Surface no training camera saw: keep, drop, or close (drop it and cap the holes flat).
    /// Default: as training chose, which drops it for forward-facing captures and rooms and
    /// closes objects.
    #[arg(long, value_enum)]
    unseen: Option<Unseen>,
}

pub fn run(args: Args) -> Result<()> {
    if !(16..=2048).contains(&args.resolution) {
        bail!("--resolution {} is out of range (16 to 2048)", args.resolution);
    }
    crate::io::mesh::MeshFormat::of(&args.mesh)?;
    // A mistyped folder is refused rather than made.
    if let Some(dir) = args.mesh.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!("{}: cannot write it: the folder {} does not exist", args.mesh.display(), dir.display());
    }
    let t = checkpoint::load(&args.checkpoint, Vec::new())?;
    let mesh = outputs::write_mesh(&t, &args.mesh, args.resolution, args.triangles.or(t.cfg.triangles), args.unseen)?;
    if let Some(note) = mesh.note {
        bail!("{}: {note}", args.checkpoint.display());
    }
    println!("wrote {} ({} vertices, {} triangles)", args.mesh.display(), mesh.vertices, mesh.triangles);
    Ok(())
}
