//! Finding an adapter without a window: for tests, offscreen renders and the CLI.

use super::error::{Error, Result};

/// A device and its queue, with a description of the adapter for the UI and logs.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: String,
}

impl Gpu {
    /// Any adapter wgpu can find, software ones (lavapipe, llvmpipe) included; honours
    /// `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`.
    pub fn headless() -> Result<Gpu> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(wgpu::util::initialize_adapter_from_env_or_default(&instance, None))
            .or_else(|_| {
                pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
                    force_fallback_adapter: true,
                    ..Default::default()
                }))
            })
            .map_err(|e| Error::NoAdapter(e.to_string()))?;
        Self::from_adapter(&adapter)
    }

    pub fn from_adapter(adapter: &wgpu::Adapter) -> Result<Gpu> {
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("weave"),
            required_limits: limits(&adapter.limits()),
            ..Default::default()
        }))
        .map_err(|e| Error::NoDevice { adapter: info.name.clone(), reason: e.to_string() })?;
        Ok(Gpu { device, queue, adapter: format!("{} ({:?})", info.name, info.backend) })
    }
}

/// Downlevel limits (any adapter meets them), raised where the field shaders need more: a few
/// storage buffers per stage, as large as the adapter allows (hash tables are tens of MB).
fn limits(adapter: &wgpu::Limits) -> wgpu::Limits {
    wgpu::Limits {
        max_storage_buffers_per_shader_stage: adapter.max_storage_buffers_per_shader_stage.min(8),
        max_storage_buffer_binding_size: adapter.max_storage_buffer_binding_size,
        max_buffer_size: adapter.max_buffer_size,
        ..wgpu::Limits::downlevel_defaults().using_resolution(adapter.clone())
    }
}

/// Reads an Rgba8 texture back to the CPU (tests, screenshots).
pub fn read_texture(device: &wgpu::Device, queue: &wgpu::Queue, texture: &wgpu::Texture) -> Option<image::RgbaImage> {
    let (w, h) = (texture.width(), texture.height());
    let row = (4 * w).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: (row * h) as u64,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(row), rows_per_image: Some(h) },
        },
        wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
    );
    queue.submit([encoder.finish()]);
    let data = map_read(device, &buffer)?;
    let mut pixels = Vec::with_capacity((4 * w * h) as usize);
    for r in 0..h as usize {
        pixels.extend_from_slice(&data[r * row as usize..r * row as usize + 4 * w as usize]);
    }
    image::RgbaImage::from_raw(w, h, pixels)
}

/// Reads a storage buffer (made with COPY_SRC) back to the CPU (statistics, tests).
pub fn read_buffer(device: &wgpu::Device, queue: &wgpu::Queue, source: &wgpu::Buffer) -> Option<Vec<u8>> {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: source.size(),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(source, 0, &buffer, 0, source.size());
    queue.submit([encoder.finish()]);
    map_read(device, &buffer)
}

fn map_read(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Option<Vec<u8>> {
    let slice = buffer.slice(..);
    slice.map_async(wgpu::MapMode::Read, |_| {});
    device.poll(wgpu::PollType::Wait { submission_index: None, timeout: None }).ok()?;
    let data = slice.get_mapped_range().ok()?.to_vec();
    Some(data)
}
