/* mlp — cache layout for B rows: for each hidden layer i, pre_i (B, w_i) then
 * post_i (B, w_i); then the output pre-activation (B, out) when out_act is
 * not NONE. */
#include "mlp.h"

#include <stdio.h>

int vb_mlp_layout(vb_mlp *m, vb_layout *lay, const char *name, int64_t in, const int64_t *hidden, int nhidden,
                  int64_t out, vb_act act, vb_act out_act) {
    if (nhidden < 0 || nhidden + 1 > VB_MLP_MAX_LAYERS) return -1;
    m->n = nhidden + 1;
    m->act = act;
    m->out_act = out_act;
    m->in = in;
    m->out = out;
    m->max_width = out;
    int64_t prev = in;
    for (int i = 0; i < m->n; i++) {
        int64_t w = i < nhidden ? hidden[i] : out;
        char n[VB_ARENA_NAME];
        snprintf(n, sizeof n, "%s.%d", name, i);
        if (vb_linear_layout(&m->layer[i], lay, n, prev, w, 1) != 0) return -1;
        if (w > m->max_width) m->max_width = w;
        prev = w;
    }
    return 0;
}

void vb_mlp_init(const vb_mlp *m, float *P, vb_rng *rng) {
    for (int i = 0; i < m->n; i++) vb_linear_init(&m->layer[i], P, rng);
}

int64_t vb_mlp_cache_floats(const vb_mlp *m, int64_t B) {
    int64_t s = 0;
    for (int i = 0; i < m->n - 1; i++) s += 2 * B * m->layer[i].out;
    if (m->out_act != VB_ACT_NONE) s += B * m->out;
    return s;
}

int64_t vb_mlp_scratch_floats(const vb_mlp *m, int64_t B) { return 3 * B * m->max_width; }

void vb_mlp_forward(const vb_backend *be, const vb_mlp *m, const float *P, float *out, const float *inp,
                    float *cache, int64_t B) {
    const float *x = inp;
    float *c = cache;
    for (int i = 0; i < m->n - 1; i++) {
        int64_t w = m->layer[i].out;
        float *pre = c, *post = c + B * w;
        vb_linear_forward_act(be, &m->layer[i], P, m->act, pre, post, x, B);
        x = post;
        c += 2 * B * w;
    }
    const vb_linear *last = &m->layer[m->n - 1];
    if (m->out_act == VB_ACT_NONE) {
        vb_linear_forward(be, last, P, out, x, B);
    } else {
        vb_linear_forward_act(be, last, P, m->out_act, c, out, x, B);
    }
}

int64_t vb_mlp_infer_floats(const vb_backend *be, const vb_mlp *m, int64_t B) {
    return m->n > 1 ? 2 * vb_chain_most(be, B) * m->max_width : 0;
}

int64_t vb_mlp_packed_floats(const vb_mlp *m) {
    int64_t s = 0;
    for (int i = 0; i < m->n; i++) s += vb_linear_packed_floats(&m->layer[i]);
    return s;
}

void vb_mlp_pack(const vb_backend *be, const vb_mlp *m, const float *P, float *Wp) {
    for (int i = 0; i < m->n; i++) {
        vb_linear_pack(be, &m->layer[i], P, Wp);
        Wp += vb_linear_packed_floats(&m->layer[i]);
    }
}

void vb_mlp_infer(const vb_backend *be, const vb_mlp *m, const float *P, const float *Wp, float *out,
                  const float *inp, float *work, int64_t B) {
    float *buf[2] = {work, work + vb_chain_most(be, B) * m->max_width};
    const float *wp[VB_MLP_MAX_LAYERS]; /* each layer's packing, or NULL */
    int64_t off = 0;
    for (int i = 0; i < m->n; i++) {
        wp[i] = Wp ? Wp + off : NULL;
        off += vb_linear_packed_floats(&m->layer[i]);
    }
    for (int64_t r0 = 0, rows; r0 < B; r0 += rows) {
        rows = vb_chain_block(be, B, r0);
        const float *x = inp + r0 * m->in;
        for (int i = 0; i < m->n - 1; i++) {
            vb_linear_infer(be, &m->layer[i], P, wp[i], m->act, buf[i & 1], x, rows);
            x = buf[i & 1];
        }
        vb_linear_infer(be, &m->layer[m->n - 1], P, wp[m->n - 1], m->out_act, out + r0 * m->out, x, rows);
    }
}

void vb_mlp_backward(const vb_backend *be, const vb_mlp *m, const float *P, float *G, float *dinp,
                     const float *dout, const float *inp, const float *out, const float *cache, float *scratch,
                     int64_t B) {
    /* pointers to each layer's input and cached pre/post activations */
    const float *pre[VB_MLP_MAX_LAYERS], *post[VB_MLP_MAX_LAYERS];
    const float *c = cache;
    for (int i = 0; i < m->n - 1; i++) {
        int64_t w = m->layer[i].out;
        pre[i] = c;
        post[i] = c + B * w;
        c += 2 * B * w;
    }
    /* scratch: dx (dL/d post of the layer below) and two buffers that take
     * turns holding dL/d pre of the current layer */
    const int64_t W = B * m->max_width;
    float *dx_buf = scratch, *dpre_buf[2] = {scratch + W, scratch + 2 * W};
    int turn = 0;
    const float *d = dout;
    if (m->out_act != VB_ACT_NONE) {
        float *dpre = dpre_buf[turn ^= 1];
        be->fill(dpre, 0.0f, B * m->out);
        be->act_backward(m->out_act, dpre, dout, c, out, B * m->out);
        d = dpre;
    }
    for (int i = m->n - 1; i >= 0; i--) {
        if (i == 0) {
            vb_linear_backward(be, &m->layer[0], P, G, dinp, d, inp, B);
            break;
        }
        int64_t w = m->layer[i - 1].out;
        be->fill(dx_buf, 0.0f, B * w);
        vb_linear_backward(be, &m->layer[i], P, G, dx_buf, d, post[i - 1], B);
        float *dpre = dpre_buf[turn ^= 1];
        be->fill(dpre, 0.0f, B * w);
        be->act_backward(m->act, dpre, dx_buf, pre[i - 1], post[i - 1], B * w);
        d = dpre;
    }
}

void vb_mlp_join_rows(const vb_backend *be, float *out, const float *a, int64_t a_stride, int64_t aw, const float *b,
                      int64_t b_stride, int64_t b_every, int64_t bw, int64_t B) {
    for (int64_t i = 0; i < B; i++) {
        be->copy(out + i * (aw + bw), a + i * a_stride, aw);
        if (bw > 0) be->copy(out + i * (aw + bw) + aw, b + (i / b_every) * b_stride, bw);
    }
}
