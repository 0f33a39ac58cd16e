/* evaluate — `actor --eval` and the learner's eval.every_updates: run an agent
 * on held-out tasks and report its returns.
 *
 * Tasks are numbered 0 .. tasks-1. Task k's env draws from vb_rng stream
 * EVAL_ENV_STREAMS + k and its agent from EVAL_AGENT_STREAMS + k, both under
 * the evaluation seed, so task k's trajectory depends on (seed, k) alone:
 * neither the thread count nor the batch size changes any result, and the
 * summaries are reduced in task order after all threads finish. Worker
 * threads take batches of consecutive tasks from a shared counter and step
 * them in lockstep (all tasks of a family have the same clock). Progress goes
 * to stderr through vb_log every log.interval_s seconds; the last line on
 * stdout is one JSON object:
 *
 *   {"env":"bandit","agent":"thompson","tasks":N,"seed":S,
 *    "return_mean":…,"return_stderr":…,
 *    "episode_return_mean":[…],"episode_return_stderr":[…]}
 *
 * with, for envs that report regret (funcopt), "simple_regret_mean",
 * "simple_regret_stderr" (after the last step) and "simple_regret_per_step",
 * and, for a reference agent whose solution knows them (the Bayes-optimal
 * agents), "exact_return" and "exact_episode_return" (null where unknown).
 * With per_task_path, the file gets a header and one line per task in task
 * order: "task,return,episode_1,...,episode_E" (and ",final_regret" for envs
 * that report regret), so two agents evaluated on the same seed and tasks
 * can be compared task by task.
 * With trace_path, the file gets one line per step of every task, in task
 * order: "task,step,episode,action,reward,cell,task_best_cell,exact_hit,
 * belief_hit,belief_l1": the step's index in its task and its episode, the
 * action and reward, the state cell the step entered (families with discrete
 * states; else -1), the reward cell the task's labels rate highest
 * (gridworld: the goal; families without task labels: -1), for pictures of
 * what an agent did; then, before the step, the exact posterior probability
 * of a hit at the reward cell the step read (families with one:
 * exact_belief.h), the agent's learned belief of the same (agents that keep
 * one: the decoded hit probability, or the predictive mean reward of a
 * Gaussian family) and the L1 distance between the two over every reward
 * cell; a column that does not apply is empty.
 * A standard error is null when there is a single task. */
#ifndef VB_EVALUATE_H
#define VB_EVALUATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../envs/env.h"
#include "../planner/smc.h"

struct vb_model;

typedef struct vb_eval_options {
    const char *agent; /* a reference agent's registry name, or the name shown for a trained one */
    const struct vb_model *model; /* a trained agent's model (NULL: a reference agent) */
    const float *params;          /* its parameters */
    int64_t tasks;     /* >= 1 */
    uint64_t seed;
    int64_t threads;   /* >= 1 */
    bool validation;   /* the validation tasks of evaluations during training, not the held-out ones */
    const char *per_task_path; /* also write each task's returns there (CSV), or NULL */
    const char *trace_path;    /* also write every step there (CSV), or NULL */
    vb_env_params env;  /* the task family */
    int64_t batch;     /* envs stepped together per worker (at most) */
    bool greedy;       /* act on the argmax (the policy's, or the planner's) */
    bool plan;         /* a planning model plans (eval.planning: planner), else acts on its policy alone */
    vb_planner_cfg planner; /* its settings when it plans */
    double progress_s; /* seconds between progress lines */
} vb_eval_options;

/* What an evaluation found (the JSON summary's fields). */
typedef struct vb_eval_result {
    const char *env, *agent;     /* borrowed: the spec's and the options' names */
    int64_t tasks;
    uint64_t seed;
    double return_mean, return_stderr;   /* stderr NaN for one task */
    int64_t episodes;
    double *episode_mean, *episode_stderr; /* (episodes) */
    bool has_exact;              /* a reference agent whose solution knows its expected return */
    double exact_return, *exact_episode;   /* (episodes) */
    bool has_regret;             /* envs that report regret */
    double regret_mean, regret_stderr;     /* simple regret after the last step */
    int64_t steps;
    double *regret_per_step;     /* (steps) */
} vb_eval_result;

void vb_eval_result_free(vb_eval_result *r);
/* The JSON summary object (no newline). 0, or -1 when the write failed. */
int vb_eval_result_write_json(const vb_eval_result *r, FILE *out);

/* Run the evaluation; the JSON summary is written to out (unless NULL) and
 * the result kept in *result (unless NULL; vb_eval_result_free it) when the
 * status is 0. Returns an exit status: 0, 1 (runtime failure) or 2 (an agent
 * that does not exist or does not fit the env; the message lists the valid
 * ones). */
int vb_eval_run(const vb_eval_options *opt, FILE *out, vb_eval_result *result);
/* Parse a whole decimal integer in [min, max]. 0, or -1. */
int vb_eval_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);
/* Worker threads when --threads is not given: one per online core. */
int64_t vb_eval_default_threads(void);

#endif
