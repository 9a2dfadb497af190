// The field seen from a pinhole camera, one fragment per pixel of the field image: shaded
// SDF (sphere traced, lit), novel view (volume rendered) or SDF slice (colour map with the
// zero contour). Also writes the depth of what it shows so overlays sort against it.
// Concatenated after field.wgsl.

struct ViewUniform {
    // World to clip, for the depth of what is shown.
    view_proj: mat4x4<f32>,
    // Camera axes in the world (OpenCV: x right, y down, z forward) and its centre.
    right: vec4<f32>,
    down: vec4<f32>,
    forward: vec4<f32>,
    eye: vec4<f32>,
    // fx, fy, cx, cy in pixels of the field image.
    intrinsics: vec4<f32>,
    // Normalisation: centre (world) and scale.
    norm: vec4<f32>,
    // Slice plane in the normalised frame: unit normal and offset.
    slice: vec4<f32>,
    // Direction towards the key light (world).
    light: vec4<f32>,
    background: vec4<f32>,
    // Mode (1 sdf, 2 novel, 3 slice), colour the shaded SDF, 0, 0.
    flags: vec4<u32>,
}

@group(0) @binding(0) var<uniform> cam: ViewUniform;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
}

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    let uv = vec2(f32((i << 1u) & 2u), f32(i & 2u));
    return VsOut(vec4(uv * 2.0 - 1.0, 0.0, 1.0));
}

struct FsOut {
    @location(0) color: vec4<f32>,
    @location(1) depth: f32,
}

const AMBIENT: f32 = 0.18;
const DIFFUSE: f32 = 0.82;
const SURFACE_ALBEDO: vec3<f32> = vec3(0.78, 0.76, 0.72);

fn clip_depth(o: vec3<f32>, d: vec3<f32>, t: f32) -> f32 {
    let p = cam.norm.xyz + (o + t * d) * cam.norm.w;
    let c = cam.view_proj * vec4(p, 1.0);
    return clamp(c.z / c.w, 0.0, 1.0);
}

fn to_display(linear: vec3<f32>) -> vec4<f32> {
    return vec4(pow(clamp(linear, vec3(0.0), vec3(1.0)), vec3(1.0 / 2.2)), 1.0);
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

@fragment
fn fs_main(in: VsOut) -> FsOut {
    let k = cam.intrinsics;
    let px = in.pos.xy;
    let dw = normalize(cam.right.xyz * (px.x - k.z) / k.x + cam.down.xyz * (px.y - k.w) / k.y + cam.forward.xyz);
    let o = (cam.eye.xyz - cam.norm.xyz) / cam.norm.w;
    var out = FsOut(cam.background, 1.0);
    let mode = cam.flags.x;
    if mode == 1u {
        let t = trace_surface(o, dw);
        if t > 0.0 {
            var s = surface(o + t * dw, info.fd_h);
            let n = normalize(s.grad);
            var albedo = SURFACE_ALBEDO;
            if cam.flags.y != 0u {
                albedo = pow(color(s.grad, dw, &s.feat), vec3(2.2));
            }
            let shade = albedo * (AMBIENT + DIFFUSE * max(dot(n, cam.light.xyz), 0.0));
            out = FsOut(to_display(shade), clip_depth(o, dw, t));
        }
    } else if mode == 2u {
        let r = render_ray(o, dw, 0.5);
        var depth = 1.0;
        if r.opacity > 0.5 {
            depth = clip_depth(o, dw, r.depth / r.opacity);
        }
        out = FsOut(vec4(r.rgb, 1.0), depth);
    } else if mode == 3u {
        let n = cam.slice.xyz;
        let denom = dot(dw, n);
        if abs(denom) > 1e-6 {
            let t = (cam.slice.w - dot(o, n)) / denom;
            let x = o + t * dw;
            if t > 0.0 && all(abs(x) <= vec3(1.0)) {
                // Normalised units covered by one pixel at that distance.
                let footprint = t / k.y;
                out = FsOut(vec4(slice_color(sdf(x), footprint), 1.0), clip_depth(o, dw, t));
            }
        }
    }
    return out;
}
