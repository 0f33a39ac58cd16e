/* faulty — task families that break the contract one way each, for the
 * loader's and the env's error paths (tests/unit/test_env_plugin.c). All are
 * a one-cell, one-step family otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <varibased/task_family.h>

static int good_spec(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err, size_t err_len) {
    int64_t fail_at = -1;
    if (h->arg_int(args, "fail_at", &fail_at, err, err_len) < 0) return -1;
    s->obs_size = 1;
    s->num_actions = 2;
    s->reward_kind = VB_TASK_REWARD_BERNOULLI;
    s->reward_levels[1] = 1.0f;
    s->episode_length = 3;
    s->episodes_per_task = 2;
    s->reward_cells = 2;
    memcpy(s->data.bytes, &fail_at, sizeof fail_at);
    return 0;
}

static int bad_obs_spec(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err, size_t err_len) {
    good_spec(h, args, s, err, err_len);
    s->obs_size = 0;
    return 0;
}

static int independent_spec(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err,
                            size_t err_len) {
    good_spec(h, args, s, err, err_len);
    s->task_independent_transitions = 1; /* without a transition callback */
    return 0;
}

static int refusing_spec(const vb_task_host *h, const vb_task_args *args, vb_task_spec *s, char *err, size_t err_len) {
    return snprintf(err, err_len, "this family refuses every parameter set"), -1;
}

typedef struct counter {
    int64_t steps, fail_at;
} counter;

static int create(const vb_task_host *h, const vb_task_spec *s, int64_t n, void **state, char *err, size_t err_len) {
    counter *c = calloc(1, sizeof *c);
    if (!c) return snprintf(err, err_len, "out of memory"), -1;
    memcpy(&c->fail_at, s->data.bytes, sizeof c->fail_at);
    *state = c;
    return 0;
}

static void destroy(void *state) { free(state); }

static int reset_task(void *state, const vb_task_io *io, int64_t i) {
    io->obs[i] = 0.0f;
    return 0;
}

static int reset_episode(void *state, const vb_task_io *io, int64_t i) { return reset_task(state, io, i); }

/* fails on the fail_at-th call (counting from 0), like a bug deep in a run */
static int step(void *state, const vb_task_io *io, const int32_t *actions) {
    counter *c = state;
    if (c->steps++ == c->fail_at) return snprintf(io->err, io->err_len, "step %lld: the simulator diverged",
                                                  (long long)c->fail_at), -1;
    for (int64_t i = 0; i < io->n; i++) {
        io->reward[i] = io->spec->reward_levels[actions[i] == 1];
        io->obs[i] = 0.0f;
    }
    return 0;
}

static int64_t reward_cell(const vb_task_spec *s, const float *obs, int32_t a, const float *next) { return a; }

static int64_t stray_reward_cell(const vb_task_spec *s, const float *obs, int32_t a, const float *next) {
    return a == 1 ? 1000 : -5; /* out of range both ways */
}

#define FAMILY(id, spec_fn, step_fn, cell_fn)                                                              \
    static const vb_task_family id = {VB_TASK_FAMILY_INIT, .name = #id, .description = "a faulty family", \
                                      .spec = spec_fn, .create = create, .destroy = destroy,              \
                                      .reset_task = reset_task, .reset_episode = reset_episode,           \
                                      .step = step_fn, .reward_cell = cell_fn}

FAMILY(steps_then_fails, good_spec, step, reward_cell);
FAMILY(obs_size_zero, bad_obs_spec, step, reward_cell);
FAMILY(independent_without_transition, independent_spec, step, reward_cell);
FAMILY(refuses, refusing_spec, step, reward_cell);
FAMILY(no_step, good_spec, NULL, reward_cell);
FAMILY(stray_reward_cell_family, good_spec, step, stray_reward_cell);

static const vb_task_family old_abi = {.abi_version = VB_TASK_ABI_VERSION + 7, .name = "old_abi"};

VB_TASK_EXPORT(&steps_then_fails, &obs_size_zero, &independent_without_transition, &refuses, &no_step,
               &stray_reward_cell_family, &old_abi)
