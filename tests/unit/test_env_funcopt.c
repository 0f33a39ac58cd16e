/* funcopt: spec, observations, regret, noise, lengthscales, GP sample
 * statistics and determinism. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "common/envs/env.h"
#include "common/envs/funcopt.h"
#include "common/envs/gp.h"
#include "common/params/params.h"

static char err[512];

static vb_env_batch *make(int64_t n, int64_t points, int64_t queries, double lmin, double lmax, double noise,
                          uint64_t seed, uint64_t base) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cfg.env.name = VB_ENV_FUNCOPT;
    cfg.env.points = points;
    cfg.env.queries = queries;
    cfg.env.lengthscale_min = lmin;
    cfg.env.lengthscale_max = lmax;
    cfg.env.noise_std = noise;
    vb_env_batch *b = NULL;
    cr_assert_eq(vb_env_batch_from_config(&b, &cfg, n, seed, base, err, sizeof err), 0, "%s", err);
    return b;
}

Test(env_funcopt, spec_is_one_episode_of_t_queries) {
    vb_env_batch *b = make(1, 64, 30, 0.05, 0.3, 0.01, 1, 0);
    const vb_env_spec *s = &b->spec;
    cr_assert_str_eq(s->name, "funcopt");
    cr_assert_eq(s->obs_size, 2);
    cr_assert_eq(s->num_actions, 64);
    cr_assert_eq(s->reward_kind, VB_REWARD_GAUSSIAN);
    cr_assert_float_eq(s->reward_noise_std, 0.01, 1e-15);
    cr_assert_eq(s->episode_length, 30);
    cr_assert_eq(s->episodes_per_task, 1);
    cr_assert_eq(s->steps_per_task, 30);
    cr_assert(s->task_independent_transitions);
    cr_assert(s->reports_regret);
    cr_assert_eq(s->reward_cells, 64);
    vb_env_batch_destroy(b);
}

Test(env_funcopt, observations_rewards_and_simple_regret) {
    vb_env_batch *b = make(1, 16, 16, 0.1, 0.1, 0.0, 2, 0);
    const double *f = vb_funcopt_values(b, 0), *x = vb_funcopt_grid(b);
    int64_t best = vb_funcopt_argmax(b, 0);
    for (int j = 0; j < 16; j++) cr_assert(f[j] <= f[best]);
    cr_assert(b->obs[0] == 0.0f && b->obs[1] == 0.0f);
    double prev = INFINITY, seen = -INFINITY;
    for (int32_t t = 0; t < 16; t++) {
        int32_t a = (t * 5) % 16;
        float obs[2] = {b->obs[0], b->obs[1]}, next[2];
        vb_env_transition(&b->spec, obs, a, next);
        cr_assert_eq(vb_env_step(b, &a), VB_ENV_OK);
        cr_assert(b->obs[0] == (float)x[a] && b->obs[1] == 1.0f);
        cr_assert(next[0] == b->obs[0] && next[1] == b->obs[1]);
        cr_assert_eq(vb_env_reward_cell(&b->spec, obs, a, next), a);
        cr_assert_eq(b->reward[0], (float)f[a]); /* noise_std 0 */
        if (f[a] > seen) seen = f[a];
        cr_assert_float_eq(b->regret[0], f[best] - seen, 1e-6);
        cr_assert(b->regret[0] <= prev && b->regret[0] >= 0);
        prev = b->regret[0];
        cr_assert_eq(b->done[0], t == 15);
        cr_assert_eq(b->task_done[0], t == 15);
    }
    cr_assert_eq(b->regret[0], 0.0f); /* 5 is coprime to 16: every point was queried */
    vb_env_batch_destroy(b);
}

Test(env_funcopt, observation_noise_has_the_configured_std) {
    enum { T = 20000 };
    vb_env_batch *b = make(1, 8, T, 0.2, 0.2, 0.5, 3, 0);
    const double *f = vb_funcopt_values(b, 0);
    double sum = 0, sq = 0;
    for (int t = 0; t < T; t++) {
        int32_t a = t % 8;
        cr_assert_eq(vb_env_step(b, &a), VB_ENV_OK);
        double e = b->reward[0] - f[a];
        sum += e;
        sq += e * e;
    }
    double mean = sum / T, sd = sqrt(sq / T - mean * mean);
    cr_assert_float_eq(mean, 0.0, 0.02, "%f", mean); /* se 0.0035 */
    cr_assert_float_eq(sd, 0.5, 0.015, "%f", sd);    /* se 0.0025 */
    vb_env_batch_destroy(b);
}

Test(env_funcopt, lengthscales_are_uniform_in_the_range) {
    enum { N = 4000 };
    vb_env_batch *b = make(N, 4, 1, 0.05, 0.3, 0.01, 4, 0);
    double sum = 0;
    for (int64_t i = 0; i < N; i++) {
        double l = vb_funcopt_lengthscale(b, i);
        cr_assert(l >= 0.05 && l <= 0.3);
        sum += l;
    }
    cr_assert_float_eq(sum / N, 0.175, 0.006); /* sd 0.072, se 0.0011 */
    vb_env_batch_destroy(b);
}

/* The empirical mean and covariance of many draws match the prior: zero mean,
 * k(x_i, x_j) = exp(-(x_i - x_j)^2 / (2 l^2)) + jitter on the diagonal. The
 * standard error of a sample covariance is sqrt((1 + k^2) / M) <= 0.01 here. */
Test(env_funcopt, gp_draws_have_the_kernel_covariance) {
    enum { M = 20000, P = 8 };
    vb_env_batch *b = make(M, P, 1, 0.2, 0.2, 0.01, 5, 0);
    const double *x = vb_funcopt_grid(b);
    double mean[P] = {0}, cov[P][P] = {{0}};
    for (int64_t k = 0; k < M; k++) {
        const double *f = vb_funcopt_values(b, k);
        for (int i = 0; i < P; i++) {
            mean[i] += f[i] / M;
            for (int j = 0; j < P; j++) cov[i][j] += f[i] * f[j] / M;
        }
    }
    for (int i = 0; i < P; i++) {
        cr_assert(fabs(mean[i]) < 0.04, "mean %d: %f", i, mean[i]);
        for (int j = 0; j < P; j++) {
            double want = vb_gp_rbf(x[i], x[j], 0.2) + (i == j ? VB_GP_JITTER : 0.0);
            double got = cov[i][j] - mean[i] * mean[j];
            cr_assert(fabs(got - want) < 0.05, "cov(%d, %d): %f vs %f", i, j, got, want);
        }
    }
    vb_env_batch_destroy(b);
}

Test(env_funcopt, same_stream_same_function_other_stream_another) {
    vb_env_batch *a = make(3, 32, 5, 0.05, 0.3, 0.01, 6, 10), *c = make(1, 32, 5, 0.05, 0.3, 0.01, 6, 12),
                 *d = make(3, 32, 5, 0.05, 0.3, 0.01, 7, 10);
    const double *fa = vb_funcopt_values(a, 2), *fc = vb_funcopt_values(c, 0), *fd = vb_funcopt_values(d, 2);
    int differ = 0;
    for (int j = 0; j < 32; j++) {
        cr_assert_eq(fa[j], fc[j]);
        differ += fa[j] != fd[j];
    }
    cr_assert_eq(differ, 32);
    cr_assert_eq(vb_funcopt_lengthscale(a, 2), vb_funcopt_lengthscale(c, 0));
    /* wrong family or index: refused */
    cr_assert_null(vb_funcopt_values(a, 3));
    cr_assert_lt(vb_funcopt_lengthscale(a, -1), 0);
    vb_env_batch_destroy(a);
    vb_env_batch_destroy(c);
    vb_env_batch_destroy(d);
}

/* The largest lengthscale the schema allows still factors at the largest grid
 * of this test (the jitter keeps the Gram matrix positive definite). */
Test(env_funcopt, wide_kernels_still_factor) {
    vb_env_batch *b = make(2, 256, 1, 100, 100, 0.0, 8, 0);
    const double *f = vb_funcopt_values(b, 0);
    for (int j = 0; j < 256; j++) cr_assert(isfinite(f[j]));
    /* a nearly constant function: neighbouring points agree closely */
    cr_assert(fabs(f[0] - f[255]) < 0.05, "%f %f", f[0], f[255]);
    vb_env_batch_destroy(b);
}

Test(env_funcopt, task_cells_are_the_function_values) {
    vb_env_batch *b = make(4, 16, 5, 0.1, 0.2, 0.5, 3, 0);
    float cells[16];
    for (int64_t i = 0; i < b->n; i++) {
        const double *f = vb_funcopt_values(b, i);
        cr_assert_eq(vb_env_task_cells(b, i, cells), VB_ENV_OK);
        for (int k = 0; k < 16; k++) cr_assert_eq(cells[k], (float)f[k]);
    }
    vb_env_batch_destroy(b);
}
