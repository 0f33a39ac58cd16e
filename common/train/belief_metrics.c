/* belief_metrics — see belief_metrics.h. */
#include "belief_metrics.h"

#include <math.h>

#include "../nn/softmax_cells.h"

void vb_belief_metrics_carve(vb_belief_metrics_ws *ws, vb_carver *c, const vb_mlp *dec, int64_t dec_obs, int64_t LN) {
    ws->pm = vb_carve(c, LN * dec->out, sizeof(float));
    ws->dec = vb_carve(c, LN * dec->out, sizeof(float));
    ws->eps = vb_carve(c, LN * (dec->in - dec_obs), sizeof(float));
    ws->z = vb_carve(c, LN * (dec->in - dec_obs), sizeof(float));
    ws->zin = dec_obs ? vb_carve(c, LN * dec->in, sizeof(float)) : NULL;
    ws->cache = vb_carve(c, vb_mlp_cache_floats(dec, LN), sizeof(float));
}

double vb_belief_mae(const vb_backend *be, const vb_mlp *dec, bool categorical, int64_t dec_obs, const float *P,
                     const float *mu, const float *lv, const float *x, int64_t x_stride, const uint8_t *reset,
                     const int32_t *cell, const float *rew, float hit_level, int64_t L, int64_t N,
                     vb_exact_belief *ex, const vb_belief_metrics_ws *ws, vb_rng *rng) {
    const int64_t LN = L * N, K = dec->out, D = dec->in - dec_obs;
    float *pm = ws->pm;
    be->fill(pm, 0.0f, LN * K);
    for (int s = 0; s < VB_BELIEF_SAMPLES; s++) {
        for (int64_t i = 0; i < LN * D; i++) ws->eps[i] = vb_rng_normal(rng);
        be->gauss_sample_forward(ws->z, mu, lv, ws->eps, LN * D);
        const float *in = ws->z;
        if (dec_obs) {
            vb_mlp_join_rows(be, ws->zin, ws->z, D, D, x, x_stride, 1, dec_obs, LN);
            in = ws->zin;
        }
        vb_mlp_forward(be, dec, P, ws->dec, in, ws->cache, LN);
        if (categorical) vb_softmax_logodds(ws->dec, LN, K);
        for (int64_t i = 0; i < LN * K; i++)
            pm[i] += (float)(1.0 / (1.0 + exp(-(double)ws->dec[i])) / VB_BELIEF_SAMPLES);
    }
    double err = 0;
    int64_t rows = 0;
    for (int64_t w = 0; w < N; w++) {
        bool started = false;
        for (int64_t t = 0; t < L; t++) {
            int64_t r = t * N + w;
            if (reset[r]) {
                started = true;
                vb_exact_belief_reset(ex);
            }
            if (!started) continue;
            for (int64_t k = 0; k < K; k++) err += fabs(pm[r * K + k] - vb_exact_belief_hit(ex, k));
            rows++;
            /* transition t is seen by the belief from step t + 1 on */
            vb_exact_belief_observe(ex, cell[r], rew[r] == hit_level);
        }
    }
    return rows ? err / (double)(rows * K) : -1;
}
