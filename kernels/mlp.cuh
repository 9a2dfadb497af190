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

// The kernels read a network's weights packed for float4 loads (pack_mlp in optim.cu makes
// the copy after each update), four outputs or four inputs at a time: per layer,
//   F[ob * ni + i] = (w[4ob][i], w[4ob + 1][i], w[4ob + 2][i], w[4ob + 3][i])  (the forward pass),
//   B[ib * no + o] = (w[o][4ib], w[o][4ib + 1], w[o][4ib + 2], w[o][4ib + 3])  (the backward pass),
//   then the biases, zero-padded to whole float4s as the blocks are. The blocks of four
// outputs (or inputs) also read each input (or output gradient) once per four sums instead of
// once per sum; each sum still adds its terms in order, so the floats are those of one
// output at a time, as on the CPU.
DEVICE int mlp_quads(int n) { return (n + 3) / 4; }
DEVICE int mlp_packed_layer(int ni, int no) { return mlp_quads(no) * ni + mlp_quads(ni) * no + mlp_quads(no); }

// Float4s of a packed network.
DEVICE int mlp_packed_count(const Mlp& s) {
    int n = 0;
    for (int li = 0; li <= s.hidden_layers; ++li) n += mlp_packed_layer(mlp_layer_in(s, li), mlp_layer_out(s, li));
    return n;
}

// A packed layer's parts.
struct PackedLayer {
    const float4* f;
    const float4* b;
    const float* bias;
};

DEVICE PackedLayer mlp_packed(const float4* layer, int ni, int no) {
    PackedLayer l;
    l.f = layer;
    l.b = layer + mlp_quads(no) * ni;
    l.bias = reinterpret_cast<const float*>(l.b + mlp_quads(ni) * no);
    return l;
}

DEVICE float quad_at(const float4& q, int k) { return k == 0 ? q.x : k == 1 ? q.y : k == 2 ? q.z : q.w; }

// acc[k] = Σ_i w[4ob + k][i] x[i] for a block's column of F (f = F + ob * ni).
DEVICE void mlp_block(const float4* f, const float* x, int ni, float (&acc)[4]) {
    acc[0] = acc[1] = acc[2] = acc[3] = 0.0f;
    for (int i = 0; i < ni; ++i) {
        float4 w = f[i];
        float xi = x[i];
        acc[0] += w.x * xi;
        acc[1] += w.y * xi;
        acc[2] += w.z * xi;
        acc[3] += w.w * xi;
    }
}

// y[o] = Σ_i w[o][i] x[i] + b[o] for o < no, through a ReLU when `relu`.
DEVICE void mlp_layer(const PackedLayer& l, const float* x, int ni, int no, bool relu, float* y) {
    for (int ob = 0; ob < mlp_quads(no); ++ob) {
        float acc[4];
        mlp_block(l.f + ob * ni, x, ni, acc);
#pragma unroll
        for (int k = 0; k < 4; ++k)
            if (4 * ob + k < no) {
                float sum = acc[k] + l.bias[4 * ob + k];
                y[4 * ob + k] = relu ? fmaxf(sum, 0.0f) : sum;
            }
    }
}

// dx[i] = Σ_o d[o] w[o][i]: the layer's backward to its input.
DEVICE void mlp_layer_back(const PackedLayer& l, const float* d, int ni, int no, float* dx) {
    for (int ib = 0; ib < mlp_quads(ni); ++ib) {
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const float4* b = l.b + ib * no;
        for (int o = 0; o < no; ++o) {
            float4 w = b[o];
            float c = d[o];
            acc[0] += c * w.x;
            acc[1] += c * w.y;
            acc[2] += c * w.z;
            acc[3] += c * w.w;
        }
#pragma unroll
        for (int k = 0; k < 4; ++k)
            if (4 * ib + k < ni) dx[4 * ib + k] = acc[k];
    }
}

// Most outputs mlp_output keeps (SDF_OUT, the background density's 1 + BG_FEATURES).
#define MLP_MAX_KEEP 16

// acts receives every layer's output; its last `output` floats are the network's.
DEVICE void mlp_forward(const Mlp& s, const float4* p, const float* input, float* acts) {
    int a_off = 0;
    for (int li = 0; li <= s.hidden_layers; ++li) {
        int ni = mlp_layer_in(s, li), no = mlp_layer_out(s, li);
        const float* x = li == 0 ? input : acts + a_off - ni;
        mlp_layer(mlp_packed(p, ni, no), x, ni, no, li != s.hidden_layers, acts + a_off);
        p += mlp_packed_layer(ni, no);
        a_off += no;
    }
}

// The first `keep` outputs alone (at most MLP_MAX_KEEP), for passes that need no backward:
// each block of the last hidden layer is added into the outputs as soon as it is computed,
// so a thread holds one hidden layer at most instead of every activation.
DEVICE void mlp_output(const Mlp& s, const float4* p, const float* input, int keep, float* out) {
    float h[MLP_MAX_WIDTH];
    const float* x = input;
    int ni = s.input;
    for (int li = 0; li + 1 < s.hidden_layers; ++li) {
        float next[MLP_MAX_WIDTH];
        mlp_layer(mlp_packed(p, ni, s.hidden), x, ni, s.hidden, true, next);
        for (int o = 0; o < s.hidden; ++o) h[o] = next[o];
        x = h;
        p += mlp_packed_layer(ni, s.hidden);
        ni = s.hidden;
    }
    if (s.hidden_layers == 0) {
        mlp_layer(mlp_packed(p, ni, s.output), x, ni, keep, false, out);
        return;
    }
    PackedLayer l1 = mlp_packed(p, ni, s.hidden);
    PackedLayer l2 = mlp_packed(p + mlp_packed_layer(ni, s.hidden), s.hidden, s.output);
    // Sums in mlp_forward's order, so both give the same floats.
    float sum[MLP_MAX_KEEP];
#pragma unroll
    for (int o = 0; o < MLP_MAX_KEEP; ++o) sum[o] = 0.0f;
    for (int jb = 0; jb < mlp_quads(s.hidden); ++jb) {
        float a[4];
        mlp_block(l1.f + jb * ni, x, ni, a);
        int n = s.hidden - 4 * jb < 4 ? s.hidden - 4 * jb : 4;
        float v[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) v[k] = k < n ? fmaxf(a[k] + l1.bias[4 * jb + k], 0.0f) : 0.0f;
        const float4* w = l2.b + jb * s.output;
#pragma unroll
        for (int o = 0; o < MLP_MAX_KEEP; ++o)
            if (o < keep) {
                float4 q = w[o];
#pragma unroll
                for (int k = 0; k < 4; ++k)
                    if (k < n) sum[o] += quad_at(q, k) * v[k];
            }
    }
#pragma unroll
    for (int o = 0; o < MLP_MAX_KEEP; ++o)
        if (o < keep) out[o] = sum[o] + l2.bias[o];
}

// From dL/doutput: records what dL/dparams is made of in `rec` (see Rec) and writes
// dL/dinput.
DEVICE void mlp_backward(const Mlp& s, const float4* p, const float* input, const float* acts, const float* dout,
                         const Rec& rec, float* dinput) {
    float cur[MLP_MAX_WIDTH], next[MLP_MAX_WIDTH];
    for (int o = 0; o < s.output; ++o) cur[o] = dout[o];
    int p_end = mlp_packed_count(s), a_end = mlp_act_count(s), c_end = mlp_rec_cols(s);
    for (int li = s.hidden_layers; li >= 0; --li) {
        int ni = mlp_layer_in(s, li), no = mlp_layer_out(s, li);
        int p_off = p_end - mlp_packed_layer(ni, no);
        int a_off = a_end - no;
        int c_off = c_end - (ni + no);
        if (li != s.hidden_layers)
            for (int o = 0; o < no; ++o)
                if (acts[a_off + o] <= 0.0f) cur[o] = 0.0f;
        const float* x = li == 0 ? input : acts + a_off - ni;
        mlp_layer_back(mlp_packed(p + p_off, ni, no), cur, ni, no, next);
        for (int i = 0; i < ni; ++i) rec_put(rec, c_off + i, x[i]);
        for (int o = 0; o < no; ++o) rec_put(rec, c_off + ni + o, cur[o]);
        for (int i = 0; i < ni; ++i) cur[i] = next[i];
        p_end = p_off;
        a_end = a_off;
        c_end = c_off;
    }
    for (int i = 0; i < s.input; ++i) dinput[i] = cur[i];
}

// Float4 i of a network's packed copy, from its parameters p (row-major weights then biases
// per layer).
DEVICE float4 mlp_pack(const Mlp& s, const float* p, int i) {
    float q[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int li = 0; li <= s.hidden_layers; ++li) {
        int ni = mlp_layer_in(s, li), no = mlp_layer_out(s, li);
        int size = mlp_packed_layer(ni, no);
        if (i >= size) {
            i -= size;
            p += ni * no + no;
            continue;
        }
        int nf = mlp_quads(no) * ni, nb = mlp_quads(ni) * no;
        for (int k = 0; k < 4; ++k) {
            if (i < nf) {
                int o = 4 * (i / ni) + k, in = i % ni;
                if (o < no) q[k] = p[o * ni + in];
            } else if (i < nf + nb) {
                int j = i - nf, o = j % no, in = 4 * (j / no) + k;
                if (in < ni) q[k] = p[o * ni + in];
            } else {
                int o = 4 * (i - nf - nb) + k;
                if (o < no) q[k] = p[ni * no + o];
            }
        }
        break;
    }
    float4 r;
    r.x = q[0];
    r.y = q[1];
    r.z = q[2];
    r.w = q[3];
    return r;
}
