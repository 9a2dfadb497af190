// Shared by every kernel. The kernels are written in a plain CUDA subset that also compiles
// as host C++ against shim.h (tests run them on the CPU and compare with the Rust backend):
// one thread = one independent work item, no warp intrinsics; or, for a block-cooperative
// kernel, a block's threads sharing memory (SHARED_ARRAY) and waiting for each other
// (block_sync), which the host runs as OS threads.
#pragma once

#ifdef __CUDACC__
#define KERNEL extern "C" __global__
#define DEVICE __device__ __forceinline__
#define METHOD __device__ __forceinline__
DEVICE int thread_index() { return blockIdx.x * blockDim.x + threadIdx.x; }
DEVICE int block_index() { return blockIdx.x; }
DEVICE int thread_in_block() { return threadIdx.x; }
DEVICE void block_sync() { __syncthreads(); }
#define SHARED_ARRAY(type, name, count) __shared__ type name[count]
// A kernel launched with at most `threads` per block, compiled to fit `blocks` blocks per SM.
#define LAUNCH_BOUNDS(threads, blocks) __launch_bounds__(threads, blocks)
#else
#define LAUNCH_BOUNDS(threads, blocks)
#define METHOD inline
#include "shim.h"
#endif

typedef unsigned long long u64;

DEVICE float dot3(const float* a, const float* b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
DEVICE float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
DEVICE float softplusf(float x) { return x > 15.0f ? x : log1pf(expf(x)); }
DEVICE float clampf(float x, float lo, float hi) { return fminf(fmaxf(x, lo), hi); }

// Floats with a stride: one sample's share of a buffer that keeps consecutive samples' values
// side by side (so that a warp's loads and stores of value j are coalesced). No base: nowhere.
struct Strided {
    float* base;
    u64 stride;
    METHOD float& operator[](int j) const { return base[(u64)j * stride]; }
    METHOD Strided from(int j) const { return Strided{base ? &(*this)[j] : 0, stride}; }
};
