/* smc — Belief-SMC's search (ALGORITHM.md section 3) over any simulator of
 * imagined steps: particles, their root actions, the twist, resampling, the
 * backup and the readout. What a step imagines (the learned belief and
 * decoder, belief_sim.h; an exact model in the tests) is the simulator's.
 *
 * Per environment, K particles start at the real state. Root actions: with
 * `all`, K >= A particles are split into A contiguous blocks, one per action
 * (rotated by a random offset), else the K actions of largest prior (Gumbel-top-K draws
 * from the noised prior when exploring); with `policy`, K draws from the
 * (noised) prior. For D steps each alive particle is stepped by the
 * simulator and, with binary rewards under `outcomes: expected`, continues
 * with its more likely outcome while the other one is closed with the value
 * of its successor, so a particle's return averages over what it imagines
 * instead of sampling it. With S_k the probability of the particle's
 * continuing branch, c its one-step probability, its one-step estimate is
 *   e_k = r_mean + gamma (1 - term) (c V(cont) + (1 - c) V(other))
 * and the record for the backup is  G_k + gamma^d S_k e_k  (then
 * G_k += gamma^d S_k (r_mean + gamma (1 - term)(1 - c) V(other)), S_k *= c).
 * The twist adds the expected one-step advantage (e_k - V(s_k)) / eta to
 * the log-weight: it depends on the action sequence, never on a sampled
 * outcome. Particles continue with actions drawn from the policy prior
 * (`rollout: sample`) or its argmax (`rollout: argmax`); with sampled
 * continuations they are resampled (systematic) when ESS < tau K or every P
 * steps (after step d when d is a multiple of P, d < D).
 *
 * Readout (`target: backup`): Q(a) = the weighted mean of the records of
 * the particles with root action a, over particles and depths (an action's
 * records fade by lambda at each deeper depth that has records of it; 1:
 * every depth alike, 0: its deepest only); with `backup_weights: prior` a
 * record's weight is its particle's proposal weight, its twist divided back
 * out, so Q(a) is a consistent estimate of Q^pi(h, a) for the rollout
 * policy; `twisted` weights by the twisted weights (the tilted mean). An
 * action without particles gets the completed value of Gumbel MuZero,
 *   v_mix = (V + N / (sum_{a'} pi(a')) sum_{a'} pi(a') Q(a')) / (1 + N),
 * the sums over the evaluated actions, N their particles. Then
 *   q*(a) ~ pi(a) exp(Q(a) / eta),  V-hat = sum_a q*(a) Q(a)
 * is the one tilt; with an entropy temperature tau > 0 it is the
 * entropy-regularised step q*(a) ~ pi(a)^(eta/(eta+tau)) exp(Q(a)/(eta+tau)),
 * the maximiser of E_q[Q] - eta KL(q || pi) + tau H(q), whose fixed point
 * under repetition is softmax(Q / tau). `target: weights`: q*(a) = sum_k w_k [A_k = a] (SPO).
 * The greedy action is the argmax of q* over the evaluated actions. */
#ifndef VB_SMC_H
#define VB_SMC_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/rng.h"

typedef struct vb_planner_cfg {
    int64_t K, D, KO, period;
    double ess_threshold, eta, gamma;
    double tau;            /* backup readout's entropy temperature (0: off) */
    int dynamics;          /* vb_dynamics (the belief simulator's) */
    int target;            /* vb_plan_target */
    int backup_weights;    /* vb_backup_weights */
    int root_actions;      /* vb_root_actions */
    int rollout;           /* vb_rollout */
    int outcomes;          /* vb_outcomes */
    double backup_lambda;  /* weight of a depth's records relative to the next deeper one */
    double dir_alpha, dir_weight; /* root Dirichlet noise; weight 0 = off */
    bool noise_target;     /* the backup readout's q* tilts the noised root prior (every root action too) */
    double greedy_margin;  /* vb_smc_greedy's margin; 0 = off */
    bool explore;          /* training: noised root, sampled K < A allocation */
    int64_t threads;       /* vb_planner: blocks of environments planned in parallel (<= 1: one) */
} vb_planner_cfg;

/* One imagined step of R rows, filled by the simulator. */
typedef struct vb_sim_step {
    float *r_mean;   /* (R) expected reward of the step under the belief */
    float *p_cont;   /* (R) probability of the outcome the row continues with (1 when sampled) */
    float *v_cont;   /* (R) value of the successor the row continues to */
    float *v_other;  /* (R) value of the successor of the other outcome (expected binary outcomes) */
    uint8_t *term;   /* (R) the step ends the task */
    float *probs;    /* (R, A) policy prior at the continuing successor (when asked) */
} vb_sim_step;

typedef struct vb_sim_ops {
    /* The root of each of B environments: policy prior (B, A) and value (B). */
    void (*root)(void *ctx, int64_t B, float *probs, float *values);
    /* Rows b K .. b K + K - 1 start at root b. */
    void (*start)(void *ctx, int64_t B, int64_t K);
    /* One imagined step of R rows under actions a: fill out, move every row
     * to its continuing successor. expect: binary outcomes continue with the
     * more likely one (v_other is the other's); else a sampled outcome. Rows
     * with alive[r] == 0 may be skipped. Row r draws from rng[r / K]. */
    void (*step)(void *ctx, const int32_t *a, const uint8_t *alive, int64_t R, int64_t K, vb_rng *rng, bool expect,
                 bool want_probs, vb_sim_step *out);
    /* Row i takes the state of row idx[i] (idx stays within each env's rows). */
    void (*gather)(void *ctx, const int32_t *idx, int64_t R);
} vb_sim_ops;

typedef struct vb_plan_sim {
    const vb_sim_ops *ops;
    void *ctx;
    int64_t actions;
    bool binary;     /* rewards take two levels, so outcomes can be integrated */
} vb_plan_sim;

typedef struct vb_smc vb_smc;

/* A search for up to max_B environments with A actions. 0, or -1 with err. */
int vb_smc_create(vb_smc **out, const vb_planner_cfg *cfg, int64_t A, int64_t max_B, char *err, size_t err_len);
void vb_smc_destroy(vb_smc *s);
/* The backup readout's entropy temperature from the next run on (tau >= 0). */
void vb_smc_set_entropy(vb_smc *s, double tau);
double vb_smc_entropy(const vb_smc *s);
/* The planning depth D from the next run on (D >= 0). */
void vb_smc_set_depth(vb_smc *s, int64_t D);
int64_t vb_smc_depth(const vb_smc *s);
/* Search for B environments (env b draws from rng[b]): q (B, A) and v (B) targets. */
void vb_smc_run(vb_smc *s, const vb_plan_sim *sim, int64_t B, vb_rng *rng, float *q, float *v);
/* The greedy action of env b after the last run: the argmax of q* over the
 * evaluated actions; with greedy_margin > 0 and the backup readout, the
 * prior's most likely evaluated action unless Q-hat(a) beats it by more than
 * the margin. */
int32_t vb_smc_greedy(const vb_smc *s, int64_t b);
/* Q-hat (A) of env b after the last run (backup readout), and whether each
 * action had particles (evaluated[a]). */
const double *vb_smc_qhat(const vb_smc *s, int64_t b);
bool vb_smc_evaluated(const vb_smc *s, int64_t b, int64_t a);
/* Resampling events (envs x depths) in the last run. */
int64_t vb_smc_resamples(const vb_smc *s);

/* Systematic resampling of n weights (normalised, sum 1) with one uniform u
 * in [0, 1): idx[i] = the particle whose CDF interval holds (i + u) / n. */
void vb_resample_systematic(const double *w, int64_t n, double u, int32_t *idx);

#endif
