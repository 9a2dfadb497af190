// Multiresolution hash encoding (instant-ngp), as src/compute/cpu/hashgrid.rs: per level,
// trilinear interpolation of 2 features stored at grid corners, hashed where the grid has
// more corners than the table has entries.
#pragma once
#include "common.cuh"

#define GRID_FEATURES 2
#define GRID_MAX_LEVELS 16

// Per-level constants, computed once on the host from the Rust grid (so both backends
// index the same entries).
struct GridDesc {
    int levels;
    unsigned table;  // entries per level, a power of two
    float res[GRID_MAX_LEVELS];
    unsigned side[GRID_MAX_LEVELS];
    int dense[GRID_MAX_LEVELS];
};

struct Corners {
    unsigned index[8];
    float weight[8];
    float dweight[8][3];
};

DEVICE void grid_corners(const GridDesc& g, int level, const float* x, Corners& c) {
    float res = g.res[level];
    u64 side = g.side[level];
    long long base[3];
    float frac[3];
    for (int a = 0; a < 3; ++a) {
        float p = clampf(x[a], 0.0f, 1.0f) * res;
        float f = fmaxf(fminf(floorf(p), res - 1.0f), 0.0f);
        base[a] = (long long)f;
        frac[a] = p - f;
    }
    for (int k = 0; k < 8; ++k) {
        int o[3] = {k & 1, (k >> 1) & 1, (k >> 2) & 1};
        u64 gx = (u64)(base[0] + o[0]), gy = (u64)(base[1] + o[1]), gz = (u64)(base[2] + o[2]);
        u64 idx = g.dense[level] ? gx + side * (gy + side * gz)
                                 : (gx ^ (gy * 2654435761ull) ^ (gz * 805459861ull)) & (u64)(g.table - 1);
        c.index[k] = (unsigned)((u64)level * g.table + idx);
        float w[3], dw[3];
        for (int a = 0; a < 3; ++a) {
            w[a] = o[a] ? frac[a] : 1.0f - frac[a];
            dw[a] = o[a] ? res : -res;
        }
        c.weight[k] = w[0] * w[1] * w[2];
        c.dweight[k][0] = dw[0] * w[1] * w[2];
        c.dweight[k][1] = w[0] * dw[1] * w[2];
        c.dweight[k][2] = w[0] * w[1] * dw[2];
    }
}

// Features of x in [0, 1]^3 into out (levels x 2); levels from `active` on are zero.
DEVICE void grid_encode(const GridDesc& g, const float* params, const float* x, int active, float* out) {
    for (int i = 0; i < g.levels * GRID_FEATURES; ++i) out[i] = 0.0f;
    int n = active < g.levels ? active : g.levels;
    for (int level = 0; level < n; ++level) {
        Corners c;
        grid_corners(g, level, x, c);
        for (int k = 0; k < 8; ++k) {
            const float* e = params + (u64)c.index[k] * GRID_FEATURES;
            for (int f = 0; f < GRID_FEATURES; ++f) out[level * GRID_FEATURES + f] += c.weight[k] * e[f];
        }
    }
}

// Adds an entry's two feature gradients: one vector atomic where the device has them
// (compute capability 9.0 on): half the atomics of the hash grid's backward pass.
DEVICE void atomic_add_pair(float* p, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    atomicAdd(reinterpret_cast<float2*>(p), make_float2(a, b));
#else
    atomicAdd(p, a);
    atomicAdd(p + 1, b);
#endif
}

// Adds dL/dparams into grad (atomically: rays share entries); writes dL/dx into dx.
DEVICE void grid_backward(const GridDesc& g, const float* params, const float* x, int active, const float* dout,
                          float* grad, float* dx) {
    dx[0] = dx[1] = dx[2] = 0.0f;
    int inside[3];
    for (int a = 0; a < 3; ++a) inside[a] = x[a] >= 0.0f && x[a] <= 1.0f;
    int n = active < g.levels ? active : g.levels;
    for (int level = 0; level < n; ++level) {
        Corners c;
        grid_corners(g, level, x, c);
        const float* d = dout + level * GRID_FEATURES;
        if (d[0] == 0.0f && d[1] == 0.0f) continue;
        for (int k = 0; k < 8; ++k) {
            u64 i = (u64)c.index[k] * GRID_FEATURES;
            atomic_add_pair(grad + i, c.weight[k] * d[0], c.weight[k] * d[1]);
            for (int f = 0; f < GRID_FEATURES; ++f)
                for (int a = 0; a < 3; ++a)
                    if (inside[a]) dx[a] += c.dweight[k][a] * params[i + f] * d[f];
        }
    }
}
