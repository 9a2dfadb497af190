//! The networks' CPU maths: multiresolution hash-grid encoding, small dense MLPs, spherical
//! harmonics and Adam. Every backward pass here has a finite-difference gradient test; the CUDA
//! backend's kernels are checked against these.

pub mod adam;
pub mod hashgrid;
pub mod mlp;
pub mod sh;
