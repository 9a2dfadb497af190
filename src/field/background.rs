//! What lies outside the unit sphere (NeRF++): a density and colour field over the contracted
//! space beyond it, sampled along each ray at even steps of inverse distance, the last at
//! infinity. Walls, tables and sky then have somewhere to go other than the surface.
//!
//! A sample at inverse distance u = 1/r sits where the ray leaves the sphere of radius r; its
//! contracted position x·u·(2 − u) lies in the ball of radius 2 (mip-NeRF 360's contraction,
//! exact here because |x| = r by construction).

use super::{Params, Scratch, sigmoid};
use crate::nn::hashgrid::{self, HashGridConfig};
use crate::nn::{mlp, mlp::MlpShape, sh};

/// Samples per ray, from the unit sphere out to (nearly) infinity.
pub const SAMPLES: usize = 16;
pub const GRID: HashGridConfig =
    HashGridConfig { levels: 8, log2_table: 15, base_resolution: 4.0, max_resolution: 128.0 };
const FEATURES: usize = 15;
/// Width of the density and colour networks' hidden layer.
pub const HIDDEN: usize = 32;
/// Step between samples in inverse distance: the density integrates over u, not over t.
const DELTA: f32 = 1.0 / SAMPLES as f32;
/// Inverse distance of the last, opaque sample: 10⁴ radii, in effect infinity. What lies
/// there (sky, a far horizon) is then a function of direction alone, the same from every
/// viewpoint; jittered like the others, it slid with the camera and blurred the sky in novel
/// views (docs/results.md, *Background field*). (`BG_FAR_U` in the kernels and shaders.)
pub const FAR_U: f32 = 1e-4;
/// Hash levels the sample at infinity reads: the two coarsest, whose cells span 29° and 19°
/// of its sphere, stored densely. Much of what lies at infinity is seen from few of the photos'
/// directions or from none. With the finer levels, hashed, a direction no photo saw read
/// features trained elsewhere and showed blotches of ground in the sky of novel views; with
/// these it shows a smooth continuation of what surrounds it. Detail that the photos need goes
/// to the nearer samples, against the far prior; two levels scored best held out
/// (docs/results.md, *Background field*). (`BG_FAR_LEVELS` in the kernels and shaders.)
pub const FAR_LEVELS: usize = 2;

/// Inverse distance of sample j of a ray drawn with `jitter`: even steps from the unit sphere
/// outwards, then infinity.
pub fn sample_u(j: usize, jitter: f32) -> f32 {
    if j + 1 == SAMPLES { FAR_U } else { (SAMPLES as f32 - j as f32 - jitter) / SAMPLES as f32 }
}

/// Hash levels a sample at inverse distance u reads.
fn levels_at(u: f32) -> usize {
    if u == FAR_U { FAR_LEVELS } else { GRID.levels }
}

pub struct Background {
    pub enabled: bool,
    grid: hashgrid::Grid,
    density_shape: MlpShape,
    color_shape: MlpShape,
}

/// One background sample, kept for the backward pass.
#[derive(Clone, Default)]
struct Sample {
    t: f32,
    u: f32,
    /// Position in [0, 1]³ for the hash grid.
    g: [f32; 3],
    density_in: Vec<f32>,
    density_acts: Vec<f32>,
    color_in: Vec<f32>,
    color_acts: Vec<f32>,
    raw_sigma: f32,
    alpha: f32,
    rgb: [f32; 3],
    /// Transmittance before this sample.
    trans: f32,
}

/// Per-ray state of the background, reused from ray to ray.
#[derive(Default)]
pub struct BackgroundRay {
    /// The first `count` are this ray's; all keep their buffers from ray to ray.
    samples: Vec<Sample>,
    count: usize,
    /// Dir and origin of the ray, for the position gradients.
    origin: [f32; 3],
    dir: [f32; 3],
}

/// What the background passes back to the ray: gradients with respect to the ray's origin,
/// its direction, and the direction's SH encoding.
pub struct RayGrads {
    pub origin: [f32; 3],
    pub dir: [f32; 3],
    pub dir_sh: [f32; sh::COEFFS],
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn softplus(x: f32) -> f32 {
    if x > 15.0 { x } else { x.exp().ln_1p() }
}

/// Distance along the ray to where it leaves the sphere of radius r, when it does ahead.
fn exit_distance(origin: [f32; 3], dir: [f32; 3], r: f32) -> Option<(f32, f32)> {
    let b = dot(origin, dir);
    let disc = b * b - (dot(origin, origin) - r * r);
    if disc <= 1e-8 {
        return None;
    }
    let s = disc.sqrt();
    let t = -b + s;
    (t > 0.0).then_some((t, s))
}

impl Background {
    /// A background field; `enabled` false, it renders nothing and learns nothing.
    pub fn new(enabled: bool) -> Background {
        Background {
            enabled,
            grid: hashgrid::Grid::new(GRID),
            density_shape: MlpShape {
                input: GRID.output_dim(),
                hidden: HIDDEN,
                hidden_layers: 1,
                output: 1 + FEATURES,
            },
            color_shape: MlpShape { input: FEATURES + sh::COEFFS, hidden: HIDDEN, hidden_layers: 1, output: 3 },
        }
    }

    pub fn grid(&self) -> &hashgrid::Grid {
        &self.grid
    }

    /// The density and colour networks' shapes.
    pub fn shapes(&self) -> (&MlpShape, &MlpShape) {
        (&self.density_shape, &self.color_shape)
    }

    /// Fresh parameters: (grid, density net, colour net).
    pub fn init_params(&self, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        (
            super::small_uniform(GRID.param_count(), seed),
            self.density_shape.init(seed + 1, 1.0),
            self.color_shape.init(seed + 2, 1.0),
        )
    }

    /// Composites the background along a ray; `jitter` in [0, 1) offsets the samples. The
    /// last sample is opaque: whatever is left of the ray ends there.
    pub fn render(
        &self,
        p: &Params,
        origin: [f32; 3],
        dir: [f32; 3],
        dir_sh: &[f32],
        jitter: f32,
        ws: &mut BackgroundRay,
    ) -> [f32; 3] {
        ws.origin = origin;
        ws.dir = dir;
        ws.count = 0;
        let samples = if self.enabled { SAMPLES } else { 0 };
        for j in 0..samples {
            let u = sample_u(j, jitter);
            let Some((t, _)) = exit_distance(origin, dir, 1.0 / u) else { continue };
            let x = [origin[0] + t * dir[0], origin[1] + t * dir[1], origin[2] + t * dir[2]];
            let k = u * (2.0 - u) * 0.25;
            if ws.samples.len() == ws.count {
                ws.samples.push(Sample::default());
            }
            let s = &mut ws.samples[ws.count];
            ws.count += 1;
            (s.t, s.u, s.g) = (t, u, x.map(|v| v * k + 0.5));
            s.density_in.resize(self.density_shape.input, 0.0);
            hashgrid::encode(&self.grid, &p.bg_grid, s.g, levels_at(u), &mut s.density_in);
            s.density_acts.resize(self.density_shape.activation_count(), 0.0);
            mlp::forward(&self.density_shape, &p.bg_density, &s.density_in, &mut s.density_acts);
            let out = &s.density_acts[s.density_acts.len() - (1 + FEATURES)..];
            s.raw_sigma = out[0];
            s.color_in.clear();
            s.color_in.extend_from_slice(&out[1..]);
            s.color_in.extend_from_slice(dir_sh);
            s.color_acts.resize(self.color_shape.activation_count(), 0.0);
            mlp::forward(&self.color_shape, &p.bg_color, &s.color_in, &mut s.color_acts);
            let c = &s.color_acts[s.color_acts.len() - 3..];
            s.rgb = [sigmoid(c[0]), sigmoid(c[1]), sigmoid(c[2])];
            s.alpha = 1.0 - (-softplus(s.raw_sigma) * DELTA).exp();
        }
        let samples = &mut ws.samples[..ws.count];
        if let Some(last) = samples.last_mut() {
            last.alpha = 1.0;
        }
        let mut rgb = [0.0f32; 3];
        let mut trans = 1.0f32;
        for s in samples {
            s.trans = trans;
            for k in 0..3 {
                rgb[k] += trans * s.alpha * s.rgb[k];
            }
            trans *= 1.0 - s.alpha;
        }
        rgb
    }

    /// The opacity of the last rendered ray's background before its last sample: how much of
    /// it lies at a finite distance rather than at infinity.
    pub fn near_opacity(&self, ws: &BackgroundRay) -> f32 {
        ws.samples[..ws.count].last().map_or(0.0, |s| 1.0 - s.trans)
    }

    /// Backward of [`Background::render`] from dL/drgb and dL/d[`Background::near_opacity`]:
    /// accumulates parameter gradients and returns those of the ray (with `ray_grads`, else
    /// zeros).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        p: &Params,
        ws: &BackgroundRay,
        drgb: [f32; 3],
        d_near: f32,
        g: &mut Params,
        s: &mut Scratch,
        ray_grads: bool,
    ) -> RayGrads {
        let mut grads = RayGrads { origin: [0.0; 3], dir: [0.0; 3], dir_sh: [0.0; sh::COEFFS] };
        let n = ws.count;
        // Near opacity 1 − Π(1 − α_j) over all but the last: dα_j is worth T_last / (1 − α_j).
        let far_trans = 1.0 - self.near_opacity(ws);
        // The colour composited behind each sample.
        let mut after = [0.0f32; 3];
        let (o, d) = (ws.origin, ws.dir);
        for j in (0..n).rev() {
            let smp = &ws.samples[j];
            let w = smp.trans * smp.alpha;
            let c = smp.rgb;
            let d_alpha = if j + 1 == n {
                0.0
            } else {
                smp.trans * dot(drgb, [c[0] - after[0], c[1] - after[1], c[2] - after[2]])
            };
            // (1 − α_j) cancels against dα/d(raw): no division by a transparency of zero.
            let d_near_raw = if j + 1 == n { 0.0 } else { d_near * far_trans };
            for k in 0..3 {
                after[k] = smp.alpha * c[k] + (1.0 - smp.alpha) * after[k];
            }
            // Colour network.
            let dc: [f32; 3] = std::array::from_fn(|k| w * drgb[k] * c[k] * (1.0 - c[k]));
            s.dinput.resize(self.color_shape.input, 0.0);
            mlp::backward(
                &self.color_shape,
                &p.bg_color,
                &smp.color_in,
                &smp.color_acts,
                &dc,
                &mut g.bg_color,
                &mut s.dinput,
                &mut s.mlp,
            );
            let mut dout = [0.0f32; 1 + FEATURES];
            dout[1..].copy_from_slice(&s.dinput[..FEATURES]);
            for (a, b) in grads.dir_sh.iter_mut().zip(&s.dinput[FEATURES..]) {
                *a += b;
            }
            // Density: α = 1 − exp(−softplus(raw) δ).
            dout[0] = (d_alpha * (1.0 - smp.alpha) + d_near_raw) * DELTA * sigmoid(smp.raw_sigma);
            s.dinput.resize(self.density_shape.input, 0.0);
            mlp::backward(
                &self.density_shape,
                &p.bg_density,
                &smp.density_in,
                &smp.density_acts,
                &dout,
                &mut g.bg_density,
                &mut s.dinput,
                &mut s.mlp,
            );
            let dg = hashgrid::backward(
                &self.grid,
                &p.bg_grid,
                smp.g,
                levels_at(smp.u),
                &s.dinput,
                &mut g.bg_grid,
                ray_grads,
            );
            if !ray_grads {
                continue;
            }
            // x = o + t d on the sphere of radius r = 1/u, with t the far root.
            let k = smp.u * (2.0 - smp.u) * 0.25;
            let gx = dg.map(|v| v * k);
            let Some((_, root)) = exit_distance(o, d, 1.0 / smp.u) else { continue };
            let b = dot(o, d);
            let gd = dot(gx, d);
            for a in 0..3 {
                let dt_do = (-1.0 + b / root) * d[a] - o[a] / root;
                let dt_dd = (-1.0 + b / root) * o[a];
                grads.origin[a] += gx[a] + gd * dt_do;
                grads.dir[a] += smp.t * gx[a] + gd * dt_dd;
            }
        }
        grads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{Field, FieldConfig};

    /// What lies at infinity reads the coarse levels alone: once the nearer samples are made
    /// transparent, a ray's colour ignores every finer level and follows a coarse one.
    #[test]
    fn infinity_reads_only_the_coarse_levels() {
        let field = Field::new(FieldConfig::tiny());
        let mut p = field.init_params(7);
        for (i, v) in p.bg_grid.iter_mut().enumerate() {
            *v = ((i as f32 * 0.6180).fract() - 0.5) * 0.4;
        }
        // The density output's bias: softplus(−30) is about 1e-13, so only the last sample shows.
        let sigma_bias = p.bg_density.len() - (1 + FEATURES);
        p.bg_density[sigma_bias] = -30.0;
        let dir = [0.48f32, 0.6, 0.64];
        let mut dir_sh = [0.0f32; sh::COEFFS];
        sh::encode(dir, &mut dir_sh);
        let render =
            |p: &Params| field.background.render(p, [0.1, -0.2, 0.3], dir, &dir_sh, 0.4, &mut BackgroundRay::default());
        let before = render(&p);
        let coarse = FAR_LEVELS * GRID.table_size() * hashgrid::FEATURES;
        let mut fine = p.clone();
        fine.bg_grid[coarse..].iter_mut().for_each(|v| *v += 0.7);
        let unchanged = render(&fine);
        let mut shifted = p.clone();
        shifted.bg_grid[..coarse].iter_mut().for_each(|v| *v += 0.7);
        let changed = render(&shifted);
        for k in 0..3 {
            assert!((unchanged[k] - before[k]).abs() < 1e-6, "a fine level moved the sky: {before:?} -> {unchanged:?}");
        }
        assert!((0..3).any(|k| (changed[k] - before[k]).abs() > 1e-3), "the coarse levels do nothing: {changed:?}");
    }
}
