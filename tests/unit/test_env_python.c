/* env_python: task families written in Python through the bridge plugin
 * (plugins/python). The Python GridNavi plays the built-in gridworld step for
 * step; a broken class or a failing step is refused with the exception's
 * type, message and traceback. Skipped, and saying so, where the bridge was
 * not built (no CPython embedding library: make deps installs it). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/envs/env.h"
#include "common/params/params.h"
#include "support.h"

#define BRIDGE "build/plugins/libvb_python.so"

static char err[4096];

static bool bridge_built(void) {
    char path[1024];
    if (access(vb_test_path(BRIDGE, path, sizeof path), R_OK) == 0) return true;
    cr_skip_test("the Python bridge %s was not built (no python3-embed; make deps installs python3-dev)", BRIDGE);
    return false;
}

/* a config whose env is the Python class `cls` (a path relative to the repository) with more args */
static void python_config(vb_config *cfg, const char *cls, const char *more) {
    char lib[1024], file[1024];
    vb_config_defaults(cfg);
    cfg->env.name = VB_ENV_PLUGIN;
    snprintf(cfg->env.plugin, sizeof cfg->env.plugin, "%s", vb_test_path(BRIDGE, lib, sizeof lib));
    snprintf(cfg->env.family, sizeof cfg->env.family, "python");
    const char *colon = strrchr(cls, ':');
    char rel[256];
    snprintf(rel, sizeof rel, "%.*s", (int)(colon - cls), cls);
    snprintf(cfg->env.args, sizeof cfg->env.args, "class=%s%s %s", vb_test_path(rel, file, sizeof file), colon, more);
}

static int python_spec(const char *cls, const char *more) {
    vb_config cfg;
    python_config(&cfg, cls, more);
    vb_env_spec spec;
    err[0] = 0;
    return vb_env_spec_from_config(&cfg, &spec, err, sizeof err);
}

static void assert_refused(const char *cls, const char *more, const char *why) {
    cr_assert_eq(python_spec(cls, more), -1, "%s was accepted", cls);
    cr_assert(strstr(err, why), "%s: expected '%s' in: %s", cls, why, err);
}

#define GRIDNAVI "examples/gridnavi_python/gridnavi.py:GridNavi"
#define FAULTY(c) "tests/python/faulty_tasks.py:" c

Test(env_python, python_gridnavi_plays_the_builtin_gridworld_step_for_step) {
    if (!bridge_built()) return;
    for (int permute = 0; permute < 2; permute++) {
        vb_config cb, cp;
        vb_config_defaults(&cb);
        cb.env.name = VB_ENV_GRIDWORLD;
        cb.env.permute_moves = permute;
        python_config(&cp, GRIDNAVI, permute ? "permute=1" : "");
        vb_env_batch *ref = NULL, *py = NULL;
        cr_assert_eq(vb_env_batch_from_config(&ref, &cb, 8, 5, 40, err, sizeof err), 0, "%s", err);
        cr_assert_eq(vb_env_batch_from_config(&py, &cp, 8, 5, 40, err, sizeof err), 0, "%s", err);
        const vb_env_spec *a = &ref->spec, *b = &py->spec;
        cr_assert_str_eq(b->name, "python");
        vb_test_same_play(ref, py, 4, 11);
        /* the tabulated stateless callbacks agree with the built-in ones on every cell and action */
        for (int64_t c = 0; c < 25; c++) {
            float oa[2], ob[2], na[2], nb[2];
            vb_env_cell_obs(a, c, oa);
            vb_env_cell_obs(b, c, ob);
            cr_assert_arr_eq(oa, ob, sizeof oa);
            cr_assert_eq(vb_env_state_cell(b, ob), c);
            for (int32_t act = 0; act < 5 && !permute; act++) {
                cr_assert_eq(vb_env_transition(a, oa, act, na), VB_ENV_OK);
                cr_assert_eq(vb_env_transition(b, ob, act, nb), VB_ENV_OK);
                cr_assert_arr_eq(na, nb, sizeof na);
                cr_assert_eq(vb_env_reward_cell(a, oa, act, na), vb_env_reward_cell(b, ob, act, nb));
            }
        }
        vb_env_batch_destroy(ref);
        vb_env_batch_destroy(py);
    }
}

Test(env_python, broken_classes_are_refused_with_the_exception) {
    if (!bridge_built()) return;
    assert_refused(FAULTY("BadSpecField"), "", "ValueError: spec has unknown field(s) obs_sise");
    assert_refused(FAULTY("RaisesInInit"), "", "ValueError: no such task distribution");
    assert_refused(FAULTY("NoSuchClass"), "", "AttributeError");
    assert_refused("tests/python/no_such_file.py:X", "", "no such file");
    assert_refused(FAULTY("WrongObsLength"), "", "has 2 values, the spec's obs_size is 1");
    assert_refused(FAULTY("Coin"), "fail_at=2", "RuntimeError: the simulator diverged at step 2");
    cr_assert(strstr(err, "Traceback (most recent call last)"), "the traceback follows: %s", err);
    cr_assert_eq(python_spec(FAULTY("Coin"), "p=0.25"), 0, "%s", err);
}

Test(env_python, a_failing_step_reports_the_exception_and_keeps_the_clock) {
    if (!bridge_built()) return;
    vb_config cfg;
    python_config(&cfg, FAULTY("Coin"), "fail_at=1");
    vb_env_batch *b = NULL;
    cr_assert_eq(vb_env_batch_from_config(&b, &cfg, 1, 1, 0, err, sizeof err), 0, "%s", err);
    int32_t a = 1;
    cr_assert_eq(vb_env_step(b, &a), VB_ENV_OK);
    cr_assert_eq(vb_env_step(b, &a), VB_ENV_EFAMILY);
    const char *why = vb_env_error(b, VB_ENV_EFAMILY);
    cr_assert(strncmp(why, "step: RuntimeError: the simulator diverged at step 1", 52) == 0, "%s", why);
    cr_assert(strstr(why, "faulty_tasks.py"), "the traceback names the file: %s", why);
    cr_assert_eq(b->t[0], 1);
    vb_env_batch_destroy(b);
}

/* The shipped Python example end to end: the learner and its local actors
 * (each embedding Python) train on it with the learned next-state decoder,
 * and ./actor --eval reloads it from the checkpoint. */
Test(env_python, learner_and_actors_train_on_the_python_example, .timeout = 120) {
    if (!bridge_built()) return;
    vb_test_train_briefly("examples/gridnavi_python/gridnavi.yaml", "gridnavi_python", "python");
}

/* An exception inside a running actor's step ends that actor with the
 * traceback in its log; the learner stays up and restarts it. */
Test(env_python, an_exception_in_a_running_actor_ends_it_with_the_traceback, .timeout = 120) {
    if (!bridge_built()) return;
    char root[64], cfgpath[1024], set_root[128], set_lib[1200], set_args[1400], lib[1024], file[1024];
    vb_test_make_root(root, sizeof root);
    snprintf(set_root, sizeof set_root, "run.root=%s", root);
    snprintf(set_lib, sizeof set_lib, "env.plugin=%s", vb_test_path(BRIDGE, lib, sizeof lib));
    snprintf(set_args, sizeof set_args, "env.args=class=%s:Coin fail_at=30",
             vb_test_path("tests/python/faulty_tasks.py", file, sizeof file));
    vb_test_proc p;
    vb_test_run(&p, "learner",
                (const char *[]){"--config", vb_test_path("configs/smoke.yaml", cfgpath, sizeof cfgpath), "--set",
                                 set_root, "--set", "env.name=plugin", "--set", set_lib, "--set", "env.family=python",
                                 "--set", set_args, "--set", "learner.elbo_decode=transitions", "--set",
                                 "actors.local=1", "--set", "run.max_wall_s=20", "--set",
                                 "run.total_env_steps=100000000", NULL});
    cr_assert(strstr(p.err, "step: RuntimeError: the simulator diverged at step 30"), "%s", p.err);
    cr_assert(strstr(p.err, "Traceback (most recent call last)"), "the traceback is in the log:\n%s", p.err);
    cr_assert(strstr(p.err, "restarting in"), "the learner stayed up and restarted the actor:\n%s", p.err);
    vb_test_proc_free(&p);
    vb_test_remove_root(root);
}
