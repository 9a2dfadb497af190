//! Per-view pose corrections (as BARF refines poses): a rotation of the view directions about
//! the camera centre and a shift of the centre, in the normalised frame, optimised with the
//! field. They are zero until training moves them; the refined poses go to the outputs.

use super::Ray;
use super::views::Normalization;
use crate::geometry::Pose;
use glam::{DMat3, DQuat, DVec3, Vec3};

/// Rotation vector (radians) then translation (normalised units).
pub const PER_VIEW: usize = 6;

fn rotation(delta: &[f32]) -> DQuat {
    DQuat::from_scaled_axis(DVec3::new(delta[0] as f64, delta[1] as f64, delta[2] as f64))
}

/// The ray after the view's correction.
pub fn correct(ray: &Ray, delta: &[f32]) -> Ray {
    let d = rotation(delta).as_quat() * Vec3::from(ray.dir);
    let o = ray.origin;
    Ray { origin: [o[0] + delta[3], o[1] + delta[4], o[2] + delta[5]], dir: d.to_array() }
}

/// Accumulates into `grad` (the view's six entries) the gradient of a corrected ray's loss.
/// For the rotation this is the gradient of a small rotation applied on top of the current
/// one, d × dL/dd, which is what the additive update of the rotation vector approximates.
pub fn accumulate_gradient(corrected: &Ray, d_origin: [f32; 3], d_dir: [f32; 3], grad: &mut [f32]) {
    let w = Vec3::from(corrected.dir).cross(Vec3::from(d_dir));
    for a in 0..3 {
        grad[a] += w[a];
        grad[3 + a] += d_origin[a];
    }
}

/// The camera-to-world pose after the correction, in the input frame.
pub fn refined(pose: &Pose, norm: &Normalization, delta: &[f32]) -> Pose {
    let shift = DVec3::new(delta[3] as f64, delta[4] as f64, delta[5] as f64) * norm.scale;
    Pose { rotation: DMat3::from_quat(rotation(delta)) * pose.rotation, center: pose.center + shift }
}

/// The correction that moves `base` to `target` (both camera-to-world, input frame):
/// the inverse of [`refined`], for setting a view's pose outright.
pub fn correction_to(base: &Pose, norm: &Normalization, target: &Pose) -> [f32; PER_VIEW] {
    let r = DQuat::from_mat3(&(target.rotation * base.rotation.transpose())).to_scaled_axis();
    let t = (target.center - base.center) / norm.scale;
    [r.x, r.y, r.z, t.x, t.y, t.z].map(|x| x as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correction_to_a_pose_refines_to_it() {
        let base = Pose::look_at(DVec3::new(3.0, -2.0, 1.0), DVec3::ZERO, DVec3::Z);
        let target = Pose::look_at(DVec3::new(-1.0, 3.0, 2.0), DVec3::new(0.2, 0.0, 0.0), DVec3::Z);
        let norm = Normalization { center: [0.5, 0.2, -0.1], scale: 2.0 };
        let r = refined(&base, &norm, &correction_to(&base, &norm, &target));
        assert!(r.rotation_angle_to(&target) < 1e-6 && (r.center - target.center).length() < 1e-5, "{r:?}");
    }

    /// A corrected ray is the ray of the refined pose, so what training learns is what the
    /// outputs report.
    #[test]
    fn corrected_rays_come_from_the_refined_pose() {
        let pose = Pose::look_at(DVec3::new(3.0, -2.0, 1.0), DVec3::ZERO, DVec3::Z);
        let norm = Normalization { center: [0.5, 0.2, -0.1], scale: 2.0 };
        let delta = [0.02, -0.01, 0.03, 0.05, -0.02, 0.01];
        let local = DVec3::new(0.1, -0.2, 1.0).normalize();
        let base = Ray { origin: norm.to_normalized(pose.center), dir: (pose.rotation * local).as_vec3().to_array() };
        let c = correct(&base, &delta);
        let r = refined(&pose, &norm, &delta);
        let o = norm.to_normalized(r.center);
        let d = (r.rotation * local).as_vec3().to_array();
        for a in 0..3 {
            assert!((c.origin[a] - o[a]).abs() < 1e-5 && (c.dir[a] - d[a]).abs() < 1e-5, "{c:?} vs {o:?} {d:?}");
        }
    }

    /// The rotation gradient is the directional derivative of a loss along small rotations.
    #[test]
    fn rotation_gradient_matches_finite_differences() {
        let ray = Ray { origin: [0.0, -2.0, 0.0], dir: [0.6, 0.0, 0.8] };
        let target = Vec3::new(0.3, 0.9, -0.2);
        let loss = |r: &Ray| Vec3::from(r.dir).dot(target) as f64;
        let mut g = [0.0f32; PER_VIEW];
        accumulate_gradient(&ray, [0.0; 3], target.to_array(), &mut g);
        for a in 0..3 {
            let h = 1e-3;
            let mut dp = [0.0f32; PER_VIEW];
            dp[a] = h;
            let mut dm = [0.0f32; PER_VIEW];
            dm[a] = -h;
            let fd = (loss(&correct(&ray, &dp)) - loss(&correct(&ray, &dm))) / (2.0 * h as f64);
            assert!((fd - g[a] as f64).abs() < 1e-3, "axis {a}: fd {fd} vs {}", g[a]);
        }
    }
}
