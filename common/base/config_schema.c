/* config_schema — the one table that defines every configuration key: its
 * section, type, default, range and documentation. docs/configuration.md is
 * checked against this table by the tests. New keys are appended to their
 * section; enum choices are appended, never reordered (the index is stored). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const sections[] = {"run", "env", "model", "planner", "learner", "actors", "log", "eval"};

static const char *const algo_choices[] = {"varibased", "rl2", "varibad", NULL};
static const char *const env_choices[] = {"gridworld", "bandit", "funcopt", "plugin", NULL};
static const char *const core_choices[] = {"gru", "s5", NULL};
static const char *const reward_decoder_choices[] = {"independent", "categorical", NULL};
static const char *const dynamics_choices[] = {"learned", "env", "auto", NULL};
static const char *const target_choices[] = {"backup", "weights", NULL};
static const char *const backup_weight_choices[] = {"twisted", "prior", NULL};
static const char *const root_action_choices[] = {"policy", "all", NULL};
static const char *const eval_backup_choices[] = {"planner", "twisted", "prior", NULL};
static const char *const eval_root_choices[] = {"planner", "policy", "all", NULL};
static const char *const during_choices[] = {"planner", "policy", NULL};
static const char *const act_choices[] = {"sample", "argmax", NULL};
static const char *const rollout_choices[] = {"sample", "argmax", NULL};
static const char *const eval_rollout_choices[] = {"planner", "sample", "argmax", NULL};
static const char *const outcome_choices[] = {"expected", "sampled", NULL};
static const char *const optim_choices[] = {"adam", "adamw", NULL};
static const char *const schedule_choices[] = {"constant", "linear", NULL};
static const char *const value_target_choices[] = {"planner", "lambda", NULL};
static const char *const decode_choices[] = {"transitions", "task", NULL};
static const char *const span_choices[] = {"window", "task", NULL};
static const char *const bootstrap_choices[] = {"value", "task", NULL};
static const char *const level_choices[] = {"debug", "info", "warn", "error", NULL};

/* A run name becomes a directory name: keep it to a portable, unambiguous set. */
static int check_run_name(const char *v, char *why, size_t len) {
    if (!v[0]) return snprintf(why, len, "a non-empty name"), -1;
    if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
        return snprintf(why, len, "a name other than '.' or '..'"), -1;
    for (const char *p = v; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') {
            snprintf(why, len, "a name of letters, digits, '-', '_' and '.'");
            return -1;
        }
    }
    return 0;
}

static int check_path(const char *v, char *why, size_t len) {
    if (!v[0]) return snprintf(why, len, "a non-empty path"), -1;
    for (const char *p = v; *p; p++) {
        if (iscntrl((unsigned char)*p) || *p == '"' || *p == '\\')
            return snprintf(why, len, "a path without quotes, backslashes or control characters"), -1;
    }
    return 0;
}

/* A path, or empty for none. */
static int check_optional_path(const char *v, char *why, size_t len) { return v[0] ? check_path(v, why, len) : 0; }

/* A task family's name: empty (built-in families) or [a-z0-9_-]. */
static int check_family_name(const char *v, char *why, size_t len) {
    for (const char *p = v; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_' && *p != '-')
            return snprintf(why, len, "a name of letters a-z, digits, '_' and '-'"), -1;
    return 0;
}

/* key=value pairs: printable, without quotes or backslashes (parsed by the family's host). */
static int check_family_args(const char *v, char *why, size_t len) {
    for (const char *p = v; *p; p++)
        if (!isprint((unsigned char)*p) || *p == '"' || *p == '\\')
            return snprintf(why, len, "printable key=value pairs without quotes or backslashes"), -1;
    return 0;
}

/* The host part of tcp://HOST:PORT for a bind: '*', a name or an address. */
static int check_bind_host(const char *v, char *why, size_t len) {
    if (!v[0]) return snprintf(why, len, "'none', '127.0.0.1', '*', a host name or an IPv4 address"), -1;
    for (const char *p = v; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_' && *p != '*')
            return snprintf(why, len, "'none', '127.0.0.1', '*', a host name or an IPv4 address"), -1;
    }
    return 0;
}

/* "cpu" or "cuda:N". */
static int check_device(const char *v, char *why, size_t len) {
    if (strcmp(v, "cpu") == 0) return 0;
    if (strncmp(v, "cuda:", 5) == 0 && v[5]) {
        const char *p = v + 5;
        while (isdigit((unsigned char)*p)) p++;
        if (!*p && p - (v + 5) <= 3) return 0;
    }
    snprintf(why, len, "'cpu' or 'cuda:N'");
    return -1;
}

#define OFF(sec, field) offsetof(vb_config, sec.field)
#define KINT(sec, field, def, lo, hi, doc) \
    {#sec, #field, VB_CT_INT, OFF(sec, field), 0, def, lo, hi, NULL, NULL, doc}
#define KFLT(sec, field, def, lo, hi, doc) \
    {#sec, #field, VB_CT_FLOAT, OFF(sec, field), 0, def, lo, hi, NULL, NULL, doc}
#define KBOOL(sec, field, def, doc) \
    {#sec, #field, VB_CT_BOOL, OFF(sec, field), 0, def, 0, 1, NULL, NULL, doc}
#define KENUM(sec, field, def, choices, doc) \
    {#sec, #field, VB_CT_ENUM, OFF(sec, field), 0, def, 0, 0, choices, NULL, doc}
#define KSTR(sec, field, def, check, doc)                                                      \
    {#sec, #field, VB_CT_STRING, OFF(sec, field), sizeof(((vb_config *)0)->sec.field), def, 0, \
     0, NULL, check, doc}

/* Integers are held in int64 but bounded to 2^53 so every value is also exact
 * as a double (YAML readers in other languages parse numbers as doubles). */
#define I53 9007199254740992.0

static const vb_cfg_key schema[] = {
    KSTR(run, name, "default", check_run_name, "run name; the run directory is <root>/<name>/"),
    KSTR(run, root, "runs", check_path, "folder that holds run directories"),
    KINT(run, seed, "0", 0, I53, "seed of every random stream in the run"),
    KENUM(run, algo, "varibased", algo_choices, "training algorithm"),
    KINT(run, total_env_steps, "2000000", 1, I53, "training stops after this many environment steps"),
    KFLT(run, max_wall_s, "0", 0, 1e9,
         "training also stops after this many wall-clock seconds, resumes included (0 = no limit)"),

    KENUM(env, name, "gridworld", env_choices, "task family"),
    KINT(env, batch, "64", 1, 65536, "environments stepped together by one actor"),
    KFLT(env, gamma, "0.95", 0, 1, "discount factor"),
    KINT(env, grid_size, "5", 3, 64, "gridworld: side of the square grid"),
    KINT(env, episode_length, "15", 1, 100000, "gridworld: steps per episode"),
    KINT(env, episodes_per_task, "4", 1, 10000, "gridworld: episodes per task (goal kept)"),
    KBOOL(env, permute_moves, "false",
          "gridworld: each task also draws which move each of the four move actions makes (24 permutations, kept "
          "for the task): the transitions depend on the task"),
    KINT(env, arms, "5", 2, 256, "bandit: number of arms K"),
    KINT(env, horizon, "10", 1, 100000, "bandit: pulls per task H"),
    KFLT(env, prior_alpha, "1", 1e-3, 1e3, "bandit: Beta prior alpha of each arm"),
    KFLT(env, prior_beta, "1", 1e-3, 1e3, "bandit: Beta prior beta of each arm"),
    KINT(env, points, "64", 2, 4096, "funcopt: grid points N in [0, 1]"),
    KINT(env, queries, "30", 1, 100000, "funcopt: queries per task T"),
    KFLT(env, lengthscale_min, "0.05", 1e-4, 100, "funcopt: RBF lengthscale drawn from U[min, max]"),
    KFLT(env, lengthscale_max, "0.3", 1e-4, 100, "funcopt: upper end of the lengthscale range"),
    KFLT(env, noise_std, "0.01", 0, 100, "funcopt: observation noise standard deviation"),
    KSTR(env, plugin, "", check_optional_path,
         "plugin: the shared library that holds the task family (docs/envs.md); it must exist on every actor's "
         "machine"),
    KSTR(env, family, "", check_family_name, "plugin: the task family's name in env.plugin"),
    KSTR(env, args, "", check_family_args, "plugin: the family's parameters, \"key=value key2=value2\""),

    KENUM(model, core, "gru", core_choices, "recurrent core of the encoder"),
    KINT(model, hidden, "128", 1, 8192, "recurrent core width"),
    KINT(model, latent, "5", 1, 1024, "latent task code size d_m"),
    KINT(model, embed, "32", 1, 4096, "input embedding width"),
    KINT(model, mlp_hidden, "128", 1, 8192, "hidden width of decoder, policy and value MLPs"),
    KINT(model, s5_state, "64", 1, 8192, "S5 core: complex state size"),
    KBOOL(model, rl_grad_to_encoder, "false", "let value/policy losses train the encoder"),
    KBOOL(model, policy_hidden, "false",
          "belief agents: policy and value also read the encoder output o (gradient into the encoder only with "
          "rl_grad_to_encoder)"),
    KBOOL(model, policy_cells, "false",
          "belief agents: policy and value also read the reward decoder at the belief mean, one value per reward "
          "cell (a probability for Bernoulli rewards; no gradient flows back through it)"),
    KENUM(model, reward_decoder, "independent", reward_decoder_choices,
          "reward decoder: independent (one Bernoulli, or Gaussian mean, per reward cell) or categorical (one "
          "softmax over the reward cells: exactly one cell holds the reward, as GridNavi's goal; Bernoulli "
          "rewards only)"),
    KINT(model, reward_latent, "0", 0, 1024,
         "with a next-state decoder: the reward decoder reads the first reward_latent dims of the latent and the "
         "next-state decoder the rest, a factorised belief over the goal and the dynamics (0: both read all of it)"),
    KBOOL(model, cell_input, "false",
          "the encoder also reads a one-hot of the observation's state cell, for families with discrete state "
          "cells (gridworld): a visited cell is then one input, so the core can remember the cells it has seen"),
    KBOOL(model, decoder_obs, "false",
          "belief agents: the reward decoder reads the current observation s beside the latent, (m, s) -> cells "
          "(with cell_input also s's cell one-hot), so the cell the agent stands in can be ruled out without the "
          "latent tracking where the agent is"),
    KBOOL(model, decoder_reward, "false",
          "with decoder_obs: the reward decoder also reads r_{t-1}, the reward of the transition into s, so it "
          "knows whether the cell the agent stands in held the reward whatever the latent holds"),
    KBOOL(model, task_clock, "true", "feed the task clock tau (task step / steps per task) to the encoder and policy/value "
          "(false: tau reads 0)"),

    KINT(planner, particles, "16", 1, 1048576, "outer particles K"),
    KINT(planner, depth, "4", 0, 4096, "planning depth D"),
    KINT(planner, nested, "4", 1, 65536, "nested belief particles K_Omega"),
    KINT(planner, resample_period, "4", 1, 4096,
         "resample after every P-th step of the D (with sampled continuations); P >= D: only when the ESS falls"),
    KFLT(planner, ess_threshold, "0.5", 0, 1, "resample when ESS < threshold * K"),
    KFLT(planner, temperature, "1", 1e-6, 1e6, "twist temperature eta"),
    KFLT(planner, entropy, "0", 0, 1e6,
         "backup readout: entropy temperature tau of q-hat* ~ pi^(eta/(eta+tau)) exp(Q-hat/(eta+tau)), the "
         "entropy-regularised improvement step, whose repeated application settles at softmax(Q/tau) instead of "
         "sharpening the policy without bound (0: q-hat* ~ pi exp(Q-hat/eta))"),
    KINT(planner, entropy_decay, "0", 0, I53,
         "training: the entropy temperature falls linearly from planner.entropy at the first weights to 0 at this "
         "learner update (the weights' version), soft policy iteration annealed to the plain improvement step; "
         "evaluation keeps planner.entropy (0: constant)"),
    KINT(planner, late_depth, "0", 0, 4096,
         "training: the planning depth of actors holding weights of learner update planner.late_from or later, a "
         "deeper search once the value head has learned (evaluation keeps eval.depth; 0: planner.depth "
         "throughout)"),
    KINT(planner, late_from, "0", 0, I53, "training: the learner update from which planner.late_depth applies"),
    KENUM(planner, dynamics, "auto", dynamics_choices,
          "imagined state transitions: learned (the next-state decoder the ELBO trains), env (the exact transition; task-independent families only) or auto (env where the family's transitions are task-independent, else learned)"),
    KENUM(planner, target, "backup", target_choices, "policy/value readout of the planner"),
    KENUM(planner, backup_weights, "prior", backup_weight_choices,
          "backup readout: weight each return by its particle's weight relative to the policy prior (prior: Q-hat "
          "estimates Q^pi), or by the twisted weights (twisted: the tilted, optimistic mean)"),
    KENUM(planner, root_actions, "all", root_action_choices,
          "first actions of the particles: sampled from the policy prior (with the root noise), or every action "
          "in turn (the K most likely when K < actions) so that Q-hat of each is estimated (backup readout only)"),
    KFLT(planner, dirichlet_alpha, "0.03", 1e-6, 100, "root Dirichlet noise concentration"),
    KFLT(planner, dirichlet_weight, "0.25", 0, 1, "root Dirichlet noise mixture weight (0 = off)"),
    KBOOL(planner, noise_target, "false",
          "training: the backup readout's q-hat* tilts the root prior with its Dirichlet noise mixed in, also when "
          "every root action gets particles (AlphaZero's exploration: the target and the acting policy keep mass "
          "on a random action); evaluation never adds noise"),
    KENUM(planner, act, "sample", act_choices,
          "how training actors pick the real action from q-hat*: a sample, or its argmax (ties at random) so that "
          "the data and the value head follow the greedy rule evaluation uses (evaluation follows eval.greedy)"),
    KENUM(planner, rollout, "sample", rollout_choices,
          "the actions particles continue with after the first: drawn from the policy prior, or its argmax (Q-hat "
          "then estimates the greedy policy's Q; no resampling)"),
    KENUM(planner, outcomes, "expected", outcome_choices,
          "binary rewards in imagination: a particle continues with the more likely outcome and the other is "
          "closed with its successor's value (expected), or one outcome is sampled"),
    KINT(planner, threads, "1", 1, 64,
         "threads of each planner (its environments split into that many blocks, planned in parallel; BLAS then "
         "runs one thread per call): 1 where actor processes already fill the cores (local training), the cores "
         "for one process (./actor --eval)"),
    KFLT(planner, backup_lambda, "1", 0, 1,
         "backup readout: weight of a depth's return estimates relative to the next deeper depth's (1: every depth "
         "alike, 0: the deepest only)"),

    KSTR(learner, device, "cpu", check_device, "compute device of the learner: cpu or cuda:N (the learner refuses cuda:N in this version: its M-step runs on the CPU backend; docs/performance.md, GPU)"),
    KINT(learner, gpus, "1", 1, 64, "data-parallel learner processes, one per GPU"),
    KINT(learner, threads, "0", 0, 1024,
         "CPU compute threads (0 = one per core): BLAS's; above 1 also the encoder window's over the batch"),
    KINT(learner, port, "5555", 1, 65533, "TCP control port; data and weights use port+1 and port+2"),
    KENUM(learner, optimizer, "adam", optim_choices, "optimiser"),
    KFLT(learner, lr, "0.0003", 0, 10, "learning rate"),
    KENUM(learner, lr_schedule, "constant", schedule_choices, "learning-rate schedule"),
    KFLT(learner, lr_decay_start, "0", 0, 0.999, "linear schedule: fraction of the run at which the rate starts to fall (to 0 at the end)"),
    KFLT(learner, weight_decay, "0", 0, 10, "AdamW decoupled weight decay"),
    KFLT(learner, grad_clip, "1", 0, 1e9, "global gradient-norm clip (0 = off)"),
    KINT(learner, batch_windows, "64", 1, 1048576, "windows per M-step batch"),
    KINT(learner, window, "32", 1, 65536, "window length L; actors send chunks of L steps"),
    KINT(learner, replay_capacity, "4096", 1, 1e9, "replay capacity in chunks (FIFO)"),
    KFLT(learner, samples_per_insert, "4", 0, 1e6, "rate limit: windows sampled per chunk inserted (0 = off)"),
    KINT(learner, max_policy_lag, "16", 0, I53, "drop chunks older than this many policy versions"),
    KINT(learner, publish_every, "10", 1, I53, "broadcast weights every N updates"),
    KFLT(learner, value_coef, "0.5", 0, 1e6, "value loss weight c_V"),
    KFLT(learner, policy_coef, "1", 0, 1e6, "policy cross-entropy weight c_pi"),
    KFLT(learner, elbo_coef, "1", 0, 1e6, "belief ELBO weight c_B"),
    KFLT(learner, kl_beta, "1", 0, 1e6, "KL weight beta_KL inside the ELBO"),
    KINT(learner, elbo_samples, "1", 1, 4096, "reparameterised latent samples per ELBO term"),
    KINT(learner, elbo_warmup_updates, "500", 0, I53, "updates that train the ELBO alone"),
    KENUM(learner, elbo_decode, "transitions", decode_choices,
          "what the ELBO reconstructs: the window's transitions, or the task's label of every reward cell"),
    KENUM(learner, elbo_span, "task", span_choices,
          "elbo_decode: transitions: decode from each step the window's same-task transitions, or its whole "
          "task's, past and future, also where they lie outside the window (VariBAD; differs only with windows "
          "shorter than tasks)"),
    KINT(learner, state_pairs, "4", 1, 4096,
         "learned dynamics: same-task transitions the state head decodes per row and latent sample (drawn "
         "uniformly; an unbiased estimate of decoding them all)"),
    KFLT(learner, state_coef, "1", 0, 1e6,
         "learned dynamics: weight of the ELBO's next-state term (a mean over its decoded transitions), "
         "relative to elbo_coef"),
    KENUM(learner, value_target, "planner", value_target_choices, "value target: planner V-hat or lambda-return"),
    KFLT(learner, lambda, "0.95", 0, 1, "lambda of lambda-returns and GAE"),
    KBOOL(learner, refresh_carry, "false", "re-encode windows from the task start"),
    KBOOL(learner, refresh_grad, "false",
          "gru, with refresh_carry: the window's encoder gradient flows on through the re-encoded task prefix "
          "to the task's start, as in a whole-task window (the losses stay on the window's steps)"),
    KINT(learner, bptt, "0", 0, I53,
         "gru: the encoder's gradient stops every N steps of a window, as if each N steps were a window of "
         "their own (truncated backpropagation through time; the forward and the losses are unchanged). "
         "0: it reaches the window's start"),
    KENUM(learner, window_bootstrap, "task", bootstrap_choices,
          "where a window ends before its task: lambda-returns bootstrap from the value head, or from the "
          "discounted return of the rest of the task once all of it has reached the learner (the value head "
          "until then)"),
    KBOOL(learner, wait_for_task, "false",
          "sample a window only once its last task has ended and all of it has reached the learner, so that "
          "its ELBO over the task and its bootstrap see the whole task (windows shorter than tasks)"),
    KFLT(learner, ppo_clip, "0.2", 0, 10, "rl2: PPO ratio clip"),
    KINT(learner, ppo_epochs, "1", 1, 1000, "rl2, varibad: PPO passes over each sampled batch (replay reuse is learner.samples_per_insert)"),
    KFLT(learner, entropy_coef, "0.01", 0, 1e6, "rl2: entropy bonus weight"),
    KINT(learner, checkpoint_every, "1000", 0, I53, "checkpoint every N updates (0 = only at the end)"),
    KINT(learner, max_skipped_updates, "50", 1, I53,
         "stop the run (exit 1) after this many consecutive updates skipped for a non-finite loss or gradient"),
    KSTR(learner, bind, "none", check_bind_host,
         "interface the TCP endpoints for remote actors bind: 'none' (no TCP; local actors use ipc:// in the run "
         "folder), 127.0.0.1 (this machine), or an address, host name or '*' (needs learner.keys, or --insecure)"),
    KSTR(learner, keys, "", check_optional_path,
         "folder of CURVE keys (learner --keygen DIR): TCP endpoints are encrypted and admit only the actor keys in "
         "DIR/allowed_actors (empty = no keys)"),

    KINT(actors, local, "2", 0, 1024, "actor processes the learner spawns on this machine"),
    KINT(actors, threads, "1", 1, 1024, "compute threads per actor"),
    KINT(actors, heartbeat_ms, "1000", 10, 600000, "actor heartbeat interval"),
    KINT(actors, timeout_ms, "10000", 100, 86400000, "an actor silent this long is dead"),
    KINT(actors, max_per_host, "64", 1, 4096,
         "registered remote actors per address and CURVE key; the actor table always keeps room for the "
         "local actors"),
    KINT(actors, inflight_rounds, "1", 1, 64,
         "back-pressure: rounds of env.batch chunks an actor may send ahead of the learner's intake"),

    KENUM(log, level, "info", level_choices, "log threshold"),
    KFLT(log, interval_s, "10", 0.01, 86400, "seconds between metrics lines"),
    KINT(log, every_updates, "0", 0, I53,
         "--serial: a metrics line every N updates instead of every interval_s seconds (0 = by seconds); "
         "the lines then depend on the seed alone"),
    KBOOL(log, tensorboard, "true", "also write a TensorBoard event file (the metrics as scalars, the resolved config as text)"),

    KINT(eval, tasks, "1000", 1, 1e9, "held-out tasks per evaluation"),
    KBOOL(eval, greedy, "true", "act greedily (argmax) when evaluating"),
    KINT(eval, every_updates, "0", 0, I53, "evaluate every N updates on validation tasks (0 = never during training)"),
    KENUM(eval, planning, "planner", during_choices,
          "planning agents, evaluation: plan with the eval section's budget, or act on the policy alone (K 1, D 0)"),
    KENUM(eval, during_training, "planner", during_choices,
          "planning agents, evaluations during training: the eval section's planner (even under eval.planning: policy), or the policy alone"),
    KBOOL(eval, keep_best, "false",
          "keep the weights of the best evaluation during training as checkpoints/best.vbc (needs eval.every_updates)"),
    KINT(eval, particles, "0", 0, 1048576, "planning agents: outer particles K when evaluating (0 = planner.particles)"),
    KENUM(eval, root_actions, "planner", eval_root_choices,
          "planning agents: planner.root_actions when evaluating (planner = as in the planner section)"),
    KENUM(eval, backup_weights, "planner", eval_backup_choices,
          "planning agents: planner.backup_weights when evaluating (planner = as in the planner section)"),
    KFLT(eval, greedy_margin, "0", 0, 1e9,
         "planning agents, greedy evaluation: keep the policy prior's most likely action unless the argmax of q-hat* "
         "beats it by more than this in Q-hat (return units; backup readout; 0 = off)"),
    KINT(eval, depth, "-1", -1, 4096, "planning agents: planning depth D when evaluating (-1 = planner.depth)"),
    KINT(eval, nested, "0", 0, 65536, "planning agents: nested particles K_Omega when evaluating (0 = planner.nested)"),
    KFLT(eval, temperature, "0", 0, 1e6,
         "planning agents: temperature eta of q-hat* (and the twist) when evaluating (0 = planner.temperature)"),
    KENUM(eval, rollout, "argmax", eval_rollout_choices,
          "planning agents: planner.rollout when evaluating; argmax (the default) continues with the greedy policy "
          "that evaluation's policy alone is, so acting on Q-hat improves on it (planner = as in the planner "
          "section; the weights readout keeps its own)"),
    KFLT(eval, backup_lambda, "-1", -1, 1,
         "planning agents: planner.backup_lambda when evaluating (-1 = as in the planner section)"),
};

const vb_cfg_key *vb_config_schema(size_t *count) {
    *count = sizeof schema / sizeof schema[0];
    return schema;
}

const char *const *vb_config_sections(size_t *count) {
    *count = sizeof sections / sizeof sections[0];
    return sections;
}

const vb_cfg_key *vb_config_find(const char *section, const char *key) {
    for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++) {
        if (strcmp(schema[i].section, section) == 0 && strcmp(schema[i].key, key) == 0)
            return &schema[i];
    }
    return NULL;
}
