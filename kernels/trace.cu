// A training (or rendering) batch of rays, as src/train/render.rs: marching through occupied
// cells of the unit sphere, NeuS unbiased alpha compositing, the background beyond the
// sphere, the loss (Huber colour, mask BCE, eikonal, background at infinity) and the whole
// backward pass, including the gradient with respect to the ray (pose refinement).
//
// The work is split so that the expensive part runs one thread per sample: march (per ray:
// the batch's samples, packed), eval_samples and eval_background (per sample: the field),
// composite (per ray: colours, loss, and what each sample's outputs are worth to it),
// backward_colors, backward_samples and backward_background (per sample: the networks'
// backward passes, in chunks of samples, each followed by weight_grads over its records), and
// finish_rays (per ray: the ray's own gradient). Run in that order, as one batch.
#include "common.cuh"
#include "field.cuh"
#include "rays.cuh"

struct RenderSettings {
    float step;
    int max_samples;
    int active_levels;
    float fd_h;
    float anneal;
    float eikonal_weight;
    float mask_weight;
    float huber_delta;
    float far_weight;    // the prior that the background lies at infinity
    float depth_weight;  // L1 between the ray's depth and its stereo depth
    int ray_grads;       // 1: the rays' own gradients too (pose refinement alone reads them)
};

// Below this opacity a ray's depth is not compared with its target (render.rs's
// DEPTH_MIN_OPACITY).
#define DEPTH_MIN_OPACITY 0.05f


// A sample along a ray, in the batch's packed list.
struct Sample {
    int ray;
    float t;
};

// The field at a sample: the surface there (kept whole, so that the backward pass reads its
// geometry features instead of evaluating the tetrahedron's four SDF networks again) and the
// colour.
struct SampleValue {
    Surface sf;
    float rgb[3];
};

// What the loss asks of a sample's outputs: dL/dsdf, dL/dgrad (through alpha and the eikonal
// term), the colour's weight times dL/drgb, and dL/d(cos between ray and normal), which
// composite writes; then backward_colors adds the colour network's share into dgrad and
// writes dL/d(geometry features), for backward_samples.
struct SampleGrad {
    float d_sdf;
    float dgrad[3];
    float wd[3];
    float d_true_cos;
    float dfeat[GEO_FEATURES];
};

// dL/d(colour logits) and dL/d(raw density) of a background sample.
struct BgGrad {
    float dc[3];
    float d_raw;
};

// Per ray: its samples in the packed list, and the ray's gradient as the sample kernels add it
// up.
struct RayState {
    int first, count, pad[2];
    float d_origin[3];
    float d_dir[3];
    float d_sh[SH_COEFFS];
};

struct BatchArgs {
    FieldDesc field;
    Params params;
    Weights grads;
    float* d_variance;
    const unsigned char* occupancy;
    const RayIn* rays;
    RayOut* out;
    Sample* samples;
    SampleValue* values;
    SampleGrad* sample_grads;
    BgSlot* bg;  // BG_SAMPLES per ray
    BgGrad* bg_grads;
    RayState* state;
    // [0]: samples in the packed list; [1]: samples the backward pass takes (those compositing
    // reached before the ray turned opaque). Both zero before march.
    int* total;
    int* order;  // the packed indices of the samples the backward pass takes, ray by ray
    float* kept;  // KEPT_FLOATS per sample: what eval_samples keeps for the backward pass (field.cuh)
    // Records of the networks' backward passes (mlp.cuh's Rec) for one chunk of samples: four
    // SDF rows per sample, one colour row; one row of each background network per slot.
    float* rec_sdf;
    float* rec_color;
    float* rec_bg_density;
    float* rec_bg_color;
    RenderSettings cfg;
    float variance;
    int occ_res;
    int n_rays;
    int capacity;  // entries of samples, values and sample_grads
    int train;     // 0: render only
    int base;      // the chunk's first sample (backward_samples) or slot (backward_background)
    int chunk;     // samples or slots per chunk
};

#define TRANSMITTANCE_EPS 1e-4f
// Threads per block of the batch kernels and of weight_grads (abi.rs's BATCH_BLOCK and
// GRAD_BLOCK; the launch bounds below depend on them).
#define BATCH_BLOCK 64
#define GRAD_BLOCK 256

// Blocks of BATCH_BLOCK threads per SM that each per-sample kernel is compiled to fit, which
// sets its register budget (65536 / (BATCH_BLOCK x blocks)); 0 leaves it to the compiler. The
// defaults keep the networks' activations in registers without spills (ptxas -v, sm_90);
// -D overrides them, to time others on a GPU (WEAVE_NVRTC_FLAGS, tests/gpu-check.sh).
#ifndef BLOCKS_EVAL_SAMPLES
#define BLOCKS_EVAL_SAMPLES 8
#endif
#ifndef BLOCKS_BACKWARD_COLORS
#define BLOCKS_BACKWARD_COLORS 6
#endif
#ifndef BLOCKS_BACKWARD_SAMPLES
#define BLOCKS_BACKWARD_SAMPLES 0
#endif
#ifndef BLOCKS_BACKWARD_BACKGROUND
#define BLOCKS_BACKWARD_BACKGROUND 0
#endif

DEVICE bool occupied(const unsigned char* cells, int res, const float* x) {
    int i[3];
    for (int a = 0; a < 3; ++a) {
        float u = (x[a] + 1.0f) * 0.5f * (float)res;
        if (!(u >= 0.0f && u < (float)res)) return false;
        i[a] = (int)u;
    }
    return cells[i[0] + res * (i[1] + res * i[2])] != 0;
}

DEVICE bool sphere_span(const float* o, const float* d, float* t0, float* t1) {
    float b = dot3(o, d);
    float c = dot3(o, o) - 1.0f;
    float disc = b * b - c;
    if (disc <= 0.0f) return false;
    float s = sqrtf(disc);
    *t0 = fmaxf(-b - s, 0.0f);
    *t1 = -b + s;
    return *t1 > *t0;
}

struct Alpha {
    float value, d_prev, d_next, d_s;
};

DEVICE Alpha neus_alpha(float f_prev, float f_next, float s) {
    const float EPS = 1e-5f;
    float p = sigmoidf(f_prev * s);
    float n = sigmoidf(f_next * s);
    float raw = (p - n + EPS) / (p + EPS);
    Alpha a;
    if (!(raw >= 0.0f && raw <= 1.0f)) {
        a.value = clampf(raw, 0.0f, 1.0f);
        a.d_prev = a.d_next = a.d_s = 0.0f;
        return a;
    }
    float da_dp = n / ((p + EPS) * (p + EPS));
    float da_dn = -1.0f / (p + EPS);
    float dp = p * (1.0f - p), dn = n * (1.0f - n);
    a.value = raw;
    a.d_prev = da_dp * dp * s;
    a.d_next = da_dn * dn * s;
    a.d_s = da_dp * dp * f_prev + da_dn * dn * f_next;
    return a;
}

DEVICE float iter_cos(float true_cos, float r) {
    return -(fmaxf(0.5f - 0.5f * true_cos, 0.0f) * (1.0f - r) + fmaxf(-true_cos, 0.0f) * r);
}

DEVICE float inv_s(const BatchArgs& a) { return fminf(expf(10.0f * a.variance), 1e4f); }

DEVICE float sample_alpha(const BatchArgs& a, const SampleValue& v, const float* d, Alpha* full) {
    float half = iter_cos(dot3(d, v.sf.grad), a.cfg.anneal) * a.cfg.step * 0.5f;
    Alpha al = neus_alpha(v.sf.sdf - half, v.sf.sdf + half, inv_s(a));
    if (full) *full = al;
    return al.value;
}

// Per ray: the sample distances through occupied cells, packed into the batch's list.
KERNEL void march(BatchArgs a) {
    int r = thread_index();
    if (r >= a.n_rays) return;
    const RayIn& ray = a.rays[r];
    const float* o = ray.origin;
    const float* d = ray.dir;
    const RenderSettings& cfg = a.cfg;
    RayState& st = a.state[r];
    for (int k = 0; k < 3; ++k) st.d_origin[k] = st.d_dir[k] = 0.0f;
    for (int k = 0; k < SH_COEFFS; ++k) st.d_sh[k] = 0.0f;
    st.count = 0;
    st.first = 0;
    float t0, t1;
    if (!sphere_span(o, d, &t0, &t1)) return;
    float start = (ceilf(t0 / cfg.step - ray.jitter) + ray.jitter) * cfg.step;
    int count = 0;
    for (float t = start; t < t1 && count < cfg.max_samples; t += cfg.step) {
        float x[3] = {o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]};
        if (occupied(a.occupancy, a.occ_res, x)) ++count;
    }
    int first = atomicAdd(a.total, count);
    if (first + count > a.capacity) count = a.capacity > first ? a.capacity - first : 0;
    st.first = first;
    st.count = count;
    int i = 0;
    for (float t = start; t < t1 && i < count; t += cfg.step) {
        float x[3] = {o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]};
        if (occupied(a.occupancy, a.occ_res, x)) {
            a.samples[first + i].ray = r;
            a.samples[first + i].t = t;
            ++i;
        }
    }
}

// A packed sample's position, and (with dir_sh) its ray's direction encoded.
DEVICE void sample_at(const BatchArgs& a, Sample smp, float* x, float* dir_sh) {
    const RayIn& ray = a.rays[smp.ray];
    for (int k = 0; k < 3; ++k) x[k] = ray.origin[k] + smp.t * ray.dir[k];
    if (dir_sh) sh_encode(ray.dir, dir_sh);
}

// 8 blocks: 128 registers, which hold the networks' activations (mlp.cuh). When those lived in
// local memory, 16 blocks (64 registers) had been faster (docs/results.md, *GPU*); at 64
// registers now, the kernel spills its activations.
KERNEL LAUNCH_BOUNDS(BATCH_BLOCK, BLOCKS_EVAL_SAMPLES) void eval_samples(BatchArgs a) {
    int i = thread_index();
    if (i >= *a.total || i >= a.capacity) return;
    float x[3], dir_sh[SH_COEFFS];
    sample_at(a, a.samples[i], x, dir_sh);
    SampleValue& v = a.values[i];
    Strided kept{a.train ? a.kept + i : 0, (u64)a.capacity};
    if (a.train)
        surface<true>(a.field, a.params, x, a.cfg.fd_h, a.cfg.active_levels, v.sf, kept);
    else
        surface<false>(a.field, a.params, x, a.cfg.fd_h, a.cfg.active_levels, v.sf, kept);
    color_value(a.field, a.params, v.sf.grad, dir_sh, v.sf.feat, v.rgb, kept.from(KEPT_COLOR_HIDDEN));
}

KERNEL void eval_background(BatchArgs a) {
    int i = thread_index();
    if (i >= a.n_rays * BG_SAMPLES) return;
    const RayIn& ray = a.rays[i / BG_SAMPLES];
    float dir_sh[SH_COEFFS];
    sh_encode(ray.dir, dir_sh);
    bg_sample(a.field, a.params, ray.origin, ray.dir, dir_sh, ray.jitter, i % BG_SAMPLES, a.bg[i]);
}

// Per ray: NeuS compositing, the background behind it, the loss, and the backward pass of
// all that down to each sample's outputs.
KERNEL void composite(BatchArgs a) {
    int r = thread_index();
    if (r >= a.n_rays) return;
    const RayIn& ray = a.rays[r];
    const float* d = ray.dir;
    RayState& st = a.state[r];
    const SampleValue* vals = a.values + st.first;
    const Sample* smps = a.samples + st.first;
    RayOut out;
    for (int k = 0; k < 3; ++k) out.rgb[k] = out.d_origin[k] = out.d_dir[k] = 0.0f;
    out.opacity = out.depth = out.loss = 0.0f;
    float trans = 1.0f, eik_sum = 0.0f;
    int n = 0;
    for (int i = 0; i < st.count; ++i) {
        float al = sample_alpha(a, vals[i], d, 0);
        float w = trans * al;
        for (int k = 0; k < 3; ++k) out.rgb[k] += w * vals[i].rgb[k];
        out.opacity += w;
        out.depth += w * smps[i].t;
        trans *= 1.0f - al;
        float len = sqrtf(dot3(vals[i].sf.grad, vals[i].sf.grad));
        eik_sum += (len - 1.0f) * (len - 1.0f);
        n = i + 1;
        if (trans < TRANSMITTANCE_EPS) break;
    }
    // The background: the last sample the ray reaches is opaque.
    BgSlot* bg = a.bg + (u64)r * BG_SAMPLES;
    int last = -1;
    for (int j = 0; j < BG_SAMPLES; ++j)
        if (bg[j].valid != 0.0f) last = j;
    float bg_rgb[3] = {0.0f, 0.0f, 0.0f}, bg_trans = 1.0f;
    for (int j = 0; j <= last; ++j) {
        if (bg[j].valid == 0.0f) continue;
        if (j == last) bg[j].alpha = 1.0f;
        bg[j].trans = bg_trans;
        for (int k = 0; k < 3; ++k) bg_rgb[k] += bg_trans * bg[j].alpha * bg[j].rgb[k];
        bg_trans *= 1.0f - bg[j].alpha;
    }
    for (int k = 0; k < 3; ++k) out.rgb[k] += trans * bg_rgb[k];
    out.samples = (float)n;
    if (!a.train) {
        a.out[r] = out;
        return;
    }

    const RenderSettings& cfg = a.cfg;
    float d_rgb[3];
    for (int k = 0; k < 3; ++k) {
        float e = out.rgb[k] - ray.rgb[k];
        float hd = cfg.huber_delta;
        float l = fabsf(e) <= hd ? 0.5f * e * e / hd : fabsf(e) - 0.5f * hd;
        float dl = fabsf(e) <= hd ? e / hd : (e > 0.0f ? 1.0f : (e < 0.0f ? -1.0f : 0.0f));
        out.loss += l / 3.0f;
        d_rgb[k] = dl / 3.0f;
    }
    float d_opacity = 0.0f;
    if (ray.mask >= 0.0f) {
        float m = ray.mask;
        float op = clampf(out.opacity, 1e-4f, 1.0f - 1e-4f);
        out.loss += cfg.mask_weight * -(m * logf(op) + (1.0f - m) * logf(1.0f - op));
        d_opacity = cfg.mask_weight * (op - m) / (op * (1.0f - op));
    }
    // Depth: D = Σ w t / Σ w over the surface samples.
    float d_depth_sum = 0.0f;
    if (ray.depth > 0.0f && out.opacity >= DEPTH_MIN_OPACITY) {
        float dd = out.depth / out.opacity;
        float e = dd - ray.depth;
        out.loss += cfg.depth_weight * fabsf(e);
        float g = cfg.depth_weight * (e > 0.0f ? 1.0f : (e < 0.0f ? -1.0f : 0.0f));
        d_depth_sum = g / out.opacity;
        d_opacity -= g * dd / out.opacity;
    }
    float eik_w = n > 0 ? cfg.eikonal_weight / (float)n : 0.0f;
    out.loss += eik_w * eik_sum;
    // Opacity of the background before its last sample, 1 - T_last (none without samples).
    float far_trans = last >= 0 ? bg[last].trans : 1.0f;
    out.loss += cfg.far_weight * (1.0f - far_trans);
    a.out[r] = out;

    // Background samples, back to front.
    float d_bg[3] = {d_rgb[0] * trans, d_rgb[1] * trans, d_rgb[2] * trans};
    float after[3] = {0.0f, 0.0f, 0.0f};
    for (int j = BG_SAMPLES - 1; j >= 0; --j) {
        BgGrad& g = a.bg_grads[(u64)r * BG_SAMPLES + j];
        const BgSlot& b = bg[j];
        for (int k = 0; k < 3; ++k) g.dc[k] = 0.0f;
        g.d_raw = 0.0f;
        if (b.valid == 0.0f) continue;
        float w = b.trans * b.alpha;
        const float* c = b.rgb;
        float d_alpha = 0.0f, d_near_raw = 0.0f;
        if (j != last) {
            float diff[3] = {c[0] - after[0], c[1] - after[1], c[2] - after[2]};
            d_alpha = b.trans * dot3(d_bg, diff);
            // d(1 - T_last)/d alpha_j = T_last / (1 - alpha_j); the (1 - alpha_j) cancels.
            d_near_raw = cfg.far_weight * far_trans;
        }
        for (int k = 0; k < 3; ++k) {
            after[k] = b.alpha * c[k] + (1.0f - b.alpha) * after[k];
            g.dc[k] = w * d_bg[k] * c[k] * (1.0f - c[k]);
        }
        g.d_raw = (d_alpha * (1.0f - b.alpha) + d_near_raw) * (1.0f / BG_SAMPLES) * sigmoidf(b.raw_sigma);
    }

    // Surface samples, back to front. Colour after sample i, seen through it:
    // R_i = a_i c_i + (1 - a_i) R_{i+1}, starting from the background; opacity likewise.
    float s = inv_s(a), rr = cfg.anneal;
    for (int k = 0; k < 3; ++k) after[k] = bg_rgb[k];
    float after_opacity = 0.0f, after_depth = 0.0f, trans_i = trans, d_var = 0.0f;
    SampleGrad* sg = a.sample_grads + st.first;
    // Samples behind the opaque point have no gradient: the backward pass skips them (instant-
    // ngp's compaction).
    int at = atomicAdd(a.total + 1, n);
    for (int i = 0; i < n; ++i) a.order[at + i] = st.first + i;
    for (int i = n - 1; i >= 0; --i) {
        Alpha alp;
        float al = sample_alpha(a, vals[i], d, &alp);
        if (al < 1.0f) {
            trans_i = trans_i / (1.0f - al);
        } else {
            trans_i = 1.0f;
            for (int j = 0; j < i; ++j) trans_i *= 1.0f - sample_alpha(a, vals[j], d, 0);
        }
        const float* c = vals[i].rgb;
        float w = trans_i * al;
        float diff[3] = {c[0] - after[0], c[1] - after[1], c[2] - after[2]};
        float t = smps[i].t;
        float d_alpha = trans_i * (dot3(d_rgb, diff) + d_opacity * (1.0f - after_opacity) +
                                   d_depth_sum * (t - after_depth));
        for (int k = 0; k < 3; ++k) after[k] = al * c[k] + (1.0f - al) * after[k];
        after_opacity = al + (1.0f - al) * after_opacity;
        after_depth = al * t + (1.0f - al) * after_depth;

        float true_cos = dot3(d, vals[i].sf.grad);
        float d_iter_cos = d_alpha * (alp.d_next - alp.d_prev) * cfg.step * 0.5f;
        float d_true_cos =
            d_iter_cos * ((true_cos < 1.0f ? 0.5f * (1.0f - rr) : 0.0f) + (true_cos < 0.0f ? rr : 0.0f));
        d_var += d_alpha * alp.d_s * 10.0f * s;
        float len = fmaxf(sqrtf(dot3(vals[i].sf.grad, vals[i].sf.grad)), 1e-9f);
        float d_eik = eik_w * 2.0f * (len - 1.0f) / len;
        sg[i].d_sdf = d_alpha * (alp.d_prev + alp.d_next);
        sg[i].d_true_cos = d_true_cos;
        for (int k = 0; k < 3; ++k) {
            sg[i].dgrad[k] = d_true_cos * d[k] + d_eik * vals[i].sf.grad[k];
            sg[i].wd[k] = w * d_rgb[k];
        }
    }
    atomicAdd(a.d_variance, d_var);
}

// Per sample of the chunk (of `order`): the colour network's backward pass (from the hidden
// layers eval_samples kept) into its record, and what it asks of the SDF network's outputs and
// of the ray's direction. A kernel of its own: it holds a hidden layer and its gradient at
// once (168 registers), and one register budget for both passes would hold the SDF network's
// pass (140) to that.
KERNEL LAUNCH_BOUNDS(BATCH_BLOCK, BLOCKS_BACKWARD_COLORS) void backward_colors(BatchArgs a) {
    int row = thread_index();
    if (row >= a.chunk || a.base + row >= a.total[1]) return;
    int i = a.order[a.base + row];
    Sample smp = a.samples[i];
    SampleGrad& g = a.sample_grads[i];
    const SampleValue& v = a.values[i];
    float x[3], dir_sh[SH_COEFFS], dgrad[3], d_sh[SH_COEFFS];
    sample_at(a, smp, x, dir_sh);
    Strided kept = Strided{a.kept + i, (u64)a.capacity}.from(KEPT_COLOR_HIDDEN);
    color_backward(a.field, a.params, v.sf.grad, dir_sh, v.sf.feat, v.rgb, kept, g.wd, Rec{a.rec_color, a.chunk, row},
                   dgrad, g.dfeat, d_sh);
    for (int k = 0; k < 3; ++k) g.dgrad[k] += dgrad[k];
    if (!a.cfg.ray_grads) return;
    RayState& st = a.state[smp.ray];
    for (int k = 0; k < SH_COEFFS; ++k) atomicAdd(&st.d_sh[k], d_sh[k]);
}

// Per sample of the chunk, after backward_colors: the SDF network's backward pass (its four
// evaluations from what eval_samples kept) into its record and the hash tables' gradients,
// and the sample's share of its ray's gradient.
KERNEL LAUNCH_BOUNDS(BATCH_BLOCK, BLOCKS_BACKWARD_SAMPLES) void backward_samples(BatchArgs a) {
    int row = thread_index();
    if (row >= a.chunk || a.base + row >= a.total[1]) return;
    int i = a.order[a.base + row];
    Sample smp = a.samples[i];
    const SampleGrad& g = a.sample_grads[i];
    float x[3], dx[3];
    sample_at(a, smp, x, 0);
    surface_backward(a.field, a.params, x, a.cfg.fd_h, a.cfg.active_levels, g.d_sdf, g.dgrad, g.dfeat,
                     Strided{a.kept + i, (u64)a.capacity}, a.grads, Rec{a.rec_sdf, 4 * a.chunk, 4 * row},
                     a.cfg.ray_grads ? dx : 0);
    if (!a.cfg.ray_grads) return;
    RayState& st = a.state[smp.ray];
    const float* grad = a.values[i].sf.grad;
    for (int k = 0; k < 3; ++k) {
        atomicAdd(&st.d_origin[k], dx[k]);
        atomicAdd(&st.d_dir[k], smp.t * dx[k] + g.d_true_cos * grad[k]);
    }
}

// Per background slot of the chunk, likewise.
KERNEL LAUNCH_BOUNDS(BATCH_BLOCK, BLOCKS_BACKWARD_BACKGROUND) void backward_background(BatchArgs a) {
    int row = thread_index();
    int i = a.base + row;
    if (row >= a.chunk || i >= a.n_rays * BG_SAMPLES) return;
    int r = i / BG_SAMPLES;
    const RayIn& ray = a.rays[r];
    const BgSlot& b = a.bg[i];
    const BgGrad& g = a.bg_grads[i];
    float dir_sh[SH_COEFFS], d_o[3] = {0.0f, 0.0f, 0.0f}, d_d[3] = {0.0f, 0.0f, 0.0f}, d_sh[SH_COEFFS];
    for (int k = 0; k < SH_COEFFS; ++k) d_sh[k] = 0.0f;
    sh_encode(ray.dir, dir_sh);
    bg_sample_backward(a.field, a.params, ray.origin, ray.dir, dir_sh, b, g.dc, g.d_raw, a.grads,
                       Rec{a.rec_bg_density, a.chunk, row}, Rec{a.rec_bg_color, a.chunk, row}, a.cfg.ray_grads, d_o, d_d,
                       d_sh);
    if (b.valid == 0.0f || !a.cfg.ray_grads) return;
    RayState& st = a.state[r];
    for (int k = 0; k < 3; ++k) {
        atomicAdd(&st.d_origin[k], d_o[k]);
        atomicAdd(&st.d_dir[k], d_d[k]);
    }
    for (int k = 0; k < SH_COEFFS; ++k) atomicAdd(&st.d_sh[k], d_sh[k]);
}

// Per ray: its gradient, from what the sample kernels added up.
KERNEL void finish_rays(BatchArgs a) {
    int r = thread_index();
    if (r >= a.n_rays) return;
    const RayState& st = a.state[r];
    float d_sh_dir[3];
    sh_backward(a.rays[r].dir, st.d_sh, d_sh_dir);
    RayOut& out = a.out[r];
    for (int k = 0; k < 3; ++k) {
        out.d_origin[k] = st.d_origin[k];
        out.d_dir[k] = st.d_dir[k] + d_sh_dir[k];
    }
}

// Weight gradients of one network layer from a chunk's records: the sum over its rows of the
// output gradient times the input (times 1 for the biases). A block takes GRAD_SLICE rows and
// every weight of the layer: its threads load GRAD_ROWS rows of the layer's record columns
// into shared memory at a time (coalesced, and each float read once per block, where warps
// that took a tile of weights each read their columns again), each thread adds the products
// of a GRAD_TO x GRAD_TI tile of weights over those rows, and at the end adds its sums with
// one atomic per weight.
#define GRAD_SLICE 1024
#define GRAD_ROWS 32
#define GRAD_TO 4
#define GRAD_TI 5
#define GRAD_MAX_OUT 64  // the widest layer's outputs
#define GRAD_MAX_IN 64   // and inputs (the bias's input, 1, is not stored)

static_assert(MLP_MAX_WIDTH <= GRAD_MAX_OUT && SDF_MAX_IN <= GRAD_MAX_IN && COLOR_IN <= GRAD_MAX_IN &&
                  MLP_MAX_WIDTH <= GRAD_MAX_IN && BG_IN <= GRAD_MAX_IN && BG_COLOR_IN <= GRAD_MAX_IN,
              "weight_grads' shared memory holds every layer");
static_assert((GRAD_MAX_OUT + GRAD_TO - 1) / GRAD_TO * ((GRAD_MAX_IN + GRAD_TI) / GRAD_TI) <= GRAD_BLOCK,
              "weight_grads' block has a thread for every tile of the widest layer");

struct GradArgs {
    const float* rec;   // the network's record (Rec)
    float* grad;        // the network's gradients (its parameters' layout)
    const int* total;   // items in the batch (capped at `items`); null: `items`
    int items;
    int base, chunk;    // the chunk's first item, and items per chunk
    int per_item;       // record rows per item
    Mlp net;
    int layer;
};

// A launch takes a block per slice of rows (abi.rs's backward_plan); blocks past the live rows
// leave at once. Three blocks per SM: 72 registers, no spills (at four, 64 and spills).
KERNEL LAUNCH_BOUNDS(GRAD_BLOCK, 3) void weight_grads(GradArgs a) {
    // Rows padded by one float, so that threads reading one row of different columns read
    // different banks.
    SHARED_ARRAY(float, sd, GRAD_MAX_OUT * (GRAD_ROWS + 1));
    SHARED_ARRAY(float, sx, GRAD_MAX_IN * (GRAD_ROWS + 1));
    int rows = a.chunk * a.per_item;
    int items = a.total && *a.total < a.items ? *a.total : a.items;
    int live = items - a.base < a.chunk ? items - a.base : a.chunk;
    live = (live > 0 ? live : 0) * a.per_item;
    int r0 = block_index() * GRAD_SLICE;
    if (r0 >= live) return;  // the whole block: its threads share the slice
    int r1 = r0 + GRAD_SLICE < live ? r0 + GRAD_SLICE : live;
    int col = 0, p_off = 0;
    for (int l = 0; l < a.layer; ++l) {
        int li = mlp_layer_in(a.net, l), lo = mlp_layer_out(a.net, l);
        col += mlp_cap_in(a.net, l) + mlp_cap_out(a.net, l);
        p_off += li * lo + lo;
    }
    int ni = mlp_layer_in(a.net, a.layer), no = mlp_layer_out(a.net, a.layer);
    const float* X = a.rec + (u64)col * rows;
    const float* D = X + (u64)mlp_cap_in(a.net, a.layer) * rows;
    // This thread's tile: outputs o0.., inputs i0.. (input ni is the bias's).
    int t = thread_in_block();
    int tiles_i = (ni + GRAD_TI) / GRAD_TI;
    int o0 = t / tiles_i * GRAD_TO, i0 = t % tiles_i * GRAD_TI;
    bool mine = o0 < no;
    float acc[GRAD_TO][GRAD_TI];
    for (int p = 0; p < GRAD_TO; ++p)
        for (int q = 0; q < GRAD_TI; ++q) acc[p][q] = 0.0f;
    for (int rb = r0; rb < r1; rb += GRAD_ROWS) {
        int n = r1 - rb < GRAD_ROWS ? r1 - rb : GRAD_ROWS;
        for (int e = t; e < (no + ni) * GRAD_ROWS; e += GRAD_BLOCK) {
            int c = e / GRAD_ROWS, r = e % GRAD_ROWS;
            if (c < no)
                sd[c * (GRAD_ROWS + 1) + r] = r < n ? D[(u64)c * rows + rb + r] : 0.0f;
            else
                sx[(c - no) * (GRAD_ROWS + 1) + r] = r < n ? X[(u64)(c - no) * rows + rb + r] : 0.0f;
        }
        block_sync();
        if (mine)
            for (int r = 0; r < GRAD_ROWS; ++r) {
                float d[GRAD_TO], x[GRAD_TI];
                for (int k = 0; k < GRAD_TO; ++k) d[k] = o0 + k < no ? sd[(o0 + k) * (GRAD_ROWS + 1) + r] : 0.0f;
                for (int k = 0; k < GRAD_TI; ++k) {
                    int i = i0 + k;
                    // Rows past the slice have d = 0: the bias's 1 adds nothing there.
                    x[k] = i < ni ? sx[i * (GRAD_ROWS + 1) + r] : (i == ni ? 1.0f : 0.0f);
                }
                for (int p = 0; p < GRAD_TO; ++p)
                    for (int q = 0; q < GRAD_TI; ++q) acc[p][q] += d[p] * x[q];
            }
        block_sync();
    }
    if (!mine) return;
    for (int p = 0; p < GRAD_TO; ++p)
        for (int q = 0; q < GRAD_TI; ++q) {
            int o = o0 + p, i = i0 + q;
            if (o < no && i <= ni && acc[p][q] != 0.0f)
                atomicAdd(a.grad + p_off + (i < ni ? o * ni + i : ni * no + o), acc[p][q]);
        }
}

#ifndef __CUDACC__
// The networks' capacities (SdfNet, ColorNet, BgDensityNet, BgColorNet: input, hidden width,
// hidden layers, output, four ints each) and the capacities of the two grids (levels), for
// the host to check its copies (abi.rs) against.
KERNEL int field_caps(int which) {
    const int caps[] = {SdfNet::in,       SdfNet::hid,       SdfNet::layers,       SdfNet::out,
                        ColorNet::in,     ColorNet::hid,     ColorNet::layers,     ColorNet::out,
                        BgDensityNet::in, BgDensityNet::hid, BgDensityNet::layers, BgDensityNet::out,
                        BgColorNet::in,   BgColorNet::hid,   BgColorNet::layers,   BgColorNet::out,
                        GRID_MAX_LEVELS,  BG_GRID_LEVELS};
    return caps[which];
}

// Sizes of the kernels' argument structs in bytes (BatchArgs, GradArgs, FieldDesc, Mlp), for
// the host to check its copies against.
KERNEL int trace_arg_bytes(int which) {
    const int sizes[] = {sizeof(BatchArgs), sizeof(GradArgs), sizeof(FieldDesc), sizeof(Mlp)};
    return sizes[which];
}

// Sizes of the batch's records in floats, for the host to check its buffers against.
KERNEL int trace_record_floats(int which) {
    const int sizes[] = {sizeof(Sample), sizeof(SampleValue), sizeof(SampleGrad), sizeof(BgSlot),
                         sizeof(BgGrad), sizeof(RayState),    KEPT_FLOATS * 4};
    return sizes[which] / 4;
}
#endif
