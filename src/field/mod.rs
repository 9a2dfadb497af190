//! The neural field: a signed distance (hash grid + small MLP) with a colour network on top,
//! a learned sharpness of the surface (NeuS variance), and a background field beyond the unit
//! sphere. Positions are in the normalised scene frame, where the scene fits in the unit sphere.

pub mod background;
mod occupancy;
mod params;

pub use background::{Background, BackgroundRay};
pub use occupancy::Occupancy;
pub use params::{GROUPS, POSE_GROUP, Params};

use crate::nn::hashgrid::{self, HashGridConfig};
use crate::nn::{mlp, mlp::MlpShape, sh};
use serde::{Deserialize, Serialize};

/// Geometry features the SDF network hands to the colour network.
pub const GEO_FEATURES: usize = 15;
pub(crate) const SDF_OUT: usize = 1 + GEO_FEATURES;
/// Colour network input: normal, view direction (SH), geometry features.
const COLOR_IN: usize = 3 + sh::COEFFS + GEO_FEATURES;

/// Tetrahedron vertices for finite-difference gradients: Σ v vᵀ = 4 I and Σ v = 0, so four
/// SDF values give both the value (their mean) and the gradient.
const TETRA: [[f32; 3]; 4] = [[1.0, -1.0, -1.0], [-1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, 1.0, 1.0]];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldConfig {
    pub grid: HashGridConfig,
    pub hidden: usize,
    /// +1: the initial surface is a sphere seen from outside (objects); -1: from inside (rooms).
    pub orientation: f32,
    pub init_radius: f32,
    /// The NeRF++ background beyond the unit sphere. Off, whatever a ray leaves unexplained
    /// inside the sphere is black: the field alone must account for every pixel.
    #[serde(default = "yes")]
    pub background: bool,
    /// Degree of the view direction's spherical harmonics the surface colour sees (instant-ngp's
    /// count: degree d has d² coefficients; 4 is all of them, 1 or 0 none of the direction).
    /// Lower degrees leave less to view-dependent colour, which can make a surface at the wrong
    /// depth look right (`config::view_degree_for_layout`).
    #[serde(default = "full_view_degree")]
    pub view_degree: u32,
}

fn yes() -> bool {
    true
}

fn full_view_degree() -> u32 {
    sh::DEGREE
}

impl FieldConfig {
    pub fn sdf_shape(&self) -> MlpShape {
        MlpShape { input: 3 + self.grid.output_dim(), hidden: self.hidden, hidden_layers: 1, output: SDF_OUT }
    }
    pub fn color_shape(&self) -> MlpShape {
        MlpShape { input: COLOR_IN, hidden: self.hidden, hidden_layers: 2, output: 3 }
    }

    /// View-direction coefficients the surface colour sees; the rest of its SH inputs are zero.
    pub fn view_coeffs(&self) -> usize {
        sh::coeffs_to_degree(self.view_degree)
    }

    /// A small field for unit tests: 4 levels, quick to evaluate, every path exercised.
    #[cfg(test)]
    pub fn tiny() -> FieldConfig {
        FieldConfig {
            grid: HashGridConfig { levels: 4, log2_table: 12, base_resolution: 4.0, max_resolution: 32.0 },
            hidden: 16,
            orientation: 1.0,
            init_radius: 0.5,
            background: true,
            view_degree: sh::DEGREE,
        }
    }
}

pub struct Field {
    pub cfg: FieldConfig,
    grid: hashgrid::Grid,
    sdf_shape: MlpShape,
    color_shape: MlpShape,
    pub background: Background,
}

/// One SDF network evaluation, kept for its backward pass.
#[derive(Clone, Default)]
pub struct SdfEval {
    x: [f32; 3],
    input: Vec<f32>,
    acts: Vec<f32>,
}

/// SDF value, finite-difference gradient and features at a point, from four evaluations.
#[derive(Clone, Default)]
pub struct SurfaceSample {
    pub sdf: f32,
    pub grad: [f32; 3],
    pub feat: [f32; GEO_FEATURES],
    evals: [SdfEval; 4],
    h: f32,
}

/// A colour network evaluation, kept for its backward pass.
#[derive(Clone, Default)]
pub struct ColorEval {
    input: Vec<f32>,
    acts: Vec<f32>,
    pub rgb: [f32; 3],
    normal: [f32; 3],
    grad_norm: f32,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Hash-table features start tiny (instant-ngp: U(-1e-4, 1e-4)).
fn small_uniform(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2e-4
        })
        .collect()
}

/// What the colour network passes back: gradients of the SDF gradient, the geometry
/// features and the view direction's SH encoding.
pub struct ColorGrads {
    pub grad: [f32; 3],
    pub feat: [f32; GEO_FEATURES],
    pub dir_sh: [f32; sh::COEFFS],
}

/// Scratch space reused across backward passes of one worker.
#[derive(Default)]
pub struct Scratch {
    mlp: Vec<f32>,
    dinput: Vec<f32>,
}

impl Field {
    pub fn new(cfg: FieldConfig) -> Self {
        Self {
            grid: hashgrid::Grid::new(cfg.grid),
            sdf_shape: cfg.sdf_shape(),
            color_shape: cfg.color_shape(),
            background: Background::new(cfg.background),
            cfg,
        }
    }

    pub fn init_params(&self, seed: u64) -> Params {
        // The SDF residual starts at zero so the initial surface is exactly the prior sphere.
        // Pose corrections are sized by the trainer, which knows the views.
        let (bg_grid, bg_density, bg_color) = self.background.init_params(seed + 3);
        Params {
            grid: small_uniform(self.cfg.grid.param_count(), seed),
            sdf: self.sdf_shape.init(seed + 1, 0.0),
            color: self.color_shape.init(seed + 2, 1.0),
            bg_grid,
            bg_density,
            bg_color,
            poses: Vec::new(),
            variance: 0.3,
        }
    }

    pub fn grid(&self) -> &hashgrid::Grid {
        &self.grid
    }

    /// NeuS inverse standard deviation s = exp(10 v).
    pub fn inv_s(p: &Params) -> f32 {
        (10.0 * p.variance).exp().min(1e4)
    }

    fn prior(&self, x: [f32; 3]) -> (f32, [f32; 3]) {
        let r = (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]).sqrt().max(1e-9);
        let o = self.cfg.orientation;
        (o * (r - self.cfg.init_radius), [o * x[0] / r, o * x[1] / r, o * x[2] / r])
    }

    /// SDF network at one point: returns [residual sdf, features...] in `e.acts`' tail.
    fn sdf_eval(&self, p: &Params, x: [f32; 3], active: usize, e: &mut SdfEval) -> f32 {
        let dim = self.sdf_shape.input;
        e.x = x;
        e.input.resize(dim, 0.0);
        e.acts.resize(self.sdf_shape.activation_count(), 0.0);
        e.input[..3].copy_from_slice(&x);
        let u = [(x[0] + 1.0) * 0.5, (x[1] + 1.0) * 0.5, (x[2] + 1.0) * 0.5];
        hashgrid::encode(&self.grid, &p.grid, u, active, &mut e.input[3..]);
        mlp::forward(&self.sdf_shape, &p.sdf, &e.input, &mut e.acts);
        let out = &e.acts[e.acts.len() - SDF_OUT..];
        self.prior(x).0 + out[0]
    }

    /// Accumulates parameter gradients from dL/d(network outputs); returns dL/dx (with
    /// `position`, else zeros).
    #[allow(clippy::too_many_arguments)]
    fn sdf_backward(
        &self,
        p: &Params,
        e: &SdfEval,
        active: usize,
        dout: &[f32; SDF_OUT],
        g: &mut Params,
        s: &mut Scratch,
        position: bool,
    ) -> [f32; 3] {
        s.dinput.resize(self.sdf_shape.input, 0.0);
        mlp::backward(&self.sdf_shape, &p.sdf, &e.input, &e.acts, dout, &mut g.sdf, &mut s.dinput, &mut s.mlp);
        let u = [(e.x[0] + 1.0) * 0.5, (e.x[1] + 1.0) * 0.5, (e.x[2] + 1.0) * 0.5];
        let du = hashgrid::backward(&self.grid, &p.grid, u, active, &s.dinput[3..], &mut g.grid, position);
        if !position {
            return [0.0; 3];
        }
        let prior = self.prior(e.x).1;
        std::array::from_fn(|a| s.dinput[a] + 0.5 * du[a] + dout[0] * prior[a])
    }

    /// Signed distance alone (meshing, occupancy): one network evaluation.
    pub fn sdf(&self, p: &Params, x: [f32; 3], active: usize, e: &mut SdfEval) -> f32 {
        self.sdf_eval(p, x, active, e)
    }

    /// Value, gradient and features at `x`, from SDF values at a tetrahedron of size `h`.
    pub fn surface(&self, p: &Params, x: [f32; 3], h: f32, active: usize, out: &mut SurfaceSample) {
        let mut sdf = 0.0;
        let mut grad = [0.0f32; 3];
        let mut feat = [0.0f32; GEO_FEATURES];
        for (k, v) in TETRA.iter().enumerate() {
            let xk = [x[0] + h * v[0], x[1] + h * v[1], x[2] + h * v[2]];
            let f = self.sdf_eval(p, xk, active, &mut out.evals[k]);
            let acts = &out.evals[k].acts;
            let tail = &acts[acts.len() - SDF_OUT..];
            sdf += 0.25 * f;
            for a in 0..3 {
                grad[a] += v[a] * f / (4.0 * h);
            }
            for (i, ft) in feat.iter_mut().enumerate() {
                *ft += 0.25 * tail[1 + i];
            }
        }
        out.sdf = sdf;
        out.grad = grad;
        out.feat = feat;
        out.h = h;
    }

    /// Backward of [`Field::surface`] from dL/dsdf, dL/dgrad, dL/dfeat; returns dL/dx (with
    /// `position`, else zeros).
    #[allow(clippy::too_many_arguments)]
    pub fn surface_backward(
        &self,
        p: &Params,
        sample: &SurfaceSample,
        active: usize,
        dsdf: f32,
        dgrad: [f32; 3],
        dfeat: &[f32; GEO_FEATURES],
        g: &mut Params,
        s: &mut Scratch,
        position: bool,
    ) -> [f32; 3] {
        let mut dx = [0.0f32; 3];
        for (k, v) in TETRA.iter().enumerate() {
            let mut dout = [0.0f32; SDF_OUT];
            // The prior is parameter-free: only the network's residual needs gradients.
            dout[0] = 0.25 * dsdf + (dgrad[0] * v[0] + dgrad[1] * v[1] + dgrad[2] * v[2]) / (4.0 * sample.h);
            for i in 0..GEO_FEATURES {
                dout[1 + i] = 0.25 * dfeat[i];
            }
            let d = self.sdf_backward(p, &sample.evals[k], active, &dout, g, s, position);
            for a in 0..3 {
                dx[a] += d[a];
            }
        }
        dx
    }

    /// Colour (in [0, 1]) seen along `dir_sh` at a point with SDF gradient `grad`.
    pub fn color(&self, p: &Params, grad: [f32; 3], dir_sh: &[f32], feat: &[f32; GEO_FEATURES], e: &mut ColorEval) {
        let n = (grad[0] * grad[0] + grad[1] * grad[1] + grad[2] * grad[2]).sqrt().max(1e-6);
        e.grad_norm = n;
        e.normal = [grad[0] / n, grad[1] / n, grad[2] / n];
        e.input.resize(COLOR_IN, 0.0);
        e.input[..3].copy_from_slice(&e.normal);
        let view = self.cfg.view_coeffs();
        e.input[3..3 + view].copy_from_slice(&dir_sh[..view]);
        e.input[3 + view..3 + sh::COEFFS].fill(0.0);
        e.input[3 + sh::COEFFS..].copy_from_slice(feat);
        e.acts.resize(self.color_shape.activation_count(), 0.0);
        mlp::forward(&self.color_shape, &p.color, &e.input, &mut e.acts);
        let out = &e.acts[e.acts.len() - 3..];
        e.rgb = [sigmoid(out[0]), sigmoid(out[1]), sigmoid(out[2])];
    }

    /// Backward of [`Field::color`] from dL/drgb.
    pub fn color_backward(
        &self,
        p: &Params,
        e: &ColorEval,
        drgb: [f32; 3],
        g: &mut Params,
        s: &mut Scratch,
    ) -> ColorGrads {
        let dout: [f32; 3] = std::array::from_fn(|i| drgb[i] * e.rgb[i] * (1.0 - e.rgb[i]));
        s.dinput.resize(COLOR_IN, 0.0);
        mlp::backward(&self.color_shape, &p.color, &e.input, &e.acts, &dout, &mut g.color, &mut s.dinput, &mut s.mlp);
        let dn = [s.dinput[0], s.dinput[1], s.dinput[2]];
        let ndot = dn[0] * e.normal[0] + dn[1] * e.normal[1] + dn[2] * e.normal[2];
        let dgrad = std::array::from_fn(|a| (dn[a] - e.normal[a] * ndot) / e.grad_norm);
        ColorGrads {
            grad: dgrad,
            feat: std::array::from_fn(|i| s.dinput[3 + sh::COEFFS + i]),
            dir_sh: {
                let view = self.cfg.view_coeffs();
                std::array::from_fn(|i| if i < view { s.dinput[3 + i] } else { 0.0 })
            },
        }
    }
}
