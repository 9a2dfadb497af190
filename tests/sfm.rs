//! Bare photos in, camera poses out: COLMAP (run by `weave sfm`, and by `weave train` on a
//! folder without poses, which poses them itself without COLMAP) must recover a procedural
//! scene's exact poses up to a similarity.
//! Needs the `colmap` program (Debian package `colmap`; `.ci/setup` installs it).

mod pose_errors;

use std::path::Path;
use std::process::{Command, Output};
use weave::geometry::Pose;
use weave::io::Dataset;

/// The forward-facing scene (the procedural scene with texture enough for SIFT) as bare
/// photos: its camera files removed, its exact poses kept aside in ground_truth/.
fn bare_scene(path: &Path) {
    let entry = weave::scene::find("forward").unwrap();
    let opts =
        weave::scene::Options { width: 320, height: 240, views: Some(12), test_views: Some(0), ..Default::default() };
    weave::scene::generate(entry, &opts, path, &|_, _| {}).unwrap();
    for f in ["transforms.json", "transforms_test.json"] {
        let _ = std::fs::remove_file(path.join(f));
    }
    std::fs::remove_dir_all(path.join("sparse")).unwrap();
    assert!(!Dataset::open(path).unwrap().has_poses());
}

fn weave(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_weave")).args(args).envs(env.iter().copied()).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{out:?}");
    out
}

#[test]
fn sfm_recovers_the_poses_of_bare_photos() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("forward");
    bare_scene(&scene);
    let run = weave(&["sfm", scene.to_str().unwrap()], &[]);
    let log = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{log}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(log.contains("registered 12 of 12 photos"), "{log}");
    // COLMAP's orientation aligner ran and wrote its model (this scene's first photo is
    // level, so the mapper's model is upright already and uprightness would prove nothing).
    assert!(!log.contains("could not turn it upright"), "{log}");

    let ds = Dataset::open(&scene).unwrap();
    assert!(ds.has_poses() && ds.views.len() == 12);
    assert!(ds.pose_source.to_string().contains("colmap/sparse/0"), "{}", ds.pose_source);
    let truth = weave::io::dataset::read_cameras(&scene.join("ground_truth/transforms.json")).unwrap();
    let exact: Vec<Pose> = ds
        .views
        .iter()
        .map(|v| {
            let stem = Path::new(&v.name).file_stem().unwrap();
            truth.iter().find(|t| Path::new(&t.name).file_stem() == Some(stem)).unwrap().pose
        })
        .collect();
    let found: Vec<Pose> = ds.views.iter().map(|v| v.pose.unwrap()).collect();
    let (rotation, direction) = pose_errors::relative_errors(&found, &exact);
    eprintln!("relative rotation error {rotation:.3}°, relative direction error {direction:.3}°");
    // A wrong pose of one camera alone moves these by several degrees.
    assert!(rotation < 1.5 && direction < 3.0, "rotation {rotation:.2}°, direction {direction:.2}°");
}

#[test]
fn train_finds_the_poses_first_sfm_keeps_other_poses_and_colmap_may_be_missing() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("forward");
    bare_scene(&scene);
    let out = dir.path().join("run");
    let args = ["train", scene.to_str().unwrap(), "--out", out.to_str().unwrap(), "--iterations", "10", "--rays", "64"];
    let args = [&args[..], &["--mesh-resolution", "16", "--backend", "cpu"]].concat();

    // A folder whose poses come from its own camera files is left alone.
    let posed = dir.path().join("posed");
    let entry = weave::scene::find("object").unwrap();
    let opts =
        weave::scene::Options { width: 48, height: 36, views: Some(4), test_views: Some(0), ..Default::default() };
    weave::scene::generate(entry, &opts, &posed, &|_, _| {}).unwrap();
    let refused = weave(&["sfm", posed.to_str().unwrap()], &[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("already has camera poses (transforms.json"), "{err}");
    assert!(!posed.join("colmap").exists());

    // Without COLMAP, the message says how to install it and Weave poses the photos itself
    // (a stage kept short here: tests/posefree.rs measures it).
    let short = ["--round-steps", "4", "--pose-rounds", "2", "--codebook-size", "8"];
    let missing = weave(&[&args[..], &short[..]].concat(), &[("WEAVE_COLMAP", "/nonexistent/colmap")]);
    let said = String::from_utf8_lossy(&missing.stdout);
    assert!(missing.status.success(), "{said}\n{}", String::from_utf8_lossy(&missing.stderr));
    assert!(said.contains("/nonexistent/colmap") && said.contains("apt install colmap"), "{said}");
    assert!(said.contains("Weave's own pose stage takes over") && said.contains("Weave posed 12 photos"), "{said}");
    assert!(out.join("transforms.json").is_file() && !scene.join("colmap").exists());
    std::fs::remove_dir_all(&out).unwrap();

    let run = weave(&args, &[]);
    let log = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{log}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(log.contains("finding them with COLMAP") && log.contains("training on 12 views"), "{log}");
    assert!(out.join("transforms.json").is_file() && scene.join("colmap/sparse/0").is_dir());
}

#[test]
fn poses_writes_the_model_colmap_found_with_its_points() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("forward");
    bare_scene(&scene);
    let out = dir.path().join("out");
    let run = weave(&["poses", scene.to_str().unwrap(), "--out", out.to_str().unwrap()], &[]);
    let log = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{log}\n{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(weave::io::dataset::read_cameras(&out.join("transforms.json")).unwrap().len(), 12, "{log}");
    // COLMAP's own points, in the frame of its poses: their centroid lies before the cameras.
    let points = weave::io::colmap::read_points(&out.join("sparse/0")).unwrap();
    assert!(points.len() > 100, "{} points\n{log}", points.len());
    let cams = weave::io::dataset::read_cameras(&out.join("sparse/0")).unwrap();
    let centroid = points.iter().map(|p| p.position).sum::<glam::DVec3>() / points.len() as f64;
    let in_front = cams.iter().filter(|c| c.pose.to_camera(centroid).z > 0.0).count();
    assert_eq!(in_front, cams.len(), "{log}");
}
