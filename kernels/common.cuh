// Shared by every kernel. The kernels are written in a plain CUDA subset that also compiles
// as host C++ against shim.h (tests run them on the CPU and compare with the Rust backend):
// no shared memory, no warp intrinsics, one thread = one independent work item.
#pragma once

#ifdef __CUDACC__
#define KERNEL extern "C" __global__
#define DEVICE __device__ __forceinline__
DEVICE int thread_index() { return blockIdx.x * blockDim.x + threadIdx.x; }

// Loops that contain warp-wide operations (see mlp.cuh's outer_add) run to the warp's
// longest count, so that every lane takes part in each.
DEVICE int warp_max(int v) {
    for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
#else
#include "shim.h"
#endif

typedef unsigned long long u64;

DEVICE float dot3(const float* a, const float* b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
DEVICE float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
DEVICE float softplusf(float x) { return x > 15.0f ? x : log1pf(expf(x)); }
DEVICE float clampf(float x, float lo, float hi) { return fminf(fmaxf(x, lo), hi); }
