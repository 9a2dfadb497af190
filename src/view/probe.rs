//! The shaders' field evaluation at given points, read back: how the tests hold the WGSL
//! arithmetic to the CPU backend's.

use super::Gpu;
use super::field::{self, FieldData, FieldGpu};
use wgpu::util::DeviceExt;

/// What the shaders compute at one point.
#[derive(Clone, Copy, Debug)]
pub struct ProbeResult {
    pub sdf: f32,
    pub grad: [f32; 3],
    pub rgb: [f32; 3],
}

/// Evaluates SDF, finite-difference gradient and colour (seen along `dirs[i]`) at `points[i]`.
pub fn probe(gpu: &Gpu, data: &FieldData, points: &[[f32; 3]], dirs: &[[f32; 3]]) -> Vec<ProbeResult> {
    let device = &gpu.device;
    let field_layout = field::layout(device);
    let field = FieldGpu::new(device, &field_layout, data);
    let io_entry = |binding, read_only| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let io_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("probe"),
        entries: &[io_entry(0, true), io_entry(1, false)],
    });
    let input: Vec<[f32; 4]> =
        points.iter().zip(dirs).flat_map(|(p, d)| [[p[0], p[1], p[2], 0.0], [d[0], d[1], d[2], 0.0]]).collect();
    let in_buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("probe in"),
        contents: bytemuck::cast_slice(&input),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let size = (input.len() * 16) as u64;
    let out_buf = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("probe out"),
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let read_buf = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("probe read"),
        size,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let io_bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("probe"),
        layout: &io_layout,
        entries: &[
            wgpu::BindGroupEntry { binding: 0, resource: in_buf.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 1, resource: out_buf.as_entire_binding() },
        ],
    });
    let source = [include_str!("../../shaders/field.wgsl"), include_str!("../../shaders/field_probe.wgsl")].concat();
    let module = field::shader_module(device, "probe", &source);
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("probe"),
        bind_group_layouts: &[Some(&io_layout), Some(&field_layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("probe"),
        layout: Some(&layout),
        module: &module,
        entry_point: Some("cs_probe"),
        compilation_options: Default::default(),
        cache: None,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &io_bind, &[]);
        pass.set_bind_group(1, &field.bind, &[]);
        pass.dispatch_workgroups((points.len() as u32).div_ceil(64), 1, 1);
    }
    encoder.copy_buffer_to_buffer(&out_buf, 0, &read_buf, 0, size);
    gpu.queue.submit([encoder.finish()]);
    let slice = read_buf.slice(..);
    slice.map_async(wgpu::MapMode::Read, |_| {});
    let _ = device.poll(wgpu::PollType::Wait { submission_index: None, timeout: None });
    let data = slice.get_mapped_range().expect("mapped after the wait");
    let out: &[[f32; 4]] = bytemuck::cast_slice(&data);
    out.chunks_exact(2)
        .map(|c| ProbeResult { sdf: c[0][0], grad: [c[0][1], c[0][2], c[0][3]], rgb: [c[1][0], c[1][1], c[1][2]] })
        .collect()
}
