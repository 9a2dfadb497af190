//! The distribution of the poses structure from motion found (the trusted ones), for the
//! scene codebook that recovers the photos it left out: about an object, the trusted cameras
//! carried round it (their heights, distances and aims kept, at every azimuth), since the
//! photos left out are usually where no trusted camera stood; facing forward or in a room,
//! poses between the trusted ones and a little beyond.

use crate::geometry::Pose;
use glam::{DQuat, DVec3};
use std::f64::consts::TAU;

/// About `n` poses from the distribution of `trusted` (at least one). `object`: the point
/// the cameras look at, when they surround an object.
pub fn sample(trusted: &[Pose], object: Option<DVec3>, n: usize) -> Vec<Pose> {
    let m = trusted.len().max(1);
    let per = n.div_ceil(m).max(1);
    match object {
        Some(target) => {
            let up = axis(trusted);
            let across = |p: &Pose| {
                let d = p.center - target;
                d - d.dot(up) * up
            };
            let e1 = across(&trusted[0]).normalize_or(up.any_orthonormal_vector());
            let e2 = up.cross(e1);
            let azimuth = |p: &Pose| across(p).dot(e2).atan2(across(p).dot(e1));
            (0..m * per)
                .map(|k| {
                    // Evenly round the axis, each azimuth from the trusted cameras in turn.
                    let p = &trusted[k % m];
                    let q = DQuat::from_axis_angle(up, TAU * k as f64 / (m * per) as f64 - azimuth(p));
                    Pose::new(glam::DMat3::from_quat(q) * p.rotation, target + q * (p.center - target))
                })
                .collect()
        }
        None => (0..m * per)
            .map(|k| {
                let (a, b) = (&trusted[k % m], &trusted[(k % m + 1 + k / m) % m]);
                // A spread of blends from a quarter before `a` to a quarter beyond `b`.
                let t = -0.25 + 1.5 * ((k as f64 * 0.618_034) % 1.0);
                let qa = DQuat::from_mat3(&a.rotation);
                let q = qa.slerp(DQuat::from_mat3(&b.rotation), t.clamp(0.0, 1.0));
                Pose::new(glam::DMat3::from_quat(q), a.center.lerp(b.center, t))
            })
            .collect(),
    }
}

/// The axis cameras go round: photos are taken upright, so every camera's right is across
/// it (and its up along it, roughly: cameras looking down tilt theirs inwards). The cross
/// products of pairs of rights give it; the mean up where they all face alike.
fn axis(cameras: &[Pose]) -> DVec3 {
    let mean_up = cameras.iter().map(|p| p.rotation * DVec3::NEG_Y).sum::<DVec3>().normalize_or(DVec3::Z);
    let rights: Vec<DVec3> = cameras.iter().map(|p| p.rotation * DVec3::X).collect();
    let mut sum = DVec3::ZERO;
    for (i, a) in rights.iter().enumerate() {
        for b in &rights[i + 1..] {
            let c = a.cross(*b);
            sum += if c.dot(mean_up) < 0.0 { -c } else { c };
        }
    }
    if sum.length() > 0.1 { sum.normalize() } else { mean_up }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three cameras on one side of an object give a codebook all round it, at their height
    /// and distance, still aimed at it.
    #[test]
    fn trusted_cameras_about_an_object_go_all_round() {
        let target = DVec3::new(1.0, 2.0, 0.5);
        let eye = |a: f64| target + DVec3::new(3.0 * a.cos(), 3.0 * a.sin(), 1.0);
        let trusted: Vec<Pose> = [0.0, 0.3, 0.6].iter().map(|&a| Pose::look_at(eye(a), target, DVec3::Z)).collect();
        let book = sample(&trusted, Some(target), 48);
        assert!(book.len() >= 48);
        let mut azimuths: Vec<f64> = book
            .iter()
            .map(|p| {
                let d = p.center - target;
                assert!((d.z - 1.0).abs() < 1e-9 && (d.truncate().length() - 3.0).abs() < 1e-9, "{d:?}");
                assert!((p.forward().dot((target - p.center).normalize()) - 1.0).abs() < 1e-9);
                d.y.atan2(d.x).rem_euclid(TAU)
            })
            .collect();
        azimuths.sort_by(f64::total_cmp);
        let widest =
            azimuths.windows(2).map(|w| w[1] - w[0]).fold(TAU - azimuths[azimuths.len() - 1] + azimuths[0], f64::max);
        assert!(widest < 0.2, "widest gap {widest} rad");
    }

    #[test]
    fn forward_facing_poses_stay_near_the_trusted_ones() {
        let trusted: Vec<Pose> = (0..4)
            .map(|i| Pose::look_at(DVec3::new(i as f64, 0.0, 0.0), DVec3::new(i as f64, 5.0, 0.0), DVec3::Z))
            .collect();
        for p in sample(&trusted, None, 20) {
            assert!(p.center.x > -1.0 && p.center.x < 4.0 && p.center.y.abs() < 1e-9, "{:?}", p.center);
            assert!(p.forward().dot(DVec3::Y) > 0.99);
        }
    }
}
