/* bandit — see bandit.h. */
#include "bandit.h"

#include <stdio.h>
#include <stdlib.h>

#include "env_family.h"

typedef struct bandit_state {
    int64_t arms;
    double alpha, beta;
    double *p; /* (n, arms) */
} bandit_state;

static int bandit_spec(const vb_env_params *p, vb_env_spec *s, char *err, size_t err_len) {
    s->name = "bandit";
    s->obs_size = 1;
    s->obs_layout = "a constant 0";
    s->num_actions = p->arms;
    s->reward_kind = VB_REWARD_BERNOULLI;
    s->reward_levels[0] = 0.0f;
    s->reward_levels[1] = 1.0f;
    s->episode_length = 1;
    s->episodes_per_task = p->horizon;
    s->task_independent_transitions = true;
    s->reward_cells = p->arms;
    s->reward_cell_layout = "the arm pulled (hit: a reward of 1)";
    s->prior_alpha = p->prior_alpha;
    s->prior_beta = p->prior_beta;
    return 0;
}

static int bandit_create(vb_env_batch *b, const vb_env_params *p, char *err, size_t err_len) {
    bandit_state *st = calloc(1, sizeof *st);
    if (!st) return snprintf(err, err_len, "out of memory"), -1;
    b->state = st;
    st->arms = p->arms;
    st->alpha = p->prior_alpha;
    st->beta = p->prior_beta;
    st->p = calloc((size_t)(b->n * st->arms), sizeof *st->p);
    if (!st->p) return snprintf(err, err_len, "out of memory"), -1;
    return 0;
}

static void bandit_destroy(void *state) {
    bandit_state *st = state;
    free(st->p);
    free(st);
}

static void bandit_reset_episode(vb_env_batch *b, int64_t i) { b->obs[i] = 0.0f; }

static int bandit_reset_task(vb_env_batch *b, int64_t i) {
    bandit_state *st = b->state;
    for (int64_t a = 0; a < st->arms; a++) st->p[i * st->arms + a] = vb_rng_beta(&b->rng[i], st->alpha, st->beta);
    bandit_reset_episode(b, i);
    return VB_ENV_OK;
}

static void bandit_step(vb_env_batch *b, int64_t i, int32_t a) {
    const bandit_state *st = b->state;
    int hit = vb_rng_uniform_double(&b->rng[i]) < st->p[i * st->arms + a];
    b->reward[i] = b->spec.reward_levels[hit];
    b->obs[i] = 0.0f;
}

static void bandit_transition(const vb_env_spec *s, const float *obs, int32_t a, float *next) { next[0] = 0.0f; }

static int64_t bandit_reward_cell(const vb_env_spec *s, const float *obs, int32_t a, const float *next) {
    return a;
}

const double *vb_bandit_arm_probs(const vb_env_batch *b, int64_t i) {
    if (b->spec.family != VB_ENV_BANDIT || i < 0 || i >= b->n) return NULL;
    const bandit_state *st = b->state;
    return &st->p[i * st->arms];
}

int vb_bandit_prior(const vb_env_batch *b, double *alpha, double *beta) {
    if (b->spec.family != VB_ENV_BANDIT) return -1;
    const bandit_state *st = b->state;
    *alpha = st->alpha;
    *beta = st->beta;
    return 0;
}

/* every episode starts from the same observation: all zeros */
static void bandit_start_obs(const vb_env_spec *s, float *obs) {
    for (int64_t j = 0; j < s->obs_size; j++) obs[j] = 0.0f;
}

static void bandit_task_cells(const vb_env_batch *b, int64_t i, float *out) {
    const bandit_state *st = b->state;
    for (int64_t k = 0; k < st->arms; k++) out[k] = (float)st->p[i * st->arms + k];
}

const vb__env_family vb__bandit_family = {
    .spec = bandit_spec,
    .create = bandit_create,
    .destroy = bandit_destroy,
    .reset_task = bandit_reset_task,
    .reset_episode = bandit_reset_episode,
    .step = bandit_step,
    .transition = bandit_transition,
    .reward_cell = bandit_reward_cell,
    .start_obs = bandit_start_obs,
    .task_cells = bandit_task_cells,
};
