/* gridworld — see gridworld.h. */
#include "gridworld.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_families.h"

typedef struct grid_state {
    int64_t g;     /* grid side */
    bool permuted; /* each task permutes the four moves */
    int32_t *pos;  /* (n, 2) x, y */
    int32_t *goal; /* (n, 2) x, y */
    int8_t *moves; /* (n, 5) the move each action makes (identity unless permute_moves) */
} grid_state;

/* What the stateless callbacks read from the spec. */
typedef struct grid_consts {
    int64_t g;
    int32_t permuted;
} grid_consts;

static grid_consts consts_of(const vb_task_spec *s) {
    grid_consts c;
    memcpy(&c, s->data.bytes, sizeof c);
    return c;
}

vb_grid_action vb_gridworld_step_towards(int32_t x, int32_t y, int32_t tx, int32_t ty) {
    if (tx > x) return VB_GRID_RIGHT;
    if (tx < x) return VB_GRID_LEFT;
    if (ty > y) return VB_GRID_UP;
    if (ty < y) return VB_GRID_DOWN;
    return VB_GRID_STAY;
}

void vb_gridworld_move(int64_t g, int32_t x, int32_t y, int32_t a, int32_t *nx, int32_t *ny) {
    int32_t last = (int32_t)g - 1;
    switch (a) {
    case VB_GRID_UP: y = y < last ? y + 1 : last; break;
    case VB_GRID_RIGHT: x = x < last ? x + 1 : last; break;
    case VB_GRID_DOWN: y = y > 0 ? y - 1 : 0; break;
    case VB_GRID_LEFT: x = x > 0 ? x - 1 : 0; break;
    default: break;
    }
    *nx = x;
    *ny = y;
}

int vb_gridworld_is_candidate(int32_t x, int32_t y) { return !(x < 2 && y < 2); }

static int grid_spec(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err,
                     size_t err_len) {
    int64_t g = 5, len = 15, episodes = 4, permute = 0;
    if (h->arg_int(args, "grid_size", &g, err, err_len) < 0 ||
        h->arg_int(args, "episode_length", &len, err, err_len) < 0 ||
        h->arg_int(args, "episodes_per_task", &episodes, err, err_len) < 0 ||
        h->arg_int(args, "permute_moves", &permute, err, err_len) < 0)
        return -1;
    if (g < 3 || g > 64) return snprintf(err, err_len, "grid_size %lld: expected 3 .. 64", (long long)g), -1;
    if (permute != 0 && permute != 1)
        return snprintf(err, err_len, "permute_moves %lld: expected 0 or 1", (long long)permute), -1;
    s->obs_size = 2;
    s->obs_layout = "x, y: the current cell, as floats in [0, grid_size - 1]";
    s->num_actions = 5;
    s->reward_kind = VB_TASK_REWARD_BERNOULLI;
    s->reward_levels[0] = -0.1f;
    s->reward_levels[1] = 1.0f;
    s->episode_length = len;
    s->episodes_per_task = episodes;
    s->task_independent_transitions = !permute;
    s->state_cells = g * g;
    s->reward_cells = g * g;
    s->reward_cell_layout = "the cell after the move, y * grid_size + x (hit: it is the goal)";
    /* the goal is uniform over the candidate cells */
    int64_t candidates = 0;
    for (int32_t y = 0; y < g; y++)
        for (int32_t x = 0; x < g; x++) candidates += vb_gridworld_is_candidate(x, y);
    s->cell_hit_prior = candidates > 0 ? 1.0 / (double)candidates : 0.0;
    grid_consts c = {.g = g, .permuted = (int32_t)permute};
    memcpy(s->data.bytes, &c, sizeof c);
    return 0;
}

static int grid_create(const vb_task_host *h, const vb_task_spec *spec, int64_t n, void **state, char *err,
                       size_t err_len) {
    grid_state *st = calloc(1, sizeof *st);
    if (!st) return snprintf(err, err_len, "out of memory"), -1;
    *state = st;
    grid_consts c = consts_of(spec);
    st->g = c.g;
    st->permuted = c.permuted != 0;
    st->pos = calloc((size_t)n * 2, sizeof *st->pos);
    st->goal = calloc((size_t)n * 2, sizeof *st->goal);
    st->moves = calloc((size_t)n * 5, sizeof *st->moves);
    if (!st->pos || !st->goal || !st->moves) return snprintf(err, err_len, "out of memory"), -1;
    return 0;
}

static void grid_destroy(void *state) {
    grid_state *st = state;
    free(st->pos);
    free(st->goal);
    free(st->moves);
    free(st);
}

static void write_obs(const grid_state *st, const vb_task_io *io, int64_t i) {
    io->obs[i * 2] = (float)st->pos[i * 2];
    io->obs[i * 2 + 1] = (float)st->pos[i * 2 + 1];
}

static int grid_reset_episode(void *state, const vb_task_io *io, int64_t i) {
    grid_state *st = state;
    st->pos[i * 2] = 0;
    st->pos[i * 2 + 1] = 0;
    write_obs(st, io, i);
    return 0;
}

/* The goal is the k-th candidate in row-major order (y, then x), k uniform;
 * with permute_moves the four moves are then shuffled (Fisher-Yates, from the
 * same stream, so a seed's goals are those of the unpermuted family). */
static int grid_reset_task(void *state, const vb_task_io *io, int64_t i) {
    grid_state *st = state;
    vb_rng *rng = vb__env_rng(io, i);
    int32_t g = (int32_t)st->g;
    uint32_t k = vb_rng_below(rng, (uint32_t)(g * g - 4));
    for (int32_t y = 0; y < g; y++) {
        for (int32_t x = 0; x < g; x++) {
            if (!vb_gridworld_is_candidate(x, y)) continue;
            if (k-- == 0) {
                st->goal[i * 2] = x;
                st->goal[i * 2 + 1] = y;
            }
        }
    }
    int8_t *mv = &st->moves[i * 5];
    for (int8_t a = 0; a < 5; a++) mv[a] = a;
    if (st->permuted)
        for (uint32_t j = 4; j > 1; j--) {
            uint32_t r = vb_rng_below(rng, j);
            int8_t t = mv[j];
            mv[j] = mv[1 + r];
            mv[1 + r] = t;
        }
    return grid_reset_episode(st, io, i);
}

static int grid_step(void *state, const vb_task_io *io, const int32_t *actions) {
    grid_state *st = state;
    const float *levels = io->spec->reward_levels;
    for (int64_t i = 0; i < io->n; i++) {
        int32_t *p = &st->pos[i * 2];
        vb_gridworld_move(st->g, p[0], p[1], st->moves[i * 5 + actions[i]], &p[0], &p[1]);
        int hit = p[0] == st->goal[i * 2] && p[1] == st->goal[i * 2 + 1];
        io->reward[i] = levels[hit];
        write_obs(st, io, i);
    }
    return 0;
}

/* A coordinate of an observation: whole numbers in [0, g - 1]; rounding and
 * clamping keep a caller's float noise (or a decoded state) on the grid. */
static int32_t coord(int64_t g, float v) {
    if (!(v > 0)) return 0; /* also NaN */
    if (v >= (float)(g - 1)) return (int32_t)(g - 1);
    return (int32_t)lrintf(v);
}

static void grid_transition(const vb_task_spec *s, const float *obs, int32_t a, float *next) {
    int64_t g = consts_of(s).g;
    int32_t x, y;
    vb_gridworld_move(g, coord(g, obs[0]), coord(g, obs[1]), a, &x, &y);
    next[0] = (float)x;
    next[1] = (float)y;
}

static int64_t grid_state_cell(const vb_task_spec *s, const float *obs) {
    int64_t g = consts_of(s).g;
    return (int64_t)coord(g, obs[1]) * g + coord(g, obs[0]);
}

static int64_t grid_reward_cell(const vb_task_spec *s, const float *obs, int32_t a, const float *next) {
    return grid_state_cell(s, next);
}

static void grid_cell_obs(const vb_task_spec *s, int64_t cell, float *obs) {
    int64_t g = consts_of(s).g;
    obs[0] = (float)(cell % g);
    obs[1] = (float)(cell / g);
}

int vb_gridworld_moves(const vb_env_batch *b, int64_t i, int8_t moves[5]) {
    if (b->spec.family != VB_ENV_GRIDWORLD || i < 0 || i >= b->n) return -1;
    const grid_state *st = b->state;
    for (int a = 0; a < 5; a++) moves[a] = st->moves[i * 5 + a];
    return 0;
}

int vb_gridworld_goal(const vb_env_batch *b, int64_t i, int32_t *x, int32_t *y) {
    if (b->spec.family != VB_ENV_GRIDWORLD || i < 0 || i >= b->n) return -1;
    const grid_state *st = b->state;
    *x = st->goal[i * 2];
    *y = st->goal[i * 2 + 1];
    return 0;
}

int vb_gridworld_position(const vb_env_batch *b, int64_t i, int32_t *x, int32_t *y) {
    if (b->spec.family != VB_ENV_GRIDWORLD || i < 0 || i >= b->n) return -1;
    const grid_state *st = b->state;
    *x = st->pos[i * 2];
    *y = st->pos[i * 2 + 1];
    return 0;
}

/* every episode starts from the same observation, (0, 0): start_obs NULL */

static void grid_task_cells(void *state, int64_t i, float *out) {
    const grid_state *st = state;
    const int64_t g = st->g;
    for (int64_t k = 0; k < g * g; k++) out[k] = 0.0f;
    out[st->goal[i * 2 + 1] * g + st->goal[i * 2]] = 1.0f;
}

const vb_task_family vb__gridworld_family = {
    VB_TASK_FAMILY_INIT,
    .name = "gridworld",
    .description = "VariBAD's GridNavi: find a goal hidden among the cells, then return to it",
    .spec = grid_spec,
    .create = grid_create,
    .destroy = grid_destroy,
    .reset_task = grid_reset_task,
    .reset_episode = grid_reset_episode,
    .step = grid_step,
    .transition = grid_transition,
    .reward_cell = grid_reward_cell,
    .state_cell = grid_state_cell,
    .cell_obs = grid_cell_obs,
    .task_cells = grid_task_cells,
};
