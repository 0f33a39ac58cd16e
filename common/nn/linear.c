#include "linear.h"

#include <math.h>
#include <stdio.h>

int vb_linear_layout(vb_linear *l, vb_layout *lay, const char *name, int64_t in, int64_t out, int bias) {
    char n[VB_ARENA_NAME];
    l->in = in;
    l->out = out;
    snprintf(n, sizeof n, "%s.w", name);
    l->w = vb_layout_add(lay, n, 2, (int64_t[]){out, in});
    l->b = -1;
    if (bias) {
        snprintf(n, sizeof n, "%s.b", name);
        l->b = vb_layout_add(lay, n, 1, (int64_t[]){out});
        if (l->b < 0) return -1;
    }
    return l->w < 0 ? -1 : 0;
}

void vb_linear_init(const vb_linear *l, float *P, vb_rng *rng) {
    float bound = 1.0f / sqrtf((float)l->in);
    for (int64_t i = 0; i < l->in * l->out; i++) P[l->w + i] = bound * (2.0f * vb_rng_uniform(rng) - 1.0f);
    if (l->b >= 0)
        for (int64_t i = 0; i < l->out; i++) P[l->b + i] = bound * (2.0f * vb_rng_uniform(rng) - 1.0f);
}

void vb_linear_forward(const vb_backend *be, const vb_linear *l, const float *P, float *out, const float *inp,
                       int64_t B) {
    /* out(B,out) = b + inp(B,in) W^T(in,out) */
    be->linear_act(VB_ACT_NONE, NULL, out, inp, P + l->w, l->b >= 0 ? P + l->b : NULL, B, l->out, l->in);
}

void vb_linear_forward_act(const vb_backend *be, const vb_linear *l, const float *P, vb_act act, float *pre,
                           float *out, const float *inp, int64_t B) {
    be->linear_act(act, pre, out, inp, P + l->w, l->b >= 0 ? P + l->b : NULL, B, l->out, l->in);
}

int64_t vb_linear_packed_floats(const vb_linear *l) { return vb_packed_floats(l->out, l->in); }

void vb_linear_pack(const vb_backend *be, const vb_linear *l, const float *P, float *Wp) {
    be->pack_weights(Wp, P + l->w, l->b >= 0 ? P + l->b : NULL, l->out, l->in, false);
}

void vb_linear_infer(const vb_backend *be, const vb_linear *l, const float *P, const float *Wp, vb_act act,
                     float *out, const float *inp, int64_t B) {
    be->linear_act_packed(act, out, inp, Wp, P + l->w, l->b >= 0 ? P + l->b : NULL, B, l->out, l->in);
}

void vb_linear_backward(const vb_backend *be, const vb_linear *l, const float *P, float *G, float *dinp,
                        const float *dout, const float *inp, int64_t B) {
    /* dW(out,in) += dout^T(out,B) inp(B,in) */
    be->gemm(true, false, l->out, l->in, B, 1.0f, dout, l->out, inp, l->in, 1.0f, G + l->w, l->in);
    if (l->b >= 0) be->bias_grad(G + l->b, dout, B, l->out);
    /* dinp(B,in) += dout(B,out) W(out,in) */
    if (dinp) be->gemm(false, false, B, l->in, l->out, 1.0f, dout, l->out, P + l->w, l->in, 1.0f, dinp, l->in);
}
