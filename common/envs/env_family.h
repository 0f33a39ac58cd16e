/* env_family — what a task family implements for env.c (internal).
 *
 * env.c owns the clock (t, episode, done, task_done), argument checks and the
 * streams; a family owns its task state and writes obs, reward and regret. */
#ifndef VB_ENV_FAMILY_H
#define VB_ENV_FAMILY_H

#include "env.h"

typedef struct vb__env_family {
    /* Fill the family's fields of spec from p (clock, sizes, reward). */
    int (*spec)(const vb_env_params *p, vb_env_spec *spec, char *err, size_t err_len);
    /* Allocate the task state of b->n envs into b->state. 0, or -1 with err. */
    int (*create)(vb_env_batch *b, const vb_env_params *p, char *err, size_t err_len);
    void (*destroy)(void *state);
    /* Draw env i's task from b->rng[i] and write its first observation. */
    int (*reset_task)(vb_env_batch *b, int64_t i);
    /* Write env i's observation at the start of a later episode. */
    void (*reset_episode)(vb_env_batch *b, int64_t i);
    /* Apply action a (already checked) to env i: obs, reward and regret. */
    void (*step)(vb_env_batch *b, int64_t i, int32_t a);
    /* The exact successor for task-independent transitions (action checked;
     * called only when the spec says they are). */
    void (*transition)(const vb_env_spec *spec, const float *obs, int32_t a, float *next_obs);
    /* The observation at the start of a later episode (task-independent). */
    void (*start_obs)(const vb_env_spec *spec, float *obs);
    /* state_cells > 0: the cell of an observation, and back. */
    int64_t (*state_cell)(const vb_env_spec *spec, const float *obs);
    void (*cell_obs)(const vb_env_spec *spec, int64_t cell, float *obs);
    /* The reward cell of a transition. */
    int64_t (*reward_cell)(const vb_env_spec *spec, const float *obs, int32_t a, const float *next_obs);
    /* Env i's task as decoder labels, one per reward cell (see env.h). */
    void (*task_cells)(const vb_env_batch *b, int64_t i, float *out);
} vb__env_family;

extern const vb__env_family vb__gridworld_family;
extern const vb__env_family vb__bandit_family;
extern const vb__env_family vb__funcopt_family;

#endif
