// Adam with the instant-ngp constants, as src/compute/cpu/adam.rs (gradients arrive summed
// over the batch and are scaled here), and the packed copies of the networks it updates.
#include "common.cuh"
#include "mlp.cuh"

KERNEL void adam_step(float* params, float* m, float* v, const float* grad, int n, float grad_scale, float step,
                      float beta1, float beta2, float eps) {
    int i = thread_index();
    if (i >= n) return;
    float g = grad[i] * grad_scale;
    if (g == 0.0f) return;  // entries no sample touched keep their parameters and moments
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    params[i] -= step * m[i] / (sqrtf(v[i]) + eps);
}

// The packed copy of a network's weights the kernels read (mlp.cuh), a float4 per thread.
KERNEL void pack_mlp(Mlp net, const float* params, float4* packed) {
    int i = thread_index();
    if (i < mlp_packed_count(net)) packed[i] = mlp_pack(net, params, i);
}
