//! Procedural solid textures: colour as a function of 3D position, so every view of a point
//! agrees on its colour.

use glam::DVec3;

#[derive(Clone, Copy, Debug)]
pub enum Material {
    /// One colour: the textureless case (walls) that photometric matching cannot lock onto.
    Solid(DVec3),
    /// Multi-scale noise between two colours over a faint checker: rich texture for matching.
    Speckled { a: DVec3, b: DVec3, scale: f64 },
    /// Square tiles with grout lines, like a floor.
    Tiles { a: DVec3, b: DVec3, size: f64 },
}

impl Material {
    pub fn albedo(&self, p: DVec3) -> DVec3 {
        match *self {
            Material::Solid(c) => c,
            Material::Speckled { a, b, scale } => {
                let q = p * scale;
                let n = fbm(q);
                let hue = fbm(q * 0.37 + DVec3::splat(17.0));
                let checker = if (q.x.floor() + q.y.floor() + q.z.floor()) as i64 % 2 == 0 { 1.0 } else { 0.8 };
                let tint = DVec3::new(1.0, 0.85 + 0.3 * hue, 1.15 - 0.3 * hue);
                (a.lerp(b, smooth((n - 0.25) * 2.0)) * tint * checker).clamp(DVec3::ZERO, DVec3::ONE)
            }
            Material::Tiles { a, b, size } => {
                let q = p / size;
                let (fx, fy) = (q.x - q.x.floor(), q.y - q.y.floor());
                if fx < 0.04 || fy < 0.04 {
                    DVec3::splat(0.08)
                } else if (q.x.floor() + q.y.floor()) as i64 % 2 == 0 {
                    a * (0.85 + 0.3 * fbm(p * 9.0))
                } else {
                    b * (0.85 + 0.3 * fbm(p * 9.0))
                }
            }
        }
    }
}

fn smooth(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn lattice(x: i64, y: i64, z: i64) -> f64 {
    let mut h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (z as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 31;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^= h >> 32;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Trilinearly interpolated lattice noise in [0, 1].
pub fn value_noise(p: DVec3) -> f64 {
    let f = p.floor();
    let (x, y, z) = (f.x as i64, f.y as i64, f.z as i64);
    let t = p - f;
    let w = t * t * (DVec3::splat(3.0) - 2.0 * t);
    let mut acc = 0.0;
    for (dx, dy, dz) in (0..8).map(|i| (i & 1, (i >> 1) & 1, (i >> 2) & 1)) {
        let wx = if dx == 1 { w.x } else { 1.0 - w.x };
        let wy = if dy == 1 { w.y } else { 1.0 - w.y };
        let wz = if dz == 1 { w.z } else { 1.0 - w.z };
        acc += wx * wy * wz * lattice(x + dx, y + dy, z + dz);
    }
    acc
}

/// Three octaves of value noise, in [0, 1].
pub fn fbm(p: DVec3) -> f64 {
    (value_noise(p) * 4.0 + value_noise(p * 2.03) * 2.0 + value_noise(p * 4.01)) / 7.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_bounded_deterministic_and_varied() {
        let samples: Vec<f64> = (0..500).map(|i| fbm(DVec3::new(i as f64 * 0.173, i as f64 * 0.071, 1.3))).collect();
        assert!(samples.iter().all(|v| (0.0..=1.0).contains(v)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let var = samples.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / samples.len() as f64;
        assert!(var > 1e-3, "noise is nearly flat: var {var}");
        assert_eq!(fbm(DVec3::new(0.3, 0.4, 0.5)), fbm(DVec3::new(0.3, 0.4, 0.5)));
    }
}
