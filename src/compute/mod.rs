//! Numeric kernels of the trainer. `cpu` is the always-available reference (Rust + rayon);
//! every backward pass here has a finite-difference gradient test. `cuda` runs the same
//! operations on NVIDIA GPUs and is checked against `cpu`.

pub mod cpu;
pub mod cuda;
