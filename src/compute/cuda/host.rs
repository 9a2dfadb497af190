//! The CUDA kernels built as host C++ (see `build.rs`) and run one thread at a time, checked
//! against the CPU backend on the same inputs. This is what keeps the kernels' arithmetic
//! tested on machines without a GPU; `tests/cuda.rs` checks the GPU build the same way.

use super::abi::{self, FieldDesc, RayIn, RayOut, TraceArgs, Weights};

unsafe extern "C" {
    fn weave_shim_set_thread(i: i32);
    fn trace_rays(a: TraceArgs);
    fn adam_step(
        p: *mut f32,
        m: *mut f32,
        v: *mut f32,
        g: *const f32,
        n: i32,
        scale: f32,
        step: f32,
        b1: f32,
        b2: f32,
        eps: f32,
    );
    fn occupancy_update(f: FieldDesc, p: Weights, active: i32, res: i32, reach: f32, cells: *mut u8);
    fn sdf_query(f: FieldDesc, p: Weights, active: i32, points: *const f32, n: i32, out: *mut f32);
}

/// Runs `kernel` for threads 0..n.
fn launch(n: usize, mut kernel: impl FnMut()) {
    for i in 0..n {
        // SAFETY: sets a thread-local index read by the kernel functions.
        unsafe { weave_shim_set_thread(i as i32) };
        kernel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::cpu::adam::{self, Adam};
    use crate::compute::cpu::hashgrid::HashGridConfig;
    use crate::field::{Field, FieldConfig, Occupancy, Params};
    use crate::train::render::{self, Ray, RayScratch, RenderSettings, Target};

    fn field() -> Field {
        Field::new(FieldConfig {
            grid: HashGridConfig { levels: 6, log2_table: 12, base_resolution: 4.0, max_resolution: 96.0 },
            hidden: 16,
            orientation: 1.0,
            init_radius: 0.5,
        })
    }

    /// Parameters away from their initial values, so every branch carries gradient.
    fn params(f: &Field) -> Params {
        let mut p = f.init_params(5);
        for (gi, a) in p.arrays_mut().into_iter().enumerate() {
            for (i, v) in a.iter_mut().enumerate() {
                *v += 0.05 * ((i * 7 + gi * 13) as f32 * 0.37).sin();
            }
        }
        p.variance = 0.35;
        p
    }

    fn settings() -> RenderSettings {
        RenderSettings {
            step: 2.0 / 64.0,
            max_samples: 96,
            active_levels: 5,
            fd_h: 0.01,
            anneal: 0.4,
            eikonal_weight: 0.1,
            mask_weight: 0.1,
            huber_delta: 0.1,
        }
    }

    fn rays() -> Vec<(Ray, f32, Target)> {
        (0..24)
            .map(|i| {
                let a = i as f32 * 0.7;
                let origin = [2.5 * a.cos(), 2.5 * a.sin(), 0.4 + 0.05 * i as f32];
                let aim = [0.2 * (a * 3.0).sin(), 0.15 * (a * 2.0).cos(), 0.1];
                let d: [f32; 3] = std::array::from_fn(|k| aim[k] - origin[k]);
                let l = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                let mask = (i % 3 == 0).then_some((i % 2) as f32);
                let target = Target { rgb: [0.2 + 0.02 * i as f32, 0.5, 0.7], mask };
                (Ray { origin, dir: d.map(|v| v / l) }, (i as f32 * 0.31).fract(), target)
            })
            .collect()
    }

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    /// The whole training step of a batch of rays: colours, losses, ray gradients and every
    /// parameter gradient against `render::trace`.
    #[test]
    fn trace_matches_the_cpu_backend() {
        let f = field();
        let mut p = params(&f);
        let cfg = settings();
        let mut occ = Occupancy::full(16);
        for (i, c) in occ.cells.iter_mut().enumerate() {
            *c = i % 5 != 0;
        }
        let batch = rays();
        let mut cpu_grads = p.zeros_like();
        let mut ws = RayScratch::default();
        let cpu: Vec<_> = batch
            .iter()
            .map(|(ray, jitter, target)| {
                render::trace(&f, &p, &occ, ray, &cfg, *jitter, &mut ws, Some(target), Some(&mut cpu_grads))
            })
            .collect();

        let mut grads = p.zeros_like();
        let mut d_variance = 0.0f32;
        let cells: Vec<u8> = occ.cells.iter().map(|&c| c as u8).collect();
        let ins: Vec<RayIn> = batch
            .iter()
            .map(|(ray, jitter, t)| RayIn {
                origin: ray.origin,
                dir: ray.dir,
                jitter: *jitter,
                rgb: t.rgb,
                mask: t.mask.unwrap_or(-1.0),
            })
            .collect();
        let mut outs = vec![RayOut::default(); ins.len()];
        let mut scratch = vec![0.0f32; ins.len() * cfg.max_samples * 2];
        let args = TraceArgs {
            field: FieldDesc::of(&f),
            params: abi::host_weights(&mut p),
            grads: abi::host_weights(&mut grads),
            d_variance: &mut d_variance as *mut f32 as u64,
            occupancy: cells.as_ptr() as u64,
            rays: ins.as_ptr() as u64,
            out: outs.as_mut_ptr() as u64,
            scratch: scratch.as_mut_ptr() as u64,
            cfg: abi::RenderSettings::of(&cfg),
            variance: p.variance,
            occ_res: occ.res as i32,
            n_rays: ins.len() as i32,
            train: 1,
        };
        // SAFETY: every pointer in `args` points into a live buffer of the size the kernel indexes.
        launch(ins.len(), || unsafe { trace_rays(args) });

        let mut hits = 0;
        for (c, g) in cpu.iter().zip(&outs) {
            hits += (c.samples > 0) as usize;
            assert_eq!(c.samples as f32, g.samples);
            for k in 0..3 {
                assert!(close(c.rgb[k], g.rgb[k], 1e-5), "rgb {:?} vs {:?}", c.rgb, g.rgb);
                assert!(close(c.d_origin[k], g.d_origin[k], 1e-3), "d_origin {:?} vs {:?}", c.d_origin, g.d_origin);
                assert!(close(c.d_dir[k], g.d_dir[k], 1e-3), "d_dir {:?} vs {:?}", c.d_dir, g.d_dir);
            }
            assert!(close(c.opacity, g.opacity, 1e-5) && close(c.depth, g.depth, 1e-5));
            assert!(close(c.loss, g.loss, 1e-5), "loss {} vs {}", c.loss, g.loss);
        }
        assert!(hits >= 12, "only {hits} rays reached the surface");
        assert!(close(cpu_grads.variance, d_variance, 1e-3), "{} vs {d_variance}", cpu_grads.variance);
        let names = ["grid", "sdf", "color", "bg_grid", "bg_density", "bg_color"];
        for (gi, (a, b)) in cpu_grads.arrays().iter().zip(grads.arrays()).take(6).enumerate() {
            let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(scale > 0.0, "{}: no gradient", names[gi]);
            let worst = a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(worst <= 1e-4 * scale, "{}: worst difference {worst} (largest gradient {scale})", names[gi]);
        }
    }

    #[test]
    fn adam_matches_the_cpu_backend() {
        let n = 1000;
        let mut cpu: Vec<f32> = (0..n).map(|i| (i as f32 * 0.1).sin()).collect();
        let grad: Vec<f32> = (0..n).map(|i| if i % 7 == 0 { 0.0 } else { (i as f32 * 0.3).cos() }).collect();
        let mut gpu = cpu.clone();
        let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
        let mut adam = Adam::new(n);
        for _ in 0..3 {
            let scaled: Vec<f32> = grad.iter().map(|g| g * 0.5).collect();
            adam.update(&mut cpu, &scaled, 0.01);
            let c1 = 1.0 - adam::BETA1.powi(adam.step as i32);
            let c2 = 1.0 - adam::BETA2.powi(adam.step as i32);
            let step = 0.01 * c2.sqrt() / c1;
            launch(n, || unsafe {
                // SAFETY: all four buffers hold n floats.
                adam_step(
                    gpu.as_mut_ptr(),
                    m.as_mut_ptr(),
                    v.as_mut_ptr(),
                    grad.as_ptr(),
                    n as i32,
                    0.5,
                    step,
                    adam::BETA1,
                    adam::BETA2,
                    adam::EPS,
                )
            });
        }
        for (a, b) in cpu.iter().zip(&gpu) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert!(cpu.iter().zip(&grad).any(|(p, g)| *g != 0.0 && *p != 0.0));
    }

    #[test]
    fn occupancy_and_sdf_queries_match_the_cpu_backend() {
        let f = field();
        let mut p = params(&f);
        let res = 12;
        let reach = 0.3;
        let mut cells = vec![0u8; res * res * res];
        let desc = FieldDesc::of(&f);
        let w = abi::host_weights(&mut p);
        // SAFETY: `cells` holds res³ entries; the weights point into `p`.
        launch(cells.len(), || unsafe { occupancy_update(desc, w, 4, res as i32, reach, cells.as_mut_ptr()) });
        let occ = Occupancy::full(res);
        let mut e = Default::default();
        let expected: Vec<u8> =
            (0..cells.len()).map(|i| (f.sdf(&p, occ.center(i), 4, &mut e).abs() < reach) as u8).collect();
        assert_eq!(cells, expected);
        let inside = cells.iter().filter(|&&c| c == 1).count();
        assert!(inside > 0 && inside < cells.len(), "{inside} of {} cells occupied", cells.len());

        let points: Vec<f32> = (0..300).map(|i| ((i as f32) * 0.618).fract() * 2.0 - 1.0).collect();
        let mut out = vec![0.0f32; 100];
        // SAFETY: 100 points of 3 floats in, 100 floats out.
        launch(100, || unsafe { sdf_query(desc, w, 6, points.as_ptr(), 100, out.as_mut_ptr()) });
        for (i, v) in out.iter().enumerate() {
            let x = [points[3 * i], points[3 * i + 1], points[3 * i + 2]];
            let c = f.sdf(&p, x, 6, &mut e);
            assert!((c - v).abs() < 1e-5, "{c} vs {v}");
        }
    }
}
