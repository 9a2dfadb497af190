//! Weave: photos in, cameras, a neural surface, a mesh and poses out.
//!
//! The crate is layered, bottom to top, as `docs/architecture.md` tables it: a module uses
//! only those below it (`tests/layers.rs` checks).

// Numeric kernels index several arrays in lockstep; index loops say that more plainly.
#![allow(clippy::needless_range_loop)]

pub mod app;
pub mod backend;
pub mod cli;
pub mod field;
pub mod geometry;
pub mod io;
pub mod mesh;
pub mod mvs;
pub mod nn;
pub mod render;
pub mod scene;
pub mod sfm;
pub mod train;
pub mod util;
pub mod view;
