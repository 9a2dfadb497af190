//! PatchMatch stereo (after Gipuma and COLMAP): per pixel of a reference photo, a plane (depth
//! and normal) that best explains a window of the photo in its source photos, by normalised
//! cross-correlation. Random planes at the start, then rounds that try the planes of
//! neighbouring pixels and small perturbations of the pixel's own, half the pixels at a time
//! (a checkerboard: each half reads only the other half, so its pixels update in parallel).

use super::{DepthMap, MAX_SOURCES, MvsImage, MvsSettings, Seed};
use crate::util::rng;
use glam::{Mat3, Vec3};
use rayon::prelude::*;

/// Window samples: every second pixel within this radius (a 9 × 9 window read at 5 × 5).
const RADIUS: i32 = 4;
const STRIDE: i32 = 2;
/// Cost of a source that cannot see the window (outside its photo, behind it).
const NO_VIEW: f32 = 2.0;
/// Windows flatter than this (standard deviation of grey in [0, 1]) carry no depth.
const MIN_TEXTURE: f32 = 0.01;
/// Neighbours whose planes a pixel tries: near ones, and far ones for fast spreading (all at odd
/// offsets, on the other half of the checkerboard).
const NEIGHBOURS: [(i32, i32); 8] = [(-1, 0), (1, 0), (0, -1), (0, 1), (-5, 0), (5, 0), (0, -5), (0, 5)];

/// A source photo as the reference camera sees it: its pixels' camera from the reference's.
struct Source<'a> {
    image: &'a MvsImage,
    rotation: Mat3,
    translation: Vec3,
}

/// A plane through the reference pixel's point at `depth` (z) with `normal`, in the reference
/// camera's frame.
#[derive(Clone, Copy, Default)]
struct Plane {
    depth: f32,
    normal: Vec3,
}

/// Per-pixel state of one reference photo.
struct State {
    planes: Vec<Plane>,
    costs: Vec<f32>,
}

/// Window statistics of the reference photo: mean and 1/σ per pixel (0 where too flat).
fn window_stats(img: &MvsImage) -> (Vec<f32>, Vec<f32>) {
    let (w, h) = (img.width as i32, img.height as i32);
    let mut mean = vec![0.0; img.gray.len()];
    let mut inv_std = vec![0.0; img.gray.len()];
    for y in RADIUS..h - RADIUS {
        for x in RADIUS..w - RADIUS {
            let (mut s, mut s2, mut n) = (0.0f32, 0.0f32, 0.0f32);
            for dy in (-RADIUS..=RADIUS).step_by(STRIDE as usize) {
                for dx in (-RADIUS..=RADIUS).step_by(STRIDE as usize) {
                    let v = img.gray[((y + dy) * w + x + dx) as usize];
                    s += v;
                    s2 += v * v;
                    n += 1.0;
                }
            }
            let m = s / n;
            let sd = (s2 / n - m * m).max(0.0).sqrt();
            let i = (y * w + x) as usize;
            mean[i] = m;
            inv_std[i] = if sd >= MIN_TEXTURE { 1.0 / sd } else { 0.0 };
        }
    }
    (mean, inv_std)
}

/// Per pixel, whether its window lies in the photo and is too flat to match: no texture at all,
/// rather than texture without a consistent depth.
pub fn flat_pixels(img: &MvsImage) -> Vec<bool> {
    let (_, inv_std) = window_stats(img);
    let (w, h) = (img.width as i32, img.height as i32);
    (0..inv_std.len())
        .map(|i| {
            let (x, y) = ((i as i32) % w, (i as i32) / w);
            inv_std[i] == 0.0 && x >= RADIUS && y >= RADIUS && x < w - RADIUS && y < h - RADIUS
        })
        .collect()
}

fn bilinear(img: &MvsImage, x: f32, y: f32) -> Option<f32> {
    let (fx, fy) = (x - 0.5, y - 0.5);
    if fx < 0.0 || fy < 0.0 || fx >= (img.width - 1) as f32 || fy >= (img.height - 1) as f32 {
        return None;
    }
    let (x0, y0) = (fx as usize, fy as usize);
    let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
    let w = img.width;
    let g = &img.gray;
    let top = g[y0 * w + x0] * (1.0 - ax) + g[y0 * w + x0 + 1] * ax;
    let bottom = g[(y0 + 1) * w + x0] * (1.0 - ax) + g[(y0 + 1) * w + x0 + 1] * ax;
    Some(top * (1.0 - ay) + bottom * ay)
}

/// 1 − NCC of the reference window at pixel (x, y) under `plane`, in each source; the mean of
/// the best `best` of them.
fn cost(
    reference: &MvsImage,
    sources: &[Source<'_>],
    stats: (&[f32], &[f32]),
    x: i32,
    y: i32,
    plane: Plane,
    best: usize,
) -> f32 {
    let w = reference.width as i32;
    let i = (y * w + x) as usize;
    let (mean, inv_std) = (stats.0[i], stats.1[i]);
    let k = &reference.k_inv;
    let ray = *k * Vec3::new(x as f32 + 0.5, y as f32 + 0.5, 1.0);
    let point = ray * plane.depth;
    let offset = plane.normal.dot(point);
    let mut costs = [NO_VIEW; MAX_SOURCES];
    for (s, src) in sources.iter().enumerate() {
        let (mut sr, mut ss, mut sss, mut n) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        let mut seen = true;
        'window: for dy in (-RADIUS..=RADIUS).step_by(STRIDE as usize) {
            for dx in (-RADIUS..=RADIUS).step_by(STRIDE as usize) {
                let q = *k * Vec3::new((x + dx) as f32 + 0.5, (y + dy) as f32 + 0.5, 1.0);
                let denom = plane.normal.dot(q);
                if denom.abs() < 1e-6 {
                    seen = false;
                    break 'window;
                }
                let p = src.rotation * (q * (offset / denom)) + src.translation;
                if p.z <= 1e-6 {
                    seen = false;
                    break 'window;
                }
                let pix = src.image.project(p);
                let Some(v) = bilinear(src.image, pix.0, pix.1) else {
                    seen = false;
                    break 'window;
                };
                let r = reference.gray[((y + dy) * w + x + dx) as usize] - mean;
                sr += r * v;
                ss += v;
                sss += v * v;
                n += 1.0;
            }
        }
        if !seen {
            continue;
        }
        let sm = ss / n;
        let var = (sss / n - sm * sm).max(0.0);
        if var < 1e-8 {
            continue;
        }
        // Σ r (v − v̄) = Σ r v, since Σ r = 0.
        let ncc = sr / n * inv_std / var.sqrt();
        costs[s] = 1.0 - ncc.clamp(-1.0, 1.0);
    }
    let costs = &mut costs[..sources.len()];
    costs.sort_by(f32::total_cmp);
    let best = best.clamp(1, costs.len().max(1));
    costs[..best].iter().sum::<f32>() / best as f32
}

/// A small integer hash as a uniform in [0, 1): per pixel and round, independent of threads.
pub(super) fn uniform(seed: u64) -> f32 {
    rng::unit_f32(rng::mix64(seed.wrapping_mul(rng::GOLDEN)))
}

/// A random unit normal facing the camera along `ray` (within 80° of it).
fn random_normal(ray: Vec3, seed: u64) -> Vec3 {
    let toward = -ray.normalize();
    let r = Vec3::new(uniform(seed), uniform(seed + 1), uniform(seed + 2)) * 2.0 - Vec3::ONE;
    let n = (toward + r * 0.9).normalize_or(toward);
    if n.dot(toward) < 0.17 { toward } else { n }
}

/// Depth where the plane of a neighbour's pixel meets this pixel's ray.
fn propagated(plane: Plane, from_ray: Vec3, ray: Vec3) -> Option<f32> {
    let denom = plane.normal.dot(ray);
    (denom.abs() > 1e-6).then(|| plane.normal.dot(from_ray * plane.depth) / denom).filter(|d| *d > 0.0)
}

/// The depth map of `reference` against `sources` (their indices in `images`). Each pixel starts
/// from a random plane or, where `seed` has one that matches better, from the seed's.
pub fn depth_map(
    images: &[MvsImage],
    reference: usize,
    sources: &[usize],
    s: &MvsSettings,
    seed: Option<&Seed>,
) -> DepthMap {
    let img = &images[reference];
    let (w, h) = (img.width as i32, img.height as i32);
    let srcs: Vec<Source<'_>> = sources
        .iter()
        .map(|&j| {
            let o = &images[j];
            // x_src = R_srcᵀ (R_ref x_ref + C_ref − C_src)
            let rotation = o.rotation.transpose() * img.rotation;
            let translation = o.rotation.transpose() * (img.center - o.center);
            Source { image: o, rotation, translation }
        })
        .collect();
    let (mean, inv_std) = window_stats(img);
    let stats = (&mean[..], &inv_std[..]);
    let n = img.gray.len();
    let ray_of = |x: i32, y: i32| img.k_inv * Vec3::new(x as f32 + 0.5, y as f32 + 0.5, 1.0);
    let (lo, hi) = (1.0 / s.max_depth, 1.0 / s.min_depth);
    let textured = |x: i32, y: i32| inv_std[(y * w + x) as usize] > 0.0;
    let seed0 = (reference as u64) << 40;
    let (planes, costs) = (0..n)
        .into_par_iter()
        .map(|i| {
            let (x, y) = ((i as i32) % w, (i as i32) / w);
            if !textured(x, y) {
                return (Plane::default(), NO_VIEW);
            }
            let ray = ray_of(x, y);
            let hash = seed0 ^ ((i as u64) << 8);
            let depth = 1.0 / (lo + (hi - lo) * uniform(hash));
            let random = Plane { depth, normal: random_normal(ray, hash + 3) };
            let random = (random, cost(img, &srcs, stats, x, y, random, s.best));
            let seeded = seed
                .map(|sd| Plane { depth: sd.depth[i], normal: sd.normal[i] })
                .filter(|p| p.depth >= s.min_depth && p.depth <= s.max_depth && p.normal.dot(ray) < 0.0)
                .map(|p| (p, cost(img, &srcs, stats, x, y, p, s.best)));
            match seeded {
                Some(sd) if sd.1 < random.1 => sd,
                _ => random,
            }
        })
        .unzip();
    let mut state = State { planes, costs };
    for round in 0..s.iterations {
        // Perturbations shrink round by round, as in COLMAP.
        let spread = 0.5f32.powi(round as i32 + 1);
        for colour in 0..2 {
            let updates: Vec<(usize, Plane, f32)> = (0..h)
                .into_par_iter()
                .flat_map_iter(|y| {
                    let st = &state;
                    let srcs = &srcs;
                    (0..w).filter(move |x| (x + y) % 2 == colour && textured(*x, y)).map(move |x| {
                        let i = (y * w + x) as usize;
                        let ray = ray_of(x, y);
                        let (mut best, mut best_cost) = (st.planes[i], st.costs[i]);
                        let mut consider = |p: Plane| {
                            if p.depth < s.min_depth || p.depth > s.max_depth {
                                return;
                            }
                            let c = cost(img, srcs, stats, x, y, p, s.best);
                            if c < best_cost {
                                best = p;
                                best_cost = c;
                            }
                        };
                        for (dx, dy) in NEIGHBOURS {
                            let (nx, ny) = (x + dx, y + dy);
                            if nx < 0 || ny < 0 || nx >= w || ny >= h || !textured(nx, ny) {
                                continue;
                            }
                            let np = st.planes[(ny * w + nx) as usize];
                            if let Some(depth) = propagated(np, ray_of(nx, ny), ray) {
                                consider(Plane { depth, normal: np.normal });
                            }
                        }
                        let seed = seed0 ^ ((i as u64) << 8) ^ ((round as u64 * 2 + colour as u64 + 1) << 32);
                        let own = st.planes[i];
                        let depth = own.depth * (1.0 + spread * 0.2 * (2.0 * uniform(seed) - 1.0));
                        consider(Plane { depth, normal: own.normal });
                        let tilt = random_normal(ray, seed + 5);
                        let normal = (own.normal + tilt * spread).normalize_or(own.normal);
                        if normal.dot(ray) < 0.0 {
                            consider(Plane { depth: own.depth, normal });
                        }
                        (i, best, best_cost)
                    })
                })
                .collect();
            for (i, p, c) in updates {
                state.planes[i] = p;
                state.costs[i] = c;
            }
        }
    }
    let depth =
        state.planes.iter().zip(&state.costs).map(|(p, c)| if *c <= s.max_cost { p.depth } else { 0.0 }).collect();
    DepthMap { width: img.width, height: img.height, depth, planar: 0 }
}
