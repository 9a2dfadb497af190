//! Drawing the field into a field image (colour and depth) at a chosen resolution, then
//! compositing it into the viewport under the overlays. The shaded SDF and the novel view march
//! the pixels still marching one step per compute dispatch (see field.wgsl for why, and
//! field_march.wgsl for the lists that keep finished pixels out), the slice evaluates each
//! pixel in one dispatch, and a fragment pass shows the result. The field image is kept until the
//! camera, the field or the style changes, so overlays and UI stay fast while a slow mode
//! (volume rendering on a software adapter) is on screen.

use super::camera::ViewCamera;
use super::field::{self, FieldData, FieldGpu};
use crate::render::views::Normalization;
use glam::Vec3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ViewMode {
    /// Sphere-traced surface of the SDF, lit.
    Sdf,
    /// Volume rendering of the radiance field.
    Novel,
    /// A plane through the scene coloured by signed distance, with the zero contour.
    Slice,
}

impl ViewMode {
    pub const ALL: [ViewMode; 3] = [ViewMode::Sdf, ViewMode::Novel, ViewMode::Slice];

    pub fn label(self) -> &'static str {
        match self {
            ViewMode::Sdf => "Shaded SDF",
            ViewMode::Novel => "Novel view",
            ViewMode::Slice => "SDF slice",
        }
    }
}

/// How the field is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldStyle {
    pub mode: ViewMode,
    /// Colour the shaded SDF with the radiance field.
    pub color: bool,
    /// Axis the slice plane is perpendicular to (0 x, 1 y, 2 z, normalised frame).
    pub slice_axis: usize,
    /// Position of the slice plane along its axis, in [-1, 1].
    pub slice_offset: f32,
}

impl Default for FieldStyle {
    fn default() -> Self {
        FieldStyle { mode: ViewMode::Sdf, color: false, slice_axis: 2, slice_offset: 0.0 }
    }
}

/// Mirrors `ViewUniform` in field_view.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ViewUniform {
    view_proj: [f32; 16],
    right: [f32; 4],
    down: [f32; 4],
    forward: [f32; 4],
    eye: [f32; 4],
    intrinsics: [f32; 4],
    norm: [f32; 4],
    slice: [f32; 4],
    light: [f32; 4],
    background: [f32; 4],
    flags: [u32; 4],
}

/// Sphere-tracing steps: enough for grazing rays near the surface.
const SDF_STEPS: u32 = 128;
/// Mirrors `BG_SAMPLES` in field.wgsl (and `background::SAMPLES`).
const BG_SAMPLES: u32 = crate::field::background::SAMPLES as u32;
/// Bytes of one pixel's marching state (`PixelState` in view_common.wgsl).
const PIXEL_STATE: u64 = 48;

/// Towards the key light: from behind the viewer's left shoulder.
pub fn light_direction(cam: &ViewCamera) -> Vec3 {
    (-0.8 * cam.forward - 0.5 * cam.down - 0.3 * cam.right).normalize()
}

fn uniform(cam: &ViewCamera, norm: &Normalization, style: &FieldStyle, background: [f32; 4]) -> ViewUniform {
    let v4 = |v: Vec3| [v.x, v.y, v.z, 0.0];
    let mut slice = [0.0; 4];
    slice[style.slice_axis.min(2)] = 1.0;
    slice[3] = style.slice_offset;
    let c = norm.center;
    ViewUniform {
        view_proj: cam.view_proj().to_cols_array(),
        right: v4(cam.right),
        down: v4(cam.down),
        forward: v4(cam.forward),
        eye: v4(cam.eye),
        intrinsics: [cam.fx, cam.fy, cam.cx, cam.cy],
        norm: [c[0] as f32, c[1] as f32, c[2] as f32, norm.scale as f32],
        slice,
        light: v4(light_direction(cam)),
        background,
        flags: [
            match style.mode {
                ViewMode::Sdf => 1,
                ViewMode::Novel => 2,
                ViewMode::Slice => 3,
            },
            style.color as u32,
            cam.width,
            cam.height,
        ],
    }
}

struct Target {
    color: wgpu::Texture,
    color_view: wgpu::TextureView,
    depth_view: wgpu::TextureView,
    composite_bind: wgpu::BindGroup,
    march_bind: wgpu::BindGroup,
    view_bind: wgpu::BindGroup,
    pixels: wgpu::Buffer,
    lengths: wgpu::Buffer,
    next_groups: wgpu::Buffer,
    next_groups_bind: wgpu::BindGroup,
}

/// Network evaluations the marching passes took per pixel of the last field image.
#[derive(Clone, Copy, Debug)]
pub struct MarchSteps {
    pub mean: f32,
    pub max: u32,
}

/// What the field image currently shows; drawing again is skipped while it stays the same.
#[derive(Clone, Copy, PartialEq)]
struct Drawn {
    camera: ViewCamera,
    style: FieldStyle,
    version: u64,
}

pub struct FieldView {
    field_layout: wgpu::BindGroupLayout,
    view_layout: wgpu::BindGroupLayout,
    march_layout: wgpu::BindGroupLayout,
    next_groups_layout: wgpu::BindGroupLayout,
    view_buf: wgpu::Buffer,
    pipeline: wgpu::RenderPipeline,
    init: wgpu::ComputePipeline,
    /// Per list read: the step pipelines and the pass that sizes the following step.
    novel_step: [wgpu::ComputePipeline; 2],
    sdf_step: [wgpu::ComputePipeline; 2],
    size_next: [wgpu::ComputePipeline; 2],
    shade: wgpu::ComputePipeline,
    slice: wgpu::ComputePipeline,
    max_samples: u32,
    composite_layout: wgpu::BindGroupLayout,
    composite: wgpu::RenderPipeline,
    sampler: wgpu::Sampler,
    field: Option<(FieldGpu, Normalization, u64)>,
    target: Option<Target>,
    drawn: Option<Drawn>,
}

const FIELD_DEPTH: wgpu::TextureFormat = wgpu::TextureFormat::R32Float;

fn uniform_layout_entry(binding: u32, visibility: wgpu::ShaderStages) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl FieldView {
    /// `color_format`, `depth_format` and `samples` are those of the viewport pass the field
    /// image is composited into.
    pub fn new(
        device: &wgpu::Device,
        color_format: wgpu::TextureFormat,
        depth_format: wgpu::TextureFormat,
        samples: u32,
    ) -> FieldView {
        let field_layout = field::layout(device);
        let storage_entry = |binding, stage, read_only| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: stage,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let view_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("field view"),
            entries: &[
                uniform_layout_entry(0, wgpu::ShaderStages::FRAGMENT),
                storage_entry(1, wgpu::ShaderStages::FRAGMENT, true),
            ],
        });
        let march_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("field march"),
            entries: &[
                uniform_layout_entry(0, wgpu::ShaderStages::COMPUTE),
                storage_entry(1, wgpu::ShaderStages::COMPUTE, false),
                storage_entry(2, wgpu::ShaderStages::COMPUTE, false),
                storage_entry(3, wgpu::ShaderStages::COMPUTE, false),
            ],
        });
        // Its own group: a buffer an indirect dispatch reads must not be bound to that dispatch.
        let next_groups_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("field march dispatch"),
            entries: &[storage_entry(0, wgpu::ShaderStages::COMPUTE, false)],
        });
        let view_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("field view"),
            size: size_of::<ViewUniform>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let common =
            [include_str!("../../shaders/field.wgsl"), include_str!("../../shaders/view_common.wgsl")].concat();
        let march_module = field::shader_module(
            device,
            "field march",
            &(common.clone() + include_str!("../../shaders/field_march.wgsl")),
        );
        let march_pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("field march"),
            bind_group_layouts: &[Some(&march_layout), Some(&field_layout)],
            immediate_size: 0,
        });
        let size_next_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("field march dispatch"),
            bind_group_layouts: &[Some(&march_layout), None, Some(&next_groups_layout)],
            immediate_size: 0,
        });
        let compute = |entry: &str, list_read: u32, layout: &wgpu::PipelineLayout| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(layout),
                module: &march_module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &[("IN", list_read as f64)],
                    ..Default::default()
                },
                cache: None,
            })
        };
        let per_list = |entry: &str, layout| [0, 1].map(|list| compute(entry, list, layout));
        let march = &march_pipeline_layout;
        // The first pass fills list 0: it is the one its pipeline does not read.
        let init = compute("cs_init", 1, march);
        let (novel_step, sdf_step, size_next) = (
            per_list("cs_novel_step", march),
            per_list("cs_sdf_step", march),
            per_list("cs_dispatch", &size_next_layout),
        );
        let (shade, slice) = (compute("cs_shade", 0, march), compute("cs_slice", 0, march));
        let module =
            field::shader_module(device, "field view", &(common + include_str!("../../shaders/field_view.wgsl")));
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("field view"),
            bind_group_layouts: &[Some(&view_layout), Some(&field_layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("field view"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: Default::default(),
            depth_stencil: None,
            multisample: Default::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[
                    Some(wgpu::ColorTargetState {
                        format: super::COLOR_FORMAT,
                        blend: None,
                        write_mask: wgpu::ColorWrites::ALL,
                    }),
                    Some(wgpu::ColorTargetState {
                        format: FIELD_DEPTH,
                        blend: None,
                        write_mask: wgpu::ColorWrites::ALL,
                    }),
                ],
            }),
            multiview_mask: None,
            cache: None,
        });

        let tex_entry = |binding, filterable| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let composite_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("field composite"),
            entries: &[
                tex_entry(0, true),
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
                tex_entry(2, false),
            ],
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("field composite"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/field_composite.wgsl").into()),
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("field composite"),
            bind_group_layouts: &[Some(&composite_layout)],
            immediate_size: 0,
        });
        let composite = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("field composite"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: Default::default(),
            depth_stencil: Some(wgpu::DepthStencilState {
                format: depth_format,
                depth_write_enabled: Some(true),
                depth_compare: Some(wgpu::CompareFunction::Always),
                stencil: Default::default(),
                bias: Default::default(),
            }),
            multisample: wgpu::MultisampleState { count: samples, ..Default::default() },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: color_format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        FieldView {
            field_layout,
            view_layout,
            march_layout,
            next_groups_layout,
            view_buf,
            pipeline,
            init,
            novel_step,
            sdf_step,
            size_next,
            shade,
            slice,
            max_samples: 0,
            composite_layout,
            composite,
            sampler,
            field: None,
            target: None,
            drawn: None,
        }
    }

    /// Uploads a field (a new snapshot, a loaded checkpoint); the next draw shows it.
    pub fn set_field(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, data: &FieldData, norm: Normalization) {
        let version = self.field.as_ref().map_or(1, |f| f.2 + 1);
        self.max_samples = data.max_samples();
        match &mut self.field {
            Some((gpu, n, v)) => {
                gpu.update(device, queue, &self.field_layout, data);
                *n = norm;
                *v = version;
            }
            None => self.field = Some((FieldGpu::new(device, &self.field_layout, data), norm, version)),
        }
    }

    /// Forgets the field (another folder was opened).
    pub fn clear(&mut self) {
        self.field = None;
        self.drawn = None;
    }

    pub fn has_field(&self) -> bool {
        self.field.is_some()
    }

    fn ensure_target(&mut self, device: &wgpu::Device, size: (u32, u32)) {
        if self.target.as_ref().is_some_and(|t| (t.color.width(), t.color.height()) == size) {
            return;
        }
        let make = |label, format| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d { width: size.0, height: size.1, depth_or_array_layers: 1 },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                    | wgpu::TextureUsages::TEXTURE_BINDING
                    | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            })
        };
        let color = make("field image", super::COLOR_FORMAT);
        let depth = make("field depth", FIELD_DEPTH);
        let color_view = color.create_view(&Default::default());
        let depth_view = depth.create_view(&Default::default());
        let composite_bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("field composite"),
            layout: &self.composite_layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::TextureView(&color_view) },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::Sampler(&self.sampler) },
                wgpu::BindGroupEntry { binding: 2, resource: wgpu::BindingResource::TextureView(&depth_view) },
            ],
        });
        let pixels = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("field pixels"),
            size: PIXEL_STATE * size.0 as u64 * size.1 as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let buffer = |label, size, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE | usage,
                mapped_at_creation: false,
            })
        };
        let lists = buffer("field pixel lists", 8 * size.0 as u64 * size.1 as u64, wgpu::BufferUsages::empty());
        let lengths = buffer("field pixel list lengths", 8, wgpu::BufferUsages::COPY_DST);
        let next_groups = buffer("field march dispatch", 12, wgpu::BufferUsages::INDIRECT);
        let bind = |label, layout, buffers: &[&wgpu::Buffer]| {
            let entries: Vec<_> = buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
                .collect();
            device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(label), layout, entries: &entries })
        };
        let march_bind = bind("field march", &self.march_layout, &[&self.view_buf, &pixels, &lists, &lengths]);
        let view_bind = bind("field view", &self.view_layout, &[&self.view_buf, &pixels]);
        let next_groups_bind = bind("field march dispatch", &self.next_groups_layout, &[&next_groups]);
        self.target = Some(Target {
            color,
            color_view,
            depth_view,
            composite_bind,
            march_bind,
            view_bind,
            pixels,
            lengths,
            next_groups,
            next_groups_bind,
        });
        self.drawn = None;
    }

    /// Draws the field image from `cam` (at the camera's resolution) unless it already shows
    /// exactly that; returns whether it drew. Without a field there is nothing to draw.
    pub fn draw(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        cam: &ViewCamera,
        style: &FieldStyle,
        background: [f32; 4],
    ) -> bool {
        let Some(version) = self.field.as_ref().map(|f| f.2) else { return false };
        let drawn = Drawn { camera: *cam, style: *style, version };
        self.ensure_target(device, (cam.width, cam.height));
        if self.drawn == Some(drawn) {
            return false;
        }
        let (gpu, norm, _) = self.field.as_ref().expect("checked above");
        queue.write_buffer(&self.view_buf, 0, bytemuck::bytes_of(&uniform(cam, norm, style, background)));
        let target = self.target.as_ref().expect("target was just ensured");
        let mut encoder = device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&target.lengths, 0, None);
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_bind_group(0, &target.march_bind, &[]);
            pass.set_bind_group(1, &gpu.bind, &[]);
            pass.set_bind_group(2, &target.next_groups_bind, &[]);
            let groups = (cam.width * cam.height).div_ceil(64);
            let whole_image = |pass: &mut wgpu::ComputePass<'_>, pipeline| {
                pass.set_pipeline(pipeline);
                pass.dispatch_workgroups(groups.min(65535), groups.div_ceil(65535), 1);
            };
            let march = |pass: &mut wgpu::ComputePass<'_>, step: &[wgpu::ComputePipeline; 2], steps: u32| {
                whole_image(pass, &self.init);
                for k in 0..steps as usize {
                    // The list filled last is read next: init fills list 0.
                    let read = k % 2;
                    pass.set_pipeline(&self.size_next[1 - read]);
                    pass.dispatch_workgroups(1, 1, 1);
                    pass.set_pipeline(&step[read]);
                    pass.dispatch_workgroups_indirect(&target.next_groups, 0);
                }
            };
            match style.mode {
                ViewMode::Sdf => {
                    march(&mut pass, &self.sdf_step, SDF_STEPS);
                    whole_image(&mut pass, &self.shade);
                }
                ViewMode::Novel => march(&mut pass, &self.novel_step, self.max_samples + BG_SAMPLES + 1),
                ViewMode::Slice => whole_image(&mut pass, &self.slice),
            }
        }
        {
            let attach = |view| {
                Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })
            };
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("field"),
                color_attachments: &[attach(&target.color_view), attach(&target.depth_view)],
                ..Default::default()
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &target.view_bind, &[]);
            pass.set_bind_group(1, &gpu.bind, &[]);
            pass.draw(0..3, 0..1);
        }
        queue.submit([encoder.finish()]);
        self.drawn = Some(drawn);
        true
    }

    /// Draws the field image (stretched to the viewport) with its depth into a viewport pass.
    pub fn composite(&self, pass: &mut wgpu::RenderPass<'_>) {
        if let (Some(t), Some(_)) = (&self.target, &self.drawn) {
            pass.set_pipeline(&self.composite);
            pass.set_bind_group(0, &t.composite_bind, &[]);
            pass.draw(0..3, 0..1);
        }
    }

    /// Marching steps per pixel of the last shaded-SDF or novel-view image (sphere-tracing steps
    /// or volume samples), read back: the hardware-independent part of a frame's cost.
    pub fn march_steps(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Option<MarchSteps> {
        let bytes = super::gpu::read_buffer(device, queue, &self.target.as_ref()?.pixels)?;
        let steps: Vec<f32> = bytes
            .chunks_exact(PIXEL_STATE as usize)
            .map(|p| f32::from_le_bytes(p[32..36].try_into().expect("four bytes")))
            .collect();
        let total: f64 = steps.iter().map(|&s| s as f64).sum();
        Some(MarchSteps {
            mean: (total / steps.len().max(1) as f64) as f32,
            max: steps.iter().fold(0.0f32, |m, &s| m.max(s)) as u32,
        })
    }

    /// The last field image, read back (screenshots of the view alone).
    pub fn read_image(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Option<image::RgbaImage> {
        super::gpu::read_texture(device, queue, &self.target.as_ref()?.color)
    }
}
