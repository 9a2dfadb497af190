//! What the window shows and does: the loaded folder, selection, the viewport's camera,
//! notices, and the panels that present them.

use super::compare::Compare;
use super::live_view::LiveView;
use super::loader::{Loader, Message, Purpose};
use super::notices::{Level, Notices};
use super::training::{Action, TrainingPanel, clock};
use crate::io::{Dataset, IntrinsicsSource, PoseSource};
use crate::sfm::{self, SfmError, Stage};
use crate::train::posefree::PoseSettings;
use crate::view::{CameraGlyph, Orbit, Renderer};
use egui::{Color32, RichText, Sense, Vec2};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Instant;

const ACCENT: Color32 = Color32::from_rgb(242, 160, 60);
const WARN: Color32 = Color32::from_rgb(235, 190, 70);
/// Marks what Weave's own pose stage posed (as `view::rig::FOUND_COLOR` in the viewport).
const FOUND: Color32 = Color32::from_rgb(191, 115, 255);
const ERROR: Color32 = Color32::from_rgb(235, 90, 80);

pub struct Workspace {
    loader: Loader,
    rx: Receiver<Message>,
    generation: u64,
    /// The folder being read, until its dataset arrives or fails.
    loading: Option<PathBuf>,
    pub dataset: Option<Dataset>,
    thumbs: Vec<Option<egui::TextureHandle>>,
    thumbs_done: usize,
    pub selected: Option<usize>,
    pub orbit: Option<Orbit>,
    pub notices: Notices,
    /// Whether the user has been told why training does not run on CUDA.
    cuda_note_shown: bool,
    /// Pixel size the viewport widget had in the last frame: the next render's size.
    pub viewport_px: (u32, u32),
    pub hovering_drop: bool,
    pub adapter: String,
    pub frame_ms: f32,
    scroll_strip_to_selected: bool,
    pub training: TrainingPanel,
    preparing_training: bool,
    /// Photos multi-view stereo has matched, and of how many, while training is prepared.
    stereo_progress: Option<(usize, usize)>,
    /// Set to stop the stereo of the training being prepared.
    preparing_cancel: Arc<AtomicBool>,
    /// The trainer being built is compiling the CUDA kernels.
    compiling_kernels: bool,
    pub live: LiveView,
    /// Side by side of the selected photo and the reconstruction, when asked for.
    show_compare: bool,
    compare: Option<Compare>,
    /// COLMAP finding the open folder's camera poses.
    sfm: Option<SfmRun>,
    /// COLMAP runs started, for telling their messages apart.
    sfm_runs: u64,
    /// COLMAP's version, or why it cannot run: asked once, when a folder without poses opens.
    colmap: Option<Result<sfm::Colmap, Arc<SfmError>>>,
    /// Training asked for (`--train`) before the folder had poses: it starts once they are found.
    pending_training: Option<u32>,
    /// Weave's own pose stage posing the open folder's photos.
    pose_run: Option<PoseRun>,
    /// The settings of Weave's own pose stage (prior, codebook, rounds).
    pose_settings: PoseSettings,
    /// Photos of the open folder that Weave's own pose stage posed.
    weave_posed: std::collections::HashSet<String>,
}

/// Work on a thread of its own that a flag cancels. Dropped unfinished (another folder opened,
/// the window closed), it is cancelled and waited for: COLMAP would otherwise outlive the
/// window.
struct Job {
    cancel: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Job {
    fn new(cancel: Arc<AtomicBool>, thread: std::thread::JoinHandle<()>) -> Job {
        Job { cancel, thread: Some(thread) }
    }

    fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct PoseRun {
    id: u64,
    job: Job,
    /// What the stage is doing, and its steps done of all.
    what: String,
    done: u32,
    total: u32,
    started: Instant,
}

struct SfmRun {
    /// Which run this is: a cancelled one's messages may still arrive.
    id: u64,
    job: Job,
    /// The stage COLMAP is in, its progress, and when it began.
    stage: Option<(Stage, usize, usize, Instant)>,
    started: Instant,
}

impl Workspace {
    pub fn new(loader: Loader, rx: Receiver<Message>, adapter: String) -> Self {
        Self {
            loader,
            rx,
            generation: 0,
            loading: None,
            dataset: None,
            thumbs: Vec::new(),
            thumbs_done: 0,
            selected: None,
            orbit: None,
            notices: Notices::default(),
            cuda_note_shown: false,
            viewport_px: (800, 600),
            hovering_drop: false,
            adapter,
            frame_ms: 0.0,
            scroll_strip_to_selected: false,
            training: TrainingPanel::default(),
            preparing_training: false,
            stereo_progress: None,
            preparing_cancel: Arc::default(),
            compiling_kernels: false,
            live: LiveView::default(),
            show_compare: false,
            compare: None,
            sfm: None,
            sfm_runs: 0,
            colmap: None,
            pending_training: None,
            pose_run: None,
            pose_settings: PoseSettings::default(),
            weave_posed: Default::default(),
        }
    }

    pub fn open(&mut self, path: PathBuf) {
        self.sfm = None;
        self.pose_run = None;
        self.weave_posed.clear();
        self.colmap = None;
        self.pending_training = None;
        self.training.reset();
        self.live.reset();
        self.compare = None;
        self.generation = self.loader.open(path.clone());
        self.loading = Some(path);
    }

    /// A dropped file opens its folder, unless it is a camera file itself.
    pub fn open_dropped(&mut self, path: PathBuf) {
        let is_camera_file = path.extension().is_some_and(|e| e == "json");
        let target = if path.is_file() && !is_camera_file {
            path.parent().map(|p| p.to_path_buf()).unwrap_or(path)
        } else {
            path
        };
        self.open(target);
    }

    /// Whether background work has finished: the folder is read (or failed), every photo is
    /// shown, and no training is being prepared or running.
    pub fn settled(&self) -> bool {
        self.loading.is_none()
            && self.dataset.as_ref().is_none_or(|d| self.thumbs_done >= d.views.len())
            && !self.preparing_training
            && !self.training.is_running()
            && self.sfm.is_none()
            && self.pose_run.is_none()
            && self.pending_training.is_none()
            && self.dataset.as_ref().is_none_or(|d| d.has_poses() || self.colmap.is_some())
    }

    /// Starts training the open folder with the fast preset for `steps` steps (after finding
    /// its camera poses, when it has none).
    pub fn start_training(&mut self, steps: u32) {
        let Some(ds) = &self.dataset else { return };
        if !ds.has_poses() {
            self.pending_training = Some(steps);
            self.find_poses();
            return;
        }
        let settings = crate::train::Overrides { iterations: Some(steps), ..self.training.settings.clone() };
        let (scale, note) = crate::render::views::auto_scale(&ds.views);
        if let Some(note) = note {
            self.notices.push(Level::Info, format!("Training: {note}"));
        }
        let cfg = settings.config(|| scale);
        self.training.iterations = steps;
        self.preparing_training = true;
        self.stereo_progress = None;
        self.compiling_kernels = false;
        let cancel = Arc::new(AtomicBool::new(false));
        self.preparing_cancel = cancel.clone();
        self.loader.prepare_training(ds.clone(), cfg, cancel);
    }

    /// Starts COLMAP on the open folder, when it can run.
    fn find_poses(&mut self) {
        let Some(ds) = &self.dataset else { return };
        match self.colmap.clone() {
            Some(Ok(_)) => {
                let cancel = Arc::new(AtomicBool::new(false));
                self.sfm_runs += 1;
                let thread = self.loader.find_poses(self.sfm_runs, ds.clone(), cancel.clone());
                let started = Instant::now();
                self.sfm = Some(SfmRun { id: self.sfm_runs, job: Job::new(cancel, thread), stage: None, started });
            }
            Some(Err(why)) => {
                self.notices.push(Level::Info, format!("{why}: Weave's own pose stage poses the photos"));
                self.pose_with_weave();
            }
            // Still looking for COLMAP: a pending start waits for the answer (`settled`).
            None => {}
        }
    }

    /// Starts Weave's own pose stage on the open folder (COLMAP missing or failed); the field
    /// it trains goes on training once the poses are found.
    fn pose_with_weave(&mut self) {
        let Some(ds) = &self.dataset else { return };
        let cfg = self.training.settings.config(|| crate::render::views::auto_scale(&ds.views).0);
        let cancel = Arc::new(AtomicBool::new(false));
        self.sfm_runs += 1;
        let thread =
            self.loader.pose_with_weave(self.sfm_runs, ds.clone(), cfg, self.pose_settings.clone(), cancel.clone());
        self.pose_run = Some(PoseRun {
            id: self.sfm_runs,
            job: Job::new(cancel, thread),
            what: "Loading the photos".into(),
            done: 0,
            total: 0,
            started: Instant::now(),
        });
    }

    fn glyphs(ds: &Dataset, weave_posed: &std::collections::HashSet<String>) -> Vec<CameraGlyph> {
        ds.views
            .iter()
            .filter_map(|v| {
                let found = weave_posed.contains(&v.name);
                v.pose.map(|pose| CameraGlyph { pose, intrinsics: v.intrinsics, found })
            })
            .collect()
    }

    /// Applies what the loader sent since the last frame.
    pub fn poll(&mut self, ctx: &egui::Context, device: &wgpu::Device, queue: &wgpu::Queue, renderer: &mut Renderer) {
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Message::Picked(path) => self.open(path),
                Message::DialogUnavailable => self.notices.push(
                    Level::Warning,
                    "No folder dialog is available on this desktop (xdg-desktop-portal is not running). \
                     Drop a folder on the window, or start Weave with `weave PATH`.",
                ),
                Message::StereoProgress { done, total } => self.stereo_progress = Some((done, total)),
                Message::CompilingKernels => self.compiling_kernels = true,
                Message::TrainerReady(trainer, note) => {
                    self.preparing_training = false;
                    self.stereo_progress = None;
                    self.compiling_kernels = false;
                    // Why training is not on the GPU, said once per session.
                    if let Some(n) = note.as_ref().filter(|_| !self.cuda_note_shown) {
                        self.notices.push(Level::Info, format!("Training on the CPU. {n}"));
                        self.cuda_note_shown = true;
                    }
                    if let Some(n) = trainer.backdrop_note() {
                        self.notices.push(Level::Info, n);
                    }
                    if let Some(stats) = &trainer.depth_prior {
                        self.notices.push(Level::Info, stats.note());
                    }
                    self.training.start(*trainer, note, self.loader.wake.clone());
                }
                Message::PickedViewportImage(path) => {
                    let saved = renderer
                        .read_pixels(device, queue)
                        .ok_or_else(|| "the viewport could not be read back".to_string())
                        .and_then(|img| {
                            let rgb = image::DynamicImage::ImageRgba8(img).to_rgb8();
                            crate::io::images::write_png(&path, &image::DynamicImage::ImageRgb8(rgb))
                                .map_err(|e| e.to_string())
                        });
                    match saved {
                        Ok(()) => self.notices.push(Level::Info, format!("Saved the viewport to {}", path.display())),
                        Err(e) => self.notices.push(Level::Error, format!("Saving the viewport failed: {e}")),
                    }
                }
                Message::PickedExport(what, path) => match (self.training.finished.take(), &self.dataset) {
                    (Some(mut t), Some(ds)) => {
                        self.training.mesh_settings(&mut t.cfg);
                        self.notices.push(Level::Info, format!("Saving to {}…", path.display()));
                        self.loader.export(Box::new(t), ds.clone(), what, path);
                    }
                    (t, _) => {
                        self.training.finished = t;
                        self.notices.push(Level::Warning, "Nothing to save: no finished training run for this folder");
                    }
                },
                Message::Saved { trainer, result } => {
                    self.training.finished = Some(*trainer);
                    match result {
                        Ok(what) => self.notices.push(Level::Info, what),
                        Err(e) => self.notices.push(Level::Error, format!("Saving failed: {e}")),
                    }
                }
                Message::ColmapFound { generation, status } if generation == self.generation => {
                    self.colmap = Some(status);
                    if self.pending_training.is_some() && self.sfm.is_none() {
                        self.find_poses();
                    }
                }
                Message::SfmProgress { run, stage, done, total } => {
                    if let Some(r) = self.sfm.as_mut().filter(|r| r.id == run) {
                        let began = r.stage.filter(|s| s.0 == stage).map_or_else(Instant::now, |s| s.3);
                        r.stage = Some((stage, done, total, began));
                    }
                }
                // Only the current run's end counts: opening another folder cancelled the others.
                Message::SfmDone { run, root, result } if self.sfm.as_ref().is_some_and(|r| r.id == run) => {
                    self.sfm = None;
                    match result {
                        Ok(summary) => {
                            self.notices.push(Level::Info, summary);
                            let pending = self.pending_training.take();
                            self.open(root);
                            self.pending_training = pending;
                        }
                        Err(SfmError::Cancelled) => {
                            self.pending_training = None;
                            self.notices.push(Level::Info, "Finding the camera poses was cancelled");
                        }
                        Err(e) => {
                            self.notices.push(Level::Warning, format!("{e}\nWeave's own pose stage takes over"));
                            self.pose_with_weave();
                        }
                    }
                }
                Message::PoseStage { run, what, done, total } => {
                    if let Some(r) = self.pose_run.as_mut().filter(|r| r.id == run) {
                        (r.what, r.done, r.total) = (what, done, total);
                    }
                }
                Message::PosesSoFar { run, poses } if self.pose_run.as_ref().is_some_and(|r| r.id == run) => {
                    if let Some(ds) = &self.dataset {
                        let glyphs = ds
                            .views
                            .iter()
                            .zip(poses)
                            .map(|(v, pose)| CameraGlyph { pose, intrinsics: v.intrinsics, found: true })
                            .collect();
                        let framing = renderer.set_cameras(device, glyphs);
                        let aspect = self.viewport_px.0 as f32 / self.viewport_px.1.max(1) as f32;
                        self.orbit = self.orbit.or(framing.map(|f| f.orbit(aspect)));
                    }
                }
                Message::WeavePosed { run, result } if self.pose_run.as_ref().is_some_and(|r| r.id == run) => {
                    self.pose_run = None;
                    self.pending_training = None;
                    match (result, self.dataset.as_mut()) {
                        (Some((trainer, summary)), Some(ds)) => {
                            self.notices.push(Level::Info, summary);
                            let found: std::collections::HashMap<&str, crate::geometry::Camera> =
                                trainer.views.iter().map(|v| v.name.as_str()).zip(trainer.cameras()).collect();
                            for v in &mut ds.views {
                                if let Some(c) = found.get(v.name.as_str()) {
                                    // The photo's own size: training's camera scaled back.
                                    let s = v.intrinsics.width as f64 / c.intrinsics.width as f64;
                                    (v.pose, v.intrinsics) = (Some(c.pose), c.intrinsics.scaled(s));
                                    self.weave_posed.insert(v.name.clone());
                                }
                            }
                            let framing = renderer.set_cameras(device, Self::glyphs(ds, &self.weave_posed));
                            let aspect = self.viewport_px.0 as f32 / self.viewport_px.1.max(1) as f32;
                            self.orbit = framing.map(|f| f.orbit(aspect));
                            self.training.iterations = trainer.cfg.iterations;
                            self.training.start(*trainer, None, self.loader.wake.clone());
                        }
                        _ => self.notices.push(Level::Info, "Posing the photos was cancelled"),
                    }
                }
                Message::TrainingCancelled => {
                    self.preparing_training = false;
                    self.stereo_progress = None;
                    self.notices.push(Level::Info, "Training was cancelled while multi-view stereo ran");
                }
                Message::Failed(error) => {
                    self.preparing_training = false;
                    self.notices.push(Level::Error, error);
                }
                Message::OpenFailed { generation, error } if generation == self.generation => {
                    self.loading = None;
                    self.pending_training = None;
                    self.notices.push(Level::Error, error);
                }
                Message::Opened { generation, dataset } if generation == self.generation => {
                    self.loading = None;
                    if !dataset.has_poses() && self.pending_training.take().is_some() {
                        self.notices.push(Level::Error, "COLMAP's model gives these photos no usable poses");
                    }
                    for w in &dataset.warnings {
                        self.notices.push(Level::Warning, w.clone());
                    }
                    let poses = match dataset.pose_source {
                        PoseSource::None => "no camera poses yet".to_string(),
                        ref source => format!("poses from {}", pose_kind(source)),
                    };
                    let (root, n) = (dataset.root.display(), dataset.views.len());
                    self.notices.push(Level::Info, format!("Opened {root}: {n} photos, {poses}"));
                    let glyphs = Self::glyphs(&dataset, &self.weave_posed);
                    let framing = renderer.set_cameras(device, glyphs);
                    renderer.set_points(device, &dataset.points);
                    let aspect = self.viewport_px.0 as f32 / self.viewport_px.1.max(1) as f32;
                    self.orbit = framing.map(|f| f.orbit(aspect));
                    self.thumbs = vec![None; dataset.views.len()];
                    self.thumbs_done = 0;
                    self.selected = None;
                    self.dataset = Some(*dataset);
                }
                Message::Thumbnail { generation, index, image } if generation == self.generation => {
                    let size = [image.width() as usize, image.height() as usize];
                    let color = egui::ColorImage::from_rgba_unmultiplied(size, image.as_raw());
                    self.thumbs[index] =
                        Some(ctx.load_texture(format!("thumb{index}"), color, egui::TextureOptions::LINEAR));
                    self.thumbs_done += 1;
                    if self.dataset.as_ref().is_some_and(|d| d.views[index].pose.is_some()) {
                        // Frusta exist only for posed views, numbered among those.
                        let posed = self
                            .dataset
                            .as_ref()
                            .map_or(0, |d| d.views[..index].iter().filter(|v| v.pose.is_some()).count());
                        renderer.set_photo(device, queue, posed, &image);
                    }
                }
                Message::ThumbnailFailed { generation, error } if generation == self.generation => {
                    self.thumbs_done += 1;
                    self.notices.push(Level::Warning, error);
                }
                _ => {} // from a load that a newer one replaced
            }
        }
        if let Some(steps) = self.pending_training
            && self.sfm.is_none()
            && self.loading.is_none()
            && self.dataset.as_ref().is_some_and(|d| d.has_poses() && self.thumbs_done >= d.views.len())
        {
            self.pending_training = None;
            self.start_training(steps);
        }
        for note in self.training.poll() {
            self.notices.push(Level::Info, note);
        }
        if let Err(e) = self.live.poll(self.training.snapshot(), renderer, device, queue) {
            self.notices.push(Level::Warning, format!("The live view cannot draw this field: {e}"));
            self.live.mode = None;
        }
        if let (true, Some(i), Some(step), Some(ds)) = (self.show_compare, self.selected, self.live.step, &self.dataset)
            && self.compare.as_ref().is_none_or(|c| (c.view, c.step) != (i, step))
        {
            match Compare::new(ctx, renderer, device, queue, &ds.views[i], i, step) {
                Ok(c) => self.compare = Some(c),
                Err(e) => {
                    self.show_compare = false;
                    self.notices.push(Level::Warning, format!("Cannot compare {}: {e}", ds.views[i].name));
                }
            }
        }
        renderer.select(device, self.selected);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, viewport: Option<egui::TextureId>) {
        egui::Panel::top("menu").show(ui, |ui| self.menu(ui));
        egui::Panel::left("dataset").default_size(300.0).min_size(260.0).resizable(true).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.side_panel(ui));
        });
        if self.dataset.is_some() {
            egui::Panel::bottom("photos").exact_size(132.0).show(ui, |ui| self.photo_strip(ui));
        }
        egui::CentralPanel::no_frame().show(ui, |ui| self.viewport(ui, viewport));
        self.notices_ui(ui);
    }

    fn menu(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.label(RichText::new("Weave").strong().color(ACCENT));
            ui.separator();
            ui.menu_button("File", |ui| {
                if ui.button("Open folder…").clicked() {
                    self.loader.pick_folder(Purpose::Open);
                    ui.close();
                }
                if let Some(ds) = &self.dataset
                    && ui.button("Reload").clicked()
                {
                    let root = ds.root.clone();
                    self.open(root);
                    ui.close();
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Reset view").clicked() {
                    self.orbit = None;
                    ui.close();
                }
                if ui.button("Save viewport image…").clicked() {
                    self.loader.pick_folder(Purpose::ViewportImage);
                    ui.close();
                }
            });
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(RichText::new(format!("{}  ·  {:.1} ms", self.adapter, self.frame_ms)).weak().small());
            });
        });
    }

    fn side_panel(&mut self, ui: &mut egui::Ui) {
        ui.add_space(6.0);
        ui.heading("Dataset");
        ui.add_space(4.0);
        if let Some(path) = &self.loading {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Reading {}", path.display()));
            });
        }
        let Some(ds) = &self.dataset else {
            if self.loading.is_none() {
                ui.label("No folder open.");
                if ui.button("Open folder…").clicked() {
                    self.loader.pick_folder(Purpose::Open);
                }
            }
            return;
        };
        ui.label(RichText::new(ds.root.display().to_string()).monospace().small());
        ui.add_space(6.0);
        let views = &ds.views;
        egui::Grid::new("facts").num_columns(2).spacing([12.0, 4.0]).striped(true).show(ui, |ui| {
            ui.label("Poses");
            if self.weave_posed.is_empty() {
                ui.label(pose_kind(&ds.pose_source)).on_hover_text(ds.pose_source.to_string());
            } else {
                let n = self.weave_posed.len();
                ui.label(RichText::new(format!("Weave's own pose stage ({n} of {})", ds.views.len())).color(FOUND));
            }
            ui.end_row();
            ui.label("Photos");
            ui.label(format!("{}", views.len()));
            ui.end_row();
            ui.label("Size");
            let mut sizes: Vec<String> =
                views.iter().map(|v| format!("{}×{}", v.intrinsics.width, v.intrinsics.height)).collect();
            sizes.sort();
            sizes.dedup();
            ui.label(sizes.join(", "));
            ui.end_row();
            ui.label("Intrinsics");
            let src = views[0].intrinsics_source;
            match src {
                IntrinsicsSource::Guess => {
                    ui.label(RichText::new("guessed").color(WARN)).on_hover_text(src.to_string())
                }
                _ => ui.label(src.to_string()),
            };
            ui.end_row();
            ui.label("Focal");
            ui.label(format!("{:.1} px", views[0].intrinsics.fx));
            ui.end_row();
            let masks = views.iter().filter(|v| v.mask.is_some()).count();
            if masks > 0 {
                ui.label("Masks");
                ui.label(format!("{masks}"));
                ui.end_row();
            }
            if !ds.test_views.is_empty() {
                ui.label("Test views");
                ui.label(format!("{}", ds.test_views.len()));
                ui.end_row();
            }
        });
        if self.thumbs_done < views.len() {
            ui.add_space(6.0);
            let frac = self.thumbs_done as f32 / views.len() as f32;
            ui.add(egui::ProgressBar::new(frac).text(format!("Loading photos {}/{}", self.thumbs_done, views.len())));
        }
        if !ds.warnings.is_empty() {
            ui.add_space(6.0);
            egui::CollapsingHeader::new(RichText::new(format!("{} warnings", ds.warnings.len())).color(WARN)).show(
                ui,
                |ui| {
                    for w in &ds.warnings {
                        ui.label(RichText::new(w).small());
                    }
                },
            );
        }
        ui.add_space(10.0);
        ui.separator();
        let mut pending_start = None;
        if self.preparing_training && self.compiling_kernels {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Compiling the GPU's kernels (the first start only)…");
            });
        } else if let (true, Some((done, total))) = (self.preparing_training, self.stereo_progress) {
            ui.label("Multi-view stereo (the depth prior)");
            ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(format!("{done}/{total} photos")));
            if ui.button("Cancel").clicked() {
                self.preparing_cancel.store(true, Ordering::SeqCst);
            }
        } else if self.preparing_training {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Loading photos for training…");
            });
        } else if !ds.has_poses() {
            let clicked = self.poses_ui(ui);
            if self.sfm.is_none() && self.pose_run.is_none() {
                Self::pose_settings_ui(ui, &mut self.pose_settings);
            }
            if clicked {
                self.find_poses();
                return;
            }
        } else {
            match self.training.ui(ui) {
                Action::Start(steps) => pending_start = Some(steps),
                Action::Export(what) => self.loader.pick_folder(Purpose::Export(what)),
                Action::None => {}
            }
        }
        if let Some(steps) = pending_start {
            self.start_training(steps);
            return;
        }
        if ds.has_poses() {
            ui.add_space(10.0);
            ui.separator();
            self.live.ui(ui);
        }
        if let Some(i) = self.selected {
            let v = &views[i];
            ui.add_space(10.0);
            ui.separator();
            ui.heading("Photo");
            egui::Grid::new("photo").num_columns(2).spacing([12.0, 4.0]).show(ui, |ui| {
                ui.label("Name");
                ui.label(&v.name);
                ui.end_row();
                ui.label("Camera");
                let k = &v.intrinsics;
                ui.label(format!("f {:.1}, {:.1}  c {:.1}, {:.1}", k.fx, k.fy, k.cx, k.cy));
                ui.end_row();
                if self.weave_posed.contains(&v.name) {
                    ui.label("Posed by");
                    ui.label(RichText::new("Weave's own pose stage").color(FOUND));
                    ui.end_row();
                }
                if let Some(p) = v.pose {
                    ui.label("Centre");
                    ui.label(format!("{:.3}, {:.3}, {:.3}", p.center.x, p.center.y, p.center.z));
                    ui.end_row();
                }
            });
            if let (Some(p), Some(o)) = (v.pose, self.orbit)
                && ui.button("Look through this camera").clicked()
            {
                let eye = p.center.as_vec3();
                let ahead = eye + p.forward().as_vec3() * o.distance.min((o.target - eye).length()).max(1e-3);
                self.orbit = Some(o.looking(eye, ahead, v.intrinsics.fov_y() as f32));
            }
            if self.live.step.is_some() && v.pose.is_some() {
                ui.checkbox(&mut self.show_compare, "Compare with the reconstruction");
                if let Some(c) = self.compare.as_ref().filter(|c| self.show_compare && c.view == i) {
                    c.ui(ui);
                }
            }
        }
        ui.add_space(10.0);
        ui.separator();
        ui.label(
            RichText::new(
                "Drag: orbit · right/middle drag: pan · scroll: zoom · double-click: reset · click a camera to select",
            )
            .small()
            .weak(),
        );
    }

    /// For a folder of bare photos: COLMAP or Weave's own stage finding their poses, or the
    /// button that starts it, which returns whether it was clicked.
    fn poses_ui(&self, ui: &mut egui::Ui) -> bool {
        ui.heading("Camera poses");
        if let Some(run) = &self.sfm {
            let elapsed = run.started.elapsed().as_secs_f32();
            match run.stage {
                Some((stage, done, total, began)) => {
                    let label = stage.label();
                    ui.label(format!("COLMAP: {}{}…", label[..1].to_uppercase(), &label[1..]));
                    let t = began.elapsed().as_secs_f32();
                    let eta = if done > 0 { t / done as f32 * total.saturating_sub(done) as f32 } else { 0.0 };
                    let frac = done as f32 / total.max(1) as f32;
                    ui.add(egui::ProgressBar::new(frac).text(format!("{done}/{total} · ETA {}", clock(eta))));
                }
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Starting COLMAP…");
                    });
                }
            }
            ui.label(RichText::new(format!("{} elapsed", clock(elapsed))).small().weak());
            if ui.button("Cancel").clicked() {
                run.job.cancel();
            }
            return false;
        }
        if let Some(run) = &self.pose_run {
            ui.label(format!("Weave's pose stage: {}…", run.what));
            let t = run.started.elapsed().as_secs_f32();
            let eta = if run.done > 0 { t / run.done as f32 * run.total.saturating_sub(run.done) as f32 } else { 0.0 };
            let frac = run.done as f32 / run.total.max(1) as f32;
            ui.add(egui::ProgressBar::new(frac).text(format!("{}/{} steps · ETA {}", run.done, run.total, clock(eta))));
            ui.label(RichText::new(format!("{} elapsed; cameras appear as they are posed", clock(t))).small().weak());
            if ui.button("Cancel").clicked() {
                run.job.cancel();
            }
            return false;
        }
        ui.label(
            "These photos have no camera poses yet. Weave finds them by structure from motion with COLMAP, and \
             with its own pose stage where COLMAP cannot (plain, textureless objects) or is not installed; \
             training starts once they are found.",
        );
        ui.add_space(4.0);
        match &self.colmap {
            Some(Ok(colmap)) => {
                let clicked = ui.button("Find camera poses").clicked();
                ui.label(RichText::new(format!("{} ({})", colmap.version, colmap.exe.display())).small().weak());
                clicked
            }
            Some(Err(why)) => {
                ui.label(RichText::new(why.to_string()).color(WARN));
                ui.button("Find camera poses with Weave's own stage").clicked()
            }
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Looking for COLMAP…");
                });
                false
            }
        }
    }

    /// The knobs of Weave's own pose stage: where the cameras stood, and the codebook's.
    fn pose_settings_ui(ui: &mut egui::Ui, s: &mut PoseSettings) {
        use crate::sfm::prior::PosePrior;
        ui.add_space(6.0);
        egui::CollapsingHeader::new("Weave's pose stage").default_open(true).show(ui, |ui| {
            egui::Grid::new("pose-stage").num_columns(2).spacing([12.0, 4.0]).show(ui, |ui| {
                ui.label("Cameras stood").on_hover_text(
                    "Where the cameras were, for photos nothing posed. Detected: a plain backdrop means an object \
                     on a ring.",
                );
                let label = s.pose_prior.map_or("detect from the photos", |p| match p {
                    PosePrior::Ring => "on a ring (turntable, walk-around)",
                    PosePrior::Hemisphere => "above the object (hemisphere)",
                    PosePrior::Sphere => "all around it (sphere)",
                    PosePrior::Forward => "side by side, facing forward",
                });
                egui::ComboBox::from_id_salt("pose-prior").selected_text(label).show_ui(ui, |ui| {
                    ui.selectable_value(&mut s.pose_prior, None, "detect from the photos");
                    ui.selectable_value(&mut s.pose_prior, Some(PosePrior::Ring), "on a ring (turntable, walk-around)");
                    ui.selectable_value(
                        &mut s.pose_prior,
                        Some(PosePrior::Hemisphere),
                        "above the object (hemisphere)",
                    );
                    ui.selectable_value(&mut s.pose_prior, Some(PosePrior::Sphere), "all around it (sphere)");
                    ui.selectable_value(&mut s.pose_prior, Some(PosePrior::Forward), "side by side, facing forward");
                });
                ui.end_row();
                ui.label("Codebook views")
                    .on_hover_text("Views rendered from the field per round, to match photos against");
                ui.add(egui::DragValue::new(&mut s.codebook_size).range(8..=512));
                ui.end_row();
                ui.label("Temperature").on_hover_text(
                    "Smaller trusts the best-matching codebook view alone; larger mixes its neighbours' poses",
                );
                ui.add(egui::DragValue::new(&mut s.codebook_temperature).range(0.001..=1.0).speed(0.001));
                ui.end_row();
                ui.label("Rounds").on_hover_text("Rounds of joint training, each followed by re-estimation");
                ui.add(egui::DragValue::new(&mut s.pose_rounds).range(1..=20));
                ui.end_row();
                ui.label("Steps per round");
                ui.add(egui::DragValue::new(&mut s.round_steps).range(10..=5000));
                ui.end_row();
            });
        });
    }

    fn photo_strip(&mut self, ui: &mut egui::Ui) {
        let Some(ds) = &self.dataset else { return };
        let scroll_to = std::mem::take(&mut self.scroll_strip_to_selected);
        egui::ScrollArea::horizontal().auto_shrink([false, false]).show(ui, |ui| {
            ui.horizontal(|ui| {
                for (i, v) in ds.views.iter().enumerate() {
                    let selected = self.selected == Some(i);
                    let (rect, resp) = ui.allocate_exact_size(Vec2::new(128.0, 112.0), Sense::click());
                    let img_rect = egui::Rect::from_min_size(rect.min + Vec2::new(4.0, 4.0), Vec2::new(120.0, 88.0));
                    let painter = ui.painter_at(rect);
                    if selected || resp.hovered() {
                        painter.rect_filled(
                            rect,
                            4.0,
                            if selected { ACCENT.gamma_multiply(0.35) } else { Color32::from_gray(45) },
                        );
                    }
                    match &self.thumbs[i] {
                        Some(t) => {
                            let s = t.size_vec2();
                            let fit = (img_rect.width() / s.x).min(img_rect.height() / s.y);
                            let r = egui::Rect::from_center_size(img_rect.center(), s * fit);
                            painter.image(
                                t.id(),
                                r,
                                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                                Color32::WHITE,
                            );
                        }
                        None => {
                            painter.rect_filled(img_rect, 2.0, Color32::from_gray(35));
                        }
                    }
                    if self.weave_posed.contains(&v.name) {
                        let at = egui::pos2(img_rect.max.x - 3.0, img_rect.min.y + 3.0);
                        let font = egui::FontId::proportional(10.0);
                        let galley = painter.layout_no_wrap("Weave".into(), font.clone(), Color32::WHITE);
                        let r = egui::Align2::RIGHT_TOP.anchor_size(at, galley.size());
                        painter.rect_filled(r.expand(2.0), 3.0, FOUND);
                        painter.text(at, egui::Align2::RIGHT_TOP, "Weave", font, Color32::WHITE);
                    }
                    let chars: Vec<char> = v.name.chars().collect();
                    let name = if chars.len() > 18 {
                        format!("…{}", chars[chars.len() - 16..].iter().collect::<String>())
                    } else {
                        v.name.clone()
                    };
                    painter.text(
                        egui::pos2(rect.center().x, rect.max.y - 9.0),
                        egui::Align2::CENTER_CENTER,
                        name,
                        egui::FontId::proportional(11.0),
                        if selected { Color32::WHITE } else { Color32::from_gray(170) },
                    );
                    if resp.clicked() {
                        self.selected = if selected { None } else { Some(i) };
                    }
                    if selected && scroll_to {
                        resp.scroll_to_me(Some(egui::Align::Center));
                    }
                    resp.on_hover_text(v.image.display().to_string());
                }
            });
        });
    }

    fn viewport(&mut self, ui: &mut egui::Ui, texture: Option<egui::TextureId>) {
        let rect = ui.available_rect_before_wrap();
        let ppp = ui.ctx().pixels_per_point();
        self.viewport_px =
            ((rect.width() * ppp).round().max(1.0) as u32, (rect.height() * ppp).round().max(1.0) as u32);
        let resp = ui.allocate_rect(rect, Sense::click_and_drag());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, Color32::from_rgb(28, 31, 36));
        if let (Some(tex), Some(_)) = (texture, self.orbit) {
            painter.image(
                tex,
                rect,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        if let Some(o) = &mut self.orbit {
            let h = rect.height().max(1.0);
            if resp.dragged_by(egui::PointerButton::Primary) {
                let d = resp.drag_delta();
                o.rotate(d.x / h, d.y / h);
            }
            if resp.dragged_by(egui::PointerButton::Secondary) || resp.dragged_by(egui::PointerButton::Middle) {
                let d = resp.drag_delta();
                o.pan(d.x / h, d.y / h);
            }
            if resp.hovered() {
                let scroll = ui.input(|i| i.smooth_scroll_delta.y);
                if scroll != 0.0 {
                    o.zoom(scroll / 40.0);
                    self.live.moved();
                }
            }
            if resp.dragged() {
                self.live.moved();
            }
        }
        if resp.double_clicked() {
            self.orbit = None;
        } else if resp.clicked()
            && let Some(pos) = resp.interact_pointer_pos()
        {
            self.pick(rect, pos);
        }
        self.viewport_hints(ui, rect);
    }

    /// Selects the camera whose centre is drawn nearest the click (within a few points).
    fn pick(&mut self, rect: egui::Rect, pos: egui::Pos2) {
        let (Some(ds), Some(o)) = (&self.dataset, &self.orbit) else {
            return;
        };
        let vp = o.view_proj(rect.width() / rect.height().max(1.0));
        let best = ds
            .views
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let clip = vp * v.pose?.center.as_vec3().extend(1.0);
                if clip.w <= 0.0 {
                    return None;
                }
                let ndc = clip.truncate() / clip.w;
                let p = egui::pos2(
                    rect.min.x + (ndc.x + 1.0) * 0.5 * rect.width(),
                    rect.min.y + (1.0 - ndc.y) * 0.5 * rect.height(),
                );
                Some((i, p.distance(pos)))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        self.selected = best.filter(|b| b.1 < 14.0).map(|b| b.0);
        self.scroll_strip_to_selected = self.selected.is_some();
    }

    fn viewport_hints(&self, ui: &egui::Ui, rect: egui::Rect) {
        let painter = ui.painter_at(rect);
        let centre_text = |text: &str, color: Color32| {
            painter.text(rect.center(), egui::Align2::CENTER_CENTER, text, egui::FontId::proportional(18.0), color);
        };
        if self.hovering_drop {
            painter.rect_stroke(rect.shrink(8.0), 8.0, egui::Stroke::new(3.0, ACCENT), egui::StrokeKind::Inside);
            centre_text("Drop to open this folder", ACCENT);
        } else if self.loading.is_some() && self.dataset.is_none() {
            centre_text("Reading folder…", Color32::from_gray(200));
        } else if self.dataset.is_none() {
            centre_text(
                "Open a photo folder: File → Open folder…, drop it here, or run `weave PATH`",
                Color32::from_gray(170),
            );
        } else if self.dataset.as_ref().is_some_and(|d| !d.has_poses()) {
            let text = if self.sfm.is_some() {
                "Finding the camera poses with COLMAP…"
            } else if self.pose_run.is_some() {
                "Weave's own pose stage is posing these photos…"
            } else {
                "No camera poses yet: Find camera poses (left) runs COLMAP on these photos"
            };
            centre_text(text, Color32::from_gray(190));
        }
        if let Some(ds) = &self.dataset
            && ds.has_poses()
        {
            let label = format!("{} cameras · {}", ds.views.len(), pose_kind(&ds.pose_source));
            painter.text(
                rect.left_top() + Vec2::new(12.0, 10.0),
                egui::Align2::LEFT_TOP,
                label,
                egui::FontId::proportional(13.0),
                Color32::from_gray(200),
            );
        }
    }

    fn notices_ui(&mut self, ui: &mut egui::Ui) {
        let mut dismissed = None;
        egui::Area::new(egui::Id::unique("notices"))
            .anchor(egui::Align2::RIGHT_TOP, Vec2::new(-12.0, 36.0))
            .order(egui::Order::Foreground)
            .show(ui.ctx(), |ui| {
                ui.set_max_width(460.0);
                for (i, n) in self.notices.list.iter().enumerate().rev().take(6) {
                    let (color, title) = match n.level {
                        Level::Error => (ERROR, "Error"),
                        Level::Warning => (WARN, "Warning"),
                        Level::Info => (Color32::from_rgb(120, 190, 240), "Info"),
                    };
                    egui::Frame::popup(ui.style()).stroke(egui::Stroke::new(1.0, color)).show(ui, |ui| {
                        ui.horizontal_top(|ui| {
                            ui.label(RichText::new(title).color(color).strong());
                            ui.add(egui::Label::new(RichText::new(&n.text).color(Color32::from_gray(225))).wrap());
                            if ui.small_button("×").on_hover_text("Dismiss").clicked() {
                                dismissed = Some(i);
                            }
                        });
                    });
                    ui.add_space(4.0);
                }
            });
        if let Some(i) = dismissed {
            self.notices.list.remove(i);
        }
    }
}

pub fn pose_kind(source: &PoseSource) -> String {
    match source {
        PoseSource::Transforms(_) => "transforms.json".into(),
        PoseSource::Colmap(dir) => {
            let parent =
                dir.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            format!("COLMAP model ({parent}/{name})")
        }
        PoseSource::None => "none (images only)".into(),
    }
}
