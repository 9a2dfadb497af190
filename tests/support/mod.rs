//! Helpers shared by integration tests: points on meshes, Chamfer distance, PLY reading, and
//! the reduced training configuration both backends are checked with.

use glam::Vec3;
use weave::geometry::Mesh;
use weave::io::Dataset;
use weave::nn::hashgrid::HashGridConfig;
use weave::train::{Preset, TrainConfig, Trainer, checkpoint, outputs};

/// Area-weighted points on a mesh (deterministic).
fn sample(mesh: &Mesh, n: usize) -> Vec<Vec3> {
    let areas: Vec<f32> = mesh
        .triangles
        .iter()
        .map(|t| {
            let [a, b, c] = t.map(|i| mesh.vertices[i as usize]);
            0.5 * (b - a).cross(c - a).length()
        })
        .collect();
    let total: f32 = areas.iter().sum();
    let mut out = Vec::with_capacity(n);
    let mut acc = 0.0;
    let mut k = 0usize;
    for (t, area) in mesh.triangles.iter().zip(&areas) {
        acc += area / total * n as f32;
        while (k as f32) < acc && out.len() < n {
            let [a, b, c] = t.map(|i| mesh.vertices[i as usize]);
            let (u, v) = (((k as f32 * 0.618) % 1.0), ((k as f32 * 0.382) % 1.0));
            let (u, v) = if u + v > 1.0 { (1.0 - u, 1.0 - v) } else { (u, v) };
            out.push(a + (b - a) * u + (c - a) * v);
            k += 1;
        }
    }
    out
}

/// Symmetric mean nearest-neighbour distance between point sets.
fn chamfer(a: &[Vec3], b: &[Vec3]) -> f32 {
    let one = |x: &[Vec3], y: &[Vec3]| {
        x.iter().map(|p| y.iter().map(|q| p.distance_squared(*q)).fold(f32::MAX, f32::min).sqrt()).sum::<f32>()
            / x.len() as f32
    };
    0.5 * (one(a, b) + one(b, a))
}

fn read_ply(path: &std::path::Path) -> Mesh {
    let bytes = std::fs::read(path).unwrap();
    let end = bytes.windows(11).position(|w| w == b"end_header\n").unwrap() + 11;
    let header = std::str::from_utf8(&bytes[..end]).unwrap();
    let count = |what: &str| -> usize {
        header
            .lines()
            .find(|l| l.starts_with(&format!("element {what} ")))
            .unwrap()
            .split(' ')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap()
    };
    let (nv, nf) = (count("vertex"), count("face"));
    let has = |property: &str| header.lines().any(|l| l == property);
    let stride = 12 + if has("property float nz") { 12 } else { 0 } + if has("property uchar red") { 3 } else { 0 };
    let f = |o: usize| f32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let vertices =
        (0..nv).map(|i| Vec3::new(f(end + i * stride), f(end + i * stride + 4), f(end + i * stride + 8))).collect();
    let base = end + nv * stride;
    let idx = |o: usize| i32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as u32;
    let triangles = (0..nf).map(|i| [idx(base + i * 13 + 1), idx(base + i * 13 + 5), idx(base + i * 13 + 9)]).collect();
    Mesh { vertices, colors: Vec::new(), triangles }
}

/// A training run small enough for a test: 300 steps of 512 rays, an 8-level grid.
pub fn reduced_config() -> TrainConfig {
    let mut cfg = TrainConfig::preset(Preset::Fast);
    cfg.iterations = 300;
    cfg.rays = 512;
    cfg.grid = HashGridConfig { levels: 8, log2_table: 15, base_resolution: 16.0, max_resolution: 256.0 };
    cfg.initial_levels = 2;
    cfg.level_interval = 25;
    cfg.anneal_steps = 200;
    cfg.mesh_resolution = 96;
    cfg
}

/// Trains the reduced configuration on the procedural object (on CUDA when `cuda`) and checks
/// that it reconstructs it: held-out PSNR and Chamfer distance to the exact mesh beat bounds
/// that the untrained field (a sphere) or a broken trainer cannot reach.
pub fn reduced_training(cuda: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("object");
    let opts =
        weave::scene::Options { width: 80, height: 60, views: Some(24), test_views: Some(3), ..Default::default() };
    weave::scene::generate(weave::scene::find("object").unwrap(), &opts, &data, &|_, _| {}).unwrap();
    let ds = Dataset::open(&data).unwrap();

    let mut t = Trainer::new(reduced_config(), weave::render::views::load(&ds.views, 1.0).unwrap());
    if cuda {
        let (device, _) = t.choose_backend(weave::backend::Choice::Cuda).expect("a usable CUDA device");
        eprintln!("training on {device}");
    }
    let gt = sample(&read_ply(&data.join("gt_mesh.ply")), 1500);
    let diag = {
        let (lo, hi) = gt.iter().fold((Vec3::MAX, Vec3::MIN), |(l, h), p| (l.min(*p), h.max(*p)));
        (hi - lo).length()
    };
    let before = chamfer(&sample(&outputs::mesh(&t, 64, None, None), 1500), &gt) / diag;

    let mut last = None;
    while t.step < t.cfg.iterations {
        last = Some(t.step().expect("no rollback on a clean scene"));
    }
    let out = dir.path().join("out");
    let mut metrics = outputs::Metrics::default();
    t.sync().unwrap_or_else(|r| panic!("{}", r.why));
    outputs::write_all(&t, &ds, &out, &mut metrics).unwrap();
    checkpoint::save(&t, &out.join("checkpoint.weave")).unwrap();
    let after = chamfer(&sample(&read_ply(&out.join("mesh.ply")), 1500), &gt) / diag;
    let psnr = metrics.test_psnr.unwrap();
    eprintln!(
        "train PSNR {:.2}, test PSNR {psnr:.2}, Chamfer/diag before {before:.4} after {after:.4}",
        last.unwrap().psnr
    );

    assert!(out.join("transforms.json").is_file() && out.join("colmap/images.txt").is_file());
    assert_eq!(std::fs::read_dir(out.join("test")).unwrap().count(), 3);
    assert!(psnr > 21.0, "held-out PSNR {psnr:.2} dB");
    assert!(after < 0.05, "Chamfer {after:.4} of the diagonal");
    assert!(after < 0.6 * before, "training did not improve the surface: {before:.4} → {after:.4}");

    // The checkpoint re-extracts the same surface.
    let back = checkpoint::load(&out.join("checkpoint.weave"), Vec::new()).unwrap();
    let again = chamfer(&sample(&outputs::mesh(&back, 96, None, None), 1500), &gt) / diag;
    assert!((again - after).abs() < 1e-3, "{again} vs {after}");
}
