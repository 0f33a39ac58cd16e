/* belief_sim — imagined steps in the learned belief (ALGORITHM.md section 3,
 * steps 1-4 and 7): the simulator Belief-SMC's search (smc.h) plans in.
 *
 * A row is one particle: its state, encoder carry and belief phi, the
 * previous belief and the last transition (the correction's evidence), and
 * the task clock. One step of a row under action a:
 *   1. K_Omega latent samples m_j ~ q(. | phi), drawn fresh;
 *   2. weighted by the one-step correction
 *        log w_j = log p(x_last | m_j) + log q(m_j | phi_prev) - log q(m_j | phi);
 *   3. the successor from the env's exact transition (planner.dynamics: env)
 *      or the state head under a sample drawn by w (learned): a cell drawn
 *      from its categorical, or the
 *      Gaussian means for continuous states; the
 *      reward's predictive distribution mixes the decoder's over the samples
 *      by w: for Bernoulli rewards p = sum_j w_j sigmoid(cell_j), for
 *      Gaussian ones the mean sum_j w_j cell_j and a draw (the mean of a
 *      sample drawn by w);
 *   4. the encoder consumes the transition with the continuing outcome's
 *      reward (and, for expected binary outcomes, a second copy with the
 *      other reward, for that successor's value); policy prior and value at
 *      the successors.
 * Rows are env-major: particle k of env b is row b K + k, its nested sample
 * j is row (b K + k) K_Omega + j. Every step is batched over all rows. */
#ifndef VB_BELIEF_SIM_H
#define VB_BELIEF_SIM_H

#include <stdint.h>

#include "../envs/env.h"
#include "../model/model.h"
#include "smc.h"

/* What the simulator needs of each real environment (B rows). */
typedef struct vb_planner_root {
    const float *obs;        /* (B, obs) s_t */
    const float *carry;      /* (B, carry) encoder carry after consuming x_t */
    const float *phi;        /* (B, 2 latent) phi_t */
    const float *phi_prev;   /* (B, 2 latent) phi_{t-1} (prior at a task start) */
    const float *last_obs;   /* (B, obs) s_{t-1} */
    const int32_t *last_action; /* (B) a_{t-1}, < 0 at a task start (no correction) */
    const float *last_reward;   /* (B) r_{t-1} */
    const float *last_next_obs; /* (B, obs) the successor of step t-1 (before any reset) */
    const int64_t *t_ep;     /* (B) steps taken in the current episode */
    const int64_t *episode;  /* (B) episode index in the task */
    const float *o;          /* (B, hidden) encoder output o_t; read only with model.policy_hidden */
} vb_planner_root;

typedef struct vb_belief_sim vb_belief_sim;

/* A simulator of up to max_rows particles with K_Omega nested samples each,
 * under planner.dynamics `dynamics`. 0, or -1 with err. */
int vb_belief_sim_create(vb_belief_sim **out, const vb_backend *be, const vb_model *m, const vb_env_spec *spec,
                         int dynamics, int64_t nested, int64_t max_rows, char *err, size_t err_len);
void vb_belief_sim_destroy(vb_belief_sim *s);
/* Call after the parameters change. */
void vb_belief_sim_prepare(vb_belief_sim *s, const float *P);
/* The simulator over parameters P from these roots, as smc.h's interface
 * (valid while P and root are). */
vb_plan_sim vb_belief_sim_bind(vb_belief_sim *s, const float *P, const vb_planner_root *root);
/* The nested-sample weights of the first step of the last search, (rows, K_Omega). */
const float *vb_belief_sim_root_weights(const vb_belief_sim *s);
/* The nested latent samples of the last step simulated, (rows, K_Omega, latent). */
const float *vb_belief_sim_latents(const vb_belief_sim *s);

#endif
