/* bandit — see bandit.h. */
#include "bandit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_families.h"

typedef struct bandit_state {
    int64_t arms;
    double alpha, beta;
    double *p; /* (n, arms) */
} bandit_state;

/* What create reads from the spec. */
typedef struct bandit_consts {
    double alpha, beta;
} bandit_consts;

static int bandit_spec(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err,
                       size_t err_len) {
    int64_t arms = 5, horizon = 10;
    bandit_consts c = {1.0, 1.0};
    if (h->arg_int(args, "arms", &arms, err, err_len) < 0 || h->arg_int(args, "horizon", &horizon, err, err_len) < 0 ||
        h->arg_double(args, "prior_alpha", &c.alpha, err, err_len) < 0 ||
        h->arg_double(args, "prior_beta", &c.beta, err, err_len) < 0)
        return -1;
    if (arms < 2) return snprintf(err, err_len, "arms %lld: expected >= 2", (long long)arms), -1;
    if (!(c.alpha > 0) || !(c.beta > 0))
        return snprintf(err, err_len, "prior_alpha %g, prior_beta %g: expected > 0", c.alpha, c.beta), -1;
    s->obs_size = 1;
    s->obs_layout = "a constant 0";
    s->num_actions = arms;
    s->reward_kind = VB_TASK_REWARD_BERNOULLI;
    s->reward_levels[0] = 0.0f;
    s->reward_levels[1] = 1.0f;
    s->episode_length = 1;
    s->episodes_per_task = horizon;
    s->task_independent_transitions = 1;
    s->reward_cells = arms;
    s->reward_cell_layout = "the arm pulled (hit: a reward of 1)";
    memcpy(s->data.bytes, &c, sizeof c);
    return 0;
}

static int bandit_create(const vb_task_host *h, const vb_task_spec *spec, int64_t n, void **state, char *err,
                         size_t err_len) {
    bandit_state *st = calloc(1, sizeof *st);
    if (!st) return snprintf(err, err_len, "out of memory"), -1;
    *state = st;
    bandit_consts c;
    memcpy(&c, spec->data.bytes, sizeof c);
    st->arms = spec->num_actions;
    st->alpha = c.alpha;
    st->beta = c.beta;
    st->p = calloc((size_t)(n * st->arms), sizeof *st->p);
    if (!st->p) return snprintf(err, err_len, "out of memory"), -1;
    return 0;
}

static void bandit_destroy(void *state) {
    bandit_state *st = state;
    free(st->p);
    free(st);
}

static int bandit_reset_episode(void *state, const vb_task_io *io, int64_t i) {
    io->obs[i] = 0.0f;
    return 0;
}

static int bandit_reset_task(void *state, const vb_task_io *io, int64_t i) {
    bandit_state *st = state;
    vb_rng *rng = vb__env_rng(io, i);
    for (int64_t a = 0; a < st->arms; a++) st->p[i * st->arms + a] = vb_rng_beta(rng, st->alpha, st->beta);
    return bandit_reset_episode(st, io, i);
}

static int bandit_step(void *state, const vb_task_io *io, const int32_t *actions) {
    const bandit_state *st = state;
    for (int64_t i = 0; i < io->n; i++) {
        int hit = vb_rng_uniform_double(vb__env_rng(io, i)) < st->p[i * st->arms + actions[i]];
        io->reward[i] = io->spec->reward_levels[hit];
        io->obs[i] = 0.0f;
    }
    return 0;
}

static void bandit_transition(const vb_task_spec *s, const float *obs, int32_t a, float *next) { next[0] = 0.0f; }

static int64_t bandit_reward_cell(const vb_task_spec *s, const float *obs, int32_t a, const float *next) {
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

/* every episode starts from the same observation, 0: start_obs NULL */

static void bandit_task_cells(void *state, int64_t i, float *out) {
    const bandit_state *st = state;
    for (int64_t k = 0; k < st->arms; k++) out[k] = (float)st->p[i * st->arms + k];
}

const vb_task_family vb__bandit_family = {
    VB_TASK_FAMILY_INIT,
    .name = "bandit",
    .description = "Bernoulli bandit: arm probabilities drawn from a Beta prior, one pull per episode",
    .spec = bandit_spec,
    .create = bandit_create,
    .destroy = bandit_destroy,
    .reset_task = bandit_reset_task,
    .reset_episode = bandit_reset_episode,
    .step = bandit_step,
    .transition = bandit_transition,
    .reward_cell = bandit_reward_cell,
    .task_cells = bandit_task_cells,
};
