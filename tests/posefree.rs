//! Pose-free reconstruction: the procedural `plain` scene (a matte object on black, on which
//! COLMAP finds no initial pair) posed from its photos alone, from the ring prior. Compared
//! with the exact poses through relative rotations between views, which do not depend on the
//! frame the poses settle in.

mod pose_errors;

use std::sync::atomic::AtomicBool;
use weave::geometry::Pose;
use weave::io::Dataset;
use weave::nn::hashgrid::HashGridConfig;
use weave::sfm::prior::PosePrior;
use weave::train::posefree::{self, PoseSettings};
use weave::train::{Preset, TrainConfig};

#[test]
fn the_plain_scene_is_posed_from_its_photos_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("plain");
    let opts =
        weave::scene::Options { width: 64, height: 48, views: Some(16), test_views: Some(0), ..Default::default() };
    weave::scene::generate(weave::scene::find("plain").unwrap(), &opts, &data, &|_, _| {}).unwrap();
    // Bare photos: the poses the scene wrote are not read.
    let mut ds = Dataset::open(&data).unwrap();
    let exact: Vec<Pose> = ds.views.iter().map(|v| v.pose.unwrap()).collect();
    ds.views.iter_mut().for_each(|v| v.pose = Some(Pose::IDENTITY));

    let mut cfg = TrainConfig::preset(Preset::Fast);
    cfg.rays = 512;
    cfg.grid = HashGridConfig { levels: 8, log2_table: 15, base_resolution: 16.0, max_resolution: 256.0 };
    cfg.initial_levels = 2;
    cfg.level_interval = 60;
    cfg.anneal_steps = 200;
    let settings = PoseSettings { codebook_size: 48, pose_rounds: 3, round_steps: 120, ..Default::default() };
    let views = weave::render::views::load(&ds.views, 1.0).unwrap();
    let found =
        posefree::bootstrap(&cfg, views, &settings, weave::backend::Choice::Cpu, &|_| {}, &AtomicBool::new(false))
            .expect("not cancelled");
    assert_eq!(found.prior, PosePrior::Ring, "{}", found.why);
    let start = PosePrior::Ring.initial(&(0..exact.len()).collect::<Vec<_>>(), 20.0);
    let (before, _) = pose_errors::relative_errors(&start, &exact);
    let (after, direction) = pose_errors::relative_errors(&found.trainer.refined_poses(), &exact);
    eprintln!(
        "{}\nrelative rotation error {before:.2}° at the prior's start → {after:.2}°, directions {direction:.2}°",
        found.summary()
    );
    // Today 3.7° (docs/results.md); the issue asks for under 1°, not reached yet.
    assert!(after < 5.0 && after < 0.5 * before, "{before:.2}° → {after:.2}°");
    assert!(found.unexplained.is_empty(), "{}", found.summary());
}
