// Small dense networks, one sample per thread, as src/compute/cpu/mlp.rs: ReLU hidden
// layers, a linear output, row-major weights then biases per layer.
#pragma once
#include "common.cuh"

#define MLP_MAX_WIDTH 64
#define MLP_MAX_ACTS (2 * MLP_MAX_WIDTH + 16)

struct Mlp {
    int input, hidden, hidden_layers, output;
};

DEVICE int mlp_layer_in(const Mlp& s, int i) { return i == 0 ? s.input : s.hidden; }
DEVICE int mlp_layer_out(const Mlp& s, int i) { return i == s.hidden_layers ? s.output : s.hidden; }
DEVICE int mlp_act_count(const Mlp& s) { return s.hidden_layers * s.hidden + s.output; }

#ifdef __CUDACC__
// Floats of shared memory each warp of a kernel that calls outer_add needs.
#define WARP_STAGE (2 * 32 * MLP_MAX_WIDTH)

// Adds d ⊗ x (and d, for the biases) summed over the warp's lanes into gw (and gb): each lane
// stages its vectors in shared memory, then each lane sums 1/32 of the weights over all
// lanes and adds them with one atomic each. A weight gradient that every ray adds to then
// costs one atomic per warp, with no lanes of a warp contending for an address.
DEVICE void outer_add(float* gw, float* gb, const float* d, const float* x, int no, int ni) {
    extern __shared__ float stage[];
    int lane = threadIdx.x & 31;
    float* sd = stage + (threadIdx.x >> 5) * WARP_STAGE;
    float* sx = sd + 32 * MLP_MAX_WIDTH;
    __syncwarp();  // the previous call's readers are done
    for (int o = 0; o < no; ++o) sd[lane * MLP_MAX_WIDTH + o] = d[o];
    for (int i = 0; i < ni; ++i) sx[lane * MLP_MAX_WIDTH + i] = x[i];
    __syncwarp();
    for (int k = lane; k < no * ni; k += 32) {
        int o = k / ni, i = k - o * ni;
        float sum = 0.0f;
        for (int l = 0; l < 32; ++l) sum += sd[l * MLP_MAX_WIDTH + o] * sx[l * MLP_MAX_WIDTH + i];
        if (sum != 0.0f) atomicAdd(gw + k, sum);
    }
    for (int o = lane; o < no; o += 32) {
        float sum = 0.0f;
        for (int l = 0; l < 32; ++l) sum += sd[l * MLP_MAX_WIDTH + o];
        if (sum != 0.0f) atomicAdd(gb + o, sum);
    }
}
#else
// The reference variant (one thread is the whole warp).
DEVICE void outer_add(float* gw, float* gb, const float* d, const float* x, int no, int ni) {
    for (int o = 0; o < no; ++o) {
        gb[o] += d[o];
        for (int i = 0; i < ni; ++i) gw[o * ni + i] += d[o] * x[i];
    }
}
#endif

// acts receives every layer's output; its last `output` floats are the network's.
DEVICE void mlp_forward(const Mlp& s, const float* p, const float* input, float* acts) {
    int p_off = 0, a_off = 0;
    for (int li = 0; li <= s.hidden_layers; ++li) {
        int ni = mlp_layer_in(s, li), no = mlp_layer_out(s, li);
        const float* w = p + p_off;
        const float* b = w + ni * no;
        const float* x = li == 0 ? input : acts + a_off - ni;
        bool last = li == s.hidden_layers;
        for (int o = 0; o < no; ++o) {
            float sum = 0.0f;
            for (int i = 0; i < ni; ++i) sum += w[o * ni + i] * x[i];
            sum += b[o];
            acts[a_off + o] = last ? sum : fmaxf(sum, 0.0f);
        }
        p_off += ni * no + no;
        a_off += no;
    }
}

// The first `keep` outputs alone, for passes that need no backward: each unit of the last
// hidden layer is added into the outputs as soon as it is computed, so a thread holds one
// hidden layer at most instead of every activation (local memory is what these kernels wait on).
DEVICE void mlp_output(const Mlp& s, const float* p, const float* input, int keep, float* out) {
    float h[MLP_MAX_WIDTH];
    const float* x = input;
    int p_off = 0, ni = s.input;
    for (int li = 0; li + 1 < s.hidden_layers; ++li) {
        float next[MLP_MAX_WIDTH];
        const float* w = p + p_off;
        const float* b = w + ni * s.hidden;
        for (int o = 0; o < s.hidden; ++o) {
            float sum = 0.0f;
            for (int i = 0; i < ni; ++i) sum += w[o * ni + i] * x[i];
            next[o] = fmaxf(sum + b[o], 0.0f);
        }
        for (int o = 0; o < s.hidden; ++o) h[o] = next[o];
        x = h;
        p_off += ni * s.hidden + s.hidden;
        ni = s.hidden;
    }
    if (s.hidden_layers == 0) {
        const float* w = p;
        const float* b = w + ni * s.output;
        for (int o = 0; o < keep; ++o) {
            float sum = 0.0f;
            for (int i = 0; i < ni; ++i) sum += w[o * ni + i] * x[i];
            out[o] = sum + b[o];
        }
        return;
    }
    const float* w1 = p + p_off;
    const float* b1 = w1 + ni * s.hidden;
    const float* w2 = b1 + s.hidden;
    const float* b2 = w2 + s.hidden * s.output;
    // Sums in mlp_forward's order, so both give the same floats.
    for (int o = 0; o < keep; ++o) out[o] = 0.0f;
    for (int j = 0; j < s.hidden; ++j) {
        float a = 0.0f;
        for (int i = 0; i < ni; ++i) a += w1[j * ni + i] * x[i];
        a = fmaxf(a + b1[j], 0.0f);
        for (int o = 0; o < keep; ++o) out[o] += w2[o * s.hidden + j] * a;
    }
    for (int o = 0; o < keep; ++o) out[o] += b2[o];
}

// From dL/doutput: adds dL/dparams into grad (every lane of a warp must call this together,
// see outer_add) and writes dL/dinput.
DEVICE void mlp_backward(const Mlp& s, const float* p, const float* input, const float* acts, const float* dout,
                         float* grad, float* dinput) {
    float cur[MLP_MAX_WIDTH], next[MLP_MAX_WIDTH];
    for (int o = 0; o < s.output; ++o) cur[o] = dout[o];
    int p_end = 0, a_end = mlp_act_count(s);
    for (int li = 0; li <= s.hidden_layers; ++li) {
        int ni = mlp_layer_in(s, li), no = mlp_layer_out(s, li);
        p_end += ni * no + no;
    }
    for (int li = s.hidden_layers; li >= 0; --li) {
        int ni = mlp_layer_in(s, li), no = mlp_layer_out(s, li);
        int p_off = p_end - (ni * no + no);
        int a_off = a_end - no;
        if (li != s.hidden_layers)
            for (int o = 0; o < no; ++o)
                if (acts[a_off + o] <= 0.0f) cur[o] = 0.0f;
        const float* x = li == 0 ? input : acts + a_off - ni;
        const float* w = p + p_off;
        float* gw = grad + p_off;
        float* gb = gw + ni * no;
        for (int i = 0; i < ni; ++i) next[i] = 0.0f;
        for (int o = 0; o < no; ++o)
            for (int i = 0; i < ni; ++i) next[i] += cur[o] * w[o * ni + i];
        outer_add(gw, gb, cur, x, no, ni);
        for (int i = 0; i < ni; ++i) cur[i] = next[i];
        p_end = p_off;
        a_end = a_off;
    }
    for (int i = 0; i < s.input; ++i) dinput[i] = cur[i];
}
