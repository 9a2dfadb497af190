//! Saving what the window shows to a PNG.

use crate::view::Gpu;
use anyhow::{Context, Result};
use std::path::Path;

/// Copies a presented-to-be surface texture to the CPU and writes it as RGB PNG.
pub fn save(gpu: &Gpu, texture: &wgpu::Texture, path: &Path) -> Result<()> {
    anyhow::ensure!(
        texture.usage().contains(wgpu::TextureUsages::COPY_SRC),
        "this window surface cannot be read back (no COPY_SRC support)"
    );
    let rgba = crate::view::read_texture(&gpu.device, &gpu.queue, texture).context("reading the window back")?;
    let bgra = matches!(texture.format(), wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb);
    let rgb: Vec<u8> = rgba.pixels().flat_map(|p| if bgra { [p[2], p[1], p[0]] } else { [p[0], p[1], p[2]] }).collect();
    let img = image::RgbImage::from_raw(rgba.width(), rgba.height(), rgb).context("screenshot size")?;
    crate::io::images::write_png(path, &image::DynamicImage::ImageRgb8(img))?;
    Ok(())
}
