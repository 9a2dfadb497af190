//! The visual hull: a point that some photo's mask shows as background holds no surface.
//! Photos with alpha or masks so bound the surface no camera saw (the underside of an object
//! captured from above) to what the silhouettes allow, instead of leaving the field's guess.

use crate::geometry::Camera;
use glam::DVec3;
use rayon::prelude::*;

/// Pixels of slack round each silhouette: masks are anti-aliased and poses a little off, and
/// carving true surface would cut holes in the mesh.
const SLACK_PX: usize = 1;

/// Where one photo shows background: its mask, shrunk by `SLACK_PX`.
#[derive(Clone, Debug, PartialEq)]
pub struct Silhouette {
    pub width: u32,
    pub height: u32,
    background: Vec<bool>,
}

impl Silhouette {
    /// From a mask (0 empty, 1 object, negative unknown) of `width` × `height`; None when it
    /// shows no known background at all.
    pub fn from_mask(width: u32, height: u32, mask: &[f32]) -> Option<Silhouette> {
        let (w, h) = (width as usize, height as usize);
        if mask.len() != w * h {
            return None;
        }
        // Background everywhere within the slack: along the row, then along the column.
        let window = |i: usize, n: usize| i.saturating_sub(SLACK_PX)..(i + SLACK_PX + 1).min(n);
        let rows: Vec<bool> = (0..w * h)
            .into_par_iter()
            .map(|i| window(i % w, w).all(|x| (0.0..0.5).contains(&mask[i - i % w + x])))
            .collect();
        let background: Vec<bool> =
            (0..w * h).into_par_iter().map(|i| window(i / w, h).all(|y| rows[y * w + i % w])).collect();
        background.contains(&true).then_some(Silhouette { width, height, background })
    }

    /// Packed eight pixels a byte, for checkpoints.
    pub fn to_bits(&self) -> Vec<u8> {
        self.background.chunks(8).map(|c| c.iter().enumerate().fold(0u8, |b, (k, &on)| b | (on as u8) << k)).collect()
    }

    /// Bytes `to_bits` needs for a silhouette of this size.
    pub fn bits_len(width: u32, height: u32) -> usize {
        (width as usize * height as usize).div_ceil(8)
    }

    /// As `to_bits` packed it; None when `bits` is not that size.
    pub fn from_bits(width: u32, height: u32, bits: &[u8]) -> Option<Silhouette> {
        let n = width as usize * height as usize;
        if bits.len() != Self::bits_len(width, height) {
            return None;
        }
        let background = (0..n).map(|i| bits[i / 8] >> (i % 8) & 1 == 1).collect();
        Some(Silhouette { width, height, background })
    }

    /// Whether this photo, taken by `camera`, shows `p` as background (false outside its frame
    /// or behind it).
    fn excludes(&self, camera: &Camera, p: DVec3) -> bool {
        let k = &camera.intrinsics;
        let Some(px) = k.project(camera.pose.to_camera(p)) else { return false };
        if px.x < 0.0 || px.y < 0.0 || px.x >= self.width as f64 || px.y >= self.height as f64 {
            return false;
        }
        self.background[px.y as usize * self.width as usize + px.x as usize]
    }
}

/// Marks outside (`outside`, a positive SDF value) every point of `points` whose value is
/// negative but that a photo (its camera and silhouette, at the camera's size) shows as
/// background; how many it carved.
pub fn carve(points: &[[f32; 3]], values: &mut [f32], photos: &[(Camera, &Silhouette)], outside: f32) -> usize {
    let photos: Vec<&(Camera, &Silhouette)> =
        photos.iter().filter(|(c, s)| (c.intrinsics.width, c.intrinsics.height) == (s.width, s.height)).collect();
    if photos.is_empty() {
        return 0;
    }
    values
        .par_iter_mut()
        .zip(points.par_iter())
        .filter(|(v, _)| **v < 0.0)
        .map(|(v, p)| {
            let p = DVec3::new(p[0] as f64, p[1] as f64, p[2] as f64);
            let carved = photos.iter().any(|(c, s)| s.excludes(c, p));
            if carved {
                *v = outside;
            }
            carved as usize
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Intrinsics, Pose};

    /// A camera on the +x axis looking at the origin, with a mask of a centred disc.
    fn disc_view(radius_px: f64) -> (Camera, Vec<f32>) {
        let k = Intrinsics::centered(64, 48, 60.0);
        let pose = Pose::look_at(DVec3::new(3.0, 0.0, 0.0), DVec3::ZERO, DVec3::Z);
        let mask = (0..64 * 48)
            .map(|i| {
                let (x, y) = ((i % 64) as f64 + 0.5 - 32.0, (i / 64) as f64 + 0.5 - 24.0);
                ((x * x + y * y).sqrt() < radius_px) as u8 as f32
            })
            .collect();
        (Camera { intrinsics: k, pose }, mask)
    }

    #[test]
    fn points_outside_a_silhouette_are_carved_and_those_inside_kept() {
        let (cam, mask) = disc_view(10.0);
        let s = Silhouette::from_mask(64, 48, &mask).unwrap();
        // 10 px at focal 60 and distance 3: the silhouette's cone is 0.5 across at the origin.
        let points = [[0.0, 0.0, 0.0], [0.0, 0.45, 0.0], [0.0, 0.0, 0.9], [0.0, 0.0, 0.4], [5.0, 0.0, 0.0]];
        let mut values = vec![-1.0, -1.0, -1.0, 1.0, -1.0];
        let carved = carve(&points, &mut values, &[(cam, &s)], 0.25);
        assert_eq!(values, [-1.0, -1.0, 0.25, 1.0, -1.0], "inside, within the slack, outside, positive, behind");
        assert_eq!(carved, 1);
        // A camera of another size than the silhouette carves nothing.
        let other = Camera { intrinsics: Intrinsics::centered(32, 24, 30.0), ..cam };
        assert_eq!(carve(&points, &mut [-1.0; 5], &[(other, &s)], 0.25), 0);
    }

    #[test]
    fn the_slack_keeps_pixels_near_the_object_and_bits_round_trip() {
        let (_, mask) = disc_view(10.0);
        let s = Silhouette::from_mask(64, 48, &mask).unwrap();
        let at = |x: usize, y: usize| s.background[y * 64 + x];
        // The disc's edge on its row is at x = 32 ± 10: background starts SLACK_PX beyond.
        assert!(!at(32 + 10 + SLACK_PX - 1, 24) && at(32 + 10 + SLACK_PX, 24) && at(0, 0) && at(63, 47));
        assert_eq!(Silhouette::from_bits(64, 48, &s.to_bits()), Some(s.clone()));
        assert_eq!(Silhouette::from_bits(64, 48, &s.to_bits()[1..]), None);
    }

    #[test]
    fn masks_with_no_known_background_give_no_silhouette() {
        assert!(Silhouette::from_mask(64, 48, &vec![1.0; 64 * 48]).is_none());
        assert!(Silhouette::from_mask(64, 48, &vec![-1.0; 64 * 48]).is_none());
        assert!(Silhouette::from_mask(64, 48, &[0.0; 10]).is_none());
    }
}
