/* softmax_logodds — see softmax_logodds.h. */
#include "softmax_logodds.h"

#include <math.h>

void vb_softmax_logodds(float *v, int64_t N, int64_t C) {
    for (int64_t i = 0; i < N; i++) {
        float *row = v + i * C;
        int64_t top = 0;
        for (int64_t c = 1; c < C; c++)
            if (row[c] > row[top]) top = c;
        const double mx = row[top];
        double others = 0; /* sum over every cell but the top one of e^{v - max} */
        for (int64_t c = 0; c < C; c++)
            if (c != top) others += exp((double)row[c] - mx);
        for (int64_t c = 0; c < C; c++) {
            const double x = (double)row[c] - mx, rest = c == top ? others : 1.0 + others - exp(x);
            const double l = x - log(rest);
            row[c] = (float)(isnan(l) ? 0.0 : fmin(VB_LOGODDS_MAX, fmax(-VB_LOGODDS_MAX, l)));
        }
    }
}
