//! Per-view camera corrections (as BARF refines poses): a rotation of the view directions
//! about the camera centre, a shift of the centre (normalised frame) and a scale of the focal
//! length, optimised with the field. They are zero until training moves them; the refined
//! cameras go to the outputs. The focal scale is one per camera: the trainer gives every view
//! of a camera the same gradient, so their scales move together.

use super::Ray;
use super::views::{Normalization, TrainView};
use crate::geometry::{Intrinsics, Pose};
use glam::{DMat3, DQuat, DVec3, Vec3};

/// Rotation vector (radians), translation (normalised units), log of the focal length's scale.
pub const PER_VIEW: usize = 7;
/// The entries that place the camera (rotation and translation), before the focal scale.
pub const POSE_DOF: usize = 6;
/// Where the log focal scale lies in a view's correction.
pub const FOCAL: usize = 6;

fn rotation(delta: &[f32]) -> DQuat {
    DQuat::from_scaled_axis(DVec3::new(delta[0] as f64, delta[1] as f64, delta[2] as f64))
}

/// How much the view's correction scales its focal length.
pub fn focal_scale(delta: &[f32]) -> f64 {
    (delta[FOCAL] as f64).exp()
}

/// A ray of a view and the view's optical axis, both after the view's correction: the axis
/// is what the focal length's gradient is taken about.
pub struct CorrectedRay {
    pub ray: Ray,
    pub axis: [f32; 3],
}

/// The ray through pixel position (x, y) of `view` (pixel centres at +0.5) after the
/// correction `delta`: the focal length scaled, then the pose corrected.
pub fn view_ray(view: &TrainView, norm: &Normalization, x: f64, y: f64, delta: &[f32]) -> CorrectedRay {
    // One rotation for the ray and the axis: this runs for every training ray.
    let q = rotation(delta).as_quat();
    let r = view.ray_with_focal(norm, x, y, focal_scale(delta));
    let o = r.origin;
    let ray =
        Ray { origin: [o[0] + delta[3], o[1] + delta[4], o[2] + delta[5]], dir: (q * Vec3::from(r.dir)).to_array() };
    let axis = q * (view.pose.rotation * DVec3::Z).as_vec3();
    CorrectedRay { ray, axis: axis.to_array() }
}

/// Accumulates into `grad` (the view's entries) the gradient of a corrected ray's loss.
/// For the rotation this is the gradient of a small rotation applied on top of the current
/// one, d × dL/dd, which is what the additive update of the rotation vector approximates.
/// For the log focal scale: scaling the focal length by e^ε pulls a direction towards the
/// optical axis a; with p = d − (d·a)a its part across the axis, dd/dε = −p + |p|² d.
pub fn accumulate_gradient(r: &CorrectedRay, d_origin: [f32; 3], d_dir: [f32; 3], grad: &mut [f32]) {
    let (d, g, a) = (Vec3::from(r.ray.dir), Vec3::from(d_dir), Vec3::from(r.axis));
    let w = d.cross(g);
    for k in 0..3 {
        grad[k] += w[k];
        grad[3 + k] += d_origin[k];
    }
    let p = d - d.dot(a) * a;
    grad[FOCAL] += g.dot(p.length_squared() * d - p);
}

/// The camera-to-world pose after the correction, in the input frame.
pub fn refined(pose: &Pose, norm: &Normalization, delta: &[f32]) -> Pose {
    let shift = DVec3::new(delta[3] as f64, delta[4] as f64, delta[5] as f64) * norm.scale;
    Pose { rotation: DMat3::from_quat(rotation(delta)) * pose.rotation, center: pose.center + shift }
}

/// Per view, the index of its camera: views alike in their intrinsics share one, whose focal
/// length they refine together.
pub fn cameras_of(views: &[TrainView]) -> Vec<usize> {
    let mut cameras: Vec<&Intrinsics> = Vec::new();
    views
        .iter()
        .map(|v| {
            cameras.iter().position(|k| **k == v.intrinsics).unwrap_or_else(|| {
                cameras.push(&v.intrinsics);
                cameras.len() - 1
            })
        })
        .collect()
}

/// Gives every view the sum of its camera's views' focal gradients (`camera_of` from
/// [`cameras_of`]), so that their focal scales, updated alike, stay one.
pub fn share_focal_gradient(camera_of: &[usize], grad: &mut [f32]) {
    // Every step, over a camera or a few: no buffer for the sums.
    for c in 0..camera_of.iter().max().map_or(0, |m| m + 1) {
        let views = || camera_of.iter().enumerate().filter(move |(_, k)| **k == c).map(|(v, _)| v * PER_VIEW + FOCAL);
        let sum: f32 = views().map(|i| grad[i]).sum();
        for i in views() {
            grad[i] = sum;
        }
    }
}

/// Zeroes the gradients of the views `which` says no to, and every focal gradient: those
/// cameras stay as they are (the optimiser leaves entries of zero gradient untouched).
pub fn keep_gradients_of(which: &[bool], grad: &mut [f32]) {
    for (v, g) in grad.chunks_mut(PER_VIEW).enumerate() {
        if !which.get(v).copied().unwrap_or(false) {
            g.fill(0.0);
        }
    }
    drop_focal_gradient(grad);
}

/// Zeroes every focal gradient: the cameras keep their focal lengths.
pub fn drop_focal_gradient(grad: &mut [f32]) {
    for g in grad.chunks_mut(PER_VIEW) {
        g[FOCAL] = 0.0;
    }
}

/// The camera `k` (a view's, at any image size) with its focal length scaled by `s`
/// ([`focal_scale`]).
pub fn with_focal_scale(k: &Intrinsics, s: f64) -> Intrinsics {
    Intrinsics { fx: k.fx * s, fy: k.fy * s, ..*k }
}

/// The pose correction that moves `base` to `target` (both camera-to-world, input frame):
/// the inverse of [`refined`], for setting a view's pose outright.
pub fn correction_to(base: &Pose, norm: &Normalization, target: &Pose) -> [f32; POSE_DOF] {
    let r = DQuat::from_mat3(&(target.rotation * base.rotation.transpose())).to_scaled_axis();
    let t = (target.center - base.center) / norm.scale;
    [r.x, r.y, r.z, t.x, t.y, t.z].map(|x| x as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::DVec2;

    #[test]
    fn views_of_a_camera_share_its_focal_gradient() {
        let (a, mut b) = (view(), view());
        b.intrinsics.fx += 1.0;
        let camera_of = cameras_of(&[a.clone(), b, a]);
        assert_eq!(camera_of, [0, 1, 0]);
        let mut grad = vec![0.0; 3 * PER_VIEW];
        for (v, g) in [1.0, 5.0, 2.0].into_iter().enumerate() {
            grad[v * PER_VIEW + FOCAL] = g;
            grad[v * PER_VIEW] = g;
        }
        share_focal_gradient(&camera_of, &mut grad);
        let focal: Vec<f32> = (0..3).map(|v| grad[v * PER_VIEW + FOCAL]).collect();
        assert_eq!(focal, [3.0, 5.0, 3.0]);
        assert_eq!(grad[2 * PER_VIEW], 2.0, "only the focal entries are shared");
    }

    #[test]
    fn a_correction_to_a_pose_refines_to_it() {
        let base = Pose::look_at(DVec3::new(3.0, -2.0, 1.0), DVec3::ZERO, DVec3::Z);
        let target = Pose::look_at(DVec3::new(-1.0, 3.0, 2.0), DVec3::new(0.2, 0.0, 0.0), DVec3::Z);
        let norm = Normalization { center: [0.5, 0.2, -0.1], scale: 2.0 };
        let r = refined(&base, &norm, &correction_to(&base, &norm, &target));
        assert!(r.rotation_angle_to(&target) < 1e-6 && (r.center - target.center).length() < 1e-5, "{r:?}");
    }

    fn view() -> TrainView {
        let intrinsics = Intrinsics { cx: 37.0, cy: 26.0, ..Intrinsics::centered(80, 60, 70.0) };
        TrainView {
            name: "a.png".into(),
            intrinsics,
            pose: Pose::look_at(DVec3::new(3.0, -2.0, 1.0), DVec3::ZERO, DVec3::Z),
            rgb: vec![[0.5; 3]; 80 * 60],
            mask: None,
            depth_range: None,
            depth: None,
        }
    }

    /// A corrected ray is the ray of the refined camera, so what training learns is what the
    /// outputs report.
    #[test]
    fn corrected_rays_come_from_the_refined_camera() {
        let v = view();
        let norm = Normalization { center: [0.5, 0.2, -0.1], scale: 2.0 };
        let delta = [0.02, -0.01, 0.03, 0.05, -0.02, 0.01, 0.08];
        let (x, y) = (61.3, 12.8);
        let c = view_ray(&v, &norm, x, y, &delta).ray;
        let r = refined(&v.pose, &norm, &delta);
        let k = with_focal_scale(&v.intrinsics, focal_scale(&delta));
        let o = norm.to_normalized(r.center);
        let d = (r.rotation * k.unproject(DVec2::new(x, y))).normalize().as_vec3().to_array();
        for a in 0..3 {
            assert!((c.origin[a] - o[a]).abs() < 1e-5 && (c.dir[a] - d[a]).abs() < 1e-5, "{c:?} vs {o:?} {d:?}");
        }
    }

    /// Every entry's gradient is the directional derivative of a ray's loss (the rotation's at
    /// no rotation yet, where the additive update is the small rotation on top).
    #[test]
    fn correction_gradient_matches_finite_differences() {
        let v = view();
        let norm = Normalization { center: [0.5, 0.2, -0.1], scale: 2.0 };
        let (t_dir, t_origin) = (Vec3::new(0.3, 0.9, -0.2), Vec3::new(-0.4, 0.1, 0.7));
        let loss = |r: &Ray| (Vec3::from(r.dir).dot(t_dir) + Vec3::from(r.origin).dot(t_origin)) as f64;
        let at = [0.0, 0.0, 0.0, 0.05, -0.02, 0.01, 0.1];
        for (x, y) in [(61.3, 12.8), (4.0, 55.5), (40.0, 30.0)] {
            let mut g = [0.0f32; PER_VIEW];
            accumulate_gradient(&view_ray(&v, &norm, x, y, &at), t_origin.to_array(), t_dir.to_array(), &mut g);
            for a in 0..PER_VIEW {
                let h = 1e-3;
                let (mut plus, mut minus) = (at, at);
                plus[a] += h;
                minus[a] -= h;
                let (lp, lm) = (view_ray(&v, &norm, x, y, &plus).ray, view_ray(&v, &norm, x, y, &minus).ray);
                let fd = (loss(&lp) - loss(&lm)) / (2.0 * h as f64);
                assert!((fd - g[a] as f64).abs() < 2e-3, "pixel ({x}, {y}), entry {a}: fd {fd} vs {}", g[a]);
            }
        }
    }
}
