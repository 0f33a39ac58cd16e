/* resample — systematic resampling of one set of n particles. */
#ifndef VB_MATH_RESAMPLE_H
#define VB_MATH_RESAMPLE_H

#include "hd.h"

/* idx[i] = the particle whose cumulative normalised weight first reaches
 * (i + u) / n, for one uniform u in [0, 1): each particle is kept about
 * n w times with the least variance of the standard schemes. */
VB_HD void vb_resample_systematic_row(const double *w, int64_t n, double u, int32_t *idx) {
    double c = w[0];
    int64_t j = 0;
    for (int64_t i = 0; i < n; i++) {
        double target = ((double)i + u) / (double)n;
        while (target > c && j < n - 1) c += w[++j];
        idx[i] = (int32_t)j;
    }
}

/* The same from log-weights: normalised weights into w (n scratch doubles);
 * returns the largest log-weight. */
VB_HD double vb_resample_systematic_logw(const double *logw, int64_t n, double u, double *w, int32_t *idx) {
    double mx = -INFINITY, sum = 0;
    for (int64_t k = 0; k < n; k++) mx = fmax(mx, logw[k]);
    for (int64_t k = 0; k < n; k++) sum += w[k] = exp(logw[k] - mx);
    for (int64_t k = 0; k < n; k++) w[k] /= sum;
    vb_resample_systematic_row(w, n, u, idx);
    return mx;
}

#endif
