//! Numeric kernels of the trainer. `cpu` is the always-available reference (Rust + rayon);
//! every backward pass here has a finite-difference gradient test.

pub mod cpu;
