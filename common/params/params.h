/* params — the one place below cmd/ that reads a run configuration: each
 * module takes its own small parameter struct, and these build them from
 * vb_config. */
#ifndef VB_PARAMS_H
#define VB_PARAMS_H

#include <stdbool.h>

#include "../train/acting.h"
#include "../eval/evaluate.h"
#include "../train/learning.h"
#include "../model/model.h"
#include "../planner/smc.h"
#include "../base/config.h"
#include "../envs/env.h"

/* The planner's settings (planner.*, env.gamma); explore turns the root
 * Dirichlet noise on (training) or off (evaluation, which also applies the
 * eval section's planner overrides). */
vb_planner_cfg vb_planner_cfg_from(const vb_config *cfg, bool explore);

/* The learner's settings (learner.*, run.algo and seed, env.gamma and the
 * bandit prior, model.rl_grad_to_encoder; the optimiser's schedule spans
 * run.total_env_steps). */
vb_learning_cfg vb_learning_cfg_from(const vb_config *cfg);

/* The task family (env.*). */
vb_env_params vb_env_params_from(const vb_config *cfg);
/* The networks (model.*, run.algo, planner.dynamics). */
vb_model_cfg vb_model_cfg_from(const vb_config *cfg);
/* Acting while training (run.algo, learner.window, env.*, the exploring
 * planner and planner.act). */
vb_acting_cfg vb_acting_cfg_from(const vb_config *cfg);
/* An evaluation's settings from the config: env.*, env.batch, eval.greedy,
 * eval.planning, the planner with the eval section's overrides,
 * log.interval_s, eval.tasks and run.seed; the caller names the agent (or
 * model and parameters) and may change the rest. */
vb_eval_options vb_eval_options_from(const vb_config *cfg);

/* For callers that hold a config: the spec, a batch and a model from it. */
/* (a plugin family is also checked by vb_env_check) */
int vb_env_spec_from_config(const vb_config *cfg, vb_env_spec *spec, char *err, size_t err_len);
int vb_env_batch_from_config(vb_env_batch **out, const vb_config *cfg, int64_t n, uint64_t seed,
                             uint64_t stream_base, char *err, size_t err_len);
int vb_model_build_from_config(vb_model *m, const vb_config *cfg, const vb_env_spec *spec, char *err,
                               size_t err_len);
int vb_acting_create_from_config(vb_acting *a, const vb_backend *be, const vb_model *m, const vb_config *cfg,
                                 int64_t n, uint64_t seed, uint64_t stream_base, char *err, size_t err_len);

#endif
