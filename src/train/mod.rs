//! Training: rays from photos, NeuS volume rendering, losses, Adam, schedules, snapshots.

pub mod backdrop;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod depth_prior;
pub mod gpu;
mod helix;
pub mod outputs;
pub mod poses;
pub mod render;
pub mod session;
pub mod trainer;

pub use config::{Preset, TrainConfig};
pub use trainer::{Rollback, StepStats, Trainer};
