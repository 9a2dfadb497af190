// The camera a field image is drawn from, and the per-pixel state the marching passes share.
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
    // Mode (1 sdf, 2 novel, 3 slice), colour the shaded SDF, image width, image height.
    flags: vec4<u32>,
}

// One pixel's progress through the marching passes.
struct PixelState {
    // Distance along the ray, end of the unit sphere, weighted distance sum, status.
    march: vec4<f32>,
    // Colour so far and transmittance left.
    color: vec4<f32>,
    // Samples taken, background sample index, index of the last background sample, unused.
    counts: vec4<f32>,
}

const MARCHING: f32 = 0.0;
const BACKGROUND_LEFT: f32 = 1.0;
const DONE: f32 = 2.0;
const HIT: f32 = 3.0;

@group(0) @binding(0) var<uniform> cam: ViewUniform;

struct CameraRay {
    // Origin in the normalised frame, direction (world and normalised frames agree).
    o: vec3<f32>,
    d: vec3<f32>,
}

// The ray through pixel centre `px` (pixels of the field image).
fn camera_ray(px: vec2<f32>) -> CameraRay {
    let k = cam.intrinsics;
    let d = normalize(cam.right.xyz * (px.x - k.z) / k.x + cam.down.xyz * (px.y - k.w) / k.y + cam.forward.xyz);
    return CameraRay((cam.eye.xyz - cam.norm.xyz) / cam.norm.w, d);
}

fn clip_depth(o: vec3<f32>, d: vec3<f32>, t: f32) -> f32 {
    let p = cam.norm.xyz + (o + t * d) * cam.norm.w;
    let c = cam.view_proj * vec4(p, 1.0);
    return clamp(c.z / c.w, 0.0, 1.0);
}
