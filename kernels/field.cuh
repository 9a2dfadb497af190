// The neural field, as src/field: a signed distance (prior sphere + hash grid + MLP) with
// finite-difference gradients from a tetrahedron of four evaluations, a colour network on
// top, and the NeRF++ background beyond the unit sphere. A training sample's forward pass
// keeps what its backward pass needs (KEPT_FLOATS below) in device memory rather than in the
// thread, whose arrays stay small enough for registers; the background's small networks are
// evaluated again in their backward pass.
// One thread evaluates one sample; compositing along rays happens in trace.cu.
#pragma once
#include "common.cuh"
#include "hashgrid.cuh"
#include "mlp.cuh"
#include "sh.cuh"

#define GEO_FEATURES 15
#define SDF_OUT (1 + GEO_FEATURES)
#define GRID_MAX_IN (GRID_MAX_LEVELS * GRID_FEATURES)
#define SDF_MAX_IN (3 + GRID_MAX_IN)
#define COLOR_IN (3 + SH_COEFFS + GEO_FEATURES)
// Widest hidden layer of the SDF and colour networks.
#define MLP_MAX_WIDTH 64
#define BG_SAMPLES 16
// Inverse distance of the last, opaque background sample: in effect infinity (background::FAR_U).
#define BG_FAR_U 1e-4f
#define BG_FAR_LEVELS 2  // hash levels the sample at infinity reads (background::FAR_LEVELS)
#define BG_FEATURES 15
#define BG_GRID_LEVELS 8  // background::GRID's levels
#define BG_IN (BG_GRID_LEVELS * GRID_FEATURES)
#define BG_COLOR_IN (BG_FEATURES + SH_COEFFS)
#define BG_HIDDEN 32  // background::HIDDEN

// The networks' capacities (abi.rs's NetCaps, checked against these by the host build's
// field_caps).
typedef Net<SDF_MAX_IN, MLP_MAX_WIDTH, 1, SDF_OUT> SdfNet;
typedef Net<COLOR_IN, MLP_MAX_WIDTH, 2, 3> ColorNet;
typedef Net<BG_IN, BG_HIDDEN, 1, 1 + BG_FEATURES> BgDensityNet;
typedef Net<BG_COLOR_IN, BG_HIDDEN, 1, 3> BgColorNet;

struct FieldDesc {
    GridDesc grid;
    GridDesc bg_grid;
    Mlp sdf, color, bg_density, bg_color;
    float orientation, init_radius;
    int background;   // 0: no background field, every slot invalid
    int view_coeffs;  // SH coefficients of the view direction the surface colour sees
};

// What the kernels read of the parameters: the hash tables as Rust's `Params::arrays` holds
// them, the networks packed (mlp.cuh).
struct Params {
    const float* grid;
    const float4* sdf;
    const float4* color;
    const float* bg_grid;
    const float4* bg_density;
    const float4* bg_color;
};

// Parameter arrays (the gradients) in the order of Rust's `Params::arrays`.
struct Weights {
    float* grid;
    float* sdf;
    float* color;
    float* bg_grid;
    float* bg_density;
    float* bg_color;
};

DEVICE void tetra(int k, float* v) {
    const float T[4][3] = {{1.0f, -1.0f, -1.0f}, {-1.0f, -1.0f, 1.0f}, {-1.0f, 1.0f, -1.0f}, {1.0f, 1.0f, 1.0f}};
    v[0] = T[k][0];
    v[1] = T[k][1];
    v[2] = T[k][2];
}

DEVICE float prior(const FieldDesc& f, const float* x, float* grad) {
    float r = fmaxf(sqrtf(dot3(x, x)), 1e-9f);
    for (int a = 0; a < 3; ++a) grad[a] = f.orientation * x[a] / r;
    return f.orientation * (r - f.init_radius);
}

DEVICE void sdf_input(const FieldDesc& f, const Params& p, const float* x, int active,
                      float (&input)[SDF_MAX_IN]) {
    for (int a = 0; a < 3; ++a) input[a] = x[a];
    float u[3] = {(x[0] + 1.0f) * 0.5f, (x[1] + 1.0f) * 0.5f, (x[2] + 1.0f) * 0.5f};
    grid_encode<GRID_MAX_LEVELS>(f.grid, p.grid, u, active, input + 3);
}

// The signed distance at the position an SDF input holds (sdf_input) and the network's first
// KEEP outputs (features after the distance); with a base, `hidden` keeps its hidden layer.
template <int KEEP>
DEVICE float sdf_of(const FieldDesc& f, const Params& p, const float (&input)[SDF_MAX_IN], float (&out)[KEEP],
                    const Strided& hidden) {
    mlp_output<SdfNet>(p.sdf, input, out, hidden);
    float pg[3];
    return prior(f, input, pg) + out[0];
}

// sdf_of at x.
template <int KEEP>
DEVICE float sdf_value(const FieldDesc& f, const Params& p, const float* x, int active, float (&out)[KEEP]) {
    float input[SDF_MAX_IN];
    sdf_input(f, p, x, active, input);
    return sdf_of(f, p, input, out, Strided{0, 0});
}

// SDF value, finite-difference gradient and geometry features at x.
struct Surface {
    float sdf;
    float grad[3];
    float feat[GEO_FEATURES];
};

DEVICE void tetra_point(const float* x, float h, int k, float* v, float* xk) {
    tetra(k, v);
    for (int a = 0; a < 3; ++a) xk[a] = x[a] + h * v[a];
}

// What a training sample keeps of its forward pass for its backward pass (a Strided of
// KEPT_FLOATS): its four SDF evaluations' grid features, which spare the backward pass the
// hash tables' gathers, most of its memory traffic; their hidden layers; and the colour
// network's two hidden layers. The backward pass then computes no network layer forward.
#define KEPT_FEATURES(k) ((k) * GRID_MAX_IN)
#define KEPT_SDF_HIDDEN(k) (4 * GRID_MAX_IN + (k) * MLP_MAX_WIDTH)
#define KEPT_COLOR_HIDDEN (4 * GRID_MAX_IN + 4 * MLP_MAX_WIDTH)
#define KEPT_FLOATS (KEPT_COLOR_HIDDEN + 2 * MLP_MAX_WIDTH)

// The SDF input of tetrahedron point k at xk, from the grid features `surface` kept.
DEVICE void kept_input(const Strided& kept, int k, const float* xk, float (&input)[SDF_MAX_IN]) {
    for (int a = 0; a < 3; ++a) input[a] = xk[a];
#pragma unroll
    for (int j = 0; j < GRID_MAX_IN; ++j) input[3 + j] = kept[KEPT_FEATURES(k) + j];
}

// KEEP: keeps the evaluations' grid features and hidden layers in `kept`. The four points'
// grid features are then encoded at once, each hash-table entry that several share read once
// (kept's memory holds them until their networks read them); else point by point.
template <bool KEEP>
DEVICE void surface(const FieldDesc& f, const Params& p, const float* x, float h, int active, Surface& s,
                    const Strided& kept) {
    s.sdf = 0.0f;
    for (int a = 0; a < 3; ++a) s.grad[a] = 0.0f;
    for (int i = 0; i < GEO_FEATURES; ++i) s.feat[i] = 0.0f;
    if constexpr (KEEP) {
        float u[4 * 3], v[3], xk[3];
        for (int k = 0; k < 4; ++k) {
            tetra_point(x, h, k, v, xk);
            for (int a = 0; a < 3; ++a) u[3 * k + a] = (xk[a] + 1.0f) * 0.5f;
        }
        grid_encode_points(f.grid, p.grid, u, 4, active, kept.from(KEPT_FEATURES(0)));
    }
#pragma unroll 1
    for (int k = 0; k < 4; ++k) {
        float v[3], xk[3], out[SDF_OUT], input[SDF_MAX_IN];
        tetra_point(x, h, k, v, xk);
        if constexpr (KEEP)
            kept_input(kept, k, xk, input);
        else
            sdf_input(f, p, xk, active, input);
        float val = sdf_of(f, p, input, out, KEEP ? kept.from(KEPT_SDF_HIDDEN(k)) : Strided{0, 0});
        s.sdf += 0.25f * val;
        for (int a = 0; a < 3; ++a) s.grad[a] += v[a] * val / (4.0f * h);
        for (int i = 0; i < GEO_FEATURES; ++i) s.feat[i] += 0.25f * out[1 + i];
    }
}

// From what `surface` kept, the four evaluations' networks' backward passes (they take four
// consecutive record rows from rec.row), then the hash tables' gradients of all four at once.
// With dx, writes dL/dx there.
DEVICE void surface_backward(const FieldDesc& f, const Params& p, const float* x, float h, int active, float dsdf,
                             const float* dgrad, const float* dfeat, const Strided& kept, const Weights& g,
                             const Rec& rec, float* dx) {
    float u[4 * 3], din[4 * GRID_MAX_IN];
    if (dx) dx[0] = dx[1] = dx[2] = 0.0f;
#pragma unroll 1
    for (int k = 0; k < 4; ++k) {
        float v[3], xk[3], dout[SDF_OUT], input[SDF_MAX_IN], dk[SDF_MAX_IN];
        tetra_point(x, h, k, v, xk);
        kept_input(kept, k, xk, input);
        dout[0] = 0.25f * dsdf + (dgrad[0] * v[0] + dgrad[1] * v[1] + dgrad[2] * v[2]) / (4.0f * h);
#pragma unroll
        for (int i = 0; i < GEO_FEATURES; ++i) dout[1 + i] = 0.25f * dfeat[i];
        mlp1_backward<SdfNet>(p.sdf, input, kept.from(KEPT_SDF_HIDDEN(k)), dout, Rec{rec.base, rec.rows, rec.row + k},
                              dk);
#pragma unroll
        for (int i = 0; i < GRID_MAX_IN; ++i) din[k * GRID_MAX_IN + i] = dk[3 + i];
        for (int a = 0; a < 3; ++a) u[3 * k + a] = (xk[a] + 1.0f) * 0.5f;
        if (dx) {
            // Point by point: computed for the four at once (beside their atomics), the position
            // gradients failed the parity check on an H200 while the host build passed, with
            // two-dimensional and flat arrays alike; not understood.
            float du[3], pg[3];
            grid_dx(f.grid, p.grid, u + 3 * k, active, din + k * GRID_MAX_IN, du);
            prior(f, xk, pg);
            for (int a = 0; a < 3; ++a) dx[a] += dk[a] + 0.5f * du[a] + dout[0] * pg[a];
        }
    }
    grid_backward_points(f.grid, u, 4, active, din, GRID_MAX_IN, g.grid);
}

// The colour network's input; returns the gradient's length.
DEVICE float color_input(const FieldDesc& f, const float* grad, const float* dir_sh, const float* feat,
                         float (&input)[COLOR_IN]) {
    float n = fmaxf(sqrtf(dot3(grad, grad)), 1e-6f);
    for (int a = 0; a < 3; ++a) input[a] = grad[a] / n;
#pragma unroll
    for (int i = 0; i < SH_COEFFS; ++i) input[3 + i] = i < f.view_coeffs ? dir_sh[i] : 0.0f;
#pragma unroll
    for (int i = 0; i < GEO_FEATURES; ++i) input[3 + SH_COEFFS + i] = feat[i];
    return n;
}

// The colour; with a base, `keep` receives the network's hidden layers.
DEVICE void color_value(const FieldDesc& f, const Params& p, const float* grad, const float* dir_sh,
                        const float* feat, float* rgb, const Strided& keep) {
    float input[COLOR_IN], out[3];
    color_input(f, grad, dir_sh, feat, input);
    mlp_output<ColorNet>(p.color, input, out, keep);
    for (int k = 0; k < 3; ++k) rgb[k] = sigmoidf(out[k]);
}

// From dL/drgb at the colour `rgb` the network gave for these inputs, with the hidden layers
// color_value kept: gradients of the SDF gradient, the features and the direction's SH; the
// network's in its record row.
DEVICE void color_backward(const FieldDesc& f, const Params& p, const float* grad, const float* dir_sh,
                           const float* feat, const float* rgb, const Strided& kept, const float* drgb,
                           const Rec& rec, float* dgrad, float* dfeat, float* ddir_sh) {
    float input[COLOR_IN], dout[3], din[COLOR_IN];
    float grad_norm = color_input(f, grad, dir_sh, feat, input);
    for (int k = 0; k < 3; ++k) dout[k] = drgb[k] * rgb[k] * (1.0f - rgb[k]);
    mlp2_backward<ColorNet>(p.color, input, kept, dout, rec, din);
    float ndot = dot3(din, input);
    for (int a = 0; a < 3; ++a) dgrad[a] = (din[a] - input[a] * ndot) / grad_norm;
    for (int i = 0; i < GEO_FEATURES; ++i) dfeat[i] = din[3 + SH_COEFFS + i];
    for (int i = 0; i < SH_COEFFS; ++i) ddir_sh[i] = i < f.view_coeffs ? din[3 + i] : 0.0f;
}

// --- Background (src/field/background.rs) ---

// Where the ray leaves the sphere of radius r ahead of its origin: t, and the root term.
DEVICE bool exit_distance(const float* o, const float* d, float r, float* t, float* root) {
    float b = dot3(o, d);
    float disc = b * b - (dot3(o, o) - r * r);
    if (disc <= 1e-8f) return false;
    float s = sqrtf(disc);
    *t = -b + s;
    *root = s;
    return *t > 0.0f;
}

// One of a ray's BG_SAMPLES background samples, in its slot whether or not the ray reaches
// that sphere (`valid`).
struct BgSlot {
    float t, u, raw_sigma, alpha, trans, valid;
    float g[3];
    float rgb[3];
};

// Hash levels a background sample at inverse distance u reads.
DEVICE int bg_levels(const FieldDesc& f, float u) { return u == BG_FAR_U ? BG_FAR_LEVELS : f.bg_grid.levels; }

// The background's raw density at gpos, its grid features (`input`, the density network's
// input) and the colour network's input.
DEVICE float bg_density(const FieldDesc& f, const Params& p, const float* gpos, int levels, const float* dir_sh,
                        float (&input)[BG_IN], float (&color_in)[BG_COLOR_IN]) {
    float out[1 + BG_FEATURES];
    grid_encode<BG_GRID_LEVELS>(f.bg_grid, p.bg_grid, gpos, levels, input);
    mlp_output<BgDensityNet>(p.bg_density, input, out, Strided{0, 0});
#pragma unroll
    for (int i = 0; i < BG_FEATURES; ++i) color_in[i] = out[1 + i];
#pragma unroll
    for (int i = 0; i < SH_COEFFS; ++i) color_in[BG_FEATURES + i] = dir_sh[i];
    return out[0];
}

// The background field alone (no activations kept).
DEVICE void bg_value(const FieldDesc& f, const Params& p, const float* gpos, int levels, const float* dir_sh,
                     float* raw_sigma, float* rgb) {
    float input[BG_IN], color_in[BG_COLOR_IN], c[3];
    *raw_sigma = bg_density(f, p, gpos, levels, dir_sh, input, color_in);
    mlp_output<BgColorNet>(p.bg_color, color_in, c, Strided{0, 0});
    for (int k = 0; k < 3; ++k) rgb[k] = sigmoidf(c[k]);
}

// Background sample j of a ray: where it leaves the sphere of radius 1/u, and the field there
// (alpha before the last-sample rule, which compositing applies).
DEVICE void bg_sample(const FieldDesc& f, const Params& p, const float* o, const float* d, const float* dir_sh,
                      float jitter, int j, BgSlot& b) {
    b.u = j == BG_SAMPLES - 1 ? BG_FAR_U : ((float)BG_SAMPLES - (float)j - jitter) / (float)BG_SAMPLES;
    float root;
    b.valid = f.background && exit_distance(o, d, 1.0f / b.u, &b.t, &root) ? 1.0f : 0.0f;
    if (b.valid == 0.0f) return;
    float k = b.u * (2.0f - b.u) * 0.25f;
    for (int a = 0; a < 3; ++a) b.g[a] = (o[a] + b.t * d[a]) * k + 0.5f;
    bg_value(f, p, b.g, bg_levels(f, b.u), dir_sh, &b.raw_sigma, b.rgb);
    b.alpha = 1.0f - expf(-softplusf(b.raw_sigma) * (1.0f / BG_SAMPLES));
}

// Backward of one background sample from dL/d(colour logits) `dc` and dL/d(raw density):
// the grid's gradients into g, the networks' into their record rows, and (`ray_grads`) the
// ray's gradients added into d_o, d_d, d_sh. A slot the ray does not reach (`b.valid` 0)
// records zeros.
DEVICE void bg_sample_backward(const FieldDesc& f, const Params& p, const float* o, const float* d,
                               const float* dir_sh, const BgSlot& b, const float* dc, float d_raw,
                               const Weights& g, const Rec& density_rec, const Rec& color_rec, bool ray_grads,
                               float* d_o, float* d_d, float* d_sh) {
    if (b.valid == 0.0f) {
        mlp_rec_zero(f.bg_density, density_rec);
        mlp_rec_zero(f.bg_color, color_rec);
        return;
    }
    float input[BG_IN], color_in[BG_COLOR_IN], dcolor_in[BG_COLOR_IN], din[BG_IN];
    int levels = bg_levels(f, b.u);
    bg_density(f, p, b.g, levels, dir_sh, input, color_in);
    float dcolor[3] = {dc[0], dc[1], dc[2]};
    mlp1_backward<BgColorNet>(p.bg_color, color_in, Strided{0, 0}, dcolor, color_rec, dcolor_in);
    float dout[1 + BG_FEATURES];
#pragma unroll
    for (int i = 0; i < BG_FEATURES; ++i) dout[1 + i] = dcolor_in[i];
#pragma unroll
    for (int i = 0; i < SH_COEFFS; ++i) d_sh[i] += dcolor_in[BG_FEATURES + i];
    dout[0] = d_raw;
    mlp1_backward<BgDensityNet>(p.bg_density, input, Strided{0, 0}, dout, density_rec, din);
    grid_backward_points(f.bg_grid, b.g, 1, levels, din, 0, g.bg_grid);
    if (!ray_grads) return;
    float dg[3];
    grid_dx(f.bg_grid, p.bg_grid, b.g, levels, din, dg);
    // x = o + t d on the sphere of radius r = 1/u, with t the far root.
    float k = b.u * (2.0f - b.u) * 0.25f;
    float gx[3] = {dg[0] * k, dg[1] * k, dg[2] * k};
    float t, root;
    if (!exit_distance(o, d, 1.0f / b.u, &t, &root)) return;
    float bb = dot3(o, d);
    float gd = dot3(gx, d);
    for (int a = 0; a < 3; ++a) {
        float dt_do = (-1.0f + bb / root) * d[a] - o[a] / root;
        float dt_dd = (-1.0f + bb / root) * o[a];
        d_o[a] += gx[a] + gd * dt_do;
        d_d[a] += b.t * gx[a] + gd * dt_dd;
    }
}
