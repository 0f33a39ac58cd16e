/* agent_run — run a reference agent on fresh tasks in-process (a small eval
 * loop for the agent tests). */
#ifndef VB_TEST_AGENT_RUN_H
#define VB_TEST_AGENT_RUN_H

#include <stdint.h>

#include "common/base/config.h"
#include "common/baselines/registry.h"
#include "common/policy/agent.h"
#include "common/envs/env.h"

typedef struct vb_test_returns {
    int64_t tasks, episodes;
    double *episode_return; /* (tasks, episodes) */
    double *final_regret;   /* (tasks): envs that report regret, else 0 */
    double mean, se;        /* of the task return */
    double regret_mean;     /* of final_regret */
} vb_test_returns;

/* Run `agent` on `tasks` tasks of cfg's env, all in one batch, with env and
 * agent streams (seed, i) and (seed, 1 << 40 + i). Asserts on any error.
 * `peek`, when not NULL, is called with the batch after the tasks are drawn. */
void vb_test_run_agent(const vb_config *cfg, const char *agent, int64_t tasks, uint64_t seed, vb_test_returns *out,
                       void (*peek)(const vb_env_batch *env, void *ctx), void *ctx);
void vb_test_returns_free(vb_test_returns *r);

#endif
