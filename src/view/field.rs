//! The trained field on the GPU: its parameters, hash-grid layout, occupancy and render
//! settings packed into the storage buffers that `shaders/field.wgsl` reads.

use super::error::{Error, Result};
use crate::field::{Field, Occupancy, Params, background};
use crate::nn::hashgrid::Grid;
use crate::render::RenderSettings;
use wgpu::util::DeviceExt;

/// Mirrors `FieldInfo` in field.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Info {
    sdf_off: u32,
    color_off: u32,
    bg_density_off: u32,
    bg_color_off: u32,
    levels: u32,
    active_levels: u32,
    bg_levels: u32,
    hidden: u32,
    table_mask: u32,
    bg_table_mask: u32,
    occ_res: u32,
    max_samples: u32,
    inv_s: f32,
    orientation: f32,
    init_radius: f32,
    fd_h: f32,
    march_step: f32,
    anneal: f32,
    bg_hidden: u32,
    /// 1 with the background field, 0 without.
    background: u32,
    view_coeffs: u32,
    /// Uniform structs are sized in multiples of 16 bytes.
    pad: [u32; 3],
}

/// Mirrors `Level` in field.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct Level {
    res: f32,
    side: u32,
    dense: u32,
    offset: u32,
}

/// The shaders' networks keep activations in 64-float arrays.
const MAX_WIDTH: usize = 64;

/// A field packed for upload.
pub struct FieldData {
    info: Info,
    params: Vec<f32>,
    levels: Vec<Level>,
    occ: Vec<u32>,
}

fn levels_of(grid: &Grid, offset: usize) -> Vec<Level> {
    let table = grid.cfg.table_size();
    (0..grid.cfg.levels)
        .map(|l| {
            let (res, side, dense) = grid.level(l);
            Level { res, side: side as u32, dense: dense as u32, offset: (offset + l * table * 2) as u32 }
        })
        .collect()
}

impl FieldData {
    /// Most surface samples a novel-view ray takes.
    pub fn max_samples(&self) -> u32 {
        self.info.max_samples
    }

    /// The trainer's current field, drawn as its own renders are (same settings).
    pub fn from_trainer(t: &crate::train::Trainer) -> Result<FieldData> {
        FieldData::new(&t.field, &t.params, &t.occupancy, &t.render_settings())
    }

    pub fn new(field: &Field, p: &Params, occ: &Occupancy, s: &RenderSettings) -> Result<FieldData> {
        let cfg = &field.cfg;
        let sdf_in = cfg.sdf_shape().input;
        if cfg.hidden > MAX_WIDTH || sdf_in > MAX_WIDTH {
            return Err(Error::TooWide { max: MAX_WIDTH, width: cfg.hidden.max(sdf_in) });
        }
        let mut params = Vec::with_capacity(p.grid.len() + p.bg_grid.len() + (1 << 16));
        let mut push = |a: &[f32]| {
            let off = params.len();
            params.extend_from_slice(a);
            off as u32
        };
        push(&p.grid);
        let sdf_off = push(&p.sdf);
        let color_off = push(&p.color);
        let bg_grid_off = push(&p.bg_grid);
        let bg_density_off = push(&p.bg_density);
        let bg_color_off = push(&p.bg_color);
        let mut levels = levels_of(field.grid(), 0);
        levels.extend(levels_of(field.background.grid(), bg_grid_off as usize));
        let mut bits = vec![0u32; occ.cells.len().div_ceil(32)];
        for (i, _) in occ.cells.iter().enumerate().filter(|(_, c)| **c) {
            bits[i / 32] |= 1 << (i % 32);
        }
        let info = Info {
            sdf_off,
            color_off,
            bg_density_off,
            bg_color_off,
            levels: cfg.grid.levels as u32,
            active_levels: s.active_levels as u32,
            bg_levels: background::GRID.levels as u32,
            hidden: cfg.hidden as u32,
            table_mask: cfg.grid.table_size() as u32 - 1,
            bg_table_mask: background::GRID.table_size() as u32 - 1,
            occ_res: occ.res as u32,
            max_samples: s.max_samples as u32,
            inv_s: Field::inv_s(p),
            orientation: cfg.orientation,
            init_radius: cfg.init_radius,
            fd_h: s.fd_h,
            march_step: s.step,
            anneal: s.anneal,
            bg_hidden: background::HIDDEN as u32,
            background: cfg.background as u32,
            view_coeffs: cfg.view_coeffs() as u32,
            pad: [0; 3],
        };
        Ok(FieldData { info, params, levels, occ: bits })
    }
}

/// The field's buffers and their bind group (group 1 of the field shaders).
pub struct FieldGpu {
    pub bind: wgpu::BindGroup,
    sizes: [u64; 3],
    info: wgpu::Buffer,
    params: wgpu::Buffer,
    levels: wgpu::Buffer,
    occ: wgpu::Buffer,
}

pub fn layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let storage = |binding| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT | wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only: true },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("field"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT | wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
            storage(1),
            storage(2),
            storage(3),
        ],
    })
}

impl FieldGpu {
    pub fn new(device: &wgpu::Device, layout: &wgpu::BindGroupLayout, data: &FieldData) -> FieldGpu {
        let make = |label, contents: &[u8], usage| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: usage | wgpu::BufferUsages::COPY_DST,
            })
        };
        let storage = wgpu::BufferUsages::STORAGE;
        let info = make("field info", bytemuck::bytes_of(&data.info), wgpu::BufferUsages::UNIFORM);
        let params = make("field params", bytemuck::cast_slice(&data.params), storage);
        let levels = make("field levels", bytemuck::cast_slice(&data.levels), storage);
        let occ = make("field occupancy", bytemuck::cast_slice(&data.occ), storage);
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("field"),
            layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: info.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: params.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: levels.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: occ.as_entire_binding() },
            ],
        });
        FieldGpu { bind, sizes: [params.size(), levels.size(), occ.size()], info, params, levels, occ }
    }

    /// Replaces the contents in place when the sizes allow (every snapshot of one run).
    pub fn update(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        layout: &wgpu::BindGroupLayout,
        d: &FieldData,
    ) {
        let sizes = [d.params.len() * 4, d.levels.len() * 16, d.occ.len() * 4].map(|s| s as u64);
        if sizes != self.sizes {
            *self = FieldGpu::new(device, layout, d);
            return;
        }
        queue.write_buffer(&self.info, 0, bytemuck::bytes_of(&d.info));
        queue.write_buffer(&self.params, 0, bytemuck::cast_slice(&d.params));
        queue.write_buffer(&self.levels, 0, bytemuck::cast_slice(&d.levels));
        queue.write_buffer(&self.occ, 0, bytemuck::cast_slice(&d.occ));
    }
}

/// Compiles a shader that includes field.wgsl (the pieces are concatenated WGSL sources).
pub fn shader_module(device: &wgpu::Device, label: &str, source: &str) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    })
}
