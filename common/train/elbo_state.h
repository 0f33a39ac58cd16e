/* elbo_state — the ELBO's next-state term: what trains the decoder the
 * planner simulates successors with (planner.dynamics: learned).
 *
 * For row r of a window (time-major, r = t * N + w) with latent sample z_r ~
 * q(m | h_r), the term reconstructs transitions (s_i, a_i) -> s'_i of the
 * same task segment of the window, past and future of r as VariBAD decodes:
 *
 *   J = coef / (L N) sum_r mean_{i in seg(r)} log p(s'_i | s_i, a_i, z_r)
 *
 * estimated with `pairs` indices i drawn uniformly from r's segment per row
 * (an unbiased estimate of the mean, at pairs decoder rows per window row
 * instead of the segment's length). The decoder is the model's state head
 * (s, onehot a, z) -> logits over the env's state cells (log p = log
 * softmax at the successor's cell) or, for continuous observations, the means
 * of unit-variance Gaussians per feature.
 *
 * Forward and backward together: G += the decoder's gradient, d_z += the
 * gradient in each row's latent sample (the caller carries it into the
 * posterior through the reparameterisation). */
#ifndef VB_ELBO_STATE_H
#define VB_ELBO_STATE_H

#include <stdint.h>

#include "../../kernels/backend.h"
#include "../base/carve.h"
#include "../base/rng.h"
#include "../nn/mlp.h"

typedef struct vb_elbo_state_params {
    double coef;
    int64_t pairs;               /* transitions decoded per row (at least 1) */
    int64_t obs, actions;        /* the head's input is (obs, actions, latent) */
    int64_t state_cells;         /* > 0: categorical over cells; 0: Gaussian over obs */
} vb_elbo_state_params;

typedef struct vb_elbo_state_batch {
    int64_t L, N;
    const int32_t *seg;          /* (L N) task segment of the row within its window */
    const float *obs;            /* (L N, obs) s_i */
    const int32_t *act;          /* (L N) a_i */
    const float *next;           /* (L N, obs) s'_i */
    const int32_t *next_cell;    /* (L N) the cell of s'_i (state_cells > 0), else unused */
} vb_elbo_state_batch;

typedef struct vb_elbo_state_ws {
    int32_t *pick;               /* (L N pairs) the decoded transition of each pair */
    float *in, *d_in;            /* (L N pairs, obs + actions + latent) */
    float *out, *d_out;          /* (L N pairs, state outputs) */
    float *cache, *scratch;
} vb_elbo_state_ws;

/* Point ws into c's block for LN rows of the state head dec. */
void vb_elbo_state_carve(vb_elbo_state_ws *ws, vb_carver *c, const vb_mlp *dec, const vb_elbo_state_params *p,
                         int64_t LN);

/* One latent sample z (L N, latent) of every row: G += coef-scaled decoder
 * gradient times `weight`, d_z += the latent's; indices from rng. Returns the
 * mean log-likelihood per decoded transition. */
double vb_elbo_state_term(const vb_backend *be, const vb_mlp *dec, const float *P, float *G,
                          const vb_elbo_state_params *p, const vb_elbo_state_batch *b, const vb_elbo_state_ws *ws,
                          const float *z, float *d_z, double weight, vb_rng *rng);

#endif
