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
 * then takes one Adam(W) step. Everything is deterministic given the seed.
 * The losses live in ppo.h, planner_targets.h and elbo.h, the belief's
 * distance to the exact posterior in belief_metrics.h; this module assembles
 * the batch, runs the networks forward and backward around them and steps. */
#ifndef VB_LEARNING_H
#define VB_LEARNING_H

#include <stdint.h>

#include "../nn/optim.h"
#include "chunk.h"
#include "elbo.h"
#include "../model/model.h"
#include "ppo.h"
#include "replay.h"
#include "update_stats.h"

/* What a learner needs to know: the algorithm, the batch, the losses' weights
 * and the optimiser (vb_learning_cfg_from builds it from a config). */
typedef struct vb_learning_cfg {
    int algo;                    /* vb_algo */
    int64_t batch_windows, window;
    int64_t replay_capacity;
    double samples_per_insert;   /* the rate limiter (0: none) */
    int64_t max_policy_lag;      /* older chunks are dropped */
    int64_t ppo_epochs;          /* rl2, varibad: passes per batch */
    vb_ppo_params ppo;           /* GAE and PPO weights; value_coef and policy_coef weigh the planner targets too */
    bool lambda_target;          /* varibased: regress V on the lambda-return instead of the planner's V-hat */
    bool rl_to_encoder;          /* varibad: the RL gradient reaches the encoder */
    vb_elbo_params elbo;         /* coef, kl_beta, samples, decode_task (bernoulli, hit_level from the model) */
    int64_t elbo_warmup;         /* updates of the ELBO alone before RL starts (belief agents) */
    int64_t state_pairs;         /* learned dynamics: transitions the state head decodes per row */
    double state_coef;           /* learned dynamics: the next-state term's weight relative to elbo.coef */
    bool refresh_carry;
    int64_t bptt;                /* > 0: the encoder's gradient stops at every bptt-th step of a window */
    bool refresh_grad;           /* refresh_carry: the gradient flows on through the re-encoded prefixes */
    bool span_task;              /* the ELBO decodes the whole task's transitions (task_span.h) */
    bool boot_task;              /* lambda-returns bootstrap from the rest of the task where it is known */
    bool wait_task;              /* a window is sampled once its last task has ended (task_span.h) */
    int threads;                 /* the encoder window's slabs over the batch (1: one unroll) */
    vb_optim_cfg optim;
    uint64_t seed;
} vb_learning_cfg;

typedef struct vb_learning vb_learning;

/* A learner for model m with parameters p on env spec. P0: the initial
 * parameters (copied). 0, or -1 with err. */
int vb_learning_create(vb_learning **out, const vb_backend *be, const vb_model *m, const vb_learning_cfg *p,
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
/* An actor left: forget what refresh_carry keeps per stream of it. */
void vb_learning_forget_actor(vb_learning *l, int32_t actor);
/* Per-stream histories refresh_carry holds (0 when off). */
int64_t vb_learning_refresh_streams(const vb_learning *l);
uint64_t vb_learning_version(const vb_learning *l);
void vb_learning_set_version(vb_learning *l, uint64_t v);
int64_t vb_learning_dropped(const vb_learning *l);
/* The mean policy lag (this learner's version minus the chunk's: the updates
 * between the weights that acted and the intake) of the valid chunks offered
 * since the last call, and in n how many there were (NAN when none); resets. */
double vb_learning_take_lag(vb_learning *l, int64_t *n);

#endif
