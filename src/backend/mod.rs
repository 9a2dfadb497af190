//! Where training computes: one [`Backend`] interface, a CPU implementation (Rust + rayon over
//! the ray renderer) and a CUDA one (fused kernels from `kernels/`), chosen once by
//! [`create`]. The trainer holds a `Box<dyn Backend>` and never asks which one it has: one call
//! per batch or query, so the dispatch costs nothing next to the work behind it.
//!
//! The host always holds the run's state (field parameters, optimiser moments, occupancy grid);
//! a backend that computes elsewhere keeps its own copy and brings the host's up to date on
//! [`Backend::read_back`]. The pose corrections and the NeuS variance are optimised on the host
//! by the trainer, whichever backend computes the field.

mod cpu;
pub mod cuda;

pub use cpu::Cpu;
pub use cuda::CudaError as BackendError;

use crate::field::{Field, Occupancy, Params};
use crate::nn::adam::Adam;
use crate::render::RenderSettings;
use crate::render::batch::SampledRay;
use crate::render::views::{Normalization, TrainView};

/// Which backend trains: chosen at start (`--backend` overrides).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Choice {
    /// CUDA when a usable device is found, else the CPU.
    #[default]
    Auto,
    /// Rust + rayon on all cores.
    Cpu,
    /// NVIDIA GPU through CUDA (fails when none is usable).
    Cuda,
}

/// The field parameter groups a backend optimises (`Params::arrays` order; the last group, the
/// pose corrections, stays with the trainer).
pub const FIELD_GROUPS: usize = crate::field::POSE_GROUP;
const _: () = assert!(crate::field::POSE_GROUP + 1 == crate::field::GROUPS, "the poses are the last group");

/// The host's copy of the field a backend reads.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    pub field: &'a Field,
    pub params: &'a Params,
    pub occupancy: &'a Occupancy,
}

/// What a backend takes over when a run starts on it.
pub struct Run<'a> {
    pub model: Model<'a>,
    /// Adam's moments of the field groups.
    pub moments: &'a [Adam],
    pub views: &'a [TrainView],
    pub norm: &'a Normalization,
    /// Rays per batch, and most samples per ray.
    pub rays: usize,
    pub max_samples: usize,
}

/// One training batch: `rays` rays drawn from the views with `seed`, split between `parts`
/// workers (ray i is the same ray on every backend).
pub struct Batch<'a> {
    pub rays: usize,
    pub parts: usize,
    pub seed: u64,
    pub settings: &'a RenderSettings,
    /// Whether the pose corrections are refined (and their gradient wanted).
    pub refine: bool,
}

/// A trained batch, reduced: sums over its rays, and the gradients the trainer applies itself.
#[derive(Clone, Debug)]
pub struct BatchSums {
    pub loss: f64,
    /// Squared colour error.
    pub sq: f64,
    pub samples: usize,
    /// Per view: summed squared colour error, rays.
    pub per_view: Vec<(f32, u32)>,
    /// Mean dLoss/d(pose corrections) over the batch; empty unless refining.
    pub pose_grad: Vec<f32>,
    /// Mean dLoss/d(variance).
    pub d_variance: f32,
    /// False when the backend saw a non-finite gradient of the field.
    pub grads_finite: bool,
}

impl BatchSums {
    pub fn new(views: usize) -> BatchSums {
        BatchSums {
            loss: 0.0,
            sq: 0.0,
            samples: 0,
            per_view: vec![(0.0, 0); views],
            pose_grad: Vec::new(),
            d_variance: 0.0,
            grads_finite: true,
        }
    }

    /// Adds one ray's result: its rendered colour, loss and samples taken.
    pub fn add(&mut self, r: &SampledRay, rgb: [f32; 3], loss: f32, samples: usize) {
        self.loss += loss as f64;
        let se = (0..3).map(|c| (rgb[c] - r.target.rgb[c]).powi(2)).sum::<f32>() / 3.0;
        self.sq += se as f64;
        self.per_view[r.view].0 += se;
        self.per_view[r.view].1 += 1;
        self.samples += samples;
    }

    /// Adds another worker's sums (losses, errors and samples; not gradients).
    pub fn merge(&mut self, other: &BatchSums) {
        self.loss += other.loss;
        self.sq += other.sq;
        self.samples += other.samples;
        for (a, b) in self.per_view.iter_mut().zip(&other.per_view) {
            a.0 += b.0;
            a.1 += b.1;
        }
    }
}

/// The operations training, meshing and rendering need, with the same semantics on every
/// backend. Errors mean the device failed; the CPU backend never returns one.
pub trait Backend: Send + Sync {
    /// What it runs on, for the user (e.g. "CPU, 16 threads").
    fn label(&self) -> String;

    /// Forward and backward pass of a batch; the field's gradients stay with the backend for
    /// [`Backend::optimizer_step`].
    fn train_batch(
        &mut self,
        model: Model<'_>,
        views: &[TrainView],
        norm: &Normalization,
        batch: &Batch<'_>,
    ) -> Result<BatchSums, BackendError>;

    /// Adam on the field groups with the last batch's gradients.
    fn optimizer_step(&mut self, params: &mut Params, moments: &mut [Adam], lr: f32) -> Result<(), BackendError>;

    /// Whether the parameters it holds are finite; one that cannot tell cheaply says true, and
    /// the trainer checks the host's copy after [`Backend::read_back`].
    fn params_finite(&self, params: &Params) -> bool;

    /// Marks the cells within `reach` of the surface (every cell when none is).
    fn update_occupancy(
        &mut self,
        field: &Field,
        params: &Params,
        occupancy: &mut Occupancy,
        active: usize,
        reach: f32,
    ) -> Result<(), BackendError>;

    /// The occupied fraction of its grid (the host's may be older).
    fn occupancy_fraction(&self, host: &Occupancy) -> f32;

    /// New pixels of the same views (new stereo depths).
    fn upload_pixels(&mut self, views: &[TrainView]) -> Result<(), BackendError>;

    /// Brings the host's parameters, moments and occupancy up to date.
    fn read_back(
        &mut self,
        params: &mut Params,
        moments: &mut [Adam],
        occupancy: &mut Occupancy,
    ) -> Result<(), BackendError>;

    /// Takes the host's parameters after a rollback restored them, with the optimiser's
    /// moments cleared (as the trainer clears its own).
    fn restore(&mut self, params: &Params) -> Result<(), BackendError>;

    /// The colour each ray sees.
    fn render(
        &self,
        model: Model<'_>,
        rays: &[crate::render::Ray],
        settings: &RenderSettings,
    ) -> Result<Vec<[f32; 3]>, BackendError>;

    /// Signed distances at `points`.
    fn sdf(&self, model: Model<'_>, active: usize, points: &[[f32; 3]]) -> Result<Vec<f32>, BackendError>;

    /// Colours at `points` seen along `looks` (unit vectors; zero: head-on), with the normal by
    /// finite differences of step `h`.
    fn colors(
        &self,
        model: Model<'_>,
        active: usize,
        h: f32,
        points: &[[f32; 3]],
        looks: &[[f32; 3]],
    ) -> Result<Vec<[f32; 3]>, BackendError>;

    /// Seconds spent so far in the batch's device work, transfers included (0 on the CPU).
    fn kernel_seconds(&self) -> f64;
}

/// The backend `choice` asks for, taking over `run`; with `Auto`, the CPU when CUDA cannot be
/// used, and why (to say once). Err only when CUDA was asked for and cannot be used.
pub fn create(choice: Choice, run: &Run<'_>) -> Result<(Box<dyn Backend>, Option<String>), BackendError> {
    match choice {
        Choice::Cpu => Ok((Box::new(Cpu::default()), None)),
        Choice::Cuda => Ok((Box::new(cuda::Cuda::new(run)?), None)),
        Choice::Auto => match cuda::Cuda::new(run) {
            Ok(c) => Ok((Box::new(c), None)),
            Err(e) => Ok((Box::new(Cpu::default()), Some(format!("CUDA not used: {e}")))),
        },
    }
}

/// A trained field to query, on its backend, and on the CPU where the backend fails.
#[derive(Clone, Copy)]
pub struct Queries<'a> {
    pub backend: &'a dyn Backend,
    pub model: Model<'a>,
    pub active: usize,
    /// Finite-difference step of normals.
    pub fd_h: f32,
}

impl Queries<'_> {
    fn or_cpu<T>(&self, what: &str, f: impl Fn(&dyn Backend) -> Result<T, BackendError>) -> T {
        f(self.backend).unwrap_or_else(|e| {
            log::warn!("{what} on {} failed ({e}): computing it on the CPU", self.backend.label());
            f(&Cpu::default()).expect("the CPU backend does not fail")
        })
    }

    pub fn sdf(&self, points: &[[f32; 3]]) -> Vec<f32> {
        self.or_cpu("signed distances", |b| b.sdf(self.model, self.active, points))
    }

    pub fn colors(&self, points: &[[f32; 3]], looks: &[[f32; 3]]) -> Vec<[f32; 3]> {
        self.or_cpu("colours", |b| b.colors(self.model, self.active, self.fd_h, points, looks))
    }

    pub fn render(&self, rays: &[crate::render::Ray], settings: &RenderSettings) -> Vec<[f32; 3]> {
        self.or_cpu("rendering", |b| b.render(self.model, rays, settings))
    }
}
