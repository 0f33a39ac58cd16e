/* softmax_logodds — see softmax_logodds.h. */
#include "softmax_logodds.h"

#include "../../kernels/math/act.h"
#include "../../kernels/simd_clones.h"

enum { BLOCK = 64 }; /* cells per pass of the vectorised loops */

VB_SIMD_CLONES void vb_softmax_logodds(float *v, int64_t N, int64_t C) {
    float e[BLOCK];
    for (int64_t i = 0; i < N; i++) {
        float *row = v + i * C;
        int64_t top = 0;
        for (int64_t c = 1; c < C; c++)
            if (row[c] > row[top]) top = c;
        const float mx = row[top];
        if (!(mx - mx == 0.0f)) { /* an infinite or NaN logit: no probabilities to read */
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
