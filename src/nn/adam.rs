//! Adam (Kingma & Ba) with the instant-ngp constants, in parallel over parameters.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Adam {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    pub step: u32,
}

pub const BETA1: f32 = 0.9;
pub const BETA2: f32 = 0.99;
pub const EPS: f32 = 1e-15;

impl Adam {
    pub fn new(n: usize) -> Self {
        Self { m: vec![0.0; n], v: vec![0.0; n], step: 0 }
    }

    /// One update with learning rate `lr`; entries whose gradient is exactly zero (hash-table
    /// slots no sample touched) keep their parameters and moments, as instant-ngp does.
    pub fn update(&mut self, params: &mut [f32], grad: &[f32], lr: f32) {
        self.step += 1;
        let c1 = 1.0 - BETA1.powi(self.step as i32);
        let c2 = 1.0 - BETA2.powi(self.step as i32);
        let step = lr * c2.sqrt() / c1;
        params.par_iter_mut().zip(&mut self.m).zip(&mut self.v).zip(grad).with_min_len(4096).for_each(
            |(((p, m), v), &g)| {
                if g == 0.0 {
                    return;
                }
                *m = BETA1 * *m + (1.0 - BETA1) * g;
                *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                *p -= step * *m / (v.sqrt() + EPS);
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_a_quadratic() {
        let mut p = vec![3.0f32, -2.0];
        let mut adam = Adam::new(2);
        for _ in 0..2000 {
            let g: Vec<f32> = p.iter().map(|x| 2.0 * (x - 1.0)).collect();
            adam.update(&mut p, &g, 0.01);
        }
        assert!(p.iter().all(|x| (x - 1.0).abs() < 1e-2), "{p:?}");
    }
}
