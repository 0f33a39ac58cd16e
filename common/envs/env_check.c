/* env_check — see env_check.h. */
#include "env_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHECK_ENVS = 4 };

static int finite_all(const float *v, int64_t n) {
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(v[j])) return 0;
    return 1;
}

/* Every cell's observation maps back to the cell. */
static int check_cells(const vb_env_spec *s, float *obs, char *err, size_t err_len) {
    for (int64_t c = 0; c < s->state_cells; c++) {
        vb_env_cell_obs(s, c, obs);
        int64_t back = s->impl->state_cell(&s->task, obs);
        if (back != c)
            return snprintf(err, err_len, "task family '%s': state_cell(cell_obs(%lld)) is %lld: they must be "
                                          "inverse", s->name, (long long)c, (long long)back), -1;
    }
    return 0;
}

/* One step's outputs for env i, which moved from prev under action a. */
static int check_step(const vb_env_batch *b, int64_t i, const float *prev, int32_t a, float *next, char *err,
                      size_t err_len) {
    const vb_env_spec *s = &b->spec;
    const float *obs = b->obs + i * s->obs_size;
    const char *n = s->name;
    if (!finite_all(obs, s->obs_size))
        return snprintf(err, err_len, "task family '%s': step wrote a non-finite observation (env %lld)", n,
                        (long long)i), -1;
    float r = b->reward[i];
    if (!isfinite(r) || (s->reward_kind == VB_REWARD_BERNOULLI && r != s->reward_levels[0] && r != s->reward_levels[1]))
        return snprintf(err, err_len, "task family '%s': step wrote reward %g (env %lld): expected %s", n, r,
                        (long long)i, s->reward_kind == VB_REWARD_BERNOULLI ? "one of spec.reward_levels" : "a finite value"),
               -1;
    int64_t rc = s->impl->reward_cell(&s->task, prev, a, obs);
    if (rc < 0 || rc >= s->reward_cells)
        return snprintf(err, err_len, "task family '%s': reward_cell returned %lld for action %d: expected 0 .. %lld",
                        n, (long long)rc, a, (long long)(s->reward_cells - 1)), -1;
    if (s->state_cells > 0) {
        int64_t c = s->impl->state_cell(&s->task, obs);
        if (c < 0 || c >= s->state_cells)
            return snprintf(err, err_len, "task family '%s': state_cell returned %lld: expected 0 .. %lld", n,
                            (long long)c, (long long)(s->state_cells - 1)), -1;
    }
    if (s->task_independent_transitions) {
        vb_env_transition(s, prev, a, next);
        for (int64_t j = 0; j < s->obs_size; j++)
            if (next[j] != obs[j])
                return snprintf(err, err_len, "task family '%s': transition disagrees with step (env %lld, action %d, "
                                              "feature %lld: %g against %g), yet the spec declares task-independent "
                                              "transitions", n, (long long)i, a, (long long)j, next[j], obs[j]), -1;
    }
    return 0;
}

int vb_env_check(const vb_env_params *p, int tasks, char *err, size_t err_len) {
    vb_env_batch *b;
    if (vb_env_batch_create(&b, p, CHECK_ENVS, 0x5eed, 0, err, err_len) != 0) return -1;
    const vb_env_spec *s = &b->spec;
    const int64_t O = s->obs_size;
    float *prev = malloc(sizeof(float) * (size_t)(CHECK_ENVS * O));
    float *next = malloc(sizeof(float) * (size_t)O);
    int32_t actions[CHECK_ENVS];
    vb_rng rng;
    vb_rng_init(&rng, 0x5eed, 1);
    int rc = prev && next ? check_cells(s, next, err, err_len) : (snprintf(err, err_len, "out of memory"), -1);
    for (int task = 0; rc == 0 && task < tasks; task++) {
        if (task > 0 && (rc = vb_env_reset_all(b)) != VB_ENV_OK) {
            snprintf(err, err_len, "task family '%s': reset_task: %s", s->name, vb_env_error(b, rc));
            break;
        }
        for (int64_t t = 0; rc == 0 && t < s->steps_per_task; t++) {
            memcpy(prev, b->obs, sizeof(float) * (size_t)(CHECK_ENVS * O));
            for (int64_t i = 0; i < CHECK_ENVS; i++) actions[i] = (int32_t)vb_rng_below(&rng, (uint32_t)s->num_actions);
            if ((rc = vb_env_step(b, actions)) != VB_ENV_OK) {
                snprintf(err, err_len, "task family '%s': step: %s", s->name, vb_env_error(b, rc));
                break;
            }
            for (int64_t i = 0; rc == 0 && i < CHECK_ENVS; i++) rc = check_step(b, i, prev + i * O, actions[i], next,
                                                                                 err, err_len);
            for (int64_t i = 0; rc == 0 && i < CHECK_ENVS; i++)
                if (b->done[i] && !b->task_done[i] && (rc = vb_env_reset_episode(b, i)) != VB_ENV_OK)
                    snprintf(err, err_len, "task family '%s': reset_episode: %s", s->name, vb_env_error(b, rc));
        }
    }
    free(prev);
    free(next);
    vb_env_batch_destroy(b);
    return rc == 0 ? 0 : -1;
}
