/* kinds — the named choices a run is made of (algorithm, task family,
 * recurrent core, planner variants, ...): the vocabulary the configuration
 * (config.h) and the modules that take their own parameter structs share. */
#ifndef VB_KINDS_H
#define VB_KINDS_H

typedef enum vb_algo { VB_ALGO_VARIBASED = 0, VB_ALGO_RL2 = 1, VB_ALGO_VARIBAD = 2 } vb_algo;
typedef enum vb_env_name { VB_ENV_GRIDWORLD = 0, VB_ENV_BANDIT = 1, VB_ENV_FUNCOPT = 2, VB_ENV_PLUGIN = 3 } vb_env_name;
typedef enum vb_core_kind { VB_CORE_GRU = 0, VB_CORE_S5 = 1 } vb_core_kind;
/* the reward decoder: one Bernoulli (or Gaussian) per reward cell, or one categorical over the cells */
typedef enum vb_reward_decoder { VB_RDEC_INDEPENDENT = 0, VB_RDEC_CATEGORICAL = 1 } vb_reward_decoder;
/* where imagined state transitions come from: the trained next-state decoder, the env's exact
 * transition, or auto: env where the family declares task-independent transitions, else learned */
typedef enum vb_dynamics { VB_DYN_LEARNED = 0, VB_DYN_ENV = 1, VB_DYN_AUTO = 2 } vb_dynamics;
typedef enum vb_plan_target { VB_TARGET_BACKUP = 0, VB_TARGET_WEIGHTS = 1 } vb_plan_target;
typedef enum vb_backup_weights { VB_BACKUP_TWISTED = 0, VB_BACKUP_PRIOR = 1 } vb_backup_weights;
typedef enum vb_root_actions { VB_ROOT_POLICY = 0, VB_ROOT_ALL = 1 } vb_root_actions;
typedef enum vb_plan_act { VB_ACT_SAMPLE = 0, VB_ACT_ARGMAX = 1 } vb_plan_act;
/* the actions imagined particles continue with: drawn from the policy prior, or its argmax */
typedef enum vb_rollout { VB_ROLLOUT_SAMPLE = 0, VB_ROLLOUT_ARGMAX = 1 } vb_rollout;
/* binary rewards in imagination: averaged over both outcomes, or one sampled */
typedef enum vb_outcomes { VB_OUTCOMES_EXPECTED = 0, VB_OUTCOMES_SAMPLED = 1 } vb_outcomes;
typedef enum vb_optim_kind { VB_OPT_ADAM = 0, VB_OPT_ADAMW = 1 } vb_optim_kind;
/* how a planning agent acts when evaluated: planning, or on its policy alone */
typedef enum vb_eval_agent { VB_EVAL_PLANNER = 0, VB_EVAL_POLICY = 1 } vb_eval_agent;
typedef enum vb_lr_schedule { VB_LR_CONSTANT = 0, VB_LR_LINEAR = 1 } vb_lr_schedule;
typedef enum vb_value_target { VB_VT_PLANNER = 0, VB_VT_LAMBDA = 1 } vb_value_target;
typedef enum vb_elbo_decode { VB_DECODE_TRANSITIONS = 0, VB_DECODE_TASK = 1 } vb_elbo_decode;
/* which transitions the ELBO decodes from each step: the window's, or its whole task's */
typedef enum vb_elbo_span { VB_SPAN_WINDOW = 0, VB_SPAN_TASK = 1 } vb_elbo_span;
/* what a window's lambda-returns bootstrap from where its task goes on: the value head, or the rest of the task */
typedef enum vb_window_bootstrap { VB_BOOT_VALUE = 0, VB_BOOT_TASK = 1 } vb_window_bootstrap;

#endif
