/* params — the one place below cmd/ that reads a run configuration: each
 * module takes its own small parameter struct, and these build them from
 * vb_config. */
#ifndef VB_PARAMS_H
#define VB_PARAMS_H

#include <stdbool.h>

#include "../agent/learning.h"
#include "../agent/smc.h"
#include "../base/config.h"

/* The planner's settings (planner.*, env.gamma); explore turns the root
 * Dirichlet noise on (training) or off (evaluation, which also applies the
 * eval section's planner overrides). */
vb_planner_cfg vb_planner_cfg_from(const vb_config *cfg, bool explore);

/* The learner's settings (learner.*, run.algo and seed, env.gamma and the
 * bandit prior, model.rl_grad_to_encoder; the optimiser's schedule spans
 * run.total_env_steps). */
vb_learning_cfg vb_learning_cfg_from(const vb_config *cfg);

#endif
