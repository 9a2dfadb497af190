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

DEVICE int mlp_param_count(const Mlp& s) {
    int n = 0;
    for (int li = 0; li <= s.hidden_layers; ++li) n += mlp_layer_in(s, li) * mlp_layer_out(s, li) + mlp_layer_out(s, li);
    return n;
}

// Where a network's backward pass leaves, for one evaluation (a row of the batch), each
// layer's input and the gradient at its output, instead of adding their outer product into
// the weight gradients itself: weight_grads (trace.cu) sums those products over the rows,
// with a few atomics per weight per batch rather than one per warp, and without the shared
// memory that took the L1 cache from the per-thread arrays the backward kernels wait on.
// Column-major (column c of row r at base[c * rows + r]; per layer its input columns, then
// its output-gradient columns), so that consecutive threads write consecutive floats.
struct Rec {
    float* base;
    int rows;
    int row;
};

// Columns of a network's record.
DEVICE int mlp_rec_cols(const Mlp& s) {
    int n = 0;
    for (int li = 0; li <= s.hidden_layers; ++li) n += mlp_layer_in(s, li) + mlp_layer_out(s, li);
    return n;
}

DEVICE void rec_put(const Rec& r, int col, float v) { r.base[(u64)col * r.rows + r.row] = v; }

// The row of an evaluation with nothing to add.
DEVICE void mlp_rec_zero(const Mlp& s, const Rec& r) {
    int n = mlp_rec_cols(s);
    for (int c = 0; c < n; ++c) rec_put(r, c, 0.0f);
}

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

// From dL/doutput: records what dL/dparams is made of in `rec` (see Rec) and writes
// dL/dinput.
DEVICE void mlp_backward(const Mlp& s, const float* p, const float* input, const float* acts, const float* dout,
                         const Rec& rec, float* dinput) {
    float cur[MLP_MAX_WIDTH], next[MLP_MAX_WIDTH];
    for (int o = 0; o < s.output; ++o) cur[o] = dout[o];
    int p_end = mlp_param_count(s), a_end = mlp_act_count(s), c_end = mlp_rec_cols(s);
    for (int li = s.hidden_layers; li >= 0; --li) {
        int ni = mlp_layer_in(s, li), no = mlp_layer_out(s, li);
        int p_off = p_end - (ni * no + no);
        int a_off = a_end - no;
        int c_off = c_end - (ni + no);
        if (li != s.hidden_layers)
            for (int o = 0; o < no; ++o)
                if (acts[a_off + o] <= 0.0f) cur[o] = 0.0f;
        const float* x = li == 0 ? input : acts + a_off - ni;
        const float* w = p + p_off;
        for (int i = 0; i < ni; ++i) next[i] = 0.0f;
        for (int o = 0; o < no; ++o)
            for (int i = 0; i < ni; ++i) next[i] += cur[o] * w[o * ni + i];
        for (int i = 0; i < ni; ++i) rec_put(rec, c_off + i, x[i]);
        for (int o = 0; o < no; ++o) rec_put(rec, c_off + ni + o, cur[o]);
        for (int i = 0; i < ni; ++i) cur[i] = next[i];
        p_end = p_off;
        a_end = a_off;
        c_end = c_off;
    }
    for (int i = 0; i < s.input; ++i) dinput[i] = cur[i];
}
