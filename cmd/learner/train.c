/* train — the training loop of ./learner --serial: acting and learning joined
 * in one process through the chunk sink, on the shared run (run.h), with a
 * clean stop on SIGINT/SIGTERM (final checkpoint, then exit 0). Deterministic:
 * a resumed run continues bit-exactly. Without --serial, vb_train_run hands
 * over to the distributed learner (distributed.h). */
#include "train.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/train/acting.h"
#include "../../common/base/cli.h"
#include "../../common/base/log.h"
#include "distributed.h"
#include "run.h"
#include "../../common/params/params.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

typedef struct serial {
    vb_run run;
    vb_acting acting;
    uint64_t *pos;          /* (2 env.batch) stream positions of a checkpoint */
} serial;

static void sink(const vb_chunk *c, void *ctx) {
    vb_run *r = ctx;
    char why[256];
    if (vb_learning_insert(r->learning, c, why, sizeof why) < 0) {
        r->rejected_chunks++;
        vb_warn("chunk from slot %d rejected: %s", c->slot, why);
    }
}

/* ---- the serial mode: acting in this process -------------------------------- */
static int serial_publish(void *ctx, char *err, size_t err_len) {
    serial *s = ctx;
    vb_acting_set_params(&s->acting, vb_learning_params(s->run.learning), vb_learning_version(s->run.learning));
    return 0;
}

static int serial_ckpt_state(void *ctx, uint64_t **pos, int64_t *k, int64_t *act_version, vb_ckpt_section *extra,
                             int *n_extra, char *err, size_t err_len) {
    serial *s = ctx;
    const vb_acting *a = &s->acting;
    vb_acting_stream_positions(a, s->pos);
    *pos = s->pos;
    *k = a->n;
    *act_version = (int64_t)a->version;
    extra[0] = (vb_ckpt_section){"acting.params", a->P, sizeof(float) * (size_t)s->run.model.layout.total};
    *n_extra = 1;
    return 0;
}

static int serial_restore(void *ctx, const vb_ckpt *ck, const void *sp, int64_t k, int64_t act_version, char *err,
                          size_t err_len) {
    serial *s = ctx;
    const int64_t n = s->acting.n;
    uint64_t len;
    const void *ap = vb_ckpt_get(ck, "acting.params", &len);
    if (!ap || k == 0)
        return snprintf(err, err_len, "the checkpoint was written by a distributed run (no acting state); resume it "
                        "without --serial"), -1;
    if (k != n)
        return snprintf(err, err_len, "checkpoint streams do not match env.batch = %lld", (long long)n), -1;
    if (len != sizeof(float) * (size_t)s->run.model.layout.total)
        return snprintf(err, err_len, "checkpoint acting parameters malformed"), -1;
    /* section payloads are not aligned: copy out */
    float *apf = malloc((size_t)len);
    if (!apf) return snprintf(err, err_len, "out of memory"), -1;
    memcpy(s->pos, sp, sizeof(uint64_t) * (size_t)(2 * n));
    memcpy(apf, ap, (size_t)len);
    vb_acting_restore_positions(&s->acting, s->pos);
    vb_acting_set_params(&s->acting, apf, (uint64_t)act_version);
    free(apf);
    s->acting.env_steps = s->run.env_steps;
    return 0;
}

static int setup(serial *s, const vb_config *cfg, const vb_train_opts *opts, char *err, size_t err_len) {
    vb_run *r = &s->run;
    int rc = vb_run_open(r, cfg, opts->resume != NULL, err, err_len);
    if (rc != 0) return rc;
    r->argc = opts->argc;
    r->argv = opts->argv;
    r->mode = (vb_run_mode){.name = "serial", .ctx = s, .publish = serial_publish, .ckpt_state = serial_ckpt_state,
                            .restore = serial_restore};
    if (vb_acting_create_from_config(&s->acting, r->be, &r->model, cfg, cfg->env.batch, (uint64_t)cfg->run.seed, 0, err,
                         err_len) != 0)
        return -1;
    s->pos = calloc((size_t)(2 * s->acting.n), sizeof(uint64_t));
    if (!s->pos) return snprintf(err, err_len, "out of memory"), -1;
    vb_acting_set_params(&s->acting, r->P0, 0);
    if (opts->resume && vb_run_resume(r, opts->resume, err, err_len) != 0) return -1;
    return vb_run_start_files(r, opts->resume != NULL, err, err_len);
}

static int train_serial(const vb_config *cfg, const vb_train_opts *opts) {
    serial s;
    memset(&s, 0, sizeof s);
    vb_run *r = &s.run;
    char err[1024];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int status = VB_EXIT_OK;
    int rc = setup(&s, cfg, opts, err, sizeof err);
    if (rc != 0) {
        vb_error("%s", err);
        status = rc == -2 ? VB_EXIT_USAGE : VB_EXIT_RUNTIME;
        goto out;
    }
    vb_run_announce(r, "serial");
    vb_run_start_clock(r);
    const bool by_updates = cfg->log.every_updates > 0;
    uint64_t next_log = vb_learning_version(r->learning) + (uint64_t)cfg->log.every_updates;
    const char *done = NULL;
    double t = r->t0;
    while (!(done = vb_run_done(r, t)) && !g_stop) {
        if (vb_acting_step(&s.acting, sink, r, err, sizeof err) != 0) {
            vb_error("%s", err);
            status = VB_EXIT_RUNTIME;
            break;
        }
        r->env_steps += s.acting.n;
        int urc = 0;
        while (vb_learning_ready(r->learning) && !g_stop && (urc = vb_run_update(r)) == 0) {
        }
        if (urc == -2) {
            vb_acting_take_stats(&s.acting, &r->tstats);
            vb_run_tick(r, vb_run_now(), NULL, 0, "");
            vb_error("%s", r->fatal);
            status = VB_EXIT_RUNTIME;
            break;
        }
        t = vb_run_now();
        if (by_updates ? vb_learning_version(r->learning) >= next_log : t - r->tick_t >= cfg->log.interval_s) {
            while (by_updates && next_log <= vb_learning_version(r->learning)) next_log += (uint64_t)cfg->log.every_updates;
            vb_acting_take_stats(&s.acting, &r->tstats);
            vb_run_tick(r, t, NULL, 0, "");
        }
    }
    if (g_stop) vb_info("signal %d: stopping after a final checkpoint", (int)g_stop);
    else if (done) vb_info("reached %s: stopping after a final checkpoint", done);
    if (!r->fatal[0] && (status == VB_EXIT_OK || g_stop)) {
        if (vb_run_checkpoint(r, err, sizeof err) != 0) {
            vb_error("final checkpoint failed: %s", err);
            status = VB_EXIT_RUNTIME;
        } else {
            vb_info("final checkpoint in %s (%lld env steps, %llu updates)", r->ckdir, (long long)r->env_steps,
                    (unsigned long long)vb_learning_version(r->learning));
        }
    }
out:
    if (s.acting.env) vb_acting_destroy(&s.acting);
    free(s.pos);
    vb_run_close(r);
    return status;
}

int vb_train_run(const vb_config *cfg, const vb_train_opts *opts) {
    return opts->serial ? train_serial(cfg, opts) : vb_distributed_run(cfg, opts);
}
