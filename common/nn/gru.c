#include "gru.h"

#include <stdbool.h>
#include <stdio.h>

#include "../base/par.h"

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

int64_t vb_gru_packed_floats(const vb_gru *g) {
    return vb_linear_packed_floats(&g->wi) + vb_linear_packed_floats(&g->wh);
}

void vb_gru_pack(const vb_backend *be, const vb_gru *g, const float *P, float *Wp) {
    vb_linear_pack(be, &g->wi, P, Wp);
    vb_linear_pack(be, &g->wh, P, Wp + vb_linear_packed_floats(&g->wi));
}

void vb_gru_step_infer(const vb_backend *be, const vb_gru *g, const float *P, const float *Wp, float *h_out,
                       const float *x, const float *h, float *cache, int64_t B) {
    const int64_t H3 = 3 * g->hidden * B;
    float *xg = cache, *hg = cache + H3, *gates = cache + 2 * H3;
    vb_linear_infer(be, &g->wi, P, Wp, VB_ACT_NONE, xg, x, B);
    vb_linear_infer(be, &g->wh, P, Wp + vb_linear_packed_floats(&g->wi), VB_ACT_NONE, hg, h, B);
    be->gru_gates_forward(h_out, gates, xg, hg, h, B, g->hidden);
}

void vb_gru_step_infer_pair(const vb_backend *be, const vb_gru *g, const float *P, const float *Wp, float *h_a,
                            float *h_b, const float *x2, const float *h, float *cache, int64_t B) {
    const int64_t H3 = 3 * g->hidden * B;
    float *xg = cache, *hg = cache + 2 * H3, *gates = cache + 3 * H3; /* xg (2B,3H), hg (B,3H), gates (B,3H) */
    vb_linear_infer(be, &g->wi, P, Wp, VB_ACT_NONE, xg, x2, 2 * B);
    vb_linear_infer(be, &g->wh, P, Wp + vb_linear_packed_floats(&g->wi), VB_ACT_NONE, hg, h, B);
    be->gru_gates_forward(h_a, gates, xg, hg, h, B, g->hidden);
    be->gru_gates_forward(h_b, gates, xg + H3, hg, h, B, g->hidden);
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

/* the unroll's cache: xg, hg, gates, the carries, then W_h^T and b_h packed
 * (vb_backend.pack_weights) for the steps' recurrent products */
int64_t vb_gru_seq_cache_floats(const vb_gru *g, int64_t T, int64_t B) {
    return 10 * T * B * g->hidden + vb_packed_floats(3 * g->hidden, g->hidden);
}

/* The GRU's four tensors lie together in the arena: [wi.w, wh.b + 3H). */
static int64_t param_base(const vb_gru *g) { return g->wi.w; }
static int64_t param_span(const vb_gru *g) { return g->wh.b + 3 * g->hidden - g->wi.w; }

int64_t vb_gru_seq_scratch_floats(const vb_gru *g, int64_t T, int64_t B, int threads) {
    const int64_t extra = (int64_t)(vb_par_parts(threads, B) - 1) * param_span(g);
    /* and W_h packed for the carries' gradient, dh += dhg W_h */
    return 3 * T * B * g->hidden + 3 * B * g->hidden + 2 * B * g->hidden + extra +
           vb_packed_floats(g->hidden, 3 * g->hidden);
}

/* One slab of a window: rows [b0, b0 + nb) of every (T, B, .) tensor, which
 * are contiguous within a step. A whole window (nb == B) projects all its
 * inputs with one GEMM each way; a slab projects step by step, so that every
 * GEMM of a threaded window runs on its slab's thread. */
typedef struct slab {
    const vb_backend *be;
    const vb_gru *g; /* its offsets index P and G */
    const float *P;
    float *G;
    const float *Whp; /* W_h packed: W_h^T and b_h (forward), W_h (backward) */
    int64_t T, B, b0, nb;
} slab;

static void slab_forward(const slab *s, float *hs, const float *x, const float *h0, const uint8_t *reset,
                         float *cache) {
    const vb_backend *be = s->be;
    const vb_gru *g = s->g;
    const int64_t H = g->hidden, T = s->T, B = s->B, b0 = s->b0, nb = s->nb, N3 = T * B * 3 * H;
    float *xg = cache, *hg = cache + N3, *gates = cache + 2 * N3, *hin = cache + 3 * N3;
    /* the input projections: xg(T*B,3H) = x(T*B,in) W_i^T + b_i */
    if (nb == B) vb_linear_forward(be, &g->wi, s->P, xg, x, T * B);
    for (int64_t t = 0; t < T; t++) {
        const int64_t r = t * B + b0; /* the slab's first row at step t */
        if (nb != B) vb_linear_forward(be, &g->wi, s->P, xg + r * 3 * H, x + r * g->in, nb);
        float *hp = hin + r * H;
        be->copy(hp, t == 0 ? h0 + b0 * H : hs + (r - B) * H, nb * H);
        if (reset) {
            for (int64_t b = 0; b < nb; b++)
                if (reset[r + b]) be->fill(hp + b * H, 0.0f, H);
        }
        be->gemm_packed(hg + r * 3 * H, hp, s->Whp, s->P + g->wh.w, s->P + g->wh.b, nb, 3 * H, H, false, false);
        be->gru_gates_forward(hs + r * H, gates + r * 3 * H, xg + r * 3 * H, hg + r * 3 * H, hp, nb, H);
    }
}

static void slab_backward(const slab *s, float *dx, float *dh0, const float *dhs, const float *x,
                          const uint8_t *reset, const float *cache, float *scratch) {
    const vb_backend *be = s->be;
    const vb_gru *g = s->g;
    const int64_t H = g->hidden, T = s->T, B = s->B, b0 = s->b0, nb = s->nb, N3 = T * B * 3 * H;
    const float *hg = cache + N3, *gates = cache + 2 * N3, *hin = cache + 3 * N3;
    float *dxg = scratch, *dhg = scratch + N3 + b0 * 3 * H;
    float *dh_cur = scratch + N3 + B * 3 * H + b0 * H, *dh_prev = scratch + N3 + B * 4 * H + b0 * H;
    be->fill(dh_prev, 0.0f, nb * H); /* gradient arriving at h_{T-1} from the future: none */
    for (int64_t t = T - 1; t >= 0; t--) {
        const int64_t r = t * B + b0;
        /* dh_cur = dL/dh_t = dhs[t] + carry from step t+1 */
        be->copy(dh_cur, dhs + r * H, nb * H);
        be->axpy(dh_cur, 1.0f, dh_prev, nb * H);
        be->fill(dh_prev, 0.0f, nb * H);
        const float *hp = hin + r * H;
        be->gru_gates_backward(dxg + r * 3 * H, dhg, dh_prev, dh_cur, gates + r * 3 * H, hg + r * 3 * H, hp, nb,
                               H);
        vb_linear_backward(be, &g->wh, s->P, s->G, NULL, dhg, hp, nb);
        be->gemm_packed(dh_prev, dhg, s->Whp, s->P + g->wh.w, NULL, nb, H, 3 * H, true, true);
        /* a reset row's input carry was a constant zero: nothing flows further back */
        if (reset) {
            for (int64_t b = 0; b < nb; b++)
                if (reset[r + b]) be->fill(dh_prev + b * H, 0.0f, H);
        }
        if (nb != B)
            vb_linear_backward(be, &g->wi, s->P, s->G, dx ? dx + r * g->in : NULL, dxg + r * 3 * H,
                               x + r * g->in, nb);
    }
    if (dh0) be->axpy(dh0 + b0 * H, 1.0f, dh_prev, nb * H);
    if (nb == B) vb_linear_backward(be, &g->wi, s->P, s->G, dx, dxg, x, T * B);
}

/* The arguments of a threaded window, and each part's slab. */
typedef struct window {
    const vb_backend *be;
    const vb_gru *g;
    const float *P;
    float *G, *hs, *dx, *dh0, *scratch, *grads; /* grads: part j >= 1's gradients at (j - 1) * span */
    float *cache_out;                           /* forward: the cache it fills */
    const float *Whp;                           /* W_h packed for this pass */
    const float *cache, *x, *h0, *dhs;          /* backward: the cache it reads */
    const uint8_t *reset;
    int64_t T, B;
    int parts;
} window;

/* Part j's slab. Parts after the first accumulate into their own zeroed
 * gradient block, so the GRU is rebased to index it from 0 (P too). */
static bool window_slab(const window *w, int j, vb_gru *rebased, slab *s) {
    int64_t r0, r1;
    vb_par_rows(w->B, w->parts, j, &r0, &r1);
    *s = (slab){w->be, w->g, w->P, w->G, w->Whp, w->T, w->B, r0, r1 - r0};
    if (j > 0 && w->G) {
        const int64_t base = param_base(w->g);
        *rebased = *w->g;
        rebased->wi.w -= base, rebased->wi.b -= base, rebased->wh.w -= base, rebased->wh.b -= base;
        s->g = rebased;
        s->P = w->P + base;
        s->G = w->grads + (int64_t)(j - 1) * param_span(w->g);
    }
    return s->nb > 0;
}

static void forward_part(void *ctx, int j) {
    const window *w = ctx;
    vb_gru rebased;
    slab s;
    if (window_slab(w, j, &rebased, &s)) slab_forward(&s, w->hs, w->x, w->h0, w->reset, w->cache_out);
}

static void backward_part(void *ctx, int j) {
    const window *w = ctx;
    vb_gru rebased;
    slab s;
    if (j > 0) w->be->fill(w->grads + (int64_t)(j - 1) * param_span(w->g), 0.0f, param_span(w->g));
    if (window_slab(w, j, &rebased, &s))
        slab_backward(&s, w->dx, w->dh0, w->dhs, w->x, w->reset, w->cache, w->scratch);
}

/* The slabs run one-core GEMMs: BLAS at one thread while they run, and at
 * the count it had after. (Any GEMM of the window on BLAS's threads would
 * leave OpenBLAS's workers spinning on the cores the slabs need.) */
static void run_slabs(const window *w, void (*part)(void *ctx, int j)) {
    const int blas = w->parts > 1 ? w->be->get_threads() : 1;
    if (w->parts > 1) w->be->set_threads(1);
    vb_par_run(w->parts, part, (void *)w);
    if (w->parts > 1) w->be->set_threads(blas);
}

static int window_parts(const vb_backend *be, int threads, int64_t B) {
    /* a device backend runs each op across the device: one part */
    return be == vb_backend_cpu() ? vb_par_parts(threads, B) : 1;
}

void vb_gru_seq_forward(const vb_backend *be, const vb_gru *g, const float *P, float *hs, const float *x,
                        const float *h0, const uint8_t *reset, float *cache, int64_t T, int64_t B, int threads) {
    const int64_t H = g->hidden;
    float *Whp = cache + 10 * T * B * H;
    be->pack_weights(Whp, P + g->wh.w, P + g->wh.b, 3 * H, H, false);
    window w = {.be = be, .g = g, .P = P, .hs = hs, .x = x, .h0 = h0, .reset = reset, .cache_out = cache, .Whp = Whp,
                .T = T, .B = B, .parts = window_parts(be, threads, B)};
    run_slabs(&w, forward_part);
}

void vb_gru_seq_backward(const vb_backend *be, const vb_gru *g, const float *P, float *G, float *dx, float *dh0,
                         const float *dhs, const float *x, const uint8_t *reset, const float *cache,
                         float *scratch, int64_t T, int64_t B, int threads) {
    const int64_t H = g->hidden;
    window w = {.be = be, .g = g, .P = P, .G = G, .dx = dx, .dh0 = dh0, .dhs = dhs, .x = x, .reset = reset,
                .cache = cache, .scratch = scratch, .T = T, .B = B, .parts = window_parts(be, threads, B)};
    const int64_t base = param_base(g), span = param_span(g);
    w.grads = scratch + 3 * T * B * H + 5 * B * H;
    float *Whp = w.grads + (int64_t)(w.parts - 1) * span;
    be->pack_weights(Whp, P + g->wh.w, NULL, H, 3 * H, true);
    w.Whp = Whp;
    run_slabs(&w, backward_part);
    /* the parts' gradients, summed in part order */
    for (int j = 1; j < w.parts; j++) be->axpy(G + base, 1.0f, w.grads + (int64_t)(j - 1) * span, span);
}
