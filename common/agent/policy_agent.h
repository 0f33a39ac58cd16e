/* policy_agent — a trained model as a vb_agent: the encoder tracks each env's
 * belief step by step and the policy head picks the action (argmax when
 * greedy, else a sample). The model and parameters are shared read-only, so
 * one trained model can serve several agents on several threads. */
#ifndef VB_POLICY_AGENT_H
#define VB_POLICY_AGENT_H

#include <stdbool.h>

#include "../envs/agent.h"
#include "model.h"

/* An agent over env's batch; streams (seed, stream_base + i). 0, or
 * VB_AGENT_ERUNTIME with err. */
int vb_policy_agent_create(vb_agent **out, const vb_model *m, const float *P, bool greedy, const vb_env_batch *env,
                           uint64_t seed, uint64_t stream_base, char *err, size_t err_len);

#endif
