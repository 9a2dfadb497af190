//! Small helpers every room may use.

pub mod rng;
