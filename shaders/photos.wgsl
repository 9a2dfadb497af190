// Each camera's photo on its frustum's image plane, sampled from a thumbnail atlas.

struct Globals {
    view_proj: mat4x4<f32>,
};

@group(0) @binding(0) var<uniform> globals: Globals;
@group(1) @binding(0) var atlas: texture_2d<f32>;
@group(1) @binding(1) var atlas_sampler: sampler;

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) opacity: f32,
};

@vertex
fn vs_main(@location(0) pos: vec3<f32>, @location(1) uv: vec2<f32>, @location(2) opacity: f32) -> VertexOut {
    var out: VertexOut;
    out.clip = globals.view_proj * vec4<f32>(pos, 1.0);
    out.uv = uv;
    out.opacity = opacity;
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let c = textureSample(atlas, atlas_sampler, in.uv);
    return vec4<f32>(c.rgb, in.opacity);
}
