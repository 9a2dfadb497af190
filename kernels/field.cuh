// The neural field, as src/field: a signed distance (prior sphere + hash grid + MLP) with
// finite-difference gradients from a tetrahedron of four evaluations, a colour network on
// top, and the NeRF++ background beyond the unit sphere. Forward passes keep no activations
// (mlp_output); backward passes recompute, one network evaluation at a time, the activations
// they need: a thread's memory stays small.
// One thread evaluates one sample; compositing along rays happens in trace.cu.
#pragma once
#include "common.cuh"
#include "hashgrid.cuh"
#include "mlp.cuh"
#include "sh.cuh"

#define GEO_FEATURES 15
#define SDF_OUT (1 + GEO_FEATURES)
#define SDF_MAX_IN (3 + GRID_MAX_LEVELS * GRID_FEATURES)
#define COLOR_IN (3 + SH_COEFFS + GEO_FEATURES)
#define BG_SAMPLES 16
// Inverse distance of the last, opaque background sample: in effect infinity (background::FAR_U).
#define BG_FAR_U 1e-4f
#define BG_FAR_LEVELS 2  // hash levels the sample at infinity reads (background::FAR_LEVELS)
#define BG_FEATURES 15
#define BG_MAX_IN (GRID_MAX_LEVELS * GRID_FEATURES)

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

// One SDF network evaluation, kept for its backward pass.
struct SdfEval {
    float x[3];
    float input[SDF_MAX_IN];
    float acts[MLP_MAX_ACTS];
};

DEVICE float prior(const FieldDesc& f, const float* x, float* grad) {
    float r = fmaxf(sqrtf(dot3(x, x)), 1e-9f);
    for (int a = 0; a < 3; ++a) grad[a] = f.orientation * x[a] / r;
    return f.orientation * (r - f.init_radius);
}

DEVICE void sdf_input(const FieldDesc& f, const Params& p, const float* x, int active, float* input) {
    for (int a = 0; a < 3; ++a) input[a] = x[a];
    float u[3] = {(x[0] + 1.0f) * 0.5f, (x[1] + 1.0f) * 0.5f, (x[2] + 1.0f) * 0.5f};
    grid_encode(f.grid, p.grid, u, active, input + 3);
}

// The signed distance at x and the network's first `keep` outputs (features after the
// distance), without the activations a backward pass needs.
DEVICE float sdf_value(const FieldDesc& f, const Params& p, const float* x, int active, int keep, float* out) {
    float input[SDF_MAX_IN];
    sdf_input(f, p, x, active, input);
    mlp_output(f.sdf, p.sdf, input, keep, out);
    float pg[3];
    return prior(f, x, pg) + out[0];
}

DEVICE float sdf_eval(const FieldDesc& f, const Params& p, const float* x, int active, SdfEval& e) {
    for (int a = 0; a < 3; ++a) e.x[a] = x[a];
    sdf_input(f, p, x, active, e.input);
    mlp_forward(f.sdf, p.sdf, e.input, e.acts);
    float pg[3];
    return prior(f, x, pg) + e.acts[mlp_act_count(f.sdf) - SDF_OUT];
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

DEVICE void surface(const FieldDesc& f, const Params& p, const float* x, float h, int active, Surface& s) {
    s.sdf = 0.0f;
    for (int a = 0; a < 3; ++a) s.grad[a] = 0.0f;
    for (int i = 0; i < GEO_FEATURES; ++i) s.feat[i] = 0.0f;
    for (int k = 0; k < 4; ++k) {
        float v[3], xk[3], out[SDF_OUT];
        tetra_point(x, h, k, v, xk);
        float val = sdf_value(f, p, xk, active, SDF_OUT, out);
        s.sdf += 0.25f * val;
        for (int a = 0; a < 3; ++a) s.grad[a] += v[a] * val / (4.0f * h);
        for (int i = 0; i < GEO_FEATURES; ++i) s.feat[i] += 0.25f * out[1 + i];
    }
}

// Recomputes each of the four evaluations with its activations just before its network's
// backward pass (they take four consecutive record rows from rec.row), then the hash tables'
// gradients of all four at once. With dx, writes dL/dx there.
DEVICE void surface_backward(const FieldDesc& f, const Params& p, const float* x, float h, int active, float dsdf,
                             const float* dgrad, const float* dfeat, const Weights& g, const Rec& rec, float* dx) {
    float u[4 * 3], din[4 * SDF_MAX_IN];
    if (dx) dx[0] = dx[1] = dx[2] = 0.0f;
    for (int k = 0; k < 4; ++k) {
        float v[3], xk[3], dout[SDF_OUT];
        tetra_point(x, h, k, v, xk);
        SdfEval e;
        sdf_eval(f, p, xk, active, e);
        dout[0] = 0.25f * dsdf + (dgrad[0] * v[0] + dgrad[1] * v[1] + dgrad[2] * v[2]) / (4.0f * h);
        for (int i = 0; i < GEO_FEATURES; ++i) dout[1 + i] = 0.25f * dfeat[i];
        float* dk = din + k * SDF_MAX_IN;
        mlp_backward(f.sdf, p.sdf, e.input, e.acts, dout, Rec{rec.base, rec.rows, rec.row + k}, dk);
        for (int a = 0; a < 3; ++a) u[3 * k + a] = (xk[a] + 1.0f) * 0.5f;
        if (dx) {
            // Point by point: computed for the four at once (beside their atomics), the position
            // gradients failed the parity check on an H200 while the host build passed, with
            // two-dimensional and flat arrays alike; not understood.
            float du[3], pg[3];
            grid_dx(f.grid, p.grid, u + 3 * k, active, dk + 3, du);
            prior(f, xk, pg);
            for (int a = 0; a < 3; ++a) dx[a] += dk[a] + 0.5f * du[a] + dout[0] * pg[a];
        }
    }
    grid_backward_points(f.grid, u, 4, active, din + 3, SDF_MAX_IN, g.grid);
}

struct ColorEval {
    float input[COLOR_IN];
    float acts[MLP_MAX_ACTS];
    float rgb[3];
    float normal[3];
    float grad_norm;
};

// The colour network's input; returns the gradient's length.
DEVICE float color_input(const FieldDesc& f, const float* grad, const float* dir_sh, const float* feat,
                         float* input) {
    float n = fmaxf(sqrtf(dot3(grad, grad)), 1e-6f);
    for (int a = 0; a < 3; ++a) input[a] = grad[a] / n;
    for (int i = 0; i < SH_COEFFS; ++i) input[3 + i] = i < f.view_coeffs ? dir_sh[i] : 0.0f;
    for (int i = 0; i < GEO_FEATURES; ++i) input[3 + SH_COEFFS + i] = feat[i];
    return n;
}

// The colour alone (no activations kept).
DEVICE void color_value(const FieldDesc& f, const Params& p, const float* grad, const float* dir_sh,
                        const float* feat, float* rgb) {
    float input[COLOR_IN], out[3];
    color_input(f, grad, dir_sh, feat, input);
    mlp_output(f.color, p.color, input, 3, out);
    for (int k = 0; k < 3; ++k) rgb[k] = sigmoidf(out[k]);
}

DEVICE void color(const FieldDesc& f, const Params& p, const float* grad, const float* dir_sh, const float* feat,
                  ColorEval& e) {
    e.grad_norm = color_input(f, grad, dir_sh, feat, e.input);
    for (int a = 0; a < 3; ++a) e.normal[a] = e.input[a];
    mlp_forward(f.color, p.color, e.input, e.acts);
    int out = mlp_act_count(f.color) - 3;
    for (int k = 0; k < 3; ++k) e.rgb[k] = sigmoidf(e.acts[out + k]);
}

// From dL/drgb: gradients of the SDF gradient, the features and the direction's SH; the
// network's in its record row.
DEVICE void color_backward(const FieldDesc& f, const Params& p, const ColorEval& e, const float* drgb,
                           const Rec& rec, float* dgrad, float* dfeat, float* ddir_sh) {
    float dout[3], din[COLOR_IN];
    for (int k = 0; k < 3; ++k) dout[k] = drgb[k] * e.rgb[k] * (1.0f - e.rgb[k]);
    mlp_backward(f.color, p.color, e.input, e.acts, dout, rec, din);
    float ndot = dot3(din, e.normal);
    for (int a = 0; a < 3; ++a) dgrad[a] = (din[a] - e.normal[a] * ndot) / e.grad_norm;
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

struct BgEval {
    float density_in[BG_MAX_IN];
    float density_acts[MLP_MAX_ACTS];
    float color_in[BG_FEATURES + SH_COEFFS];
    float color_acts[MLP_MAX_ACTS];
};

// Hash levels a background sample at inverse distance u reads.
DEVICE int bg_levels(const FieldDesc& f, float u) { return u == BG_FAR_U ? BG_FAR_LEVELS : f.bg_grid.levels; }

DEVICE void bg_eval(const FieldDesc& f, const Params& p, const float* gpos, int levels, const float* dir_sh,
                    BgEval& e, float* raw_sigma, float* rgb) {
    grid_encode(f.bg_grid, p.bg_grid, gpos, levels, e.density_in);
    mlp_forward(f.bg_density, p.bg_density, e.density_in, e.density_acts);
    const float* out = e.density_acts + mlp_act_count(f.bg_density) - (1 + BG_FEATURES);
    *raw_sigma = out[0];
    for (int i = 0; i < BG_FEATURES; ++i) e.color_in[i] = out[1 + i];
    for (int i = 0; i < SH_COEFFS; ++i) e.color_in[BG_FEATURES + i] = dir_sh[i];
    mlp_forward(f.bg_color, p.bg_color, e.color_in, e.color_acts);
    const float* c = e.color_acts + mlp_act_count(f.bg_color) - 3;
    for (int k = 0; k < 3; ++k) rgb[k] = sigmoidf(c[k]);
}

// The background field alone (no activations kept).
DEVICE void bg_value(const FieldDesc& f, const Params& p, const float* gpos, int levels, const float* dir_sh,
                     float* raw_sigma, float* rgb) {
    float input[BG_MAX_IN], out[1 + BG_FEATURES], color_in[BG_FEATURES + SH_COEFFS], c[3];
    grid_encode(f.bg_grid, p.bg_grid, gpos, levels, input);
    mlp_output(f.bg_density, p.bg_density, input, 1 + BG_FEATURES, out);
    *raw_sigma = out[0];
    for (int i = 0; i < BG_FEATURES; ++i) color_in[i] = out[1 + i];
    for (int i = 0; i < SH_COEFFS; ++i) color_in[BG_FEATURES + i] = dir_sh[i];
    mlp_output(f.bg_color, p.bg_color, color_in, 3, c);
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
    BgEval e;
    float raw, rgb[3];
    int levels = bg_levels(f, b.u);
    bg_eval(f, p, b.g, levels, dir_sh, e, &raw, rgb);
    float din[BG_MAX_IN > BG_FEATURES + SH_COEFFS ? BG_MAX_IN : BG_FEATURES + SH_COEFFS];
    mlp_backward(f.bg_color, p.bg_color, e.color_in, e.color_acts, dc, color_rec, din);
    float dout[1 + BG_FEATURES];
    for (int i = 0; i < BG_FEATURES; ++i) dout[1 + i] = din[i];
    for (int i = 0; i < SH_COEFFS; ++i) d_sh[i] += din[BG_FEATURES + i];
    dout[0] = d_raw;
    mlp_backward(f.bg_density, p.bg_density, e.density_in, e.density_acts, dout, density_rec, din);
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
