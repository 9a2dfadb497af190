// Small dense networks, one sample per thread, as src/compute/cpu/mlp.rs: ReLU hidden
// layers, a linear output, row-major weights then biases per layer.
//
// Each network is evaluated at a fixed capacity (a Net type: the widest input, hidden layer
// and output it may have), with the loops that index a thread's arrays unrolled over those
// sizes, so that its inputs, activations and gradients have constant indices and live in
// registers (loops over blocks of four units, which index only the weights, stay rolled: code
// size). With loops over the run-time sizes they lived in local memory, which the backward
// pass spent most of its time waiting on. A network narrower than its capacity is padded with zero weights
// (pack_mlp) and zero inputs: a padded unit adds 0 · 0 to every sum, so the floats are those
// of the network at its own size, as on the CPU.
#pragma once
#include "common.cuh"

#define QUADS(n) (((n) + 3) / 4)

// A network's shape as Rust's MlpShape gives it, and the capacity its kernels use (its Net).
struct Mlp {
    int input, hidden, hidden_layers, output;
    int cap_input, cap_hidden, cap_output;
};

// A network's capacity: IN inputs, LAYERS hidden layers of HID units, OUT outputs.
template <int IN, int HID, int LAYERS, int OUT>
struct Net {
    enum { in = IN, hid = HID, layers = LAYERS, out = OUT };
};

DEVICE int mlp_layer_in(const Mlp& s, int i) { return i == 0 ? s.input : s.hidden; }
DEVICE int mlp_layer_out(const Mlp& s, int i) { return i == s.hidden_layers ? s.output : s.hidden; }
DEVICE int mlp_cap_in(const Mlp& s, int i) { return i == 0 ? s.cap_input : s.cap_hidden; }
DEVICE int mlp_cap_out(const Mlp& s, int i) { return i == s.hidden_layers ? s.cap_output : s.cap_hidden; }

// Where a network's backward pass leaves, for one evaluation (a row of the batch), each
// layer's input and the gradient at its output, instead of adding their outer product into
// the weight gradients itself: weight_grads (trace.cu) sums those products over the rows,
// with a few atomics per weight per batch rather than one per warp, and without the shared
// memory that took the L1 cache from the per-thread arrays the backward kernels wait on.
// Column-major (column c of row r at base[c * rows + r]; per layer its input columns, then
// its output-gradient columns, at the capacity's sizes), so that consecutive threads write
// consecutive floats.
struct Rec {
    float* base;
    int rows;
    int row;
};

// Columns of a network's record.
DEVICE int mlp_rec_cols(const Mlp& s) {
    int n = 0;
    for (int li = 0; li <= s.hidden_layers; ++li) n += mlp_cap_in(s, li) + mlp_cap_out(s, li);
    return n;
}

DEVICE void rec_put(const Rec& r, int col, float v) { r.base[(u64)col * r.rows + r.row] = v; }

template <int N>
DEVICE void rec_put_all(const Rec& r, int col, const float (&v)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) rec_put(r, col + i, v[i]);
}

// The row of an evaluation with nothing to add.
DEVICE void mlp_rec_zero(const Mlp& s, const Rec& r) {
    int n = mlp_rec_cols(s);
    for (int c = 0; c < n; ++c) rec_put(r, c, 0.0f);
}

// The kernels read a network's weights packed for float4 loads (pack_mlp in optim.cu makes
// the copy after each update), four outputs or four inputs at a time: per layer of NI inputs
// and NO outputs (the capacity's), a hidden layer (read forward: dense, hidden_block, and
// backward through add_back4) as
//   F[ob * NI + i] = (w[4ob][i], w[4ob + 1][i], w[4ob + 2][i], w[4ob + 3][i]),
// the output layer (read only to sum a block of hidden units into every output, forward in
// hidden_then_output and backward in hidden_block_backward) as
//   B[ib * NO + o] = (w[o][4ib], w[o][4ib + 1], w[o][4ib + 2], w[o][4ib + 3]),
// then the biases, zero-padded to whole float4s as the blocks are. The blocks of four
// outputs (or inputs) also read each input (or output gradient) once per four sums instead of
// once per sum; each sum still adds its terms in order, so the floats are those of one
// output at a time, as on the CPU.
template <int NI, int NO, bool OUT>
struct Layer {
    enum { blocks = OUT ? QUADS(NI) * NO : QUADS(NO) * NI, size = blocks + QUADS(NO) };
    const float4* p;
    METHOD const float4* fwd(int ob) const {
        static_assert(!OUT, "an output layer is packed by input blocks");
        return p + ob * NI;
    }
    METHOD const float4* bwd(int ib) const {
        static_assert(OUT, "a hidden layer is packed by output blocks");
        return p + ib * NO;
    }
    METHOD float bias(int o) const { return reinterpret_cast<const float*>(p + blocks)[o]; }
};

DEVICE int mlp_packed_layer(int ni, int no, bool out) { return (out ? QUADS(ni) * no : QUADS(no) * ni) + QUADS(no); }

// Float4s of a packed network.
DEVICE int mlp_packed_count(const Mlp& s) {
    int n = 0;
    for (int li = 0; li <= s.hidden_layers; ++li)
        n += mlp_packed_layer(mlp_cap_in(s, li), mlp_cap_out(s, li), li == s.hidden_layers);
    return n;
}

DEVICE float quad_at(const float4& q, int k) { return k == 0 ? q.x : k == 1 ? q.y : k == 2 ? q.z : q.w; }

// acc[k] = Σ_i f[i].k x[i]: a block of four outputs from a column of F, or (from a column
// of B, x the output gradient) four inputs' gradients.
template <int N>
DEVICE void dot4(const float4* f, const float (&x)[N], float (&acc)[4]) {
    acc[0] = acc[1] = acc[2] = acc[3] = 0.0f;
#pragma unroll
    for (int i = 0; i < N; ++i) {
        float4 w = f[i];
        acc[0] += w.x * x[i];
        acc[1] += w.y * x[i];
        acc[2] += w.z * x[i];
        acc[3] += w.w * x[i];
    }
}

// dx[i] += Σ_k d[k] f[i].k, k in order: a block of four outputs' gradients d taken back to
// the inputs through a column of F. Over the blocks in order, each dx[i] adds its terms
// output by output, as one sum over the outputs would.
template <int N>
DEVICE void add_back4(const float4* f, const float (&d)[4], float (&dx)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) {
        float4 w = f[i];
        dx[i] += d[0] * w.x;
        dx[i] += d[1] * w.y;
        dx[i] += d[2] * w.z;
        dx[i] += d[3] * w.w;
    }
}

// Four hidden units' activations, relu(W x + b), for block jb of layer l.
template <int NI, int NH>
DEVICE void hidden_block(const Layer<NI, NH, false>& l, int jb, const float (&x)[NI], float (&h)[4]) {
    float a[4];
    dot4(l.fwd(jb), x, a);
#pragma unroll
    for (int k = 0; k < 4; ++k) h[k] = 4 * jb + k < NH ? fmaxf(a[k] + l.bias(4 * jb + k), 0.0f) : 0.0f;
}

// Block jb of a hidden layer's activations, as mlp_output kept them.
DEVICE void kept_block(const Strided& kept, int jb, float (&h)[4]) {
#pragma unroll
    for (int k = 0; k < 4; ++k) h[k] = kept[4 * jb + k];
}

// y = relu?(W x + b).
template <int NI, int NO, bool RELU>
DEVICE void dense(const Layer<NI, NO, false>& l, const float (&x)[NI], float (&y)[NO]) {
#pragma unroll
    for (int ob = 0; ob < QUADS(NO); ++ob) {
        float acc[4];
        dot4(l.fwd(ob), x, acc);
#pragma unroll
        for (int k = 0; k < 4; ++k)
            if (4 * ob + k < NO) {
                float sum = acc[k] + l.bias(4 * ob + k);
                y[4 * ob + k] = RELU ? fmaxf(sum, 0.0f) : sum;
            }
    }
}

// The first KEEP outputs of a hidden layer (l1, ReLU) followed by the linear output layer
// (l2): each block of the hidden layer is added into the outputs as soon as it is computed
// (and kept in `keep`, when it has a base), so the hidden layer is never held whole. Sums in
// dense's order, so both give the same floats.
template <int KEEP, int NI, int NH, int NO>
DEVICE void hidden_then_output(const Layer<NI, NH, false>& l1, const Layer<NH, NO, true>& l2, const float (&x)[NI],
                               float (&out)[KEEP], const Strided& keep) {
    float sum[KEEP];
#pragma unroll
    for (int o = 0; o < KEEP; ++o) sum[o] = 0.0f;
#pragma unroll 1
    for (int jb = 0; jb < QUADS(NH); ++jb) {
        float v[4];
        hidden_block(l1, jb, x, v);
        if (keep.base)
#pragma unroll
            for (int k = 0; k < 4; ++k)
                if (4 * jb + k < NH) keep[4 * jb + k] = v[k];
        const float4* w = l2.bwd(jb);
#pragma unroll
        for (int o = 0; o < KEEP; ++o) {
            float4 q = w[o];
#pragma unroll
            for (int k = 0; k < 4; ++k)
                if (4 * jb + k < NH) sum[o] += quad_at(q, k) * v[k];
        }
    }
#pragma unroll
    for (int o = 0; o < KEEP; ++o) out[o] = sum[o] + l2.bias(o);
}

// The first KEEP outputs of a network with one or two hidden layers. With a base, `keep`
// receives the hidden layers' activations (N::hid floats each, layer after layer), which a
// backward pass then reads instead of computing them again.
template <class N, int KEEP>
DEVICE void mlp_output(const float4* p, const float (&x)[N::in], float (&out)[KEEP], const Strided& keep) {
    static_assert(N::layers == 1 || N::layers == 2, "one or two hidden layers");
    static_assert(KEEP <= N::out, "no more outputs than the network has");
    Layer<N::in, N::hid, false> l0{p};
    if constexpr (N::layers == 1) {
        hidden_then_output<KEEP>(l0, Layer<N::hid, N::out, true>{p + l0.size}, x, out, keep);
    } else {
        float h[N::hid];
        dense<N::in, N::hid, true>(l0, x, h);
        if (keep.base)
#pragma unroll
            for (int j = 0; j < N::hid; ++j) keep[j] = h[j];
        Layer<N::hid, N::hid, false> l1{p + l0.size};
        hidden_then_output<KEEP>(l1, Layer<N::hid, N::out, true>{p + l0.size + l1.size}, h, out, keep.from(N::hid));
    }
}

// Block jb of four hidden units between layer `in` and layer `next` (toward the gradient dout
// at its output), with their activations h: their gradients, recorded with h at columns
// d_col and h_col, and taken back into dx.
template <int NI, int NH, int NO>
DEVICE void hidden_block_backward(const Layer<NI, NH, false>& in, const Layer<NH, NO, true>& next, int jb, const float (&h)[4],
                                  const float (&dout)[NO], const Rec& rec, int d_col, int h_col, float (&dx)[NI]) {
    float g[4], d[4];
    dot4(next.bwd(jb), dout, g);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        int j = 4 * jb + k;
        d[k] = h[k] > 0.0f ? g[k] : 0.0f;
        if (j < NH) {
            rec_put(rec, d_col + j, d[k]);
            rec_put(rec, h_col + j, h[k]);
        }
    }
    add_back4(in.fwd(jb), d, dx);
}

// From dL/doutput of a network with one hidden layer: records what dL/dparams is made of in
// `rec` (see Rec) and writes dL/dinput. The outputs themselves are not needed, so the output
// layer's forward pass is skipped. The hidden layer comes from `kept` (mlp_output's `keep`)
// or, without a base, is computed again, a block of units at a time.
template <class N>
DEVICE void mlp1_backward(const float4* p, const float (&x)[N::in], const Strided& kept, const float (&dout)[N::out],
                          const Rec& rec, float (&dx)[N::in]) {
    static_assert(N::layers == 1, "one hidden layer");
    enum { IN = N::in, H = N::hid, OUT = N::out };
    Layer<IN, H, false> l0{p};
    Layer<H, OUT, true> l1{p + l0.size};
    rec_put_all(rec, 0, x);
    rec_put_all(rec, IN + 2 * H, dout);
#pragma unroll
    for (int i = 0; i < IN; ++i) dx[i] = 0.0f;
#pragma unroll 1
    for (int jb = 0; jb < QUADS(H); ++jb) {
        float h[4];
        if (kept.base)
            kept_block(kept, jb, h);
        else
            hidden_block(l0, jb, x, h);
        hidden_block_backward(l0, l1, jb, h, dout, rec, IN, IN + H, dx);
    }
}

// mlp1_backward for a network with two hidden layers, whose activations mlp_output kept.
template <class N>
DEVICE void mlp2_backward(const float4* p, const float (&x)[N::in], const Strided& kept, const float (&dout)[N::out],
                          const Rec& rec, float (&dx)[N::in]) {
    static_assert(N::layers == 2, "two hidden layers");
    enum { IN = N::in, H = N::hid, OUT = N::out };
    Layer<IN, H, false> l0{p};
    Layer<H, H, false> l1{p + l0.size};
    Layer<H, OUT, true> l2{p + l0.size + l1.size};
    // Columns: x, d1 | h1, d2 | h2, dout.
    float h1[H], d1[H];
#pragma unroll
    for (int j = 0; j < H; ++j) h1[j] = kept[j];
    rec_put_all(rec, 0, x);
    rec_put_all(rec, IN + H, h1);
    rec_put_all(rec, IN + 4 * H, dout);
#pragma unroll
    for (int i = 0; i < H; ++i) d1[i] = 0.0f;
    Strided h2 = kept.from(H);
#pragma unroll 1
    for (int jb = 0; jb < QUADS(H); ++jb) {
        float h[4];
        kept_block(h2, jb, h);
        hidden_block_backward(l1, l2, jb, h, dout, rec, IN + 2 * H, IN + 3 * H, d1);
    }
#pragma unroll
    for (int i = 0; i < H; ++i) d1[i] = h1[i] > 0.0f ? d1[i] : 0.0f;
    rec_put_all(rec, IN, d1);
#pragma unroll
    for (int i = 0; i < IN; ++i) dx[i] = 0.0f;
#pragma unroll
    for (int ib = 0; ib < QUADS(H); ++ib) {
        float d[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) d[k] = 4 * ib + k < H ? d1[4 * ib + k] : 0.0f;
        add_back4(l0.fwd(ib), d, dx);
    }
}

// Float4 i of a network's packed copy, from its parameters p (row-major weights then biases
// per layer, at the network's own sizes), zero where the capacity exceeds them.
DEVICE float4 mlp_pack(const Mlp& s, const float* p, int i) {
    float q[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int li = 0; li <= s.hidden_layers; ++li) {
        int ni = mlp_layer_in(s, li), no = mlp_layer_out(s, li);
        int ci = mlp_cap_in(s, li), co = mlp_cap_out(s, li);
        bool out = li == s.hidden_layers;
        if (i >= mlp_packed_layer(ci, co, out)) {
            i -= mlp_packed_layer(ci, co, out);
            p += ni * no + no;
            continue;
        }
        int blocks = out ? QUADS(ci) * co : QUADS(co) * ci;
        for (int k = 0; k < 4; ++k) {
            if (i >= blocks) {
                int o = 4 * (i - blocks) + k;
                if (o < no) q[k] = p[ni * no + o];
                continue;
            }
            int o = out ? i % co : 4 * (i / ci) + k;
            int in = out ? 4 * (i / co) + k : i % ci;
            if (o < no && in < ni) q[k] = p[o * ni + in];
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
