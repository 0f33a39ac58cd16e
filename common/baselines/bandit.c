/* bandit — the bandit reference agents. All keep per-arm counts of
 * successes and failures of each env's task.
 *
 * bayes-optimal: the exact finite-horizon Bayes-optimal policy (bandit_dp.h):
 *   pulls an arm of largest Q; exact ties (arms with equal counts) go to the
 *   lowest index, which loses nothing since such arms are exchangeable.
 * thompson: draws p_a ~ Beta(alpha + s_a, beta + f_a) per arm and pulls the
 *   largest (one Beta draw per arm from env i's agent stream).
 * ucb1: pulls each arm once (lowest index first), then the largest
 *   s_a / n_a + sqrt(2 ln t / n_a), t = pulls so far (Auer et al. 2002). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "impl.h"
#include "../envs/bandit.h"
#include "bandit_dp.h"

/* Beliefs above this make the DP refuse (about 36 bytes each for K = 5). */
#define BAYES_MAX_STATES ((int64_t)1 << 22)

typedef struct bandit_agent {
    int64_t K;
    double alpha, beta;
    int32_t *succ, *fail; /* (n, K) */
    double *score;        /* (K) scratch */
} bandit_agent;

static void bandit_agent_destroy(void *impl) {
    bandit_agent *s = impl;
    free(s->succ);
    free(s->fail);
    free(s->score);
    free(s);
}

static int bandit_agent_alloc(vb_agent *a, const vb_env_batch *env, char *err, size_t err_len) {
    bandit_agent *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    a->impl = s;
    s->K = env->spec.num_actions;
    vb_bandit_prior(env, &s->alpha, &s->beta);
    s->succ = calloc((size_t)(env->n * s->K), sizeof *s->succ);
    s->fail = calloc((size_t)(env->n * s->K), sizeof *s->fail);
    s->score = calloc((size_t)s->K, sizeof *s->score);
    if (!s->succ || !s->fail || !s->score) return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    return 0;
}

static void counts_reset(vb_agent *a, const vb_env_batch *env, int64_t i) {
    bandit_agent *s = a->impl;
    for (int64_t k = 0; k < s->K; k++) s->succ[i * s->K + k] = s->fail[i * s->K + k] = 0;
}

static void counts_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions) {
    bandit_agent *s = a->impl;
    for (int64_t i = 0; i < env->n; i++) {
        if (env->reward[i] == env->spec.reward_levels[1])
            s->succ[i * s->K + actions[i]]++;
        else
            s->fail[i * s->K + actions[i]]++;
    }
}

/* --- bayes-optimal ------------------------------------------------------ */

int vb__agent_bandit_bayes_solve(const vb_env_spec *spec, void **solution, char *err,
                                 size_t err_len) {
    vb_bandit_dp *dp = NULL;
    if (vb_bandit_dp_create(&dp, spec->num_actions, spec->steps_per_task, spec->prior_alpha, spec->prior_beta,
                            BAYES_MAX_STATES, err, err_len) != 0)
        return VB_AGENT_EUSAGE;
    *solution = dp;
    return 0;
}

void vb__agent_bandit_bayes_free(void *solution) { vb_bandit_dp_destroy(solution); }

/* The DP knows the task's value, not the reward of each pull. */
void vb__agent_bandit_bayes_exact(const void *solution, double *task_return, double *episode_return,
                                  int64_t episodes) {
    *task_return = vb_bandit_dp_value(solution);
    for (int64_t e = 0; e < episodes; e++) episode_return[e] = NAN;
}

static void bayes_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    bandit_agent *s = a->impl;
    for (int64_t i = 0; i < env->n; i++) {
        /* Counts past the horizon cannot occur under the env's clock; pull 0 then. */
        if (vb_bandit_dp_q(a->solution, &s->succ[i * s->K], &s->fail[i * s->K], s->score) != 0) {
            actions[i] = 0;
            continue;
        }
        actions[i] = (int32_t)vb_argmax(s->score, s->K, NULL);
    }
}

static const vb_agent_ops bayes_ops = {.reset = counts_reset, .act = bayes_act,
                                       .observe = counts_observe, .destroy = bandit_agent_destroy};

VB__AGENT_CREATE(vb__agent_bandit_bayes_create) {
    a->ops = &bayes_ops;
    return bandit_agent_alloc(a, env, err, err_len);
}

/* --- thompson ----------------------------------------------------------- */

static void thompson_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    bandit_agent *s = a->impl;
    for (int64_t i = 0; i < env->n; i++) {
        for (int64_t k = 0; k < s->K; k++)
            s->score[k] = vb_rng_beta(&a->rng[i], s->alpha + s->succ[i * s->K + k], s->beta + s->fail[i * s->K + k]);
        actions[i] = (int32_t)vb_argmax(s->score, s->K, &a->rng[i]);
    }
}

static const vb_agent_ops thompson_ops = {.reset = counts_reset, .act = thompson_act,
                                          .observe = counts_observe, .destroy = bandit_agent_destroy};

VB__AGENT_CREATE(vb__agent_bandit_thompson_create) {
    a->ops = &thompson_ops;
    return bandit_agent_alloc(a, env, err, err_len);
}

/* --- ucb1 --------------------------------------------------------------- */

static void ucb1_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    bandit_agent *s = a->impl;
    for (int64_t i = 0; i < env->n; i++) {
        const int32_t *sc = &s->succ[i * s->K], *fc = &s->fail[i * s->K];
        int64_t t = 0, untried = -1;
        for (int64_t k = 0; k < s->K; k++) {
            t += sc[k] + fc[k];
            if (untried < 0 && sc[k] + fc[k] == 0) untried = k;
        }
        if (untried >= 0) {
            actions[i] = (int32_t)untried;
            continue;
        }
        for (int64_t k = 0; k < s->K; k++) {
            double n = (double)(sc[k] + fc[k]);
            s->score[k] = sc[k] / n + sqrt(2.0 * log((double)t) / n);
        }
        actions[i] = (int32_t)vb_argmax(s->score, s->K, NULL);
    }
}

static const vb_agent_ops ucb1_ops = {.reset = counts_reset, .act = ucb1_act,
                                      .observe = counts_observe, .destroy = bandit_agent_destroy};

VB__AGENT_CREATE(vb__agent_bandit_ucb1_create) {
    a->ops = &ucb1_ops;
    return bandit_agent_alloc(a, env, err, err_len);
}
