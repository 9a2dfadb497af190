//! The NeuS ray model: where training rays come from (views, pose corrections, batches) and
//! the volume rendering of one ray through the field, with its hand-written backward pass.
//!
//! Samples are marched at a fixed step through occupied cells of the unit sphere; each gets
//! an SDF value and finite-difference gradient; NeuS's unbiased alpha turns neighbouring SDF
//! estimates into opacity; what is left of the ray sees the background field beyond the sphere.
//! The backward pass also returns the gradient with respect to the ray itself, through which
//! camera poses are refined.

pub mod batch;
pub mod poses;
pub mod views;

use crate::field::{BackgroundRay, ColorEval, Field, Occupancy, Params, Scratch, SurfaceSample};
use crate::nn::sh;

#[derive(Clone, Copy, Debug)]
pub struct RenderSettings {
    /// Distance between samples along a ray (normalised units).
    pub step: f32,
    pub max_samples: usize,
    pub active_levels: usize,
    /// Finite-difference tetrahedron size.
    pub fd_h: f32,
    /// NeuS cos-anneal ratio in [0, 1].
    pub anneal: f32,
    pub eikonal_weight: f32,
    pub mask_weight: f32,
    pub huber_delta: f32,
    /// Weight of the prior that the background lies at infinity: a loss on the opacity the
    /// background field puts before its last sample (`Background::near_opacity`).
    pub far_weight: f32,
    /// Weight of the L1 loss between a ray's depth (the surface's expected depth along it) and
    /// its target depth, where it has one (the multi-view stereo prior).
    pub depth_weight: f32,
    /// Whether the backward pass computes the ray's own gradient (`RayOutput::d_origin`,
    /// `d_dir`), which pose refinement alone reads.
    pub ray_grads: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Ray {
    pub origin: [f32; 3],
    pub dir: [f32; 3],
}

/// What a ray should see, for training.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub rgb: [f32; 3],
    /// Object mask value in [0, 1], when the dataset has masks.
    pub mask: Option<f32>,
    /// Distance along the ray (normalised units) to the surface, where multi-view stereo
    /// found it.
    pub depth: Option<f32>,
}

/// Below this opacity a ray's depth is not compared with its target: the expected depth of a
/// nearly transparent ray is meaningless, and its gradient huge.
pub const DEPTH_MIN_OPACITY: f32 = 0.05;

#[derive(Clone, Copy, Debug, Default)]
pub struct RayOutput {
    pub rgb: [f32; 3],
    pub opacity: f32,
    pub depth: f32,
    pub loss: f32,
    pub samples: usize,
    /// dLoss/d(ray origin) and dLoss/d(ray direction), filled when gradients are asked for.
    pub d_origin: [f32; 3],
    pub d_dir: [f32; 3],
}

/// A colour in [0, 1] (clamped) as 8-bit values, as images and mesh vertices store it.
pub fn rgb_bytes(rgb: [f32; 3]) -> [u8; 3] {
    rgb.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
}

/// Per-worker buffers, reused from ray to ray.
#[derive(Default)]
pub struct RayScratch {
    samples: Vec<SurfaceSample>,
    colors: Vec<ColorEval>,
    ts: Vec<f32>,
    alpha: Vec<f32>,
    bg: BackgroundRay,
    scratch: Scratch,
}

const TRANSMITTANCE_EPS: f32 = 1e-4;

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Where a ray is inside the unit sphere, from no earlier than its origin.
pub fn sphere_span(ray: &Ray) -> Option<(f32, f32)> {
    let b = dot(ray.origin, ray.dir);
    let c = dot(ray.origin, ray.origin) - 1.0;
    let disc = b * b - c;
    if disc <= 0.0 {
        return None;
    }
    let s = disc.sqrt();
    let (t0, t1) = ((-b - s).max(0.0), -b + s);
    (t1 > t0).then_some((t0, t1))
}

/// NeuS alpha between two SDF estimates and its derivatives with respect to them and s.
struct Alpha {
    value: f32,
    d_prev: f32,
    d_next: f32,
    d_s: f32,
}

fn neus_alpha(f_prev: f32, f_next: f32, s: f32) -> Alpha {
    const EPS: f32 = 1e-5;
    let p = sigmoid(f_prev * s);
    let n = sigmoid(f_next * s);
    let raw = (p - n + EPS) / (p + EPS);
    if !(0.0..=1.0).contains(&raw) {
        return Alpha { value: raw.clamp(0.0, 1.0), d_prev: 0.0, d_next: 0.0, d_s: 0.0 };
    }
    let da_dp = n / ((p + EPS) * (p + EPS));
    let da_dn = -1.0 / (p + EPS);
    let (dp, dn) = (p * (1.0 - p), n * (1.0 - n));
    Alpha { value: raw, d_prev: da_dp * dp * s, d_next: da_dn * dn * s, d_s: da_dp * dp * f_prev + da_dn * dn * f_next }
}

/// Renders one ray; with a target, also its loss, and with `grads`, accumulates dLoss/dparams.
/// `jitter` in [0, 1) offsets the sample positions (stratified sampling). Samples lie on a grid
/// of distances along the ray that does not move with it, so the ray's gradient is that of the
/// sample positions.
#[allow(clippy::too_many_arguments)]
pub fn trace(
    field: &Field,
    p: &Params,
    occ: &Occupancy,
    ray: &Ray,
    cfg: &RenderSettings,
    jitter: f32,
    ws: &mut RayScratch,
    target: Option<&Target>,
    grads: Option<&mut Params>,
) -> RayOutput {
    let mut dir_sh = [0.0f32; sh::COEFFS];
    sh::encode(ray.dir, &mut dir_sh);
    ws.ts.clear();
    if let Some((t0, t1)) = sphere_span(ray) {
        let mut t = ((t0 / cfg.step - jitter).ceil() + jitter) * cfg.step;
        while t < t1 && ws.ts.len() < cfg.max_samples {
            let x = [ray.origin[0] + t * ray.dir[0], ray.origin[1] + t * ray.dir[1], ray.origin[2] + t * ray.dir[2]];
            if occ.occupied(x) {
                ws.ts.push(t);
            }
            t += cfg.step;
        }
    }
    let s = Field::inv_s(p);
    let r = cfg.anneal;
    if ws.samples.len() < ws.ts.len() {
        ws.samples.resize_with(ws.ts.len(), Default::default);
        ws.colors.resize_with(ws.ts.len(), Default::default);
    }
    ws.alpha.clear();
    let mut out = RayOutput::default();
    let mut trans = 1.0f32;
    let mut n = 0;
    for (i, &t) in ws.ts.iter().enumerate() {
        let x = [ray.origin[0] + t * ray.dir[0], ray.origin[1] + t * ray.dir[1], ray.origin[2] + t * ray.dir[2]];
        let sample = &mut ws.samples[i];
        field.surface(p, x, cfg.fd_h, cfg.active_levels, sample);
        field.color(p, sample.grad, &dir_sh, &sample.feat, &mut ws.colors[i]);
        let true_cos = dot(ray.dir, sample.grad);
        let iter_cos = -((0.5 - 0.5 * true_cos).max(0.0) * (1.0 - r) + (-true_cos).max(0.0) * r);
        let half = iter_cos * cfg.step * 0.5;
        let a = neus_alpha(sample.sdf - half, sample.sdf + half, s).value;
        ws.alpha.push(a);
        let w = trans * a;
        let c = ws.colors[i].rgb;
        for k in 0..3 {
            out.rgb[k] += w * c[k];
        }
        out.opacity += w;
        out.depth += w * t;
        trans *= 1.0 - a;
        n = i + 1;
        if trans < TRANSMITTANCE_EPS {
            break;
        }
    }
    let bg_rgb = field.background.render(p, ray.origin, ray.dir, &dir_sh, jitter, &mut ws.bg);
    for k in 0..3 {
        out.rgb[k] += trans * bg_rgb[k];
    }
    out.samples = n;
    let Some(target) = target else { return out };

    // Loss: Huber on colour, BCE of opacity against the mask, eikonal on every sample, and the
    // prior that the background lies at infinity.
    let mut d_rgb = [0.0f32; 3];
    for k in 0..3 {
        let e = out.rgb[k] - target.rgb[k];
        let (l, d) = if e.abs() <= cfg.huber_delta {
            (0.5 * e * e / cfg.huber_delta, e / cfg.huber_delta)
        } else {
            (e.abs() - 0.5 * cfg.huber_delta, e.signum())
        };
        out.loss += l / 3.0;
        d_rgb[k] = d / 3.0;
    }
    let mut d_opacity = 0.0;
    if let Some(m) = target.mask {
        let o = out.opacity.clamp(1e-4, 1.0 - 1e-4);
        out.loss += cfg.mask_weight * -(m * o.ln() + (1.0 - m) * (1.0 - o).ln());
        d_opacity = cfg.mask_weight * (o - m) / (o * (1.0 - o));
    }
    // Depth: D = Σ w t / Σ w over the surface samples (the background has no depth).
    let mut d_depth_sum = 0.0;
    if let Some(z) = target.depth.filter(|_| out.opacity >= DEPTH_MIN_OPACITY) {
        let d = out.depth / out.opacity;
        out.loss += cfg.depth_weight * (d - z).abs();
        let g = cfg.depth_weight * (d - z).signum();
        d_depth_sum = g / out.opacity;
        d_opacity -= g * d / out.opacity;
    }
    out.loss += cfg.far_weight * field.background.near_opacity(&ws.bg);
    let eik_w = if n > 0 { cfg.eikonal_weight / n as f32 } else { 0.0 };
    for sample in &ws.samples[..n] {
        let len = dot(sample.grad, sample.grad).sqrt();
        out.loss += eik_w * (len - 1.0) * (len - 1.0);
    }
    let Some(g) = grads else { return out };

    // Backward. Colour after sample i, seen through it: R_i = α_i c_i + (1 − α_i) R_{i+1},
    // starting from the background; opacity likewise with c = 1 and background 0.
    let d_bg = std::array::from_fn(|k| d_rgb[k] * trans);
    let bg = field.background.backward(p, &ws.bg, d_bg, cfg.far_weight, g, &mut ws.scratch, cfg.ray_grads);
    let (mut d_origin, mut d_dir, mut d_dir_sh) = (bg.origin, bg.dir, bg.dir_sh);
    let mut after = bg_rgb;
    let mut after_opacity = 0.0f32;
    let mut after_depth = 0.0f32;
    let mut trans_i = trans;
    for i in (0..n).rev() {
        let a = ws.alpha[i];
        // Transmittance before sample i, recovered from the one after it.
        trans_i = if a < 1.0 { trans_i / (1.0 - a) } else { recompute_transmittance(&ws.alpha[..i]) };
        let c = ws.colors[i].rgb;
        let w = trans_i * a;
        let t = ws.ts[i];
        let d_alpha = trans_i
            * (dot(d_rgb, [c[0] - after[0], c[1] - after[1], c[2] - after[2]])
                + d_opacity * (1.0 - after_opacity)
                + d_depth_sum * (t - after_depth));
        for k in 0..3 {
            after[k] = a * c[k] + (1.0 - a) * after[k];
        }
        after_opacity = a + (1.0 - a) * after_opacity;
        after_depth = a * t + (1.0 - a) * after_depth;

        let sample = &ws.samples[i];
        let cg = field.color_backward(p, &ws.colors[i], std::array::from_fn(|k| w * d_rgb[k]), g, &mut ws.scratch);
        for (a, b) in d_dir_sh.iter_mut().zip(&cg.dir_sh) {
            *a += b;
        }
        let true_cos = dot(ray.dir, sample.grad);
        let iter_cos = -((0.5 - 0.5 * true_cos).max(0.0) * (1.0 - r) + (-true_cos).max(0.0) * r);
        let half = iter_cos * cfg.step * 0.5;
        let al = neus_alpha(sample.sdf - half, sample.sdf + half, s);
        let d_sdf = d_alpha * (al.d_prev + al.d_next);
        let d_iter_cos = d_alpha * (al.d_next - al.d_prev) * cfg.step * 0.5;
        let d_true_cos =
            d_iter_cos * (if true_cos < 1.0 { 0.5 * (1.0 - r) } else { 0.0 } + if true_cos < 0.0 { r } else { 0.0 });
        g.variance += d_alpha * al.d_s * 10.0 * s;
        let len = dot(sample.grad, sample.grad).sqrt().max(1e-9);
        let d_eik = eik_w * 2.0 * (len - 1.0) / len;
        let dgrad: [f32; 3] = std::array::from_fn(|a| cg.grad[a] + d_true_cos * ray.dir[a] + d_eik * sample.grad[a]);
        let dx = field.surface_backward(
            p,
            sample,
            cfg.active_levels,
            d_sdf,
            dgrad,
            &cg.feat,
            g,
            &mut ws.scratch,
            cfg.ray_grads,
        );
        for a in 0..3 {
            d_origin[a] += dx[a];
            d_dir[a] += t * dx[a] + d_true_cos * sample.grad[a];
        }
    }
    if cfg.ray_grads {
        let d_sh_dir = sh::backward(ray.dir, &d_dir_sh);
        out.d_origin = d_origin;
        out.d_dir = std::array::from_fn(|a| d_dir[a] + d_sh_dir[a]);
    }
    out
}

/// Transmittance before the samples whose alphas are given (when dividing out is unsafe).
fn recompute_transmittance(alphas: &[f32]) -> f32 {
    alphas.iter().map(|a| 1.0 - a).product()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldConfig, GROUPS};

    fn setup() -> (Field, Params) {
        setup_with(FieldConfig::tiny())
    }

    fn setup_with(cfg: FieldConfig) -> (Field, Params) {
        let field = Field::new(cfg);
        let mut p = field.init_params(3);
        // Non-trivial values everywhere so that every path carries gradient.
        // The background grid too: at its tiny initial values every hidden unit of the density
        // network sits at its ReLU kink, where finite differences disagree with any gradient.
        for (i, v) in p.grid.iter_mut().chain(&mut p.bg_grid).enumerate() {
            *v = ((i as f32 * 0.7548).fract() - 0.5) * 0.2;
        }
        for (i, v) in p.sdf.iter_mut().enumerate() {
            *v += ((i as f32 * 0.5698).fract() - 0.5) * 0.05;
        }
        p.variance = 0.25;
        (field, p)
    }

    fn settings() -> RenderSettings {
        RenderSettings {
            step: 0.05,
            max_samples: 64,
            active_levels: 4,
            fd_h: 0.02,
            anneal: 0.4,
            eikonal_weight: 0.1,
            mask_weight: 0.1,
            huber_delta: 0.1,
            far_weight: 0.05,
            depth_weight: 0.5,
            ray_grads: true,
        }
    }

    fn agrees(fd: f64, analytic: f64, abs_tol: f64) -> bool {
        (fd - analytic).abs() < 0.05 * analytic.abs().max(fd.abs()) + abs_tol
    }

    /// A central difference, first with step 1e-3, then 1e-4 when that disagrees: a kink
    /// within the wider step (a ReLU, a hash-grid cell wall, which the background's far
    /// samples cross at a thousandfold lever on the ray's direction) spoils it, while a
    /// right gradient still agrees with the narrower one.
    fn finite_difference(analytic: f64, abs_tol: f64, mut central: impl FnMut(f32) -> f64) -> f64 {
        let fd = central(1e-3);
        if agrees(fd, analytic, abs_tol) { fd } else { central(1e-4) }
    }

    /// The hand-written backward of the whole ray (rendering, alpha, colour, background,
    /// eikonal, mask, finite-difference normals, both networks and the hash grid) against
    /// central differences of the loss, on a sample of parameters from every group.
    #[test]
    fn ray_loss_gradient_matches_finite_differences() {
        ray_gradients_agree(FieldConfig::tiny());
    }

    /// The same with a surface colour that sees the view direction's first two bands alone: the
    /// ray direction's gradient must leave out the coefficients the colour ignores.
    #[test]
    fn ray_loss_gradient_matches_finite_differences_at_view_degree_2() {
        ray_gradients_agree(FieldConfig { view_degree: 2, ..FieldConfig::tiny() });
    }

    fn ray_gradients_agree(cfg: FieldConfig) {
        let (field, mut p) = setup_with(cfg);
        let occ = Occupancy::full(8);
        let ray = Ray {
            origin: [0.1, -1.5, 0.2],
            dir: {
                let d = [0.05f32, 1.0, -0.1];
                let n = dot(d, d).sqrt();
                [d[0] / n, d[1] / n, d[2] / n]
            },
        };
        let target = Target { rgb: [0.8, 0.3, 0.5], mask: Some(1.0), depth: Some(1.1) };
        let cfg = settings();
        let mut ws = RayScratch::default();
        let mut g = p.zeros_like();
        let out = trace(&field, &p, &occ, &ray, &cfg, 0.3, &mut ws, Some(&target), Some(&mut g));
        assert!(out.samples > 10 && out.opacity > 0.05, "ray misses the surface: {out:?}");
        let loss = |p: &Params| {
            let mut ws = RayScratch::default();
            trace(&field, p, &occ, &ray, &cfg, 0.3, &mut ws, Some(&target), None).loss as f64
        };
        let mut checked = 0;
        for group in 0..=GROUPS {
            let n = if group < GROUPS { p.arrays()[group].len() } else { 1 };
            let grad_of = |g: &Params, i: usize| {
                if group < GROUPS { g.arrays()[group][i] } else { g.variance }
            };
            // The parameters with the largest gradients are the informative ones to check.
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by(|&a, &b| grad_of(&g, b).abs().total_cmp(&grad_of(&g, a).abs()));
            for &i in idx.iter().take(6) {
                let analytic = grad_of(&g, i) as f64;
                if analytic.abs() < 1e-5 {
                    continue;
                }
                fn set(p: &mut Params, group: usize, i: usize, v: f32) {
                    if group < GROUPS { p.arrays_mut()[group][i] = v } else { p.variance = v }
                }
                let old = if group < GROUPS { p.arrays()[group][i] } else { p.variance };
                let fd = finite_difference(analytic, 2e-4, |h| {
                    set(&mut p, group, i, old + h);
                    let lp = loss(&p);
                    set(&mut p, group, i, old - h);
                    let lm = loss(&p);
                    set(&mut p, group, i, old);
                    (lp - lm) / (2.0 * h as f64)
                });
                assert!(agrees(fd, analytic, 2e-4), "group {group} param {i}: fd {fd} vs analytic {analytic}");
                checked += 1;
            }
        }
        assert!(checked >= 25, "only {checked} gradients were large enough to check");

        // The ray's own gradient, through which poses are refined.
        let ray_loss = |origin: [f32; 3], dir: [f32; 3]| {
            let mut ws = RayScratch::default();
            trace(&field, &p, &occ, &Ray { origin, dir }, &cfg, 0.3, &mut ws, Some(&target), None).loss as f64
        };
        for a in 0..6 {
            let analytic = if a < 3 { out.d_origin[a] } else { out.d_dir[a - 3] } as f64;
            let fd = finite_difference(analytic, 1e-3, |h| {
                let (mut op, mut om, mut dp, mut dm) = (ray.origin, ray.origin, ray.dir, ray.dir);
                if a < 3 {
                    op[a] += h;
                    om[a] -= h;
                } else {
                    dp[a - 3] += h;
                    dm[a - 3] -= h;
                }
                (ray_loss(op, dp) - ray_loss(om, dm)) / (2.0 * h as f64)
            });
            assert!(agrees(fd, analytic, 1e-3), "ray component {a}: fd {fd} vs analytic {analytic}");
        }
        assert!(out.d_dir.iter().chain(&out.d_origin).any(|v| v.abs() > 1e-2), "ray gradient vanishes: {out:?}");
    }

    /// Without the ray's gradient (no pose refinement) the parameters get the same gradients,
    /// and the ray none.
    #[test]
    fn the_rays_gradient_is_optional() {
        let (field, p) = setup();
        let occ = Occupancy::full(8);
        let ray = Ray { origin: [0.1, -1.5, 0.2], dir: [0.0, 1.0, 0.0] };
        let target = Target { rgb: [0.8, 0.3, 0.5], mask: None, depth: Some(1.1) };
        let run = |ray_grads: bool| {
            let mut g = p.zeros_like();
            let cfg = RenderSettings { ray_grads, ..settings() };
            let out = trace(&field, &p, &occ, &ray, &cfg, 0.3, &mut RayScratch::default(), Some(&target), Some(&mut g));
            (out, g)
        };
        let ((with, g_with), (without, g_without)) = (run(true), run(false));
        assert!(with.d_origin.iter().chain(&with.d_dir).any(|v| v.abs() > 1e-3), "{with:?}");
        assert_eq!((without.d_origin, without.d_dir), ([0.0; 3], [0.0; 3]));
        assert_eq!((with.rgb, with.loss), (without.rgb, without.loss));
        assert_eq!(g_with.arrays(), g_without.arrays());
        assert_eq!(g_with.variance, g_without.variance);
    }

    #[test]
    fn empty_space_shows_the_background() {
        let (field, p) = setup();
        let mut occ = Occupancy::full(4);
        occ.cells.fill(false);
        let ray = Ray { origin: [0.0, -2.0, 0.0], dir: [0.0, 1.0, 0.0] };
        let out = trace(&field, &p, &occ, &ray, &settings(), 0.5, &mut RayScratch::default(), None, None);
        assert_eq!(out.samples, 0);
        assert_eq!(out.opacity, 0.0);
    }

    #[test]
    fn without_a_background_what_the_field_leaves_is_black_and_the_background_learns_nothing() {
        let (on, p) = setup();
        let off = Field::new(FieldConfig { background: false, ..FieldConfig::tiny() });
        let occ = Occupancy::full(4);
        // Past the initial sphere, through the unit sphere: most of the ray is left for the
        // background.
        let ray = Ray { origin: [0.0, -2.0, 0.8], dir: [0.0, 1.0, 0.0] };
        let target = Target { rgb: [0.9, 0.2, 0.4], mask: None, depth: None };
        let run = |field: &Field| {
            let mut g = p.zeros_like();
            let out =
                trace(field, &p, &occ, &ray, &settings(), 0.5, &mut RayScratch::default(), Some(&target), Some(&mut g));
            (out, g)
        };
        let ((with, g_with), (without, g_without)) = (run(&on), run(&off));
        assert!(with.opacity < 0.99 && with.opacity == without.opacity, "{} {}", with.opacity, without.opacity);
        let left = 1.0 - without.opacity;
        for k in 0..3 {
            // The field's own colour alone: the background added `left` times its colour.
            assert!(with.rgb[k] - without.rgb[k] > 0.01 * left, "{with:?} {without:?}");
        }
        let nonzero = |a: &[f32]| a.iter().filter(|v| **v != 0.0).count();
        assert!(nonzero(&g_with.bg_density) > 0 && nonzero(&g_with.bg_grid) > 0);
        assert_eq!(nonzero(&g_without.bg_density) + nonzero(&g_without.bg_color) + nonzero(&g_without.bg_grid), 0);
        assert!(nonzero(&g_without.sdf) > 0);
    }
}
