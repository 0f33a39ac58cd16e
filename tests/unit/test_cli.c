/* The two programs' command lines: help, version, exit codes, --print-config. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "common/base/cli.h"
#include "common/base/config.h"
#include "support.h"

static void run(vb_test_proc *p, const char *prog, const char *const *args) { vb_test_run(p, prog, args); }

Test(cli, help_lists_every_option_and_exits_0) {
    const char *progs[] = {"learner", "actor"};
    for (int i = 0; i < 2; i++) {
        vb_test_proc p;
        run(&p, progs[i], (const char *[]){"--help", NULL});
        cr_assert_eq(p.status, 0, "%s --help: %d", progs[i], p.status);
        const char *opts[] = {"--config", "--set", "--print-config", "--log-level", "--help", "--version"};
        for (size_t j = 0; j < sizeof opts / sizeof opts[0]; j++)
            cr_assert(strstr(p.out, opts[j]), "%s --help lacks %s", progs[i], opts[j]);
        vb_test_proc_free(&p);
    }
    vb_test_proc p;
    run(&p, "actor", (const char *[]){"-h", NULL});
    cr_assert(strstr(p.out, "--learner"));
    vb_test_proc_free(&p);
}

Test(cli, version_exits_0) {
    vb_test_proc p;
    run(&p, "learner", (const char *[]){"--version", NULL});
    cr_assert_eq(p.status, 0);
    cr_assert(strstr(p.out, "varibased"), "%s", p.out);
    vb_test_proc_free(&p);
    run(&p, "actor", (const char *[]){"-V", NULL});
    cr_assert_eq(p.status, 0);
    vb_test_proc_free(&p);
}

Test(cli, print_config_is_loadable_yaml_of_the_resolved_config) {
    char cfgpath[1024];
    vb_test_proc p;
    run(&p, "learner", (const char *[]){"--config", vb_test_path("configs/gridworld.yaml", cfgpath, sizeof cfgpath),
                                        "--set", "model.hidden=77", "--print-config", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    vb_config cfg;
    char err[1024];
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_load_string(&cfg, p.out, strlen(p.out), "stdout", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.model.hidden, 77);
    cr_assert_str_eq(cfg.run.name, "gridworld");
    /* the same YAML once more through the program is byte-identical */
    char tmp[64];
    vb_test_write_tmp(p.out, tmp, sizeof tmp);
    vb_test_proc q;
    run(&q, "learner", (const char *[]){"--config", tmp, "--print-config", NULL});
    unlink(tmp);
    cr_assert_eq(q.status, 0, "%s", q.err);
    cr_assert_str_eq(q.out, p.out);
    vb_test_proc_free(&p);
    vb_test_proc_free(&q);
}

Test(cli, unknown_config_key_exits_2_naming_the_key) {
    char tmp[64];
    vb_test_write_tmp("learner:\n  learning_rate: 0.1\n", tmp, sizeof tmp);
    vb_test_proc p;
    run(&p, "learner", (const char *[]){"--config", tmp, "--print-config", NULL});
    unlink(tmp);
    cr_assert_eq(p.status, 2);
    cr_assert(strstr(p.err, "learner.learning_rate"), "%s", p.err);
    cr_assert_str_eq(p.out, "");
    vb_test_proc_free(&p);
}

Test(cli, usage_errors_exit_2) {
    const char *const cases[][4] = {
        {"--bogus", NULL},
        {"--config", NULL},
        {"--set", "model.hidden=zero", NULL},
        {"--log-level", "loud", NULL},
        {"--config", "/nonexistent.yaml", NULL},
        {"stray-argument", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vb_test_proc p;
        run(&p, "learner", cases[i]);
        cr_assert_eq(p.status, 2, "learner %s: exit %d (%s)", cases[i][0], p.status, p.err);
        cr_assert_neq(strlen(p.err), 0);
        vb_test_proc_free(&p);
    }
}

Test(cli, actor_needs_a_valid_learner_endpoint) {
    vb_test_proc p;
    run(&p, "actor", (const char *[]){NULL});
    cr_assert_eq(p.status, 2);
    cr_assert(strstr(p.err, "--learner"), "%s", p.err);
    vb_test_proc_free(&p);
    const char *bad[] = {"localhost:5555", "tcp://host", "tcp://:5555", "tcp://h:0", "tcp://h:70000",
                         "udp://h:1", "tcp://h:12ab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run(&p, "actor", (const char *[]){"--learner", bad[i], NULL});
        cr_assert_eq(p.status, 2, "%s: %d", bad[i], p.status);
        cr_assert(strstr(p.err, bad[i]), "%s", p.err);
        vb_test_proc_free(&p);
    }
}

Test(cli, log_level_accepts_the_four_user_levels) {
    vb_test_proc p;
    run(&p, "learner", (const char *[]){"--log-level", "debug", "--print-config", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    vb_test_proc_free(&p);
    run(&p, "actor", (const char *[]){"--learner", "tcp://127.0.0.1:1", "--log-level", "off", NULL});
    cr_assert_eq(p.status, 2, "'off' would hide fatal errors: %d", p.status);
    vb_test_proc_free(&p);
}
