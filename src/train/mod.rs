//! Training: the loop over a backend, schedules, rollbacks, the stereo prior and its rounds,
//! sessions and their events, checkpoints and outputs.

pub mod backdrop;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod depth_prior;
mod helix;
pub mod outputs;
pub mod posefree;
pub mod session;
pub mod trainer;

pub use config::{Overrides, Preset, TrainConfig};
pub use trainer::{Rollback, StepStats, Trainer};
