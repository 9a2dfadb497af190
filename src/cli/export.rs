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
    /// Surface no training camera saw: keep or drop (default: as training chose, which
    /// drops it for forward-facing captures and rooms and keeps objects closed).
    #[arg(long, value_enum)]
    unseen: Option<Unseen>,
}

pub fn run(args: Args) -> Result<()> {
    if !(16..=2048).contains(&args.resolution) {
        bail!("--resolution {} is out of range (16 to 2048)", args.resolution);
    }
    crate::io::mesh::MeshFormat::of(&args.mesh)?;
    let t = checkpoint::load(&args.checkpoint, Vec::new())?;
    let mesh = outputs::write_mesh(&t, &args.mesh, args.resolution, args.unseen)?;
    if let Some(note) = &mesh.note {
        eprintln!("warning: {note}");
    }
    println!("wrote {} ({} vertices, {} triangles)", args.mesh.display(), mesh.vertices, mesh.triangles);
    Ok(())
}
