//! The CUDA backend: kernels in `kernels/*.cu`, compiled at run time by NVRTC, driven
//! through cudarc with the driver and NVRTC loaded dynamically (the binary builds and starts
//! where CUDA is absent).

pub mod abi;
#[cfg(test)]
mod host;
