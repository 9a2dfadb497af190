// Puts the field image (colour and depth, possibly at a lower resolution) into the viewport,
// under the overlays drawn after it.

@group(0) @binding(0) var field_color: texture_2d<f32>;
@group(0) @binding(1) var field_sampler: sampler;
@group(0) @binding(2) var field_depth: texture_2d<f32>;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
}

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    let uv = vec2(f32((i << 1u) & 2u), f32(i & 2u));
    return VsOut(vec4(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0), uv);
}

struct FsOut {
    @location(0) color: vec4<f32>,
    @builtin(frag_depth) depth: f32,
}

@fragment
fn fs_main(in: VsOut) -> FsOut {
    let size = vec2<f32>(textureDimensions(field_depth));
    let texel = vec2<i32>(clamp(in.uv * size, vec2(0.0), size - 1.0));
    return FsOut(textureSample(field_color, field_sampler, in.uv), textureLoad(field_depth, texel, 0).r);
}
