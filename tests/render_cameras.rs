//! Headless wgpu: the viewport draws each camera's frustum where the projection says.
//! Needs an adapter; without a GPU install Mesa's lavapipe (`mesa-vulkan-drivers`), as
//! `.ci/run` does. With none, this test fails and says so rather than skipping.

use glam::Vec2;
use weave::io::Dataset;
use weave::view::{CameraGlyph, Gpu, Renderer, ViewCamera};

fn is_frustum(p: &image::Rgba<u8>) -> bool {
    p[0] > 110 && p[0] as i32 > p[2] as i32 + 50
}

fn is_selected(p: &image::Rgba<u8>) -> bool {
    p[2] > 110 && p[2] as i32 > p[0] as i32 + 50
}

#[test]
fn frusta_appear_where_cameras_project() {
    let dir = tempfile::tempdir().unwrap();
    let entry = weave::scene::find("object").unwrap();
    let opts =
        weave::scene::Options { width: 64, height: 48, views: Some(10), test_views: Some(0), ..Default::default() };
    weave::scene::generate(entry, &opts, dir.path(), &|_, _| {}).unwrap();
    let ds = Dataset::open(dir.path()).unwrap();
    let glyphs: Vec<CameraGlyph> = ds
        .views
        .iter()
        .map(|v| CameraGlyph { pose: v.pose.unwrap(), intrinsics: v.intrinsics, found: false })
        .collect();

    let gpu = Gpu::headless().unwrap_or_else(|e| panic!("rendering tests need a wgpu adapter: {e}"));
    let mut r = Renderer::new(&gpu.device);
    r.set_show_grid(&gpu.device, false);
    let framing = r.set_cameras(&gpu.device, glyphs.clone()).unwrap();
    let (w, h) = (320u32, 240u32);
    let orbit = framing.orbit(w as f32 / h as f32);
    r.render(&gpu.device, &gpu.queue, &ViewCamera::from_orbit(&orbit, w, h), 1.0);
    let img = r.read_pixels(&gpu.device, &gpu.queue).unwrap();

    let vp = orbit.view_proj(w as f32 / h as f32);
    let to_pixel = |p: glam::Vec3| {
        let ndc = vp.project_point3(p);
        Vec2::new((ndc.x + 1.0) * 0.5 * w as f32, (1.0 - ndc.y) * 0.5 * h as f32)
    };
    let near = |c: Vec2, pred: &dyn Fn(&image::Rgba<u8>) -> bool| {
        (-2..=2).any(|dy| {
            (-2..=2).any(|dx| {
                let (x, y) = (c.x as i32 + dx, c.y as i32 + dy);
                x >= 0 && y >= 0 && x < w as i32 && y < h as i32 && pred(img.get_pixel(x as u32, y as u32))
            })
        })
    };
    // Every camera centre (the frustum apex) is drawn in frustum colour.
    for g in &glyphs {
        let c = to_pixel(g.pose.center.as_vec3());
        assert!(c.x >= 0.0 && c.y >= 0.0 && c.x < w as f32 && c.y < h as f32, "framing leaves a camera out");
        assert!(near(c, &is_frustum), "no frustum drawn at camera projection {c:?}");
    }
    // Frustum pixels are rare: lines, not a filled screen; the image corners stay background.
    let lit = img.pixels().filter(|p| is_frustum(p)).count();
    assert!(lit > 100 && lit < (w * h / 4) as usize, "{lit} frustum pixels");
    assert!(!is_frustum(img.get_pixel(0, 0)) && !is_frustum(img.get_pixel(w - 1, h - 1)));

    // Selecting a camera recolours its frustum, and only it.
    r.select(&gpu.device, Some(3));
    r.render(&gpu.device, &gpu.queue, &ViewCamera::from_orbit(&orbit, w, h), 1.0);
    let img2 = r.read_pixels(&gpu.device, &gpu.queue).unwrap();
    let sel = to_pixel(glyphs[3].pose.center.as_vec3());
    let near2 = |c: Vec2| {
        (-2..=2).any(|dy| {
            (-2..=2).any(|dx| is_selected(img2.get_pixel((c.x as i32 + dx) as u32, (c.y as i32 + dy) as u32)))
        })
    };
    assert!(near2(sel), "selected camera not highlighted");
    let selected_pixels = img2.pixels().filter(|p| is_selected(p)).count();
    assert!(selected_pixels * 4 < lit, "highlight spread beyond one camera: {selected_pixels} of {lit}");
}
