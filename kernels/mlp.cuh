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

// Outputs of a layer computed together: each input is read once per MLP_BLOCK outputs
// instead of once per output. A thread's vectors live in local memory, which is what these
// kernels wait on; the block's sums stay in registers. Each output still sums its inputs in
// order, so the floats are those of one output at a time. On an H200, a 16k-ray training
// step took 30.3 ms with blocks of 4, 31.8 ms with 8, 41.1 with 16 (registers), 40.8 before.
#define MLP_BLOCK 4
// Most outputs mlp_output keeps (SDF_OUT, the background density's 1 + BG_FEATURES).
#define MLP_MAX_KEEP 16

// acc[k] = Σ_i w[k·ni + i] x[i] for the block's first `count` rows of w.
DEVICE void mlp_block(const float* w, const float* x, int ni, int count, float (&acc)[MLP_BLOCK]) {
#pragma unroll
    for (int k = 0; k < MLP_BLOCK; ++k) acc[k] = 0.0f;
    for (int i = 0; i < ni; ++i) {
        float xi = x[i];
#pragma unroll
        for (int k = 0; k < MLP_BLOCK; ++k)
            if (k < count) acc[k] += w[k * ni + i] * xi;
    }
}

// y[o] = Σ_i w[o·ni + i] x[i] + b[o] for o < no, through a ReLU when `relu`.
DEVICE void mlp_layer(const float* w, const float* b, const float* x, int ni, int no, bool relu, float* y) {
    for (int o0 = 0; o0 < no; o0 += MLP_BLOCK) {
        float acc[MLP_BLOCK];
        mlp_block(w + o0 * ni, x, ni, no - o0, acc);
#pragma unroll
        for (int k = 0; k < MLP_BLOCK; ++k)
            if (o0 + k < no) {
                float sum = acc[k] + b[o0 + k];
                y[o0 + k] = relu ? fmaxf(sum, 0.0f) : sum;
            }
    }
}

// dx[i] = Σ_o d[o] w[o·ni + i]: the layer's backward to its input.
DEVICE void mlp_layer_back(const float* w, const float* d, int ni, int no, float* dx) {
    for (int i0 = 0; i0 < ni; i0 += MLP_BLOCK) {
        float acc[MLP_BLOCK];
#pragma unroll
        for (int k = 0; k < MLP_BLOCK; ++k) acc[k] = 0.0f;
        for (int o = 0; o < no; ++o) {
            float c = d[o];
#pragma unroll
            for (int k = 0; k < MLP_BLOCK; ++k)
                if (i0 + k < ni) acc[k] += c * w[o * ni + i0 + k];
        }
#pragma unroll
        for (int k = 0; k < MLP_BLOCK; ++k)
            if (i0 + k < ni) dx[i0 + k] = acc[k];
    }
}

// acts receives every layer's output; its last `output` floats are the network's.
DEVICE void mlp_forward(const Mlp& s, const float* p, const float* input, float* acts) {
    int p_off = 0, a_off = 0;
    for (int li = 0; li <= s.hidden_layers; ++li) {
        int ni = mlp_layer_in(s, li), no = mlp_layer_out(s, li);
        const float* w = p + p_off;
        const float* x = li == 0 ? input : acts + a_off - ni;
        mlp_layer(w, w + ni * no, x, ni, no, li != s.hidden_layers, acts + a_off);
        p_off += ni * no + no;
        a_off += no;
    }
}

// The first `keep` outputs alone (at most MLP_MAX_KEEP), for passes that need no backward:
// each unit of the last hidden layer is added into the outputs as soon as it is computed, so
// a thread holds one hidden layer at most instead of every activation.
DEVICE void mlp_output(const Mlp& s, const float* p, const float* input, int keep, float* out) {
    float h[MLP_MAX_WIDTH];
    const float* x = input;
    int p_off = 0, ni = s.input;
    for (int li = 0; li + 1 < s.hidden_layers; ++li) {
        float next[MLP_MAX_WIDTH];
        const float* w = p + p_off;
        mlp_layer(w, w + ni * s.hidden, x, ni, s.hidden, true, next);
        for (int o = 0; o < s.hidden; ++o) h[o] = next[o];
        x = h;
        p_off += ni * s.hidden + s.hidden;
        ni = s.hidden;
    }
    if (s.hidden_layers == 0) {
        mlp_layer(p, p + ni * s.output, x, ni, keep, false, out);
        return;
    }
    const float* w1 = p + p_off;
    const float* b1 = w1 + ni * s.hidden;
    const float* w2 = b1 + s.hidden;
    const float* b2 = w2 + s.hidden * s.output;
    // Sums in mlp_forward's order, so both give the same floats.
    float sum[MLP_MAX_KEEP];
#pragma unroll
    for (int o = 0; o < MLP_MAX_KEEP; ++o) sum[o] = 0.0f;
    for (int j0 = 0; j0 < s.hidden; j0 += MLP_BLOCK) {
        float a[MLP_BLOCK];
        mlp_block(w1 + j0 * ni, x, ni, s.hidden - j0, a);
#pragma unroll
        for (int k = 0; k < MLP_BLOCK; ++k)
            if (j0 + k < s.hidden) {
                float v = fmaxf(a[k] + b1[j0 + k], 0.0f);
#pragma unroll
                for (int o = 0; o < MLP_MAX_KEEP; ++o)
                    if (o < keep) sum[o] += w2[o * s.hidden + j0 + k] * v;
            }
    }
#pragma unroll
    for (int o = 0; o < MLP_MAX_KEEP; ++o)
        if (o < keep) out[o] = sum[o] + b2[o];
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
        mlp_layer_back(p + p_off, cur, ni, no, next);
        for (int i = 0; i < ni; ++i) rec_put(rec, c_off + i, x[i]);
        for (int o = 0; o < no; ++o) rec_put(rec, c_off + ni + o, cur[o]);
        for (int i = 0; i < ni; ++i) cur[i] = next[i];
        p_end = p_off;
        a_end = a_off;
        c_end = c_off;
    }
    for (int i = 0; i < s.input; ++i) dinput[i] = cur[i];
}
