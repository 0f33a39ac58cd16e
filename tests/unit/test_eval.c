/* actor --eval end to end: exit codes, the JSON summary on the last stdout
 * line, independence from the thread count and batch size, the acceptance
 * values, and usage errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static char cfg_path[3][1024];

static const char *config(const char *env) {
    int k = strcmp(env, "gridworld") == 0 ? 0 : strcmp(env, "bandit") == 0 ? 1 : 2;
    char rel[64];
    snprintf(rel, sizeof rel, "configs/%s.yaml", env);
    return vb_test_path(rel, cfg_path[k], sizeof cfg_path[k]);
}

/* The last non-empty line of text (in place). */
static const char *last_line(char *text) {
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n') text[--n] = '\0';
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

/* The number after "key": in a JSON line; asserts that it is there. */
static double num(const char *json, const char *key) {
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    cr_assert_not_null(p, "no %s in %s", key, json);
    char *end;
    double v = strtod(p + strlen(pat), &end);
    cr_assert(end != p + strlen(pat), "%s is not a number in %s", key, json);
    return v;
}

/* The elements of the array "key":[...]: their count, the first max into out. */
static int array(const char *json, const char *key, double *out, int max) {
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":[", key);
    const char *p = strstr(json, pat);
    cr_assert_not_null(p, "no array %s in %s", key, json);
    p += strlen(pat);
    int n = 0;
    while (*p != ']') {
        char *end;
        double v = strtod(p, &end);
        cr_assert(end != p, "bad element in %s", key);
        if (n < max) out[n] = v;
        n++;
        p = end;
        if (*p == ',') p++;
    }
    return n;
}

static void eval(vb_test_proc *p, const char *const *args) { vb_test_run(p, "actor", args); }

Test(eval, oracle_on_gridworld_prints_the_summary_as_the_last_line) {
    vb_test_proc p;
    eval(&p, (const char *[]){"--eval", "--agent", "oracle", "--config", config("gridworld"), "--tasks", "50",
                              "--threads", "2", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    const char *j = last_line(p.out);
    cr_assert(j[0] == '{' && j[strlen(j) - 1] == '}', "%s", j);
    cr_assert(strstr(j, "\"env\":\"gridworld\""), "%s", j);
    cr_assert(strstr(j, "\"agent\":\"oracle\""), "%s", j);
    cr_assert_eq(num(j, "tasks"), 50);
    double ep[8];
    cr_assert_eq(array(j, "episode_return_mean", ep, 8), 4);
    cr_assert_eq(array(j, "episode_return_stderr", ep + 4, 4), 4);
    double mean = num(j, "return_mean");
    cr_assert_gt(num(j, "return_stderr"), 0);
    for (int e = 0; e < 4; e++) cr_assert_float_eq(ep[e], mean / 4, 1e-6); /* the oracle's episodes are equal */
    /* exact: the goal is uniform over the 21 candidates of the 5x5 grid, whose
     * distances from (0, 0) sum to 100 - (0 + 1 + 1 + 2) = 96; an episode earns
     * (16 - d) - 0.1 (d - 1) = 16.1 - 1.1 d, so 4 (16.1 - 1.1 * 96 / 21) = 44.2857 */
    const double exact = 4 * (16.1 - 1.1 * 96.0 / 21.0);
    cr_assert(fabs(mean - exact) < 4 * num(j, "return_stderr"), "%f against the exact %f (stderr %f)", mean, exact,
              num(j, "return_stderr"));
    cr_assert_null(strstr(j, "simple_regret"));
    cr_assert(strstr(p.err, "eval:"), "no progress on stderr: %s", p.err);
    vb_test_proc_free(&p);
}

Test(eval, results_do_not_depend_on_threads_or_batch_size) {
    const char *outs[3];
    vb_test_proc p[3];
    const char *threads[3] = {"1", "2", "2"}, *batch[3] = {"env.batch=64", "env.batch=64", "env.batch=7"};
    for (int k = 0; k < 3; k++) {
        eval(&p[k], (const char *[]){"--eval", "--agent", "thompson", "--config", config("bandit"), "--tasks", "300",
                                     "--threads", threads[k], "--set", batch[k], NULL});
        cr_assert_eq(p[k].status, 0, "%s", p[k].err);
        outs[k] = last_line(p[k].out);
    }
    cr_assert_str_eq(outs[0], outs[1]);
    cr_assert_str_eq(outs[0], outs[2]);
    for (int k = 0; k < 3; k++) vb_test_proc_free(&p[k]);
}

Test(eval, the_seed_selects_the_tasks) {
    vb_test_proc a, b, c;
    const char *cfg = config("gridworld");
    eval(&a, (const char *[]){"--eval", "--agent", "random", "--config", cfg, "--tasks", "40", "--seed", "5", NULL});
    eval(&b, (const char *[]){"--eval", "--agent", "random", "--config", cfg, "--tasks", "40", "--seed", "5", NULL});
    eval(&c, (const char *[]){"--eval", "--agent", "random", "--config", cfg, "--tasks", "40", "--seed", "6", NULL});
    cr_assert(a.status == 0 && b.status == 0 && c.status == 0);
    cr_assert_str_eq(last_line(a.out), last_line(b.out));
    cr_assert_str_neq(last_line(a.out), last_line(c.out));
    cr_assert(strstr(last_line(a.out), "\"seed\":5"));
    vb_test_proc_free(&a);
    vb_test_proc_free(&b);
    vb_test_proc_free(&c);
}

/* The acceptance checks of the bandit: Bayes-optimal within 3 standard errors
 * of its exact value 6.6600, random within 3 of H alpha / (alpha + beta) = 5. */
Test(eval, bandit_agents_match_their_exact_values) {
    const char *agents[2] = {"bayes-optimal", "random"};
    const double exact[2] = {6.6600, 5.0};
    for (int k = 0; k < 2; k++) {
        vb_test_proc p;
        eval(&p, (const char *[]){"--eval", "--agent", agents[k], "--config", config("bandit"), "--set",
                                  "env.arms=5", "--set", "env.horizon=10", "--tasks", "20000", NULL});
        cr_assert_eq(p.status, 0, "%s", p.err);
        const char *j = last_line(p.out);
        double mean = num(j, "return_mean"), se = num(j, "return_stderr");
        cr_assert(fabs(mean - exact[k]) < 3 * se, "%s: %f +- %f", agents[k], mean, se);
        double ep[16];
        cr_assert_eq(array(j, "episode_return_mean", ep, 16), 10);
        vb_test_proc_free(&p);
    }
}

Test(eval, funcopt_reports_simple_regret_and_gp_ucb_beats_random) {
    double regret[2], ret[2], steps[64];
    const char *agents[2] = {"gp-ucb", "random"};
    for (int k = 0; k < 2; k++) {
        vb_test_proc p;
        eval(&p, (const char *[]){"--eval", "--agent", agents[k], "--config", config("funcopt"), "--tasks", "60",
                                  NULL});
        cr_assert_eq(p.status, 0, "%s", p.err);
        const char *j = last_line(p.out);
        regret[k] = num(j, "simple_regret_mean");
        ret[k] = num(j, "return_mean");
        num(j, "simple_regret_stderr");
        cr_assert_eq(array(j, "simple_regret_per_step", steps, 64), 30);
        for (int t = 1; t < 30; t++) cr_assert_leq(steps[t], steps[t - 1] + 1e-12, "regret grew at step %d", t);
        cr_assert_float_eq(steps[29], regret[k], 1e-9);
        vb_test_proc_free(&p);
    }
    cr_assert_lt(regret[0], regret[1]);
    cr_assert_gt(ret[0], ret[1]);
}

/* 200 GP-Thompson tasks take about 0.15 s on two cores, far above the 0.01 s
 * interval: progress lines must appear. */
Test(eval, progress_is_logged_every_interval) {
    vb_test_proc p;
    eval(&p, (const char *[]){"--eval", "--agent", "gp-thompson", "--config", config("funcopt"), "--tasks", "200",
                              "--set", "log.interval_s=0.01", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.err, "/200 tasks ("), "no progress line: %s", p.err);
    vb_test_proc_free(&p);
}

Test(eval, a_single_task_has_null_standard_errors) {
    vb_test_proc p;
    eval(&p, (const char *[]){"--eval", "--agent", "ucb1", "--config", config("bandit"), "--tasks", "1", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.out, "\"return_stderr\":null"), "%s", p.out);
    vb_test_proc_free(&p);
}

Test(eval, unknown_or_unfit_agents_exit_2_listing_the_valid_ones) {
    const char *cases[][3] = {
        {"gridworld", "nope", "random, oracle, greedy-search"},
        {"gridworld", "ucb1", "random, oracle, greedy-search"},
        {"bandit", "greedy-search", "random, bayes-optimal, thompson, ucb1"},
        {"funcopt", "bayes-optimal", "random, gp-ucb, gp-ei, gp-thompson, oracle"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_test_proc p;
        eval(&p, (const char *[]){"--eval", "--agent", cases[i][1], "--config", config(cases[i][0]), NULL});
        cr_assert_eq(p.status, 2, "%s on %s: %d", cases[i][1], cases[i][0], p.status);
        cr_assert(strstr(p.err, cases[i][2]), "%s", p.err);
        cr_assert_str_eq(p.out, "");
        vb_test_proc_free(&p);
    }
}

Test(eval, bad_eval_options_exit_2) {
    const char *cfg = config("bandit");
    const char *const cases[][10] = {
        {"--eval", "--config", cfg, NULL},
        {"--eval", "--agent", "random", "--tasks", "0", NULL},
        {"--eval", "--agent", "random", "--tasks", "ten", NULL},
        {"--eval", "--agent", "random", "--tasks", "5x", NULL},
        {"--eval", "--agent", "random", "--threads", "0", NULL},
        {"--eval", "--agent", "random", "--seed", "-1", NULL},
        {"--eval", "--agent", "random", "--learner", "tcp://localhost:5555", NULL},
        {"--agent", "random", "--config", cfg, NULL},
        {"--eval", "--agent", NULL},
        /* a DP far beyond its budget is refused up front */
        {"--eval", "--agent", "bayes-optimal", "--config", cfg, "--set", "env.horizon=5000", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_test_proc p;
        eval(&p, cases[i]);
        cr_assert_eq(p.status, 2, "case %zu: status %d, %s", i, p.status, p.err);
        cr_assert_str_eq(p.out, "");
        cr_assert(strlen(p.err) > 0, "case %zu: no message", i);
        vb_test_proc_free(&p);
    }
}

Test(eval, help_lists_the_eval_options) {
    vb_test_proc p;
    eval(&p, (const char *[]){"--help", NULL});
    cr_assert_eq(p.status, 0);
    const char *opts[] = {"--eval", "--agent", "--tasks", "--seed", "--threads", "greedy-search", "bayes-optimal",
                          "gp-thompson"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) cr_assert(strstr(p.out, opts[i]), "lacks %s", opts[i]);
    vb_test_proc_free(&p);
}

/* The Bayes-optimal gridworld agent (3x3, two 5-step episodes) reports its
 * computed values next to the sampled ones, which agree with them; --per-task
 * writes every task's returns, whose mean is the summary's. */
Test(eval, gridworld_bayes_optimal_reports_its_exact_value_and_per_task_returns) {
    char csv[1024];
    vb_test_write_tmp("", csv, sizeof csv);
    vb_test_proc p;
    eval(&p, (const char *[]){"--eval", "--agent", "bayes-optimal", "--config", config("gridworld"), "--tasks", "4000",
                              "--set", "env.grid_size=3", "--set", "env.episode_length=5", "--set",
                              "env.episodes_per_task=2", "--per-task", csv, NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    const char *j = last_line(p.out);
    double mean = num(j, "return_mean"), se = num(j, "return_stderr"), exact = num(j, "exact_return"), ep[4];
    cr_assert_eq(array(j, "exact_episode_return", ep, 4), 2);
    cr_assert_float_eq(ep[0] + ep[1], exact, 1e-6);
    cr_assert_lt(fabs(mean - exact), 4 * se, "sampled %g +- %g, exact %g", mean, se, exact);
    FILE *f = fopen(csv, "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "task,return,episode_1,episode_2\n");
    int64_t rows = 0, task;
    double sum = 0, r, e1, e2;
    while (fscanf(f, "%lld,%lf,%lf,%lf", (long long *)&task, &r, &e1, &e2) == 4) {
        cr_assert_eq(task, rows);
        cr_assert_float_eq(r, e1 + e2, 1e-5);
        sum += r;
        rows++;
    }
    fclose(f);
    remove(csv);
    cr_assert_eq(rows, 4000);
    cr_assert_float_eq(sum / 4000, mean, 1e-6);
    vb_test_proc_free(&p);
    /* a file that cannot be written is refused before any task runs */
    eval(&p, (const char *[]){"--eval", "--agent", "random", "--config", config("gridworld"), "--tasks", "10",
                              "--per-task", "/nonexistent-dir/x.csv", NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "--per-task"), "%s", p.err);
    vb_test_proc_free(&p);
}

/* --trace writes every step of every task: the oracle (which knows the goal)
 * enters the task's best cell exactly where it is rewarded, each task's
 * rewards sum to its return in --per-task, and the steps run in order with
 * the episode each belongs to; an unwritable file is refused before the
 * work. */
Test(eval, trace_records_every_step_and_agrees_with_the_per_task_returns) {
    char csv[1024], trace[1024];
    vb_test_write_tmp("", csv, sizeof csv);
    vb_test_write_tmp("", trace, sizeof trace);
    vb_test_proc p;
    eval(&p, (const char *[]){"--eval", "--agent", "oracle", "--config", config("gridworld"), "--tasks", "20",
                              "--per-task", csv, "--trace", trace, NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    vb_test_proc_free(&p);
    double ret[20];
    FILE *f = fopen(csv, "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    for (int k = 0; k < 20; k++) {
        long long task;
        cr_assert_eq(fscanf(f, "%lld,%lf%*[^\n]", &task, &ret[k]), 2);
        cr_assert_eq(task, k);
    }
    fclose(f);
    f = fopen(trace, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "task,step,episode,action,reward,cell,task_best_cell,exact_hit,belief_hit,belief_l1\n");
    const int H = 60, E = 4; /* the shipped gridworld: 4 episodes of 15 steps */
    double sum[20] = {0};
    int rows = 0, hits = 0, found = -1;
    long long task, step;
    int episode, action, cell, best, used;
    double reward, exact;
    char rest[64];
    while (fgets(line, sizeof line, f)) {
        cr_assert_eq(sscanf(line, "%lld,%lld,%d,%d,%lf,%d,%d,%lf%n", &task, &step, &episode, &action, &reward, &cell,
                            &best, &exact, &used), 8, "%s", line);
        /* the oracle keeps no belief: its two columns are empty */
        cr_assert_eq(sscanf(line + used, "%63s", rest), 1);
        cr_assert_str_eq(rest, ",,", "%s", line);
        cr_assert_eq(task, rows / H);
        cr_assert_eq(step, rows % H);
        cr_assert_eq(episode, (int)(step / (H / E)));
        cr_assert(action >= 0 && action < 5 && cell >= 0 && cell < 25 && best >= 0 && best < 25);
        if (step == 0) found = -1;
        /* the exact posterior: the found goal is certain, before that a
         * candidate's share, and no cell is certain before it is found */
        cr_assert(exact >= 0 && exact <= 1, "%s", line);
        if (found >= 0) cr_assert_float_eq(exact, cell == found ? 1.0 : 0.0, 1e-6, "%s", line);
        else cr_assert_lt(exact, 1.0, "%s", line);
        if (reward > 0.5) {
            cr_assert_eq(cell, best, "task %lld step %lld: rewarded in cell %d, the goal is %d", task, step, cell, best);
            if (found < 0) cr_assert_gt(exact, 1.0 / 22, "%s", line);
            found = cell;
            hits++;
        }
        sum[task] += reward;
        rows++;
    }
    fclose(f);
    cr_assert_eq(rows, 20 * H);
    cr_assert_gt(hits, 20 * E * 5, "the oracle sat on the goal only %d times", hits);
    for (int k = 0; k < 20; k++) cr_assert_float_eq(sum[k], ret[k], 1e-4, "task %d: %g against %g", k, sum[k], ret[k]);
    remove(csv);
    remove(trace);
    eval(&p, (const char *[]){"--eval", "--agent", "random", "--config", config("gridworld"), "--tasks", "10",
                              "--trace", "/nonexistent-dir/x.csv", NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "--trace"), "%s", p.err);
    vb_test_proc_free(&p);
}
