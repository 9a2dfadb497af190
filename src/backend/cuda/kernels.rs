//! The kernels' sources, embedded in the binary, and their compilation by NVRTC for a GPU
//! architecture. Compiled PTX is cached on disk, keyed by the source's hash, the
//! architecture and the NVRTC version, so a run starts without recompiling.

use super::CudaError;
use std::path::{Path, PathBuf};

/// Every compilation unit (`kernels/*.cu`) and the kernels it defines.
pub const UNITS: &[(&str, &[&str])] = &[
    ("trace.cu", &super::abi::BATCH_KERNELS),
    ("rays.cu", &["draw_rays", "reduce_rays"]),
    ("optim.cu", &["adam_step", "pack_mlp"]),
    ("occupancy.cu", &["occupancy_update"]),
    ("queries.cu", &["sdf_query", "color_query"]),
];

const FILES: &[(&str, &str)] = &[
    ("common.cuh", include_str!("../../../kernels/common.cuh")),
    ("shim.h", include_str!("../../../kernels/shim.h")),
    ("hashgrid.cuh", include_str!("../../../kernels/hashgrid.cuh")),
    ("mlp.cuh", include_str!("../../../kernels/mlp.cuh")),
    ("sh.cuh", include_str!("../../../kernels/sh.cuh")),
    ("field.cuh", include_str!("../../../kernels/field.cuh")),
    ("rays.cuh", include_str!("../../../kernels/rays.cuh")),
    ("trace.cu", include_str!("../../../kernels/trace.cu")),
    ("rays.cu", include_str!("../../../kernels/rays.cu")),
    ("optim.cu", include_str!("../../../kernels/optim.cu")),
    ("occupancy.cu", include_str!("../../../kernels/occupancy.cu")),
    ("queries.cu", include_str!("../../../kernels/queries.cu")),
];

/// A unit's source with its `#include "…"` of other kernel files expanded in place, each
/// file once (NVRTC sees a single file: the binary carries no kernel folder).
pub fn source(unit: &str) -> Result<String, CudaError> {
    fn expand(name: &str, seen: &mut Vec<String>, out: &mut String) -> Result<(), CudaError> {
        if seen.iter().any(|s| s == name) {
            return Ok(());
        }
        seen.push(name.to_string());
        let text = FILES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| CudaError::Kernel(format!("unknown kernel file {name}")))?;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix("#include \"") {
                let inc = rest.trim_end().trim_end_matches('"');
                expand(inc, seen, out)?;
            } else if trimmed != "#pragma once" {
                out.push_str(line);
                out.push('\n');
            }
        }
        Ok(())
    }
    let mut out = String::new();
    expand(unit, &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// FNV-1a: a stable hash for cache keys (std's hasher may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("weave").join("kernels"))
}

/// Extra NVRTC options from the environment: `-D` settings that the kernels leave open for
/// tuning on a GPU, such as the register budgets of trace.cu's per-sample kernels.
pub const FLAGS_VAR: &str = "WEAVE_NVRTC_FLAGS";

fn flags() -> Vec<String> {
    std::env::var(FLAGS_VAR).unwrap_or_default().split_whitespace().map(String::from).collect()
}

/// A unit's PTX file in the cache folder `dir`: named by its source and options, the
/// architecture and the NVRTC version.
fn cache_file(dir: &Path, unit: &str, src: &str, arch: &str, version: (i32, i32)) -> PathBuf {
    let (name, hash) = (unit.trim_end_matches(".cu"), fnv1a(format!("{src}{:?}", flags()).as_bytes()));
    dir.join(format!("{name}-{hash:016x}-{arch}-nvrtc{}.{}.ptx", version.0, version.1))
}

/// Whether every unit for `arch` is in the cache folder `dir` (else opening the GPU compiles
/// them, which takes seconds: worth saying).
pub fn all_cached_in(dir: &Path, arch: &str) -> bool {
    let Some(version) = super::nvrtc_version() else { return false };
    UNITS.iter().all(|(unit, _)| source(unit).is_ok_and(|src| cache_file(dir, unit, &src, arch, version).is_file()))
}

/// [`all_cached_in`] the user's cache.
pub fn all_cached(arch: &str) -> bool {
    cache_dir().is_some_and(|d| all_cached_in(&d, arch))
}

/// Compiles one unit to PTX for `arch` (such as "sm_90"); `cache` reads and writes the disk
/// cache. NVRTC must be loadable (see [`super::nvrtc_version`]).
pub fn compile(unit: &str, arch: &str, cache: bool) -> Result<String, CudaError> {
    compile_with(unit, arch, cache.then(cache_dir).flatten().as_deref())
}

/// [`compile`] with its cache in the folder `cache` (none: no cache).
fn compile_with(unit: &str, arch: &str, cache: Option<&Path>) -> Result<String, CudaError> {
    let src = source(unit)?;
    let version = super::nvrtc_version().ok_or(CudaError::NoNvrtc)?;
    let path = cache.map(|d| cache_file(d, unit, &src, arch, version));
    if let Some(ptx) = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        return Ok(ptx);
    }
    let opts = cudarc::nvrtc::CompileOptions {
        options: [format!("--gpu-architecture={arch}"), "--std=c++17".into()].into_iter().chain(flags()).collect(),
        name: Some(unit.to_string()),
        ..Default::default()
    };
    let ptx = cudarc::nvrtc::compile_ptx_with_opts(&src, opts).map_err(|e| match e {
        cudarc::nvrtc::CompileError::CompileError { log, .. } => {
            CudaError::Kernel(format!("{unit} does not compile for {arch}:\n{}", log.to_string_lossy()))
        }
        other => CudaError::Kernel(format!("{unit}: {other:?}")),
    })?;
    let text = ptx.to_src();
    if let Some(p) = path {
        // A cache that cannot be written only costs the next start a compilation.
        if let Some(dir) = p.parent()
            && std::fs::create_dir_all(dir).is_ok()
        {
            let tmp = p.with_extension("tmp");
            if std::fs::write(&tmp, &text).is_ok() {
                let _ = std::fs::rename(&tmp, &p);
            }
        }
    }
    Ok(text)
}

/// What ptxas made of one kernel: per thread, its registers, its stack frame in local memory
/// and the spills among it; per block, its shared memory. A network's activations that do
/// not fit in registers show up as stack and spills, which the GPU waits on.
#[derive(Clone, Debug, PartialEq)]
pub struct Resources {
    pub kernel: String,
    pub registers: u32,
    pub stack_bytes: u32,
    pub spill_stores: u32,
    pub spill_loads: u32,
    pub shared_bytes: u32,
}

/// Compiles one unit for `arch` (a real architecture, such as "sm_90") through to machine code
/// and reports each kernel's [`Resources`] (ptxas -v). No GPU needed.
pub fn resources(unit: &str, arch: &str) -> Result<Vec<Resources>, CudaError> {
    use cudarc::nvrtc::result;
    let src = std::ffi::CString::new(source(unit)?).map_err(|e| CudaError::Kernel(e.to_string()))?;
    let nvrtc = |e: result::NvrtcError| CudaError::Kernel(format!("{unit}: {e:?}"));
    let prog = result::create_program(&src, None).map_err(nvrtc)?;
    let options: Vec<String> =
        [format!("--gpu-architecture={arch}"), "--std=c++17".into(), "--ptxas-options=-v".into()]
            .into_iter()
            .chain(flags())
            .collect();
    // SAFETY: `prog` was created above from `src`, which outlives it, and is destroyed once.
    let log = unsafe {
        let compiled = result::compile_program(prog, &options);
        let log = result::get_program_log(prog);
        let _ = result::destroy_program(prog);
        compiled.map_err(nvrtc)?;
        log.map_err(nvrtc)?
    };
    let log: Vec<u8> = log.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    Ok(parse_ptxas(&String::from_utf8_lossy(&log)))
}

/// The kernels' resources from ptxas's verbose report.
fn parse_ptxas(log: &str) -> Vec<Resources> {
    // The numbers in a line, in order ("56 bytes stack frame, 60 bytes spill stores, ...").
    let numbers =
        |line: &str| -> Vec<u32> { line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect() };
    let mut out: Vec<Resources> = Vec::new();
    for line in log.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let kernel = rest.split('\'').next().unwrap_or_default().to_string();
            out.push(Resources {
                kernel,
                registers: 0,
                stack_bytes: 0,
                spill_stores: 0,
                spill_loads: 0,
                shared_bytes: 0,
            });
        } else if let Some(r) = out.last_mut() {
            if line.contains("bytes stack frame") {
                if let [stack, stores, loads, ..] = numbers(line)[..] {
                    (r.stack_bytes, r.spill_stores, r.spill_loads) = (stack, stores, loads);
                }
            } else if let Some(used) = line.split("Used ").nth(1) {
                r.registers = numbers(used).first().copied().unwrap_or(0);
                if let Some(smem) = used.split(", ").find(|p| p.ends_with("bytes smem")) {
                    r.shared_bytes = numbers(smem).first().copied().unwrap_or(0);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_expand_their_includes_once() {
        let src = source("trace.cu").unwrap();
        assert!(!src.contains("#include \""));
        assert_eq!(src.matches("struct GridDesc {").count(), 1);
        assert!(src.contains("KERNEL void composite"));
        for (unit, kernels) in UNITS {
            let s = source(unit).unwrap();
            for k in *kernels {
                assert!(s.contains(&format!(" void {k}(")), "{unit} lacks {k}");
            }
        }
        assert!(source("missing.cu").is_err());
    }

    #[test]
    fn ptxas_reports_are_read() {
        let log = "ptxas info    : Compiling entry function 'weight_grads' for 'sm_90'\n\
                   ptxas info    : Function properties for weight_grads\n\
                   ptxas         .     56 bytes stack frame, 60 bytes spill stores, 64 bytes spill loads\n\
                   ptxas info    : Used 72 registers, used 1 barriers, 56 bytes cumulative stack size, 16896 bytes smem\n\
                   ptxas info    : Compiling entry function 'march' for 'sm_90'\n\
                   ptxas info    : Function properties for march\n\
                   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
                   ptxas info    : Used 27 registers, used 0 barriers\n";
        let r = parse_ptxas(log);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0],
            Resources {
                kernel: "weight_grads".into(),
                registers: 72,
                stack_bytes: 56,
                spill_stores: 60,
                spill_loads: 64,
                shared_bytes: 16896
            }
        );
        assert_eq!((r[1].kernel.as_str(), r[1].registers, r[1].stack_bytes, r[1].shared_bytes), ("march", 27, 0, 0));
    }

    /// The per-sample kernels keep the networks' activations in registers (kernels/mlp.cuh):
    /// a change that sends them back to local memory fails here, without a GPU. What stack
    /// remains: backward_samples' four points' grid gradients (512 bytes, for their merged
    /// atomics), and a few spilled words.
    #[test]
    fn per_sample_kernels_keep_activations_in_registers() {
        assert!(super::super::nvrtc_version().is_some(), "{}", CudaError::NoNvrtc);
        let r = resources("trace.cu", super::super::DEFAULT_ARCH).unwrap_or_else(|e| panic!("{e}"));
        for (kernel, most) in [
            ("eval_samples", 64),
            ("eval_background", 64),
            ("backward_colors", 64),
            ("backward_samples", 768),
            ("backward_background", 64),
            ("weight_grads", 64),
        ] {
            let k = r.iter().find(|k| k.kernel == kernel).unwrap_or_else(|| panic!("no {kernel} in {r:?}"));
            assert!(k.stack_bytes <= most, "{k:?}: more than {most} bytes of stack");
            assert!(k.registers > 0, "{k:?}");
        }
    }

    /// Every unit compiles with NVRTC (no GPU needed), into the cache, where the next start
    /// finds it: the cache is complete once every unit is in it. NVRTC comes from CUDA or its
    /// pip wheel; `.ci/setup` installs the wheel and `.ci/run` says where (WEAVE_NVRTC_DIR).
    #[test]
    fn every_kernel_compiles_with_nvrtc_into_the_cache() {
        assert!(super::super::nvrtc_version().is_some(), "{}", CudaError::NoNvrtc);
        let dir = tempfile::tempdir().unwrap();
        let arch = super::super::DEFAULT_ARCH;
        for (i, (unit, kernels)) in UNITS.iter().enumerate() {
            assert!(!all_cached_in(dir.path(), arch), "complete before {unit}");
            let ptx = compile_with(unit, arch, Some(dir.path())).unwrap_or_else(|e| panic!("{e}"));
            for k in *kernels {
                assert!(ptx.contains(&format!(".entry {k}(")), "{unit}: no entry {k} in the PTX");
            }
            if i == 0 {
                // What the cache gives back is what NVRTC gave.
                assert_eq!(compile_with(unit, arch, Some(dir.path())).unwrap(), ptx);
            }
        }
        assert!(all_cached_in(dir.path(), arch));
        assert!(!all_cached_in(dir.path(), "sm_80"));
    }
}
