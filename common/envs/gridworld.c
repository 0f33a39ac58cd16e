/* gridworld — see gridworld.h. */
#include "gridworld.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "env_family.h"

typedef struct grid_state {
    int32_t *pos;  /* (n, 2) x, y */
    int32_t *goal; /* (n, 2) x, y */
    int8_t *moves; /* (n, 5) the move each action makes (identity unless permute_moves) */
} grid_state;

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

static int grid_spec(const vb_env_params *p, vb_env_spec *s, char *err, size_t err_len) {
    s->name = "gridworld";
    s->obs_size = 2;
    s->obs_layout = "x, y: the current cell, as floats in [0, grid_size - 1]";
    s->num_actions = 5;
    s->reward_kind = VB_REWARD_BERNOULLI;
    s->reward_levels[0] = -0.1f;
    s->reward_levels[1] = 1.0f;
    s->episode_length = p->episode_length;
    s->episodes_per_task = p->episodes_per_task;
    s->permuted_moves = p->permute_moves;
    s->task_independent_transitions = !p->permute_moves;
    s->grid_size = p->grid_size;
    s->state_cells = s->grid_size * s->grid_size;
    s->reward_cells = s->grid_size * s->grid_size;
    s->reward_cell_layout = "the cell after the move, y * grid_size + x (hit: it is the goal)";
    /* the goal is uniform over the candidate cells */
    int64_t candidates = 0;
    for (int32_t y = 0; y < s->grid_size; y++)
        for (int32_t x = 0; x < s->grid_size; x++) candidates += vb_gridworld_is_candidate(x, y);
    s->cell_hit_prior = candidates > 0 ? 1.0 / (double)candidates : 0.0;
    return 0;
}

static int grid_create(vb_env_batch *b, const vb_env_params *p, char *err, size_t err_len) {
    grid_state *st = calloc(1, sizeof *st);
    if (!st) return snprintf(err, err_len, "out of memory"), -1;
    b->state = st;
    st->pos = calloc((size_t)b->n * 2, sizeof *st->pos);
    st->goal = calloc((size_t)b->n * 2, sizeof *st->goal);
    st->moves = calloc((size_t)b->n * 5, sizeof *st->moves);
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

static void write_obs(vb_env_batch *b, int64_t i) {
    const grid_state *st = b->state;
    b->obs[i * 2] = (float)st->pos[i * 2];
    b->obs[i * 2 + 1] = (float)st->pos[i * 2 + 1];
}

static void grid_reset_episode(vb_env_batch *b, int64_t i) {
    grid_state *st = b->state;
    st->pos[i * 2] = 0;
    st->pos[i * 2 + 1] = 0;
    write_obs(b, i);
}

/* The goal is the k-th candidate in row-major order (y, then x), k uniform;
 * with permute_moves the four moves are then shuffled (Fisher-Yates, from the
 * same stream, so a seed's goals are those of the unpermuted family). */
static int grid_reset_task(vb_env_batch *b, int64_t i) {
    grid_state *st = b->state;
    int32_t g = (int32_t)b->spec.grid_size;
    uint32_t k = vb_rng_below(&b->rng[i], (uint32_t)(g * g - 4));
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
    if (b->spec.permuted_moves)
        for (uint32_t j = 4; j > 1; j--) {
            uint32_t r = vb_rng_below(&b->rng[i], j);
            int8_t t = mv[j];
            mv[j] = mv[1 + r];
            mv[1 + r] = t;
        }
    grid_reset_episode(b, i);
    return VB_ENV_OK;
}

static void grid_step(vb_env_batch *b, int64_t i, int32_t a) {
    grid_state *st = b->state;
    int32_t *p = &st->pos[i * 2];
    vb_gridworld_move(b->spec.grid_size, p[0], p[1], st->moves[i * 5 + a], &p[0], &p[1]);
    int hit = p[0] == st->goal[i * 2] && p[1] == st->goal[i * 2 + 1];
    b->reward[i] = b->spec.reward_levels[hit];
    write_obs(b, i);
}

/* A coordinate of an observation: whole numbers in [0, g - 1]; rounding and
 * clamping keep a caller's float noise (or a decoded state) on the grid. */
static int32_t coord(int64_t g, float v) {
    if (!(v > 0)) return 0; /* also NaN */
    if (v >= (float)(g - 1)) return (int32_t)(g - 1);
    return (int32_t)lrintf(v);
}

static void grid_transition(const vb_env_spec *s, const float *obs, int32_t a, float *next) {
    int32_t x, y;
    vb_gridworld_move(s->grid_size, coord(s->grid_size, obs[0]), coord(s->grid_size, obs[1]), a, &x, &y);
    next[0] = (float)x;
    next[1] = (float)y;
}

static int64_t grid_reward_cell(const vb_env_spec *s, const float *obs, int32_t a, const float *next) {
    return (int64_t)coord(s->grid_size, next[1]) * s->grid_size + coord(s->grid_size, next[0]);
}

static int64_t grid_state_cell(const vb_env_spec *s, const float *obs) {
    return (int64_t)coord(s->grid_size, obs[1]) * s->grid_size + coord(s->grid_size, obs[0]);
}

static void grid_cell_obs(const vb_env_spec *s, int64_t cell, float *obs) {
    obs[0] = (float)(cell % s->grid_size);
    obs[1] = (float)(cell / s->grid_size);
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

/* every episode starts from the same observation: all zeros */
static void grid_start_obs(const vb_env_spec *s, float *obs) {
    for (int64_t j = 0; j < s->obs_size; j++) obs[j] = 0.0f;
}

static void grid_task_cells(const vb_env_batch *b, int64_t i, float *out) {
    const grid_state *st = b->state;
    const int64_t g = b->spec.grid_size;
    for (int64_t k = 0; k < g * g; k++) out[k] = 0.0f;
    out[st->goal[i * 2 + 1] * g + st->goal[i * 2]] = 1.0f;
}

const vb__env_family vb__gridworld_family = {
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
    .start_obs = grid_start_obs,
    .task_cells = grid_task_cells,
};
