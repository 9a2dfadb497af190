//! Pose errors that do not depend on the frame or scale a method settles in: between every
//! pair of views, the angle between relative rotations and between the directions from one
//! camera to the other (seen from the first).

use weave::geometry::Pose;

/// Mean angles in degrees over all view pairs: (relative rotation, relative direction).
pub fn relative_errors(a: &[Pose], b: &[Pose]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let rel = |p: &[Pose], i: usize, j: usize| Pose {
        rotation: p[i].rotation.transpose() * p[j].rotation,
        center: glam::DVec3::ZERO,
    };
    let dir = |p: &[Pose], i: usize, j: usize| (p[i].rotation.transpose() * (p[j].center - p[i].center)).normalize();
    let (mut rot, mut angle, mut n) = (0.0, 0.0, 0);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            rot += rel(a, i, j).rotation_angle_to(&rel(b, i, j)).to_degrees();
            angle += dir(a, i, j).angle_between(dir(b, i, j)).to_degrees();
            n += 1;
        }
    }
    (rot / n as f64, angle / n as f64)
}
