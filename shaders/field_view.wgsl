// Shows the field image the compute passes made (shaded SDF, novel view, SDF slice). Writes
// the depth of what it shows so overlays sort against it. Concatenated after field.wgsl and
// view_common.wgsl.

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

@fragment
fn fs_main(in: VsOut) -> FsOut {
    let r = camera_ray(in.pos.xy);
    var out = FsOut(cam.background, 1.0);
    let mode = cam.flags.x;
    let i = u32(in.pos.y) * cam.flags.z + u32(in.pos.x);
    if mode == 1u || mode == 3u {
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
    }
    return out;
}
