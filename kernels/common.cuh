// Shared by every kernel. The kernels are written in a plain CUDA subset that also compiles
// as host C++ against shim.h (tests run them on the CPU and compare with the Rust backend):
// no shared memory, one thread = one independent work item, and no warp intrinsics but a
// sum over a warp, for which the host's warp is one thread.
#pragma once

#ifdef __CUDACC__
#define KERNEL extern "C" __global__
#define DEVICE __device__ __forceinline__
#define METHOD __device__ __forceinline__
DEVICE int thread_index() { return blockIdx.x * blockDim.x + threadIdx.x; }

// The sum of v over the warp's lanes (every lane must take part), and the lane that adds it.
DEVICE float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
DEVICE bool warp_leader() { return (threadIdx.x & 31) == 0; }
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
