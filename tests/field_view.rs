//! The field as the viewer's shaders draw it (WGSL through wgpu; lavapipe without a GPU, as
//! `.ci/run` installs): point evaluations match the CPU backend, a known SDF renders with the
//! silhouette and shading its geometry predicts, and the novel view of a trained field matches
//! the CPU renderer's image.

use glam::{DVec3, Vec3};
use weave::field::{ColorEval, Field, FieldConfig, Occupancy, SurfaceSample};
use weave::geometry::{Intrinsics, Pose};
use weave::nn::hashgrid::HashGridConfig;
use weave::nn::sh;
use weave::render::RenderSettings;
use weave::render::views::Normalization;
use weave::view::{FieldData, FieldStyle, FieldView, Gpu, ViewCamera, ViewMode};

fn gpu() -> Gpu {
    Gpu::headless().unwrap_or_else(|e| panic!("field rendering tests need a wgpu adapter: {e}"))
}

fn settings(active: usize) -> RenderSettings {
    RenderSettings {
        step: 2.0 / 128.0,
        max_samples: 128,
        active_levels: active,
        fd_h: 0.01,
        anneal: 0.7,
        eikonal_weight: 0.1,
        mask_weight: 0.1,
        huber_delta: 0.1,
        far_weight: 0.0,
        depth_weight: 0.0,
        ray_grads: false,
    }
}

fn draw(gpu: &Gpu, data: &FieldData, norm: Normalization, cam: &ViewCamera, style: FieldStyle) -> image::RgbaImage {
    let mut view = FieldView::new(&gpu.device, weave::view::COLOR_FORMAT, wgpu::TextureFormat::Depth32Float, 4);
    view.set_field(&gpu.device, &gpu.queue, data, norm);
    assert!(view.draw(&gpu.device, &gpu.queue, cam, &style, [0.0, 0.0, 0.0, 1.0]));
    view.read_image(&gpu.device, &gpu.queue).unwrap()
}

/// The direction of the ray through pixel (x, y)'s centre.
fn pixel_direction(cam: &ViewCamera, x: u32, y: u32) -> Vec3 {
    ray_direction(cam, x as f32 + 0.5, y as f32 + 0.5)
}

/// The direction of the ray through image point (u, v), in pixels.
fn ray_direction(cam: &ViewCamera, u: f32, v: f32) -> Vec3 {
    (cam.right * (u - cam.cx) / cam.fx + cam.down * (v - cam.cy) / cam.fy + cam.forward).normalize()
}

/// An untrained field: exactly its prior, a sphere of radius 0.5 in the normalised frame,
/// which the normalisation places at (1, 2, 3) in the world with radius 1.
fn prior_sphere() -> (FieldData, Normalization, DVec3) {
    let field = Field::new(FieldConfig {
        grid: HashGridConfig { levels: 4, log2_table: 10, base_resolution: 4.0, max_resolution: 32.0 },
        hidden: 16,
        orientation: 1.0,
        init_radius: 0.5,
        background: true,
        view_degree: 4,
    });
    let p = field.init_params(1);
    let data = FieldData::new(&field, &p, &Occupancy::full(16), &settings(4)).unwrap();
    (data, Normalization { center: [1.0, 2.0, 3.0], scale: 2.0 }, DVec3::new(1.0, 2.0, 3.0))
}

#[test]
fn wgsl_field_matches_the_cpu_backend() {
    // Hashed and dense levels, non-trivial weights everywhere.
    let field = Field::new(FieldConfig {
        grid: HashGridConfig { levels: 8, log2_table: 12, base_resolution: 4.0, max_resolution: 128.0 },
        hidden: 64,
        orientation: 1.0,
        init_radius: 0.5,
        background: true,
        // Below the full degree, so the view coefficients the colour ignores are checked too.
        view_degree: 2,
    });
    let mut p = field.init_params(7);
    for (i, v) in p.grid.iter_mut().enumerate() {
        *v = ((i as f32 * 0.7548).fract() - 0.5) * 0.2;
    }
    for (i, v) in p.sdf.iter_mut().enumerate() {
        *v += ((i as f32 * 0.5698).fract() - 0.5) * 0.05;
    }
    let s = settings(6);
    let data = FieldData::new(&field, &p, &Occupancy::full(8), &s).unwrap();
    let n = 500;
    let points: Vec<[f32; 3]> = (0..n)
        .map(|i| {
            let f = |k: f32| ((i as f32 * k).fract() - 0.5) * 1.8;
            [f(0.618), f(0.414), f(0.732)]
        })
        .collect();
    let dirs: Vec<[f32; 3]> = (0..n)
        .map(|i| {
            let (a, b) = (i as f32 * 2.39996, (i as f32 * 0.37).fract() * 2.0 - 1.0);
            let r = (1.0 - b * b).sqrt();
            [r * a.cos(), r * a.sin(), b]
        })
        .collect();
    let gpu_out = weave::view::probe(&gpu(), &data, &points, &dirs);
    let mut sample = SurfaceSample::default();
    let mut ce = ColorEval::default();
    let mut worst = [0f32; 3];
    for i in 0..n {
        field.surface(&p, points[i], s.fd_h, s.active_levels, &mut sample);
        let mut dir_sh = [0.0; sh::COEFFS];
        sh::encode(dirs[i], &mut dir_sh);
        field.color(&p, sample.grad, &dir_sh, &sample.feat, &mut ce);
        let g = &gpu_out[i];
        worst[0] = worst[0].max((g.sdf - sample.sdf).abs());
        for a in 0..3 {
            worst[1] = worst[1].max((g.grad[a] - sample.grad[a]).abs() / sample.grad[a].abs().max(1.0));
            worst[2] = worst[2].max((g.rgb[a] - ce.rgb[a]).abs());
        }
    }
    eprintln!("worst differences: sdf {:.2e}, gradient {:.2e} (relative), colour {:.2e}", worst[0], worst[1], worst[2]);
    // Float rounding in a different summation order; the gradient divides SDF differences by
    // 4h = 0.04, which multiplies their rounding by 25.
    assert!(worst[0] < 1e-5, "SDF differs by {}", worst[0]);
    assert!(worst[1] < 1e-3, "gradient differs by {}", worst[1]);
    assert!(worst[2] < 1e-4, "colour differs by {}", worst[2]);
}

/// The untrained field is exactly its prior, a sphere of radius 0.5 (normalised): in the
/// world, radius 1 about (1, 2, 3). Each pixel's ray is intersected with that sphere here.
#[test]
fn shaded_sphere_has_the_predicted_silhouette_and_shading() {
    let (data, norm, center) = prior_sphere();
    let pose = Pose::look_at(center + DVec3::new(3.5, -2.0, 1.5), center, DVec3::Z);
    let cam = ViewCamera::from_pose(&pose, &Intrinsics::centered(160, 120, 150.0), 5.0);
    let img = draw(&gpu(), &data, norm, &cam, FieldStyle { mode: ViewMode::Sdf, ..Default::default() });

    let light = weave::view::light_direction(&cam);
    let c = center.as_vec3();
    let oc = cam.eye - c;
    // Where the ray through (u, v) meets the sphere, if it does.
    let hit = |d: Vec3| {
        let b = oc.dot(d);
        let disc = b * b - (oc.length_squared() - 1.0);
        (disc >= 0.0).then(|| cam.eye + d * (-b - disc.sqrt()))
    };
    // The pixel's channels must lie within the shades of these normals, give or take `slack`.
    let check_shade = |x: u32, y: u32, px: &image::Rgba<u8>, normals: &[Vec3], slack: f32| {
        for (k, albedo) in [0.78f32, 0.76, 0.72].iter().enumerate() {
            let expect: Vec<f32> = normals
                .iter()
                .map(|n| {
                    let shade = 0.18 + 0.82 * n.dot(light).max(0.0);
                    (albedo * shade).powf(1.0 / 2.2) * 255.0
                })
                .collect();
            let lo = expect.iter().fold(f32::MAX, |a, &b| a.min(b));
            let hi = expect.iter().fold(f32::MIN, |a, &b| a.max(b));
            let v = px[k] as f32;
            assert!(v >= lo - slack && v <= hi + slack, "pixel ({x}, {y}) channel {k}: {v} outside {lo:.1}..{hi:.1}");
        }
    };
    let (mut hits, mut grazing_hits, mut silhouette_errors) = (0, 0, 0);
    for y in 0..cam.height {
        for x in 0..cam.width {
            let d = pixel_direction(&cam, x, y);
            let b = oc.dot(d);
            let disc = b * b - (oc.length_squared() - 1.0);
            let px = img.get_pixel(x, y);
            let lit = px[0] > 0 || px[1] > 0 || px[2] > 0;
            // Sphere tracing stops within half a pixel's footprint of the surface, so a pixel
            // shows a point seen within half a pixel of its centre.
            let footprint: Vec<Vec3> = [(0.5, 0.5), (0.0, 0.5), (1.0, 0.5), (0.5, 0.0), (0.5, 1.0)]
                .iter()
                .map(|&(du, dv)| ray_direction(&cam, x as f32 + du, y as f32 + dv))
                .collect();
            let mut normals: Vec<Vec3> =
                footprint.iter().filter_map(|&d| hit(d)).map(|p| (p - c).normalize()).collect();
            // Pixels whose ray grazes the sphere may go either way, but when they show the
            // surface it is edge-on: lit like the normal at a ray's closest approach.
            if disc.abs() < 0.03 {
                if lit {
                    grazing_hits += 1;
                    normals.extend(footprint.iter().map(|&d| (cam.eye - oc.dot(d) * d - c).normalize()));
                    // Edge-on shading turns fast with the normal: more slack than face-on.
                    check_shade(x, y, px, &normals, 8.0);
                }
                continue;
            }
            if (disc > 0.0) != lit {
                silhouette_errors += 1;
            }
            if disc > 0.0 {
                hits += 1;
                check_shade(x, y, px, &normals, 3.0);
            }
        }
    }
    assert!(grazing_hits > 20, "only {grazing_hits} grazing rays hit the sphere");
    assert!(hits > 2000, "the sphere covers only {hits} pixels");
    assert_eq!(silhouette_errors, 0);
}

/// A box through the real field path: no prior (orientation 0), one dense hash-grid level
/// holding the box's exact signed distance at its corners, and an SDF network that passes
/// that feature through (ReLU(f) − ReLU(−f)). Trilinear interpolation is exact wherever the
/// distance is linear across a cell (near the faces, away from the edges), so the faces'
/// silhouette and flat shading are what the box predicts.
#[test]
fn shaded_box_has_the_predicted_silhouette_and_shading() {
    const RES: usize = 48;
    let half = Vec3::new(0.45, 0.3, 0.25);
    let field = Field::new(FieldConfig {
        grid: HashGridConfig { levels: 1, log2_table: 17, base_resolution: RES as f32, max_resolution: RES as f32 },
        hidden: 2,
        orientation: 0.0,
        init_radius: 0.5,
        background: true,
        view_degree: 4,
    });
    let (res, side, dense) = field.grid().level(0);
    assert!(dense && res == RES as f32, "the level must be stored densely");
    let box_sdf = |p: Vec3| {
        let q = p.abs() - half;
        q.max(Vec3::ZERO).length() + q.max_element().min(0.0)
    };
    let mut p = field.init_params(1);
    p.grid.fill(0.0);
    let side = side as usize;
    for k in 0..=RES {
        for j in 0..=RES {
            for i in 0..=RES {
                let at = Vec3::new(i as f32, j as f32, k as f32) * (2.0 / RES as f32) - Vec3::ONE;
                p.grid[(i + side * (j + side * k)) * 2] = box_sdf(at);
            }
        }
    }
    // SDF network: inputs (x, y, z, f0, f1), hidden (ReLU(f0), ReLU(−f0)), output h0 − h1.
    let shape = field.cfg.sdf_shape();
    p.sdf.fill(0.0);
    p.sdf[3] = 1.0;
    p.sdf[shape.input + 3] = -1.0;
    let w2 = 2 * shape.input + 2;
    p.sdf[w2] = 1.0;
    p.sdf[w2 + 1] = -1.0;
    let data = FieldData::new(&field, &p, &Occupancy::full(16), &settings(1)).unwrap();
    let (center, scale) = (DVec3::new(-1.0, 0.5, 2.0), 2.0);
    let norm = Normalization { center: center.to_array(), scale };

    let pose = Pose::look_at(center + DVec3::new(3.0, -2.2, 1.8), center, DVec3::Z);
    let cam = ViewCamera::from_pose(&pose, &Intrinsics::centered(160, 120, 150.0), 5.0);
    let img = draw(&gpu(), &data, norm, &cam, FieldStyle { mode: ViewMode::Sdf, ..Default::default() });

    let light = weave::view::light_direction(&cam);
    let eye = (cam.eye - center.as_vec3()) / scale as f32;
    // Rays within a cell of an edge may go either way: test the box grown and shrunk by one.
    let margin = 2.0 / RES as f32;
    let hit = |d: Vec3, h: Vec3| -> Option<(f32, usize)> {
        let (mut near, mut far, mut axis) = (f32::MIN, f32::MAX, 0);
        for a in 0..3 {
            let (t0, t1) = ((-h[a] - eye[a]) / d[a], (h[a] - eye[a]) / d[a]);
            let (lo, hi) = (t0.min(t1), t0.max(t1));
            if lo > near {
                (near, axis) = (lo, a);
            }
            far = far.min(hi);
        }
        (near <= far && near > 0.0).then_some((near, axis))
    };
    let (mut hits, mut silhouette_errors) = (0, 0);
    for y in 0..cam.height {
        for x in 0..cam.width {
            let d = pixel_direction(&cam, x, y);
            let px = img.get_pixel(x, y);
            let lit = px[0] > 0 || px[1] > 0 || px[2] > 0;
            let inner = hit(d, half - Vec3::splat(margin));
            if hit(d, half + Vec3::splat(margin)).is_none() && lit || inner.is_some() && !lit {
                silhouette_errors += 1;
            }
            let Some((t, axis)) = hit(d, half) else { continue };
            let on_face = eye + d * t;
            // Flat shading is exact where no cell the tetrahedron of the normal touches reaches
            // the distance's ridges, which start at the face's edges.
            if inner.is_none() || (0..3).any(|a| a != axis && on_face[a].abs() > half[a] - 2.5 * margin) {
                continue;
            }
            hits += 1;
            let mut n = Vec3::ZERO;
            n[axis] = on_face[axis].signum();
            let shade = 0.18 + 0.82 * n.dot(light).max(0.0);
            for (k, albedo) in [0.78f32, 0.76, 0.72].iter().enumerate() {
                let expect = (albedo * shade).powf(1.0 / 2.2) * 255.0;
                assert!((px[k] as f32 - expect).abs() <= 3.0, "pixel ({x}, {y}) channel {k}: {} vs {expect:.1}", px[k]);
            }
        }
    }
    assert!(hits > 1500, "the box's faces cover only {hits} pixels");
    assert_eq!(silhouette_errors, 0);
}

#[test]
fn novel_view_matches_the_cpu_render_of_a_trained_field() {
    let dir = tempfile::tempdir().unwrap();
    let opts =
        weave::scene::Options { width: 48, height: 36, views: Some(12), test_views: Some(1), ..Default::default() };
    weave::scene::generate(weave::scene::find("object").unwrap(), &opts, dir.path(), &|_, _| {}).unwrap();
    let ds = weave::io::Dataset::open(dir.path()).unwrap();
    let mut cfg = weave::train::TrainConfig::preset(weave::train::Preset::Fast);
    cfg.grid = HashGridConfig { levels: 8, log2_table: 14, base_resolution: 16.0, max_resolution: 256.0 };
    cfg.rays = 256;
    cfg.initial_levels = 4;
    cfg.level_interval = 10;
    let mut t = weave::train::Trainer::new(cfg, weave::render::views::load(&ds.views, 1.0).unwrap());
    for _ in 0..80 {
        t.step().unwrap();
    }
    let v = &ds.test_views[0];
    let cpu = t.render(&v.intrinsics, &v.pose.unwrap());
    let cam = ViewCamera::from_pose(&v.pose.unwrap(), &v.intrinsics, 10.0);
    let data = FieldData::from_trainer(&t).unwrap();
    let img = draw(&gpu(), &data, t.norm, &cam, FieldStyle { mode: ViewMode::Novel, ..Default::default() });
    let rgb = image::DynamicImage::ImageRgba8(img).to_rgb8();
    let psnr = weave::train::trainer::psnr(&rgb, &cpu);
    eprintln!("novel view against the CPU render: {psnr:.1} dB");
    assert!(psnr > 40.0, "GPU and CPU renders differ: {psnr:.1} dB");
}

/// The slice of the untrained sphere (radius 0.5, normalised) through its centre: the zero
/// contour is dark exactly where the plane meets the sphere, warm outside, cool inside.
#[test]
fn slice_shows_the_zero_contour_where_the_geometry_predicts() {
    let (data, norm, center) = prior_sphere();
    let pose = Pose::look_at(center + DVec3::new(2.0, -3.0, 4.0), center, DVec3::Z);
    let cam = ViewCamera::from_pose(&pose, &Intrinsics::centered(160, 120, 140.0), 5.0);
    let style = FieldStyle { mode: ViewMode::Slice, slice_axis: 2, slice_offset: 0.0, ..Default::default() };
    let img = draw(&gpu(), &data, norm, &cam, style);
    let (mut contour, mut warm, mut cool) = (0, 0, 0);
    let o = (cam.eye - center.as_vec3()) / 2.0;
    for y in 0..cam.height {
        for x in 0..cam.width {
            let d = pixel_direction(&cam, x, y);
            let t = -o.z / d.z;
            let hit = o + t * d;
            if t <= 0.0 || hit.x.abs() > 0.98 || hit.y.abs() > 0.98 {
                continue;
            }
            let sdf = hit.length() - 0.5;
            let footprint = t / cam.fy;
            let px = img.get_pixel(x, y);
            let dark = px[0] < 60 && px[1] < 60 && px[2] < 60;
            if sdf.abs() < 0.25 * footprint {
                assert!(dark, "pixel ({x}, {y}) on the contour is {px:?}");
                contour += 1;
            } else if sdf.abs() > 3.0 * footprint {
                assert!(!dark, "pixel ({x}, {y}) off the contour (sdf {sdf}) is dark");
                if sdf > 0.0 {
                    assert!(px[0] > px[2], "outside should be warm: {px:?} at ({x}, {y})");
                    warm += 1;
                } else {
                    assert!(px[2] > px[0], "inside should be cool: {px:?} at ({x}, {y})");
                    cool += 1;
                }
            }
        }
    }
    assert!(contour > 20 && warm > 1000 && cool > 500, "{contour} contour, {warm} warm, {cool} cool pixels");
}
