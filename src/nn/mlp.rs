//! Small dense networks evaluated one sample at a time (the batch is parallel across
//! samples): ReLU hidden layers, a linear output. Weights are row-major per layer.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpShape {
    pub input: usize,
    pub hidden: usize,
    pub hidden_layers: usize,
    pub output: usize,
}

impl MlpShape {
    pub fn layer_count(&self) -> usize {
        self.hidden_layers + 1
    }

    /// (inputs, outputs) of layer `i` (no allocation: this runs per sample).
    pub fn layer(&self, i: usize) -> (usize, usize) {
        let ni = if i == 0 { self.input } else { self.hidden };
        let no = if i == self.hidden_layers { self.output } else { self.hidden };
        (ni, no)
    }

    /// (inputs, outputs) of each layer.
    pub fn layers(&self) -> Vec<(usize, usize)> {
        (0..self.layer_count()).map(|i| self.layer(i)).collect()
    }

    pub fn param_count(&self) -> usize {
        self.layers().iter().map(|(i, o)| i * o + o).sum()
    }

    /// Floats of activations kept for the backward pass (every layer's output).
    pub fn activation_count(&self) -> usize {
        (0..self.layer_count()).map(|i| self.layer(i).1).sum()
    }

    /// He-uniform weights, zero biases; the last layer is scaled by `last_scale`.
    pub fn init(&self, seed: u64, last_scale: f32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rand = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
        };
        let layers = self.layers();
        let mut p = Vec::with_capacity(self.param_count());
        for (li, &(i, o)) in layers.iter().enumerate() {
            let scale = (6.0 / i as f32).sqrt() * if li + 1 == layers.len() { last_scale } else { 1.0 };
            p.extend((0..i * o).map(|_| rand() * scale));
            p.extend(std::iter::repeat_n(0.0, o));
        }
        p
    }
}

/// Dot product in eight independent lanes, which the compiler turns into SIMD (a plain
/// float sum must keep its order and stays scalar).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Defines `pub fn $name`, which runs `$body` compiled for AVX where the processor has it:
/// eight lanes per instruction where the baseline has four. The same operations on the same
/// lanes (no fused multiply-add), so the same floats.
macro_rules! avx_dispatch {
    ($(#[$doc:meta])* $name:ident => $body:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx")]
                #[allow(clippy::too_many_arguments)]
                fn avx($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx") {
                    // SAFETY: the processor has AVX (checked just above).
                    return unsafe { avx($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

avx_dispatch! {
    /// Forward pass; `acts` receives every layer's output (post-ReLU for hidden layers), the
    /// last `shape.output` floats being the network output.
    forward => forward_any(shape: &MlpShape, params: &[f32], input: &[f32], acts: &mut [f32])
}

#[inline(always)]
fn forward_any(shape: &MlpShape, params: &[f32], input: &[f32], acts: &mut [f32]) {
    let n_layers = shape.layer_count();
    let (mut p_off, mut a_off) = (0, 0);
    for li in 0..n_layers {
        let (ni, no) = shape.layer(li);
        let (w, rest) = params[p_off..].split_at(ni * no);
        let b = &rest[..no];
        let (prev, cur) = acts.split_at_mut(a_off);
        let x: &[f32] = if li == 0 { input } else { &prev[a_off - ni..] };
        let last = li + 1 == n_layers;
        for o in 0..no {
            let s = b[o] + dot(&w[o * ni..(o + 1) * ni], x);
            cur[o] = if last { s } else { s.max(0.0) };
        }
        p_off += ni * no + no;
        a_off += no;
    }
}

avx_dispatch! {
    /// Backward pass from dL/doutput; accumulates dL/dparams into `grad` and writes dL/dinput.
    /// `scratch` needs `2 × max layer width` floats.
    backward => backward_any(
        shape: &MlpShape,
        params: &[f32],
        input: &[f32],
        acts: &[f32],
        dout: &[f32],
        grad: &mut [f32],
        dinput: &mut [f32],
        scratch: &mut Vec<f32>,
    )
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_any(
    shape: &MlpShape,
    params: &[f32],
    input: &[f32],
    acts: &[f32],
    dout: &[f32],
    grad: &mut [f32],
    dinput: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let n_layers = shape.layer_count();
    let width = shape.input.max(shape.hidden).max(shape.output);
    scratch.resize(2 * width, 0.0);
    let (cur, next) = scratch.split_at_mut(width);
    cur[..shape.output].copy_from_slice(dout);
    let mut p_end = params.len();
    let mut a_end = acts.len();
    for li in (0..n_layers).rev() {
        let (ni, no) = shape.layer(li);
        let p_off = p_end - (ni * no + no);
        let a_off = a_end - no;
        let last = li + 1 == n_layers;
        // Through the ReLU of hidden layers.
        if !last {
            for o in 0..no {
                if acts[a_off + o] <= 0.0 {
                    cur[o] = 0.0;
                }
            }
        }
        let x: &[f32] = if li == 0 { input } else { &acts[a_off - ni..a_off] };
        let w = &params[p_off..p_off + ni * no];
        let (gw, gb) = grad[p_off..p_end].split_at_mut(ni * no);
        next[..ni].fill(0.0);
        for o in 0..no {
            let d = cur[o];
            if d == 0.0 {
                continue;
            }
            gb[o] += d;
            let row = &w[o * ni..(o + 1) * ni];
            let grow = &mut gw[o * ni..(o + 1) * ni];
            for (g, xi) in grow.iter_mut().zip(&x[..ni]) {
                *g += d * xi;
            }
            for (nx, r) in next[..ni].iter_mut().zip(row) {
                *nx += d * r;
            }
        }
        cur[..ni].copy_from_slice(&next[..ni]);
        p_end = p_off;
        a_end = a_off;
    }
    dinput.copy_from_slice(&cur[..shape.input]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX build of the passes gives the baseline's floats exactly (where the processor
    /// has AVX; elsewhere both are the baseline).
    #[test]
    fn the_avx_passes_give_the_same_floats() {
        let shape = MlpShape { input: 35, hidden: 64, hidden_layers: 2, output: 16 };
        let p = shape.init(3, 1.0);
        let input: Vec<f32> = (0..35).map(|i| (i as f32 * 0.37).sin()).collect();
        let dout: Vec<f32> = (0..16).map(|i| (i as f32 * 0.73).cos()).collect();
        let run = |any: bool| {
            let mut acts = vec![0.0; shape.activation_count()];
            let (mut grad, mut din, mut scratch) = (vec![0.0; p.len()], vec![0.0; 35], Vec::new());
            if any {
                forward_any(&shape, &p, &input, &mut acts);
                backward_any(&shape, &p, &input, &acts, &dout, &mut grad, &mut din, &mut scratch);
            } else {
                forward(&shape, &p, &input, &mut acts);
                backward(&shape, &p, &input, &acts, &dout, &mut grad, &mut din, &mut scratch);
            }
            (acts, grad, din)
        };
        let (a, b) = (run(true), run(false));
        assert!(a.1.iter().any(|g| *g != 0.0));
        assert_eq!(a, b);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let shape = MlpShape { input: 5, hidden: 8, hidden_layers: 2, output: 3 };
        let mut p = shape.init(7, 1.0);
        for (i, v) in p.iter_mut().enumerate() {
            *v += 0.01 * (i as f32 * 0.3).sin(); // non-zero biases
        }
        let input = [0.3, -0.7, 0.2, 0.9, -0.1];
        let dout = [0.5, -1.0, 0.25];
        let loss = |p: &[f32], x: &[f32]| {
            let mut acts = vec![0.0; shape.activation_count()];
            forward(&shape, p, x, &mut acts);
            acts[acts.len() - 3..].iter().zip(&dout).map(|(a, b)| (a * b) as f64).sum::<f64>()
        };
        let mut acts = vec![0.0; shape.activation_count()];
        forward(&shape, &p, &input, &mut acts);
        let mut grad = vec![0.0; p.len()];
        let mut dinput = vec![0.0; 5];
        backward(&shape, &p, &input, &acts, &dout, &mut grad, &mut dinput, &mut Vec::new());
        let h = 1e-3;
        for i in (0..p.len()).step_by(5) {
            let old = p[i];
            p[i] = old + h;
            let lp = loss(&p, &input);
            p[i] = old - h;
            let lm = loss(&p, &input);
            p[i] = old;
            let fd = (lp - lm) / (2.0 * h as f64);
            assert!((fd - grad[i] as f64).abs() < 2e-3, "param {i}: fd {fd} vs {}", grad[i]);
        }
        for a in 0..5 {
            let mut xp = input;
            let mut xm = input;
            xp[a] += h;
            xm[a] -= h;
            let fd = (loss(&p, &xp) - loss(&p, &xm)) / (2.0 * h as f64);
            assert!((fd - dinput[a] as f64).abs() < 2e-3, "input {a}: fd {fd} vs {}", dinput[a]);
        }
    }
}
