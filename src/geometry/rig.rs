//! Facts about a set of cameras taken together: where they look, how the capture was made.

use super::Pose;
use glam::{DMat3, DVec3};
use serde::{Deserialize, Serialize};

/// How a scene was captured, which decides how it is normalised and initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Layout {
    /// Cameras outside, looking in at an object.
    Object,
    /// Cameras inside a space, looking out at its walls.
    Room,
    /// Cameras side by side, all facing one way.
    Forward,
}

/// How far, at most (root mean square), the photos' horizontal axes may lean out of the plane
/// perpendicular to one of the frame's axes for them to stand upright along it.
const UPRIGHT_DEGREES: f64 = 5.0;

/// Whether the photos stand upright along one of the frame's axes: a frame aligned to
/// gravity, as scanned rooms and Weave's procedural scenes come (COLMAP's models are not,
/// until its orientation aligner has run). Upright photos have their x axis level, however
/// they pitch (up is a photo's −y only when it looks level).
pub fn upright(poses: &[Pose]) -> bool {
    !poses.is_empty()
        && [DVec3::X, DVec3::Y, DVec3::Z].iter().any(|a| {
            let lean = poses.iter().map(|p| p.rotation.col(0).dot(*a).powi(2)).sum::<f64>() / poses.len() as f64;
            lean.sqrt() < UPRIGHT_DEGREES.to_radians().sin()
        })
}

pub fn centroid(poses: &[Pose]) -> DVec3 {
    poses.iter().map(|p| p.center).sum::<DVec3>() / poses.len().max(1) as f64
}

/// Largest distance of a camera from the cameras' centroid.
pub fn spread(poses: &[Pose]) -> f64 {
    let c = centroid(poses);
    poses.iter().map(|p| (p.center - c).length()).fold(0.0, f64::max)
}

/// The point nearest to every optical axis (least squares), if the axes meet in front of
/// most cameras and not absurdly far from them.
pub fn look_at_point(poses: &[Pose]) -> Option<DVec3> {
    let n = poses.len() as f64;
    if poses.len() < 2 {
        return None;
    }
    let (mut a, mut b) = (DMat3::ZERO, DVec3::ZERO);
    for p in poses {
        let d = p.forward();
        let m = DMat3::IDENTITY - DMat3::from_cols(d * d.x, d * d.y, d * d.z);
        a += m;
        b += m * p.center;
    }
    if a.determinant().abs() <= 1e-6 * n.powi(3) {
        return None;
    }
    let x = a.inverse() * b;
    let in_front = poses.iter().filter(|p| (x - p.center).dot(p.forward()) > 0.0).count() as f64;
    let near = (x - centroid(poses)).length() < 10.0 * spread(poses).max(1e-9);
    (in_front >= 0.8 * n && near).then_some(x)
}

/// Guesses the capture layout from the cameras alone: forward-facing when every camera
/// looks within 30° of their mean direction, an object when the cameras look at a common
/// point (median miss under 10°), a room otherwise.
pub fn detect_layout(poses: &[Pose]) -> Layout {
    let mean = poses.iter().map(|p| p.forward()).sum::<DVec3>().normalize_or_zero();
    if poses.iter().all(|p| p.forward().dot(mean) > 30f64.to_radians().cos()) {
        return Layout::Forward;
    }
    let Some(target) = look_at_point(poses) else {
        return Layout::Room;
    };
    let mut miss: Vec<f64> = poses.iter().map(|p| p.forward().angle_between(target - p.center)).collect();
    miss.sort_by(f64::total_cmp);
    if miss[miss.len() / 2] < 10f64.to_radians() { Layout::Object } else { Layout::Room }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_at_point_of_a_ring() {
        let poses: Vec<Pose> = (0..8)
            .map(|i| {
                let a = i as f64;
                Pose::look_at(DVec3::new(3.0 * a.cos(), 3.0 * a.sin(), 1.0), DVec3::new(0.1, 0.2, 0.3), DVec3::Z)
            })
            .collect();
        assert!((look_at_point(&poses).unwrap() - DVec3::new(0.1, 0.2, 0.3)).length() < 1e-9);
        // Parallel cameras have no such point.
        let parallel: Vec<Pose> =
            (0..4).map(|i| Pose::look_at(DVec3::X * i as f64, DVec3::new(i as f64, 1.0, 0.0), DVec3::Z)).collect();
        assert!(look_at_point(&parallel).is_none());
    }
}
