/* agent — a policy over a batch of environments, behind a small vtable.
 *
 * The reference agents (common/baselines/: random, oracles, greedy search,
 * Bayes-optimal DP, Thompson, UCB1, GP-UCB/EI/Thompson) and trained agents
 * loaded from a checkpoint (trained.h) share this interface, so the
 * evaluation driver never knows which one it runs. Per step the caller does:
 *
 *   vb_agent_act(a, env, actions);      actions from env->obs and the agent's memory
 *   vb_env_step(env, actions);
 *   vb_agent_observe(a, env, actions);  env->reward / done / task_done / obs (the successor)
 *   ...resets; after a vb_env_reset_task(env, i), vb_agent_reset(a, env, i)
 *
 * so the agent sees each env's whole observation / action / reward / done
 * history. Env i's random choices come from its own vb_rng stream
 * (seed, stream_base + i), like the envs, so a task's trajectory depends only
 * on its env and agent streams. Oracles may peek at the task through the
 * family headers (gridworld.h, funcopt.h); the others use the prior only.
 *
 * An agent whose policy is computed before any task (the Bayes-optimal
 * dynamic programs) has a solution (baselines/registry.h). */
#ifndef VB_AGENT_H
#define VB_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/rng.h"
#include "../envs/env.h"

enum {
    VB_AGENT_EUSAGE = -1,  /* unknown name, wrong family, or a configuration it cannot handle */
    VB_AGENT_ERUNTIME = -2, /* out of memory */
};

typedef struct vb_agent vb_agent;
typedef struct vb_agent_solution vb_agent_solution;

typedef struct vb_agent_ops {
    /* Env i starts a new task: forget its history (and peek, for oracles). */
    void (*reset)(vb_agent *a, const vb_env_batch *env, int64_t i);
    /* One action per env into actions[0 .. env->n). */
    void (*act)(vb_agent *a, const vb_env_batch *env, int32_t *actions);
    /* After vb_env_step with these actions: read env's reward, done and obs. */
    void (*observe)(vb_agent *a, const vb_env_batch *env, const int32_t *actions);
    /* Free the implementation's state. */
    void (*destroy)(void *impl);
    /* Optional (NULL: the agent keeps no learned belief). After act, the
     * belief it acted on, decoded per reward cell for every env: cells
     * (n, reward_cells) = the predictive probability of a hit (a Bernoulli
     * family's reward) or the predictive mean reward. Changes nothing the
     * agent does next. */
    void (*belief)(vb_agent *a, float *cells);
} vb_agent_ops;

struct vb_agent {
    const char *name;
    const vb_agent_ops *ops;
    int64_t n;         /* environments served (the batch size) */
    vb_rng *rng;       /* (n) env i: stream stream_base + i */
    uint64_t seed;
    uint64_t stream_base;
    void *impl;        /* the agent's own state */
    const void *solution;          /* the agent's solved policy, NULL if it has none */
    vb_agent_solution *own;        /* a solution the agent owns (vb_agent_create's), freed with it by own_free */
    void (*own_free)(vb_agent_solution *s);
};

void vb_agent_destroy(vb_agent *a);
/* Re-address every env's stream at position 0 of (seed, stream_base + i). */
void vb_agent_set_streams(vb_agent *a, uint64_t seed, uint64_t stream_base);
/* Env i starts a new task. */
void vb_agent_reset(vb_agent *a, const vb_env_batch *env, int64_t i);
/* Every env starts a new task. */
void vb_agent_reset_all(vb_agent *a, const vb_env_batch *env);
/* Actions for every env of the batch. */
void vb_agent_act(vb_agent *a, const vb_env_batch *env, int32_t *actions);
/* The outcome of the last vb_env_step. */
void vb_agent_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions);
/* ops->belief into cells: 0, or -1 where the agent has no belief. */
int vb_agent_belief(vb_agent *a, float *cells);

/* Index of the largest of v[0..n); exact ties are broken uniformly at random
 * with r (one word per tie met), or towards the lowest index when r is NULL. */
int64_t vb_argmax(const double *v, int64_t n, vb_rng *r);

#endif
