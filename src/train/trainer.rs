//! The training loop's state and one step of it.

use super::config::TrainConfig;
use crate::backend::{self, Backend, BackendError, Batch, BatchSums, Choice, FIELD_GROUPS, Model, Queries};
use crate::field::{Field, FieldConfig, GROUPS, Occupancy, POSE_GROUP, Params};
use crate::geometry::rig::{self, Layout};
use crate::geometry::{Camera, Pose};
use crate::mesh::Silhouette;
use crate::nn::adam::Adam;
use crate::render::poses;
use crate::render::views::{Normalization, TrainView};
use crate::render::{self, RenderSettings};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;

/// What one step did, for the progress bar, plots and metrics.json.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct StepStats {
    pub step: u32,
    pub loss: f32,
    /// PSNR of the batch's colours (dB), a running estimate of the training fit.
    pub psnr: f32,
    pub lr: f32,
    pub samples_per_ray: f32,
    pub inv_s: f32,
    pub occupancy: f32,
}

/// A step that could not be taken: the state went back to `restored_step`. `why` says what
/// happened and what was done, for the user.
#[derive(Clone, Debug)]
pub struct Rollback {
    pub failed_step: u32,
    pub restored_step: u32,
    pub why: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Optimizer {
    pub groups: [Adam; GROUPS],
    pub variance: Adam,
}

pub struct Trainer {
    pub cfg: TrainConfig,
    pub layout: Layout,
    pub norm: Normalization,
    pub field: Field,
    pub params: Params,
    pub optimizer: Optimizer,
    pub occupancy: Occupancy,
    pub step: u32,
    /// Multiplies the learning rate; halved at every rollback.
    pub lr_scale: f32,
    pub views: Vec<TrainView>,
    /// The training cameras a checkpoint recorded, for a trainer loaded without its views
    /// (exporting a mesh needs to know what the photos saw).
    pub recorded_cameras: Vec<Camera>,
    /// And their photos' silhouettes, where the photos had masks ([`Trainer::silhouettes`]).
    pub recorded_silhouettes: Vec<Option<Silhouette>>,
    /// How many views had their backdrop masked ([`super::backdrop`]).
    pub backdrop_masked: usize,
    /// What the multi-view stereo prior found, when training uses one.
    pub depth_prior: Option<super::depth_prior::DepthPriorStats>,
    /// Per view, a running mean of its rays' squared colour error (frusta are coloured by it).
    pub view_errors: Vec<f32>,
    /// Per view, its camera ([`poses::cameras_of`]): the views of one share a focal length.
    camera_of: Vec<usize>,
    /// When poses are refined, the views whose poses train; None: every view's, and the
    /// cameras' focal lengths. Set where photos found anew refine against fixed ones.
    pub refining: Option<Vec<bool>>,
    /// The backend asked for, to start again when the views change.
    choice: Choice,
    /// Workers a batch's rays are split between (the same split on every backend).
    parts: usize,
    last_good: (u32, Params),
    /// Where training computes; the host's `params` are brought up to date from it by
    /// [`Trainer::sync`].
    backend: Box<dyn Backend>,
}

/// Keeps the items whose index `keep` says yes to.
fn retain_indexed<T>(items: &mut Vec<T>, keep: impl Fn(usize) -> bool) {
    let mut i = 0;
    items.retain(|_| {
        i += 1;
        keep(i - 1)
    });
}

/// Steps between the states a failure rolls back to (the host's copy is checked then).
const GOOD_STATE_INTERVAL: u32 = 100;

impl Trainer {
    pub fn new(cfg: TrainConfig, views: Vec<TrainView>) -> Trainer {
        Self::with_progress(cfg, views, &|_| {}, &AtomicBool::new(false)).expect("nothing cancels it")
    }

    /// As `new`; `stereo_progress` hears how many photos multi-view stereo has matched, when
    /// training uses its depth prior. None when `cancel` was set while stereo ran.
    pub fn with_progress(
        cfg: TrainConfig,
        views: Vec<TrainView>,
        stereo_progress: &(dyn Fn(usize) + Sync),
        cancel: &AtomicBool,
    ) -> Option<Trainer> {
        let poses: Vec<_> = views.iter().map(|v| v.pose).collect();
        let layout = cfg.layout.unwrap_or_else(|| rig::detect_layout(&poses));
        // The median of the views' nearest depths, when the input gives them.
        let mut nears: Vec<f64> = views.iter().filter_map(|v| v.depth_range.map(|r| r.0)).collect();
        nears.sort_by(f64::total_cmp);
        let norm = Normalization::of(&poses, layout, nears.get(nears.len() / 2).copied());
        let field = Field::new(FieldConfig {
            grid: cfg.grid,
            hidden: cfg.hidden,
            orientation: if layout == Layout::Room { -1.0 } else { 1.0 },
            init_radius: if layout == Layout::Room { 0.9 } else { 0.5 },
            background: cfg.background.unwrap_or_else(|| super::config::background_for_layout(layout)),
            view_degree: cfg.view_degree.unwrap_or_else(|| super::config::view_degree_for_layout(layout)),
        });
        let mut params = field.init_params(cfg.seed);
        params.poses = vec![0.0; poses::PER_VIEW * views.len()];
        let mut t = Self::from_state(cfg, layout, norm, field, params, None, None, 0, views);
        if !t.attach_depth_prior(stereo_progress, cancel) {
            return None;
        }
        t.update_occupancy().expect("a new trainer computes on the CPU, which does not fail");
        Some(t)
    }

    /// Whether training uses the multi-view stereo depth prior (by layout unless set).
    pub fn uses_depth_prior(&self) -> bool {
        !self.views.is_empty()
            && self.cfg.depth_prior.unwrap_or_else(|| super::config::depth_prior_for_layout(self.layout))
    }

    /// Computes the stereo depth prior of the views when training uses one; false when
    /// `cancel` was set while it ran.
    pub fn attach_depth_prior(&mut self, progress: &(dyn Fn(usize) + Sync), cancel: &AtomicBool) -> bool {
        if self.uses_depth_prior() {
            let Some(stats) = super::depth_prior::attach(&mut self.views, &self.norm, progress, cancel) else {
                return false;
            };
            self.depth_prior = Some(stats);
        }
        true
    }

    /// What the user should know about masked backdrops, if any were.
    pub fn backdrop_note(&self) -> Option<String> {
        (self.backdrop_masked > 0).then(|| {
            format!(
                "The plain backdrop of {} of {} photos is masked as empty (training option: auto masks).",
                self.backdrop_masked,
                self.views.len()
            )
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn from_state(
        cfg: TrainConfig,
        layout: Layout,
        norm: Normalization,
        field: Field,
        params: Params,
        optimizer: Option<Optimizer>,
        occupancy: Option<Occupancy>,
        step: u32,
        views: Vec<TrainView>,
    ) -> Trainer {
        let mut params = params;
        let mut optimizer = optimizer;
        let mut views = views;
        let backdrop_masked = if cfg.auto_masks { super::backdrop::mask_views(&mut views) } else { 0 };
        // Corrections belong to the views they were trained with; resuming on another set of
        // views starts them afresh.
        if !views.is_empty() && params.poses.len() != poses::PER_VIEW * views.len() {
            params.poses = vec![0.0; poses::PER_VIEW * views.len()];
            if let Some(o) = optimizer.as_mut() {
                o.groups[POSE_GROUP] = Adam::new(params.poses.len());
            }
        }
        let optimizer = optimizer.unwrap_or_else(|| Optimizer {
            groups: params.arrays().map(|a| Adam::new(a.len())),
            variance: Adam::new(1),
        });
        Trainer {
            occupancy: occupancy.unwrap_or_else(|| Occupancy::full(cfg.occupancy_resolution)),
            parts: rayon::current_num_threads().max(1),
            last_good: (step, params.clone()),
            cfg,
            layout,
            norm,
            field,
            params,
            optimizer,
            step,
            lr_scale: 1.0,
            view_errors: vec![0.0; views.len()],
            camera_of: poses::cameras_of(&views),
            refining: None,
            choice: Choice::Cpu,
            views,
            recorded_cameras: Vec::new(),
            recorded_silhouettes: Vec::new(),
            backdrop_masked,
            depth_prior: None,
            backend: Box::new(backend::Cpu::default()),
        }
    }

    pub fn active_levels(&self) -> usize {
        let extra = (self.step / self.cfg.level_interval.max(1)) as usize;
        (self.cfg.initial_levels + extra).min(self.cfg.grid.levels)
    }

    pub fn learning_rate(&self) -> f32 {
        self.cfg.lr * self.schedule()
    }

    /// Warm-up, exponential decay and the rollbacks' reductions, shared by all groups.
    pub(super) fn schedule(&self) -> f32 {
        let c = &self.cfg;
        let warm = ((self.step + 1) as f32 / c.warmup.max(1) as f32).min(1.0);
        let decay = c.final_lr_fraction.powf(self.step as f32 / c.iterations.max(1) as f32);
        warm * decay * self.lr_scale
    }

    /// The training views' poses with their current corrections, in the input frame.
    pub fn refined_poses(&self) -> Vec<Pose> {
        self.views.iter().enumerate().map(|(i, v)| poses::refined(&v.pose, &self.norm, self.correction(i))).collect()
    }

    /// Per training view, its refined camera at its training size.
    pub fn refined_intrinsics(&self) -> Vec<crate::geometry::Intrinsics> {
        self.views.iter().zip(self.focal_scales()).map(|(v, s)| poses::with_focal_scale(&v.intrinsics, s)).collect()
    }

    /// Per training view, how much training scaled its focal length.
    pub fn focal_scales(&self) -> Vec<f64> {
        (0..self.views.len()).map(|i| poses::focal_scale(self.correction(i))).collect()
    }

    fn correction(&self, i: usize) -> &[f32] {
        &self.params.poses[i * poses::PER_VIEW..(i + 1) * poses::PER_VIEW]
    }

    /// Sets training view `i`'s pose outright (as its correction, which both backends read
    /// each step), its pose moments started afresh: a pose found anew, not a refinement. Its
    /// focal length stays its camera's.
    pub fn set_pose(&mut self, i: usize, pose: &Pose) {
        let range = i * poses::PER_VIEW..i * poses::PER_VIEW + poses::POSE_DOF;
        self.params.poses[range.clone()].copy_from_slice(&poses::correction_to(&self.views[i].pose, &self.norm, pose));
        let adam = &mut self.optimizer.groups[POSE_GROUP];
        adam.m[range.clone()].fill(0.0);
        adam.v[range.clone()].fill(0.0);
        // A rollback keeps the pose found, not the one it replaced.
        self.last_good.1.poses[range.clone()].copy_from_slice(&self.params.poses[range]);
    }

    /// Adds `views` to training at their poses (corrections of zero, refining when poses
    /// refine); their backdrops are masked as the others' were. The backend starts again on
    /// all views (or the CPU, when the device fails).
    pub fn add_views(&mut self, mut views: Vec<TrainView>) {
        let _ = self.sync();
        if self.backdrop_masked > 0 {
            self.backdrop_masked += super::backdrop::mask_views(&mut views);
        }
        self.views.extend(views);
        self.resize_views();
        if let Some(r) = &mut self.refining {
            r.resize(self.views.len(), true);
        }
        self.restart_backend();
    }

    /// Drops the views `keep` says no to, with their corrections; the backend starts again.
    pub fn retain_views(&mut self, keep: &[bool]) {
        let _ = self.sync();
        let kept = |v: usize| keep.get(v).copied().unwrap_or(true);
        let per = |a: &[f32]| -> Vec<f32> {
            a.chunks(poses::PER_VIEW).enumerate().filter(|(v, _)| kept(*v)).flat_map(|(_, c)| c.to_vec()).collect()
        };
        self.params.poses = per(&self.params.poses);
        self.last_good.1.poses = per(&self.last_good.1.poses);
        let adam = &mut self.optimizer.groups[POSE_GROUP];
        (adam.m, adam.v) = (per(&adam.m), per(&adam.v));
        retain_indexed(&mut self.views, kept);
        retain_indexed(&mut self.view_errors, kept);
        if let Some(r) = &mut self.refining {
            retain_indexed(r, kept);
        }
        self.resize_views();
        self.restart_backend();
    }

    /// The per-view state sized to the views (new views: no correction, no error yet).
    fn resize_views(&mut self) {
        let n = self.views.len() * poses::PER_VIEW;
        self.params.poses.resize(n, 0.0);
        self.last_good.1.poses.resize(n, 0.0);
        let adam = &mut self.optimizer.groups[POSE_GROUP];
        adam.m.resize(n, 0.0);
        adam.v.resize(n, 0.0);
        self.view_errors.resize(self.views.len(), 0.0);
        self.camera_of = poses::cameras_of(&self.views);
    }

    /// The backend chosen last, started again on the current views; the CPU if it fails.
    fn restart_backend(&mut self) {
        if self.choice != Choice::Cpu && self.choose_backend(self.choice).is_err() {
            self.backend = Box::new(backend::Cpu::default());
        }
    }

    /// The training cameras with their refined poses, in the input frame; those the
    /// checkpoint recorded when the trainer has no views.
    pub fn cameras(&self) -> Vec<Camera> {
        if self.views.is_empty() {
            return self.recorded_cameras.clone();
        }
        self.refined_intrinsics()
            .into_iter()
            .zip(self.refined_poses())
            .map(|(intrinsics, pose)| Camera { intrinsics, pose })
            .collect()
    }

    /// Per camera ([`Trainer::cameras`]), where its photo shows background, for the photos
    /// with masks (or alpha, or a masked backdrop): what bounds the mesh to the visual hull.
    pub fn silhouettes(&self) -> Vec<Option<Silhouette>> {
        if self.views.is_empty() {
            return self.recorded_silhouettes.clone();
        }
        self.views.iter().map(|v| Silhouette::from_mask(v.width(), v.height(), v.mask.as_deref()?)).collect()
    }

    /// Rendering settings at the current step (rendering views uses them too).
    pub fn render_settings(&self) -> RenderSettings {
        let active = self.active_levels();
        // Finite differences at the finest active cell size: coarse early, fine later.
        let finest = self.cfg.grid.resolution(active.saturating_sub(1));
        RenderSettings {
            step: self.cfg.march_step,
            max_samples: self.cfg.max_samples,
            active_levels: active,
            fd_h: (2.0 / finest).max(1e-3) * 0.5,
            anneal: (self.step as f32 / self.cfg.anneal_steps.max(1) as f32).min(1.0),
            eikonal_weight: self.cfg.eikonal_weight,
            mask_weight: self.cfg.mask_weight,
            huber_delta: self.cfg.huber_delta,
            far_weight: self.cfg.far_weight,
            depth_weight: self.cfg.depth_weight,
            ray_grads: self.cfg.refine_poses,
        }
    }

    /// Puts training on the backend `choice` asks for. Returns a label for the UI and, when
    /// `Auto` fell back to the CPU, why (to say once).
    pub fn choose_backend(&mut self, choice: Choice) -> Result<(String, Option<String>), BackendError> {
        let run = backend::Run {
            model: self.model(),
            moments: &self.optimizer.groups[..FIELD_GROUPS],
            views: &self.views,
            norm: &self.norm,
            rays: self.batch_rays(),
            max_samples: self.cfg.max_samples,
        };
        let (backend, note) = backend::create(choice, &run)?;
        self.backend = backend;
        self.choice = choice;
        Ok((self.backend_label(), note))
    }

    pub fn backend_label(&self) -> String {
        self.backend.label()
    }

    /// Seconds spent so far in the backend's batch kernels, transfers included (0 on the CPU).
    pub fn kernel_seconds(&self) -> f64 {
        self.backend.kernel_seconds()
    }

    fn model(&self) -> Model<'_> {
        Model { field: &self.field, params: &self.params, occupancy: &self.occupancy }
    }

    /// The trained field as meshing and rendering query it.
    pub fn queries(&self) -> Queries<'_> {
        Queries {
            backend: &*self.backend,
            model: self.model(),
            active: self.active_levels(),
            fd_h: self.render_settings().fd_h,
        }
    }

    /// One optimisation step; Err when it had to roll back.
    pub fn step(&mut self) -> Result<StepStats, Rollback> {
        match self.try_step() {
            Ok(r) => r,
            Err(e) => Err(self.fail_over(&e)),
        }
    }

    fn try_step(&mut self) -> Result<Result<StepStats, Rollback>, BackendError> {
        let settings = self.render_settings();
        let refine = self.cfg.refine_poses;
        let batch = Batch {
            rays: self.batch_rays(),
            parts: self.parts,
            seed: self.cfg.seed ^ ((self.step as u64) << 20),
            settings: &settings,
            refine,
        };
        let model = Model { field: &self.field, params: &self.params, occupancy: &self.occupancy };
        let mut sums = self.backend.train_batch(model, &self.views, &self.norm, &batch)?;
        let (loss, mse, samples) = self.record_batch(&sums, batch.rays as f64);
        let grads_finite =
            sums.grads_finite && sums.d_variance.is_finite() && sums.pose_grad.iter().all(|g| g.is_finite());
        if !loss.is_finite() || !grads_finite {
            return Ok(Err(self.roll_back()));
        }
        let lr = self.learning_rate();
        self.backend.optimizer_step(&mut self.params, &mut self.optimizer.groups[..FIELD_GROUPS], lr)?;
        let pose_lr = if refine && self.step >= self.cfg.pose_start { self.cfg.pose_lr * self.schedule() } else { 0.0 };
        if pose_lr > 0.0 {
            match &self.refining {
                None if self.cfg.refine_focal => poses::share_focal_gradient(&self.camera_of, &mut sums.pose_grad),
                None => poses::drop_focal_gradient(&mut sums.pose_grad),
                Some(which) => poses::keep_gradients_of(which, &mut sums.pose_grad),
            }
            self.optimizer.groups[POSE_GROUP].update(&mut self.params.poses, &sums.pose_grad, pose_lr);
        }
        let mut v = [self.params.variance];
        self.optimizer.variance.update(&mut v, &[sums.d_variance], lr);
        self.params.variance = v[0];
        if !self.backend.params_finite(&self.params) {
            return Ok(Err(self.roll_back()));
        }
        self.step += 1;
        if self.step.is_multiple_of(self.cfg.occupancy_interval) {
            self.update_occupancy()?;
        }
        if self.step.is_multiple_of(GOOD_STATE_INTERVAL) {
            self.read_back()?;
            if !self.params.is_finite() {
                return Ok(Err(self.roll_back()));
            }
            self.last_good = (self.step, self.params.clone());
        }
        Ok(Ok(self.stats(loss, mse, samples, lr)))
    }

    fn read_back(&mut self) -> Result<(), BackendError> {
        let moments = &mut self.optimizer.groups[..FIELD_GROUPS];
        self.backend.read_back(&mut self.params, moments, &mut self.occupancy)
    }

    /// The views' pixels (new stereo depths) to the backend.
    pub(super) fn upload_pixels(&mut self) -> Result<(), Rollback> {
        self.backend.upload_pixels(&self.views).map_err(|e| self.fail_over(&e))
    }

    /// Brings the host's copy of the parameters, moments and occupancy up to date with the
    /// backend's; Err when the device failed doing so (training went on on the CPU).
    pub fn sync(&mut self) -> Result<(), Rollback> {
        self.read_back().map_err(|e| self.fail_over(&e))
    }

    /// When the device fails mid-run (lost, out of memory): training goes on on the CPU from
    /// the last state read back and checked (at most `GOOD_STATE_INTERVAL` steps old), so no
    /// more than that is lost. The one place a run leaves a failed device.
    pub fn fail_over(&mut self, e: &BackendError) -> Rollback {
        let failed_step = self.step;
        let device = self.backend.label();
        self.backend = Box::new(backend::Cpu::default());
        // The moments and the latest occupancy grid stayed on the device.
        self.restore_last_good();
        self.update_occupancy().expect("the CPU backend does not fail");
        let why = format!("{device} failed at step {failed_step} ({e}): continuing on the CPU from step {}", self.step);
        Rollback { failed_step, restored_step: self.step, why }
    }

    /// Rays a step draws: `cfg.rays` rounded up to a whole number per worker (ray i is the
    /// same ray on both backends).
    fn batch_rays(&self) -> usize {
        self.cfg.rays.div_ceil(self.parts) * self.parts
    }

    /// Folds a batch's per-part sums into the per-view errors; returns the batch's mean loss,
    /// mean squared colour error and samples per ray.
    fn record_batch(&mut self, sums: &BatchSums, n: f64) -> (f64, f64, f64) {
        let loss = sums.loss / n;
        let mse = sums.sq / n;
        let samples = sums.samples as f64 / n;
        for (e, &(sum, count)) in self.view_errors.iter_mut().zip(&sums.per_view) {
            if count > 0 {
                let m = sum / count as f32;
                *e = if *e == 0.0 { m } else { 0.9 * *e + 0.1 * m };
            }
        }
        (loss, mse, samples)
    }

    fn stats(&self, loss: f64, mse: f64, samples: f64, lr: f32) -> StepStats {
        StepStats {
            step: self.step,
            loss: loss as f32,
            psnr: (-10.0 * mse.max(1e-10).log10()) as f32,
            lr,
            samples_per_ray: samples as f32,
            inv_s: Field::inv_s(&self.params),
            occupancy: self.backend.occupancy_fraction(&self.occupancy),
        }
    }

    fn roll_back(&mut self) -> Rollback {
        let failed_step = self.step;
        self.restore_last_good();
        self.lr_scale *= 0.5;
        if let Err(e) = self.backend.restore(&self.params) {
            return self.fail_over(&e);
        }
        let why = format!(
            "non-finite loss at step {failed_step}: rolled back to step {} and halved the learning rate",
            self.step
        );
        Rollback { failed_step, restored_step: self.step, why }
    }

    /// The last state checked good, with the optimiser started afresh (its moments belong to
    /// the steps being undone).
    fn restore_last_good(&mut self) {
        self.params = self.last_good.1.clone();
        self.step = self.last_good.0;
        self.optimizer.groups = self.params.arrays().map(|a| Adam::new(a.len()));
        self.optimizer.variance = Adam::new(1);
    }

    /// Whether training skips cells the surface is out of reach of. Not in rooms: their
    /// walls start as a fog, and as its sharpness rose, pruning cut the fog away before a
    /// surface formed; the field then collapsed to a sample or two per ray (docs/results.md,
    /// *Procedural room*).
    fn prunes_occupancy(&self) -> bool {
        self.layout != Layout::Room
    }

    /// Marks the cells whose centre is within reach of the surface: the SDF there is below a
    /// cell diagonal plus the width of NeuS's density. A field with no surface left anywhere
    /// gets every cell back (see `Occupancy::or_full`), and so do rooms (`prunes_occupancy`).
    fn update_occupancy(&mut self) -> Result<(), BackendError> {
        if !self.prunes_occupancy() {
            self.occupancy = Occupancy::full(self.occupancy.res);
            return Ok(());
        }
        let active = self.active_levels();
        let reach = self.occupancy.cell_size() * 3f32.sqrt() + 4.0 / Field::inv_s(&self.params);
        self.backend.update_occupancy(&self.field, &self.params, &mut self.occupancy, active, reach)
    }

    /// Renders a view of the current field (sRGB bytes), at that view's camera.
    pub fn render(&self, intrinsics: &crate::geometry::Intrinsics, pose: &Pose) -> image::RgbImage {
        let view = TrainView {
            name: String::new(),
            intrinsics: *intrinsics,
            pose: *pose,
            rgb: Vec::new(),
            mask: None,
            depth_range: None,
            depth: None,
        };
        let w = intrinsics.width as usize;
        let rays: Vec<render::Ray> = (0..w * intrinsics.height as usize)
            .into_par_iter()
            .map(|i| view.ray(&self.norm, (i % w) as f64 + 0.5, (i / w) as f64 + 0.5))
            .collect();
        let rgb = self.queries().render(&rays, &self.render_settings());
        let bytes = rgb.into_iter().flat_map(render::rgb_bytes).collect();
        image::RgbImage::from_raw(intrinsics.width, intrinsics.height, bytes).expect("one colour per pixel")
    }
}

/// PSNR (dB) between two images of the same size.
pub fn psnr(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let mse = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| ((*x as f64 - *y as f64) / 255.0).powi(2)).sum::<f64>()
        / a.as_raw().len().max(1) as f64;
    -10.0 * mse.max(1e-12).log10()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Intrinsics, Pose};
    use crate::nn::hashgrid::HashGridConfig;
    use crate::render::batch::sample_ray;
    use crate::train::Preset;
    use crate::util::rng::Rng;
    use glam::DVec3;

    /// Four views of a `w × h` photo from cameras around the origin.
    fn views_around(w: u32, h: u32, photo: &[[f32; 3]]) -> Vec<TrainView> {
        (0..4)
            .map(|i| {
                let a = i as f64 * 1.5;
                TrainView {
                    name: format!("{i}"),
                    intrinsics: Intrinsics::centered(w, h, w as f64),
                    pose: Pose::look_at(DVec3::new(3.0 * a.cos(), 3.0 * a.sin(), 1.0), DVec3::ZERO, DVec3::Z),
                    rgb: photo.to_vec(),
                    mask: None,
                    depth_range: None,
                    depth: None,
                }
            })
            .collect()
    }

    /// The fast preset shrunk to a test's size.
    fn tiny_config() -> TrainConfig {
        let mut cfg = TrainConfig::preset(Preset::Fast);
        cfg.grid = HashGridConfig { levels: 4, log2_table: 10, base_resolution: 4.0, max_resolution: 32.0 };
        cfg.rays = 64;
        cfg.occupancy_resolution = 8;
        cfg
    }

    fn tiny() -> Trainer {
        Trainer::new(tiny_config(), views_around(8, 6, &[[0.6, 0.4, 0.2]; 48]))
    }

    #[test]
    fn photos_on_a_black_backdrop_train_with_auto_masks_unless_turned_off() {
        // A bright square on black: backdrop, object, and a margin of unknown between.
        let (w, h) = (40usize, 30usize);
        let photo: Vec<[f32; 3]> = (0..w * h)
            .map(|i| if (12..28).contains(&(i % w)) && (8..22).contains(&(i / w)) { [0.8; 3] } else { [0.02; 3] })
            .collect();
        let mut cfg = tiny_config();
        let t = Trainer::new(cfg.clone(), views_around(w as u32, h as u32, &photo));
        assert_eq!(t.backdrop_masked, 4);
        assert!(t.backdrop_note().is_some_and(|n| n.contains("4 of 4")));
        // Rays see the backdrop as empty, the object as filled, and the margin as unknown.
        let mut seen = [0; 3];
        let mut rng = Rng::new(7);
        for _ in 0..2000 {
            let r = sample_ray(&t.views, &t.norm, &[], false, &mut rng);
            match r.target.mask {
                Some(0.0) => seen[0] += 1,
                Some(1.0) => seen[1] += 1,
                None => seen[2] += 1,
                Some(m) => panic!("mask value {m}"),
            }
        }
        assert!(seen.iter().all(|&n| n > 50), "backdrop, object, unknown rays: {seen:?}");
        cfg.auto_masks = false;
        let t = Trainer::new(cfg, views_around(w as u32, h as u32, &photo));
        assert!(t.backdrop_masked == 0 && t.views.iter().all(|v| v.mask.is_none()));
    }

    #[test]
    fn a_field_with_no_surface_left_samples_every_cell() {
        let mut t = tiny();
        t.update_occupancy().unwrap();
        let shell = t.occupancy.cells.iter().filter(|&&c| c).count();
        assert!(shell > 0 && shell < t.occupancy.cells.len(), "{shell} cells around the initial sphere");
        // The distance output's bias: the field is now far from zero everywhere.
        let n = t.params.sdf.len();
        t.params.sdf[n - crate::field::SDF_OUT] = 10.0;
        t.update_occupancy().unwrap();
        assert!(t.occupancy.cells.iter().all(|&c| c));
        assert!(t.step().unwrap().samples_per_ray > 0.0);
    }

    #[test]
    fn rooms_sample_every_cell() {
        let views = || views_around(8, 6, &[[0.6, 0.4, 0.2]; 48]);
        let room = Trainer::new(TrainConfig { layout: Some(Layout::Room), ..tiny_config() }, views());
        assert!(room.occupancy.cells.iter().all(|&c| c));
        // The same views as an object: its initial sphere leaves the corners out of reach.
        let object = Trainer::new(TrainConfig { layout: Some(Layout::Object), ..tiny_config() }, views());
        assert!(object.occupancy.cells.contains(&false));
    }

    #[test]
    fn non_finite_state_rolls_back_and_lowers_the_learning_rate() {
        let mut t = tiny();
        for _ in 0..3 {
            t.step().unwrap();
        }
        let lr = t.learning_rate();
        t.params.sdf[0] = f32::NAN;
        let r = t.step().unwrap_err();
        assert_eq!((r.failed_step, r.restored_step), (3, 0));
        assert!(r.why.contains("non-finite loss at step 3"), "{}", r.why);
        assert!(t.params.is_finite());
        assert!(t.lr_scale == 0.5 && t.learning_rate() < lr);
        // Training goes on from the restored state.
        t.step().unwrap();
    }

    #[test]
    fn a_failed_device_hands_training_to_the_cpu_from_the_last_good_state() {
        let mut t = tiny();
        let start = t.params.clone();
        for _ in 0..3 {
            t.step().unwrap();
        }
        assert_ne!(t.params, start);
        let r = t.fail_over(&BackendError::Driver("device lost".into()));
        assert_eq!((r.failed_step, r.restored_step), (3, 0));
        assert!(r.why.contains("device lost") && r.why.contains("continuing on the CPU"), "{}", r.why);
        assert!(t.params == start && t.backend_label().starts_with("CPU"));
        t.step().unwrap();
    }

    #[test]
    fn loss_falls_on_a_constant_colour_scene() {
        let mut t = tiny();
        let first = t.step().unwrap().loss;
        let mut last = first;
        for _ in 0..60 {
            last = t.step().unwrap().loss;
        }
        assert!(last < 0.5 * first, "loss {first} → {last}");
    }
}
