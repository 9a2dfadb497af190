//! Multi-view stereo: depth maps of posed photos by PatchMatch, kept where several photos
//! agree on them (geometric consistency). They are the depth prior of HelixSurf's intertwined
//! loop: trustworthy on textured surfaces, absent on flat walls, which the neural surface
//! fills in.

mod patchmatch;
mod planar;

/// Most source photos a depth map is matched against.
const MAX_SOURCES: usize = 16;

use crate::geometry::{Intrinsics, Pose};
use glam::{Mat3, Vec3};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// A photo as stereo reads it: grey values in [0, 1], a pinhole camera (distortion is ignored:
/// depth maps are a prior, and the photos that need it are rarely strongly distorted).
pub struct MvsImage {
    pub width: usize,
    pub height: usize,
    pub gray: Vec<f32>,
    fx: f32,
    fy: f32,
    cx: f32,
    cy: f32,
    k_inv: Mat3,
    /// Camera to world.
    rotation: Mat3,
    center: Vec3,
}

impl MvsImage {
    pub fn new(intrinsics: &Intrinsics, pose: &Pose, gray: Vec<f32>) -> MvsImage {
        let (fx, fy, cx, cy) = (intrinsics.fx as f32, intrinsics.fy as f32, intrinsics.cx as f32, intrinsics.cy as f32);
        let k_inv = Mat3::from_cols(
            Vec3::new(1.0 / fx, 0.0, 0.0),
            Vec3::new(0.0, 1.0 / fy, 0.0),
            Vec3::new(-cx / fx, -cy / fy, 1.0),
        );
        MvsImage {
            width: intrinsics.width as usize,
            height: intrinsics.height as usize,
            gray,
            fx,
            fy,
            cx,
            cy,
            k_inv,
            rotation: pose.rotation.as_mat3(),
            center: pose.center.as_vec3(),
        }
    }

    /// Pixel position of a point in this camera's frame (in front of it).
    fn project(&self, p: Vec3) -> (f32, f32) {
        (self.fx * p.x / p.z + self.cx, self.fy * p.y / p.z + self.cy)
    }

    fn to_camera(&self, world: Vec3) -> Vec3 {
        self.rotation.transpose() * (world - self.center)
    }

    /// The world point at depth (z) `depth` through the centre of pixel (x, y).
    fn point(&self, x: usize, y: usize, depth: f32) -> Vec3 {
        self.rotation * (self.k_inv * Vec3::new(x as f32 + 0.5, y as f32 + 0.5, 1.0) * depth) + self.center
    }

    fn forward(&self) -> Vec3 {
        self.rotation.col(2)
    }
}

/// Per pixel, the depth (z in the camera's frame, world units) of what it shows; 0 where
/// unknown.
pub struct DepthMap {
    pub width: usize,
    pub height: usize,
    pub depth: Vec<f32>,
    /// How many of the depths come from the plane of a region too flat to match (`planar`).
    pub planar: usize,
}

/// Planes for PatchMatch to start from (HelixSurf's neural surface → stereo direction): per
/// pixel of a photo, a depth (z, world units; 0: none) and a unit normal in the camera's frame.
/// Stereo keeps a seed only where it matches the photos better than a random plane, and moves
/// from it as from any other plane.
pub struct Seed {
    pub depth: Vec<f32>,
    pub normal: Vec<Vec3>,
}

pub struct MvsSettings {
    /// Depths searched, in world units.
    pub min_depth: f32,
    pub max_depth: f32,
    /// Photos each depth map is matched against, and how many of the best-matching ones count.
    pub sources: usize,
    pub best: usize,
    pub iterations: usize,
    /// Largest matching cost (1 − NCC) a depth may keep.
    pub max_cost: f32,
    /// Other depth maps that must agree with a depth for it to stay.
    pub min_consistent: usize,
    /// Agreement: reprojection within this many pixels, depth within this fraction.
    pub max_reprojection: f32,
    pub max_relative_depth: f32,
    /// The scene's Manhattan frame (world axes), across whose axes regions too flat to match get
    /// the plane of their rims (`planar`); None: they stay empty.
    pub planar: Option<[Vec3; 3]>,
}

impl MvsSettings {
    pub fn new(min_depth: f32, max_depth: f32) -> MvsSettings {
        MvsSettings {
            min_depth,
            max_depth,
            // 10 rather than 6: more pixels match and the room's mesh is better, for half as
            // much time again (docs/results.md, *Stereo*).
            sources: 10,
            best: 3,
            iterations: 5,
            max_cost: 0.5,
            min_consistent: 2,
            max_reprojection: 1.5,
            max_relative_depth: 0.01,
            planar: None,
        }
    }
}

/// The photos each photo is matched against: those looking most nearly the same way (within
/// 60°) from another place.
fn source_views(images: &[MvsImage], count: usize) -> Vec<Vec<usize>> {
    images
        .iter()
        .enumerate()
        .map(|(r, img)| {
            let mut cands: Vec<(f32, usize)> = images
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != r && (o.center - img.center).length() > 1e-6)
                .map(|(j, o)| (o.forward().dot(img.forward()), j))
                .filter(|(c, _)| *c > 0.5)
                .collect();
            cands.sort_by(|a, b| b.0.total_cmp(&a.0));
            cands.into_iter().take(count.min(MAX_SOURCES)).map(|(_, j)| j).collect()
        })
        .collect()
}

/// Depth maps of every photo, kept where at least `min_consistent` of its source photos' maps
/// agree; `seeds`, one per photo, are planes to start from. `progress` is called with the number
/// of maps done. None when `cancel` was set (checked between photos).
pub fn depth_maps(
    images: &[MvsImage],
    seeds: Option<&[Seed]>,
    s: &MvsSettings,
    progress: &(dyn Fn(usize) + Sync),
    cancel: &AtomicBool,
) -> Option<Vec<DepthMap>> {
    let sources = source_views(images, s.sources);
    let mut raw: Vec<DepthMap> = Vec::with_capacity(images.len());
    for r in 0..images.len() {
        if cancel.load(Ordering::Relaxed) {
            return None;
        }
        let m = if sources[r].is_empty() {
            DepthMap {
                width: images[r].width,
                height: images[r].height,
                depth: vec![0.0; images[r].gray.len()],
                planar: 0,
            }
        } else {
            patchmatch::depth_map(images, r, &sources[r], s, seeds.map(|sd| &sd[r]))
        };
        raw.push(m);
        progress(r + 1);
    }
    let matched = (0..images.len()).into_par_iter().map(|r| consistent(images, &raw, r, &sources[r], s));
    let Some(axes) = s.planar else { return Some(matched.collect()) };
    // Flat regions filled from their rims' planes. Not checked against the other photos as
    // matched depths are: a wall's fill in one photo rarely has two others' to agree with, as
    // their rims differ, and on the procedural room (the README) nineteen in twenty filled
    // points lay within 10 cm of the nearest true surface without it.
    Some(
        matched
            .zip(0..images.len())
            .map(|(m, r)| {
                let (depth, planar) =
                    planar::fill(&images[r], &m.depth, &patchmatch::flat_pixels(&images[r]), s, &axes);
                DepthMap { depth, planar, ..m }
            })
            .collect(),
    )
}

/// Depths of map `r` that at least `min_consistent` of its sources' maps confirm: the point
/// seen in a source, lifted at the source's depth and brought back, lands near where it
/// started, at nearly the same depth.
fn consistent(images: &[MvsImage], maps: &[DepthMap], r: usize, sources: &[usize], s: &MvsSettings) -> DepthMap {
    let img = &images[r];
    let map = &maps[r];
    let depth = (0..map.depth.len())
        .map(|i| {
            let d = map.depth[i];
            if d <= 0.0 {
                return 0.0;
            }
            let (x, y) = (i % img.width, i / img.width);
            let world = img.point(x, y, d);
            let agree = sources
                .iter()
                .filter(|&&j| {
                    let o = &images[j];
                    let p = o.to_camera(world);
                    if p.z <= 0.0 {
                        return false;
                    }
                    let (u, v) = o.project(p);
                    if u < 0.0 || v < 0.0 || u >= o.width as f32 || v >= o.height as f32 {
                        return false;
                    }
                    let (sx, sy) = (u as usize, v as usize);
                    let sd = maps[j].depth[sy * o.width + sx];
                    if sd <= 0.0 {
                        return false;
                    }
                    let back = img.to_camera(o.point(sx, sy, sd));
                    if back.z <= 0.0 {
                        return false;
                    }
                    let (bx, by) = img.project(back);
                    let reproj = ((bx - (x as f32 + 0.5)).powi(2) + (by - (y as f32 + 0.5)).powi(2)).sqrt();
                    reproj <= s.max_reprojection && (back.z - d).abs() <= s.max_relative_depth * d
                })
                .count();
            if agree >= s.min_consistent { d } else { 0.0 }
        })
        .collect();
    DepthMap { width: map.width, height: map.height, depth, planar: 0 }
}

/// A synthetic scene for tests: photos of a textured plane.
#[cfg(test)]
pub(crate) mod testing {
    use crate::geometry::{Intrinsics, Pose};
    use glam::{DVec2, DVec3};

    /// Value noise (random grey on a 0.12 grid, bilinear): nothing repeats, as on speckled paint.
    fn texture(x: f64, y: f64) -> f32 {
        let cell = |i: i64, j: i64| super::patchmatch::uniform(((i as u64) << 32) ^ (j as u32 as u64));
        let (u, v) = (x / 0.12, y / 0.12);
        let (i, j) = (u.floor() as i64, v.floor() as i64);
        let (a, b) = ((u - i as f64) as f32, (v - j as f64) as f32);
        let top = cell(i, j) * (1.0 - a) + cell(i + 1, j) * a;
        let bottom = cell(i, j + 1) * (1.0 - a) + cell(i + 1, j + 1) * a;
        top * (1.0 - b) + bottom * b
    }

    /// `views` cameras about 3 above the plane z = 0, looking at the origin from a little apart
    /// (about three pixels a texture cell): their poses and grey photos.
    pub fn plane_scene(intr: &Intrinsics, views: usize) -> Vec<(Pose, Vec<f32>)> {
        plane_scene_with(intr, views, |_, _| false)
    }

    /// The same with the plane plain grey where `plain(x, y)`.
    pub fn plane_scene_with(intr: &Intrinsics, views: usize, plain: fn(f64, f64) -> bool) -> Vec<(Pose, Vec<f32>)> {
        (0..views)
            .map(|i| {
                let eye = DVec3::new(-0.6 + 0.3 * i as f64, 0.1 * (i % 2) as f64, 3.0);
                let pose = Pose::look_at(eye, DVec3::ZERO, DVec3::Y);
                let w = intr.width as usize;
                let photo = (0..w * intr.height as usize)
                    .map(|k| {
                        let pixel = DVec2::new((k % w) as f64 + 0.5, (k / w) as f64 + 0.5);
                        let dir = pose.rotation * intr.unproject(pixel);
                        let hit = eye + dir * (-eye.z / dir.z);
                        if plain(hit.x, hit.y) { 0.5 } else { texture(hit.x, hit.y) }
                    })
                    .collect();
                (pose, photo)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::DVec3;

    /// A textured plane z = 0 (world) under cameras a few units above it: every kept depth must
    /// be the plane's, and most of the overlap must be kept.
    #[test]
    fn recovers_a_textured_plane() {
        let intr = Intrinsics::centered(96, 72, 80.0);
        let images: Vec<MvsImage> =
            testing::plane_scene(&intr, 5).into_iter().map(|(pose, gray)| MvsImage::new(&intr, &pose, gray)).collect();
        let maps = depth_maps(&images, None, &MvsSettings::new(1.0, 10.0), &|_| {}, &AtomicBool::new(false)).unwrap();
        let img = &images[2];
        let map = &maps[2];
        // Off the plane, as a fraction of the depth (about 3).
        let errors: Vec<f32> = (0..map.depth.len())
            .filter(|&i| map.depth[i] > 0.0)
            .map(|i| img.point(i % img.width, i / img.width, map.depth[i]).z.abs() / 3.0)
            .collect();
        let within = |tol: f32| errors.iter().filter(|e| **e < tol).count() as f32 / errors.len() as f32;
        assert!(errors.len() > map.depth.len() / 2, "only {} of {} depths kept", errors.len(), map.depth.len());
        // The consistency check lets 1 % through; the few worse ones sit at the photo's border.
        assert!(
            within(0.005) > 0.9 && within(0.02) > 0.99,
            "{} within 0.5 %, {} within 2 %",
            within(0.005),
            within(0.02)
        );
    }

    /// A plain disc in the textured plane: stereo matches around it, and the fill gives it the
    /// plane's depth (z = 0 is across an axis), counted as planar; without the fill it stays
    /// empty.
    #[test]
    fn a_plain_patch_gets_the_depth_of_the_plane_around_it() {
        let intr = Intrinsics::centered(96, 72, 80.0);
        let disc = |x: f64, y: f64| x * x + y * y < 0.45 * 0.45;
        let images: Vec<MvsImage> = testing::plane_scene_with(&intr, 5, disc)
            .into_iter()
            .map(|(pose, gray)| MvsImage::new(&intr, &pose, gray))
            .collect();
        let mut settings = MvsSettings::new(1.0, 10.0);
        let plain = depth_maps(&images, None, &settings, &|_| {}, &AtomicBool::new(false)).unwrap();
        settings.planar = Some([Vec3::X, Vec3::Y, Vec3::Z]);
        let filled = depth_maps(&images, None, &settings, &|_| {}, &AtomicBool::new(false)).unwrap();
        let (img, before, after) = (&images[2], &plain[2], &filled[2]);
        // The disc's middle, where every window is plain.
        let middle: Vec<usize> = (0..after.depth.len())
            .filter(|&i| {
                let p = img.point(i % img.width, i / img.width, 3.0);
                let dir = (p - img.center).normalize();
                let hit = img.center + dir * (-img.center.z / dir.z);
                (hit.x * hit.x + hit.y * hit.y).sqrt() < 0.2
            })
            .collect();
        assert!(middle.len() > 50 && middle.iter().all(|&i| before.depth[i] == 0.0), "{}", middle.len());
        assert_eq!(before.planar, 0);
        let filled_middle: Vec<usize> = middle.iter().copied().filter(|&i| after.depth[i] > 0.0).collect();
        assert_eq!(filled_middle.len(), middle.len());
        assert!(after.planar >= middle.len());
        for i in filled_middle {
            let z = img.point(i % img.width, i / img.width, after.depth[i]).z;
            // Within stereo's own agreement, 1 % of the depth (3).
            assert!(z.abs() < 0.03, "pixel {i} lands {z} off the plane");
        }
    }

    /// Seeds on the plane z = `height` for every pixel of the plane scene's photos.
    fn plane_seeds(images: &[MvsImage], height: f32) -> Vec<Seed> {
        images
            .iter()
            .map(|img| {
                let to_camera = img.rotation.transpose();
                let (depth, normal) = (0..img.gray.len())
                    .map(|i| {
                        let ray = img.point(i % img.width, i / img.width, 1.0) - img.center;
                        let n = to_camera * Vec3::Z;
                        ((height - img.center.z) / ray.z, if n.z > 0.0 { -n } else { n })
                    })
                    .unzip();
                Seed { depth, normal }
            })
            .collect()
    }

    /// Seeded with the true plane, stereo keeps it without a single round of propagation,
    /// where random planes alone keep little; seeded with a wrong one (half a unit above),
    /// the rounds leave it for the true plane.
    #[test]
    fn seeds_start_stereo_at_the_surface_and_a_wrong_seed_is_left() {
        let intr = Intrinsics::centered(96, 72, 80.0);
        let images: Vec<MvsImage> =
            testing::plane_scene(&intr, 5).into_iter().map(|(pose, gray)| MvsImage::new(&intr, &pose, gray)).collect();
        let on_plane = |maps: &[DepthMap]| {
            let (img, map) = (&images[2], &maps[2]);
            let kept: Vec<f32> = (0..map.depth.len())
                .filter(|&i| map.depth[i] > 0.0)
                .map(|i| img.point(i % img.width, i / img.width, map.depth[i]).z.abs())
                .collect();
            let near = kept.iter().filter(|z| **z < 0.015).count();
            (kept.len() as f32 / map.depth.len() as f32, near as f32 / kept.len().max(1) as f32)
        };
        let mut none = MvsSettings::new(1.0, 10.0);
        none.iterations = 0;
        let (random, _) = on_plane(&depth_maps(&images, None, &none, &|_| {}, &AtomicBool::new(false)).unwrap());
        let (seeded, near) = on_plane(
            &depth_maps(&images, Some(&plane_seeds(&images, 0.0)), &none, &|_| {}, &AtomicBool::new(false)).unwrap(),
        );
        assert!(random < 0.1 && seeded > 0.6 && near > 0.99, "kept {random} unseeded, {seeded} seeded ({near} on it)");
        let full = MvsSettings::new(1.0, 10.0);
        let (kept, near) = on_plane(
            &depth_maps(&images, Some(&plane_seeds(&images, 0.5)), &full, &|_| {}, &AtomicBool::new(false)).unwrap(),
        );
        let (kept_random, near_random) =
            on_plane(&depth_maps(&images, None, &full, &|_| {}, &AtomicBool::new(false)).unwrap());
        assert!(
            kept > 0.9 * kept_random && near > near_random - 0.01,
            "from a wrong seed: kept {kept}, {near} of it on the plane; from random planes {kept_random}, {near_random}"
        );
    }

    /// A flat grey photo set has nothing to match: no depth survives.
    #[test]
    fn flat_photos_give_no_depth() {
        let intr = Intrinsics::centered(40, 30, 40.0);
        let images: Vec<MvsImage> = (0..3)
            .map(|i| {
                let pose = Pose::look_at(DVec3::new(0.2 * i as f64, 0.0, 2.0), DVec3::ZERO, DVec3::Y);
                MvsImage::new(&intr, &pose, vec![0.5; 40 * 30])
            })
            .collect();
        let maps = depth_maps(&images, None, &MvsSettings::new(0.5, 5.0), &|_| {}, &AtomicBool::new(false)).unwrap();
        assert!(maps.iter().all(|m| m.depth.iter().all(|d| *d == 0.0)));
    }
}
