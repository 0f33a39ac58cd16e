/* s5_assoc — see s5_assoc.h. */
#include "s5_assoc.h"

#include "../base/par.h"
#include "kernels/math/s5.h"

int64_t vb_s5_assoc_scratch_floats(int64_t T, int64_t B, int64_t P, int threads) {
    return 2 * T * B * P + (int64_t)(vb_par_parts(threads, B) - 1) * 2 * P;
}

/* Inclusive scan over t of the elements (a, v) held in planes a (2,T,M) and
 * v (2,T,M), M = B P independent lanes, of which lanes [m0, m1) are scanned;
 * `rev` scans from T-1 down to 0. In place: within a round, step t reads
 * t - d (or t + d reversed), which this round has not written yet when t
 * runs away from it. */
static void scan(float *a, float *v, int64_t T, int64_t M, int64_t m0, int64_t m1, int rev) {
    const int64_t n = T * M;
    for (int64_t d = 1; d < T; d *= 2) {
        for (int64_t k = T - 1; k >= d; k--) {
            const int64_t t = rev ? T - 1 - k : k, s = rev ? t + d : t - d;
            float *at = a + t * M, *vt = v + t * M;
            const float *as = a + s * M, *vs = v + s * M;
            for (int64_t m = m0; m < m1; m++)
                vb_s5_combine(as[m], as[n + m], vs[m], vs[n + m], &at[m], &at[n + m], &vt[m], &vt[n + m]);
        }
    }
}

/* The arguments of a threaded scan; part j takes rows [b0, b1). */
typedef struct job {
    float *xs, *gv, *glam, *gx0, *a, *glam_parts; /* glam_parts: part j >= 1's 2P at (j - 1) * 2P */
    const float *v, *gx, *xs_in, *lam, *x0; /* xs_in: the forward's states, read by the backward */
    const uint8_t *reset;
    int64_t T, B, P;
    int parts;
} job;

static void forward_part(void *ctx, int j) {
    const job *jb = ctx;
    const int64_t T = jb->T, B = jb->B, P = jb->P, M = B * P, n = T * M;
    const float *lam = jb->lam, *v = jb->v, *x0 = jb->x0;
    float *a = jb->a, *xs = jb->xs;
    int64_t b0, b1;
    vb_par_rows(B, jb->parts, j, &b0, &b1);
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = b0; b < b1; b++) {
            const int rs = jb->reset && jb->reset[t * B + b];
            for (int64_t p = 0; p < P; p++) {
                const int64_t i = t * M + b * P + p;
                a[i] = rs ? 0.0f : lam[p];
                a[n + i] = rs ? 0.0f : lam[P + p];
                xs[i] = v[i];
                xs[n + i] = v[n + i];
            }
        }
    scan(a, xs, T, M, b0 * P, b1 * P, 0);
    /* x_t = A_t x0 + V_t */
    for (int64_t t = 0; t < T; t++)
        for (int64_t m = b0 * P; m < b1 * P; m++) {
            const int64_t i = t * M + m;
            const float xr = x0[m], xi = x0[M + m];
            xs[i] += a[i] * xr - a[n + i] * xi;
            xs[n + i] += a[i] * xi + a[n + i] * xr;
        }
}

void vb_s5_assoc_forward(float *xs, const float *v, const float *lam, const float *x0, const uint8_t *reset,
                         float *scratch, int64_t T, int64_t B, int64_t P, int threads) {
    job w = {.xs = xs, .a = scratch, .v = v, .lam = lam, .x0 = x0, .reset = reset, .T = T, .B = B, .P = P,
             .parts = vb_par_parts(threads, B)};
    vb_par_run(w.parts, forward_part, &w);
}

static void backward_part(void *ctx, int j) {
    const job *jb = ctx;
    const int64_t T = jb->T, B = jb->B, P = jb->P, M = B * P, n = T * M;
    const float *lam = jb->lam, *gx = jb->gx, *xs = jb->xs_in, *x0 = jb->x0;
    const uint8_t *reset = jb->reset;
    float *a = jb->a, *gv = jb->gv, *gx0 = jb->gx0;
    float *glam = j == 0 ? jb->glam : jb->glam_parts + (int64_t)(j - 1) * 2 * P;
    if (j > 0)
        for (int64_t p = 0; p < 2 * P; p++) glam[p] = 0.0f;
    int64_t b0, b1;
    vb_par_rows(B, jb->parts, j, &b0, &b1);
    /* lambda_t = gx_t + conj(a_{t+1}) lambda_{t+1}: element t is
     * (conj(a_{t+1}), gx_t), with a_T = 0 */
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = b0; b < b1; b++) {
            const int rs = t + 1 < T ? reset && reset[(t + 1) * B + b] : 1;
            for (int64_t p = 0; p < P; p++) {
                const int64_t i = t * M + b * P + p;
                a[i] = rs ? 0.0f : lam[p];
                a[n + i] = rs ? 0.0f : -lam[P + p];
                gv[i] = gx[i];
                gv[n + i] = gx[n + i];
            }
        }
    scan(a, gv, T, M, b0 * P, b1 * P, 1);
    /* glam += conj(x_{t-1}) lambda_t and gx0 += conj(a_0) lambda_0, over
     * the steps a reset does not cut */
    for (int64_t b = b0; b < b1; b++)
        for (int64_t p = 0; p < P; p++) {
            double gr = 0, gi = 0;
            for (int64_t t = 0; t < T; t++) {
                if (reset && reset[t * B + b]) continue;
                const int64_t i = t * M + b * P + p;
                const float pr = t ? xs[i - M] : x0[b * P + p], pi = t ? xs[n + i - M] : x0[M + b * P + p];
                gr += (double)pr * gv[i] + (double)pi * gv[n + i];
                gi += (double)pr * gv[n + i] - (double)pi * gv[i];
            }
            glam[p] += (float)gr;
            glam[P + p] += (float)gi;
            if (!(reset && reset[b])) {
                const int64_t i = b * P + p;
                const float lr = lam[p], li = lam[P + p];
                gx0[i] += lr * gv[i] + li * gv[n + i];
                gx0[M + i] += lr * gv[n + i] - li * gv[i];
            }
        }
}

void vb_s5_assoc_backward(float *gv, float *glam, float *gx0, const float *gx, const float *xs, const float *lam,
                          const float *x0, const uint8_t *reset, float *scratch, int64_t T, int64_t B, int64_t P,
                          int threads) {
    job w = {.xs_in = xs, .gv = gv, .glam = glam, .gx0 = gx0, .a = scratch,
             .glam_parts = scratch + 2 * T * B * P, .gx = gx, .lam = lam, .x0 = x0, .reset = reset, .T = T,
             .B = B, .P = P, .parts = vb_par_parts(threads, B)};
    vb_par_run(w.parts, backward_part, &w);
    for (int j = 1; j < w.parts; j++)
        for (int64_t p = 0; p < 2 * P; p++) glam[p] += w.glam_parts[(int64_t)(j - 1) * 2 * P + p];
}
