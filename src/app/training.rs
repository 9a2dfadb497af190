//! The training panel: start, pause, resume, stop; progress with ETA; live loss and PSNR.

use crate::io::Dataset;
use crate::train::session::{Command, Event, Session};
use crate::train::{Preset, StepStats, TrainConfig, Trainer};
use egui::{Color32, RichText};
use std::sync::Arc;
use std::time::Instant;

pub struct TrainingPanel {
    pub preset: Preset,
    pub iterations: u32,
    run: Option<Run>,
    /// The trainer of the last finished run, kept for saving its results.
    pub finished: Option<Trainer>,
}

struct Run {
    /// Taken (and joined) when training ends.
    session: Option<Session>,
    history: Vec<StepStats>,
    started: Instant,
    total: u32,
    paused: bool,
    finished: bool,
    rollbacks: u32,
}

pub enum Action {
    None,
    /// Load the photos and train for this many steps with the chosen preset.
    Start(u32),
    SaveResults,
}

impl Default for TrainingPanel {
    fn default() -> Self {
        Self {
            preset: Preset::Fast,
            iterations: TrainConfig::preset(Preset::Fast).iterations,
            run: None,
            finished: None,
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

    pub fn start(&mut self, trainer: Trainer, wake: Arc<dyn Fn() + Send + Sync>) {
        self.finished = None;
        let total = trainer.cfg.iterations;
        self.run = Some(Run {
            session: Some(Session::start(trainer, wake)),
            history: Vec::new(),
            started: Instant::now(),
            total,
            paused: false,
            finished: false,
            rollbacks: 0,
        });
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
                Event::RolledBack { failed_step, restored_step } => {
                    run.rollbacks += 1;
                    notes.push(format!(
                        "Training hit a non-finite loss at step {failed_step}: rolled back to step {restored_step} with a lower learning rate"
                    ));
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
            self.finished = run.session.take().and_then(Session::join);
        }
        notes
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, ds: &Dataset) -> Action {
        let mut action = Action::None;
        ui.heading("Training");
        if !ds.has_poses() {
            ui.label(RichText::new("Needs camera poses (COLMAP or transforms.json).").weak());
            return action;
        }
        let running = self.is_running();
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal(|ui| {
                ui.label("Preset");
                for (p, name) in [(Preset::Fast, "fast"), (Preset::Quality, "quality")] {
                    if ui.selectable_label(self.preset == p, name).clicked() {
                        self.preset = p;
                        self.iterations = TrainConfig::preset(p).iterations;
                    }
                }
            });
            ui.horizontal(|ui| {
                ui.label("Steps");
                ui.add(egui::DragValue::new(&mut self.iterations).range(10..=200_000).speed(50));
            });
        });
        if let Some(run) = &mut self.run {
            let step = run.history.last().map_or(0, |s| s.step);
            let frac = step as f32 / run.total.max(1) as f32;
            let elapsed = run.started.elapsed().as_secs_f32();
            let eta = if step > 0 && !run.finished { elapsed / step as f32 * (run.total - step) as f32 } else { 0.0 };
            let text = if run.finished {
                format!("{step} steps in {elapsed:.0} s")
            } else {
                format!("{step}/{} · ETA {}", run.total, clock(eta))
            };
            ui.add(egui::ProgressBar::new(frac).text(text));
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
                    RichText::new(format!("{} rollbacks after non-finite losses", run.rollbacks))
                        .color(Color32::from_rgb(235, 190, 70)),
                );
            }
            if let Some(last) = run.history.last() {
                ui.label(format!(
                    "loss {:.4} · PSNR {:.2} dB · s {:.0} · {:.0} samples/ray",
                    last.loss, last.psnr, last.inv_s, last.samples_per_ray
                ));
            }
            let loss: Vec<f32> = run.history.iter().map(|s| s.loss.max(1e-6).log10()).collect();
            let psnr: Vec<f32> = run.history.iter().map(|s| s.psnr).collect();
            sparkline(ui, "loss (log10)", &loss, Color32::from_rgb(242, 160, 60));
            sparkline(ui, "PSNR (dB)", &psnr, Color32::from_rgb(110, 190, 250));
        }
        if !running {
            ui.horizontal(|ui| {
                if ui.button(if self.run.is_some() { "Train again" } else { "Train" }).clicked() {
                    action = Action::Start(self.iterations);
                }
                if self.finished.is_some() && ui.button("Save results…").clicked() {
                    action = Action::SaveResults;
                }
            });
        }
        action
    }
}

fn clock(seconds: f32) -> String {
    let s = seconds.max(0.0) as u32;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A minimal line plot of a series, with its range.
fn sparkline(ui: &mut egui::Ui, label: &str, values: &[f32], color: Color32) {
    let width = ui.available_width().min(280.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 56.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3.0, Color32::from_gray(22));
    painter.text(
        rect.left_top() + egui::vec2(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        label,
        egui::FontId::proportional(10.0),
        Color32::from_gray(150),
    );
    if values.len() < 2 {
        return;
    }
    let (lo, hi) = values.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(1e-6);
    let n = values.len();
    let stride = n.div_ceil(400).max(1);
    let points: Vec<egui::Pos2> = values
        .iter()
        .enumerate()
        .step_by(stride)
        .map(|(i, &v)| {
            egui::pos2(
                rect.left() + 4.0 + (rect.width() - 8.0) * i as f32 / (n - 1) as f32,
                rect.bottom() - 4.0 - (rect.height() - 18.0) * (v - lo) / span,
            )
        })
        .collect();
    painter.add(egui::Shape::line(points, egui::Stroke::new(1.5, color)));
    painter.text(
        rect.right_top() + egui::vec2(-4.0, 2.0),
        egui::Align2::RIGHT_TOP,
        format!("{hi:.2}"),
        egui::FontId::proportional(10.0),
        Color32::from_gray(150),
    );
    painter.text(
        rect.right_bottom() + egui::vec2(-4.0, -2.0),
        egui::Align2::RIGHT_BOTTOM,
        format!("{lo:.2}"),
        egui::FontId::proportional(10.0),
        Color32::from_gray(150),
    );
}
