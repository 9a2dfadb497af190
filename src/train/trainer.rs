//! The training loop's state and one step of it.

use super::config::TrainConfig;
use super::data::{Normalization, TrainView};
use super::poses;
use super::render::{self, RayScratch, RenderSettings, Target};
use crate::compute::cpu::adam::Adam;
use crate::field::{Field, FieldConfig, GROUPS, Occupancy, POSE_GROUP, Params};
use crate::geometry::rig::{self, Layout};
use crate::geometry::{Camera, Pose};
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

use crate::compute::rng::Rng;

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
    /// How many views had their backdrop masked ([`super::backdrop`]).
    pub backdrop_masked: usize,
    /// What the multi-view stereo prior found, when training uses one.
    pub depth_prior: Option<super::depth_prior::DepthPriorStats>,
    /// Per view, a running mean of its rays' squared colour error (frusta are coloured by it).
    pub view_errors: Vec<f32>,
    part_grads: Vec<Params>,
    pub(super) last_good: (u32, Params),
    /// Set when training runs on CUDA: the field's parameters and moments live on the device
    /// and `params` is refreshed from it by [`Trainer::sync`].
    pub(super) cuda: Option<Box<super::gpu::CudaRun>>,
}

pub(super) const GOOD_STATE_INTERVAL: u32 = 100;

/// What one worker's share of a step adds up: loss, squared colour error, samples, and per
/// view (squared error, rays).
pub(super) struct PartSums {
    loss: f64,
    sq: f64,
    samples: usize,
    per_view: Vec<(f32, u32)>,
}

impl PartSums {
    pub fn new(views: usize) -> PartSums {
        PartSums { loss: 0.0, sq: 0.0, samples: 0, per_view: vec![(0.0, 0); views] }
    }

    /// A batch reduced on the device: its (loss, squared error, samples) sums, and per view
    /// `stride` floats beginning with the view's squared error and rays.
    pub fn of_views(batch: [f32; 3], views: &[f32], stride: usize) -> PartSums {
        PartSums {
            loss: batch[0] as f64,
            sq: batch[1] as f64,
            samples: batch[2].round() as usize,
            per_view: views.chunks_exact(stride).map(|v| (v[0], v[1].round() as u32)).collect(),
        }
    }

    /// Adds one ray's result: its rendered colour, loss and samples taken.
    pub fn add(&mut self, r: &SampledRay, rgb: [f32; 3], loss: f32, samples: usize) {
        self.loss += loss as f64;
        let se = (0..3).map(|c| (rgb[c] - r.target.rgb[c]).powi(2)).sum::<f32>() / 3.0;
        self.sq += se as f64;
        self.per_view[r.view].0 += se;
        self.per_view[r.view].1 += 1;
        self.samples += samples;
    }
}

/// A training ray: through a random pixel of a random view (jittered within the pixel),
/// corrected by its view's pose correction when poses are refined.
pub(crate) struct SampledRay {
    pub view: usize,
    pub ray: render::Ray,
    pub target: Target,
    /// Offset of the samples along the ray, in [0, 1).
    pub jitter: f32,
}

impl SampledRay {
    pub fn pose_range(&self) -> std::ops::Range<usize> {
        self.view * poses::PER_VIEW..(self.view + 1) * poses::PER_VIEW
    }
}

pub(crate) fn sample_ray(
    views: &[TrainView],
    norm: &Normalization,
    corrections: &[f32],
    refine: bool,
    rng: &mut Rng,
) -> SampledRay {
    let vi = rng.below(views.len());
    let v = &views[vi];
    let (x, y) = (rng.below(v.width() as usize), rng.below(v.height() as usize));
    let mut ray = v.ray(norm, x as f64 + rng.uniform() as f64, y as f64 + rng.uniform() as f64);
    if refine {
        ray = poses::correct(&ray, &corrections[vi * poses::PER_VIEW..(vi + 1) * poses::PER_VIEW]);
    }
    let i = y * v.width() as usize + x;
    // A negative mask value is unknown (`backdrop`): no mask term.
    let target = Target {
        rgb: v.rgb[i],
        mask: v.mask.as_ref().map(|m| m[i]).filter(|m| *m >= 0.0),
        depth: v.depth.as_ref().map(|d| d[i]).filter(|d| *d > 0.0),
    };
    SampledRay { view: vi, ray, target, jitter: rng.uniform() }
}

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
        t.update_occupancy();
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
        let parts = rayon::current_num_threads().max(1);
        Trainer {
            occupancy: occupancy.unwrap_or_else(|| Occupancy::full(cfg.occupancy_resolution)),
            part_grads: (0..parts).map(|_| params.zeros_like()).collect(),
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
            views,
            recorded_cameras: Vec::new(),
            backdrop_masked,
            depth_prior: None,
            cuda: None,
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
        self.views
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let delta = &self.params.poses[i * poses::PER_VIEW..(i + 1) * poses::PER_VIEW];
                poses::refined(&v.pose, &self.norm, delta)
            })
            .collect()
    }

    /// The training cameras with their refined poses, in the input frame; those the
    /// checkpoint recorded when the trainer has no views.
    pub fn cameras(&self) -> Vec<Camera> {
        if self.views.is_empty() {
            return self.recorded_cameras.clone();
        }
        self.views.iter().zip(self.refined_poses()).map(|(v, pose)| Camera { intrinsics: v.intrinsics, pose }).collect()
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

    /// One optimisation step; Err when it had to roll back.
    pub fn step(&mut self) -> Result<StepStats, Rollback> {
        if self.cuda.is_some() {
            return self.step_cuda();
        }
        let settings = self.render_settings();
        let parts = self.parts();
        let per_part = self.cfg.rays.div_ceil(parts);
        let (field, params, occ, views, norm) = (&self.field, &self.params, &self.occupancy, &self.views, &self.norm);
        let refine = self.cfg.refine_poses;
        let seed = self.cfg.seed ^ ((self.step as u64) << 20);
        let n_views = views.len();
        let sums: Vec<PartSums> = self
            .part_grads
            .par_iter_mut()
            .enumerate()
            .map(|(part, g)| {
                g.clear();
                let mut ws = RayScratch::default();
                let mut sums = PartSums::new(n_views);
                for i in part * per_part..(part + 1) * per_part {
                    let r = sample_ray(views, norm, &params.poses, refine, &mut Rng::for_ray(seed, i));
                    let out = render::trace(
                        field,
                        params,
                        occ,
                        &r.ray,
                        &settings,
                        r.jitter,
                        &mut ws,
                        Some(&r.target),
                        Some(g),
                    );
                    if refine {
                        poses::accumulate_gradient(&r.ray, out.d_origin, out.d_dir, &mut g.poses[r.pose_range()]);
                    }
                    sums.add(&r, out.rgb, out.loss, out.samples);
                }
                sums
            })
            .collect();
        let n = self.batch_rays() as f64;
        let (loss, mse, samples) = self.record_batch(&sums, n);
        let (first, rest) = self.part_grads.split_at_mut(1);
        for g in rest.iter() {
            first[0].accumulate(g);
        }
        first[0].scale(1.0 / n as f32);
        if !loss.is_finite() || !first[0].is_finite() {
            return Err(self.roll_back());
        }
        let lr = self.learning_rate();
        let pose_lr = if refine { self.cfg.pose_lr * self.schedule() } else { 0.0 };
        let grads = &self.part_grads[0];
        let groups = self.optimizer.groups.iter_mut().zip(self.params.arrays_mut()).zip(grads.arrays());
        for (i, ((adam, p), g)) in groups.enumerate() {
            if i != POSE_GROUP {
                adam.update(p, g, lr);
            } else if pose_lr > 0.0 {
                adam.update(p, g, pose_lr);
            }
        }
        let mut v = [self.params.variance];
        self.optimizer.variance.update(&mut v, &[grads.variance], lr);
        self.params.variance = v[0];
        if !self.params.is_finite() {
            return Err(self.roll_back());
        }
        self.step += 1;
        if self.step.is_multiple_of(self.cfg.occupancy_interval) {
            self.update_occupancy();
        }
        if self.step.is_multiple_of(GOOD_STATE_INTERVAL) {
            self.last_good = (self.step, self.params.clone());
        }
        Ok(self.stats(loss, mse, samples, lr))
    }

    /// Workers a batch's rays are split between.
    pub(super) fn parts(&self) -> usize {
        self.part_grads.len()
    }

    /// Rays a step draws: `cfg.rays` rounded up to a whole number per worker (ray i is the
    /// same ray on both backends).
    pub(super) fn batch_rays(&self) -> usize {
        self.cfg.rays.div_ceil(self.parts()) * self.parts()
    }

    /// Folds a batch's per-part sums into the per-view errors; returns the batch's mean loss,
    /// mean squared colour error and samples per ray.
    pub(super) fn record_batch(&mut self, sums: &[PartSums], n: f64) -> (f64, f64, f64) {
        let loss = sums.iter().map(|s| s.loss).sum::<f64>() / n;
        let mse = sums.iter().map(|s| s.sq).sum::<f64>() / n;
        let samples = sums.iter().map(|s| s.samples).sum::<usize>() as f64 / n;
        for (i, e) in self.view_errors.iter_mut().enumerate() {
            let (sum, count) = sums.iter().fold((0.0, 0), |(a, b), s| (a + s.per_view[i].0, b + s.per_view[i].1));
            if count > 0 {
                let m = sum / count as f32;
                *e = if *e == 0.0 { m } else { 0.9 * *e + 0.1 * m };
            }
        }
        (loss, mse, samples)
    }

    pub(super) fn stats(&self, loss: f64, mse: f64, samples: f64, lr: f32) -> StepStats {
        StepStats {
            step: self.step,
            loss: loss as f32,
            psnr: (-10.0 * mse.max(1e-10).log10()) as f32,
            lr,
            samples_per_ray: samples as f32,
            inv_s: Field::inv_s(&self.params),
            occupancy: self.device_occupancy().unwrap_or_else(|| self.occupancy.fraction()),
        }
    }

    pub(super) fn roll_back(&mut self) -> Rollback {
        let failed_step = self.step;
        self.params = self.last_good.1.clone();
        self.step = self.last_good.0;
        self.optimizer.groups = self.params.arrays().map(|a| Adam::new(a.len()));
        self.optimizer.variance = Adam::new(1);
        self.lr_scale *= 0.5;
        self.restore_cuda();
        let why = format!(
            "non-finite loss at step {failed_step}: rolled back to step {} and halved the learning rate",
            self.step
        );
        Rollback { failed_step, restored_step: self.step, why }
    }

    /// Whether training skips cells the surface is out of reach of. Not in rooms: their
    /// walls start as a fog, and as its sharpness rose, pruning cut the fog away before a
    /// surface formed; the field then collapsed to a sample or two per ray (the procedural
    /// room on an H200: 22.3 dB held out with pruning, 27.7 dB without).
    pub(super) fn prunes_occupancy(&self) -> bool {
        self.layout != Layout::Room
    }

    /// Marks the cells whose centre is within reach of the surface: the SDF there is below a
    /// cell diagonal plus the width of NeuS's density. A field with no surface left anywhere
    /// gets every cell back (see `Occupancy::or_full`), and so do rooms (`prunes_occupancy`).
    pub fn update_occupancy(&mut self) {
        if !self.prunes_occupancy() {
            self.occupancy = Occupancy::full(self.occupancy.res);
            return;
        }
        let active = self.active_levels();
        let occ = &self.occupancy;
        let reach = occ.cell_size() * 3f32.sqrt() + 4.0 / Field::inv_s(&self.params);
        let (field, params) = (&self.field, &self.params);
        let cells: Vec<bool> = (0..occ.cells.len())
            .into_par_iter()
            .map_init(Default::default, |e, i| field.sdf(params, occ.center(i), active, e).abs() < reach)
            .collect();
        self.occupancy = Occupancy { res: occ.res, cells }.or_full();
    }

    /// Renders a view of the current field (sRGB bytes), at that view's camera.
    pub fn render(&self, intrinsics: &crate::geometry::Intrinsics, pose: &crate::geometry::Pose) -> image::RgbImage {
        let view = TrainView {
            name: String::new(),
            intrinsics: *intrinsics,
            pose: *pose,
            rgb: Vec::new(),
            mask: None,
            depth_range: None,
            depth: None,
        };
        let settings = self.render_settings();
        let (w, h) = (intrinsics.width as usize, intrinsics.height as usize);
        if let Some(img) = self.render_cuda(&view, &settings) {
            return img;
        }
        let rows: Vec<Vec<u8>> = (0..h)
            .into_par_iter()
            .map_init(RayScratch::default, |ws, y| {
                let mut row = Vec::with_capacity(w * 3);
                for x in 0..w {
                    let ray = view.ray(&self.norm, x as f64 + 0.5, y as f64 + 0.5);
                    let out =
                        render::trace(&self.field, &self.params, &self.occupancy, &ray, &settings, 0.5, ws, None, None);
                    row.extend(render::rgb_bytes(out.rgb));
                }
                row
            })
            .collect();
        image::RgbImage::from_raw(intrinsics.width, intrinsics.height, rows.concat())
            .expect("rows have the image's size")
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
    use crate::compute::cpu::hashgrid::HashGridConfig;
    use crate::geometry::{Intrinsics, Pose};
    use crate::train::Preset;
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
        t.update_occupancy();
        let shell = t.occupancy.cells.iter().filter(|&&c| c).count();
        assert!(shell > 0 && shell < t.occupancy.cells.len(), "{shell} cells around the initial sphere");
        // The distance output's bias: the field is now far from zero everywhere.
        let n = t.params.sdf.len();
        t.params.sdf[n - crate::field::SDF_OUT] = 10.0;
        t.update_occupancy();
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
        let r = t.abandon_cuda(&crate::compute::cuda::CudaError::Driver("device lost".into()));
        assert_eq!((r.failed_step, r.restored_step), (3, 0));
        assert!(r.why.contains("device lost") && r.why.contains("continuing on the CPU"), "{}", r.why);
        assert!(t.params == start && t.cuda_device().is_none());
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
