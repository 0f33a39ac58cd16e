#include "support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/envs/env.h"
#include "common/params/params.h"
#include "common/train/chunk.h"

const char *vb_test_path(const char *rel, char *buf, size_t len) {
    const char *root = getenv("VB_ROOT");
    snprintf(buf, len, "%s/%s", root && *root ? root : ".", rel);
    return buf;
}

static char *slurp_fd(int fd) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    lseek(fd, 0, SEEK_SET);
    ssize_t r;
    while ((r = read(fd, buf + n, cap - n - 1)) > 0) {
        n += (size_t)r;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    buf[n] = '\0';
    return buf;
}

void vb_test_run(vb_test_proc *p, const char *program, const char *const *args) {
    char exe[1024];
    vb_test_path(program, exe, sizeof exe);
    const char *argv[64];
    int argc = 0;
    argv[argc++] = exe;
    for (int i = 0; args && args[i] && argc < 63; i++) argv[argc++] = args[i];
    argv[argc] = NULL;
    char out_path[] = "/tmp/vb_test_outXXXXXX", err_path[] = "/tmp/vb_test_errXXXXXX";
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
    cr_assert(out_fd >= 0 && err_fd >= 0);
    unlink(out_path);
    unlink(err_path);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    cr_assert(waitpid(pid, &st, 0) == pid);
    p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    p->out = slurp_fd(out_fd);
    p->err = slurp_fd(err_fd);
    close(out_fd);
    close(err_fd);
}

void vb_test_proc_free(vb_test_proc *p) {
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

const char *vb_test_write_tmp(const char *text, char *path, size_t len) {
    snprintf(path, len, "/tmp/vb_test_cfgXXXXXX.yaml");
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    size_t n = strlen(text);
    cr_assert(write(fd, text, n) == (ssize_t)n);
    close(fd);
    return path;
}

void vb_test_make_root(char *root, size_t len) {
    snprintf(root, len, "/tmp/vb_test_runXXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

void vb_test_remove_root(const char *root) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
}

void vb_test_train_briefly(const char *config, const char *run, const char *family) {
    char root[64], cfgpath[1024], set_root[128], ckpt[256], named[96];
    vb_test_make_root(root, sizeof root);
    snprintf(set_root, sizeof set_root, "run.root=%s", root);
    vb_test_proc p;
    vb_test_run(&p, "learner",
                (const char *[]){"--config", vb_test_path(config, cfgpath, sizeof cfgpath), "--set", set_root, "--set",
                                 "run.total_env_steps=6000", "--set", "eval.every_updates=0", "--set",
                                 "eval.keep_best=false", NULL});
    cr_assert_eq(p.status, 0, "learner: %d\n%s", p.status, p.err);
    snprintf(named, sizeof named, "on %s", family);
    cr_assert(strstr(p.err, named), "the run names the family %s:\n%s", family, p.err);
    vb_test_proc_free(&p);
    snprintf(ckpt, sizeof ckpt, "%s/%s", root, run);
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", ckpt, "--tasks", "64", "--set",
                                              "eval.planning=policy", NULL});
    cr_assert_eq(p.status, 0, "actor --eval: %d\n%s", p.status, p.err);
    vb_test_proc_free(&p);
    vb_test_remove_root(root);
}

void vb_test_same_play(vb_env_batch *ref, vb_env_batch *other, int tasks, uint64_t seed) {
    const vb_env_spec *a = &ref->spec, *b = &other->spec;
    cr_assert(a->obs_size == b->obs_size && a->num_actions == b->num_actions &&
              a->steps_per_task == b->steps_per_task && a->state_cells == b->state_cells &&
              a->reward_cells == b->reward_cells && a->reward_levels[0] == b->reward_levels[0] &&
              a->task_independent_transitions == b->task_independent_transitions);
    cr_assert_eq(ref->n, other->n);
    const int64_t n = ref->n, O = a->obs_size, C = a->reward_cells;
    vb_rng rng;
    vb_rng_init(&rng, seed, 0);
    int32_t *acts = malloc(sizeof(int32_t) * (size_t)n);
    float *ca = malloc(sizeof(float) * (size_t)C), *cb = malloc(sizeof(float) * (size_t)C);
    int64_t hits = 0;
    for (int task = 0; task < tasks; task++) {
        if (task > 0) {
            cr_assert_eq(vb_env_reset_all(ref), VB_ENV_OK);
            cr_assert_eq(vb_env_reset_all(other), VB_ENV_OK, "%s", vb_env_error(other, VB_ENV_EFAMILY));
        }
        for (int64_t t = 0; t < a->steps_per_task; t++) {
            for (int64_t i = 0; i < n; i++) acts[i] = (int32_t)vb_rng_below(&rng, (uint32_t)a->num_actions);
            cr_assert_eq(vb_env_step(ref, acts), VB_ENV_OK);
            cr_assert_eq(vb_env_step(other, acts), VB_ENV_OK, "%s", vb_env_error(other, VB_ENV_EFAMILY));
            cr_assert_arr_eq(ref->obs, other->obs, sizeof(float) * (size_t)(n * O), "obs at task %d step %lld", task,
                             (long long)t);
            cr_assert_arr_eq(ref->reward, other->reward, sizeof(float) * (size_t)n);
            cr_assert_arr_eq(ref->done, other->done, (size_t)n);
            for (int64_t i = 0; i < n; i++) {
                hits += ref->reward[i] > 0;
                cr_assert_eq(vb_env_task_cells(ref, i, ca), VB_ENV_OK);
                cr_assert_eq(vb_env_task_cells(other, i, cb), VB_ENV_OK);
                cr_assert_arr_eq(ca, cb, sizeof(float) * (size_t)C);
                if (ref->done[i] && !ref->task_done[i]) {
                    cr_assert_eq(vb_env_reset_episode(ref, i), VB_ENV_OK);
                    cr_assert_eq(vb_env_reset_episode(other, i), VB_ENV_OK);
                }
            }
        }
    }
    cr_assert_gt(hits, 0, "random play never reached a goal: the comparison saw no hit");
    free(acts);
    free(ca);
    free(cb);
}

void vb_test_smoke_layout(const char *algo, int targets, vb_config *cfg, vb_env_spec *spec, vb_model *m,
                          vb_chunk_layout *cl) {
    char path[1024], err[512], set[64];
    vb_config_defaults(cfg);
    cr_assert_eq(vb_config_load_file(cfg, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err), 0,
                 "%s", err);
    if (algo) {
        snprintf(set, sizeof set, "run.algo=%s", algo);
        cr_assert_eq(vb_config_set(cfg, set, err, sizeof err), 0, "%s", err);
    }
    cr_assert_eq(vb_env_spec_from_config(cfg, spec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_model_build_from_config(m, cfg, spec, err, sizeof err), 0, "%s", err);
    vb_chunk_layout_init(cl, m, cfg->learner.window, targets != 0);
}
