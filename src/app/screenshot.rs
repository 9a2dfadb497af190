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
    let (w, h) = (texture.width(), texture.height());
    let row = (4 * w).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("screenshot"),
        size: (row * h) as u64,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(row), rows_per_image: Some(h) },
        },
        wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
    );
    gpu.queue.submit([encoder.finish()]);
    let slice = buffer.slice(..);
    slice.map_async(wgpu::MapMode::Read, |_| {});
    gpu.device.poll(wgpu::PollType::Wait { submission_index: None, timeout: None }).context("waiting for the GPU")?;
    let data = slice.get_mapped_range().context("reading the screenshot back")?;
    let bgra = matches!(texture.format(), wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb);
    let mut rgb = Vec::with_capacity((3 * w * h) as usize);
    for y in 0..h as usize {
        for px in data[y * row as usize..][..4 * w as usize].chunks_exact(4) {
            if bgra { rgb.extend([px[2], px[1], px[0]]) } else { rgb.extend(&px[..3]) }
        }
    }
    let img = image::RgbImage::from_raw(w, h, rgb).context("screenshot size")?;
    crate::io::images::write_png(path, &image::DynamicImage::ImageRgb8(img))?;
    Ok(())
}
