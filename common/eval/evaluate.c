/* eval — see eval.h. */
#include "evaluate.h"

#include "../policy/trained.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../base/exit.h"
#include "../base/log.h"
#include "../baselines/exact_belief.h"
#include "../baselines/registry.h"
#include "../policy/agent.h"
#include "../envs/env.h"
#include "../base/clock.h"

/* The stream ids of evaluation, and of the validation tasks that evaluations
 * during training use; the top byte keeps them apart from each other and from
 * the streams of training actors, so validation never sees a task that a
 * held-out evaluation with any seed scores. */
#define EVAL_ENV_STREAMS (UINT64_C(0xE1) << 56)
#define EVAL_AGENT_STREAMS (UINT64_C(0xA1) << 56)
#define VALIDATION_ENV_STREAMS (UINT64_C(0xE2) << 56)
#define VALIDATION_AGENT_STREAMS (UINT64_C(0xA2) << 56)

/* Refuse evaluations whose per-task results would need more memory. */
#define EVAL_MAX_RESULT_BYTES ((double)(1u << 31))

/* One step of a traced task; the belief columns are NaN where unknown. */
typedef struct vb_eval_trace {
    int32_t episode, action, cell;
    float reward;
    float exact_hit, belief_hit, belief_l1;
} vb_eval_trace;

/* A worker's tracing state: each env's exact posterior (families that have
 * one), the agent's decoded belief (agents that keep one) and the
 * observations before the step. */
typedef struct trace_ws {
    vb_exact_belief *exact;  /* (n), NULL without an exact posterior */
    float *belief;           /* (n, reward_cells), NULL without a belief */
    float *obs;              /* (n, obs_size) */
} trace_ws;

typedef struct eval_run {
    const vb_eval_options *opt;
    vb_agent_solution *solution;  /* a reference agent's solved policy, shared by the workers */
    uint64_t env_streams, agent_streams; /* evaluation's or validation's */
    vb_env_spec spec;
    int64_t batch;           /* envs stepped together by one worker */
    int64_t chunks;          /* batches of consecutive tasks */
    int64_t episodes;        /* per task */
    /* per-task results, written by the worker that ran the task */
    double *episode_return;  /* (tasks, episodes) */
    double *step_regret;     /* (tasks, steps_per_task): envs that report regret */
    vb_eval_trace *trace;    /* (tasks, steps_per_task) with trace_path, else NULL */
    int32_t *best_cell;      /* (tasks) with trace_path */
    atomic_int_fast64_t next_chunk;
    atomic_int_fast64_t tasks_done;
    atomic_int failed;
    pthread_mutex_t lock;    /* guards workers_left, err */
    pthread_cond_t finished;
    int64_t workers_left;
    char err[512];
} eval_run;

int vb_eval_parse_int(const char *text, int64_t min, int64_t max, int64_t *out) {
    if (!text || !*text) return -1;
    for (const char *p = text; *p; p++)
        if ((*p < '0' || *p > '9') && !(p == text && *p == '-')) return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno || !end || *end || v < min || v > max) return -1;
    *out = (int64_t)v;
    return 0;
}

int64_t vb_eval_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int64_t)n;
}


static void fail(eval_run *run, const char *what, const char *why) {
    pthread_mutex_lock(&run->lock);
    if (!atomic_load(&run->failed)) snprintf(run->err, sizeof run->err, "%s: %s", what, why);
    atomic_store(&run->failed, 1);
    pthread_mutex_unlock(&run->lock);
}

/* The agent that acts; a trained agent from a checkpoint would be made here too. */
static int make_agent(vb_agent **agent, const eval_run *run, const vb_env_batch *env, char *err, size_t len) {
    if (run->opt->model) {
        /* a belief-planning model plans at evaluation too, with the config's
         * budget, unless eval.planning asks for its policy alone */
        const vb_planner_cfg *plan = &run->opt->planner;
        const bool plans = run->opt->model->d.algo == VB_ALGO_VARIBASED && run->opt->plan;
        return vb_trained_agent_create(agent, run->opt->model, run->opt->params, run->opt->greedy,
                                      plans ? plan : NULL, env, run->opt->seed, run->agent_streams, err, len);
    }
    return vb_agent_create_solved(agent, run->opt->agent, run->solution, env, run->opt->seed,
                                  run->agent_streams, err, len);
}

/* The traced tasks' best reward cells by their labels (-1 without labels). */
static int trace_best_cells(eval_run *run, const vb_env_batch *env, int64_t first) {
    const vb_env_spec *s = &run->spec;
    float *labels = s->has_task_cells ? malloc((size_t)s->reward_cells * sizeof *labels) : NULL;
    if (s->has_task_cells && !labels) return fail(run, "tracing", "out of memory"), -1;
    for (int64_t i = 0; i < env->n && first + i < run->opt->tasks; i++) {
        int32_t best = -1;
        if (labels && vb_env_task_cells(env, i, labels) == VB_ENV_OK) {
            best = 0;
            for (int64_t c = 1; c < s->reward_cells; c++)
                if (labels[c] > labels[best]) best = (int32_t)c;
        }
        run->best_cell[first + i] = best;
    }
    free(labels);
    return 0;
}

/* The belief columns of env i's step, which read reward cell `cell`; then
 * the exact posterior takes in the step's outcome. */
static void trace_belief(const eval_run *run, trace_ws *tw, const vb_env_batch *env, int64_t i, int64_t cell,
                         vb_eval_trace *tr) {
    const vb_env_spec *s = &run->spec;
    const int64_t C = s->reward_cells;
    const float *b = tw->belief ? tw->belief + i * C : NULL;
    tr->exact_hit = tr->belief_hit = tr->belief_l1 = NAN;
    if (b) tr->belief_hit = b[cell];
    if (!tw->exact) return;
    vb_exact_belief *ex = &tw->exact[i];
    tr->exact_hit = (float)vb_exact_belief_hit(ex, cell);
    if (b) {
        double l1 = 0;
        for (int64_t c = 0; c < C; c++) l1 += fabs((double)b[c] - vb_exact_belief_hit(ex, c));
        tr->belief_l1 = (float)l1;
    }
    vb_exact_belief_observe(ex, cell, env->reward[i] == s->reward_levels[1]);
}

/* Run tasks first .. first + n - 1 (n = env->n; those past the last task are
 * stepped and dropped) and store their results. */
static int run_chunk(eval_run *run, vb_env_batch *env, vb_agent *agent, int32_t *actions, double *ep_ret,
                     trace_ws *tw, int64_t first) {
    const vb_env_spec *s = &run->spec;
    int64_t n = env->n, E = run->episodes, H = s->steps_per_task, tasks = run->opt->tasks;
    vb_env_set_streams(env, run->opt->seed, run->env_streams + (uint64_t)first);
    int rc = vb_env_reset_all(env);
    if (rc != VB_ENV_OK) return fail(run, "drawing tasks", vb_env_error(env, rc)), -1;
    vb_agent_set_streams(agent, run->opt->seed, run->agent_streams + (uint64_t)first);
    vb_agent_reset_all(agent, env);
    memset(ep_ret, 0, (size_t)(n * E) * sizeof *ep_ret);
    if (run->trace && trace_best_cells(run, env, first) != 0) return -1;
    for (int64_t i = 0; tw->exact && i < n; i++) vb_exact_belief_reset(&tw->exact[i]);
    const int64_t O = s->obs_size;
    for (int64_t t = 0; t < H; t++) {
        vb_agent_act(agent, env, actions);
        if (run->trace) {
            if (tw->belief) vb_agent_belief(agent, tw->belief);
            memcpy(tw->obs, env->obs, (size_t)(n * O) * sizeof *tw->obs);
        }
        rc = vb_env_step(env, actions);
        if (rc != VB_ENV_OK) return fail(run, "stepping", vb_env_error(env, rc)), -1;
        vb_agent_observe(agent, env, actions);
        for (int64_t i = 0; i < n && run->trace && first + i < tasks; i++) {
            vb_eval_trace *tr = &run->trace[(first + i) * H + t];
            tr->episode = (int32_t)env->episode[i];
            tr->action = actions[i];
            tr->reward = env->reward[i];
            tr->cell = s->state_cells > 0 ? (int32_t)vb_env_state_cell(s, env->obs + i * s->obs_size) : -1;
            trace_belief(run, tw, env, i, vb_env_reward_cell(s, tw->obs + i * O, actions[i], env->obs + i * O), tr);
        }
        for (int64_t i = 0; i < n; i++) {
            ep_ret[i * E + env->episode[i]] += env->reward[i];
            if (s->reports_regret && first + i < tasks) run->step_regret[(first + i) * H + t] = env->regret[i];
            if (env->done[i] && !env->task_done[i] && (rc = vb_env_reset_episode(env, i)) != VB_ENV_OK)
                return fail(run, "starting an episode", vb_env_error(env, rc)), -1;
        }
    }
    for (int64_t i = 0; i < n && first + i < tasks; i++)
        memcpy(&run->episode_return[(first + i) * E], &ep_ret[i * E], (size_t)E * sizeof *ep_ret);
    return 0;
}

/* The tracing state of a worker over env's batch: 0, or -1 (out of memory). */
static int trace_ws_init(trace_ws *tw, const eval_run *run, const vb_env_batch *env, vb_agent *agent) {
    const vb_env_spec *s = &run->spec;
    const int64_t n = env->n;
    vb_exact_belief probe;
    memset(tw, 0, sizeof *tw);
    if (!run->trace) return 0;
    if (!(tw->obs = malloc((size_t)(n * s->obs_size) * sizeof *tw->obs))) return -1;
    if (agent->ops->belief && !(tw->belief = malloc((size_t)(n * s->reward_cells) * sizeof *tw->belief))) return -1;
    if (vb_exact_belief_init(&probe, s, s->prior_alpha, s->prior_beta)) {
        if (!(tw->exact = malloc((size_t)n * sizeof *tw->exact))) return -1;
        for (int64_t i = 0; i < n; i++) tw->exact[i] = probe;
    }
    return 0;
}

static void trace_ws_free(trace_ws *tw) {
    free(tw->exact);
    free(tw->belief);
    free(tw->obs);
}

static void *worker(void *arg) {
    eval_run *run = arg;
    trace_ws tw = {0};
    char err[512];
    vb_env_batch *env = NULL;
    vb_agent *agent = NULL;
    int32_t *actions = malloc((size_t)run->batch * sizeof *actions);
    double *ep_ret = malloc((size_t)(run->batch * run->episodes) * sizeof *ep_ret);
    if (!actions || !ep_ret) {
        fail(run, "worker", "out of memory");
    } else if (vb_env_batch_create(&env, &run->opt->env, run->batch, run->opt->seed, run->env_streams, err, sizeof err) !=
               0) {
        fail(run, "creating environments", err);
    } else if (make_agent(&agent, run, env, err, sizeof err) != 0) {
        fail(run, "creating the agent", err);
    } else if (trace_ws_init(&tw, run, env, agent) != 0) {
        fail(run, "tracing", "out of memory");
    } else {
        for (;;) {
            int64_t c = atomic_fetch_add(&run->next_chunk, 1);
            if (c >= run->chunks || atomic_load(&run->failed)) break;
            int64_t first = c * run->batch;
            if (run_chunk(run, env, agent, actions, ep_ret, &tw, first) != 0) break;
            int64_t last = first + run->batch < run->opt->tasks ? first + run->batch : run->opt->tasks;
            atomic_fetch_add(&run->tasks_done, last - first);
        }
    }
    vb_agent_destroy(agent);
    vb_env_batch_destroy(env);
    trace_ws_free(&tw);
    free(actions);
    free(ep_ret);
    pthread_mutex_lock(&run->lock);
    run->workers_left--;
    pthread_cond_signal(&run->finished);
    pthread_mutex_unlock(&run->lock);
    return NULL;
}

/* Wait for the workers, logging progress every log.interval_s seconds. */
static void wait_with_progress(eval_run *run, double t0) {
    double interval = run->opt->progress_s, next = t0 + interval;
    pthread_mutex_lock(&run->lock);
    while (run->workers_left > 0) {
        struct timespec until;
        double wake = next;
        until.tv_sec = (time_t)wake;
        until.tv_nsec = (long)((wake - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&run->finished, &run->lock, &until);
        double now = vb_mono_s();
        if (now >= next && run->workers_left > 0) {
            int64_t done = atomic_load(&run->tasks_done);
            vb_info("eval: %lld/%lld tasks (%.0f%%), %.1f tasks/s", (long long)done, (long long)run->opt->tasks,
                    100.0 * (double)done / (double)run->opt->tasks, (double)done / (now - t0));
            while (next <= now) next += interval;
        }
    }
    pthread_mutex_unlock(&run->lock);
}

typedef struct stat_acc {
    double mean, se;
} stat_acc;

/* Mean and standard error of v[k * stride] over k = 0 .. n-1, in that order. */
static stat_acc summarise(const double *v, int64_t n, int64_t stride) {
    double sum = 0, sq = 0;
    for (int64_t k = 0; k < n; k++) sum += v[k * stride];
    double mean = sum / (double)n;
    for (int64_t k = 0; k < n; k++) sq += (v[k * stride] - mean) * (v[k * stride] - mean);
    stat_acc s = {mean, n > 1 ? sqrt(sq / (double)(n - 1) / (double)n) : NAN};
    return s;
}

static void put_num(FILE *out, double v) {
    if (isfinite(v))
        fprintf(out, "%.10g", v);
    else
        fputs("null", out);
}

static void put_array(FILE *out, const char *key, const double *v, int64_t n) {
    fprintf(out, ",\"%s\":[", key);
    for (int64_t i = 0; i < n; i++) {
        if (i) fputc(',', out);
        put_num(out, v[i]);
    }
    fputc(']', out);
}

/* Each task's returns as CSV (per_task_path). 0, or -1 with the reason logged. */
static int write_per_task(const eval_run *run) {
    const char *path = run->opt->per_task_path;
    int64_t N = run->opt->tasks, E = run->episodes, H = run->spec.steps_per_task;
    FILE *f = fopen(path, "w");
    if (!f) return vb_error("eval: --per-task %s: %s", path, strerror(errno)), -1;
    fputs("task,return", f);
    for (int64_t e = 0; e < E; e++) fprintf(f, ",episode_%lld", (long long)(e + 1));
    fputs(run->spec.reports_regret ? ",final_regret\n" : "\n", f);
    for (int64_t k = 0; k < N; k++) {
        double r = 0;
        for (int64_t e = 0; e < E; e++) r += run->episode_return[k * E + e];
        fprintf(f, "%lld,%.9g", (long long)k, r);
        for (int64_t e = 0; e < E; e++) fprintf(f, ",%.9g", run->episode_return[k * E + e]);
        if (run->spec.reports_regret) fprintf(f, ",%.9g", run->step_regret[k * H + H - 1]);
        fputc('\n', f);
    }
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad) return vb_error("eval: --per-task %s: write failed", path), -1;
    vb_info("eval: per-task returns in %s", path);
    return 0;
}

/* Every traced step as CSV (trace_path). 0, or -1 with the reason logged. */
static int write_trace(const eval_run *run) {
    const char *path = run->opt->trace_path;
    int64_t N = run->opt->tasks, H = run->spec.steps_per_task;
    FILE *f = fopen(path, "w");
    if (!f) return vb_error("eval: --trace %s: %s", path, strerror(errno)), -1;
    fputs("task,step,episode,action,reward,cell,task_best_cell,exact_hit,belief_hit,belief_l1\n", f);
    for (int64_t k = 0; k < N; k++)
        for (int64_t t = 0; t < H; t++) {
            const vb_eval_trace *tr = &run->trace[k * H + t];
            fprintf(f, "%lld,%lld,%d,%d,%.9g,%d,%d", (long long)k, (long long)t, tr->episode, tr->action,
                    (double)tr->reward, tr->cell, run->best_cell[k]);
            const float cols[3] = {tr->exact_hit, tr->belief_hit, tr->belief_l1};
            for (int j = 0; j < 3; j++) {
                if (isnan(cols[j])) fputc(',', f);
                else fprintf(f, ",%.6g", (double)cols[j]);
            }
            fputc('\n', f);
        }
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad) return vb_error("eval: --trace %s: write failed", path), -1;
    vb_info("eval: every step in %s", path);
    return 0;
}

void vb_eval_result_free(vb_eval_result *r) {
    if (!r) return;
    free(r->episode_mean);
    free(r->episode_stderr);
    free(r->exact_episode);
    free(r->regret_per_step);
    memset(r, 0, sizeof *r);
}

int vb_eval_result_write_json(const vb_eval_result *r, FILE *out) {
    fprintf(out, "{\"env\":\"%s\",\"agent\":\"%s\",\"tasks\":%lld,\"seed\":%llu,\"return_mean\":", r->env, r->agent,
            (long long)r->tasks, (unsigned long long)r->seed);
    put_num(out, r->return_mean);
    fputs(",\"return_stderr\":", out);
    put_num(out, r->return_stderr);
    put_array(out, "episode_return_mean", r->episode_mean, r->episodes);
    put_array(out, "episode_return_stderr", r->episode_stderr, r->episodes);
    if (r->has_exact) {
        fputs(",\"exact_return\":", out);
        put_num(out, r->exact_return);
        put_array(out, "exact_episode_return", r->exact_episode, r->episodes);
    }
    if (r->has_regret) {
        fputs(",\"simple_regret_mean\":", out);
        put_num(out, r->regret_mean);
        fputs(",\"simple_regret_stderr\":", out);
        put_num(out, r->regret_stderr);
        put_array(out, "simple_regret_per_step", r->regret_per_step, r->steps);
    }
    fputc('}', out);
    return ferror(out) ? -1 : 0;
}

/* The summary of a finished run. 0, or -1 (out of memory). */
static int summarise_run(const eval_run *run, vb_eval_result *res) {
    int64_t N = run->opt->tasks, E = run->episodes, H = run->spec.steps_per_task;
    memset(res, 0, sizeof *res);
    res->env = run->spec.name;
    res->agent = run->opt->agent;
    res->tasks = N;
    res->seed = run->opt->seed;
    res->episodes = E;
    res->steps = H;
    double *task_return = malloc((size_t)N * sizeof *task_return);
    res->episode_mean = malloc((size_t)E * sizeof(double));
    res->episode_stderr = malloc((size_t)E * sizeof(double));
    res->exact_episode = malloc((size_t)E * sizeof(double));
    res->regret_per_step = malloc((size_t)H * sizeof(double));
    if (!task_return || !res->episode_mean || !res->episode_stderr || !res->exact_episode || !res->regret_per_step) {
        free(task_return);
        vb_eval_result_free(res);
        return -1;
    }
    for (int64_t k = 0; k < N; k++) {
        double r = 0;
        for (int64_t e = 0; e < E; e++) r += run->episode_return[k * E + e];
        task_return[k] = r;
    }
    stat_acc ret = summarise(task_return, N, 1);
    free(task_return);
    res->return_mean = ret.mean;
    res->return_stderr = ret.se;
    for (int64_t e = 0; e < E; e++) {
        stat_acc s = summarise(run->episode_return + e, N, E);
        res->episode_mean[e] = s.mean;
        res->episode_stderr[e] = s.se;
    }
    res->has_exact = vb_agent_solution_exact(run->solution, &res->exact_return, res->exact_episode, E) == 0;
    if (run->spec.reports_regret) {
        res->has_regret = true;
        for (int64_t t = 0; t < H; t++) res->regret_per_step[t] = summarise(run->step_regret + t, N, H).mean;
        stat_acc fin = summarise(run->step_regret + (H - 1), N, H);
        res->regret_mean = fin.mean;
        res->regret_stderr = fin.se;
    }
    return 0;
}

static void log_result(const vb_eval_result *r) {
    vb_info("eval: %s on %s: return %.4f +- %.4f (stderr) over %lld tasks", r->agent, r->env, r->return_mean,
            r->return_stderr, (long long)r->tasks);
    if (r->has_exact)
        vb_info("eval: the exact expected return is %.6f; the sampled mean is %.2f standard errors from it",
                r->exact_return, (r->return_mean - r->exact_return) / r->return_stderr);
    if (r->has_regret) vb_info("eval: final simple regret %.4f +- %.4f (stderr)", r->regret_mean, r->regret_stderr);
}

/* Refuse an unknown or unfit agent (or one the config defeats) before any thread starts. */
static int check_agent(eval_run *run) {
    char err[512], names[512];
    if (!run->opt->model && !vb_agent_find(run->opt->agent, run->spec.family)) {
        vb_agent_names(run->spec.family, names, sizeof names);
        fprintf(stderr, "actor: --agent: unknown agent '%s' for %s; valid agents for %s: %s\n", run->opt->agent,
                run->spec.name, run->spec.name, names);
        return VB_EXIT_USAGE;
    }
    if (!run->opt->model) {
        int rc = vb_agent_solve(&run->solution, run->opt->agent, &run->spec, err, sizeof err);
        if (rc == VB_AGENT_EUSAGE) return fprintf(stderr, "actor: --agent %s: %s\n", run->opt->agent, err), VB_EXIT_USAGE;
        if (rc != 0) return fprintf(stderr, "actor: --agent %s: %s\n", run->opt->agent, err), VB_EXIT_RUNTIME;
    }
    vb_env_batch *env = NULL;
    vb_agent *agent = NULL;
    if (vb_env_batch_create(&env, &run->opt->env, run->batch, run->opt->seed, run->env_streams, err, sizeof err) != 0) {
        fprintf(stderr, "actor: creating environments: %s\n", err);
        return VB_EXIT_RUNTIME;
    }
    int rc = make_agent(&agent, run, env, err, sizeof err);
    vb_agent_destroy(agent);
    vb_env_batch_destroy(env);
    if (rc == VB_AGENT_EUSAGE) return fprintf(stderr, "actor: --agent %s: %s\n", run->opt->agent, err), VB_EXIT_USAGE;
    if (rc != 0) return fprintf(stderr, "actor: --agent %s: %s\n", run->opt->agent, err), VB_EXIT_RUNTIME;
    return VB_EXIT_OK;
}

/* The run's spec, batch, chunks and thread count (*threads), and the checks
 * made before any work: the results' size, the agent, the --per-task file.
 * An exit status. */
static int plan_run(eval_run *run, int64_t *threads_out) {
    const vb_eval_options *opt = run->opt;
    char err[512];
    if (vb_env_spec_from(&opt->env, &run->spec, err, sizeof err) != 0)
        return fprintf(stderr, "actor: %s\n", err), VB_EXIT_USAGE;
    int64_t threads = opt->threads;
    run->batch = opt->batch < opt->tasks ? opt->batch : opt->tasks;
    int64_t per_thread = (opt->tasks + threads - 1) / threads;
    if (run->batch > per_thread) run->batch = per_thread;
    run->chunks = (opt->tasks + run->batch - 1) / run->batch;
    if (threads > run->chunks) threads = run->chunks;
    run->episodes = run->spec.episodes_per_task;
    double per_task = (double)run->episodes + (run->spec.reports_regret ? (double)run->spec.steps_per_task : 0.0);
    double bytes = (double)opt->tasks * per_task * sizeof(double);
    if (opt->trace_path) bytes += (double)opt->tasks * ((double)run->spec.steps_per_task * sizeof(vb_eval_trace) + 4);
    if (bytes > EVAL_MAX_RESULT_BYTES) {
        fprintf(stderr, "actor: --tasks %lld: the per-task results would need %.1f GiB (at most 2); run fewer tasks\n",
                (long long)opt->tasks, bytes / (1u << 30));
        return VB_EXIT_USAGE;
    }
    int rc = check_agent(run);
    if (rc == VB_EXIT_OK && opt->per_task_path) { /* a file that cannot be written is refused before the work */
        FILE *f = fopen(opt->per_task_path, "w");
        if (!f) fprintf(stderr, "actor: --per-task %s: %s\n", opt->per_task_path, strerror(errno));
        rc = f && fclose(f) == 0 ? VB_EXIT_OK : VB_EXIT_USAGE;
    }
    if (rc == VB_EXIT_OK && opt->trace_path) {
        FILE *f = fopen(opt->trace_path, "w");
        if (!f) fprintf(stderr, "actor: --trace %s: %s\n", opt->trace_path, strerror(errno));
        rc = f && fclose(f) == 0 ? VB_EXIT_OK : VB_EXIT_USAGE;
    }
    *threads_out = threads;
    return rc;
}

/* How a trained model acts, for the log line ("" for other agents). */
static void describe_agent(const vb_eval_options *opt, char *how, size_t len) {
    how[0] = '\0';
    if (opt->model && opt->model->d.algo == VB_ALGO_VARIBASED) {
        if (!opt->plan) {
            snprintf(how, len, " (the policy alone: eval.planning: policy)");
        } else {
            const vb_planner_cfg pc = opt->planner;
            snprintf(how, len, " (planning: K %lld, D %lld, K_nested %lld, eta %g, %s continuations%s)",
                     (long long)pc.K, (long long)pc.D, (long long)pc.KO, pc.eta,
                     pc.rollout == VB_ROLLOUT_ARGMAX ? "argmax" : "sampled",
                     pc.greedy_margin > 0 ? ", a greedy margin" : "");
        }
    }
}

int vb_eval_run(const vb_eval_options *opt, FILE *out, vb_eval_result *result) {
    eval_run run;
    memset(&run, 0, sizeof run);
    run.opt = opt;
    run.env_streams = opt->validation ? VALIDATION_ENV_STREAMS : EVAL_ENV_STREAMS;
    run.agent_streams = opt->validation ? VALIDATION_AGENT_STREAMS : EVAL_AGENT_STREAMS;
    int64_t threads;
    int rc = plan_run(&run, &threads);
    if (rc != VB_EXIT_OK) {
        vb_agent_solution_free(run.solution);
        return rc;
    }

    run.episode_return = calloc((size_t)(opt->tasks * run.episodes), sizeof *run.episode_return);
    if (run.spec.reports_regret)
        run.step_regret = calloc((size_t)(opt->tasks * run.spec.steps_per_task), sizeof *run.step_regret);
    if (opt->trace_path) {
        run.trace = calloc((size_t)(opt->tasks * run.spec.steps_per_task), sizeof *run.trace);
        run.best_cell = calloc((size_t)opt->tasks, sizeof *run.best_cell);
    }
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (!run.episode_return || (run.spec.reports_regret && !run.step_regret) ||
        (opt->trace_path && (!run.trace || !run.best_cell)) || !tids) {
        free(run.episode_return), free(run.step_regret), free(run.trace), free(run.best_cell), free(tids);
        vb_agent_solution_free(run.solution);
        vb_error("eval: out of memory for the results of %lld tasks", (long long)opt->tasks);
        return VB_EXIT_RUNTIME;
    }
    atomic_init(&run.next_chunk, 0);
    atomic_init(&run.tasks_done, 0);
    atomic_init(&run.failed, 0);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run.finished, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&run.lock, NULL);

    char how[160];
    describe_agent(opt, how, sizeof how);
    vb_info("eval: agent %s%s on %s, %lld %s tasks, seed %llu, %lld threads, %lld envs per batch", opt->agent, how,
            run.spec.name, (long long)opt->tasks, opt->validation ? "validation" : "held-out",
            (unsigned long long)opt->seed, (long long)threads, (long long)run.batch);
    double t0 = vb_mono_s();
    int64_t started = 0;
    for (; started < threads; started++) {
        pthread_mutex_lock(&run.lock);
        run.workers_left++;
        pthread_mutex_unlock(&run.lock);
        if (pthread_create(&tids[started], NULL, worker, &run) != 0) {
            pthread_mutex_lock(&run.lock);
            run.workers_left--;
            pthread_mutex_unlock(&run.lock);
            if (started == 0) fail(&run, "starting threads", "pthread_create failed");
            break; /* the started ones share the work */
        }
    }
    wait_with_progress(&run, t0);
    for (int64_t i = 0; i < started; i++) pthread_join(tids[i], NULL);
    double elapsed = vb_mono_s() - t0;

    rc = VB_EXIT_RUNTIME;
    if (atomic_load(&run.failed)) {
        vb_error("eval: %s", run.err);
    } else {
        vb_info("eval: %lld tasks in %.2f s (%.1f tasks/s)", (long long)opt->tasks, elapsed,
                (double)opt->tasks / (elapsed > 0 ? elapsed : 1e-9));
        vb_eval_result res;
        if (summarise_run(&run, &res) != 0) {
            vb_error("eval: out of memory while summarising");
        } else {
            log_result(&res);
            rc = !out || (vb_eval_result_write_json(&res, out) == 0 && fputc('\n', out) != EOF && fflush(out) == 0)
                     ? VB_EXIT_OK
                     : VB_EXIT_RUNTIME;
            if (result) *result = res;
            else vb_eval_result_free(&res);
        }
        if (rc == VB_EXIT_OK && opt->per_task_path && write_per_task(&run) != 0) rc = VB_EXIT_RUNTIME;
        if (rc == VB_EXIT_OK && opt->trace_path && write_trace(&run) != 0) rc = VB_EXIT_RUNTIME;
    }
    pthread_cond_destroy(&run.finished);
    pthread_mutex_destroy(&run.lock);
    free(run.episode_return);
    free(run.step_regret);
    free(run.trace);
    free(run.best_cell);
    free(tids);
    vb_agent_solution_free(run.solution);
    return rc;
}
