/* Configuration: schema defaults, file loading, --set, every error class,
 * precedence and the print -> parse -> print round trip. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/cli.h"
#include "common/base/config.h"
#include "support.h"

static char err[1024];

/* Load YAML text from a temporary file over defaults; returns the rc. */
static int load_text(vb_config *cfg, const char *yaml) {
    char path[64];
    vb_test_write_tmp(yaml, path, sizeof path);
    vb_config_defaults(cfg);
    err[0] = '\0';
    int rc = vb_config_load_file(cfg, path, err, sizeof err);
    unlink(path);
    return rc;
}

Test(config, defaults_are_in_range_and_documented_values) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cr_assert_str_eq(cfg.run.name, "default");
    cr_assert_eq(cfg.env.name, VB_ENV_GRIDWORLD);
    cr_assert_eq(cfg.model.core, VB_CORE_GRU);
    cr_assert_eq(cfg.planner.particles, 16);
    cr_assert_eq(cfg.planner.depth, 4);
    cr_assert_eq(cfg.planner.nested, 4);
    cr_assert_float_eq(cfg.planner.ess_threshold, 0.5, 1e-12);
    cr_assert_float_eq(cfg.learner.lr, 3e-4, 1e-15);
    cr_assert_eq(cfg.model.rl_grad_to_encoder, false);
    cr_assert_eq(vb_config_validate(&cfg, err, sizeof err), 0, "%s", err);
}

Test(config, schema_keys_are_unique_and_sections_known) {
    size_t n, nsec;
    const vb_cfg_key *k = vb_config_schema(&n);
    const char *const *secs = vb_config_sections(&nsec);
    cr_assert_gt(n, 50);
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (size_t s = 0; s < nsec; s++) found |= strcmp(secs[s], k[i].section) == 0;
        cr_assert(found, "key %s.%s in unknown section", k[i].section, k[i].key);
        for (size_t j = i + 1; j < n; j++)
            cr_assert(strcmp(k[i].section, k[j].section) || strcmp(k[i].key, k[j].key),
                      "duplicate key %s.%s", k[i].section, k[i].key);
        cr_assert_eq(vb_config_find(k[i].section, k[i].key), &k[i]);
    }
    cr_assert_null(vb_config_find("model", "nope"));
}

Test(config, every_shipped_config_loads_and_validates) {
    char dir[1024];
    DIR *d = opendir(vb_test_path("configs", dir, sizeof dir));
    cr_assert_not_null(d, "%s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".yaml") != 0) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        vb_config cfg;
        vb_config_defaults(&cfg);
        cr_assert_eq(vb_config_load_file(&cfg, path, err, sizeof err), 0, "%s", err);
        cr_assert_eq(vb_config_validate(&cfg, err, sizeof err), 0, "%s: %s", e->d_name, err);
        n++;
    }
    closedir(d);
    cr_assert_geq(n, 13, "%d configs in %s", n, dir);
}

Test(config, file_values_are_typed) {
    vb_config cfg;
    cr_assert_eq(load_text(&cfg, "run:\n  name: exp-1\n  seed: 42\n  algo: rl2\n"
                                 "env:\n  name: bandit\n  gamma: 0.99\n"
                                 "model:\n  rl_grad_to_encoder: true\n  core: s5\n"),
                 0, "%s", err);
    cr_assert_str_eq(cfg.run.name, "exp-1");
    cr_assert_eq(cfg.run.seed, 42);
    cr_assert_eq(cfg.run.algo, VB_ALGO_RL2);
    cr_assert_eq(cfg.env.name, VB_ENV_BANDIT);
    cr_assert_float_eq(cfg.env.gamma, 0.99, 1e-15);
    cr_assert_eq(cfg.model.rl_grad_to_encoder, true);
    cr_assert_eq(cfg.model.core, VB_CORE_S5);
    /* untouched keys keep their defaults */
    cr_assert_eq(cfg.model.hidden, 128);
}

Test(config, integer_in_float_notation_is_accepted_only_when_exact) {
    vb_config cfg;
    cr_assert_eq(load_text(&cfg, "run:\n  total_env_steps: 2e6\n"), 0, "%s", err);
    cr_assert_eq(cfg.run.total_env_steps, 2000000);
    cr_assert_neq(load_text(&cfg, "model:\n  hidden: 2.5\n"), 0);
    cr_assert(strstr(err, "model.hidden"), "%s", err);
}

Test(config, empty_file_changes_nothing) {
    vb_config cfg, def;
    vb_config_defaults(&def);
    cr_assert_eq(load_text(&cfg, "\n\n"), 0, "%s", err);
    cr_assert_eq(memcmp(&cfg, &def, sizeof cfg), 0);
}

Test(config, unknown_key_names_the_key) {
    vb_config cfg;
    cr_assert_neq(load_text(&cfg, "model:\n  hidden: 64\n  hiden: 3\n"), 0);
    cr_assert(strstr(err, "unknown key 'model.hiden'"), "%s", err);
}

Test(config, unknown_section_names_the_section) {
    vb_config cfg;
    cr_assert_neq(load_text(&cfg, "modle:\n  hidden: 64\n"), 0);
    cr_assert(strstr(err, "unknown section 'modle'"), "%s", err);
}

Test(config, wrong_type_names_key_and_expectation) {
    vb_config cfg;
    cr_assert_neq(load_text(&cfg, "model:\n  hidden: lots\n"), 0);
    cr_assert(strstr(err, "model.hidden: expected an integer in [1, 8192], got 'lots'"), "%s", err);
    cr_assert_neq(load_text(&cfg, "learner:\n  lr: fast\n"), 0);
    cr_assert(strstr(err, "learner.lr: expected a number"), "%s", err);
    cr_assert_neq(load_text(&cfg, "eval:\n  greedy: maybe\n"), 0);
    cr_assert(strstr(err, "eval.greedy: expected true or false, got 'maybe'"), "%s", err);
    cr_assert_neq(load_text(&cfg, "model:\n  core: lstm\n"), 0);
    cr_assert(strstr(err, "model.core: expected one of gru, s5, got 'lstm'"), "%s", err);
    cr_assert_neq(load_text(&cfg, "model:\n  hidden: [1, 2]\n"), 0);
    cr_assert(strstr(err, "model.hidden: expected a single value"), "%s", err);
    cr_assert_neq(load_text(&cfg, "model: 3\n"), 0);
    cr_assert(strstr(err, "model: expected a mapping"), "%s", err);
}

Test(config, error_names_the_file) {
    vb_config cfg;
    char path[64];
    vb_test_write_tmp("model:\n  hidden: -1\n", path, sizeof path);
    vb_config_defaults(&cfg);
    cr_assert_neq(vb_config_load_file(&cfg, path, err, sizeof err), 0);
    unlink(path);
    cr_assert(strncmp(err, path, strlen(path)) == 0, "error should start with the file: %s", err);
}

Test(config, out_of_range_values_are_refused) {
    vb_config cfg;
    cr_assert_neq(load_text(&cfg, "model:\n  hidden: 0\n"), 0);
    cr_assert(strstr(err, "model.hidden"), "%s", err);
    cr_assert_neq(load_text(&cfg, "env:\n  gamma: 1.5\n"), 0);
    cr_assert(strstr(err, "env.gamma: expected a number in [0, 1], got '1.5'"), "%s", err);
    cr_assert_neq(load_text(&cfg, "learner:\n  lr: nan\n"), 0);
    cr_assert_neq(load_text(&cfg, "learner:\n  lr: inf\n"), 0);
    cr_assert_neq(load_text(&cfg, "run:\n  seed: 99999999999999999999999\n"), 0);
    cr_assert_neq(load_text(&cfg, "run:\n  name: ../escape\n"), 0);
    cr_assert(strstr(err, "run.name"), "%s", err);
    cr_assert_neq(load_text(&cfg, "learner:\n  device: gpu\n"), 0);
    cr_assert(strstr(err, "learner.device: expected 'cpu' or 'cuda:N'"), "%s", err);
}

Test(config, missing_file_is_refused) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cr_assert_neq(vb_config_load_file(&cfg, "/nonexistent/varibased.yaml", err, sizeof err), 0);
    cr_assert(strstr(err, "/nonexistent/varibased.yaml: cannot open config file"), "%s", err);
}

Test(config, malformed_yaml_is_refused) {
    vb_config cfg;
    cr_assert_neq(load_text(&cfg, "model:\n  hidden: \"64\n"), 0);
    cr_assert(strstr(err, "malformed YAML"), "%s", err);
    cr_assert_neq(load_text(&cfg, "model:\n\thidden: 64\n"), 0);
    cr_assert(strstr(err, "malformed YAML"), "%s", err);
    cr_assert_neq(load_text(&cfg, "model: {hidden: 1}\nmodel: {hidden: 2}\n"), 0);
    cr_assert(strstr(err, "'model' appears twice"), "%s", err);
    cr_assert_neq(load_text(&cfg, "- just\n- a list\n"), 0);
}

Test(config, bad_set_forms_are_refused) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    const char *bad[] = {"model.hidden", "hidden=3", ".hidden=3", "model.=3", "modle.hidden=3",
                         "model.hiden=3", "model.hidden=", "model.hidden=3x", "model.hidden=0",
                         "env.gamma=2", "model.core=rnn", "eval.greedy=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_neq(vb_config_set(&cfg, bad[i], err, sizeof err), 0, "accepted %s", bad[i]);
        cr_assert(strstr(err, "--set"), "%s", err);
    }
    cr_assert_neq(vb_config_set(&cfg, "model.hiden=3", err, sizeof err), 0);
    cr_assert(strstr(err, "unknown key 'model.hiden'"), "%s", err);
    cr_assert_neq(vb_config_set(&cfg, "modle.hidden=3", err, sizeof err), 0);
    cr_assert(strstr(err, "unknown section 'modle'"), "%s", err);
}

Test(config, set_overrides_file_and_later_set_wins) {
    char path[64];
    vb_test_write_tmp("model:\n  hidden: 64\n  latent: 3\n", path, sizeof path);
    vb_cli_config cc = {.config_path = path};
    vb_cli_add_set(&cc, "model.hidden=32");
    vb_cli_add_set(&cc, "model.hidden=48");
    vb_config cfg;
    cr_assert_eq(vb_cli_resolve_config(&cc, &cfg, err, sizeof err), 0, "%s", err);
    unlink(path);
    cr_assert_eq(cfg.model.hidden, 48);  /* last --set */
    cr_assert_eq(cfg.model.latent, 3);   /* file over default */
    cr_assert_eq(cfg.model.embed, 32);   /* default */
}

Test(config, cross_key_validation) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_set(&cfg, "env.lengthscale_min=0.5", err, sizeof err), 0, "%s", err);
    cr_assert_neq(vb_config_validate(&cfg, err, sizeof err), 0);
    cr_assert(strstr(err, "env.lengthscale_min") && strstr(err, "env.lengthscale_max"), "%s", err);
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_set(&cfg, "actors.timeout_ms=500", err, sizeof err), 0, "%s", err);
    cr_assert_neq(vb_config_validate(&cfg, err, sizeof err), 0);
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_set(&cfg, "eval.greedy_margin=1", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_config_set(&cfg, "planner.target=weights", err, sizeof err), 0, "%s", err);
    cr_assert_neq(vb_config_validate(&cfg, err, sizeof err), 0);
    cr_assert(strstr(err, "eval.greedy_margin") && strstr(err, "planner.target"), "%s", err);
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_set(&cfg, "learner.bptt=10", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_config_set(&cfg, "model.core=s5", err, sizeof err), 0, "%s", err);
    cr_assert_neq(vb_config_validate(&cfg, err, sizeof err), 0);
    cr_assert(strstr(err, "learner.bptt") && strstr(err, "model.core"), "%s", err);
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_set(&cfg, "learner.refresh_grad=true", err, sizeof err), 0, "%s", err);
    cr_assert_neq(vb_config_validate(&cfg, err, sizeof err), 0);
    cr_assert(strstr(err, "learner.refresh_grad") && strstr(err, "learner.refresh_carry"), "%s", err);
    cr_assert_eq(vb_config_set(&cfg, "learner.refresh_carry=true", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_config_validate(&cfg, err, sizeof err), 0, "%s", err);
}

/* print -> parse -> print must be byte-identical, and the parsed struct equal. */
static void assert_round_trip(const vb_config *cfg) {
    size_t len1, len2;
    char *y1 = vb_config_to_yaml(cfg, &len1);
    cr_assert_not_null(y1);
    vb_config back;
    vb_config_defaults(&back);
    cr_assert_eq(vb_config_load_string(&back, y1, len1, "printed", err, sizeof err), 0, "%s", err);
    char *y2 = vb_config_to_yaml(&back, &len2);
    cr_assert_str_eq(y1, y2);
    size_t n;
    const vb_cfg_key *k = vb_config_schema(&n);
    for (size_t i = 0; i < n; i++) {
        char a[256], b[256];
        vb_config_format_value(cfg, &k[i], a, sizeof a);
        vb_config_format_value(&back, &k[i], b, sizeof b);
        cr_assert_str_eq(a, b, "%s.%s", k[i].section, k[i].key);
    }
    cr_assert_eq(memcmp(&cfg->env, &back.env, sizeof cfg->env), 0);
    cr_assert_eq(memcmp(&cfg->learner.lr, &back.learner.lr, sizeof(double)), 0);
    free(y1);
    free(y2);
}

Test(config, print_parse_print_round_trip_defaults_and_shipped) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    assert_round_trip(&cfg);
    char path[1024];
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_load_file(&cfg, vb_test_path("configs/funcopt.yaml", path, sizeof path), err,
                                     sizeof err), 0, "%s", err);
    assert_round_trip(&cfg);
}

Test(config, round_trip_of_awkward_values) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    const char *sets[] = {"learner.lr=0.1", "learner.lr_schedule=linear", "env.gamma=0.333333333333333314829616256247",
                          "planner.temperature=1e-6", "run.seed=9007199254740992", "learner.weight_decay=1e-300",
                          "run.name=a.b-c_d", "learner.device=cuda:3", "run.root=/tmp/x y"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        cr_assert_eq(vb_config_set(&cfg, sets[i], err, sizeof err), 0, "%s", err);
    assert_round_trip(&cfg);
    cr_assert_eq(cfg.env.gamma, 1.0 / 3.0);
}

/* docs/configuration.md documents every key with its default. */
Test(config, every_key_is_documented_with_its_default) {
    char path[1024];
    FILE *f = fopen(vb_test_path("docs/configuration.md", path, sizeof path), "r");
    cr_assert_not_null(f, "docs/configuration.md missing");
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    size_t nk;
    const vb_cfg_key *k = vb_config_schema(&nk);
    for (size_t i = 0; i < nk; i++) {
        char row[256];
        snprintf(row, sizeof row, "| `%s.%s` |", k[i].section, k[i].key);
        const char *at = strstr(doc, row);
        cr_assert_not_null(at, "docs/configuration.md lacks a row for %s.%s", k[i].section, k[i].key);
        char def[160];
        snprintf(def, sizeof def, "`%s`", k[i].def);
        const char *eol = strchr(at, '\n');
        const char *hit = strstr(at, def);
        cr_assert(hit && (!eol || hit < eol), "docs row of %s.%s lacks its default %s", k[i].section,
                  k[i].key, def);
    }
}

/* Every string a config accepts is written back as YAML that reads as
 * itself (found by fuzz_config: invalid UTF-8 in run.root was accepted, and
 * the run's config.yaml and checkpoints could not be read back). */
Test(config, strings_that_cannot_round_trip_are_refused) {
    char why[512];
    vb_config cfg;
    const char *bad[] = {"run.root=rl2v.\xff\xff#", "run.root=a\xc2\x85" "b", "run.root=x\xe2\x80\xa8y",
                         "run.root=\xed\xa0\x80", "run.root=\xc0\xaf", "learner.keys=tab\there"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vb_config_defaults(&cfg);
        cr_assert_neq(vb_config_set(&cfg, bad[i], why, sizeof why), 0, "accepted %s", bad[i]);
    }
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_set(&cfg, "run.root=/tmp/gr\xc3\xbc\xc3\x9f" "e #1", why, sizeof why), 0, "%s", why);
    size_t n;
    char *yaml = vb_config_to_yaml(&cfg, &n);
    vb_config back;
    vb_config_defaults(&back);
    cr_assert_eq(vb_config_load_string(&back, yaml, n, "round trip", why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(back.run.root, cfg.run.root);
    free(yaml);
}
