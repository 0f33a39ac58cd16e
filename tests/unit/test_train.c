/* Training end to end in --serial mode: a fixed dataset is overfitted, a run
 * improves on its start, checkpoint -> resume is bit-exact, signals stop a
 * run with a checkpoint, corrupted checkpoints fall back to older ones. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/agent/acting.h"
#include "common/agent/checkpoint.h"
#include "common/agent/learning.h"
#include "support.h"

static char root[64];
static void make_root(void) {
    snprintf(root, sizeof root, "/tmp/vb_train_XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}
static void remove_root(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
}

static void sink_into(const vb_chunk *c, void *ctx) {
    char why[256];
    cr_assert_eq(vb_learning_insert(ctx, c, why, sizeof why), 0, "%s", why);
}

/* A fixed replay of 8 windows, updated 300 times with no rate limit: the
 * belief's reconstruction and the value regression fit the data. */
Test(train, overfits_a_fixed_batch) {
    char path[1024], err[512];
    vb_config cfg;
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_load_file(&cfg, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err), 0);
    const char *sets[] = {"run.algo=varibad", "learner.samples_per_insert=0", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.elbo_warmup_updates=0", "learner.lr=0.003",
                          "learner.entropy_coef=0", "learner.max_policy_lag=100000"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) cr_assert_eq(vb_config_set(&cfg, sets[i], err, sizeof err), 0);
    vb_env_spec spec;
    vb_model m;
    cr_assert_eq(vb_env_spec_from_config(&cfg, &spec, err, sizeof err), 0);
    cr_assert_eq(vb_model_build(&m, &cfg, &spec, err, sizeof err), 0, "%s", err);
    float *P = calloc((size_t)m.layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(&m, P, 1), 0);
    const vb_backend *be = vb_backend_cpu();
    vb_learning *l;
    cr_assert_eq(vb_learning_create(&l, be, &m, &cfg, &spec, P, err, sizeof err), 0, "%s", err);
    vb_acting a;
    cr_assert_eq(vb_acting_create(&a, be, &m, &cfg, 8, 1, 0, err, sizeof err), 0, "%s", err);
    vb_acting_set_params(&a, P, 0);
    for (int s = 0; s < cfg.learner.window; s++) cr_assert_eq(vb_acting_step(&a, sink_into, l, err, sizeof err), 0);
    vb_update_stats first, st;
    cr_assert_eq(vb_learning_update(l, &first, err, sizeof err), 0, "%s", err);
    for (int u = 0; u < 300; u++) cr_assert_eq(vb_learning_update(l, &st, err, sizeof err), 0, "%s", err);
    cr_assert_lt(st.loss_recon, 0.5 * first.loss_recon, "reconstruction %g -> %g", first.loss_recon, st.loss_recon);
    cr_assert_lt(st.loss_value, 0.5 * first.loss_value, "value loss %g -> %g", first.loss_value, st.loss_value);
    cr_assert_gt(st.elbo, first.elbo);
    vb_acting_destroy(&a);
    vb_learning_destroy(l);
    free(P);
}

static void run_learner(const char *const *args, int expect) {
    vb_test_proc p;
    vb_test_run(&p, "learner", args);
    cr_assert_eq(p.status, expect, "learner exited %d:\n%s", p.status, p.err);
    vb_test_proc_free(&p);
}

static void read_params(const char *run, vb_ckpt *ck) {
    char path[256], err[512], chosen[4400];
    snprintf(path, sizeof path, "%s/%s", root, run);
    cr_assert_eq(vb_ckpt_load_newest(path, ck, chosen, sizeof chosen, NULL, err, sizeof err), 0, "%s", err);
}

Test(train, resume_continues_bit_exactly, .init = make_root, .fini = remove_root) {
    char cfg[1024], rootset[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=a", "--set",
                                 "run.algo=varibad", "--set", "run.total_env_steps=400", "--log-level", "warn", NULL},
                0);
    char resume[128];
    snprintf(resume, sizeof resume, "%s/a", root);
    run_learner((const char *[]){"--resume", resume, "--serial", "--set", "run.total_env_steps=480", "--log-level",
                                 "warn", NULL},
                0);
    run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=b", "--set",
                                 "run.algo=varibad", "--set", "run.total_env_steps=480", "--log-level", "warn", NULL},
                0);
    vb_ckpt a, b;
    read_params("a", &a);
    read_params("b", &b);
    uint64_t la, lb;
    const void *pa = vb_ckpt_get(&a, "params", &la), *pb = vb_ckpt_get(&b, "params", &lb);
    cr_assert(pa && pb && la == lb);
    cr_assert_eq(memcmp(pa, pb, (size_t)la), 0, "resumed parameters differ from the uninterrupted run's");
    int64_t ca[6], cb[6]; /* section payloads are unaligned: copy out */
    memcpy(ca, vb_ckpt_get(&a, "counters", NULL), sizeof ca);
    memcpy(cb, vb_ckpt_get(&b, "counters", NULL), sizeof cb);
    cr_assert_eq(ca[0], 480);
    cr_assert_eq(ca[1], cb[1], "updates %lld vs %lld", (long long)ca[1], (long long)cb[1]);
    cr_assert_gt(ca[1], 0);
    vb_ckpt_free(&a);
    vb_ckpt_free(&b);
}

Test(train, corrupted_latest_checkpoint_falls_back, .init = make_root, .fini = remove_root) {
    char cfg[1024], rootset[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=c", "--set",
                                 "run.algo=rl2", "--set", "run.total_env_steps=800", "--set",
                                 "learner.checkpoint_every=2", "--log-level", "error", NULL},
                0);
    char dir[128], err[512], chosen[4400], newest[4400];
    snprintf(dir, sizeof dir, "%s/c", root);
    vb_ckpt ck;
    cr_assert_eq(vb_ckpt_load_newest(dir, &ck, newest, sizeof newest, NULL, err, sizeof err), 0, "%s", err);
    vb_ckpt_free(&ck);
    FILE *f = fopen(newest, "r+b");
    cr_assert_not_null(f);
    fseek(f, 200, SEEK_SET);
    fputc(0x5a ^ fgetc(f), f);
    fclose(f);
    cr_assert_eq(vb_ckpt_load_newest(dir, &ck, chosen, sizeof chosen, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_neq(chosen, newest, "the corrupted checkpoint was used");
    vb_ckpt_free(&ck);
    cr_assert_neq(vb_ckpt_read(newest, &ck, err, sizeof err), 0);
    cr_assert(strstr(err, "corrupted"), "%s", err);
    /* a resume from the folder uses the older checkpoint and says so */
    vb_test_proc p;
    vb_test_run(&p, "learner", (const char *[]){"--resume", dir, "--serial", "--set", "run.total_env_steps=840", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.err, "corrupted"), "no warning about the corrupted checkpoint:\n%s", p.err);
    vb_test_proc_free(&p);
}

Test(train, sigterm_stops_with_a_final_checkpoint, .init = make_root, .fini = remove_root) {
    char cfg[1024], exe[1024], rootset[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    vb_test_path("learner", exe, sizeof exe);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        execl(exe, exe, "--config", cfg, "--serial", "--set", rootset, "--set", "run.name=s", "--set", "run.algo=rl2",
              "--set", "run.total_env_steps=1000000000", (char *)NULL);
        _exit(127);
    }
    usleep(1500 * 1000);
    kill(pid, SIGTERM);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    char dir[128], err[512], chosen[4400];
    snprintf(dir, sizeof dir, "%s/s", root);
    vb_ckpt ck;
    cr_assert_eq(vb_ckpt_load_newest(dir, &ck, chosen, sizeof chosen, NULL, err, sizeof err), 0, "%s", err);
    int64_t c[6];
    memcpy(c, vb_ckpt_get(&ck, "counters", NULL), sizeof c);
    cr_assert_gt(c[0], 0, "no steps recorded");
    vb_ckpt_free(&ck);
    char metrics[256];
    snprintf(metrics, sizeof metrics, "%s/s/metrics.jsonl", root);
    cr_assert_eq(access(metrics, R_OK), 0);
}

/* A trained checkpoint evaluates like a reference agent: the same JSON line,
 * for an rl2 model (policy head) and a varibased one (planning at a budget
 * given on the command line). */
Test(train, checkpoints_evaluate_with_and_without_planning, .init = make_root, .fini = remove_root) {
    char cfg[1024], rootset[128], dir[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    const char *algos[] = {"rl2", "varibased"};
    for (int i = 0; i < 2; i++) {
        char name[32], algo[32];
        snprintf(name, sizeof name, "run.name=e%d", i);
        snprintf(algo, sizeof algo, "run.algo=%s", algos[i]);
        run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", name, "--set", algo,
                                     "--set", "run.total_env_steps=400", "--log-level", "warn", NULL},
                    0);
        snprintf(dir, sizeof dir, "%s/e%d/checkpoints/latest", root, i);
        vb_test_proc p;
        vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", dir, "--tasks", "24", "--set",
                                                  "planner.particles=4", "--set", "planner.depth=2", NULL});
        cr_assert_eq(p.status, 0, "%s eval exited %d:\n%s", algos[i], p.status, p.err);
        cr_assert(strstr(p.out, "\"agent\":\"checkpoint\"") && strstr(p.out, "\"tasks\":24"), "%s", p.out);
        cr_assert(strstr(p.out, "\"episode_return_mean\":["), "%s", p.out);
        vb_test_proc_free(&p);
    }
    /* a checkpoint whose model keys are overridden no longer fits: refused, exit 2 */
    vb_test_proc p;
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", dir, "--set", "model.hidden=17", NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "layout"), "%s", p.err);
    vb_test_proc_free(&p);
}
