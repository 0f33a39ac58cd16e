/* agent — a policy over a batch of environments, behind a small vtable.
 *
 * The reference agents (random, oracles, greedy search, Bayes-optimal DP,
 * Thompson, UCB1, GP-UCB/EI/Thompson) and, later, trained agents loaded from
 * a checkpoint share this interface, so the evaluation driver never knows
 * which one it runs. Per step the caller does:
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
 * dynamic programs) has a solution: vb_agent_solve computes it once, every
 * instance made by vb_agent_create_solved reads it (an evaluation's worker
 * threads share one), and it may know its exact expected returns
 * (vb_agent_solution_exact). vb_agent_create solves for itself. */
#ifndef VB_AGENT_H
#define VB_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/rng.h"
#include "env.h"

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
    vb_agent_solution *own;        /* a solution made by vb_agent_create, freed with the agent */
};

/* One registered agent. */
typedef struct vb_agent_info {
    const char *name;
    int family;        /* vb_env_name, or -1 for every family */
    const char *summary;
    /* Set a->ops and a->impl for env's batch (a->n, a->rng and a->solution are set). */
    int (*create)(vb_agent *a, const vb_env_batch *env, char *err, size_t err_len);
    /* Optional: the policy computed before any task, shared by every instance.
     * 0, or VB_AGENT_EUSAGE / VB_AGENT_ERUNTIME with err. */
    int (*solve)(const vb_env_spec *spec, void **solution, char *err, size_t err_len);
    void (*solution_free)(void *solution);
    /* Optional: the exact expected task return and per-episode returns (episodes of them). */
    void (*exact)(const void *solution, double *task_return, double *episode_return, int64_t episodes);
} vb_agent_info;

/* The registry and its length. */
const vb_agent_info *vb_agent_registry(size_t *count);
/* The agent `name` for task family `family`; NULL when unknown or unfit. */
const vb_agent_info *vb_agent_find(const char *name, int family);
/* The names of the agents that fit `family`, comma-separated, into buf. */
void vb_agent_names(int family, char *buf, size_t len);

/* Create agent `name` for env's batch, streams (seed, stream_base + i), every
 * env at a task start (solving its policy first if it has one). 0, or
 * VB_AGENT_EUSAGE / VB_AGENT_ERUNTIME with err. */
int vb_agent_create(vb_agent **out, const char *name, const vb_env_batch *env,
                    uint64_t seed, uint64_t stream_base, char *err, size_t err_len);
/* Solve agent `name`'s policy for the family of spec; *out is NULL for an
 * agent without one. 0, or VB_AGENT_EUSAGE / VB_AGENT_ERUNTIME with err. */
int vb_agent_solve(vb_agent_solution **out, const char *name, const vb_env_spec *spec,
                   char *err, size_t err_len);
void vb_agent_solution_free(vb_agent_solution *s);
/* The solved agent's exact expected task return and per-episode returns
 * (episodes of them). 0, or -1 when it does not know them (or s is NULL). */
int vb_agent_solution_exact(const vb_agent_solution *s, double *task_return, double *episode_return, int64_t episodes);
/* vb_agent_create reading solution (from vb_agent_solve of the same name and
 * family; NULL for an agent without one). The solution must outlive the agent. */
int vb_agent_create_solved(vb_agent **out, const char *name, const vb_agent_solution *solution,
                           const vb_env_batch *env, uint64_t seed, uint64_t stream_base,
                           char *err, size_t err_len);
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

/* Index of the largest of v[0..n); exact ties are broken uniformly at random
 * with r (one word per tie met), or towards the lowest index when r is NULL. */
int64_t vb_argmax(const double *v, int64_t n, vb_rng *r);

#endif
