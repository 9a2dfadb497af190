//! The kernels' argument structs, laid out as `kernels/*.cuh` declares them (`#[repr(C)]`,
//! device pointers as `u64`), and their construction from the CPU backend's types, so both
//! backends see the same grid levels, shapes and settings.

use crate::field::Field;
use crate::nn::hashgrid::{self, FEATURES};
use crate::nn::mlp::MlpShape;
use crate::render::RenderSettings as CpuSettings;

pub const GRID_MAX_LEVELS: usize = 16;
/// Levels of the background's grid the kernels take (`BG_GRID_LEVELS`).
pub const BG_GRID_LEVELS: usize = 8;

/// A network's capacity in the kernels (mlp.cuh's Net): they evaluate it at these sizes, a
/// narrower network padded with zeros. The host build's `field_caps` checks these against
/// field.cuh's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetCaps {
    pub input: usize,
    pub hidden: usize,
    pub hidden_layers: usize,
    pub output: usize,
}

/// SdfNet, ColorNet, BgDensityNet and BgColorNet, in `FieldDesc::networks` order.
pub const NET_CAPS: [NetCaps; 4] = [
    NetCaps { input: 3 + GRID_MAX_LEVELS * FEATURES, hidden: 64, hidden_layers: 1, output: 16 },
    NetCaps { input: 34, hidden: 64, hidden_layers: 2, output: 3 },
    NetCaps { input: BG_GRID_LEVELS * FEATURES, hidden: 32, hidden_layers: 1, output: 16 },
    NetCaps { input: 31, hidden: 32, hidden_layers: 1, output: 3 },
];

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GridDesc {
    pub levels: i32,
    pub table: u32,
    pub res: [f32; GRID_MAX_LEVELS],
    pub side: [u32; GRID_MAX_LEVELS],
    pub dense: [i32; GRID_MAX_LEVELS],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Mlp {
    pub input: i32,
    pub hidden: i32,
    pub hidden_layers: i32,
    pub output: i32,
    pub cap_input: i32,
    pub cap_hidden: i32,
    pub cap_output: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FieldDesc {
    pub grid: GridDesc,
    pub bg_grid: GridDesc,
    pub sdf: Mlp,
    pub color: Mlp,
    pub bg_density: Mlp,
    pub bg_color: Mlp,
    pub orientation: f32,
    pub init_radius: f32,
    /// 1 with the background field, 0 without (`FieldConfig::background`).
    pub background: i32,
    /// SH coefficients of the view direction the surface colour sees (`FieldConfig::view_coeffs`).
    pub view_coeffs: i32,
}

/// Pointers to the six field parameter arrays (or their gradients), in `Params` order; what
/// the kernels read as parameters has the networks' packed copies instead (`pack_mlp`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Weights {
    pub ptr: [u64; 6],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RenderSettings {
    pub step: f32,
    pub max_samples: i32,
    pub active_levels: i32,
    pub fd_h: f32,
    pub anneal: f32,
    pub eikonal_weight: f32,
    pub mask_weight: f32,
    pub huber_delta: f32,
    pub far_weight: f32,
    pub depth_weight: f32,
    /// 1: the rays' own gradients too (`CpuSettings::ray_grads`).
    pub ray_grads: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RayIn {
    pub origin: [f32; 3],
    pub dir: [f32; 3],
    pub jitter: f32,
    pub rgb: [f32; 3],
    /// Negative: no mask.
    pub mask: f32,
    /// Stereo depth along the ray; 0: none.
    pub depth: f32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RayOut {
    pub rgb: [f32; 3],
    pub opacity: f32,
    pub depth: f32,
    pub loss: f32,
    pub samples: f32,
    pub d_origin: [f32; 3],
    pub d_dir: [f32; 3],
}

/// Floats a reduced batch gives back: its loss, squared colour error and samples, summed.
pub const BATCH_SUMS: usize = 3;
/// Floats per view a reduced batch gives back: squared colour error, rays, and the gradient of
/// the view's pose correction (`kernels/rays.cu`).
pub const VIEW_SUMS: usize = 2 + crate::render::poses::PER_VIEW;

/// Floats per training pixel on the device: rgb, mask (negative: none), depth (0: none).
pub const PIXEL_FLOATS: usize = 5;

/// A training view as `draw_rays` reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ViewDesc {
    /// Index of the view's first pixel (rgb, mask, depth: `PIXEL_FLOATS`) in the pixel buffer.
    pub first_pixel: u64,
    /// Index of its first corner direction in the corner buffer.
    pub first_corner: u64,
    pub width: i32,
    pub height: i32,
    /// Camera to world, row-major.
    pub rotation: [f32; 9],
    /// The camera's centre in the normalised frame.
    pub origin: [f32; 3],
    pub pad: [i32; 2],
}

/// `draw_rays`' argument (pointers as device addresses).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DrawArgs {
    pub views: u64,
    pub pixels: u64,
    pub corners: u64,
    pub corrections: u64,
    pub rays: u64,
    pub ray_views: u64,
    pub seed: u64,
    pub n_views: i32,
    pub n_rays: i32,
    pub refine: i32,
    pub pad: i32,
}

/// `reduce_rays`' argument.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ReduceArgs {
    pub rays: u64,
    pub out: u64,
    pub ray_views: u64,
    pub batch: u64,
    pub views: u64,
    /// The views' `ViewDesc`s and corrections, for the optical axes of the focal gradient.
    pub descs: u64,
    pub corrections: u64,
    pub n_rays: i32,
    pub refine: i32,
}

/// Floats per record of the batch buffers (`kernels/trace.cu`: Sample, SampleValue,
/// SampleGrad, BgSlot, BgGrad, RayState); the host build's `trace_record_floats` checks them.
pub const SAMPLE_FLOATS: usize = 2;
pub const SAMPLE_VALUE_FLOATS: usize = 7 + crate::field::GEO_FEATURES;
pub const SAMPLE_GRAD_FLOATS: usize = 8 + crate::field::GEO_FEATURES;
pub const BG_SLOT_FLOATS: usize = 12;
pub const BG_GRAD_FLOATS: usize = 4;
pub const RAY_STATE_FLOATS: usize = 26;
/// What a training sample keeps for its backward pass (field.cuh's KEPT_FLOATS): its four SDF
/// evaluations' grid features and hidden layers, and the colour network's two hidden layers.
pub const KEPT_FLOATS: usize = 4 * GRID_MAX_LEVELS * FEATURES + 4 * NET_CAPS[0].hidden + 2 * NET_CAPS[1].hidden;
/// Background samples per ray (`BG_SAMPLES`).
pub const BG_SAMPLES: usize = crate::field::background::SAMPLES;

/// The batch kernels' common argument: the field, its gradients, and the batch's buffers.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BatchArgs {
    pub field: FieldDesc,
    pub params: Weights,
    pub grads: Weights,
    pub d_variance: u64,
    pub occupancy: u64,
    pub rays: u64,
    pub out: u64,
    pub samples: u64,
    pub values: u64,
    pub sample_grads: u64,
    pub bg: u64,
    pub bg_grads: u64,
    pub state: u64,
    /// Two i32: samples in the packed list, and those the backward pass takes (`composite`
    /// lists them in `order`); zero before `march`.
    pub total: u64,
    /// i32 per sample slot: the packed indices of the samples the backward pass takes.
    pub order: u64,
    /// `KEPT_FLOATS` per sample slot: what `eval_samples` keeps for the backward pass when training.
    pub kept: u64,
    /// The networks' backward records of one chunk (`Rec`): SDF, colour, background density,
    /// background colour.
    pub rec_sdf: u64,
    pub rec_color: u64,
    pub rec_bg_density: u64,
    pub rec_bg_color: u64,
    pub cfg: RenderSettings,
    pub variance: f32,
    pub occ_res: i32,
    pub n_rays: i32,
    /// Entries of `samples`, `values` and `sample_grads`.
    pub capacity: i32,
    pub train: i32,
    /// The chunk's first sample (or background slot), and samples (slots) per chunk.
    pub base: i32,
    pub chunk: i32,
}

/// `weight_grads`' argument: one layer of one network, over one chunk's record.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GradArgs {
    pub rec: u64,
    pub grad: u64,
    /// An i32 on the device: the batch's items (capped at `items`); 0: `items` are all live.
    pub total: u64,
    pub items: i32,
    pub base: i32,
    pub chunk: i32,
    pub per_item: i32,
    pub net: Mlp,
    pub layer: i32,
}

/// Threads per block of the batch kernels and of `weight_grads` (trace.cu's `BATCH_BLOCK` and
/// `GRAD_BLOCK`: their launch bounds allow no more).
pub const BATCH_BLOCK: u32 = 64;
pub const GRAD_BLOCK: u32 = 256;

/// Samples (or background slots) whose backward records a chunk holds: records stay within a
/// few hundred megabytes however large the batch.
pub const CHUNK: usize = 1 << 18;
/// Rows per block of `weight_grads` (`GRAD_SLICE`).
const GRAD_SLICE: usize = 1024;

/// A chunk of a batch's samples or background slots: its first one, and how many a chunk holds.
#[derive(Clone, Copy, Debug)]
pub struct BatchChunk {
    pub base: i32,
    pub chunk: i32,
}

/// One launch of a training batch's backward pass, with its thread count.
#[derive(Clone, Copy, Debug)]
pub enum BackwardLaunch {
    /// A per-sample backward kernel on one chunk: the batch's arguments with that chunk's
    /// `base` and `chunk`, and its threads.
    Batch(&'static str, BatchChunk, usize),
    /// `weight_grads` on one layer of one chunk, and its blocks (of `GRAD_BLOCK` threads).
    Grads(GradArgs, usize),
}

impl BatchArgs {
    pub fn with(&self, c: BatchChunk) -> BatchArgs {
        BatchArgs { base: c.base, chunk: c.chunk, ..*self }
    }

    /// The backward pass of this batch in order: per chunk of `chunk` samples, their backward
    /// pass and then the weight gradients of the SDF and colour networks from their records;
    /// the same per chunk of `bg_chunk` background slots, when the field has a background.
    /// (`finish_rays` follows.) Produced as it is launched: nothing is allocated per step.
    pub fn backward_plan(&self, chunk: usize, bg_chunk: usize) -> impl Iterator<Item = BackwardLaunch> + use<> {
        let f = self.field;
        let slots = if f.background != 0 { self.n_rays as usize * BG_SAMPLES } else { 0 };
        // Per pass: kernel, items, chunk, device count of the items (0: all live), and its
        // networks (shape, record, gradients, record rows per item), the first `nets` of two.
        let samples = self.capacity as usize;
        let color = (f.color, self.rec_color, self.grads.ptr[2], 1);
        let sdf = (f.sdf, self.rec_sdf, self.grads.ptr[1], 4);
        let bg_density = (f.bg_density, self.rec_bg_density, self.grads.ptr[4], 1);
        let bg_color = (f.bg_color, self.rec_bg_color, self.grads.ptr[5], 1);
        let passes = [
            ("backward_colors", samples, chunk, self.total + 4, [color, color], 1),
            ("backward_samples", samples, chunk, self.total + 4, [sdf, sdf], 1),
            ("backward_background", slots, bg_chunk, 0, [bg_density, bg_color], 2),
        ];
        passes.into_iter().flat_map(|(kernel, items, chunk, total, nets, n_nets)| {
            (0..items).step_by(chunk.max(1)).flat_map(move |base| {
                let c = BatchChunk { base: base as i32, chunk: chunk as i32 };
                let grads = nets.into_iter().take(n_nets).flat_map(move |(net, rec, grad, per_item)| {
                    (0..net.shape().layer_count()).map(move |layer| {
                        let g = GradArgs {
                            rec,
                            grad,
                            total,
                            items: items as i32,
                            base: c.base,
                            chunk: c.chunk,
                            per_item,
                            net,
                            layer: layer as i32,
                        };
                        BackwardLaunch::Grads(g, (chunk * per_item as usize).div_ceil(GRAD_SLICE))
                    })
                });
                std::iter::once(BackwardLaunch::Batch(kernel, c, chunk.min(items - base))).chain(grads)
            })
        })
    }
}

/// The batch kernels: a batch runs the first four, and when training then its backward pass
/// (`BatchArgs::backward_plan`: the next four) and `finish_rays`.
pub const BATCH_KERNELS: [&str; 9] = [
    "march",
    "eval_samples",
    "eval_background",
    "composite",
    "backward_colors",
    "backward_samples",
    "backward_background",
    "weight_grads",
    "finish_rays",
];

// SAFETY: plain old data, laid out as the kernels declare it.
unsafe impl cudarc::driver::DeviceRepr for FieldDesc {}
unsafe impl cudarc::driver::DeviceRepr for Weights {}
unsafe impl cudarc::driver::DeviceRepr for BatchArgs {}
unsafe impl cudarc::driver::DeviceRepr for GradArgs {}
unsafe impl cudarc::driver::DeviceRepr for Mlp {}
unsafe impl cudarc::driver::DeviceRepr for DrawArgs {}
unsafe impl cudarc::driver::DeviceRepr for ReduceArgs {}
unsafe impl cudarc::driver::DeviceRepr for ViewDesc {}
unsafe impl cudarc::driver::ValidAsZeroBits for ViewDesc {}

impl GridDesc {
    pub fn of(grid: &hashgrid::Grid) -> GridDesc {
        let mut d = GridDesc {
            levels: grid.cfg.levels as i32,
            table: grid.cfg.table_size() as u32,
            res: [0.0; GRID_MAX_LEVELS],
            side: [0; GRID_MAX_LEVELS],
            dense: [0; GRID_MAX_LEVELS],
        };
        for l in 0..grid.cfg.levels {
            let (res, side, dense) = grid.level(l);
            d.res[l] = res;
            d.side[l] = side as u32;
            d.dense[l] = dense as i32;
        }
        d
    }
}

impl NetCaps {
    /// Why a network of shape `s` does not fit.
    fn refuses(&self, s: &MlpShape) -> Option<String> {
        let fits = s.input <= self.input
            && s.hidden <= self.hidden
            && s.hidden_layers == self.hidden_layers
            && s.output == self.output;
        (!fits).then(|| {
            format!(
                "a network of {} inputs, {} hidden layers of {} and {} outputs (the CUDA kernels take at most {} \
                 inputs, {} hidden layers of at most {} and {} outputs)",
                s.input, s.hidden_layers, s.hidden, s.output, self.input, self.hidden_layers, self.hidden, self.output
            )
        })
    }
}

impl Mlp {
    pub fn of(s: &MlpShape, caps: &NetCaps) -> Mlp {
        Mlp {
            input: s.input as i32,
            hidden: s.hidden as i32,
            hidden_layers: s.hidden_layers as i32,
            output: s.output as i32,
            cap_input: caps.input as i32,
            cap_hidden: caps.hidden as i32,
            cap_output: caps.output as i32,
        }
    }

    fn shape(&self) -> MlpShape {
        MlpShape {
            input: self.input as usize,
            hidden: self.hidden as usize,
            hidden_layers: self.hidden_layers as usize,
            output: self.output as usize,
        }
    }

    /// The network at its capacity's sizes, as the kernels lay it out.
    fn cap_shape(&self) -> MlpShape {
        MlpShape {
            input: self.cap_input as usize,
            hidden: self.cap_hidden as usize,
            output: self.cap_output as usize,
            ..self.shape()
        }
    }

    /// Floats of its packed copy (`mlp_packed_count` float4s).
    pub fn packed_floats(&self) -> usize {
        let s = self.cap_shape();
        let out = s.layer_count() - 1;
        let layer = |l: usize| {
            let (ni, no) = s.layer(l);
            let blocks = if l == out { ni.div_ceil(4) * no } else { no.div_ceil(4) * ni };
            blocks + no.div_ceil(4)
        };
        4 * (0..s.layer_count()).map(layer).sum::<usize>()
    }

    /// Floats per row of its backward record (`mlp_rec_cols`).
    pub fn rec_cols(&self) -> usize {
        let s = self.cap_shape();
        (0..s.layer_count()).map(|l| s.layer(l).0 + s.layer(l).1).sum()
    }
}

impl FieldDesc {
    /// The networks, each with its group in `Params::arrays`: the kernels read them packed
    /// (`pack_mlp`).
    pub fn networks(&self) -> [(usize, Mlp); 4] {
        [(1, self.sdf), (2, self.color), (4, self.bg_density), (5, self.bg_color)]
    }

    /// Floats of the records of a chunk of `chunk` samples (SDF, colour) and `bg_chunk`
    /// background slots (density, colour).
    pub fn record_floats(&self, chunk: usize, bg_chunk: usize) -> [usize; 4] {
        [
            4 * chunk * self.sdf.rec_cols(),
            chunk * self.color.rec_cols(),
            bg_chunk * self.bg_density.rec_cols(),
            bg_chunk * self.bg_color.rec_cols(),
        ]
    }

    pub fn of(field: &Field) -> FieldDesc {
        let (density, color) = field.background.shapes();
        FieldDesc {
            grid: GridDesc::of(field.grid()),
            bg_grid: GridDesc::of(field.background.grid()),
            sdf: Mlp::of(&field.cfg.sdf_shape(), &NET_CAPS[0]),
            color: Mlp::of(&field.cfg.color_shape(), &NET_CAPS[1]),
            bg_density: Mlp::of(density, &NET_CAPS[2]),
            bg_color: Mlp::of(color, &NET_CAPS[3]),
            orientation: field.cfg.orientation,
            init_radius: field.cfg.init_radius,
            background: field.cfg.background as i32,
            view_coeffs: field.cfg.view_coeffs() as i32,
        }
    }
}

/// Why a field cannot run on these kernels (they are compiled for networks and grids of at
/// most fixed sizes).
pub fn unsupported(field: &Field) -> Option<String> {
    let levels = field.cfg.grid.levels;
    if levels > GRID_MAX_LEVELS {
        return Some(format!("{levels} hash levels (the CUDA kernels take at most {GRID_MAX_LEVELS})"));
    }
    let bg_levels = field.background.grid().cfg.levels;
    if bg_levels > BG_GRID_LEVELS {
        return Some(format!("{bg_levels} background hash levels (the CUDA kernels take at most {BG_GRID_LEVELS})"));
    }
    let (density, color) = field.background.shapes();
    let shapes = [field.cfg.sdf_shape(), field.cfg.color_shape(), density.clone(), color.clone()];
    debug_assert_eq!(FEATURES, 2, "kernels/hashgrid.cuh stores 2 features per level");
    shapes.iter().zip(&NET_CAPS).find_map(|(s, caps)| caps.refuses(s))
}

impl RenderSettings {
    pub fn of(s: &CpuSettings) -> RenderSettings {
        RenderSettings {
            step: s.step,
            max_samples: s.max_samples as i32,
            active_levels: s.active_levels as i32,
            fd_h: s.fd_h,
            anneal: s.anneal,
            eikonal_weight: s.eikonal_weight,
            mask_weight: s.mask_weight,
            huber_delta: s.huber_delta,
            far_weight: s.far_weight,
            depth_weight: s.depth_weight,
            ray_grads: s.ray_grads as i32,
        }
    }
}

/// Host addresses of a parameter set's field arrays, for the host build of the kernels.
#[cfg(test)]
pub fn host_weights(p: &mut crate::field::Params) -> Weights {
    let a = p.arrays_mut();
    Weights { ptr: std::array::from_fn(|i| a[i].as_mut_ptr() as u64) }
}
