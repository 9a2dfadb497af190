//! The optimised state (field networks, background, per-view pose corrections), also used as
//! the shape of its gradients.

use serde::{Deserialize, Serialize};

/// Number of parameter arrays, each with its own optimiser state.
pub const GROUPS: usize = 7;
/// Index of the pose corrections among [`Params::arrays`] (they take their own learning rate).
pub const POSE_GROUP: usize = 6;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub grid: Vec<f32>,
    pub sdf: Vec<f32>,
    pub color: Vec<f32>,
    pub bg_grid: Vec<f32>,
    pub bg_density: Vec<f32>,
    pub bg_color: Vec<f32>,
    /// Per training view, a rotation vector and a translation (normalised units) applied to
    /// its camera: see `train::poses`.
    pub poses: Vec<f32>,
    /// NeuS variance parameter v, s = exp(10 v).
    pub variance: f32,
}

impl Params {
    pub fn zeros_like(&self) -> Params {
        let mut z = self.clone();
        z.clear();
        z
    }

    pub fn clear(&mut self) {
        for v in self.arrays_mut() {
            v.fill(0.0);
        }
        self.variance = 0.0;
    }

    /// Adds `other` (gradients of another worker) into `self`.
    pub fn accumulate(&mut self, other: &Params) {
        use rayon::prelude::*;
        for (a, b) in self.arrays_mut().into_iter().zip(other.arrays()) {
            a.par_iter_mut().zip(b).with_min_len(1 << 14).for_each(|(x, y)| *x += y);
        }
        self.variance += other.variance;
    }

    pub fn scale(&mut self, k: f32) {
        use rayon::prelude::*;
        for v in self.arrays_mut() {
            v.par_iter_mut().with_min_len(1 << 14).for_each(|x| *x *= k);
        }
        self.variance *= k;
    }

    pub fn arrays(&self) -> [&Vec<f32>; GROUPS] {
        [&self.grid, &self.sdf, &self.color, &self.bg_grid, &self.bg_density, &self.bg_color, &self.poses]
    }

    pub fn arrays_mut(&mut self) -> [&mut Vec<f32>; GROUPS] {
        [
            &mut self.grid,
            &mut self.sdf,
            &mut self.color,
            &mut self.bg_grid,
            &mut self.bg_density,
            &mut self.bg_color,
            &mut self.poses,
        ]
    }

    /// Builds parameters from arrays in the order of [`Params::arrays`].
    pub fn from_arrays(arrays: [Vec<f32>; GROUPS], variance: f32) -> Params {
        let [grid, sdf, color, bg_grid, bg_density, bg_color, poses] = arrays;
        Params { grid, sdf, color, bg_grid, bg_density, bg_color, poses, variance }
    }

    pub fn is_finite(&self) -> bool {
        use rayon::prelude::*;
        self.variance.is_finite()
            && self.arrays().iter().all(|a| a.par_iter().with_min_len(1 << 14).all(|x| x.is_finite()))
    }
}
