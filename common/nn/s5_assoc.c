/* s5_assoc — see s5_assoc.h. */
#include "s5_assoc.h"

#include "kernels/math/s5.h"

int64_t vb_s5_assoc_scratch_floats(int64_t T, int64_t B, int64_t P) { return 2 * T * B * P; }

/* Inclusive scan over t of the elements (a, v) held in planes a (2,T,M) and
 * v (2,T,M), M = B P independent lanes; `rev` scans from T-1 down to 0. In
 * place: within a round, step t reads t - d (or t + d reversed), which this
 * round has not written yet when t runs away from it. */
static void scan(float *a, float *v, int64_t T, int64_t M, int rev) {
    const int64_t n = T * M;
    for (int64_t d = 1; d < T; d *= 2) {
        for (int64_t k = T - 1; k >= d; k--) {
            const int64_t t = rev ? T - 1 - k : k, s = rev ? t + d : t - d;
            float *at = a + t * M, *vt = v + t * M;
            const float *as = a + s * M, *vs = v + s * M;
            for (int64_t m = 0; m < M; m++)
                vb_s5_combine(as[m], as[n + m], vs[m], vs[n + m], &at[m], &at[n + m], &vt[m], &vt[n + m]);
        }
    }
}

void vb_s5_assoc_forward(float *xs, const float *v, const float *lam, const float *x0, const uint8_t *reset,
                         float *scratch, int64_t T, int64_t B, int64_t P) {
    const int64_t M = B * P, n = T * M;
    float *a = scratch;
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = 0; b < B; b++) {
            const int rs = reset && reset[t * B + b];
            for (int64_t p = 0; p < P; p++) {
                const int64_t i = t * M + b * P + p;
                a[i] = rs ? 0.0f : lam[p];
                a[n + i] = rs ? 0.0f : lam[P + p];
                xs[i] = v[i];
                xs[n + i] = v[n + i];
            }
        }
    scan(a, xs, T, M, 0);
    /* x_t = A_t x0 + V_t */
    for (int64_t t = 0; t < T; t++)
        for (int64_t m = 0; m < M; m++) {
            const int64_t i = t * M + m;
            const float xr = x0[m], xi = x0[M + m];
            xs[i] += a[i] * xr - a[n + i] * xi;
            xs[n + i] += a[i] * xi + a[n + i] * xr;
        }
}

void vb_s5_assoc_backward(float *gv, float *glam, float *gx0, const float *gx, const float *xs, const float *lam,
                          const float *x0, const uint8_t *reset, float *scratch, int64_t T, int64_t B, int64_t P) {
    const int64_t M = B * P, n = T * M;
    float *a = scratch;
    /* lambda_t = gx_t + conj(a_{t+1}) lambda_{t+1}: element t is
     * (conj(a_{t+1}), gx_t), with a_T = 0 */
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = 0; b < B; b++) {
            const int rs = t + 1 < T ? reset && reset[(t + 1) * B + b] : 1;
            for (int64_t p = 0; p < P; p++) {
                const int64_t i = t * M + b * P + p;
                a[i] = rs ? 0.0f : lam[p];
                a[n + i] = rs ? 0.0f : -lam[P + p];
                gv[i] = gx[i];
                gv[n + i] = gx[n + i];
            }
        }
    scan(a, gv, T, M, 1);
    /* glam += conj(x_{t-1}) lambda_t and gx0 += conj(a_0) lambda_0, over
     * the steps a reset does not cut */
    for (int64_t b = 0; b < B; b++)
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
