//! The wgpu viewport: cameras as frusta with their photos, a ground grid, an orbit camera, and
//! the trained field drawn by shaders (shaded SDF, novel view, SDF slice).
//! It draws into an offscreen texture, which the app shows inside its UI and tests read back.

mod camera;
mod error;
mod field;
mod field_view;
mod gpu;
pub mod offscreen;
mod orbit;
mod probe;
mod renderer;
mod rig;

pub use camera::ViewCamera;
pub use error::{Error, Result};
pub use field::FieldData;
pub use field_view::{FieldStyle, FieldView, MarchSteps, ViewMode, light_direction};
pub use gpu::{Gpu, read_texture};
pub use orbit::Orbit;
pub use probe::{ProbeResult, probe};
pub use renderer::{COLOR_FORMAT, Overlay, Renderer};
pub use rig::{CameraGlyph, FRUSTUM_COLOR, Framing, SELECTED_COLOR, frustum_corners};
