/* env_plugin: task families loaded from shared libraries. The example
 * GridNavi plugin plays the built-in gridworld step for step; every broken
 * plugin is refused with its cause; a family's failing step reaches the
 * caller with the family's own message; the learner and its actors train on
 * the plugin, and a failing one ends its actor while the learner stays up. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/envs/env.h"
#include "common/envs/env_check.h"
#include "common/params/params.h"
#include "support.h"

static char err[1024];

/* a config whose env is plugin `lib` (relative to the repository), family, args */
static void plugin_config(vb_config *cfg, const char *lib, const char *family, const char *args) {
    char path[1024];
    vb_config_defaults(cfg);
    cfg->env.name = VB_ENV_PLUGIN;
    snprintf(cfg->env.plugin, sizeof cfg->env.plugin, "%s", vb_test_path(lib, path, sizeof path));
    snprintf(cfg->env.family, sizeof cfg->env.family, "%s", family);
    snprintf(cfg->env.args, sizeof cfg->env.args, "%s", args);
}

/* The spec (and check) of a plugin family: 0, or -1 with err. */
static int plugin_spec(const char *lib, const char *family, const char *args) {
    vb_config cfg;
    plugin_config(&cfg, lib, family, args);
    vb_env_spec spec;
    err[0] = 0;
    return vb_env_spec_from_config(&cfg, &spec, err, sizeof err);
}

#define FAULTY "build/test-plugins/libfaulty.so"
#define GRIDNAVI "build/examples/libgridnavi.so"

static void assert_refused(const char *lib, const char *family, const char *args, const char *why) {
    cr_assert_eq(plugin_spec(lib, family, args), -1, "%s/%s was accepted", lib, family);
    cr_assert(strstr(err, why), "%s/%s: expected '%s' in: %s", lib, family, why, err);
}

/* n envs of the built-in gridworld, or of the plugin port, on the same streams */
static vb_env_batch *gridworld_batch(bool plugin, bool permute, int64_t n, uint64_t seed) {
    vb_config cfg;
    if (plugin) {
        plugin_config(&cfg, GRIDNAVI, "gridnavi", permute ? "size=5 steps=15 episodes=4 permute=1" : "");
    } else {
        vb_config_defaults(&cfg);
        cfg.env.name = VB_ENV_GRIDWORLD;
        cfg.env.permute_moves = permute;
    }
    vb_env_batch *b = NULL;
    cr_assert_eq(vb_env_batch_from_config(&b, &cfg, n, seed, 100, err, sizeof err), 0, "%s", err);
    return b;
}

Test(env_plugin, gridnavi_plugin_plays_the_builtin_gridworld_step_for_step) {
    for (int permute = 0; permute < 2; permute++) {
        vb_env_batch *ref = gridworld_batch(false, permute, 16, 7), *plug = gridworld_batch(true, permute, 16, 7);
        const vb_env_spec *a = &ref->spec, *b = &plug->spec;
        cr_assert_str_eq(b->name, "gridnavi");
        cr_assert_eq(b->family, VB_ENV_PLUGIN);
        cr_assert(a->reward_levels[1] == b->reward_levels[1] && a->cell_hit_prior == b->cell_hit_prior &&
                  b->has_task_cells);
        vb_test_same_play(ref, plug, 5, 3);
        float next_a[2], next_b[2], obs[2] = {2, 3};
        for (int32_t act = 0; act < 5 && !permute; act++) {
            cr_assert_eq(vb_env_transition(a, obs, act, next_a), VB_ENV_OK);
            cr_assert_eq(vb_env_transition(b, obs, act, next_b), VB_ENV_OK);
            cr_assert_arr_eq(next_a, next_b, sizeof next_a);
        }
        if (permute) cr_assert_eq(vb_env_transition(b, obs, 1, next_b), VB_ENV_ETASKDEP);
        vb_env_batch_destroy(ref);
        vb_env_batch_destroy(plug);
    }
}

Test(env_plugin, broken_libraries_are_refused_with_their_cause) {
    assert_refused("build/test-plugins/libmissing.so", "x", "", "cannot load it");
    assert_refused("build/test-plugins/libno_symbols.so", "x", "", "no symbol vb_task_abi");
    assert_refused("build/test-plugins/libwrong_abi.so", "x", "", "ABI version 999");
    assert_refused(FAULTY, "nonesuch", "", "no task family 'nonesuch' (it has: steps_then_fails, obs_size_zero");
    assert_refused(FAULTY, "old_abi", "", "ABI version 8");
    assert_refused(FAULTY, "no_step", "", "no step callback");
}

Test(env_plugin, bad_specs_and_arguments_are_refused_by_name) {
    assert_refused(FAULTY, "obs_size_zero", "", "spec.obs_size 0");
    assert_refused(FAULTY, "independent_without_transition", "", "no transition callback");
    assert_refused(FAULTY, "refuses", "", "refuses every parameter set");
    assert_refused(GRIDNAVI, "gridnavi", "sise=5", "has no parameter 'sise'");
    assert_refused(GRIDNAVI, "gridnavi", "size=five", "size=five is not an integer");
    assert_refused(GRIDNAVI, "gridnavi", "size=2", "size 2: expected 3 .. 64");
    assert_refused(GRIDNAVI, "gridnavi", "size=5 size=6", "key 'size' given twice");
    assert_refused(GRIDNAVI, "gridnavi", "size", "expected key=value");
    cr_assert_eq(plugin_spec(GRIDNAVI, "gridnavi", "size=7, steps=20"), 0, "%s", err);
}

Test(env_plugin, a_stray_callback_is_caught_before_a_run_trusts_it) {
    assert_refused(FAULTY, "stray_reward_cell_family", "", "reward_cell returned");
    /* the failing step, early enough to fall inside the check's two tasks */
    assert_refused(FAULTY, "steps_then_fails", "fail_at=3", "step 3: the simulator diverged");
    cr_assert_eq(plugin_spec(FAULTY, "steps_then_fails", ""), 0, "%s", err);
}

Test(env_plugin, a_failing_step_reports_the_familys_message) {
    vb_config cfg;
    plugin_config(&cfg, FAULTY, "steps_then_fails", "fail_at=1");
    vb_env_batch *b = NULL;
    cr_assert_eq(vb_env_batch_from_config(&b, &cfg, 4, 1, 0, err, sizeof err), 0, "%s", err);
    int32_t acts[4] = {0, 1, 0, 1};
    cr_assert_eq(vb_env_step(b, acts), VB_ENV_OK);
    cr_assert_eq(b->t[0], 1);
    cr_assert_eq(vb_env_step(b, acts), VB_ENV_EFAMILY);
    cr_assert_str_eq(vb_env_error(b, VB_ENV_EFAMILY), "step 1: the simulator diverged");
    cr_assert_eq(b->t[0], 1, "a failed step leaves the clock where it was");
    float cells[2];
    cr_assert_eq(vb_env_task_cells(b, 0, cells), VB_ENV_ENOLABELS);
    vb_env_batch_destroy(b);
}

Test(env_plugin, plugin_keys_are_checked_against_env_name) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cfg.env.name = VB_ENV_PLUGIN;
    cr_assert_eq(vb_config_validate(&cfg, err, sizeof err), -1);
    cr_assert(strstr(err, "needs env.plugin"), "%s", err);
    vb_config_defaults(&cfg);
    snprintf(cfg.env.args, sizeof cfg.env.args, "size=5");
    cr_assert_eq(vb_config_validate(&cfg, err, sizeof err), -1);
    cr_assert(strstr(err, "read only with env.name: plugin"), "%s", err);
}

/* The shipped example end to end: ./learner with its local actors trains on
 * the plugin, and ./actor --eval reloads it from the checkpoint's config. */
Test(env_plugin, learner_and_actors_train_on_the_example_plugin, .timeout = 120) {
    vb_test_train_briefly("examples/gridnavi_plugin/gridnavi.yaml", "gridnavi_plugin", "gridnavi");
}

/* A family whose step fails mid-run ends its actor with the family's message
 * in the log; the learner stays up, restarts the local actor, and once every
 * local actor keeps failing it stops with a final checkpoint and says why. */
Test(env_plugin, a_failing_family_ends_its_actor_not_the_learner, .timeout = 120) {
    char root[64], cfgpath[1024], set_root[128], set_lib[1200], lib[1024];
    vb_test_make_root(root, sizeof root);
    snprintf(set_root, sizeof set_root, "run.root=%s", root);
    snprintf(set_lib, sizeof set_lib, "env.plugin=%s", vb_test_path(FAULTY, lib, sizeof lib));
    vb_test_proc p;
    vb_test_run(&p, "learner",
                (const char *[]){"--config", vb_test_path("configs/smoke.yaml", cfgpath, sizeof cfgpath), "--set",
                                 set_root, "--set", "env.name=plugin", "--set", set_lib, "--set",
                                 "env.family=steps_then_fails", "--set", "env.args=fail_at=40", "--set",
                                 "learner.elbo_decode=transitions", "--set", "actors.local=1", "--set",
                                 "run.max_wall_s=20", "--set", "run.total_env_steps=100000000", NULL});
    cr_assert(strstr(p.err, "acting: env step: step 40: the simulator diverged"), "the actor's log names the cause:\n%s",
              p.err);
    cr_assert(strstr(p.err, "left: acting failed"), "the learner saw the actor leave:\n%s", p.err);
    cr_assert(strstr(p.err, "restarting in"), "the learner stayed up and restarted it:\n%s", p.err);
    cr_assert(strstr(p.err, "keep failing: stopping after a final checkpoint"), "%s", p.err);
    cr_assert_eq(p.status, 1, "a run whose actors all fail ends with status 1: %d", p.status);
    char ckpt[256];
    snprintf(ckpt, sizeof ckpt, "%s/smoke/checkpoints", root);
    cr_assert_eq(access(ckpt, F_OK), 0, "the final checkpoint is written");
    vb_test_proc_free(&p);
    vb_test_remove_root(root);
}
