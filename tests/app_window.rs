//! The real window under Xvfb: it opens a folder, shows it, and reports bad input on screen.
//! Needs `Xvfb` (Debian package `xvfb`) and a wgpu adapter (Mesa's lavapipe without a GPU);
//! `.ci/run` installs both. Without them these tests fail and say what is missing.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A private X server on a free display, stopped when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Xvfb ({e}): install it with `apt-get install xvfb`"));
        let mut out = child.stdout.take().unwrap();
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while std::io::Read::read(&mut out, &mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            buf.push(byte[0]);
        }
        let display = format!(":{}", String::from_utf8_lossy(&buf).trim());
        assert!(display.len() > 1, "Xvfb did not report a display");
        Xvfb { child, display }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `weave [path] --screenshot shot [extra]` in the window; returns the screenshot and stderr.
fn screenshot(x: &Xvfb, path: &Path, shot: &Path) -> (image::RgbImage, String) {
    screenshot_with(x, path, shot, &[])
}

fn screenshot_with(x: &Xvfb, path: &Path, shot: &Path, extra: &[&str]) -> (image::RgbImage, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weave"))
        .arg(path)
        .arg("--screenshot")
        .arg(shot)
        .args(extra)
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "weave failed: {stderr}");
    (image::open(shot).unwrap_or_else(|e| panic!("no screenshot: {e}\n{stderr}")).into_rgb8(), stderr)
}

fn count(img: &image::RgbImage, region: (u32, u32, u32, u32), pred: impl Fn(&image::Rgb<u8>) -> bool) -> usize {
    let (x0, y0, x1, y1) = region;
    (y0..y1.min(img.height()))
        .flat_map(|y| (x0..x1.min(img.width())).map(move |x| (x, y)))
        .filter(|&(x, y)| pred(img.get_pixel(x, y)))
        .count()
}

#[test]
fn window_shows_a_procedural_scene() {
    let dir = tempfile::tempdir().unwrap();
    let entry = weave::scene::find("object").unwrap();
    let opts =
        weave::scene::Options { width: 96, height: 72, views: Some(12), test_views: Some(0), ..Default::default() };
    weave::scene::generate(entry, &opts, &dir.path().join("scene"), &|_, _| {}).unwrap();
    let x = Xvfb::start();
    let (img, stderr) = screenshot(&x, &dir.path().join("scene"), &dir.path().join("shot.png"));
    assert!(!stderr.contains("error shown in the window"), "{stderr}");
    let (w, h) = img.dimensions();
    assert!(w >= 640 && h >= 420, "window is {w}x{h}");
    // Left: the dataset panel, egui's dark grey with light text.
    let panel = (0, 40, 240, 300);
    let dark = count(&img, panel, |p| p.0.iter().all(|&c| (20..=40).contains(&c)));
    let text = count(&img, panel, |p| p.0.iter().all(|&c| c > 120));
    assert!(dark > 20_000 && text > 200, "no side panel: {dark} dark, {text} text pixels");
    // Centre: the viewport shows the cameras' orange frusta.
    let viewport = (260, 60, w - 20, h - 150);
    let orange = count(&img, viewport, |p| p[0] > 180 && p[1] > 90 && p[1] < 210 && p[2] < 120);
    assert!(orange > 300, "no camera frusta in the viewport: {orange} orange pixels");
    // Bottom: the photo strip shows the scene's sky-blue photos.
    let strip = (250, h - 130, w, h);
    let sky = count(&img, strip, |p| p[2] > 170 && p[2] as i32 > p[0] as i32 + 20);
    assert!(sky > 500, "no photos in the strip: {sky} sky pixels");
}

#[test]
fn window_reports_a_missing_folder_and_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let x = Xvfb::start();
    let (img, stderr) = screenshot(&x, &missing, &dir.path().join("shot.png"));
    assert!(stderr.contains("error shown in the window") && stderr.contains("no-such-folder"), "{stderr}");
    // The red notice frame is on screen (the app did not exit on the error).
    let red = count(&img, (0, 0, img.width(), img.height()), |p| p[0] > 200 && p[1] < 120 && p[2] < 110);
    assert!(red > 100, "no error notice visible: {red} red pixels");
}

#[test]
fn window_trains_and_plots_progress() {
    let dir = tempfile::tempdir().unwrap();
    let entry = weave::scene::find("object").unwrap();
    let opts =
        weave::scene::Options { width: 48, height: 36, views: Some(8), test_views: Some(0), ..Default::default() };
    weave::scene::generate(entry, &opts, &dir.path().join("scene"), &|_, _| {}).unwrap();
    let x = Xvfb::start();
    let (img, stderr) =
        screenshot_with(&x, &dir.path().join("scene"), &dir.path().join("shot.png"), &["--train", "12"]);
    assert!(!stderr.contains("error shown in the window"), "{stderr}");
    // The training panel's plots: an orange loss line and a blue PSNR line in the side panel.
    let panel = (0, 200, 260, img.height().min(700));
    let orange = count(&img, panel, |p| p[0] > 200 && p[1] > 120 && p[1] < 190 && p[2] < 100);
    let blue = count(&img, panel, |p| p[2] > 200 && p[1] > 150 && p[0] < 140);
    assert!(orange > 60 && blue > 60, "no live plots: {orange} orange, {blue} blue pixels");
}

/// Trains a couple of hundred steps in the window, then screenshots every view mode.
#[test]
fn window_shows_the_reconstruction_in_every_view_mode() {
    let dir = tempfile::tempdir().unwrap();
    let entry = weave::scene::find("object").unwrap();
    let opts =
        weave::scene::Options { width: 64, height: 48, views: Some(16), test_views: Some(0), ..Default::default() };
    weave::scene::generate(entry, &opts, &dir.path().join("scene"), &|_, _| {}).unwrap();
    let x = Xvfb::start();
    let shot = dir.path().join("shot.png");
    let out = Command::new(env!("CARGO_BIN_EXE_weave"))
        .arg(dir.path().join("scene"))
        .args(["--train", "200", "--all-modes", "--screenshot"])
        .arg(&shot)
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("error shown in the window"), "{stderr}");
    let load = |mode: &str| image::open(dir.path().join(format!("shot-{mode}.png"))).unwrap().into_rgb8();
    let (cameras, sdf, novel, slice) = (load("cameras"), load("sdf"), load("novel"), load("slice"));
    let (w, h) = cameras.dimensions();
    let viewport = (280, 60, w - 20, h - 150);
    let mean_diff = |a: &image::RgbImage, b: &image::RgbImage| {
        let (x0, y0, x1, y1) = viewport;
        let mut sum = 0u64;
        for y in y0..y1 {
            for x in x0..x1 {
                let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
                sum += (0..3).map(|c| (p[c] as i32 - q[c] as i32).unsigned_abs() as u64).sum::<u64>();
            }
        }
        sum as f64 / ((x1 - x0) * (y1 - y0) * 3) as f64
    };
    let all = [("cameras", &cameras), ("sdf", &sdf), ("novel", &novel), ("slice", &slice)];
    for (i, (na, a)) in all.iter().enumerate() {
        for (nb, b) in &all[i + 1..] {
            let d = mean_diff(a, b);
            assert!(d > 2.0, "{na} and {nb} views look the same (mean difference {d:.2})");
        }
    }
    // Shaded SDF: a lit grey surface; novel view: the scene's sky behind the object; slice:
    // warm (outside) and cool (inside) distance colours.
    let grey = count(&sdf, viewport, |p| p[0] > 120 && (p[0] as i32 - p[2] as i32).abs() < 30);
    let sky = count(&novel, viewport, |p| p[2] > 150 && p[2] as i32 > p[0] as i32 + 15);
    let warm = count(&slice, viewport, |p| p[0] > 180 && p[2] < 150 && p[0] as i32 > p[2] as i32 + 40);
    let cool = count(&slice, viewport, |p| p[2] > 150 && p[2] as i32 > p[0] as i32 + 40);
    assert!(grey > 2000, "no shaded surface: {grey} grey pixels");
    assert!(sky > 5000, "no novel view: {sky} sky pixels");
    assert!(warm > 2000 && cool > 100, "no slice: {warm} warm, {cool} cool pixels");
}

/// A folder of bare photos: `--train` finds their poses with COLMAP first, then trains;
/// without COLMAP, Weave's own pose stage poses them, its cameras violet in the viewport.
#[test]
fn window_finds_the_poses_of_bare_photos() {
    let dir = tempfile::tempdir().unwrap();
    let x = Xvfb::start();

    let plain = dir.path().join("plain");
    let opts =
        weave::scene::Options { width: 64, height: 48, views: Some(8), test_views: Some(0), ..Default::default() };
    weave::scene::generate(weave::scene::find("plain").unwrap(), &opts, &plain, &|_, _| {}).unwrap();
    for camera_file in ["transforms.json", "transforms_test.json", "sparse", "test", "ground_truth"] {
        let p = plain.join(camera_file);
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else if p.exists() {
            std::fs::remove_file(p).unwrap();
        }
    }
    let shot = dir.path().join("weave-posed.png");
    let out = Command::new(env!("CARGO_BIN_EXE_weave"))
        .arg(&plain)
        .args(["--screenshot", shot.to_str().unwrap(), "--train", "4"])
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .env("WEAVE_COLMAP", dir.path().join("no-colmap"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("error shown in the window"), "{stderr}");
    let img = image::open(&shot).unwrap_or_else(|e| panic!("no screenshot: {e}\n{stderr}")).into_rgb8();
    let viewport = (270, 40, img.width(), img.height().saturating_sub(150));
    let violet = count(&img, viewport, |p| p[0] > 140 && p[0] < 235 && p[1] > 60 && p[1] < 150 && p[2] > 215);
    assert!(violet > 100, "no cameras posed by Weave in the viewport: {violet} violet pixels");

    let scene = dir.path().join("scene");
    let entry = weave::scene::find("forward").unwrap();
    let opts =
        weave::scene::Options { width: 320, height: 240, views: Some(12), test_views: Some(0), ..Default::default() };
    weave::scene::generate(entry, &opts, &scene, &|_, _| {}).unwrap();
    std::fs::remove_file(scene.join("transforms.json")).unwrap();
    std::fs::remove_dir_all(scene.join("sparse")).unwrap();
    let (img, stderr) = screenshot_with(&x, &scene, &dir.path().join("shot.png"), &["--train", "4"]);
    assert!(!stderr.contains("error shown in the window"), "{stderr}");
    assert!(scene.join("colmap/sparse/0").is_dir());
    // Training ran, which it does only on posed photos: its plots are in the side panel.
    let panel = (0, 200, 260, img.height().min(700));
    let orange = count(&img, panel, |p| p[0] > 200 && p[1] > 120 && p[1] < 190 && p[2] < 100);
    let blue = count(&img, panel, |p| p[2] > 200 && p[1] > 150 && p[0] < 140);
    assert!(orange > 60 && blue > 60, "no training plots: {orange} orange, {blue} blue pixels");
}
