//! The CUDA kernels built as host C++ (see `build.rs`) and run one thread at a time, checked
//! against the CPU backend on the same inputs. This is what keeps the kernels' arithmetic
//! tested on machines without a GPU; `tests/cuda.rs` checks the GPU build the same way.

use super::abi::{self, BatchArgs, DrawArgs, FieldDesc, GradArgs, Mlp, RayOut, ReduceArgs, Weights};

unsafe extern "C" {
    fn weave_shim_set_thread(i: i32);
    fn weave_shim_run_block(
        block: i32,
        threads: i32,
        body: extern "C" fn(*mut std::ffi::c_void),
        ctx: *mut std::ffi::c_void,
    );
    fn trace_record_floats(which: i32) -> i32;
    fn field_caps(which: i32) -> i32;
    fn trace_arg_bytes(which: i32) -> i32;
    fn march(a: BatchArgs);
    fn eval_samples(a: BatchArgs);
    fn eval_background(a: BatchArgs);
    fn composite(a: BatchArgs);
    fn backward_colors(a: BatchArgs);
    fn backward_samples(a: BatchArgs);
    fn backward_background(a: BatchArgs);
    fn weight_grads(a: GradArgs);
    fn finish_rays(a: BatchArgs);
    fn draw_rays(a: DrawArgs);
    fn reduce_rays(a: ReduceArgs);
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
    fn pack_mlp(net: Mlp, params: *const f32, packed: *mut Quad);
    fn occupancy_update(
        f: FieldDesc,
        p: Weights,
        active: i32,
        res: i32,
        reach: f32,
        cells: *mut u8,
        occupied: *mut i32,
    );
    fn sdf_query(f: FieldDesc, p: Weights, active: i32, points: *const f32, n: i32, out: *mut f32);
    fn color_query(
        f: FieldDesc,
        p: Weights,
        active: i32,
        h: f32,
        points: *const f32,
        looks: *const f32,
        n: i32,
        rgb: *mut f32,
    );
}

/// A float4 of the kernels, aligned as theirs.
#[repr(C, align(16))]
#[derive(Clone, Copy, Default)]
struct Quad([f32; 4]);

/// What the host build of the kernels reads as parameters (as `FieldState` gives the GPU):
/// the hash tables of `p`, and packed copies of its networks, which the second value holds.
fn host_params(desc: &FieldDesc, p: &mut crate::field::Params) -> (Weights, Vec<Vec<Quad>>) {
    let mut w = abi::host_weights(p);
    let mut packed = Vec::new();
    for (group, net) in desc.networks() {
        let mut q = vec![Quad::default(); net.packed_floats() / 4];
        let src = w.ptr[group] as *const f32;
        // SAFETY: `src` points at the network's parameters in `p`, `q` holds its packed floats.
        launch(q.len(), || unsafe { pack_mlp(net, src, q.as_mut_ptr()) });
        w.ptr[group] = q.as_ptr() as u64;
        packed.push(q);
    }
    (w, packed)
}

/// Runs a block-cooperative `kernel` on `args`: blocks 0..blocks of `threads` threads, a
/// block's threads at once (as OS threads, for its shared memory and barriers).
fn launch_blocks<A: Copy>(blocks: usize, threads: usize, kernel: unsafe extern "C" fn(A), args: A) {
    extern "C" fn body<A: Copy>(ctx: *mut std::ffi::c_void) {
        // SAFETY: `ctx` is the (kernel, arguments) pair below, alive until the block ends.
        let (kernel, args) = unsafe { *(ctx as *const (unsafe extern "C" fn(A), A)) };
        // SAFETY: the caller vouches for the kernel and its arguments.
        unsafe { kernel(args) }
    }
    let ctx = (kernel, args);
    for b in 0..blocks {
        // SAFETY: runs `body` on each of the block's threads, which only read `ctx`, and joins
        // them before returning.
        unsafe { weave_shim_run_block(b as i32, threads as i32, body::<A>, &ctx as *const _ as *mut std::ffi::c_void) };
    }
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
    use super::super::parity;
    use super::*;
    use crate::field::Occupancy;
    use crate::nn::adam::{self, Adam};
    use crate::render::Ray;
    use crate::render::batch::sample_ray;
    use crate::render::poses::{CorrectedRay, PER_VIEW, accumulate_gradient, view_ray};
    use crate::render::views::{Normalization, TrainView};
    use crate::util::rng::Rng;

    /// Samples and background slots per chunk of the host's backward pass: fewer than a batch
    /// of the fixture's gives it, so that the tests cross chunks as large batches do on a GPU.
    const HOST_CHUNK: usize = 200;
    const HOST_BG_CHUNK: usize = 100;

    /// The batch kernels of a training step on `ins`, with the fixture's field and settings:
    /// per-ray results, parameter gradients and dLoss/d(variance).
    fn host_batch(fx: &mut parity::Fixture, ins: &[abi::RayIn]) -> (Vec<RayOut>, crate::field::Params, f32) {
        let mut grads = fx.params.zeros_like();
        let mut d_variance = 0.0f32;
        let cells: Vec<u8> = fx.occupancy.cells.iter().map(|&c| c as u8).collect();
        let n = ins.len();
        let capacity = n * fx.settings.max_samples;
        let mut outs = vec![RayOut::default(); n];
        let buffer = |records: usize, floats: usize| vec![0.0f32; records * floats];
        let mut samples = buffer(capacity, abi::SAMPLE_FLOATS);
        let mut values = buffer(capacity, abi::SAMPLE_VALUE_FLOATS);
        let mut sample_grads = buffer(capacity, abi::SAMPLE_GRAD_FLOATS);
        let mut bg = buffer(n * abi::BG_SAMPLES, abi::BG_SLOT_FLOATS);
        let mut bg_grads = buffer(n * abi::BG_SAMPLES, abi::BG_GRAD_FLOATS);
        let mut state = buffer(n, abi::RAY_STATE_FLOATS);
        let mut total = [0i32; 2];
        let mut order = vec![0i32; capacity];
        let mut kept = buffer(capacity, abi::KEPT_FLOATS);
        let desc = FieldDesc::of(&fx.field);
        let params = host_params(&desc, &mut fx.params);
        let mut records = desc.record_floats(HOST_CHUNK, HOST_BG_CHUNK).map(|f| vec![f32::NAN; f]);
        let args = BatchArgs {
            field: desc,
            params: params.0,
            grads: abi::host_weights(&mut grads),
            d_variance: &mut d_variance as *mut f32 as u64,
            occupancy: cells.as_ptr() as u64,
            rays: ins.as_ptr() as u64,
            out: outs.as_mut_ptr() as u64,
            samples: samples.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            sample_grads: sample_grads.as_mut_ptr() as u64,
            bg: bg.as_mut_ptr() as u64,
            bg_grads: bg_grads.as_mut_ptr() as u64,
            state: state.as_mut_ptr() as u64,
            total: total.as_mut_ptr() as u64,
            order: order.as_mut_ptr() as u64,
            kept: kept.as_mut_ptr() as u64,
            rec_sdf: records[0].as_mut_ptr() as u64,
            rec_color: records[1].as_mut_ptr() as u64,
            rec_bg_density: records[2].as_mut_ptr() as u64,
            rec_bg_color: records[3].as_mut_ptr() as u64,
            cfg: abi::RenderSettings::of(&fx.settings),
            variance: fx.params.variance,
            occ_res: fx.occupancy.res as i32,
            n_rays: n as i32,
            capacity: capacity as i32,
            train: 1,
            base: 0,
            chunk: 0,
        };
        // SAFETY (all launches): every pointer in `args` points into a live buffer of the size
        // the kernels index; the plan's chunks fit the records.
        let forward: [unsafe extern "C" fn(BatchArgs); 4] = [march, eval_samples, eval_background, composite];
        for (kernel, threads) in forward.into_iter().zip([n, capacity, n * abi::BG_SAMPLES, n]) {
            launch(threads, || unsafe { kernel(args) });
        }
        let plan: Vec<_> = args.backward_plan(HOST_CHUNK, HOST_BG_CHUNK).collect();
        let chunks =
            |kernel| plan.iter().filter(|l| matches!(l, abi::BackwardLaunch::Batch(k, ..) if *k == kernel)).count();
        assert!(chunks("backward_background") > 1 || !fx.field.cfg.background);
        for step in plan {
            match step {
                abi::BackwardLaunch::Batch(name, c, threads) => {
                    let kernel = match name {
                        "backward_colors" => backward_colors,
                        "backward_samples" => backward_samples,
                        _ => backward_background,
                    };
                    launch(threads, || unsafe { kernel(args.with(c)) });
                }
                abi::BackwardLaunch::Grads(g, blocks) => {
                    launch_blocks(blocks, abi::GRAD_BLOCK as usize, weight_grads, g)
                }
            }
        }
        launch(n, || unsafe { finish_rays(args) });
        // The backward pass took more than one chunk, and skipped samples behind opaque points.
        assert!(total[1] as usize > HOST_CHUNK && total[1] < total[0], "{total:?}");
        (outs, grads, d_variance)
    }

    /// The whole training step of a batch of rays: colours, losses, ray gradients and every
    /// parameter gradient against `render::trace`, with and without the background field.
    #[test]
    fn trace_matches_the_cpu_backend() {
        for background in [true, false] {
            let mut fx = parity::fixture(background);
            let reference = fx.reference();
            let hits = reference.0.iter().filter(|o| o.samples > 0).count();
            assert!(hits >= 12, "only {hits} rays reached the surface");
            let bg_grads = reference.1.bg_density.iter().filter(|v| **v != 0.0).count();
            assert_eq!(bg_grads > 0, background, "{bg_grads} background gradients");
            let ins = fx.ray_inputs();
            let (outs, grads, d_variance) = host_batch(&mut fx, &ins);
            let g = grads.arrays();
            let diffs = parity::compare(&reference, &outs, std::array::from_fn(|i| g[i].as_slice()), d_variance, 1.0);
            for d in &diffs {
                assert!(
                    d.ok(),
                    "background {background}, {}: worst relative difference {} (bound {})",
                    d.what,
                    d.worst,
                    d.bound
                );
            }
        }
    }

    /// Without the rays' gradients (no pose refinement), the batch's parameter gradients are
    /// the same floats, and the rays get none.
    #[test]
    fn ray_gradients_are_optional() {
        let mut fx = parity::fixture(true);
        let ins = fx.ray_inputs();
        let (with, grads_with, dv_with) = host_batch(&mut fx, &ins);
        fx.settings.ray_grads = false;
        let (without, grads_without, dv_without) = host_batch(&mut fx, &ins);
        assert!(with.iter().any(|o| o.d_origin.iter().chain(&o.d_dir).any(|v| *v != 0.0)));
        assert!(without.iter().all(|o| o.d_origin.iter().chain(&o.d_dir).all(|v| *v == 0.0)));
        for (a, b) in with.iter().zip(&without) {
            assert_eq!((a.rgb, a.loss), (b.rgb, b.loss));
        }
        assert_eq!(grads_with.arrays(), grads_without.arrays());
        assert_eq!(dv_with, dv_without);
    }

    /// A whole device step on the host: rays drawn, traced and reduced, against the same rays
    /// drawn and traced on the CPU (the comparison `weave doctor --parity` makes on a GPU).
    #[test]
    fn drawn_batch_matches_the_cpu_step() {
        let mut fx = parity::fixture(true);
        let (views, norm) = parity::views();
        let corrections = parity::corrections(views.len());
        let (n, seed) = (160, 99);
        let (rays, ray_views) = draw(&views, &norm, Some(&corrections), seed, n);
        let (outs, _, _) = host_batch(&mut fx, &rays);
        let mut batch = [0.0f32; abi::BATCH_SUMS];
        let mut sums = vec![0.0f32; views.len() * abi::VIEW_SUMS];
        reduce((&rays, &outs, &ray_views), (&views, &norm, &corrections), &mut batch, &mut sums);
        let expected = parity::drawn_reference(&fx, &views, &norm, &corrections, seed, n);
        let rays_per_view: Vec<f32> = expected.1.iter().skip(1).step_by(abi::VIEW_SUMS).copied().collect();
        assert!(rays_per_view.iter().all(|&r| r > 20.0), "rays per view {rays_per_view:?}");
        for d in parity::compare_sums(&expected, (&batch, &sums), 1.0) {
            assert!(d.ok(), "{}: worst relative difference {} (bound {})", d.what, d.worst, d.bound);
        }
    }

    /// The host's record and argument sizes are the kernels'.
    #[test]
    fn batch_records_and_arguments_have_the_kernels_layout() {
        let floats = [
            abi::SAMPLE_FLOATS,
            abi::SAMPLE_VALUE_FLOATS,
            abi::SAMPLE_GRAD_FLOATS,
            abi::BG_SLOT_FLOATS,
            abi::BG_GRAD_FLOATS,
            abi::RAY_STATE_FLOATS,
            abi::KEPT_FLOATS,
        ];
        for (i, f) in floats.iter().enumerate() {
            // SAFETY: a pure function of its argument, which is in range.
            assert_eq!(unsafe { trace_record_floats(i as i32) } as usize, *f, "record {i}");
        }
        use std::mem::size_of;
        let args = [size_of::<BatchArgs>(), size_of::<GradArgs>(), size_of::<FieldDesc>(), size_of::<Mlp>()];
        for (i, bytes) in args.iter().enumerate() {
            // SAFETY: as above.
            assert_eq!(unsafe { trace_arg_bytes(i as i32) } as usize, *bytes, "argument struct {i}");
        }
    }

    /// The host's network capacities and grid levels are the kernels', and the field every
    /// backend trains by default fits them.
    #[test]
    fn network_capacities_are_the_kernels() {
        // SAFETY: a pure function of its argument, which is in range.
        let cap = |i: usize| unsafe { field_caps(i as i32) } as usize;
        for (n, c) in abi::NET_CAPS.iter().enumerate() {
            let kernel = abi::NetCaps {
                input: cap(4 * n),
                hidden: cap(4 * n + 1),
                hidden_layers: cap(4 * n + 2),
                output: cap(4 * n + 3),
            };
            assert_eq!(kernel, *c, "network {n}");
        }
        assert_eq!((cap(16), cap(17)), (abi::GRID_MAX_LEVELS, abi::BG_GRID_LEVELS));
        use crate::field::{Field, FieldConfig};
        let wide = FieldConfig { hidden: 65, ..FieldConfig::tiny() };
        let why = abi::unsupported(&Field::new(wide)).expect("65 hidden units are refused");
        assert!(why.contains("hidden layers of at most 64"), "{why}");
    }

    /// weight_grads adds, per layer, each weight's output gradient times input over the live
    /// rows of a chunk's record (several blocks of rows, the last one partial), at the offsets
    /// a padded network's record has.
    #[test]
    fn weight_grads_sum_the_live_rows_of_the_records() {
        use crate::nn::mlp::MlpShape;
        let shape = MlpShape { input: 20, hidden: 48, hidden_layers: 2, output: 3 };
        let net = Mlp::of(&shape, &abi::NET_CAPS[1]);
        let (rows, live) = (2500usize, 2300usize);
        let cols = net.rec_cols();
        let mut rng = Rng::new(7);
        let rec: Vec<f32> = (0..rows * cols).map(|_| rng.uniform() - 0.5).collect();
        let params: usize =
            (0..shape.layer_count()).map(|l| shape.layer(l).0 * shape.layer(l).1 + shape.layer(l).1).sum();
        let mut grad = vec![0.0f32; params];
        let total = live as i32;
        for layer in 0..shape.layer_count() {
            let g = GradArgs {
                rec: rec.as_ptr() as u64,
                grad: grad.as_mut_ptr() as u64,
                total: &total as *const i32 as u64,
                items: rows as i32,
                base: 0,
                chunk: rows as i32,
                per_item: 1,
                net,
                layer: layer as i32,
            };
            launch_blocks(rows.div_ceil(1024), abi::GRAD_BLOCK as usize, weight_grads, g);
        }
        let caps =
            [(net.cap_input, net.cap_hidden), (net.cap_hidden, net.cap_hidden), (net.cap_hidden, net.cap_output)];
        let (mut col, mut p) = (0usize, 0usize);
        for (layer, (ci, co)) in caps.into_iter().enumerate() {
            let (ni, no) = shape.layer(layer);
            let at = |c: usize, r: usize| rec[c * rows + r] as f64;
            for o in 0..no {
                for i in 0..=ni {
                    let want: f64 = (0..live)
                        .map(|r| at(col + ci as usize + o, r) * if i < ni { at(col + i, r) } else { 1.0 })
                        .sum();
                    let got = grad[p + if i < ni { o * ni + i } else { ni * no + o }] as f64;
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "layer {layer} ({o}, {i}): {got} vs {want}"
                    );
                }
            }
            col += (ci + co) as usize;
            p += ni * no + no;
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
        let fx = parity::fixture(true);
        let (f, mut p) = (fx.field, fx.params);
        let res = 12;
        let reach = 0.3;
        let mut cells = vec![0u8; res * res * res];
        let desc = FieldDesc::of(&f);
        let (w, _packed) = host_params(&desc, &mut p);
        let mut occupied = 0i32;
        // SAFETY: `cells` holds res³ entries; the weights point into `p`.
        launch(cells.len(), || unsafe {
            occupancy_update(desc, w, 4, res as i32, reach, cells.as_mut_ptr(), &mut occupied)
        });
        let occ = Occupancy::full(res);
        let mut e = Default::default();
        let expected: Vec<u8> =
            (0..cells.len()).map(|i| (f.sdf(&p, occ.center(i), 4, &mut e).abs() < reach) as u8).collect();
        assert_eq!(cells, expected);
        let inside = cells.iter().filter(|&&c| c == 1).count();
        assert_eq!(occupied as usize, inside);
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

    /// Mesh vertex colours: a look direction per point, or head-on where it is zero.
    #[test]
    fn color_queries_match_the_cpu_backend() {
        let mut fx = parity::fixture(true);
        let desc = FieldDesc::of(&fx.field);
        let (w, _packed) = host_params(&desc, &mut fx.params);
        let (n, h, active) = (60, 0.01, 4);
        let (points, looks) = parity::color_queries(n);
        let mut rgb = vec![0.0f32; 3 * n];
        // SAFETY: n points and n looks of 3 floats in, 3n floats out.
        launch(n, || unsafe {
            color_query(desc, w, active, h, points.as_ptr(), looks.as_ptr(), n as i32, rgb.as_mut_ptr())
        });
        let expected = parity::color_reference(&fx, &points, &looks, h, active as usize);
        for (i, (a, b)) in expected.iter().zip(&rgb).enumerate() {
            assert!((a - b).abs() < 1e-5, "channel {i}: {a} vs {b}");
        }
        let (lo, hi) = rgb.iter().fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        assert!(hi - lo > 0.05, "colours {lo}..{hi} barely vary");
    }

    /// `n` rays drawn by the host build of `draw_rays`, and the view each came from.
    fn draw(
        views: &[TrainView],
        norm: &Normalization,
        corrections: Option<&[f32]>,
        seed: u64,
        n: usize,
    ) -> (Vec<abi::RayIn>, Vec<i32>) {
        let (descs, pixels, corners) = super::super::run::device_views(views, norm);
        let zero = vec![0.0f32; views.len() * PER_VIEW];
        let mut rays = vec![abi::RayIn::default(); n];
        let mut ray_views = vec![0i32; n];
        let args = DrawArgs {
            views: descs.as_ptr() as u64,
            pixels: pixels.as_ptr() as u64,
            corners: corners.as_ptr() as u64,
            corrections: corrections.unwrap_or(&zero).as_ptr() as u64,
            rays: rays.as_mut_ptr() as u64,
            ray_views: ray_views.as_mut_ptr() as u64,
            seed,
            n_views: views.len() as i32,
            n_rays: n as i32,
            refine: corrections.is_some() as i32,
            pad: 0,
        };
        // SAFETY: the buffers hold the views' records, a correction per view and n rays.
        launch(n, || unsafe { draw_rays(args) });
        (rays, ray_views)
    }

    /// The host build of `reduce_rays` over a batch of `views`, with their `corrections`' gradients.
    fn reduce(
        (rays, outs, ray_views): (&[abi::RayIn], &[RayOut], &[i32]),
        (views, norm, corrections): (&[TrainView], &Normalization, &[f32]),
        batch: &mut [f32],
        sums: &mut [f32],
    ) {
        let (descs, _, _) = super::super::run::device_views(views, norm);
        let args = ReduceArgs {
            rays: rays.as_ptr() as u64,
            out: outs.as_ptr() as u64,
            ray_views: ray_views.as_ptr() as u64,
            batch: batch.as_mut_ptr() as u64,
            views: sums.as_mut_ptr() as u64,
            descs: descs.as_ptr() as u64,
            corrections: corrections.as_ptr() as u64,
            n_rays: rays.len() as i32,
            refine: 1,
        };
        // SAFETY: one result and view per ray; the sums hold BATCH_SUMS and VIEW_SUMS per view,
        // and there is a description and a correction per view.
        launch(rays.len(), || unsafe { reduce_rays(args) });
    }

    #[test]
    fn drawn_rays_match_the_cpu_step() {
        let (views, norm) = parity::views();
        let corrections = parity::corrections(views.len());
        let (n, seed) = (300, 0x5eed_u64 << 20);
        let (rays, ray_views) = draw(&views, &norm, Some(&corrections), seed, n);
        let mut seen = vec![0; views.len()];
        for (i, (ray, &vi)) in rays.iter().zip(&ray_views).enumerate() {
            let r = sample_ray(&views, &norm, &corrections, true, &mut Rng::for_ray(seed, i));
            assert_eq!(vi as usize, r.view, "ray {i}");
            seen[r.view] += 1;
            assert_eq!(ray.rgb, r.target.rgb, "ray {i}");
            assert_eq!(ray.mask, r.target.mask.unwrap_or(-1.0), "ray {i}");
            assert_eq!(ray.depth, r.target.depth.unwrap_or(0.0), "ray {i}");
            assert_eq!(ray.jitter, r.jitter, "ray {i}");
            for k in 0..3 {
                assert!(
                    (ray.origin[k] - r.ray.ray.origin[k]).abs() < 1e-6,
                    "ray {i}: {:?} vs {:?}",
                    ray.origin,
                    r.ray.ray.origin
                );
                assert!((ray.dir[k] - r.ray.ray.dir[k]).abs() < 1e-5, "ray {i}: {:?} vs {:?}", ray.dir, r.ray.ray.dir);
            }
        }
        assert!(seen.iter().all(|&c| c > 50), "rays per view {seen:?}");
        assert!(rays.iter().any(|r| r.depth > 0.0), "no drawn ray has a stereo depth");
    }

    /// A batch's per-ray results summed on the device: loss, squared error and samples, and
    /// per view the squared error, the rays and the pose-correction gradient.
    #[test]
    fn reduced_rays_match_the_cpu_sums() {
        let (views, norm) = parity::views();
        let n = 200;
        let (rays, ray_views) = draw(&views, &norm, None, 7, n);
        let wave = |i: usize, k: usize| ((i * 7 + k * 13) as f32 * 0.31).sin();
        let outs: Vec<RayOut> = (0..n)
            .map(|i| RayOut {
                rgb: std::array::from_fn(|k| 0.5 + 0.4 * wave(i, k)),
                opacity: 1.0,
                depth: 2.0,
                loss: 0.01 * (1.0 + wave(i, 3)),
                samples: (i % 17) as f32,
                d_origin: std::array::from_fn(|k| 0.1 * wave(i, 4 + k)),
                d_dir: std::array::from_fn(|k| 0.1 * wave(i, 7 + k)),
            })
            .collect();
        let mut batch = [0.0f32; abi::BATCH_SUMS];
        let mut sums = vec![0.0f32; views.len() * abi::VIEW_SUMS];
        let corrections = parity::corrections(views.len());
        reduce((&rays, &outs, &ray_views), (&views, &norm, &corrections), &mut batch, &mut sums);

        let mut expect_batch = [0.0f64; abi::BATCH_SUMS];
        let mut expect = vec![0.0f64; sums.len()];
        for ((ray, out), &v) in rays.iter().zip(&outs).zip(&ray_views) {
            let se = (0..3).map(|k| (out.rgb[k] - ray.rgb[k]).powi(2)).sum::<f32>() as f64 / 3.0;
            expect_batch[0] += out.loss as f64;
            expect_batch[1] += se;
            expect_batch[2] += out.samples as f64;
            let e = &mut expect[v as usize * abi::VIEW_SUMS..(v as usize + 1) * abi::VIEW_SUMS];
            e[0] += se;
            e[1] += 1.0;
            let mut g = [0.0f32; PER_VIEW];
            let delta = &corrections[v as usize * PER_VIEW..(v as usize + 1) * PER_VIEW];
            let axis = view_ray(&views[v as usize], &norm, 0.5, 0.5, delta).axis;
            let r = CorrectedRay { ray: Ray { origin: ray.origin, dir: ray.dir }, axis };
            accumulate_gradient(&r, out.d_origin, out.d_dir, &mut g);
            e[2..].iter_mut().zip(g).for_each(|(a, b)| *a += b as f64);
        }
        let close = |a: f32, b: f64| (a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs());
        for k in 0..abi::BATCH_SUMS {
            assert!(close(batch[k], expect_batch[k]), "batch sum {k}: {} vs {}", batch[k], expect_batch[k]);
        }
        for (k, (a, b)) in sums.iter().zip(&expect).enumerate() {
            assert!(close(*a, *b), "view sum {k}: {a} vs {b}");
        }
        assert_eq!(sums.iter().skip(1).step_by(abi::VIEW_SUMS).sum::<f32>() as usize, n);
    }
}
