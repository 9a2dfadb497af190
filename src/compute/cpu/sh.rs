//! Real spherical harmonics up to degree 4 (16 coefficients) of a unit direction: the view
//! direction encoding of the colour network (as instant-ngp and NeuS2 use).

pub const COEFFS: usize = 16;

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

#[cfg(test)]
mod tests {
    use super::*;

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
