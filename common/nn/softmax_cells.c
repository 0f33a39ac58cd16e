/* softmax_cells — see softmax_cells.h. */
#include "softmax_cells.h"

#include "../../kernels/math/act.h"
#include "../../kernels/simd_clones.h"

#include <math.h>

enum { BLOCK = 64 }; /* cells per pass of the vectorised loops */

/* The row's maximum and where it first is, or NaN if any of the row is not finite. */
static float row_max(const float *v, int64_t n, int64_t *top) {
    int64_t t = 0;
    int bad = 0;
    for (int64_t k = 0; k < n; k++) {
        t = v[k] > v[t] ? k : t;
        bad |= !(v[k] - v[k] == 0.0f);
    }
    *top = t;
    return bad ? NAN : v[t];
}

VB_SIMD_CLONES float vb_softmax_lse(const float *v, int64_t n) {
    float e[BLOCK], sum = 0.0f;
    int64_t top;
    const float mx = row_max(v, n, &top);
    if (isnan(mx)) return NAN;
    for (int64_t c0 = 0; c0 < n; c0 += BLOCK) {
        const int64_t m = n - c0 < BLOCK ? n - c0 : BLOCK;
        for (int64_t j = 0; j < m; j++) e[j] = vb_vexpf(v[c0 + j] - mx);
        for (int64_t j = 0; j < m; j++) sum += e[j];
    }
    return mx + vb_vlogf(sum);
}

VB_SIMD_CLONES int64_t vb_softmax_draw(const float *v, int64_t n, double u) {
    float e[BLOCK];
    int64_t top;
    const float mx = row_max(v, n, &top);
    double sum = 0.0, acc = 0.0;
    for (int64_t c0 = 0; c0 < n; c0 += BLOCK) {
        const int64_t m = n - c0 < BLOCK ? n - c0 : BLOCK;
        for (int64_t j = 0; j < m; j++) e[j] = vb_vexpf(v[c0 + j] - mx);
        for (int64_t j = 0; j < m; j++) sum += e[j];
    }
    const double at = u * sum;
    for (int64_t c0 = 0; c0 < n; c0 += BLOCK) {
        const int64_t m = n - c0 < BLOCK ? n - c0 : BLOCK;
        for (int64_t j = 0; j < m; j++) e[j] = vb_vexpf(v[c0 + j] - mx);
        for (int64_t j = 0; j < m; j++)
            if (at < (acc += e[j])) return c0 + j;
    }
    return n - 1;
}

VB_SIMD_CLONES void vb_softmax_logodds(float *v, int64_t N, int64_t C) {
    float e[BLOCK];
    for (int64_t i = 0; i < N; i++) {
        float *row = v + i * C;
        int64_t top;
        const float mx = row_max(row, C, &top);
        if (isnan(mx)) { /* an infinite or NaN logit: no probabilities to read */
            for (int64_t c = 0; c < C; c++) row[c] = 0.0f;
            continue;
        }
        /* x = v - max in place; others = sum over every cell but the top one of e^x */
        float others = 0.0f;
        for (int64_t c0 = 0; c0 < C; c0 += BLOCK) {
            const int64_t n = C - c0 < BLOCK ? C - c0 : BLOCK;
            for (int64_t j = 0; j < n; j++) e[j] = vb_vexpf(row[c0 + j] -= mx);
            if (top >= c0 && top < c0 + n) e[top - c0] = 0.0f;
            for (int64_t j = 0; j < n; j++) others += e[j];
        }
        /* l = x - log(rest): rest = 1 + others - e^x >= 1 off the top, others on it */
        for (int64_t c0 = 0; c0 < C; c0 += BLOCK) {
            const int64_t n = C - c0 < BLOCK ? C - c0 : BLOCK;
            float *x = row + c0;
            if (C > BLOCK) /* a row of one block still has its e^x from the first pass */
                for (int64_t j = 0; j < n; j++) e[j] = vb_vexpf(x[j]);
            for (int64_t j = 0; j < n; j++) {
                const float l = x[j] - vb_vlogf(1.0f + others - e[j]);
                x[j] = l < -VB_LOGODDS_MAX ? -VB_LOGODDS_MAX : l > VB_LOGODDS_MAX ? VB_LOGODDS_MAX : l;
            }
        }
        const float lt = -vb_vlogf(others);
        row[top] = lt > VB_LOGODDS_MAX ? VB_LOGODDS_MAX : lt;
    }
}
