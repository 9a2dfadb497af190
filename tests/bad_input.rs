//! Bad input on the command line: one clear message naming the file and the problem, a
//! non-zero exit when nothing usable is left, a warning when the rest of the folder is usable,
//! and never a panic.

use std::path::Path;
use std::process::Command;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn weave(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_weave")).args(args).output().unwrap();
    let run = Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "weave panicked: {}", run.stderr);
    run
}

fn info(path: &Path) -> Run {
    weave(&["info", path.to_str().unwrap()])
}

fn png(path: &Path, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90])).save(path).unwrap();
}

fn scene(dir: &Path) {
    let entry = weave::scene::find("object").unwrap();
    let opts =
        weave::scene::Options { width: 40, height: 30, views: Some(6), test_views: Some(0), ..Default::default() };
    weave::scene::generate(entry, &opts, dir, &|_, _| {}).unwrap();
}

#[test]
fn missing_path() {
    let r = info(Path::new("/no/such/place"));
    assert!(!r.ok && r.stderr.contains("/no/such/place") && r.stderr.contains("no such file"), "{}", r.stderr);
}

#[test]
fn empty_folder_and_folder_without_images() {
    let dir = tempfile::tempdir().unwrap();
    let r = info(dir.path());
    assert!(!r.ok && r.stderr.contains("empty"), "{}", r.stderr);
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let r = info(dir.path());
    assert!(!r.ok && r.stderr.contains("no images found"), "{}", r.stderr);
}

#[test]
fn corrupt_jpeg_is_skipped_when_the_rest_is_usable() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"), 40, 30);
    png(&dir.path().join("b.png"), 40, 30);
    image::RgbImage::new(40, 30).save(dir.path().join("c.jpg")).unwrap();
    let bytes = std::fs::read(dir.path().join("c.jpg")).unwrap();
    std::fs::write(dir.path().join("c.jpg"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    let r = info(dir.path());
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("c.jpg") && r.stderr.contains("truncated"), "{}", r.stderr);
    assert!(r.stdout.contains("images:      2"), "{}", r.stdout);
    assert!(
        r.stdout.contains("GUESS"),
        "bare PNGs have no EXIF: the focal length must be flagged as a guess\n{}",
        r.stdout
    );
    // Nothing usable left: an error.
    std::fs::remove_file(dir.path().join("a.png")).unwrap();
    std::fs::remove_file(dir.path().join("b.png")).unwrap();
    let r = info(dir.path());
    assert!(!r.ok && r.stderr.contains("no usable images") && r.stderr.contains("c.jpg"), "{}", r.stderr);
}

#[test]
fn images_of_different_sizes() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("images/a.png"), 40, 30);
    png(&dir.path().join("images/b.png"), 40, 30);
    png(&dir.path().join("images/odd.png"), 30, 40);
    let r = info(dir.path());
    assert!(r.ok && r.stderr.contains("odd.png") && r.stderr.contains("30x40"), "{}", r.stderr);

    // With a camera file, an image of another aspect ratio cannot use its camera: skipped.
    let s = tempfile::tempdir().unwrap();
    scene(s.path());
    png(&s.path().join("images/002.png"), 30, 30);
    let r = info(s.path());
    assert!(r.ok && r.stderr.contains("002.png") && r.stderr.contains("aspect"), "{}", r.stderr);
    assert!(r.stdout.contains("images:      5"), "{}", r.stdout);
    // One of the same aspect ratio is a resized copy: its intrinsics are scaled.
    png(&s.path().join("images/002.png"), 80, 60);
    let r = info(s.path());
    assert!(
        r.ok && r.stdout.contains("images:      6") && r.stdout.contains("40x30, 80x60"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn colmap_model_naming_missing_images() {
    let s = tempfile::tempdir().unwrap();
    scene(s.path());
    std::fs::remove_file(s.path().join("transforms.json")).unwrap();
    std::fs::remove_file(s.path().join("images/001.png")).unwrap();
    let r = info(s.path());
    assert!(r.ok && r.stdout.contains("COLMAP"), "{}", r.stdout);
    assert!(r.stderr.contains("001.png") && r.stderr.contains("missing"), "{}", r.stderr);
    std::fs::remove_dir_all(s.path().join("images")).unwrap();
    std::fs::create_dir(s.path().join("images")).unwrap();
    let r = info(s.path());
    assert!(!r.ok && r.stderr.contains("missing"), "{}", r.stderr);
}

#[test]
fn malformed_camera_files() {
    let s = tempfile::tempdir().unwrap();
    scene(s.path());
    std::fs::write(s.path().join("transforms.json"), "{ \"frames\": [ {\"file_path\": ").unwrap();
    let r = info(s.path());
    assert!(!r.ok && r.stderr.contains("transforms.json") && r.stderr.contains("malformed JSON"), "{}", r.stderr);
    std::fs::remove_file(s.path().join("transforms.json")).unwrap();
    std::fs::write(s.path().join("sparse/0/cameras.txt"), "1 PINHOLE 40 30 nan? 20 15\n").unwrap();
    let r = info(s.path());
    assert!(!r.ok && r.stderr.contains("cameras.txt:1"), "{}", r.stderr);
}

#[test]
fn convert_without_poses_and_unknown_scene() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"), 40, 30);
    let out = dir.path().join("out");
    let r = weave(&["convert", dir.path().to_str().unwrap(), "--to", "colmap", "--out", out.to_str().unwrap()]);
    assert!(!r.ok && r.stderr.contains("no camera poses"), "{}", r.stderr);
    assert!(!out.join("sparse/0/images.txt").exists());
    let r = weave(&["scene", "castle", "--out", out.to_str().unwrap()]);
    assert!(!r.ok && r.stderr.contains("object, object-top, room, forward"), "{}", r.stderr);
}

#[test]
fn help_documents_every_command() {
    let r = weave(&["--help"]);
    for cmd in ["info", "convert", "sfm", "scene", "train", "export", "--screenshot"] {
        assert!(r.stdout.contains(cmd), "--help does not mention {cmd}:\n{}", r.stdout);
    }
}
