//! Capture priors for photos that no structure from motion posed: where such cameras
//! usually stand, as a distribution to draw the scene codebook's poses from, and the first
//! guess at every photo's pose.
//!
//! The frame is the prior's own: the object (or, facing forward, the scene) at the origin,
//! z up, cameras at `RADIUS`; training normalises it like any other.

use super::descriptor::Descriptor;
use crate::geometry::Pose;
use glam::DVec3;
use std::f64::consts::TAU;

/// Camera distance from the object, in the prior's frame.
pub const RADIUS: f64 = 1.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PosePrior {
    /// A turntable or a walk around the object: one ring of cameras at a similar height.
    Ring,
    /// Cameras over the upper half of a sphere about the object (a capture from above).
    Hemisphere,
    /// Cameras all around the object, below it too.
    Sphere,
    /// Cameras side by side, all facing one way (a scene, not an object).
    Forward,
}

impl PosePrior {
    pub fn label(self) -> &'static str {
        match self {
            PosePrior::Ring => "ring",
            PosePrior::Hemisphere => "hemisphere",
            PosePrior::Sphere => "sphere",
            PosePrior::Forward => "forward",
        }
    }

    /// The elevations (degrees) its cameras take.
    fn elevations(self) -> (f64, f64) {
        match self {
            PosePrior::Ring => (0.0, 50.0),
            PosePrior::Hemisphere => (5.0, 80.0),
            PosePrior::Sphere => (-75.0, 75.0),
            PosePrior::Forward => (0.0, 0.0),
        }
    }

    /// About `n` poses spread evenly over the distribution: the codebook's.
    pub fn sample(self, n: usize) -> Vec<Pose> {
        let n = n.max(1);
        if self == PosePrior::Forward {
            let cols = (n as f64 * 1.5).sqrt().ceil() as usize;
            let rows = n.div_ceil(cols);
            return (0..rows * cols)
                .map(|i| {
                    let u = (i % cols) as f64 / (cols.max(2) - 1) as f64 - 0.5;
                    let v = (i / cols) as f64 / (rows.max(2) - 1) as f64 - 0.5;
                    forward_pose(0.6 * u, 0.3 * v)
                })
                .collect();
        }
        let (lo, hi) = self.elevations();
        // Rows of elevation about as far apart as the azimuths in each row.
        let rows = ((n as f64 * (hi - lo) / 360.0).sqrt().round() as usize).max(1);
        let per_row = n.div_ceil(rows);
        (0..rows)
            .flat_map(|r| {
                let e = if rows == 1 { 0.5 * (lo + hi) } else { lo + (hi - lo) * r as f64 / (rows - 1) as f64 };
                (0..per_row).map(move |j| orbit_pose(TAU * (j as f64 + 0.5 * (r % 2) as f64) / per_row as f64, e))
            })
            .collect()
    }

    /// Elevations (degrees) of the first guesses tried: a ring's height is not known, and a
    /// wrong one tilts every relative pose (by twice the error, across the ring).
    pub fn start_elevations(self) -> &'static [f64] {
        match self {
            PosePrior::Ring => &[10.0, 20.0, 30.0, 40.0],
            PosePrior::Hemisphere => &[25.0, 50.0],
            PosePrior::Sphere | PosePrior::Forward => &[0.0],
        }
    }

    /// A first pose for each photo, from the order in which they follow one another (around
    /// the ring at `elevation` degrees, or side by side facing forward).
    pub fn initial(self, order: &[usize], elevation: f64) -> Vec<Pose> {
        let n = order.len();
        let mut poses = vec![Pose::IDENTITY; n];
        for (slot, &photo) in order.iter().enumerate() {
            let t = slot as f64 / n.max(1) as f64;
            poses[photo] = match self {
                PosePrior::Forward => forward_pose(0.6 * (t - 0.5), 0.0),
                PosePrior::Ring | PosePrior::Hemisphere | PosePrior::Sphere => orbit_pose(TAU * t, elevation),
            };
        }
        poses
    }

    /// The pose pulled back into the distribution: an orbiting camera back at the orbit's
    /// radius, looking at the object with its roll kept.
    pub fn project(self, pose: &Pose) -> Pose {
        if self == PosePrior::Forward {
            return *pose;
        }
        let center = pose.center.normalize_or(DVec3::X) * RADIUS;
        let look = Pose::look_at(center, DVec3::ZERO, pose.rotation * DVec3::NEG_Y);
        Pose::new(look.rotation, center)
    }
}

fn orbit_pose(azimuth: f64, elevation_deg: f64) -> Pose {
    let e = elevation_deg.to_radians();
    let eye = RADIUS * DVec3::new(e.cos() * azimuth.cos(), e.cos() * azimuth.sin(), e.sin());
    Pose::look_at(eye, DVec3::ZERO, DVec3::Z)
}

fn forward_pose(x: f64, z: f64) -> Pose {
    let eye = DVec3::new(x * RADIUS, -RADIUS, z * RADIUS);
    Pose::look_at(eye, eye + DVec3::Y, DVec3::Z)
}

/// The prior to take when none was chosen, and why: photos of an object on a plain backdrop
/// (the border mostly black or white) are taken to be a ring, a turntable being the usual
/// such capture; others to face forward.
pub fn detect(backdrop_share: f64) -> (PosePrior, String) {
    if backdrop_share > 0.6 {
        let why = format!(
            "{:.0} % of the photos' borders is a plain backdrop: an object, taken to be captured on a ring",
            100.0 * backdrop_share
        );
        (PosePrior::Ring, why)
    } else {
        let why = format!(
            "only {:.0} % of the photos' borders is a plain backdrop: a scene, taken to be captured facing forward",
            100.0 * backdrop_share
        );
        (PosePrior::Forward, why)
    }
}

/// Share of the border pixels of images (sRGB in [0, 1]) that are near black or near white.
pub fn backdrop_share(images: &[(usize, usize, &[[f32; 3]])]) -> f64 {
    let (mut plain, mut total) = (0usize, 0usize);
    for &(w, h, rgb) in images {
        for y in 0..h {
            for x in 0..w {
                if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
                    let p = rgb[y * w + x];
                    let (lo, hi) = (p.iter().cloned().fold(1.0, f32::min), p.iter().cloned().fold(0.0, f32::max));
                    plain += usize::from(hi < 0.08 || lo > 0.92);
                    total += 1;
                }
            }
        }
    }
    plain as f64 / total.max(1) as f64
}

/// How much less alike, at most, neighbours in the photos' own order may be than in the most
/// alike cycle for that order to be taken as the capture's: opposite sides of an object can
/// look more alike than two neighbours, and a turntable's files are named as it turns.
const NAME_ORDER_SLACK: f32 = 1.15;

/// The order the photos were captured in, around a ring: their own (file name) order when
/// neighbours in it look alike, else the most alike cycle. True when it is their own.
pub fn capture_order(photos: &[Descriptor]) -> (Vec<usize>, bool) {
    let n = photos.len();
    let cost =
        |tour: &[usize]| (0..n).map(|i| 1.0 - photos[tour[i]].similarity(&photos[tour[(i + 1) % n]])).sum::<f32>();
    let named: Vec<usize> = (0..n).collect();
    let alike = ring_order(photos);
    if cost(&named) <= NAME_ORDER_SLACK * cost(&alike) { (named, true) } else { (alike, false) }
}

/// The order that visits every photo once and comes back, its neighbours as alike as
/// possible (most similar cycle: greedy from every start, then 2-opt), for a ring.
pub fn ring_order(photos: &[Descriptor]) -> Vec<usize> {
    let n = photos.len();
    if n < 3 {
        return (0..n).collect();
    }
    let d: Vec<Vec<f32>> = photos.iter().map(|a| photos.iter().map(|b| 1.0 - a.similarity(b)).collect()).collect();
    let length = |tour: &[usize]| (0..n).map(|i| d[tour[i]][tour[(i + 1) % n]]).sum::<f32>();
    let mut best: Option<(f32, Vec<usize>)> = None;
    for start in 0..n {
        let mut tour = vec![start];
        let mut left: Vec<usize> = (0..n).filter(|&i| i != start).collect();
        while !left.is_empty() {
            let last = *tour.last().expect("the tour starts with one photo");
            let (k, _) = left.iter().enumerate().min_by(|a, b| d[last][*a.1].total_cmp(&d[last][*b.1])).expect("left");
            tour.push(left.swap_remove(k));
        }
        two_opt(&mut tour, &d);
        let len = length(&tour);
        if best.as_ref().is_none_or(|b| len < b.0) {
            best = Some((len, tour));
        }
    }
    best.expect("at least three photos").1
}

/// Reverses stretches of the tour while that shortens it.
fn two_opt(tour: &mut [usize], d: &[Vec<f32>]) {
    let n = tour.len();
    let mut improved = true;
    while improved {
        improved = false;
        for i in 0..n - 1 {
            for j in i + 2..n {
                let (a, b, c, e) = (tour[i], tour[i + 1], tour[j], tour[(j + 1) % n]);
                if a == e {
                    continue;
                }
                if d[a][c] + d[b][e] < d[a][b] + d[c][e] - 1e-6 {
                    tour[i + 1..=j].reverse();
                    improved = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_cover_the_distribution_and_look_at_the_object() {
        for prior in [PosePrior::Ring, PosePrior::Hemisphere, PosePrior::Sphere] {
            let poses = prior.sample(96);
            assert!(poses.len() >= 96 && poses.len() < 110, "{prior:?}: {}", poses.len());
            let (lo, hi) = prior.elevations();
            for p in &poses {
                assert!((p.center.length() - RADIUS).abs() < 1e-9);
                assert!(p.forward().dot(-p.center.normalize()) > 0.999_999);
                let e = (p.center.z / RADIUS).asin().to_degrees();
                assert!(e >= lo - 1e-9 && e <= hi + 1e-9, "{prior:?}: elevation {e}");
            }
            // Every azimuth is within a codebook step of some sample.
            for a in 0..36 {
                let dir = DVec3::new((a as f64 * 10f64).to_radians().cos(), (a as f64 * 10f64).to_radians().sin(), 0.0);
                let nearest =
                    poses.iter().map(|p| p.center.truncate().normalize().extend(0.0).dot(dir)).fold(-1.0, f64::max);
                assert!(nearest > 20f64.to_radians().cos(), "{prior:?} at {a}0°");
            }
        }
        assert!(PosePrior::Forward.sample(12).iter().all(|p| p.forward().dot(DVec3::Y) > 0.999));
    }

    #[test]
    fn projecting_keeps_the_roll_and_restores_the_orbit() {
        let p = orbit_pose(1.0, 30.0);
        let off = Pose::new(p.rotation, p.center * 1.3);
        let back = PosePrior::Ring.project(&off);
        assert!((back.center - p.center).length() < 1e-9 && back.rotation_angle_to(&p) < 1e-9);
    }

    #[test]
    fn a_ring_is_ordered_by_likeness() {
        // Photos of a ring, shuffled: bright spots moving around the image with the azimuth.
        let (w, h, n) = (48usize, 36usize, 12usize);
        let shuffled = [7, 2, 10, 0, 5, 11, 3, 8, 1, 9, 4, 6];
        let photos: Vec<Descriptor> = shuffled
            .iter()
            .map(|&k| {
                let a = TAU * k as f64 / n as f64;
                let (cx, cy) = (24.0 + 14.0 * a.cos(), 18.0 + 10.0 * a.sin());
                let rgb: Vec<[f32; 3]> = (0..w * h)
                    .map(|i| {
                        let (x, y) = ((i % w) as f64, (i / w) as f64);
                        [(-((x - cx).powi(2) + (y - cy).powi(2)) / 40.0).exp() as f32; 3]
                    })
                    .collect();
                Descriptor::of(w, h, &rgb)
            })
            .collect();
        let order: Vec<usize> = ring_order(&photos).iter().map(|&i| shuffled[i]).collect();
        // Around the ring one way or the other: neighbours differ by one step.
        for i in 0..n {
            let step = (order[(i + 1) % n] + n - order[i]) % n;
            assert!(step == 1 || step == n - 1, "{order:?}");
        }
    }

    #[test]
    fn names_in_capture_order_are_kept_and_shuffled_ones_not() {
        let ring = |k: usize| {
            let a = TAU * k as f64 / 12.0;
            let rgb: Vec<[f32; 3]> = (0..48 * 36)
                .map(|i| {
                    let (x, y) = ((i % 48) as f64 - 24.0 - 14.0 * a.cos(), (i / 48) as f64 - 18.0 - 10.0 * a.sin());
                    [(-(x * x + y * y) / 40.0).exp() as f32; 3]
                })
                .collect();
            Descriptor::of(48, 36, &rgb)
        };
        let named: Vec<Descriptor> = (0..12).map(ring).collect();
        assert_eq!(capture_order(&named), ((0..12).collect(), true));
        let shuffled: Vec<Descriptor> = [3, 9, 1, 7, 11, 5, 0, 6, 2, 8, 4, 10].into_iter().map(ring).collect();
        assert!(!capture_order(&shuffled).1);
    }

    #[test]
    fn plain_backdrops_mean_an_object() {
        let black = vec![[0.02f32; 3]; 100];
        let grass: Vec<[f32; 3]> = (0..100).map(|i| [0.2, 0.5 + 0.001 * i as f32, 0.1]).collect();
        assert_eq!(detect(backdrop_share(&[(10, 10, &black)])).0, PosePrior::Ring);
        assert_eq!(detect(backdrop_share(&[(10, 10, &grass)])).0, PosePrior::Forward);
    }
}
