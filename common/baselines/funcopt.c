/* funcopt — the funcopt reference agents.
 *
 * The GP agents keep, per env, the exact GP posterior of f on the grid
 * (gp.h: mean (N) and covariance (N, N), conditioned one query at a time),
 * starting from the task's true prior: they peek at the task's lengthscale and
 * know the noise std and the jitter, never f itself. Ties are broken
 * uniformly at random from env i's agent stream (only the first query meets
 * any: the prior is stationary).
 *
 * gp-ucb: argmax mean + sqrt(beta_t) sd, beta_t = 2 ln(N t^2 pi^2 / (6 delta)),
 *   t = 1, 2, ... the query number, delta = 0.1 (Srinivas et al. 2010, Thm 1).
 * gp-ei: argmax expected improvement (mean - m*) Phi(z) + sd phi(z),
 *   z = (mean - m*) / sd, over the incumbent m* = the largest posterior mean
 *   at a queried point (the prior mean before the first query).
 * gp-thompson: argmax of one draw of f from the posterior (Cholesky of the
 *   covariance; a diagonal of up to 1e-6 is added only when the factorisation
 *   meets a zero pivot, as noise-free repeats make the covariance singular).
 * oracle: peeks at argmax f and queries it every time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impl.h"
#include "../envs/funcopt.h"
#include "../envs/gp.h"

#define UCB_DELTA 0.1
#define PI 3.14159265358979323846
/* Refuse posterior storage above this many bytes per agent. */
#define GP_MAX_BYTES ((double)(1u << 30))

typedef struct gp_agent {
    int64_t N;
    double noise_var;
    const double *x;   /* the env's grid */
    double *mean;      /* (n, N) */
    double *cov;       /* (n, N, N) */
    uint8_t *queried;  /* (n, N) */
    int64_t *t;        /* (n) queries so far */
    int64_t *target;   /* (n) oracle: argmax f */
    double *score;     /* (N) scratch */
    double *chol;      /* (N, N) scratch: gp-thompson */
    double *z;         /* (N) scratch: gp-thompson */
} gp_agent;

static void gp_agent_destroy(void *impl) {
    gp_agent *s = impl;
    free(s->mean);
    free(s->cov);
    free(s->queried);
    free(s->t);
    free(s->target);
    free(s->score);
    free(s->chol);
    free(s->z);
    free(s);
}

static int gp_agent_alloc(vb_agent *a, const vb_env_batch *env, int posterior, char *err, size_t err_len) {
    int64_t n = env->n, N = env->spec.points;
    double bytes = (double)n * (double)N * (double)N * sizeof(double);
    if (posterior && bytes > GP_MAX_BYTES) {
        snprintf(err, err_len,
                 "%s: the GP posteriors of %lld envs over %lld points need %.1f GiB (at most 1): "
                 "lower env.batch or env.points",
                 a->name, (long long)n, (long long)N, bytes / (1 << 30));
        return VB_AGENT_EUSAGE;
    }
    gp_agent *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    a->impl = s;
    s->N = N;
    s->noise_var = env->spec.reward_noise_std * env->spec.reward_noise_std;
    s->x = vb_funcopt_grid(env);
    s->t = calloc((size_t)n, sizeof *s->t);
    s->target = calloc((size_t)n, sizeof *s->target);
    s->score = calloc((size_t)N, sizeof *s->score);
    int ok = s->t && s->target && s->score;
    if (posterior) {
        s->mean = calloc((size_t)(n * N), sizeof *s->mean);
        s->cov = calloc((size_t)(n * N * N), sizeof *s->cov);
        s->queried = calloc((size_t)(n * N), 1);
        s->chol = calloc((size_t)(N * N), sizeof *s->chol);
        s->z = calloc((size_t)N, sizeof *s->z);
        ok = ok && s->mean && s->cov && s->queried && s->chol && s->z;
    }
    if (!ok) return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    return 0;
}

static void gp_reset(vb_agent *a, const vb_env_batch *env, int64_t i) {
    gp_agent *s = a->impl;
    int64_t N = s->N;
    vb_gp_rbf_gram(s->x, N, vb_funcopt_lengthscale(env, i), VB_GP_JITTER, &s->cov[i * N * N]);
    memset(&s->mean[i * N], 0, (size_t)N * sizeof *s->mean);
    memset(&s->queried[i * N], 0, (size_t)N);
    s->t[i] = 0;
}

static void gp_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions) {
    gp_agent *s = a->impl;
    int64_t N = s->N;
    for (int64_t i = 0; i < env->n; i++) {
        vb_gp_observe(&s->mean[i * N], &s->cov[i * N * N], N, actions[i], env->reward[i], s->noise_var);
        s->queried[i * N + actions[i]] = 1;
        s->t[i]++;
    }
}

static double sd_at(const double *cov, int64_t N, int64_t j) {
    double v = cov[j * N + j];
    return v > 0 ? sqrt(v) : 0.0;
}

/* --- gp-ucb ------------------------------------------------------------- */

static void ucb_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    gp_agent *s = a->impl;
    int64_t N = s->N;
    for (int64_t i = 0; i < env->n; i++) {
        double t = (double)(s->t[i] + 1);
        double root_beta = sqrt(2.0 * log((double)N * t * t * PI * PI / (6.0 * UCB_DELTA)));
        const double *m = &s->mean[i * N], *c = &s->cov[i * N * N];
        for (int64_t j = 0; j < N; j++) s->score[j] = m[j] + root_beta * sd_at(c, N, j);
        actions[i] = (int32_t)vb_argmax(s->score, N, &a->rng[i]);
    }
}

static const vb_agent_ops ucb_ops = {.reset = gp_reset, .act = ucb_act,
                                     .observe = gp_observe, .destroy = gp_agent_destroy};

VB__AGENT_CREATE(vb__agent_gp_ucb_create) {
    a->ops = &ucb_ops;
    return gp_agent_alloc(a, env, 1, err, err_len);
}

/* --- gp-ei -------------------------------------------------------------- */

static double expected_improvement(double mean, double sd, double incumbent) {
    double d = mean - incumbent;
    if (!(sd > 1e-12)) return d > 0 ? d : 0.0;
    double z = d / sd;
    double cdf = 0.5 * erfc(-z / sqrt(2.0)), pdf = exp(-0.5 * z * z) / sqrt(2.0 * PI);
    return d * cdf + sd * pdf;
}

static void ei_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    gp_agent *s = a->impl;
    int64_t N = s->N;
    for (int64_t i = 0; i < env->n; i++) {
        const double *m = &s->mean[i * N], *c = &s->cov[i * N * N];
        const uint8_t *q = &s->queried[i * N];
        double incumbent = -INFINITY;
        for (int64_t j = 0; j < N; j++)
            if ((q[j] || s->t[i] == 0) && m[j] > incumbent) incumbent = m[j];
        for (int64_t j = 0; j < N; j++) s->score[j] = expected_improvement(m[j], sd_at(c, N, j), incumbent);
        actions[i] = (int32_t)vb_argmax(s->score, N, &a->rng[i]);
    }
}

static const vb_agent_ops ei_ops = {.reset = gp_reset, .act = ei_act,
                                    .observe = gp_observe, .destroy = gp_agent_destroy};

VB__AGENT_CREATE(vb__agent_gp_ei_create) {
    a->ops = &ei_ops;
    return gp_agent_alloc(a, env, 1, err, err_len);
}

/* --- gp-thompson -------------------------------------------------------- */

/* chol = factor of cov + eps I for the smallest eps in {0, 1e-10, 1e-8, 1e-6}
 * that factors; 0, or -1 when none does. */
static int factor_posterior(const double *cov, int64_t N, double *chol) {
    static const double eps[] = {0.0, 1e-10, 1e-8, 1e-6};
    for (size_t e = 0; e < sizeof eps / sizeof eps[0]; e++) {
        memcpy(chol, cov, (size_t)(N * N) * sizeof *chol);
        for (int64_t j = 0; j < N; j++) chol[j * N + j] += eps[e];
        if (vb_cholesky(chol, N) == 0) return 0;
    }
    return -1;
}

static void thompson_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    gp_agent *s = a->impl;
    int64_t N = s->N;
    for (int64_t i = 0; i < env->n; i++) {
        const double *m = &s->mean[i * N];
        if (factor_posterior(&s->cov[i * N * N], N, s->chol) == 0)
            vb_gp_sample(m, s->chol, N, &a->rng[i], s->z, s->score);
        else /* not met in practice: the covariance stays near-PSD; act on the mean */
            memcpy(s->score, m, (size_t)N * sizeof *s->score);
        actions[i] = (int32_t)vb_argmax(s->score, N, &a->rng[i]);
    }
}

static const vb_agent_ops thompson_ops = {.reset = gp_reset, .act = thompson_act,
                                          .observe = gp_observe, .destroy = gp_agent_destroy};

VB__AGENT_CREATE(vb__agent_gp_thompson_create) {
    a->ops = &thompson_ops;
    return gp_agent_alloc(a, env, 1, err, err_len);
}

/* --- oracle ------------------------------------------------------------- */

static void oracle_reset(vb_agent *a, const vb_env_batch *env, int64_t i) {
    gp_agent *s = a->impl;
    s->target[i] = vb_funcopt_argmax(env, i);
}

static void oracle_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    const gp_agent *s = a->impl;
    for (int64_t i = 0; i < env->n; i++) actions[i] = (int32_t)s->target[i];
}

static void oracle_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions) {}

static const vb_agent_ops oracle_ops = {.reset = oracle_reset, .act = oracle_act,
                                        .observe = oracle_observe, .destroy = gp_agent_destroy};

VB__AGENT_CREATE(vb__agent_funcopt_oracle_create) {
    a->ops = &oracle_ops;
    return gp_agent_alloc(a, env, 0, err, err_len);
}
