/* funcopt — see funcopt.h. */
#include "funcopt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_families.h"
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

/* What create reads from the spec. */
typedef struct funcopt_consts {
    int64_t points;
    double ell_min, ell_max, noise_std;
} funcopt_consts;

static int funcopt_spec(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err,
                        size_t err_len) {
    int64_t queries = 30;
    funcopt_consts c = {.points = 64, .ell_min = 0.05, .ell_max = 0.3, .noise_std = 0.01};
    if (h->arg_int(args, "points", &c.points, err, err_len) < 0 ||
        h->arg_int(args, "queries", &queries, err, err_len) < 0 ||
        h->arg_double(args, "lengthscale_min", &c.ell_min, err, err_len) < 0 ||
        h->arg_double(args, "lengthscale_max", &c.ell_max, err, err_len) < 0 ||
        h->arg_double(args, "noise_std", &c.noise_std, err, err_len) < 0)
        return -1;
    if (c.points < 2) return snprintf(err, err_len, "points %lld: expected >= 2", (long long)c.points), -1;
    if (!(c.ell_min > 0) || c.ell_max < c.ell_min || !(c.noise_std >= 0))
        return snprintf(err, err_len, "lengthscale [%g, %g], noise_std %g: expected 0 < min <= max and noise >= 0",
                        c.ell_min, c.ell_max, c.noise_std), -1;
    s->obs_size = 2;
    s->obs_layout = "x of the last query in [0, 1], then 1 once a query was made (0, 0 before)";
    s->num_actions = c.points;
    s->reward_kind = VB_TASK_REWARD_GAUSSIAN;
    s->reward_noise_std = c.noise_std;
    s->episode_length = queries;
    s->episodes_per_task = 1;
    s->task_independent_transitions = 1;
    s->reward_cells = c.points;
    s->reward_cell_layout = "the grid point queried (mean: f there)";
    s->reports_regret = 1;
    memcpy(s->data.bytes, &c, sizeof c);
    return 0;
}

static int funcopt_create(const vb_task_host *h, const vb_task_spec *spec, int64_t n_envs, void **state, char *err,
                          size_t err_len) {
    funcopt_state *st = calloc(1, sizeof *st);
    if (!st) return snprintf(err, err_len, "out of memory"), -1;
    *state = st;
    funcopt_consts c;
    memcpy(&c, spec->data.bytes, sizeof c);
    size_t N = (size_t)c.points, n = (size_t)n_envs;
    st->points = c.points;
    st->ell_min = c.ell_min;
    st->ell_max = c.ell_max;
    st->noise_std = c.noise_std;
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

static int funcopt_reset_episode(void *state, const vb_task_io *io, int64_t i) {
    funcopt_state *st = state;
    st->best[i] = -INFINITY;
    io->obs[i * 2] = 0.0f;
    io->obs[i * 2 + 1] = 0.0f;
    return 0;
}

/* Draws: one uniform_double for l, then N normals (2 words each) for z. */
static int funcopt_reset_task(void *state, const vb_task_io *io, int64_t i) {
    funcopt_state *st = state;
    vb_rng *rng = vb__env_rng(io, i);
    int64_t N = st->points;
    double *f = &st->f[i * N];
    st->ell[i] = st->ell_min + (st->ell_max - st->ell_min) * vb_rng_uniform_double(rng);
    vb_gp_rbf_gram(st->x, N, st->ell[i], VB_GP_JITTER, st->gram);
    if (vb_cholesky(st->gram, N) != 0)
        return snprintf(io->err, io->err_len, "non-positive pivot while factoring the task's covariance"), -1;
    vb_gp_sample(NULL, st->gram, N, rng, st->z, f);
    int64_t best = 0;
    for (int64_t j = 1; j < N; j++)
        if (f[j] > f[best]) best = j;
    st->argmax[i] = best;
    return funcopt_reset_episode(st, io, i);
}

static int funcopt_step(void *state, const vb_task_io *io, const int32_t *actions) {
    funcopt_state *st = state;
    for (int64_t i = 0; i < io->n; i++) {
        int32_t a = actions[i];
        const double *f = &st->f[i * st->points];
        double noise = st->noise_std > 0 ? st->noise_std * vb_rng_normal_double(vb__env_rng(io, i)) : 0.0;
        io->reward[i] = (float)(f[a] + noise);
        if (f[a] > st->best[i]) st->best[i] = f[a];
        io->regret[i] = (float)(f[st->argmax[i]] - st->best[i]);
        io->obs[i * 2] = (float)st->x[a];
        io->obs[i * 2 + 1] = 1.0f;
    }
    return 0;
}

static void funcopt_transition(const vb_task_spec *s, const float *obs, int32_t a, float *next) {
    next[0] = (float)((double)a / (double)(s->num_actions - 1));
    next[1] = 1.0f;
}

static int64_t funcopt_reward_cell(const vb_task_spec *s, const float *obs, int32_t a, const float *next) {
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

/* every episode starts from the same observation, (0, 0): start_obs NULL */

static void funcopt_task_cells(void *state, int64_t i, float *out) {
    const funcopt_state *st = state;
    for (int64_t k = 0; k < st->points; k++) out[k] = (float)st->f[i * st->points + k];
}

const vb_task_family vb__funcopt_family = {
    VB_TASK_FAMILY_INIT,
    .name = "funcopt",
    .description = "function optimisation: a GP sample on a grid, one noisy query per step",
    .spec = funcopt_spec,
    .create = funcopt_create,
    .destroy = funcopt_destroy,
    .reset_task = funcopt_reset_task,
    .reset_episode = funcopt_reset_episode,
    .step = funcopt_step,
    .transition = funcopt_transition,
    .reward_cell = funcopt_reward_cell,
    .task_cells = funcopt_task_cells,
};
