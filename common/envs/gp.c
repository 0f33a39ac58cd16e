/* gp — see gp.h. */
#include "gp.h"

#include <math.h>

void vb_gp_grid(int64_t n, double *x) {
    for (int64_t j = 0; j < n; j++) x[j] = (double)j / (double)(n - 1);
}

double vb_gp_rbf(double a, double b, double lengthscale) {
    double d = (a - b) / lengthscale;
    return exp(-0.5 * d * d);
}

void vb_gp_rbf_gram(const double *x, int64_t n, double lengthscale, double jitter, double *K) {
    for (int64_t i = 0; i < n; i++) {
        K[i * n + i] = 1.0 + jitter;
        for (int64_t j = 0; j < i; j++) K[i * n + j] = K[j * n + i] = vb_gp_rbf(x[i], x[j], lengthscale);
    }
}

/* Cholesky–Banachiewicz, row by row: L_ij = (A_ij - sum_k<j L_ik L_jk) / L_jj. */
int vb_cholesky(double *A, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double *Li = &A[i * n];
        for (int64_t j = 0; j <= i; j++) {
            const double *Lj = &A[j * n];
            double s = Li[j];
            for (int64_t k = 0; k < j; k++) s -= Li[k] * Lj[k];
            if (j < i) {
                Li[j] = s / Lj[j];
            } else {
                if (!(s > 0)) return -1;
                Li[i] = sqrt(s);
            }
        }
        for (int64_t j = i + 1; j < n; j++) Li[j] = 0.0;
    }
    return 0;
}

void vb_gp_sample(const double *mean, const double *L, int64_t n, vb_rng *r, double *work, double *out) {
    for (int64_t j = 0; j < n; j++) work[j] = vb_rng_normal_double(r);
    for (int64_t i = 0; i < n; i++) {
        const double *Li = &L[i * n];
        double s = mean ? mean[i] : 0.0;
        for (int64_t k = 0; k <= i; k++) s += Li[k] * work[k];
        out[i] = s;
    }
}

void vb_gp_observe(double *mean, double *cov, int64_t n, int64_t j, double y, double noise_var) {
    double s = cov[j * n + j] + noise_var;
    if (!(s > 1e-12)) return;
    /* k = S[:, j] is row j (S is symmetric); row j is updated last so that the
     * other rows read its old values. (k_a k_b) / s is symmetric in a, b, so
     * the update keeps S exactly symmetric. */
    double inv_s = 1.0 / s;
    double resid = (y - mean[j]) * inv_s;
    const double *k = &cov[j * n];
    for (int64_t i = 0; i < n; i++) mean[i] += k[i] * resid;
    for (int64_t a = 0; a < n; a++) {
        if (a == j) continue;
        double *row = &cov[a * n];
        for (int64_t b = 0; b < n; b++) row[b] -= (k[a] * k[b]) * inv_s;
    }
    double *rj = &cov[j * n];
    double kjj = rj[j];
    for (int64_t b = 0; b < n; b++) rj[b] -= (kjj * rj[b]) * inv_s;
}
