/* Funcopt agents: the oracle's zero regret, the GP agents against random
 * search on the same tasks, and robustness to noise-free repeats. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "agent_run.h"
#include "common/params/params.h"
#include "common/envs/funcopt.h"

static vb_config funcopt_cfg(int64_t points, int64_t queries, double noise) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cfg.env.name = VB_ENV_FUNCOPT;
    cfg.env.points = points;
    cfg.env.queries = queries;
    cfg.env.noise_std = noise;
    return cfg;
}

typedef struct maxima {
    double fmax[64];
} maxima;

static void record_max(const vb_env_batch *env, void *ctx) {
    maxima *m = ctx;
    for (int64_t i = 0; i < env->n; i++) m->fmax[i] = vb_funcopt_values(env, i)[vb_funcopt_argmax(env, i)];
}

Test(agents_funcopt, oracle_queries_the_maximum_every_time) {
    vb_config cfg = funcopt_cfg(32, 10, 0.0);
    maxima m;
    vb_test_returns r;
    vb_test_run_agent(&cfg, "oracle", 64, 1, &r, record_max, &m);
    for (int i = 0; i < 64; i++) {
        cr_assert_eq(r.final_regret[i], 0.0);
        cr_assert_float_eq(r.episode_return[i], 10 * m.fmax[i], 1e-5);
    }
    vb_test_returns_free(&r);
}

/* On the default family (64 points, 30 queries) and the same 200 tasks (the
 * env streams do not depend on the actions), each GP agent collects more
 * reward than random search, by more than 5 standard errors of the paired
 * difference, and ends with less than half its simple regret (measured: about
 * 28 vs -1 in reward, under 0.01 vs 0.06 in regret). */
Test(agents_funcopt, gp_agents_beat_random_search) {
    enum { N = 200 };
    vb_config cfg = funcopt_cfg(64, 30, 0.01);
    vb_test_returns rnd;
    vb_test_run_agent(&cfg, "random", N, 2, &rnd, NULL, NULL);
    const char *names[] = {"gp-ucb", "gp-ei", "gp-thompson"};
    for (int k = 0; k < 3; k++) {
        vb_test_returns r;
        vb_test_run_agent(&cfg, names[k], N, 2, &r, NULL, NULL);
        double sum = 0, sq = 0;
        for (int i = 0; i < N; i++) {
            double d = r.episode_return[i] - rnd.episode_return[i];
            sum += d;
            sq += d * d;
        }
        double mean = sum / N, se = sqrt((sq / N - mean * mean) / (N - 1));
        cr_assert_gt(mean, 5 * se, "%s: %f vs %f (paired se %f)", names[k], r.mean, rnd.mean, se);
        cr_assert_lt(r.regret_mean, 0.5 * rnd.regret_mean, "%s: %f vs %f", names[k], r.regret_mean, rnd.regret_mean);
        vb_test_returns_free(&r);
    }
    vb_test_returns_free(&rnd);
}

/* Without noise, more queries than points force repeats: the posterior turns
 * singular at the queried points and the agents must keep acting sanely. */
Test(agents_funcopt, gp_agents_survive_noise_free_repeats) {
    vb_config cfg = funcopt_cfg(8, 24, 0.0);
    const char *names[] = {"gp-ucb", "gp-ei", "gp-thompson"};
    for (int k = 0; k < 3; k++) {
        vb_test_returns r;
        vb_test_run_agent(&cfg, names[k], 16, 3, &r, NULL, NULL);
        for (int i = 0; i < 16; i++) {
            cr_assert(isfinite(r.episode_return[i]), "%s task %d", names[k], i);
            cr_assert_eq(r.final_regret[i], 0.0, "%s task %d: %f", names[k], i, r.final_regret[i]);
        }
        vb_test_returns_free(&r);
    }
}

/* The posterior storage of a huge batch is refused with a message before
 * anything is allocated or read from the envs: a batch of 20000 envs of 1024
 * points (160 GiB of covariances) is described, not built. */
Test(agents_funcopt, oversized_posteriors_are_refused) {
    vb_config cfg = funcopt_cfg(1024, 1, 0.01);
    char err[512];
    vb_env_batch env;
    memset(&env, 0, sizeof env);
    cr_assert_eq(vb_env_spec_from_config(&cfg, &env.spec, err, sizeof err), 0, "%s", err);
    env.n = 20000;
    vb_agent *a = NULL;
    cr_assert_eq(vb_agent_create(&a, "gp-ucb", &env, 1, 0, err, sizeof err), VB_AGENT_EUSAGE);
    cr_assert(strstr(err, "env.batch"), "%s", err);
    cr_assert_null(a);
}
