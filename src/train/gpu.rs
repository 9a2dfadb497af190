//! Training steps on the CUDA backend. The training views live on the device, which draws each
//! batch's rays there (the same rays as the CPU step), renders them and runs the whole
//! backward pass, reduces the rays' results to a few sums per view, and runs Adam and the
//! occupancy grid update. The field's parameters stay on the device: the host copy is
//! refreshed by [`Trainer::sync`] (snapshots, checkpoints, outputs) and every
//! `GOOD_STATE_INTERVAL` steps, when it is also checked for non-finite values.

use super::data::{Normalization, TrainView};
use super::render;
use super::trainer::{GOOD_STATE_INTERVAL, PartSums, Rollback, StepStats, Trainer};
use crate::compute::Backend;
use crate::compute::cpu::adam::{BETA1, BETA2};
use crate::compute::cuda::abi::{self, FieldDesc, RayIn, RenderSettings, VIEW_SUMS, ViewDesc};
use crate::compute::cuda::gpu::{FIELD_GROUPS, FieldState, Gpu};
use crate::compute::cuda::{CudaError, DeviceInfo};
use crate::field::{Field, Occupancy, POSE_GROUP};
use rayon::prelude::*;
use std::sync::Mutex;

pub struct CudaRun {
    gpu: Gpu,
    /// Locked only to render from a shared `&Trainer` (outputs); training has it exclusively.
    state: Mutex<FieldState>,
    /// The host's field parameters are older than the device's.
    stale: bool,
    /// Seconds spent in the batch kernels (with their transfers), for benchmarks.
    trace_seconds: f64,
    /// Occupied cells of the device's grid while the host's copy is older (it is read back
    /// by [`Trainer::sync`], not every update).
    occupied: Option<usize>,
}

impl CudaRun {
    fn parts(&mut self) -> (&Gpu, &mut FieldState) {
        (&self.gpu, self.state.get_mut().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the training views' pixels on the device (the same views, new stereo depths).
    pub(super) fn upload_pixels(&mut self, pixels: &[f32]) -> Result<(), CudaError> {
        let (gpu, state) = self.parts();
        state.upload_pixels(gpu, pixels)
    }
}

impl Trainer {
    /// Moves training onto the first CUDA device; Err says why it cannot (the caller falls
    /// back to the CPU).
    pub fn use_cuda(&mut self) -> Result<DeviceInfo, CudaError> {
        if let Some(why) = abi::unsupported(&self.field) {
            return Err(CudaError::Kernel(format!("this field has {why}")));
        }
        let gpu = Gpu::open()?;
        let rays = self.batch_rays();
        let p = self.params.arrays();
        let fields: [&[f32]; FIELD_GROUPS] = std::array::from_fn(|i| p[i].as_slice());
        let mut state =
            FieldState::new(&gpu, FieldDesc::of(&self.field), fields, self.occupancy.res, rays, self.cfg.max_samples)?;
        state.upload_occupancy(&gpu, &self.occupancy.cells)?;
        let (descs, pixels, corners) = device_views(&self.views, &self.norm);
        state.upload_views(&gpu, &descs, &pixels, &corners)?;
        for (i, adam) in self.optimizer.groups.iter().take(FIELD_GROUPS).enumerate() {
            state.upload_moments(&gpu, i, &adam.m, &adam.v)?;
        }
        let info = gpu.info.clone();
        self.cuda =
            Some(Box::new(CudaRun { gpu, state: Mutex::new(state), stale: false, trace_seconds: 0.0, occupied: None }));
        Ok(info)
    }

    /// Puts training on the backend `choice` asks for. Returns a label for the UI and, when
    /// `Auto` fell back to the CPU, why (to say once).
    pub fn choose_backend(&mut self, choice: Backend) -> Result<(String, Option<String>), CudaError> {
        match choice {
            Backend::Cpu => {}
            Backend::Cuda => {
                self.use_cuda()?;
            }
            Backend::Auto => {
                if let Err(e) = self.use_cuda() {
                    return Ok((self.backend_label(), Some(format!("CUDA not used: {e}"))));
                }
            }
        }
        Ok((self.backend_label(), None))
    }

    pub fn backend_label(&self) -> String {
        match &self.cuda {
            Some(run) => format!("CUDA, {} ({})", run.gpu.info.name, run.gpu.info.arch()),
            None => format!("CPU, {} threads", rayon::current_num_threads()),
        }
    }

    /// Seconds spent so far in the CUDA batch kernels, transfers included (0 on the CPU).
    pub fn cuda_trace_seconds(&self) -> f64 {
        self.cuda.as_ref().map_or(0.0, |c| c.trace_seconds)
    }

    /// The occupied fraction of the device's grid, when the host's copy is older.
    pub(super) fn device_occupancy(&self) -> Option<f32> {
        let n = self.cuda.as_ref()?.occupied?;
        Some(n as f32 / self.occupancy.cells.len().max(1) as f32)
    }

    /// The device this trainer runs on, if CUDA.
    pub fn cuda_device(&self) -> Option<&DeviceInfo> {
        self.cuda.as_ref().map(|c| &c.gpu.info)
    }

    /// Brings the host's copy of the parameters and optimiser state up to date with the device.
    pub fn sync(&mut self) -> Result<(), CudaError> {
        let Some(run) = self.cuda.as_mut() else { return Ok(()) };
        if run.occupied.is_some() {
            let (gpu, state) = run.parts();
            self.occupancy.cells = state.download_occupancy(gpu)?;
            run.occupied = None;
        }
        if !run.stale {
            return Ok(());
        }
        let arrays = self.params.arrays_mut();
        let [a0, a1, a2, a3, a4, a5, _] = arrays;
        let (gpu, state) = run.parts();
        state.download_params(gpu, [a0, a1, a2, a3, a4, a5])?;
        for (i, adam) in self.optimizer.groups.iter_mut().take(FIELD_GROUPS).enumerate() {
            (adam.m, adam.v) = state.download_moments(gpu, i)?;
        }
        run.stale = false;
        Ok(())
    }

    /// After a rollback restored `params` on the host: the device takes them, moments cleared.
    /// A device that fails here is dropped: training goes on on the CPU from the same state.
    pub(super) fn restore_cuda(&mut self) {
        let Some(run) = self.cuda.as_mut() else { return };
        let p = self.params.arrays();
        let fields: [&[f32]; FIELD_GROUPS] = std::array::from_fn(|i| p[i].as_slice());
        let (gpu, state) = run.parts();
        if state.upload_params(gpu, fields).is_err() {
            self.cuda = None;
            self.update_occupancy();
            return;
        }
        run.stale = false;
    }

    /// When the device fails mid-run (lost, out of memory): training goes on on the CPU from
    /// the last state read back and checked (at most `GOOD_STATE_INTERVAL` steps old), so no
    /// more than that is lost.
    pub fn abandon_cuda(&mut self, e: &CudaError) -> Rollback {
        let failed_step = self.step;
        self.cuda = None;
        self.params = self.last_good.1.clone();
        self.step = self.last_good.0;
        // The moments stayed on the device: the CPU's optimiser starts afresh. So did the latest
        // occupancy grid.
        self.optimizer.groups = self.params.arrays().map(|a| crate::compute::cpu::adam::Adam::new(a.len()));
        self.optimizer.variance = crate::compute::cpu::adam::Adam::new(1);
        self.update_occupancy();
        let why = format!("CUDA failed at step {failed_step} ({e}): continuing on the CPU from step {}", self.step);
        Rollback { failed_step, restored_step: self.step, why }
    }

    /// A view rendered on the device (sRGB bytes), when training runs there; None on the CPU
    /// or if the device fails (the caller renders on the CPU then).
    pub(super) fn render_cuda(&self, view: &TrainView, settings: &render::RenderSettings) -> Option<image::RgbImage> {
        let run = self.cuda.as_ref()?;
        let (w, h) = (view.width() as usize, view.height() as usize);
        let rays: Vec<RayIn> = (0..w * h)
            .into_par_iter()
            .map(|i| {
                let ray = view.ray(&self.norm, (i % w) as f64 + 0.5, (i / w) as f64 + 0.5);
                RayIn { origin: ray.origin, dir: ray.dir, jitter: 0.5, rgb: [0.0; 3], mask: -1.0, depth: 0.0 }
            })
            .collect();
        // Rendering reuses the training batch's buffers, a batch of rays at a time.
        let mut state = run.state.lock().ok()?;
        let cfg = RenderSettings::of(settings);
        let mut bytes = Vec::with_capacity(w * h * 3);
        for chunk in rays.chunks(state.capacity()) {
            let (outs, _) = state.trace(&run.gpu, chunk, &cfg, self.params.variance, false).ok()?;
            bytes.extend(outs.iter().flat_map(|o| super::render::rgb_bytes(o.rgb)));
        }
        image::RgbImage::from_raw(w as u32, h as u32, bytes)
    }

    /// Signed distances at `points` (x, y, z triples) on the device; None on the CPU or if the
    /// device fails.
    pub fn sdf_cuda(&self, points: &[f32]) -> Option<Vec<f32>> {
        let run = self.cuda.as_ref()?;
        let state = run.state.lock().ok()?;
        state.sdf(&run.gpu, self.active_levels(), points).ok()
    }

    /// Colours at `points` seen along `looks` (mesh vertex colours; see
    /// `FieldState::colors`) on the device; None on the CPU or if the device fails.
    pub fn colors_cuda(&self, points: &[f32], looks: &[f32]) -> Option<Vec<f32>> {
        let run = self.cuda.as_ref()?;
        let state = run.state.lock().ok()?;
        let h = self.render_settings().fd_h;
        state.colors(&run.gpu, self.active_levels(), h, points, looks).ok()
    }

    pub(super) fn step_cuda(&mut self) -> Result<StepStats, Rollback> {
        match self.try_step_cuda() {
            Ok(r) => r,
            Err(e) => Err(self.abandon_cuda(&e)),
        }
    }

    fn try_step_cuda(&mut self) -> Result<Result<StepStats, Rollback>, CudaError> {
        let settings = self.render_settings();
        let rays = self.batch_rays();
        let refine = self.cfg.refine_poses;
        let seed = self.cfg.seed ^ ((self.step as u64) << 20);
        let run = self.cuda.as_mut().expect("step_cuda runs with a device");
        let started = std::time::Instant::now();
        let (gpu, state) = run.parts();
        let corrections = refine.then_some(self.params.poses.as_slice());
        let sums =
            state.train_batch(gpu, rays, seed, corrections, &RenderSettings::of(&settings), self.params.variance)?;
        let part = PartSums::of_views(sums.batch, &sums.views, VIEW_SUMS);
        let scale = 1.0 / rays as f32;
        // Only refined poses have a gradient (the kernel sums none otherwise).
        let pose_grad: Vec<f32> = if refine {
            sums.views.chunks_exact(VIEW_SUMS).flat_map(|v| v[2..].iter().map(|g| g * scale)).collect()
        } else {
            Vec::new()
        };
        let d_variance = sums.d_variance * scale;
        run.trace_seconds += started.elapsed().as_secs_f64();
        run.stale = true;
        let (loss, mse, samples) = self.record_batch(std::slice::from_ref(&part), rays as f64);
        if !loss.is_finite() || !d_variance.is_finite() || pose_grad.iter().any(|g| !g.is_finite()) {
            return Ok(Err(self.roll_back()));
        }

        let lr = self.learning_rate();
        let run = self.cuda.as_mut().expect("step_cuda runs with a device");
        let (gpu, state) = run.parts();
        for (i, adam) in self.optimizer.groups.iter_mut().take(FIELD_GROUPS).enumerate() {
            adam.step += 1;
            let c1 = 1.0 - BETA1.powi(adam.step as i32);
            let c2 = 1.0 - BETA2.powi(adam.step as i32);
            state.adam(gpu, i, scale, lr * c2.sqrt() / c1)?;
        }
        let pose_lr = if refine { self.cfg.pose_lr * self.schedule() } else { 0.0 };
        if pose_lr > 0.0 {
            self.optimizer.groups[POSE_GROUP].update(&mut self.params.poses, &pose_grad, pose_lr);
        }
        let mut v = [self.params.variance];
        self.optimizer.variance.update(&mut v, &[d_variance], lr);
        self.params.variance = v[0];

        self.step += 1;
        if self.step.is_multiple_of(self.cfg.occupancy_interval) && self.prunes_occupancy() {
            let reach = self.occupancy.cell_size() * 3f32.sqrt() + 4.0 / Field::inv_s(&self.params);
            let active = self.active_levels();
            let run = self.cuda.as_mut().expect("step_cuda runs with a device");
            let (gpu, state) = run.parts();
            let mut occupied = state.update_occupancy(gpu, active, reach)?;
            if occupied == 0 {
                // As on the CPU (`Occupancy::or_full`): an empty grid would end training.
                let full = Occupancy::full(self.occupancy.res);
                state.upload_occupancy(gpu, &full.cells)?;
                occupied = full.cells.len();
            }
            run.occupied = Some(occupied);
        }
        if self.step.is_multiple_of(GOOD_STATE_INTERVAL) {
            self.sync()?;
            if !self.params.is_finite() {
                return Ok(Err(self.roll_back()));
            }
            self.last_good = (self.step, self.params.clone());
        }
        Ok(Ok(self.stats(loss, mse, samples, lr)))
    }
}

/// The training views' pixels as `draw_rays` reads them, one view after another: rgb, mask (-1
/// without one), stereo depth (0 without one).
pub(crate) fn device_pixels(views: &[TrainView]) -> Vec<f32> {
    views.iter().flat_map(view_pixels).collect()
}

fn view_pixels(v: &TrainView) -> impl Iterator<Item = f32> + '_ {
    (0..v.rgb.len()).flat_map(move |i| {
        let [r, g, b] = v.rgb[i];
        [r, g, b, v.mask.as_ref().map_or(-1.0, |m| m[i]), v.depth.as_ref().map_or(0.0, |d| d[i])]
    })
}

/// The training views as `draw_rays` reads them: descriptions, pixels (rgb, mask or -1
/// without one, stereo depth or 0 without one) and camera-frame ray directions at every pixel
/// corner.
pub(crate) fn device_views(views: &[TrainView], norm: &Normalization) -> (Vec<ViewDesc>, Vec<f32>, Vec<f32>) {
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
