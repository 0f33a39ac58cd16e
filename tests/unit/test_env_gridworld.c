/* gridworld: spec, moves at the borders, rewards, the clock across episodes,
 * the goal distribution, determinism, and the exact value of random play. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/envs/env.h"
#include "common/envs/gridworld.h"
#include "common/params/params.h"

static char err[512];

/* n gridworld envs, streams (seed, base + i); permute: env.permute_moves */
static vb_env_batch *make_permuted(int64_t n, uint64_t seed, uint64_t base, bool permute) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cfg.env.name = VB_ENV_GRIDWORLD;
    cfg.env.permute_moves = permute;
    vb_env_batch *b = NULL;
    cr_assert_eq(vb_env_batch_from_config(&b, &cfg, n, seed, base, err, sizeof err), 0, "%s", err);
    return b;
}

static vb_env_batch *make(int64_t n, uint64_t seed, uint64_t base) { return make_permuted(n, seed, base, false); }

static void step1(vb_env_batch *b, int32_t a) { cr_assert_eq(vb_env_step(b, &a), VB_ENV_OK); }

Test(env_gridworld, spec_matches_gridnavi) {
    vb_env_batch *b = make(1, 1, 0);
    const vb_env_spec *s = &b->spec;
    cr_assert_str_eq(s->name, "gridworld");
    cr_assert_eq(s->obs_size, 2);
    cr_assert_eq(s->num_actions, 5);
    cr_assert_eq(s->reward_kind, VB_REWARD_BERNOULLI);
    cr_assert_float_eq(s->reward_levels[0], -0.1f, 1e-7);
    cr_assert_float_eq(s->reward_levels[1], 1.0f, 1e-7);
    cr_assert_eq(s->episode_length, 15);
    cr_assert_eq(s->episodes_per_task, 4);
    cr_assert_eq(s->steps_per_task, 60);
    cr_assert(s->task_independent_transitions);
    cr_assert_eq(s->reward_cells, 25);
    cr_assert_not_null(s->obs_layout);
    cr_assert_eq(b->obs[0], 0.0f);
    cr_assert_eq(b->obs[1], 0.0f);
    vb_env_batch_destroy(b);
}

Test(env_gridworld, moves_are_clipped_at_the_borders) {
    int32_t x, y;
    vb_gridworld_move(5, 0, 0, VB_GRID_LEFT, &x, &y);
    cr_assert(x == 0 && y == 0);
    vb_gridworld_move(5, 0, 0, VB_GRID_DOWN, &x, &y);
    cr_assert(x == 0 && y == 0);
    vb_gridworld_move(5, 0, 0, VB_GRID_UP, &x, &y);
    cr_assert(x == 0 && y == 1);
    vb_gridworld_move(5, 0, 0, VB_GRID_RIGHT, &x, &y);
    cr_assert(x == 1 && y == 0);
    vb_gridworld_move(5, 4, 4, VB_GRID_UP, &x, &y);
    cr_assert(x == 4 && y == 4);
    vb_gridworld_move(5, 4, 4, VB_GRID_RIGHT, &x, &y);
    cr_assert(x == 4 && y == 4);
    vb_gridworld_move(5, 2, 3, VB_GRID_STAY, &x, &y);
    cr_assert(x == 2 && y == 3);
    /* through the env: pushing into the corner keeps the agent there */
    vb_env_batch *b = make(1, 3, 0);
    step1(b, VB_GRID_LEFT);
    cr_assert(b->obs[0] == 0.0f && b->obs[1] == 0.0f);
    for (int i = 0; i < 6; i++) step1(b, VB_GRID_UP);
    cr_assert(b->obs[0] == 0.0f && b->obs[1] == 4.0f, "(%g, %g)", b->obs[0], b->obs[1]);
    vb_env_batch_destroy(b);
}

/* Walk to the goal (x first), then stay: every step on the goal pays +1. */
Test(env_gridworld, reward_on_reaching_and_staying_at_the_goal) {
    vb_env_batch *b = make(1, 11, 5);
    int32_t gx, gy;
    cr_assert_eq(vb_gridworld_goal(b, 0, &gx, &gy), 0);
    int d = gx + gy;
    for (int t = 0; t < 15; t++) {
        int32_t a = b->obs[0] < gx ? VB_GRID_RIGHT : b->obs[1] < gy ? VB_GRID_UP : VB_GRID_STAY;
        step1(b, a);
        float want = t + 1 >= d ? 1.0f : -0.1f;
        cr_assert_eq(b->reward[0], want, "step %d: %g", t, b->reward[0]);
        cr_assert_eq(b->done[0], t == 14);
    }
    vb_env_batch_destroy(b);
}

Test(env_gridworld, episodes_restart_at_the_start_with_the_goal_kept_then_the_task_ends) {
    vb_env_batch *b = make(1, 5, 9);
    int32_t gx, gy, gx2, gy2;
    vb_gridworld_goal(b, 0, &gx, &gy);
    for (int e = 0; e < 4; e++) {
        cr_assert_eq(b->episode[0], e);
        for (int t = 0; t < 15; t++) {
            step1(b, t % 2 ? VB_GRID_UP : VB_GRID_RIGHT);
            cr_assert_eq(b->done[0], t == 14);
            cr_assert_eq(b->task_done[0], t == 14 && e == 3);
        }
        /* the successor of the last step is still visible */
        cr_assert(b->obs[0] == 4.0f && b->obs[1] == 4.0f);
        int32_t a = VB_GRID_STAY;
        cr_assert_eq(vb_env_step(b, &a), VB_ENV_EFINISHED);
        if (e < 3) {
            cr_assert_eq(vb_env_reset_finished(b), VB_ENV_OK);
            cr_assert(b->obs[0] == 0.0f && b->obs[1] == 0.0f);
            cr_assert(!b->done[0] && b->t[0] == 0);
            vb_gridworld_goal(b, 0, &gx2, &gy2);
            cr_assert(gx2 == gx && gy2 == gy);
        } else {
            cr_assert_eq(vb_env_reset_episode(b, 0), VB_ENV_ENOEPISODE);
        }
    }
    cr_assert_eq(vb_env_reset_finished(b), VB_ENV_OK); /* a new task */
    cr_assert_eq(b->episode[0], 0);
    cr_assert_eq(b->t[0], 0);
    vb_env_batch_destroy(b);
}

Test(env_gridworld, bad_actions_are_refused_before_any_env_moves) {
    vb_env_batch *b = make(3, 1, 0);
    int32_t acts[3] = {VB_GRID_UP, 5, VB_GRID_UP};
    cr_assert_eq(vb_env_step(b, acts), VB_ENV_EACTION);
    acts[1] = -1;
    cr_assert_eq(vb_env_step(b, acts), VB_ENV_EACTION);
    for (int i = 0; i < 3; i++) cr_assert(b->obs[2 * i + 1] == 0.0f && b->t[i] == 0);
    cr_assert_eq(vb_env_reset_task(b, 3), VB_ENV_EINDEX);
    cr_assert_eq(vb_env_reset_episode(b, -1), VB_ENV_EINDEX);
    cr_assert_str_neq(vb_env_strerror(VB_ENV_EACTION), "unknown error");
    vb_env_batch_destroy(b);
}

Test(env_gridworld, goals_are_uniform_over_the_21_cells_outside_the_start_block) {
    enum { N = 21000 };
    vb_env_batch *b = make(N, 2, 0);
    int count[25] = {0};
    for (int64_t i = 0; i < N; i++) {
        int32_t x, y;
        vb_gridworld_goal(b, i, &x, &y);
        cr_assert(x >= 0 && x < 5 && y >= 0 && y < 5);
        cr_assert(!(x < 2 && y < 2), "goal (%d, %d) in the start block", x, y);
        count[y * 5 + x]++;
    }
    cr_assert_float_eq(b->spec.cell_hit_prior, 1.0 / 21.0, 1e-12, "the spec's prior hit probability of a cell");
    /* 1000 expected per cell, sd ~ 31: a 5 sd band */
    for (int c = 0; c < 25; c++)
        if (vb_gridworld_is_candidate(c % 5, c / 5)) cr_assert(abs(count[c] - 1000) < 160, "cell %d: %d", c, count[c]);
    vb_env_batch_destroy(b);
}

/* Env i of a batch with stream base S is env 0 of a batch with base S + i. */
Test(env_gridworld, streams_make_tasks_deterministic_and_distinct) {
    vb_env_batch *a = make(8, 77, 100), *c = make(1, 77, 103), *d = make(8, 77, 100), *e = make(8, 78, 100);
    int32_t x1, y1, x2, y2;
    vb_gridworld_goal(a, 3, &x1, &y1);
    vb_gridworld_goal(c, 0, &x2, &y2);
    cr_assert(x1 == x2 && y1 == y2);
    int same_seed = 0, other_seed = 0, same_env = 0;
    for (int round = 0; round < 8; round++) {
        for (int64_t i = 0; i < 8; i++) {
            vb_gridworld_goal(a, i, &x1, &y1);
            vb_gridworld_goal(d, i, &x2, &y2);
            same_seed += x1 == x2 && y1 == y2;
            vb_gridworld_goal(e, i, &x2, &y2);
            other_seed += x1 == x2 && y1 == y2;
            if (i) {
                vb_gridworld_goal(a, i - 1, &x2, &y2);
                same_env += x1 == x2 && y1 == y2;
            }
        }
        vb_env_reset_all(a);
        vb_env_reset_all(d);
        vb_env_reset_all(e);
    }
    cr_assert_eq(same_seed, 64);
    /* 1/21 chance per pair of agreeing by accident */
    cr_assert_lt(other_seed, 16);
    cr_assert_lt(same_env, 14);
    /* re-addressing the streams replays the same tasks */
    vb_env_set_streams(a, 77, 100);
    vb_env_reset_all(a);
    vb_gridworld_goal(a, 3, &x1, &y1);
    vb_gridworld_goal(c, 0, &x2, &y2);
    cr_assert(x1 == x2 && y1 == y2);
    vb_env_batch_destroy(a);
    vb_env_batch_destroy(c);
    vb_env_batch_destroy(d);
    vb_env_batch_destroy(e);
}

Test(env_gridworld, transition_and_reward_cell_agree_with_step) {
    vb_env_batch *b = make(1, 4, 0);
    int32_t gx, gy;
    vb_gridworld_goal(b, 0, &gx, &gy);
    static const int32_t walk[] = {2, 2, 1, 0, 4, 3, 3, 1, 1, 1, 2, 2, 2, 1, 1};
    for (size_t t = 0; t < sizeof walk / sizeof walk[0]; t++) {
        float obs[2] = {b->obs[0], b->obs[1]}, next[2];
        cr_assert_eq(vb_env_transition(&b->spec, obs, walk[t], next), VB_ENV_OK);
        step1(b, walk[t]);
        cr_assert(next[0] == b->obs[0] && next[1] == b->obs[1]);
        int64_t cell = vb_env_reward_cell(&b->spec, obs, walk[t], next);
        cr_assert_eq(cell, (int64_t)(next[1] * 5 + next[0]));
        cr_assert_eq(b->reward[0] == 1.0f, cell == gy * 5 + gx);
    }
    float obs[2] = {0, 0}, next[2];
    cr_assert_eq(vb_env_transition(&b->spec, obs, 7, next), VB_ENV_EACTION);
    vb_env_batch_destroy(b);
}

/* Exact expected 4-episode return of uniform random play: the position
 * distribution evolves by the 5 moves with probability 1/5 each; the goal is
 * uniform over the 21 candidates. */
static double random_play_value(int g, int len, int episodes) {
    double total = 0;
    int goals = 0;
    for (int goal = 0; goal < g * g; goal++) {
        if (!vb_gridworld_is_candidate(goal % g, goal / g)) continue;
        goals++;
        double p[64 * 64], q[64 * 64];
        memset(p, 0, sizeof p);
        p[0] = 1.0;
        for (int t = 0; t < len; t++) {
            memset(q, 0, sizeof q);
            for (int c = 0; c < g * g; c++) {
                for (int a = 0; a < 5; a++) {
                    int32_t x, y;
                    vb_gridworld_move(g, c % g, c / g, a, &x, &y);
                    q[y * g + x] += p[c] / 5.0;
                }
            }
            memcpy(p, q, sizeof p);
            total += episodes * (p[goal] * 1.0 + (1.0 - p[goal]) * -0.1);
        }
    }
    return total / goals;
}

Test(env_gridworld, random_play_matches_its_exact_value) {
    double exact = random_play_value(5, 15, 4);
    cr_assert_float_eq(exact, -4.66189, 1e-5, "%.6f", exact);
    /* Monte Carlo with the env itself */
    enum { N = 4000 };
    vb_env_batch *b = make(N, 9, 0);
    vb_rng r;
    vb_rng_init(&r, 9, 1u << 30);
    int32_t *acts = malloc(N * sizeof *acts);
    double *ret = calloc(N, sizeof *ret), sum = 0, sq = 0;
    for (int t = 0; t < 60; t++) {
        for (int i = 0; i < N; i++) acts[i] = (int32_t)vb_rng_below(&r, 5);
        cr_assert_eq(vb_env_step(b, acts), VB_ENV_OK);
        for (int i = 0; i < N; i++) ret[i] += b->reward[i];
        for (int i = 0; i < N; i++)
            if (b->done[i] && !b->task_done[i]) cr_assert_eq(vb_env_reset_episode(b, i), VB_ENV_OK);
    }
    for (int i = 0; i < N; i++) sum += ret[i];
    double mean = sum / N;
    for (int i = 0; i < N; i++) sq += (ret[i] - mean) * (ret[i] - mean);
    double se = sqrt(sq / (N - 1) / N);
    cr_assert(fabs(mean - exact) < 4 * se, "mean %.4f exact %.4f se %.4f", mean, exact, se);
    free(acts);
    free(ret);
    vb_env_batch_destroy(b);
}

Test(env_gridworld, task_cells_are_one_at_the_goal_only) {
    vb_env_batch *b = make(16, 5, 0);
    float cells[25];
    for (int64_t i = 0; i < b->n; i++) {
        int32_t gx, gy;
        cr_assert_eq(vb_gridworld_goal(b, i, &gx, &gy), 0);
        cr_assert_eq(vb_env_task_cells(b, i, cells), VB_ENV_OK);
        for (int64_t c = 0; c < 25; c++)
            cr_assert_eq(cells[c], c == gy * 5 + gx ? 1.0f : 0.0f, "env %lld cell %lld", (long long)i, (long long)c);
    }
    cr_assert_eq(vb_env_task_cells(b, 16, cells), VB_ENV_EINDEX);
    vb_env_batch_destroy(b);
}

/* ---- env.permute_moves: the transitions depend on the task ------------------ */

Test(env_gridworld, permuted_moves_make_the_transitions_task_dependent) {
    vb_env_batch *b = make_permuted(1, 1, 0, true);
    const vb_env_spec *s = &b->spec;
    cr_assert(s->permuted_moves);
    cr_assert_not(s->task_independent_transitions);
    cr_assert_eq(s->state_cells, 25);
    float obs[2] = {1, 1}, next[2];
    cr_assert_eq(vb_env_transition(s, obs, VB_GRID_UP, next), VB_ENV_ETASKDEP);
    cr_assert_eq(vb_env_resolve_dynamics(s, VB_DYN_AUTO), VB_DYN_LEARNED);
    cr_assert_eq(vb_env_resolve_dynamics(s, VB_DYN_ENV), VB_DYN_ENV);
    vb_env_batch *k = make(1, 1, 0);
    cr_assert_eq(vb_env_resolve_dynamics(&k->spec, VB_DYN_AUTO), VB_DYN_ENV);
    cr_assert_eq(vb_env_resolve_dynamics(&k->spec, VB_DYN_LEARNED), VB_DYN_LEARNED);
    /* state cells and their observations, both ways */
    for (int64_t c = 0; c < 25; c++) {
        vb_env_cell_obs(s, c, obs);
        cr_assert(obs[0] == (float)(c % 5) && obs[1] == (float)(c / 5));
        cr_assert_eq(vb_env_state_cell(s, obs), c);
    }
    vb_env_batch_destroy(k);
    vb_env_batch_destroy(b);
}

/* Every task's moves are a permutation of the four moves (STAY kept), all 24
 * appear about equally often, each step makes the task's move, and the goals
 * of a seed are those of the unpermuted family. */
Test(env_gridworld, permuted_moves_are_uniform_permutations_that_step_obeys) {
    enum { TASKS = 4800 };
    vb_env_batch *b = make_permuted(TASKS, 7, 0, true), *plain = make_permuted(TASKS, 7, 0, false);
    int count[5 * 5 * 5 * 5] = {0}, distinct = 0;
    for (int64_t i = 0; i < TASKS; i++) {
        int8_t mv[5];
        cr_assert_eq(vb_gridworld_moves(b, i, mv), 0);
        cr_assert_eq(mv[0], VB_GRID_STAY);
        int seen = 0;
        for (int a = 1; a <= 4; a++) {
            cr_assert(mv[a] >= 1 && mv[a] <= 4);
            seen |= 1 << mv[a];
        }
        cr_assert_eq(seen, 0x1e, "task %lld's moves are not a permutation", (long long)i);
        int key = ((mv[1] * 5 + mv[2]) * 5 + mv[3]) * 5 + mv[4];
        distinct += count[key]++ == 0;
        int32_t gx, gy, px, py;
        vb_gridworld_goal(b, i, &gx, &gy);
        vb_gridworld_goal(plain, i, &px, &py);
        cr_assert(gx == px && gy == py, "task %lld: the permutation changed the goal draw", (long long)i);
        int8_t id[5];
        vb_gridworld_moves(plain, i, id);
        for (int a = 0; a < 5; a++) cr_assert_eq(id[a], a);
    }
    cr_assert_eq(distinct, 24);
    for (int k = 0; k < 5 * 5 * 5 * 5; k++)
        if (count[k]) cr_assert(fabs(count[k] - TASKS / 24.0) < 5 * sqrt(TASKS / 24.0), "%d tasks", count[k]);
    /* after a first step, every action makes its task's move */
    vb_env_batch *one = make_permuted(1, 3, 5, true);
    int8_t mv[5];
    vb_gridworld_moves(one, 0, mv);
    for (int32_t a = 0; a < 5; a++) {
        vb_env_reset_task(one, 0);
        vb_gridworld_moves(one, 0, mv);
        step1(one, VB_GRID_UP); /* (0, 1): the task's move of UP, from the start */
        int32_t x0, y0, x1, y1, ex, ey;
        vb_gridworld_position(one, 0, &x0, &y0);
        step1(one, a);
        vb_gridworld_position(one, 0, &x1, &y1);
        vb_gridworld_move(5, x0, y0, mv[a], &ex, &ey);
        cr_assert(x1 == ex && y1 == ey, "action %d", a);
    }
    vb_env_batch_destroy(one);
    vb_env_batch_destroy(b);
    vb_env_batch_destroy(plain);
}
