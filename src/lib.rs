//! Weave: photos in, cameras, a neural surface, a mesh and poses out.
//!
//! The crate is laid out as the map in the README describes: `geometry` (conventions), `io`
//! (formats), `scene` (procedural ground truth), `view` (wgpu rendering), `app` (the window).

// Numeric kernels index several arrays in lockstep; index loops say that more plainly.
#![allow(clippy::needless_range_loop)]

pub mod app;
pub mod compute;
pub mod field;
pub mod geometry;
pub mod io;
pub mod mesh;
pub mod mvs;
pub mod scene;
pub mod sfm;
pub mod train;
pub mod view;
