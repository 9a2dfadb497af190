//! `weave doctor`: what this machine offers for training.

use crate::backend::cuda;
use anyhow::{Context, Result, bail};

#[derive(clap::Args)]
pub struct Args {
    /// Also compile every CUDA kernel with NVRTC (works without a GPU).
    #[arg(long)]
    compile_kernels: bool,
    /// With --compile-kernels: each kernel's registers, stack, spills and shared memory
    /// (ptxas -v; slower).
    #[arg(long, requires = "compile_kernels")]
    resources: bool,
    /// Architecture to compile for (default: the first device's, else sm_90).
    #[arg(long, value_name = "sm_XY")]
    arch: Option<String>,
    /// Run every kernel on the GPU against the CPU backend and report the differences.
    #[arg(long)]
    parity: bool,
}

pub fn run(args: Args) -> Result<()> {
    println!("CPU: {} threads", rayon::current_num_threads());
    match cuda::driver_version() {
        Ok(v) => println!("CUDA driver: CUDA {}.{}", v / 1000, (v % 1000) / 10),
        Err(e) => println!("CUDA driver: {e}"),
    }
    let devices = cuda::devices().unwrap_or_default();
    for d in &devices {
        println!("  device {}: {} ({}, {:.1} GiB)", d.ordinal, d.name, d.arch(), d.memory as f64 / (1u64 << 30) as f64);
    }
    match cuda::nvrtc_version() {
        Some((a, b)) => println!("NVRTC: {a}.{b}"),
        None => println!("NVRTC: {}", cuda::CudaError::NoNvrtc),
    }
    if let Ok(flags) = std::env::var(cuda::kernels::FLAGS_VAR) {
        println!("NVRTC options from {}: {flags}", cuda::kernels::FLAGS_VAR);
    }
    match cuda::available() {
        Ok(d) => println!("backend: CUDA on {} (device {})", d.name, d.ordinal),
        Err(e) => println!("backend: CPU ({e})"),
    }
    if args.compile_kernels {
        let arch = args.arch.or_else(|| devices.first().map(|d| d.arch())).unwrap_or_else(|| cuda::DEFAULT_ARCH.into());
        compile_kernels(&arch, args.resources)?;
    }
    if args.parity {
        parity()?;
    }
    Ok(())
}

fn compile_kernels(arch: &str, resources: bool) -> Result<()> {
    let mut failed = 0;
    for (unit, kernels) in cuda::kernels::UNITS {
        let started = std::time::Instant::now();
        match cuda::kernels::compile(unit, arch, false) {
            Ok(ptx) => println!(
                "  {unit} for {arch}: ok in {:.1} s ({} KiB of PTX; {})",
                started.elapsed().as_secs_f64(),
                ptx.len() / 1024,
                kernels.join(", ")
            ),
            Err(e) => {
                failed += 1;
                println!("  {e}");
            }
        }
        if !resources {
            continue;
        }
        match cuda::kernels::resources(unit, arch) {
            Ok(kernels) => {
                for k in kernels {
                    println!(
                        "    {:<20} {:>3} registers, {:>4} B stack ({} B spilled, {} B reloaded), {} B shared",
                        k.kernel, k.registers, k.stack_bytes, k.spill_stores, k.spill_loads, k.shared_bytes
                    );
                }
            }
            Err(e) => println!("    {e}"),
        }
    }
    if failed > 0 {
        bail!("{failed} kernel unit(s) failed to compile");
    }
    Ok(())
}

fn parity() -> Result<()> {
    let gpu = cuda::gpu::Gpu::open().context("--parity needs a usable CUDA device")?;
    println!("parity on {}: worst relative difference to the CPU backend", gpu.info.name);
    let diffs = cuda::parity::on_gpu(&gpu)?;
    for d in &diffs {
        let verdict = if d.ok() { "ok" } else { "FAIL" };
        println!("  {:<20} {:10.3e}  (bound {:.1e}) {verdict}", d.what, d.worst, d.bound);
    }
    let failed = diffs.iter().filter(|d| !d.ok()).count();
    if failed > 0 {
        bail!("{failed} parity check(s) beyond their bounds");
    }
    Ok(())
}
