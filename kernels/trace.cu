// One training (or rendering) step's rays, one ray per thread, as src/train/render.rs:
// marching through occupied cells of the unit sphere, NeuS unbiased alpha compositing, the
// background beyond the sphere, the loss (Huber colour, mask BCE, eikonal) and the whole
// backward pass, including the gradient with respect to the ray (pose refinement).
#include "common.cuh"
#include "field.cuh"

struct RenderSettings {
    float step;
    int max_samples;
    int active_levels;
    float fd_h;
    float anneal;
    float eikonal_weight;
    float mask_weight;
    float huber_delta;
};

struct RayIn {
    float origin[3];
    float dir[3];
    float jitter;
    float rgb[3];
    float mask;  // negative: no mask
};

struct RayOut {
    float rgb[3];
    float opacity, depth, loss, samples;
    float d_origin[3];
    float d_dir[3];
};

struct TraceArgs {
    FieldDesc field;
    Weights params;
    Weights grads;
    float* d_variance;
    const unsigned char* occupancy;
    const RayIn* rays;
    RayOut* out;
    float* scratch;  // per ray, max_samples x (t, alpha)
    RenderSettings cfg;
    float variance;
    int occ_res;
    int n_rays;
    int train;  // 0: render only
};

#define TRANSMITTANCE_EPS 1e-4f

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

// Every lane of a warp runs to the end (no early return): the backward pass sums weight
// gradients over the warp (outer_add), so lanes past their ray's samples, or without a ray,
// take part with zero gradients. Launch with one warp's WARP_STAGE floats of shared memory
// per warp of the block.
KERNEL void trace_rays(TraceArgs a) {
    int r = thread_index();
    bool valid = r < a.n_rays;
    const FieldDesc& f = a.field;
    const RenderSettings& cfg = a.cfg;
    RayIn ray = valid ? a.rays[r] : RayIn{{0.0f, 0.0f, 10.0f}, {0.0f, 0.0f, 1.0f}, 0.0f, {0.0f, 0.0f, 0.0f}, -1.0f};
    const float* o = ray.origin;
    const float* d = ray.dir;
    float* ts = a.scratch + (u64)(valid ? r : 0) * cfg.max_samples * 2;
    float* alphas = ts + cfg.max_samples;
    float dir_sh[SH_COEFFS];
    sh_encode(d, dir_sh);

    int count = 0;
    float t0, t1;
    if (valid && sphere_span(o, d, &t0, &t1)) {
        float t = (ceilf(t0 / cfg.step - ray.jitter) + ray.jitter) * cfg.step;
        while (t < t1 && count < cfg.max_samples) {
            float x[3] = {o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]};
            if (occupied(a.occupancy, a.occ_res, x)) ts[count++] = t;
            t += cfg.step;
        }
    }
    float s = fminf(expf(10.0f * a.variance), 1e4f);
    float rr = cfg.anneal;
    RayOut out;
    for (int k = 0; k < 3; ++k) out.rgb[k] = out.d_origin[k] = out.d_dir[k] = 0.0f;
    out.opacity = out.depth = out.loss = 0.0f;
    float trans = 1.0f, eik_sum = 0.0f;
    int n = 0;
    SdfEval evals[4];
    Surface sf;
    ColorEval ce;
    for (int i = 0; i < count; ++i) {
        float t = ts[i];
        float x[3] = {o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]};
        surface(f, a.params, x, cfg.fd_h, cfg.active_levels, sf, evals);
        color(f, a.params, sf.grad, dir_sh, sf.feat, ce);
        float half = iter_cos(dot3(d, sf.grad), rr) * cfg.step * 0.5f;
        float al = neus_alpha(sf.sdf - half, sf.sdf + half, s).value;
        alphas[i] = al;
        float w = trans * al;
        for (int k = 0; k < 3; ++k) out.rgb[k] += w * ce.rgb[k];
        out.opacity += w;
        out.depth += w * t;
        trans *= 1.0f - al;
        float len = sqrtf(dot3(sf.grad, sf.grad));
        eik_sum += (len - 1.0f) * (len - 1.0f);
        n = i + 1;
        if (trans < TRANSMITTANCE_EPS) break;
    }
    BgSample bg[BG_SAMPLES];
    float bg_rgb[3] = {0.0f, 0.0f, 0.0f};
    int n_bg = valid ? bg_render(f, a.params, o, d, dir_sh, ray.jitter, bg, bg_rgb) : 0;
    for (int k = 0; k < 3; ++k) out.rgb[k] += trans * bg_rgb[k];
    out.samples = (float)n;
    if (!a.train) {
        if (valid) a.out[r] = out;
        return;  // no warp-wide sums follow
    }

    float d_rgb[3] = {0.0f, 0.0f, 0.0f};
    for (int k = 0; k < 3 && valid; ++k) {
        float e = out.rgb[k] - ray.rgb[k];
        float hd = cfg.huber_delta;
        float l = fabsf(e) <= hd ? 0.5f * e * e / hd : fabsf(e) - 0.5f * hd;
        float dl = fabsf(e) <= hd ? e / hd : (e > 0.0f ? 1.0f : (e < 0.0f ? -1.0f : 0.0f));
        out.loss += l / 3.0f;
        d_rgb[k] = dl / 3.0f;
    }
    float d_opacity = 0.0f;
    if (valid && ray.mask >= 0.0f) {
        float m = ray.mask;
        float op = clampf(out.opacity, 1e-4f, 1.0f - 1e-4f);
        out.loss += cfg.mask_weight * -(m * logf(op) + (1.0f - m) * logf(1.0f - op));
        d_opacity = cfg.mask_weight * (op - m) / (op * (1.0f - op));
    }
    float eik_w = n > 0 ? cfg.eikonal_weight / (float)n : 0.0f;
    out.loss += eik_w * eik_sum;

    float d_sh[SH_COEFFS];
    for (int i = 0; i < SH_COEFFS; ++i) d_sh[i] = 0.0f;
    float d_bg[3] = {d_rgb[0] * trans, d_rgb[1] * trans, d_rgb[2] * trans};
    bg_backward(f, a.params, o, d, dir_sh, bg, n_bg, d_bg, a.grads, out.d_origin, out.d_dir, d_sh);
    float after[3] = {bg_rgb[0], bg_rgb[1], bg_rgb[2]};
    float after_opacity = 0.0f;
    float trans_i = trans;
    float d_var = 0.0f;
    int iterations = warp_max(n);
    for (int it = 0; it < iterations; ++it) {
        int i = n - 1 - it;
        bool live = i >= 0;
        float al = live ? alphas[i] : 0.0f;
        float t = live ? ts[i] : 0.0f;
        if (live && al < 1.0f) {
            trans_i = trans_i / (1.0f - al);
        } else if (live) {
            trans_i = 1.0f;
            for (int j = 0; j < i; ++j) trans_i *= 1.0f - alphas[j];
        }
        float x[3] = {o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]};
        surface(f, a.params, x, cfg.fd_h, cfg.active_levels, sf, evals);
        color(f, a.params, sf.grad, dir_sh, sf.feat, ce);
        const float* c = ce.rgb;
        float w = live ? trans_i * al : 0.0f;
        float diff[3] = {c[0] - after[0], c[1] - after[1], c[2] - after[2]};
        float d_alpha = live ? trans_i * (dot3(d_rgb, diff) + d_opacity * (1.0f - after_opacity)) : 0.0f;
        if (live) {
            for (int k = 0; k < 3; ++k) after[k] = al * c[k] + (1.0f - al) * after[k];
            after_opacity = al + (1.0f - al) * after_opacity;
        }

        float wd[3] = {w * d_rgb[0], w * d_rgb[1], w * d_rgb[2]};
        float cg_grad[3], cg_feat[GEO_FEATURES], cg_sh[SH_COEFFS];
        color_backward(f, a.params, ce, wd, a.grads, cg_grad, cg_feat, cg_sh);
        for (int k = 0; k < SH_COEFFS; ++k) d_sh[k] += cg_sh[k];
        float true_cos = dot3(d, sf.grad);
        float half = iter_cos(true_cos, rr) * cfg.step * 0.5f;
        Alpha alp = neus_alpha(sf.sdf - half, sf.sdf + half, s);
        float d_sdf = d_alpha * (alp.d_prev + alp.d_next);
        float d_iter_cos = d_alpha * (alp.d_next - alp.d_prev) * cfg.step * 0.5f;
        float d_true_cos =
            d_iter_cos * ((true_cos < 1.0f ? 0.5f * (1.0f - rr) : 0.0f) + (true_cos < 0.0f ? rr : 0.0f));
        d_var += d_alpha * alp.d_s * 10.0f * s;
        float len = fmaxf(sqrtf(dot3(sf.grad, sf.grad)), 1e-9f);
        float d_eik = live ? eik_w * 2.0f * (len - 1.0f) / len : 0.0f;
        float dgrad[3];
        for (int k = 0; k < 3; ++k) dgrad[k] = cg_grad[k] + d_true_cos * d[k] + d_eik * sf.grad[k];
        float dx[3];
        surface_backward(f, a.params, evals, cfg.fd_h, cfg.active_levels, d_sdf, dgrad, cg_feat, a.grads, dx);
        if (!live) continue;
        for (int k = 0; k < 3; ++k) {
            out.d_origin[k] += dx[k];
            out.d_dir[k] += t * dx[k] + d_true_cos * sf.grad[k];
        }
    }
    if (!valid) return;
    atomicAdd(a.d_variance, d_var);
    float d_sh_dir[3];
    sh_backward(d, d_sh, d_sh_dir);
    for (int k = 0; k < 3; ++k) out.d_dir[k] += d_sh_dir[k];
    a.out[r] = out;
}
