/* Bandit agents: the Bayes-optimal DP against values worked by hand and an
 * independent recursion, its policy, Thompson sampling and UCB1. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent_run.h"
#include "common/baselines/bandit_dp.h"
#include "common/params/params.h"

static char err[512];

static double dp_value(int64_t K, int64_t H, double a, double b) {
    vb_bandit_dp *dp = NULL;
    cr_assert_eq(vb_bandit_dp_create(&dp, K, H, a, b, 1 << 22, err, sizeof err), 0, "%s", err);
    double v = vb_bandit_dp_value(dp);
    vb_bandit_dp_destroy(dp);
    return v;
}

/* K=2, H=1: one pull of an arm whose mean under Beta(1,1) is 1/2: V = 1/2. */
Test(agents_bandit, dp_one_pull_is_the_prior_mean) { cr_assert_float_eq(dp_value(2, 1, 1, 1), 0.5, 1e-15); }

/* K=2, H=2: pull an arm (1/2). After a success its posterior mean is
 * (1+1)/(2+1) = 2/3 > 1/2: pull it again (2/3). After a failure it is 1/3 < 1/2:
 * pull the other arm (1/2). V = 1/2 + 1/2 * 2/3 + 1/2 * 1/2 = 13/12. */
Test(agents_bandit, dp_two_pulls_worked_by_hand) { cr_assert_float_eq(dp_value(2, 2, 1, 1), 13.0 / 12.0, 1e-15); }

/* One arm: no choice, the total is H times the prior mean (the posterior
 * mean is a martingale): 3 * 2/3 = 2 for Beta(2, 1). */
Test(agents_bandit, dp_single_arm_is_h_times_the_mean) { cr_assert_float_eq(dp_value(1, 3, 2, 1), 2.0, 1e-14); }

/* The Bayes-optimal value written out independently: a plain recursion over
 * every arm's (successes, failures), memoised on the arms sorted (they are
 * exchangeable under a common prior), V(h) = max_a p_a (1 + V') + (1 - p_a) V''
 * with p_a = (alpha + s_a) / (alpha + beta + s_a + f_a). */
enum { REF_MAX_K = 5, REF_SLOTS = 1 << 20 };
typedef struct ref_dp {
    int K;
    double a, b;
    uint64_t key[REF_SLOTS];
    double val[REF_SLOTS];
} ref_dp;

static uint64_t ref_key(const int *s, const int *f, int K, int h) {
    int pair[REF_MAX_K];
    for (int k = 0; k < K; k++) pair[k] = s[k] * 32 + f[k];
    for (int i = 1; i < K; i++) /* insertion sort */
        for (int j = i; j > 0 && pair[j - 1] > pair[j]; j--) {
            int t = pair[j];
            pair[j] = pair[j - 1];
            pair[j - 1] = t;
        }
    uint64_t key = (uint64_t)h + 1;
    for (int k = 0; k < K; k++) key = key * 1024 + (uint64_t)pair[k];
    return key;
}

static double ref_value(ref_dp *r, int *s, int *f, int h) {
    if (h == 0) return 0;
    uint64_t key = ref_key(s, f, r->K, h), slot = (key * 0x9E3779B97F4A7C15ull) >> 44;
    while (r->key[slot] && r->key[slot] != key) slot = (slot + 1) & (REF_SLOTS - 1);
    if (r->key[slot] == key) return r->val[slot];
    double best = -1;
    for (int k = 0; k < r->K; k++) {
        double p = (r->a + s[k]) / (r->a + r->b + s[k] + f[k]);
        s[k]++;
        double win = ref_value(r, s, f, h - 1);
        s[k]--;
        f[k]++;
        double lose = ref_value(r, s, f, h - 1);
        f[k]--;
        double q = p * (1 + win) + (1 - p) * lose;
        if (q > best) best = q;
    }
    r->key[slot] = key;
    r->val[slot] = best;
    return best;
}

static double ref_dp_value(int K, int H, double a, double b) {
    ref_dp *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->K = K;
    r->a = a;
    r->b = b;
    int s[REF_MAX_K] = {0}, f[REF_MAX_K] = {0};
    double v = ref_value(r, s, f, H);
    free(r);
    return v;
}

/* The DP against the recursion above: 2 arms over 10 and 20 pulls, 5 arms
 * over 10 (6.021786, 12.4313, 6.6600), a skewed prior. */
Test(agents_bandit, dp_matches_an_independent_recursion) {
    const int cases[][2] = {{2, 10}, {2, 20}, {5, 10}, {3, 12}};
    for (int i = 0; i < 4; i++) {
        double want = ref_dp_value(cases[i][0], cases[i][1], 1, 1);
        cr_assert_float_eq(dp_value(cases[i][0], cases[i][1], 1, 1), want, 1e-10, "K %d H %d: want %.10f",
                           cases[i][0], cases[i][1], want);
    }
    cr_assert_float_eq(dp_value(4, 8, 2, 5), ref_dp_value(4, 8, 2, 5), 1e-10);
    cr_assert_float_eq(ref_dp_value(2, 10, 1, 1), 6.021786, 1e-5);
}

Test(agents_bandit, dp_q_values_after_the_first_pull) {
    vb_bandit_dp *dp = NULL;
    cr_assert_eq(vb_bandit_dp_create(&dp, 2, 2, 1, 1, 1000, err, sizeof err), 0, "%s", err);
    double q[2];
    int32_t s[2] = {0, 0}, f[2] = {0, 0};
    cr_assert_eq(vb_bandit_dp_q(dp, s, f, q), 0);
    cr_assert_float_eq(q[0], 13.0 / 12.0, 1e-15);
    cr_assert_float_eq(q[1], 13.0 / 12.0, 1e-15);
    /* beliefs with a pull left: {(0,0),(0,0)}, {(1,0),(0,0)}, {(0,1),(0,0)} */
    cr_assert_eq(vb_bandit_dp_states(dp), 3);
    s[0] = 1; /* arm 0 paid: 2/3 against 1/2 */
    cr_assert_eq(vb_bandit_dp_q(dp, s, f, q), 0);
    cr_assert_float_eq(q[0], 2.0 / 3.0, 1e-15);
    cr_assert_float_eq(q[1], 0.5, 1e-15);
    s[0] = 0;
    f[0] = 1; /* arm 0 failed: 1/3 against 1/2 */
    cr_assert_eq(vb_bandit_dp_q(dp, s, f, q), 0);
    cr_assert_float_eq(q[0], 1.0 / 3.0, 1e-15);
    cr_assert_float_eq(q[1], 0.5, 1e-15);
    f[1] = 1; /* two pulls: the horizon is spent */
    cr_assert_eq(vb_bandit_dp_q(dp, s, f, q), -1);
    vb_bandit_dp_destroy(dp);
}

Test(agents_bandit, dp_refuses_problems_beyond_its_budget) {
    vb_bandit_dp *dp = NULL;
    cr_assert_eq(vb_bandit_dp_create(&dp, 5, 5000, 1, 1, 1 << 22, err, sizeof err), -1);
    cr_assert_null(dp);
    cr_assert(strstr(err, "beliefs"), "%s", err);
    /* over the budget only once solving: K=5, H=10 has more than 1000 beliefs */
    cr_assert_eq(vb_bandit_dp_create(&dp, 5, 10, 1, 1, 1000, err, sizeof err), -1);
    cr_assert_null(dp);
    cr_assert_eq(vb_bandit_dp_create(&dp, 2, 2, 0, 1, 1000, err, sizeof err), -1);
}

static vb_config bandit_cfg(int64_t K, int64_t H) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cfg.env.name = VB_ENV_BANDIT;
    cfg.env.arms = K;
    cfg.env.horizon = H;
    return cfg;
}

/* The agent follows the hand-worked policy of K=2, H=2. */
Test(agents_bandit, bayes_optimal_stays_after_a_success_and_switches_after_a_failure) {
    vb_config cfg = bandit_cfg(2, 2);
    vb_env_batch *env = NULL;
    vb_agent *a = NULL;
    cr_assert_eq(vb_env_batch_from_config(&env, &cfg, 64, 1, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_agent_create(&a, "bayes-optimal", env, 1, 0, err, sizeof err), 0, "%s", err);
    int32_t acts[64];
    vb_agent_act(a, env, acts);
    for (int i = 0; i < 64; i++) cr_assert_eq(acts[i], 0);
    cr_assert_eq(vb_env_step(env, acts), VB_ENV_OK);
    vb_agent_observe(a, env, acts);
    float paid[64];
    memcpy(paid, env->reward, sizeof paid);
    cr_assert_eq(vb_env_reset_finished(env), VB_ENV_OK);
    vb_agent_act(a, env, acts);
    int stays = 0;
    for (int i = 0; i < 64; i++) {
        cr_assert_eq(acts[i], paid[i] == 1.0f ? 0 : 1, "env %d", i);
        stays += acts[i] == 0;
    }
    cr_assert(stays > 0 && stays < 64);
    vb_agent_destroy(a);
    vb_env_batch_destroy(env);
}

Test(agents_bandit, ucb1_tries_every_arm_once_in_order) {
    vb_config cfg = bandit_cfg(5, 10);
    vb_env_batch *env = NULL;
    vb_agent *a = NULL;
    cr_assert_eq(vb_env_batch_from_config(&env, &cfg, 8, 2, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_agent_create(&a, "ucb1", env, 2, 0, err, sizeof err), 0, "%s", err);
    int32_t acts[8];
    for (int t = 0; t < 10; t++) {
        vb_agent_act(a, env, acts);
        for (int i = 0; i < 8; i++) {
            if (t < 5) cr_assert_eq(acts[i], t);
            cr_assert(acts[i] >= 0 && acts[i] < 5);
        }
        cr_assert_eq(vb_env_step(env, acts), VB_ENV_OK);
        vb_agent_observe(a, env, acts);
        vb_env_reset_finished(env);
    }
    vb_agent_destroy(a);
    vb_env_batch_destroy(env);
}

/* On the same tasks: random earns H/2, Thompson more, Bayes-optimal the most,
 * and Bayes-optimal is within sampling error of its exact value. */
Test(agents_bandit, agents_rank_as_expected_on_the_same_tasks) {
    vb_config cfg = bandit_cfg(5, 10);
    vb_test_returns rnd, ts, ucb, bo;
    vb_test_run_agent(&cfg, "random", 4000, 3, &rnd, NULL, NULL);
    vb_test_run_agent(&cfg, "thompson", 4000, 3, &ts, NULL, NULL);
    vb_test_run_agent(&cfg, "ucb1", 4000, 3, &ucb, NULL, NULL);
    vb_test_run_agent(&cfg, "bayes-optimal", 4000, 3, &bo, NULL, NULL);
    cr_assert(fabs(rnd.mean - 5.0) < 4 * rnd.se, "random %f +- %f", rnd.mean, rnd.se);
    cr_assert(fabs(bo.mean - 6.66) < 4 * bo.se, "bayes-optimal %f +- %f", bo.mean, bo.se);
    cr_assert_gt(ts.mean, rnd.mean + 0.3);
    cr_assert_gt(ucb.mean, rnd.mean + 0.3);
    cr_assert_gt(bo.mean, ts.mean + 0.3);
    vb_test_returns_free(&rnd);
    vb_test_returns_free(&ts);
    vb_test_returns_free(&ucb);
    vb_test_returns_free(&bo);
}

Test(agents_bandit, thompson_is_deterministic_per_stream) {
    vb_config cfg = bandit_cfg(3, 6);
    vb_test_returns a, b, c;
    vb_test_run_agent(&cfg, "thompson", 50, 9, &a, NULL, NULL);
    vb_test_run_agent(&cfg, "thompson", 50, 9, &b, NULL, NULL);
    vb_test_run_agent(&cfg, "thompson", 50, 10, &c, NULL, NULL);
    cr_assert_eq(memcmp(a.episode_return, b.episode_return, 50 * 6 * sizeof(double)), 0);
    cr_assert_neq(memcmp(a.episode_return, c.episode_return, 50 * 6 * sizeof(double)), 0);
    vb_test_returns_free(&a);
    vb_test_returns_free(&b);
    vb_test_returns_free(&c);
}
