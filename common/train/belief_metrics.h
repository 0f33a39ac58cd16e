/* belief_metrics — how far the learned belief is from the exact posterior,
 * where the family has one (exact_belief.h): the decoded posterior
 * predictive E_{m ~ q(m | phi_r)} sigmoid(decoder(m)) over 8 samples, per
 * reward cell, against the exact P(hit), for rows whose task started inside
 * the window (so the history is complete). Rows time-major (r = t * N + w). */
#ifndef VB_BELIEF_METRICS_H
#define VB_BELIEF_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/backend.h"
#include "../base/carve.h"
#include "../base/rng.h"
#include "../baselines/exact_belief.h"
#include "../nn/mlp.h"

enum { VB_BELIEF_SAMPLES = 8 };

typedef struct vb_belief_metrics_ws {
    float *pm, *dec;             /* (L N, C) */
    float *eps, *z;              /* (L N, D) */
    float *zin;                  /* with dec_obs: (L N, D + dec_obs) the decoder's input (z, s) */
    float *cache;                /* decoder */
} vb_belief_metrics_ws;

void vb_belief_metrics_carve(vb_belief_metrics_ws *ws, vb_carver *c, const vb_mlp *dec, int64_t dec_obs, int64_t LN);

/* Mean |decoded - exact| over cells and complete rows (-1 when there are
 * none): mu, lv (L N, D) the posteriors; reset, cell, rew (L N) the rows'
 * task starts, reward cells and rewards; a hit is rew == hit_level; ex is
 * reset per task; categorical: dec is one softmax over the cells
 * (nn/softmax_cells.h); dec_obs > 0: the decoder reads (m, s_r) with row r's
 * observation s_r at x + r x_stride (model.decoder_obs). Noise from rng. */
double vb_belief_mae(const vb_backend *be, const vb_mlp *dec, bool categorical, int64_t dec_obs, const float *P,
                     const float *mu, const float *lv, const float *x, int64_t x_stride, const uint8_t *reset,
                     const int32_t *cell, const float *rew, float hit_level, int64_t L, int64_t N,
                     vb_exact_belief *ex, const vb_belief_metrics_ws *ws, vb_rng *rng);

#endif
