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

/// The plain scene, 16 views at 64 × 48, opened with its exact poses.
fn plain(dir: &std::path::Path) -> Dataset {
    let data = dir.join("plain");
    let opts =
        weave::scene::Options { width: 64, height: 48, views: Some(16), test_views: Some(0), ..Default::default() };
    weave::scene::generate(weave::scene::find("plain").unwrap(), &opts, &data, &|_, _| {}).unwrap();
    Dataset::open(&data).unwrap()
}

/// A small, quick field for 64 × 48 photos.
fn config() -> TrainConfig {
    let mut cfg = TrainConfig::preset(Preset::Fast);
    cfg.rays = 512;
    cfg.grid = HashGridConfig { levels: 8, log2_table: 15, base_resolution: 16.0, max_resolution: 256.0 };
    cfg.initial_levels = 2;
    cfg.level_interval = 60;
    cfg.anneal_steps = 200;
    cfg
}

#[test]
fn the_plain_scene_is_posed_from_its_photos_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut ds = plain(dir.path());
    // Bare photos: the poses the scene wrote are not read.
    let exact: Vec<Pose> = ds.views.iter().map(|v| v.pose.unwrap()).collect();
    ds.views.iter_mut().for_each(|v| v.pose = Some(Pose::IDENTITY));
    let cfg = config();
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

/// Structure from motion posed 12 of the 16 photos (here, exactly): the four it left out, a
/// quarter of the ring where no trusted camera stands, are posed against the field the 12
/// train; a photo of something else mixed in is left out and named.
#[test]
fn photos_structure_from_motion_left_out_are_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let ds = plain(dir.path());
    let mut views = weave::render::views::load(&ds.views, 1.0).unwrap();
    let exact: Vec<Pose> = views.iter().map(|v| v.pose).collect();
    let gap = 4..8;
    let mut left: Vec<_> = views.drain(gap.clone()).collect();
    for v in &mut left {
        v.pose = Pose::IDENTITY;
    }
    let mut stranger = left[0].clone();
    stranger.name = "stranger.png".into();
    let (w, h) = (stranger.width() as usize, stranger.height() as usize);
    stranger.rgb =
        (0..w * h).map(|i| if (i % w / 6 + i / w / 6) % 2 == 0 { [0.9, 0.2, 0.1] } else { [0.1, 0.3, 0.9] }).collect();
    left.push(stranger);

    let mut t = weave::train::Trainer::new(config(), views);
    let settings = PoseSettings { codebook_size: 48, pose_rounds: 6, round_steps: 120, ..Default::default() };
    let found = posefree::recover(&mut t, left, &settings, &|_| {}, &AtomicBool::new(false)).expect("not cancelled");
    eprintln!("{}", found.summary());
    assert_eq!(found.unexplained.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["stranger.png"]);
    assert_eq!(t.views.len(), 16, "{}", found.summary());
    let poses = t.refined_poses();
    let radius = exact[0].center.length();
    for (i, k) in gap.clone().enumerate() {
        let v = 12 + i;
        assert_eq!(t.views[v].name, ds.views[k].name);
        let rot = poses[v].rotation_angle_to(&exact[k]).to_degrees();
        let off = (poses[v].center - exact[k].center).length() / radius;
        eprintln!("{}: {rot:.2}°, centre off by {:.1} % of the radius", t.views[v].name, 100.0 * off);
        assert!(rot < 5.0 && off < 0.1, "{}: {rot:.2}°, {off:.3}", t.views[v].name);
    }
    // The trusted poses stayed as they were.
    for (v, p) in poses.iter().take(12).enumerate() {
        let k = if v < gap.start { v } else { v + gap.len() };
        assert!(p.rotation_angle_to(&exact[k]) < 1e-6 && (p.center - exact[k].center).length() < 1e-9);
    }
}
