/* Gridworld agents: the oracle's exact return per goal, greedy search's exact
 * value over the 21 goals, and a hand-checked search path. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "agent_run.h"
#include "common/envs/gridworld.h"
#include "common/params/params.h"

typedef struct goals {
    int32_t x[512], y[512];
} goals;

static void record_goals(const vb_env_batch *env, void *ctx) {
    goals *g = ctx;
    for (int64_t i = 0; i < env->n; i++) vb_gridworld_goal(env, i, &g->x[i], &g->y[i]);
}

static vb_config grid_cfg(void) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cfg.env.name = VB_ENV_GRIDWORLD;
    return cfg;
}

/* Goal at distance d: d - 1 steps of -0.1, then 15 - d + 1 steps of +1. */
Test(agents_gridworld, oracle_earns_the_known_goal_optimum_every_episode) {
    vb_config cfg = grid_cfg();
    goals g;
    vb_test_returns r;
    vb_test_run_agent(&cfg, "oracle", 300, 1, &r, record_goals, &g);
    double total = 0;
    for (int i = 0; i < 300; i++) {
        int d = g.x[i] + g.y[i];
        double want = (16 - d) - 0.1 * (d - 1);
        for (int e = 0; e < 4; e++) cr_assert_float_eq(r.episode_return[i * 4 + e], want, 1e-5, "task %d", i);
        total += 4 * want;
    }
    cr_assert_float_eq(r.mean, total / 300, 1e-6);
    vb_test_returns_free(&r);
}

/* Greedy search is deterministic given the goal, so its exact value is the
 * average over the 21 goals of one run each; 500 tasks meet every goal
 * (missing one has probability below 1e-9). From episode 3 on it has always
 * found the goal on 5x5 and earns what the oracle earns. */
Test(agents_gridworld, greedy_search_exact_value_is_36_90) {
    vb_config cfg = grid_cfg();
    goals g;
    vb_test_returns r;
    vb_test_run_agent(&cfg, "greedy-search", 500, 2, &r, record_goals, &g);
    double per_goal[25];
    int seen[25] = {0};
    for (int i = 0; i < 500; i++) {
        int c = g.y[i] * 5 + g.x[i];
        double ret = 0;
        for (int e = 0; e < 4; e++) ret += r.episode_return[i * 4 + e];
        if (seen[c]) cr_assert_float_eq(ret, per_goal[c], 1e-9, "goal %d: not deterministic", c);
        per_goal[c] = ret;
        seen[c] = 1;
        int d = g.x[i] + g.y[i];
        double oracle = (16 - d) - 0.1 * (d - 1);
        for (int e = 2; e < 4; e++) cr_assert_float_eq(r.episode_return[i * 4 + e], oracle, 1e-5);
    }
    double sum = 0;
    int goals_seen = 0;
    for (int c = 0; c < 25; c++) {
        if (!seen[c]) continue;
        goals_seen++;
        sum += per_goal[c];
    }
    cr_assert_eq(goals_seen, 21);
    cr_assert_float_eq(sum / 21, 36.90, 1e-4, "%f", sum / 21);
    /* goal (2, 0) is the first candidate it tries (distance 2, first in
     * row-major order): found at step 2, like the oracle: 4 * 13.9 */
    cr_assert_float_eq(per_goal[2], 55.6, 1e-4);
    /* goal (0, 2) ties at distance 2 but comes second; the sweep then takes the
     * nearest cells first: (1,0) (2,0) (3,0) (4,0) (4,1) (3,1) (2,1) (2,2) (1,2)
     * (0,2), found at step 10 after 9 misses: 6 - 0.9 in episode 1, then 13.9 */
    cr_assert_float_eq(per_goal[10], 5.1 + 3 * 13.9, 1e-4, "%f", per_goal[10]);
    vb_test_returns_free(&r);
}

Test(agents_gridworld, random_is_near_its_exact_value) {
    vb_config cfg = grid_cfg();
    vb_test_returns r;
    vb_test_run_agent(&cfg, "random", 3000, 3, &r, NULL, NULL);
    cr_assert(fabs(r.mean - -4.66189) < 4 * r.se, "%f +- %f", r.mean, r.se);
    vb_test_returns_free(&r);
}

Test(agents_gridworld, agents_of_other_families_are_refused) {
    vb_config cfg = grid_cfg();
    char err[512];
    vb_env_batch *env = NULL;
    vb_agent *a = NULL;
    cr_assert_eq(vb_env_batch_from_config(&env, &cfg, 2, 1, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_agent_create(&a, "thompson", env, 1, 0, err, sizeof err), VB_AGENT_EUSAGE);
    cr_assert_null(a);
    cr_assert(strstr(err, "random, oracle, greedy-search"), "%s", err);
    cr_assert_eq(vb_agent_create(&a, "nope", env, 1, 0, err, sizeof err), VB_AGENT_EUSAGE);
    cr_assert_not_null(vb_agent_find("oracle", VB_ENV_FUNCOPT));
    cr_assert_null(vb_agent_find("greedy-search", VB_ENV_BANDIT));
    vb_env_batch_destroy(env);
}
