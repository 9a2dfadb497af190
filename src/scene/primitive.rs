//! Shapes with exact ray intersection (for rendering) and a tessellation (the ground-truth mesh).

use crate::geometry::Mesh;
use glam::DVec3;
use std::f64::consts::{PI, TAU};

#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Sphere {
        center: DVec3,
        radius: f64,
    },
    /// Axis-aligned box.
    Cuboid {
        min: DVec3,
        max: DVec3,
    },
    /// Upright (z) cylinder from `base` to `base + height·z`, top cap only: the bottom rests
    /// on something and is never seen.
    Column {
        base: DVec3,
        radius: f64,
        height: f64,
    },
    /// Rectangle `center ± u ± v` (u ⟂ v, half extents); faces `u × v`, visible from that side.
    Quad {
        center: DVec3,
        u: DVec3,
        v: DVec3,
    },
}

pub struct Hit {
    pub t: f64,
    pub normal: DVec3,
}

const EPS: f64 = 1e-9;

impl Shape {
    pub fn intersect(&self, o: DVec3, d: DVec3) -> Option<Hit> {
        match *self {
            Shape::Sphere { center, radius } => {
                let oc = o - center;
                let b = oc.dot(d);
                let c = oc.length_squared() - radius * radius;
                let disc = b * b - c;
                if disc < 0.0 {
                    return None;
                }
                let s = disc.sqrt();
                let t = if -b - s > EPS { -b - s } else { -b + s };
                (t > EPS).then(|| Hit { t, normal: (o + d * t - center) / radius })
            }
            Shape::Cuboid { min, max } => {
                let inv = d.recip();
                let (t0, t1) = ((min - o) * inv, (max - o) * inv);
                let (tmin, tmax) = (t0.min(t1), t0.max(t1));
                let near = tmin.max_element();
                let far = tmax.min_element();
                if near > far || far <= EPS {
                    return None;
                }
                let t = if near > EPS { near } else { far };
                let p = o + d * t;
                let center = (min + max) * 0.5;
                let rel = (p - center) / ((max - min) * 0.5);
                let a = rel.abs();
                let normal = if a.x >= a.y && a.x >= a.z {
                    DVec3::X * rel.x.signum()
                } else if a.y >= a.z {
                    DVec3::Y * rel.y.signum()
                } else {
                    DVec3::Z * rel.z.signum()
                };
                Some(Hit { t, normal })
            }
            Shape::Column { base, radius, height } => {
                let mut best: Option<Hit> = None;
                let mut consider = |t: f64, normal: DVec3| {
                    if t > EPS && best.as_ref().is_none_or(|b| t < b.t) {
                        best = Some(Hit { t, normal });
                    }
                };
                let (ox, oy) = (o.x - base.x, o.y - base.y);
                let a = d.x * d.x + d.y * d.y;
                if a > 1e-15 {
                    let b = ox * d.x + oy * d.y;
                    let c = ox * ox + oy * oy - radius * radius;
                    let disc = b * b - a * c;
                    if disc >= 0.0 {
                        for t in [(-b - disc.sqrt()) / a, (-b + disc.sqrt()) / a] {
                            let z = o.z + d.z * t - base.z;
                            if (0.0..=height).contains(&z) {
                                let p = o + d * t;
                                consider(t, DVec3::new(p.x - base.x, p.y - base.y, 0.0) / radius);
                            }
                        }
                    }
                }
                if d.z.abs() > 1e-15 {
                    let t = (base.z + height - o.z) / d.z;
                    let p = o + d * t;
                    if (p.x - base.x).powi(2) + (p.y - base.y).powi(2) <= radius * radius {
                        consider(t, DVec3::Z);
                    }
                }
                best
            }
            Shape::Quad { center, u, v } => {
                let n = u.cross(v).normalize();
                let denom = d.dot(n);
                if denom.abs() < 1e-15 {
                    return None;
                }
                let t = (center - o).dot(n) / denom;
                let rel = o + d * t - center;
                let inside = rel.dot(u).abs() <= u.length_squared() && rel.dot(v).abs() <= v.length_squared();
                (t > EPS && inside).then_some(Hit { t, normal: n })
            }
        }
    }

    /// Triangles with outward (visible-side) winding; `segments` sets curved-surface detail.
    pub fn tessellate(&self, segments: usize) -> Mesh {
        let mut m = Mesh::default();
        let quad = |m: &mut Mesh, a: DVec3, b: DVec3, c: DVec3, d: DVec3| {
            let base = m.vertices.len() as u32;
            m.vertices.extend([a, b, c, d].map(|p| p.as_vec3()));
            m.triangles.push([base, base + 1, base + 2]);
            m.triangles.push([base, base + 2, base + 3]);
        };
        match *self {
            Shape::Sphere { center, radius } => {
                let (nu, nv) = (2 * segments, segments);
                let at = |i: usize, j: usize| {
                    let (phi, theta) = (TAU * i as f64 / nu as f64, PI * j as f64 / nv as f64);
                    center + radius * DVec3::new(theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos())
                };
                for j in 0..nv {
                    for i in 0..nu {
                        quad(&mut m, at(i, j), at(i, j + 1), at(i + 1, j + 1), at(i + 1, j));
                    }
                }
            }
            Shape::Cuboid { min, max } => {
                let c =
                    |x: usize, y: usize, z: usize| DVec3::new([min.x, max.x][x], [min.y, max.y][y], [min.z, max.z][z]);
                quad(&mut m, c(0, 0, 0), c(0, 1, 0), c(1, 1, 0), c(1, 0, 0)); // -z
                quad(&mut m, c(0, 0, 1), c(1, 0, 1), c(1, 1, 1), c(0, 1, 1)); // +z
                quad(&mut m, c(0, 0, 0), c(1, 0, 0), c(1, 0, 1), c(0, 0, 1)); // -y
                quad(&mut m, c(0, 1, 0), c(0, 1, 1), c(1, 1, 1), c(1, 1, 0)); // +y
                quad(&mut m, c(0, 0, 0), c(0, 0, 1), c(0, 1, 1), c(0, 1, 0)); // -x
                quad(&mut m, c(1, 0, 0), c(1, 1, 0), c(1, 1, 1), c(1, 0, 1)); // +x
            }
            Shape::Column { base, radius, height } => {
                let n = 2 * segments;
                let ring = |i: usize, z: f64| {
                    let a = TAU * i as f64 / n as f64;
                    base + DVec3::new(radius * a.cos(), radius * a.sin(), z)
                };
                let top = base + DVec3::Z * height;
                for i in 0..n {
                    quad(&mut m, ring(i, 0.0), ring(i + 1, 0.0), ring(i + 1, height), ring(i, height));
                    quad(&mut m, top, ring(i, height), ring(i + 1, height), top);
                }
            }
            Shape::Quad { center, u, v } => {
                quad(&mut m, center - u - v, center + u - v, center + u + v, center - u + v);
            }
        }
        m.triangles.retain(|t| {
            let [a, b, c] = t.map(|i| m.vertices[i as usize]);
            (b - a).cross(c - a).length_squared() > 0.0
        });
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes() -> Vec<Shape> {
        vec![
            Shape::Sphere { center: DVec3::new(0.1, 0.2, 0.3), radius: 0.7 },
            Shape::Cuboid { min: DVec3::new(-0.5, -0.4, -0.3), max: DVec3::new(0.6, 0.5, 0.4) },
            Shape::Column { base: DVec3::new(0.0, 0.1, -0.5), radius: 0.4, height: 1.0 },
            Shape::Quad { center: DVec3::ZERO, u: DVec3::X * 0.8, v: DVec3::Y * 0.5 },
        ]
    }

    /// Rays towards points of the tessellation hit the analytic surface at (nearly) that point.
    #[test]
    fn tessellation_lies_on_the_traced_surface() {
        for s in shapes() {
            let mesh = s.tessellate(64);
            assert!(!mesh.triangles.is_empty());
            for t in mesh.triangles.iter().step_by(7) {
                let [a, b, c] = t.map(|i| mesh.vertices[i as usize].as_dvec3());
                let centroid = (a + b + c) / 3.0;
                let normal = (b - a).cross(c - a).normalize();
                let origin = centroid + normal * 3.0;
                let hit = s.intersect(origin, -normal).unwrap_or_else(|| panic!("{s:?} missed"));
                assert!((hit.t - 3.0).abs() < 0.01, "{s:?}: t = {}", hit.t);
                assert!(hit.normal.dot(normal) > 0.95, "{s:?}: normal disagrees");
            }
        }
    }

    #[test]
    fn areas_match_formulas() {
        let area = |s: Shape| s.tessellate(128).area() as f64;
        let sphere = area(shapes()[0]);
        assert!((sphere - 4.0 * PI * 0.49).abs() / sphere < 2e-3, "{sphere}");
        assert!((area(shapes()[1]) - 2.0 * (1.1 * 0.9 + 1.1 * 0.7 + 0.9 * 0.7)).abs() < 1e-5);
        let col = area(shapes()[2]);
        assert!((col - (TAU * 0.4 * 1.0 + PI * 0.16)).abs() / col < 2e-3);
        assert!((area(shapes()[3]) - 1.6).abs() < 1e-5);
    }

    #[test]
    fn misses_and_inside_hits() {
        let s = shapes();
        assert!(s[0].intersect(DVec3::new(5.0, 5.0, 5.0), DVec3::X).is_none());
        // From inside the box the ray leaves through the far wall.
        let h = s[1].intersect(DVec3::ZERO, DVec3::X).unwrap();
        assert!((h.t - 0.6).abs() < 1e-12 && h.normal == DVec3::X);
        // The quad is one-sided only for meshing; rays from behind still hit it.
        assert!(s[3].intersect(DVec3::new(0.0, 0.0, -1.0), DVec3::Z).is_some());
    }
}
