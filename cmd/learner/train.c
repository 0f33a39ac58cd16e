/* train — the training loop of ./learner --serial: acting and learning joined
 * in one process through the chunk sink, a run folder with the resolved
 * config, metrics.jsonl and checkpoints, a progress line, and a clean stop on
 * SIGINT/SIGTERM (final checkpoint, then exit 0). */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/agent/acting.h"
#include "../../common/agent/checkpoint.h"
#include "../../common/agent/learning.h"
#include "../../common/base/cli.h"
#include "../../common/base/fs.h"
#include "../../common/base/log.h"
#include "../../common/nn/arena.h"
#include "../../kernels/backend.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct run_state {
    const vb_config *cfg;
    char dir[4096], ckdir[4200];
    FILE *metrics;
    vb_model model;
    vb_env_spec spec;
    vb_learning *learning;
    vb_acting acting;
    const vb_backend *be;
    int64_t env_steps, tasks_total;
    double wall_offset, t0;
    /* interval accumulators */
    vb_update_stats acc;
    int64_t acc_n, rejected;
    vb_task_stats tstats;
} run_state;

static void sink(const vb_chunk *c, void *ctx) {
    run_state *rs = ctx;
    char why[256];
    if (vb_learning_insert(rs->learning, c, why, sizeof why) < 0) {
        rs->rejected++;
        vb_warn("chunk from slot %d rejected: %s", c->slot, why);
    }
}

static void add_stats(vb_update_stats *a, const vb_update_stats *s) {
    a->loss_policy += s->loss_policy;
    a->loss_value += s->loss_value;
    a->entropy += s->entropy;
    a->approx_kl += s->approx_kl;
    a->clip_frac += s->clip_frac;
    a->loss_recon += s->loss_recon;
    a->kl += s->kl;
    a->elbo += s->elbo;
    a->belief_future_loglik += s->belief_future_loglik;
    a->bandit_belief_mae += s->bandit_belief_mae;
    a->grad_norm += s->grad_norm;
    a->value_mean += s->value_mean;
    a->return_mean += s->return_mean;
}

/* ---- checkpoints ---------------------------------------------------------- */
enum { C_ENV_STEPS, C_UPDATES, C_VERSION, C_TASKS, C_ACT_VERSION, C_WALL_BITS, C_COUNT };

static int save_checkpoint(run_state *rs, char *err, size_t err_len) {
    vb_learning *l = rs->learning;
    const vb_model *m = &rs->model;
    vb_optim *o = vb_learning_optim(l);
    vb_replay *rp = vb_learning_replay(l);
    size_t ylen;
    char *yaml = vb_config_to_yaml(rs->cfg, &ylen);
    size_t plen = (size_t)vb_arena_blob_size(&m->layout), olen = (size_t)vb_arena_blob_size(&o->layout);
    void *pblob = malloc(plen), *oblob = malloc(olen);
    int64_t n = rs->acting.n;
    uint64_t *streams = calloc((size_t)(2 * n + 1), sizeof(uint64_t));
    int64_t counters[C_COUNT];
    double wall = rs->wall_offset + now_s() - rs->t0;
    int64_t rmeta[5] = {rp->capacity, rp->size, rp->head, rp->inserted, rp->sampled};
    int rc = -1;
    if (!yaml || !pblob || !oblob || !streams) {
        snprintf(err, err_len, "out of memory writing a checkpoint");
        goto out;
    }
    vb_arena_to_blob(&m->layout, vb_learning_params(l), pblob);
    vb_arena_to_blob(&o->layout, o->state, oblob);
    vb_acting_stream_positions(&rs->acting, streams);
    streams[2 * n] = vb_learning_rng(l)->pos;
    counters[C_ENV_STEPS] = rs->env_steps;
    counters[C_UPDATES] = (int64_t)vb_learning_version(l);
    counters[C_VERSION] = (int64_t)vb_learning_version(l);
    counters[C_TASKS] = rs->tasks_total;
    counters[C_ACT_VERSION] = (int64_t)rs->acting.version;
    memcpy(&counters[C_WALL_BITS], &wall, sizeof wall);
    vb_ckpt_section s[] = {
        {"config", yaml, ylen},
        {"params", pblob, plen},
        {"optim", oblob, olen},
        {"counters", counters, sizeof counters},
        {"streams", streams, sizeof(uint64_t) * (size_t)(2 * n + 1)},
        {"replay.meta", rmeta, sizeof rmeta},
        {"replay.version", rp->version, sizeof(uint64_t) * (size_t)rp->capacity},
        {"replay.data", rp->data, sizeof(float) * (size_t)(rp->capacity * rp->cl.floats)},
        {"acting.params", rs->acting.P, sizeof(float) * (size_t)m->layout.total},
    };
    rc = vb_ckpt_save_in(rs->ckdir, counters[C_UPDATES], s, (int)(sizeof s / sizeof s[0]), 3, err, err_len);
out:
    free(yaml);
    free(pblob);
    free(oblob);
    free(streams);
    return rc;
}

static void warn_line(const char *msg) { vb_warn("%s", msg); }

static int restore_checkpoint(run_state *rs, const vb_ckpt *ck, char *err, size_t err_len) {
    vb_learning *l = rs->learning;
    const vb_model *m = &rs->model;
    vb_optim *o = vb_learning_optim(l);
    vb_replay *rp = vb_learning_replay(l);
    uint64_t len;
    const void *p = vb_ckpt_get(ck, "params", &len);
    if (!p || vb_arena_from_blob(&m->layout, p, (size_t)len, vb_learning_params_mut(l), "checkpoint params", err,
                                 err_len) != 0)
        return p ? -1 : (snprintf(err, err_len, "checkpoint has no params"), -1);
    p = vb_ckpt_get(ck, "optim", &len);
    if (!p || vb_arena_from_blob(&o->layout, p, (size_t)len, o->state, "checkpoint optimiser", err, err_len) != 0)
        return p ? -1 : (snprintf(err, err_len, "checkpoint has no optimiser state"), -1);
    /* section payloads are not aligned: copy fixed-size records out */
    int64_t counters[C_COUNT], rmeta[5];
    const void *cp = vb_ckpt_get(ck, "counters", &len);
    if (!cp || len != sizeof counters) return snprintf(err, err_len, "checkpoint counters malformed"), -1;
    memcpy(counters, cp, sizeof counters);
    int64_t n = rs->acting.n;
    const void *sp = vb_ckpt_get(ck, "streams", &len);
    if (!sp || len != sizeof(uint64_t) * (size_t)(2 * n + 1))
        return snprintf(err, err_len, "checkpoint streams do not match env.batch = %lld", (long long)n), -1;
    uint64_t *streams = malloc((size_t)len);
    if (!streams) return snprintf(err, err_len, "out of memory"), -1;
    memcpy(streams, sp, (size_t)len);
    const void *mp = vb_ckpt_get(ck, "replay.meta", &len);
    if (mp && len == sizeof rmeta) memcpy(rmeta, mp, sizeof rmeta);
    const void *rver = vb_ckpt_get(ck, "replay.version", NULL);
    uint64_t dlen;
    const void *rdata = vb_ckpt_get(ck, "replay.data", &dlen);
    if (!mp || len != sizeof rmeta || rmeta[0] != rp->capacity || !rver || !rdata ||
        dlen != sizeof(float) * (size_t)(rp->capacity * rp->cl.floats)) {
        free(streams);
        return snprintf(err, err_len, "checkpoint replay does not match learner.replay_capacity / window"), -1;
    }
    const void *ap = vb_ckpt_get(ck, "acting.params", &len);
    if (!ap || len != sizeof(float) * (size_t)m->layout.total) {
        free(streams);
        return snprintf(err, err_len, "checkpoint acting parameters malformed"), -1;
    }
    float *apf = malloc((size_t)len);
    if (!apf) {
        free(streams);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    memcpy(apf, ap, (size_t)len);
    rp->size = rmeta[1];
    rp->head = rmeta[2];
    rp->inserted = rmeta[3];
    rp->sampled = rmeta[4];
    memcpy(rp->version, rver, sizeof(uint64_t) * (size_t)rp->capacity);
    memcpy(rp->data, rdata, (size_t)dlen);
    vb_learning_set_version(l, (uint64_t)counters[C_VERSION]);
    vb_learning_rng(l)->pos = streams[2 * n];
    vb_acting_restore_positions(&rs->acting, streams);
    free(streams);
    vb_acting_set_params(&rs->acting, apf, (uint64_t)counters[C_ACT_VERSION]);
    free(apf);
    rs->env_steps = counters[C_ENV_STEPS];
    rs->acting.env_steps = rs->env_steps;
    rs->tasks_total = counters[C_TASKS];
    memcpy(&rs->wall_offset, &counters[C_WALL_BITS], sizeof rs->wall_offset);
    return 0;
}

/* ---- metrics -------------------------------------------------------------- */
static void write_metrics(run_state *rs, double wall, double sps) {
    vb_update_stats a = rs->acc;
    double k = rs->acc_n ? (double)rs->acc_n : 1.0;
    const vb_task_stats *t = &rs->tstats;
    double ret = t->tasks ? t->return_sum / (double)t->tasks : NAN;
    double var = t->tasks > 1 ? (t->return_sq - t->return_sum * ret) / (double)(t->tasks - 1) : 0;
    double se = t->tasks > 1 ? sqrt(fmax(var, 0) / (double)t->tasks) : 0;
    FILE *f = rs->metrics;
    fprintf(f, "{\"env_steps\":%lld,\"updates\":%llu,\"wall_s\":%.3f,\"sps\":%.1f,\"tasks\":%lld",
            (long long)rs->env_steps, (unsigned long long)vb_learning_version(rs->learning), wall, sps,
            (long long)t->tasks);
    if (t->tasks) {
        fprintf(f, ",\"return_mean\":%.6g,\"return_stderr\":%.6g,\"episode_return_mean\":[", ret, se);
        for (int64_t e = 0; e < t->episodes; e++)
            fprintf(f, "%s%.6g", e ? "," : "", t->episode_sum[e] / (double)t->tasks);
        fprintf(f, "]");
    }
    if (rs->acc_n) {
        fprintf(f, ",\"loss_policy\":%.6g,\"loss_value\":%.6g,\"entropy\":%.6g,\"approx_kl\":%.6g,\"clip_frac\":%.6g,"
                   "\"grad_norm\":%.6g,\"value_mean\":%.6g,\"return_target_mean\":%.6g",
                a.loss_policy / k, a.loss_value / k, a.entropy / k, a.approx_kl / k, a.clip_frac / k,
                a.grad_norm / k, a.value_mean / k, a.return_mean / k);
        if (rs->model.d.has_decoder) {
            fprintf(f, ",\"loss_recon\":%.6g,\"kl\":%.6g,\"elbo\":%.6g,\"belief_future_loglik\":%.6g", a.loss_recon / k,
                    a.kl / k, a.elbo / k, a.belief_future_loglik / k);
            if (rs->spec.family == VB_ENV_BANDIT) fprintf(f, ",\"bandit_belief_mae\":%.6g", a.bandit_belief_mae / k);
        }
    }
    fprintf(f, ",\"dropped_stale\":%lld,\"rejected_chunks\":%lld}\n", (long long)vb_learning_dropped(rs->learning),
            (long long)rs->rejected);
    fflush(f);
}

static void progress(run_state *rs, double wall, double sps) {
    const vb_task_stats *t = &rs->tstats;
    double frac = (double)rs->env_steps / (double)rs->cfg->run.total_env_steps;
    double eta = sps > 0 ? (double)(rs->cfg->run.total_env_steps - rs->env_steps) / sps : 0;
    char ret[64] = "return -";
    if (t->tasks) snprintf(ret, sizeof ret, "return %.3f (%lld tasks)", t->return_sum / (double)t->tasks, (long long)t->tasks);
    vb_info("steps %lld/%lld (%.1f%%)  updates %llu  %.0f steps/s  %s  elapsed %.0fs  eta %.0fs", (long long)rs->env_steps,
            (long long)rs->cfg->run.total_env_steps, 100 * frac, (unsigned long long)vb_learning_version(rs->learning),
            sps, ret, wall, eta);
}

/* ---- the run -------------------------------------------------------------- */
static int setup(run_state *rs, const vb_train_opts *opts, char *err, size_t err_len) {
    const vb_config *cfg = rs->cfg;
    rs->be = vb_backend_cpu();
    rs->be->set_threads((int)cfg->learner.threads);
    snprintf(rs->dir, sizeof rs->dir, "%s/%s", cfg->run.root, cfg->run.name);
    snprintf(rs->ckdir, sizeof rs->ckdir, "%s/checkpoints", rs->dir);
    if (vb_fs_mkdirs(rs->dir, err, err_len) != 0) return -1;
    if (vb_env_spec_from_config(cfg, &rs->spec, err, err_len) != 0) return -1;
    if (vb_model_build(&rs->model, cfg, &rs->spec, err, err_len) != 0) return -1;
    float *P0 = calloc((size_t)rs->model.layout.total, sizeof(float));
    if (!P0) return snprintf(err, err_len, "out of memory"), -1;
    if (vb_model_init(&rs->model, P0, (uint64_t)cfg->run.seed) != 0) {
        free(P0);
        return snprintf(err, err_len, "model initialisation failed"), -1;
    }
    int rc = vb_learning_create(&rs->learning, rs->be, &rs->model, cfg, &rs->spec, P0, err, err_len);
    if (rc == 0)
        rc = vb_acting_create(&rs->acting, rs->be, &rs->model, cfg, cfg->env.batch, (uint64_t)cfg->run.seed, 0, err,
                              err_len);
    if (rc == 0) vb_acting_set_params(&rs->acting, P0, 0);
    free(P0);
    if (rc != 0) return -1;
    if (opts->resume) {
        vb_ckpt ck;
        char chosen[4400];
        if (vb_ckpt_load_newest(opts->resume, &ck, chosen, sizeof chosen, warn_line, err, err_len) != 0) return -1;
        rc = restore_checkpoint(rs, &ck, err, err_len);
        vb_ckpt_free(&ck);
        if (rc != 0) return -1;
        vb_info("resumed from %s at %lld env steps, %llu updates", chosen, (long long)rs->env_steps,
                (unsigned long long)vb_learning_version(rs->learning));
    }
    size_t ylen;
    char *yaml = vb_config_to_yaml(cfg, &ylen);
    char path[4400];
    snprintf(path, sizeof path, "%s/config.yaml", rs->dir);
    rc = yaml ? vb_fs_write_atomic(path, yaml, ylen, err, err_len) : -1;
    free(yaml);
    if (rc != 0) return -1;
    snprintf(path, sizeof path, "%s/metrics.jsonl", rs->dir);
    rs->metrics = fopen(path, opts->resume ? "a" : "w");
    if (!rs->metrics) return snprintf(err, err_len, "%s: %s", path, strerror(errno)), -1;
    return 0;
}

int vb_train_run(const vb_config *cfg, const vb_train_opts *opts) {
    if (!opts->serial) {
        vb_error("only --serial training (acting in the learner process) is available in this version");
        return VB_EXIT_USAGE;
    }
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.cfg = cfg;
    char err[1024];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int status = VB_EXIT_OK;
    if (setup(&rs, opts, err, sizeof err) != 0) {
        vb_error("%s", err);
        status = VB_EXIT_RUNTIME;
        goto out;
    }
    vb_info("run folder %s: %s on %s, %lld parameters, target %lld env steps", rs.dir,
            cfg->run.algo == VB_ALGO_RL2 ? "rl2" : cfg->run.algo == VB_ALGO_VARIBAD ? "varibad" : "varibased", rs.spec.name, (long long)rs.model.layout.total,
            (long long)cfg->run.total_env_steps);
    rs.t0 = now_s();
    double last_log = rs.t0, last_steps = (double)rs.env_steps;
    const int64_t publish = cfg->learner.publish_every, ckpt_every = cfg->learner.checkpoint_every;
    while (rs.env_steps < cfg->run.total_env_steps && !g_stop) {
        if (vb_acting_step(&rs.acting, sink, &rs, err, sizeof err) != 0) {
            vb_error("%s", err);
            status = VB_EXIT_RUNTIME;
            break;
        }
        rs.env_steps += rs.acting.n;
        while (vb_learning_ready(rs.learning) && !g_stop) {
            vb_update_stats st;
            if (vb_learning_update(rs.learning, &st, err, sizeof err) != 0) {
                vb_warn("%s", err);
                break;
            }
            add_stats(&rs.acc, &st);
            rs.acc_n++;
            uint64_t v = vb_learning_version(rs.learning);
            if (v % (uint64_t)publish == 0) vb_acting_set_params(&rs.acting, vb_learning_params(rs.learning), v);
            if (ckpt_every > 0 && v % (uint64_t)ckpt_every == 0 && save_checkpoint(&rs, err, sizeof err) != 0)
                vb_warn("checkpoint failed: %s", err);
        }
        double t = now_s();
        if (t - last_log >= cfg->log.interval_s) {
            vb_task_stats ts;
            vb_acting_take_stats(&rs.acting, &ts);
            rs.tstats = ts;
            rs.tasks_total += ts.tasks;
            double sps = ((double)rs.env_steps - last_steps) / (t - last_log);
            double wall = rs.wall_offset + t - rs.t0;
            write_metrics(&rs, wall, sps);
            progress(&rs, wall, sps);
            memset(&rs.acc, 0, sizeof rs.acc);
            rs.acc_n = 0;
            last_log = t;
            last_steps = (double)rs.env_steps;
        }
    }
    if (g_stop) vb_info("signal %d: stopping after a final checkpoint", (int)g_stop);
    if (status == VB_EXIT_OK || g_stop) {
        if (save_checkpoint(&rs, err, sizeof err) != 0) {
            vb_error("final checkpoint failed: %s", err);
            status = VB_EXIT_RUNTIME;
        } else {
            vb_info("final checkpoint in %s (%lld env steps, %llu updates)", rs.ckdir, (long long)rs.env_steps,
                    (unsigned long long)vb_learning_version(rs.learning));
        }
    }
out:
    if (rs.metrics) fclose(rs.metrics);
    if (rs.acting.env) vb_acting_destroy(&rs.acting);
    vb_learning_destroy(rs.learning);
    return status;
}
