/* bench_learner — the learner's M-step with the gridworld config
 * (configs/gridworld.yaml: 32 windows of 60 steps, GRU hidden 64, the value,
 * policy and belief losses, one Adam step) on 1 thread and on 2: BLAS's
 * threads and the encoder window threaded over the batch, as learner.threads
 * sets them (common/nn/gru.h). The replay is filled once by an actor with the
 * initial weights and updates run without the rate limiter, so the figure is
 * the learner's own: updates per second, and the environment steps per
 * second they would keep up with at the config's samples_per_insert.
 * Output: one "name value unit" per line. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../kernels/blas_core.h"
#include "common/params/params.h"
#include "common/train/acting.h"
#include "common/train/learning.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void into_replay(const vb_chunk *c, void *ctx) {
    char why[256];
    if (vb_learning_insert(ctx, c, why, sizeof why) < 0) fprintf(stderr, "bench_learner: %s\n", why), exit(1);
}

static int fail(const char *err) {
    fprintf(stderr, "bench_learner: %s (run from the repository root)\n", err);
    return 1;
}

/* updates per second with learner.threads = threads; -1 on error */
static double bench(const char *config, int threads, double *steps_per_update) {
    char err[512], set[64];
    vb_config cfg;
    vb_config_defaults(&cfg);
    if (vb_config_load_file(&cfg, config, err, sizeof err) != 0) return fail(err), -1;
    snprintf(set, sizeof set, "learner.threads=%d", threads);
    if (vb_config_set(&cfg, set, err, sizeof err) != 0) return fail(err), -1;
    /* at the rate limit an update samples batch_windows windows per batch_windows / samples_per_insert
     * chunks inserted, each a window of one env's steps */
    const double spi = cfg.learner.samples_per_insert;
    *steps_per_update = spi > 0 ? (double)(cfg.learner.batch_windows * cfg.learner.window) / spi : 0;
    if (vb_config_set(&cfg, "learner.samples_per_insert=0", err, sizeof err) != 0) return fail(err), -1;
    const vb_backend *be = vb_backend_cpu();
    be->set_threads(threads);
    vb_env_spec spec;
    vb_model m;
    if (vb_env_spec_from_config(&cfg, &spec, err, sizeof err) != 0 ||
        vb_model_build_from_config(&m, &cfg, &spec, err, sizeof err) != 0)
        return fail(err), -1;
    float *P = calloc((size_t)m.layout.total, sizeof(float));
    vb_model_init(&m, P, 1);
    vb_learning_cfg lp = vb_learning_cfg_from(&cfg);
    vb_learning *l;
    vb_acting a;
    if (vb_learning_create(&l, be, &m, &lp, &spec, P, err, sizeof err) != 0) return fail(err), -1;
    /* enough whole windows for a batch: one per env */
    const int64_t envs = cfg.learner.batch_windows;
    if (vb_acting_create_from_config(&a, be, &m, &cfg, envs, 1, 0, err, sizeof err) != 0) return fail(err), -1;
    vb_acting_set_params(&a, P, 0);
    for (int64_t s = 0; s < 2 * cfg.learner.window; s++)
        if (vb_acting_step(&a, into_replay, l, err, sizeof err) != 0) return fail(err), -1;
    vb_update_stats st;
    if (vb_learning_update(l, &st, err, sizeof err) != 0) return fail(err), -1; /* warm up */
    int updates = 0;
    double t0 = now(), dt;
    do {
        if (vb_learning_update(l, &st, err, sizeof err) != 0) return fail(err), -1;
        updates++;
        dt = now() - t0;
    } while (dt < 2.0);
    vb_acting_destroy(&a);
    vb_learning_destroy(l);
    free(P);
    return updates / dt;
}

int main(int argc, char **argv) {
    (void)argc;
    vb_blas_core_select(argv);
    const char *g = "configs/gridworld.yaml";
    double steps = 0, rate[3] = {0};
    for (int t = 1; t <= 2; t++) {
        if ((rate[t] = bench(g, t, &steps)) < 0) return 1;
        printf("learner_gridworld_threads%d_updates %.1f updates/s\n", t, rate[t]);
        if (steps > 0) printf("learner_gridworld_threads%d_keeps_up_with %.0f env steps/s\n", t, rate[t] * steps);
    }
    printf("learner_gridworld_threads2_over_threads1 %.2f x\n", rate[2] / rate[1]);
    return 0;
}
