/* config — the run configuration: a typed struct, its schema, YAML I/O.
 *
 * Resolution order: built-in defaults, then the YAML file (--config), then each
 * --set section.key=value in the order given. The file and --set values go
 * through the same typed parser and range checks of the same schema table
 * (config_schema.c), so an override can never hold a value the file could not.
 * YAML structure (sections, unknown keys, malformed documents) is checked by
 * libcyaml; every error names its origin (file or --set), the key and what was
 * expected. Printing the resolved config gives YAML that loads back to the
 * identical struct (print -> parse -> print is byte-identical). */
#ifndef VB_CONFIG_H
#define VB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kinds.h"

enum { VB_CFG_STR = 128 };

typedef enum vb_cfg_log_level { VB_CFG_LOG_DEBUG = 0, VB_CFG_LOG_INFO, VB_CFG_LOG_WARN, VB_CFG_LOG_ERROR } vb_cfg_log_level;

typedef struct vb_config {
    struct {
        char name[VB_CFG_STR];  /* run directory is <root>/<name>/ */
        char root[VB_CFG_STR];
        int64_t seed;
        int algo;               /* vb_algo */
        int64_t total_env_steps;
        double max_wall_s;      /* 0 = no limit */
    } run;
    struct {
        int name;               /* vb_env_name */
        int64_t batch;          /* environments stepped together per actor */
        double gamma;
        int64_t grid_size;
        int64_t episode_length;
        int64_t episodes_per_task;
        bool permute_moves;
        int64_t arms;
        int64_t horizon;
        double prior_alpha;
        double prior_beta;
        int64_t points;
        int64_t queries;
        double lengthscale_min;
        double lengthscale_max;
        double noise_std;
        char plugin[256];       /* name plugin: the shared library */
        char family[64];        /* name plugin: the family in it */
        char args[512];         /* name plugin: its parameters, "key=value ..." */
    } env;
    struct {
        int core;               /* vb_core_kind */
        int64_t hidden;
        int64_t latent;
        int64_t embed;
        int64_t mlp_hidden;
        int64_t s5_state;
        bool rl_grad_to_encoder;
        bool policy_hidden;
        bool policy_cells;
        bool task_clock;
        bool cell_input;        /* the encoder also reads a one-hot of the state cell */
        bool decoder_obs;       /* the reward decoder also reads the current observation */
        bool decoder_reward;    /* ... and the reward of the transition into it */
        int reward_decoder;     /* vb_reward_decoder */
        int64_t reward_latent;  /* latent dims the reward decoder reads (0: all) */
    } model;
    struct {
        int64_t particles;
        int64_t depth;
        int64_t nested;
        int64_t resample_period;
        double ess_threshold;
        double temperature;
        double entropy;         /* tau of the backup readout's q-hat* (0 = off) */
        int64_t entropy_decay;  /* training: tau falls linearly to 0 over this many updates (0 = constant) */
        int64_t late_depth;     /* training: the depth from learner update late_from on (0 = depth throughout) */
        int64_t late_from;
        int dynamics;           /* vb_dynamics */
        int target;             /* vb_plan_target */
        int backup_weights;     /* vb_backup_weights */
        int root_actions;       /* vb_root_actions */
        double dirichlet_alpha;
        double dirichlet_weight;
        bool noise_target;
        int act;                /* vb_plan_act */
        int rollout;            /* vb_rollout */
        int outcomes;           /* vb_outcomes */
        double backup_lambda;
        int64_t threads;
    } planner;
    struct {
        char device[VB_CFG_STR];
        int64_t gpus;
        int64_t threads;
        int64_t port;
        int optimizer;          /* vb_optim_kind */
        double lr;
        int lr_schedule;        /* vb_lr_schedule */
        double lr_decay_start;  /* fraction of the run; linear schedule only */
        double weight_decay;
        double grad_clip;
        int64_t batch_windows;
        int64_t window;
        int64_t replay_capacity;
        double samples_per_insert;
        int64_t max_policy_lag;
        int64_t publish_every;
        double value_coef;
        double policy_coef;
        double elbo_coef;
        double kl_beta;
        int64_t elbo_samples;
        int64_t elbo_warmup_updates;
        int64_t state_pairs;    /* learned dynamics: transitions decoded per row */
        double state_coef;      /* learned dynamics: the next-state term's weight, relative to elbo_coef */
        int elbo_decode;        /* vb_elbo_decode */
        int elbo_span;          /* vb_elbo_span */
        int value_target;       /* vb_value_target */
        double lambda;
        bool refresh_carry;
        bool refresh_grad;
        int64_t bptt;
        int window_bootstrap;   /* vb_window_bootstrap */
        bool wait_for_task;
        double ppo_clip;
        int64_t ppo_epochs;
        double entropy_coef;
        int64_t checkpoint_every;
        int64_t max_skipped_updates;
        char bind[VB_CFG_STR];
        char keys[VB_CFG_STR];
    } learner;
    struct {
        int64_t local;
        int64_t threads;
        int64_t chunk_length;
        int64_t heartbeat_ms;
        int64_t timeout_ms;
        int64_t inflight_rounds;
        int64_t max_per_host;
    } actors;
    struct {
        int level;              /* vb_cfg_log_level */
        double interval_s;
        int64_t every_updates;  /* 0 = every interval_s seconds */
        bool tensorboard;
    } log;
    struct {
        int64_t tasks;
        bool greedy;
        int64_t every_updates;
        int64_t particles;      /* 0 = planner.particles */
        int root_actions;       /* 0 = planner.root_actions, else vb_root_actions + 1 */
        int backup_weights;     /* 0 = planner.backup_weights, else vb_backup_weights + 1 */
        double greedy_margin;
        int planning;           /* vb_eval_agent: actor --eval */
        int during_training;    /* vb_eval_agent: the learner's evaluations */
        bool keep_best;
        int64_t depth;          /* -1 = planner.depth */
        int64_t nested;         /* 0 = planner.nested */
        double temperature;     /* 0 = planner.temperature */
        int rollout;            /* 0 = planner.rollout, else vb_rollout + 1 */
        double backup_lambda;   /* -1 = planner.backup_lambda */
    } eval;
} vb_config;

typedef enum vb_cfg_type {
    VB_CT_INT = 0,
    VB_CT_FLOAT = 1,
    VB_CT_BOOL = 2,
    VB_CT_STRING = 3,
    VB_CT_ENUM = 4,
} vb_cfg_type;

typedef int (*vb_cfg_string_check)(const char *value, char *why, size_t why_len);

/* One row of the schema: where the value lives and what it may be. */
typedef struct vb_cfg_key {
    const char *section;
    const char *key;
    vb_cfg_type type;
    size_t offset;              /* into vb_config */
    size_t size;                /* VB_CT_STRING: capacity including NUL */
    const char *def;            /* default, as text, parsed like any input */
    double min, max;            /* VB_CT_INT / VB_CT_FLOAT: inclusive range */
    const char *const *choices; /* VB_CT_ENUM: NULL-terminated; index = stored int */
    vb_cfg_string_check check;  /* VB_CT_STRING: optional validator */
    const char *doc;
} vb_cfg_key;

/* The schema table and its length. */
const vb_cfg_key *vb_config_schema(size_t *count);
/* The section names, in print order, and their count. */
const char *const *vb_config_sections(size_t *count);
/* Find a key by section and name; NULL when unknown. */
const vb_cfg_key *vb_config_find(const char *section, const char *key);

/* Fill every field with its default. */
void vb_config_defaults(vb_config *cfg);
/* Apply a YAML file over cfg. Returns 0, or -1 with err set (cfg may be partly
 * updated on error; callers treat any error as fatal). */
int vb_config_load_file(vb_config *cfg, const char *path, char *err, size_t err_len);
/* Apply YAML text over cfg; origin names it in errors. */
int vb_config_load_string(vb_config *cfg, const char *yaml, size_t len, const char *origin,
                          char *err, size_t err_len);
/* Apply one "section.key=value" override. */
int vb_config_set(vb_config *cfg, const char *assignment, char *err, size_t err_len);
/* Cross-key checks that no single key can make (e.g. min <= max). */
int vb_config_validate(const vb_config *cfg, char *err, size_t err_len);
/* Keys that change how trained weights are read without changing their
 * layout (which the checkpoint loader checks): model.reward_decoder,
 * model.reward_latent and model.task_clock. A run resumed or evaluated from a checkpoint keeps the
 * values its weights were trained with: 0, or -1 with err naming the key and
 * both values (`what` names where cfg's value came from). */
int vb_config_same_weights_reading(const vb_config *trained, const vb_config *cfg, const char *what, char *err,
                                   size_t err_len);
/* Write the resolved config as YAML. Returns 0 or -1 on a write error. */
int vb_config_write_yaml(const vb_config *cfg, FILE *out);
/* The same YAML in a malloc'd, NUL-terminated string; NULL on OOM. */
char *vb_config_to_yaml(const vb_config *cfg, size_t *len);
/* The text of one key's current value, as printed. */
void vb_config_format_value(const vb_config *cfg, const vb_cfg_key *k, char *buf, size_t len);

#endif
