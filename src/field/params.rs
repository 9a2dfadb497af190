//! The field's trainable parameters, also used as the shape of their gradients.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub grid: Vec<f32>,
    pub sdf: Vec<f32>,
    pub color: Vec<f32>,
    pub bg: Vec<f32>,
    /// NeuS variance parameter v, s = exp(10 v).
    pub variance: f32,
}

impl Params {
    pub fn zeros_like(&self) -> Params {
        Params {
            grid: vec![0.0; self.grid.len()],
            sdf: vec![0.0; self.sdf.len()],
            color: vec![0.0; self.color.len()],
            bg: vec![0.0; self.bg.len()],
            variance: 0.0,
        }
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

    pub fn arrays(&self) -> [&Vec<f32>; 4] {
        [&self.grid, &self.sdf, &self.color, &self.bg]
    }

    pub fn arrays_mut(&mut self) -> [&mut Vec<f32>; 4] {
        [&mut self.grid, &mut self.sdf, &mut self.color, &mut self.bg]
    }

    pub fn is_finite(&self) -> bool {
        use rayon::prelude::*;
        self.variance.is_finite()
            && self.arrays().iter().all(|a| a.par_iter().with_min_len(1 << 14).all(|x| x.is_finite()))
    }
}
