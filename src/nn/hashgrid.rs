//! Multiresolution hash encoding (instant-ngp): per level, trilinear interpolation of
//! learned feature vectors stored at the corners of a grid, hashed into a fixed-size table
//! where the grid has more corners than the table has entries.

use serde::{Deserialize, Serialize};

/// Features per level.
pub const FEATURES: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HashGridConfig {
    pub levels: usize,
    pub log2_table: u32,
    pub base_resolution: f32,
    pub max_resolution: f32,
}

impl HashGridConfig {
    pub fn table_size(&self) -> usize {
        1 << self.log2_table
    }

    pub fn output_dim(&self) -> usize {
        self.levels * FEATURES
    }

    pub fn param_count(&self) -> usize {
        self.levels * self.table_size() * FEATURES
    }

    fn growth(&self) -> f32 {
        if self.levels <= 1 {
            1.0
        } else {
            ((self.max_resolution.ln() - self.base_resolution.ln()) / (self.levels - 1) as f32).exp()
        }
    }

    /// Grid cells per unit along each axis at `level`.
    pub fn resolution(&self, level: usize) -> f32 {
        (self.base_resolution * self.growth().powi(level as i32)).floor()
    }
}

/// Per-level constants derived once from the configuration (the hot loop must not
/// recompute powers and logarithms).
#[derive(Clone, Debug)]
pub struct Grid {
    pub cfg: HashGridConfig,
    res: Vec<f32>,
    side: Vec<u64>,
    dense: Vec<bool>,
    mask: u64,
}

impl Grid {
    pub fn new(cfg: HashGridConfig) -> Self {
        let res: Vec<f32> = (0..cfg.levels).map(|l| cfg.resolution(l)).collect();
        let side: Vec<u64> = res.iter().map(|&r| r as u64 + 2).collect();
        let dense = side.iter().map(|&s| s * s * s <= cfg.table_size() as u64).collect();
        Self { res, side, dense, mask: cfg.table_size() as u64 - 1, cfg }
    }

    /// Level `l`'s cells per unit, corners per side, and whether it is stored densely (other
    /// implementations of the encoding, such as the viewer's shaders, index the same way).
    pub fn level(&self, l: usize) -> (f32, u64, bool) {
        (self.res[l], self.side[l], self.dense[l])
    }
}

/// Where one level's trilinear weights come from: 8 table entries and their weights, plus
/// the weights' derivative along each axis (for gradients with respect to the position).
#[derive(Clone, Copy, Default)]
struct Corners {
    index: [u32; 8],
    weight: [f32; 8],
    dweight: [[f32; 3]; 8],
}

fn corners(grid: &Grid, level: usize, x: [f32; 3]) -> Corners {
    let res = grid.res[level];
    let side = grid.side[level];
    let dense = grid.dense[level];
    let mut base = [0i64; 3];
    let mut frac = [0f32; 3];
    for a in 0..3 {
        let p = x[a].clamp(0.0, 1.0) * res;
        // p ≥ 0: truncation is its floor, without a call to libm's floorf (this is the hot loop).
        let f = (p as u32 as f32).min(res - 1.0).max(0.0);
        base[a] = f as i64;
        frac[a] = p - f;
    }
    let mut c = Corners::default();
    for k in 0..8 {
        let o = [(k & 1) as i64, ((k >> 1) & 1) as i64, ((k >> 2) & 1) as i64];
        let g = [base[0] + o[0], base[1] + o[1], base[2] + o[2]];
        let idx = if dense {
            (g[0] as u64) + side * ((g[1] as u64) + side * (g[2] as u64))
        } else {
            // The table size is a power of two: a mask, not a 64-bit division.
            ((g[0] as u64) ^ (g[1] as u64).wrapping_mul(2_654_435_761) ^ (g[2] as u64).wrapping_mul(805_459_861))
                & grid.mask
        };
        c.index[k] = (level as u64 * (grid.mask + 1) + idx) as u32;
        let w: [f32; 3] = std::array::from_fn(|a| if o[a] == 1 { frac[a] } else { 1.0 - frac[a] });
        let dw: [f32; 3] = std::array::from_fn(|a| if o[a] == 1 { res } else { -res });
        c.weight[k] = w[0] * w[1] * w[2];
        c.dweight[k] = [dw[0] * w[1] * w[2], w[0] * dw[1] * w[2], w[0] * w[1] * dw[2]];
    }
    c
}

/// Encodes a position in [0, 1]³ into `out` (`levels × FEATURES`); levels at or above
/// `active` output zero (coarse-to-fine training).
pub fn encode(grid: &Grid, params: &[f32], x: [f32; 3], active: usize, out: &mut [f32]) {
    out.fill(0.0);
    for level in 0..active.min(grid.cfg.levels) {
        let c = corners(grid, level, x);
        for k in 0..8 {
            let i = c.index[k] as usize * FEATURES;
            for f in 0..FEATURES {
                out[level * FEATURES + f] += c.weight[k] * params[i + f];
            }
        }
    }
}

/// Accumulates dL/dparams into `grad` given dL/dout; with `position`, returns dL/dx (needed
/// when the position itself is optimised, as pose refinement does), else zeros.
pub fn backward(
    grid: &Grid,
    params: &[f32],
    x: [f32; 3],
    active: usize,
    dout: &[f32],
    grad: &mut [f32],
    position: bool,
) -> [f32; 3] {
    let mut dx = [0f32; 3];
    let inside: [bool; 3] = std::array::from_fn(|a| position && (0.0..=1.0).contains(&x[a]));
    for level in 0..active.min(grid.cfg.levels) {
        let c = corners(grid, level, x);
        for k in 0..8 {
            let i = c.index[k] as usize * FEATURES;
            for f in 0..FEATURES {
                let d = dout[level * FEATURES + f];
                grad[i + f] += c.weight[k] * d;
                for a in 0..3 {
                    if inside[a] {
                        dx[a] += c.dweight[k][a] * params[i + f] * d;
                    }
                }
            }
        }
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HashGridConfig {
        HashGridConfig { levels: 4, log2_table: 10, base_resolution: 4.0, max_resolution: 64.0 }
    }

    fn params(cfg: &HashGridConfig) -> Vec<f32> {
        (0..cfg.param_count()).map(|i| ((i as f32 * 0.618).fract() - 0.5) * 0.2).collect()
    }

    #[test]
    fn resolutions_grow_geometrically() {
        let c = cfg();
        assert_eq!(c.resolution(0), 4.0);
        assert_eq!(c.resolution(3), 64.0);
    }

    /// dL/dparams and dL/dx against central differences of L = Σ dout · encode(x).
    #[test]
    fn backward_matches_finite_differences() {
        let c = cfg();
        let mut p = params(&c);
        let x = [0.31, 0.57, 0.83];
        let dout: Vec<f32> = (0..c.output_dim()).map(|i| (i as f32 * 0.37).sin()).collect();
        let loss = |p: &[f32], x: [f32; 3]| {
            let mut out = vec![0.0; c.output_dim()];
            encode(&Grid::new(c), p, x, 3, &mut out);
            out.iter().zip(&dout).map(|(a, b)| (a * b) as f64).sum::<f64>()
        };
        let mut grad = vec![0.0; p.len()];
        let dx = backward(&Grid::new(c), &p, x, 3, &dout, &mut grad, true);
        let touched: Vec<usize> = (0..p.len()).filter(|&i| grad[i] != 0.0).collect();
        assert!(touched.len() >= 8 * 3, "only {} entries touched", touched.len());
        for &i in touched.iter().step_by(3) {
            let h = 1e-2;
            let old = p[i];
            p[i] = old + h;
            let lp = loss(&p, x);
            p[i] = old - h;
            let lm = loss(&p, x);
            p[i] = old;
            let fd = (lp - lm) / (2.0 * h as f64);
            assert!((fd - grad[i] as f64).abs() < 1e-4, "param {i}: fd {fd} vs {}", grad[i]);
        }
        for a in 0..3 {
            let h = 1e-4;
            let (mut xp, mut xm) = (x, x);
            xp[a] += h;
            xm[a] -= h;
            let fd = (loss(&p, xp) - loss(&p, xm)) / (2.0 * h as f64);
            assert!((fd - dx[a] as f64).abs() < 2e-2 * fd.abs().max(0.1), "dx[{a}]: fd {fd} vs {}", dx[a]);
        }
    }

    #[test]
    fn inactive_levels_are_zero() {
        let c = cfg();
        let mut out = vec![1.0; c.output_dim()];
        encode(&Grid::new(c), &params(&c), [0.2, 0.2, 0.2], 1, &mut out);
        assert!(out[..FEATURES].iter().any(|&v| v != 0.0));
        assert!(out[FEATURES..].iter().all(|&v| v == 0.0));
    }
}
