//! Depth for regions too flat to match (a plain wall, a ceiling), from the plane that the
//! matched depths around each region fit (after ACMP's planar prior, which HelixSurf uses): a
//! region of a photo with no texture at all is, far more often than not, part of one flat
//! surface whose edges (where it meets the floor, another wall, a picture) stereo does match.

use super::{MvsImage, MvsSettings};
use glam::Vec3;

/// Smallest region filled, as a share of the photo: smaller ones are gaps in texture rather
/// than surfaces, and their rims too short to fix a plane.
const MIN_REGION_SHARE: f32 = 0.005;
/// Pixels around a region whose depths make its rim.
const RIM: i32 = 3;
/// Fewest rim points a plane is fitted to.
const MIN_RIM_POINTS: usize = 20;
/// A rim point lies on a plane within this share of its depth (stereo's own agreement).
const PLANE_TOLERANCE: f32 = 0.01;
/// Least share of the rim a plane must hold: a region bordered mostly by things in front of
/// it (furniture before a wall) has no plane of its own to find.
const MIN_INLIER_SHARE: f32 = 0.6;

/// `depth` with every flat, unmatched region large enough filled from its rim's plane, one
/// perpendicular to an axis of `axes` (the scene's Manhattan frame, world), and how many
/// pixels were filled. Rims are too sparse and too nearly on one line (a wall's foot) to fix a
/// plane's tilt, and free planes fitted to them were mostly wrong; a plane across one of the
/// frame's axes needs only its offset, and the region's rays tell a wall from the floor that
/// shares its edge (the floor lies behind the camera for the pixels above the horizon).
pub fn fill(img: &MvsImage, depth: &[f32], flat: &[bool], s: &MvsSettings, axes: &[Vec3; 3]) -> (Vec<f32>, usize) {
    let mut out = depth.to_vec();
    let mut filled = 0;
    let mut seen = vec![false; depth.len()];
    let min_region = ((MIN_REGION_SHARE * depth.len() as f32) as usize).max(1);
    let empty = |i: usize| flat[i] && depth[i] <= 0.0;
    for start in 0..depth.len() {
        if !empty(start) || seen[start] {
            continue;
        }
        let region = region_from(img, start, &empty, &mut seen);
        if region.len() < min_region {
            continue;
        }
        let rim = rim_of(img, &region, depth);
        if rim.len() < MIN_RIM_POINTS {
            continue;
        }
        // Of the axis planes that most of the rim lies on, the one every ray of the region
        // meets in front of the camera, within the depths searched; none when two do.
        let candidates: Vec<Vec<f32>> = axes
            .iter()
            .filter_map(|axis| {
                let offset = offset_along(*axis, &rim)?;
                region
                    .iter()
                    .map(|&i| {
                        let z = (offset - axis.dot(img.center)) / axis.dot(img.rotation * ray(img, i));
                        (s.min_depth..=s.max_depth).contains(&z).then_some(z)
                    })
                    .collect()
            })
            .collect();
        let [depths] = &candidates[..] else { continue };
        for (&i, z) in region.iter().zip(depths) {
            out[i] = *z;
        }
        filled += region.len();
    }
    (out, filled)
}

/// The pixels connected to `start` (four ways) that are `empty`, marked in `seen`.
fn region_from(img: &MvsImage, start: usize, empty: &impl Fn(usize) -> bool, seen: &mut [bool]) -> Vec<usize> {
    let (w, h) = (img.width as i32, img.height as i32);
    let mut region = vec![start];
    seen[start] = true;
    let mut k = 0;
    while k < region.len() {
        let (x, y) = ((region[k] as i32) % w, (region[k] as i32) / w);
        k += 1;
        for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] {
            let j = (ny * w + nx) as usize;
            if nx >= 0 && ny >= 0 && nx < w && ny < h && empty(j) && !seen[j] {
                seen[j] = true;
                region.push(j);
            }
        }
    }
    region
}

/// The region's rim: the matched points (world) within `RIM` pixels of it, with their depths.
fn rim_of(img: &MvsImage, region: &[usize], depth: &[f32]) -> Vec<(Vec3, f32)> {
    let (w, h) = (img.width as i32, img.height as i32);
    let mut taken = std::collections::HashSet::new();
    let mut rim = Vec::new();
    for &i in region {
        let (x, y) = ((i as i32) % w, (i as i32) / w);
        for (nx, ny) in (-RIM..=RIM).flat_map(|dy| (-RIM..=RIM).map(move |dx| (x + dx, y + dy))) {
            let j = (ny * w + nx) as usize;
            if nx >= 0 && ny >= 0 && nx < w && ny < h && depth[j] > 0.0 && taken.insert(j) {
                rim.push((img.point(j % img.width, j / img.width, depth[j]), depth[j]));
            }
        }
    }
    rim
}

/// The camera-frame ray through pixel `i`'s centre, at depth 1.
fn ray(img: &MvsImage, i: usize) -> Vec3 {
    img.k_inv * Vec3::new((i % img.width) as f32 + 0.5, (i / img.width) as f32 + 0.5, 1.0)
}

/// The offset along `axis` at which most rim points lie (each within `PLANE_TOLERANCE` of its
/// depth), as their median; None when too few do.
fn offset_along(axis: Vec3, rim: &[(Vec3, f32)]) -> Option<f32> {
    let values: Vec<(f32, f32)> = rim.iter().map(|(p, d)| (axis.dot(*p), PLANE_TOLERANCE * d)).collect();
    let near = |v: f32| values.iter().filter(move |(u, tol)| (u - v).abs() <= *tol);
    let (best, _) = values.iter().map(|(v, _)| (*v, near(*v).count())).max_by_key(|(_, n)| *n)?;
    let mut inliers: Vec<f32> = near(best).map(|(u, _)| *u).collect();
    if (inliers.len() as f32) < MIN_INLIER_SHARE * rim.len() as f32 {
        return None;
    }
    inliers.sort_by(f32::total_cmp);
    Some(inliers[inliers.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Intrinsics, Pose};

    const AXES: [Vec3; 3] = [Vec3::X, Vec3::Y, Vec3::Z];

    /// A camera at the origin looking along +z (y down), 80 × 60, focal length 80.
    fn image() -> MvsImage {
        MvsImage::new(&Intrinsics::centered(80, 60, 80.0), &Pose::IDENTITY, vec![0.5; 80 * 60])
    }

    fn wall(i: usize) -> bool {
        (10..70).contains(&(i % 80)) && (10..50).contains(&(i / 80))
    }

    fn fill_wall(depth: &[f32]) -> (Vec<f32>, usize) {
        let flat: Vec<bool> = (0..depth.len()).map(wall).collect();
        fill(&image(), depth, &flat, &MvsSettings::new(0.5, 20.0), &AXES)
    }

    /// A flat wall (z = 4) with matched depths around it: it is filled at 4.
    #[test]
    fn fills_a_flat_region_from_its_rims_plane() {
        let depth: Vec<f32> = (0..80 * 60).map(|i| if wall(i) { 0.0 } else { 4.0 }).collect();
        let (out, filled) = fill_wall(&depth);
        assert_eq!(filled, 60 * 40);
        assert!(out.iter().all(|z| (z - 4.0).abs() < 1e-4), "{:?}", out.iter().find(|z| (**z - 4.0).abs() >= 1e-4));
    }

    /// Matched only along the wall's foot (row 50, where it meets the floor y ≈ 1): the
    /// floor's plane holds the rim too, but the wall's pixels above the horizon never see the
    /// floor, so the wall's plane is the one.
    #[test]
    fn a_walls_foot_tells_the_wall_from_the_floor() {
        let depth: Vec<f32> =
            (0..80 * 60).map(|i| if i / 80 == 50 && (10..70).contains(&(i % 80)) { 4.0 } else { 0.0 }).collect();
        let (out, filled) = fill_wall(&depth);
        assert_eq!(filled, 60 * 40);
        assert!((0..out.len()).filter(|&i| wall(i)).all(|i| (out[i] - 4.0).abs() < 1e-4));
    }

    /// A region whose rim holds no one plane (depths all over: clutter before a wall) is left
    /// empty.
    #[test]
    fn leaves_regions_without_one_plane_empty() {
        let scattered: Vec<f32> =
            (0..80 * 60).map(|i| if wall(i) { 0.0 } else { 2.0 + 3.0 * ((i as f32 * 0.618).fract()) }).collect();
        let (out, filled) = fill_wall(&scattered);
        assert_eq!(filled, 0);
        assert_eq!(out, scattered);
    }
}
