/* The exact Bayes-optimal GridNavi solver (gridworld_dp.h) and its agent.
 *
 * Independent check: before the first hit every observation is a miss, so a
 * policy is an open-loop path until then, and the Bayes-optimal value is the
 * best path's expected return over the uniformly drawn goal, with the
 * oracle's walk once the goal is seen. On 3x3 grids (5 candidate cells) every
 * path of a short task can be enumerated. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent_run.h"
#include "common/envs/gridworld.h"
#include "common/baselines/gridworld_dp.h"

static const float R_MISS = -0.1f, R_HIT = 1.0f;

/* The return of following path until goal is hit, then walking to it,
 * discounted by gamma (episode: the undiscounted return of each episode). */
static double path_return(int32_t g, int32_t EL, int32_t EP, const int32_t *path, int32_t goal, double gamma,
                          double *episode) {
    int32_t x = 0, y = 0, gx = goal % g, gy = goal / g, found = 0;
    double total = 0, discount = 1;
    for (int32_t t = 0; t < EL * EP; t++) {
        int32_t a = path[t];
        if (found) a = gx > x ? VB_GRID_RIGHT : gx < x ? VB_GRID_LEFT : gy > y ? VB_GRID_UP : gy < y ? VB_GRID_DOWN : 0;
        vb_gridworld_move(g, x, y, a, &x, &y);
        int hit = x == gx && y == gy;
        found |= hit;
        double r = hit ? R_HIT : R_MISS;
        total += discount * r;
        discount *= gamma;
        if (episode) episode[t / EL] += r;
        if ((t + 1) % EL == 0) x = y = 0;
    }
    return total;
}

/* The best open-loop path's expected return over the goals, by enumeration. */
static double brute_force(int32_t g, int32_t EL, int32_t EP, double gamma) {
    int32_t H = EL * EP, path[16], goals[32], n = 0;
    for (int32_t c = 0; c < g * g; c++)
        if (vb_gridworld_is_candidate(c % g, c / g)) goals[n++] = c;
    int64_t paths = 1;
    for (int32_t t = 0; t < H; t++) paths *= 5;
    double best = -INFINITY;
    for (int64_t p = 0; p < paths; p++) {
        int64_t q = p;
        for (int32_t t = 0; t < H; t++, q /= 5) path[t] = (int32_t)(q % 5);
        double v = 0;
        for (int32_t i = 0; i < n; i++) v += path_return(g, EL, EP, path, goals[i], gamma, NULL);
        best = fmax(best, v / n);
    }
    return best;
}

Test(gridworld_dp, matches_enumerating_every_search_path) {
    const int32_t clocks[3][2] = {{3, 2}, {2, 3}, {7, 1}};
    const double gammas[3] = {1.0, 0.9, 0.5};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int32_t EL = clocks[i][0], EP = clocks[i][1];
            double gamma = gammas[j];
            vb_gridworld_dp *dp = NULL;
            char err[256];
            cr_assert_eq(vb_gridworld_dp_solve(&dp, 3, EL, EP, R_MISS, R_HIT, gamma, 2, 1e9, err, sizeof err), 0, "%s",
                         err);
            double want = brute_force(3, EL, EP, gamma);
            cr_log_info("3x3, %d episodes of %d, gamma %g: DP %.9f, enumeration %.9f, %lld states", EP, EL, gamma,
                        dp->value, want, (long long)dp->states);
            cr_assert_float_eq(dp->value, want, 1e-9, "%d x %d, gamma %g", EP, EL, gamma);
            /* the kept path earns the value, and its undiscounted episodes are as reported */
            double episode[8] = {0}, total = 0, undiscounted = 0;
            for (int32_t c = 0; c < 9; c++)
                if (vb_gridworld_is_candidate(c % 3, c / 3))
                    total += path_return(3, EL, EP, dp->path, c, gamma, episode) / 5;
            cr_assert_float_eq(total, dp->value, 1e-9);
            for (int32_t e = 0; e < EP; e++) {
                cr_assert_float_eq(dp->episode[e], episode[e] / 5, 1e-9, "episode %d", e);
                undiscounted += dp->episode[e];
            }
            if (gamma == 1.0) cr_assert_float_eq(undiscounted, dp->value, 1e-9);
            vb_gridworld_dp_free(dp);
        }
}

/* The shipped gridworld trains with env.gamma 0.95 and is scored undiscounted:
 * on 5x5 with four 15-step episodes both objectives have the same optimal
 * search path, so a policy that searches worse than Bayes-optimal is not
 * what the discount asks for. */
Test(gridworld_dp, the_training_discount_keeps_the_undiscounted_optimum, .timeout = 120) {
    vb_gridworld_dp *scored = NULL, *trained = NULL;
    char err[256];
    cr_assert_eq(vb_gridworld_dp_solve(&scored, 5, 15, 4, R_MISS, R_HIT, 1.0, 2, 4e9, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_gridworld_dp_solve(&trained, 5, 15, 4, R_MISS, R_HIT, 0.95, 2, 4e9, err, sizeof err), 0, "%s", err);
    double total = 0;
    for (int e = 0; e < 4; e++) {
        cr_assert_float_eq(trained->episode[e], scored->episode[e], 1e-12, "episode %d", e);
        total += trained->episode[e];
    }
    cr_log_info("5x5, 4 x 15 steps: undiscounted optimum %.6f; gamma 0.95 optimum %.6f discounted, %.6f undiscounted "
                "(per episode %.3f %.3f %.3f %.3f)", scored->value, trained->value, total, trained->episode[0],
                trained->episode[1], trained->episode[2], trained->episode[3]);
    cr_assert_float_eq(total, scored->value, 1e-9);
    cr_assert_lt(trained->value, scored->value / 2, "a discounted value, not the undiscounted one");
    for (int64_t t = 0; t < 60; t++) cr_assert_eq(trained->path[t], scored->path[t], "step %lld", (long long)t);
    vb_gridworld_dp_free(scored);
    vb_gridworld_dp_free(trained);
}

/* On 5x5 the solver must beat greedy search (the same agent's exact value is
 * the average of its deterministic runs over the 21 goals), and its agent's
 * sampled return must agree with the computed one. */
Test(gridworld_dp, five_by_five_beats_greedy_search_and_its_agent_earns_the_computed_value) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cfg.env.name = VB_ENV_GRIDWORLD;
    cfg.env.episodes_per_task = 2;
    char err[256];
    vb_gridworld_dp *dp = NULL;
    cr_assert_eq(vb_gridworld_dp_solve(&dp, 5, 15, 2, R_MISS, R_HIT, 1.0, 2, 4e9, err, sizeof err), 0, "%s", err);
    vb_test_returns greedy, bo;
    vb_test_run_agent(&cfg, "greedy-search", 2100, 3, &greedy, NULL, NULL);
    vb_test_run_agent(&cfg, "bayes-optimal", 20000, 4, &bo, NULL, NULL);
    cr_log_info("5x5, 2 episodes: Bayes-optimal %.6f (%lld states, %.1f s), sampled %.4f +- %.4f; greedy search "
                "%.4f", dp->value, (long long)dp->states, dp->seconds, bo.mean, bo.se, greedy.mean);
    cr_assert_gt(dp->value, greedy.mean + 0.05);
    cr_assert_lt(fabs(bo.mean - dp->value), 4 * bo.se, "sampled %g +- %g against %g", bo.mean, bo.se, dp->value);
    double ep[2] = {0};
    for (int64_t i = 0; i < bo.tasks; i++)
        for (int e = 0; e < 2; e++) ep[e] += bo.episode_return[i * 2 + e] / (double)bo.tasks;
    for (int e = 0; e < 2; e++) cr_assert_float_eq(ep[e], dp->episode[e], 0.1, "episode %d", e);
    vb_test_returns_free(&greedy);
    vb_test_returns_free(&bo);
    vb_gridworld_dp_free(dp);
}

Test(gridworld_dp, refuses_what_it_cannot_solve) {
    vb_gridworld_dp *dp = NULL;
    char err[256];
    cr_assert_neq(vb_gridworld_dp_solve(&dp, 6, 15, 4, R_MISS, R_HIT, 1.0, 1, 4e9, err, sizeof err), 0);
    cr_assert(strstr(err, "5x5") != NULL, "%s", err);
    cr_assert_null(dp);
    cr_assert_neq(vb_gridworld_dp_solve(&dp, 5, 15, 4, R_MISS, R_HIT, 1.0, 1, 1e6, err, sizeof err), 0);
    cr_assert(strstr(err, "GiB") != NULL, "%s", err);
    cr_assert_null(dp);
    cr_assert_neq(vb_gridworld_dp_solve(&dp, 3, 3, 2, R_MISS, R_HIT, 0.0, 1, 1e9, err, sizeof err), 0);
    cr_assert(strstr(err, "discount") != NULL, "%s", err);
    cr_assert_null(dp);
}
