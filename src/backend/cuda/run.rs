//! The CUDA backend: a training run on the device. The training views live there, and the
//! device draws each batch's rays (the same rays as the CPU backend), renders them, runs the
//! whole backward pass, reduces the rays' results to a few sums per view, and runs Adam and
//! the occupancy update. The field's parameters stay on the device: the host's copy is
//! brought up to date by `read_back` (snapshots, checkpoints, outputs, and the trainer's
//! periodic check for non-finite values).

use super::abi::{self, FieldDesc, RayIn, RenderSettings as KernelSettings, VIEW_SUMS, ViewDesc};
use super::gpu::{FieldState, Gpu};
use super::{CudaError, DeviceInfo};
use crate::backend::{Backend, Batch, BatchSums, FIELD_GROUPS, Model, Run};
use crate::field::{Occupancy, Params};
use crate::nn::adam::{Adam, BETA1, BETA2};
use crate::render::views::{Normalization, TrainView};
use crate::render::{Ray, RenderSettings};
use rayon::prelude::*;
use std::sync::Mutex;

pub struct Cuda {
    gpu: Gpu,
    /// Locked only to query from a shared reference (rendering, meshing); training has it
    /// exclusively.
    state: Mutex<FieldState>,
    /// The host's field parameters are older than the device's.
    stale: bool,
    /// Seconds spent in the batch kernels (with their transfers), for benchmarks.
    trace_seconds: f64,
    /// Occupied cells of the device's grid while the host's copy is older.
    occupied: Option<usize>,
    /// Rays of the last trained batch (its gradients are sums over them).
    rays: usize,
}

impl Cuda {
    /// Opens the first device and takes over `run`; Err says why it cannot (the factory then
    /// falls back to the CPU where it may).
    pub fn new(run: &Run<'_>) -> Result<Cuda, CudaError> {
        let field = run.model.field;
        if let Some(why) = abi::unsupported(field) {
            return Err(CudaError::Kernel(format!("this field has {why}")));
        }
        let gpu = Gpu::open()?;
        let p = run.model.params.arrays();
        let fields: [&[f32]; FIELD_GROUPS] = std::array::from_fn(|i| p[i].as_slice());
        let occupancy = run.model.occupancy;
        let mut state = FieldState::new(&gpu, FieldDesc::of(field), fields, occupancy.res, run.rays, run.max_samples)?;
        state.upload_occupancy(&gpu, &occupancy.cells)?;
        let (descs, pixels, corners) = device_views(run.views, run.norm);
        state.upload_views(&gpu, &descs, &pixels, &corners)?;
        for (i, adam) in run.moments.iter().take(FIELD_GROUPS).enumerate() {
            state.upload_moments(&gpu, i, &adam.m, &adam.v)?;
        }
        Ok(Cuda { gpu, state: Mutex::new(state), stale: false, trace_seconds: 0.0, occupied: None, rays: run.rays })
    }

    pub fn device(&self) -> &DeviceInfo {
        &self.gpu.info
    }

    fn parts(&mut self) -> (&Gpu, &mut FieldState) {
        (&self.gpu, self.state.get_mut().unwrap_or_else(|e| e.into_inner()))
    }

    fn shared(&self) -> Result<std::sync::MutexGuard<'_, FieldState>, CudaError> {
        self.state.lock().map_err(|_| CudaError::Kernel("the device state was poisoned by a panic".into()))
    }
}

impl Backend for Cuda {
    fn label(&self) -> String {
        format!("CUDA, {} ({})", self.gpu.info.name, self.gpu.info.arch())
    }

    fn train_batch(
        &mut self,
        model: Model<'_>,
        _views: &[TrainView],
        _norm: &Normalization,
        batch: &Batch<'_>,
    ) -> Result<BatchSums, CudaError> {
        let started = std::time::Instant::now();
        let params = model.params;
        let (gpu, state) = self.parts();
        let corrections = batch.refine.then_some(params.poses.as_slice());
        let cfg = KernelSettings::of(batch.settings);
        let s = state.train_batch(gpu, batch.rays, batch.seed, corrections, &cfg, params.variance)?;
        let scale = 1.0 / batch.rays as f32;
        let mut sums = BatchSums::new(s.views.len() / VIEW_SUMS);
        (sums.loss, sums.sq, sums.samples) = (s.batch[0] as f64, s.batch[1] as f64, s.batch[2].round() as usize);
        sums.per_view = s.views.chunks_exact(VIEW_SUMS).map(|v| (v[0], v[1].round() as u32)).collect();
        // Only refined poses have a gradient (the kernel sums none otherwise).
        if batch.refine {
            sums.pose_grad = s.views.chunks_exact(VIEW_SUMS).flat_map(|v| v[2..].iter().map(|g| g * scale)).collect();
        }
        sums.d_variance = s.d_variance * scale;
        self.trace_seconds += started.elapsed().as_secs_f64();
        self.stale = true;
        self.rays = batch.rays;
        Ok(sums)
    }

    fn optimizer_step(&mut self, _params: &mut Params, moments: &mut [Adam], lr: f32) -> Result<(), CudaError> {
        let scale = 1.0 / self.rays as f32;
        let (gpu, state) = self.parts();
        for (i, adam) in moments.iter_mut().take(FIELD_GROUPS).enumerate() {
            adam.step += 1;
            let c1 = 1.0 - BETA1.powi(adam.step as i32);
            let c2 = 1.0 - BETA2.powi(adam.step as i32);
            state.adam(gpu, i, scale, lr * c2.sqrt() / c1)?;
        }
        Ok(())
    }

    fn params_finite(&self, _params: &Params) -> bool {
        // The device's parameters are checked on the host after each read-back.
        true
    }

    fn update_occupancy(
        &mut self,
        _field: &crate::field::Field,
        _params: &Params,
        occupancy: &mut Occupancy,
        active: usize,
        reach: f32,
    ) -> Result<(), CudaError> {
        let res = occupancy.res;
        let (gpu, state) = self.parts();
        let mut occupied = state.update_occupancy(gpu, active, reach)?;
        if occupied == 0 {
            // As on the CPU (`Occupancy::or_full`): an empty grid would end training.
            let full = Occupancy::full(res);
            state.upload_occupancy(gpu, &full.cells)?;
            occupied = full.cells.len();
        }
        self.occupied = Some(occupied);
        Ok(())
    }

    fn occupancy_fraction(&self, host: &Occupancy) -> f32 {
        match self.occupied {
            Some(n) => n as f32 / host.cells.len().max(1) as f32,
            None => host.fraction(),
        }
    }

    fn upload_pixels(&mut self, views: &[TrainView]) -> Result<(), CudaError> {
        let (gpu, state) = self.parts();
        state.upload_pixels(gpu, &device_pixels(views))
    }

    fn read_back(
        &mut self,
        params: &mut Params,
        moments: &mut [Adam],
        occupancy: &mut Occupancy,
    ) -> Result<(), CudaError> {
        if self.occupied.is_some() {
            let (gpu, state) = self.parts();
            occupancy.cells = state.download_occupancy(gpu)?;
            self.occupied = None;
        }
        if !self.stale {
            return Ok(());
        }
        let [a0, a1, a2, a3, a4, a5, _] = params.arrays_mut();
        let (gpu, state) = self.parts();
        state.download_params(gpu, [a0, a1, a2, a3, a4, a5])?;
        for (i, adam) in moments.iter_mut().take(FIELD_GROUPS).enumerate() {
            (adam.m, adam.v) = state.download_moments(gpu, i)?;
        }
        self.stale = false;
        Ok(())
    }

    fn restore(&mut self, params: &Params) -> Result<(), CudaError> {
        let p = params.arrays();
        let fields: [&[f32]; FIELD_GROUPS] = std::array::from_fn(|i| p[i].as_slice());
        let (gpu, state) = self.parts();
        state.upload_params(gpu, fields)?;
        self.stale = false;
        Ok(())
    }

    fn render(&self, model: Model<'_>, rays: &[Ray], settings: &RenderSettings) -> Result<Vec<[f32; 3]>, CudaError> {
        let ins: Vec<RayIn> = rays
            .par_iter()
            .map(|r| RayIn { origin: r.origin, dir: r.dir, jitter: 0.5, rgb: [0.0; 3], mask: -1.0, depth: 0.0 })
            .collect();
        // Rendering reuses the training batch's buffers, a batch of rays at a time.
        let mut state = self.shared()?;
        let cfg = KernelSettings::of(settings);
        let mut rgb = Vec::with_capacity(rays.len());
        for chunk in ins.chunks(state.capacity()) {
            let (outs, _) = state.trace(&self.gpu, chunk, &cfg, model.params.variance, false)?;
            rgb.extend(outs.iter().map(|o| o.rgb));
        }
        Ok(rgb)
    }

    fn sdf(&self, _model: Model<'_>, active: usize, points: &[[f32; 3]]) -> Result<Vec<f32>, CudaError> {
        self.shared()?.sdf(&self.gpu, active, points.as_flattened())
    }

    fn colors(
        &self,
        _model: Model<'_>,
        active: usize,
        h: f32,
        points: &[[f32; 3]],
        looks: &[[f32; 3]],
    ) -> Result<Vec<[f32; 3]>, CudaError> {
        let rgb = self.shared()?.colors(&self.gpu, active, h, points.as_flattened(), looks.as_flattened())?;
        Ok(rgb.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
    }

    fn kernel_seconds(&self) -> f64 {
        self.trace_seconds
    }
}

/// The training views' pixels as `draw_rays` reads them, one view after another: rgb, mask (-1
/// without one), stereo depth (0 without one).
pub fn device_pixels(views: &[TrainView]) -> Vec<f32> {
    views.iter().flat_map(view_pixels).collect()
}

fn view_pixels(v: &TrainView) -> impl Iterator<Item = f32> + '_ {
    (0..v.rgb.len()).flat_map(move |i| {
        let [r, g, b] = v.rgb[i];
        [r, g, b, v.mask.as_ref().map_or(-1.0, |m| m[i]), v.depth.as_ref().map_or(0.0, |d| d[i])]
    })
}

/// The training views as `draw_rays` reads them: descriptions, pixels (`device_pixels`) and
/// camera-frame ray directions at every pixel corner.
pub fn device_views(views: &[TrainView], norm: &Normalization) -> (Vec<ViewDesc>, Vec<f32>, Vec<f32>) {
    let (mut descs, mut pixels, mut corners) = (Vec::new(), Vec::new(), Vec::new());
    for v in views {
        let (w, h) = (v.width() as usize, v.height() as usize);
        let r = v.pose.rotation;
        descs.push(ViewDesc {
            first_pixel: (pixels.len() / abi::PIXEL_FLOATS) as u64,
            first_corner: (corners.len() / 3) as u64,
            width: w as i32,
            height: h as i32,
            rotation: std::array::from_fn(|k| r.row(k / 3)[k % 3] as f32),
            origin: norm.to_normalized(v.pose.center),
            pad: [0; 2],
        });
        pixels.extend(view_pixels(v));
        let directions: Vec<[f32; 3]> = (0..(w + 1) * (h + 1))
            .into_par_iter()
            .map(|i| {
                let corner = glam::DVec2::new((i % (w + 1)) as f64, (i / (w + 1)) as f64);
                v.intrinsics.unproject(corner).as_vec3().to_array()
            })
            .collect();
        corners.extend(directions.iter().flatten());
    }
    (descs, pixels, corners)
}
