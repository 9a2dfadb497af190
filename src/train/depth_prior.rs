//! The multi-view stereo prior (HelixSurf's first round): PatchMatch depth maps of the training
//! photos, at a reduced resolution, turned into each training pixel's distance along its ray
//! in the normalised frame (`TrainView::depth`), which the depth loss compares the surface's
//! rendered depth with.

use crate::geometry::Camera;
use crate::geometry::Mesh;
use crate::mesh::raster;
use crate::mvs::{self, MvsImage, MvsSettings, Seed};
use crate::render::views::{Normalization, TrainView};
use glam::{DVec2, Vec3};
use rayon::prelude::*;
use std::sync::atomic::AtomicBool;

/// Longest side of the photos stereo matches: matching costs grow with the pixel count, and a
/// prior needs no more.
const MAX_SIDE: u32 = 240;

/// What the prior found: photos and pixels with a depth, and the time it took.
pub struct DepthPriorStats {
    /// The round of HelixSurf's loop: 1 before training, later ones seeded by the surface.
    pub round: u32,
    pub views: usize,
    pub views_with_depth: usize,
    pub fraction: f64,
    /// The share of pixels whose depth is the plane of a region too flat to match.
    pub planar_fraction: f64,
    pub seconds: f64,
}

impl DepthPriorStats {
    pub fn note(&self) -> String {
        let what = match self.round {
            1 => "Multi-view stereo".to_string(),
            r => format!("Multi-view stereo, round {r} (started from the surface trained so far),"),
        };
        format!(
            "{what} found depth for {:.0} % of the pixels of {} of {} photos ({:.0} % from the planes \
             around regions too flat to match; {:.0} s).",
            100.0 * self.fraction,
            self.views_with_depth,
            self.views,
            100.0 * self.planar_fraction,
            self.seconds
        )
    }
}

/// A photo as stereo reads it: grey, at its own size or scaled down so that its longer side is
/// `MAX_SIDE` (by any factor: whole factors alone left a 320-pixel photo at 160).
fn stereo_image(v: &TrainView) -> MvsImage {
    let luma = v.rgb.iter().map(|[r, g, b]| 0.299 * r + 0.587 * g + 0.114 * b).collect();
    let full = image::ImageBuffer::<image::Luma<f32>, Vec<f32>>::from_raw(v.width(), v.height(), luma)
        .expect("one colour per pixel");
    let scale = (MAX_SIDE as f64 / v.width().max(v.height()) as f64).min(1.0);
    let size = |n: u32| ((n as f64 * scale).round() as u32).max(1);
    let (w, h) = (size(v.width()), size(v.height()));
    let gray = image::imageops::resize(&full, w, h, image::imageops::FilterType::Triangle).into_raw();
    MvsImage::new(&v.intrinsics.resized(w, h), &v.pose, gray)
}

/// Fills every view's `depth` from stereo; returns what it found. `progress` hears how many
/// photos have been matched. None when `cancel` was set, with no view's depth filled.
pub fn attach(
    views: &mut [TrainView],
    norm: &Normalization,
    progress: &(dyn Fn(usize) + Sync),
    cancel: &AtomicBool,
) -> Option<DepthPriorStats> {
    stereo(views, norm, None, 1, progress, cancel)
}

/// A later round of HelixSurf's loop: stereo again, each photo starting from the depths and
/// normals of `surface` (the neural surface so far, in the input's frame) where they match
/// better than random planes, and every view's `depth` replaced by what it finds. None when
/// `cancel` was set, with the views' depths as they were.
pub fn refresh(
    views: &mut [TrainView],
    norm: &Normalization,
    surface: &Mesh,
    round: u32,
    progress: &(dyn Fn(usize) + Sync),
    cancel: &AtomicBool,
) -> Option<DepthPriorStats> {
    stereo(views, norm, Some(surface), round, progress, cancel)
}

/// Per photo, the depth and normal of `surface` at each of its stereo pixels.
fn seeds(views: &[TrainView], images: &[MvsImage], surface: &Mesh) -> Vec<Seed> {
    views
        .par_iter()
        .zip(images)
        .map(|(v, img)| {
            let camera = Camera { intrinsics: v.intrinsics.resized(img.width as u32, img.height as u32), pose: v.pose };
            let drawn = raster::draw(surface, &camera);
            let to_camera = v.pose.rotation.as_mat3().transpose();
            let (depth, normal) = (0..drawn.depth.len())
                .map(|i| {
                    let t = drawn.triangle[i];
                    if t == raster::NONE {
                        return (0.0, Vec3::Z);
                    }
                    // Facing the camera whichever way the surface's triangles wind.
                    let n = to_camera * raster::triangle_normal(surface, t);
                    let pixel = DVec2::new((i % img.width) as f64 + 0.5, (i / img.width) as f64 + 0.5);
                    let ray = camera.intrinsics.unproject(pixel).as_vec3();
                    (drawn.depth[i], if n.dot(ray) > 0.0 { -n } else { n })
                })
                .unzip();
            Seed { depth, normal }
        })
        .collect()
}

fn stereo(
    views: &mut [TrainView],
    norm: &Normalization,
    surface: Option<&Mesh>,
    round: u32,
    progress: &(dyn Fn(usize) + Sync),
    cancel: &AtomicBool,
) -> Option<DepthPriorStats> {
    let start = std::time::Instant::now();
    let images: Vec<MvsImage> = views.par_iter().map(stereo_image).collect();
    // Everything the photos can show of the scene lies within the unit sphere, or just beyond
    // it for a background: no farther than the farthest camera's distance plus the diameter.
    let reach = views.iter().map(|v| (v.pose.center - glam::DVec3::from(norm.center)).length()).fold(0.0, f64::max)
        + 2.0 * norm.scale;
    let mut settings = MvsSettings::new((0.01 * norm.scale) as f32, reach as f32);
    // Flat regions filled with axis planes only where the axes are likely the walls' (photos
    // upright in the frame).
    let poses: Vec<_> = views.iter().map(|v| v.pose).collect();
    settings.planar = crate::geometry::rig::upright(&poses).then_some([Vec3::X, Vec3::Y, Vec3::Z]);
    let seeds = surface.map(|m| seeds(views, &images, m));
    let maps = mvs::depth_maps(&images, seeds.as_deref(), &settings, progress, cancel)?;
    let (mut known, mut total, mut with_depth, mut planar) = (0usize, 0usize, 0usize, 0.0f64);
    for (v, map) in views.iter_mut().zip(&maps) {
        let (w, h) = (v.width() as usize, v.height() as usize);
        let depth: Vec<f32> = (0..w * h)
            .into_par_iter()
            .map(|i| {
                // The stereo pixel this pixel's centre falls in (the reduced photo spans the same
                // extent).
                let (mx, my) = ((2 * (i % w) + 1) * map.width / (2 * w), (2 * (i / w) + 1) * map.height / (2 * h));
                let z = map.depth[my * map.width + mx] as f64;
                if z <= 0.0 {
                    return 0.0;
                }
                // Depth along the camera's axis to distance along the pixel's ray.
                let (x, y) = (i % w, i / w);
                let ray = v.intrinsics.unproject(DVec2::new(x as f64 + 0.5, y as f64 + 0.5));
                (z * ray.length() / norm.scale) as f32
            })
            .collect();
        let n = depth.iter().filter(|d| **d > 0.0).count();
        known += n;
        // The fill's share of the stereo pixels, counted at training resolution.
        planar += map.planar as f64 / map.depth.len().max(1) as f64 * depth.len() as f64;
        total += depth.len();
        with_depth += (n > 0) as usize;
        v.depth = Some(depth);
    }
    Some(DepthPriorStats {
        round,
        views: views.len(),
        views_with_depth: with_depth,
        fraction: known as f64 / total.max(1) as f64,
        planar_fraction: planar / total.max(1) as f64,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The stereo depths as a coloured point cloud in the input's frame (every second pixel each
/// way), as COLMAP's fused points: what the prior holds, to look at beside the mesh.
pub fn point_cloud(views: &[TrainView], norm: &Normalization) -> Mesh {
    let mut cloud = Mesh::default();
    for v in views {
        let Some(depth) = &v.depth else { continue };
        let w = v.width() as usize;
        for (i, &t) in depth.iter().enumerate() {
            if t <= 0.0 || (i % w) % 2 == 1 || (i / w) % 2 == 1 {
                continue;
            }
            let ray = v.ray(norm, (i % w) as f64 + 0.5, (i / w) as f64 + 0.5);
            let p: [f32; 3] = std::array::from_fn(|a| ray.origin[a] + t * ray.dir[a]);
            cloud.vertices.push(norm.to_world(p).as_vec3());
            cloud.colors.push(crate::render::rgb_bytes(v.rgb[i]));
        }
    }
    cloud
}

/// Scenes for tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::geometry::Intrinsics;

    /// Photos of the textured plane z = 0, at twice stereo's resolution.
    pub fn plane_views() -> Vec<TrainView> {
        let small = Intrinsics::centered(96, 72, 80.0);
        let intrinsics = small.resized(192, 144);
        mvs::testing::plane_scene(&intrinsics, 5)
            .into_iter()
            .enumerate()
            .map(|(i, (pose, gray))| TrainView {
                name: format!("{i}"),
                intrinsics,
                pose,
                rgb: gray.iter().map(|g| [*g; 3]).collect(),
                mask: None,
                depth_range: None,
                depth: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Photos of a textured plane z = 0 (world), trained at twice stereo's resolution in a
    /// shifted and scaled frame: every pixel's prior depth, along its own ray in the normalised
    /// frame, must land on the plane in the world.
    #[test]
    fn prior_depths_lie_on_the_surface_along_each_pixels_ray() {
        let mut views = testing::plane_views();
        let norm = Normalization { center: [0.3, -0.2, 1.0], scale: 2.5 };
        let stats = attach(&mut views, &norm, &|_| {}, &AtomicBool::new(false)).unwrap();
        assert_eq!(stats.views_with_depth, 5);
        assert!(stats.fraction > 0.3, "depth on {:.2} of the pixels", stats.fraction);
        let v = &views[2];
        let depth = v.depth.as_ref().unwrap();
        let w = v.width() as usize;
        let mut off = 0;
        let mut known = 0;
        for (i, &t) in depth.iter().enumerate().filter(|(_, t)| **t > 0.0) {
            let ray = v.ray(&norm, (i % w) as f64 + 0.5, (i / w) as f64 + 0.5);
            let p = norm.to_world(std::array::from_fn(|a| ray.origin[a] + t * ray.dir[a]));
            known += 1;
            // 2 % of the distance, as stereo's tests allow; a depth taken along the axis instead
            // of the ray, or left in world units, misses by 10 % and more.
            off += (p.z.abs() > 0.06) as usize;
        }
        assert!(off * 33 < known, "{off} of {known} prior depths are off the plane");
    }

    /// Cancelled before it starts, stereo gives no prior and leaves every view without depth.
    #[test]
    fn cancelled_stereo_fills_nothing() {
        let mut views = testing::plane_views();
        let norm = Normalization { center: [0.0; 3], scale: 1.0 };
        assert!(attach(&mut views, &norm, &|_| {}, &AtomicBool::new(true)).is_none());
        assert!(views.iter().all(|v| v.depth.is_none()));
    }

    /// A surface drawn into the photos as seeds: the plane z = 0.2 (two triangles, wound
    /// downwards) gives each stereo pixel the camera depth where its ray meets the plane, and
    /// the plane's normal in the camera's frame, turned towards the camera.
    #[test]
    fn seeds_are_the_surfaces_depth_and_normal_in_each_camera() {
        let views = testing::plane_views();
        let images: Vec<MvsImage> = views.iter().map(stereo_image).collect();
        let corners = [[-9.0, -9.0], [9.0, -9.0], [9.0, 9.0], [-9.0, 9.0]].map(|[x, y]| Vec3::new(x, y, 0.2));
        let plane = Mesh { vertices: corners.to_vec(), triangles: vec![[0, 2, 1], [0, 3, 2]], ..Default::default() };
        let seeds = seeds(&views, &images, &plane);
        for (v, (img, seed)) in views.iter().zip(images.iter().zip(&seeds)) {
            let k = v.intrinsics.resized(img.width as u32, img.height as u32);
            let to_camera = v.pose.rotation.transpose();
            for i in [0, img.width * 20 + 7, img.gray.len() / 2 + 13, img.gray.len() - 1] {
                let ray = v.pose.rotation
                    * k.unproject(DVec2::new((i % img.width) as f64 + 0.5, (i / img.width) as f64 + 0.5));
                let z = (0.2 - v.pose.center.z) / ray.z;
                assert!((seed.depth[i] as f64 - z).abs() < 1e-4 * z, "pixel {i}: depth {} for {z}", seed.depth[i]);
                let n = (to_camera * glam::DVec3::Z).as_vec3();
                assert!(seed.normal[i].abs_diff_eq(n, 1e-5), "pixel {i}: normal {} for {n}", seed.normal[i]);
            }
        }
    }
}
