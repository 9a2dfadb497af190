//! The kernels against the CPU backend on one fixed batch: a small field with parameters
//! away from their initial values, an occupancy grid with holes, and rays that hit the
//! surface, miss it, and carry masks; and on training views to draw rays from. The host build
//! of the kernels (unit tests), the GPU build (`tests/cuda.rs`) and `weave doctor --parity`
//! all compare through here.

use super::CudaError;
use super::abi::{RayIn, RayOut, RenderSettings as KernelSettings, VIEW_SUMS};
use super::gpu::{FIELD_GROUPS, FieldState, Gpu};
use crate::field::{ColorEval, Field, FieldConfig, Occupancy, Params, SurfaceSample};
use crate::geometry::{Distortion, Intrinsics, Pose};
use crate::nn::adam::{Adam, BETA1, BETA2};
use crate::nn::hashgrid::HashGridConfig;
use crate::nn::sh;
use crate::render::batch::sample_ray;
use crate::render::poses::{PER_VIEW, accumulate_gradient};
use crate::render::views::{Normalization, TrainView};
use crate::render::{self, Ray, RayOutput, RayScratch, RenderSettings, Target};
use crate::util::rng::Rng;
use glam::DVec3;

pub struct Fixture {
    pub field: Field,
    pub params: Params,
    pub occupancy: Occupancy,
    pub settings: RenderSettings,
    pub rays: Vec<(Ray, f32, Target)>,
}

/// A small field with every parameter non-trivial, its occupancy, and rays through it;
/// `background` false, without the background field.
pub fn fixture(background: bool) -> Fixture {
    let field = Field::new(FieldConfig {
        grid: HashGridConfig { levels: 6, log2_table: 12, base_resolution: 4.0, max_resolution: 96.0 },
        hidden: 16,
        orientation: 1.0,
        init_radius: 0.5,
        background,
        // Without the background, the surface colour sees the view direction's first two bands
        // alone, so both settings are compared.
        view_degree: if background { sh::DEGREE } else { 2 },
    });
    let mut params = field.init_params(5);
    for (gi, a) in params.arrays_mut().into_iter().enumerate() {
        for (i, v) in a.iter_mut().enumerate() {
            *v += 0.05 * ((i * 7 + gi * 13) as f32 * 0.37).sin();
        }
    }
    params.variance = 0.35;
    let mut occupancy = Occupancy::full(16);
    for (i, c) in occupancy.cells.iter_mut().enumerate() {
        *c = i % 5 != 0;
    }
    let settings = RenderSettings {
        step: 2.0 / 64.0,
        max_samples: 96,
        active_levels: 5,
        fd_h: 0.01,
        anneal: 0.4,
        eikonal_weight: 0.1,
        mask_weight: 0.1,
        huber_delta: 0.1,
        far_weight: 0.05,
        depth_weight: 0.3,
        ray_grads: true,
    };
    let rays = (0..24)
        .map(|i| {
            let a = i as f32 * 0.7;
            let origin = [2.5 * a.cos(), 2.5 * a.sin(), 0.4 + 0.05 * i as f32];
            let aim = [0.2 * (a * 3.0).sin(), 0.15 * (a * 2.0).cos(), 0.1];
            let d: [f32; 3] = std::array::from_fn(|k| aim[k] - origin[k]);
            let l = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
            let mask = (i % 3 == 0).then_some((i % 2) as f32);
            // Near where the rays meet the field's initial sphere, about 2 along them.
            let depth = (i % 4 == 1).then_some(1.8 + 0.03 * i as f32);
            let target = Target { rgb: [0.2 + 0.02 * i as f32, 0.5, 0.7], mask, depth };
            (Ray { origin, dir: d.map(|v| v / l) }, (i as f32 * 0.31).fract(), target)
        })
        .collect();
    Fixture { field, params, occupancy, settings, rays }
}

/// Training views to draw rays from: a pinhole view, one with OpenCV distortion and a mask,
/// and one with radial distortion, in different poses around the fixture's field.
pub fn views() -> (Vec<TrainView>, Normalization) {
    let make = |w: u32, h: u32, distortion, eye: DVec3, mask: bool| {
        let mut k = Intrinsics::centered(w, h, 0.9 * w as f64);
        k.cx += 0.3;
        k.distortion = distortion;
        let n = (w * h) as usize;
        TrainView {
            name: format!("{w}x{h}"),
            intrinsics: k,
            pose: Pose::look_at(eye, DVec3::new(0.2, 0.1, 0.0), DVec3::Z),
            rgb: (0..n).map(|i| [(i as f32 * 0.37).fract(), (i as f32 * 0.11).fract(), 0.5]).collect(),
            // Filled, empty and unknown (no mask term) pixels, as auto masks make them.
            mask: mask.then(|| (0..n).map(|i| [1.0, 0.0, -1.0][i % 3]).collect()),
            depth_range: None,
            // Stereo depth on some pixels of the masked view, none (0) on the rest.
            depth: mask.then(|| (0..n).map(|i| if i % 2 == 0 { 1.5 + (i % 7) as f32 * 0.1 } else { 0.0 }).collect()),
        }
    };
    let opencv = Distortion::OpenCv { k1: -0.08, k2: 0.01, p1: 0.002, p2: -0.001 };
    let views = vec![
        make(40, 30, Distortion::None, DVec3::new(3.0, -2.0, 1.0), false),
        make(160, 120, opencv, DVec3::new(-2.5, 2.0, 0.5), true),
        make(80, 60, Distortion::Radial { k1: 0.04, k2: 0.0 }, DVec3::new(0.5, 3.0, -1.5), false),
    ];
    (views, Normalization { center: [0.1, -0.2, 0.3], scale: 1.7 })
}

/// Small pose corrections, one per view.
pub fn corrections(views: usize) -> Vec<f32> {
    (0..views * PER_VIEW).map(|i| ((i as f32) * 0.7).sin() * 0.05).collect()
}

impl Fixture {
    pub fn ray_inputs(&self) -> Vec<RayIn> {
        self.rays
            .iter()
            .map(|(ray, jitter, t)| RayIn {
                origin: ray.origin,
                dir: ray.dir,
                jitter: *jitter,
                rgb: t.rgb,
                mask: t.mask.unwrap_or(-1.0),
                depth: t.depth.unwrap_or(0.0),
            })
            .collect()
    }

    /// The CPU backend's results and gradients (summed over the batch).
    pub fn reference(&self) -> (Vec<RayOutput>, Params) {
        let mut grads = self.params.zeros_like();
        let mut ws = RayScratch::default();
        let outs = self
            .rays
            .iter()
            .map(|(ray, jitter, target)| {
                let (f, p, o, s) = (&self.field, &self.params, &self.occupancy, &self.settings);
                render::trace(f, p, o, ray, s, *jitter, &mut ws, Some(target), Some(&mut grads))
            })
            .collect();
        (outs, grads)
    }
}

/// The worst relative difference of one quantity, and the bound it must stay under.
#[derive(Clone, Debug)]
pub struct Diff {
    pub what: String,
    pub worst: f32,
    pub bound: f32,
}

impl Diff {
    pub fn ok(&self) -> bool {
        self.worst <= self.bound
    }
}

/// Points for colour queries (mesh vertices) and their look directions: every third one zero,
/// which asks for the head-on colour.
pub fn color_queries(n: usize) -> (Vec<f32>, Vec<f32>) {
    let points = (0..3 * n).map(|i| ((i as f32) * 0.618).fract() * 1.2 - 0.6).collect();
    let looks = (0..n)
        .flat_map(|i| match i % 3 {
            0 => [0.0; 3],
            _ => glam::Vec3::new((i as f32).sin(), 0.5, (i as f32).cos()).normalize().to_array(),
        })
        .collect();
    (points, looks)
}

/// The CPU's colours for `color_queries` (src/mesh's vertex colours), three floats per point.
pub fn color_reference(fx: &Fixture, points: &[f32], looks: &[f32], h: f32, active: usize) -> Vec<f32> {
    let (mut s, mut c) = (SurfaceSample::default(), ColorEval::default());
    let mut out = Vec::with_capacity(points.len());
    for (x, look) in points.chunks_exact(3).zip(looks.chunks_exact(3)) {
        fx.field.surface(&fx.params, [x[0], x[1], x[2]], h, active, &mut s);
        let look = glam::Vec3::from_slice(look);
        let look = if look == glam::Vec3::ZERO { -glam::Vec3::from(s.grad).normalize_or_zero() } else { look };
        let mut dir = [0.0; sh::COEFFS];
        sh::encode(look.to_array(), &mut dir);
        fx.field.color(&fx.params, s.grad, &dir, &s.feat, &mut c);
        out.extend(c.rgb);
    }
    out
}

fn rel(a: f32, b: f32) -> f32 {
    (a - b).abs() / (1.0 + a.abs().max(b.abs()))
}

/// Compares kernel results with the CPU backend's; `tolerance` scales every bound (1 for
/// the host build, larger for the GPU's fused multiply-adds and atomics' order).
pub fn compare(
    cpu: &(Vec<RayOutput>, Params),
    outs: &[RayOut],
    grads: [&[f32]; FIELD_GROUPS],
    d_variance: f32,
    tolerance: f32,
) -> Vec<Diff> {
    let (cpu_outs, cpu_grads) = cpu;
    let worst =
        |f: &dyn Fn(&RayOutput, &RayOut) -> f32| cpu_outs.iter().zip(outs).map(|(c, g)| f(c, g)).fold(0.0, f32::max);
    let vec3 = |a: [f32; 3], b: [f32; 3]| (0..3).map(|k| rel(a[k], b[k])).fold(0.0, f32::max);
    let mut d = vec![
        Diff { what: "samples".into(), worst: worst(&|c, g| (c.samples as f32 - g.samples).abs()), bound: 0.0 },
        Diff { what: "colour".into(), worst: worst(&|c, g| vec3(c.rgb, g.rgb)), bound: 1e-5 * tolerance },
        Diff {
            what: "opacity, depth".into(),
            worst: worst(&|c, g| rel(c.opacity, g.opacity).max(rel(c.depth, g.depth))),
            bound: 1e-5 * tolerance,
        },
        Diff { what: "loss".into(), worst: worst(&|c, g| rel(c.loss, g.loss)), bound: 1e-5 * tolerance },
        Diff {
            what: "ray gradient".into(),
            worst: worst(&|c, g| vec3(c.d_origin, g.d_origin).max(vec3(c.d_dir, g.d_dir))),
            bound: 1e-3 * tolerance,
        },
        Diff { what: "variance gradient".into(), worst: rel(cpu_grads.variance, d_variance), bound: 1e-3 * tolerance },
    ];
    let names = ["grid", "sdf", "color", "bg_grid", "bg_density", "bg_color"];
    for (gi, (a, b)) in cpu_grads.arrays().iter().zip(grads).enumerate() {
        // Relative to the group's largest gradient: entries near zero differ by rounding alone.
        // A group the CPU leaves at zero (a field without background) must stay exactly zero.
        let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        let worst = match (scale > 0.0, worst == 0.0) {
            (true, _) => worst / scale,
            (false, true) => 0.0,
            (false, false) => f32::INFINITY,
        };
        d.push(Diff { what: format!("{} gradient", names[gi]), worst, bound: 1e-4 * tolerance });
    }
    d
}

/// Runs the fixture's batch through the GPU kernels and compares it with the CPU backend.
pub fn on_gpu(gpu: &Gpu) -> Result<Vec<Diff>, CudaError> {
    let fx = fixture(true);
    let p = fx.params.arrays();
    let fields: [&[f32]; FIELD_GROUPS] = std::array::from_fn(|i| p[i].as_slice());
    let ins = fx.ray_inputs();
    let desc = super::abi::FieldDesc::of(&fx.field);
    let mut state = FieldState::new(gpu, desc, fields, fx.occupancy.res, ins.len(), fx.settings.max_samples)?;
    state.upload_occupancy(gpu, &fx.occupancy.cells)?;
    let cfg = super::abi::RenderSettings::of(&fx.settings);
    let (outs, d_variance) = state.trace(gpu, &ins, &cfg, fx.params.variance, true)?;
    let outs = outs.to_vec();
    let grads = state.download_grads(gpu)?;
    let g: [&[f32]; FIELD_GROUPS] = std::array::from_fn(|i| grads[i].as_slice());
    let tolerance = 20.0;
    let mut diffs = compare(&fx.reference(), &outs, g, d_variance, tolerance);

    // Occupancy and SDF queries. Cells whose SDF sits at the threshold may flip on rounding.
    let (active, reach) = (4, 0.3);
    let occupied = state.update_occupancy(gpu, active, reach)?;
    let cells = state.download_occupancy(gpu)?;
    let mut e = Default::default();
    let grid = Occupancy::full(fx.occupancy.res);
    let flipped = (0..cells.len())
        .filter(|&i| cells[i] != (fx.field.sdf(&fx.params, grid.center(i), active, &mut e).abs() < reach))
        .count();
    diffs.push(Diff { what: "occupancy cells".into(), worst: flipped as f32, bound: cells.len() as f32 * 1e-3 });
    let miscounted = occupied.abs_diff(cells.iter().filter(|&&c| c).count());
    diffs.push(Diff { what: "occupied count".into(), worst: miscounted as f32, bound: 0.0 });
    let points: Vec<f32> = (0..3000).map(|i| ((i as f32) * 0.618).fract() * 2.0 - 1.0).collect();
    let sdf = state.sdf(gpu, 6, &points)?;
    let worst = (0..sdf.len())
        .map(|i| {
            rel(fx.field.sdf(&fx.params, [points[3 * i], points[3 * i + 1], points[3 * i + 2]], 6, &mut e), sdf[i])
        })
        .fold(0.0, f32::max);
    diffs.push(Diff { what: "sdf query".into(), worst, bound: 1e-5 * tolerance });
    let (points, looks) = color_queries(300);
    let (h, active) = (fx.settings.fd_h, 6);
    let rgb = state.colors(gpu, active, h, &points, &looks)?;
    let expected = color_reference(&fx, &points, &looks, h, active);
    let worst = expected.iter().zip(&rgb).map(|(a, b)| rel(*a, *b)).fold(0.0, f32::max);
    diffs.push(Diff { what: "colour query".into(), worst, bound: 1e-5 * tolerance });

    // Adam on the colour network from the batch's gradients.
    let (group, scale, lr) = (2, 1.0 / ins.len() as f32, 0.01);
    let mut adam = Adam::new(grads[group].len());
    let mut expected = fx.params.color.clone();
    let scaled: Vec<f32> = grads[group].iter().map(|g| g * scale).collect();
    adam.update(&mut expected, &scaled, lr);
    let step_size = lr * (1.0 - BETA2).sqrt() / (1.0 - BETA1);
    state.adam(gpu, group, scale, step_size)?;
    let mut arrays: [Vec<f32>; FIELD_GROUPS] = std::array::from_fn(|i| vec![0.0; p[i].len()]);
    let [a0, a1, a2, a3, a4, a5] = &mut arrays;
    state.download_params(gpu, [a0, a1, a2, a3, a4, a5])?;
    let worst = expected.iter().zip(&arrays[group]).map(|(a, b)| rel(*a, *b)).fold(0.0, f32::max);
    diffs.push(Diff { what: "adam".into(), worst, bound: 1e-6 * tolerance });
    diffs.extend(drawn_batch(gpu, &fx, fields, tolerance)?);
    Ok(diffs)
}

/// A training batch drawn, trained and reduced on the device against the same rays drawn and
/// traced on the CPU.
fn drawn_batch(
    gpu: &Gpu,
    fx: &Fixture,
    fields: [&[f32]; FIELD_GROUPS],
    tolerance: f32,
) -> Result<Vec<Diff>, CudaError> {
    let (views, norm) = views();
    let corrections = corrections(views.len());
    let (n, seed) = (512, 99u64);
    let desc = super::abi::FieldDesc::of(&fx.field);
    let mut state = FieldState::new(gpu, desc, fields, fx.occupancy.res, n, fx.settings.max_samples)?;
    state.upload_occupancy(gpu, &fx.occupancy.cells)?;
    let (descs, pixels, corners) = super::run::device_views(&views, &norm);
    state.upload_views(gpu, &descs, &pixels, &corners)?;
    let cfg = KernelSettings::of(&fx.settings);
    let sums = state.train_batch(gpu, n, seed, Some(&corrections), &cfg, fx.params.variance)?;
    let expected = drawn_reference(fx, &views, &norm, &corrections, seed, n);
    Ok(compare_sums(&expected, (&sums.batch, &sums.views), tolerance))
}

/// The CPU step's sums over `n` rays drawn with `seed`: the batch's (loss, squared error,
/// samples) and per view (squared error, rays, pose-correction gradient).
pub fn drawn_reference(
    fx: &Fixture,
    views: &[TrainView],
    norm: &Normalization,
    corrections: &[f32],
    seed: u64,
    n: usize,
) -> ([f32; 3], Vec<f32>) {
    let mut batch = [0.0f32; 3];
    let mut per_view = vec![0.0f32; views.len() * VIEW_SUMS];
    let mut grads = fx.params.zeros_like();
    let mut ws = RayScratch::default();
    for i in 0..n {
        let r = sample_ray(views, norm, corrections, true, &mut Rng::for_ray(seed, i));
        let (f, p, o, s) = (&fx.field, &fx.params, &fx.occupancy, &fx.settings);
        let out = render::trace(f, p, o, &r.ray.ray, s, r.jitter, &mut ws, Some(&r.target), Some(&mut grads));
        let se = (0..3).map(|k| (out.rgb[k] - r.target.rgb[k]).powi(2)).sum::<f32>() / 3.0;
        batch[0] += out.loss;
        batch[1] += se;
        batch[2] += out.samples as f32;
        let v = &mut per_view[r.view * VIEW_SUMS..(r.view + 1) * VIEW_SUMS];
        v[0] += se;
        v[1] += 1.0;
        accumulate_gradient(&r.ray, out.d_origin, out.d_dir, &mut v[2..]);
    }
    (batch, per_view)
}

/// Reduced sums against the CPU's, each quantity relative to its largest value: the batch's
/// and every view's error and rays, which must agree closely, and the pose-correction
/// gradients. Those are sums over rays whose directions differ in the last digits (the device
/// interpolates them), and a ray's gradient jumps where a sample crosses an occupancy cell or
/// ends the ray: they are held to a few percent, which a wrong view, pixel or correction
/// exceeds many times over.
pub fn compare_sums(cpu: &([f32; 3], Vec<f32>), kernel: (&[f32], &[f32]), tolerance: f32) -> Vec<Diff> {
    let (batch, per_view) = cpu;
    let column_worst = |k: usize| {
        let column = |a: &[f32]| a.iter().skip(k).step_by(VIEW_SUMS).copied().collect::<Vec<f32>>();
        let (c, g) = (column(per_view), column(kernel.1));
        let scale = c.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        c.iter().zip(&g).map(|(a, b)| (a - b).abs() / scale).fold(0.0f32, f32::max)
    };
    let sums = (0..3).map(|k| (batch[k] - kernel.0[k]).abs() / batch[k].abs().max(1e-6)).fold(0.0, f32::max);
    vec![
        Diff {
            what: "drawn batch sums".into(),
            worst: sums.max(column_worst(0)).max(column_worst(1)),
            bound: 1e-4 * tolerance,
        },
        Diff {
            what: "drawn pose gradients".into(),
            worst: (2..VIEW_SUMS).map(column_worst).fold(0.0, f32::max),
            bound: 0.05,
        },
    ]
}
