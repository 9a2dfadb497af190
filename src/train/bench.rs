//! `weave bench train`: speed of a training step on a fixed procedural scene.

use super::{Preset, TrainConfig, Trainer};
use crate::backend::Choice;
use crate::io::Dataset;
use std::time::Instant;

#[derive(Clone, Copy, Debug)]
pub struct BenchResult {
    pub threads: usize,
    pub ms_per_step: f64,
    pub rays_per_s: f64,
    /// Points evaluated along rays per second (each costs four SDF evaluations).
    pub samples_per_s: f64,
    /// The backend's kernels' share of a step (with their transfers), where it times them (0
    /// where it does not, as on the CPU).
    pub kernel_ms_per_step: f64,
}

/// Trains a fresh field on `ds` for `warmup` steps, then times `steps` steps, on a pool of
/// `threads` threads, on `backend`.
pub fn run(
    ds: &Dataset,
    rays: usize,
    warmup: u32,
    steps: u32,
    threads: usize,
    backend: Choice,
) -> anyhow::Result<BenchResult> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    pool.install(|| {
        let mut cfg = TrainConfig::preset(Preset::Fast);
        cfg.rays = rays;
        cfg.iterations = warmup + steps;
        // Every hash level active, as in most of a run (training adds them one every
        // `level_interval` steps): a short warm-up would otherwise time the cheap first steps.
        cfg.initial_levels = cfg.grid.levels;
        let mut t = Trainer::new(cfg, crate::render::views::load(&ds.views, 1.0)?);
        t.choose_backend(backend)?;
        for _ in 0..warmup {
            let _ = t.step();
        }
        let started = Instant::now();
        let kernel_before = t.kernel_seconds();
        let mut samples = 0.0;
        for _ in 0..steps {
            if let Ok(s) = t.step() {
                samples += s.samples_per_ray as f64 * rays as f64;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        Ok(BenchResult {
            threads,
            ms_per_step: secs * 1e3 / steps as f64,
            rays_per_s: (rays as f64 * steps as f64) / secs,
            samples_per_s: samples / secs,
            kernel_ms_per_step: (t.kernel_seconds() - kernel_before) * 1e3 / steps as f64,
        })
    })
}
