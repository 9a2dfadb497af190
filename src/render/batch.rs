//! A training batch's rays: each through a random pixel of a random view, jittered within
//! the pixel, drawn the same way on every backend (`kernels/rays.cu` draws them on the GPU).

use super::Target;
use super::poses::{self, CorrectedRay, PER_VIEW};
use super::views::{Normalization, TrainView};
use crate::util::rng::Rng;

/// A training ray, corrected by its view's correction when cameras are refined.
pub struct SampledRay {
    pub view: usize,
    /// The ray and its view's optical axis.
    pub ray: CorrectedRay,
    pub target: Target,
    /// Offset of the samples along the ray, in [0, 1).
    pub jitter: f32,
}

impl SampledRay {
    /// Where its view's pose correction lies among all views' corrections.
    pub fn pose_range(&self) -> std::ops::Range<usize> {
        self.view * PER_VIEW..(self.view + 1) * PER_VIEW
    }
}

pub fn sample_ray(
    views: &[TrainView],
    norm: &Normalization,
    corrections: &[f32],
    refine: bool,
    rng: &mut Rng,
) -> SampledRay {
    let vi = rng.below(views.len());
    let v = &views[vi];
    let (x, y) = (rng.below(v.width() as usize), rng.below(v.height() as usize));
    let (px, py) = (x as f64 + rng.uniform() as f64, y as f64 + rng.uniform() as f64);
    let none = [0.0; PER_VIEW];
    let delta = if refine { &corrections[vi * PER_VIEW..(vi + 1) * PER_VIEW] } else { &none[..] };
    let ray = poses::view_ray(v, norm, px, py, delta);
    let i = y * v.width() as usize + x;
    // A negative mask value is unknown (the trainer's backdrop masks): no mask term.
    let target = Target {
        rgb: v.rgb[i],
        mask: v.mask.as_ref().map(|m| m[i]).filter(|m| *m >= 0.0),
        depth: v.depth.as_ref().map(|d| d[i]).filter(|d| *d > 0.0),
    };
    SampledRay { view: vi, ray, target, jitter: rng.uniform() }
}
