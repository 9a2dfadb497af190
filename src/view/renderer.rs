//! GPU side of the viewport: pipelines, buffers, the photo atlas, and the offscreen target.

use super::camera::ViewCamera;
use super::field_view::{FieldStyle, FieldView};
use super::rig::{self, CameraGlyph, Framing, LineVertex, PhotoVertex};
use crate::geometry::Pose;
use image::RgbaImage;
use wgpu::util::DeviceExt;

/// Colours are kept sRGB-encoded end to end, as egui does, so the texture is shown unchanged.
pub const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
const SAMPLES: u32 = 4;
const ATLAS_SIZE: u32 = 2048;
const BACKGROUND: wgpu::Color = wgpu::Color { r: 0.075, g: 0.08, b: 0.095, a: 1.0 };

struct Target {
    size: (u32, u32),
    msaa: wgpu::TextureView,
    depth: wgpu::TextureView,
    resolved: wgpu::Texture,
    resolved_view: wgpu::TextureView,
}

pub struct Renderer {
    lines: wgpu::RenderPipeline,
    points: wgpu::RenderPipeline,
    photos: wgpu::RenderPipeline,
    globals: wgpu::Buffer,
    globals_bind: wgpu::BindGroup,
    atlas: wgpu::Texture,
    atlas_bind: wgpu::BindGroup,
    cameras: Vec<CameraGlyph>,
    framing: Option<Framing>,
    selected: Option<usize>,
    /// Atlas cell size and, per camera, its cell once its photo is uploaded.
    cell: (u32, u32),
    cells: Vec<Option<[f32; 4]>>,
    line_buf: Option<(wgpu::Buffer, u32)>,
    /// The sparse points of a COLMAP model, when it has them.
    point_buf: Option<(wgpu::Buffer, u32)>,
    photo_buf: Option<(wgpu::Buffer, u32)>,
    target: Option<Target>,
    pub show_photos: bool,
    pub show_grid: bool,
    /// The trained field, drawn under the overlays when `style` is set.
    pub field: FieldView,
    pub style: Option<FieldStyle>,
    overlay: Overlay,
}

/// What training adds to the cameras: their photometric errors, refined poses, the bounds.
#[derive(Clone, Default, PartialEq)]
pub struct Overlay {
    /// Per camera, the current photometric error (MSE) of its photo.
    pub errors: Option<Vec<f32>>,
    /// Per camera, its refined pose (the original is then drawn faintly).
    pub refined: Option<Vec<Pose>>,
    /// Centre and radius of the region the field covers.
    pub bounds: Option<(glam::DVec3, f64)>,
}

fn pipeline(
    device: &wgpu::Device,
    label: &str,
    source: &str,
    layouts: &[Option<&wgpu::BindGroupLayout>],
    vertex: wgpu::VertexBufferLayout<'_>,
    topology: wgpu::PrimitiveTopology,
) -> wgpu::RenderPipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: layouts,
        immediate_size: 0,
    });
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(label),
        layout: Some(&layout),
        vertex: wgpu::VertexState {
            module: &module,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers: &[Some(vertex)],
        },
        primitive: wgpu::PrimitiveState { topology, ..Default::default() },
        depth_stencil: Some(wgpu::DepthStencilState {
            format: DEPTH_FORMAT,
            depth_write_enabled: Some(true),
            depth_compare: Some(wgpu::CompareFunction::LessEqual),
            stencil: Default::default(),
            bias: Default::default(),
        }),
        multisample: wgpu::MultisampleState { count: SAMPLES, ..Default::default() },
        fragment: Some(wgpu::FragmentState {
            module: &module,
            entry_point: Some("fs_main"),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format: COLOR_FORMAT,
                blend: Some(wgpu::BlendState::ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}

impl Renderer {
    pub fn new(device: &wgpu::Device) -> Self {
        let globals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("globals"),
            size: 64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let globals_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("globals"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let globals_bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("globals"),
            layout: &globals_layout,
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: globals.as_entire_binding() }],
        });
        let atlas = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("photo atlas"),
            size: wgpu::Extent3d { width: ATLAS_SIZE, height: ATLAS_SIZE, depth_or_array_layers: 1 },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        let atlas_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("atlas"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        let atlas_bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("atlas"),
            layout: &atlas_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&atlas.create_view(&Default::default())),
                },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::Sampler(&sampler) },
            ],
        });
        // Lines and points share a shader and vertex format; only the primitive differs.
        let colored = |label, topology| {
            pipeline(
                device,
                label,
                include_str!("../../shaders/lines.wgsl"),
                &[Some(&globals_layout)],
                wgpu::VertexBufferLayout {
                    array_stride: size_of::<LineVertex>() as u64,
                    step_mode: wgpu::VertexStepMode::Vertex,
                    attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x4],
                },
                topology,
            )
        };
        let lines = colored("lines", wgpu::PrimitiveTopology::LineList);
        let points = colored("points", wgpu::PrimitiveTopology::PointList);
        let photos = pipeline(
            device,
            "photos",
            include_str!("../../shaders/photos.wgsl"),
            &[Some(&globals_layout), Some(&atlas_layout)],
            wgpu::VertexBufferLayout {
                array_stride: size_of::<PhotoVertex>() as u64,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x2, 2 => Float32],
            },
            wgpu::PrimitiveTopology::TriangleList,
        );
        Self {
            lines,
            points,
            point_buf: None,
            photos,
            globals,
            globals_bind,
            atlas,
            atlas_bind,
            cameras: Vec::new(),
            framing: None,
            selected: None,
            cell: (0, 0),
            cells: Vec::new(),
            line_buf: None,
            photo_buf: None,
            target: None,
            show_photos: true,
            show_grid: true,
            field: FieldView::new(device, COLOR_FORMAT, DEPTH_FORMAT, SAMPLES),
            style: None,
            overlay: Overlay::default(),
        }
    }

    /// Shows a sparse point cloud (COLMAP's), each point in its colour.
    pub fn set_points(&mut self, device: &wgpu::Device, points: &[crate::io::colmap::Point]) {
        let vertices: Vec<LineVertex> = points
            .iter()
            .map(|p| LineVertex {
                pos: p.position.as_vec3().to_array(),
                color: [p.rgb[0] as f32 / 255.0, p.rgb[1] as f32 / 255.0, p.rgb[2] as f32 / 255.0, 1.0],
            })
            .collect();
        self.point_buf = (!vertices.is_empty()).then(|| {
            let buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("points"),
                contents: bytemuck::cast_slice(&vertices),
                usage: wgpu::BufferUsages::VERTEX,
            });
            (buf, vertices.len() as u32)
        });
    }

    /// The cameras' poses as given (before any refinement).
    pub fn initial_poses(&self) -> impl Iterator<Item = Pose> + '_ {
        self.cameras.iter().map(|c| c.pose)
    }

    pub fn set_overlay(&mut self, device: &wgpu::Device, overlay: Overlay) {
        if self.overlay != overlay {
            self.overlay = overlay;
            self.rebuild(device);
        }
    }

    /// Replaces the cameras (and forgets their photos); returns how the rig is framed.
    pub fn set_cameras(&mut self, device: &wgpu::Device, cameras: Vec<CameraGlyph>) -> Option<Framing> {
        let cols = (cameras.len().max(1) as f64).sqrt().ceil() as u32;
        let w = (ATLAS_SIZE / cols).min(256);
        self.cell = (w, w * 3 / 4);
        self.cells = vec![None; cameras.len()];
        self.framing = Framing::of(&cameras);
        self.cameras = cameras;
        self.selected = None;
        self.overlay = Overlay::default();
        self.field.clear();
        self.rebuild(device);
        self.framing
    }

    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    pub fn select(&mut self, device: &wgpu::Device, selected: Option<usize>) {
        if self.selected != selected {
            self.selected = selected;
            self.rebuild(device);
        }
    }

    /// Puts camera `i`'s photo into the atlas so it shows on its frustum.
    pub fn set_photo(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, i: usize, photo: &RgbaImage) {
        let (cw, ch) = self.cell;
        if i >= self.cells.len() || cw == 0 {
            return;
        }
        let cols = ATLAS_SIZE / cw;
        let (x, y) = ((i as u32 % cols) * cw, (i as u32 / cols) * ch);
        if y + ch > ATLAS_SIZE {
            return;
        }
        let cell = image::imageops::resize(photo, cw, ch, image::imageops::FilterType::Triangle);
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &self.atlas,
                mip_level: 0,
                origin: wgpu::Origin3d { x, y, z: 0 },
                aspect: wgpu::TextureAspect::All,
            },
            cell.as_raw(),
            wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(4 * cw), rows_per_image: Some(ch) },
            wgpu::Extent3d { width: cw, height: ch, depth_or_array_layers: 1 },
        );
        // Half a texel inset keeps linear filtering from bleeding in neighbouring cells.
        let a = ATLAS_SIZE as f32;
        self.cells[i] = Some([
            (x as f32 + 0.5) / a,
            (y as f32 + 0.5) / a,
            (x + cw) as f32 / a - 0.5 / a,
            (y + ch) as f32 / a - 0.5 / a,
        ]);
        self.rebuild(device);
    }

    fn rebuild(&mut self, device: &wgpu::Device) {
        let mut lines = Vec::new();
        let mut photos = Vec::new();
        if let Some(framing) = self.framing {
            if self.show_grid {
                lines.extend(rig::grid_lines(&framing));
            }
            let depth = framing.frustum_depth;
            let o = &self.overlay;
            let colors: Vec<[f32; 4]> = match &o.errors {
                Some(e) if e.len() == self.cameras.len() => {
                    let (lo, hi) = e.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
                    e.iter().map(|&x| rig::error_color(x, lo, hi)).collect()
                }
                _ => self.cameras.iter().map(|c| if c.found { rig::FOUND_COLOR } else { rig::FRUSTUM_COLOR }).collect(),
            };
            let shown: Vec<CameraGlyph> = match &o.refined {
                Some(r) if r.len() == self.cameras.len() => {
                    let faint = vec![rig::INITIAL_COLOR; self.cameras.len()];
                    lines.extend(rig::frustum_lines(&self.cameras, depth, &faint, None));
                    self.cameras.iter().zip(r).map(|(c, p)| CameraGlyph { pose: *p, ..*c }).collect()
                }
                _ => self.cameras.clone(),
            };
            lines.extend(rig::frustum_lines(&shown, depth, &colors, self.selected));
            photos = rig::photo_quads(&shown, depth, &self.cells, 0.92);
        }
        if let Some((center, radius)) = self.overlay.bounds {
            lines.extend(rig::bounds_lines(center, radius));
        }
        let upload = |label, data: &[u8], n: usize| {
            (n > 0).then(|| {
                let buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: data,
                    usage: wgpu::BufferUsages::VERTEX,
                });
                (buf, n as u32)
            })
        };
        self.line_buf = upload("lines", bytemuck::cast_slice(&lines), lines.len());
        self.photo_buf = upload("photos", bytemuck::cast_slice(&photos), photos.len());
    }

    pub fn set_show_grid(&mut self, device: &wgpu::Device, show: bool) {
        if self.show_grid != show {
            self.show_grid = show;
            self.rebuild(device);
        }
    }

    fn ensure_target(&mut self, device: &wgpu::Device, size: (u32, u32)) {
        if self.target.as_ref().is_some_and(|t| t.size == size) {
            return;
        }
        let make = |label, format, samples, usage| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d { width: size.0, height: size.1, depth_or_array_layers: 1 },
                mip_level_count: 1,
                sample_count: samples,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage,
                view_formats: &[],
            })
        };
        let attach = wgpu::TextureUsages::RENDER_ATTACHMENT;
        let msaa = make("viewport msaa", COLOR_FORMAT, SAMPLES, attach);
        let depth = make("viewport depth", DEPTH_FORMAT, SAMPLES, attach);
        let resolved = make(
            "viewport",
            COLOR_FORMAT,
            1,
            attach | wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_SRC,
        );
        self.target = Some(Target {
            size,
            msaa: msaa.create_view(&Default::default()),
            depth: depth.create_view(&Default::default()),
            resolved_view: resolved.create_view(&Default::default()),
            resolved,
        });
    }

    /// Draws the viewport from `cam` at its resolution, the field (when styled) at `field_scale`
    /// times that; returns the texture view to show and whether the field image was redrawn.
    pub fn render(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        cam: &ViewCamera,
        field_scale: f32,
    ) -> (&wgpu::TextureView, bool) {
        self.ensure_target(device, (cam.width.max(1), cam.height.max(1)));
        queue.write_buffer(&self.globals, 0, bytemuck::cast_slice(&cam.view_proj().to_cols_array()));
        let bg = [BACKGROUND.r as f32, BACKGROUND.g as f32, BACKGROUND.b as f32, 1.0];
        let drew = match &self.style {
            Some(style) => self.field.draw(device, queue, &cam.scaled(field_scale), style, bg),
            None => false,
        };
        let target = self.target.as_ref().expect("target was just ensured");
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("viewport"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &target.msaa,
                    depth_slice: None,
                    resolve_target: Some(&target.resolved_view),
                    ops: wgpu::Operations { load: wgpu::LoadOp::Clear(BACKGROUND), store: wgpu::StoreOp::Discard },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &target.depth,
                    depth_ops: Some(wgpu::Operations { load: wgpu::LoadOp::Clear(1.0), store: wgpu::StoreOp::Discard }),
                    stencil_ops: None,
                }),
                ..Default::default()
            });
            if self.style.is_some() && self.field.has_field() {
                self.field.composite(&mut pass);
            }
            pass.set_bind_group(0, &self.globals_bind, &[]);
            if let Some((buf, n)) = &self.line_buf {
                pass.set_pipeline(&self.lines);
                pass.set_vertex_buffer(0, buf.slice(..));
                pass.draw(0..*n, 0..1);
            }
            if let Some((buf, n)) = &self.point_buf {
                pass.set_pipeline(&self.points);
                pass.set_vertex_buffer(0, buf.slice(..));
                pass.draw(0..*n, 0..1);
            }
            if let (true, Some((buf, n))) = (self.show_photos, &self.photo_buf) {
                pass.set_pipeline(&self.photos);
                pass.set_bind_group(1, &self.atlas_bind, &[]);
                pass.set_vertex_buffer(0, buf.slice(..));
                pass.draw(0..*n, 0..1);
            }
        }
        queue.submit([encoder.finish()]);
        (&target.resolved_view, drew)
    }

    /// The last rendered frame, read back to the CPU (tests, screenshots).
    pub fn read_pixels(&self, device: &wgpu::Device, queue: &wgpu::Queue) -> Option<RgbaImage> {
        super::gpu::read_texture(device, queue, &self.target.as_ref()?.resolved)
    }
}
