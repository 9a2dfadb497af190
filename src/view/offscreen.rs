//! Frames of the field drawn without a window, through the same shaders as the app: `weave
//! view` screenshots and `weave bench view`.

use super::error::{Error, Result};
use super::{CameraGlyph, FieldData, FieldStyle, FieldView, Gpu, MarchSteps, Overlay, Renderer, ViewCamera, ViewMode};
use crate::train::Trainer;
use std::time::Instant;

/// The viewport's background, for views drawn alone.
const BACKGROUND: [f32; 4] = [0.075, 0.08, 0.095, 1.0];

/// Draws `t`'s field from `cam` at the camera's resolution. Without overlays the image is the
/// field alone; with them, the cameras' frusta and the scene bounds are drawn over it.
pub fn render(
    gpu: &Gpu,
    t: &Trainer,
    cam: &ViewCamera,
    style: &FieldStyle,
    overlays: Option<Vec<CameraGlyph>>,
) -> Result<image::RgbaImage> {
    let data = FieldData::from_trainer(t)?;
    let (device, queue) = (&gpu.device, &gpu.queue);
    match overlays {
        None => {
            let mut view = FieldView::new(device, super::COLOR_FORMAT, wgpu::TextureFormat::Depth32Float, 1);
            view.set_field(device, queue, &data, t.norm);
            view.draw(device, queue, cam, style, BACKGROUND);
            view.read_image(device, queue).ok_or(Error::Readback)
        }
        Some(glyphs) => {
            let mut r = Renderer::new(device);
            r.set_show_grid(device, false);
            r.set_cameras(device, glyphs);
            r.set_overlay(
                device,
                Overlay { bounds: Some((glam::DVec3::from(t.norm.center), t.norm.scale)), ..Default::default() },
            );
            r.field.set_field(device, queue, &data, t.norm);
            r.style = Some(*style);
            r.render(device, queue, cam, 1.0);
            r.read_pixels(device, queue).ok_or(Error::Readback)
        }
    }
}

/// Milliseconds per frame of each view mode, drawn `frames` times from slightly different
/// viewpoints around `cam` (so that no frame is a cached one); reported per mode as measured,
/// with the marching steps per pixel of the last frame where the mode marches.
pub fn bench(
    gpu: &Gpu,
    t: &Trainer,
    cam: &ViewCamera,
    frames: u32,
    report: &dyn Fn(ViewMode, f64, Option<MarchSteps>),
) -> Result<()> {
    let data = FieldData::from_trainer(t)?;
    let (device, queue) = (&gpu.device, &gpu.queue);
    // Pipelines are compiled here, before any timing.
    let mut view = FieldView::new(device, super::COLOR_FORMAT, wgpu::TextureFormat::Depth32Float, 1);
    view.set_field(device, queue, &data, t.norm);
    let wait = || {
        device
            .poll(wgpu::PollType::Wait { submission_index: None, timeout: None })
            .map(|_| ())
            .map_err(|e| Error::Device(e.to_string()))
    };
    wait()?;
    for mode in ViewMode::ALL {
        let style = FieldStyle { mode, ..Default::default() };
        let started = Instant::now();
        for i in 0..frames {
            let nudged = ViewCamera { eye: cam.eye + cam.right * (1e-4 * (i + 1) as f32), ..*cam };
            view.draw(device, queue, &nudged, &style, BACKGROUND);
            wait()?;
        }
        let ms = started.elapsed().as_secs_f64() * 1e3 / frames.max(1) as f64;
        let steps = if mode == ViewMode::Slice { None } else { view.march_steps(device, queue) };
        report(mode, ms, steps);
    }
    Ok(())
}
