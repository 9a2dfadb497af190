// Compute passes that draw the field image: the shaded SDF (sphere tracing one step per
// dispatch, then shading at the hit), the novel view (NeuS volume rendering, one sample per
// dispatch, then the background field) and the SDF slice (one evaluation per pixel). Network
// evaluations belong in compute passes, which GPUs run far faster than fragment shaders here.
// Concatenated after field.wgsl and view_common.wgsl; field_view.wgsl shows the result.
//
// Marching steps only visit the pixels still marching: each step reads one list of pixel
// indices and appends the pixels that go on to the other, and a one-thread pass turns the new
// list's length into the next step's indirect dispatch. Most rays finish in a step or two, so
// the later steps cost what their few rays cost, not a pass over the whole image.

@group(0) @binding(1) var<storage, read_write> pixels: array<PixelState>;
// Two lists of pixel indices, `pixel_count()` apart, and their lengths.
@group(0) @binding(2) var<storage, read_write> lists: array<u32>;
@group(0) @binding(3) var<storage, read_write> lengths: array<atomic<u32>, 2>;
// The next step's workgroups (x, y, z).
@group(2) @binding(0) var<storage, read_write> next_groups: array<u32, 3>;

// The list this pipeline's step reads; it appends to the other one.
override IN: u32 = 0u;

const AMBIENT: f32 = 0.18;
const DIFFUSE: f32 = 0.82;
const SURFACE_ALBEDO: vec3<f32> = vec3(0.78, 0.76, 0.72);

// Dispatches are at most 65535 groups wide; larger images use rows of them.
fn pixel_index(id: vec3<u32>) -> u32 {
    return id.x + id.y * 65535u * 64u;
}

fn pixel_ray(i: u32) -> CameraRay {
    let w = cam.flags.z;
    return camera_ray(vec2(f32(i % w) + 0.5, f32(i / w) + 0.5));
}

fn pixel_count() -> u32 {
    return cam.flags.z * cam.flags.w;
}

fn push(i: u32) {
    let k = atomicAdd(&lengths[1u - IN], 1u);
    lists[(1u - IN) * pixel_count() + k] = i;
}

// The pixel a step's invocation works on, or none past the end of its list.
fn listed_pixel(id: vec3<u32>) -> u32 {
    let k = pixel_index(id);
    if k >= atomicLoad(&lengths[IN]) {
        return 0xffffffffu;
    }
    return lists[IN * pixel_count() + k];
}

// Sizes the next step to the list the last one appended to, and empties the list it read.
@compute @workgroup_size(1)
fn cs_dispatch() {
    let groups = (atomicLoad(&lengths[1u - IN]) + 63u) / 64u;
    next_groups[0] = min(groups, 65535u);
    next_groups[1] = (groups + 65534u) / 65535u;
    next_groups[2] = 1u;
    atomicStore(&lengths[IN], 0u);
}

// Distance of the next occupied sample from t on (samples `step` apart), or `end` if none.
fn next_occupied(o: vec3<f32>, d: vec3<f32>, t0: f32, end: f32, step: f32) -> f32 {
    var t = t0;
    loop {
        if t >= end {
            break;
        }
        if occupied(o + t * d) {
            break;
        }
        t += step;
    }
    return t;
}

// Where the ray leaves the empty cell at t, or t itself when the cell is occupied.
fn skip_empty(o: vec3<f32>, d: vec3<f32>, t0: f32, end: f32) -> f32 {
    let res = f32(info.occ_res);
    var t = t0;
    for (var k = 0; k < 512; k++) {
        if t >= end {
            break;
        }
        let x = o + t * d;
        if occupied(x) {
            break;
        }
        let u = (x + 1.0) * 0.5 * res;
        let bound = select(floor(u), floor(u) + 1.0, d > vec3(0.0));
        let speed = d * 0.5 * res;
        let tt = select(vec3(1e9), (bound - u) / speed, abs(speed) > vec3(1e-9));
        t += max(min(tt.x, min(tt.y, tt.z)), 0.0) + 1e-4;
    }
    return t;
}

@compute @workgroup_size(64)
fn cs_init(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = pixel_index(id);
    if i >= pixel_count() {
        return;
    }
    let r = pixel_ray(i);
    let span = sphere_span(r.o, r.d);
    var p: PixelState;
    p.color = vec4(0.0, 0.0, 0.0, 1.0);
    p.counts = vec4(0.0, 0.0, f32(background_last(r.o, r.d, 0.5)), 0.0);
    if cam.flags.x == 2u {
        // Samples on a grid of distances fixed along the ray, as the CPU renderer takes them.
        let step = info.march_step;
        let t = (ceil(span.x / step - 0.5) + 0.5) * step;
        p.march = vec4(t, span.y, 0.0, select(BACKGROUND_LEFT, MARCHING, span.x < span.y));
    } else {
        p.march = vec4(span.x, span.y, -1.0, select(DONE, MARCHING, span.x < span.y));
    }
    pixels[i] = p;
    if p.march.w != DONE {
        push(i);
    }
}

// One sample of the novel view per pixel: the next occupied surface sample, else the next
// background sample.
@compute @workgroup_size(64)
fn cs_novel_step(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = listed_pixel(id);
    if i == 0xffffffffu {
        return;
    }
    var p = pixels[i];
    let r = pixel_ray(i);
    let step = info.march_step;
    if p.march.w == MARCHING {
        let t = next_occupied(r.o, r.d, p.march.x, p.march.y, step);
        if t >= p.march.y {
            p.march.w = BACKGROUND_LEFT;
        } else {
            var s = surface(r.o + t * r.d, info.fd_h, SDF_OUT);
            var feat = s.feat;
            let c = color(s.grad, r.d, &feat);
            let a_r = info.anneal;
            let true_cos = dot(r.d, s.grad);
            let iter_cos = -(max(0.5 - 0.5 * true_cos, 0.0) * (1.0 - a_r) + max(-true_cos, 0.0) * a_r);
            let half_step = iter_cos * step * 0.5;
            let a = neus_alpha(s.sdf - half_step, s.sdf + half_step, info.inv_s);
            let w = p.color.w * a;
            p.color = vec4(p.color.xyz + w * c, p.color.w * (1.0 - a));
            p.march.z += w * t;
            p.march.x = t + step;
            p.counts.x += 1.0;
            if p.color.w < TRANSMITTANCE_EPS {
                p.march.w = BACKGROUND_LEFT;
            }
            if p.counts.x >= f32(info.max_samples) {
                p.march.w = BACKGROUND_LEFT;
            }
        }
    } else if p.march.w == BACKGROUND_LEFT {
        let j = u32(p.counts.y);
        let last = u32(p.counts.z);
        if j >= BG_SAMPLES || info.background == 0u {
            p.march.w = DONE;
        } else {
            let b = background_sample(r.o, r.d, j, last, 0.5);
            // The background's own transmittance is folded into the pixel's.
            p.color = vec4(p.color.xyz + p.color.w * b.w * b.xyz, p.color.w * (1.0 - b.w));
            p.counts.y += 1.0;
        }
    }
    pixels[i] = p;
    if p.march.w != DONE {
        push(i);
    }
}

// Sphere tracing, one step per pixel per dispatch. Steps are over-relaxed (Keinert et al.
// 2014, "Enhanced sphere tracing"): RELAX times the distance, falling back to SAFE steps from
// the previous sample when the two unbounding spheres do not overlap (the long step may have
// passed a surface). A sign change brackets the surface, which regula falsi then closes. A
// pixel is done when it is within half its footprint of the surface: tighter is invisible and
// costs grazing rays dozens of steps. In this mode a pixel's state holds
//   march:  next t, end of the sphere, f at the previous sample (-1: none), status
//   counts: steps taken, bracket's far end t (0: no bracket) and its f, previous sample's t
//   color.x: the step factor (0 until a fallback: RELAX)
const RELAX: f32 = 1.5;
const SAFE: f32 = 0.9;

fn hit_tolerance(t: f32) -> f32 {
    return max(0.5 * t / cam.intrinsics.x, 1e-5);
}

// Where the line through (t0, f0) and (t1, f1) crosses zero.
fn secant(t0: f32, f0: f32, t1: f32, f1: f32) -> f32 {
    return t0 + (t1 - t0) * f0 / (f0 - f1);
}

@compute @workgroup_size(64)
fn cs_sdf_step(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = listed_pixel(id);
    if i == 0xffffffffu {
        return;
    }
    let p = sphere_trace_step(i, pixels[i]);
    pixels[i] = p;
    if p.march.w == MARCHING {
        push(i);
    }
}

fn sphere_trace_step(i: u32, state: PixelState) -> PixelState {
    var p = state;
    let r = pixel_ray(i);
    var t = p.march.x;
    let bracketed = p.counts.y > 0.0;
    if !bracketed {
        let next = skip_empty(r.o, r.d, t, p.march.y);
        if next > t {
            // Past empty cells the previous sample no longer bounds this one.
            p.march.z = -1.0;
            t = next;
        }
        if t >= p.march.y {
            p.march.w = DONE;
            return p;
        }
    }
    let f = sdf(r.o + t * r.d);
    p.counts.x += 1.0;
    let tol = hit_tolerance(t);
    let factor = select(RELAX, p.color.x, p.color.x > 0.0);
    let t_prev = p.counts.w;
    let f_prev = p.march.z;
    if abs(f) < tol {
        // Close enough to stop; one more step of the distance (within the tolerance) lands
        // nearer the surface for shading. Extrapolating further along the last samples' slope
        // overshoots grazing rays into the surface, where the normals are wrong.
        p.march.x = t + f;
        p.march.w = HIT;
    } else if bracketed {
        if f > 0.0 {
            p.counts.w = t;
            p.march.z = f;
        } else {
            p.counts.y = t;
            p.counts.z = f;
        }
        p.march.x = secant(p.counts.w, p.march.z, p.counts.y, p.counts.z);
        if p.counts.y - p.counts.w < tol {
            p.march.w = HIT;
        }
    } else if f_prev >= 0.0 && f_prev + abs(f) < t - t_prev {
        p.march.x = t_prev + SAFE * f_prev;
        p.color.x = SAFE;
    } else if f < 0.0 {
        if f_prev < 0.0 {
            // Entered the surface at the first sample: back up by the (negative) distance.
            p.march.x = max(t + f, 0.0);
            p.march.w = HIT;
        } else {
            p.counts.y = t;
            p.counts.z = f;
            p.march.x = secant(t_prev, f_prev, t, f);
        }
    } else {
        p.counts.w = t;
        p.march.z = f;
        p.march.x = t + factor * f;
    }
    return p;
}

// Lights the surface where the tracing hit it.
@compute @workgroup_size(64)
fn cs_shade(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = pixel_index(id);
    if i >= pixel_count() {
        return;
    }
    var p = pixels[i];
    // A bracket still closing when the steps ran out is within a step of the surface.
    if p.march.w == MARCHING && p.counts.y > 0.0 {
        p.march.w = HIT;
    }
    if p.march.w != HIT {
        return;
    }
    let r = pixel_ray(i);
    // Lit grey needs the normal alone; the features only feed the colour network.
    let colored = cam.flags.y != 0u;
    var s = surface(r.o + p.march.x * r.d, info.fd_h, select(1u, SDF_OUT, colored));
    // A hit within the footprint but past a silhouette ray's closest approach sees the
    // surface turning away (the gradient along the ray); there the visible surface is edge-on,
    // so drop the gradient's part along the ray. Unlit backfacing normals drew dark curves
    // along every silhouette.
    let grad = s.grad - max(dot(s.grad, r.d), 0.0) * r.d;
    let n = normalize(grad);
    var albedo = SURFACE_ALBEDO;
    if colored {
        var feat = s.feat;
        albedo = pow(color(grad, r.d, &feat), vec3(2.2));
    }
    let shade = albedo * (AMBIENT + DIFFUSE * max(dot(n, cam.light.xyz), 0.0));
    p.color = vec4(pow(clamp(shade, vec3(0.0), vec3(1.0)), vec3(1.0 / 2.2)), 0.0);
    pixels[i] = p;
}

// Diverging colour map: warm outside (positive), cool inside, with bands every 0.05.
fn slice_color(f: f32, footprint: f32) -> vec3<f32> {
    let k = clamp(abs(f) * 2.0, 0.0, 1.0);
    let warm = mix(vec3(0.98, 0.93, 0.86), vec3(0.85, 0.38, 0.12), k);
    let cool = mix(vec3(0.86, 0.92, 0.98), vec3(0.14, 0.38, 0.80), k);
    var c = select(cool, warm, f > 0.0);
    let band = abs(fract(f / 0.05 + 0.5) - 0.5) * 0.05;
    c *= 0.88 + 0.12 * smoothstep(0.0, 1.5 * footprint, band);
    let contour = 1.0 - smoothstep(0.75 * footprint, 1.75 * footprint, abs(f));
    return mix(c, vec3(0.05, 0.05, 0.06), contour);
}

// The slice plane where the pixel's ray meets it inside the cube, coloured by signed distance.
@compute @workgroup_size(64)
fn cs_slice(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = pixel_index(id);
    if i >= pixel_count() {
        return;
    }
    let r = pixel_ray(i);
    var p: PixelState;
    p.march = vec4(0.0, 0.0, 0.0, DONE);
    p.color = vec4(0.0, 0.0, 0.0, 1.0);
    p.counts = vec4(0.0);
    let n = cam.slice.xyz;
    let denom = dot(r.d, n);
    if abs(denom) > 1e-6 {
        let t = (cam.slice.w - dot(r.o, n)) / denom;
        let x = r.o + t * r.d;
        if t > 0.0 && all(abs(x) <= vec3(1.0)) {
            // Normalised units covered by one pixel at that distance.
            let footprint = t / cam.intrinsics.y;
            p.color = vec4(slice_color(sdf(x), footprint), 1.0);
            p.march = vec4(t, 0.0, 0.0, HIT);
        }
    }
    pixels[i] = p;
}
