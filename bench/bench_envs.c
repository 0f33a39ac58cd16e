/* bench_envs — what a task family costs per environment step: the built-in
 * gridworld, the same GridNavi as a C plugin (examples/gridnavi_plugin) and
 * as a Python class through the bridge (examples/gridnavi_python), each a
 * batch of 64 environments stepped with random actions, resets included
 * (median of 5 rounds of 200 batch steps). Run from the repository root
 * after `make` (the plugins live under build/). Output: one "name value
 * unit" per line; a family whose library is missing is reported skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/envs/env.h"
#include "common/params/params.h"

enum { ENVS = 64, STEPS = 200, ROUNDS = 5 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ns per environment step of cfg's family, or a negative value if it cannot load */
static double ns_per_step(const vb_config *cfg, const char *name) {
    char err[4096];
    vb_env_batch *b = NULL;
    if (vb_env_batch_from_config(&b, cfg, ENVS, 1, 0, err, sizeof err) != 0) {
        printf("envs_%s skipped (%s)\n", name, err);
        return -1;
    }
    vb_rng rng;
    vb_rng_init(&rng, 2, 0);
    int32_t acts[ENVS];
    double t[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now();
        for (int s = 0; s < STEPS; s++) {
            for (int i = 0; i < ENVS; i++) acts[i] = (int32_t)vb_rng_below(&rng, 5);
            if (vb_env_step(b, acts) != VB_ENV_OK || vb_env_reset_finished(b) != VB_ENV_OK) {
                printf("envs_%s failed\n", name);
                vb_env_batch_destroy(b);
                return -1;
            }
        }
        t[r] = (now() - t0) / (double)(STEPS * ENVS) * 1e9;
    }
    vb_env_batch_destroy(b);
    qsort(t, ROUNDS, sizeof t[0], cmp);
    printf("envs_%s_step %.1f ns\n", name, t[ROUNDS / 2]);
    return t[ROUNDS / 2];
}

static void plugin(vb_config *cfg, const char *lib, const char *family, const char *args) {
    vb_config_defaults(cfg);
    cfg->env.name = VB_ENV_PLUGIN;
    snprintf(cfg->env.plugin, sizeof cfg->env.plugin, "%s", lib);
    snprintf(cfg->env.family, sizeof cfg->env.family, "%s", family);
    snprintf(cfg->env.args, sizeof cfg->env.args, "%s", args);
}

int main(void) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    double builtin = ns_per_step(&cfg, "builtin_gridworld");
    plugin(&cfg, "build/examples/libgridnavi.so", "gridnavi", "");
    double c = ns_per_step(&cfg, "c_plugin_gridnavi");
    plugin(&cfg, "build/plugins/libvb_python.so", "python", "class=examples/gridnavi_python/gridnavi.py:GridNavi");
    double py = ns_per_step(&cfg, "python_gridnavi");
    if (builtin > 0 && c > 0) printf("envs_c_plugin_over_builtin %.2f x\n", c / builtin);
    if (builtin > 0 && py > 0) printf("envs_python_over_builtin %.1f x\n", py / builtin);
    return 0;
}
