/* params — see params.h. */
#include "params.h"

#include <stdio.h>

#include "../envs/env_check.h"

vb_planner_cfg vb_planner_cfg_from(const vb_config *cfg, bool explore) {
    vb_planner_cfg c = {
        .K = cfg->planner.particles,
        .D = cfg->planner.depth,
        .KO = cfg->planner.nested,
        .period = cfg->planner.resample_period,
        .ess_threshold = cfg->planner.ess_threshold,
        .eta = cfg->planner.temperature,
        .tau = cfg->planner.entropy,
        .gamma = cfg->env.gamma,
        .dynamics = cfg->planner.dynamics,
        .target = cfg->planner.target,
        .backup_weights = cfg->planner.backup_weights,
        .root_actions = cfg->planner.root_actions,
        .rollout = cfg->planner.rollout,
        .outcomes = cfg->planner.outcomes,
        .backup_lambda = cfg->planner.backup_lambda,
        .dir_alpha = cfg->planner.dirichlet_alpha,
        .dir_weight = explore ? cfg->planner.dirichlet_weight : 0.0,
        .noise_target = cfg->planner.noise_target,
        .explore = explore,
        .threads = cfg->planner.threads,
    };
    if (!explore) {
        if (cfg->eval.particles > 0) c.K = cfg->eval.particles;
        if (cfg->eval.depth >= 0) c.D = cfg->eval.depth;
        if (cfg->eval.nested > 0) c.KO = cfg->eval.nested;
        if (cfg->eval.temperature > 0) c.eta = cfg->eval.temperature;
        if (cfg->eval.root_actions > 0) c.root_actions = cfg->eval.root_actions - 1;
        if (cfg->eval.backup_weights > 0) c.backup_weights = cfg->eval.backup_weights - 1;
        if (cfg->eval.rollout > 0 && c.target == VB_TARGET_BACKUP) c.rollout = cfg->eval.rollout - 1;
        if (cfg->eval.backup_lambda >= 0) c.backup_lambda = cfg->eval.backup_lambda;
        c.greedy_margin = cfg->eval.greedy_margin;
    }
    return c;
}

vb_learning_cfg vb_learning_cfg_from(const vb_config *cfg) {
    const int algo = cfg->run.algo;
    vb_learning_cfg p = {
        .algo = algo,
        .batch_windows = cfg->learner.batch_windows,
        .window = cfg->learner.window,
        .replay_capacity = cfg->learner.replay_capacity,
        .samples_per_insert = cfg->learner.samples_per_insert,
        .max_policy_lag = cfg->learner.max_policy_lag,
        .ppo_epochs = cfg->learner.ppo_epochs,
        .ppo = {.gamma = cfg->env.gamma,
                .lambda = cfg->learner.lambda,
                .clip = cfg->learner.ppo_clip,
                .ent_coef = cfg->learner.entropy_coef,
                .value_coef = cfg->learner.value_coef,
                .policy_coef = cfg->learner.policy_coef},
        .lambda_target = cfg->learner.value_target == VB_VT_LAMBDA,
        .rl_to_encoder = cfg->model.rl_grad_to_encoder,
        .elbo = {.coef = cfg->learner.elbo_coef,
                 .kl_beta = cfg->learner.kl_beta,
                 .samples = cfg->learner.elbo_samples,
                 .decode_task = cfg->learner.elbo_decode == VB_DECODE_TASK},
        .elbo_warmup = cfg->learner.elbo_warmup_updates,
        .state_pairs = cfg->learner.state_pairs,
        .state_coef = cfg->learner.state_coef,
        .refresh_carry = cfg->learner.refresh_carry,
        .bptt = cfg->learner.bptt,
        .refresh_grad = cfg->learner.refresh_grad,
        .span_task = cfg->learner.elbo_span == VB_SPAN_TASK,
        .boot_task = cfg->learner.window_bootstrap == VB_BOOT_TASK,
        .wait_task = cfg->learner.wait_for_task,
        /* the window's slabs follow the config, never the machine (0, one BLAS thread per core:
         * one slab), so that a run's results do not depend on where it runs */
        .threads = cfg->learner.threads > 1 ? (int)cfg->learner.threads : 1,
        .optim = vb_optim_defaults(),
        .seed = (uint64_t)cfg->run.seed,
    };
    vb_optim_cfg *oc = &p.optim;
    oc->lr = (float)cfg->learner.lr;
    oc->weight_decay = cfg->learner.optimizer == VB_OPT_ADAMW ? (float)cfg->learner.weight_decay : 0.0f;
    oc->clip_norm = (float)cfg->learner.grad_clip;
    oc->schedule = cfg->learner.lr_schedule == VB_LR_LINEAR ? VB_SCHED_LINEAR : VB_SCHED_CONSTANT;
    /* updates a run will take, for the linear schedule */
    double spi = cfg->learner.samples_per_insert > 0 ? cfg->learner.samples_per_insert : 1.0;
    oc->total_steps = (int64_t)((double)cfg->run.total_env_steps / (double)cfg->learner.window * spi /
                                (double)cfg->learner.batch_windows) + 1;
    if (algo != VB_ALGO_VARIBASED) oc->total_steps *= cfg->learner.ppo_epochs;
    oc->decay_start = (int64_t)(cfg->learner.lr_decay_start * (double)oc->total_steps);
    return p;
}

vb_env_params vb_env_params_from(const vb_config *cfg) {
    vb_env_params p = {
        .family = cfg->env.name,
        .gamma = cfg->env.gamma,
        .grid_size = cfg->env.grid_size,
        .episode_length = cfg->env.episode_length,
        .episodes_per_task = cfg->env.episodes_per_task,
        .permute_moves = cfg->env.permute_moves,
        .arms = cfg->env.arms,
        .horizon = cfg->env.horizon,
        .prior_alpha = cfg->env.prior_alpha,
        .prior_beta = cfg->env.prior_beta,
        .points = cfg->env.points,
        .queries = cfg->env.queries,
        .lengthscale_min = cfg->env.lengthscale_min,
        .lengthscale_max = cfg->env.lengthscale_max,
        .noise_std = cfg->env.noise_std,
    };
    snprintf(p.plugin, sizeof p.plugin, "%s", cfg->env.plugin);
    snprintf(p.family_name, sizeof p.family_name, "%s", cfg->env.family);
    snprintf(p.args, sizeof p.args, "%s", cfg->env.args);
    return p;
}

vb_model_cfg vb_model_cfg_from(const vb_config *cfg) {
    return (vb_model_cfg){
        .algo = cfg->run.algo,
        .core = cfg->model.core,
        .embed = cfg->model.embed,
        .hidden = cfg->model.hidden,
        .latent = cfg->model.latent,
        .mlp_hidden = cfg->model.mlp_hidden,
        .s5_state = cfg->model.s5_state,
        .policy_hidden = cfg->model.policy_hidden,
        .policy_cells = cfg->model.policy_cells,
        .task_clock = cfg->model.task_clock,
        .cell_input = cfg->model.cell_input,
        .decoder_obs = cfg->model.decoder_obs,
        .decoder_reward = cfg->model.decoder_reward,
        .reward_decoder = cfg->model.reward_decoder,
        .reward_latent = cfg->model.reward_latent,
        .dynamics = cfg->planner.dynamics,
    };
}

vb_acting_cfg vb_acting_cfg_from(const vb_config *cfg) {
    return (vb_acting_cfg){
        .algo = cfg->run.algo,
        .window = cfg->learner.window,
        .env = vb_env_params_from(cfg),
        .planner = vb_planner_cfg_from(cfg, true),
        .argmax = cfg->planner.act == VB_ACT_ARGMAX,
        .entropy_decay = cfg->planner.entropy_decay,
        .late_depth = cfg->planner.late_depth,
        .late_from = cfg->planner.late_from,
    };
}

vb_eval_options vb_eval_options_from(const vb_config *cfg) {
    return (vb_eval_options){
        .tasks = cfg->eval.tasks,
        .seed = (uint64_t)cfg->run.seed,
        .threads = 1,
        .env = vb_env_params_from(cfg),
        .batch = cfg->env.batch,
        .greedy = cfg->eval.greedy,
        .plan = cfg->eval.planning == VB_EVAL_PLANNER,
        .planner = vb_planner_cfg_from(cfg, false),
        .progress_s = cfg->log.interval_s,
    };
}

int vb_env_spec_from_config(const vb_config *cfg, vb_env_spec *spec, char *err, size_t err_len) {
    vb_env_params p = vb_env_params_from(cfg);
    if (vb_env_spec_from(&p, spec, err, err_len) != 0) return -1;
    /* a plugin's callbacks are checked by playing two tasks before a run trusts them */
    return cfg->env.name == VB_ENV_PLUGIN ? vb_env_check(&p, 2, err, err_len) : 0;
}

int vb_env_batch_from_config(vb_env_batch **out, const vb_config *cfg, int64_t n, uint64_t seed,
                             uint64_t stream_base, char *err, size_t err_len) {
    vb_env_params p = vb_env_params_from(cfg);
    return vb_env_batch_create(out, &p, n, seed, stream_base, err, err_len);
}

int vb_model_build_from_config(vb_model *m, const vb_config *cfg, const vb_env_spec *spec, char *err,
                               size_t err_len) {
    vb_model_cfg c = vb_model_cfg_from(cfg);
    return vb_model_build(m, &c, spec, err, err_len);
}

int vb_acting_create_from_config(vb_acting *a, const vb_backend *be, const vb_model *m, const vb_config *cfg,
                                 int64_t n, uint64_t seed, uint64_t stream_base, char *err, size_t err_len) {
    vb_acting_cfg c = vb_acting_cfg_from(cfg);
    return vb_acting_create(a, be, m, &c, n, seed, stream_base, err, err_len);
}
