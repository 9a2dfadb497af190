//! A scene written as COLMAP and as transforms.json loads to the same cameras, conversions
//! in both directions keep them, and pose noise is what was asked for.

use std::path::Path;
use weave::io::convert::{self, Format};
use weave::io::{Dataset, PoseSource};

fn scene(name: &str, dir: &Path, opts: weave::scene::Options) {
    weave::scene::generate(weave::scene::find(name).unwrap(), &opts, dir, &|_, _| {}).unwrap();
}

fn small() -> weave::scene::Options {
    weave::scene::Options { width: 48, height: 36, views: Some(8), test_views: Some(2), ..Default::default() }
}

fn assert_same_cameras(a: &Dataset, b: &Dataset) {
    assert_eq!(a.views.len(), b.views.len());
    for (x, y) in a.views.iter().zip(&b.views) {
        assert_eq!(Path::new(&x.name).file_name(), Path::new(&y.name).file_name());
        let (kx, ky) = (&x.intrinsics, &y.intrinsics);
        assert_eq!((kx.width, kx.height), (ky.width, ky.height));
        for (p, q) in [(kx.fx, ky.fx), (kx.fy, ky.fy), (kx.cx, ky.cx), (kx.cy, ky.cy)] {
            assert!((p - q).abs() < 1e-9, "{} intrinsics differ: {kx:?} vs {ky:?}", x.name);
        }
        let (px, py) = (x.pose.unwrap(), y.pose.unwrap());
        assert!(px.rotation_angle_to(&py) < 1e-9 && (px.center - py.center).length() < 1e-9, "{} pose differs", x.name);
    }
}

#[test]
fn colmap_and_transforms_of_a_scene_agree() {
    let dir = tempfile::tempdir().unwrap();
    scene("room", dir.path(), small());
    let from_transforms = Dataset::open(dir.path()).unwrap();
    assert!(matches!(from_transforms.pose_source, PoseSource::Transforms(_)));
    assert_eq!(from_transforms.test_views.len(), 2);
    std::fs::rename(dir.path().join("transforms.json"), dir.path().join("elsewhere.json")).unwrap();
    let from_colmap = Dataset::open(dir.path()).unwrap();
    assert!(matches!(from_colmap.pose_source, PoseSource::Colmap(_)));
    assert_same_cameras(&from_transforms, &from_colmap);
}

#[test]
fn conversion_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    scene("forward", &data, small());
    let original = Dataset::open(&data).unwrap();
    let out = dir.path().join("out");
    // transforms.json written elsewhere refers back to the images by relative path.
    convert::write(&original, Format::Transforms, &out).unwrap();
    assert_same_cameras(&original, &Dataset::open(&out.join("transforms.json")).unwrap());
    // A COLMAP model beside the images loads to the same cameras.
    std::fs::remove_file(data.join("transforms.json")).unwrap();
    std::fs::remove_dir_all(data.join("sparse")).unwrap();
    convert::write(&original, Format::Colmap, &data).unwrap();
    assert_same_cameras(&original, &Dataset::open(&data).unwrap());
}

#[test]
fn pose_noise_perturbs_given_poses_but_not_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let opts = weave::scene::Options { rot_noise_deg: 2.0, trans_noise: 0.05, views: Some(24), ..small() };
    scene("object", dir.path(), opts);
    let given = Dataset::open(dir.path()).unwrap();
    let truth = Dataset::open(&dir.path().join("ground_truth/transforms.json")).unwrap();
    let n = given.views.len() as f64;
    let (mut rot, mut shift) = (0.0, 0.0);
    for (g, t) in given.views.iter().zip(&truth.views) {
        assert_eq!(g.image, t.image);
        rot += g.pose.unwrap().rotation_angle_to(&t.pose.unwrap()).to_degrees().powi(2);
        shift += (g.pose.unwrap().center - t.pose.unwrap().center).length_squared();
    }
    // RMS of a 3-D isotropic Gaussian is sigma·√3.
    let (rot_rms, shift_rms) = ((rot / n).sqrt(), (shift / n).sqrt());
    assert!((rot_rms / (2.0 * 3f64.sqrt()) - 1.0).abs() < 0.4, "rotation noise RMS {rot_rms}");
    assert!((shift_rms / (0.05 * 3f64.sqrt()) - 1.0).abs() < 0.4, "centre noise RMS {shift_rms}");
}

#[test]
fn every_scene_has_ground_truth_the_cameras_see() {
    for entry in weave::scene::SCENES {
        let dir = tempfile::tempdir().unwrap();
        scene(entry.name, dir.path(), small());
        let ds = Dataset::open(dir.path()).unwrap();
        assert_eq!((ds.views.len(), ds.test_views.len()), (8, 2), "{}", entry.name);
        let mesh = std::fs::read(dir.path().join("gt_mesh.ply")).unwrap();
        assert!(mesh.starts_with(b"ply\nformat binary_little_endian"), "{}", entry.name);
        // Training and test views are distinct positions on the capture path.
        for t in &ds.test_views {
            let nearest = ds
                .views
                .iter()
                .map(|v| (v.pose.unwrap().center - t.pose.unwrap().center).length())
                .fold(f64::MAX, f64::min);
            assert!(nearest > 1e-6, "{}: a test view duplicates a training view", entry.name);
        }
        // RGBA scenes carry the object's coverage as alpha, and no masks beside it.
        let photo = image::open(&ds.views[0].image).unwrap();
        assert_eq!(photo.color().has_alpha(), entry.alpha, "{}", entry.name);
        if entry.alpha {
            let alpha: Vec<u8> = photo.to_rgba8().pixels().map(|p| p[3]).collect();
            assert!(alpha.contains(&0) && alpha.contains(&255), "{}: alpha is not a silhouette", entry.name);
            assert!(!dir.path().join("masks").exists(), "{}", entry.name);
        }
        // Images are not blank: the scene is in view.
        let img = photo.into_rgb8();
        let mean = img.pixels().map(|p| p[0] as f64).sum::<f64>() / (img.width() * img.height()) as f64;
        let var = img.pixels().map(|p| (p[0] as f64 - mean).powi(2)).sum::<f64>() / (img.width() * img.height()) as f64;
        assert!(var > 50.0, "{}: first image is nearly uniform", entry.name);
    }
}
