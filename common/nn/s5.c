/* s5 — see s5.h. Layouts: complex arrays are two planes (re, im); the scan
 * cache is [disc (2P + 2PH) | v (2,T,B,P) | xs (2,T,B,P) | scan scratch
 * (2,T,B,P)]. A window's recurrence is the associative scan of s5_assoc.c
 * (what a device runs); a single step is the backend's fold. */
#include "s5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s5_assoc.h"

enum { HIPPO_BLOCK = 64 }; /* complex modes per HiPPO block */

int vb_s5_layout(vb_s5 *s, vb_layout *lay, const char *name, int64_t H, int64_t P) {
    char n[VB_ARENA_NAME];
    s->H = H;
    s->P = P;
#define ADD(field, nd, ...)                                            \
    snprintf(n, sizeof n, "%s." #field, name);                         \
    if ((s->field = vb_layout_add(lay, n, nd, (int64_t[]){__VA_ARGS__})) < 0) return -1;
    ADD(lam_re_log, 1, P)
    ADD(lam_im, 1, P)
    ADD(log_step, 1, P)
    ADD(b, 3, 2, P, H)
    ADD(c, 3, 2, H, P)
    ADD(d, 1, H)
#undef ADD
    return 0;
}

/* Eigenvalues of a symmetric n x n matrix a (destroyed) by cyclic Jacobi. */
static int jacobi_eigenvalues(double *a, int n, double *eig) {
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, total = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                total += a[i * n + j] * a[i * n + j];
                if (i != j) off += a[i * n + j] * a[i * n + j];
            }
        if (off <= 1e-24 * total) {
            for (int i = 0; i < n; i++) eig[i] = a[i * n + i];
            return 0;
        }
        for (int p = 0; p < n - 1; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
    }
    return -1;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Imaginary parts of the m eigenvalues with positive imaginary part of the
 * normal HiPPO-LegS matrix of size 2m: A_N = -I/2 + S, S skew-symmetric with
 * S_nk = -sqrt((n+1/2)(k+1/2)) sign(n-k). Its eigenvalues are -1/2 +- i w with
 * w^2 the eigenvalues of S^T S, each appearing twice. */
static int hippo_frequencies(int m, double *omega) {
    int n = 2 * m;
    double *S = calloc((size_t)n * n, sizeof *S), *M = calloc((size_t)n * n, sizeof *M), *e = calloc((size_t)n, sizeof *e);
    int rc = -1;
    if (!S || !M || !e) goto out;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++)
            if (i != k) S[i * n + k] = (i > k ? -1.0 : 1.0) * sqrt((i + 0.5) * (k + 0.5));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double acc = 0;
            for (int k = 0; k < n; k++) acc += S[k * n + i] * S[k * n + j];
            M[i * n + j] = acc;
        }
    if (jacobi_eigenvalues(M, n, e) != 0) goto out;
    qsort(e, (size_t)n, sizeof *e, cmp_double);
    for (int j = 0; j < m; j++) omega[j] = sqrt(fmax(0.0, 0.5 * (e[2 * j] + e[2 * j + 1])));
    rc = 0;
out:
    free(S);
    free(M);
    free(e);
    return rc;
}

int vb_s5_init(const vb_s5 *s, float *P, vb_rng *rng) {
    const int64_t H = s->H, Pm = s->P;
    double omega[HIPPO_BLOCK];
    for (int64_t start = 0; start < Pm; start += HIPPO_BLOCK) {
        int m = (int)(Pm - start < HIPPO_BLOCK ? Pm - start : HIPPO_BLOCK);
        if (hippo_frequencies(m, omega) != 0) return -1;
        for (int j = 0; j < m; j++) {
            P[s->lam_re_log + start + j] = logf(0.5f);
            P[s->lam_im + start + j] = (float)omega[j];
        }
    }
    const float lo = logf(0.001f), hi = logf(0.1f);
    for (int64_t p = 0; p < Pm; p++) P[s->log_step + p] = lo + (hi - lo) * vb_rng_uniform(rng);
    const float bstd = 1.0f / sqrtf(2.0f * (float)H), cstd = 1.0f / sqrtf(2.0f * (float)Pm);
    for (int64_t i = 0; i < 2 * Pm * H; i++) P[s->b + i] = bstd * vb_rng_normal(rng);
    for (int64_t i = 0; i < 2 * H * Pm; i++) P[s->c + i] = cstd * vb_rng_normal(rng);
    for (int64_t h = 0; h < H; h++) P[s->d + h] = vb_rng_normal(rng);
    return 0;
}

int64_t vb_s5_disc_floats(const vb_s5 *s) { return 2 * s->P + 2 * s->P * s->H; }

void vb_s5_discretize(const vb_backend *be, const vb_s5 *s, const float *P, float *disc) {
    be->s5_discretize_forward(disc, disc + 2 * s->P, P + s->lam_re_log, P + s->lam_im, P + s->log_step,
                              P + s->b, s->P, s->H);
}

/* v (2,N,P) = u (N,H) b_bar^T, complex b_bar with real u */
static void input_projection(const vb_backend *be, const vb_s5 *s, const float *bbar, float *v, const float *u,
                             int64_t N) {
    const int64_t PH = s->P * s->H;
    be->gemm(false, true, N, s->P, s->H, 1.0f, u, s->H, bbar, s->H, 0.0f, v, s->P);
    be->gemm(false, true, N, s->P, s->H, 1.0f, u, s->H, bbar + PH, s->H, 0.0f, v + N * s->P, s->P);
}

/* y (N,H) = 2 Re(c x) + d * u for x (2,N,P) */
static void output_projection(const vb_backend *be, const vb_s5 *s, const float *P, float *y, const float *x,
                              const float *u, int64_t N) {
    const int64_t HP = s->H * s->P;
    be->gemm(false, true, N, s->H, s->P, 2.0f, x, s->P, P + s->c, s->P, 0.0f, y, s->H);
    be->gemm(false, true, N, s->H, s->P, -2.0f, x + N * s->P, s->P, P + s->c + HP, s->P, 1.0f, y, s->H);
    be->col_scale_acc(y, u, P + s->d, N, s->H);
}

int64_t vb_s5_step_scratch_floats(const vb_s5 *s, int64_t B) { return 4 * B * s->P; }

void vb_s5_step(const vb_backend *be, const vb_s5 *s, const float *P, const float *disc, float *x, float *y,
                const float *u, float *scratch, int64_t B) {
    const int64_t n = 2 * B * s->P;
    float *v = scratch, *xn = scratch + n;
    input_projection(be, s, disc + 2 * s->P, v, u, B);
    be->s5_scan_forward(xn, v, disc, x, NULL, 1, B, s->P);
    be->copy(x, xn, n);
    output_projection(be, s, P, y, x, u, B);
}

int64_t vb_s5_scan_cache_floats(const vb_s5 *s, int64_t T, int64_t B) {
    return vb_s5_disc_floats(s) + 4 * T * B * s->P + vb_s5_assoc_scratch_floats(T, B, s->P, 1);
}

void vb_s5_scan_forward(const vb_backend *be, const vb_s5 *s, const float *P, float *y, const float *u,
                        const float *x0, const uint8_t *reset, float *cache, int64_t T, int64_t B, int threads) {
    const int64_t N = T * B;
    float *disc = cache, *v = cache + vb_s5_disc_floats(s), *xs = v + 2 * N * s->P, *scan = xs + 2 * N * s->P;
    vb_s5_discretize(be, s, P, disc);
    input_projection(be, s, disc + 2 * s->P, v, u, N);
    if (be == vb_backend_cpu())
        vb_s5_assoc_forward(xs, v, disc, x0, reset, scan, T, B, s->P, threads);
    else /* a device backend's s5_scan is its own associative scan (reset in device memory) */
        be->s5_scan_forward(xs, v, disc, x0, reset, T, B, s->P);
    output_projection(be, s, P, y, xs, u, N);
}

void vb_s5_scan_final(const vb_backend *be, const vb_s5 *s, const float *cache, float *x_out, int64_t T, int64_t B) {
    const int64_t N = T * B, BP = B * s->P;
    const float *xs = cache + vb_s5_disc_floats(s) + 2 * N * s->P;
    be->copy(x_out, xs + (T - 1) * BP, BP);
    be->copy(x_out + BP, xs + N * s->P + (T - 1) * BP, BP);
}

int64_t vb_s5_scan_scratch_floats(const vb_s5 *s, int64_t T, int64_t B, int threads) {
    return 4 * T * B * s->P + 2 * s->P + 2 * s->P * s->H + 2 * B * s->P +
           vb_s5_assoc_scratch_floats(T, B, s->P, threads);
}

void vb_s5_scan_backward(const vb_backend *be, const vb_s5 *s, const float *P, float *G, float *du, float *gx0,
                         const float *dy, const float *u, const float *x0, const uint8_t *reset,
                         const float *cache, float *scratch, int64_t T, int64_t B, int threads) {
    const int64_t N = T * B, H = s->H, Pm = s->P, n = N * Pm, HP = H * Pm, PH = Pm * H;
    const float *disc = cache, *xs = cache + vb_s5_disc_floats(s) + 2 * n;
    const float *bbar = disc + 2 * Pm;
    float *gx = scratch, *gv = gx + 2 * n, *glam = gv + 2 * n, *gbbar = glam + 2 * Pm, *gx0_tmp = gbbar + 2 * PH;
    float *scan = gx0_tmp + 2 * B * Pm;
    /* y = 2 Re(c x) + d u */
    be->col_dot_acc(G + s->d, dy, u, N, H);
    if (du) be->col_scale_acc(du, dy, P + s->d, N, H);
    be->gemm(true, false, H, Pm, N, 2.0f, dy, H, xs, Pm, 1.0f, G + s->c, Pm);
    be->gemm(true, false, H, Pm, N, -2.0f, dy, H, xs + n, Pm, 1.0f, G + s->c + HP, Pm);
    be->gemm(false, false, N, Pm, H, 2.0f, dy, H, P + s->c, Pm, 0.0f, gx, Pm);
    be->gemm(false, false, N, Pm, H, -2.0f, dy, H, P + s->c + HP, Pm, 0.0f, gx + n, Pm);
    /* the recurrence */
    be->fill(glam, 0.0f, 2 * Pm);
    float *g0 = gx0 ? gx0 : gx0_tmp;
    if (!gx0) be->fill(gx0_tmp, 0.0f, 2 * B * Pm);
    if (be == vb_backend_cpu())
        vb_s5_assoc_backward(gv, glam, g0, gx, xs, disc, x0, reset, scan, T, B, Pm, threads);
    else
        be->s5_scan_backward(gv, glam, g0, gx, xs, disc, x0, reset, T, B, Pm);
    /* v = u b_bar^T */
    be->fill(gbbar, 0.0f, 2 * PH);
    be->gemm(true, false, Pm, H, N, 1.0f, gv, Pm, u, H, 1.0f, gbbar, H);
    be->gemm(true, false, Pm, H, N, 1.0f, gv + n, Pm, u, H, 1.0f, gbbar + PH, H);
    if (du) {
        be->gemm(false, false, N, H, Pm, 1.0f, gv, Pm, bbar, H, 1.0f, du, H);
        be->gemm(false, false, N, H, Pm, 1.0f, gv + n, Pm, bbar + PH, H, 1.0f, du, H);
    }
    /* the discretisation */
    be->s5_discretize_backward(G + s->lam_re_log, G + s->lam_im, G + s->log_step, G + s->b, glam, gbbar,
                               P + s->lam_re_log, P + s->lam_im, P + s->log_step, P + s->b, Pm, H);
}
