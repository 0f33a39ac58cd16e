/* env — the task families behind one batched interface.
 *
 * A task family is a distribution over MDPs (a goal cell, arm probabilities, a
 * function). Its vb_env_spec says everything an agent may know before seeing a
 * task: the observation layout, the action count, the reward type, the clock
 * (episode length, episodes per task, H+ = steps per task), whether the state
 * transition is task-independent (and then vb_env_transition computes it
 * exactly), and a structured reward head: `reward_cells` cells and the cell a
 * transition reads (vb_env_reward_cell), so a decoder can output one logit or
 * mean per cell and pick the one for the transition.
 *
 * A batch holds n environments of one family stored contiguously (plain arrays,
 * PufferLib style). The caller-visible buffers obs / reward / done / task_done
 * / regret are written by the resets and by vb_env_step; nothing is allocated
 * after vb_env_batch_create. Environment i draws all its randomness (task and
 * observation noise) from vb_rng stream `stream_base + i` under `seed`, so a
 * batch is deterministic and env i's trajectory depends on nothing but
 * (seed, stream_base + i) and its actions.
 *
 * Clock: vb_env_step never resets. A step that ends an episode sets done; the
 * one that ends the last episode of the task also sets task_done. obs then
 * holds the successor state of the final step (what a model decodes); the
 * caller starts the next episode with vb_env_reset_episode or the next task
 * with vb_env_reset_task (vb_env_reset_finished does whichever is due).
 * Stepping an env whose episode has ended is an error.
 *
 * The families implement include/varibased/task_family.h, the public
 * interface a plugin implements too (env.name: plugin). */
#ifndef VB_ENV_H
#define VB_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varibased/task_family.h>

#include "../base/kinds.h"
#include "../base/rng.h"

typedef enum vb_reward_kind {
    VB_REWARD_BERNOULLI = 0, /* one of two levels: reward_levels[0] (miss) or [1] (hit) */
    VB_REWARD_GAUSSIAN = 1,  /* real-valued: a task-dependent mean plus Gaussian noise */
} vb_reward_kind;

enum {
    VB_ENV_OK = 0,
    VB_ENV_EACTION = -1,   /* an action outside [0, num_actions) */
    VB_ENV_EFINISHED = -2, /* stepped an env whose episode has ended */
    VB_ENV_EINDEX = -3,    /* an env index outside [0, n) */
    VB_ENV_ENOEPISODE = -5, /* reset_episode during the task's last episode */
    VB_ENV_ETASKDEP = -6,  /* vb_env_transition of a family whose transitions depend on the task */
    VB_ENV_EFAMILY = -7,   /* the family's callback failed: vb_env_last_error says why */
    VB_ENV_ENOLABELS = -8, /* vb_env_task_cells of a family that declares no task labels */
};

/* A task family and its parameters (the env section of a run config). */
typedef struct vb_env_params {
    int family;                  /* vb_env_name */
    double gamma;
    int64_t grid_size, episode_length, episodes_per_task;            /* gridworld */
    bool permute_moves;                                              /* gridworld */
    int64_t arms, horizon;                                           /* bandit */
    double prior_alpha, prior_beta;                                  /* bandit: Beta task prior */
    int64_t points, queries;                                         /* funcopt */
    double lengthscale_min, lengthscale_max, noise_std;              /* funcopt */
    char plugin[256];            /* VB_ENV_PLUGIN: the shared library */
    char family_name[64];        /* VB_ENV_PLUGIN: the family's name in it */
    char args[512];              /* VB_ENV_PLUGIN: its parameters, "key=value ..." */
} vb_env_params;

typedef struct vb_env_spec {
    int family;                  /* vb_env_name */
    const char *name;            /* the family's name: "gridworld", "bandit", "funcopt", a plugin's */
    int64_t obs_size;            /* floats per observation */
    const char *obs_layout;      /* what each observation feature is */
    int64_t num_actions;
    int reward_kind;             /* vb_reward_kind */
    float reward_levels[2];      /* BERNOULLI: {miss, hit}; GAUSSIAN: {0, 0} */
    double reward_noise_std;     /* GAUSSIAN: observation noise; BERNOULLI: 0 */
    int64_t episode_length;      /* steps per episode */
    int64_t episodes_per_task;   /* episodes of one task (the task is kept) */
    int64_t steps_per_task;      /* H+ = episode_length * episodes_per_task */
    double gamma;                /* discount factor (env.gamma) */
    bool task_independent_transitions; /* vb_env_transition is exact for every task */
    int64_t state_cells;         /* > 0: the states are these many discrete cells (vb_env_state_cell,
                                    vb_env_cell_obs), decoded as a categorical; 0: continuous
                                    observations, decoded as unit-variance Gaussians */
    int64_t reward_cells;        /* structured reward head: one output per cell */
    const char *reward_cell_layout; /* what a cell is */
    double cell_hit_prior;       /* BERNOULLI: a cell's probability of a hit under the task prior
                                    (the reward head's initial output); 0: not given */
    bool reports_regret;         /* the batch's regret buffer is meaningful */
    int64_t grid_size;           /* gridworld: side of the grid; else 0 */
    bool permuted_moves;         /* gridworld: each task permutes the four moves */
    int64_t points;              /* funcopt: grid points N; else 0 */
    double prior_alpha, prior_beta; /* bandit: the Beta prior every arm's p is drawn from; else 0 */
    bool has_task_cells;         /* the family gives task labels (vb_env_task_cells) */
    const vb_task_family *impl;  /* the family's table (built-in or a loaded plugin's) */
    vb_task_spec task;           /* the spec as the family wrote it: what its callbacks read */
} vb_env_spec;

typedef struct vb_env_batch {
    vb_env_spec spec;
    int64_t n;             /* environments in the batch */
    /* caller-visible buffers */
    float *obs;            /* (n, obs_size) current observation */
    float *reward;         /* (n) reward of the last step */
    uint8_t *done;         /* (n) the last step ended an episode */
    uint8_t *task_done;    /* (n) the last step ended the task (done is set too) */
    float *regret;         /* (n) simple regret after the last step (reports_regret) */
    /* clock */
    int64_t *t;            /* (n) steps taken in the current episode */
    int64_t *episode;      /* (n) index of the current episode within the task */
    /* randomness */
    uint64_t seed;
    uint64_t stream_base;
    vb_rng *rng;           /* (n) env i: stream stream_base + i */
    /* family state */
    const vb_task_family *family;
    void *state;
    vb_task_io io;         /* the buffers above as the family sees them */
    char err[4096];        /* why the family's last callback failed (a Python traceback fits) */
} vb_env_batch;

/* The spec of family p->family with p's parameters (a plugin is loaded on
 * first use), checked field by field. 0, or -1 with err. */
int vb_env_spec_from(const vb_env_params *p, vb_env_spec *spec, char *err, size_t err_len);
/* A batch of n envs of p's family, streams (seed, stream_base + i). Every env
 * starts a fresh task. Returns 0, or -1 with err (out of memory, bad n). */
int vb_env_batch_create(vb_env_batch **out, const vb_env_params *p, int64_t n, uint64_t seed,
                        uint64_t stream_base, char *err, size_t err_len);
void vb_env_batch_destroy(vb_env_batch *b);
/* Re-address every env's stream (position 0 of seed, stream_base + i); tasks
 * are not redrawn until the next reset. */
void vb_env_set_streams(vb_env_batch *b, uint64_t seed, uint64_t stream_base);

/* Env i draws a new task and starts its first episode. VB_ENV_OK or an error. */
int vb_env_reset_task(vb_env_batch *b, int64_t i);
/* Every env draws a new task. VB_ENV_OK or the first error. */
int vb_env_reset_all(vb_env_batch *b);
/* Env i starts its next episode of the same task (an env that has not yet
 * stepped in its episode stays in it). VB_ENV_ENOEPISODE once the last episode
 * has begun: the next task comes from vb_env_reset_task. */
int vb_env_reset_episode(vb_env_batch *b, int64_t i);
/* For each env whose last step set done: the next task if task_done, else the
 * next episode. VB_ENV_OK or the first error. */
int vb_env_reset_finished(vb_env_batch *b);
/* One step of every env with actions[i] (n of them). All actions are checked
 * before any env moves; on an error nothing changed. */
int vb_env_step(vb_env_batch *b, const int32_t *actions);

/* task-independent transitions only: the exact successor of obs under action,
 * written to next_obs (obs_size floats). VB_ENV_OK, VB_ENV_EACTION, or
 * VB_ENV_ETASKDEP where the spec's transitions depend on the task. */
int vb_env_transition(const vb_env_spec *spec, const float *obs, int32_t action, float *next_obs);
/* planner.dynamics as it applies to spec: VB_DYN_AUTO becomes VB_DYN_ENV where
 * the transitions are task-independent, else VB_DYN_LEARNED; others unchanged. */
int vb_env_resolve_dynamics(const vb_env_spec *spec, int dynamics);
/* state_cells > 0: the cell of an observation, in [0, state_cells), and the
 * observation of a cell (obs_size floats). */
int64_t vb_env_state_cell(const vb_env_spec *spec, const float *obs);
void vb_env_cell_obs(const vb_env_spec *spec, int64_t cell, float *obs);
/* The observation every later episode of a task starts from (task-independent
 * for every family), written to obs (obs_size floats). */
void vb_env_episode_start_obs(const vb_env_spec *spec, float *obs);
/* The reward cell of the transition (obs, action, next_obs), in [0, reward_cells). */
int64_t vb_env_reward_cell(const vb_env_spec *spec, const float *obs, int32_t action, const float *next_obs);

/* Env i's current task as one label per reward cell, what a decoder of the
 * task predicts (training-time, privileged): BERNOULLI rewards: the
 * probability of the hit level at the cell (gridworld: 1 at the goal, else 0;
 * bandit: the arm's p); GAUSSIAN: the mean reward (funcopt: f at the point).
 * Writes spec.reward_cells floats; VB_ENV_OK or VB_ENV_EINDEX. */
int vb_env_task_cells(const vb_env_batch *b, int64_t i, float *out);

/* Text of a VB_ENV_* code. */
const char *vb_env_strerror(int code);
/* Why the batch's last failing call failed: the family's own message after
 * VB_ENV_EFAMILY, else vb_env_strerror(code). */
const char *vb_env_error(const vb_env_batch *b, int code);

#endif
