/* run — see run.h. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/base/checkpoint.h"
#include "../../common/eval/evaluate.h"
#include "../../common/base/fs.h"
#include "../../common/base/log.h"
#include "../../common/base/version.h"
#include "build_info.h"
#include "../../common/params/params.h"
#include "../../common/nn/arena.h"
#include "../../kernels/backend.h"
#include "../../kernels/blas_core.h"
#include "../../common/base/clock.h"

double vb_run_now(void) { return vb_mono_s(); }

const char *vb_run_done(const vb_run *r, double t) {
    if (r->env_steps >= r->cfg->run.total_env_steps) return "run.total_env_steps";
    double limit = r->cfg->run.max_wall_s;
    if (limit > 0 && r->wall_offset + t - r->t0 >= limit) return "run.max_wall_s";
    return NULL;
}

/* Whether the folder holds a run's files. */
static bool holds_run(const char *dir) {
    static const char *const names[] = {"config.yaml", "metrics.jsonl", "evals.jsonl", "checkpoints"};
    char path[4400];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (access(path, F_OK) == 0) return true;
    }
    return false;
}

/* The run folder, created if new, locked for this process (flock on the
 * folder itself, so nothing is added to it; released when the process
 * ends), and refused when it holds a run and this is not a resume. 0, -1
 * with err, or -2 with err (refused: a usage error). */
static int claim_folder(vb_run *r, bool resume, char *err, size_t err_len) {
    r->lock_fd = -1;
    r->created_dir = access(r->dir, F_OK) != 0;
    if (vb_fs_mkdirs(r->dir, err, err_len) != 0) return -1;
    r->lock_fd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->lock_fd < 0) return snprintf(err, err_len, "%s: %s", r->dir, strerror(errno)), -1;
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return snprintf(err, err_len,
                        "run folder %s is in use by another learner; wait for it to end, or start this run under "
                        "another name (--set run.name=NEW)",
                        r->dir), -2;
    if (!resume && holds_run(r->dir))
        return snprintf(err, err_len,
                        "run folder %s already holds a run; nothing was changed. Continue it with --resume %s, or "
                        "start a fresh run under another name (--set run.name=NEW)",
                        r->dir, r->dir), -2;
    return 0;
}

int vb_run_open(vb_run *r, const vb_config *cfg, bool resume, char *err, size_t err_len) {
    memset(r, 0, sizeof *r);
    r->lock_fd = -1;
    r->cfg = cfg;
    r->be = vb_backend_cpu();
    r->be->set_threads((int)cfg->learner.threads);
    snprintf(r->dir, sizeof r->dir, "%s/%s", cfg->run.root, cfg->run.name);
    snprintf(r->ckdir, sizeof r->ckdir, "%s/checkpoints", r->dir);
    int rc = claim_folder(r, resume, err, err_len);
    if (rc != 0) return rc;
    if (vb_env_spec_from_config(cfg, &r->spec, err, err_len) != 0) return -1;
    if (vb_model_build_from_config(&r->model, cfg, &r->spec, err, err_len) != 0) return -1;
    vb_chunk_layout_init(&r->cl, &r->model, cfg->learner.window, cfg->run.algo == VB_ALGO_VARIBASED);
    r->P0 = calloc((size_t)r->model.layout.total, sizeof(float));
    if (!r->P0) return snprintf(err, err_len, "out of memory"), -1;
    if (vb_model_init(&r->model, r->P0, (uint64_t)cfg->run.seed) != 0)
        return snprintf(err, err_len, "model initialisation failed"), -1;
    vb_learning_cfg lp = vb_learning_cfg_from(cfg);
    return vb_learning_create(&r->learning, r->be, &r->model, &lp, &r->spec, r->P0, err, err_len);
}

/* A JSON string (quotes and escapes) of text. */
static void put_json_string(FILE *f, const char *text) {
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
        else fputc(*c, f);
    }
    fputc('"', f);
}

/* provenance.jsonl: one line per learner start (appended): when, where, what
 * binary and command line, and how it started. */
static int write_provenance(const vb_run *r, bool resume, char *err, size_t err_len) {
    char path[4400], host[256] = "", when[32];
    snprintf(path, sizeof path, "%s/provenance.jsonl", r->dir);
    FILE *f = fopen(path, "a");
    if (!f) return snprintf(err, err_len, "%s: %s", path, strerror(errno)), -1;
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "{\"started\":\"%s\",\"host\":", when);
    put_json_string(f, host);
    fprintf(f, ",\"pid\":%ld,\"version\":\"%s\",\"commit\":", (long)getpid(), VB_VERSION);
    if (VB_GIT_COMMIT[0]) put_json_string(f, VB_GIT_COMMIT);
    else fputs("null", f);
    fprintf(f, ",\"mode\":\"%s\",\"resumed\":%s,\"env_steps\":%lld,\"updates\":%llu,\"argv\":[",
            r->mode.name ? r->mode.name : "?", resume ? "true" : "false", (long long)r->env_steps,
            (unsigned long long)vb_learning_version(r->learning));
    for (int i = 0; i < r->argc; i++) {
        if (i) fputc(',', f);
        put_json_string(f, r->argv[i]);
    }
    fputs("],\"config\":\"config.yaml\"}\n", f);
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    return bad ? (snprintf(err, err_len, "%s: write failed", path), -1) : 0;
}

int vb_run_start_files(vb_run *r, bool resume, char *err, size_t err_len) {
    /* the folder is this process's: what a killed writer left half-written goes */
    int stale = vb_ckpt_remove_stale_tmp(r->dir) + vb_ckpt_remove_stale_tmp(r->ckdir);
    if (stale) vb_info("removed %d temporary file%s a killed learner left in %s", stale, stale == 1 ? "" : "s", r->dir);
    size_t ylen;
    char *yaml = vb_config_to_yaml(r->cfg, &ylen);
    char path[4400];
    snprintf(path, sizeof path, "%s/config.yaml", r->dir);
    int rc = yaml ? vb_fs_write_atomic(path, yaml, ylen, err, err_len) : (snprintf(err, err_len, "out of memory"), -1);
    free(yaml);
    if (rc != 0) return -1;
    snprintf(path, sizeof path, "%s/metrics.jsonl", r->dir);
    r->metrics = fopen(path, "a");
    if (!r->metrics) return snprintf(err, err_len, "%s: %s", path, strerror(errno)), -1;
    r->started = true;
    if (write_provenance(r, resume, err, err_len) != 0) return -1;
    /* this process's log lines from here on, in the run folder too */
    snprintf(path, sizeof path, "%s/logs", r->dir);
    if (vb_fs_mkdirs(path, err, err_len) != 0) return -1;
    snprintf(path, sizeof path, "%s/logs/learner.log", r->dir);
    if (vb_log_set_file(path) != 0) return snprintf(err, err_len, "%s: %s", path, strerror(errno)), -1;
    if (r->cfg->log.tensorboard) {
        if (vb_tboard_open(&r->tb, r->dir, err, err_len) != 0) return -1;
        /* the hyperparameters: the resolved config, in the Text tab */
        size_t ylen2;
        char *y = vb_config_to_yaml(r->cfg, &ylen2);
        size_t tlen = ylen2 + 64;
        char *text = y ? malloc(tlen) : NULL;
        if (text) {
            snprintf(text, tlen, "```\n%s```\n", y);
            vb_tboard_text(&r->tb, r->env_steps, "config", text);
        }
        free(text);
        free(y);
    }
    return 0;
}

void vb_run_close(vb_run *r) {
    if (r->metrics) fclose(r->metrics);
    if (r->started) vb_log_close_file();
    /* a start that failed before writing anything leaves no new folder behind */
    if (r->created_dir && !r->started && r->dir[0]) rmdir(r->dir);
    if (r->lock_fd >= 0) close(r->lock_fd);
    r->lock_fd = -1;
    vb_tboard_close(&r->tb);
    vb_learning_destroy(r->learning);
    free(r->P0);
    r->metrics = NULL;
    r->learning = NULL;
    r->P0 = NULL;
}

void vb_run_announce(const vb_run *r, const char *mode) {
    const vb_config *cfg = r->cfg;
    const char *algo = cfg->run.algo == VB_ALGO_RL2 ? "rl2" : cfg->run.algo == VB_ALGO_VARIBAD ? "varibad" : "varibased";
    vb_info("run folder %s: %s on %s, %lld parameters, target %lld env steps (%s; OpenBLAS %s kernels)", r->dir,
            algo, r->spec.name, (long long)r->model.layout.total, (long long)cfg->run.total_env_steps, mode,
            vb_blas_core_name());
}

/* ---- checkpoints ---------------------------------------------------------- */
static void fill_counters(const vb_run *r, int64_t act_version, int64_t counters[VB_RUN_C_COUNT]) {
    double wall = r->wall_offset + vb_run_now() - r->t0;
    memset(counters, 0, sizeof(int64_t) * VB_RUN_C_COUNT);
    counters[VB_RUN_C_ENV_STEPS] = r->env_steps;
    counters[VB_RUN_C_UPDATES] = (int64_t)vb_learning_version(r->learning);
    counters[VB_RUN_C_VERSION] = (int64_t)vb_learning_version(r->learning);
    counters[VB_RUN_C_TASKS] = r->tasks_total;
    counters[VB_RUN_C_ACT_VERSION] = act_version;
    memcpy(&counters[VB_RUN_C_WALL_BITS], &wall, sizeof wall);
}

int vb_run_save(vb_run *r, const uint64_t *pos, int64_t k, int64_t act_version, const vb_ckpt_section *extra,
                int n_extra, char *err, size_t err_len) {
    vb_learning *l = r->learning;
    const vb_model *m = &r->model;
    vb_optim *o = vb_learning_optim(l);
    vb_replay *rp = vb_learning_replay(l);
    size_t ylen;
    char *yaml = vb_config_to_yaml(r->cfg, &ylen);
    size_t plen = (size_t)vb_arena_blob_size(&m->layout), olen = (size_t)vb_arena_blob_size(&o->layout);
    void *pblob = malloc(plen), *oblob = malloc(olen);
    uint64_t *streams = calloc((size_t)(2 * k + 1), sizeof(uint64_t));
    int64_t counters[VB_RUN_C_COUNT];
    int64_t rmeta[5] = {rp->capacity, rp->size, rp->head, rp->inserted, rp->sampled};
    int rc = -1;
    if (!yaml || !pblob || !oblob || !streams) {
        snprintf(err, err_len, "out of memory writing a checkpoint");
        goto out;
    }
    const char *bad = vb_arena_first_nonfinite(&m->layout, vb_learning_params(l));
    if (!bad) bad = vb_arena_first_nonfinite(&o->layout, o->state);
    if (bad) {
        snprintf(err, err_len, "not writing a checkpoint: %s of the learner's state is non-finite", bad);
        goto out;
    }
    vb_arena_to_blob(&m->layout, vb_learning_params(l), pblob);
    vb_arena_to_blob(&o->layout, o->state, oblob);
    if (k > 0) memcpy(streams, pos, sizeof(uint64_t) * (size_t)(2 * k));
    streams[2 * k] = vb_learning_rng(l)->pos;
    fill_counters(r, act_version, counters);
    vb_ckpt_section s[VB_CKPT_MAX_SECTIONS] = {
        {"config", yaml, ylen},
        {"params", pblob, plen},
        {"optim", oblob, olen},
        {"counters", counters, sizeof counters},
        {"streams", streams, sizeof(uint64_t) * (size_t)(2 * k + 1)},
        {"replay.meta", rmeta, sizeof rmeta},
        {"replay.version", rp->version, sizeof(uint64_t) * (size_t)rp->capacity},
        {"replay.data", rp->data, sizeof(float) * (size_t)(rp->capacity * rp->cl.floats)},
    };
    int n = 8;
    for (int i = 0; i < n_extra && n < VB_CKPT_MAX_SECTIONS; i++) s[n++] = extra[i];
    if (r->mode.save_async) {
        void *buf;
        size_t len;
        rc = vb_ckpt_encode(s, n, &buf, &len, err, err_len);
        if (rc == 0) r->mode.save_async(r->mode.ctx, buf, len, counters[VB_RUN_C_UPDATES]);
    } else {
        rc = vb_ckpt_save_in(r->ckdir, counters[VB_RUN_C_UPDATES], s, n, 3, err, err_len);
    }
out:
    free(yaml);
    free(pblob);
    free(oblob);
    free(streams);
    return rc;
}

int vb_run_restore(vb_run *r, const vb_ckpt *ck, const void **pos, int64_t *k, int64_t *act_version, char *err,
                   size_t err_len) {
    vb_learning *l = r->learning;
    const vb_model *m = &r->model;
    vb_optim *o = vb_learning_optim(l);
    vb_replay *rp = vb_learning_replay(l);
    uint64_t len;
    const void *p = vb_ckpt_get(ck, "params", &len);
    if (!p) return snprintf(err, err_len, "checkpoint has no params"), -1;
    if (vb_arena_from_blob(&m->layout, p, (size_t)len, vb_learning_params_mut(l), "checkpoint params", err, err_len) != 0)
        return -1;
    p = vb_ckpt_get(ck, "optim", &len);
    if (!p) return snprintf(err, err_len, "checkpoint has no optimiser state"), -1;
    if (vb_arena_from_blob(&o->layout, p, (size_t)len, o->state, "checkpoint optimiser", err, err_len) != 0) return -1;
    /* section payloads are not aligned: copy fixed-size records out */
    int64_t counters[VB_RUN_C_COUNT], rmeta[5];
    const void *cp = vb_ckpt_get(ck, "counters", &len);
    if (!cp || len != sizeof counters) return snprintf(err, err_len, "checkpoint counters malformed"), -1;
    memcpy(counters, cp, sizeof counters);
    double wall;
    memcpy(&wall, &counters[VB_RUN_C_WALL_BITS], sizeof wall);
    static const char *const cname[] = {"env steps", "updates", "policy version", "tasks", "acting version"};
    for (int i = 0; i < VB_RUN_C_WALL_BITS; i++)
        if (counters[i] < 0)
            return snprintf(err, err_len, "checkpoint counters out of range: %s = %lld", cname[i],
                            (long long)counters[i]), -1;
    if (counters[VB_RUN_C_ACT_VERSION] > counters[VB_RUN_C_VERSION] || !isfinite(wall) || wall < 0 || wall > 1e10)
        return snprintf(err, err_len, "checkpoint counters out of range: acting version %lld (policy version %lld), "
                        "wall seconds %g", (long long)counters[VB_RUN_C_ACT_VERSION],
                        (long long)counters[VB_RUN_C_VERSION], wall), -1;
    const unsigned char *sp = vb_ckpt_get(ck, "streams", &len);
    if (!sp || len < sizeof(uint64_t) || len % (2 * sizeof(uint64_t)) != sizeof(uint64_t))
        return snprintf(err, err_len, "checkpoint streams malformed"), -1;
    *k = (int64_t)(len / sizeof(uint64_t) - 1) / 2;
    *pos = sp;
    uint64_t learn_pos;
    memcpy(&learn_pos, sp + 2 * (size_t)*k * sizeof(uint64_t), sizeof learn_pos);
    const void *mp = vb_ckpt_get(ck, "replay.meta", &len);
    if (mp && len == sizeof rmeta) memcpy(rmeta, mp, sizeof rmeta);
    uint64_t vlen = 0, dlen;
    const void *rver = vb_ckpt_get(ck, "replay.version", &vlen);
    const void *rdata = vb_ckpt_get(ck, "replay.data", &dlen);
    if (!mp || len != sizeof rmeta || !rver || !rdata || rmeta[1] < 0 || rmeta[1] > rmeta[0] || rmeta[2] < 0 ||
        rmeta[2] >= rmeta[0] || rmeta[0] <= 0 || rmeta[3] < rmeta[1] || rmeta[4] < 0)
        return snprintf(err, err_len, "checkpoint replay section malformed"), -1;
    if (rmeta[0] != rp->capacity || vlen != sizeof(uint64_t) * (size_t)rp->capacity ||
        dlen != sizeof(float) * (size_t)(rp->capacity * rp->cl.floats))
        return snprintf(err, err_len,
                        "checkpoint replay holds %lld chunks of %llu floats; this run's replay is %lld chunks of %lld "
                        "floats (learner.replay_capacity, learner.window, the model, or a checkpoint written by an "
                        "older version whose chunk layout differs)",
                        (long long)rmeta[0], (unsigned long long)(dlen / sizeof(float) / (uint64_t)rmeta[0]),
                        (long long)rp->capacity, (long long)rp->cl.floats), -1;
    rp->size = rmeta[1];
    rp->head = rmeta[2];
    rp->inserted = rmeta[3];
    rp->sampled = rmeta[4];
    memcpy(rp->version, rver, sizeof(uint64_t) * (size_t)rp->capacity);
    memcpy(rp->data, rdata, (size_t)dlen);
    vb_learning_set_version(l, (uint64_t)counters[VB_RUN_C_VERSION]);
    vb_learning_rng(l)->pos = learn_pos;
    *act_version = counters[VB_RUN_C_ACT_VERSION];
    r->env_steps = counters[VB_RUN_C_ENV_STEPS];
    r->tasks_total = counters[VB_RUN_C_TASKS];
    memcpy(&r->wall_offset, &counters[VB_RUN_C_WALL_BITS], sizeof r->wall_offset);
    return 0;
}

/* ---- the shared protocol ---------------------------------------------------- */
static void warn_line(const char *msg) { vb_warn("%s", msg); }

int vb_run_resume(vb_run *r, const char *from, char *err, size_t err_len) {
    vb_ckpt ck;
    char chosen[4400];
    if (vb_ckpt_load_newest(from, &ck, chosen, sizeof chosen, warn_line, err, err_len) != 0) return -1;
    const void *pos;
    int64_t k, act_version;
    int rc = vb_run_restore(r, &ck, &pos, &k, &act_version, err, err_len);
    if (rc == 0 && r->mode.restore) rc = r->mode.restore(r->mode.ctx, &ck, pos, k, act_version, err, err_len);
    vb_ckpt_free(&ck);
    if (rc == 0)
        vb_info("resumed from %s at %lld env steps, %llu updates", chosen, (long long)r->env_steps,
                (unsigned long long)vb_learning_version(r->learning));
    return rc;
}

int vb_run_checkpoint(vb_run *r, char *err, size_t err_len) {
    if (r->mode.save_async && r->mode.save_busy && r->mode.save_busy(r->mode.ctx)) {
        const int64_t k = ++r->ckpt_skipped;
        if ((k & (k - 1)) == 0) /* the 1st, 2nd, 4th, 8th, ... */
            vb_info("periodic checkpoint at update %llu skipped: the previous one is still being written (%lld "
                    "skipped so far; learner.checkpoint_every is shorter than a write)",
                    (unsigned long long)vb_learning_version(r->learning), (long long)k);
        return 0;
    }
    uint64_t *pos = NULL;
    int64_t k = 0, act_version = (int64_t)vb_learning_version(r->learning);
    vb_ckpt_section extra[4];
    int n_extra = 0;
    if (r->mode.ckpt_state &&
        r->mode.ckpt_state(r->mode.ctx, &pos, &k, &act_version, extra, &n_extra, err, err_len) != 0)
        return -1;
    return vb_run_save(r, pos, k, act_version, extra, n_extra, err, err_len);
}

int vb_run_update(vb_run *r) {
    vb_update_stats st;
    char err[1024];
    if (r->fatal[0]) return -2;
    if (vb_learning_update(r->learning, &st, err, sizeof err) != 0) {
        r->nonfinite_updates++;
        r->skipped_in_row++;
        if (r->skipped_in_row == 1 || r->skipped_in_row % 10 == 0) vb_warn("%s", err);
        if (r->skipped_in_row >= r->cfg->learner.max_skipped_updates) {
            snprintf(r->fatal, sizeof r->fatal,
                     "training diverged: %lld consecutive updates had a non-finite loss or gradient "
                     "(learner.max_skipped_updates = %lld); lower learner.lr or keep learner.grad_clip on, then "
                     "resume from the last checkpoint (no checkpoint is written now)",
                     (long long)r->skipped_in_row, (long long)r->cfg->learner.max_skipped_updates);
            return -2;
        }
        return -1;
    }
    r->skipped_in_row = 0;
    /* one vectorised pass over the state (a sum of squares in double is
     * finite exactly when every float is); the tensor is looked up only then */
    const vb_optim *o = vb_learning_optim(r->learning);
    const float *P = vb_learning_params(r->learning);
    if (!isfinite(r->be->sumsq(P, r->model.layout.total)) || !isfinite(r->be->sumsq(o->state, o->layout.total))) {
        const char *bad = vb_arena_first_nonfinite(&r->model.layout, P);
        if (!bad) bad = vb_arena_first_nonfinite(&o->layout, o->state);
        snprintf(r->fatal, sizeof r->fatal,
                 "training diverged: %s of the learner's state is non-finite after update %llu; lower learner.lr or keep "
                 "learner.grad_clip on, then resume from the last checkpoint (no checkpoint is written now)",
                 bad, (unsigned long long)vb_learning_version(r->learning));
        return -2;
    }
    vb_run_add_update(r, &st);
    vb_run_maybe_eval(r);
    const uint64_t v = vb_learning_version(r->learning);
    if (v % (uint64_t)r->cfg->learner.publish_every == 0 && r->mode.publish &&
        r->mode.publish(r->mode.ctx, err, sizeof err) != 0)
        vb_warn("publishing weights: %s", err);
    const int64_t every = r->cfg->learner.checkpoint_every;
    if (every > 0 && v % (uint64_t)every == 0 && vb_run_checkpoint(r, err, sizeof err) != 0)
        vb_error("periodic checkpoint failed: %s", err);
    return 0;
}

void vb_run_start_clock(vb_run *r) {
    r->t0 = r->tick_t = vb_run_now();
    r->tick_steps = r->env_steps;
}

void vb_run_tick(vb_run *r, double t, const vb_metric *extra, int n_extra, const char *progress) {
    double sps = t > r->tick_t ? (double)(r->env_steps - r->tick_steps) / (t - r->tick_t) : 0;
    double wall = r->wall_offset + t - r->t0;
    vb_run_write_metrics(r, wall, sps, extra, n_extra);
    vb_run_progress(r, wall, sps, progress);
    vb_run_next_interval(r);
    r->tick_t = t;
    r->tick_steps = r->env_steps;
}

/* ---- metrics -------------------------------------------------------------- */
void vb_run_add_update(vb_run *r, const vb_update_stats *s) {
    vb_update_stats *a = &r->acc;
    a->loss_policy += s->loss_policy;
    a->loss_value += s->loss_value;
    a->entropy += s->entropy;
    a->approx_kl += s->approx_kl;
    a->clip_frac += s->clip_frac;
    a->loss_recon += s->loss_recon;
    a->kl += s->kl;
    a->elbo += s->elbo;
    a->belief_future_loglik += s->belief_future_loglik;
    a->state_loglik += s->state_loglik;
    if (s->belief_mae >= 0) { /* measured on some updates only */
        a->belief_mae += s->belief_mae;
        r->mae_n++;
    }
    a->grad_norm += s->grad_norm;
    a->lr = s->lr; /* the rate now, not an average */
    a->value_mean += s->value_mean;
    a->return_mean += s->return_mean;
    a->planner_value_mean += s->planner_value_mean;
    a->carry_refreshed += s->carry_refreshed;
    a->carry_drift += s->carry_drift;
    a->masked_frac += s->masked_frac;
    r->acc_n++;
}

/* One metrics line's table: a JSONL key, a TensorBoard tag (NULL: none) and a
 * value printed as an integer, with 3 or 1 decimals, or %.6g. */
enum { M_MAX = 64 };
typedef struct metric_table {
    vb_metric m[M_MAX];
    int n;
} metric_table;

static void put(metric_table *t, const char *key, const char *tag, double v, int fmt) {
    if (t->n < M_MAX) t->m[t->n++] = (vb_metric){key, tag, v, fmt};
}

/* Every value of the interval in the order of the JSONL line; the episode
 * returns (an array) follow return_stderr. */
static void build_table(const vb_run *r, double wall, double sps, const vb_metric *extra, int n_extra,
                        metric_table *t) {
    const vb_update_stats *a = &r->acc;
    const double k = r->acc_n ? (double)r->acc_n : 1.0, kmae = r->mae_n ? (double)r->mae_n : 1.0;
    const vb_task_stats *ts = &r->tstats;
    t->n = 0;
    put(t, "env_steps", NULL, (double)r->env_steps, VB_METRIC_INT);
    put(t, "updates", "train/updates", (double)vb_learning_version(r->learning), VB_METRIC_INT);
    put(t, "wall_s", "train/wall_s", wall, VB_METRIC_F3);
    put(t, "sps", "train/steps_per_s", sps, VB_METRIC_F1);
    put(t, "tasks", "train/tasks", (double)ts->tasks, VB_METRIC_INT);
    if (ts->tasks) {
        double ret = ts->return_sum / (double)ts->tasks;
        double var = ts->tasks > 1 ? (ts->return_sq - ts->return_sum * ret) / (double)(ts->tasks - 1) : 0;
        double se = ts->tasks > 1 ? sqrt(fmax(var, 0) / (double)ts->tasks) : 0;
        put(t, "return_mean", "return/mean", ret, VB_METRIC_G6);
        put(t, "return_stderr", "return/stderr", se, VB_METRIC_G6);
    }
    if (r->acc_n) {
        put(t, "loss_policy", "loss/policy", a->loss_policy / k, VB_METRIC_G6);
        put(t, "loss_value", "loss/value", a->loss_value / k, VB_METRIC_G6);
        put(t, "entropy", "loss/entropy", a->entropy / k, VB_METRIC_G6);
        put(t, "approx_kl", "loss/approx_kl", a->approx_kl / k, VB_METRIC_G6);
        put(t, "clip_frac", "loss/clip_frac", a->clip_frac / k, VB_METRIC_G6);
        if (r->cfg->run.algo != VB_ALGO_VARIBASED)
            put(t, "ppo_masked", "loss/ppo_masked", a->masked_frac / k, VB_METRIC_G6);
        put(t, "grad_norm", "train/grad_norm", a->grad_norm / k, VB_METRIC_G6);
        put(t, "lr", "train/lr", a->lr, VB_METRIC_G6);
        put(t, "value_mean", "train/value_mean", a->value_mean / k, VB_METRIC_G6);
        put(t, "return_target_mean", "train/return_target_mean", a->return_mean / k, VB_METRIC_G6);
        if (r->model.d.has_decoder) {
            put(t, "loss_recon", "belief/loss_recon", a->loss_recon / k, VB_METRIC_G6);
            put(t, "kl", "belief/kl", a->kl / k, VB_METRIC_G6);
            put(t, "elbo", "belief/elbo", a->elbo / k, VB_METRIC_G6);
            put(t, "belief_future_loglik", "belief/future_loglik", a->belief_future_loglik / k, VB_METRIC_G6);
            if (r->model.d.has_state_head)
                put(t, "state_loglik", "belief/state_loglik", a->state_loglik / k, VB_METRIC_G6);
            if ((r->spec.family == VB_ENV_BANDIT || r->spec.family == VB_ENV_GRIDWORLD) && r->mae_n)
                put(t, "belief_mae", "belief/mae", a->belief_mae / kmae, VB_METRIC_G6);
            if (r->cfg->run.algo == VB_ALGO_VARIBASED)
                put(t, "planner_value_mean", "planner/value_mean", a->planner_value_mean / k, VB_METRIC_G6);
        }
        if (r->cfg->learner.refresh_carry) {
            put(t, "carry_refreshed", "train/carry_refreshed", a->carry_refreshed / k, VB_METRIC_G6);
            put(t, "carry_drift", "train/carry_drift", a->carry_drift / k, VB_METRIC_G6);
        }
    }
    int64_t lag_n;
    const double lag = vb_learning_take_lag(r->learning, &lag_n);
    if (lag_n > 0) put(t, "policy_lag", "train/policy_lag", lag, VB_METRIC_G6);
    put(t, "dropped_stale", "train/dropped_stale", (double)vb_learning_dropped(r->learning), VB_METRIC_INT);
    put(t, "rejected_chunks", "train/rejected_chunks", (double)r->rejected_chunks, VB_METRIC_INT);
    put(t, "nonfinite_updates", "train/nonfinite_updates", (double)r->nonfinite_updates, VB_METRIC_INT);
    for (int i = 0; i < n_extra; i++) put(t, extra[i].key, extra[i].tag, extra[i].value, extra[i].fmt);
}

static void put_json(FILE *f, const vb_metric *m) {
    switch (m->fmt) {
    case VB_METRIC_INT: fprintf(f, "\"%s\":%lld", m->key, (long long)m->value); break;
    case VB_METRIC_F3: fprintf(f, "\"%s\":%.3f", m->key, m->value); break;
    case VB_METRIC_F1: fprintf(f, "\"%s\":%.1f", m->key, m->value); break;
    default: fprintf(f, "\"%s\":%.6g", m->key, m->value);
    }
}

void vb_run_write_metrics(vb_run *r, double wall, double sps, const vb_metric *extra, int n_extra) {
    metric_table t;
    build_table(r, wall, sps, extra, n_extra, &t);
    const vb_task_stats *ts = &r->tstats;
    r->tasks_total += ts->tasks;
    FILE *f = r->metrics;
    fputc('{', f);
    for (int i = 0; i < t.n; i++) {
        if (i) fputc(',', f);
        put_json(f, &t.m[i]);
        if (!strcmp(t.m[i].key, "return_stderr")) { /* the per-episode means, an array */
            fprintf(f, ",\"episode_return_mean\":[");
            for (int64_t e = 0; e < ts->episodes; e++)
                fprintf(f, "%s%.6g", e ? "," : "", ts->episode_sum[e] / (double)ts->tasks);
            fputc(']', f);
        }
    }
    fputs("}\n", f);
    fflush(f);
    if (r->tb.f) { /* the same table as TensorBoard scalars, by environment step */
        vb_tboard *tb = &r->tb;
        const int64_t s = r->env_steps;
        for (int i = 0; i < t.n; i++)
            if (t.m[i].tag) vb_tboard_scalar(tb, s, t.m[i].tag, t.m[i].value);
        char tag[64];
        for (int64_t e = 0; ts->tasks && e < ts->episodes && ts->episodes > 1; e++) {
            snprintf(tag, sizeof tag, "return/episode_%lld", (long long)(e + 1));
            vb_tboard_scalar(tb, s, tag, ts->episode_sum[e] / (double)ts->tasks);
        }
        int failed = tb->failed;
        if (vb_tboard_flush(tb) != 0 && !failed) vb_warn("TensorBoard event file: a write failed; no further events are written");
    }
}

/* ---- evaluation during training ------------------------------------------- */
/* The validation return of the run's best.vbc, once per process (a resumed
 * run keeps the best it had); -inf when there is none. */
static double best_so_far(vb_run *r) {
    if (!r->best_known) {
        char path[4400], err[256];
        snprintf(path, sizeof path, "%s/" VB_CKPT_BEST, r->ckdir);
        r->best_return = -INFINITY;
        vb_ckpt ck;
        if (access(path, F_OK) == 0 && vb_ckpt_read(path, &ck, err, sizeof err) == 0) {
            uint64_t n;
            const void *p = vb_ckpt_get(&ck, "validation", &n);
            if (p && n >= sizeof(double)) memcpy(&r->best_return, p, sizeof(double));
            vb_ckpt_free(&ck);
        } else if (access(path, F_OK) == 0) {
            vb_warn("%s (a new best replaces it)", err);
        }
        r->best_known = true;
    }
    return r->best_return;
}

/* checkpoints/best.vbc: the config, the current weights and counters, and
 * "validation" = {return (f64), updates (i64), env_steps (i64)}. */
static int save_best(vb_run *r, const float *params, const vb_run_snapshot *at, double ret, char *err,
                     size_t err_len) {
    size_t ylen, plen = (size_t)vb_arena_blob_size(&r->model.layout);
    char *yaml = vb_config_to_yaml(r->cfg, &ylen);
    void *pblob = malloc(plen);
    int rc = -1;
    if (!yaml || !pblob) {
        snprintf(err, err_len, "out of memory writing %s", VB_CKPT_BEST);
    } else {
        vb_arena_to_blob(&r->model.layout, params, pblob);
        int64_t counters[VB_RUN_C_COUNT];
        memcpy(counters, at->counters, sizeof counters);
        unsigned char val[24];
        int64_t u = counters[VB_RUN_C_UPDATES], s = at->env_steps;
        memcpy(val, &ret, 8);
        memcpy(val + 8, &u, 8);
        memcpy(val + 16, &s, 8);
        const vb_ckpt_section sec[] = {
            {"config", yaml, ylen},
            {"params", pblob, plen},
            {"counters", counters, sizeof counters},
            {"validation", val, sizeof val},
        };
        char path[4400];
        snprintf(path, sizeof path, "%s/" VB_CKPT_BEST, r->ckdir);
        rc = vb_fs_mkdirs(r->ckdir, err, err_len) == 0 ? vb_ckpt_write(path, sec, 4, err, err_len) : -1;
    }
    free(yaml);
    free(pblob);
    return rc;
}

int vb_run_eval_snapshot(vb_run *r, const float *params, const vb_run_snapshot *at, double *ret_out) {
    const vb_config *cfg = r->cfg;
    const uint64_t v = at->updates;
    char path[4400];
    const bool policy = cfg->eval.during_training == VB_EVAL_POLICY;
    vb_eval_options opt = vb_eval_options_from(cfg);
    opt.agent = "checkpoint";
    opt.model = &r->model;
    opt.params = params;
    opt.threads = cfg->learner.threads > 0 ? cfg->learner.threads : vb_eval_default_threads();
    opt.validation = true;
    opt.plan = !policy;
    double t0 = vb_run_now();
    vb_eval_result res;
    int rc = vb_eval_run(&opt, NULL, &res);
    if (rc != 0) {
        vb_warn("evaluation at update %llu failed (status %d)", (unsigned long long)v, rc);
        return -1;
    }
    const double ret = res.return_mean;
    bool best = false;
    if (cfg->eval.keep_best && isfinite(ret) && ret > best_so_far(r)) {
        char err[512];
        if (save_best(r, params, at, ret, err, sizeof err) == 0) {
            r->best_return = ret;
            best = true;
        } else {
            vb_warn("keeping the best weights: %s", err);
        }
    }
    snprintf(path, sizeof path, "%s/evals.jsonl", r->dir);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "{\"updates\":%llu,\"env_steps\":%lld,\"eval_s\":%.3f,\"agent\":\"%s\"", (unsigned long long)v,
                (long long)at->env_steps, vb_run_now() - t0, policy ? "policy" : "planner");
        if (cfg->eval.keep_best) fprintf(f, ",\"best\":%s", best ? "true" : "false");
        fprintf(f, ",\"result\":");
        vb_eval_result_write_json(&res, f);
        fputs("}\n", f);
        fclose(f);
    } else {
        vb_warn("%s: %s", path, strerror(errno));
    }
    vb_info("eval at update %llu (%lld env steps, %lld validation tasks, %s): return %.10g%s", (unsigned long long)v,
            (long long)at->env_steps, (long long)cfg->eval.tasks, policy ? "the policy alone" : "planning", ret,
            best ? ", the best so far: checkpoints/" VB_CKPT_BEST : "");
    vb_eval_result_free(&res);
    *ret_out = ret;
    return 0;
}

void vb_run_maybe_eval(vb_run *r) {
    const vb_config *cfg = r->cfg;
    uint64_t v = vb_learning_version(r->learning);
    if (cfg->eval.every_updates <= 0 || v % (uint64_t)cfg->eval.every_updates != 0) return;
    vb_run_snapshot at = {.updates = v, .env_steps = r->env_steps};
    fill_counters(r, (int64_t)v, at.counters);
    if (r->mode.eval_async) {
        if (!r->mode.eval_async(r->mode.ctx, vb_learning_params(r->learning), &at))
            vb_info("eval at update %llu skipped: the previous one is still running", (unsigned long long)v);
        return;
    }
    double ret;
    if (vb_run_eval_snapshot(r, vb_learning_params(r->learning), &at, &ret) == 0 && r->tb.f)
        vb_tboard_scalar(&r->tb, r->env_steps, "eval/return_mean", ret);
}

void vb_run_progress(const vb_run *r, double wall, double sps, const char *extra) {
    const vb_task_stats *t = &r->tstats;
    double frac = (double)r->env_steps / (double)r->cfg->run.total_env_steps;
    double eta = sps > 0 ? (double)(r->cfg->run.total_env_steps - r->env_steps) / sps : 0;
    if (r->cfg->run.max_wall_s > 0) eta = fmin(eta, fmax(r->cfg->run.max_wall_s - wall, 0));
    char ret[64] = "return -";
    if (t->tasks) snprintf(ret, sizeof ret, "return %.3f (%lld tasks)", t->return_sum / (double)t->tasks, (long long)t->tasks);
    vb_info("steps %lld/%lld (%.1f%%)  updates %llu  %.0f steps/s  %s%s  elapsed %.0fs  eta %.0fs",
            (long long)r->env_steps, (long long)r->cfg->run.total_env_steps, 100 * frac,
            (unsigned long long)vb_learning_version(r->learning), sps, ret, extra, wall, eta);
}

void vb_run_next_interval(vb_run *r) {
    memset(&r->acc, 0, sizeof r->acc);
    r->acc_n = 0;
    r->mae_n = 0;
    memset(&r->tstats, 0, sizeof r->tstats);
}
