/* funcopt — see funcopt.h. */
#include "funcopt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "env_family.h"
#include "gp.h"

typedef struct funcopt_state {
    int64_t points;
    double ell_min, ell_max, noise_std;
    double *x;       /* (N) the grid */
    double *f;       /* (n, N) each env's function */
    double *ell;     /* (n) each env's lengthscale */
    int64_t *argmax; /* (n) */
    double *best;    /* (n) the best true value queried so far, -inf before any query */
    double *gram;    /* (N, N) workspace: the Gram matrix, then its factor */
    double *z;       /* (N) workspace: standard normals */
} funcopt_state;

static int funcopt_spec(const vb_env_params *p, vb_env_spec *s, char *err, size_t err_len) {
    s->name = "funcopt";
    s->obs_size = 2;
    s->obs_layout = "x of the last query in [0, 1], then 1 once a query was made (0, 0 before)";
    s->num_actions = p->points;
    s->reward_kind = VB_REWARD_GAUSSIAN;
    s->reward_noise_std = p->noise_std;
    s->episode_length = p->queries;
    s->episodes_per_task = 1;
    s->task_independent_transitions = true;
    s->reward_cells = p->points;
    s->reward_cell_layout = "the grid point queried (mean: f there)";
    s->reports_regret = true;
    s->points = p->points;
    return 0;
}

static int funcopt_create(vb_env_batch *b, const vb_env_params *p, char *err, size_t err_len) {
    funcopt_state *st = calloc(1, sizeof *st);
    if (!st) return snprintf(err, err_len, "out of memory"), -1;
    b->state = st;
    size_t N = (size_t)p->points, n = (size_t)b->n;
    st->points = p->points;
    st->ell_min = p->lengthscale_min;
    st->ell_max = p->lengthscale_max;
    st->noise_std = p->noise_std;
    st->x = malloc(N * sizeof *st->x);
    st->f = malloc(n * N * sizeof *st->f);
    st->ell = malloc(n * sizeof *st->ell);
    st->argmax = malloc(n * sizeof *st->argmax);
    st->best = malloc(n * sizeof *st->best);
    st->gram = malloc(N * N * sizeof *st->gram);
    st->z = malloc(N * sizeof *st->z);
    if (!st->x || !st->f || !st->ell || !st->argmax || !st->best || !st->gram || !st->z)
        return snprintf(err, err_len, "out of memory for %zu envs of %zu points", n, N), -1;
    vb_gp_grid(st->points, st->x);
    return 0;
}

static void funcopt_destroy(void *state) {
    funcopt_state *st = state;
    free(st->x);
    free(st->f);
    free(st->ell);
    free(st->argmax);
    free(st->best);
    free(st->gram);
    free(st->z);
    free(st);
}

static void funcopt_reset_episode(vb_env_batch *b, int64_t i) {
    funcopt_state *st = b->state;
    st->best[i] = -INFINITY;
    b->obs[i * 2] = 0.0f;
    b->obs[i * 2 + 1] = 0.0f;
}

/* Draws: one uniform_double for l, then N normals (2 words each) for z. */
static int funcopt_reset_task(vb_env_batch *b, int64_t i) {
    funcopt_state *st = b->state;
    int64_t N = st->points;
    double *f = &st->f[i * N];
    st->ell[i] = st->ell_min + (st->ell_max - st->ell_min) * vb_rng_uniform_double(&b->rng[i]);
    vb_gp_rbf_gram(st->x, N, st->ell[i], VB_GP_JITTER, st->gram);
    if (vb_cholesky(st->gram, N) != 0) return VB_ENV_ENUMERIC;
    vb_gp_sample(NULL, st->gram, N, &b->rng[i], st->z, f);
    int64_t best = 0;
    for (int64_t j = 1; j < N; j++)
        if (f[j] > f[best]) best = j;
    st->argmax[i] = best;
    funcopt_reset_episode(b, i);
    return VB_ENV_OK;
}

static void funcopt_step(vb_env_batch *b, int64_t i, int32_t a) {
    funcopt_state *st = b->state;
    const double *f = &st->f[i * st->points];
    double noise = st->noise_std > 0 ? st->noise_std * vb_rng_normal_double(&b->rng[i]) : 0.0;
    b->reward[i] = (float)(f[a] + noise);
    if (f[a] > st->best[i]) st->best[i] = f[a];
    b->regret[i] = (float)(f[st->argmax[i]] - st->best[i]);
    b->obs[i * 2] = (float)st->x[a];
    b->obs[i * 2 + 1] = 1.0f;
}

static void funcopt_transition(const vb_env_spec *s, const float *obs, int32_t a, float *next) {
    next[0] = (float)((double)a / (double)(s->points - 1));
    next[1] = 1.0f;
}

static int64_t funcopt_reward_cell(const vb_env_spec *s, const float *obs, int32_t a, const float *next) {
    return a;
}

const double *vb_funcopt_values(const vb_env_batch *b, int64_t i) {
    if (b->spec.family != VB_ENV_FUNCOPT || i < 0 || i >= b->n) return NULL;
    const funcopt_state *st = b->state;
    return &st->f[i * st->points];
}

double vb_funcopt_lengthscale(const vb_env_batch *b, int64_t i) {
    if (b->spec.family != VB_ENV_FUNCOPT || i < 0 || i >= b->n) return -1.0;
    const funcopt_state *st = b->state;
    return st->ell[i];
}

int64_t vb_funcopt_argmax(const vb_env_batch *b, int64_t i) {
    if (b->spec.family != VB_ENV_FUNCOPT || i < 0 || i >= b->n) return -1;
    const funcopt_state *st = b->state;
    return st->argmax[i];
}

const double *vb_funcopt_grid(const vb_env_batch *b) {
    if (b->spec.family != VB_ENV_FUNCOPT) return NULL;
    const funcopt_state *st = b->state;
    return st->x;
}

/* every episode starts from the same observation: all zeros */
static void funcopt_start_obs(const vb_env_spec *s, float *obs) {
    for (int64_t j = 0; j < s->obs_size; j++) obs[j] = 0.0f;
}

static void funcopt_task_cells(const vb_env_batch *b, int64_t i, float *out) {
    const funcopt_state *st = b->state;
    for (int64_t k = 0; k < st->points; k++) out[k] = (float)st->f[i * st->points + k];
}

const vb__env_family vb__funcopt_family = {
    .spec = funcopt_spec,
    .create = funcopt_create,
    .destroy = funcopt_destroy,
    .reset_task = funcopt_reset_task,
    .reset_episode = funcopt_reset_episode,
    .step = funcopt_step,
    .transition = funcopt_transition,
    .reward_cell = funcopt_reward_cell,
    .start_obs = funcopt_start_obs,
    .task_cells = funcopt_task_cells,
};
