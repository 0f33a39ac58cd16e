/* trained — a trained model as a vb_agent: the encoder tracks each env's
 * belief step by step and the action comes from the policy head or, for a
 * belief-planning model given a planner config, from Belief-SMC's q* (argmax
 * when greedy, else a sample). K = 1, D = 0 with the backup readout is the
 * amortised policy itself. The model and parameters are shared read-only, so
 * one trained model can serve several agents on several threads. */
#ifndef VB_TRAINED_H
#define VB_TRAINED_H

#include <stdbool.h>

#include "agent.h"
#include "../model/model.h"
#include "../planner/planner.h"

/* An agent over env's batch; streams (seed, stream_base + i); plan: the
 * planner's settings, or NULL to act from the policy head. 0, or
 * VB_AGENT_EUSAGE / VB_AGENT_ERUNTIME with err. */
int vb_trained_agent_create(vb_agent **out, const vb_model *m, const float *P, bool greedy, const vb_planner_cfg *plan,
                           const vb_env_batch *env, uint64_t seed, uint64_t stream_base, char *err, size_t err_len);

#endif
