// Evaluates the field at given points (parity tests against the CPU backend): per point,
// (sdf, gradient) and (colour along the given direction, 0). Concatenated after field.wgsl.

@group(0) @binding(0) var<storage, read> probe_in: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> probe_out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn cs_probe(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if 2u * i + 1u >= arrayLength(&probe_in) {
        return;
    }
    let x = probe_in[2u * i].xyz;
    let d = probe_in[2u * i + 1u].xyz;
    var s = surface(x, info.fd_h, SDF_OUT);
    probe_out[2u * i] = vec4(s.sdf, s.grad);
    var feat = s.feat;
    probe_out[2u * i + 1u] = vec4(color(s.grad, d, &feat), 0.0);
}
