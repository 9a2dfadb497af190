//! The training panel: start, pause, resume, stop; progress with ETA; live loss, PSNR and
//! learning rate (egui_plot).

use crate::mesh::{MIN_TRIANGLES, Unseen};
use crate::train::session::{Command, Event, Session, Snapshot, SnapshotSlot};
use crate::train::{Overrides, Preset, StepStats, TrainConfig, Trainer};
use egui::{Color32, RichText};
use std::sync::Arc;
use std::time::Instant;

/// The triangle budget offered when one is first asked for.
const DEFAULT_BUDGET: usize = 150_000;

pub struct TrainingPanel {
    /// The settings chosen here, as `weave train`'s flags hold them (`preset`, `no_auto_masks`,
    /// `unseen`, `background`, `stereo`; None: by layout; `mesh_resolution`, `triangles`).
    pub settings: Overrides,
    /// Steps, shown as the preset's until changed.
    pub iterations: u32,
    run: Option<Run>,
    /// The trainer of the last finished run, kept for saving its results.
    pub finished: Option<Trainer>,
    /// What trains (backend and device), and why not CUDA when it is not.
    backend: Option<(String, Option<String>)>,
}

struct Run {
    /// Taken (and joined) when training ends.
    session: Option<Session>,
    /// Outlives the session, so the last snapshot stays visible after training ends.
    snapshots: SnapshotSlot,
    history: Vec<StepStats>,
    started: Instant,
    total: u32,
    paused: bool,
    finished: bool,
    /// Seconds the run took, once it ended.
    took: Option<f32>,
    rollbacks: u32,
    /// A round of stereo under way: its number, photos matched, photos.
    stereo: Option<(u32, usize, usize)>,
}

pub enum Action {
    None,
    /// Load the photos and train for this many steps with the chosen preset.
    Start(u32),
    Export(super::loader::Export),
}

impl Default for TrainingPanel {
    fn default() -> Self {
        Self {
            settings: Overrides::default(),
            iterations: TrainConfig::preset(Preset::default()).iterations,
            run: None,
            finished: None,
            backend: None,
        }
    }
}

impl TrainingPanel {
    pub fn is_running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| !r.finished)
    }

    /// Stops a running session (its folder is being replaced) and forgets results.
    pub fn reset(&mut self) {
        if let Some(s) = self.run.as_ref().and_then(|r| r.session.as_ref()) {
            s.send(Command::Stop);
        }
        self.run = None;
        self.finished = None;
    }

    pub fn start(&mut self, trainer: Trainer, cuda_note: Option<String>, wake: Arc<dyn Fn() + Send + Sync>) {
        self.finished = None;
        self.backend = Some((trainer.backend_label(), cuda_note));
        let total = trainer.cfg.iterations;
        let session = Session::start(trainer, wake);
        self.run = Some(Run {
            snapshots: session.snapshots.clone(),
            session: Some(session),
            history: Vec::new(),
            started: Instant::now(),
            total,
            paused: false,
            finished: false,
            took: None,
            rollbacks: 0,
            stereo: None,
        });
    }

    /// The latest state published by the current (or last) run.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.run.as_ref().and_then(|r| r.snapshots.latest())
    }

    /// Drains training events; returns notices for the user.
    pub fn poll(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let Some(run) = &mut self.run else { return notes };
        let Some(session) = &run.session else { return notes };
        let mut done = false;
        while let Ok(e) = session.events.try_recv() {
            match e {
                Event::Step(s) => run.history.push(s),
                Event::Stereo { round, done, total } => run.stereo = Some((round, done, total)),
                Event::StereoDone(note) => {
                    run.stereo = None;
                    notes.push(note);
                }
                Event::RolledBack { why, .. } => {
                    run.rollbacks += 1;
                    notes.push(format!("Training: {why}"));
                }
                Event::Finished { step, stopped } => {
                    done = true;
                    notes.push(if stopped {
                        format!("Training stopped at step {step}")
                    } else {
                        format!("Training finished ({step} steps)")
                    });
                }
            }
        }
        if done {
            run.finished = true;
            run.took = Some(run.started.elapsed().as_secs_f32());
            self.finished = run.session.take().and_then(Session::join);
        }
        notes
    }

    /// The exported mesh's size, open while training runs too: it takes effect at export.
    fn mesh_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label("Mesh").on_hover_text(
                "The exported mesh: marching cells across the scene, and at most so many triangles \
                 (unchecked: as many as keep it within a fifth of a cell of the surface).",
            );
            let preset = TrainConfig::preset(self.settings.preset).mesh_resolution;
            let mut cells = self.settings.mesh_resolution.unwrap_or(preset);
            if ui.add(egui::DragValue::new(&mut cells).range(64..=1024).speed(8).suffix(" cells")).changed() {
                self.settings.mesh_resolution = Some(cells);
            }
            let mut capped = self.settings.triangles.is_some();
            ui.checkbox(&mut capped, "at most");
            let mut n = self.settings.triangles.unwrap_or(DEFAULT_BUDGET);
            let count = egui::DragValue::new(&mut n).range(MIN_TRIANGLES..=50_000_000).speed(1000).suffix(" triangles");
            ui.add_enabled(capped, count);
            self.settings.triangles = capped.then_some(n);
        });
    }

    /// The mesh settings chosen here, over those `cfg` trained with.
    pub fn mesh_settings(&self, cfg: &mut TrainConfig) {
        cfg.mesh_resolution = self.settings.mesh_resolution.unwrap_or(cfg.mesh_resolution);
        cfg.triangles = self.settings.triangles;
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) -> Action {
        let mut action = Action::None;
        ui.heading("Training");
        let (label, note) = self.backend.clone().unwrap_or_else(|| ("chosen when training starts".into(), None));
        ui.label(RichText::new(format!("backend: {label}")).small().weak()).on_hover_text(note.unwrap_or_default());
        let running = self.is_running();
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal(|ui| {
                ui.label("Preset");
                for (p, name) in [(Preset::Fast, "fast"), (Preset::Quality, "quality")] {
                    if ui.selectable_label(self.settings.preset == p, name).clicked() {
                        self.settings.preset = p;
                        self.iterations = TrainConfig::preset(p).iterations;
                    }
                }
            });
            ui.horizontal(|ui| {
                ui.label("Steps");
                ui.add(egui::DragValue::new(&mut self.iterations).range(1..=200_000).speed(50));
            });
            let mut auto_masks = !self.settings.no_auto_masks;
            ui.checkbox(&mut auto_masks, "Auto masks").on_hover_text(
                "When the photos show a plain black or white backdrop, the backdrop the border reaches is \
                 masked as empty, so it is not baked into the surface.",
            );
            self.settings.no_auto_masks = !auto_masks;
            ui.horizontal(|ui| {
                ui.label("Unseen surface").on_hover_text(
                    "Surface that no photo showed: auto drops it for forward-facing captures and rooms \
                     (their back and sides are guesses) and, for objects, drops it and caps the holes \
                     (close), so an underside no photo saw closes flat.",
                );
                for (u, name) in [
                    (None, "auto"),
                    (Some(Unseen::Keep), "keep"),
                    (Some(Unseen::Drop), "drop"),
                    (Some(Unseen::Close), "close"),
                ] {
                    if ui.selectable_label(self.settings.unseen == u, name).clicked() {
                        self.settings.unseen = u;
                    }
                }
            });
            auto_on_off(
                ui,
                "Background",
                "A field for what lies beyond the scene (sky, far walls): auto leaves it out for rooms, \
                 whose walls lie inside the scene's bounds, and keeps it otherwise.",
                &mut self.settings.background,
            );
            auto_on_off(
                ui,
                "Stereo prior",
                "Depth maps from multi-view stereo (PatchMatch) guide the surface where the photos are \
                 textured: auto uses them for rooms, whose flat walls photos alone leave a fog.",
                &mut self.settings.stereo,
            );
        });
        self.mesh_ui(ui);
        if let Some(run) = &mut self.run {
            let step = run.history.last().map_or(0, |s| s.step);
            let frac = step as f32 / run.total.max(1) as f32;
            let elapsed = run.took.unwrap_or_else(|| run.started.elapsed().as_secs_f32());
            let eta = if step > 0 && !run.finished { elapsed / step as f32 * (run.total - step) as f32 } else { 0.0 };
            let text = if run.finished {
                format!("{step} steps in {elapsed:.0} s")
            } else {
                format!("{step}/{} · ETA {}", run.total, clock(eta))
            };
            ui.add(egui::ProgressBar::new(frac).text(text));
            if let Some((round, done, total)) = run.stereo.filter(|_| !run.finished) {
                ui.label(format!("Multi-view stereo, round {round}, from the surface so far"));
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(format!("{done}/{total} photos")),
                );
            }
            if !run.finished {
                ui.horizontal(|ui| {
                    if run.paused {
                        if ui.button("Resume").clicked() {
                            run.session.iter().for_each(|s| s.send(Command::Resume));
                            run.paused = false;
                        }
                    } else if ui.button("Pause").clicked() {
                        run.session.iter().for_each(|s| s.send(Command::Pause));
                        run.paused = true;
                    }
                    if ui.button("Stop").clicked() {
                        run.session.iter().for_each(|s| s.send(Command::Stop));
                    }
                });
            }
            if run.rollbacks > 0 {
                ui.label(
                    RichText::new(format!("{} rollbacks (see the notices)", run.rollbacks))
                        .color(Color32::from_rgb(235, 190, 70)),
                );
            }
            if let Some(last) = run.history.last() {
                ui.label(format!(
                    "loss {:.4} · PSNR {:.2} dB · s {:.0} · {:.0} samples/ray",
                    last.loss, last.psnr, last.inv_s, last.samples_per_ray
                ));
            }
            let h = &run.history;
            series_plot(ui, "loss (log10)", h, |s| (s.loss.max(1e-6) as f64).log10(), Color32::from_rgb(242, 160, 60));
            series_plot(ui, "PSNR (dB)", h, |s| s.psnr as f64, Color32::from_rgb(110, 190, 250));
            series_plot(ui, "learning rate", h, |s| s.lr as f64, Color32::from_rgb(150, 220, 140));
        }
        if !running {
            ui.horizontal(|ui| {
                if ui.button(if self.run.is_some() { "Train again" } else { "Train" }).clicked() {
                    action = Action::Start(self.iterations);
                }
                if self.finished.is_some() {
                    use super::loader::Export;
                    if ui.button("Save results…").on_hover_text("Mesh, poses, test renders, checkpoint").clicked() {
                        action = Action::Export(Export::Results);
                    }
                    if ui.button("Export mesh…").clicked() {
                        action = Action::Export(Export::Mesh);
                    }
                    if ui.button("Export poses…").clicked() {
                        action = Action::Export(Export::Poses);
                    }
                }
            });
        }
        action
    }
}

pub fn clock(seconds: f32) -> String {
    let s = seconds.max(0.0) as u32;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A live plot of one series over the training steps.
fn series_plot(ui: &mut egui::Ui, title: &str, history: &[StepStats], value: fn(&StepStats) -> f64, color: Color32) {
    ui.label(RichText::new(title).small().weak());
    // Plotting every step of a long run costs more than it shows: keep at most ~1000 points.
    let stride = history.len().div_ceil(1000).max(1);
    let points: Vec<[f64; 2]> = history.iter().step_by(stride).map(|s| [s.step as f64, value(s)]).collect();
    egui_plot::Plot::new(title)
        .height(70.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show_x(true)
        .show_y(true)
        .y_axis_min_width(36.0)
        .show(ui, |plot| plot.line(egui_plot::Line::new(title, points).color(color).width(1.5)));
}

/// A setting that follows the scene's layout unless turned on or off.
fn auto_on_off(ui: &mut egui::Ui, label: &str, hover: &str, value: &mut Option<bool>) {
    ui.horizontal(|ui| {
        ui.label(label).on_hover_text(hover);
        for (b, name) in [(None, "auto"), (Some(true), "on"), (Some(false), "off")] {
            if ui.selectable_label(*value == b, name).clicked() {
                *value = b;
            }
        }
    });
}
