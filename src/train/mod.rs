//! Training: rays from photos, NeuS volume rendering, losses, Adam, schedules, snapshots.

pub mod render;
