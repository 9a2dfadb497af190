//! A small ray tracer: exact images of a procedural world from any camera.

use super::primitive::Shape;
use super::texture::{Material, fbm};
use crate::geometry::Mesh;
use crate::geometry::{Intrinsics, Pose};
use crate::io::images::linear_to_srgb;
use glam::{DVec2, DVec3};
use image::{GrayImage, RgbImage, RgbaImage};
use rayon::prelude::*;

pub struct Object {
    pub shape: Shape,
    pub material: Material,
}

pub enum Light {
    /// Light arriving along `dir` (pointing from the light into the scene).
    Directional { dir: DVec3, color: DVec3 },
    /// A bulb, falling off with distance.
    Point { pos: DVec3, color: DVec3 },
}

#[derive(Clone, Copy)]
pub enum Background {
    /// Sky and hazy ground at infinity, with soft clouds.
    Sky,
    /// Black, as a turntable's cloth or a studio backdrop.
    Black,
}

pub struct World {
    pub objects: Vec<Object>,
    pub lights: Vec<Light>,
    pub ambient: f64,
    pub background: Background,
}

/// Stratified sub-pixel offsets: 2 × 2 samples average over the pixel around its centre.
/// A pixel's light: the sum over its subpixel rays, that over those that hit the scene, and
/// how many did.
struct Pixel {
    all: DVec3,
    covered: DVec3,
    hits: u32,
}

const SUBPIXELS: [(f64, f64); 4] = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)];

impl World {
    fn nearest(&self, o: DVec3, d: DVec3) -> Option<(usize, f64, DVec3)> {
        self.objects
            .iter()
            .enumerate()
            .filter_map(|(i, obj)| obj.shape.intersect(o, d).map(|h| (i, h.t, h.normal)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn occluded(&self, o: DVec3, d: DVec3, max_t: f64) -> bool {
        self.objects.iter().any(|obj| obj.shape.intersect(o, d).is_some_and(|h| h.t < max_t))
    }

    fn background(&self, d: DVec3) -> DVec3 {
        match self.background {
            Background::Black => DVec3::ZERO,
            Background::Sky => {
                let up = d.z;
                if up >= 0.0 {
                    let horizon = DVec3::new(0.75, 0.82, 0.9);
                    let zenith = DVec3::new(0.25, 0.42, 0.75);
                    let cloud = fbm(d * 6.0);
                    horizon.lerp(zenith, up.sqrt()).lerp(DVec3::splat(0.95), ((cloud - 0.5) * 2.5).clamp(0.0, 0.8))
                } else {
                    DVec3::new(0.35, 0.32, 0.27) * (0.7 + 0.6 * fbm(d * 20.0))
                }
            }
        }
    }

    /// Linear radiance along a ray, and whether it hit the scene's geometry.
    pub fn trace(&self, o: DVec3, d: DVec3) -> (DVec3, bool) {
        let Some((i, t, n)) = self.nearest(o, d) else {
            return (self.background(d), false);
        };
        let p = o + d * t;
        // Shade the side the ray sees (quads are visible from both sides).
        let n = if n.dot(d) > 0.0 { -n } else { n };
        let q = p + n * 1e-6;
        let mut light = DVec3::splat(self.ambient);
        for l in &self.lights {
            let (to_light, dist, color) = match *l {
                Light::Directional { dir, color } => (-dir.normalize(), f64::INFINITY, color),
                Light::Point { pos, color } => {
                    let v = pos - q;
                    let dist = v.length();
                    (v / dist, dist, color / (1.0 + 0.15 * dist * dist))
                }
            };
            let cos = n.dot(to_light);
            if cos > 0.0 && !self.occluded(q, to_light, dist) {
                light += color * cos;
            }
        }
        (self.objects[i].material.albedo(p) * light, true)
    }

    /// An sRGB image and a 0/255 coverage mask of the world seen by a camera.
    pub fn render(&self, k: &Intrinsics, pose: &Pose) -> (RgbImage, GrayImage) {
        let pixels = self.pixels(k, pose);
        let rgb = pixels.iter().flat_map(|p| (p.all / SUBPIXELS.len() as f64).to_array().map(linear_to_srgb)).collect();
        let mask = pixels.iter().map(|p| if p.hits * 2 >= SUBPIXELS.len() as u32 { 255 } else { 0 }).collect();
        (
            RgbImage::from_raw(k.width, k.height, rgb).expect("one pixel each"),
            GrayImage::from_raw(k.width, k.height, mask).expect("one pixel each"),
        )
    }

    /// The photo as a renderer with a transparent background writes it: the colour of what the
    /// scene covers, and how much of the pixel it covers as alpha.
    pub fn render_rgba(&self, k: &Intrinsics, pose: &Pose) -> RgbaImage {
        let pixels = self.pixels(k, pose);
        let rgba = pixels
            .iter()
            .flat_map(|p| {
                let [r, g, b] =
                    if p.hits > 0 { (p.covered / p.hits as f64).to_array().map(linear_to_srgb) } else { [0; 3] };
                [r, g, b, (255 * p.hits / SUBPIXELS.len() as u32) as u8]
            })
            .collect();
        RgbaImage::from_raw(k.width, k.height, rgba).expect("one pixel each")
    }

    /// Every pixel, row by row, from its subpixel rays.
    fn pixels(&self, k: &Intrinsics, pose: &Pose) -> Vec<Pixel> {
        let (w, h) = (k.width as usize, k.height as usize);
        (0..w * h)
            .into_par_iter()
            .map(|i| {
                let mut p = Pixel { all: DVec3::ZERO, covered: DVec3::ZERO, hits: 0 };
                for (sx, sy) in SUBPIXELS {
                    let xy = DVec2::new((i % w) as f64 + sx, (i / w) as f64 + sy);
                    let (c, hit) = self.trace(pose.center, (pose.rotation * k.unproject(xy)).normalize());
                    p.all += c;
                    if hit {
                        p.covered += c;
                        p.hits += 1;
                    }
                }
                p
            })
            .collect()
    }

    /// The ground-truth surface: every object, tessellated.
    pub fn mesh(&self) -> Mesh {
        let mut m = Mesh::default();
        for o in &self.objects {
            m.append(&o.shape.tessellate(48));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The projection of a sphere's centre is covered and a point far outside it is not:
    /// the renderer uses the same camera model as the rest of Weave.
    #[test]
    fn silhouette_matches_projection() {
        let world = World {
            objects: vec![Object {
                shape: Shape::Sphere { center: DVec3::new(0.3, 0.1, 0.0), radius: 0.3 },
                material: Material::Solid(DVec3::splat(0.5)),
            }],
            lights: vec![Light::Directional { dir: DVec3::new(0.0, 0.0, -1.0), color: DVec3::ONE }],
            ambient: 0.2,
            background: Background::Sky,
        };
        let k = Intrinsics::centered(80, 60, 70.0);
        let pose = Pose::look_at(DVec3::new(0.0, -3.0, 0.5), DVec3::ZERO, DVec3::Z);
        let (_, mask) = world.render(&k, &pose);
        let c = k.project(pose.to_camera(DVec3::new(0.3, 0.1, 0.0))).unwrap();
        assert_eq!(mask.get_pixel(c.x as u32, c.y as u32)[0], 255);
        let covered = mask.pixels().filter(|p| p[0] == 255).count() as f64;
        // Projected disc area ≈ π (f r / depth)², depth ≈ distance to the centre.
        let depth = (DVec3::new(0.3, 0.1, 0.0) - pose.center).length();
        let expected = std::f64::consts::PI * (70.0 * 0.3 / depth).powi(2);
        assert!((covered - expected).abs() / expected < 0.1, "{covered} vs {expected}");
    }
}
