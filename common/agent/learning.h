/* learning — the learner side of training: chunks in, parameter updates out.
 *
 * Chunks are checked (layout, contents, policy lag) and copied into a bounded
 * replay. An update samples learner.batch_windows chunks, unrolls the encoder
 * over each window from the chunk's cached carry (no gradient into the carry)
 * plus one bootstrap step, and minimises the algorithm's loss:
 *   rl2       recurrent PPO (clipped ratio on behaviour log-probabilities,
 *             GAE(gamma, lambda), value loss, entropy bonus), gradient through
 *             the encoder; no decoder
 *   varibad   the same PPO on (s, mu, logvar) features (no RL gradient into the
 *             encoder unless model.rl_grad_to_encoder) plus the belief ELBO
 *   varibased value regression to the planner's V-hat, cross-entropy to its
 *             q-hat*, plus the belief ELBO
 * then takes one Adam(W) step. Everything is deterministic given the seed. */
#ifndef VB_LEARNING_H
#define VB_LEARNING_H

#include <stdint.h>

#include "../nn/optim.h"
#include "chunk.h"
#include "model.h"
#include "replay.h"

typedef struct vb_update_stats {
    double loss_policy, loss_value, entropy, approx_kl, clip_frac;
    double loss_recon, kl, elbo;
    double belief_future_loglik;   /* mean log p of not-yet-seen transitions under q(m | phi_t) */
    double belief_mae;             /* |decoded - exact posterior| per reward cell: bandit, gridworld; every 4th update (-1 if n/a or not measured) */
    double grad_norm, value_mean, return_mean;
    double lr;                     /* the learning rate this update stepped with */
    double planner_value_mean;     /* mean planner V-hat of the batch (varibased) */
    double carry_refreshed;        /* learner.refresh_carry: fraction of windows re-encoded (-1 if off) */
    double carry_drift;            /* their mean |fresh - cached| / |cached| start carry */
} vb_update_stats;

typedef struct vb_learning vb_learning;

/* A learner for model m under cfg (batch, window, replay, optimiser, losses).
 * P0: the initial parameters (copied). 0, or -1 with err. */
int vb_learning_create(vb_learning **out, const vb_backend *be, const vb_model *m, const vb_config *cfg,
                       const vb_env_spec *spec, const float *P0, char *err, size_t err_len);
void vb_learning_destroy(vb_learning *l);
/* Offer a chunk: 0 inserted, 1 dropped as too stale, -1 invalid (why set). */
int vb_learning_insert(vb_learning *l, const vb_chunk *c, char *why, size_t why_len);
/* Whether the rate limiter allows an update now. */
int vb_learning_ready(const vb_learning *l);
/* One update. 0, or -1 with err (non-finite loss: the update is skipped). */
int vb_learning_update(vb_learning *l, vb_update_stats *st, char *err, size_t err_len);

/* State access for publishing and checkpoints. */
const float *vb_learning_params(const vb_learning *l);
float *vb_learning_params_mut(vb_learning *l);
vb_optim *vb_learning_optim(vb_learning *l);
vb_replay *vb_learning_replay(vb_learning *l);
vb_rng *vb_learning_rng(vb_learning *l);
uint64_t vb_learning_version(const vb_learning *l);
void vb_learning_set_version(vb_learning *l, uint64_t v);
int64_t vb_learning_dropped(const vb_learning *l);

#endif
