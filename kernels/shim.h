// Host C++ stand-ins for the CUDA built-ins the kernels use, so that tests can build the
// kernels with a C++ compiler and run them on the CPU (see common.cuh).
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

// An add under a lock: a block-cooperative kernel's threads run at once.
float weave_shim_atomic_add(float* p, float v);
static inline float atomicAdd(float* p, float v) { return weave_shim_atomic_add(p, v); }

static inline int atomicAdd(int* p, int v) {
    int old = *p;
    *p = old + v;
    return old;
}

// A block-cooperative kernel's threads run as OS threads, a block at a time
// (`weave_shim_run_block`): they share the block's memory and wait for each other.
extern thread_local int weave_shim_block, weave_shim_lane;
static inline int block_index() { return weave_shim_block; }
static inline int thread_in_block() { return weave_shim_lane; }
void weave_shim_sync();
void* weave_shim_shared(unsigned bytes);
static inline void block_sync() { weave_shim_sync(); }
#define SHARED_ARRAY(type, name, count) type* name = static_cast<type*>(weave_shim_shared(sizeof(type) * (count)))
