//! Poses for photos that structure from motion could not pose, by implicit pose
//! regularisation after IR-NeRF (ICCV 2023): the scene being trained regularises the poses.
//!
//! What is built, against the paper:
//! - **Bootstrap from a capture prior** (`sfm::prior`), as IR-NeRF and GNeRF start from a
//!   pose distribution. Instead of GNeRF's adversarial coarse NeRF and a ViT pose regressor,
//!   the photos are ordered (the most similar cycle, for a ring) and laid along the prior
//!   (in their file names' order when neighbours in it look alike, as a turntable's
//!   files are named). Both directions round (the other is a mirrored world) at a few
//!   elevations are trained briefly, and the guess the field explains best is kept.
//! - **Poses as optimised state**: every view's SE(3) correction and its camera's focal length
//!   (one per camera, `render::poses`) train with the field, coarse to fine as BARF does (hash
//!   levels open over the run, `TrainConfig::level_interval`), with the poses' own learning
//!   rate (`pose_lr`).
//! - **Scene codebook** (`sfm::codebook`): views rendered from the current field at poses drawn
//!   from the prior, with compact descriptors (`sfm::descriptor`) in place of the paper's VGG
//!   codes and learnt decoder. A photo's pose is the softmax-weighted mix of the codebook poses
//!   whose renders match it.
//! - **View consistency**: after every round each photo is compared, in descriptor space, with
//!   the render at its current pose; a photo the codebook explains better than its own pose
//!   does is re-estimated through the codebook, and poses that drifted out of the prior's
//!   distribution (radius, aim) are pulled back into it. The paper's consistency is a
//!   differentiable loss through its decoder; here it acts between rounds, and the
//!   photometric loss refines what it sets.
//! - Photos that stay unexplained at the end are named, with why.

use super::config::TrainConfig;
use super::trainer::Trainer;
use crate::backend::Choice;
use crate::geometry::Pose;
use crate::geometry::rig::Layout;
use crate::render::views::TrainView;
use crate::sfm::codebook::{Codebook, Entry};
use crate::sfm::descriptor::{self, Descriptor};
use crate::sfm::prior::{self, PosePrior};
use std::sync::atomic::{AtomicBool, Ordering};

/// The knobs of the pose stage, on the command line (`weave poses`, `weave train`) and in the
/// window's Training panel.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct PoseSettings {
    /// Where the cameras stood, for photos nothing posed: ring (turntable, walk-around),
    /// hemisphere (from above), sphere (all around) or forward (default: detected from the
    /// photos: a plain backdrop means an object on a ring).
    #[arg(long, value_enum)]
    pub pose_prior: Option<PosePrior>,
    /// Views the field renders at poses drawn from the prior, per round (the scene codebook).
    #[arg(long, default_value_t = 96)]
    pub codebook_size: usize,
    /// Peak learning rate of the poses of photos structure from motion left out, found
    /// against a field trained on the others (radians and normalised units per step). A field
    /// that explains its photos already lets them move faster than poses found from the prior
    /// with a field from nothing, which go at the preset's rate (3e-3; 1e-2 lost the ring on
    /// the plain scene: 3.7° → 27° mean relative rotation error, docs/results.md).
    #[arg(long, default_value_t = 1e-2)]
    pub recovery_pose_lr: f32,
    /// Softmax temperature over descriptor similarities: smaller trusts the best codebook view
    /// alone, larger mixes its neighbours' poses.
    #[arg(long, default_value_t = 0.01)]
    pub codebook_temperature: f32,
    /// Rounds of joint training, each followed by re-estimation through the codebook.
    #[arg(long, default_value_t = 4)]
    pub pose_rounds: u32,
    /// Training steps per round.
    #[arg(long, default_value_t = 250)]
    pub round_steps: u32,
    /// How much better (descriptor similarity, 0 to 1) the codebook must explain a photo than
    /// its current pose does for the pose to be replaced.
    #[arg(long, default_value_t = 0.05)]
    pub reestimate_margin: f32,
}

impl Default for PoseSettings {
    fn default() -> Self {
        Self {
            pose_prior: None,
            codebook_size: 96,
            recovery_pose_lr: 1e-2,
            codebook_temperature: 0.01,
            pose_rounds: 4,
            round_steps: 250,
            reestimate_margin: 0.05,
        }
    }
}

impl PoseSettings {
    /// Steps of each first guess tried.
    fn start_steps(&self) -> u32 {
        (self.round_steps / 2).max(1)
    }

    /// Training steps the stage takes with `prior`: the first guesses tried (both ways round, at
    /// each of its start elevations), then the rounds.
    pub fn steps(&self, prior: PosePrior) -> u32 {
        let starts = 2 * prior.start_elevations().len() as u32;
        starts * self.start_steps() + self.round_steps * (self.pose_rounds.max(1) - 1)
    }
}

/// A photo whose render, at the best pose found, still does not look like it.
#[derive(Clone, Debug)]
pub struct Unexplained {
    pub name: String,
    pub similarity: f32,
}

pub struct Posed {
    /// The field and poses trained so far; its cameras are the poses found.
    pub trainer: Trainer,
    pub prior: PosePrior,
    /// Why that prior.
    pub why: String,
    /// Poses replaced through the codebook, over all rounds.
    pub reestimated: usize,
    pub unexplained: Vec<Unexplained>,
    /// Median descriptor similarity of the photos to their renders at the end.
    pub median_similarity: f32,
}

impl Posed {
    pub fn summary(&self) -> String {
        let focal = self.trainer.focal_scales().first().map_or(0.0, |s| 100.0 * (s - 1.0));
        let mut s = format!(
            "Weave posed {} photos from a {} prior ({}); {} poses re-estimated through the scene codebook, \
             photos and renders alike at {:.2} (median); focal length {focal:+.1} % from its first guess",
            self.trainer.views.len(),
            self.prior.label(),
            self.why,
            self.reestimated,
            self.median_similarity
        );
        if !self.unexplained.is_empty() {
            let names: Vec<String> =
                self.unexplained.iter().map(|u| format!("{} ({:.2})", u.name, u.similarity)).collect();
            s += &format!(
                "; not explained by the scene, so their poses are doubtful: {} (another scene mixed in, or a \
                 side no other photo shows)",
                names.join(", ")
            );
        }
        s
    }
}

/// What the stage reports as it goes.
pub enum Progress {
    /// Trying first guess `start` of `starts` (each way round, at each start elevation).
    Start {
        start: u32,
        starts: u32,
    },
    Step {
        step: u32,
        total: u32,
    },
    Round {
        round: u32,
        rounds: u32,
        reestimated: usize,
    },
    /// Every photo's pose as found so far (after a first guess or a round), in view order.
    Poses(Vec<Pose>),
}

/// Below this fraction of the median similarity a photo counts as unexplained.
const UNEXPLAINED_FRACTION: f32 = 0.6;

/// Poses every view (whatever poses they carry are ignored) from `settings`' prior and trains
/// the field with them; `cfg` is the training the field goes on with (its steps are at least
/// the stage's), on `backend`. None when `cancel` was set.
pub fn bootstrap(
    cfg: &TrainConfig,
    views: Vec<TrainView>,
    settings: &PoseSettings,
    backend: Choice,
    progress: &dyn Fn(Progress),
    cancel: &AtomicBool,
) -> Option<Posed> {
    let photos = descriptors(&views);
    let (prior, why) = match settings.pose_prior {
        Some(p) => (p, "chosen".to_string()),
        None => {
            let images: Vec<_> = views.iter().map(|v| (v.width() as usize, v.height() as usize, &v.rgb[..])).collect();
            prior::detect(prior::backdrop_share(&images))
        }
    };
    let mut cfg = cfg.clone();
    cfg.refine_poses = true;
    (cfg.pose_lr, cfg.pose_start) = (TrainConfig::preset(super::Preset::Fast).pose_lr, 0);
    cfg.layout = Some(if prior == PosePrior::Forward { Layout::Forward } else { Layout::Object });
    cfg.iterations = cfg.iterations.max(settings.steps(prior));
    let total = settings.steps(prior);

    // The ring's order, both ways round; the first round decides which.
    let (order, named) = prior::capture_order(&photos);
    let why = format!("{why}; {}", if named { "photos in name order" } else { "photos ordered by likeness" });
    let mut best: Option<(f64, Trainer)> = None;
    let orders = [order.clone(), order.into_iter().rev().collect::<Vec<_>>()];
    let starts: Vec<(&Vec<usize>, f64)> =
        orders.iter().flat_map(|o| prior.start_elevations().iter().map(move |&e| (o, e))).collect();
    for (i, &(order, elevation)) in starts.iter().enumerate() {
        progress(Progress::Start { start: i as u32 + 1, starts: starts.len() as u32 });
        let mut v = views.clone();
        for (view, pose) in v.iter_mut().zip(prior.initial(order, elevation)) {
            view.pose = pose;
        }
        let mut t = Trainer::new(cfg.clone(), v);
        // A device that cannot start leaves the stage on the CPU, as training does.
        let _ = t.choose_backend(backend);
        let shown_from = i as u32 * settings.start_steps();
        let loss = train(&mut t, settings.start_steps(), shown_from, total, progress, cancel)?;
        if best.as_ref().is_none_or(|b| loss < b.0) {
            progress(Progress::Poses(t.refined_poses()));
            best = Some((loss, t));
        }
    }
    let (_, mut t) = best.expect("at least two starts");
    let done = starts.len() as u32 * settings.start_steps();
    let mut reestimated = 0;
    let rounds = settings.pose_rounds.max(1);
    for round in 1..rounds {
        let n = reestimate(&mut t, prior, &photos, settings);
        reestimated += n;
        progress(Progress::Round { round, rounds, reestimated: n });
        train(&mut t, settings.round_steps, done + (round - 1) * settings.round_steps, total, progress, cancel)?;
        progress(Progress::Poses(t.refined_poses()));
    }
    // A device that fails here hands over to the CPU (`Trainer::fail_over`), which goes on.
    let _ = t.sync();
    let own = consistency(&t, &photos);
    let median = median(&own);
    let unexplained = own
        .iter()
        .zip(&t.views)
        .filter(|(s, _)| **s < UNEXPLAINED_FRACTION * median)
        .map(|(s, v)| Unexplained { name: v.name.clone(), similarity: *s })
        .collect();
    Some(Posed { trainer: t, prior, why, reestimated, unexplained, median_similarity: median })
}

/// `steps` training steps; the mean loss of their last quarter. None when cancelled.
fn train(
    t: &mut Trainer,
    steps: u32,
    shown_from: u32,
    total: u32,
    progress: &dyn Fn(Progress),
    cancel: &AtomicBool,
) -> Option<f64> {
    let mut tail = (0.0, 0u32);
    for k in 0..steps {
        if cancel.load(Ordering::SeqCst) {
            return None;
        }
        if let Ok(stats) = t.step() {
            if k >= steps - steps / 4 {
                tail = (tail.0 + stats.loss as f64, tail.1 + 1);
            }
            progress(Progress::Step { step: (shown_from + k + 1).min(total), total });
        }
    }
    Some(if tail.1 > 0 { tail.0 / tail.1 as f64 } else { f64::INFINITY })
}

/// The camera the codebook renders with: the first view's (as refined), at twice the
/// descriptor's size.
fn codebook_camera(t: &Trainer) -> crate::geometry::Intrinsics {
    let k = t.refined_intrinsics()[0];
    k.scaled((2 * descriptor::WIDTH) as f64 / k.width as f64)
}

fn render_descriptor(t: &Trainer, k: &crate::geometry::Intrinsics, pose: &Pose) -> Descriptor {
    let img = t.render(k, pose);
    let rgb: Vec<[f32; 3]> = img.pixels().map(|p| p.0.map(|c| c as f32 / 255.0)).collect();
    Descriptor::of(img.width() as usize, img.height() as usize, &rgb)
}

/// Per view, how alike its photo and the render at its current pose are.
fn consistency(t: &Trainer, photos: &[Descriptor]) -> Vec<f32> {
    let k = codebook_camera(t);
    t.refined_poses().iter().zip(photos).map(|(p, d)| render_descriptor(t, &k, p).similarity(d)).collect()
}

/// The scene codebook: the field rendered at `poses`.
fn codebook(t: &Trainer, poses: Vec<Pose>) -> Codebook {
    let k = codebook_camera(t);
    Codebook {
        entries: poses.into_iter().map(|pose| Entry { descriptor: render_descriptor(t, &k, &pose), pose }).collect(),
    }
}

/// Builds the codebook from the prior and re-estimates the views it explains better than
/// their own poses do; pulls back poses that left the distribution. How many it replaced.
fn reestimate(t: &mut Trainer, prior: PosePrior, photos: &[Descriptor], s: &PoseSettings) -> usize {
    let book = codebook(t, prior.sample(s.codebook_size));
    let own = consistency(t, photos);
    let poses = t.refined_poses();
    let mut replaced = 0;
    for (i, photo) in photos.iter().enumerate() {
        let pulled = prior.project(&poses[i]);
        let drifted = pulled.rotation_angle_to(&poses[i]) > 10f64.to_radians()
            || (pulled.center - poses[i].center).length() > 0.15 * prior::RADIUS;
        match book.estimate(photo, s.codebook_temperature) {
            Some(m) if m.similarity > own[i] + s.reestimate_margin => {
                t.set_pose(i, &prior.project(&m.pose));
                replaced += 1;
            }
            _ if drifted => t.set_pose(i, &pulled),
            _ => {}
        }
    }
    replaced
}

fn descriptors(views: &[TrainView]) -> Vec<Descriptor> {
    views.iter().map(|v| Descriptor::of(v.width() as usize, v.height() as usize, &v.rgb)).collect()
}

fn median(values: &[f32]) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// What recovering the photos structure from motion left out found.
pub struct Recovered {
    /// Photos posed and training with the others.
    pub posed: Vec<String>,
    /// Photos left out after all, with how alike their best render was.
    pub unexplained: Vec<Unexplained>,
    /// Median likeness of the trusted photos to their renders, for scale.
    pub trusted_similarity: f32,
}

impl Recovered {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "Weave posed {} of the {} photos structure from motion left out, against the scene the others show",
            self.posed.len(),
            self.posed.len() + self.unexplained.len()
        );
        if !self.posed.is_empty() {
            s += &format!(" ({})", self.posed.join(", "));
        }
        if !self.unexplained.is_empty() {
            let names: Vec<String> =
                self.unexplained.iter().map(|u| format!("{} ({:.2})", u.name, u.similarity)).collect();
            s += &format!(
                "; left out, as no pose of the scene renders like them (likeness to their best render, where posed \
                 photos reach {:.2}: another scene mixed in, or a side no other photo shows): {}",
                self.trusted_similarity,
                names.join(", ")
            );
        }
        s
    }
}

/// Recovers the photos `left_out` (their poses ignored) against the field `t` trains on the
/// photos structure from motion posed (the trusted ones), as IR-NeRF's scene codebook does
/// for registered views: the field first learns the trusted photos; each photo left out
/// then takes the pose of the codebook views, drawn from the trusted poses' distribution
/// (`sfm::trusted`), that render like it; rounds of photometric refinement (trusted poses
/// fixed) and codebook re-estimation follow. Photos the field still does not explain leave training and are named. None when
/// cancelled.
pub fn recover(
    t: &mut Trainer,
    left_out: Vec<TrainView>,
    settings: &PoseSettings,
    progress: &dyn Fn(Progress),
    cancel: &AtomicBool,
) -> Option<Recovered> {
    let rounds = settings.pose_rounds.max(1);
    let total = settings.round_steps * (2 + rounds);
    t.cfg.iterations = t.cfg.iterations.max(t.step + total);
    train(t, 2 * settings.round_steps, 0, total, progress, cancel)?;
    let _ = t.sync();
    let trusted = t.views.len();
    let trusted_similarity = median(&consistency(t, &descriptors(&t.views)));
    let object = (t.layout == Layout::Object).then(|| glam::DVec3::from(t.norm.center));
    let candidates =
        |t: &Trainer| crate::sfm::trusted::sample(&t.refined_poses()[..trusted], object, settings.codebook_size);
    let book = codebook(t, candidates(t));
    let mut added = left_out;
    for v in &mut added {
        let photo = Descriptor::of(v.width() as usize, v.height() as usize, &v.rgb);
        if let Some(m) = book.estimate(&photo, settings.codebook_temperature) {
            v.pose = m.pose;
        }
    }
    // The trusted poses stay as they are while the others are found; where they refine too,
    // they go on at their own gentler rate afterwards, with the found ones.
    let given = t.cfg.refine_poses.then_some((t.cfg.pose_lr, t.cfg.pose_start));
    t.refining = Some(vec![false; trusted]);
    (t.cfg.refine_poses, t.cfg.pose_lr, t.cfg.pose_start) = (true, settings.recovery_pose_lr, 0);
    t.add_views(added);
    let photos = descriptors(&t.views);
    let mut done = 2 * settings.round_steps;
    for round in 0..rounds {
        if round > 0 {
            let book = codebook(t, candidates(t));
            let own = consistency(t, &photos);
            let mut replaced = 0;
            for i in trusted..t.views.len() {
                if let Some(m) = book.estimate(&photos[i], settings.codebook_temperature)
                    && m.similarity > own[i] + settings.reestimate_margin
                {
                    t.set_pose(i, &m.pose);
                    replaced += 1;
                }
            }
            progress(Progress::Round { round, rounds, reestimated: replaced });
        }
        train(t, settings.round_steps, done, total, progress, cancel)?;
        done += settings.round_steps;
    }
    let _ = t.sync();
    let own = consistency(t, &photos);
    let keep: Vec<bool> =
        own.iter().enumerate().map(|(i, &s)| i < trusted || s >= UNEXPLAINED_FRACTION * trusted_similarity).collect();
    let (mut posed, mut unexplained) = (Vec::new(), Vec::new());
    for i in trusted..t.views.len() {
        match keep[i] {
            true => posed.push(t.views[i].name.clone()),
            false => unexplained.push(Unexplained { name: t.views[i].name.clone(), similarity: own[i] }),
        }
    }
    t.retain_views(&keep);
    if let Some((lr, start)) = given {
        (t.refining, t.cfg.pose_lr, t.cfg.pose_start) = (None, lr, start);
    }
    Some(Recovered { posed, unexplained, trusted_similarity })
}
