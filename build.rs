//! Builds the CUDA kernels as host C++ (with `kernels/shim.h` standing in for the CUDA
//! built-ins), so that unit tests run every kernel on the CPU and compare it with the Rust
//! backend. The GPU build of the same sources happens at run time, through NVRTC.

fn main() {
    let kernels =
        ["kernels/trace.cu", "kernels/rays.cu", "kernels/optim.cu", "kernels/occupancy.cu", "kernels/queries.cu"];
    println!("cargo:rerun-if-changed=kernels");
    cc::Build::new()
        .cpp(true)
        .flag("-std=c++17")
        // `#pragma unroll` is for NVRTC; the host compiler has no use for it.
        .flag("-Wno-unknown-pragmas")
        .flag("-x")
        .flag("c++")
        .include("kernels")
        .opt_level(2)
        .warnings(true)
        .file("kernels/shim.cpp")
        .files(kernels)
        .compile("weave_kernels_host");
}
