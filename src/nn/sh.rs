//! Real spherical harmonics up to degree 4 (16 coefficients) of a unit direction: the view
//! direction encoding of the colour network (as instant-ngp and NeuS2 use).

pub const COEFFS: usize = 16;
/// The encoding's degree as instant-ngp counts it: degree d has d² coefficients (bands 0 to
/// d - 1).
pub const DEGREE: u32 = 4;

/// Coefficients of an encoding of degree `degree` (at most [`DEGREE`]); degree 1 is the constant
/// band alone, which carries no direction.
pub fn coeffs_to_degree(degree: u32) -> usize {
    (degree.min(DEGREE) as usize).pow(2)
}

pub fn encode(d: [f32; 3], out: &mut [f32]) {
    let [x, y, z] = d;
    let (xx, yy, zz) = (x * x, y * y, z * z);
    out[0] = 0.282_094_8;
    out[1] = -0.488_602_5 * y;
    out[2] = 0.488_602_5 * z;
    out[3] = -0.488_602_5 * x;
    out[4] = 1.092_548_4 * x * y;
    out[5] = -1.092_548_4 * y * z;
    out[6] = 0.315_391_57 * (3.0 * zz - 1.0);
    out[7] = -1.092_548_4 * x * z;
    out[8] = 0.546_274_2 * (xx - yy);
    out[9] = -0.590_043_6 * y * (3.0 * xx - yy);
    out[10] = 2.890_611_4 * x * y * z;
    out[11] = -0.457_045_8 * y * (5.0 * zz - 1.0);
    out[12] = 0.373_176_33 * z * (5.0 * zz - 3.0);
    out[13] = -0.457_045_8 * x * (5.0 * zz - 1.0);
    out[14] = 1.445_305_7 * z * (xx - yy);
    out[15] = -0.590_043_6 * x * (xx - 3.0 * yy);
}

/// dL/dd given dL/dout (the direction's components treated as independent), for pose
/// refinement, which rotates view directions.
pub fn backward(d: [f32; 3], dout: &[f32]) -> [f32; 3] {
    const A: f32 = 0.488_602_5;
    const B: f32 = 1.092_548_4;
    const C: f32 = 0.315_391_57;
    const D: f32 = 0.546_274_2;
    const E: f32 = 0.590_043_6;
    const F: f32 = 2.890_611_4;
    const G: f32 = 0.457_045_8;
    const H: f32 = 0.373_176_33;
    const I: f32 = 1.445_305_7;
    let [x, y, z] = d;
    let (xx, yy, zz) = (x * x, y * y, z * z);
    // ∂out[k]/∂(x, y, z) for k = 1..15 (out[0] is constant).
    let jac: [[f32; 3]; 15] = [
        [0.0, -A, 0.0],
        [0.0, 0.0, A],
        [-A, 0.0, 0.0],
        [B * y, B * x, 0.0],
        [0.0, -B * z, -B * y],
        [0.0, 0.0, 6.0 * C * z],
        [-B * z, 0.0, -B * x],
        [2.0 * D * x, -2.0 * D * y, 0.0],
        [-6.0 * E * x * y, -3.0 * E * (xx - yy), 0.0],
        [F * y * z, F * x * z, F * x * y],
        [0.0, -G * (5.0 * zz - 1.0), -10.0 * G * y * z],
        [0.0, 0.0, H * (15.0 * zz - 3.0)],
        [-G * (5.0 * zz - 1.0), 0.0, -10.0 * G * x * z],
        [2.0 * I * x * z, -2.0 * I * y * z, I * (xx - yy)],
        [-3.0 * E * (xx - yy), 6.0 * E * x * y, 0.0],
    ];
    let mut g = [0.0f32; 3];
    for (row, &d) in jac.iter().zip(&dout[1..]) {
        for a in 0..3 {
            g[a] += row[a] * d;
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_matches_finite_differences() {
        let d = [0.36f32, -0.48, 0.8];
        let dout: Vec<f32> = (0..COEFFS).map(|i| (i as f32 * 0.77).cos()).collect();
        let loss = |d: [f32; 3]| {
            let mut out = [0f32; COEFFS];
            encode(d, &mut out);
            out.iter().zip(&dout).map(|(a, b)| (a * b) as f64).sum::<f64>()
        };
        let g = backward(d, &dout);
        for a in 0..3 {
            let h = 1e-3;
            let (mut p, mut m) = (d, d);
            p[a] += h;
            m[a] -= h;
            let fd = (loss(p) - loss(m)) / (2.0 * h as f64);
            assert!((fd - g[a] as f64).abs() < 1e-3 * fd.abs().max(1.0), "axis {a}: fd {fd} vs {}", g[a]);
        }
    }

    /// The basis is orthonormal on the sphere: check by Monte-Carlo-free quadrature.
    #[test]
    fn basis_is_orthonormal() {
        let n = 200;
        let mut gram = [[0f64; COEFFS]; COEFFS];
        let mut out = [0f32; COEFFS];
        for i in 0..n {
            for j in 0..2 * n {
                let theta = std::f64::consts::PI * (i as f64 + 0.5) / n as f64;
                let phi = std::f64::consts::PI * (j as f64 + 0.5) / n as f64;
                let d = [(theta.sin() * phi.cos()) as f32, (theta.sin() * phi.sin()) as f32, theta.cos() as f32];
                encode(d, &mut out);
                let w = theta.sin() * (std::f64::consts::PI / n as f64).powi(2);
                for a in 0..COEFFS {
                    for b in 0..COEFFS {
                        gram[a][b] += out[a] as f64 * out[b] as f64 * w;
                    }
                }
            }
        }
        for a in 0..COEFFS {
            for b in 0..COEFFS {
                let expect = if a == b { 1.0 } else { 0.0 };
                assert!((gram[a][b] - expect).abs() < 1e-3, "<Y{a}, Y{b}> = {}", gram[a][b]);
            }
        }
    }
}
