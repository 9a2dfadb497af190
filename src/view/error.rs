//! What can go wrong drawing a field: no adapter, a refused device, a network the shaders do
//! not hold, a frame that cannot be read back.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no GPU adapter found ({0}). Without a GPU, install a software one: \
         `apt-get install mesa-vulkan-drivers libvulkan1` (Vulkan lavapipe) or Mesa's \
         llvmpipe OpenGL (`libegl1 libgl1-mesa-dri`)"
    )]
    NoAdapter(String),
    #[error("the adapter {adapter} refused a device: {reason}")]
    NoDevice { adapter: String, reason: String },
    #[error("the viewer draws networks up to {max} wide (this one: {width})")]
    TooWide { max: usize, width: usize },
    #[error("the rendered frame could not be read back")]
    Readback,
    #[error("the GPU failed while drawing: {0}")]
    Device(String),
}

pub type Result<T> = std::result::Result<T, Error>;
