//! Pose refinement: trained on a procedural scene whose given poses are perturbed, the refined
//! poses must be closer to the exact ones than the given poses were. Compared through relative
//! rotations between views, which do not depend on the frame training settles in.

mod pose_errors;

use weave::geometry::Pose;
use weave::io::Dataset;
use weave::nn::hashgrid::HashGridConfig;
use weave::train::{Preset, TrainConfig, Trainer};

/// Mean angle (degrees) between the relative rotations of all view pairs.
fn relative_rotation_error(a: &[Pose], b: &[Pose]) -> f64 {
    pose_errors::relative_errors(a, b).0
}

#[test]
fn refinement_brings_perturbed_poses_closer_to_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("object");
    let opts = weave::scene::Options {
        width: 80,
        height: 60,
        views: Some(20),
        test_views: Some(1),
        rot_noise_deg: 1.5,
        ..Default::default()
    };
    weave::scene::generate(weave::scene::find("object").unwrap(), &opts, &data, &|_, _| {}).unwrap();
    let ds = Dataset::open(&data).unwrap();
    let truth: std::collections::HashMap<String, Pose> =
        weave::io::dataset::read_cameras(&data.join("ground_truth/transforms.json"))
            .unwrap()
            .into_iter()
            .map(|c| (std::path::Path::new(&c.name).file_stem().unwrap().to_string_lossy().into_owned(), c.pose))
            .collect();

    let mut cfg = TrainConfig::preset(Preset::Fast);
    cfg.iterations = 400;
    cfg.rays = 512;
    cfg.grid = HashGridConfig { levels: 8, log2_table: 15, base_resolution: 16.0, max_resolution: 256.0 };
    cfg.initial_levels = 2;
    cfg.level_interval = 40;
    cfg.anneal_steps = 200;
    cfg.refine_poses = true;
    let mut t = Trainer::new(cfg, weave::render::views::load(&ds.views, 1.0).unwrap());
    let exact: Vec<Pose> = t
        .views
        .iter()
        .map(|v| truth[std::path::Path::new(&v.name).file_stem().unwrap().to_string_lossy().as_ref()])
        .collect();
    let before = relative_rotation_error(&t.refined_poses(), &exact);
    while t.step < t.cfg.iterations {
        t.step().expect("no rollback on a clean scene");
    }
    let after = relative_rotation_error(&t.refined_poses(), &exact);
    eprintln!("relative rotation error {before:.3}° → {after:.3}°");
    assert!(before > 1.0, "the scene's noise did not reach the poses: {before:.3}°");
    assert!(after < 0.6 * before, "refinement did not help: {before:.3}° → {after:.3}°");
}
