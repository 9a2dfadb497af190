// The trained field evaluated from storage buffers: the same arithmetic as src/field (hash
// grid, SDF and colour networks, background field beyond the unit sphere) and src/train/render
// (NeuS volume rendering), in the normalised frame where the scene fits in the unit sphere.
// Network evaluations are never called from inside a loop: on lavapipe (Mesa 22) they then came
// out wrong (a loop around a network call lost its own state). Marching is therefore done one
// sample per dispatch (field_march.wgsl), the way wavefront renderers work on GPUs anyway.

struct Level {
    res: f32,
    side: u32,
    dense: u32,
    // Float index of the level's table in `params`.
    offset: u32,
}

struct FieldInfo {
    sdf_off: u32,
    color_off: u32,
    bg_density_off: u32,
    bg_color_off: u32,
    levels: u32,
    active_levels: u32,
    bg_levels: u32,
    hidden: u32,
    table_mask: u32,
    bg_table_mask: u32,
    occ_res: u32,
    max_samples: u32,
    inv_s: f32,
    orientation: f32,
    init_radius: f32,
    fd_h: f32,
    march_step: f32,
    anneal: f32,
    bg_hidden: u32,
    background: u32,  // 0: the field has no background (FieldConfig::background)
    view_coeffs: u32,  // SH coefficients of the view direction the surface colour sees
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(1) @binding(0) var<uniform> info: FieldInfo;
@group(1) @binding(1) var<storage, read> params: array<f32>;
@group(1) @binding(2) var<storage, read> levels: array<Level>;
@group(1) @binding(3) var<storage, read> occ: array<u32>;

// Network inputs (at most 3 + 2·16 = 35 floats), hidden activations and outputs. Hidden units
// are folded into the next layer as soon as they are computed, and arrays stay this small:
// lavapipe clobbered the caller's variables when shaders kept several 64-float copies alive.
alias Input = array<f32, 36>;
alias Hidden = array<f32, 64>;
alias Output = array<f32, 16>;

const GEO_FEATURES: u32 = 15u;
const SDF_OUT: u32 = 16u;
const SH_COEFFS: u32 = 16u;
const BG_SAMPLES: u32 = 16u;
const BG_FAR_U: f32 = 1e-4;
// Hash levels the sample at infinity reads (background::FAR_LEVELS).
const BG_FAR_LEVELS: u32 = 2u;
const BG_FEATURES: u32 = 15u;
const TRANSMITTANCE_EPS: f32 = 1e-4;

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

fn softplus(x: f32) -> f32 {
    if x > 15.0 {
        return x;
    }
    return log(1.0 + exp(x));
}

// One hidden layer (ReLU) and a linear output, weights row-major then biases per layer, as
// src/compute/cpu/mlp.rs stores them. Only the first `keep` of the `no` outputs are computed
// (sphere tracing needs the distance alone: a third of the network's arithmetic).
fn net1(off: u32, ni: u32, nh: u32, no: u32, keep: u32, x: ptr<function, Input>) -> Output {
    let b1 = off + ni * nh;
    let w2 = b1 + nh;
    let b2 = w2 + nh * no;
    var y: Output;
    for (var k = 0u; k < keep; k++) {
        y[k] = params[b2 + k];
    }
    for (var j = 0u; j < nh; j++) {
        var a = params[b1 + j];
        for (var i = 0u; i < ni; i++) {
            a += params[off + j * ni + i] * (*x)[i];
        }
        let h = max(a, 0.0);
        for (var k = 0u; k < keep; k++) {
            y[k] += params[w2 + k * nh + j] * h;
        }
    }
    return y;
}

// Two hidden layers (ReLU) and a linear output.
fn net2(off: u32, ni: u32, nh: u32, no: u32, x: ptr<function, Input>) -> Output {
    var h1: Hidden;
    for (var j = 0u; j < nh; j++) {
        var a = params[off + ni * nh + j];
        for (var i = 0u; i < ni; i++) {
            a += params[off + j * ni + i] * (*x)[i];
        }
        h1[j] = max(a, 0.0);
    }
    let w1 = off + ni * nh + nh;
    let b1 = w1 + nh * nh;
    let w2 = b1 + nh;
    let b2 = w2 + nh * no;
    var y: Output;
    for (var k = 0u; k < no; k++) {
        y[k] = params[b2 + k];
    }
    for (var j = 0u; j < nh; j++) {
        var a = params[b1 + j];
        for (var i = 0u; i < nh; i++) {
            a += params[w1 + j * nh + i] * h1[i];
        }
        let h = max(a, 0.0);
        for (var k = 0u; k < no; k++) {
            y[k] += params[w2 + k * nh + j] * h;
        }
    }
    return y;
}

// Multiresolution hash encoding of u in [0, 1]³ into x[out_off..]; levels from `first` on.
fn encode(first: u32, n: u32, n_active: u32, mask: u32, u: vec3<f32>, x: ptr<function, Input>, out_off: u32) {
    for (var l = 0u; l < n; l++) {
        var f0 = 0.0;
        var f1 = 0.0;
        if l < n_active {
            let lv = levels[first + l];
            let p = clamp(u, vec3(0.0), vec3(1.0)) * lv.res;
            let fl = clamp(floor(p), vec3(0.0), vec3(lv.res - 1.0));
            let fr = p - fl;
            let b = vec3<u32>(fl);
            for (var k = 0u; k < 8u; k++) {
                let o = vec3<u32>(k & 1u, (k >> 1u) & 1u, (k >> 2u) & 1u);
                let g = b + o;
                var idx: u32;
                if lv.dense != 0u {
                    idx = g.x + lv.side * (g.y + lv.side * g.z);
                } else {
                    // The CPU hashes in 64 bits modulo a power of two: the low 32 bits agree.
                    idx = (g.x ^ (g.y * 2654435761u) ^ (g.z * 805459861u)) & mask;
                }
                let w3 = select(1.0 - fr, fr, o == vec3(1u));
                let w = w3.x * w3.y * w3.z;
                let i = lv.offset + idx * 2u;
                f0 += w * params[i];
                f1 += w * params[i + 1u];
            }
        }
        (*x)[out_off + 2u * l] = f0;
        (*x)[out_off + 2u * l + 1u] = f1;
    }
}

fn sh_encode(d: vec3<f32>, x: ptr<function, Input>, off: u32) {
    let xx = d.x * d.x;
    let yy = d.y * d.y;
    let zz = d.z * d.z;
    (*x)[off + 0u] = 0.2820948;
    (*x)[off + 1u] = -0.4886025 * d.y;
    (*x)[off + 2u] = 0.4886025 * d.z;
    (*x)[off + 3u] = -0.4886025 * d.x;
    (*x)[off + 4u] = 1.0925484 * d.x * d.y;
    (*x)[off + 5u] = -1.0925484 * d.y * d.z;
    (*x)[off + 6u] = 0.31539157 * (3.0 * zz - 1.0);
    (*x)[off + 7u] = -1.0925484 * d.x * d.z;
    (*x)[off + 8u] = 0.5462742 * (xx - yy);
    (*x)[off + 9u] = -0.5900436 * d.y * (3.0 * xx - yy);
    (*x)[off + 10u] = 2.8906114 * d.x * d.y * d.z;
    (*x)[off + 11u] = -0.4570458 * d.y * (5.0 * zz - 1.0);
    (*x)[off + 12u] = 0.37317633 * d.z * (5.0 * zz - 3.0);
    (*x)[off + 13u] = -0.4570458 * d.x * (5.0 * zz - 1.0);
    (*x)[off + 14u] = 1.4453057 * d.z * (xx - yy);
    (*x)[off + 15u] = -0.5900436 * d.x * (xx - 3.0 * yy);
}

fn prior(x: vec3<f32>) -> f32 {
    return info.orientation * (max(length(x), 1e-9) - info.init_radius);
}

// SDF network at x: returns the signed distance; `out` holds the network's first `keep` outputs.
fn sdf_net(x: vec3<f32>, keep: u32, out: ptr<function, Output>) -> f32 {
    var inp: Input;
    inp[0] = x.x;
    inp[1] = x.y;
    inp[2] = x.z;
    encode(0u, info.levels, info.active_levels, info.table_mask, (x + 1.0) * 0.5, &inp, 3u);
    *out = net1(info.sdf_off, 3u + 2u * info.levels, info.hidden, SDF_OUT, keep, &inp);
    return prior(x) + (*out)[0];
}

fn sdf(x: vec3<f32>) -> f32 {
    var o: Output;
    return sdf_net(x, 1u, &o);
}

struct Surface {
    sdf: f32,
    grad: vec3<f32>,
    // Geometry features in feat[0..15].
    feat: Output,
}

// Value, gradient and features from SDF values at a tetrahedron of size h (as Field::surface);
// `keep` is SDF_OUT for the features too, 1 for the value and gradient alone.
fn surface(x: vec3<f32>, h: f32, keep: u32) -> Surface {
    var tetra = array<vec3<f32>, 4>(vec3(1.0, -1.0, -1.0), vec3(-1.0, -1.0, 1.0), vec3(-1.0, 1.0, -1.0), vec3(1.0, 1.0, 1.0));
    var s: Surface;
    for (var k = 0u; k < 4u; k++) {
        let v = tetra[k];
        var o: Output;
        let f = sdf_net(x + h * v, keep, &o);
        s.sdf += 0.25 * f;
        s.grad += v * f / (4.0 * h);
        for (var i = 0u; i < GEO_FEATURES; i++) {
            s.feat[i] += 0.25 * o[1u + i];
        }
    }
    return s;
}

// Colour seen along d at a point with SDF gradient `grad` and features `feat`.
fn color(grad: vec3<f32>, d: vec3<f32>, feat: ptr<function, Output>) -> vec3<f32> {
    var inp: Input;
    let n = grad / max(length(grad), 1e-6);
    inp[0] = n.x;
    inp[1] = n.y;
    inp[2] = n.z;
    sh_encode(d, &inp, 3u);
    for (var i = info.view_coeffs; i < SH_COEFFS; i++) {
        inp[3u + i] = 0.0;
    }
    for (var i = 0u; i < GEO_FEATURES; i++) {
        inp[3u + SH_COEFFS + i] = (*feat)[i];
    }
    var out = net2(info.color_off, 3u + SH_COEFFS + GEO_FEATURES, info.hidden, 3u, &inp);
    return vec3(sigmoid(out[0]), sigmoid(out[1]), sigmoid(out[2]));
}

// Branch-free helpers: lavapipe (Mesa 22) lost track of the caller's loop state when a helper
// with an early return was inlined into a loop that also evaluates the networks.
fn occupied(x: vec3<f32>) -> bool {
    let res = f32(info.occ_res);
    let u = (x + 1.0) * 0.5 * res;
    let inside = all(u >= vec3(0.0)) & all(u < vec3(res));
    let c = vec3<u32>(clamp(u, vec3(0.0), vec3(res - 1.0)));
    let i = c.x + info.occ_res * (c.y + info.occ_res * c.z);
    return inside & (((occ[i >> 5u] >> (i & 31u)) & 1u) != 0u);
}

// Where a ray is inside the unit sphere, from no earlier than its origin; x >= y when it misses.
fn sphere_span(o: vec3<f32>, d: vec3<f32>) -> vec2<f32> {
    let b = dot(o, d);
    let disc = b * b - (dot(o, o) - 1.0);
    let s = sqrt(max(disc, 0.0));
    return select(vec2(1.0, 0.0), vec2(max(-b - s, 0.0), -b + s), disc > 0.0);
}

// Distance to where the ray leaves the sphere of radius r (negative when it does not ahead).
fn exit_distance(o: vec3<f32>, d: vec3<f32>, r: f32) -> f32 {
    let b = dot(o, d);
    let disc = b * b - (dot(o, o) - r * r);
    return select(-1.0, -b + sqrt(max(disc, 0.0)), disc > 1e-8);
}

// The background field (as Background::render), one sample at a time: the last sample the ray
// reaches is opaque.
// Inverse distance of background sample j (background::sample_u): the last is at infinity.
fn background_u(j: u32, jitter: f32) -> f32 {
    let n = f32(BG_SAMPLES);
    return select((n - f32(j) - jitter) / n, BG_FAR_U, j + 1u == BG_SAMPLES);
}

fn background_last(o: vec3<f32>, d: vec3<f32>, jitter: f32) -> u32 {
    var last = BG_SAMPLES;
    for (var j = 0u; j < BG_SAMPLES; j++) {
        if exit_distance(o, d, 1.0 / background_u(j, jitter)) > 0.0 {
            last = j;
        }
    }
    return last;
}

// Colour and opacity of background sample j (opacity 0 where the ray does not reach it).
fn background_sample(o: vec3<f32>, d: vec3<f32>, j: u32, last: u32, jitter: f32) -> vec4<f32> {
    let n = f32(BG_SAMPLES);
    let u = background_u(j, jitter);
    let t = exit_distance(o, d, 1.0 / u);
    if t <= 0.0 {
        return vec4(0.0);
    }
    var inp: Input;
    let read_levels = select(info.bg_levels, min(BG_FAR_LEVELS, info.bg_levels), j + 1u == BG_SAMPLES);
    encode(info.levels, info.bg_levels, read_levels, info.bg_table_mask, (o + t * d) * (u * (2.0 - u) * 0.25) + 0.5, &inp, 0u);
    var dens = net1(info.bg_density_off, 2u * info.bg_levels, info.bg_hidden, 1u + BG_FEATURES, 1u + BG_FEATURES, &inp);
    var cin: Input;
    for (var i = 0u; i < BG_FEATURES; i++) {
        cin[i] = dens[1u + i];
    }
    sh_encode(d, &cin, BG_FEATURES);
    var c = net1(info.bg_color_off, BG_FEATURES + SH_COEFFS, info.bg_hidden, 3u, 3u, &cin);
    let alpha = select(1.0 - exp(-softplus(dens[0]) / n), 1.0, j == last);
    return vec4(sigmoid(c[0]), sigmoid(c[1]), sigmoid(c[2]), alpha);
}

fn neus_alpha(f_prev: f32, f_next: f32, s: f32) -> f32 {
    let p = sigmoid(f_prev * s);
    let n = sigmoid(f_next * s);
    return clamp((p - n + 1e-5) / (p + 1e-5), 0.0, 1.0);
}
