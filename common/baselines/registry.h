/* registry — the reference agents by name and task family, and their
 * solutions.
 *
 * An agent whose policy is computed before any task (the Bayes-optimal
 * dynamic programs) has a solution: vb_agent_solve computes it once, every
 * instance made by vb_agent_create_solved reads it (an evaluation's worker
 * threads share one), and it may know its exact expected returns
 * (vb_agent_solution_exact). vb_agent_create solves for itself. */
#ifndef VB_REGISTRY_H
#define VB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "../policy/agent.h"

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
#endif
