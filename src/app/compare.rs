//! Side by side for one training view: its photo, the current render from its camera (the
//! viewer's novel-view shaders) and the error between them.

use super::error::Error;
use crate::io::View;
use crate::view::{FieldStyle, Renderer, ViewCamera, ViewMode};
use egui::{RichText, TextureHandle};

/// Width the three images are drawn at (pixels), at most.
const WIDTH: u32 = 240;
/// The error image shows |render − photo| times this.
const ERROR_GAIN: f32 = 4.0;

pub struct Compare {
    pub view: usize,
    pub step: u32,
    photo: TextureHandle,
    render: TextureHandle,
    error: TextureHandle,
    psnr: f64,
}

/// Black through red to yellow: where the render is off and by how much.
fn heat(e: f32) -> [u8; 3] {
    let t = e.clamp(0.0, 1.0);
    [(t * 2.0).min(1.0), (t * 2.0 - 1.0).max(0.0), 0.0].map(|c| (c * 255.0) as u8)
}

impl Compare {
    /// Renders view `index` from the field the renderer holds and compares it with the photo.
    pub fn new(
        ctx: &egui::Context,
        renderer: &mut Renderer,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        view: &View,
        index: usize,
        step: u32,
    ) -> Result<Compare, Error> {
        let pose = view.pose.ok_or(Error::NoPose)?;
        let k = view.intrinsics.scaled((WIDTH as f64 / view.intrinsics.width as f64).min(1.0));
        let depth = (pose.center.length() as f32 + 1.0) * 4.0;
        let cam = ViewCamera::from_pose(&pose, &k, depth);
        let style = FieldStyle { mode: ViewMode::Novel, ..Default::default() };
        renderer.field.draw(device, queue, &cam, &style, [0.0, 0.0, 0.0, 1.0]);
        let render = renderer.field.read_image(device, queue).ok_or(crate::view::Error::Readback)?;
        let (photo, _) = crate::io::images::decode_photo(&view.image)?;
        let photo = image::imageops::resize(&photo, k.width, k.height, image::imageops::FilterType::Triangle);
        let mut sq = 0.0f64;
        let mut error = image::RgbImage::new(k.width, k.height);
        for ((p, r), e) in photo.pixels().zip(render.pixels()).zip(error.pixels_mut()) {
            let d: f32 = (0..3).map(|c| (p[c] as f32 - r[c] as f32).abs() / 255.0).sum::<f32>() / 3.0;
            sq += (0..3).map(|c| ((p[c] as f64 - r[c] as f64) / 255.0).powi(2)).sum::<f64>() / 3.0;
            *e = image::Rgb(heat(d * ERROR_GAIN));
        }
        let psnr = -10.0 * (sq / (k.width * k.height) as f64).max(1e-12).log10();
        let tex = |name: &str, rgba: image::RgbaImage| {
            let size = [rgba.width() as usize, rgba.height() as usize];
            ctx.load_texture(name, egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw()), Default::default())
        };
        let rgba = |img: image::RgbImage| image::DynamicImage::ImageRgb8(img).into_rgba8();
        Ok(Compare {
            view: index,
            step,
            photo: tex("compare photo", rgba(photo)),
            render: tex("compare render", render),
            error: tex("compare error", rgba(error)),
            psnr,
        })
    }

    pub fn ui(&self, ui: &mut egui::Ui) {
        let w = (ui.available_width() - 8.0) / 3.0;
        let size = self.photo.size_vec2();
        let size = egui::vec2(w, w * size.y / size.x.max(1.0));
        ui.horizontal(|ui| {
            for (tex, label) in [(&self.photo, "photo"), (&self.render, "render"), (&self.error, "error ×4")] {
                ui.vertical(|ui| {
                    ui.image((tex.id(), size));
                    ui.label(RichText::new(label).small().weak());
                });
            }
        });
        ui.label(format!("PSNR {:.2} dB at step {}", self.psnr, self.step));
    }
}
