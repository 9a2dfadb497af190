//! The CUDA backend: kernels in `kernels/*.cu`, compiled at run time by NVRTC, driven
//! through cudarc with the driver and NVRTC loaded dynamically (the binary builds and starts
//! where CUDA is absent). This module finds out what the machine offers; `gpu` holds the
//! device state of a run and launches the kernels on it; `run` is the backend over it.

pub mod abi;
pub mod gpu;
#[cfg(test)]
mod host;
pub mod kernels;
pub mod parity;
mod run;

pub use run::Cuda;

use cudarc::driver::sys;
use std::path::PathBuf;
use std::sync::OnceLock;

/// CUDA version the kernels' PTX and the loaded libraries are built for (cudarc's
/// `cuda-13000` feature): older drivers cannot load it.
pub const REQUIRED_DRIVER: i32 = 13000;
/// Architecture to compile for when no device says which.
pub const DEFAULT_ARCH: &str = "sm_90";

#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    #[error("no CUDA driver (libcuda.so.1 is not installed)")]
    NoDriver,
    #[error(
        "NVRTC (libnvrtc.so.13) was not found: install CUDA 13 or `pip install nvidia-cuda-nvrtc==13.0.88`, \
         or point WEAVE_NVRTC_DIR at the folder holding libnvrtc.so.13"
    )]
    NoNvrtc,
    #[error("the CUDA driver supports CUDA {}.{}; Weave's kernels need a driver for CUDA 13 (R580 or newer)", .0 / 1000, (.0 % 1000) / 10)]
    OldDriver(i32),
    #[error("no CUDA device")]
    NoDevice,
    #[error("CUDA: {0}")]
    Driver(String),
    #[error("{0}")]
    Kernel(String),
}

impl From<cudarc::driver::DriverError> for CudaError {
    fn from(e: cudarc::driver::DriverError) -> Self {
        CudaError::Driver(e.to_string())
    }
}

/// Where NVRTC may live when the loader's search path lacks it: CUDA installs, and the pip
/// wheel (`nvidia-cuda-nvrtc`) in the usual Python locations.
fn nvrtc_candidates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("WEAVE_NVRTC_DIR") {
        dirs.push(d.into());
    }
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(d) = std::env::var_os(var) {
            dirs.push(PathBuf::from(d).join("lib64"));
        }
    }
    dirs.push("/usr/local/cuda/lib64".into());
    if let Some(home) = std::env::var_os("HOME") {
        // Where `.ci/setup` puts the wheel.
        dirs.push(PathBuf::from(home).join(".cache/weave/nvrtc/nvidia/cu13/lib"));
    }
    let mut site = vec![PathBuf::from("/usr/lib/python3/dist-packages"), PathBuf::from("/usr/local/lib")];
    if let Some(home) = std::env::var_os("HOME") {
        site.push(PathBuf::from(home).join(".local/lib"));
    }
    for s in site {
        let Ok(entries) = std::fs::read_dir(&s) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("python3")) {
                for sub in ["site-packages", "dist-packages"] {
                    dirs.push(p.join(sub).join("nvidia/cu13/lib"));
                    dirs.push(p.join(sub).join("nvidia/cuda_nvrtc/lib"));
                }
            }
        }
    }
    dirs.into_iter().map(|d| d.join("libnvrtc.so.13")).filter(|p| p.exists()).collect()
}

/// NVRTC's version, loading the library first from the candidates above when the system
/// loader cannot find it (a later load by name then finds the one already in the process).
pub fn nvrtc_version() -> Option<(i32, i32)> {
    static VERSION: OnceLock<Option<(i32, i32)>> = OnceLock::new();
    *VERSION.get_or_init(|| {
        // SAFETY: only probes whether the library can be opened.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            let lib = nvrtc_candidates().into_iter().find_map(|p| {
                // NVRTC opens its builtins library by name when it compiles: load it first
                // from the same folder, so that name is already in the process.
                let dir = p.parent()?.to_path_buf();
                let builtins = std::fs::read_dir(&dir).ok()?.flatten().map(|e| e.path()).find(|b| {
                    b.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libnvrtc-builtins.so.13"))
                });
                // SAFETY: loading NVRTC and its builtins runs no initialisation with preconditions.
                let builtins = builtins.and_then(|b| unsafe { libloading::Library::new(b) }.ok());
                let lib = unsafe { libloading::Library::new(&p) }.ok()?;
                Some((lib, builtins))
            })?;
            // Both stay loaded for the life of the process, for cudarc and NVRTC to find.
            std::mem::forget(lib);
        }
        let (mut major, mut minor) = (0, 0);
        // SAFETY: the library is loaded (checked above); out-pointers are valid.
        let r = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
        (r == cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS).then_some((major, minor))
    })
}

/// The driver's CUDA version (e.g. 13000), after initialising it.
pub fn driver_version() -> Result<i32, CudaError> {
    // SAFETY: cudarc panics on a missing libcuda unless this is checked first.
    if !unsafe { sys::is_culib_present() } {
        return Err(CudaError::NoDriver);
    }
    cudarc::driver::result::init()?;
    let mut v = 0;
    // SAFETY: the driver is loaded and initialised; `v` is a valid out-pointer.
    let r = unsafe { sys::cuDriverGetVersion(&mut v) };
    if r != sys::CUresult::CUDA_SUCCESS {
        return Err(CudaError::Driver(format!("cuDriverGetVersion: {r:?}")));
    }
    Ok(v)
}

#[derive(Clone, Debug)]
pub struct DeviceInfo {
    pub ordinal: usize,
    pub name: String,
    pub compute: (i32, i32),
    pub memory: usize,
}

impl DeviceInfo {
    pub fn arch(&self) -> String {
        format!("sm_{}{}", self.compute.0, self.compute.1)
    }
}

/// The devices the driver sees.
pub fn devices() -> Result<Vec<DeviceInfo>, CudaError> {
    driver_version()?;
    let n = cudarc::driver::CudaContext::device_count()?;
    (0..n as usize)
        .map(|ordinal| {
            let ctx = cudarc::driver::CudaContext::new(ordinal)?;
            Ok(DeviceInfo { ordinal, name: ctx.name()?, compute: ctx.compute_capability()?, memory: ctx.total_mem()? })
        })
        .collect()
}

/// The device training would compile the kernels for, when none of its kernels are cached
/// yet (a first start then takes seconds longer: worth saying before it does).
pub fn first_start() -> Option<DeviceInfo> {
    available().ok().filter(|d| !kernels::all_cached(&d.arch()))
}

/// Whether this machine can train on CUDA: the device it would use, or why not.
pub fn available() -> Result<DeviceInfo, CudaError> {
    let v = driver_version()?;
    if v < REQUIRED_DRIVER {
        return Err(CudaError::OldDriver(v));
    }
    let first = devices()?.into_iter().next().ok_or(CudaError::NoDevice)?;
    nvrtc_version().ok_or(CudaError::NoNvrtc)?;
    Ok(first)
}
