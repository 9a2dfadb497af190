//! The wgpu viewport: cameras as frusta with their photos, a ground grid, an orbit camera.
//! It draws into an offscreen texture, which the app shows inside its UI and tests read back.

mod gpu;
mod orbit;
mod renderer;
mod rig;

pub use gpu::Gpu;
pub use orbit::Orbit;
pub use renderer::{COLOR_FORMAT, Renderer};
pub use rig::{CameraGlyph, FRUSTUM_COLOR, Framing, SELECTED_COLOR, frustum_corners};
