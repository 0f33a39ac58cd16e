#include "gru.h"

#include <stdio.h>

int vb_gru_layout(vb_gru *g, vb_layout *lay, const char *name, int64_t in, int64_t hidden) {
    char n[VB_ARENA_NAME];
    g->in = in;
    g->hidden = hidden;
    snprintf(n, sizeof n, "%s.wi", name);
    if (vb_linear_layout(&g->wi, lay, n, in, 3 * hidden, 1) != 0) return -1;
    snprintf(n, sizeof n, "%s.wh", name);
    return vb_linear_layout(&g->wh, lay, n, hidden, 3 * hidden, 1);
}

void vb_gru_init(const vb_gru *g, float *P, vb_rng *rng) {
    /* PyTorch's init: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)) */
    vb_linear wi = g->wi;
    wi.in = g->hidden; /* bound uses H, not the input width */
    vb_linear_init(&wi, P, rng);
    vb_linear_init(&g->wh, P, rng);
}

int64_t vb_gru_step_cache_floats(const vb_gru *g, int64_t B) { return 9 * B * g->hidden; }

void vb_gru_step_forward(const vb_backend *be, const vb_gru *g, const float *P, float *h_out, const float *x,
                         const float *h, float *cache, int64_t B) {
    const int64_t H3 = 3 * g->hidden * B;
    float *xg = cache, *hg = cache + H3, *gates = cache + 2 * H3;
    vb_linear_forward(be, &g->wi, P, xg, x, B);
    vb_linear_forward(be, &g->wh, P, hg, h, B);
    be->gru_gates_forward(h_out, gates, xg, hg, h, B, g->hidden);
}

void vb_gru_step_backward(const vb_backend *be, const vb_gru *g, const float *P, float *G, float *dx, float *dh,
                          const float *dh_out, const float *x, const float *h, const float *cache, float *scratch,
                          int64_t B) {
    const int64_t H3 = 3 * g->hidden * B;
    const float *hg = cache + H3, *gates = cache + 2 * H3;
    float *dxg = scratch, *dhg = scratch + H3;
    /* without dh the direct carry path z * dh_out lands in scratch and is dropped */
    float *dh_direct = dh ? dh : scratch + 2 * H3;
    be->gru_gates_backward(dxg, dhg, dh_direct, dh_out, gates, hg, h, B, g->hidden);
    vb_linear_backward(be, &g->wi, P, G, dx, dxg, x, B);
    vb_linear_backward(be, &g->wh, P, G, dh, dhg, h, B);
}

int64_t vb_gru_step_scratch_floats(const vb_gru *g, int64_t B) { return 7 * B * g->hidden; }

int64_t vb_gru_seq_cache_floats(const vb_gru *g, int64_t T, int64_t B) { return 10 * T * B * g->hidden; }

int64_t vb_gru_seq_scratch_floats(const vb_gru *g, int64_t T, int64_t B) {
    return 3 * T * B * g->hidden + 3 * B * g->hidden + 2 * B * g->hidden;
}

void vb_gru_seq_forward(const vb_backend *be, const vb_gru *g, const float *P, float *hs, const float *x,
                        const float *h0, const uint8_t *reset, float *cache, int64_t T, int64_t B) {
    const int64_t H = g->hidden, N3 = T * B * 3 * H;
    float *xg = cache, *hg = cache + N3, *gates = cache + 2 * N3, *hin = cache + 3 * N3;
    /* all input projections at once: xg(T*B,3H) = x(T*B,in) W_i^T + b_i */
    vb_linear_forward(be, &g->wi, P, xg, x, T * B);
    for (int64_t t = 0; t < T; t++) {
        float *hp = hin + t * B * H;
        be->copy(hp, t == 0 ? h0 : hs + (t - 1) * B * H, B * H);
        if (reset) {
            for (int64_t b = 0; b < B; b++)
                if (reset[t * B + b]) be->fill(hp + b * H, 0.0f, H);
        }
        float *hgt = hg + t * B * 3 * H;
        vb_linear_forward(be, &g->wh, P, hgt, hp, B);
        be->gru_gates_forward(hs + t * B * H, gates + t * B * 3 * H, xg + t * B * 3 * H, hgt, hp, B, H);
    }
}

void vb_gru_seq_backward(const vb_backend *be, const vb_gru *g, const float *P, float *G, float *dx, float *dh0,
                         const float *dhs, const float *x, const uint8_t *reset, const float *cache,
                         float *scratch, int64_t T, int64_t B) {
    const int64_t H = g->hidden, N3 = T * B * 3 * H;
    const float *hg = cache + N3, *gates = cache + 2 * N3, *hin = cache + 3 * N3;
    float *dxg = scratch, *dhg = scratch + N3, *dh_cur = dhg + B * 3 * H, *dh_prev = dh_cur + B * H;
    be->fill(dh_prev, 0.0f, B * H); /* gradient arriving at h_{T-1} from the future: none */
    for (int64_t t = T - 1; t >= 0; t--) {
        /* dh_cur = dL/dh_t = dhs[t] + carry from step t+1 */
        be->copy(dh_cur, dhs + t * B * H, B * H);
        be->axpy(dh_cur, 1.0f, dh_prev, B * H);
        be->fill(dh_prev, 0.0f, B * H);
        const float *hp = hin + t * B * H;
        be->gru_gates_backward(dxg + t * B * 3 * H, dhg, dh_prev, dh_cur, gates + t * B * 3 * H,
                               hg + t * B * 3 * H, hp, B, H);
        vb_linear_backward(be, &g->wh, P, G, dh_prev, dhg, hp, B);
        /* a reset row's input carry was a constant zero: nothing flows further back */
        if (reset) {
            for (int64_t b = 0; b < B; b++)
                if (reset[t * B + b]) be->fill(dh_prev + b * H, 0.0f, H);
        }
    }
    if (dh0) be->axpy(dh0, 1.0f, dh_prev, B * H);
    vb_linear_backward(be, &g->wi, P, G, dx, dxg, x, T * B);
}
