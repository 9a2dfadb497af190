//! The CUDA backend on a GPU: every kernel against the CPU backend on the same inputs, and a
//! reduced training run that must reconstruct the procedural object. They need an NVIDIA GPU
//! with a CUDA 13 driver, so they are ignored elsewhere (all but the first, which checks the
//! presets against the kernels' limits on any machine); `tests/gpu-check.sh` runs them (with
//! `--ignored`) on the GPU machine from a release build carried there.

mod support;

use weave::field::{Field, FieldConfig};
use weave::train::{Preset, TrainConfig};

/// Every preset's field is one the CUDA kernels can train (no GPU needed).
#[test]
fn presets_fit_the_cuda_kernels() {
    for preset in [Preset::Fast, Preset::Quality] {
        let train = TrainConfig::preset(preset);
        // The widest field a preset trains: with the background, colour of full view degree.
        let cfg = FieldConfig {
            grid: train.grid,
            hidden: train.hidden,
            orientation: 1.0,
            init_radius: 0.5,
            background: true,
            view_degree: weave::nn::sh::DEGREE,
        };
        assert_eq!(weave::backend::cuda::abi::unsupported(&Field::new(cfg)), None, "{preset:?}");
    }
}

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
