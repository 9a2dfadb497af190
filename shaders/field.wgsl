// The trained field evaluated from storage buffers: the same arithmetic as src/field (hash
// grid, SDF and colour networks, background field beyond the unit sphere) and src/train/render
// (NeuS volume rendering), in the normalised frame where the scene fits in the unit sphere.
// Every network uses 64-float scratch arrays: hidden widths and inputs are at most 64.

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
    active: u32,
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
    pad: u32,
}

@group(1) @binding(0) var<uniform> info: FieldInfo;
@group(1) @binding(1) var<storage, read> params: array<f32>;
@group(1) @binding(2) var<storage, read> levels: array<Level>;
@group(1) @binding(3) var<storage, read> occ: array<u32>;

alias Vec64 = array<f32, 64>;

const GEO_FEATURES: u32 = 15u;
const SDF_OUT: u32 = 16u;
const SH_COEFFS: u32 = 16u;
const BG_SAMPLES: u32 = 16u;
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

// One dense layer: row-major weights then biases, as src/compute/cpu/mlp.rs stores them.
fn dense_layer(off: u32, ni: u32, no: u32, x: ptr<function, Vec64>, y: ptr<function, Vec64>, relu: bool) -> u32 {
    for (var o = 0u; o < no; o++) {
        let row = off + o * ni;
        var s = params[off + ni * no + o];
        for (var i = 0u; i < ni; i++) {
            s += params[row + i] * (*x)[i];
        }
        (*y)[o] = select(s, max(s, 0.0), relu);
    }
    return off + ni * no + no;
}

fn mlp(off: u32, ni: u32, hidden: u32, hidden_layers: u32, no: u32, x: ptr<function, Vec64>) -> Vec64 {
    var a = *x;
    var b: Vec64;
    var p = off;
    var n = ni;
    for (var l = 0u; l < hidden_layers; l++) {
        p = dense_layer(p, n, hidden, &a, &b, true);
        a = b;
        n = hidden;
    }
    p = dense_layer(p, n, no, &a, &b, false);
    return b;
}

// Multiresolution hash encoding of u in [0, 1]³ into x[out_off..]; levels from `first` on.
fn encode(first: u32, n: u32, active: u32, mask: u32, u: vec3<f32>, x: ptr<function, Vec64>, out_off: u32) {
    for (var l = 0u; l < n; l++) {
        var f0 = 0.0;
        var f1 = 0.0;
        if l < active {
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

fn sh_encode(d: vec3<f32>, x: ptr<function, Vec64>, off: u32) {
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

// SDF network at x: returns the signed distance; `out` holds the network's outputs.
fn sdf_net(x: vec3<f32>, out: ptr<function, Vec64>) -> f32 {
    var inp: Vec64;
    inp[0] = x.x;
    inp[1] = x.y;
    inp[2] = x.z;
    encode(0u, info.levels, info.active, info.table_mask, (x + 1.0) * 0.5, &inp, 3u);
    *out = mlp(info.sdf_off, 3u + 2u * info.levels, info.hidden, 1u, SDF_OUT, &inp);
    return prior(x) + (*out)[0];
}

fn sdf(x: vec3<f32>) -> f32 {
    var o: Vec64;
    return sdf_net(x, &o);
}

struct Surface {
    sdf: f32,
    grad: vec3<f32>,
    // Geometry features in feat[0..15].
    feat: Vec64,
}

// Value, gradient and features from SDF values at a tetrahedron of size h (as Field::surface).
fn surface(x: vec3<f32>, h: f32) -> Surface {
    var tetra = array<vec3<f32>, 4>(vec3(1.0, -1.0, -1.0), vec3(-1.0, -1.0, 1.0), vec3(-1.0, 1.0, -1.0), vec3(1.0, 1.0, 1.0));
    var s: Surface;
    s.sdf = 0.0;
    s.grad = vec3(0.0);
    for (var k = 0u; k < 4u; k++) {
        let v = tetra[k];
        var o: Vec64;
        let f = sdf_net(x + h * v, &o);
        s.sdf += 0.25 * f;
        s.grad += v * f / (4.0 * h);
        for (var i = 0u; i < GEO_FEATURES; i++) {
            s.feat[i] += 0.25 * o[1u + i];
        }
    }
    return s;
}

// Colour seen along d at a point with SDF gradient `grad` and features `feat`.
fn color(grad: vec3<f32>, d: vec3<f32>, feat: ptr<function, Vec64>) -> vec3<f32> {
    var inp: Vec64;
    let n = grad / max(length(grad), 1e-6);
    inp[0] = n.x;
    inp[1] = n.y;
    inp[2] = n.z;
    sh_encode(d, &inp, 3u);
    for (var i = 0u; i < GEO_FEATURES; i++) {
        inp[3u + SH_COEFFS + i] = (*feat)[i];
    }
    var out = mlp(info.color_off, 3u + SH_COEFFS + GEO_FEATURES, info.hidden, 2u, 3u, &inp);
    return vec3(sigmoid(out[0]), sigmoid(out[1]), sigmoid(out[2]));
}

fn occupied(x: vec3<f32>) -> bool {
    let res = f32(info.occ_res);
    let u = (x + 1.0) * 0.5 * res;
    if any(u < vec3(0.0)) || any(u >= vec3(res)) {
        return false;
    }
    let c = vec3<u32>(u);
    let i = c.x + info.occ_res * (c.y + info.occ_res * c.z);
    return ((occ[i >> 5u] >> (i & 31u)) & 1u) != 0u;
}

// Where a ray is inside the unit sphere, from no earlier than its origin; x > y when it misses.
fn sphere_span(o: vec3<f32>, d: vec3<f32>) -> vec2<f32> {
    let b = dot(o, d);
    let disc = b * b - (dot(o, o) - 1.0);
    if disc <= 0.0 {
        return vec2(1.0, 0.0);
    }
    let s = sqrt(disc);
    return vec2(max(-b - s, 0.0), -b + s);
}

// Distance to where the ray leaves the sphere of radius r (negative when it does not ahead).
fn exit_distance(o: vec3<f32>, d: vec3<f32>, r: f32) -> f32 {
    let b = dot(o, d);
    let disc = b * b - (dot(o, o) - r * r);
    if disc <= 1e-8 {
        return -1.0;
    }
    return -b + sqrt(disc);
}

// The background field composited along a ray (as Background::render).
fn background(o: vec3<f32>, d: vec3<f32>, jitter: f32) -> vec3<f32> {
    let n = f32(BG_SAMPLES);
    var last = -1;
    for (var j = 0u; j < BG_SAMPLES; j++) {
        if exit_distance(o, d, n / (n - f32(j) - jitter)) > 0.0 {
            last = i32(j);
        }
    }
    var rgb = vec3(0.0);
    var trans = 1.0;
    var dir_sh: Vec64;
    sh_encode(d, &dir_sh, 0u);
    for (var j = 0u; j < BG_SAMPLES; j++) {
        let u = (n - f32(j) - jitter) / n;
        let t = exit_distance(o, d, 1.0 / u);
        if t <= 0.0 {
            continue;
        }
        let x = o + t * d;
        var inp: Vec64;
        encode(info.levels, info.bg_levels, info.bg_levels, info.bg_table_mask, x * (u * (2.0 - u) * 0.25) + 0.5, &inp, 0u);
        var dens = mlp(info.bg_density_off, 2u * info.bg_levels, info.bg_hidden, 1u, 1u + BG_FEATURES, &inp);
        var cin: Vec64;
        for (var i = 0u; i < BG_FEATURES; i++) {
            cin[i] = dens[1u + i];
        }
        for (var i = 0u; i < SH_COEFFS; i++) {
            cin[BG_FEATURES + i] = dir_sh[i];
        }
        var c = mlp(info.bg_color_off, BG_FEATURES + SH_COEFFS, info.bg_hidden, 1u, 3u, &cin);
        var alpha = 1.0 - exp(-softplus(dens[0]) / n);
        if i32(j) == last {
            alpha = 1.0;
        }
        rgb += trans * alpha * vec3(sigmoid(c[0]), sigmoid(c[1]), sigmoid(c[2]));
        trans *= 1.0 - alpha;
    }
    return rgb;
}

fn neus_alpha(f_prev: f32, f_next: f32, s: f32) -> f32 {
    let p = sigmoid(f_prev * s);
    let n = sigmoid(f_next * s);
    return clamp((p - n + 1e-5) / (p + 1e-5), 0.0, 1.0);
}

struct RayResult {
    rgb: vec3<f32>,
    opacity: f32,
    // Expected distance of the surface along the ray (weighted by the rendering weights).
    depth: f32,
}

// NeuS volume rendering of one ray (as render::trace without a target).
fn render_ray(o: vec3<f32>, d: vec3<f32>, jitter: f32) -> RayResult {
    var out: RayResult;
    var trans = 1.0;
    let span = sphere_span(o, d);
    let step = info.march_step;
    let r = info.anneal;
    if span.x < span.y {
        var t = (ceil(span.x / step - jitter) + jitter) * step;
        var count = 0u;
        while t < span.y && count < info.max_samples {
            let x = o + t * d;
            if occupied(x) {
                count++;
                var s = surface(x, info.fd_h);
                let c = color(s.grad, d, &s.feat);
                let true_cos = dot(d, s.grad);
                let iter_cos = -(max(0.5 - 0.5 * true_cos, 0.0) * (1.0 - r) + max(-true_cos, 0.0) * r);
                let half = iter_cos * step * 0.5;
                let a = neus_alpha(s.sdf - half, s.sdf + half, info.inv_s);
                out.rgb += trans * a * c;
                out.depth += trans * a * t;
                trans *= 1.0 - a;
                if trans < TRANSMITTANCE_EPS {
                    break;
                }
            }
            t += step;
        }
    }
    out.opacity = 1.0 - trans;
    out.rgb += trans * background(o, d, jitter);
    return out;
}

// First zero crossing of the SDF along a ray inside the unit sphere (sphere tracing, skipping
// empty occupancy cells, refined by bisection); negative when there is none.
fn trace_surface(o: vec3<f32>, d: vec3<f32>) -> f32 {
    let span = sphere_span(o, d);
    if span.x >= span.y {
        return -1.0;
    }
    let res = f32(info.occ_res);
    var t = span.x;
    var prev = t;
    for (var i = 0; i < 384; i++) {
        if t > span.y {
            break;
        }
        let x = o + t * d;
        if !occupied(x) {
            // Jump to where the ray leaves this cell.
            let u = (x + 1.0) * 0.5 * res;
            let bound = select(floor(u), floor(u) + 1.0, d > vec3(0.0));
            let speed = d * 0.5 * res;
            let tt = select(vec3(1e9), (bound - u) / speed, abs(speed) > vec3(1e-9));
            prev = t;
            t += max(min(tt.x, min(tt.y, tt.z)), 0.0) + 1e-4;
            continue;
        }
        let f = sdf(x);
        if f < 1e-4 {
            if f >= 0.0 {
                return t;
            }
            var lo = prev;
            var hi = t;
            for (var k = 0; k < 8; k++) {
                let mid = 0.5 * (lo + hi);
                if sdf(o + mid * d) > 0.0 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            return 0.5 * (lo + hi);
        }
        prev = t;
        t += max(0.8 * f, 2e-3);
    }
    return -1.0;
}
