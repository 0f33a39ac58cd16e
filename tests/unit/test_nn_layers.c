/* Layer behaviour beyond gradients: hand-computed forwards, the two forms of
 * the recurrent layers agreeing, reset semantics, initialisation. The
 * gradients themselves are checked by tools/gradcheck (make gradcheck). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/nn/gru.h"
#include "common/nn/linear.h"
#include "common/nn/mlp.h"
#include "common/nn/s5.h"
#include "common/nn/softmax_cells.h"
#include "common/nn/s5_assoc.h"
#include "common/base/par.h"
#include "common/base/rng.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_ops.h"

static const vb_backend *be;
static void setup(void) { be = vb_backend_cpu(); }

static float *randn(vb_rng *r, int64_t n, float s) {
    float *p = calloc((size_t)n, sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = s * vb_rng_normal(r);
    return p;
}

Test(layers, linear_forward_by_hand, .init = setup) {
    vb_layout lay;
    vb_layout_init(&lay);
    vb_linear l;
    cr_assert_eq(vb_linear_layout(&l, &lay, "l", 2, 3, 1), 0);
    float P[64] = {0};
    const float w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {0.5f, -1, 2};
    memcpy(P + l.w, w, sizeof w);
    memcpy(P + l.b, b, sizeof b);
    const float x[4] = {1, -1, 2, 0.5f};
    float y[6];
    vb_linear_forward(be, &l, P, y, x, 2);
    const float expect[6] = {1 - 2 + 0.5f, 3 - 4 - 1, 5 - 6 + 2, 2 + 1 + 0.5f, 6 + 2 - 1, 10 + 3 + 2};
    for (int i = 0; i < 6; i++) cr_assert_float_eq(y[i], expect[i], 1e-6);
}

Test(layers, bias_fill_writes_every_row_and_nothing_past_them, .init = setup) {
    const int64_t cols = 5, rows_list[] = {1, 2, 3, 7, 64, 1000};
    const float b[5] = {0.5f, -1, 2, 3.25f, -7};
    float *out = malloc(sizeof(float) * (size_t)(1000 * cols + 1));
    for (size_t t = 0; t < sizeof rows_list / sizeof rows_list[0]; t++) {
        const int64_t rows = rows_list[t];
        for (int64_t i = 0; i <= rows * cols; i++) out[i] = NAN;
        be->bias_fill(out, b, rows, cols);
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                cr_assert_eq(out[i * cols + j], b[j], "rows %lld: row %lld col %lld", (long long)rows, (long long)i,
                             (long long)j);
        cr_assert(isnan(out[rows * cols]), "rows %lld: wrote past the last row", (long long)rows);
    }
    free(out);
}

Test(layers, gemm_transposes_match_naive, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 1, 0);
    const int64_t M = 5, N = 4, K = 3;
    float *A = randn(&r, M * K, 1), *B = randn(&r, K * N, 1), C[20], At[15], Bt[12];
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++) At[k * M + i] = A[i * K + k];
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) Bt[j * K + k] = B[k * N + j];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            for (int i = 0; i < 20; i++) C[i] = 1.0f;
            be->gemm(ta, tb, M, N, K, 2.0f, ta ? At : A, ta ? M : K, tb ? Bt : B, tb ? K : N, 0.5f, C, N);
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double s = 0;
                    for (int64_t k = 0; k < K; k++) s += (double)A[i * K + k] * B[k * N + j];
                    cr_assert_float_eq(C[i * N + j], 2 * s + 0.5, 1e-5, "ta=%d tb=%d", ta, tb);
                }
        }
    free(A);
    free(B);
}

Test(layers, softmax_and_log_softmax_agree_and_normalise, .init = setup) {
    const float x[6] = {1000, 1001, 999, -3, 0, 3};
    float p[6], lp[6];
    be->softmax(p, x, 2, 3);
    be->log_softmax(lp, x, 2, 3);
    for (int r = 0; r < 2; r++) {
        double s = 0;
        for (int j = 0; j < 3; j++) {
            s += p[r * 3 + j];
            cr_assert_float_eq(logf(p[r * 3 + j]), lp[r * 3 + j], 2e-4); /* float ulp at 1000 is 6e-5 */
        }
        cr_assert_float_eq(s, 1.0, 1e-6);
    }
    cr_assert_float_eq(p[1], expf(1) / (expf(0) + expf(1) + expf(-1)), 1e-6);
}

/* A GRU unroll over T steps equals T single steps, and a reset row restarts
 * from a zero carry. */
/* A categorical read as Bernoullis: sigmoid of each cell's log-odds is its
 * softmax probability (against long double), including rows where one cell
 * holds nearly all the mass, which 1 - p in float would lose (log-odds
 * beyond +-VB_LOGODDS_MAX are clamped: a probability of 0 or 1 in float). */
Test(layers, softmax_logodds_are_each_cells_softmax_probability, .init = setup) {
    enum { R = 5, K = 25 };
    float v[R * K], v0[R * K];
    vb_rng r;
    vb_rng_init(&r, 21, 0);
    const float scale[R] = {0.1f, 1.0f, 4.0f, 10.0f, 0.0f};
    for (int i = 0; i < R; i++)
        for (int k = 0; k < K; k++) v[i * K + k] = scale[i] * (float)vb_rng_normal(&r);
    v[3 * K + 7] = 40.0f; /* p = 1 - O(e^-20) */
    memcpy(v0, v, sizeof v);
    vb_softmax_logodds(v, R, K);
    for (int i = 0; i < R; i++) {
        long double z = 0;
        for (int k = 0; k < K; k++) z += expl((long double)v0[i * K + k]);
        for (int k = 0; k < K; k++) {
            const long double p = expl((long double)v0[i * K + k]) / z,
                              exact = (long double)v0[i * K + k] - logl(z - expl(v0[i * K + k])),
                              want = fminl(VB_LOGODDS_MAX, fmaxl(-VB_LOGODDS_MAX, exact));
            cr_assert(fabsl(v[i * K + k] - want) < 1e-5L * (1 + fabsl(want)), "row %d cell %d: %g against %Lg", i, k,
                      v[i * K + k], want);
            cr_assert_float_eq(1.0 / (1.0 + exp(-(double)v[i * K + k])), (double)p, 1e-6, "row %d cell %d", i, k);
        }
    }
    /* a uniform row: every cell has log-odds log(1 / (K - 1)) */
    cr_assert_float_eq(v[4 * K], -logf(K - 1), 1e-6);
    /* a row with a NaN or an infinity past its first cell reads 1/2 everywhere,
     * and its log-normaliser is NaN */
    float bad[2][K];
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < K; k++) bad[i][k] = 0.1f * (float)k;
    bad[0][5] = NAN;
    bad[1][9] = -INFINITY;
    for (int i = 0; i < 2; i++) {
        cr_assert(isnan(vb_softmax_lse(bad[i], K)), "row %d: lse %g", i, vb_softmax_lse(bad[i], K));
        vb_softmax_logodds(bad[i], 1, K);
        for (int k = 0; k < K; k++) cr_assert_eq(bad[i][k], 0.0f, "row %d cell %d: %g", i, k, bad[i][k]);
    }
    /* rows longer than one pass of the loops, the top cell in the second pass */
    enum { W = 150 };
    float w[W], w0[W];
    for (int k = 0; k < W; k++) w[k] = 3.0f * (float)vb_rng_normal(&r);
    w[131] = 25.0f;
    memcpy(w0, w, sizeof w);
    vb_softmax_logodds(w, 1, W);
    long double z = 0;
    for (int k = 0; k < W; k++) z += expl((long double)w0[k]);
    for (int k = 0; k < W; k++) {
        const long double want = (long double)w0[k] - logl(z - expl(w0[k]));
        cr_assert(fabsl(w[k] - want) < 1e-5L * (1 + fabsl(want)), "cell %d of %d: %g against %Lg", k, W, w[k], want);
    }
}

/* The softmax's log-normaliser against long double, and its draw: the
 * midpoint of each cell's interval of the cumulative softmax picks that
 * cell, u = 0 the first, and u just below 1 the last (rows of 25 and of 150
 * cells, longer than one pass of the loops). */
Test(layers, softmax_lse_and_draw_match_the_definition, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 22, 0);
    const int64_t sizes[2] = {25, 150};
    for (int t = 0; t < 2; t++) {
        const int64_t n = sizes[t];
        float *v = malloc(sizeof(float) * (size_t)n);
        for (int64_t k = 0; k < n; k++) v[k] = 1.5f * (float)vb_rng_normal(&r) + (k == n / 3 ? 4.0f : 0.0f);
        long double z = 0;
        for (int64_t k = 0; k < n; k++) z += expl((long double)v[k]);
        cr_assert(fabsl(vb_softmax_lse(v, n) - logl(z)) < 2e-6L * (1 + fabsl(logl(z))), "lse of %lld: %g against %Lg",
                  (long long)n, vb_softmax_lse(v, n), logl(z));
        long double acc = 0;
        for (int64_t k = 0; k < n; k++) {
            const long double lo = acc / z, hi = (acc += expl((long double)v[k])) / z;
            if (hi - lo < 1e-5L) continue; /* too narrow to hit at float precision */
            cr_assert_eq(vb_softmax_draw(v, n, (double)((lo + hi) / 2)), k, "n %lld: the middle of cell %lld's interval",
                         (long long)n, (long long)k);
        }
        cr_assert_eq(vb_softmax_draw(v, n, 0.0), 0);
        cr_assert_eq(vb_softmax_draw(v, n, nextafter(1.0, 0.0)), n - 1);
        free(v);
    }
}

Test(layers, gru_sequence_equals_steps_with_resets, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 2, 0);
    vb_layout lay;
    vb_layout_init(&lay);
    vb_gru g;
    const int64_t C = 3, H = 4, B = 2, T = 5;
    cr_assert_eq(vb_gru_layout(&g, &lay, "gru", C, H), 0);
    float *P = calloc((size_t)lay.total, sizeof(float));
    vb_gru_init(&g, P, &r);
    float *x = randn(&r, T * B * C, 1), *h0 = randn(&r, B * H, 1);
    uint8_t reset[10] = {0};
    reset[3 * B + 1] = 1;
    float *hs = calloc((size_t)(T * B * H), sizeof(float));
    float *cache = calloc((size_t)vb_gru_seq_cache_floats(&g, T, B), sizeof(float));
    vb_gru_seq_forward(be, &g, P, hs, x, h0, reset, cache, T, B, 1);
    float h[8], hn[8], sc[64 * 9];
    memcpy(h, h0, sizeof h);
    for (int64_t t = 0; t < T; t++) {
        for (int64_t b = 0; b < B; b++)
            if (reset[t * B + b]) memset(h + b * H, 0, sizeof(float) * H);
        vb_gru_step_forward(be, &g, P, hn, x + t * B * C, h, sc, B);
        for (int64_t i = 0; i < B * H; i++) cr_assert_float_eq(hn[i], hs[t * B * H + i], 1e-6, "t=%lld", (long long)t);
        memcpy(h, hn, sizeof h);
    }
    /* the reset row at step 3 equals a fresh start from zero on x[3..] */
    float z[4] = {0}, hz[4];
    float xr[3];
    memcpy(xr, x + (3 * B + 1) * C, sizeof xr);
    vb_gru_step_forward(be, &g, P, hz, xr, z, sc, 1);
    for (int j = 0; j < 4; j++) cr_assert_float_eq(hz[j], hs[(3 * B + 1) * H + j], 1e-6);
    free(P);
    free(x);
    free(h0);
    free(hs);
    free(cache);
}

/* The S5 scan and T single steps agree to 1e-5, resets included. */
Test(layers, s5_scan_equals_steps_with_resets, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 3, 0);
    vb_layout lay;
    vb_layout_init(&lay);
    vb_s5 s;
    const int64_t H = 6, Pm = 8, B = 3, T = 40;
    cr_assert_eq(vb_s5_layout(&s, &lay, "s5", H, Pm), 0);
    float *P = calloc((size_t)lay.total, sizeof(float));
    cr_assert_eq(vb_s5_init(&s, P, &r), 0);
    float *u = randn(&r, T * B * H, 1), *x0 = randn(&r, 2 * B * Pm, 1);
    uint8_t *reset = calloc((size_t)(T * B), 1);
    reset[5 * B + 0] = 1;
    reset[17 * B + 2] = 1;
    reset[30 * B + 1] = 1;
    float *y = calloc((size_t)(T * B * H), sizeof(float));
    float *cache = calloc((size_t)vb_s5_scan_cache_floats(&s, T, B), sizeof(float));
    vb_s5_scan_forward(be, &s, P, y, u, x0, reset, cache, T, B, 1);
    float *disc = calloc((size_t)vb_s5_disc_floats(&s), sizeof(float));
    vb_s5_discretize(be, &s, P, disc);
    float *x = calloc((size_t)(2 * B * Pm), sizeof(float)), *ys = calloc((size_t)(B * H), sizeof(float));
    float *scratch = calloc((size_t)vb_s5_step_scratch_floats(&s, B), sizeof(float));
    memcpy(x, x0, sizeof(float) * (size_t)(2 * B * Pm));
    double worst = 0;
    for (int64_t t = 0; t < T; t++) {
        for (int64_t b = 0; b < B; b++)
            if (reset[t * B + b])
                for (int64_t p = 0; p < Pm; p++) x[b * Pm + p] = x[B * Pm + b * Pm + p] = 0;
        vb_s5_step(be, &s, P, disc, x, ys, u + t * B * H, scratch, B);
        for (int64_t i = 0; i < B * H; i++) worst = fmax(worst, fabs(ys[i] - y[t * B * H + i]));
    }
    cr_assert_lt(worst, 1e-5, "step and scan differ by %g", worst);
    float *xf = calloc((size_t)(2 * B * Pm), sizeof(float));
    vb_s5_scan_final(be, &s, cache, xf, T, B);
    for (int64_t i = 0; i < 2 * B * Pm; i++) cr_assert_float_eq(xf[i], x[i], 1e-5);
    free(P); free(u); free(x0); free(reset); free(y); free(cache); free(disc); free(x); free(ys); free(scratch); free(xf);
}

/* HiPPO-N of size 2: S = [[0, sqrt(3)/2], [-sqrt(3)/2, 0]], eigenvalues -1/2 +- i sqrt(3)/2. */
Test(layers, s5_hippo_init_and_stable_discretisation, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 4, 0);
    vb_layout lay;
    vb_layout_init(&lay);
    vb_s5 s;
    cr_assert_eq(vb_s5_layout(&s, &lay, "s5", 2, 1), 0);
    float *P = calloc((size_t)lay.total, sizeof(float));
    cr_assert_eq(vb_s5_init(&s, P, &r), 0);
    cr_assert_float_eq(-expf(P[s.lam_re_log]), -0.5f, 1e-6);
    cr_assert_float_eq(P[s.lam_im], sqrtf(3.0f) / 2.0f, 1e-5);
    free(P);
    vb_layout_init(&lay);
    cr_assert_eq(vb_s5_layout(&s, &lay, "s5", 4, 100), 0);
    P = calloc((size_t)lay.total, sizeof(float));
    cr_assert_eq(vb_s5_init(&s, P, &r), 0);
    float *disc = calloc((size_t)vb_s5_disc_floats(&s), sizeof(float));
    vb_s5_discretize(be, &s, P, disc);
    for (int64_t p = 0; p < 100; p++) {
        float m = hypotf(disc[p], disc[100 + p]);
        cr_assert(m < 1.0f && m > 0.9f, "mode %lld has |lam_bar| = %g", (long long)p, m);
        if (p > 0 && p != 64) cr_assert_gt(P[s.lam_im + p], P[s.lam_im + p - 1], "frequencies ascend in a block");
    }
    free(P);
    free(disc);
}

static double max_rel_diff(const float *a, const float *ref, int64_t n) {
    double scale = 1e-30, worst = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - ref[i]) / scale);
    return worst;
}

/* The associative scan a window is unrolled with equals the sequential fold
 * (the backend's s5 ops) to fp32 rounding, forward and backward, with resets
 * (at the first step too), a nonzero start state and a T that is not a power
 * of two; and without resets. */
Test(layers, s5_associative_scan_equals_the_fold, .init = setup) {
    enum { T = 37, B = 3, P = 5 };
    enum { M = B * P, n = T * B * P };
    vb_rng r;
    vb_rng_init(&r, 17, 0);
    float lam[2 * P], x0[2 * M], *v = malloc(sizeof(float) * 2 * n), *gx = malloc(sizeof(float) * 2 * n);
    for (int p = 0; p < P; p++) { /* stable modes |lam| < 1, as the discretisation gives */
        float mag = 0.5f + 0.49f * vb_rng_uniform(&r), ang = 6.28f * vb_rng_uniform(&r);
        lam[p] = mag * cosf(ang);
        lam[P + p] = mag * sinf(ang);
    }
    for (int64_t i = 0; i < 2 * M; i++) x0[i] = vb_rng_normal(&r);
    for (int64_t i = 0; i < 2 * n; i++) v[i] = vb_rng_normal(&r), gx[i] = vb_rng_normal(&r);
    uint8_t reset[T * B];
    for (int i = 0; i < T * B; i++) reset[i] = vb_rng_uniform(&r) < 0.15f;
    reset[0] = 1; /* row 0 resets at the first step: x0 gets no gradient there */
    reset[1] = 0;
    float *xs_f = malloc(sizeof(float) * 2 * n), *xs_a = malloc(sizeof(float) * 2 * n);
    float *gv_f = malloc(sizeof(float) * 2 * n), *gv_a = malloc(sizeof(float) * 2 * n);
    float *scratch = malloc(sizeof(float) * (size_t)vb_s5_assoc_scratch_floats(T, B, P, 1));
    for (int with_resets = 1; with_resets >= 0; with_resets--) {
        const uint8_t *rs = with_resets ? reset : NULL;
        be->s5_scan_forward(xs_f, v, lam, x0, rs, T, B, P);
        vb_s5_assoc_forward(xs_a, v, lam, x0, rs, scratch, T, B, P, 1);
        double ef = max_rel_diff(xs_a, xs_f, 2 * n);
        float glam_f[2 * P] = {0}, glam_a[2 * P] = {0}, g0_f[2 * M] = {0}, g0_a[2 * M] = {0};
        be->s5_scan_backward(gv_f, glam_f, g0_f, gx, xs_f, lam, x0, rs, T, B, P);
        vb_s5_assoc_backward(gv_a, glam_a, g0_a, gx, xs_f, lam, x0, rs, scratch, T, B, P, 1);
        double eg = max_rel_diff(gv_a, gv_f, 2 * n), el = max_rel_diff(glam_a, glam_f, 2 * P),
               e0 = max_rel_diff(g0_a, g0_f, 2 * M);
        cr_log_info("resets %d: xs %.2e, gv %.2e, glam %.2e, gx0 %.2e (relative to the largest)", with_resets, ef,
                    eg, el, e0);
        cr_assert_lt(ef, 1e-5, "forward differs by %g", ef);
        cr_assert_lt(eg, 1e-5, "gv differs by %g", eg);
        cr_assert_lt(el, 1e-5, "glam differs by %g", el);
        cr_assert_lt(e0, 1e-5, "gx0 differs by %g", e0);
        if (with_resets) {
            for (int p = 0; p < P; p++) cr_assert_eq(g0_a[p], 0.0f, "a reset at step 0 cuts x0's gradient");
        }
    }
    free(v);
    free(gx);
    free(xs_f);
    free(xs_a);
    free(gv_f);
    free(gv_a);
    free(scratch);
}

/* Random parameters for a layout and the inputs of a GRU window: x (T,B,C),
 * h0 (B,H) and the output gradient dhs (T,B,H), drawn in that order. */
typedef struct gru_case {
    int64_t np;
    float *P, *x, *h0, *dhs;
} gru_case;
static gru_case gru_case_draw(vb_rng *r, const vb_layout *lay, int64_t T, int64_t B, int64_t C, int64_t H) {
    gru_case c = {.np = lay->total};
    c.P = randn(r, c.np, 0.5f);
    c.x = randn(r, T * B * C, 1);
    c.h0 = randn(r, B * H, 1);
    c.dhs = randn(r, T * B * H, 1);
    return c;
}
/* A GRU alone in its arena, with rng r seeded and a case drawn from it. */
static gru_case gru_alone(vb_rng *r, uint64_t seed, vb_gru *g, int64_t T, int64_t B, int64_t C, int64_t H) {
    vb_rng_init(r, seed, 0);
    vb_layout lay;
    vb_layout_init(&lay);
    cr_assert_eq(vb_gru_layout(g, &lay, "gru", C, H), 0);
    return gru_case_draw(r, &lay, T, B, C, H);
}
static void gru_case_free(gru_case *c) {
    free(c->P);
    free(c->x);
    free(c->h0);
    free(c->dhs);
}

/* The GRU window threaded over the batch (2, 3 and more threads than rows)
 * equals the one-thread unroll (BLAS at one thread) to the bit: outputs,
 * input and carry gradients, and the GRU's parameter gradients, with
 * parameters on either side of the GRU in the arena left alone. B 7 splits
 * unevenly; resets cut some rows. */
Test(layers, gru_window_threaded_over_the_batch_equals_one_thread, .init = setup) {
    enum { C = 3, H = 8, B = 7, T = 9 };
    vb_rng r;
    vb_rng_init(&r, 23, 0);
    vb_layout lay;
    vb_layout_init(&lay);
    vb_linear before, after;
    vb_gru g;
    cr_assert_eq(vb_linear_layout(&before, &lay, "before", 2, 3, 1), 0);
    cr_assert_eq(vb_gru_layout(&g, &lay, "gru", C, H), 0);
    cr_assert_eq(vb_linear_layout(&after, &lay, "after", 3, 2, 1), 0);
    gru_case c = gru_case_draw(&r, &lay, T, B, C, H);
    const int64_t np = c.np;
    const float *P = c.P, *x = c.x, *h0 = c.h0, *dhs = c.dhs;
    uint8_t reset[T * B];
    for (int i = 0; i < T * B; i++) reset[i] = vb_rng_uniform(&r) < 0.2f;
    float *hs[2], *G[2], *dx[2], *dh0[2];
    const int threads[] = {1, 2, 3, 16};
    be->set_threads(1);
    for (int k = 0; k < 4; k++) {
        const int o = k > 0; /* slot 0: one thread, slot 1: the threaded run */
        if (k <= 1) {
            hs[o] = calloc(T * B * H, sizeof(float));
            G[o] = malloc(sizeof(float) * (size_t)np);
            dx[o] = calloc(T * B * C, sizeof(float));
            dh0[o] = calloc(B * H, sizeof(float));
        }
        for (int64_t i = 0; i < np; i++) G[o][i] = 0.25f; /* gradients accumulate on what is there */
        memset(dx[o], 0, sizeof(float) * T * B * C);
        memset(dh0[o], 0, sizeof(float) * B * H);
        float *cache = calloc((size_t)vb_gru_seq_cache_floats(&g, T, B), sizeof(float));
        float *scratch = calloc((size_t)vb_gru_seq_scratch_floats(&g, T, B), sizeof(float));
        vb_gru_seq_forward(be, &g, P, hs[o], x, h0, reset, cache, T, B, threads[k]);
        vb_gru_seq_backward(be, &g, P, G[o], dx[o], dh0[o], dhs, x, reset, cache, scratch, T, B, threads[k]);
        free(cache);
        free(scratch);
        if (k == 0) continue;
        double eh = max_rel_diff(hs[1], hs[0], T * B * H), eg = max_rel_diff(G[1], G[0], np),
               ex = max_rel_diff(dx[1], dx[0], T * B * C), e0 = max_rel_diff(dh0[1], dh0[0], B * H);
        cr_log_info("threads %d: hs %.2e, G %.2e, dx %.2e, dh0 %.2e", threads[k], eh, eg, ex, e0);
        cr_assert_eq(eh, 0.0, "threads %d: hs differs by %g", threads[k], eh);
        cr_assert_eq(eg, 0.0, "threads %d: G differs by %g", threads[k], eg);
        cr_assert_eq(ex, 0.0, "threads %d: dx differs by %g", threads[k], ex);
        cr_assert_eq(e0, 0.0, "threads %d: dh0 differs by %g", threads[k], e0);
        for (int64_t i = 0; i < np; i++)
            if (i < g.wi.w || i >= g.wh.b + 3 * H)
                cr_assert_eq(G[1][i], 0.25f, "parameter %lld is not the GRU's", (long long)i);
    }
    be->set_threads(0);
    for (int o = 0; o < 2; o++) free(hs[o]), free(G[o]), free(dx[o]), free(dh0[o]);
    gru_case_free(&c);
}

/* A row cut in the backward only (learner.bptt) treats its input carry as a
 * constant: the window's gradients equal those of two windows, [0, k) from
 * h0 and [k, T) from the forward's h_{k-1}, summed (parameters) or
 * concatenated (inputs), and nothing reaches h0 from past the cut. Rows of a
 * forward reset stay cut too. */
Test(layers, gru_backward_cut_equals_two_windows, .init = setup) {
    enum { C = 3, H = 8, B = 5, T = 9, K = 4 };
    vb_rng r;
    vb_gru g;
    gru_case c = gru_alone(&r, 29, &g, T, B, C, H);
    const int64_t np = c.np;
    uint8_t reset[T * B], cut[T * B];
    for (int i = 0; i < T * B; i++) reset[i] = i / B != K && vb_rng_uniform(&r) < 0.15f;
    for (int i = 0; i < T * B; i++) cut[i] = reset[i] || i / B == K;
    float *hs = calloc(T * B * H, sizeof(float)), *G = calloc((size_t)np, sizeof(float));
    float *dx = calloc(T * B * C, sizeof(float)), *dh0 = calloc(B * H, sizeof(float));
    float *cache = calloc((size_t)vb_gru_seq_cache_floats(&g, T, B), sizeof(float));
    float *scratch = calloc((size_t)vb_gru_seq_scratch_floats(&g, T, B), sizeof(float));
    vb_gru_seq_forward(be, &g, c.P, hs, c.x, c.h0, reset, cache, T, B, 1);
    vb_gru_seq_backward(be, &g, c.P, G, dx, dh0, c.dhs, c.x, cut, cache, scratch, T, B, 1);
    /* the two windows */
    float *hs2 = calloc(T * B * H, sizeof(float)), *G2 = calloc((size_t)np, sizeof(float));
    float *dx2 = calloc(T * B * C, sizeof(float)), *dh02 = calloc(B * H, sizeof(float));
    float *dh1 = calloc(B * H, sizeof(float));
    const int64_t at[2] = {0, K}, len[2] = {K, T - K};
    for (int p = 0; p < 2; p++) {
        float *cp = calloc((size_t)vb_gru_seq_cache_floats(&g, len[p], B), sizeof(float));
        float *sp = calloc((size_t)vb_gru_seq_scratch_floats(&g, len[p], B), sizeof(float));
        const float *h_in = p == 0 ? c.h0 : hs2 + (K - 1) * B * H;
        vb_gru_seq_forward(be, &g, c.P, hs2 + at[p] * B * H, c.x + at[p] * B * C, h_in, reset + at[p] * B, cp,
                           len[p], B, 1);
        vb_gru_seq_backward(be, &g, c.P, G2, dx2 + at[p] * B * C, p == 0 ? dh02 : dh1, c.dhs + at[p] * B * H,
                            c.x + at[p] * B * C, reset + at[p] * B, cp, sp, len[p], B, 1);
        free(cp);
        free(sp);
    }
    double eh = max_rel_diff(hs2, hs, T * B * H), eg = max_rel_diff(G2, G, np), ex = max_rel_diff(dx2, dx, T * B * C),
           e0 = max_rel_diff(dh02, dh0, B * H);
    cr_log_info("cut: hs %.2e, G %.2e, dx %.2e, dh0 %.2e", eh, eg, ex, e0);
    cr_assert_lt(eh, 1e-6, "the forward differs by %g", eh);
    cr_assert_lt(eg, 1e-5, "parameter gradients differ by %g", eg);
    cr_assert_lt(ex, 1e-5, "input gradients differ by %g", ex);
    cr_assert_lt(e0, 1e-5, "h0's gradient differs by %g", e0);
    /* and the cut does something: without it h0 and the first window's inputs get more */
    float *dx3 = calloc(T * B * C, sizeof(float)), *dh03 = calloc(B * H, sizeof(float));
    float *G3 = calloc((size_t)np, sizeof(float));
    vb_gru_seq_backward(be, &g, c.P, G3, dx3, dh03, c.dhs, c.x, reset, cache, scratch, T, B, 1);
    cr_assert_gt(max_rel_diff(dh03, dh0, B * H), 1e-3, "the cut changed nothing upstream");
    cr_assert_gt(max_rel_diff(G3, G, np), 1e-3, "the cut changed no parameter gradient");
    free(hs), free(G), free(dx), free(dh0), free(cache), free(scratch);
    free(hs2), free(G2), free(dx2), free(dh02), free(dh1), free(dx3), free(dh03), free(G3);
    gru_case_free(&c);
}

/* The associative scan threaded over the batch computes every lane as one
 * thread does (exactly), and glam summed over the parts to fp32 rounding. */
Test(layers, s5_scan_threaded_over_the_batch_equals_one_thread, .init = setup) {
    enum { T = 21, B = 5, P = 4 };
    enum { M = B * P, n = T * B * P };
    vb_rng r;
    vb_rng_init(&r, 29, 0);
    float lam[2 * P], x0[2 * M], *v = randn(&r, 2 * n, 1), *gx = randn(&r, 2 * n, 1);
    for (int p = 0; p < P; p++) {
        float mag = 0.5f + 0.49f * vb_rng_uniform(&r), ang = 6.28f * vb_rng_uniform(&r);
        lam[p] = mag * cosf(ang);
        lam[P + p] = mag * sinf(ang);
    }
    for (int64_t i = 0; i < 2 * M; i++) x0[i] = vb_rng_normal(&r);
    uint8_t reset[T * B];
    for (int i = 0; i < T * B; i++) reset[i] = vb_rng_uniform(&r) < 0.15f;
    float *xs[2], *gv[2], glam[2][2 * P], g0[2][2 * M];
    const int threads[] = {1, 2, 3, 9};
    for (int k = 0; k < 4; k++) {
        const int o = k > 0;
        if (k <= 1) xs[o] = malloc(sizeof(float) * 2 * n), gv[o] = malloc(sizeof(float) * 2 * n);
        for (int i = 0; i < 2 * P; i++) glam[o][i] = 0.5f;
        for (int i = 0; i < 2 * M; i++) g0[o][i] = -0.5f;
        float *scratch = malloc(sizeof(float) * (size_t)vb_s5_assoc_scratch_floats(T, B, P, threads[k]));
        vb_s5_assoc_forward(xs[o], v, lam, x0, reset, scratch, T, B, P, threads[k]);
        vb_s5_assoc_backward(gv[o], glam[o], g0[o], gx, xs[o], lam, x0, reset, scratch, T, B, P, threads[k]);
        free(scratch);
        if (k == 0) continue;
        cr_assert_eq(memcmp(xs[1], xs[0], sizeof(float) * 2 * n), 0, "threads %d: xs", threads[k]);
        cr_assert_eq(memcmp(gv[1], gv[0], sizeof(float) * 2 * n), 0, "threads %d: gv", threads[k]);
        cr_assert_eq(memcmp(g0[1], g0[0], sizeof g0[0]), 0, "threads %d: gx0", threads[k]);
        double el = max_rel_diff(glam[1], glam[0], 2 * P);
        cr_assert_lt(el, 1e-6, "threads %d: glam differs by %g", threads[k], el);
    }
    for (int o = 0; o < 2; o++) free(xs[o]), free(gv[o]);
    free(v);
    free(gx);
}

/* The threaded GRU window as the learner calls it (no dx, no dh0), with more
 * threads than VB_PAR_MAX over more rows than that: every row is computed,
 * the gradients equal one thread's, and BLAS's thread count is what it was. */
Test(layers, gru_window_threaded_without_dx_and_beyond_the_part_limit, .init = setup) {
    enum { C = 2, H = 3, B = 70, T = 4 };
    vb_rng r;
    vb_gru g;
    gru_case c = gru_alone(&r, 31, &g, T, B, C, H);
    const int64_t np = c.np;
    const float *P = c.P, *x = c.x, *h0 = c.h0, *dhs = c.dhs;
    float *hs[2], *G[2];
    const int threads[2] = {1, VB_PAR_MAX + 36};
    be->set_threads(2);
    const int blas = be->get_threads();
    for (int o = 0; o < 2; o++) {
        hs[o] = malloc(sizeof(float) * T * B * H);
        for (int64_t i = 0; i < T * B * H; i++) hs[o][i] = NAN; /* a row left out stays NaN */
        G[o] = calloc((size_t)np, sizeof(float));
        float *cache = calloc((size_t)vb_gru_seq_cache_floats(&g, T, B), sizeof(float));
        float *scratch = calloc((size_t)vb_gru_seq_scratch_floats(&g, T, B), sizeof(float));
        vb_gru_seq_forward(be, &g, P, hs[o], x, h0, NULL, cache, T, B, threads[o]);
        vb_gru_seq_backward(be, &g, P, G[o], NULL, NULL, dhs, x, NULL, cache, scratch, T, B, threads[o]);
        cr_assert_eq(be->get_threads(), blas, "threads %d left BLAS at %d threads, not %d", threads[o],
                     be->get_threads(), blas);
        free(cache);
        free(scratch);
    }
    for (int64_t i = 0; i < T * B * H; i++) cr_assert(isfinite(hs[1][i]), "row %lld not computed", (long long)(i / H));
    double eh = max_rel_diff(hs[1], hs[0], T * B * H), eg = max_rel_diff(G[1], G[0], np);
    cr_assert_lt(eh, 1e-5, "hs differs by %g", eh);
    cr_assert_lt(eg, 1e-5, "G differs by %g", eg);
    be->set_threads(0);
    for (int o = 0; o < 2; o++) free(hs[o]), free(G[o]);
    gru_case_free(&c);
}

/* A linear layer's fused forward (be->linear_act): every kernel this CPU
 * has (AVX-512, AVX2 + FMA) and the BLAS path against the definition in
 * double, over shapes that leave partial row blocks and partial column
 * panels (the kernels take 128 rows and more; fewer go to BLAS), with and
 * without bias, cache and activation; nothing written past the output; and
 * both kernels give the same bits. */
Test(layers, linear_act_kernels_match_the_definition_and_each_other, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 7, 0);
    const int64_t Ms[] = {1, 13, 128, 131, 203}, Ns[] = {1, 5, 16, 17, 33, 64, 100}, Ks[] = {1, 3, 64, 130};
    const vb_act acts[] = {VB_ACT_NONE, VB_ACT_TANH, VB_ACT_RELU};
    const int best = vb__cpu_gemm_nt_isa(-1), threads = be->get_threads();
    be->set_threads(1); /* the kernels run where BLAS has one thread */
    enum { MAXN = 203 * 100 };
    float *A = randn(&r, 203 * 130, 1), *W = randn(&r, 100 * 130, 0.2f), *b = randn(&r, 100, 1);
    float *out[3], *pre[3];
    for (int i = 0; i < 3; i++) {
        out[i] = malloc(sizeof(float) * (MAXN + 1));
        pre[i] = malloc(sizeof(float) * (MAXN + 1));
    }
    double *ref = malloc(sizeof(double) * MAXN);
    for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
                for (int variant = 0; variant < 12; variant++) {
                    const int64_t M = Ms[mi], N = Ns[ni], K = Ks[ki];
                    const vb_act act = acts[variant % 3];
                    const bool bias = variant / 3 % 2, cache = variant / 6;
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < N; j++) {
                            double s = bias ? b[j] : 0;
                            for (int64_t k = 0; k < K; k++) s += (double)A[i * K + k] * W[j * K + k];
                            ref[i * N + j] = s;
                        }
                    /* isa 0 is the BLAS path; 1 and 2 where this CPU has them */
                    for (int isa = 0; isa <= best; isa++) {
                        vb__cpu_gemm_nt_isa(isa);
                        for (int64_t i = 0; i <= M * N; i++) out[isa][i] = pre[isa][i] = NAN;
                        be->linear_act(act, cache ? pre[isa] : NULL, out[isa], A, W, bias ? b : NULL, M, N, K);
                        for (int64_t i = 0; i < M * N; i++) {
                            const double x = ref[i], y = act == VB_ACT_TANH ? tanh(x) : act == VB_ACT_RELU ? (x > 0 ? x : 0) : x;
                            cr_assert(fabs(out[isa][i] - y) <= 1e-5 * (1 + fabs(y)),
                                      "isa %d M %lld N %lld K %lld act %d bias %d: out[%lld] %g, want %g", isa,
                                      (long long)M, (long long)N, (long long)K, act, bias, (long long)i, out[isa][i], y);
                            if (cache)
                                cr_assert(fabs(pre[isa][i] - x) <= 1e-5 * (1 + fabs(x)), "isa %d: pre[%lld] %g, want %g",
                                          isa, (long long)i, pre[isa][i], x);
                        }
                        cr_assert(isnan(out[isa][M * N]), "isa %d: wrote past the output", isa);
                        cr_assert(isnan(pre[isa][cache ? M * N : 0]), "isa %d: wrote past the cache", isa);
                        if (isa == 2)
                            cr_assert_eq(memcmp(out[1], out[2], sizeof(float) * (size_t)(M * N)), 0,
                                         "M %lld N %lld K %lld: AVX2 and AVX-512 differ", (long long)M, (long long)N,
                                         (long long)K);
                    }
                    vb__cpu_gemm_nt_isa(best);
                }
    be->set_threads(threads);
    for (int i = 0; i < 3; i++) {
        free(out[i]);
        free(pre[i]);
    }
    free(ref);
    free(A);
    free(W);
    free(b);
}

/* Weights packed once for many products (be->pack_weights, be->gemm_packed,
 * the GRU window's recurrent GEMMs): W given as (N,K) and as (K,N), with and
 * without bias, overwriting and accumulating, over several row groups, for every kernel this CPU has
 * and the BLAS path (isa 0, and BLAS on two threads), against the
 * definition in double; nothing written past the output; AVX2 and AVX-512
 * give the same bits. */
Test(layers, packed_weights_products_match_the_definition, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 11, 0);
    const int64_t Ms[] = {1, 7, 9, 64, 203}, Ns[] = {2, 5, 16, 17, 33, 100}, Ks[] = {1, 3, 64, 130};
    const int best = vb__cpu_gemm_nt_isa(-1), threads = be->get_threads();
    enum { MAXN = 203 * 100 };
    float *A = randn(&r, 203 * 130, 1), *W = randn(&r, 100 * 130, 0.2f), *Wt = malloc(sizeof(float) * 100 * 130);
    float *b = randn(&r, 100, 1), *C0 = randn(&r, MAXN, 1), *Wp = malloc(sizeof(float) * vb_packed_floats(100, 130));
    float *out[4];
    for (int i = 0; i < 4; i++) out[i] = malloc(sizeof(float) * (MAXN + 1));
    double *ref = malloc(sizeof(double) * MAXN);
    for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
                for (int variant = 0; variant < 6; variant++) {
                    const int64_t M = Ms[mi], N = Ns[ni], K = Ks[ki];
                    const bool w_kn = variant % 2, add = variant / 2 == 1, bias = variant / 2 == 2;
                    for (int64_t n = 0; n < N; n++) /* the same W, stored (K,N) */
                        for (int64_t k = 0; k < K; k++) Wt[k * N + n] = W[n * K + k];
                    const float *Wg = w_kn ? Wt : W;
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < N; j++) {
                            double s = (add ? C0[i * N + j] : 0) + (bias ? b[j] : 0);
                            for (int64_t k = 0; k < K; k++) s += (double)A[i * K + k] * W[j * K + k];
                            ref[i * N + j] = s;
                        }
                    /* 0: BLAS (no kernel); 1, 2: the kernels; 3: BLAS on two threads */
                    for (int isa = 0; isa <= 3; isa++) {
                        if (isa > best && isa < 3) continue;
                        vb__cpu_gemm_nt_isa(isa < 3 ? isa : best);
                        be->set_threads(isa < 3 ? 1 : 2);
                        be->pack_weights(Wp, Wg, bias ? b : NULL, N, K, w_kn);
                        memcpy(out[isa], C0, sizeof(float) * (size_t)(M * N));
                        out[isa][M * N] = NAN;
                        be->gemm_packed(out[isa], A, Wp, Wg, bias ? b : NULL, M, N, K, w_kn, add);
                        for (int64_t i = 0; i < M * N; i++)
                            cr_assert(fabs(out[isa][i] - ref[i]) <= 1e-5 * (1 + fabs(ref[i])),
                                      "isa %d M %lld N %lld K %lld w_kn %d add %d bias %d: C[%lld] %g, want %g", isa,
                                      (long long)M, (long long)N, (long long)K, w_kn, add, bias, (long long)i,
                                      out[isa][i], ref[i]);
                        cr_assert(isnan(out[isa][M * N]), "isa %d: wrote past the output", isa);
                    }
                    if (best == 2)
                        cr_assert_eq(memcmp(out[1], out[2], sizeof(float) * (size_t)(M * N)), 0,
                                     "M %lld N %lld K %lld: AVX2 and AVX-512 differ", (long long)M, (long long)N,
                                     (long long)K);
                    vb__cpu_gemm_nt_isa(best);
                }
    be->set_threads(threads);
    for (int i = 0; i < 4; i++) free(out[i]);
    free(ref), free(A), free(W), free(Wt), free(b), free(C0), free(Wp);
}

/* An MLP without a cache (vb_mlp_infer, the planner's), in blocks of
 * be->chain_rows rows through every layer, packing each product's weights or
 * reading them packed once (vb_mlp_pack): at one BLAS thread the same bits
 * as vb_mlp_forward for batches below, at and above a block, with a last
 * block shorter than one (which joins the one before when it is shorter
 * than half), and for blocks of other sizes; at two BLAS threads within
 * rounding of it. Nothing is written past out or the work. The packed
 * weights are what it reads: after P changes, a stale packing gives the old
 * layer. */
Test(layers, mlp_inference_in_blocks_equals_the_forward, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 19, 0);
    const int64_t hidden[2] = {64, 48}, in = 5, outw = 25;
    const vb_act acts[2][2] = {{VB_ACT_RELU, VB_ACT_NONE}, {VB_ACT_TANH, VB_ACT_SIGMOID}};
    const int64_t Bs[] = {1, 100, 128, 511, 512, 700, 767, 768, 1300, 2100};
    const int64_t chains[] = {0, 128, 512, 1000};
    const int threads = be->get_threads();
    for (int a = 0; a < 2; a++) {
        vb_layout lay;
        vb_mlp m;
        vb_layout_init(&lay);
        cr_assert_eq(vb_mlp_layout(&m, &lay, "mlp", in, hidden, 2, outw, acts[a][0], acts[a][1]), 0);
        float *P = calloc((size_t)lay.total, sizeof(float));
        vb_mlp_init(&m, P, &r);
        const int64_t Bmax = 2100;
        float *x = randn(&r, Bmax * in, 1), *want = malloc(sizeof(float) * Bmax * outw),
              *got = malloc(sizeof(float) * (Bmax * outw + 1)),
              *cache = malloc(sizeof(float) * vb_mlp_cache_floats(&m, Bmax)),
              *Wp = malloc(sizeof(float) * (size_t)vb_mlp_packed_floats(&m));
        vb_mlp_pack(be, &m, P, Wp);
        for (int t = 1; t <= 4; t++) {
            const float *pack = t > 2 ? Wp : NULL;
            be->set_threads(2 - t % 2);
            for (size_t bi = 0; bi < sizeof Bs / sizeof *Bs; bi++)
                for (size_t ci = 0; ci < sizeof chains / sizeof *chains; ci++) {
                    const int64_t B = Bs[bi];
                    vb_backend chained = *be;
                    chained.chain_rows = chains[ci];
                    const int64_t wn = vb_mlp_infer_floats(&chained, &m, B);
                    float *work = malloc(sizeof(float) * (size_t)(wn + 1));
                    for (int64_t i = 0; i <= wn; i++) work[i] = NAN;
                    for (int64_t i = 0; i <= B * outw; i++) got[i] = NAN;
                    vb_mlp_forward(be, &m, P, want, x, cache, B);
                    vb_mlp_infer(&chained, &m, P, pack, got, x, work, B);
                    cr_assert(isnan(got[B * outw]), "wrote past out");
                    cr_assert(isnan(work[wn]), "wrote past the work");
                    if (t % 2 == 1) {
                        cr_assert_eq(memcmp(want, got, sizeof(float) * (size_t)(B * outw)), 0,
                                     "acts %d B %lld chain %lld packed %d: not forward's bits", a, (long long)B,
                                     (long long)chains[ci], pack != NULL);
                    } else {
                        for (int64_t i = 0; i < B * outw; i++)
                            cr_assert(fabsf(got[i] - want[i]) <= 1e-5f * (1 + fabsf(want[i])),
                                      "acts %d B %lld chain %lld, 2 threads: out[%lld] %g, want %g", a, (long long)B,
                                      (long long)chains[ci], (long long)i, got[i], want[i]);
                    }
                    free(work);
                }
        }
        be->set_threads(1);
        if (vb__cpu_gemm_nt_isa(-1) != 0) {
            const int64_t B = 512;
            float *work = malloc(sizeof(float) * (size_t)vb_mlp_infer_floats(be, &m, B));
            P[m.layer[0].b] += 1.0f;
            vb_mlp_forward(be, &m, P, want, x, cache, B);
            vb_mlp_infer(be, &m, P, Wp, got, x, work, B);
            cr_assert_neq(memcmp(want, got, sizeof(float) * (size_t)(B * outw)), 0, "a stale packing was not read");
            vb_mlp_pack(be, &m, P, Wp);
            vb_mlp_infer(be, &m, P, Wp, got, x, work, B);
            cr_assert_eq(memcmp(want, got, sizeof(float) * (size_t)(B * outw)), 0, "packed again: not forward's bits");
            free(work);
        }
        be->set_threads(threads);
        free(P);
        free(x);
        free(want);
        free(got);
        free(cache);
        free(Wp);
    }
}
