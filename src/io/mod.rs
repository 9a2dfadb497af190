//! Reading and writing what users bring and take away: image folders, EXIF, COLMAP models,
//! transforms.json, meshes (PLY, OBJ, glTF). Conventions are converted through `geometry` at this boundary.

pub mod atomic;
pub mod colmap;
pub mod convert;
pub mod dataset;
mod error;
pub mod exif;
pub mod glb;
pub mod images;
pub mod mesh;
pub mod obj;
pub mod paths;
pub mod ply;
pub mod transforms;

pub use dataset::{Dataset, IntrinsicsSource, PoseSource, View};
pub use error::{Error, Result};
