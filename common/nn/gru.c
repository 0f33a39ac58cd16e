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

/* The unroll's cache: xg, hg, gates (T,B,3H), the carries fed into each step
 * (T,B,H), then W_i^T and b_i, and W_h^T and b_h, packed (vb_backend.pack_weights)
 * for every step's input and recurrent products. */
static int64_t packed_fwd_floats(const vb_gru *g) {
    return vb_packed_floats(3 * g->hidden, g->in) + vb_packed_floats(3 * g->hidden, g->hidden);
}

int64_t vb_gru_seq_cache_floats(const vb_gru *g, int64_t T, int64_t B) {
    return 10 * T * B * g->hidden + packed_fwd_floats(g);
}

/* dxg and dhg (T,B,3H), dh_cur and dh_prev (B,H), then W_i and W_h packed for
 * the products back into the inputs and the carries, dx += dxg W_i and
 * dh += dhg W_h */
int64_t vb_gru_seq_scratch_floats(const vb_gru *g, int64_t T, int64_t B) {
    return 6 * T * B * g->hidden + 2 * B * g->hidden + vb_packed_floats(g->in, 3 * g->hidden) +
           vb_packed_floats(g->hidden, 3 * g->hidden);
}

/* One slab of a window: rows [b0, b0 + nb) of every (T, B, .) tensor, which
 * are contiguous within a step. Every product of a slab reads weights packed
 * once for the window, so its steps' GEMMs of nb rows pack nothing; the
 * weights' gradients are left to whole-window GEMMs after the slabs. */
typedef struct slab {
    const vb_backend *be;
    const vb_gru *g;
    const float *P;
    const float *Wip, *Whp; /* W_i and W_h packed (forward: with the biases, W^T; backward: W) */
    int64_t T, B, b0, nb;
} slab;

static void slab_forward(const slab *s, float *hs, const float *x, const float *h0, const uint8_t *reset,
                         float *cache) {
    const vb_backend *be = s->be;
    const vb_gru *g = s->g;
    const int64_t H = g->hidden, T = s->T, B = s->B, b0 = s->b0, nb = s->nb, N3 = T * B * 3 * H;
    float *xg = cache, *hg = cache + N3, *gates = cache + 2 * N3, *hin = cache + 3 * N3;
    /* xg = x W_i^T + b_i: a whole window's in one product, a slab's step by step */
    if (nb == B)
        be->gemm_packed(xg, x, s->Wip, s->P + g->wi.w, s->P + g->wi.b, T * B, 3 * H, g->in, false, false);
    for (int64_t t = 0; t < T; t++) {
        const int64_t r = t * B + b0; /* the slab's first row at step t */
        if (nb != B)
            be->gemm_packed(xg + r * 3 * H, x + r * g->in, s->Wip, s->P + g->wi.w, s->P + g->wi.b, nb, 3 * H,
                            g->in, false, false);
        /* hg(nb,3H) = h W_h^T + b_h */
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

static void slab_backward(const slab *s, float *dx, float *dh0, const float *dhs, const uint8_t *reset,
                          const float *cache, float *scratch) {
    const vb_backend *be = s->be;
    const vb_gru *g = s->g;
    const int64_t H = g->hidden, T = s->T, B = s->B, b0 = s->b0, nb = s->nb, N3 = T * B * 3 * H;
    const float *hg = cache + N3, *gates = cache + 2 * N3, *hin = cache + 3 * N3;
    float *dxg = scratch, *dhg = scratch + N3;
    float *dh_cur = scratch + 2 * N3 + b0 * H, *dh_prev = scratch + 2 * N3 + B * H + b0 * H;
    be->fill(dh_prev, 0.0f, nb * H); /* gradient arriving at h_{T-1} from the future: none */
    for (int64_t t = T - 1; t >= 0; t--) {
        const int64_t r = t * B + b0;
        /* dh_cur = dL/dh_t = dhs[t] + carry from step t+1 */
        be->copy(dh_cur, dhs + r * H, nb * H);
        be->axpy(dh_cur, 1.0f, dh_prev, nb * H);
        be->fill(dh_prev, 0.0f, nb * H);
        be->gru_gates_backward(dxg + r * 3 * H, dhg + r * 3 * H, dh_prev, dh_cur, gates + r * 3 * H,
                               hg + r * 3 * H, hin + r * H, nb, H);
        /* dh_prev(nb,H) += dhg W_h */
        be->gemm_packed(dh_prev, dhg + r * 3 * H, s->Whp, s->P + g->wh.w, NULL, nb, H, 3 * H, true, true);
        /* a reset row's input carry was a constant zero: nothing flows further back */
        if (reset) {
            for (int64_t b = 0; b < nb; b++)
                if (reset[r + b]) be->fill(dh_prev + b * H, 0.0f, H);
        }
        /* dx += dxg W_i: a slab's step by step, a whole window's in one product after the loop */
        if (dx && nb != B)
            be->gemm_packed(dx + r * g->in, dxg + r * 3 * H, s->Wip, s->P + g->wi.w, NULL, nb, g->in, 3 * H, true,
                            true);
    }
    if (dx && nb == B) be->gemm_packed(dx, dxg, s->Wip, s->P + g->wi.w, NULL, T * B, g->in, 3 * H, true, true);
    if (dh0) be->axpy(dh0 + b0 * H, 1.0f, dh_prev, nb * H);
}

/* The arguments of a threaded window, and each part's slab. */
typedef struct window {
    const vb_backend *be;
    const vb_gru *g;
    const float *P;
    float *G, *hs, *dx, *dh0, *scratch;
    float *cache_out;                  /* forward: the cache it fills */
    const float *Wip, *Whp;            /* W_i and W_h packed for this pass */
    const float *cache, *x, *h0, *dhs; /* backward: the cache it reads */
    const uint8_t *reset;
    int64_t T, B;
    int parts;
} window;

static bool window_slab(const window *w, int j, slab *s) {
    int64_t r0, r1;
    vb_par_rows(w->B, w->parts, j, &r0, &r1);
    *s = (slab){w->be, w->g, w->P, w->Wip, w->Whp, w->T, w->B, r0, r1 - r0};
    return s->nb > 0;
}

static void forward_part(void *ctx, int j) {
    const window *w = ctx;
    slab s;
    if (window_slab(w, j, &s)) slab_forward(&s, w->hs, w->x, w->h0, w->reset, w->cache_out);
}

static void backward_part(void *ctx, int j) {
    const window *w = ctx;
    slab s;
    if (window_slab(w, j, &s)) slab_backward(&s, w->dx, w->dh0, w->dhs, w->reset, w->cache, w->scratch);
}

/* The weights' gradients over the whole window, one GEMM of T B rows each:
 * part 0 W_i's and b_i's, part 1 (part 0 alone where there is one) W_h's
 * and b_h's. Each is the same call whatever the part count. */
static void grads_part(void *ctx, int j) {
    const window *w = ctx;
    const vb_gru *g = w->g;
    const int64_t N3 = w->T * w->B * 3 * g->hidden, rows = w->T * w->B;
    if (j == 0) vb_linear_backward(w->be, &g->wi, w->P, w->G, NULL, w->scratch, w->x, rows);
    if (j == 1 || w->parts == 1)
        vb_linear_backward(w->be, &g->wh, w->P, w->G, NULL, w->scratch + N3, w->cache + 3 * N3, rows);
}

/* The parts run one-core GEMMs: BLAS at one thread while they run, and at
 * the count it had after. (Any GEMM of the window on BLAS's threads would
 * leave OpenBLAS's workers spinning on the cores the slabs need.) */
static void run_parts(const window *w, int parts, void (*part)(void *ctx, int j)) {
    const int blas = w->parts > 1 ? w->be->get_threads() : 1;
    if (w->parts > 1) w->be->set_threads(1);
    vb_par_run(parts, part, (void *)w);
    if (w->parts > 1) w->be->set_threads(blas);
}

static int window_parts(const vb_backend *be, int threads, int64_t B) {
    /* a device backend runs each op across the device: one part */
    return be == vb_backend_cpu() ? vb_par_parts(threads, B) : 1;
}

void vb_gru_seq_forward(const vb_backend *be, const vb_gru *g, const float *P, float *hs, const float *x,
                        const float *h0, const uint8_t *reset, float *cache, int64_t T, int64_t B, int threads) {
    const int64_t H = g->hidden;
    float *Wip = cache + 10 * T * B * H, *Whp = Wip + vb_packed_floats(3 * H, g->in);
    be->pack_weights(Wip, P + g->wi.w, P + g->wi.b, 3 * H, g->in, false);
    be->pack_weights(Whp, P + g->wh.w, P + g->wh.b, 3 * H, H, false);
    window w = {.be = be, .g = g, .P = P, .hs = hs, .x = x, .h0 = h0, .reset = reset, .cache_out = cache,
                .Wip = Wip, .Whp = Whp, .T = T, .B = B, .parts = window_parts(be, threads, B)};
    run_parts(&w, w.parts, forward_part);
}

void vb_gru_seq_backward(const vb_backend *be, const vb_gru *g, const float *P, float *G, float *dx, float *dh0,
                         const float *dhs, const float *x, const uint8_t *reset, const float *cache,
                         float *scratch, int64_t T, int64_t B, int threads) {
    const int64_t H = g->hidden;
    float *Wip = scratch + 6 * T * B * H + 2 * B * H, *Whp = Wip + vb_packed_floats(g->in, 3 * H);
    be->pack_weights(Wip, P + g->wi.w, NULL, g->in, 3 * H, true);
    be->pack_weights(Whp, P + g->wh.w, NULL, H, 3 * H, true);
    window w = {.be = be, .g = g, .P = P, .G = G, .dx = dx, .dh0 = dh0, .dhs = dhs, .x = x, .reset = reset,
                .cache = cache, .scratch = scratch, .Wip = Wip, .Whp = Whp, .T = T, .B = B,
                .parts = window_parts(be, threads, B)};
    run_parts(&w, w.parts, backward_part);
    run_parts(&w, w.parts > 1 ? 2 : 1, grads_part);
}
