//! The Weave window: winit + egui around the wgpu viewport. Long work runs on other threads
//! and reaches the UI as messages (see `loader`), so the window never blocks.

mod compare;
mod error;
mod live_view;
mod loader;
mod notices;
mod screenshot;
mod training;
mod workspace;

use crate::view::{self, Gpu};
use anyhow::{Context as _, Result};
use loader::Loader;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use winit::application::ApplicationHandler;
use winit::event::WindowEvent;
use winit::event_loop::{ActiveEventLoop, EventLoop, EventLoopProxy};
use winit::window::{Window, WindowId};
use workspace::Workspace;

/// Frames to wait after loading settles before a requested screenshot, so the UI has laid out.
const SCREENSHOT_SETTLE_FRAMES: u32 = 5;
/// Screenshot anyway after this long, showing whatever state the app reached.
const SCREENSHOT_TIMEOUT_S: u64 = 300;

/// Sent by worker threads to wake the event loop.
#[derive(Debug)]
struct Wake;

struct Graphics {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    gpu: Gpu,
    egui_state: egui_winit::State,
    egui_renderer: egui_wgpu::Renderer,
    viewport: view::Renderer,
    viewport_texture: Option<egui::TextureId>,
}

struct App {
    ctx: egui::Context,
    proxy: EventLoopProxy<Wake>,
    initial: Option<PathBuf>,
    /// Screenshots still to take, in order; the app exits after the last.
    shots: std::collections::VecDeque<Shot>,
    /// Training to start once the initial folder has loaded (scripting and tests).
    train_steps: Option<u32>,
    started: Instant,
    settled_frames: u32,
    gfx: Option<Graphics>,
    workspace: Option<Workspace>,
    fatal: Option<anyhow::Error>,
}

/// What to do unattended (scripts, tests, docs).
#[derive(Default)]
pub struct Script {
    /// Save the window to this PNG once the folder has loaded (and training ended), then exit.
    pub screenshot: Option<PathBuf>,
    /// With `screenshot`: one screenshot per view mode, named `OUT-cameras.png`, `OUT-sdf.png`…
    pub all_modes: bool,
    /// Train this many steps once the folder has loaded.
    pub train_steps: Option<u32>,
}

struct Shot {
    path: PathBuf,
    /// The view mode to switch to first (None: leave it as it is).
    mode: Option<Option<view::ViewMode>>,
}

fn shots(script: &Script) -> std::collections::VecDeque<Shot> {
    let Some(out) = &script.screenshot else { return Default::default() };
    if !script.all_modes {
        return [Shot { path: out.clone(), mode: None }].into();
    }
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "screenshot".into());
    let modes = [None].into_iter().chain(view::ViewMode::ALL.map(Some));
    modes
        .map(|m| {
            let name = m.map_or("cameras".to_string(), |m| format!("{m:?}").to_lowercase());
            Shot { path: out.with_file_name(format!("{stem}-{name}.png")), mode: Some(m) }
        })
        .collect()
}

/// Opens the window (on `path` if given) and runs until it is closed, or until the script's
/// screenshots are taken.
pub fn run(path: Option<PathBuf>, script: Script) -> Result<()> {
    let event_loop = EventLoop::<Wake>::with_user_event()
        .build()
        .context("cannot open a window: no display (set DISPLAY or WAYLAND_DISPLAY, or run under Xvfb)")?;
    let mut app = App {
        ctx: egui::Context::default(),
        proxy: event_loop.create_proxy(),
        initial: path,
        shots: shots(&script),
        train_steps: script.train_steps,
        started: Instant::now(),
        settled_frames: 0,
        gfx: None,
        workspace: None,
        fatal: None,
    };
    event_loop.run_app(&mut app).context("window event loop failed")?;
    app.fatal.map_or(Ok(()), Err)
}

impl App {
    fn init(&mut self, event_loop: &ActiveEventLoop) -> Result<()> {
        let attrs = Window::default_attributes()
            .with_title("Weave")
            .with_inner_size(winit::dpi::LogicalSize::new(1360.0, 860.0))
            .with_min_inner_size(winit::dpi::LogicalSize::new(640.0, 420.0));
        let window = Arc::new(event_loop.create_window(attrs).context("cannot create the window")?);
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_with_display_handle_from_env(Box::new(
            event_loop.owned_display_handle(),
        )));
        let surface = instance.create_surface(window.clone()).context("cannot draw into the window")?;
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            compatible_surface: Some(&surface),
            ..Default::default()
        }))
        .or_else(|_| {
            pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
                compatible_surface: Some(&surface),
                force_fallback_adapter: true,
                ..Default::default()
            }))
        })
        .context("no GPU adapter can draw into the window (install mesa-vulkan-drivers for a software one)")?;
        let gpu = Gpu::from_adapter(&adapter).map_err(anyhow::Error::msg)?;
        let size = window.inner_size();
        let mut config = surface
            .get_default_config(&adapter, size.width.max(1), size.height.max(1))
            .context("the adapter cannot present to this window")?;
        let caps = surface.get_capabilities(&adapter);
        // egui blends in gamma space: prefer a non-sRGB surface so colours come out as designed.
        if let Some(f) = caps.formats.iter().find(|f| !f.is_srgb()) {
            config.format = *f;
        }
        if caps.usages.contains(wgpu::TextureUsages::COPY_SRC) {
            config.usage |= wgpu::TextureUsages::COPY_SRC;
        }
        config.present_mode = wgpu::PresentMode::AutoVsync;
        surface.configure(&gpu.device, &config);

        style(&self.ctx);
        let egui_state = egui_winit::State::new(
            self.ctx.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            None,
            Some(gpu.device.limits().max_texture_dimension_2d as usize),
        );
        let egui_renderer = egui_wgpu::Renderer::new(&gpu.device, config.format, Default::default());
        let viewport = view::Renderer::new(&gpu.device);

        let (tx, rx) = std::sync::mpsc::channel();
        let proxy = self.proxy.clone();
        let loader = Loader::new(tx, Arc::new(move || drop(proxy.send_event(Wake))));
        let mut workspace = Workspace::new(loader, rx, gpu.adapter.clone());
        match self.initial.take() {
            Some(path) => workspace.open(path),
            None => workspace
                .notices
                .push(notices::Level::Info, "The bundled default scene was not found: open a folder to start."),
        }
        self.workspace = Some(workspace);
        self.gfx = Some(Graphics {
            window,
            surface,
            config,
            gpu,
            egui_state,
            egui_renderer,
            viewport,
            viewport_texture: None,
        });
        Ok(())
    }

    fn redraw(&mut self, event_loop: &ActiveEventLoop) -> Result<()> {
        let (Some(g), Some(ws)) = (self.gfx.as_mut(), self.workspace.as_mut()) else {
            return Ok(());
        };
        let t0 = Instant::now();
        ws.poll(&self.ctx, &g.gpu.device, &g.gpu.queue, &mut g.viewport);
        if ws.settled()
            && ws.dataset.is_some()
            && let Some(steps) = self.train_steps.take()
        {
            ws.start_training(steps);
        }

        // The 3D view first, at the size its widget had last frame; egui then shows it.
        if let Some(orbit) = ws.orbit {
            let (w, h) = (ws.viewport_px.0.max(1), ws.viewport_px.1.max(1));
            let (style, scale) = ws.live.frame(w * h);
            g.viewport.style = style;
            let cam = view::ViewCamera::from_orbit(&orbit, w, h);
            let t = Instant::now();
            let (view, drew) = g.viewport.render(&g.gpu.device, &g.gpu.queue, &cam, scale);
            if drew {
                // Waiting here measures the field's cost, which sets the next frames' resolution.
                let _ = g.gpu.device.poll(wgpu::PollType::Wait { submission_index: None, timeout: None });
                let scaled = cam.scaled(scale);
                ws.live.drew(t.elapsed(), scaled.width * scaled.height);
            }
            match g.viewport_texture {
                None => {
                    g.viewport_texture =
                        Some(g.egui_renderer.register_native_texture(&g.gpu.device, view, wgpu::FilterMode::Linear))
                }
                Some(id) => g.egui_renderer.update_egui_texture_from_wgpu_texture(
                    &g.gpu.device,
                    view,
                    wgpu::FilterMode::Linear,
                    id,
                ),
            }
        }
        let input = g.egui_state.take_egui_input(&g.window);
        let texture = g.viewport_texture;
        let mut out = self.ctx.run_ui(input, |ui| ws.ui(ui, texture));
        g.egui_state.handle_platform_output(&g.window, out.platform_output);
        if ws.orbit.is_none()
            && let Some(f) = g.viewport.framing()
        {
            ws.orbit = Some(f.orbit(ws.viewport_px.0 as f32 / ws.viewport_px.1.max(1) as f32));
            g.window.request_redraw();
        }

        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: [g.config.width, g.config.height],
            pixels_per_point: out.pixels_per_point,
        };
        let prims = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        // Texture changes are applied before anything can skip the frame: egui forgets them.
        for (id, deltas) in out.textures_delta.set.drain() {
            for delta in &deltas {
                g.egui_renderer.update_texture(&g.gpu.device, &g.gpu.queue, id, delta);
            }
        }
        let frame = match g.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(f) | wgpu::CurrentSurfaceTexture::Suboptimal(f) => f,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                g.surface.configure(&g.gpu.device, &g.config);
                g.window.request_redraw();
                return Ok(());
            }
            other => {
                log::warn!("skipping a frame: {other:?}");
                g.window.request_redraw();
                return Ok(());
            }
        };
        let mut encoder = g.gpu.device.create_command_encoder(&Default::default());
        let extra = g.egui_renderer.update_buffers(&g.gpu.device, &g.gpu.queue, &mut encoder, &prims, &screen);
        let target = frame.texture.create_view(&Default::default());
        {
            let pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("egui"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &target,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
            g.egui_renderer.render(&mut pass.forget_lifetime(), &prims, &screen);
        }
        g.gpu.queue.submit(extra.into_iter().chain([encoder.finish()]));
        for id in out.textures_delta.free.drain() {
            g.egui_renderer.free_texture(&id);
        }
        ws.frame_ms = 0.9 * ws.frame_ms + 0.1 * t0.elapsed().as_secs_f32() * 1e3;

        if let Some(shot) = self.shots.front_mut() {
            let timed_out = self.started.elapsed().as_secs() > SCREENSHOT_TIMEOUT_S;
            if (ws.settled() && self.train_steps.is_none()) || timed_out {
                self.settled_frames += 1;
            }
            if self.settled_frames > 0
                && let Some(mode) = shot.mode.take()
            {
                ws.live.mode = mode;
                self.settled_frames = 0;
            } else if self.settled_frames > SCREENSHOT_SETTLE_FRAMES {
                screenshot::save(&g.gpu, &frame.texture, &shot.path)?;
                for e in ws.notices.errors() {
                    eprintln!("error shown in the window: {}", e.text);
                }
                println!("saved screenshot to {}", shot.path.display());
                self.shots.pop_front();
                self.settled_frames = 0;
                if self.shots.is_empty() {
                    event_loop.exit();
                }
            }
            g.window.request_redraw();
        }
        g.gpu.queue.present(frame);
        let animating = ws.notices.expire() || !ws.settled() || ws.training.is_running() || ws.live.is_moving();
        let repaint = out.viewport_output.get(&egui::ViewportId::ROOT).is_some_and(|v| v.repaint_delay.is_zero());
        if repaint || animating {
            g.window.request_redraw();
        }
        if out
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .is_some_and(|v| v.commands.contains(&egui::ViewportCommand::Close))
        {
            event_loop.exit();
        }
        Ok(())
    }
}

fn style(ctx: &egui::Context) {
    ctx.set_visuals(egui::Visuals::dark());
    ctx.all_styles_mut(|s| {
        s.spacing.item_spacing = egui::vec2(8.0, 6.0);
        s.spacing.button_padding = egui::vec2(8.0, 4.0);
    });
}

impl ApplicationHandler<Wake> for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.gfx.is_none()
            && let Err(e) = self.init(event_loop)
        {
            self.fatal = Some(e);
            event_loop.exit();
        }
    }

    fn user_event(&mut self, _: &ActiveEventLoop, _: Wake) {
        if let Some(g) = &self.gfx {
            g.window.request_redraw();
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        let Some(g) = self.gfx.as_mut() else { return };
        let response = g.egui_state.on_window_event(&g.window, &event);
        if response.repaint {
            g.window.request_redraw();
        }
        let ws = self.workspace.as_mut().expect("created with the window");
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(size) => {
                g.config.width = size.width.max(1);
                g.config.height = size.height.max(1);
                g.surface.configure(&g.gpu.device, &g.config);
                g.window.request_redraw();
            }
            WindowEvent::HoveredFile(_) => {
                ws.hovering_drop = true;
                g.window.request_redraw();
            }
            WindowEvent::HoveredFileCancelled => {
                ws.hovering_drop = false;
                g.window.request_redraw();
            }
            WindowEvent::DroppedFile(path) => {
                ws.hovering_drop = false;
                ws.open_dropped(path);
                g.window.request_redraw();
            }
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.redraw(event_loop) {
                    self.fatal = Some(e);
                    event_loop.exit();
                }
            }
            _ => {}
        }
    }
}
