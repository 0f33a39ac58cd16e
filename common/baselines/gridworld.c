/* gridworld — the gridworld reference agents.
 *
 * oracle: peeks at the goal and walks a shortest path to it (x first, then y),
 *   then stays: the known-goal optimum, 16 - d - 0.1 (d - 1) per episode for a
 *   goal at Manhattan distance d (44.29 over 4 episodes on 5x5).
 * greedy-search: knows only the prior (the goal is one of the candidate cells
 *   outside the start block). Until it has seen the goal it walks towards the
 *   nearest candidate cell it has not yet occupied (Manhattan distance; ties to
 *   the first cell in row-major order, y then x; x moves first); once a step
 *   paid the hit reward it walks to that cell and stays. Occupied cells and the
 *   goal are remembered across the episodes of a task. Deterministic; 36.90
 *   over 4 episodes on 5x5 (exact, by enumerating the 21 goals).
 * bayes-optimal: the exact Bayes-optimal policy (gridworld_dp.h): until a
 *   step pays the hit reward it follows the solved search path, then walks to
 *   the goal and stays. Its solution knows its exact expected returns.
 *
 * With env.permute_moves the oracle also peeks at the task's moves, and
 * greedy-search keeps the exact posterior over the 24 move permutations (the
 * ones consistent with every step it has seen, all equally likely): it takes
 * the action most likely to make the move it wants (ties to the lowest
 * action), so it tries actions it does not know while heading where it
 * would go anyway. bayes-optimal is refused there: its DP knows the moves. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/log.h"
#include "impl.h"
#include "../envs/gridworld.h"
#include "gridworld_dp.h"

enum { PERMS = 24 };

typedef struct grid_agent {
    int64_t g;
    int32_t *goal;     /* (n, 2); -1 while unknown */
    uint8_t *visited;  /* (n, g*g): greedy-search only */
    int8_t *moves;     /* (n, 5): oracle, the task's moves */
    uint32_t *alive;   /* (n): greedy-search, the move permutations still consistent (bit p: perms[p]) */
    int32_t *last;     /* (n, 3): greedy-search, the cell and action of the last step */
    int8_t perms[PERMS][5]; /* every permutation of the four moves (lexicographic); [0] is STAY */
} grid_agent;

static void list_perms(grid_agent *s) {
    int n = 0;
    for (int8_t a = 1; a <= 4; a++)
        for (int8_t b = 1; b <= 4; b++)
            for (int8_t c = 1; c <= 4; c++) {
                int8_t d = (int8_t)(10 - a - b - c);
                if (a == b || a == c || b == c || d < 1 || d > 4 || d == a || d == b || d == c) continue;
                int8_t *p = s->perms[n++];
                p[0] = VB_GRID_STAY;
                p[1] = a;
                p[2] = b;
                p[3] = c;
                p[4] = d;
            }
}

static void grid_agent_destroy(void *impl) {
    grid_agent *s = impl;
    free(s->goal);
    free(s->visited);
    free(s->moves);
    free(s->alive);
    free(s->last);
    free(s);
}

static int grid_agent_alloc(vb_agent *a, const vb_env_batch *env, int with_memory, char *err, size_t err_len) {
    grid_agent *s = calloc(1, sizeof *s);
    if (!s) return VB_AGENT_ERUNTIME;
    a->impl = s;
    s->g = env->spec.grid_size;
    s->goal = calloc((size_t)env->n * 2, sizeof *s->goal);
    s->moves = calloc((size_t)env->n * 5, sizeof *s->moves);
    if (with_memory) {
        s->visited = calloc((size_t)(env->n * s->g * s->g), 1);
        s->alive = calloc((size_t)env->n, sizeof *s->alive);
        s->last = calloc((size_t)env->n * 3, sizeof *s->last);
    }
    if (!s->goal || !s->moves || (with_memory && (!s->visited || !s->alive || !s->last))) return VB_AGENT_ERUNTIME;
    list_perms(s);
    return 0;
}

static void read_pos(const vb_env_batch *env, int64_t i, int32_t *x, int32_t *y) {
    *x = (int32_t)lrintf(env->obs[i * 2]);
    *y = (int32_t)lrintf(env->obs[i * 2 + 1]);
}

/* --- oracle ------------------------------------------------------------- */

static void oracle_reset(vb_agent *a, const vb_env_batch *env, int64_t i) {
    grid_agent *s = a->impl;
    vb_gridworld_goal(env, i, &s->goal[i * 2], &s->goal[i * 2 + 1]);
    vb_gridworld_moves(env, i, &s->moves[i * 5]);
}

/* The action that makes move `dir` under moves (identity: dir itself). */
static int32_t action_for(const int8_t *moves, int32_t dir) {
    for (int32_t a = 0; a < 5; a++)
        if (moves[a] == dir) return a;
    return VB_GRID_STAY;
}

static void oracle_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    const grid_agent *s = a->impl;
    for (int64_t i = 0; i < env->n; i++) {
        int32_t x, y;
        read_pos(env, i, &x, &y);
        actions[i] = action_for(&s->moves[i * 5], vb_gridworld_step_towards(x, y, s->goal[i * 2], s->goal[i * 2 + 1]));
    }
}

static void oracle_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions) {}

static const vb_agent_ops oracle_ops = {.reset = oracle_reset, .act = oracle_act,
                                        .observe = oracle_observe, .destroy = grid_agent_destroy};

VB__AGENT_CREATE(vb__agent_grid_oracle_create) {
    a->ops = &oracle_ops;
    if (grid_agent_alloc(a, env, 0, err, err_len) != 0) return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    return 0;
}

/* --- greedy-search ------------------------------------------------------ */

static void greedy_reset(vb_agent *a, const vb_env_batch *env, int64_t i) {
    grid_agent *s = a->impl;
    s->goal[i * 2] = s->goal[i * 2 + 1] = -1;
    memset(&s->visited[i * s->g * s->g], 0, (size_t)(s->g * s->g));
    /* known moves: the identity alone (perms[0]) */
    s->alive[i] = env->spec.permuted_moves ? (1u << PERMS) - 1 : 1u;
}

/* The action most likely to make move dir under the consistent permutations
 * (ties to the lowest action). */
static int32_t likely_action(const grid_agent *s, uint32_t alive, int32_t dir) {
    if (dir == VB_GRID_STAY) return VB_GRID_STAY;
    int32_t best = 1, best_n = -1;
    for (int32_t a = 1; a <= 4; a++) {
        int32_t n = 0;
        for (int p = 0; p < PERMS; p++) n += (alive >> p & 1u) && s->perms[p][a] == dir;
        if (n > best_n) {
            best_n = n;
            best = a;
        }
    }
    return best;
}

static void greedy_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    grid_agent *s = a->impl;
    int32_t g = (int32_t)s->g;
    for (int64_t i = 0; i < env->n; i++) {
        int32_t x, y, tx = -1, ty = -1;
        read_pos(env, i, &x, &y);
        if (s->goal[i * 2] >= 0) {
            tx = s->goal[i * 2];
            ty = s->goal[i * 2 + 1];
        } else {
            const uint8_t *seen = &s->visited[i * s->g * s->g];
            int32_t best = INT32_MAX;
            for (int32_t cy = 0; cy < g; cy++) {
                for (int32_t cx = 0; cx < g; cx++) {
                    if (!vb_gridworld_is_candidate(cx, cy) || seen[cy * g + cx]) continue;
                    int32_t d = abs(cx - x) + abs(cy - y);
                    if (d < best) {
                        best = d;
                        tx = cx;
                        ty = cy;
                    }
                }
            }
        }
        actions[i] = tx < 0 ? VB_GRID_STAY : likely_action(s, s->alive[i], vb_gridworld_step_towards(x, y, tx, ty));
        s->last[i * 3] = x;
        s->last[i * 3 + 1] = y;
        s->last[i * 3 + 2] = actions[i];
    }
}

static void greedy_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions) {
    grid_agent *s = a->impl;
    float hit_level = env->spec.reward_levels[1];
    for (int64_t i = 0; i < env->n; i++) {
        int32_t x, y;
        read_pos(env, i, &x, &y);
        /* the permutations that would have made this step */
        for (int p = 0; p < PERMS; p++) {
            int32_t px, py;
            vb_gridworld_move(s->g, s->last[i * 3], s->last[i * 3 + 1], s->perms[p][s->last[i * 3 + 2]], &px, &py);
            if (px != x || py != y) s->alive[i] &= ~(1u << p);
        }
        s->visited[i * s->g * s->g + y * s->g + x] = 1;
        if (env->reward[i] == hit_level) {
            s->goal[i * 2] = x;
            s->goal[i * 2 + 1] = y;
        }
    }
}

static const vb_agent_ops greedy_ops = {.reset = greedy_reset, .act = greedy_act,
                                        .observe = greedy_observe, .destroy = grid_agent_destroy};

VB__AGENT_CREATE(vb__agent_grid_greedy_create) {
    a->ops = &greedy_ops;
    if (grid_agent_alloc(a, env, 1, err, err_len) != 0) return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    return 0;
}

/* --- bayes-optimal ------------------------------------------------------ */

/* The solver's tables may take this much; 5x5 with four 15-step episodes needs about 0.7 GiB. */
#define BAYES_MAX_TABLE_BYTES (8.0 * (1u << 30))

int vb__agent_grid_bayes_solve(const vb_env_spec *spec, void **solution, char *err,
                               size_t err_len) {
    vb_gridworld_dp *dp = NULL;
    if (spec->permuted_moves)
        return snprintf(err, err_len, "bayes-optimal solves GridNavi with known moves; with env.permute_moves the "
                        "moves are part of the task (greedy-search keeps their posterior)"), VB_AGENT_EUSAGE;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (vb_gridworld_dp_solve(&dp, spec->grid_size, spec->episode_length, spec->episodes_per_task,
                              spec->reward_levels[0], spec->reward_levels[1], 1.0, cores < 1 ? 1 : cores,
                              BAYES_MAX_TABLE_BYTES, err, err_len) != 0)
        return VB_AGENT_EUSAGE;
    vb_info("bayes-optimal: solved %lld belief states in %.1f s (%.2f GiB of tables): exact return %.6f",
            (long long)dp->states, dp->seconds, dp->table_bytes / (1u << 30), dp->value);
    *solution = dp;
    return 0;
}

void vb__agent_grid_bayes_free(void *solution) { vb_gridworld_dp_free(solution); }

void vb__agent_grid_bayes_exact(const void *solution, double *task_return, double *episode_return, int64_t episodes) {
    const vb_gridworld_dp *dp = solution;
    *task_return = dp->value;
    for (int64_t e = 0; e < episodes; e++) episode_return[e] = e < dp->episodes ? dp->episode[e] : NAN;
}

static void bayes_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    const grid_agent *s = a->impl;
    const vb_gridworld_dp *dp = a->solution;
    for (int64_t i = 0; i < env->n; i++) {
        int32_t x, y;
        read_pos(env, i, &x, &y);
        int64_t t = env->episode[i] * env->spec.episode_length + env->t[i];
        if (s->goal[i * 2] >= 0) actions[i] = vb_gridworld_step_towards(x, y, s->goal[i * 2], s->goal[i * 2 + 1]);
        else actions[i] = t < dp->steps ? dp->path[t] : VB_GRID_STAY;
    }
}

static void bayes_reset(vb_agent *a, const vb_env_batch *env, int64_t i) {
    grid_agent *s = a->impl;
    s->goal[i * 2] = s->goal[i * 2 + 1] = -1;
}

static void bayes_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions) {
    grid_agent *s = a->impl;
    for (int64_t i = 0; i < env->n; i++) {
        if (env->reward[i] != env->spec.reward_levels[1]) continue;
        read_pos(env, i, &s->goal[i * 2], &s->goal[i * 2 + 1]);
    }
}

static const vb_agent_ops bayes_ops = {.reset = bayes_reset, .act = bayes_act,
                                       .observe = bayes_observe, .destroy = grid_agent_destroy};

VB__AGENT_CREATE(vb__agent_grid_bayes_create) {
    const vb_gridworld_dp *dp = a->solution;
    a->ops = &bayes_ops;
    if (dp->grid != env->spec.grid_size || dp->steps != env->spec.steps_per_task ||
        dp->episode_length != env->spec.episode_length)
        return snprintf(err, err_len, "the solved path is for another grid or clock"), VB_AGENT_EUSAGE;
    if (grid_agent_alloc(a, env, 0, err, err_len) != 0) return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    return 0;
}
