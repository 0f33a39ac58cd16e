/* gridnavi — VariBAD's GridNavi as a task-family plugin, written against
 * include/varibased/task_family.h alone (no other varibased header).
 *
 * A 5x5 grid (env.args size=N); each task hides a goal among the cells away
 * from the start corner and keeps it for `episodes` episodes of `steps`
 * steps. Reward -0.1 per step, 1 on the goal. With permute=1 each task also
 * shuffles what the four move actions do, so transitions depend on the task
 * and the planner must imagine them with its learned decoder.
 *
 * The draws are the built-in gridworld's (host->below on the env's stream,
 * in the same order), so on the same seeds it plays the same tasks and is a
 * drop-in parity check of the plugin path.
 *
 * Build: make examples (build/examples/libgridnavi.so), or
 *   cc -std=c11 -O2 -fPIC -shared -I<varibased>/include gridnavi.c -o libgridnavi.so */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <varibased/task_family.h>

enum { STAY = 0, UP = 1, RIGHT = 2, DOWN = 3, LEFT = 4, ACTIONS = 5 };

/* Constants the stateless callbacks read back from spec->data. */
typedef struct consts {
    int64_t size;
    int32_t permute;
} consts;

static consts consts_of(const vb_task_spec *s) {
    consts c;
    memcpy(&c, s->data.bytes, sizeof c);
    return c;
}

/* The state of n environments, struct-of-arrays. */
typedef struct grid {
    int64_t n, size;
    int32_t permute;
    int32_t *x, *y;          /* (n) position */
    int32_t *gx, *gy;        /* (n) goal */
    int8_t *move;            /* (n, ACTIONS) the move each action makes */
} grid;

static int is_candidate(int32_t x, int32_t y) { return !(x < 2 && y < 2); }

static void apply_move(int64_t size, int32_t move, int32_t *x, int32_t *y) {
    int32_t last = (int32_t)size - 1;
    if (move == UP && *y < last) (*y)++;
    if (move == RIGHT && *x < last) (*x)++;
    if (move == DOWN && *y > 0) (*y)--;
    if (move == LEFT && *x > 0) (*x)--;
}

/* An observation's cell, rounded and clamped onto the grid. */
static int32_t coord(int64_t size, float v) {
    if (!(v > 0)) return 0;
    if (v >= (float)(size - 1)) return (int32_t)(size - 1);
    return (int32_t)(v + 0.5f);
}

static int spec(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err, size_t err_len) {
    int64_t size = 5, steps = 15, episodes = 4, permute = 0;
    if (h->arg_int(args, "size", &size, err, err_len) < 0 || h->arg_int(args, "steps", &steps, err, err_len) < 0 ||
        h->arg_int(args, "episodes", &episodes, err, err_len) < 0 ||
        h->arg_int(args, "permute", &permute, err, err_len) < 0)
        return -1;
    if (size < 3 || size > 64) return snprintf(err, err_len, "size %lld: expected 3 .. 64", (long long)size), -1;
    if (permute != 0 && permute != 1)
        return snprintf(err, err_len, "permute %lld: expected 0 or 1", (long long)permute), -1;
    s->obs_size = 2;
    s->obs_layout = "x, y of the current cell";
    s->num_actions = ACTIONS;
    s->reward_kind = VB_TASK_REWARD_BERNOULLI;
    s->reward_levels[0] = -0.1f;
    s->reward_levels[1] = 1.0f;
    s->episode_length = steps;
    s->episodes_per_task = episodes;
    s->task_independent_transitions = !permute;
    s->state_cells = size * size;
    s->reward_cells = size * size;
    s->reward_cell_layout = "the cell after the move, y * size + x";
    s->cell_hit_prior = 1.0 / (double)(size * size - 4);
    consts c = {.size = size, .permute = (int32_t)permute};
    memcpy(s->data.bytes, &c, sizeof c);
    return 0;
}

static void destroy(void *state) {
    grid *g = state;
    if (!g) return;
    free(g->x);
    free(g->y);
    free(g->gx);
    free(g->gy);
    free(g->move);
    free(g);
}

static int create(const vb_task_host *h, const vb_task_spec *s, int64_t n, void **state, char *err, size_t err_len) {
    grid *g = calloc(1, sizeof *g);
    if (!g) return snprintf(err, err_len, "out of memory"), -1;
    consts c = consts_of(s);
    g->n = n;
    g->size = c.size;
    g->permute = c.permute;
    g->x = calloc((size_t)n, sizeof *g->x);
    g->y = calloc((size_t)n, sizeof *g->y);
    g->gx = calloc((size_t)n, sizeof *g->gx);
    g->gy = calloc((size_t)n, sizeof *g->gy);
    g->move = calloc((size_t)n * ACTIONS, sizeof *g->move);
    if (!g->x || !g->y || !g->gx || !g->gy || !g->move) {
        destroy(g);
        return snprintf(err, err_len, "out of memory for %lld environments", (long long)n), -1;
    }
    *state = g;
    return 0;
}

static void write_obs(const grid *g, const vb_task_io *io, int64_t i) {
    io->obs[i * 2] = (float)g->x[i];
    io->obs[i * 2 + 1] = (float)g->y[i];
}

static int reset_episode(void *state, const vb_task_io *io, int64_t i) {
    grid *g = state;
    g->x[i] = g->y[i] = 0;
    write_obs(g, io, i);
    return 0;
}

/* The goal: the k-th candidate cell in row-major order, k uniform; then,
 * with permute, a Fisher-Yates shuffle of the four moves. */
static int reset_task(void *state, const vb_task_io *io, int64_t i) {
    grid *g = state;
    vb_task_rng *rng = vb_task_env_rng(io, i);
    int32_t size = (int32_t)g->size;
    uint32_t k = io->host->below(rng, (uint32_t)(size * size - 4));
    for (int32_t y = 0; y < size; y++)
        for (int32_t x = 0; x < size; x++)
            if (is_candidate(x, y) && k-- == 0) {
                g->gx[i] = x;
                g->gy[i] = y;
            }
    int8_t *mv = &g->move[i * ACTIONS];
    for (int8_t a = 0; a < ACTIONS; a++) mv[a] = a;
    if (g->permute)
        for (uint32_t j = 4; j > 1; j--) {
            uint32_t r = io->host->below(rng, j);
            int8_t t = mv[j];
            mv[j] = mv[1 + r];
            mv[1 + r] = t;
        }
    return reset_episode(g, io, i);
}

static int step(void *state, const vb_task_io *io, const int32_t *actions) {
    grid *g = state;
    for (int64_t i = 0; i < g->n; i++) {
        apply_move(g->size, g->move[i * ACTIONS + actions[i]], &g->x[i], &g->y[i]);
        int hit = g->x[i] == g->gx[i] && g->y[i] == g->gy[i];
        io->reward[i] = io->spec->reward_levels[hit];
        write_obs(g, io, i);
    }
    return 0;
}

static int64_t state_cell(const vb_task_spec *s, const float *obs) {
    int64_t size = consts_of(s).size;
    return (int64_t)coord(size, obs[1]) * size + coord(size, obs[0]);
}

static void cell_obs(const vb_task_spec *s, int64_t cell, float *obs) {
    int64_t size = consts_of(s).size;
    obs[0] = (float)(cell % size);
    obs[1] = (float)(cell / size);
}

static int64_t reward_cell(const vb_task_spec *s, const float *obs, int32_t action, const float *next_obs) {
    return state_cell(s, next_obs);
}

static void transition(const vb_task_spec *s, const float *obs, int32_t action, float *next_obs) {
    int64_t size = consts_of(s).size;
    int32_t x = coord(size, obs[0]), y = coord(size, obs[1]);
    apply_move(size, action, &x, &y);
    next_obs[0] = (float)x;
    next_obs[1] = (float)y;
}

static void task_cells(void *state, int64_t i, float *out) {
    const grid *g = state;
    for (int64_t c = 0; c < g->size * g->size; c++) out[c] = 0.0f;
    out[g->gy[i] * g->size + g->gx[i]] = 1.0f;
}

static const vb_task_family gridnavi = {
    VB_TASK_FAMILY_INIT,
    .name = "gridnavi",
    .description = "VariBAD's GridNavi as a plugin (env.args: size, steps, episodes, permute)",
    .spec = spec,
    .create = create,
    .destroy = destroy,
    .reset_task = reset_task,
    .reset_episode = reset_episode,
    .step = step,
    .reward_cell = reward_cell,
    .transition = transition,
    .state_cell = state_cell,
    .cell_obs = cell_obs,
    .task_cells = task_cells,
};

VB_TASK_EXPORT(&gridnavi)
