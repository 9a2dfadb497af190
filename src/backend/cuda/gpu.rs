//! A training run's state on the GPU: parameters, gradients and Adam moments of the field,
//! the occupancy grid, the training views and the batch buffers, allocated once for the run;
//! and the launches of the kernels on them. A training step draws its rays and reduces their
//! results on the device: what comes back is a few sums per view.

use super::abi::{
    self, BATCH_KERNELS, BATCH_SUMS, BG_SAMPLES, BatchArgs, DrawArgs, FieldDesc, RayIn, RayOut, ReduceArgs,
    RenderSettings, VIEW_SUMS, ViewDesc, Weights,
};
use super::{CudaError, DeviceInfo, kernels};
use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PushKernelArg};
use std::sync::Arc;

// SAFETY: plain old data, laid out as the kernels declare it; all-zero bytes are valid.
unsafe impl cudarc::driver::DeviceRepr for RayIn {}
unsafe impl cudarc::driver::ValidAsZeroBits for RayIn {}
unsafe impl cudarc::driver::DeviceRepr for RayOut {}
unsafe impl cudarc::driver::ValidAsZeroBits for RayOut {}

pub use crate::backend::FIELD_GROUPS;
/// Threads per block of the elementwise kernels.
const BLOCK: u32 = 256;

/// The device with the kernels loaded.
pub struct Gpu {
    pub info: DeviceInfo,
    stream: Arc<CudaStream>,
    /// In the order of `BATCH_KERNELS`.
    batch: Vec<CudaFunction>,
    draw: CudaFunction,
    reduce: CudaFunction,
    adam: CudaFunction,
    pack: CudaFunction,
    occupancy: CudaFunction,
    sdf: CudaFunction,
    color: CudaFunction,
}

impl Gpu {
    /// Opens the first device and compiles (or loads from the cache) every kernel for it.
    pub fn open() -> Result<Gpu, CudaError> {
        let info = super::available()?;
        let ctx = CudaContext::new(info.ordinal)?;
        let stream = ctx.default_stream();
        let arch = info.arch();
        // The units at once: a first start (nothing cached) waits for the slowest alone.
        let compiled: Vec<Result<String, CudaError>> = std::thread::scope(|s| {
            let jobs: Vec<_> =
                kernels::UNITS.iter().map(|(unit, _)| s.spawn(|| kernels::compile(unit, &arch, true))).collect();
            jobs.into_iter()
                .map(|j| j.join().unwrap_or_else(|_| Err(CudaError::Kernel("NVRTC panicked".into()))))
                .collect()
        });
        let mut modules = std::collections::HashMap::new();
        for ((unit, _), ptx) in kernels::UNITS.iter().zip(compiled) {
            modules.insert(*unit, ctx.load_module(cudarc::nvrtc::Ptx::from_src(ptx?))?);
        }
        let load =
            |unit: &str, name: &str| -> Result<CudaFunction, CudaError> { Ok(modules[unit].load_function(name)?) };
        Ok(Gpu {
            batch: BATCH_KERNELS.iter().map(|k| load("trace.cu", k)).collect::<Result<_, _>>()?,
            draw: load("rays.cu", "draw_rays")?,
            reduce: load("rays.cu", "reduce_rays")?,
            adam: load("optim.cu", "adam_step")?,
            pack: load("optim.cu", "pack_mlp")?,
            occupancy: load("occupancy.cu", "occupancy_update")?,
            sdf: load("queries.cu", "sdf_query")?,
            color: load("queries.cu", "color_query")?,
            info,
            stream,
        })
    }

    fn ptr<T>(&self, s: &CudaSlice<T>) -> u64 {
        s.device_ptr(&self.stream).0
    }

    fn weights(&self, arrays: &[CudaSlice<f32>; FIELD_GROUPS]) -> Weights {
        Weights { ptr: std::array::from_fn(|i| self.ptr(&arrays[i])) }
    }

    fn grid(n: usize, block: u32) -> LaunchConfig {
        LaunchConfig {
            grid_dim: ((n as u32).div_ceil(block).max(1), 1, 1),
            block_dim: (block, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    pub fn synchronize(&self) -> Result<(), CudaError> {
        Ok(self.stream.synchronize()?)
    }
}

/// The training views on the device, and what drawing and reducing a batch needs.
struct DeviceViews {
    descs: CudaSlice<ViewDesc>,
    pixels: CudaSlice<f32>,
    corners: CudaSlice<f32>,
    corrections: CudaSlice<f32>,
    /// Per ray of the batch: the view it was drawn from.
    ray_views: CudaSlice<i32>,
    batch_sums: CudaSlice<f32>,
    view_sums: CudaSlice<f32>,
}

/// A trained batch, reduced: summed over its rays (loss, squared colour error, samples), per
/// view (`VIEW_SUMS` floats each), and dLoss/d(variance).
pub struct BatchSums {
    pub batch: [f32; BATCH_SUMS],
    pub views: Vec<f32>,
    pub d_variance: f32,
}

/// The field's training state on the device.
pub struct FieldState {
    desc: FieldDesc,
    params: [CudaSlice<f32>; FIELD_GROUPS],
    /// The networks' packed copies the kernels read, in `FieldDesc::networks` order.
    packed: [CudaSlice<f32>; 4],
    grads: [CudaSlice<f32>; FIELD_GROUPS],
    m: [CudaSlice<f32>; FIELD_GROUPS],
    v: [CudaSlice<f32>; FIELD_GROUPS],
    d_variance: CudaSlice<f32>,
    occupancy: CudaSlice<u8>,
    occ_res: usize,
    rays: CudaSlice<RayIn>,
    out: CudaSlice<RayOut>,
    /// The batch's records (`kernels/trace.cu`), as floats.
    samples: CudaSlice<f32>,
    values: CudaSlice<f32>,
    sample_grads: CudaSlice<f32>,
    bg: CudaSlice<f32>,
    bg_grads: CudaSlice<f32>,
    state: CudaSlice<f32>,
    /// The batch's sample counts (`BatchArgs::total`), and the samples its backward pass takes.
    total: CudaSlice<i32>,
    order: CudaSlice<i32>,
    kept: CudaSlice<f32>,
    /// The networks' backward records of one chunk (`BatchArgs::backward_plan`).
    records: [CudaSlice<f32>; 4],
    chunk: usize,
    bg_chunk: usize,
    max_samples: usize,
    /// The last rendered batch's per-ray results, read back into the same buffer each time.
    host_out: Vec<RayOut>,
    views: Option<DeviceViews>,
    /// The last trained batch's sums, read back into the same buffers every step.
    sums: BatchSums,
}

impl FieldState {
    /// Uploads the field's parameters; `capacity` rays per launch, `max_samples` per ray.
    pub fn new(
        gpu: &Gpu,
        desc: FieldDesc,
        params: [&[f32]; FIELD_GROUPS],
        occ_res: usize,
        capacity: usize,
        max_samples: usize,
    ) -> Result<FieldState, CudaError> {
        let s = &gpu.stream;
        let zeros = |n: usize| s.alloc_zeros::<f32>(n.max(1));
        let upload = |a: &[f32]| if a.is_empty() { s.alloc_zeros::<f32>(1) } else { s.clone_htod(a) };
        let mut p = Vec::new();
        let (mut g, mut m, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for a in params {
            p.push(upload(a)?);
            g.push(zeros(a.len())?);
            m.push(zeros(a.len())?);
            v.push(zeros(a.len())?);
        }
        let arr = |x: Vec<CudaSlice<f32>>| -> [CudaSlice<f32>; FIELD_GROUPS] {
            x.try_into().unwrap_or_else(|_| unreachable!("one slice per group"))
        };
        let chunk = (capacity * max_samples).clamp(1, abi::CHUNK);
        // A field without background has no background slots to record.
        let bg_chunk = if desc.background != 0 { (capacity * BG_SAMPLES).clamp(1, abi::CHUNK) } else { 0 };
        let [r0, r1, r2, r3] = desc.record_floats(chunk, bg_chunk);
        // The sample slots and the records take most of the memory: say so before running out.
        let slot_floats =
            abi::SAMPLE_FLOATS + abi::SAMPLE_VALUE_FLOATS + abi::SAMPLE_GRAD_FLOATS + abi::KEPT_FLOATS + 1;
        let need = 4 * (capacity * max_samples * slot_floats + r0 + r1 + r2 + r3);
        let (free, _) = s.context().mem_get_info()?;
        if need > free {
            let gb = |b: usize| b as f64 / (1u64 << 30) as f64;
            return Err(CudaError::Driver(format!(
                "a batch of {capacity} rays of up to {max_samples} samples needs {:.1} GiB of GPU memory and {:.1} GiB \
                 are free: train with fewer rays per step",
                gb(need),
                gb(free)
            )));
        }
        let [q0, q1, q2, q3] = desc.networks().map(|(_, net)| net.packed_floats());
        let mut state = FieldState {
            desc,
            params: arr(p),
            packed: [zeros(q0)?, zeros(q1)?, zeros(q2)?, zeros(q3)?],
            grads: arr(g),
            m: arr(m),
            v: arr(v),
            d_variance: zeros(1)?,
            occupancy: s.alloc_zeros::<u8>(occ_res.pow(3))?,
            occ_res,
            rays: s.alloc_zeros::<RayIn>(capacity.max(1))?,
            out: s.alloc_zeros::<RayOut>(capacity.max(1))?,
            samples: zeros(capacity * max_samples * abi::SAMPLE_FLOATS)?,
            values: zeros(capacity * max_samples * abi::SAMPLE_VALUE_FLOATS)?,
            sample_grads: zeros(capacity * max_samples * abi::SAMPLE_GRAD_FLOATS)?,
            bg: zeros(capacity * BG_SAMPLES * abi::BG_SLOT_FLOATS)?,
            bg_grads: zeros(capacity * BG_SAMPLES * abi::BG_GRAD_FLOATS)?,
            state: zeros(capacity * abi::RAY_STATE_FLOATS)?,
            total: s.alloc_zeros::<i32>(2)?,
            order: s.alloc_zeros::<i32>((capacity * max_samples).max(1))?,
            kept: zeros(capacity * max_samples * abi::KEPT_FLOATS)?,
            records: [zeros(r0)?, zeros(r1)?, zeros(r2)?, zeros(r3)?],
            chunk,
            bg_chunk,
            max_samples,
            host_out: Vec::new(),
            views: None,
            sums: BatchSums { batch: [0.0; BATCH_SUMS], views: Vec::new(), d_variance: 0.0 },
        };
        for (group, _) in desc.networks() {
            state.pack(gpu, group)?;
        }
        Ok(state)
    }

    /// What the kernels read as parameters: the hash tables, and the networks packed.
    fn kernel_params(&self, gpu: &Gpu) -> Weights {
        let mut w = gpu.weights(&self.params);
        for ((group, _), packed) in self.desc.networks().iter().zip(&self.packed) {
            w.ptr[*group] = gpu.ptr(packed);
        }
        w
    }

    /// Refreshes a network's packed copy from its parameters (nothing for a hash table).
    fn pack(&mut self, gpu: &Gpu, group: usize) -> Result<(), CudaError> {
        let Some(i) = self.desc.networks().iter().position(|(g, _)| *g == group) else { return Ok(()) };
        let net = self.desc.networks()[i].1;
        let mut b = gpu.stream.launch_builder(&gpu.pack);
        b.arg(&net).arg(&self.params[group]).arg(&mut self.packed[i]);
        // SAFETY: `params[group]` holds the network's parameters, `packed[i]` its packed floats.
        unsafe { b.launch(Gpu::grid(net.packed_floats() / 4, BLOCK)) }?;
        Ok(())
    }

    /// Uploads the training views `train_batch` draws from: per view its description, its
    /// pixels (`abi::PIXEL_FLOATS` each) and its camera-frame directions at the
    /// (width + 1)(height + 1) pixel corners.
    pub fn upload_views(
        &mut self,
        gpu: &Gpu,
        descs: &[ViewDesc],
        pixels: &[f32],
        corners: &[f32],
    ) -> Result<(), CudaError> {
        let s = &gpu.stream;
        let n = descs.len();
        self.views = Some(DeviceViews {
            descs: s.clone_htod(descs)?,
            pixels: s.clone_htod(pixels)?,
            corners: s.clone_htod(corners)?,
            corrections: s.alloc_zeros::<f32>(n * crate::render::poses::PER_VIEW)?,
            ray_views: s.alloc_zeros::<i32>(self.capacity())?,
            batch_sums: s.alloc_zeros::<f32>(BATCH_SUMS)?,
            view_sums: s.alloc_zeros::<f32>(n * VIEW_SUMS)?,
        });
        self.sums.views = vec![0.0; n * VIEW_SUMS];
        Ok(())
    }

    /// Replaces the uploaded views' pixels (the same views, with new stereo depths).
    pub fn upload_pixels(&mut self, gpu: &Gpu, pixels: &[f32]) -> Result<(), CudaError> {
        let views = self.views.as_mut().ok_or_else(|| CudaError::Kernel("no views uploaded".into()))?;
        views.pixels = gpu.stream.clone_htod(pixels)?;
        Ok(())
    }

    /// One training batch of `n` rays drawn on the device from the uploaded views with
    /// `seed` (the rays the CPU step draws with that seed), corrected by `corrections` (per
    /// view) when poses are refined; gradients of this batch replace the previous ones.
    pub fn train_batch(
        &mut self,
        gpu: &Gpu,
        n: usize,
        seed: u64,
        corrections: Option<&[f32]>,
        cfg: &RenderSettings,
        variance: f32,
    ) -> Result<&BatchSums, CudaError> {
        assert!(n <= self.capacity() && cfg.max_samples as usize <= self.max_samples);
        let s = &gpu.stream;
        let v = self.views.as_mut().expect("train_batch needs upload_views first");
        if let Some(c) = corrections {
            s.memcpy_htod(c, &mut v.corrections)?;
        }
        let draw = DrawArgs {
            views: gpu.ptr(&v.descs),
            pixels: gpu.ptr(&v.pixels),
            corners: gpu.ptr(&v.corners),
            corrections: gpu.ptr(&v.corrections),
            rays: gpu.ptr(&self.rays),
            ray_views: gpu.ptr(&v.ray_views),
            seed,
            n_views: v.descs.len() as i32,
            n_rays: n as i32,
            refine: corrections.is_some() as i32,
            pad: 0,
        };
        // SAFETY: the buffers hold the uploaded views and `capacity` rays (asserted above).
        unsafe { s.launch_builder(&gpu.draw).arg(&draw).launch(Gpu::grid(n, BLOCK)) }?;
        self.launch_batch(gpu, n, cfg, variance, true)?;
        let v = self.views.as_mut().expect("checked above");
        s.memset_zeros(&mut v.batch_sums)?;
        s.memset_zeros(&mut v.view_sums)?;
        let reduce = ReduceArgs {
            rays: gpu.ptr(&self.rays),
            out: gpu.ptr(&self.out),
            ray_views: gpu.ptr(&v.ray_views),
            batch: gpu.ptr(&v.batch_sums),
            views: gpu.ptr(&v.view_sums),
            descs: gpu.ptr(&v.descs),
            corrections: gpu.ptr(&v.corrections),
            n_rays: n as i32,
            refine: corrections.is_some() as i32,
        };
        // SAFETY: as above; the sums hold BATCH_SUMS floats and VIEW_SUMS per view.
        unsafe { s.launch_builder(&gpu.reduce).arg(&reduce).launch(Gpu::grid(n, BLOCK)) }?;
        s.memcpy_dtoh(&v.batch_sums, &mut self.sums.batch)?;
        s.memcpy_dtoh(&v.view_sums, &mut self.sums.views)?;
        let mut dv = [0.0f32];
        s.memcpy_dtoh(&self.d_variance, &mut dv)?;
        self.sums.d_variance = dv[0];
        Ok(&self.sums)
    }

    pub fn capacity(&self) -> usize {
        self.rays.len()
    }

    /// Replaces the parameters (a rollback) and clears the optimiser's moments.
    pub fn upload_params(&mut self, gpu: &Gpu, params: [&[f32]; FIELD_GROUPS]) -> Result<(), CudaError> {
        for (i, a) in params.into_iter().enumerate() {
            if !a.is_empty() {
                gpu.stream.memcpy_htod(a, &mut self.params[i])?;
                self.pack(gpu, i)?;
            }
            gpu.stream.memset_zeros(&mut self.m[i])?;
            gpu.stream.memset_zeros(&mut self.v[i])?;
        }
        Ok(())
    }

    pub fn download_params(&self, gpu: &Gpu, out: [&mut Vec<f32>; FIELD_GROUPS]) -> Result<(), CudaError> {
        for (i, a) in out.into_iter().enumerate() {
            if !a.is_empty() {
                gpu.stream.memcpy_dtoh(&self.params[i], a.as_mut_slice())?;
            }
        }
        Ok(())
    }

    /// The last batch's gradients, per group (summed over its rays).
    pub fn download_grads(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>, CudaError> {
        self.grads.iter().map(|g| Ok(gpu.stream.clone_dtoh(g)?)).collect()
    }

    /// Adam moments per group, for checkpoints.
    pub fn download_moments(&self, gpu: &Gpu, group: usize) -> Result<(Vec<f32>, Vec<f32>), CudaError> {
        Ok((gpu.stream.clone_dtoh(&self.m[group])?, gpu.stream.clone_dtoh(&self.v[group])?))
    }

    pub fn upload_moments(&mut self, gpu: &Gpu, group: usize, m: &[f32], v: &[f32]) -> Result<(), CudaError> {
        if !m.is_empty() {
            gpu.stream.memcpy_htod(m, &mut self.m[group])?;
            gpu.stream.memcpy_htod(v, &mut self.v[group])?;
        }
        Ok(())
    }

    pub fn upload_occupancy(&mut self, gpu: &Gpu, cells: &[bool]) -> Result<(), CudaError> {
        let bytes: Vec<u8> = cells.iter().map(|&c| c as u8).collect();
        Ok(gpu.stream.memcpy_htod(&bytes, &mut self.occupancy)?)
    }

    /// Renders (`train` false) or trains on (`train` true) a batch of rays given by the host;
    /// with `train`, gradients of this batch replace the previous ones (and the rays get theirs
    /// with `cfg.ray_grads`). Returns per-ray results and, with `train`, dLoss/d(variance).
    pub fn trace(
        &mut self,
        gpu: &Gpu,
        rays: &[RayIn],
        cfg: &RenderSettings,
        variance: f32,
        train: bool,
    ) -> Result<(&[RayOut], f32), CudaError> {
        assert!(rays.len() <= self.capacity() && cfg.max_samples as usize <= self.max_samples);
        let s = &gpu.stream;
        s.memcpy_htod(rays, &mut self.rays)?;
        self.launch_batch(gpu, rays.len(), cfg, variance, train)?;
        self.host_out.resize(rays.len(), RayOut::default());
        s.memcpy_dtoh(&self.out.slice(..rays.len()), &mut self.host_out)?;
        let mut dv = [0.0f32];
        if train {
            s.memcpy_dtoh(&self.d_variance, &mut dv)?;
        }
        Ok((&self.host_out, dv[0]))
    }

    /// The batch kernels on the first `n` rays of the ray buffer.
    fn launch_batch(
        &mut self,
        gpu: &Gpu,
        n: usize,
        cfg: &RenderSettings,
        variance: f32,
        train: bool,
    ) -> Result<(), CudaError> {
        let s = &gpu.stream;
        s.memset_zeros(&mut self.total)?;
        if train {
            for g in &mut self.grads {
                s.memset_zeros(g)?;
            }
            s.memset_zeros(&mut self.d_variance)?;
        }
        let capacity = n * self.max_samples;
        let args = BatchArgs {
            field: self.desc,
            params: self.kernel_params(gpu),
            grads: gpu.weights(&self.grads),
            d_variance: gpu.ptr(&self.d_variance),
            occupancy: gpu.ptr(&self.occupancy),
            rays: gpu.ptr(&self.rays),
            out: gpu.ptr(&self.out),
            samples: gpu.ptr(&self.samples),
            values: gpu.ptr(&self.values),
            sample_grads: gpu.ptr(&self.sample_grads),
            bg: gpu.ptr(&self.bg),
            bg_grads: gpu.ptr(&self.bg_grads),
            state: gpu.ptr(&self.state),
            total: gpu.ptr(&self.total),
            order: gpu.ptr(&self.order),
            kept: gpu.ptr(&self.kept),
            rec_sdf: gpu.ptr(&self.records[0]),
            rec_color: gpu.ptr(&self.records[1]),
            rec_bg_density: gpu.ptr(&self.records[2]),
            rec_bg_color: gpu.ptr(&self.records[3]),
            cfg: *cfg,
            variance,
            occ_res: self.occ_res as i32,
            n_rays: n as i32,
            capacity: capacity as i32,
            train: train as i32,
            base: 0,
            chunk: 0,
        };
        let kernel = |name: &str| &gpu.batch[BATCH_KERNELS.iter().position(|k| *k == name).expect("a batch kernel")];
        // SAFETY (all launches below): the pointers in `args` are this state's buffers, sized
        // for `capacity` rays of `max_samples` samples (the callers assert it) and records of
        // `chunk` samples and `bg_chunk` slots, which the plan's chunks do not exceed.
        // Threads of each forward kernel: rays, sample slots, background slots, rays.
        for (name, threads) in BATCH_KERNELS.iter().zip([n, capacity, n * BG_SAMPLES, n]) {
            unsafe { s.launch_builder(kernel(name)).arg(&args).launch(Gpu::grid(threads, abi::BATCH_BLOCK)) }?;
        }
        if !train {
            return Ok(());
        }
        for launch in args.backward_plan(self.chunk, self.bg_chunk) {
            let (mut b, chunk_args);
            let threads = match launch {
                abi::BackwardLaunch::Batch(name, c, threads) => {
                    chunk_args = args.with(c);
                    b = s.launch_builder(kernel(name));
                    b.arg(&chunk_args);
                    (threads, abi::BATCH_BLOCK)
                }
                abi::BackwardLaunch::Grads(ref g, blocks) => {
                    b = s.launch_builder(kernel("weight_grads"));
                    b.arg(g);
                    (blocks * abi::GRAD_BLOCK as usize, abi::GRAD_BLOCK)
                }
            };
            unsafe { b.launch(Gpu::grid(threads.0, threads.1)) }?;
        }
        unsafe { s.launch_builder(kernel("finish_rays")).arg(&args).launch(Gpu::grid(n, abi::BATCH_BLOCK)) }?;
        Ok(())
    }

    /// One Adam update of a group from its gradient times `grad_scale` (and of its packed copy,
    /// for a network); `step_size` already holds the bias corrections.
    pub fn adam(&mut self, gpu: &Gpu, group: usize, grad_scale: f32, step_size: f32) -> Result<(), CudaError> {
        use crate::nn::adam::{BETA1, BETA2, EPS};
        let n = self.params[group].len() as i32;
        let s = &gpu.stream;
        let mut b = s.launch_builder(&gpu.adam);
        b.arg(&mut self.params[group]).arg(&mut self.m[group]).arg(&mut self.v[group]).arg(&self.grads[group]);
        b.arg(&n).arg(&grad_scale).arg(&step_size).arg(&BETA1).arg(&BETA2).arg(&EPS);
        // SAFETY: the four buffers hold n floats each.
        unsafe { b.launch(Gpu::grid(n as usize, BLOCK)) }?;
        self.pack(gpu, group)
    }

    /// Recomputes the occupancy grid on the device; returns how many cells are occupied.
    pub fn update_occupancy(&mut self, gpu: &Gpu, active: usize, reach: f32) -> Result<usize, CudaError> {
        let n = self.occ_res.pow(3);
        let (desc, w, res) = (self.desc, self.kernel_params(gpu), self.occ_res as i32);
        let active = active as i32;
        let s = &gpu.stream;
        s.memset_zeros(&mut self.total)?;
        let mut b = s.launch_builder(&gpu.occupancy);
        b.arg(&desc).arg(&w).arg(&active).arg(&res).arg(&reach).arg(&mut self.occupancy).arg(&mut self.total);
        // SAFETY: the occupancy buffer holds res³ cells, `total` one int; the weights are this state's.
        unsafe { b.launch(Gpu::grid(n, BLOCK)) }?;
        let mut count = [0i32];
        s.memcpy_dtoh(&self.total.slice(..1), &mut count)?;
        Ok(count[0].max(0) as usize)
    }

    pub fn download_occupancy(&self, gpu: &Gpu) -> Result<Vec<bool>, CudaError> {
        Ok(gpu.stream.clone_dtoh(&self.occupancy)?.into_iter().map(|c| c != 0).collect())
    }

    /// Signed distances at `points` (x, y, z triples).
    pub fn sdf(&self, gpu: &Gpu, active: usize, points: &[f32]) -> Result<Vec<f32>, CudaError> {
        let n = points.len() / 3;
        let s = &gpu.stream;
        let pts = s.clone_htod(points)?;
        let mut out = s.alloc_zeros::<f32>(n.max(1))?;
        let (desc, w, active, count) = (self.desc, self.kernel_params(gpu), active as i32, n as i32);
        let mut b = s.launch_builder(&gpu.sdf);
        b.arg(&desc).arg(&w).arg(&active).arg(&pts).arg(&count).arg(&mut out);
        // SAFETY: `pts` holds n points, `out` n floats.
        unsafe { b.launch(Gpu::grid(n, BLOCK)) }?;
        Ok(s.clone_dtoh(&out)?[..n].to_vec())
    }

    /// Colours at `points` (x, y, z triples) seen along `looks` (a unit vector per point, or
    /// zero: head-on), with finite-difference step `h`: three floats per point.
    pub fn colors(
        &self,
        gpu: &Gpu,
        active: usize,
        h: f32,
        points: &[f32],
        looks: &[f32],
    ) -> Result<Vec<f32>, CudaError> {
        assert_eq!(points.len(), looks.len());
        let n = points.len() / 3;
        let s = &gpu.stream;
        let (pts, dirs) = (s.clone_htod(points)?, s.clone_htod(looks)?);
        let mut out = s.alloc_zeros::<f32>((3 * n).max(1))?;
        let (desc, w, active, count) = (self.desc, self.kernel_params(gpu), active as i32, n as i32);
        let mut b = s.launch_builder(&gpu.color);
        b.arg(&desc).arg(&w).arg(&active).arg(&h).arg(&pts).arg(&dirs).arg(&count).arg(&mut out);
        // SAFETY: `pts` and `dirs` hold n triples, `out` 3n floats.
        unsafe { b.launch(Gpu::grid(n, BLOCK)) }?;
        Ok(s.clone_dtoh(&out)?[..3 * n].to_vec())
    }
}
