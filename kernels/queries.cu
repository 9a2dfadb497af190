// The field at arbitrary points, for meshing (src/mesh): signed distances at the grid's
// corners, and colours at the mesh's vertices.
#include "common.cuh"
#include "field.cuh"

KERNEL void sdf_query(FieldDesc f, Params p, int active, const float* points, int n, float* out) {
    int i = thread_index();
    if (i >= n) return;
    float net[1];
    out[i] = sdf_value(f, p, points + 3 * i, active, net);
}

// The colour at each point seen along its look direction (looks: a unit vector per point, or
// zero: head-on, against the SDF gradient), with the finite-difference step h: as
// src/mesh/mod.rs's vertex_colors on the CPU. rgb gets three floats per point.
KERNEL void color_query(FieldDesc f, Params p, int active, float h, const float* points, const float* looks, int n,
                        float* rgb) {
    int i = thread_index();
    if (i >= n) return;
    Surface s;
    surface<false>(f, p, points + 3 * i, h, active, s, Strided{0, 0});
    float look[3] = {looks[3 * i], looks[3 * i + 1], looks[3 * i + 2]};
    if (look[0] == 0.0f && look[1] == 0.0f && look[2] == 0.0f) {
        // glam's normalize_or_zero, negated.
        float r = 1.0f / sqrtf(dot3(s.grad, s.grad));
        for (int a = 0; a < 3; ++a) look[a] = isfinite(r) && r > 0.0f ? -(s.grad[a] * r) : 0.0f;
    }
    float dir_sh[SH_COEFFS];
    sh_encode(look, dir_sh);
    color_value(f, p, s.grad, dir_sh, s.feat, rgb + 3 * i, Strided{0, 0});
}
