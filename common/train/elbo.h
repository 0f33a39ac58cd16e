/* elbo — the belief's evidence lower bound over a batch of windows, forward
 * and backward together. Rows are time-major (r = t * N + w, t < L); phi_r =
 * (mu, logvar) of q(m | h_r) from the encoder.
 *
 *   -ELBO = -E_{m ~ q_r} log p(targets | m) + kl_beta KL(q_r || q_{r-1})
 *
 * with q_{r-1} the previous row's posterior, the chunk's cached posterior
 * before the window's first row, or N(0, I) at a task start (prev_kind 2, 1,
 * 0). Reconstruction targets (learner.elbo_decode):
 *   transitions: every same-task transition of the window (VariBAD): the
 *                reward of transition i read from decoder cell cell_i; and
 *                with ext (learner.elbo_span: task, task_span.h) those of the
 *                row's task outside the window too
 *   task:        the task's label of every reward cell (task_cells)
 * and, with a state head (planner.dynamics: learned), the next-state term of
 * elbo_state.h on the same latent samples, whatever elbo_decode says (the
 * dynamics have no label to decode).
 * Decoding transitions weights each cell by how often the acting policy
 * visits it, which correlates with its reward (agents linger at goals and
 * good arms), so the decoded posterior predictive is biased upward; decoding
 * the task weights every cell once, a proper scoring rule whose optimum is
 * the exact posterior predictive. The expectation uses `samples`
 * reparameterised draws per row. The loss minimised is -coef * elbo (st's
 * elbo); both terms are divided by the number of (t, i) same-task pairs
 * (transitions) or of rows (task), which keeps gradients at per-transition
 * scale. Bernoulli cells: logit v, log p(y) = y v - softplus(v); Gaussian: a
 * unit-variance mean. Categorical (model.reward_decoder): p = softmax(v) over
 * the cells, a transition's reward y at cell c has log p_c (a hit) or
 * log(1 - p_c), and the task's labels y (one-hot: the goal) sum_k y_k log p_k,
 * the categorical cross-entropy. With dec_obs the decoder reads each row's
 * observation beside its latent sample (model.decoder_obs; no gradient flows
 * into s). */
#ifndef VB_ELBO_H
#define VB_ELBO_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/backend.h"
#include "../base/carve.h"
#include "../base/rng.h"
#include "../nn/mlp.h"
#include "elbo_state.h"
#include "update_stats.h"

typedef struct vb_elbo_params {
    double coef, kl_beta;
    int64_t samples;             /* reparameterised samples per row (at least 1) */
    bool decode_task;
    bool bernoulli;              /* cells are Bernoulli logits (else Gaussian means) */
    bool categorical;            /* Bernoulli cells: the logits of one softmax over the cells */
    float hit_level;             /* Bernoulli: the reward of a hit */
    int64_t dec_obs;             /* model.decoder_obs: the decoder reads (m, s_r), these floats of s_r; 0: m */
    vb_elbo_state_params state;  /* the next-state term (used with a state head) */
} vb_elbo_params;

typedef struct vb_elbo_batch {
    int64_t L, N;
    const float *phi;            /* (L N, 2 D) posteriors */
    const float *phi_prev0;      /* (N, 2 D) posterior before each window's first row */
    float *d_phi_prev0;          /* (N, 2 D) += the KL's gradient at phi_prev0, unless NULL (a constant) */
    const uint8_t *prev_kind;    /* (L N) 0 prior, 1 phi_prev0, 2 the previous row */
    const int32_t *seg;          /* (L N) task segment of the row within its window */
    const int32_t *cell;         /* (L N) reward cell of the row's transition */
    const float *rew;            /* (L N) its reward */
    const float *task_cells;     /* (L N, C) the task's labels (decode_task), else NULL */
    const float *obs;            /* with dec_obs: row r's observation s_r at obs + r obs_stride */
    int64_t obs_stride;
    /* transitions outside the window, up to E per window (ext_n NULL: none):
     * their reward cell, reward, the window segment whose task they belong to,
     * and whether they come after the window (else before it) */
    int64_t E;
    const int64_t *ext_n;        /* (N) */
    const int32_t *ext_cell, *ext_seg; /* (N, E) */
    const float *ext_rew;        /* (N, E) */
    const uint8_t *ext_future;   /* (N, E) */
    vb_elbo_state_batch state;   /* the transitions the state head decodes (seg, L, N filled in by the loss) */
} vb_elbo_batch;

/* Buffers for L N rows; carved by vb_elbo_carve. */
typedef struct vb_elbo_ws {
    float *mu, *lv, *pmu, *plv;  /* (L N, D) */
    float *eps, *z, *d_z, *d_mu, *d_lv, *d_pmu, *d_plv; /* (L N, D) */
    float *zin, *d_zin;          /* with dec_obs: (L N, D + dec_obs) the decoder's input (z, s) */
    float *cells, *d_cells;      /* (L N, C) */
    float *prob;                 /* categorical: (L N, C) the softmax */
    double *lse;                 /* categorical: (L N) its log normaliser */
    float *kl, *wkl;             /* (L N) */
    float *cache, *scratch;      /* decoder */
    vb_elbo_state_ws state;      /* the state head's, when there is one */
} vb_elbo_ws;

/* Point ws into c's block for LN rows of a reward decoder dec (latent D plus
 * p->dec_obs in, C cells out) and the state head state_dec (NULL: none). */
void vb_elbo_carve(vb_elbo_ws *ws, vb_carver *c, const vb_mlp *dec, const vb_mlp *state_dec,
                   const vb_elbo_params *p, int64_t LN);

/* Forward and backward: G += the decoders' gradient, d_phi (L N, 2 D) +=
 * the posteriors' gradient; noise from rng. st receives loss_recon, kl (per
 * row), elbo and belief_future_loglik (mean log p of not-yet-seen same-task
 * transitions: in task mode measured on every 8th window of the first
 * sample, which the windows' independent draws keep unbiased), and with a
 * state head state_loglik (mean log p per decoded transition). */
void vb_elbo_loss(const vb_backend *be, const vb_mlp *dec, const vb_mlp *state_dec, const float *P, float *G,
                  const vb_elbo_params *p, const vb_elbo_batch *b, const vb_elbo_ws *ws, vb_rng *rng, float *d_phi,
                  vb_update_stats *st);

#endif
