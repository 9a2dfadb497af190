//! Numeric kernels of the trainer. `cpu` is the always-available reference (Rust + rayon);
//! every backward pass here has a finite-difference gradient test. `cuda` runs the same
//! operations on NVIDIA GPUs and is checked against `cpu`.

pub mod cpu;
pub mod cuda;
pub mod rng;

/// Which backend trains: chosen at start (`--backend` overrides).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Backend {
    /// CUDA when a usable device is found, else the CPU.
    #[default]
    Auto,
    /// Rust + rayon on all cores.
    Cpu,
    /// NVIDIA GPU through CUDA (fails when none is usable).
    Cuda,
}
