//! Training settings, with presets.

use crate::geometry::rig::Layout;
use crate::mesh::Unseen;
use crate::nn::hashgrid::HashGridConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Preset {
    #[default]
    /// A usable mesh quickly: smaller hash tables, fewer steps.
    Fast,
    /// More steps, larger tables and batches.
    Quality,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub iterations: u32,
    /// Rays per step.
    pub rays: usize,
    /// Scale applied to the photos' resolution.
    pub image_scale: f64,
    pub grid: HashGridConfig,
    pub hidden: usize,
    pub lr: f32,
    pub warmup: u32,
    /// Learning rate at the end, as a fraction of `lr` (exponential decay).
    pub final_lr_fraction: f32,
    pub eikonal_weight: f32,
    pub mask_weight: f32,
    pub huber_delta: f32,
    /// Ray-marching step in normalised units (the scene spans 2).
    pub march_step: f32,
    pub max_samples: usize,
    /// Steps over which NeuS's cos-anneal ratio goes from 0 to 1.
    pub anneal_steps: u32,
    /// Hash levels enabled at the start, and steps between enabling the next one.
    pub initial_levels: usize,
    pub level_interval: u32,
    pub occupancy_resolution: usize,
    pub occupancy_interval: u32,
    /// Forced capture layout; detected from the cameras when None.
    pub layout: Option<Layout>,
    pub mesh_resolution: usize,
    pub seed: u64,
    /// Optimise a correction of every training camera's pose, and of each camera's focal
    /// length, along with the field.
    pub refine_poses: bool,
    /// Peak learning rate of the camera corrections (radians, normalised units and log focal
    /// scale per step).
    pub pose_lr: f32,
    /// The step from which the camera corrections train (`refine_given`).
    #[serde(default)]
    pub pose_start: u32,
    /// Whether refining the cameras refines their focal lengths too (`refine_given`).
    #[serde(default = "enabled")]
    pub refine_focal: bool,
    /// Every n-th photo held out of training for a test PSNR (`Dataset::hold_out`); kept so
    /// that a resumed run trains on the same photos.
    #[serde(default)]
    pub holdout: Option<usize>,
    /// Mask a plain black or white backdrop as empty when the photos show one and have no
    /// masks (`backdrop`).
    #[serde(default = "enabled")]
    pub auto_masks: bool,
    /// Weight of the prior that the background lies at infinity unless the photos place it
    /// nearer: without it, the background field parks content at any depth that the training
    /// views cannot tell apart, and it floats in front of the sky in novel views.
    #[serde(default = "far_weight")]
    pub far_weight: f32,
    /// What the mesh keeps of the surface no training camera saw; by layout when None
    /// ([`Unseen::for_layout`]).
    #[serde(default)]
    pub unseen: Option<Unseen>,
    /// Most triangles in the exported mesh; without it the mesh is simplified only as far
    /// as it stays within a fifth of a marching cell of the extracted surface.
    #[serde(default)]
    pub triangles: Option<usize>,
    /// The background field beyond the unit sphere; by layout when None
    /// ([`background_for_layout`]).
    #[serde(default)]
    pub background: Option<bool>,
    /// Degree of the view direction's spherical harmonics the surface colour sees (1 to 4);
    /// by layout when None ([`view_degree_for_layout`]).
    #[serde(default)]
    pub view_degree: Option<u32>,
    /// Depth maps from multi-view stereo as a prior on the surface (HelixSurf); by layout when
    /// None ([`depth_prior_for_layout`]).
    #[serde(default)]
    pub depth_prior: Option<bool>,
    /// Weight of the L1 loss between rendered and stereo depth (normalised units).
    #[serde(default = "depth_weight")]
    pub depth_weight: f32,
    /// Rounds of HelixSurf's loop with the depth prior: stereo before training and again,
    /// evenly spaced, from the surface trained so far (`helix`); 1: before training only.
    #[serde(default = "stereo_rounds")]
    pub stereo_rounds: u32,
}

/// Rooms: photometric NeuS alone leaves them a fog (their walls are flat), and their floors,
/// furniture and wall edges are what stereo matches well.
pub fn depth_prior_for_layout(layout: Layout) -> bool {
    layout == Layout::Room
}

/// On the procedural room 0.5 forms a sharp surface where 0.1 leaves the walls a fog
/// (docs/results.md, *Procedural room*).
fn depth_weight() -> f32 {
    0.5
}

/// Objects and forward-facing captures see beyond the unit sphere; a room's cameras do not:
/// its normalisation puts the walls inside the sphere, and a background there offers the walls'
/// colours a far-away fog that explains the photos as well as the walls do (the procedural
/// room trained that way forms no surface).
pub fn background_for_layout(layout: Layout) -> bool {
    layout != Layout::Room
}

/// Rooms: none of the view direction. Where stereo finds no depth (flat walls, a plain
/// ceiling), colour that changes with the view direction lets a surface at the wrong depth
/// explain the photos; the procedural room's mesh is better without it (docs/results.md,
/// *Procedural room*). Elsewhere the full degree of NeuS2.
pub fn view_degree_for_layout(layout: Layout) -> u32 {
    match layout {
        Layout::Room => 1,
        _ => crate::nn::sh::DEGREE,
    }
}

/// HelixSurf's released code runs two rounds (stereo, surface, stereo from the surface, surface).
fn stereo_rounds() -> u32 {
    2
}

fn enabled() -> bool {
    true
}

fn far_weight() -> f32 {
    0.01
}

/// Peak learning rate for refining poses that are close already.
const GIVEN_POSE_LR: f32 = 1e-3;

impl TrainConfig {
    /// Refines poses that are close already (COLMAP's, a phone's) gently, and only from a
    /// quarter of the run on, once the field explains the photos: before that its pose
    /// gradients are mostly noise, which at the rate for poses found from nothing moved DTU
    /// scan 65's COLMAP poses from 0.70° to 1.31° mean error (docs/results.md). Their focal
    /// lengths stay: refining COLMAP's (0.4 % off on DTU scan 65) doubled its error.
    pub fn refine_given(&mut self) {
        self.refine_poses = true;
        self.refine_focal = false;
        self.pose_lr = GIVEN_POSE_LR;
        self.pose_start = self.iterations / 4;
    }

    pub fn preset(p: Preset) -> TrainConfig {
        let fast = TrainConfig {
            iterations: 3000,
            rays: 1024,
            image_scale: 1.0,
            grid: HashGridConfig { levels: 16, log2_table: 17, base_resolution: 16.0, max_resolution: 1024.0 },
            hidden: 64,
            lr: 1e-2,
            warmup: 100,
            final_lr_fraction: 0.1,
            eikonal_weight: 0.1,
            mask_weight: 0.1,
            huber_delta: 0.1,
            march_step: 2.0 / 128.0,
            max_samples: 128,
            anneal_steps: 1000,
            initial_levels: 4,
            level_interval: 100,
            occupancy_resolution: 64,
            occupancy_interval: 16,
            layout: None,
            mesh_resolution: 256,
            seed: 1,
            refine_poses: false,
            pose_lr: 3e-3,
            pose_start: 0,
            refine_focal: true,
            holdout: None,
            auto_masks: true,
            far_weight: far_weight(),
            unseen: None,
            triangles: None,
            background: None,
            view_degree: None,
            depth_prior: None,
            depth_weight: depth_weight(),
            stereo_rounds: stereo_rounds(),
        };
        match p {
            Preset::Fast => fast,
            Preset::Quality => TrainConfig {
                iterations: 10000,
                rays: 2048,
                grid: HashGridConfig { log2_table: 19, max_resolution: 2048.0, ..fast.grid },
                march_step: 2.0 / 256.0,
                max_samples: 256,
                anneal_steps: 2000,
                mesh_resolution: 512,
                ..fast
            },
        }
    }
}

/// The settings a user chooses, over a preset: the command line's flags (`weave train`) and
/// the window's training options.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Overrides {
    #[arg(long, value_enum, default_value_t = Preset::Fast)]
    pub preset: Preset,
    /// Training steps (default: the preset's).
    #[arg(long)]
    pub iterations: Option<u32>,
    /// Rays per step (default: the preset's).
    #[arg(long)]
    pub rays: Option<usize>,
    /// Scale of the photos' resolution used for training, e.g. 0.5 (default: 1, or what
    /// brings the longest side down to 1600 px).
    #[arg(long)]
    pub scale: Option<f64>,
    /// Capture layout (default: detected from the cameras).
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Marching resolution of the exported mesh (default: the preset's).
    #[arg(long)]
    pub mesh_resolution: Option<usize>,
    /// Most triangles in the exported mesh (at least 100; default: as many as keep it within
    /// a fifth of a marching cell of the surface).
    #[arg(long, value_name = "N", value_parser = crate::mesh::parse_triangles)]
    pub triangles: Option<usize>,
    /// Optimise every camera's pose, and each camera's focal length, along with the surface
    /// (for cameras that are close but not exact, e.g. from a phone's AR session or a rough
    /// COLMAP run).
    #[arg(long)]
    pub refine_poses: bool,
    /// Hold every N-th photo out of training and report its PSNR (LLFF's convention: 8), for
    /// folders without a test split.
    #[arg(long, value_name = "N")]
    pub holdout: Option<usize>,
    /// Surface no training camera saw, in the mesh: keep, drop, or close (drop it and cap the
    /// holes flat). Default: dropped for forward-facing captures and rooms, closed for objects.
    #[arg(long, value_enum)]
    pub unseen: Option<Unseen>,
    /// Keep the whole photo even when it shows a plain black or white backdrop (by default
    /// the backdrop the border reaches is masked as empty).
    #[arg(long)]
    pub no_auto_masks: bool,
    /// The background field beyond the scene's bounds: on or off (default: off for rooms,
    /// whose walls lie inside the bounds; on otherwise). Off, the scene itself must explain
    /// every pixel.
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    pub background: Option<bool>,
    /// Depth maps from multi-view stereo (PatchMatch) as a prior on the surface: on or off
    /// (default: on for rooms, whose flat walls photometric training alone leaves a fog).
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    pub stereo: Option<bool>,
    /// Rounds of stereo with the prior (HelixSurf's loop): 1 matches the photos before
    /// training only; each further round, evenly spaced, matches them again starting from the
    /// surface trained so far.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub stereo_rounds: Option<u32>,
    /// Degree of the view direction's spherical harmonics in the surface colour, 1 to 4
    /// (instant-ngp's count; 1: colour independent of the view). Default: 1 for rooms, 4
    /// otherwise.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub view_degree: Option<u32>,
}

impl Overrides {
    /// The preset with these settings over it; photos at `auto_scale` unless a scale is set.
    pub fn config(&self, auto_scale: impl FnOnce() -> f64) -> TrainConfig {
        let mut cfg = TrainConfig::preset(self.preset);
        cfg.iterations = self.iterations.unwrap_or(cfg.iterations);
        cfg.rays = self.rays.unwrap_or(cfg.rays);
        cfg.image_scale = self.scale.unwrap_or_else(auto_scale);
        cfg.layout = self.layout;
        cfg.mesh_resolution = self.mesh_resolution.unwrap_or(cfg.mesh_resolution);
        if self.refine_poses {
            cfg.refine_given();
        }
        cfg.holdout = self.holdout;
        cfg.auto_masks = !self.no_auto_masks;
        cfg.unseen = self.unseen;
        cfg.triangles = self.triangles;
        cfg.background = self.background;
        cfg.depth_prior = self.stereo;
        cfg.stereo_rounds = self.stereo_rounds.unwrap_or(cfg.stereo_rounds);
        cfg.view_degree = self.view_degree;
        cfg
    }

    /// What of these settings a resumed run takes over its checkpoint's: more steps, and
    /// what the mesh keeps and how many triangles it may have.
    pub fn resume(&self, cfg: &mut TrainConfig) {
        cfg.iterations = self.iterations.unwrap_or(cfg.iterations);
        cfg.unseen = self.unseen.or(cfg.unseen);
        cfg.triangles = self.triangles.or(cfg.triangles);
    }
}
