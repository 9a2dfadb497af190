//! The CUDA backend on a GPU: every kernel against the CPU backend on the same inputs, and a
//! reduced training run that must reconstruct the procedural object. They need an NVIDIA GPU
//! with a CUDA 13 driver, so they are ignored elsewhere; `tests/gpu-check.sh` runs them (with
//! `--ignored`) on the GPU machine from a release build carried there.

mod support;

#[test]
#[ignore = "needs an NVIDIA GPU with a CUDA 13 driver; run by tests/gpu-check.sh"]
fn kernels_match_the_cpu_backend_on_the_gpu() {
    let gpu = weave::backend::cuda::gpu::Gpu::open().expect("a usable CUDA device");
    let diffs = weave::backend::cuda::parity::on_gpu(&gpu).unwrap();
    for d in &diffs {
        eprintln!("{:<20} worst {:.3e}  bound {:.1e}", d.what, d.worst, d.bound);
    }
    let failed: Vec<_> = diffs.iter().filter(|d| !d.ok()).map(|d| d.what.as_str()).collect();
    assert!(failed.is_empty(), "beyond their bounds: {failed:?}");
}

#[test]
#[ignore = "needs an NVIDIA GPU with a CUDA 13 driver; run by tests/gpu-check.sh"]
fn reduced_training_on_cuda_reconstructs_the_object_scene() {
    support::reduced_training(true);
}
