//! A reduced training run on a procedural scene must reconstruct it: held-out PSNR and
//! Chamfer distance to the exact mesh beat bounds that the untrained field (a sphere) or a
//! broken trainer cannot reach. Runs in about a minute on two cores.

mod support;

#[test]
fn reduced_training_reconstructs_the_object_scene() {
    support::reduced_training(false);
}

fn weave(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weave")).args(args).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{out:?}");
    out
}

/// `--holdout N` trains without every N-th photo and reports their PSNR from renders of them,
/// as LLFF evaluations do; a folder that has a test split, or N < 2, is refused with a reason.
#[test]
fn holdout_renders_and_scores_the_held_out_photos() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("scene");
    let entry = weave::scene::find("object").unwrap();
    let opts =
        weave::scene::Options { width: 48, height: 36, views: Some(10), test_views: Some(0), ..Default::default() };
    weave::scene::generate(entry, &opts, &scene, &|_, _| {}).unwrap();
    let out = dir.path().join("run");
    let (scene_arg, out_arg) = (scene.to_str().unwrap(), out.to_str().unwrap());
    let common = ["--iterations", "20", "--rays", "128", "--mesh-resolution", "24", "--backend", "cpu"];
    let run = weave(&[&["train", scene_arg, "--out", out_arg, "--holdout", "4"], &common[..]].concat());
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("training on 7 views"));
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["test_views"], 3);
    let psnr = metrics["test_psnr"].as_f64().expect("a held-out PSNR");
    assert!(psnr > 5.0 && psnr < 60.0, "held-out PSNR {psnr}");
    let renders = std::fs::read_dir(out.join("test")).unwrap().filter(|e| e.is_ok()).count();
    assert!(renders >= 3, "{renders} files in test/");

    let refused = weave(&[&["train", scene_arg, "--out", out_arg, "--holdout", "1"], &common[..]].concat());
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("at least 2"));

    let split = dir.path().join("split");
    let opts =
        weave::scene::Options { width: 48, height: 36, views: Some(6), test_views: Some(2), ..Default::default() };
    weave::scene::generate(entry, &opts, &split, &|_, _| {}).unwrap();
    let refused = weave(&["train", split.to_str().unwrap(), "--out", out_arg, "--holdout", "4"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already has 2 test views"));
}
