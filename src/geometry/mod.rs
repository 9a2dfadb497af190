//! Cameras and poses: the one place where axis and storage conventions are converted.
//!
//! Inside Weave every camera uses OpenCV axes (x right, y down, z forward) and every pose is
//! stored camera-to-world. COLMAP (world-to-camera, OpenCV axes) and transforms.json
//! (camera-to-world, OpenGL axes) are converted here and only here.

mod camera;
mod mesh;
mod pose;
pub mod rig;

pub use camera::{Camera, Distortion, Intrinsics};
pub use mesh::Mesh;
pub use pose::Pose;
