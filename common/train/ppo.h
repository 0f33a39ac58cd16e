/* ppo — recurrent PPO's losses over a batch of windows, forward and backward
 * together. Rows are time-major: row r = t * N + w for window w and step t in
 * [0, T), T = L + 1; the last step only bootstraps the value. Losses average
 * over the L * N real steps (M).
 *
 *   GAE(gamma, lambda): delta_r = rew_r + gamma V_{r+N} (1 - task_done_r) - V_r,
 *     adv_r = delta_r + gamma lambda (1 - task_done_r) adv_{r+N}, ret_r = adv_r + V_r;
 *     task ends are terminal (the carry resets), episode ends inside a task are
 *     not; advantages are then normalised over the batch.
 *   loss = policy_coef * mean(-min(rho adv, clip(rho, 1 -+ clip) adv))
 *        - ent_coef * mean(H(pi)) + value_coef * mean((V - ret)^2),
 *     rho = exp(log pi(a) - behaviour log-probability). */
#ifndef VB_PPO_H
#define VB_PPO_H

#include <stdint.h>

#include "../../kernels/backend.h"
#include "update_stats.h"

/* A row whose behaviour log-probability is more than this many nats from
 * the current policy's leaves the policy term out (its value and entropy
 * terms stay; counted in masked_frac): honest data lags a few updates and is
 * nowhere near, a forged log-probability would scale its gradient by
 * e^|log ratio|. */
#define VB_PPO_MAX_LOG_RATIO 20.0

typedef struct vb_ppo_params {
    double gamma, lambda;        /* GAE */
    double clip;                 /* ratio clip */
    double ent_coef, value_coef, policy_coef;
} vb_ppo_params;

/* adv, ret (L N) from rew, task_done (L N) and values (T N). Returns the mean
 * of ret (before the advantages are normalised). */
double vb_gae(const vb_ppo_params *p, int64_t L, int64_t N, const float *rew, const float *task_done,
              const float *values, float *adv, float *ret);

/* One batch's inputs to the PPO loss. */
typedef struct vb_ppo_batch {
    int64_t L, N, A;
    const float *logits;         /* (L N, A) */
    const float *values;         /* (T N) */
    const int32_t *act;          /* (L N) */
    const float *blogp;          /* (L N) behaviour log-probabilities */
    const float *adv, *ret;      /* (L N) from vb_gae */
} vb_ppo_batch;

/* Scratch: four rows of L N floats. */
typedef struct vb_ppo_ws {
    float *logp, *ent, *d_logp, *d_ent;
} vb_ppo_ws;

/* Forward and backward: d_logits (L N, A) and d_values (T N; bootstrap rows
 * 0) are overwritten with the loss's gradients; st receives loss_policy (the
 * surrogate without policy_coef), entropy, loss_value, approx_kl, clip_frac
 * and value_mean. */
void vb_ppo_loss(const vb_backend *be, const vb_ppo_params *p, const vb_ppo_batch *b, const vb_ppo_ws *ws,
                 float *d_logits, float *d_values, vb_update_stats *st);

#endif
