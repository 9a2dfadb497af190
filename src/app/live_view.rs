//! The live view of the reconstruction: uploads each new training snapshot to the viewport's
//! field, chooses the field image's resolution so the window stays responsive (coarse while
//! the camera moves, refined when it stops, scaled to what this adapter manages), and offers
//! the view modes.

use crate::field::Field;
use crate::train::session::Snapshot;
use crate::view::{FieldData, FieldStyle, Overlay, Renderer, ViewMode};
use egui::RichText;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Field image resolutions, as fractions of the viewport's.
const SCALES: [f32; 8] = [1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.125, 0.09];
/// Time a field image may take while the camera moves (what keeps the window at 30 frames/s
/// or more with its UI, as instant-ngp's dynamic resolution does), and once it stands still.
const MOVING_BUDGET_MS: f32 = 25.0;
const STILL_BUDGET_MS: f32 = 1500.0;
/// The camera counts as moving for this long after the last interaction.
const SETTLE: Duration = Duration::from_millis(250);

pub struct LiveView {
    /// None: cameras only.
    pub mode: Option<ViewMode>,
    pub style: FieldStyle,
    uploaded_step: Option<u32>,
    field: Option<Field>,
    moved_at: Option<Instant>,
    /// Per mode, measured milliseconds per million field pixels.
    cost: [f32; 3],
    scale: f32,
    /// Whether the scale must be chosen again (motion started or stopped, a new field).
    rescale: bool,
    was_moving: bool,
    pub field_ms: f32,
    pub step: Option<u32>,
}

impl Default for LiveView {
    fn default() -> Self {
        LiveView {
            mode: None,
            style: FieldStyle::default(),
            uploaded_step: None,
            field: None,
            moved_at: None,
            // A guess until measured: software rendering of the heavier modes.
            cost: [400.0, 4000.0, 100.0],
            scale: 0.5,
            rescale: true,
            was_moving: false,
            field_ms: 0.0,
            step: None,
        }
    }
}

fn mode_index(m: ViewMode) -> usize {
    ViewMode::ALL.iter().position(|&x| x == m).unwrap_or(0)
}

impl LiveView {
    /// Forgets the field (another folder was opened).
    pub fn reset(&mut self) {
        *self = LiveView { cost: self.cost, ..LiveView::default() };
    }

    /// Uploads `snapshot` when it is newer than what is shown; returns whether it did.
    pub fn poll(
        &mut self,
        snapshot: Option<Arc<Snapshot>>,
        renderer: &mut Renderer,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<bool, crate::view::Error> {
        let Some(s) = snapshot else { return Ok(false) };
        if self.uploaded_step == Some(s.step) {
            return Ok(false);
        }
        if self.field.as_ref().is_none_or(|f| f.cfg != s.field) {
            self.field = Some(Field::new(s.field.clone()));
        }
        let field = self.field.as_ref().expect("just set");
        let data = FieldData::new(field, &s.params, &s.occupancy, &s.settings)?;
        renderer.field.set_field(device, queue, &data, s.norm);
        let moved = s
            .poses
            .iter()
            .zip(renderer.initial_poses())
            .any(|(a, b)| a.rotation_angle_to(&b) > 1e-6 || (a.center - b.center).length() > 1e-9 * s.norm.scale);
        renderer.set_overlay(
            device,
            Overlay {
                errors: Some(s.view_errors.clone()),
                refined: moved.then(|| s.poses.clone()),
                bounds: Some((glam::DVec3::from(s.norm.center), s.norm.scale)),
            },
        );
        // The first snapshot switches from cameras to the surface: what the user wants to watch.
        if self.uploaded_step.is_none() && self.mode.is_none() {
            self.mode = Some(self.style.mode);
        }
        self.uploaded_step = Some(s.step);
        self.step = Some(s.step);
        self.rescale = true;
        Ok(true)
    }

    /// The user moved the camera.
    pub fn moved(&mut self) {
        self.moved_at = Some(Instant::now());
    }

    pub fn is_moving(&self) -> bool {
        self.moved_at.is_some_and(|t| t.elapsed() < SETTLE)
    }

    /// The style to draw (None: cameras only) and the field's resolution scale for a viewport
    /// of `pixels`.
    pub fn frame(&mut self, pixels: u32) -> (Option<FieldStyle>, f32) {
        let Some(mode) = self.mode else { return (None, 1.0) };
        let moving = self.is_moving();
        if moving != self.was_moving {
            self.was_moving = moving;
            self.rescale = true;
        }
        if self.rescale {
            let budget = if moving { MOVING_BUDGET_MS } else { STILL_BUDGET_MS };
            let full_ms = self.cost[mode_index(mode)] * pixels as f32 / 1e6;
            let wanted = (budget / full_ms.max(1e-3)).sqrt();
            self.scale = SCALES.iter().copied().find(|&s| s <= wanted).unwrap_or(SCALES[SCALES.len() - 1]);
            self.rescale = false;
        }
        (Some(FieldStyle { mode, ..self.style }), self.scale)
    }

    /// A field image of `pixels` took `elapsed`: refines the cost estimate of its mode.
    pub fn drew(&mut self, elapsed: Duration, pixels: u32) {
        let Some(mode) = self.mode else { return };
        let ms = elapsed.as_secs_f32() * 1e3;
        self.field_ms = ms;
        let c = &mut self.cost[mode_index(mode)];
        *c = 0.5 * *c + 0.5 * ms / (pixels.max(1) as f32 / 1e6);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("View");
        let before = (self.mode, self.style);
        let has_field = self.uploaded_step.is_some();
        egui::Grid::new("view modes").num_columns(2).spacing([6.0, 4.0]).show(ui, |ui| {
            let choices = [None].into_iter().chain(ViewMode::ALL.map(Some));
            for (i, m) in choices.enumerate() {
                let label = m.map_or("Cameras", ViewMode::label);
                ui.add_enabled_ui(has_field || m.is_none(), |ui| {
                    ui.selectable_value(&mut self.mode, m, label)
                        .on_disabled_hover_text("Train to see the reconstruction");
                });
                if i % 2 == 1 {
                    ui.end_row();
                }
            }
        });
        match self.mode {
            Some(ViewMode::Sdf) => {
                ui.checkbox(&mut self.style.color, "Colour from the radiance field");
            }
            Some(ViewMode::Slice) => {
                ui.horizontal(|ui| {
                    ui.label("Plane normal");
                    for (a, name) in ["x", "y", "z"].iter().enumerate() {
                        ui.selectable_value(&mut self.style.slice_axis, a, *name);
                    }
                });
                ui.add(egui::Slider::new(&mut self.style.slice_offset, -1.0..=1.0).text("offset"));
            }
            _ => {}
        }
        if let Some(m) = self.mode {
            self.style.mode = m;
            ui.label(
                RichText::new(format!(
                    "field {:.0}% resolution · {:.0} ms{}",
                    self.scale * 100.0,
                    self.field_ms,
                    self.step.map(|s| format!(" · step {s}")).unwrap_or_default()
                ))
                .small()
                .weak(),
            );
        }
        if (self.mode, self.style) != before {
            self.rescale = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With a measured cost, a moving camera gets the largest resolution that fits the moving
    /// budget, and a still one the full resolution when that fits the still budget.
    #[test]
    fn resolution_follows_the_frame_budget() {
        let mut v = LiveView { mode: Some(ViewMode::Sdf), ..Default::default() };
        let pixels = 1280 * 720;
        // A GPU that draws the full image in 60 ms.
        for _ in 0..30 {
            v.drew(Duration::from_millis(60), pixels);
        }
        v.moved();
        let (_, moving) = v.frame(pixels);
        let ms = |scale: f32| 60.0 * scale * scale;
        assert!(ms(moving) <= MOVING_BUDGET_MS, "moving: scale {moving} takes {} ms", ms(moving));
        let larger = SCALES.iter().copied().filter(|&s| s > moving).fold(f32::MAX, f32::min);
        assert!(ms(larger) > MOVING_BUDGET_MS, "scale {larger} would also have fitted");
        v.moved_at = None;
        let (_, still) = v.frame(pixels);
        assert_eq!(still, 1.0);
    }
}
