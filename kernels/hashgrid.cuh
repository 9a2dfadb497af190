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

// Features of x in [0, 1]^3 into out (L levels x 2, L the grid's capacity: loops over it
// unroll, so that out may live in registers); levels from `active` (or the grid's own
// count) on are zero.
template <int L>
DEVICE void grid_encode(const GridDesc& g, const float* params, const float* x, int active, float* out) {
    int n = active < g.levels ? active : g.levels;
#pragma unroll
    for (int level = 0; level < L; ++level) {
        out[level * GRID_FEATURES] = out[level * GRID_FEATURES + 1] = 0.0f;
        if (level >= n) continue;
        Corners c;
        grid_corners(g, level, x, c);
#pragma unroll
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

// The lower corner of x's cell at a level (grid_corners' base).
DEVICE void grid_cell(const GridDesc& g, int level, const float* x, long long* base) {
    float res = g.res[level];
    for (int a = 0; a < 3; ++a) base[a] = (long long)fmaxf(fminf(floorf(clampf(x[a], 0.0f, 1.0f) * res), res - 1.0f), 0.0f);
}

// Whether the `points` positions at x all lie in one cell of a level.
DEVICE bool grid_shared_cell(const GridDesc& g, int level, const float* x, int points) {
    long long first[3], other[3];
    grid_cell(g, level, x, first);
    for (int p = 1; p < points; ++p) {
        grid_cell(g, level, x + 3 * p, other);
        if (other[0] != first[0] || other[1] != first[1] || other[2] != first[2]) return false;
    }
    return true;
}

// grid_encode of `points` positions at once, into out (point p's feature j at
// out[p * GRID_MAX_LEVELS * GRID_FEATURES + j]). Where every point lies in the same cell of a
// level (the coarse levels, for the finite-difference tetrahedron's four), the cell's eight
// entries are read once for all of them, not once per point.
DEVICE void grid_encode_points(const GridDesc& g, const float* params, const float* x, int points, int active,
                               const Strided& out) {
    int n = active < g.levels ? active : g.levels;
#pragma unroll 1
    for (int level = 0; level < GRID_MAX_LEVELS; ++level) {
        bool shared = level < n && grid_shared_cell(g, level, x, points);
        float e[8][GRID_FEATURES];
        for (int p = 0; p < points; ++p) {
            float acc[GRID_FEATURES] = {0.0f, 0.0f};
            if (level < n) {
                Corners c;
                grid_corners(g, level, x + 3 * p, c);
                if (p == 0 || !shared)
                    for (int k = 0; k < 8; ++k)
                        for (int f = 0; f < GRID_FEATURES; ++f) e[k][f] = params[(u64)c.index[k] * GRID_FEATURES + f];
                for (int k = 0; k < 8; ++k)
                    for (int f = 0; f < GRID_FEATURES; ++f) acc[f] += c.weight[k] * e[k][f];
            }
            for (int f = 0; f < GRID_FEATURES; ++f) out[p * GRID_MAX_LEVELS * GRID_FEATURES + level * GRID_FEATURES + f] = acc[f];
        }
    }
}

// The hash tables' gradients from `points` encodings at once (the finite-difference
// tetrahedron's four), added into grad atomically (rays share entries). Where every point lies
// in the same cell of a level (the coarse levels: the points are a fraction of a fine cell
// apart), their gradients are summed first and each corner takes one atomic instead of one
// per point. Levels are not unrolled: their work is gathers and atomics, not registers'.
DEVICE void grid_backward_points(const GridDesc& g, const float* x, int points, int active, const float* dout,
                                 int dout_stride, float* grad) {
    int n = active < g.levels ? active : g.levels;
#pragma unroll 1
    for (int level = 0; level < n; ++level) {
        bool shared = grid_shared_cell(g, level, x, points);
        float sum[8][GRID_FEATURES];
        for (int k = 0; k < 8; ++k) sum[k][0] = sum[k][1] = 0.0f;
        Corners c;
        bool any = false;
        for (int p = 0; p < points; ++p) {
            const float* d = dout + p * dout_stride + level * GRID_FEATURES;
            if (d[0] == 0.0f && d[1] == 0.0f) continue;
            any = true;
            grid_corners(g, level, x + 3 * p, c);
            for (int k = 0; k < 8; ++k) {
                if (shared) {
                    sum[k][0] += c.weight[k] * d[0];
                    sum[k][1] += c.weight[k] * d[1];
                } else {
                    atomic_add_pair(grad + (u64)c.index[k] * GRID_FEATURES, c.weight[k] * d[0], c.weight[k] * d[1]);
                }
            }
        }
        if (shared && any)  // c: the last point's corners, which are every point's
            for (int k = 0; k < 8; ++k)
                if (sum[k][0] != 0.0f || sum[k][1] != 0.0f)
                    atomic_add_pair(grad + (u64)c.index[k] * GRID_FEATURES, sum[k][0], sum[k][1]);
    }
}

// dL/dx of one encoding from dL/d(its features) (pose refinement's share of the backward
// pass). Levels are not unrolled, as in grid_backward_points.
DEVICE void grid_dx(const GridDesc& g, const float* params, const float* x, int active, const float* dout, float* dx) {
    int inside[3];
    for (int a = 0; a < 3; ++a) {
        inside[a] = x[a] >= 0.0f && x[a] <= 1.0f;
        dx[a] = 0.0f;
    }
    int n = active < g.levels ? active : g.levels;
#pragma unroll 1
    for (int level = 0; level < n; ++level) {
        const float* d = dout + level * GRID_FEATURES;
        if (d[0] == 0.0f && d[1] == 0.0f) continue;
        Corners c;
        grid_corners(g, level, x, c);
        for (int k = 0; k < 8; ++k) {
            const float* e = params + (u64)c.index[k] * GRID_FEATURES;
            for (int f = 0; f < GRID_FEATURES; ++f)
                for (int a = 0; a < 3; ++a)
                    if (inside[a]) dx[a] += c.dweight[k][a] * e[f] * d[f];
        }
    }
}
