/* scripts/plot_runs.py draws learning curves of run folders: two seeds of a
 * short run with a band and a reference line make a PNG; a run without
 * evaluations asked for its validation curve gets a clear error. Skipped,
 * saying so, where python3 has no matplotlib (make deps installs it). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support.h"
#include "test_distributed_support.h"

static int sh(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(plots, learning_curves_of_run_folders, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    if (sh("python3 -c 'import matplotlib' >/dev/null 2>&1") != 0)
        cr_skip_test("python3 has no matplotlib (make deps installs python3-matplotlib)");
    char cfg[1024], rootset[256], name[64], seed[64], root[1024], cmd[4096], png[256], out[256];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    vb_test_path(".", root, sizeof root);
    snprintf(rootset, sizeof rootset, "run.root=%s", vb_dt_root());
    for (int s = 1; s <= 2; s++) {
        snprintf(name, sizeof name, "run.name=s%d", s);
        snprintf(seed, sizeof seed, "run.seed=%d", s);
        vb_test_proc p;
        vb_test_run(&p, "learner",
                    (const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", name, "--set", seed,
                                     "--set", "run.algo=rl2", "--set", "run.total_env_steps=6000", "--set",
                                     "log.every_updates=50", "--log-level", "warn", NULL});
        cr_assert_eq(p.status, 0, "%s", p.err);
        vb_test_proc_free(&p);
    }
    vb_dt_path("curves.png", png, sizeof png);
    vb_dt_path("plot.out", out, sizeof out);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && python3 scripts/plot_runs.py RL2=%s/s1,%s/s2 --ref Bayes-optimal=1.696/3.005 --png '%s' "
             "> '%s' 2>&1",
             root, vb_dt_root(), vb_dt_root(), png, out);
    int rc = sh(cmd);
    char *text = vb_dt_slurp(out);
    cr_assert_eq(rc, 0, "%s\n%s", cmd, text);
    free(text);
    FILE *f = fopen(png, "rb");
    cr_assert_not_null(f, "no %s", png);
    unsigned char magic[8];
    cr_assert_eq(fread(magic, 1, 8, f), 8);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert_eq(memcmp(magic, "\x89PNG\r\n\x1a\n", 8), 0, "not a PNG");
    cr_assert_gt(size, 10000, "%ld bytes", size);
    /* the runs have no evaluations: --source eval says so */
    snprintf(cmd, sizeof cmd, "cd '%s' && python3 scripts/plot_runs.py A=%s/s1 --source eval --png '%s' > '%s' 2>&1",
             root, vb_dt_root(), png, out);
    cr_assert_neq(sh(cmd), 0);
    text = vb_dt_slurp(out);
    cr_assert(strstr(text, "no evals.jsonl"), "%s", text);
    free(text);
}

/* Runs `python3 scripts/training_curves.py A=RUN ARGS` in the repository and
 * returns its exit status, its output in buf. */
static int training_curves(const char *run, const char *args, char *buf, size_t cap) {
    char root[1024], cmd[2048];
    vb_test_path(".", root, sizeof root);
    snprintf(cmd, sizeof cmd, "cd '%s' && python3 scripts/training_curves.py A=%s %s 2>&1", root, run, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "%s", cmd);
    size_t n = fread(buf, 1, cap - 1, p);
    buf[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* scripts/training_curves.py reads stored runs (docs/data/results/gw_l1_s1:
 * the gridworld seed whose episode 2 first reached 10.5 on validation at
 * 2.88M steps, 401 s, where its whole task return also passed 36; episode 1
 * never reached 4) and, with --episode N, tabulates the N-th episode's
 * validation return; an episode the runs do not have is refused by name. */
Test(plots, training_curves_of_one_episode) {
    const char *run = "docs/data/results/gw_l1_s1";
    char buf[8192];
    cr_assert_eq(training_curves(run, "--episode 2 --target 10.5", buf, sizeof buf), 0, "%s", buf);
    cr_assert(strstr(buf, "best episode 2's validation return"), "%s", buf);
    cr_assert(strstr(buf, "| A | gw_l1_s1 | 2.88M | 401 | 11.06 |"), "%s", buf);
    cr_assert_eq(training_curves(run, "--target 36", buf, sizeof buf), 0, "%s", buf);
    cr_assert(strstr(buf, "| A | gw_l1_s1 | 2.88M | 401 |"), "%s", buf);
    cr_assert_eq(training_curves(run, "--episode 1 --target 4", buf, sizeof buf), 0, "%s", buf);
    cr_assert(strstr(buf, "| A | gw_l1_s1 | not reached |"), "%s", buf);
    cr_assert_neq(training_curves(run, "--episode 5", buf, sizeof buf), 0, "episode 5 of a 4-episode task: %s", buf);
    cr_assert(strstr(buf, "has 4 episodes per task, no episode 5"), "%s", buf);
}
