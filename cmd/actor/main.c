/* actor — the acting process: steps a batch of environments, tracks beliefs,
 * plans every action, and streams trajectory chunks to the learner; with
 * --eval, evaluates an agent locally (common/eval/evaluate.c). This file is the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/base/cli.h"
#include "../../common/base/config.h"
#include "../../common/base/log.h"
#include "../../common/base/version.h"
#include "../../common/net/endpoint.h"
#include "../../common/params/params.h"
#include "../../kernels/backend.h"
#include "../../kernels/blas_core.h"
#include "remote.h"
#include "../../common/eval/evaluate.h"
#include "../../common/params/params.h"
#include "load.h"
#include "../../common/net/keys.h"

static void usage(FILE *out) {
    fputs("usage: actor --learner ENDPOINT [options]\n"
          "       actor --eval --agent NAME [--config FILE] [--tasks N] [--seed S] [--threads T] [options]\n"
          "       actor --eval --checkpoint PATH [--config FILE] [--tasks N] [--seed S] [--threads T] [options]\n"
          "\n"
          "Acts for a learner: steps environments, plans, and sends trajectory chunks.\n"
          "With --eval, runs an agent on held-out tasks of the configured env, logs progress\n"
          "to stderr every log.interval_s seconds and prints one JSON line of results\n"
          "(docs/baselines.md).\n"
          "\n"
          "options:\n"
          "  -L, --learner ENDPOINT  the learner's control endpoint, e.g. tcp://host:5555\n"
          "                          (tcp://HOST:PORT, ipc://PATH or inproc://NAME); the run's\n"
          "                          config, model and weights come from the learner\n"
          "      --name NAME         how the learner's log names this actor (default HOST-PID)\n"
          "      --parent PID        exit when process PID (a learner that started this actor)\n"
          "                          is gone\n"
          "  -e, --eval              evaluate an agent locally instead of acting for a learner\n"
          "  -a, --agent NAME        the agent to evaluate: random (every env); gridworld:\n"
          "                          oracle, greedy-search, bayes-optimal; bandit:\n"
          "                          bayes-optimal, thompson, ucb1; funcopt: gp-ucb, gp-ei,\n"
          "                          gp-thompson, oracle (the Bayes-optimal agents also report\n"
          "                          their exact expected returns)\n"
          "  -k, --checkpoint PATH   evaluate a trained agent: a checkpoint file, a run folder,\n"
          "                          its checkpoints/ folder or checkpoints/latest; the config\n"
          "                          is the checkpoint's, then --config, then --set (model keys\n"
          "                          must match); acts greedily unless eval.greedy=false\n"
          "  -n, --tasks N           tasks to evaluate (default eval.tasks)\n"
          "  -S, --seed S            seed of the evaluation tasks (default run.seed)\n"
          "  -r, --per-task FILE     --eval: also write each task's return and episode returns\n"
          "                          to FILE (CSV, in task order), for paired comparisons of\n"
          "                          agents evaluated with the same --seed and --tasks\n"
          "  -T, --trace FILE        --eval: also write every step of every task to FILE (CSV:\n"
          "                          task, step, episode, action, reward, the state cell\n"
          "                          entered, the task's best cell, and the exact posterior's\n"
          "                          and the agent's learned belief's hit probability at the\n"
          "                          cell read, with their L1 distance, where they exist);\n"
          "                          scripts/plot_trace.py draws gridworld searches from it\n"
          "  -t, --threads T         --eval: worker threads (default: one per core); results\n"
          "                          do not depend on it. --learner: BLAS threads (default\n"
          "                          actors.threads of the run)\n"
          "  -c, --config FILE       YAML configuration for local modes\n"
          "  -s, --set K=V           override one key (repeatable; after --config, in order)\n"
          "  -p, --print-config      print the resolved configuration as YAML and exit\n"
          "  -l, --log-level LEVEL   debug, info, warn or error (overrides log.level)\n"
          "      --log-file FILE     also append the log lines to FILE\n"
          "      --keys DIR          CURVE for a tcp:// learner that uses learner.keys:\n"
          "                          this actor's DIR/actor.key, the learner's DIR/learner.pub\n"
          "      --keygen DIR        write a new DIR/actor.key and actor.pub, then exit\n"
          "  -h, --help              show this help and exit\n"
          "  -V, --version           show the version and exit\n"
          "\n"
          "exit status: 0 success, 1 runtime failure, 2 usage or configuration error\n",
          out);
}

/* --eval: check its options, then hand over to eval.c. */
static int run_eval(const vb_config *cfg, const char *learner, const char *agent, const char *tasks,
                    const char *seed, const char *threads, const char *per_task, const char *trace, const vb_model *model,
                    const float *params) {
    vb_eval_options opt = vb_eval_options_from(cfg);
    opt.agent = model ? "checkpoint" : agent;
    opt.model = model;
    opt.params = params;
    opt.threads = vb_eval_default_threads();
    opt.per_task_path = per_task;
    opt.trace_path = trace;
    int64_t v;
    if (learner) {
        fprintf(stderr, "actor: --eval runs locally and takes no --learner\ntry 'actor --help'\n");
        return VB_EXIT_USAGE;
    }
    if (agent && model) {
        fprintf(stderr, "actor: --eval takes --agent NAME or --checkpoint PATH, not both\ntry 'actor --help'\n");
        return VB_EXIT_USAGE;
    }
    if (!agent && !model) {
        fprintf(stderr, "actor: --eval needs --agent NAME or --checkpoint PATH\ntry 'actor --help'\n");
        return VB_EXIT_USAGE;
    }
    if (tasks) {
        if (vb_eval_parse_int(tasks, 1, 1000000000, &v) != 0) {
            fprintf(stderr, "actor: --tasks: expected an integer in [1, 1000000000], got '%s'\n", tasks);
            return VB_EXIT_USAGE;
        }
        opt.tasks = v;
    }
    if (seed) {
        if (vb_eval_parse_int(seed, 0, INT64_C(9007199254740992), &v) != 0) {
            fprintf(stderr, "actor: --seed: expected an integer in [0, 9007199254740992], got '%s'\n", seed);
            return VB_EXIT_USAGE;
        }
        opt.seed = (uint64_t)v;
    }
    if (threads) {
        if (vb_eval_parse_int(threads, 1, 1024, &v) != 0) {
            fprintf(stderr, "actor: --threads: expected an integer in [1, 1024], got '%s'\n", threads);
            return VB_EXIT_USAGE;
        }
        opt.threads = v;
    }
    return vb_eval_run(&opt, stdout, NULL);
}

/* What the command line asked for. */
typedef struct actor_args {
    vb_cli_config cc;
    const char *learner, *log_level, *agent, *tasks, *seed, *threads, *checkpoint, *per_task, *trace, *name, *parent;
    const char *log_file, *keys, *keygen;
    int print_config, eval;
} actor_args;

/* Parse argv into a. -1 to go on, else the exit status (--help, --version, a
 * usage error). */
static int parse_args(int argc, char **argv, actor_args *a) {
    static const struct option opts[] = {
        {"learner", required_argument, NULL, 'L'},
        {"eval", no_argument, NULL, 'e'},
        {"agent", required_argument, NULL, 'a'},
        {"checkpoint", required_argument, NULL, 'k'},
        {"tasks", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 'S'},
        {"threads", required_argument, NULL, 't'},
        {"per-task", required_argument, NULL, 'r'},
        {"trace", required_argument, NULL, 'T'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"print-config", no_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, 'l'},
        {"name", required_argument, NULL, 'N'},
        {"parent", required_argument, NULL, 'P'},
        {"log-file", required_argument, NULL, 'F'},
        {"keys", required_argument, NULL, 'K'},
        {"keygen", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":L:ea:k:n:S:t:r:T:c:s:pl:F:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'L': a->learner = optarg; break;
        case 'e': a->eval = 1; break;
        case 'a': a->agent = optarg; break;
        case 'k': a->checkpoint = optarg; break;
        case 'n': a->tasks = optarg; break;
        case 'S': a->seed = optarg; break;
        case 't': a->threads = optarg; break;
        case 'r': a->per_task = optarg; break;
        case 'T': a->trace = optarg; break;
        case 'c': a->cc.config_path = optarg; break;
        case 's':
            if (vb_cli_add_set(&a->cc, optarg) != 0) {
                fprintf(stderr, "actor: too many --set options (at most %d)\n", VB_CLI_MAX_SETS);
                return VB_EXIT_USAGE;
            }
            break;
        case 'p': a->print_config = 1; break;
        case 'l': a->log_level = optarg; break;
        case 'N': a->name = optarg; break;
        case 'P': a->parent = optarg; break;
        case 'F': a->log_file = optarg; break;
        case 'K': a->keys = optarg; break;
        case 'G': a->keygen = optarg; break;
        case 'h': usage(stdout); return VB_EXIT_OK;
        case 'V':
            printf("actor (varibased) %s (OpenBLAS %s kernels)\n", VB_VERSION, vb_blas_core_name());
            return VB_EXIT_OK;
        case ':':
            fprintf(stderr, "actor: option '%s' needs a value\ntry 'actor --help'\n", argv[optind - 1]);
            return VB_EXIT_USAGE;
        default:
            fprintf(stderr, "actor: unknown option '%s'\ntry 'actor --help'\n", argv[optind - 1]);
            return VB_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "actor: unexpected argument '%s'\ntry 'actor --help'\n", argv[optind]);
        return VB_EXIT_USAGE;
    }
    return -1;
}

/* --learner: check its options, then hand over to remote.c. */
static int run_remote(const actor_args *a) {
    if (a->agent || a->tasks || a->seed || a->per_task || a->trace) {
        fprintf(stderr, "actor: --agent, --tasks, --seed, --per-task and --trace go with --eval\ntry 'actor --help'\n");
        return VB_EXIT_USAGE;
    }
    if (!a->learner) {
        fprintf(stderr, "actor: --learner ENDPOINT is required\ntry 'actor --help'\n");
        return VB_EXIT_USAGE;
    }
    char why[256];
    if (vb_endpoint_check(a->learner, why, sizeof why) != 0) {
        fprintf(stderr, "actor: --learner '%s': %s\n", a->learner, why);
        return VB_EXIT_USAGE;
    }
    if (a->cc.config_path || a->cc.nsets) {
        fprintf(stderr, "actor: with --learner the run's config comes from the learner; drop --config and --set\n");
        return VB_EXIT_USAGE;
    }
    if (a->keys && strncmp(a->learner, "tcp://", 6) != 0) {
        fprintf(stderr, "actor: --keys secures tcp:// endpoints; %s is local\n", a->learner);
        return VB_EXIT_USAGE;
    }
    vb_act_options ao = {.learner = a->learner, .name = a->name, .keys = a->keys,
                         .log_level_set = a->log_level != NULL};
    int64_t v;
    if (a->threads) {
        if (vb_eval_parse_int(a->threads, 1, 1024, &v) != 0) {
            fprintf(stderr, "actor: --threads: expected an integer in [1, 1024], got '%s'\n", a->threads);
            return VB_EXIT_USAGE;
        }
        ao.threads = v;
    }
    if (a->parent) {
        if (vb_eval_parse_int(a->parent, 1, INT32_MAX, &v) != 0) {
            fprintf(stderr, "actor: --parent: expected a process id, got '%s'\n", a->parent);
            return VB_EXIT_USAGE;
        }
        ao.parent = (long)v;
    }
    return vb_act_run(&ao);
}

int main(int argc, char **argv) {
    actor_args a;
    memset(&a, 0, sizeof a);
    vb_blas_core_select(argv);
    vb_log_init("actor", VB_LOG_INFO);
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.keygen) {
        char kerr[1024];
        if (vb_keys_generate(a.keygen, "actor", kerr, sizeof kerr) != 0) {
            fprintf(stderr, "actor: --keygen: %s\n", kerr);
            return VB_EXIT_RUNTIME;
        }
        printf("wrote %s/actor.key and actor.pub: append actor.pub to the learner's allowed_actors, copy its "
               "learner.pub here, then ./actor --learner tcp://HOST:PORT --keys %s\n", a.keygen, a.keygen);
        return VB_EXIT_OK;
    }
    if (a.keys && a.eval) {
        fprintf(stderr, "actor: --keys goes with --learner\ntry 'actor --help'\n");
        return VB_EXIT_USAGE;
    }
    if (a.log_file && vb_log_set_file(a.log_file) != 0) {
        fprintf(stderr, "actor: --log-file %s: %s\n", a.log_file, strerror(errno));
        return VB_EXIT_USAGE;
    }
    vb_config cfg;
    char err[1024];
    vb_model model;
    float *params = NULL;
    if (a.checkpoint && !a.eval) {
        fprintf(stderr, "actor: --checkpoint goes with --eval\ntry 'actor --help'\n");
        return VB_EXIT_USAGE;
    }
    if (a.checkpoint) {
        rc = actor_load_trained(a.checkpoint, &a.cc, &cfg, &model, &params, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "actor: --checkpoint: %s\n", err);
            return rc;
        }
    } else if (vb_cli_resolve_config(&a.cc, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "actor: configuration error: %s\n", err);
        return VB_EXIT_USAGE;
    }
    vb_log_level level = (vb_log_level)cfg.log.level;
    if (a.log_level && (vb_log_level_parse(a.log_level, &level) != 0 || level == VB_LOG_OFF)) {
        fprintf(stderr, "actor: --log-level: expected debug, info, warn or error, got '%s'\n", a.log_level);
        free(params);
        return VB_EXIT_USAGE;
    }
    vb_log_set_level(level);
    if (a.print_config) {
        free(params);
        return vb_config_write_yaml(&cfg, stdout) == 0 ? VB_EXIT_OK : VB_EXIT_RUNTIME;
    }
    if (a.eval && (a.name || a.parent)) {
        fprintf(stderr, "actor: --name and --parent go with --learner\ntry 'actor --help'\n");
        free(params);
        return VB_EXIT_USAGE;
    }
    if (!a.eval) return run_remote(&a);
    /* eval parallelises over tasks: one BLAS thread per worker */
    if (params) vb_backend_cpu()->set_threads(1);
    rc = run_eval(&cfg, a.learner, a.agent, a.tasks, a.seed, a.threads, a.per_task, a.trace, params ? &model : NULL, params);
    free(params);
    return rc;
}
