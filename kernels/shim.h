// Host C++ stand-ins for the CUDA built-ins the kernels use, so that tests can build the
// kernels with a C++ compiler and run every thread in a loop (see common.cuh).
#pragma once
#include <math.h>

#define KERNEL extern "C"
#define DEVICE static inline

struct alignas(16) float4 {
    float x, y, z, w;
};

// The thread a launch loop is running; set by `weave_shim_set_thread`.
extern thread_local int weave_shim_thread;
static inline int thread_index() { return weave_shim_thread; }

// One thread at a time: a plain add is the atomic.
static inline float atomicAdd(float* p, float v) {
    float old = *p;
    *p = old + v;
    return old;
}

static inline int atomicAdd(int* p, int v) {
    int old = *p;
    *p = old + v;
    return old;
}

// A warp of one thread: its sum is its own value, and it adds it.
static inline float warp_sum(float v) { return v; }
static inline bool warp_leader() { return true; }
