/* Non-finite numbers stop a run instead of being warned about: a diverging
 * learner (lr 10, no gradient clip) ends with exit 1 and a message, serially
 * and distributed, and so do consecutive updates skipped for a non-finite loss, without writing a checkpoint of the diverged state; a
 * checkpoint whose parameters are NaN (with valid CRCs) is refused by
 * `actor --eval` and by `learner --resume`; a checkpoint with valid CRCs and
 * out-of-range counters (negative steps, NaN wall time) is refused too. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/base/checkpoint.h"
#include "../../common/base/crc32c.h"
#include "support.h"
#include "test_distributed_support.h"

TestSuite(nonfinite, .init = vb_dt_setup, .fini = vb_dt_teardown, .timeout = 240);

static void learner(vb_test_proc *p, const char *name, const char *const *extra) {
    char cfg[1024], rootset[256], nameset[64];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", vb_dt_root());
    snprintf(nameset, sizeof nameset, "run.name=%s", name);
    const char *args[40] = {"--config", cfg, "--set", rootset, "--set", nameset, "--set", "run.algo=varibad"};
    int n = 8;
    for (int i = 0; extra[i]; i++) args[n++] = extra[i];
    args[n] = NULL;
    vb_test_run(p, "learner", args);
}

static void resume(vb_test_proc *p, const char *dir, const char *const *extra) {
    const char *args[16] = {"--serial", "--resume", dir};
    int n = 3;
    for (int i = 0; extra[i]; i++) args[n++] = extra[i];
    args[n] = NULL;
    vb_test_run(p, "learner", args);
}

static const char *const diverge[] = {"--set", "learner.lr=10", "--set", "learner.grad_clip=0", "--set",
                                      "learner.max_skipped_updates=5", "--set", "run.total_env_steps=2000000",
                                      "--set", "run.max_wall_s=60", "--set", "learner.checkpoint_every=0"};

static void check_diverged(const vb_test_proc *p, const char *name) {
    cr_assert_eq(p->status, 1, "a diverging run exits 1, got %d\n%s", p->status, p->err);
    cr_assert(strstr(p->err, "training diverged"), "%s", p->err);
    char path[1024], sub[128];
    snprintf(sub, sizeof sub, "%s/checkpoints", name);
    vb_dt_path(sub, path, sizeof path);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls '%s'/*.vbc >/dev/null 2>&1", path);
    cr_assert_neq(system(cmd), 0, "no checkpoint of a diverged state is written");
}

/* The diverging run `name` with the mode's arguments first (NULL-terminated). */
static void diverging_run(const char *name, const char *const *mode) {
    vb_test_proc p;
    const char *args[32];
    int n = 0;
    for (int i = 0; mode[i]; i++) args[n++] = mode[i];
    for (size_t i = 0; i < sizeof diverge / sizeof *diverge; i++) args[n++] = diverge[i];
    args[n] = NULL;
    learner(&p, name, args);
    check_diverged(&p, name);
    vb_test_proc_free(&p);
}

Test(nonfinite, serial_divergence_stops_the_run) { diverging_run("div_serial", (const char *[]){"--serial", NULL}); }

Test(nonfinite, distributed_divergence_stops_the_run) {
    diverging_run("div_dist", (const char *[]){"--set", "actors.local=1", NULL});
}

/* A finished short run's checkpoint: its path in out. */
static void short_run(const char *name, char *out, size_t len) {
    vb_test_proc p;
    learner(&p, name, (const char *[]){"--serial", "--set", "run.total_env_steps=3000", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    vb_test_proc_free(&p);
    char sub[128], latest[1024];
    snprintf(sub, sizeof sub, "%s/checkpoints/latest", name);
    char *file = vb_dt_slurp(vb_dt_path(sub, latest, sizeof latest));
    cr_assert_not_null(file, "%s", latest);
    file[strcspn(file, "\n")] = '\0';
    snprintf(sub, sizeof sub, "%s/checkpoints/%s", name, file);
    free(file);
    vb_dt_path(sub, out, len);
    struct stat st;
    cr_assert_eq(stat(out, &st), 0, "%s", out);
}

/* Rewrite path with its sections, after edit(sections) changed some. */
typedef void (*edit_fn)(vb_ckpt_section *s, int n, void **owned);
static void rewrite(const char *path, edit_fn edit) {
    vb_ckpt ck;
    char err[512];
    cr_assert_eq(vb_ckpt_read(path, &ck, err, sizeof err), 0, "%s", err);
    vb_ckpt_section s[VB_CKPT_MAX_SECTIONS];
    memcpy(s, ck.s, sizeof(vb_ckpt_section) * (size_t)ck.n);
    void *owned = NULL;
    edit(s, ck.n, &owned);
    /* the file is replaced, not written in place, so ck's buffer stays valid */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    cr_assert_eq(vb_ckpt_write(tmp, s, ck.n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rename(tmp, path), 0);
    free(owned);
    vb_ckpt_free(&ck);
}

static vb_ckpt_section *find(vb_ckpt_section *s, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0) return &s[i];
    cr_assert_fail("no section %s", name);
    return NULL;
}

/* Every float of the params arena v, both CRCs recomputed (arena header:
 * crc of the payload at 12, crc of bytes 0..31 at 32, payload at 40). */
static void fill_params(vb_ckpt_section *s, int n, void **owned, float v) {
    vb_ckpt_section *p = find(s, n, "params");
    unsigned char *b = malloc(p->len);
    cr_assert_not_null(b);
    memcpy(b, p->data, p->len);
    for (size_t off = 40; off + 4 <= p->len; off += 4) memcpy(b + off, &v, 4);
    uint32_t c = vb_crc32c(0, b + 40, p->len - 40);
    memcpy(b + 12, &c, 4);
    c = vb_crc32c(0, b, 32);
    memcpy(b + 32, &c, 4);
    p->data = b;
    *owned = b;
}
static void nan_params(vb_ckpt_section *s, int n, void **owned) { fill_params(s, n, owned, NAN); }
/* finite, but every loss overflows: each update is skipped */
static void huge_params(vb_ckpt_section *s, int n, void **owned) { fill_params(s, n, owned, 1e30f); }

static void bad_counters(vb_ckpt_section *s, int n, void **owned) {
    vb_ckpt_section *p = find(s, n, "counters");
    int64_t *c = malloc(p->len);
    cr_assert_not_null(c);
    memcpy(c, p->data, p->len);
    c[0] = -4;     /* env steps */
    double nan = NAN;
    memcpy(&c[5], &nan, sizeof nan); /* wall seconds */
    p->data = c;
    *owned = c;
}

Test(nonfinite, nan_checkpoint_is_refused_by_eval_and_resume) {
    char path[1024], dir[1024];
    short_run("nanck", path, sizeof path);
    rewrite(path, nan_params);
    vb_test_proc p;
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", path, "--tasks", "4", NULL});
    cr_assert_neq(p.status, 0, "evaluating NaN weights must fail\n%s", p.err);
    cr_assert(strstr(p.err, "non-finite"), "%s", p.err);
    vb_test_proc_free(&p);
    vb_dt_path("nanck", dir, sizeof dir);
    resume(&p, dir, (const char *[]){NULL});
    cr_assert_neq(p.status, 0, "resuming NaN weights must fail\n%s", p.err);
    cr_assert(strstr(p.err, "non-finite"), "%s", p.err);
    vb_test_proc_free(&p);
}

Test(nonfinite, consecutive_skipped_updates_stop_the_run) {
    char path[1024], dir[1024];
    short_run("huge", path, sizeof path);
    rewrite(path, huge_params);
    vb_dt_path("huge", dir, sizeof dir);
    vb_test_proc p;
    resume(&p, dir, (const char *[]){"--set", "learner.max_skipped_updates=5", "--set", "run.total_env_steps=2000000",
                                     "--set", "run.max_wall_s=60", NULL});
    cr_assert_eq(p.status, 1, "%s", p.err);
    cr_assert(strstr(p.err, "5 consecutive updates had a non-finite loss or gradient"), "%s", p.err);
    vb_test_proc_free(&p);
    char sub[128];
    snprintf(sub, sizeof sub, "huge/metrics.jsonl");
    vb_dt_path(sub, path, sizeof path);
    cr_assert_geq(vb_dt_metric(path, "nonfinite_updates"), 5, "the skipped updates are counted in metrics.jsonl");
}

Test(nonfinite, out_of_range_counters_are_refused) {
    char path[1024], dir[1024];
    short_run("badctr", path, sizeof path);
    rewrite(path, bad_counters);
    vb_dt_path("badctr", dir, sizeof dir);
    vb_test_proc p;
    resume(&p, dir, (const char *[]){NULL});
    cr_assert_neq(p.status, 0, "resuming negative counters must fail\n%s", p.err);
    cr_assert(strstr(p.err, "counters out of range"), "%s", p.err);
    vb_test_proc_free(&p);
}

/* A local actor that fails at every start is given up after 5 tries, and a
 * run whose local actors all crash-loop ends with exit 1 instead of
 * restarting them forever. The learner is copied next to an "actor" that
 * exits at once. */
Test(nonfinite, crash_looping_local_actors_end_the_run) {
    char dir[1024], cmd[4096], cfg[1024], learner_bin[1024], log[1200];
    vb_dt_path("bin", dir, sizeof dir);
    vb_test_path("learner", learner_bin, sizeof learner_bin);
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(log, sizeof log, "%s/out.log", dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp '%s' '%s/learner' && printf '#!/bin/sh\\nexit 3\\n' > '%s/actor' && chmod +x '%s/actor' && "
             "timeout 60 '%s/learner' --config '%s' --set run.root='%s' --set run.name=loop --set actors.local=1 "
             "--set run.total_env_steps=100000000 > '%s' 2>&1",
             dir, learner_bin, dir, dir, dir, dir, cfg, dir, log);
    int rc = system(cmd);
    char *text = vb_dt_slurp(log);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "exit status %d\n%s", WEXITSTATUS(rc), text);
    cr_assert(strstr(text, "5 times in a row"), "%s", text);
    cr_assert(strstr(text, "every local actor keeps failing"), "%s", text);
    free(text);
    /* an actor program that cannot even be started (its interpreter is gone) */
    snprintf(cmd, sizeof cmd,
             "printf '#!/nonexistent/sh\\nexit 3\\n' > '%s/actor' && "
             "timeout 60 '%s/learner' --config '%s' --set run.root='%s' --set run.name=spawn --set actors.local=1 "
             "--set run.total_env_steps=100000000 > '%s' 2>&1",
             dir, dir, cfg, dir, log);
    rc = system(cmd);
    text = vb_dt_slurp(log);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "exit status %d\n%s", WEXITSTATUS(rc), text);
    cr_assert(strstr(text, "5 times in a row; not trying again"), "%s", text);
    cr_assert(strstr(text, "every local actor keeps failing"), "%s", text);
    free(text);
}

/* Checkpoint files that are not what they seem: a FIFO named as one is
 * refused at once (not waited on), a file over 1 GiB is read (and judged by
 * its CRC, not refused for its size), and the temporary files a killed
 * writer left are removed when a learner takes the folder. */
Test(nonfinite, odd_checkpoint_files) {
    char fifo[1024], big[1024], path[1024], dir[1024];
    vb_dt_path("fifo.vbc", fifo, sizeof fifo);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    vb_test_proc p;
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", fifo, "--tasks", "4", NULL});
    cr_assert_neq(p.status, 0);
    cr_assert(strstr(p.err, "not a regular file"), "%s", p.err);
    vb_test_proc_free(&p);
    /* a sparse 1.1 GiB file that starts like a checkpoint */
    vb_dt_path("big.vbc", big, sizeof big);
    FILE *f = fopen(big, "wb");
    cr_assert_not_null(f);
    fwrite("VBCKPT01", 1, 8, f);
    cr_assert_eq(fseeko(f, (off_t)1100 << 20, SEEK_SET), 0);
    fputc(0, f);
    fclose(f);
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", big, "--tasks", "4", NULL});
    cr_assert_neq(p.status, 0);
    cr_assert(strstr(p.err, "file CRC mismatch"), "read whole, refused for its CRC: %s", p.err);
    vb_test_proc_free(&p);
    unlink(big);
    /* leftovers of a killed writer */
    short_run("tmp", path, sizeof path);
    vb_dt_path("tmp/checkpoints/latest.tmp.Ab12Cd", path, sizeof path);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("half", f);
    fclose(f);
    vb_dt_path("tmp", dir, sizeof dir);
    resume(&p, dir, (const char *[]){"--set", "run.total_env_steps=4000", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.err, "removed 1 temporary file"), "%s", p.err);
    vb_test_proc_free(&p);
    cr_assert_neq(access(path, F_OK), 0, "%s is still there", path);
}
