/* planner — Belief-SMC (ALGORITHM.md section 3): the E-step, run by the actor
 * at every real step for a batch of environments.
 *
 * Per environment, K particles start at the real state and belief and each
 * draws a root action from the policy prior. For D steps: K_Omega latent
 * samples per particle are drawn afresh from q(m | phi_k) and weighted by the
 * one-step belief correction
 *   log w_kj = log p(x_last | m_kj) + log q(m_kj | phi_prev) - log q(m_kj | phi_k);
 * one of them simulates the particle's step through the learned decoder (the
 * env's exact transition under planner.dynamics: env); the encoder updates
 * the particle's belief in imagination; the log-weight gains the advantage
 * delta / eta; terminal particles stop; particles are resampled
 * (systematic) when ESS < tau K or every P steps. The readout gives the
 * policy and value targets q*(a) and V-hat:
 *   backup:  Q(a) = weighted mean of the bootstrapped partial returns G_{k,d}
 *            over particles with root action a and every depth (recorded
 *            before each resampling); q*(a) ~ pi(a) exp(Q(a) / eta), with
 *            Q(a) = V(root) for actions without an estimate; V-hat = sum q* Q
 *   weights: q*(a) = sum_k w_k [A_k = a];  V-hat = sum_k w_k G_k
 * Rows are env-major: particle k of env b is row b K + k, nested sample j of
 * it is row (b K + k) K_Omega + j. Everything is batched over all rows; the
 * buffers are allocated once for the largest batch. */
#ifndef VB_PLANNER_H
#define VB_PLANNER_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/rng.h"
#include "../envs/env.h"
#include "model.h"

typedef struct vb_planner_cfg {
    int64_t K, D, KO, period;
    double ess_threshold, eta, gamma;
    int dynamics;          /* vb_dynamics */
    int target;            /* vb_plan_target */
    int backup_weights;    /* vb_backup_weights */
    int root_actions;      /* vb_root_actions */
    double dir_alpha, dir_weight; /* root Dirichlet noise; weight 0 = off */
    double greedy_margin;  /* vb_planner_greedy's margin; 0 = off */
} vb_planner_cfg;

/* The planner's settings from cfg (planner.*, env.gamma); explore turns the
 * root Dirichlet noise on (training) or off (evaluation, which also applies
 * eval.particles, eval.root_actions, eval.backup_weights and
 * eval.greedy_margin). */
vb_planner_cfg vb_planner_cfg_from(const vb_config *cfg, bool explore);

/* What the planner needs of each real environment (B rows). */
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

typedef struct vb_planner vb_planner;

/* A planner for up to max_B environments. 0, or -1 with err. */
int vb_planner_create(vb_planner **out, const vb_backend *be, const vb_model *m, const vb_env_spec *spec,
                      const vb_planner_cfg *cfg, int64_t max_B, char *err, size_t err_len);
void vb_planner_destroy(vb_planner *p);
/* Call after the parameters change. */
void vb_planner_prepare(vb_planner *p, const float *P);
/* Plan for B environments: q (B, A) and v (B) targets. Env b draws from rng[b]. */
void vb_planner_run(vb_planner *p, const float *P, const vb_planner_root *root, int64_t B, vb_rng *rng, float *q,
                    float *v);
/* The greedy action of env b after the last run, given a, an argmax of its q*:
 * with greedy_margin > 0 and the backup readout, the policy prior's most
 * likely action unless Q-hat(a) exceeds its Q-hat by more than the margin
 * (a planner's lookahead then overrules the policy only when it is clearly
 * better, not where the prior is split between near-equal actions); a
 * otherwise. */
int32_t vb_planner_greedy(const vb_planner *p, int64_t b, int32_t a);
/* The nested-particle weights of the last depth-0 correction, (B, K, KO). */
const float *vb_planner_last_root_weights(const vb_planner *p);
/* The nested latent samples of the last depth simulated, (B, K, KO, latent). */
const float *vb_planner_last_latents(const vb_planner *p);

/* Systematic resampling of n weights (normalised, sum 1) with one uniform u
 * in [0, 1): idx[i] = the particle whose CDF interval holds (i + u) / n. */
void vb_resample_systematic(const double *w, int64_t n, double u, int32_t *idx);

#endif
