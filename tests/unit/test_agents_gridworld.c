/* Gridworld agents: the oracle's exact return per goal, greedy search's exact
 * value over the 21 goals, and a hand-checked search path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent_run.h"
#include "common/envs/gridworld.h"
#include "common/params/params.h"

typedef struct goals {
    int32_t x[512], y[512];
    int8_t moves[512][5];
} goals;

static void record_goals(const vb_env_batch *env, void *ctx) {
    goals *g = ctx;
    for (int64_t i = 0; i < env->n; i++) {
        vb_gridworld_goal(env, i, &g->x[i], &g->y[i]);
        vb_gridworld_moves(env, i, g->moves[i]);
    }
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

static double greedy_permuted_by_hand(int gx, int gy, const int8_t *moves, int known);

/* Greedy search written out independently of the agent, on the 5x5 grid
 * with 4 episodes of 15 steps: every episode starts at (0, 0); until the goal
 * is found, head for the nearest (Manhattan) candidate cell not yet visited
 * in the task, the first in row-major order on ties, moving along x first;
 * once found, walk to it and stay. A step onto the goal earns +1, any other
 * -0.1. Returns the task return for the goal (gx, gy). */
static double greedy_by_hand(int gx, int gy) {
    static const int8_t identity[5] = {0, 1, 2, 3, 4};
    return greedy_permuted_by_hand(gx, gy, identity, 1);
}

/* The agent is deterministic given the goal, so its exact value is the
 * average over the 21 goals of one run each; 500 tasks meet every goal
 * (missing one has probability below 1e-9). Each goal's return equals the
 * rule written out above, and from episode 3 on it has always found the goal
 * on 5x5 and earns what the oracle earns. */
Test(agents_gridworld, greedy_search_matches_the_rule_written_out) {
    vb_config cfg = grid_cfg();
    goals g;
    vb_test_returns r;
    vb_test_run_agent(&cfg, "greedy-search", 500, 2, &r, record_goals, &g);
    int seen[25] = {0};
    for (int i = 0; i < 500; i++) {
        int c = g.y[i] * 5 + g.x[i];
        double ret = 0;
        for (int e = 0; e < 4; e++) ret += r.episode_return[i * 4 + e];
        cr_assert_float_eq(ret, greedy_by_hand(g.x[i], g.y[i]), 1e-4, "goal (%d, %d)", g.x[i], g.y[i]);
        seen[c] = 1;
        int d = g.x[i] + g.y[i];
        double oracle = (16 - d) - 0.1 * (d - 1);
        for (int e = 2; e < 4; e++) cr_assert_float_eq(r.episode_return[i * 4 + e], oracle, 1e-5);
    }
    double sum = 0;
    int goals_seen = 0;
    for (int c = 0; c < 25; c++) {
        goals_seen += seen[c];
        if (!(c % 5 < 2 && c / 5 < 2)) sum += greedy_by_hand(c % 5, c / 5);
    }
    cr_assert_eq(goals_seen, 21);
    /* its exact value, the number docs/baselines.md quotes */
    cr_assert_float_eq(sum / 21, 36.90, 1e-4, "%f", sum / 21);
    /* goal (2, 0) is the first candidate it tries (distance 2, first in
     * row-major order): found at step 2, like the oracle: 4 * 13.9 */
    cr_assert_float_eq(greedy_by_hand(2, 0), 55.6, 1e-4);
    /* goal (0, 2) ties at distance 2 but comes second; the sweep then takes the
     * nearest cells first: (1,0) (2,0) (3,0) (4,0) (4,1) (3,1) (2,1) (2,2) (1,2)
     * (0,2), found at step 10 after 9 misses: 6 - 0.9 in episode 1, then 13.9 */
    cr_assert_float_eq(greedy_by_hand(0, 2), 5.1 + 3 * 13.9, 1e-4);
    vb_test_returns_free(&r);
}

/* ---- env.permute_moves ---------------------------------------------------- */

/* `agent` on `tasks` tasks of the permuted-moves gridworld, recording goals and moves. */
static void run_permuted(const char *agent, int64_t tasks, uint64_t seed, goals *g, vb_test_returns *r) {
    vb_config cfg = grid_cfg();
    cfg.env.permute_moves = true;
    vb_test_run_agent(&cfg, agent, tasks, seed, r, record_goals, g);
}

/* The oracle peeks at the moves too: the known-goal optimum of every goal. */
Test(agents_gridworld, oracle_with_permuted_moves_still_earns_the_optimum) {
    goals g;
    vb_test_returns r;
    run_permuted("oracle", 300, 4, &g, &r);
    int identity = 0;
    for (int i = 0; i < 300; i++) {
        int d = g.x[i] + g.y[i];
        identity += g.moves[i][1] == 1 && g.moves[i][2] == 2 && g.moves[i][3] == 3;
        for (int e = 0; e < 4; e++)
            cr_assert_float_eq(r.episode_return[i * 4 + e], (16 - d) - 0.1 * (d - 1), 1e-5, "task %d", i);
    }
    cr_assert_lt(identity, 50, "the tasks' moves are not permuted");
    vb_test_returns_free(&r);
}

/* The cell (x, y) reached by physical move m (1 up, 2 right, 3 down, 4 left). */
static void move_by_hand(int m, int *x, int *y) {
    if (m == 1 && *y < 4) ++*y;
    if (m == 2 && *x < 4) ++*x;
    if (m == 3 && *y > 0) --*y;
    if (m == 4 && *x > 0) --*x;
}

/* greedy_by_hand where the task's moves are `moves` and the agent knows them
 * (known) or not: then the action is the one that makes the wanted move
 * under the most of the 24 permutations still consistent with every step
 * seen in the task (ties to the lowest action). */
static double greedy_permuted_by_hand(int gx, int gy, const int8_t *moves, int known) {
    enum { G = 5, LEN = 15, EPISODES = 4 };
    int perms[24][5], np = 0, alive[24];
    for (int a = 1; a <= 4; a++)
        for (int b = 1; b <= 4; b++)
            for (int c = 1; c <= 4; c++)
                for (int d = 1; d <= 4; d++)
                    if (a != b && a != c && a != d && b != c && b != d && c != d) {
                        int *q = perms[np];
                        q[0] = 0, q[1] = a, q[2] = b, q[3] = c, q[4] = d;
                        alive[np] = !known || np == 0; /* the first, (1 2 3 4), is the identity */
                        np++;
                    }
    int visited[G][G] = {{0}}, found = 0;
    double total = 0;
    for (int e = 0; e < EPISODES; e++) {
        int x = 0, y = 0;
        for (int t = 0; t < LEN; t++) {
            int tx = gx, ty = gy;
            if (!found) {
                int best = 1 << 30;
                for (int cy = 0; cy < G; cy++)
                    for (int cx = 0; cx < G; cx++) {
                        int d = abs(cx - x) + abs(cy - y);
                        if ((cx < 2 && cy < 2) || visited[cy][cx] || d >= best) continue;
                        best = d, tx = cx, ty = cy;
                    }
            }
            int want = tx > x ? 2 : tx < x ? 4 : ty > y ? 1 : ty < y ? 3 : 0, act = 0;
            if (want) {
                int most = -1;
                for (int a = 1; a <= 4; a++) {
                    int n = 0;
                    for (int p = 0; p < 24; p++) n += alive[p] && perms[p][a] == want;
                    if (n > most) most = n, act = a;
                }
            }
            int nx = x, ny = y;
            move_by_hand(moves[act], &nx, &ny);
            for (int p = 0; p < 24; p++) {
                int px = x, py = y;
                move_by_hand(perms[p][act], &px, &py);
                if (px != nx || py != ny) alive[p] = 0;
            }
            x = nx, y = ny;
            visited[y][x] = 1;
            if (x == gx && y == gy) found = 1;
            total += x == gx && y == gy ? 1.0 : -0.1;
        }
    }
    return total;
}

/* Deterministic given the goal and the moves: every task's return equals the
 * rule written out; from episode 3 on it earns the oracle's return (it has
 * found the goal and the moves the way there needs); and not knowing the
 * moves costs it against greedy search on the same goals. */
Test(agents_gridworld, greedy_search_with_permuted_moves_matches_the_rule_written_out) {
    goals g;
    vb_test_returns r;
    run_permuted("greedy-search", 500, 5, &g, &r);
    double known = 0;
    for (int i = 0; i < 500; i++) {
        double ret = 0;
        for (int e = 0; e < 4; e++) ret += r.episode_return[i * 4 + e];
        cr_assert_float_eq(ret, greedy_permuted_by_hand(g.x[i], g.y[i], g.moves[i], 0), 1e-4, "task %d", i);
        int d = g.x[i] + g.y[i];
        for (int e = 2; e < 4; e++)
            cr_assert_float_eq(r.episode_return[i * 4 + e], (16 - d) - 0.1 * (d - 1), 1e-5, "task %d", i);
        known += greedy_by_hand(g.x[i], g.y[i]);
    }
    cr_assert_lt(r.mean, known / 500 - 0.5, "%f against %f with known moves", r.mean, known / 500);
    vb_test_returns_free(&r);
}

Test(agents_gridworld, bayes_optimal_refuses_permuted_moves) {
    vb_config cfg = grid_cfg();
    cfg.env.permute_moves = true;
    char err[512];
    vb_env_spec spec;
    cr_assert_eq(vb_env_spec_from_config(&cfg, &spec, err, sizeof err), 0, "%s", err);
    vb_agent_solution *sol = NULL;
    cr_assert_eq(vb_agent_solve(&sol, "bayes-optimal", &spec, err, sizeof err), VB_AGENT_EUSAGE);
    cr_assert(strstr(err, "permute_moves"), "%s", err);
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
