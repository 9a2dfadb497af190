// Training rays drawn on the device, and a trained batch's per-ray results reduced there, so
// that a step moves no per-ray data between host and device.
//
// draw_rays draws as src/train/trainer.rs's sample_ray does, from the same per-ray random
// streams, so both backends train on the same rays: a view, a pixel, a point within it and the
// samples' jitter. Each view's ray directions at its pixel corners are precomputed on the host
// (lens distortion included) and interpolated; pinhole directions are linear in the pixel
// position, so that is exact for them.
//
// reduce_rays sums what a step reports and the pose refinement needs: loss, squared colour
// error and samples over the batch, and per view the squared error, the ray count and the
// gradient of the view's pose correction (src/train/poses.rs).
#include "common.cuh"
#include "rays.cuh"

// Rotation vector, shift, log focal scale (src/render/poses.rs).
#define POSE_FLOATS 7
#define FOCAL 6
// Per view: squared error, rays, correction gradient.
#define VIEW_SUMS (2 + POSE_FLOATS)
#define BATCH_SUMS 3
// Per training pixel: rgb, mask (negative: none), stereo depth (0: none).
#define PIXEL_FLOATS 5

struct ViewDesc {
    u64 first_pixel;   // in `pixels`
    u64 first_corner;  // in `corners`
    int width, height;
    float rotation[9];  // camera to world, row-major
    float origin[3];    // the camera's centre in the normalised frame
    int pad[2];
};

struct DrawArgs {
    const ViewDesc* views;
    const float* pixels;       // PIXEL_FLOATS per pixel
    const float* corners;      // per view, (width + 1)(height + 1) camera-frame directions
    const float* corrections;  // POSE_FLOATS per view
    RayIn* rays;
    int* ray_views;
    u64 seed;
    int n_views, n_rays, refine, pad;
};

struct ReduceArgs {
    const RayIn* rays;
    const RayOut* out;
    const int* ray_views;
    float* batch;  // BATCH_SUMS: loss, squared error, samples
    float* views;  // VIEW_SUMS per view
    const ViewDesc* descs;
    const float* corrections;  // POSE_FLOATS per view
    int n_rays, refine;
};

// SplitMix64, as src/train/trainer.rs's Rng.
#define GOLDEN 0x9E3779B97F4A7C15ull

DEVICE u64 mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct Rng {
    u64 state;
};

// Ray i's stream of a batch drawn with `seed` (Rng::for_ray).
DEVICE Rng rng_for_ray(u64 seed, u64 i) {
    return Rng{(seed ^ mix64(i)) * GOLDEN ^ 0xD1B54A32D192ED03ull};
}

DEVICE u64 rng_next(Rng& r) {
    r.state += GOLDEN;
    return mix64(r.state);
}

DEVICE float rng_uniform(Rng& r) { return (float)(rng_next(r) >> 40) / 16777216.0f; }
DEVICE int rng_below(Rng& r, int n) { return (int)(rng_next(r) % (u64)n); }

// d rotated by the rotation vector w (Rodrigues).
DEVICE void rotate(const float* w, const float* d, float* out) {
    float theta = sqrtf(dot3(w, w));
    float k[3] = {0.0f, 0.0f, 0.0f};
    if (theta > 1e-12f)
        for (int a = 0; a < 3; ++a) k[a] = w[a] / theta;
    float c = cosf(theta), s = sinf(theta), kd = dot3(k, d);
    float kxd[3] = {k[1] * d[2] - k[2] * d[1], k[2] * d[0] - k[0] * d[2], k[0] * d[1] - k[1] * d[0]};
    for (int a = 0; a < 3; ++a) out[a] = d[a] * c + kxd[a] * s + k[a] * kd * (1.0f - c);
}

KERNEL void draw_rays(DrawArgs a) {
    int i = thread_index();
    if (i >= a.n_rays) return;
    Rng rng = rng_for_ray(a.seed, (u64)i);
    int vi = rng_below(rng, a.n_views);
    const ViewDesc& v = a.views[vi];
    int x = rng_below(rng, v.width), y = rng_below(rng, v.height);
    float fx = rng_uniform(rng), fy = rng_uniform(rng);
    // Bilinear between the four corners of pixel (x, y).
    const float* c = a.corners + 3 * (v.first_corner + (u64)y * (u64)(v.width + 1) + (u64)x);
    const float* below = c + 3 * (v.width + 1);
    float cam[3], dir[3];
    for (int k = 0; k < 3; ++k) {
        float top = c[k] + (c[3 + k] - c[k]) * fx;
        float bottom = below[k] + (below[3 + k] - below[k]) * fx;
        cam[k] = top + (bottom - top) * fy;
    }
    const float* delta = a.corrections + POSE_FLOATS * vi;
    if (a.refine) {
        // A focal length scaled by s draws each pixel's direction 1/s as far off the axis.
        float s = expf(delta[FOCAL]);
        cam[0] /= s;
        cam[1] /= s;
    }
    for (int r = 0; r < 3; ++r) dir[r] = dot3(v.rotation + 3 * r, cam);
    float len = sqrtf(dot3(dir, dir));
    RayIn& ray = a.rays[i];
    for (int k = 0; k < 3; ++k) {
        ray.dir[k] = dir[k] / len;
        ray.origin[k] = v.origin[k];
    }
    if (a.refine) {
        float d[3] = {ray.dir[0], ray.dir[1], ray.dir[2]};
        rotate(delta, d, ray.dir);
        for (int k = 0; k < 3; ++k) ray.origin[k] += delta[3 + k];
    }
    const float* px = a.pixels + PIXEL_FLOATS * (v.first_pixel + (u64)y * (u64)v.width + (u64)x);
    for (int k = 0; k < 3; ++k) ray.rgb[k] = px[k];
    ray.mask = px[3];
    ray.depth = px[4];
    ray.jitter = rng_uniform(rng);
    a.ray_views[i] = vi;
}

KERNEL void reduce_rays(ReduceArgs a) {
    int i = thread_index();
    if (i >= a.n_rays) return;
    const RayIn& r = a.rays[i];
    const RayOut& o = a.out[i];
    float se = 0.0f;
    for (int k = 0; k < 3; ++k) se += (o.rgb[k] - r.rgb[k]) * (o.rgb[k] - r.rgb[k]);
    se /= 3.0f;
    atomicAdd(&a.batch[0], o.loss);
    atomicAdd(&a.batch[1], se);
    atomicAdd(&a.batch[2], o.samples);
    float* v = a.views + VIEW_SUMS * a.ray_views[i];
    atomicAdd(&v[0], se);
    atomicAdd(&v[1], 1.0f);
    if (!a.refine) return;
    // As poses::accumulate_gradient: d × dL/dd for the rotation, dL/do for the shift, and
    // for the focal scale dL/dd · (|p|² d − p), p being d's part across the optical axis.
    const float* d = r.dir;
    const float* g = o.d_dir;
    float w[3] = {d[1] * g[2] - d[2] * g[1], d[2] * g[0] - d[0] * g[2], d[0] * g[1] - d[1] * g[0]};
    for (int k = 0; k < 3; ++k) {
        atomicAdd(&v[2 + k], w[k]);
        atomicAdd(&v[5 + k], o.d_origin[k]);
    }
    const ViewDesc& desc = a.descs[a.ray_views[i]];
    const float z[3] = {desc.rotation[2], desc.rotation[5], desc.rotation[8]};
    float axis[3];
    rotate(a.corrections + POSE_FLOATS * a.ray_views[i], z, axis);
    float along = dot3(d, axis), pp = 0.0f, gf = 0.0f;
    float p[3];
    for (int k = 0; k < 3; ++k) {
        p[k] = d[k] - along * axis[k];
        pp += p[k] * p[k];
    }
    for (int k = 0; k < 3; ++k) gf += g[k] * (pp * d[k] - p[k]);
    atomicAdd(&v[2 + POSE_FLOATS - 1], gf);
}
