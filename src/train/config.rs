//! Training settings, with presets.

use crate::compute::cpu::hashgrid::HashGridConfig;
use crate::geometry::rig::Layout;
use crate::mesh::Unseen;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Preset {
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
    /// Optimise a correction of every training camera's pose along with the field.
    pub refine_poses: bool,
    /// Peak learning rate of the pose corrections (radians and normalised units per step).
    pub pose_lr: f32,
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

/// On the procedural room (H200, 3000 steps): 0.5 gave 32.6 dB held out and a sharp surface,
/// 0.1 left the walls a fog (27.9 dB).
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
/// explain the photos; without it the procedural room's mesh came out at Chamfer-L1 3.7 % of
/// the diagonal instead of 5.0 % (H200, 3000 steps). Elsewhere the full degree of NeuS2.
pub fn view_degree_for_layout(layout: Layout) -> u32 {
    match layout {
        Layout::Room => 1,
        _ => crate::compute::cpu::sh::DEGREE,
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

impl TrainConfig {
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
            holdout: None,
            auto_masks: true,
            far_weight: far_weight(),
            unseen: None,
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
