// Shows the field image: the marching passes' results for the shaded SDF and the novel view,
// and the SDF slice (one evaluation per pixel, drawn here directly). Writes the depth of what
// it shows so overlays sort against it. Concatenated after field.wgsl and view_common.wgsl.

@group(0) @binding(1) var<storage, read> pixels: array<PixelState>;

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
    let r = camera_ray(in.pos.xy);
    var out = FsOut(cam.background, 1.0);
    let mode = cam.flags.x;
    let i = u32(in.pos.y) * cam.flags.z + u32(in.pos.x);
    if mode == 1u {
        let p = pixels[i];
        if p.march.w == HIT {
            out = FsOut(vec4(p.color.xyz, 1.0), clip_depth(r.o, r.d, p.march.x));
        }
    } else if mode == 2u {
        let p = pixels[i];
        let opacity = 1.0 - p.color.w;
        var depth = 1.0;
        if opacity > 0.5 {
            depth = clip_depth(r.o, r.d, p.march.z / opacity);
        }
        out = FsOut(vec4(p.color.xyz, 1.0), depth);
    } else if mode == 3u {
        let n = cam.slice.xyz;
        let denom = dot(r.d, n);
        if abs(denom) > 1e-6 {
            let t = (cam.slice.w - dot(r.o, n)) / denom;
            let x = r.o + t * r.d;
            if t > 0.0 {
                if all(abs(x) <= vec3(1.0)) {
                    // Normalised units covered by one pixel at that distance.
                    let footprint = t / cam.intrinsics.y;
                    out = FsOut(vec4(slice_color(sdf(x), footprint), 1.0), clip_depth(r.o, r.d, t));
                }
            }
        }
    }
    return out;
}
