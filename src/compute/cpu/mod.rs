//! CPU kernels: hash-grid encoding, small dense MLPs, spherical harmonics, Adam.

pub mod adam;
pub mod hashgrid;
pub mod mlp;
pub mod sh;
